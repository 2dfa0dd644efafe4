//! Unit tests of the send state machine, black-box over simulated time.

use std::collections::{BTreeMap, BTreeSet};

use cio_backfill::batch::{Batch, Packer, PackerConfig, RowRef};
use cio_backfill::sender::{
    backoff_ceiling, error_message, parse_http_date, parse_retry_after, Action, Api, Fatal, Request, Response,
    RowOutcome, Sender, SenderConfig,
};

fn row(i: u64) -> RowRef {
    RowRef {
        record: i + 1,
        line: i + 2,
    }
}

/// Batches of `per` items `{"i":k}` for k in `range`.
fn batches(range: std::ops::Range<u64>, per: usize) -> Vec<Batch> {
    let mut p = Packer::new(PackerConfig {
        max_items: per,
        ..PackerConfig::batch_envelope(500_000)
    });
    let mut out = Vec::new();
    for i in range {
        out.extend(p.push(format!(r#"{{"i":{i}}}"#).as_bytes(), row(i)).unwrap());
    }
    out.extend(p.flush());
    out
}

fn items(body: &[u8]) -> Vec<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["i"].as_u64().unwrap())
        .collect()
}

fn resp(status: u16, body: &str) -> Reply {
    Reply::Http(Response {
        status,
        retry_after: None,
        body: body.as_bytes().to_vec(),
    })
}

enum Reply {
    Http(Response),
    Net(&'static str),
}

/// What a run did.
#[derive(Default)]
struct Run {
    /// (start time, request) in order.
    sent: Vec<(f64, Request)>,
    /// (time, request id) of each answer.
    answered: Vec<(f64, u64)>,
    outcomes: BTreeMap<RowRef, Vec<RowOutcome>>,
    end: f64,
}

impl Run {
    fn only(&self, r: RowRef) -> &RowOutcome {
        let o = &self.outcomes[&r];
        assert_eq!(o.len(), 1, "{r:?}: {o:?}");
        &o[0]
    }
    fn settled_once(&self, n: u64) {
        assert_eq!(self.outcomes.len() as u64, n);
        for (r, o) in &self.outcomes {
            assert_eq!(o.len(), 1, "{r:?}: {o:?}");
        }
    }
}

/// Drive `s` with all `input` batches enqueued at the start; every request is answered `latency` ms after it
/// starts by `answer(request, items)`.
fn drive(s: &mut Sender, input: Vec<Batch>, latency: f64, mut answer: impl FnMut(&Request, &[u64]) -> Reply) -> Run {
    for b in input {
        s.enqueue(b);
    }
    s.close();
    let mut run = Run::default();
    let mut now = 0.0;
    let mut pending: Vec<(f64, Request)> = Vec::new();
    for _ in 0..1_000_000 {
        let mut wake = None;
        loop {
            match s.poll(now) {
                Action::Send(r) => {
                    run.sent.push((now, r.clone()));
                    pending.push((now + latency, r));
                }
                Action::WaitUntil(t) => {
                    assert!(t > now, "WaitUntil({t}) at {now}");
                    wake = Some(t);
                    break;
                }
                Action::AwaitResponses => break,
                Action::Idle => panic!("idle after close"),
                Action::Done => {
                    assert!(pending.is_empty());
                    for (r, o) in s.take_outcomes() {
                        run.outcomes.entry(r).or_default().push(o);
                    }
                    run.end = now;
                    return run;
                }
            }
        }
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        let next_answer = pending.first().map(|p| p.0);
        now = match (wake, next_answer) {
            (Some(w), Some(a)) => w.min(a),
            (Some(w), None) => w,
            (None, Some(a)) => a,
            (None, None) => panic!("stuck"),
        };
        while pending.first().is_some_and(|p| p.0 <= now) {
            let (_, r) = pending.remove(0);
            run.answered.push((now, r.id));
            match answer(&r, &items(&r.body)) {
                Reply::Http(resp) => s.on_response(r.id, now, resp),
                Reply::Net(m) => s.on_network_error(r.id, now, m),
            }
        }
        for (r, o) in s.take_outcomes() {
            run.outcomes.entry(r).or_default().push(o);
        }
    }
    panic!("did not finish");
}

fn config(api: Api) -> SenderConfig {
    SenderConfig {
        rate_per_sec: 1e6,
        ..SenderConfig::new(api)
    }
}

#[test]
fn defaults() {
    let t = SenderConfig::new(Api::TrackV2);
    assert_eq!(
        (t.concurrency, t.rate_per_sec, t.burst, t.max_attempts),
        (4, 100.0, 4.0, 8)
    );
    assert_eq!(
        (
            t.base_backoff_ms,
            t.max_backoff_ms,
            t.max_retry_after_ms,
            t.retry_budget_ms,
            t.seed
        ),
        (250.0, 30_000.0, 300_000.0, 900_000.0, 0)
    );
    assert_eq!(SenderConfig::new(Api::Pipelines).rate_per_sec, 1000.0);
}

#[test]
fn poll_states() {
    let mut s = Sender::new(SenderConfig::new(Api::TrackV2));
    assert_eq!(s.poll(0.0), Action::Idle);
    for b in batches(0..60, 10) {
        s.enqueue(b);
    }
    assert_eq!(s.queued(), 6);
    // burst 4 = concurrency 4
    let mut ids = Vec::new();
    for _ in 0..4 {
        match s.poll(0.0) {
            Action::Send(r) => ids.push(r.id),
            a => panic!("{a:?}"),
        }
    }
    assert_eq!(s.poll(0.0), Action::AwaitResponses, "window full");
    s.on_response(
        ids[0],
        1.0,
        Response {
            status: 200,
            ..Default::default()
        },
    );
    // bucket empty: 100/s gives one token 10 ms after the last refill at 0
    match s.poll(1.0) {
        Action::WaitUntil(t) => assert!((t - 10.0).abs() < 1e-9, "{t}"),
        a => panic!("{a:?}"),
    }
    assert!(matches!(s.poll(10.0), Action::Send(_)));
    assert_eq!(s.stats().in_flight, 4);
    assert_eq!(s.stats().queued, 1);
    assert_eq!(s.take_outcomes().len(), 10);
    s.on_response(
        999,
        11.0,
        Response {
            status: 200,
            ..Default::default()
        },
    ); // unknown: ignored
    s.on_network_error(ids[0], 11.0, "again"); // settled already: ignored
    assert!(s.take_outcomes().is_empty());
}

#[test]
fn backoff_ceiling_table() {
    let c = SenderConfig::new(Api::TrackV2);
    let cases = [
        (1, 250.0),
        (2, 500.0),
        (3, 1000.0),
        (7, 16_000.0),
        (8, 30_000.0),
        (40, 30_000.0),
        (u32::MAX, 30_000.0),
    ];
    for (attempt, want) in cases {
        assert_eq!(backoff_ceiling(&c, attempt), want, "attempt {attempt}");
    }
}

#[test]
fn backoff_waits_stay_within_full_jitter_bounds() {
    let mut all = Vec::new();
    for seed in 0..30 {
        let cfg = SenderConfig {
            seed,
            retry_budget_ms: f64::INFINITY,
            ..config(Api::TrackV2)
        };
        let c2 = cfg.clone();
        let mut s = Sender::new(cfg);
        let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| resp(503, "busy"));
        assert_eq!(run.sent.len(), 8);
        assert_eq!(
            run.only(row(0)),
            &RowOutcome::Failed("http 503: busy, after 8 attempts".into())
        );
        for n in 1..8 {
            let failed_at = run.answered[n - 1].0;
            let next = run.sent[n].0;
            assert_eq!(run.sent[n].1.attempt as usize, n + 1);
            let wait = next - failed_at;
            let ceiling = backoff_ceiling(&c2, n as u32);
            assert!(
                (0.0..=ceiling).contains(&wait),
                "seed {seed} attempt {n}: {wait} > {ceiling}"
            );
            all.push(wait / ceiling);
        }
    }
    // full jitter: spread over the whole range
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    assert!((0.35..0.65).contains(&mean), "mean {mean}");
    assert!(all.iter().any(|&x| x < 0.1) && all.iter().any(|&x| x > 0.9));
}

#[test]
fn jitter_is_deterministic_per_seed() {
    let times = |seed| {
        let mut s = Sender::new(SenderConfig {
            seed,
            ..config(Api::TrackV2)
        });
        let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| resp(500, ""));
        run.sent.iter().map(|x| x.0).collect::<Vec<_>>()
    };
    assert_eq!(times(7), times(7));
    assert_ne!(times(7), times(8));
}

