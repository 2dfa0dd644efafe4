//! Drives the sans-IO core with the platform: the global `fetch` (browsers, Web Workers, Node, Deno, workerd),
//! `setTimeout`, a `ReadableStream` for input, and an `AbortSignal`.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::mpsc;
use futures_util::StreamExt;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::{import_error, js_error, to_js};
use crate::pipeline::{ApiChoice, Importer as Core, Step};
use crate::sender::Response;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_name = btoa, catch)]
    fn btoa(s: &str) -> Result<String, JsValue>;
}

/// Where and how requests go.
pub(crate) struct Endpoint {
    url: String,
    authorization: Option<String>,
    write_key: bool,
    strict: bool,
    api_key: Option<String>,
}

/// A request gets no answer for this long: it is a network error (and retried).
const REQUEST_TIMEOUT_MS: f64 = 60_000.0;

fn is_browser() -> bool {
    let g = js_sys::global();
    let has = |k: &str| Reflect::has(&g, &k.into()).unwrap_or(false);
    let ua = Reflect::get(&g, &"navigator".into())
        .ok()
        .and_then(|n| Reflect::get(&n, &"userAgent".into()).ok())
        .and_then(|u| u.as_string())
        .unwrap_or_default();
    (has("document") || has("WorkerGlobalScope")) && !ua.contains("Cloudflare-Workers") && !has("Deno")
}

impl Endpoint {
    pub(crate) fn new(
        api: ApiChoice,
        region: Option<&str>,
        endpoint: Option<&str>,
        transport: Option<&str>,
        site_id: Option<String>,
        api_key: Option<String>,
        dry_run: bool,
    ) -> Result<Endpoint, String> {
        let eu = match region.unwrap_or("us") {
            "us" => false,
            "eu" => true,
            r => return Err(format!("expected region \"us\" or \"eu\", found {r:?}")),
        };
        let origin = match endpoint {
            Some(e) => {
                let e = e.trim_end_matches('/');
                if !(e.starts_with("https://") || e.starts_with("http://"))
                    || e["https://".len().min(e.len())..].contains('/') && !e.starts_with("http://")
                {
                    return Err(format!(
                        "expected an endpoint origin such as https://host:port, found {e:?}"
                    ));
                }
                if e.contains('@') || e.contains('?') || e.contains('#') {
                    return Err("the endpoint must be an origin without credentials, query or fragment".into());
                }
                e.to_string()
            }
            None => match (api, eu) {
                (ApiChoice::Track, false) => "https://track.customer.io".into(),
                (ApiChoice::Track, true) => "https://track-eu.customer.io".into(),
                (ApiChoice::Pipelines, false) => "https://cdp.customer.io".into(),
                (ApiChoice::Pipelines, true) => "https://cdp-eu.customer.io".into(),
            },
        };
        let write_key = match transport.unwrap_or("auto") {
            "auto" => api == ApiChoice::Pipelines && is_browser(),
            "basic" => false,
            "write-key" => {
                if api != ApiChoice::Pipelines {
                    return Err("the write-key transport is for the pipelines api only".into());
                }
                true
            }
            t => {
                return Err(format!(
                    "expected transport \"auto\", \"basic\" or \"write-key\", found {t:?}"
                ))
            }
        };
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let authorization = match api {
            ApiChoice::Track => {
                if blank(&site_id) || blank(&api_key) {
                    if !dry_run {
                        return Err("the track api needs credentials { siteId, apiKey } (a track api key)".into());
                    }
                    None
                } else {
                    let pair = format!(
                        "{}:{}",
                        site_id.as_deref().unwrap_or(""),
                        api_key.as_deref().unwrap_or("")
                    );
                    Some(format!(
                        "Basic {}",
                        btoa(&pair).map_err(|_| "credentials must be ascii".to_string())?
                    ))
                }
            }
            ApiChoice::Pipelines => {
                if blank(&api_key) {
                    if !dry_run {
                        return Err("the pipelines api needs credentials { apiKey } (a source api key)".into());
                    }
                    None
                } else if write_key {
                    None
                } else {
                    let pair = format!("{}:", api_key.as_deref().unwrap_or(""));
                    Some(format!(
                        "Basic {}",
                        btoa(&pair).map_err(|_| "credentials must be ascii".to_string())?
                    ))
                }
            }
        };
        let path = match api {
            ApiChoice::Track => "/api/v2/batch",
            ApiChoice::Pipelines => "/v1/batch",
        };
        Ok(Endpoint {
            url: format!("{origin}{path}"),
            authorization,
            write_key,
            strict: api == ApiChoice::Pipelines && !write_key,
            api_key,
        })
    }

