//! A discrete-event simulation of the sender against a fake Customer.io API with faults: random latency,
//! 500/503, 429 bursts with `Retry-After`, connections dropped before or *after* the data was accepted,
//! bad rows (Track v2 answers 207, Pipelines 400), and an optional 401 midway. Properties are checked over
//! seeds and fault rates with proptest.

use std::collections::BTreeMap;

use cio_backfill::batch::{Batch, Packer, PackerConfig, RowRef};
use cio_backfill::sender::{Action, Api, Response, RowOutcome, Sender, SenderConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Faults {
    p_5xx: f64,
    p_429: f64,
    /// Length of a 429 burst (ms).
    burst_429_ms: f64,
    p_drop_before: f64,
    p_drop_after: f64,
    p_bad_row: f64,
    /// The request (0-based, in start order) that gets a 401.
    auth_fail_at: Option<usize>,
    max_latency_ms: f64,
}

impl Faults {
    fn none() -> Self {
        Faults {
            p_5xx: 0.0,
            p_429: 0.0,
            burst_429_ms: 0.0,
            p_drop_before: 0.0,
            p_drop_after: 0.0,
            p_bad_row: 0.0,
            auth_fail_at: None,
            max_latency_ms: 300.0,
        }
    }
}

/// xorshift64*, for the fake API's own randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
}

enum Answer {
    Http(Response),
    Net,
}

struct FakeApi {
    api: Api,
    rng: Rng,
    faults: Faults,
    bad: Vec<bool>,
    /// How many times the server accepted each row.
    accepted: BTreeMap<u64, u32>,
    limited_until: f64,
    requests: usize,
}