#[test]
fn retry_after_parsing() {
    // Sun, 06 Nov 1994 08:49:37 GMT
    let t0 = 784_111_777_000.0;
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t0));
    assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
    assert_eq!(
        parse_http_date("Tue, 29 Feb 2000 23:59:60 GMT"),
        Some(951_868_800_000.0)
    );
    let cases: &[(&str, Option<f64>)] = &[
        ("120", Some(120_000.0)),
        (" 3 ", Some(3_000.0)),
        ("0", Some(0.0)),
        ("1.5", Some(1_500.0)),
        ("Sun, 06 Nov 1994 08:49:47 GMT", Some(10_000.0)),
        ("sun, 06 nov 1994 08:50:37 gmt", Some(60_000.0)),
        ("Sun, 06 Nov 1994 08:49:00 GMT", Some(0.0)), // in the past
        ("Sunday, 06-Nov-94 08:49:38 GMT", Some(1_000.0)),
        ("Sun Nov  6 08:49:39 1994", Some(2_000.0)),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("-5", None),
        ("1e3", None),
        ("1.2.3", None),
        (".", None),
        ("Sun, 31 Feb 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 1994 25:00:00 GMT", None),
        ("Sun, 06 Nov 1994 08:49:37 PST", None),
        ("Sun, 06 Foo 1994 08:49:37 GMT", None),
        ("Sun, 06 Nov 1994 08:49 GMT", None),
        ("Sun, 06 Nov 1994", None),
        ("Sun, 06 Nov 94 08:49:37 GMT x", None),
        ("1000000000000000000000", Some(1e24)),
    ];
    for &(v, want) in cases {
        let got = parse_retry_after(v, t0);
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() <= w.abs() * 1e-12, "{v:?}: {g} vs {w}"),
            _ => assert_eq!(got, want, "{v:?}"),
        }
    }
    assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", f64::NAN), None);
}

