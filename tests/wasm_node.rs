//! The exported `Importer` in Node (wasm-bindgen-test-runner), doing real fetches to the sandbox on 127.0.0.1.
//! Run: `make test-wasm` (starts the sandbox and sets SANDBOX_URL for the build).
#![cfg(target_arch = "wasm32")]

mod common;
mod csv_common;
mod wasm_common;

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use wasm_common::*;

const TRACK: &str = r#""credentials":{"siteId":"site_test","apiKey":"track_key_test"}"#;
const CDP: &str = r#""credentials":{"apiKey":"cdp_key_test"}"#;

#[wasm_bindgen_test]
async fn node_both_apis_send_exactly_the_valid_rows() {
    sandbox_reset().await;
    // Track people (Basic site:key).
    let (csv, good) = people_csv("n-tp-", 120);
    let imp = importer(&format!(
        r#"{{"api":"track","kind":"people",{TRACK},"batchBytes":2000}}"#
    ));
    let s = run(&imp, &csv).await.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(num(&s, "rows"), 120.0);
    assert_eq!(num(&s, "sent"), good as f64);
    assert_eq!(num(&s, "rejected"), 12.0);
    assert_eq!(num(&s, "failed") + num(&s, "apiRejected") + num(&s, "pending"), 0.0);
    assert!(num(&s, "requests") > 1.0);
    assert_eq!(count_prefixed(&sandbox_people("track").await, "track", "n-tp-"), good);
    let rejected = imp.take_rejected_csv();
    assert_eq!(rejected.lines().count(), 1 + 12, "header + one line per bad row");
    assert!(rejected.starts_with("id,name,plan,line,code,reason\n"));

    // Pipelines events (Basic key: + X-Strict-Mode outside a browser).
    let (csv, good) = events_csv("n-pe-", 90);
    let imp = importer(&format!(r#"{{"api":"pipelines","kind":"events",{CDP}}}"#));
    let s = run(&imp, &csv).await.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(num(&s, "sent"), good as f64);
    assert_eq!(num(&s, "rejected"), 9.0);
    let sum = sandbox_summary().await;
    assert_eq!(nested(&sum, "pipelines", "events"), good as f64);
    assert_eq!(nested(&sum, "track", "people"), 108.0);
    assert_eq!(nested(&sum, "pipelines", "droppedSilently"), 0.0);
    assert_eq!(sandbox_events("pipelines").await.length() as usize, good);
    assert_eq!(num(&sum, "preflights"), 0.0, "node sends no preflights");
}

#[wasm_bindgen_test]
async fn node_bad_credentials_reject_with_e_auth() {
    let (csv, _) = people_csv("n-auth-", 30);
    let imp = importer(r#"{"api":"track","kind":"people","credentials":{"siteId":"site_test","apiKey":"wrong"}}"#);
    let e = run(&imp, &csv).await.expect_err("expected E_AUTH");
    assert_eq!(string(&e, "code").as_deref(), Some("E_AUTH"), "{}", describe(&e));
    let summary = js_sys::Reflect::get(&e, &"summary".into()).unwrap();
    assert_eq!(num(&summary, "sent"), 0.0);
    assert_eq!(num(&summary, "failed"), 27.0);
}

#[wasm_bindgen_test]
fn node_config_errors_have_a_code() {
    for (opts, needle) in [
        (r#"{"api":"track","kind":"people","nope":1}"#, "nope"),
        (r#"{"api":"track","kind":"people"}"#, "credentials"),
        (
            r#"{"api":"pipelines","kind":"people","credentials":{"apiKey":"k"},"region":"mars"}"#,
            "region",
        ),
    ] {
        let e = match cio_backfill::wasm::Importer::new(js(opts)) {
            Ok(_) => panic!("{opts} should fail"),
            Err(e) => e,
        };
        assert!(e.is_instance_of::<js_sys::Error>());
        assert_eq!(string(&e, "code").as_deref(), Some("E_CONFIG"));
        assert!(string(&e, "message").unwrap().contains(needle), "{}", describe(&e));
    }
}

/// The event ids' hash multiplies 64 × 64 bits from 32-bit halves here (natively, as u128): the same values as
/// xxhash-rust's XXH3-128 at every length, up to and past the 240 bytes it handles itself.
#[wasm_bindgen_test]
fn node_id_hash_is_xxh3_128() {
    common::id_hash_is_xxh3_128(300);
}

/// Payload strings here are checked for escaping with simd128 and copied without `memory.copy`: cells with and
/// without bytes to escape, of every length to 40, come back from the payloads' JSON as they were.
#[wasm_bindgen_test]
fn node_payload_strings_round_trip_through_json() {
    common::payload_strings_round_trip(cio_backfill::pipeline::ApiChoice::Track);
    common::payload_strings_round_trip(cio_backfill::pipeline::ApiChoice::Pipelines);
}

/// The CSV reader's fast path scans 64 bytes at a time with WebAssembly SIMD here (SSE2 natively, where the
/// property tests run): read whole (that path, for most lines) and one byte at a time (csv-core), a few thousand
/// pseudo-random lines, well-formed (quoted fields with `""`, delimiters and line breaks inside) or not, long and
/// short, read the same.
#[wasm_bindgen_test]
fn node_simd_fast_path_reads_as_csv_core_does() {
    use cio_backfill::csv_input::CsvOptions;
    let fields: [&[u8]; 7] = [
        b"",
        b"abcdefghij",
        b"\"q,\"\"r\"\" s\"",
        b"\"\"",
        b"\"a\nb\"",
        b"\xc3\xa9t\xc3\xa9",
        b"12.5",
    ];
    let mut next = common::below(0x2545_F491_4F6C_DD1D);
    let (mut records, mut long) = (0, 0);
    for file in 0..200 {
        let mut input = b"h1,h2,h3\n".to_vec();
        for _ in 0..1 + next(20) {
            for k in 0..next(24) {
                if file % 2 == 0 {
                    if k > 0 {
                        input.push(b',');
                    }
                    input.extend_from_slice(fields[next(fields.len() as u64) as usize]);
                } else {
                    for _ in 0..4 {
                        input.extend_from_slice(csv_common::ATOMS[next(csv_common::ATOMS.len() as u64) as usize]);
                    }
                }
            }
            input.extend_from_slice(if next(2) == 0 { b"\n" } else { b"\r\n" });
        }
        let opts = CsvOptions {
            delimiter: Some(b','),
            ..CsvOptions::default()
        };
        let whole = csv_common::parse_split(&input, &opts, &[]);
        let all: Vec<usize> = (0..input.len()).collect();
        assert_eq!(
            csv_common::parse_split(&input, &opts, &all),
            whole,
            "{:?}",
            String::from_utf8_lossy(&input)
        );
        records += whole.records.len();
        long += whole
            .records
            .iter()
            .filter(|r| r.4.iter().map(String::len).sum::<usize>() > 64)
            .count();
    }
    assert!(
        records > 1000 && long > 200,
        "{records} records, {long} of them over 64 bytes"
    );
}
