//! Drivers shared by the integration tests: run the importer over bytes, dry or against a scripted fake API.
#![allow(dead_code)]

use cio_backfill::issue::Issue;
use cio_backfill::ledger::Summary;
use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};
use cio_backfill::sender::Response;

/// 2026-12-01T00:00:00Z, the tests' clock.
pub const NOW: f64 = 1_796_083_200_000.0;

/// Everything an import produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub summary: Summary,
    pub issues: Vec<Issue>,
    pub rejected_csv: String,
    pub payloads: Vec<serde_json::Value>,
    pub bodies: Vec<Vec<u8>>,
    pub error: Option<String>,
    /// The error's finer reason, if it has one.
    pub reason: Option<&'static str>,
}

pub fn opts(api: ApiChoice, kind: Kind) -> ImportOptions {
    let mut o = ImportOptions::new(api, kind, NOW);
    o.keep_payloads = true;
    o
}

fn drain(imp: &mut Importer, out: &mut Outcome, ndjson: &mut Vec<u8>) {
    out.issues.extend(imp.take_issues());
    out.rejected_csv
        .push_str(&String::from_utf8(imp.take_rejected_csv()).unwrap());
    ndjson.extend(imp.take_payloads());
}

/// Answers a request body.
pub type FakeApi<'a> = &'a mut dyn FnMut(&[u8]) -> Response;

/// Run `input` through the importer in chunks of `chunk` bytes. `api` answers each request body
/// (None: the dry run). Time advances to whatever the importer waits for.
pub fn run_with(o: ImportOptions, input: &[u8], chunk: usize, mut api: Option<FakeApi>) -> Outcome {
    let mut imp = Importer::new(o).expect("options");
    let mut out = Outcome {
        summary: Summary::default(),
        issues: vec![],
        rejected_csv: String::new(),
        payloads: vec![],
        bodies: vec![],
        error: None,
        reason: None,
    };
    let mut ndjson = Vec::new();
    let mut now = NOW;
    let mut pos = 0;
    let mut pending: Vec<(u64, Response)> = Vec::new();
    for _ in 0..10_000_000 {
        match imp.poll(now) {
            Step::Send(req) => {
                out.bodies.push(req.body.to_vec());
                let resp = match api.as_mut() {
                    Some(f) => f(&req.body),
                    None => panic!("a dry run sent a request"),
                };
                pending.push((req.id, resp));
            }
            Step::Done => break,
            Step::Wait { until } => {
                if let Some((id, r)) = pending.pop() {
                    imp.on_response(id, now, r);
                } else if imp.wants_input() {
                    if pos >= input.len() {
                        if let Err(e) = imp.finish() {
                            out.error = Some(format!("{}: {}", e.code(), e.message()));
                        }
                    } else {
                        let end = (pos + chunk.max(1)).min(input.len());
                        if let Err(e) = imp.push(&input[pos..end]) {
                            out.error = Some(format!("{}: {}", e.code(), e.message()));
                        }
                        pos = end;
                    }
                } else if let Some(t) = until {
                    now = now.max(t);
                } else if imp.error().is_some() {
                    out.error.get_or_insert_with(|| imp.error().unwrap().to_string());
                    break;
                } else {
                    panic!("stalled: nothing to do");
                }
            }
        }
        drain(&mut imp, &mut out, &mut ndjson);
    }
    drain(&mut imp, &mut out, &mut ndjson);
    out.summary = imp.summary();
    if out.error.is_none() {
        out.error = imp.error().map(|e| format!("{}: {}", e.code(), e.message()));
    }
    out.reason = imp.error().and_then(|e| e.reason());
    out.payloads = ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("payload is json"))
        .collect();
    out
}

/// A dry run in one chunk.
pub fn dry(o: ImportOptions, input: &str) -> Outcome {
    let mut o = o;
    o.dry_run = true;
    run_with(o, input.as_bytes(), usize::MAX, None)
}

/// The codes of the issues at `line`.
pub fn codes_at(out: &Outcome, line: u64) -> Vec<&'static str> {
    out.issues
        .iter()
        .filter(|i| i.line == line)
        .map(|i| i.code.as_str())
        .collect()
}