fn with_retry_after(status: u16, ra: &str) -> Reply {
    Reply::Http(Response {
        status,
        retry_after: Some(ra.into()),
        body: Vec::new(),
    })
}

#[test]
fn retry_after_is_honoured_and_capped() {
    // 503 with Retry-After: 2 → the retry waits at least 2 s
    let mut s = Sender::new(config(Api::TrackV2));
    let mut first = true;
    let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| {
        if std::mem::take(&mut first) {
            with_retry_after(503, "2")
        } else {
            resp(200, "")
        }
    });
    assert!(run.sent[1].0 - run.answered[0].0 >= 2000.0);
    assert_eq!(run.only(row(0)), &RowOutcome::Sent);

    // a huge Retry-After is capped at max_retry_after
    let mut s = Sender::new(SenderConfig {
        max_retry_after_ms: 10_000.0,
        ..config(Api::TrackV2)
    });
    let mut first = true;
    let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| {
        if std::mem::take(&mut first) {
            with_retry_after(503, "86400")
        } else {
            resp(200, "")
        }
    });
    let wait = run.sent[1].0 - run.answered[0].0;
    assert!((10_000.0..=10_000.0 + 250.0).contains(&wait), "{wait}");
}

#[test]
fn a_429_pauses_all_sending() {
    let mut s = Sender::new(SenderConfig {
        concurrency: 1,
        ..config(Api::Pipelines)
    });
    let mut first = true;
    let run = drive(&mut s, batches(0..30, 10), 5.0, |_, _| {
        if std::mem::take(&mut first) {
            with_retry_after(429, "3")
        } else {
            resp(200, "{}")
        }
    });
    // after the 429 at 5 ms, nothing starts before 3005 ms
    assert!(run.sent.iter().skip(1).all(|(t, _)| *t >= 3005.0));
    // and the retried batch goes first (checkpoint order)
    assert_eq!(items(&run.sent[1].1.body)[0], 0);
    assert_eq!(run.sent[1].1.attempt, 2);
    run.settled_once(30);
    assert_eq!(s.checkpoint(), Some(row(29)));
}

