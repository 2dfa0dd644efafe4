//! Properties of the whole core: chunking never changes the result; packing never exceeds a limit and keeps
//! every row once, in order; every body parses back to the same items; no input makes it panic.

mod common;

use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::ApiChoice;
use cio_backfill::sender::Response;
use common::*;
use proptest::prelude::*;

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,8}",
        "[0-9]{1,6}",
        Just("x,y".to_string()),
        Just("say \"hi\"".to_string()),
        Just("two\nlines".to_string()),
        Just("Zoë €".to_string()),
        Just("=1+1".to_string()),
    ]
}

fn ts() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2020-01-01T00:00:00Z".to_string()),
        (1_000_000_000u64..1_700_000_000).prop_map(|s| s.to_string()),
        Just("12/31/2019".to_string()),
        Just("not a date".to_string()),
        Just(String::new()),
    ]
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An events file: id, event, timestamp and two properties, with some bad and ragged rows.
fn events_csv() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof![Just(String::new()), "[0-9]{1,4}"],
            prop_oneof![Just(String::new()), "[a-z_]{1,12}"],
            ts(),
            cell(),
            cell(),
            0u8..20,
        ),
        0..40,
    )
    .prop_map(|rows| {
        let mut s = String::from("user_id,event,timestamp,plan,note\n");
        for (id, ev, t, a, b, shape) in rows {
            match shape {
                0 => s.push_str(&format!("{id},{ev}\n")), // ragged
                1 => s.push('\n'),                        // blank line
                _ => s.push_str(&format!(
                    "{},{},{},{},{}\n",
                    quote(&id),
                    quote(&ev),
                    quote(&t),
                    quote(&a),
                    quote(&b)
                )),
            }
        }
        s
    })
}

fn ok(_: &[u8]) -> Response {
    Response {
        status: 200,
        retry_after: None,
        body: b"{}".to_vec(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn chunking_never_changes_the_result(csv in events_csv(), chunk in 1usize..64, pipelines in any::<bool>()) {
        let api = if pipelines { ApiChoice::Pipelines } else { ApiChoice::Track };
        let mut o = opts(api, Kind::Events);
        o.dry_run = true;
        let whole = run_with(o.clone(), csv.as_bytes(), usize::MAX, None);
        let chunked = run_with(o, csv.as_bytes(), chunk, None);
        prop_assert_eq!(&whole, &chunked);
        prop_assert!(whole.summary.adds_up());
    }

    #[test]
    fn packing_keeps_every_row_once_in_order_under_the_limit(
        csv in events_csv(), limit in 1_000usize..4_000, pipelines in any::<bool>()
    ) {
        let api = if pipelines { ApiChoice::Pipelines } else { ApiChoice::Track };
        let mut o = opts(api, Kind::Events);
        o.batch_bytes = Some(limit);
        let mut f = ok;
        let out = run_with(o, csv.as_bytes(), 17, Some(&mut f));
        let mut items = Vec::new();
        for body in &out.bodies {
            prop_assert!(body.len() <= limit, "body of {} bytes over {}", body.len(), limit);
            let v: serde_json::Value = serde_json::from_slice(body).expect("body is json");
            items.extend(v["batch"].as_array().expect("batch array").iter().cloned());
        }
        prop_assert_eq!(&items, &out.payloads);
        let s = out.summary;
        prop_assert_eq!(s.sent, s.valid);
        prop_assert_eq!(s.pending, 0);
        prop_assert!(s.adds_up());
        // The requests are close to the minimum the byte limit allows.
        let total: usize = out.bodies.iter().map(Vec::len).sum();
        prop_assert!(out.bodies.len() <= total / (limit / 2) + 1);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), chunk in 1usize..50) {
        for kind in [Kind::People, Kind::Events] {
            let mut o = opts(ApiChoice::Track, kind);
            o.dry_run = true;
            let out = run_with(o, &bytes, chunk, None);
            prop_assert!(out.summary.adds_up());
        }
    }

    #[test]
    fn people_files_with_any_cells_never_panic_and_add_up(
        rows in prop::collection::vec(prop::collection::vec(cell(), 0..5), 0..30)
    ) {
        let mut s = String::from("id,email,created_at,score\n");
        for r in rows {
            s.push_str(&r.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
            s.push('\n');
        }
        for api in [ApiChoice::Track, ApiChoice::Pipelines] {
            let out = dry(opts(api, Kind::People), &s);
            prop_assert!(out.summary.adds_up());
            prop_assert_eq!(out.payloads.len() as u64, out.summary.valid);
            let rejected_lines = out.rejected_csv.lines().count() as u64;
            prop_assert!(rejected_lines >= out.summary.rejected);
        }
    }
}
