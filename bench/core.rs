//! The native core, bytes to packed batch bodies: the file in 64 KiB chunks through the `Importer` with
//! `dry_run` (read → CSV → validate → payload → pack). Issues and rejected rows are drained after every chunk,
//! as an edge does. One run per process, so the peak RSS is this run's.
//! `cargo run --release --example bench_core -- FILE --kind events|people --api track|pipelines [--deliver]`
//!
//! `--deliver`: not a dry run; the sender's requests are answered `200 {}` at once, the oldest first whenever
//! four are out (the command line's window), so rows are held and settled as in a real import, without I/O.

#[path = "common.rs"]
mod common;

use std::io::{Read, Write};
use std::time::Instant;

use cio_backfill::mapping::Kind;
use std::collections::VecDeque;

use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};
use cio_backfill::sender::Response;

/// Answer what the importer asks for, `200 {}` at once, keeping at most `window` requests out.
fn deliver(imp: &mut Importer, out: &mut VecDeque<u64>, now: f64, window: usize, to_the_end: bool) {
    let mut now = now;
    loop {
        let mut until = None;
        match imp.poll(now) {
            Step::Send(r) => {
                out.push_back(r.id);
                if out.len() < window {
                    continue;
                }
            }
            Step::Done => return,
            Step::Wait { .. } if !to_the_end && imp.wants_input() => return,
            Step::Wait { until: t } => until = t,
        }
        let Some(id) = out.pop_front() else {
            // nothing out and nothing to send: time (the rate limit), or else only input, can move the run on
            match until {
                Some(t) => now = now.max(t),
                None if to_the_end => panic!("the run waits for nothing"),
                None => return,
            }
            continue;
        };
        let ok = Response {
            status: 200,
            retry_after: None,
            body: b"{}".to_vec(),
        };
        imp.on_response(id, now, ok);
    }
}

fn main() {
    let file = common::file_arg();
    let kind_s = common::arg("--kind").unwrap_or_else(|| "events".into());
    let api_s = common::arg("--api").unwrap_or_else(|| "track".into());
    let kind = if kind_s == "people" { Kind::People } else { Kind::Events };
    let api = if api_s == "pipelines" {
        ApiChoice::Pipelines
    } else {
        ApiChoice::Track
    };
    // A fixed clock: 2025-06-01, after every generated timestamp (no campaign-window or future warnings).
    let now = 1_748_736_000_000.0;
    let started = Instant::now();
    let cpu_started = common::cpu_secs();
    let mut opts = ImportOptions::new(api, kind, now);
    let delivering = std::env::args().any(|a| a == "--deliver");
    opts.dry_run = !delivering;
    if delivering {
        opts.rate_limit = Some(1e9);
    }
    let mut out = VecDeque::new();
    // `--dump FILE`: also write every payload item (NDJSON) and the rejected-rows CSV, to check that a change
    // to the core keeps its output byte for byte (slower: not for timing).
    let dump = common::arg("--dump");
    opts.keep_payloads = dump.is_some();
    let mut dump_out = dump.map(|d| std::io::BufWriter::new(std::fs::File::create(d).expect("create dump")));
    let mut imp = Importer::new(opts).expect("options");
    let mut f = std::fs::File::open(&file).expect("open");
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    let mut rejected_csv = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            imp.finish().expect("finish");
            break;
        }
        bytes += n as u64;
        imp.push(&buf[..n]).expect("push");
        if delivering {
            deliver(&mut imp, &mut out, now, 4, false);
        }
        drop(imp.take_issues());
        let rej = imp.take_rejected_csv();
        rejected_csv += rej.len() as u64;
        if let Some(w) = &mut dump_out {
            w.write_all(&imp.take_payloads()).expect("dump");
            w.write_all(&rej).expect("dump");
        }
    }
    if delivering {
        deliver(&mut imp, &mut out, now, 4, true);
    }
    while imp.poll(now) != Step::Done {}
    drop(imp.take_issues());
    let rej = imp.take_rejected_csv();
    rejected_csv += rej.len() as u64;
    if let Some(w) = &mut dump_out {
        w.write_all(&imp.take_payloads()).expect("dump");
        w.write_all(&rej).expect("dump");
        w.flush().expect("dump");
    }
    let s = imp.summary();
    assert_eq!(s.rows, s.valid + s.rejected, "every row accounted for");
    if delivering {
        assert_eq!((s.sent, s.pending), (s.valid, 0), "every valid row sent");
    }
    assert!(rejected_csv > 0 || s.rejected == 0);
    common::Report {
        tool: "core",
        file,
        kind: kind_s,
        api: api_s,
        bytes,
        rows: s.rows,
        valid: s.valid,
        rejected: s.rejected,
        batches: s.requests,
        body_bytes: s.body_bytes,
        largest_body: 0,
        started,
        cpu_started,
    }
    .print();
}