#[test]
fn error_message_shapes() {
    let long = "x".repeat(1000);
    let long_body = format!(r#"{{"meta":{{"error":"{long}"}}}}"#);
    let cases: &[(&str, &str)] = &[
        (r#"{"meta":{"error":"invalid write key"}}"#, "invalid write key"),
        (r#"{"meta":{"errors":["a is bad","b is Bad"]}}"#, "a is bad; b is Bad"),
        (r#"{"errors":[{"message":"Identifier Missing"}]}"#, "Identifier Missing"),
        (r#"{"errors":["one","two"]}"#, "one; two"),
        (r#"{"code":400,"message":"bad  request\n body"}"#, "bad request body"),
        (r#"{"error":"nope"}"#, "nope"),
        (r#"{"error":{"message":"deep"}}"#, "deep"),
        (
            r#"{"errors":[{"reason":"invalid","field":"identifiers","message":"exactly one"}]}"#,
            "invalid: exactly one (field: identifiers)",
        ),
        (r#"{"detail":"Not Found"}"#, "Not Found"),
        ("  plain text error \r\n", "plain text error"),
        (
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "502 Bad Gateway",
        ),
        ("<p>oops</p>", "oops"),
        ("", ""),
        ("{}", ""),
        ("null", ""),
        (r#"{"foo":1}"#, r#"{"foo":1}"#),
        ("[1,2]", "[1,2]"),
        ("\"just a string\"", "just a string"),
    ];
    for &(body, want) in cases {
        assert_eq!(error_message(body.as_bytes()), want, "{body}");
    }
    let capped = error_message(long_body.as_bytes());
    assert_eq!(capped.chars().count(), 301);
    assert!(capped.ends_with('…'));
    // invalid UTF-8 and multibyte at the cap never panic
    assert_eq!(error_message(b"\xff\xfe bad"), "\u{fffd}\u{fffd} bad");
    assert_eq!(error_message("é".repeat(400).as_bytes()).chars().count(), 301);
}

#[test]
fn maps_207_to_rows() {
    let body = r#"{"errors":[
        {"batch_index":2,"reason":"invalid","field":"identifiers","message":"must have exactly one"},
        {"batch_index":7,"message":"name too long"},
        {"batch_index":7,"reason":"also"},
        {"batch_index":99,"message":"out of range"},
        {"batch_index":-1,"message":"negative"}]}"#;
    let mut s = Sender::new(config(Api::TrackV2));
    let run = drive(&mut s, batches(0..10, 10), 5.0, |_, _| resp(207, body));
    assert_eq!(run.sent.len(), 1);
    run.settled_once(10);
    for i in 0..10 {
        let want = match i {
            2 => RowOutcome::ApiRejected("invalid: must have exactly one (field: identifiers)".into()),
            7 => RowOutcome::ApiRejected("name too long; also".into()),
            _ => RowOutcome::Sent,
        };
        assert_eq!(run.only(row(i)), &want, "row {i}");
    }
}

#[test]
fn unreadable_207_retries_the_whole_batch() {
    for body in [
        "oops",
        r#"{"errors":"x"}"#,
        r#"{"errors":[{"message":"no index"}]}"#,
        r#"{"ok":1}"#,
    ] {
        let mut s = Sender::new(config(Api::TrackV2));
        let mut n = 0;
        let run = drive(&mut s, batches(0..5, 5), 5.0, |_, _| {
            n += 1;
            if n == 1 {
                resp(207, body)
            } else {
                resp(200, "")
            }
        });
        assert_eq!(run.sent.len(), 2, "{body}");
        run.settled_once(5);
        assert!(run.outcomes.values().all(|o| o[0] == RowOutcome::Sent));
    }
    // an empty error list means all accepted
    let mut s = Sender::new(config(Api::TrackV2));
    let run = drive(&mut s, batches(0..5, 5), 5.0, |_, _| resp(207, r#"{"errors":[]}"#));
    assert_eq!(run.sent.len(), 1);
    assert!(run.outcomes.values().all(|o| o == &[RowOutcome::Sent]));
}

/// A server that refuses a whole batch with `status` when any item is bad.
fn bisect_case(api: Api, status: u16, bad: &BTreeSet<u64>) {
    let mut s = Sender::new(config(api));
    let mut accepted: BTreeMap<u64, u32> = BTreeMap::new();
    let run = drive(&mut s, batches(0..100, 100), 5.0, |_, its| {
        let b: Vec<u64> = its.iter().copied().filter(|i| bad.contains(i)).collect();
        if b.is_empty() {
            for &i in its {
                *accepted.entry(i).or_default() += 1;
            }
            resp(200, "{}")
        } else {
            let msgs: Vec<String> = b.iter().map(|i| format!(r#""item {i} is bad""#)).collect();
            resp(status, &format!(r#"{{"meta":{{"errors":[{}]}}}}"#, msgs.join(",")))
        }
    });
    run.settled_once(100);
    for i in 0..100 {
        if bad.contains(&i) {
            assert_eq!(run.only(row(i)), &RowOutcome::ApiRejected(format!("item {i} is bad")));
            assert!(!accepted.contains_key(&i));
        } else {
            assert_eq!(run.only(row(i)), &RowOutcome::Sent, "row {i}");
            assert_eq!(accepted.get(&i), Some(&1), "row {i} delivered once");
        }
    }
    let k = bad.len().max(1) as f64;
    let bound = 1.0 + 2.0 * k * ((100.0 / k).log2().ceil() + 1.0);
    assert!(
        (run.sent.len() as f64) <= bound,
        "{} requests for {k} bad",
        run.sent.len()
    );
    assert_eq!(s.stats().bisections as usize, (run.sent.len() - 1) / 2);
    assert_eq!(s.stats().retries, 0);
    assert_eq!(s.checkpoint(), Some(row(99)));
}

#[test]
fn bisection_isolates_bad_rows() {
    let sets: Vec<Vec<u64>> = vec![
        vec![],
        vec![37],
        vec![0],
        vec![99],
        vec![10, 11],
        vec![3, 77],
        vec![0, 13, 50, 51, 52, 88, 99],
        (0..100).step_by(9).collect(),
    ];
    for set in sets {
        let bad: BTreeSet<u64> = set.into_iter().collect();
        bisect_case(Api::Pipelines, 400, &bad);
        bisect_case(Api::TrackV2, 400, &bad);
        bisect_case(Api::Pipelines, 413, &bad);
        bisect_case(Api::TrackV2, 422, &bad);
    }
}

#[test]
fn auth_stops_everything() {
    let mut s = Sender::new(SenderConfig::new(Api::TrackV2));
    for b in batches(0..100, 10) {
        s.enqueue(b);
    }
    let mut sent = Vec::new();
    while let Action::Send(r) = s.poll(0.0) {
        sent.push(r);
    }
    assert_eq!(sent.len(), 4);
    // the second request is refused; the others are answered later
    s.on_response(
        sent[1].id,
        5.0,
        Response {
            status: 401,
            retry_after: None,
            body: br#"{"meta":{"error":"Unauthorized"}}"#.to_vec(),
        },
    );
    assert_eq!(
        s.fatal(),
        Some(&Fatal::Auth {
            status: 401,
            message: "Unauthorized".into()
        })
    );
    assert_eq!(s.queued(), 0);
    assert_eq!(s.poll(100.0), Action::AwaitResponses);
    for b in batches(100..120, 10) {
        s.enqueue(b); // after the fatal error
    }
    assert_eq!(s.poll(100.0), Action::AwaitResponses);
    s.on_response(
        sent[0].id,
        6.0,
        Response {
            status: 200,
            ..Default::default()
        },
    );
    s.on_response(
        sent[2].id,
        6.0,
        Response {
            status: 503,
            ..Default::default()
        },
    );
    assert_eq!(s.poll(200.0), Action::AwaitResponses);
    s.on_network_error(sent[3].id, 7.0, "reset");
    assert_eq!(s.poll(300.0), Action::Done);
    assert_eq!(s.stats().requests, 4, "nothing sent after the 401");
    let mut out: BTreeMap<RowRef, Vec<RowOutcome>> = BTreeMap::new();
    for (r, o) in s.take_outcomes() {
        out.entry(r).or_default().push(o);
    }
    assert_eq!(out.len(), 120);
    for i in 0..120u64 {
        let o = &out[&row(i)];
        assert_eq!(o.len(), 1);
        let want = match i {
            0..=9 => RowOutcome::Sent,
            20..=29 => RowOutcome::Failed("http 503; not retried: the api refused the credentials (401)".into()),
            30..=39 => {
                RowOutcome::Failed("network error: reset; not retried: the api refused the credentials (401)".into())
            }
            _ => RowOutcome::Failed("not sent: the api refused the credentials (401)".into()),
        };
        assert_eq!(o[0], want, "row {i}");
    }
    assert_eq!(
        s.checkpoint(),
        Some(row(9)),
        "the checkpoint stops before the refused rows"
    );
}

#[test]
fn budget_and_attempts_exhaustion_fail_rows() {
    let mut s = Sender::new(SenderConfig {
        retry_budget_ms: 2_000.0,
        max_attempts: 100,
        ..config(Api::TrackV2)
    });
    let run = drive(&mut s, batches(0..3, 3), 5.0, |_, _| resp(503, r#"{"message":"busy"}"#));
    run.settled_once(3);
    let n = run.sent.len();
    assert!((3..100).contains(&n), "{n}");
    assert!(run.end <= 2_000.0 + 5.0);
    for i in 0..3 {
        assert_eq!(
            run.only(row(i)),
            &RowOutcome::Failed(format!("http 503: busy, after {n} attempts"))
        );
    }

    // (Two attempts: a third network error with no answer ever would make the api unreachable instead.)
    let mut s = Sender::new(SenderConfig {
        max_attempts: 2,
        ..config(Api::TrackV2)
    });
    let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| Reply::Net("connection reset"));
    assert_eq!(run.sent.len(), 2);
    assert_eq!(s.stats().retries, 1);
    assert_eq!(
        run.only(row(0)),
        &RowOutcome::Failed("network error: connection reset, after 2 attempts".into())
    );

    // a Retry-After beyond the budget fails at once
    let mut s = Sender::new(SenderConfig {
        retry_budget_ms: 60_000.0,
        ..config(Api::TrackV2)
    });
    let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| with_retry_after(429, "120"));
    assert_eq!(run.sent.len(), 1);
    assert_eq!(
        run.only(row(0)),
        &RowOutcome::Failed("http 429, after 1 attempt".into())
    );
}

#[test]
fn other_statuses() {
    let cases: &[(u16, &str, usize, RowOutcome)] = &[
        (404, "Not Found", 1, RowOutcome::Failed("http 404: Not Found".into())),
        (405, "", 1, RowOutcome::Failed("http 405".into())),
        (302, "", 1, RowOutcome::Failed("http 302".into())),
        (200, "", 1, RowOutcome::Sent),
        (202, "", 1, RowOutcome::Sent),
        (204, "", 1, RowOutcome::Sent),
        (
            400,
            "",
            1,
            RowOutcome::ApiRejected("rejected by the api (http 400)".into()),
        ),
        (408, "", 8, RowOutcome::Failed("http 408, after 8 attempts".into())),
        (502, "", 8, RowOutcome::Failed("http 502, after 8 attempts".into())),
        (0, "", 8, RowOutcome::Failed("http 0, after 8 attempts".into())),
        (999, "", 8, RowOutcome::Failed("http 999, after 8 attempts".into())),
    ];
    for (status, body, requests, want) in cases {
        let mut s = Sender::new(SenderConfig {
            retry_budget_ms: f64::INFINITY,
            ..config(Api::Pipelines)
        });
        let run = drive(&mut s, batches(0..1, 1), 5.0, |_, _| resp(*status, body));
        assert_eq!(run.sent.len(), *requests, "{status}");
        assert_eq!(run.only(row(0)), want, "{status}");
    }
}

#[test]
fn network_errors_are_retried() {
    let mut s = Sender::new(config(Api::Pipelines));
    let mut n = 0;
    let run = drive(&mut s, batches(0..20, 5), 5.0, |_, _| {
        n += 1;
        if n % 2 == 1 {
            Reply::Net("")
        } else {
            resp(200, "{}")
        }
    });
    run.settled_once(20);
    assert!(run.outcomes.values().all(|o| o[0] == RowOutcome::Sent));
    assert_eq!(s.stats().retries, s.stats().requests - 4);
}

#[test]
fn sanitizes_nonsense_config_and_time() {
    let mut s = Sender::new(SenderConfig {
        concurrency: 0,
        rate_per_sec: f64::NAN,
        burst: -3.0,
        max_attempts: 0,
        base_backoff_ms: f64::NAN,
        max_backoff_ms: -1.0,
        max_retry_after_ms: f64::NAN,
        retry_budget_ms: -5.0,
        ..SenderConfig::new(Api::TrackV2)
    });
    let c = s.config().clone();
    assert_eq!(
        (c.concurrency, c.rate_per_sec, c.burst, c.max_attempts),
        (1, 100.0, 1.0, 1)
    );
    for b in batches(0..3, 1) {
        s.enqueue(b);
    }
    let Action::Send(r) = s.poll(f64::NAN) else { panic!() };
    assert_eq!(s.poll(f64::NEG_INFINITY), Action::AwaitResponses);
    s.on_response(
        r.id,
        f64::INFINITY,
        Response {
            status: 500,
            ..Default::default()
        },
    );
    // time never goes backwards; a token comes 10 ms after the first poll
    match s.poll(-100.0) {
        Action::WaitUntil(t) => assert!(t > 0.0),
        a => panic!("{a:?}"),
    }
    // unlimited rate
    let mut s = Sender::new(SenderConfig {
        rate_per_sec: f64::INFINITY,
        concurrency: 1000,
        ..SenderConfig::new(Api::Pipelines)
    });
    for b in batches(0..500, 1) {
        s.enqueue(b);
    }
    let mut n = 0;
    while let Action::Send(_) = s.poll(0.0) {
        n += 1;
    }
    assert_eq!(n, 500);
}

mod arbitrary_inputs {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Poll(f64),
        Respond {
            pick: usize,
            status: u16,
            retry_after: Option<String>,
            body: Vec<u8>,
            now: f64,
        },
        NetError {
            pick: usize,
            now: f64,
        },
        Unknown(u64),
        Enqueue(usize),
        Close,
    }

    fn time() -> impl Strategy<Value = f64> {
        prop_oneof![
            0.0..1e6f64,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-1.0),
            Just(1e300)
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            Just(
                br#"{"errors":[{"batch_index":0},{"batch_index":1e20},{"batch_index":"3"},{"batch_index":-4}]}"#
                    .to_vec()
            ),
            Just(br#"{"errors":[{"batch_index":1.5}]}"#.to_vec()),
            Just(br#"{"meta":{"errors":[[[[[[[[[[[["deep"]]]]]]]]]]]]}}"#.to_vec()),
            "[a-z{}\\[\\]\":,0-9 ]{0,30}".prop_map(String::into_bytes),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => time().prop_map(Op::Poll),
            4 => (any::<usize>(), prop_oneof![Just(200u16), Just(207), Just(400), Just(401), Just(413), Just(429),
                    Just(503), Just(404), any::<u16>()],
                  proptest::option::of("[0-9A-Za-z ,:.-]{0,32}"), body(), time())
                .prop_map(|(pick, status, retry_after, body, now)| Op::Respond { pick, status, retry_after, body, now }),
            2 => (any::<usize>(), time()).prop_map(|(pick, now)| Op::NetError { pick, now }),
            1 => any::<u64>().prop_map(Op::Unknown),
            2 => (1usize..12).prop_map(Op::Enqueue),
            1 => Just(Op::Close),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the inputs, nothing panics, and once every request is answered 200, every enqueued row
        /// has exactly one outcome.
        #[test]
        fn never_panics_and_settles_every_row(
            ops in proptest::collection::vec(op(), 0..120),
            concurrency in 0usize..6,
            max_attempts in 0u32..5,
            rate in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), 0.1..1e4f64, Just(-1.0)],
            burst in prop_oneof![Just(f64::NAN), Just(0.0), 1.0..8.0f64, Just(f64::INFINITY)],
        ) {
            let mut s = Sender::new(SenderConfig {
                concurrency, max_attempts, rate_per_sec: rate, burst,
                base_backoff_ms: 10.0, max_backoff_ms: 100.0, max_retry_after_ms: 1000.0,
                ..SenderConfig::new(Api::TrackV2)
            });
            let mut next = 0u64;
            let mut in_flight: Vec<u64> = Vec::new();
            let mut out: BTreeMap<RowRef, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Poll(t) => if let Action::Send(r) = s.poll(t) { in_flight.push(r.id) },
                    Op::Respond { pick, status, retry_after, body, now } => if !in_flight.is_empty() {
                        let id = in_flight.remove(pick % in_flight.len());
                        s.on_response(id, now, Response { status, retry_after, body });
                    },
                    Op::NetError { pick, now } => if !in_flight.is_empty() {
                        let id = in_flight.remove(pick % in_flight.len());
                        s.on_network_error(id, now, "x");
                    },
                    Op::Unknown(id) => s.on_response(id, 0.0, Response::default()),
                    Op::Enqueue(n) => {
                        for b in batches(next..next + n as u64, 4) { s.enqueue(b); }
                        next += n as u64;
                    }
                    Op::Close => s.close(),
                }
                for (r, _) in s.take_outcomes() { *out.entry(r).or_default() += 1; }
            }
            // drain: answer everything 200 at increasing times
            s.close();
            let mut now = 2e300;
            for _ in 0..100_000 {
                match s.poll(now) {
                    Action::Send(r) => in_flight.push(r.id),
                    Action::WaitUntil(t) => { prop_assert!(t > now || !now.is_finite()); now = t; }
                    Action::AwaitResponses => {
                        prop_assert!(!in_flight.is_empty());
                        for id in in_flight.drain(..) {
                            s.on_response(id, now, Response { status: 200, ..Default::default() });
                        }
                    }
                    Action::Idle => prop_assert!(false, "idle after close"),
                    Action::Done => break,
                }
            }
            prop_assert_eq!(s.poll(now), Action::Done);
            for (r, _) in s.take_outcomes() { *out.entry(r).or_default() += 1; }
            prop_assert_eq!(out.len() as u64, next);
            prop_assert!(out.values().all(|&n| n == 1));
            let st = s.stats();
            prop_assert_eq!((st.in_flight, st.queued), (0, 0));
        }
    }
}

#[test]
fn an_api_that_never_answers_is_unreachable_after_three_network_errors() {
    use cio_backfill::batch::{Packer, PackerConfig, RowRef};
    use cio_backfill::sender::{Action, Api, Fatal, RowOutcome, Sender, SenderConfig, UNREACHABLE_AFTER};
    let mut s = Sender::new(SenderConfig::new(Api::Pipelines));
    let mut p = Packer::new(PackerConfig::batch_envelope(100));
    let mut batches = 0;
    for i in 0..40u64 {
        if let Some(b) = p
            .push(
                br#"{"a":1}"#,
                RowRef {
                    record: i + 1,
                    line: i + 2,
                },
            )
            .unwrap()
        {
            s.enqueue(b);
            batches += 1;
        }
    }
    s.enqueue(p.flush().unwrap());
    s.close();
    assert!(batches >= 3);
    let mut now = 0.0;
    let mut errors = 0;
    loop {
        match s.poll(now) {
            Action::Send(r) => {
                errors += 1;
                s.on_network_error(r.id, now, "Failed to fetch");
            }
            Action::WaitUntil(t) => now = t,
            Action::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(errors, UNREACHABLE_AFTER);
    assert!(matches!(s.fatal(), Some(Fatal::Unreachable { message }) if message.contains("Failed to fetch")));
    let outcomes = s.take_outcomes();
    assert_eq!(outcomes.len(), 40);
    assert!(outcomes
        .iter()
        .all(|(_, o)| matches!(o, RowOutcome::Failed(m) if m.starts_with("not sent: cannot reach the api"))));
}

#[test]
fn network_errors_after_an_answer_are_retried_not_fatal() {
    use cio_backfill::batch::{Packer, PackerConfig, RowRef};
    use cio_backfill::sender::{Action, Api, Response, RowOutcome, Sender, SenderConfig};
    let mut s = Sender::new(SenderConfig::new(Api::TrackV2));
    let mut p = Packer::new(PackerConfig::batch_envelope(1000));
    p.push(b"{}", RowRef { record: 1, line: 2 }).unwrap();
    s.enqueue(p.flush().unwrap());
    p.push(b"{}", RowRef { record: 2, line: 3 }).unwrap();
    s.enqueue(p.flush().unwrap());
    s.close();
    let mut now = 0.0;
    let mut n = 0;
    loop {
        match s.poll(now) {
            Action::Send(r) => {
                n += 1;
                if n == 1 {
                    s.on_response(
                        r.id,
                        now,
                        Response {
                            status: 200,
                            retry_after: None,
                            body: b"{}".to_vec(),
                        },
                    );
                } else if n < 6 {
                    s.on_network_error(r.id, now, "connection reset");
                } else {
                    s.on_response(
                        r.id,
                        now,
                        Response {
                            status: 200,
                            retry_after: None,
                            body: b"{}".to_vec(),
                        },
                    );
                }
            }
            Action::WaitUntil(t) => now = t,
            Action::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(s.fatal().is_none());
    assert!(s.take_outcomes().iter().all(|(_, o)| *o == RowOutcome::Sent));
}
