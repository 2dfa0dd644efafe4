//! The sans-IO send state machine: it is told the time and the responses, and answers with requests to make
//! and times to wait. Concurrency window, token-bucket rate limit, retries with exponential backoff and full
//! jitter (seeded), `Retry-After`, Track v2 `207` mapping, bisection of rejected batches, auth stops, checkpoint.
//!
//! # Policies
//! - **Order.** Waiting batches are kept in file order (by their first row); the first one that is ready goes
//!   first, so due retries and bisected halves go before fresh batches and the checkpoint advances.
//! - **Rate.** A token bucket (`rate_per_sec`, capacity `burst`, full at start); every request, retries
//!   included, takes a token, so in any window of `W` ms at most `burst + rate·W/1000` requests start.
//!   `rate_per_sec = +inf` disables the limit. When the window is full, [`Sender::poll`] answers
//!   [`Action::AwaitResponses`] even if batches are queued: only a response can unblock it.
//! - **2xx** (except 207): all rows `Sent`. **207**: the listed `batch_index`es are `ApiRejected`
//!   (`reason: message (field: f)`), the others `Sent`; indices out of range are ignored. A 207 body that cannot
//!   be read (not JSON, no `errors` array, an entry without a usable `batch_index`) is retried as a whole: Track v2
//!   ignores a repeated event id, and a repeated identify with the same timestamp changes nothing.
//! - **400, 413, 422**: a batch of two or more items is bisected (both halves re-queued, nothing waits); a single
//!   item is `ApiRejected` with the message from the body.
//! - **401, 403**: [`Fatal::Auth`]. Nothing more starts; queued rows and rows enqueued later fail with
//!   `not sent: the api refused the credentials (401)`; responses of requests still in flight are applied (a 2xx
//!   still counts as `Sent`), but nothing is retried or bisected any more. [`Action::Done`] once none is in flight.
//! - **408, 429, 5xx, network errors, and nonsense statuses (<100, ≥600)**: retried after a full-jitter wait in
//!   `[0, min(max_backoff, base·2^(n-1))]`, or the `Retry-After` (capped at `max_retry_after`) if longer. A 429
//!   also pauses *all* sending for that wait and empties the bucket down to one token. After `max_attempts`
//!   attempts, or when the next attempt would start later than `retry_budget_ms` after the first one started,
//!   the rows fail with `<last error>, after N attempts`.
//! - **Other statuses** (1xx, 3xx, 402, 404, 405, 409, …): the rows fail with `http <status>: <message>` at once;
//!   a retry would get the same answer, and a bisection would not help.
//! - **Exactly once.** Every row of every non-empty batch gets one outcome; a second settlement of a row is
//!   ignored by construction. Unknown or already answered request ids are ignored.
//! - **Time** comes from the caller and never goes backwards: an earlier or non-finite `now_ms` counts as the
//!   latest time seen.

use crate::batch::{Batch, RowRef};
use crate::timestamp::{days_from_civil, days_in_month};

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
    /// Consecutive network errors, before any HTTP answer at all, after which the api counts as unreachable
    /// and the run stops (default [`UNREACHABLE_AFTER`]; `u32::MAX` never).
    pub unreachable_after: u32,
}

impl SenderConfig {
    /// The defaults for `api`.
    pub fn new(api: Api) -> Self {
        let concurrency = 4;
        SenderConfig {
            api,
            concurrency,
            rate_per_sec: default_rate(api),
            burst: concurrency as f64,
            max_attempts: 8,
            base_backoff_ms: 250.0,
            max_backoff_ms: 30_000.0,
            max_retry_after_ms: 300_000.0,
            retry_budget_ms: 15.0 * 60_000.0,
            seed: 0,
            unreachable_after: UNREACHABLE_AFTER,
        }
    }

