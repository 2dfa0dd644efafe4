//! Arbitrary bytes through the whole core (CSV reader → mapping → validation → payloads → batches → sender
//! answering 200/207/400/500), in arbitrary chunks: it must never panic, every body must stay under the limit and
//! parse as JSON, and the summary must add up.
#![no_main]

use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};
use cio_backfill::sender::Response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (ctl, input) = data.split_at(3);
    let kind = if ctl[0] & 1 == 0 { Kind::People } else { Kind::Events };
    let api = if ctl[0] & 2 == 0 { ApiChoice::Track } else { ApiChoice::Pipelines };
    let chunk = usize::from(ctl[1]).max(1);
    let mut o = ImportOptions::new(api, kind, 1_796_083_200_000.0);
    o.batch_bytes = Some(1_000 + usize::from(ctl[2]) * 100);
    o.dry_run = ctl[0] & 4 != 0;
    let limit = o.batch_bytes.unwrap();
    let Ok(mut imp) = Importer::new(o) else { return };
    let mut pos = 0;
    let mut now = 1_796_083_200_000.0;
    let mut pending = Vec::new();
    let mut n = 0u64;
    for _ in 0..1_000_000 {
        match imp.poll(now) {
            Step::Send(req) => {
                assert!(req.body.len() <= limit);
                let v: serde_json::Value = serde_json::from_slice(&req.body).expect("json body");
                let items = v["batch"].as_array().map_or(0, Vec::len);
                n += 1;
                let status = [200u16, 200, 207, 400, 500, 429][(n as usize + items) % 6];
                let body = if status == 207 { br#"{"errors":[{"batch_index":0,"reason":"invalid"}]}"#.to_vec() } else { b"{}".to_vec() };
                pending.push((req.id, Response { status, retry_after: Some("0".into()), body }));
            }
            Step::Done => break,
            Step::Wait { until } => {
                if let Some((id, r)) = pending.pop() {
                    imp.on_response(id, now, r);
                } else if imp.wants_input() {
                    let end = (pos + chunk).min(input.len());
                    let r = if pos >= input.len() { imp.finish() } else { imp.push(&input[pos..end]) };
                    pos = end;
                    if r.is_err() {
                        break;
                    }
                } else if let Some(t) = until {
                    now = now.max(t) + 1.0;
                } else {
                    break;
                }
            }
        }
        let _ = imp.take_issues();
        let _ = imp.take_rejected_csv();
    }
    assert!(imp.summary().adds_up(), "{:?}", imp.summary());
});
