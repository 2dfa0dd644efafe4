//! Drivers shared by the integration tests: run the importer over bytes, dry or against a scripted fake API.
#![allow(dead_code)]

use cio_backfill::issue::Issue;
use cio_backfill::ledger::Summary;
use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};
use cio_backfill::sender::Response;

/// 2026-12-01T00:00:00Z, the tests' clock.
pub const NOW: f64 = 1_796_083_200_000.0;

/// Everything an import produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub summary: Summary,
    pub issues: Vec<Issue>,
    pub rejected_csv: String,
    pub payloads: Vec<serde_json::Value>,
    pub bodies: Vec<Vec<u8>>,
    pub error: Option<String>,
    /// The error's finer reason, if it has one.
    pub reason: Option<&'static str>,
}

pub fn opts(api: ApiChoice, kind: Kind) -> ImportOptions {
    let mut o = ImportOptions::new(api, kind, NOW);
    o.keep_payloads = true;
    o
}

fn drain(imp: &mut Importer, out: &mut Outcome, ndjson: &mut Vec<u8>) {
    out.issues.extend(imp.take_issues());
    out.rejected_csv
        .push_str(&String::from_utf8(imp.take_rejected_csv()).unwrap());
    ndjson.extend(imp.take_payloads());
}

/// Answers a request body.
pub type FakeApi<'a> = &'a mut dyn FnMut(&[u8]) -> Response;

/// Run `input` through the importer in chunks of `chunk` bytes. `api` answers each request body
/// (None: the dry run). Time advances to whatever the importer waits for.
pub fn run_with(o: ImportOptions, input: &[u8], chunk: usize, mut api: Option<FakeApi>) -> Outcome {
    let mut imp = Importer::new(o).expect("options");
    let mut out = Outcome {
        summary: Summary::default(),
        issues: vec![],
        rejected_csv: String::new(),
        payloads: vec![],
        bodies: vec![],
        error: None,
        reason: None,
    };
    let mut ndjson = Vec::new();
    let mut now = NOW;
    let mut pos = 0;
    let mut pending: Vec<(u64, Response)> = Vec::new();
    for _ in 0..10_000_000 {
        match imp.poll(now) {
            Step::Send(req) => {
                out.bodies.push(req.body.to_vec());
                let resp = match api.as_mut() {
                    Some(f) => f(&req.body),
                    None => panic!("a dry run sent a request"),
                };
                pending.push((req.id, resp));
            }
            Step::Done => break,
            Step::Wait { until } => {
                if let Some((id, r)) = pending.pop() {
                    imp.on_response(id, now, r);
                } else if imp.wants_input() {
                    if pos >= input.len() {
                        if let Err(e) = imp.finish() {
                            out.error = Some(format!("{}: {}", e.code(), e.message()));
                        }
                    } else {
                        let end = (pos + chunk.max(1)).min(input.len());
                        if let Err(e) = imp.push(&input[pos..end]) {
                            out.error = Some(format!("{}: {}", e.code(), e.message()));
                        }
                        pos = end;
                    }
                } else if let Some(t) = until {
                    now = now.max(t);
                } else if imp.error().is_some() {
                    out.error.get_or_insert_with(|| imp.error().unwrap().to_string());
                    break;
                } else {
                    panic!("stalled: nothing to do");
                }
            }
        }
        drain(&mut imp, &mut out, &mut ndjson);
    }
    drain(&mut imp, &mut out, &mut ndjson);
    out.summary = imp.summary();
    if out.error.is_none() {
        out.error = imp.error().map(|e| format!("{}: {}", e.code(), e.message()));
    }
    out.reason = imp.error().and_then(|e| e.reason());
    out.payloads = ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("payload is json"))
        .collect();
    out
}

/// A dry run in one chunk.
pub fn dry(o: ImportOptions, input: &str) -> Outcome {
    let mut o = o;
    o.dry_run = true;
    run_with(o, input.as_bytes(), usize::MAX, None)
}

/// The codes of the issues at `line`.
pub fn codes_at(out: &Outcome, line: u64) -> Vec<&'static str> {
    out.issues
        .iter()
        .filter(|i| i.line == line)
        .map(|i| i.code.as_str())
        .collect()
}