    /// A copy with every field made usable: concurrency and attempts at least 1, a burst of at least one
    /// token (NaN: `concurrency`), a positive rate (`+inf` means no rate limit; zero, negative or NaN fall back
    /// to the default), non-negative times (NaN falls back to the default).
    pub fn sanitized(&self) -> Self {
        let d = SenderConfig::new(self.api);
        let time = |v: f64, dflt: f64| if v.is_nan() { dflt } else { v.max(0.0) };
        let concurrency = self.concurrency.max(1);
        SenderConfig {
            api: self.api,
            concurrency,
            rate_per_sec: if self.rate_per_sec > 0.0 {
                self.rate_per_sec
            } else {
                d.rate_per_sec
            },
            burst: if self.burst.is_nan() {
                concurrency as f64
            } else {
                self.burst.max(1.0)
            },
            max_attempts: self.max_attempts.max(1),
            base_backoff_ms: time(self.base_backoff_ms, d.base_backoff_ms),
            max_backoff_ms: time(self.max_backoff_ms, d.max_backoff_ms),
            max_retry_after_ms: time(self.max_retry_after_ms, d.max_retry_after_ms),
            retry_budget_ms: time(self.retry_budget_ms, d.retry_budget_ms),
            seed: self.seed,
            unreachable_after: self.unreachable_after.max(1),
        }
    }
}

fn default_rate(api: Api) -> f64 {
    match api {
        Api::TrackV2 => 100.0,
        Api::Pipelines => 1000.0,
    }
}

/// A request the edge must make: `POST` the body to the API's batch path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Identifies the request in [`Sender::on_response`] / [`Sender::on_network_error`].
    pub id: u64,
    /// The exact JSON body (shared with the batch, which keeps it for retries).
    pub body: std::rc::Rc<Vec<u8>>,
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
    /// The first requests all failed without an HTTP answer (the host is unreachable, or a browser refused
    /// the call: CORS). Nothing more is sent.
    Unreachable {
        /// The last network error.
        message: String,
    },
}

/// Consecutive network errors, before any HTTP answer at all, that make the API unreachable.
pub const UNREACHABLE_AFTER: u32 = 3;

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

/// Tokens short of a whole one that still count as one (float rounding of the refill). Spending makes the
/// bucket go slightly negative instead of being clamped, so nothing is ever gifted.
const TOKEN_EPS: f64 = 1e-9;
/// Longest message kept from an API answer, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// One batch (or a part of one, after bisection) and its retry state.
#[derive(Debug)]
struct Job {
    batch: Batch,
    /// Global index of the batch's first row: the queue order (file order) and the row-slot key.
    base: u64,
    /// Attempts made so far.
    attempt: u32,
    /// Earliest time of the next attempt (`-inf` for a fresh batch).
    ready_at: f64,
    /// When the first attempt started (NaN before it).
    first_start: f64,
}

impl Job {
    fn fresh(batch: Batch, base: u64) -> Self {
        Job {
            batch,
            base,
            attempt: 0,
            ready_at: f64::NEG_INFINITY,
            first_start: f64::NAN,
        }
    }
}

/// Whether a row has settled, for the exactly-once guard and the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Open,
    Settled,
    /// Settled as failed because of the fatal error: the checkpoint never passes it.
    Stopped,
}

/// The state machine.
#[derive(Debug)]
pub struct Sender {
    config: SenderConfig,
    /// Batches waiting, keyed by [`Job::base`] (file order).
    queue: std::collections::BTreeMap<u64, Job>,
    /// Requests in flight, by request id.
    in_flight: std::collections::BTreeMap<u64, Job>,
    next_id: u64,
    next_row: u64,
    tokens: f64,
    refilled_at: Option<f64>,
    /// Global cool-down after a 429.
    pause_until: f64,
    clock: Option<f64>,
    rng: u64,
    closed: bool,
    fatal: Option<Fatal>,
    /// Nothing more starts (after a fatal error or [`Sender::cancel`]).
    stopped: bool,
    /// "the api refused the credentials (401)", once fatal.
    fatal_note: String,
    /// An HTTP answer (any status) has come back: the host is reachable.
    answered: bool,
    /// Network errors so far, while nothing has answered.
    unanswered_errors: u32,
    outcomes: Vec<(RowRef, RowOutcome)>,
    /// Rows from `window_start` on that are not yet part of the settled prefix.
    window: std::collections::VecDeque<(RowRef, Slot)>,
    window_start: u64,
    checkpoint: Option<RowRef>,
    stats: SenderStats,
}

