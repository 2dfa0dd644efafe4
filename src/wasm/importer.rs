//! `Importer`: the core's importer as a JS class. Argument decoding, calling the core, result encoding.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::transport::{self, Endpoint};
use super::{import_error, js_error, to_js};
use crate::pipeline::{ApiChoice, ImportOptions, Importer as Core};

/// The options the edge adds to the core's: where to send, and with which credentials.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Credentials {
    #[serde(default)]
    site_id: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
}

const EDGE_KEYS: &[&str] = &["region", "endpoint", "credentials", "transport"];
const CORE_KEYS: &[&str] = &[
    "api",
    "kind",
    "mapping",
    "dryRun",
    "skipCampaignWindow",
    "now",
    "rateLimit",
    "concurrency",
    "maxAttempts",
    "batchBytes",
    "resumeAfterRecord",
    "delimiter",
    "encoding",
    "seed",
    "sampleRows",
    "keepPayloads",
];

/// Streams a CSV into Customer.io: push chunks (or `run` a stream), read issues, progress and the summary.
#[wasm_bindgen]
pub struct Importer {
    core: Rc<RefCell<Core>>,
    endpoint: Rc<Endpoint>,
}

fn config_error(msg: impl AsRef<str>) -> JsValue {
    js_error("E_CONFIG", msg.as_ref())
}

#[wasm_bindgen]
impl Importer {
    /// `new Importer(options)`: see docs/JS_API.md.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Importer, JsValue> {
        let json: String = js_sys::JSON::stringify(&options)
            .map_err(|_| config_error("options must be a plain object"))?
            .into();
        let mut value: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| config_error(format!("options: {e}")))?;
        let obj = value
            .as_object_mut()
            .ok_or_else(|| config_error("options must be a plain object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !EDGE_KEYS.contains(&k.as_str()) && !CORE_KEYS.contains(&k.as_str()))
        {
            return Err(config_error(format!("unknown option {k:?}")));
        }
        let mut edge = serde_json::Map::new();
        for k in EDGE_KEYS {
            if let Some(v) = obj.remove(*k) {
                edge.insert((*k).to_string(), v);
            }
        }
        obj.entry("now").or_insert_with(|| js_sys::Date::now().into());
        let mut core_opts: ImportOptions =
            serde_json::from_value(value).map_err(|e| config_error(format!("options: {e}")))?;
        let get = |k: &str| edge.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let credentials: Credentials = match edge.get("credentials") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| config_error(format!("credentials: {e}")))?,
            None => Credentials::default(),
        };
        let endpoint = Endpoint::new(
            core_opts.api,
            get("region").as_deref(),
            get("endpoint").as_deref(),
            get("transport").as_deref(),
            credentials.site_id,
            credentials.api_key,
            core_opts.dry_run,
        )
        .map_err(config_error)?;
        if core_opts.api == ApiChoice::Pipelines && endpoint.write_key_transport() {
            core_opts.write_key = endpoint.api_key().map(str::to_string);
        }
        let core = Core::new(core_opts).map_err(|e| import_error(&e))?;
        Ok(Importer {
            core: Rc::new(RefCell::new(core)),
            endpoint: Rc::new(endpoint),
        })
    }

    /// Feed the next chunk of the file.
    pub fn push(&self, chunk: &[u8]) -> Result<(), JsValue> {
        self.core.borrow_mut().push(chunk).map_err(|e| import_error(&e))
    }

    /// The file is complete.
    pub fn finish(&self) -> Result<(), JsValue> {
        self.core.borrow_mut().finish().map_err(|e| import_error(&e))
    }

    /// Detected dialect, headers, resolved columns, preview rows and payloads, file issues.
    pub fn inspect(&self) -> Result<JsValue, JsValue> {
        to_js(&self.core.borrow().inspect())
    }

    /// Issues found since the last call.
    #[wasm_bindgen(js_name = takeIssues)]
    pub fn take_issues(&self) -> Result<JsValue, JsValue> {
        to_js(&self.core.borrow_mut().take_issues())
    }

    /// The next part of the rejected-rows CSV.
    #[wasm_bindgen(js_name = takeRejectedCsv)]
    pub fn take_rejected_csv(&self) -> String {
        String::from_utf8_lossy(&self.core.borrow_mut().take_rejected_csv()).into_owned()
    }

    /// The payload items since the last call, as NDJSON text (with `keepPayloads`).
    #[wasm_bindgen(js_name = takePayloads)]
    pub fn take_payloads(&self) -> String {
        String::from_utf8_lossy(&self.core.borrow_mut().take_payloads()).into_owned()
    }

    /// The summary so far.
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        to_js(&self.core.borrow().summary())
    }

    /// Stop reading and sending; rows not yet handed to the API end failed.
    pub fn cancel(&self) {
        self.core.borrow_mut().cancel("cancelled");
    }

    /// `await imp.run(stream, { onProgress, signal })`: read the stream, send everything, resolve to the summary.
    pub fn run(&self, stream: web_sys::ReadableStream, options: JsValue) -> js_sys::Promise {
        let core = self.core.clone();
        let endpoint = self.endpoint.clone();
        wasm_bindgen_futures::future_to_promise(transport::run(core, endpoint, stream, options))
    }
}
