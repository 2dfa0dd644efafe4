//! The sans-IO send state machine: it is told the time and the responses, and answers with requests to make
//! and times to wait. Concurrency window, token-bucket rate limit, retries with exponential backoff and full
//! jitter (seeded), `Retry-After`, Track v2 `207` mapping, bisection of rejected batches, auth stops, checkpoint.

use crate::batch::{Batch, RowRef};

/// Which API's response rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Track API v2 `/api/v2/batch`: 200, 207 with `errors[].batch_index`, 400, 401.
    TrackV2,
    /// Data Pipelines `/v1/batch` (strict mode): 200, 400 with `meta.errors`, 401.
    Pipelines,
}

/// Sender limits and policy. All times are milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderConfig {
    /// Which API's response rules apply.
    pub api: Api,
    /// Requests in flight at once (default 4).
    pub concurrency: usize,
    /// Requests per second (default 100 for Track, 1000 for Pipelines).
    pub rate_per_sec: f64,
    /// Token bucket capacity (default: `concurrency`).
    pub burst: f64,
    /// Attempts per request before its rows fail (default 8).
    pub max_attempts: u32,
    /// First backoff ceiling (default 250 ms); full jitter in `[0, min(cap, base * 2^n)]`.
    pub base_backoff_ms: f64,
    /// Cap of one computed backoff (default 30 s).
    pub max_backoff_ms: f64,
    /// Cap of one `Retry-After` wait (default 300 s).
    pub max_retry_after_ms: f64,
    /// Total time a request may spend waiting for retries before its rows fail (default 15 min).
    pub retry_budget_ms: f64,
    /// Seed of the jitter generator.
    pub seed: u64,
}

impl SenderConfig {
    /// The defaults for `api`.
    pub fn new(api: Api) -> Self {
        let _ = api;
        todo!("sender")
    }
}

/// A request the edge must make: `POST` the body to the API's batch path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Identifies the request in [`Sender::on_response`] / [`Sender::on_network_error`].
    pub id: u64,
    /// The exact JSON body.
    pub body: Vec<u8>,
    /// 1 for the first try of this body.
    pub attempt: u32,
}

/// What the API answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header, verbatim, if any.
    pub retry_after: Option<String>,
    /// The response body (may be empty or not JSON).
    pub body: Vec<u8>,
}

/// What the edge should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Make this request now.
    Send(Request),
    /// Nothing can be sent before this time (ms); call [`Sender::poll`] again then, or when a response arrives.
    WaitUntil(f64),
    /// Waiting only for responses of requests in flight.
    AwaitResponses,
    /// The queue is empty and nothing is in flight: give more batches, or [`Sender::close`].
    Idle,
    /// Closed, the queue is empty and nothing is in flight, or a fatal error stopped the run.
    Done,
}

/// The final state of one row that went to the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// Accepted by the API.
    Sent,
    /// Rejected by the API, with its reason (from 207 errors or an isolated 400).
    ApiRejected(String),
    /// Not delivered after the retries, with the last error.
    Failed(String),
}

/// A run-stopping error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fatal {
    /// 401/403: the credentials were refused. Nothing more is sent.
    Auth {
        /// HTTP status.
        status: u16,
        /// What the API said, if anything.
        message: String,
    },
}

/// Counters for progress and the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderStats {
    /// Requests made (including retries).
    pub requests: u64,
    /// Retries made.
    pub retries: u64,
    /// Batches split because the API rejected them whole.
    pub bisections: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Batches waiting (queued or backing off).
    pub queued: u64,
}

/// The state machine.
#[derive(Debug)]
pub struct Sender {
    _private: (),
}

impl Sender {
    /// A sender with `config`.
    pub fn new(config: SenderConfig) -> Self {
        let _ = config;
        todo!("sender")
    }
    /// Queue a batch (rows in file order across calls).
    pub fn enqueue(&mut self, batch: Batch) {
        let _ = batch;
        todo!("sender")
    }
    /// Batches waiting to be sent (for reader backpressure).
    pub fn queued(&self) -> usize {
        todo!("sender")
    }
    /// No more batches will come.
    pub fn close(&mut self) {
        todo!("sender")
    }
    /// What to do at time `now_ms`.
    pub fn poll(&mut self, now_ms: f64) -> Action {
        let _ = now_ms;
        todo!("sender")
    }
    /// The API answered request `id`.
    pub fn on_response(&mut self, id: u64, now_ms: f64, response: Response) {
        let _ = (id, now_ms, response);
        todo!("sender")
    }
    /// Request `id` failed without an HTTP answer (connection refused or dropped, timeout).
    pub fn on_network_error(&mut self, id: u64, now_ms: f64, message: &str) {
        let _ = (id, now_ms, message);
        todo!("sender")
    }
    /// Row outcomes settled since the last call, in no particular order.
    pub fn take_outcomes(&mut self) -> Vec<(RowRef, RowOutcome)> {
        todo!("sender")
    }
    /// The fatal error that stopped the run, if any.
    pub fn fatal(&self) -> Option<&Fatal> {
        todo!("sender")
    }
    /// Stop: queued and backing-off batches (and any enqueued later) end `Failed(reason)`; in-flight
    /// requests settle as their responses come.
    pub fn cancel(&mut self, reason: &str) {
        let _ = reason;
        todo!("sender")
    }
    /// Counters.
    pub fn stats(&self) -> SenderStats {
        todo!("sender")
    }
}