impl Sender {
    /// A sender with `config` (made usable with [`SenderConfig::sanitized`]).
    pub fn new(config: SenderConfig) -> Self {
        let config = config.sanitized();
        Sender {
            tokens: config.burst,
            rng: config.seed,
            config,
            queue: Default::default(),
            in_flight: Default::default(),
            next_id: 1,
            next_row: 0,
            refilled_at: None,
            pause_until: f64::NEG_INFINITY,
            clock: None,
            closed: false,
            fatal: None,
            stopped: false,
            fatal_note: String::new(),
            answered: false,
            unanswered_errors: 0,
            outcomes: Vec::new(),
            window: Default::default(),
            window_start: 0,
            checkpoint: None,
            stats: SenderStats::default(),
        }
    }

    /// The configuration in use (sanitized).
    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Queue a batch (rows in file order across calls). After a fatal error its rows fail at once.
    /// An empty batch is ignored.
    pub fn enqueue(&mut self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let base = self.next_row;
        self.next_row = base.saturating_add(batch.len() as u64);
        if self.stopped {
            let msg = format!("not sent: {}", self.fatal_note);
            // Not windowed (the checkpoint is stopped for good): these rows settle right here, once.
            for &row in batch.rows() {
                self.outcomes.push((row, RowOutcome::Failed(msg.clone())));
            }
            return;
        }
        for &row in batch.rows() {
            self.window.push_back((row, Slot::Open));
        }
        self.insert(Job::fresh(batch, base));
    }