/// A deterministic xorshift64 stream from `state` (not 0): each call gives the next value modulo `n`.
pub fn below(state: u64) -> impl FnMut(u64) -> u64 {
    let mut x = state;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// Cells of every length up to 40 with, now and then, a byte that JSON escapes (`"`, `\`, control bytes) or that
/// CSV quotes, at every place: each one sent comes back, from the payload's JSON, as the text it was. (Natively
/// this runs the SSE2 escape test; in wasm-bindgen tests the simd128 one and the copies made without
/// `memory.copy`.)
pub fn payload_strings_round_trip(api: ApiChoice) {
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyzABCXYZ é✓\"\\\t\u{1}\u{1f}\u{7f},;"
        .chars()
        .collect();
    let mut next = below(0x9E37_79B9_7F4A_7C15);
    let csv_cell = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut input = String::from("id,event,timestamp,a,b,c\n");
    let mut want = Vec::new();
    for row in 0..600 {
        let cells: Vec<String> = (0..3)
            .map(|_| {
                let len = next(41) as usize;
                // a plain letter most of the time: many cells (and rows) need no escaping at all
                (0..len)
                    .map(|_| match next(8) {
                        0 => alphabet[next(alphabet.len() as u64) as usize],
                        _ => (b'a' + next(26) as u8) as char,
                    })
                    .collect()
            })
            .collect();
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        input.push_str(&format!(
            "u{row},ev,2024-01-0{}T00:00:00Z,{}\n",
            1 + row % 9,
            line.join(",")
        ));
        want.push(cells);
    }
    let mut o = opts(api, Kind::Events);
    o.delimiter = Some(",".into());
    for c in ["a", "b", "c"] {
        o.mapping.columns.insert(
            c.to_string(),
            cio_backfill::mapping::ColumnOverride {
                ty: Some(cio_backfill::mapping::TypeChoice::String),
                ..Default::default()
            },
        );
    }
    let out = dry(o, &input);
    assert_eq!(out.error, None);
    let props_key = if api == ApiChoice::Track {
        "attributes"
    } else {
        "properties"
    };
    let id_of = |p: &serde_json::Value| -> String {
        let id = if api == ApiChoice::Track {
            &p["identifiers"]["id"]
        } else {
            &p["userId"]
        };
        id.as_str().expect("an id").to_string()
    };
    let mut seen = 0;
    for p in &out.payloads {
        let row: usize = id_of(p)[1..].parse().expect("u<row>");
        for (k, cell) in ["a", "b", "c"].iter().zip(&want[row]) {
            // an empty cell is left out; a cell with only blanks may be too
            match p[props_key].get(*k) {
                Some(v) => assert_eq!(v.as_str(), Some(cell.as_str()), "row {row}, column {k}"),
                None => assert!(cell.trim().is_empty(), "row {row}, column {k}: {cell:?} left out"),
            }
        }
        seen += 1;
    }
    assert!(
        seen >= 500,
        "only {seen} of 600 rows were sent: {:?}",
        &out.issues[..out.issues.len().min(3)]
    );
}

/// `cio_backfill::hash::xxh3_128` is xxhash-rust's XXH3-128 at every length up to `max_len` (the written-out part
/// ends at 240 bytes), for pseudo-random inputs and a constant one.
pub fn id_hash_is_xxh3_128(max_len: usize) {
    let mut next = below(0x2545_F491_4F6C_DD1D);
    for n in 0..=max_len {
        for _ in 0..8 {
            let input: Vec<u8> = (0..n).map(|_| next(256) as u8).collect();
            assert_eq!(
                cio_backfill::hash::xxh3_128(&input),
                xxhash_rust::xxh3::xxh3_128(&input),
                "{n} bytes: {input:?}"
            );
        }
        let same = vec![0xA5u8; n];
        assert_eq!(
            cio_backfill::hash::xxh3_128(&same),
            xxhash_rust::xxh3::xxh3_128(&same),
            "{n} bytes of 0xa5"
        );
    }
}