    pub(crate) fn write_key_transport(&self) -> bool {
        self.write_key
    }

    pub(crate) fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    fn init(&self, body: &[u8], signal: &web_sys::AbortSignal) -> Result<JsValue, JsValue> {
        let init = js_sys::Object::new();
        let headers = js_sys::Object::new();
        let ct = if self.write_key {
            "text/plain"
        } else {
            "application/json"
        };
        Reflect::set(&headers, &"content-type".into(), &ct.into())?;
        if let Some(a) = &self.authorization {
            Reflect::set(&headers, &"authorization".into(), &a.into())?;
        }
        if self.strict {
            Reflect::set(&headers, &"x-strict-mode".into(), &"1".into())?;
        }
        Reflect::set(&init, &"method".into(), &"POST".into())?;
        Reflect::set(&init, &"headers".into(), &headers)?;
        Reflect::set(&init, &"body".into(), &Uint8Array::from(body))?;
        Reflect::set(&init, &"signal".into(), signal)?;
        Ok(init.into())
    }
}

enum Event {
    Chunk(Result<Option<Vec<u8>>, String>),
    Answer(u64, Result<Response, String>),
    /// The timer armed for this time (unix ms) fired.
    Timer(f64),
    Abort,
}

/// Where requests go: the global `fetch`, or the `fetch` function given to `run()`.
#[derive(Clone)]
struct Fetcher(Option<Function>);

impl Fetcher {
    fn call(&self, url: &str, init: &JsValue) -> Result<Promise, JsValue> {
        match &self.0 {
            None => Ok(global_fetch(url, init)),
            // `Promise.resolve` also takes a thenable, or a plain answer from a synchronous stand-in.
            Some(f) => f.call2(&JsValue::NULL, &url.into(), init).map(|v| Promise::resolve(&v)),
        }
    }
}

async fn fetch_once(fetcher: &Fetcher, endpoint: &Endpoint, body: &[u8]) -> Result<Response, String> {
    let controller = web_sys::AbortController::new().map_err(|_| "abortcontroller is not available".to_string())?;
    let on_timeout = {
        let c = controller.clone();
        Closure::once(move || c.abort())
    };
    let timer = set_timeout(on_timeout.as_ref().unchecked_ref(), REQUEST_TIMEOUT_MS);
    // The timer is cleared when the answer is in (or failed): a pending 60-second timer would keep Node alive.
    let result = fetch_answer(fetcher, endpoint, body, &controller).await;
    clear_timeout(&timer);
    drop(on_timeout);
    result
}

async fn fetch_answer(
    fetcher: &Fetcher,
    endpoint: &Endpoint,
    body: &[u8],
    controller: &web_sys::AbortController,
) -> Result<Response, String> {
    let init = endpoint.init(body, &controller.signal()).map_err(describe)?;
    let resp: web_sys::Response = JsFuture::from(fetcher.call(&endpoint.url, &init).map_err(describe)?)
        .await
        .map_err(describe)?
        .unchecked_into();
    let status = resp.status();
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    let text = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .map_err(describe)?
            .as_string()
            .unwrap_or_default(),
        Err(e) => return Err(describe(e)),
    };
    Ok(Response {
        status,
        retry_after,
        body: text.into_bytes(),
    })
}

fn describe(e: JsValue) -> String {
    let msg = Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string());
    let cause = Reflect::get(&e, &"cause".into())
        .ok()
        .and_then(|c| Reflect::get(&c, &"message".into()).ok())
        .and_then(|m| m.as_string());
    match (msg, cause) {
        (Some(m), Some(c)) => format!("{}: {}", m.to_lowercase(), c.to_lowercase()),
        (Some(m), None) => m.to_lowercase(),
        _ => e.as_string().unwrap_or_else(|| "network error".into()),
    }
}

