//! The WebAssembly edge: argument decoding, calling the core, result encoding, error mapping. One file per
//! exported class; `transport` drives the core with the platform's `fetch`, timers and streams.

mod importer;
mod transport;

pub use importer::Importer;

use wasm_bindgen::prelude::*;

/// A JS `Error` with a stable `code` property (`E_CONFIG`, `E_CSV`, `E_MAPPING`, `E_AUTH`, `E_NETWORK`, `E_ABORTED`).
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// A core error as a JS `Error`: its `code`, and its `reason` where it has one (`E_CSV`: `record_too_long`,
/// `too_many_fields`).
pub(crate) fn import_error(e: &crate::pipeline::ImportError) -> JsValue {
    let err = js_error(e.code(), e.message());
    if let Some(r) = e.reason() {
        let _ = js_sys::Reflect::set(&err, &"reason".into(), &r.into());
    }
    err
}

/// Serialize with serde_json and hand JS a plain object (JSON keeps the camelCase names and `null`s exact).
pub(crate) fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsValue> {
    let s = serde_json::to_string(v).map_err(|e| js_error("E_INTERNAL", &format!("cannot encode result: {e}")))?;
    js_sys::JSON::parse(&s)
}

/// The package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