    /// Batches waiting to be sent, including those backing off (for reader backpressure).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Stop: queued and backing-off batches (and any enqueued later) end `Failed(reason)`; requests in
    /// flight settle as their responses come (a retry or bisection they would need fails instead). The
    /// checkpoint never passes a row failed this way, so a resumed run sends it.
    pub fn cancel(&mut self, reason: &str) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.fatal_note = reason.to_string();
        let queued = std::mem::take(&mut self.queue);
        for (_, q) in queued {
            self.settle_all(&q, RowOutcome::Failed(reason.to_string()), true);
        }
    }

    /// No more batches will come.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// What to do at time `now_ms`. Time never goes backwards here: an earlier or non-finite `now_ms` counts
    /// as the latest time seen.
    pub fn poll(&mut self, now_ms: f64) -> Action {
        let now = self.tick(now_ms);
        if self.stopped {
            return if self.in_flight.is_empty() {
                Action::Done
            } else {
                Action::AwaitResponses
            };
        }
        if self.queue.is_empty() {
            return if !self.in_flight.is_empty() {
                Action::AwaitResponses
            } else if self.closed {
                Action::Done
            } else {
                Action::Idle
            };
        }
        if self.in_flight.len() >= self.config.concurrency {
            // Nothing can start before a response frees a slot.
            return Action::AwaitResponses;
        }
        self.refill(now);
        let unlimited = self.config.rate_per_sec == f64::INFINITY;
        let has_token = unlimited || self.tokens >= 1.0 - TOKEN_EPS;
        let pick = self.queue.iter().find(|(_, j)| j.ready_at <= now).map(|(&k, _)| k);
        if let Some(key) = pick {
            if has_token && self.pause_until <= now {
                if let Some(job) = self.queue.remove(&key) {
                    return self.start(job, now, unlimited);
                }
            }
        }
        let earliest = self.queue.values().map(|j| j.ready_at).fold(f64::INFINITY, f64::min);
        let token_at = if has_token {
            f64::NEG_INFINITY
        } else {
            now + (1.0 - self.tokens) * 1000.0 / self.config.rate_per_sec
        };
        let t = earliest.max(token_at).max(self.pause_until);
        Action::WaitUntil(if t > now { t } else { next_after(now) })
    }

    /// The API answered request `id`. Unknown ids are ignored.
    pub fn on_response(&mut self, id: u64, now_ms: f64, response: Response) {
        let now = self.tick(now_ms);
        let Some(job) = self.in_flight.remove(&id) else {
            return;
        };
        let status = response.status;
        self.answered = true;
        match status {
            207 => match parse_207(&response.body) {
                Some(errors) => {
                    let mut rejected: std::collections::BTreeMap<usize, String> = Default::default();
                    for (index, message) in errors {
                        if index < job.batch.len() {
                            let entry = rejected.entry(index).or_default();
                            if !entry.is_empty() {
                                entry.push_str("; ");
                            }
                            entry.push_str(&message);
                        }
                    }
                    for (i, &row) in job.batch.rows().iter().enumerate() {
                        let outcome = match rejected.remove(&i) {
                            Some(m) => RowOutcome::ApiRejected(cap(&m)),
                            None => RowOutcome::Sent,
                        };
                        self.settle(job.base.saturating_add(i as u64), row, outcome, false);
                    }
                }
                // We cannot tell which rows were accepted: send the whole batch again. Track v2 ignores a
                // repeated event id and an identify with the same timestamp is a no-op, so this is safe.
                None => self.retry(job, now, "http 207 with an unreadable body".into(), None, false),
            },
            200..=299 => self.settle_all(&job, RowOutcome::Sent, false),
            401 | 403 => {
                let message = error_message(&response.body);
                if self.fatal.is_none() {
                    let note = format!("the api refused the credentials ({status})");
                    self.stop_fatal(Fatal::Auth { status, message }, note);
                }
                let note = format!("not sent: the api refused the credentials ({status})");
                self.settle_all(&job, RowOutcome::Failed(note), true);
            }
            400 | 413 | 422 => self.reject(job, status, &response.body),
            408 | 429 | 500..=599 => {
                let error = http_error(status, &response.body);
                let retry_after = response.retry_after.as_deref();
                self.retry(job, now, error, retry_after, status == 429);
            }
            // Not a real HTTP status (0 from an opaque browser answer, or garbage): like a network error.
            0..=99 | 600.. => self.retry(
                job,
                now,
                http_error(status, &response.body),
                response.retry_after.as_deref(),
                false,
            ),
            // 1xx, 3xx, and the other 4xx (404, 405, 409, …): a retry would get the same answer.
            _ => {
                let msg = http_error(status, &response.body);
                self.settle_all(&job, RowOutcome::Failed(msg), false);
            }
        }
    }

    /// Request `id` failed without an HTTP answer (connection refused or dropped, timeout). Retried: the
    /// request may have been accepted already, which is why rows carry deterministic ids.
    pub fn on_network_error(&mut self, id: u64, now_ms: f64, message: &str) {
        let now = self.tick(now_ms);
        let Some(job) = self.in_flight.remove(&id) else {
            return;
        };
        let m = clean(message);
        let error = if m.is_empty() {
            "network error".to_string()
        } else {
            format!("network error: {m}")
        };
        if !self.answered && self.fatal.is_none() {
            self.unanswered_errors += 1;
            if self.unanswered_errors >= self.config.unreachable_after.max(1) {
                let note = format!("cannot reach the api ({error})");
                self.stop_fatal(Fatal::Unreachable { message: error.clone() }, note.clone());
                self.settle_all(&job, RowOutcome::Failed(format!("not sent: {note}")), true);
                return;
            }
        }
        self.retry(job, now, error, None, false);
    }

    /// Stop for good: queued rows (and rows enqueued later) fail with `not sent: <note>`.
    fn stop_fatal(&mut self, fatal: Fatal, note: String) {
        self.fatal = Some(fatal);
        self.stopped = true;
        self.fatal_note = note;
        let failed = format!("not sent: {}", self.fatal_note);
        let queued = std::mem::take(&mut self.queue);
        for (_, q) in queued {
            self.settle_all(&q, RowOutcome::Failed(failed.clone()), true);
        }
    }

    /// Row outcomes settled since the last call, in no particular order.
    pub fn take_outcomes(&mut self) -> Vec<(RowRef, RowOutcome)> {
        std::mem::take(&mut self.outcomes)
    }

    /// The same into `into` (cleared first), whose buffer the sender keeps for the next ones: no vector is grown
    /// again for every batch.
    pub fn swap_outcomes(&mut self, into: &mut Vec<(RowRef, RowOutcome)>) {
        into.clear();
        std::mem::swap(&mut self.outcomes, into);
    }

    /// The fatal error that stopped the run, if any.
    pub fn fatal(&self) -> Option<&Fatal> {
        self.fatal.as_ref()
    }

    /// The last row of the longest settled prefix of all enqueued rows: every row up to it has its outcome,
    /// so a resumed run may start after it. Rows failed because of a fatal error are never passed.
    pub fn checkpoint(&self) -> Option<RowRef> {
        self.checkpoint
    }

    /// Counters.
    pub fn stats(&self) -> SenderStats {
        SenderStats {
            in_flight: self.in_flight.len() as u64,
            queued: self.queue.len() as u64,
            ..self.stats
        }
    }

    // ---- internals ----

    fn tick(&mut self, now_ms: f64) -> f64 {
        let now = match self.clock {
            Some(c) if now_ms.is_finite() => c.max(now_ms),
            Some(c) => c,
            None if now_ms.is_finite() => now_ms,
            None => 0.0,
        };
        self.clock = Some(now);
        now
    }

    fn refill(&mut self, now: f64) {
        if self.config.rate_per_sec == f64::INFINITY {
            return;
        }
        if let Some(at) = self.refilled_at {
            let delta = (now - at).max(0.0);
            self.tokens = (self.tokens + delta * self.config.rate_per_sec / 1000.0).min(self.config.burst);
        }
        self.refilled_at = Some(now);
    }

    fn start(&mut self, mut job: Job, now: f64, unlimited: bool) -> Action {
        if !unlimited {
            self.tokens -= 1.0;
        }
        job.attempt = job.attempt.saturating_add(1);
        if job.first_start.is_nan() {
            job.first_start = now;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.stats.requests += 1;
        if job.attempt > 1 {
            self.stats.retries += 1;
        }
        let request = Request {
            id,
            body: job.batch.shared_body(),
            attempt: job.attempt,
        };
        self.in_flight.insert(id, job);
        Action::Send(request)
    }

    fn insert(&mut self, job: Job) {
        // Keys are row indices and a row belongs to one job at a time, so this never displaces a job;
        // if it ever did, settle the displaced rows rather than lose them.
        if let Some(old) = self.queue.insert(job.base, job) {
            self.settle_all(
                &old,
                RowOutcome::Failed("internal error: duplicate batch".into()),
                false,
            );
        }
    }

    /// 400/413/422: bisect, or reject the single row.
    fn reject(&mut self, job: Job, status: u16, body: &[u8]) {
        let message = error_message(body);
        if job.batch.len() == 1 {
            let m = if message.is_empty() {
                format!("rejected by the api (http {status})")
            } else {
                message
            };
            self.settle_all(&job, RowOutcome::ApiRejected(m), false);
            return;
        }
        if self.stopped {
            let m = format!("{}; not retried: {}", http_error(status, body), self.fatal_note);
            self.settle_all(&job, RowOutcome::Failed(m), true);
            return;
        }
        match job.batch.split() {
            Some((a, b)) => {
                self.stats.bisections += 1;
                let mid = a.len() as u64;
                self.insert(Job::fresh(a, job.base));
                self.insert(Job::fresh(b, job.base.saturating_add(mid)));
            }
            None => {
                let m = http_error(status, body);
                self.settle_all(&job, RowOutcome::Failed(m), false);
            }
        }
    }

    fn retry(&mut self, mut job: Job, now: f64, error: String, retry_after: Option<&str>, is_429: bool) {
        if self.stopped {
            let m = format!("{error}; not retried: {}", self.fatal_note);
            self.settle_all(&job, RowOutcome::Failed(m), true);
            return;
        }
        let n = job.attempt;
        let give_up = |error: &str| {
            let s = if n == 1 { "" } else { "s" };
            RowOutcome::Failed(format!("{error}, after {n} attempt{s}"))
        };
        if n >= self.config.max_attempts {
            self.settle_all(&job, give_up(&error), false);
            return;
        }
        let jitter = self.next_f64() * backoff_ceiling(&self.config, n);
        let server = retry_after
            .and_then(|v| parse_retry_after(v, now))
            .map_or(0.0, |d| d.min(self.config.max_retry_after_ms));
        let wait = jitter.max(server);
        let start = if job.first_start.is_nan() { now } else { job.first_start };
        if now + wait - start > self.config.retry_budget_ms {
            self.settle_all(&job, give_up(&error), false);
            return;
        }
        job.ready_at = now + wait;
        if is_429 {
            self.pause_until = self.pause_until.max(now + wait);
            self.tokens = self.tokens.min(1.0);
        }
        self.insert(job);
    }

    fn settle_all(&mut self, job: &Job, outcome: RowOutcome, fatal: bool) {
        for (i, &row) in job.batch.rows().iter().enumerate() {
            self.settle(job.base.saturating_add(i as u64), row, outcome.clone(), fatal);
        }
    }

    /// Record one row's outcome, at most once.
    fn settle(&mut self, index: u64, row: RowRef, outcome: RowOutcome, fatal: bool) {
        let Some(pos) = index.checked_sub(self.window_start) else {
            return; // settled and passed already
        };
        let Some(slot) = usize::try_from(pos).ok().and_then(|p| self.window.get_mut(p)) else {
            return;
        };
        if slot.1 != Slot::Open {
            return;
        }
        slot.1 = if fatal { Slot::Stopped } else { Slot::Settled };
        self.outcomes.push((row, outcome));
        while let Some(&(r, Slot::Settled)) = self.window.front() {
            self.window.pop_front();
            self.window_start += 1;
            self.checkpoint = Some(r);
        }
    }

    /// splitmix64 → uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The smallest float above `x` (for finite `x`), so a wait always moves time forward.
fn next_after(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// The jitter ceiling after `attempt` failed attempts (1-based): `min(max_backoff, base * 2^(attempt-1))`.
/// The actual wait is uniform in `[0, ceiling]` (full jitter).
pub fn backoff_ceiling(config: &SenderConfig, attempt: u32) -> f64 {
    let exp = attempt.saturating_sub(1).min(1023) as i32;
    let c = config.base_backoff_ms * 2f64.powi(exp);
    if c.is_nan() {
        0.0
    } else {
        c.min(config.max_backoff_ms).max(0.0)
    }
}

/// `Retry-After` as a delay in ms from `now_ms` (unix ms): delta-seconds (`120`, also `1.5`), or an HTTP date
/// (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850 and asctime forms). A date in the
/// past gives `0`. Anything else gives `None`.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<f64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if v.bytes().filter(|&b| b == b'.').count() > 1 || !v.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: f64 = v.parse().ok()?;
        let ms = secs * 1000.0;
        return ms.is_finite().then_some(ms);
    }
    let at = parse_http_date(v)?;
    if !now_ms.is_finite() {
        return None;
    }
    Some((at - now_ms).max(0.0))
}