fn sleep_then(tx: mpsc::UnboundedSender<Event>, at: f64, now: f64) {
    let cb = Closure::once_into_js(move || {
        let _ = tx.unbounded_send(Event::Timer(at));
    });
    set_timeout(cb.unchecked_ref(), (at - now).max(0.0));
}

async fn read_chunk(reader: &web_sys::ReadableStreamDefaultReader) -> Result<Option<Vec<u8>>, String> {
    let r = JsFuture::from(reader.read()).await.map_err(describe)?;
    if Reflect::get(&r, &"done".into())
        .ok()
        .and_then(|d| d.as_bool())
        .unwrap_or(false)
    {
        return Ok(None);
    }
    let v = Reflect::get(&r, &"value".into()).map_err(describe)?;
    if let Some(u) = v.dyn_ref::<Uint8Array>() {
        Ok(Some(u.to_vec()))
    } else if let Some(s) = v.as_string() {
        Ok(Some(s.into_bytes()))
    } else {
        Err("expected a stream of Uint8Array chunks".into())
    }
}

/// Cancel the input stream. The promise rejects when the stream has already failed: it is awaited (and its
/// outcome dropped) so that it never surfaces as an unhandled rejection.
fn cancel_quietly(reader: &web_sys::ReadableStreamDefaultReader) {
    let p = reader.cancel();
    spawn_local(async move {
        let _ = JsFuture::from(p).await;
    });
}

fn js_type(v: &JsValue) -> String {
    v.js_typeof().as_string().unwrap_or_else(|| "a value".into())
}