impl FakeApi {
    fn handle(&mut self, now: f64, body: &[u8]) -> Answer {
        let n = self.requests;
        self.requests += 1;
        if self.faults.auth_fail_at == Some(n) {
            return Answer::Http(Response {
                status: 401,
                retry_after: None,
                body: br#"{"meta":{"error":"Unauthorized"}}"#.to_vec(),
            });
        }
        if now < self.limited_until || self.rng.chance(self.faults.p_429) {
            if now >= self.limited_until {
                self.limited_until = now + self.faults.burst_429_ms;
            }
            let secs = ((self.limited_until - now) / 1000.0).ceil().max(0.0);
            return Answer::Http(Response {
                status: 429,
                retry_after: Some(format!("{secs}")),
                body: b"rate limited".to_vec(),
            });
        }
        if self.rng.chance(self.faults.p_5xx) {
            let status = if self.rng.chance(0.5) { 500 } else { 503 };
            return Answer::Http(Response {
                status,
                retry_after: None,
                body: b"<html><title>oops</title></html>".to_vec(),
            });
        }
        if self.rng.chance(self.faults.p_drop_before) {
            return Answer::Net;
        }
        let v: serde_json::Value = serde_json::from_slice(body).expect("valid body");
        let items: Vec<u64> = v["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["i"].as_u64().unwrap())
            .collect();
        let bad: Vec<usize> = (0..items.len()).filter(|&k| self.bad[items[k] as usize]).collect();
        let response = match self.api {
            Api::TrackV2 => {
                for (k, &i) in items.iter().enumerate() {
                    if !bad.contains(&k) {
                        *self.accepted.entry(i).or_default() += 1;
                    }
                }
                if bad.is_empty() {
                    Response {
                        status: 200,
                        ..Default::default()
                    }
                } else {
                    let errs: Vec<String> = bad
                        .iter()
                        .map(|&k| {
                            format!(
                                r#"{{"batch_index":{k},"reason":"invalid","field":"x","message":"row {}"}}"#,
                                items[k]
                            )
                        })
                        .collect();
                    Response {
                        status: 207,
                        retry_after: None,
                        body: format!(r#"{{"errors":[{}]}}"#, errs.join(",")).into_bytes(),
                    }
                }
            }
            Api::Pipelines => {
                if bad.is_empty() {
                    for &i in &items {
                        *self.accepted.entry(i).or_default() += 1;
                    }
                    Response {
                        status: 200,
                        retry_after: None,
                        body: b"{}".to_vec(),
                    }
                } else {
                    let errs: Vec<String> = bad.iter().map(|&k| format!(r#""row {}""#, items[k])).collect();
                    Response {
                        status: 400,
                        retry_after: None,
                        body: format!(r#"{{"meta":{{"errors":[{}]}}}}"#, errs.join(",")).into_bytes(),
                    }
                }
            }
        };
        if self.rng.chance(self.faults.p_drop_after) {
            return Answer::Net; // accepted, but the answer never arrives
        }
        Answer::Http(response)
    }
}

#[derive(Debug, PartialEq)]
struct Trace {
    starts: Vec<f64>,
    max_in_flight: usize,
    outcomes: BTreeMap<RowRef, Vec<RowOutcome>>,
    accepted: BTreeMap<u64, u32>,
    bad: Vec<bool>,
    batches: usize,
    requests: u64,
    retries: u64,
    sends_after_fatal: usize,
    checkpoint: Option<RowRef>,
    fatal: bool,
}

fn row(i: u64) -> RowRef {
    RowRef {
        record: i + 1,
        line: i + 2,
    }
}

fn make_batches(rows: u64, per: usize) -> Vec<Batch> {
    let mut p = Packer::new(PackerConfig {
        max_items: per,
        ..PackerConfig::batch_envelope(500_000)
    });
    let mut out = Vec::new();
    for i in 0..rows {
        out.extend(p.push(format!(r#"{{"i":{i}}}"#).as_bytes(), row(i)).unwrap());
    }
    out.extend(p.flush());
    out
}

fn simulate(config: SenderConfig, faults: Faults, rows: u64, per: usize, seed: u64) -> Trace {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let bad: Vec<bool> = (0..rows).map(|_| rng.chance(faults.p_bad_row)).collect();
    let max_latency = faults.max_latency_ms;
    let api = config.api;
    let mut server = FakeApi {
        api,
        rng: Rng(rng.next() | 1),
        faults,
        bad: bad.clone(),
        accepted: BTreeMap::new(),
        limited_until: f64::NEG_INFINITY,
        requests: 0,
    };
    let mut s = Sender::new(config);
    let mut input = make_batches(rows, per).into_iter();
    let batches = input.len();
    let mut closed = false;
    let mut now = 1_700_000_000_000.0; // unix ms, as the edges use
                                       // (answer time, request id, answer)
    let mut pending: Vec<(f64, u64, Answer)> = Vec::new();
    let mut starts = Vec::new();
    let mut max_in_flight = 0;
    let mut outcomes: BTreeMap<RowRef, Vec<RowOutcome>> = BTreeMap::new();
    let mut sends_at_fatal: Option<usize> = None;
    for _ in 0..10_000_000 {
        // the reader feeds batches while the queue is short (backpressure)
        while s.queued() < 3 && !closed {
            match input.next() {
                Some(b) => s.enqueue(b),
                None => {
                    s.close();
                    closed = true;
                }
            }
        }
        let mut wake = None;
        loop {
            match s.poll(now) {
                Action::Send(r) => {
                    starts.push(now);
                    let latency = 1.0 + rng.f() * max_latency;
                    let answer = server.handle(now, &r.body);
                    pending.push((now + latency, r.id, answer));
                    max_in_flight = max_in_flight.max(pending.len());
                }
                Action::WaitUntil(t) => {
                    assert!(t > now, "WaitUntil({t}) at {now}");
                    wake = Some(t);
                    break;
                }
                Action::AwaitResponses => {
                    assert!(!pending.is_empty(), "awaiting nothing");
                    break;
                }
                Action::Idle => {
                    assert!(!closed, "idle after close");
                    break;
                }
                Action::Done => {
                    assert!(pending.is_empty() || s.fatal().is_some());
                    break;
                }
            }
        }
        for (r, o) in s.take_outcomes() {
            outcomes.entry(r).or_default().push(o);
        }
        if closed && pending.is_empty() && s.poll(now) == Action::Done {
            let stats = s.stats();
            return Trace {
                sends_after_fatal: sends_at_fatal.map_or(0, |n| starts.len() - n),
                starts,
                max_in_flight,
                outcomes,
                accepted: server.accepted,
                bad,
                batches,
                requests: stats.requests,
                retries: stats.retries,
                checkpoint: s.checkpoint(),
                fatal: s.fatal().is_some(),
            };
        }
        if closed && !pending.is_empty() && s.fatal().is_some() && s.poll(now) == Action::Done {
            panic!("done with requests in flight");
        }
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        let next = pending.first().map(|p| p.0);
        now = match (wake, next) {
            (Some(w), Some(a)) => w.min(a),
            (Some(w), None) => w,
            (None, Some(a)) => a,
            (None, None) if !closed => now, // idle: feed more
            (None, None) => panic!("stuck at {now}"),
        };
        while pending.first().is_some_and(|p| p.0 <= now) {
            let (_, id, answer) = pending.remove(0);
            match answer {
                Answer::Http(resp) => s.on_response(id, now, resp),
                Answer::Net => s.on_network_error(id, now, "connection reset"),
            }
            if s.fatal().is_some() && sends_at_fatal.is_none() {
                sends_at_fatal = Some(starts.len());
            }
        }
    }
    panic!("simulation did not finish");
}

/// (3): in any window, starts ≤ burst + rate·W.
fn check_rate(starts: &[f64], rate: f64, burst: f64) {
    for j in 0..starts.len() {
        for i in (0..=j).rev() {
            let w = starts[j] - starts[i];
            let allowed = burst + rate * w / 1000.0 + 1e-6;
            let count = (j - i + 1) as f64;
            assert!(count <= allowed, "{count} starts in {w} ms (allowed {allowed})");
            if burst + rate * w / 1000.0 > (j + 1) as f64 + 1.0 {
                break; // earlier windows are longer still: cannot fail
            }
        }
    }
}

fn check(trace: &Trace, config: &SenderConfig, rows: u64, expect_no_failures: bool) {
    // (1) every row exactly one outcome
    assert_eq!(trace.outcomes.len() as u64, rows);
    for (r, o) in &trace.outcomes {
        assert_eq!(o.len(), 1, "{r:?}: {o:?}");
    }
    // (2) delivery
    for i in 0..rows {
        let got = trace.accepted.get(&i).copied().unwrap_or(0);
        match &trace.outcomes[&row(i)][0] {
            RowOutcome::Sent => {
                assert!(!trace.bad[i as usize], "bad row {i} reported sent");
                assert!(got >= 1, "row {i} Sent but never delivered");
            }
            RowOutcome::ApiRejected(m) => {
                assert!(trace.bad[i as usize], "good row {i} rejected: {m}");
                assert_eq!(got, 0);
                assert!(m.contains(&format!("row {i}")), "{m}");
            }
            RowOutcome::Failed(m) => {
                assert!(!expect_no_failures, "row {i} failed: {m}");
                assert!(m.contains("after") || m.contains("credentials"), "{m}");
            }
        }
        if trace.bad[i as usize] {
            assert_eq!(got, 0);
        }
    }
    // after dedup by row, each delivered row counts once; the distinct delivered rows are exactly the Sent rows
    // plus possibly Failed ones whose answer was lost
    let delivered: Vec<u64> = trace.accepted.keys().copied().collect();
    for i in &delivered {
        assert!(!matches!(trace.outcomes[&row(*i)][0], RowOutcome::ApiRejected(_)));
    }
    // (3) rate
    check_rate(&trace.starts, config.rate_per_sec, config.burst);
    // (4) concurrency
    assert!(
        trace.max_in_flight <= config.concurrency,
        "{} in flight",
        trace.max_in_flight
    );
    assert_eq!(trace.sends_after_fatal, 0);
    assert_eq!(trace.requests as usize, trace.starts.len());
    if !trace.fatal {
        assert_eq!(trace.checkpoint, Some(row(rows - 1)));
    }
}

fn api_of(b: bool) -> Api {
    if b {
        Api::TrackV2
    } else {
        Api::Pipelines
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn faults_never_lose_or_duplicate_rows(
        seed in any::<u64>(),
        track in any::<bool>(),
        p_5xx in 0.0..0.3f64,
        p_429 in 0.0..0.05f64,
        burst_429_ms in 0.0..3000.0f64,
        p_drop_before in 0.0..0.15f64,
        p_drop_after in 0.0..0.15f64,
        p_bad_row in 0.0..0.03f64,
        rows in 1u64..400,
        per in 1usize..40,
        concurrency in 1usize..8,
        rate in 5.0..2000.0f64,
        burst in 1.0..10.0f64,
    ) {
        let config = SenderConfig {
            concurrency,
            rate_per_sec: rate,
            burst,
            seed,
            max_attempts: 40,
            retry_budget_ms: f64::INFINITY,
            // The simulated api drops connections at random from the first request on; an unreachable
            // host (all first requests unanswered) is tested in tests/sender.rs.
            unreachable_after: u32::MAX,
            ..SenderConfig::new(api_of(track))
        };
        let faults = Faults { p_5xx, p_429, burst_429_ms, p_drop_before, p_drop_after, p_bad_row,
            ..Faults::none() };
        let trace = simulate(config.clone(), faults, rows, per, seed);
        check(&trace, &config, rows, true);
        if p_drop_after == 0.0 {
            // nothing was accepted twice
            prop_assert!(trace.accepted.values().all(|&n| n == 1));
        }
    }

    #[test]
    fn default_limits_under_heavy_faults(
        seed in any::<u64>(),
        track in any::<bool>(),
        p_5xx in 0.0..0.9f64,
        p_drop_after in 0.0..0.5f64,
        rows in 1u64..300,
        per in 1usize..50,
    ) {
        // with the default attempts and budget, rows may fail, but each still ends exactly once
        let config = SenderConfig { seed, unreachable_after: u32::MAX, ..SenderConfig::new(api_of(track)) };
        let faults = Faults { p_5xx, p_drop_after, p_429: 0.01, burst_429_ms: 2000.0, p_bad_row: 0.02,
            ..Faults::none() };
        let trace = simulate(config.clone(), faults, rows, per, seed);
        check(&trace, &config, rows, false);
    }

    #[test]
    fn no_faults_no_waste(
        seed in any::<u64>(),
        track in any::<bool>(),
        rows in 1u64..500,
        per in 1usize..60,
        concurrency in 1usize..10,
        rate in 1.0..5000.0f64,
    ) {
        let config = SenderConfig { concurrency, rate_per_sec: rate, burst: concurrency as f64, seed,
            ..SenderConfig::new(api_of(track)) };
        let trace = simulate(config.clone(), Faults::none(), rows, per, seed);
        check(&trace, &config, rows, true);
        // (5)
        prop_assert_eq!(trace.requests as usize, trace.batches);
        prop_assert_eq!(trace.retries, 0);
        prop_assert!(trace.accepted.values().all(|&n| n == 1));
        prop_assert_eq!(trace.accepted.len() as u64, rows);
    }

    #[test]
    fn auth_failure_midway_stops_and_settles(
        seed in any::<u64>(),
        track in any::<bool>(),
        at in 0usize..30,
        p_5xx in 0.0..0.3f64,
        rows in 1u64..300,
        per in 1usize..20,
    ) {
        let config = SenderConfig { seed, unreachable_after: u32::MAX, ..SenderConfig::new(api_of(track)) };
        let faults = Faults { auth_fail_at: Some(at), p_5xx, ..Faults::none() };
        let trace = simulate(config.clone(), faults, rows, per, seed);
        check(&trace, &config, rows, false);
        if trace.fatal {
            prop_assert!(trace.outcomes.values().any(|o| matches!(&o[0], RowOutcome::Failed(m) if m.contains("credentials"))));
        }
    }
}

#[test]
fn simulation_is_deterministic() {
    let config = SenderConfig {
        seed: 42,
        unreachable_after: u32::MAX,
        ..SenderConfig::new(Api::TrackV2)
    };
    let faults = Faults {
        p_5xx: 0.2,
        p_429: 0.02,
        burst_429_ms: 1500.0,
        p_drop_before: 0.05,
        p_drop_after: 0.05,
        p_bad_row: 0.02,
        ..Faults::none()
    };
    let a = simulate(config.clone(), faults.clone(), 300, 17, 9);
    let b = simulate(config.clone(), faults, 300, 17, 9);
    assert_eq!(a, b);
    check(&a, &config, 300, false);
    assert!(a.retries > 0);
}

#[test]
fn rate_is_the_bottleneck_when_the_api_is_fast() {
    // 1000 one-row batches at 100/s with burst 4: ~10 s, and never faster than the limit
    let config = SenderConfig {
        concurrency: 50,
        ..SenderConfig::new(Api::TrackV2)
    };
    let faults = Faults {
        max_latency_ms: 5.0,
        ..Faults::none()
    };
    let trace = simulate(config.clone(), faults, 1000, 1, 3);
    check(&trace, &config, 1000, true);
    let span = trace.starts.last().unwrap() - trace.starts.first().unwrap();
    assert!((9_950.0..10_100.0).contains(&span), "{span}");
}