/// An HTTP date as unix ms.
pub fn parse_http_date(s: &str) -> Option<f64> {
    let s = s.trim();
    let (day, month, year, time);
    if let Some(comma) = s.find(',') {
        let parts: Vec<&str> = s[comma + 1..].split_whitespace().collect();
        match parts.as_slice() {
            // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
            [d, m, y, t, zone] if is_gmt(zone) => {
                day = d.parse::<u32>().ok()?;
                month = month_number(m)?;
                year = parse_year(y)?;
                time = *t;
            }
            // RFC 850: 06-Nov-94 08:49:37 GMT
            [dmy, t, zone] if is_gmt(zone) => {
                let mut it = dmy.split('-');
                day = it.next()?.parse::<u32>().ok()?;
                month = month_number(it.next()?)?;
                year = parse_year(it.next()?)?;
                if it.next().is_some() {
                    return None;
                }
                time = *t;
            }
            _ => return None,
        }
    } else {
        // asctime: Sun Nov  6 08:49:37 1994
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [_, m, d, t, y] => {
                month = month_number(m)?;
                day = d.parse::<u32>().ok()?;
                year = parse_year(y)?;
                time = *t;
            }
            _ => return None,
        }
    }
    let mut hms = time.split(':');
    let h: u32 = two_digits(hms.next()?)?;
    let mi: u32 = two_digits(hms.next()?)?;
    let se: u32 = two_digits(hms.next()?)?;
    if hms.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days as f64 * 86_400.0 + f64::from(h * 3600 + mi * 60 + se);
    Some(secs * 1000.0)
}