fn get_fn(options: &JsValue, key: &str) -> Option<Function> {
    Reflect::get(options, &key.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

fn with_summary(err: JsValue, core: &Core) -> JsValue {
    if let Ok(s) = to_js(&core.summary()) {
        let _ = Reflect::set(&err, &"summary".into(), &s);
    }
    err
}

/// Read `stream` into the core, make every request it asks for, and resolve to the summary.
pub(crate) async fn run(
    core: Rc<RefCell<Core>>,
    endpoint: Rc<Endpoint>,
    stream: web_sys::ReadableStream,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let on_progress = get_fn(&options, "onProgress");
    let fetcher = match Reflect::get(&options, &"fetch".into()) {
        Ok(f) if !f.is_undefined() && !f.is_null() => Fetcher(Some(f.dyn_into::<Function>().map_err(|f| {
            js_error(
                "E_CONFIG",
                &format!("expected options.fetch to be a function, found {}", js_type(&f)),
            )
        })?)),
        _ => Fetcher(None),
    };
    let signal: Option<web_sys::AbortSignal> = Reflect::get(&options, &"signal".into())
        .ok()
        .and_then(|s| s.dyn_into().ok());
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let reader = Rc::new(reader);
    let (tx, mut rx) = mpsc::unbounded::<Event>();

    let _abort_listener = if let Some(sig) = &signal {
        if sig.aborted() {
            core.borrow_mut().cancel("cancelled");
        }
        let tx = tx.clone();
        let cb = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Event::Abort);
        });
        sig.add_event_listener_with_callback("abort", cb.as_ref().unchecked_ref())?;
        Some(cb)
    } else {
        None
    };

    let started = js_sys::Date::now();
    let mut last_progress = 0.0;
    let mut reading = false;
    let mut in_flight = 0usize;
    let mut timer_at: Option<f64> = None;
    let mut aborted = false;
    // An error that stops the run (bad input, a stream that failed): reading stops, rows not yet handed to the
    // API end failed, and the loop goes on until the requests already out are answered, so that the summary
    // (and the rejected CSV) account for them; then `run()` rejects with it.
    let mut stopped: Option<JsValue> = None;
    loop {
        let now = js_sys::Date::now();
        let step = core.borrow_mut().poll(now);
        match step {
            Step::Send(req) => {
                in_flight += 1;
                let tx = tx.clone();
                let endpoint = endpoint.clone();
                let fetcher = fetcher.clone();
                spawn_local(async move {
                    let r = fetch_once(&fetcher, &endpoint, &req.body).await;
                    let _ = tx.unbounded_send(Event::Answer(req.id, r));
                });
                continue;
            }
            Step::Done => break,
            Step::Wait { until } => {
                let wants = core.borrow().wants_input();
                if wants && !reading {
                    reading = true;
                    let tx = tx.clone();
                    let reader = reader.clone();
                    spawn_local(async move {
                        let r = read_chunk(&reader).await;
                        let _ = tx.unbounded_send(Event::Chunk(r));
                    });
                }
                if let Some(t) = until {
                    if timer_at.is_none_or(|at| t < at) {
                        timer_at = Some(t);
                        sleep_then(tx.clone(), t, now);
                    }
                }
                if !reading && in_flight == 0 && timer_at.is_none() {
                    // Nothing can wake us: the core waits for input it does not want. Should not happen.
                    return Err(js_error(
                        "E_INTERNAL",
                        "the importer stalled: no input wanted, nothing in flight",
                    ));
                }
            }
        }
        let Some(ev) = rx.next().await else { break };
        let now = js_sys::Date::now();
        match ev {
            Event::Chunk(Ok(Some(bytes))) => {
                reading = false;
                // Bind the result first: a temporary `borrow_mut()` in the `if let` would live through the block.
                let pushed = core.borrow_mut().push(&bytes);
                if let Err(e) = pushed {
                    cancel_quietly(&reader);
                    core.borrow_mut().cancel(&format!("not sent: {}", e.message()));
                    stopped = Some(import_error(&e));
                }
            }
            Event::Chunk(Ok(None)) => {
                reading = false;
                let finished = core.borrow_mut().finish();
                if let Err(e) = finished {
                    core.borrow_mut().cancel(&format!("not sent: {}", e.message()));
                    stopped = Some(import_error(&e));
                }
            }
            Event::Chunk(Err(e)) => {
                core.borrow_mut().cancel(&format!("reading the file failed: {e}"));
                cancel_quietly(&reader);
                stopped = Some(js_error("E_CSV", &format!("reading the file failed: {e}")));
            }
            Event::Answer(id, Ok(resp)) => {
                in_flight -= 1;
                core.borrow_mut().on_response(id, now, resp);
            }
            Event::Answer(id, Err(msg)) => {
                in_flight -= 1;
                core.borrow_mut().on_network_error(id, now, &msg);
            }
            Event::Timer(at) => {
                // The armed timer fired: disarm it even if the clock says it is a little early (Node's timers can
                // fire a few ms before `Date.now()` reaches their time), so that the next `Wait` re-arms one.
                // Keeping it armed left nothing to wake the loop, and the run never settled.
                if timer_at == Some(at) {
                    timer_at = None;
                }
            }
            Event::Abort => {
                aborted = true;
                core.borrow_mut().cancel("cancelled");
                cancel_quietly(&reader);
            }
        }
        if let Some(f) = &on_progress {
            if now - last_progress >= 100.0 {
                last_progress = now;
                report(f, &core, now - started)?;
            }
        }
    }
    cancel_quietly(&reader);
    if let Some(f) = &on_progress {
        report(f, &core, js_sys::Date::now() - started)?;
    }
    let c = core.borrow();
    if let Some(err) = stopped {
        return Err(with_summary(err, &c));
    }
    if let Some((code, message)) = c.fatal() {
        return Err(with_summary(js_error(code, &message), &c));
    }
    if aborted {
        return Err(with_summary(js_error("E_ABORTED", "the import was cancelled"), &c));
    }
    to_js(&c.summary())
}

/// Call `onProgress` with the summary so far. The core is not borrowed while the callback runs, so the callback
/// may call the importer (`takeRejectedCsv`, `takeIssues`, `takePayloads`, `summary`).
fn report(f: &Function, core: &RefCell<Core>, elapsed_ms: f64) -> Result<(), JsValue> {
    let (s, bytes_read) = {
        let c = core.borrow();
        (c.summary(), c.bytes_read())
    };
    let p = to_js(&s)?;
    let secs = (elapsed_ms / 1000.0).max(0.001);
    let settled = s.sent + s.api_rejected + s.failed + s.rejected;
    Reflect::set(&p, &"bytesRead".into(), &(bytes_read as f64).into())?;
    Reflect::set(&p, &"rowsPerSec".into(), &(settled as f64 / secs).into())?;
    Reflect::set(&p, &"elapsedMs".into(), &elapsed_ms.into())?;
    f.call1(&JsValue::NULL, &p)?;
    Ok(())
}
