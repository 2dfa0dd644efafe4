//! Shared by the wasm-bindgen test tiers (`wasm_node`, `wasm_browser`): the exported `Importer` driven through
//! its Rust API, a `ReadableStream` made from bytes, and the sandbox's control endpoints over the global `fetch`.
#![allow(dead_code)]

use cio_backfill::wasm::Importer;
use js_sys::{Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The global `fetch`, called through the global object (an `extern` import of `fetch` with the library's own
/// signature would clash with the library's at link time).
fn global_fetch(url: &str, init: &JsValue) -> Promise {
    let g = js_sys::global();
    let f: js_sys::Function = Reflect::get(&g, &"fetch".into()).expect("fetch").unchecked_into();
    f.call2(&g, &url.into(), init).expect("fetch call").unchecked_into()
}

/// The sandbox's origin, fixed at compile time by `scripts/ci/wasm-tests.sh`, which starts the sandbox first.
pub fn sandbox() -> &'static str {
    // Not `env!`: the files must still build (e.g. for clippy) when no sandbox is running.
    match option_env!("SANDBOX_URL") {
        Some(url) => url,
        None => panic!("SANDBOX_URL is unset: run these tests with `make test-wasm`"),
    }
}

/// A JS value from JSON text.
pub fn js(json: &str) -> JsValue {
    JSON::parse(json).expect("valid json")
}

/// Field `key` of `v` as a number (panics if it is not one).
pub fn num(v: &JsValue, key: &str) -> f64 {
    Reflect::get(v, &key.into())
        .ok()
        .and_then(|x| x.as_f64())
        .unwrap_or_else(|| panic!("{key} is not a number in {}", stringify(v)))
}

/// Field `key` of `v` as a string.
pub fn string(v: &JsValue, key: &str) -> Option<String> {
    Reflect::get(v, &key.into()).ok().and_then(|x| x.as_string())
}

/// `JSON.stringify(v)`.
pub fn stringify(v: &JsValue) -> String {
    JSON::stringify(v).map(String::from).unwrap_or_default()
}

/// A `ReadableStream` of the bytes of `text` (the platform's own `Response` body).
pub fn stream_of(text: &str) -> web_sys::ReadableStream {
    web_sys::Response::new_with_opt_str(Some(text))
        .expect("response")
        .body()
        .expect("body")
}

/// `await fetch(url, init).json()`.
pub async fn fetch_json(url: &str, init: &JsValue) -> JsValue {
    let resp: web_sys::Response = JsFuture::from(global_fetch(url, init))
        .await
        .expect("fetch")
        .unchecked_into();
    assert!(resp.ok(), "GET {url}: {}", resp.status());
    JsFuture::from(resp.json().expect("json")).await.expect("json body")
}

/// The sandbox's `/__sandbox/summary`.
pub async fn sandbox_summary() -> JsValue {
    fetch_json(&format!("{}/__sandbox/summary", sandbox()), &JsValue::UNDEFINED).await
}

/// The sandbox's stored people (`api`: `track` or `pipelines`).
pub async fn sandbox_people(api: &str) -> js_sys::Array {
    fetch_json(
        &format!("{}/__sandbox/people?api={api}", sandbox()),
        &JsValue::UNDEFINED,
    )
    .await
    .unchecked_into()
}

/// The sandbox's stored events.
pub async fn sandbox_events(api: &str) -> js_sys::Array {
    fetch_json(
        &format!("{}/__sandbox/events?api={api}", sandbox()),
        &JsValue::UNDEFINED,
    )
    .await
    .unchecked_into()
}

/// `POST /__sandbox/reset`.
pub async fn sandbox_reset() {
    let init = js(r#"{"method":"POST"}"#);
    fetch_json(&format!("{}/__sandbox/reset", sandbox()), &init).await;
}

/// `summary[a][b]`.
pub fn nested(v: &JsValue, a: &str, b: &str) -> f64 {
    num(&Reflect::get(v, &a.into()).expect(a), b)
}

/// `new Importer(options)` with the sandbox as the endpoint.
pub fn importer(options: &str) -> Importer {
    let o = js(options);
    Reflect::set(&o, &"endpoint".into(), &sandbox().into()).unwrap();
    Importer::new(o).unwrap_or_else(|e| panic!("new Importer: {}", describe(&e)))
}

/// `await imp.run(stream)`: Ok(summary) or Err(error).
pub async fn run(imp: &Importer, csv: &str) -> Result<JsValue, JsValue> {
    JsFuture::from(imp.run(stream_of(csv), js_sys::Object::new().into())).await
}

/// An error's `code: message`.
pub fn describe(e: &JsValue) -> String {
    format!(
        "{}: {}",
        string(e, "code").unwrap_or_default(),
        string(e, "message").unwrap_or_default()
    )
}

/// A people file: `n` rows with ids `{prefix}{i}`; every 10th row has no id (rejected before sending).
pub fn people_csv(prefix: &str, n: usize) -> (String, usize) {
    let mut s = String::from("id,name,plan\n");
    let mut good = 0;
    for i in 1..=n {
        if i % 10 == 0 {
            s.push_str(&format!(",Nobody {i},free\n"));
        } else {
            good += 1;
            s.push_str(&format!("{prefix}{i},Name {i},pro\n"));
        }
    }
    (s, good)
}

/// An events file: `n` distinct events of users `{prefix}{i}`; every 10th row has no event name.
pub fn events_csv(prefix: &str, n: usize) -> (String, usize) {
    let mut s = String::from("user_id,event,timestamp,amount\n");
    let mut good = 0;
    for i in 1..=n {
        let name = if i % 10 == 0 { "" } else { "purchased" };
        if !name.is_empty() {
            good += 1;
        }
        s.push_str(&format!("{prefix}{i},{name},2021-03-04T10:{:02}:00Z,{i}.50\n", i % 60));
    }
    (s, good)
}

/// How many stored people have an identifier starting with `prefix`.
pub fn count_prefixed(people: &js_sys::Array, api: &str, prefix: &str) -> usize {
    people
        .iter()
        .filter(|p| {
            let id = if api == "track" {
                Reflect::get(p, &"identifiers".into())
                    .ok()
                    .and_then(|i| Reflect::get(&i, &"id".into()).ok())
            } else {
                Reflect::get(p, &"userId".into()).ok()
            };
            id.and_then(|v| v.as_string()).is_some_and(|s| s.starts_with(prefix))
        })
        .count()
}