fn is_gmt(zone: &str) -> bool {
    zone.eq_ignore_ascii_case("GMT") || zone.eq_ignore_ascii_case("UTC") || zone == "+0000" || zone == "Z"
}

fn two_digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_year(s: &str) -> Option<i64> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match s.len() {
        2 => {
            let y: i64 = s.parse().ok()?;
            Some(if y >= 70 { 1900 + y } else { 2000 + y })
        }
        4 => s.parse().ok(),
        _ => None,
    }
}

fn month_number(m: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let m = m.to_ascii_lowercase();
    MONTHS.iter().position(|&x| x == m).map(|i| i as u32 + 1)
}

/// `http 503` or `http 503: <message from the body>`.
fn http_error(status: u16, body: &[u8]) -> String {
    let m = error_message(body);
    if m.is_empty() {
        format!("http {status}")
    } else {
        format!("http {status}: {m}")
    }
}

/// A readable message from an API error body, whatever its shape: `{"meta":{"error":"…"}}`,
/// `{"meta":{"errors":["…"]}}`, `{"errors":[{"message":"…"}]}`, `{"errors":["…"]}`, `{"code":…,"message":"…"}`,
/// `{"error":"…"}`, plain text or HTML. Case is kept; whitespace is collapsed; at most 300 characters.
/// Empty if the body says nothing.
pub fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    if t.is_empty() {
        return String::new();
    }
    let msg = match serde_json::from_str::<serde_json::Value>(t) {
        Ok(v) => json_message(&v, 0).unwrap_or_else(|| match &v {
            serde_json::Value::Object(o) if o.is_empty() => String::new(),
            serde_json::Value::Null => String::new(),
            _ => t.to_string(),
        }),
        Err(_) if t.starts_with('<') => strip_tags(t),
        Err(_) => t.to_string(),
    };
    cap(&clean(&msg))
}

