//! The exported `Importer` in Node (wasm-bindgen-test-runner), doing real fetches to the sandbox on 127.0.0.1.
//! Run: `make test-wasm` (starts the sandbox and sets SANDBOX_URL for the build).
#![cfg(target_arch = "wasm32")]

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
