//! The exported `Importer` in headless Chromium (wasm-bindgen-test-runner + chromedriver), doing real cross-origin
//! fetches to the sandbox on 127.0.0.1: Pipelines with the write-key transport (text/plain, no preflight, also
//! what "auto" picks in a page) and Track (Basic auth, so the browser sends a CORS preflight first).
//! Run: `make test-wasm`.
#![cfg(target_arch = "wasm32")]

mod wasm_common;

use wasm_bindgen_test::*;
use wasm_common::*;

wasm_bindgen_test_configure!(run_in_browser);

/// One test, so that the preflight counts of the shared sandbox belong to it alone.
#[wasm_bindgen_test]
async fn browser_pipelines_without_preflight_and_track_with_one() {
    // Pipelines, transport "write-key": the key travels in the body, the request is a simple text/plain POST.
    let before = sandbox_summary().await;
    let (csv, good) = events_csv("b-pe-", 80);
    let imp = importer(
        r#"{"api":"pipelines","kind":"events","credentials":{"apiKey":"cdp_key_test"},"transport":"write-key"}"#,
    );
    let s = run(&imp, &csv).await.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(num(&s, "sent"), good as f64);
    assert_eq!(num(&s, "rejected"), 8.0);
    let after = sandbox_summary().await;
    assert_eq!(
        num(&after, "preflights"),
        num(&before, "preflights"),
        "write-key sends no preflight"
    );
    assert_eq!(
        nested(&after, "pipelines", "events") - nested(&before, "pipelines", "events"),
        good as f64
    );
    assert_eq!(
        nested(&after, "pipelines", "unauthorized"),
        nested(&before, "pipelines", "unauthorized")
    );

    // Pipelines, transport "auto": a page picks write-key too.
    let (csv, good) = people_csv("b-pp-", 50);
    let imp = importer(r#"{"api":"pipelines","kind":"people","credentials":{"apiKey":"cdp_key_test"}}"#);
    let s = run(&imp, &csv).await.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(num(&s, "sent"), good as f64);
    let after2 = sandbox_summary().await;
    assert_eq!(
        num(&after2, "preflights"),
        num(&before, "preflights"),
        "auto = write-key in a browser"
    );
    assert_eq!(
        count_prefixed(&sandbox_people("pipelines").await, "pipelines", "b-pp-"),
        good
    );

    // Track: Authorization + application/json, so the browser preflights; the sandbox allows it.
    let (csv, good) = people_csv("b-tp-", 60);
    let imp =
        importer(r#"{"api":"track","kind":"people","credentials":{"siteId":"site_test","apiKey":"track_key_test"}}"#);
    let s = run(&imp, &csv).await.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(num(&s, "sent"), good as f64);
    let after3 = sandbox_summary().await;
    assert!(
        num(&after3, "preflights") > num(&after2, "preflights"),
        "track sends a preflight"
    );
    assert_eq!(count_prefixed(&sandbox_people("track").await, "track", "b-tp-"), good);
}

#[wasm_bindgen_test]
async fn browser_bad_key_is_e_auth() {
    let (csv, _) = people_csv("b-auth-", 20);
    let imp = importer(r#"{"api":"pipelines","kind":"people","credentials":{"apiKey":"wrong"},"transport":"basic"}"#);
    let e = run(&imp, &csv).await.expect_err("expected E_AUTH");
    assert_eq!(string(&e, "code").as_deref(), Some("E_AUTH"), "{}", describe(&e));
}