fn json_message(v: &serde_json::Value, depth: usize) -> Option<String> {
    use serde_json::Value;
    if depth > 8 {
        return None;
    }
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(|i| json_message(i, depth + 1)).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(o) => {
            for key in ["errors", "meta", "error"] {
                if let Some(m) = o.get(key).and_then(|x| json_message(x, depth + 1)) {
                    return Some(m);
                }
            }
            if let Some(m) = describe(o) {
                return Some(m);
            }
            for key in ["detail", "title", "description", "error_description", "msg"] {
                if let Some(m) = o.get(key).and_then(|x| json_message(x, depth + 1)) {
                    return Some(m);
                }
            }
            None
        }
        _ => None,
    }
}

fn scalar(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `reason: message (field: f)` from the parts that are there.
fn describe(o: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let reason = scalar(o.get("reason"));
    let message = scalar(o.get("message"));
    let field = scalar(o.get("field"));
    let mut s = match (reason, message) {
        (Some(r), Some(m)) if r == m => r,
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => String::new(),
    };
    if let Some(f) = field {
        if s.is_empty() {
            s = format!("invalid field {f}");
        } else {
            s = format!("{s} (field: {f})");
        }
    }
    (!s.is_empty()).then_some(s)
}

/// A Track v2 `207` body as `(batch_index, message)` pairs; `None` if it cannot be read (not JSON, no `errors`
/// array, or an entry without a usable `batch_index`). Negative indices map to `usize::MAX` (out of range).
fn parse_207(body: &[u8]) -> Option<Vec<(usize, String)>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    let mut out = Vec::with_capacity(errors.len());
    for e in errors {
        let o = e.as_object()?;
        let index = match o.get("batch_index")? {
            serde_json::Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    usize::try_from(u).unwrap_or(usize::MAX)
                } else if n.as_i64().is_some() {
                    usize::MAX
                } else {
                    let f = n.as_f64()?;
                    if f.fract() != 0.0 {
                        return None;
                    }
                    if f < 0.0 {
                        usize::MAX
                    } else {
                        f as usize
                    }
                }
            }
            serde_json::Value::String(s) => s.trim().parse::<usize>().ok()?,
            _ => return None,
        };
        let message = describe(o).unwrap_or_else(|| "rejected by the api".to_string());
        out.push((index, message));
    }
    Some(out)
}

fn strip_tags(t: &str) -> String {
    // Prefer the <title> of an HTML error page.
    let lower = t.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        if a + 7 <= b {
            if let Some(title) = t.get(a + 7..b) {
                if !title.trim().is_empty() {
                    return title.to_string();
                }
            }
        }
    }
    let mut out = String::with_capacity(t.len());
    let mut in_tag = false;
    for c in t.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Trim, collapse whitespace and drop control characters.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * MAX_MESSAGE_CHARS));
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > 4 * MAX_MESSAGE_CHARS + 8 {
            break;
        }
    }
    cap(&out)
}

fn cap(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
    }
}
