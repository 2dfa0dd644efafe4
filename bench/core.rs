//! The native core, bytes to packed batch bodies: the file in 64 KiB chunks through the `Importer` with
//! `dry_run` (read → CSV → validate → payload → pack). Issues and rejected rows are drained after every chunk,
//! as an edge does. One run per process, so the peak RSS is this run's.
//! `cargo run --release --example bench_core -- FILE --kind events|people --api track|pipelines`

#[path = "common.rs"]
mod common;

use std::io::Read;
use std::time::Instant;

use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};

fn main() {
    let file = common::file_arg();
    let kind_s = common::arg("--kind").unwrap_or_else(|| "events".into());
    let api_s = common::arg("--api").unwrap_or_else(|| "track".into());
    let kind = if kind_s == "people" { Kind::People } else { Kind::Events };
    let api = if api_s == "pipelines" { ApiChoice::Pipelines } else { ApiChoice::Track };
    // A fixed clock: 2025-06-01, after every generated timestamp (no campaign-window or future warnings).
    let now = 1_748_736_000_000.0;
    let started = Instant::now();
    let cpu_started = common::cpu_secs();
    let mut opts = ImportOptions::new(api, kind, now);
    opts.dry_run = true;
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
        drop(imp.take_issues());
        rejected_csv += imp.take_rejected_csv().len() as u64;
    }
    while imp.poll(now) != Step::Done {}
    drop(imp.take_issues());
    rejected_csv += imp.take_rejected_csv().len() as u64;
    let s = imp.summary();
    assert_eq!(s.rows, s.valid + s.rejected, "every row accounted for");
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
