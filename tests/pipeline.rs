//! The whole core, bytes to payloads, on small files: every validation rule, every timestamp format, both APIs.

mod common;

use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::ApiChoice::{self, Pipelines, Track};
use cio_backfill::sender::Response;
use common::*;
use serde_json::json;

fn events(csv: &str, api: ApiChoice) -> Outcome {
    dry(opts(api, Kind::Events), csv)
}

fn people(csv: &str, api: ApiChoice) -> Outcome {
    dry(opts(api, Kind::People), csv)
}

#[test]
fn every_validation_rule_is_a_row_issue() {
    let long = "x".repeat(151);
    let long_name = "n".repeat(101);
    let big_value = "v".repeat(999);
    // (kind, csv, line, expected codes at that line)
    let cases: Vec<(Kind, String, u64, Vec<&str>)> = vec![
        (Kind::People, "id,plan\n,pro\n".into(), 2, vec!["id_missing"]),
        (Kind::People, format!("id,plan\n{long},pro\n"), 2, vec!["id_too_long"]),
        (
            Kind::People,
            "email,plan\nnot-an-email,pro\n".into(),
            2,
            vec!["email_invalid"],
        ),
        (
            Kind::People,
            format!("id,note\n1,{big_value}\n"),
            2,
            vec!["attribute_value_too_long"],
        ),
        (
            Kind::People,
            format!("id,{long}\n1,a\n"),
            2,
            vec!["attribute_name_too_long"],
        ),
        (Kind::People, "id,plan\n1,pro,extra\n".into(), 2, vec!["field_count"]),
        (
            Kind::Events,
            "id,event,timestamp\n1,,2020-01-01T00:00:00Z\n".into(),
            2,
            vec!["event_name_missing"],
        ),
        (
            Kind::Events,
            format!("id,event,timestamp\n1,{long_name},2020-01-01T00:00:00Z\n"),
            2,
            vec!["event_name_too_long"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n1,a,soon\n".into(),
            2,
            vec!["timestamp_invalid"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n1,a,\n".into(),
            2,
            vec!["timestamp_invalid"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n1,a,2026-11-30T12:00:00Z\n".into(),
            2,
            vec!["campaign_window"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n1,a,2027-06-01T00:00:00Z\n".into(),
            2,
            vec!["timestamp_future"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n1,a,1969-07-20T20:17:00Z\n".into(),
            2,
            vec!["timestamp_before_1971"],
        ),
        (
            Kind::Events,
            "id,event,timestamp\n,,x\n".into(),
            2,
            vec!["id_missing", "event_name_missing", "timestamp_invalid"],
        ),
    ];
    for (kind, csv, line, expected) in cases {
        let out = dry(opts(Track, kind), &csv);
        assert_eq!(out.error, None, "{csv}");
        assert_eq!(codes_at(&out, line), expected, "{csv}");
        assert!(out.summary.adds_up(), "{:?}", out.summary);
        let errors = expected
            .iter()
            .any(|c| !["campaign_window", "timestamp_future", "timestamp_before_1971"].contains(c));
        assert_eq!(out.summary.rejected, u64::from(errors), "{csv}");
        assert_eq!(out.summary.warnings, u64::from(!errors), "{csv}");
    }
}

#[test]
fn over_300_attributes_and_oversize_items_and_event_data_are_rejected() {
    let headers: Vec<String> = (0..301).map(|i| format!("a{i}")).collect();
    let cells: Vec<String> = (0..301).map(|i| i.to_string()).collect();
    let csv = format!("id,{}\n1,{}\n", headers.join(","), cells.join(","));
    assert_eq!(codes_at(&people(&csv, Track), 2), vec!["too_many_attributes"]);

    // 40 values of 900 bytes: each fine, the item over 32,000 bytes.
    let headers: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    let cells: Vec<String> = (0..40).map(|_| "v".repeat(900)).collect();
    let csv = format!("id,{}\n1,{}\n", headers.join(","), cells.join(","));
    let out = people(&csv, Pipelines);
    assert_eq!(codes_at(&out, 2), vec!["item_too_large"]);
    assert!(out.rejected_csv.contains(",2,item_too_large,"), "{}", out.rejected_csv);

    // Event data over 100,000 bytes (event properties have no per-value limit).
    let csv = format!(
        "id,event,timestamp,blob\n1,e,2020-01-01T00:00:00Z,{}\n",
        "b".repeat(100_001)
    );
    assert_eq!(codes_at(&events(&csv, Track), 2), vec!["event_data_too_large"]);
}

#[test]
fn track_v2_payloads() {
    let out = events(
        "user_id,event,occurred_at,price,qty,vip,address.city\n5,purchased,2013-01-28T16:10:15Z,23.45,2,true,Oslo\n",
        Track,
    );
    let p = &out.payloads[0];
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(
        p,
        &json!({"type":"person","identifiers":{"id":"5"},"action":"event","name":"purchased","id":id,
                "timestamp":1359389415,"attributes":{"price":23.45,"qty":2,"vip":true,"address":{"city":"Oslo"}}})
    );
    assert_eq!(id.len(), 26);
    assert_eq!(cio_backfill::payload::ulid_time(id.as_bytes()), Some(1_359_389_415_000));

    let out = people(
        "email,plan,updated_at\nada@example.com,pro,2013-01-28 16:10:15\n",
        Track,
    );
    assert_eq!(
        out.payloads[0],
        json!({"type":"person","identifiers":{"email":"ada@example.com"},"action":"identify","timestamp":1359389415,
               "attributes":{"plan":"pro"}})
    );
}

#[test]
fn type_hints_type_a_later_part_of_a_file_as_its_first_part_without_forcing() {
    use cio_backfill::mapping::{ColumnOverride, TypeChoice, ValueType};
    let first = "id,level,score\n1,10001,5\n2,94105,7\n";
    let later = "id,level,score\n3,high,8\n4,10002,9\n";
    let attrs =
        |out: &Outcome| -> Vec<serde_json::Value> { out.payloads.iter().map(|p| p["attributes"].clone()).collect() };
    let with = |cols: &[(&str, ColumnOverride)]| {
        let mut o = opts(Track, Kind::People);
        for (name, ov) in cols {
            o.mapping.columns.insert(name.to_string(), ov.clone());
        }
        o
    };
    let hint = |t| ColumnOverride {
        type_hint: Some(t),
        ..Default::default()
    };
    let forced = |t| ColumnOverride {
        ty: Some(t),
        ..Default::default()
    };
    // The first part's sample types level as an integer; the later part's own sample would make it text.
    assert_eq!(attrs(&people(first, Track))[0], json!({"level": 10001, "score": 5}));
    assert_eq!(
        attrs(&people(later, Track))[1],
        json!({"level": "10002", "score": 9}),
        "inferred from its own rows, the later part types level otherwise"
    );
    // Hinted with the first part's types: the same types, and a cell that does not fit goes as text (no error).
    let hinted = dry(
        with(&[("level", hint(ValueType::Integer)), ("score", hint(ValueType::Integer))]),
        later,
    );
    assert_eq!(
        attrs(&hinted),
        vec![
            json!({"level": "high", "score": 8}),
            json!({"level": 10002, "score": 9})
        ]
    );
    assert_eq!((hinted.summary.valid, hinted.summary.rejected), (2, 0));
    // Forced, the same cell is an error.
    let forced_out = dry(with(&[("level", forced(TypeChoice::Integer))]), later);
    assert_eq!((forced_out.summary.valid, forced_out.summary.rejected), (1, 1));
    assert_eq!(codes_at(&forced_out, 2), vec!["value_type"]);
    // A hint and a forced type for one column contradict each other.
    let both = ColumnOverride {
        ty: Some(TypeChoice::String),
        type_hint: Some(ValueType::Integer),
        ..Default::default()
    };
    let e = dry(with(&[("level", both)]), later).error.expect("a mapping error");
    assert_eq!(
        e,
        "E_MAPPING: column \"level\": expected a type or a type hint, found both"
    );
}

#[test]
fn an_unclosed_quote_is_a_row_error_and_a_runaway_record_stops_the_import() {
    // At the end of the file: the row that opens the quote is rejected with its line, nothing is sent from it.
    let out = people("id,name\n1,Ada\n2,\"unterminated\n3,c\n4,d\n", Track);
    assert_eq!((out.summary.rows, out.summary.valid, out.summary.rejected), (2, 1, 1));
    assert_eq!(codes_at(&out, 3), vec!["unclosed_quote"]);
    assert!(out.rejected_csv.contains(",3,unclosed_quote,"), "{}", out.rejected_csv);
    assert_eq!(out.error, None);
    // Two stray quotes merge lines 3–4 into row 2's field: rejected with its line, the rows after it go on.
    let out = people("id,name\n1,Ada\n2,\"Bob\n3,Cy\n4,\"Di\n5,Ed\n", Track);
    assert_eq!((out.summary.rows, out.summary.valid, out.summary.rejected), (3, 2, 1));
    assert_eq!(codes_at(&out, 3), vec!["stray_quote"]);
    let ids: Vec<&str> = out
        .payloads
        .iter()
        .map(|p| p["identifiers"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["1", "5"]);
    // Too long to be a record: the import stops with E_CSV and the line; the rows before it are accounted for.
    let mut csv = String::from("id,name\n1,Ada\n2,\"never closed\n");
    for i in 0..600_000 {
        csv.push_str(&format!("{i},row\n"));
    }
    let out = people(&csv, Track);
    let e = out.error.expect("an error");
    assert!(
        e.starts_with("E_CSV: expected records of at most 4 MiB, found a longer one starting on line 3"),
        "{e}"
    );
    assert_eq!(out.reason, Some("record_too_long"));
    assert_eq!((out.summary.rows, out.summary.valid, out.summary.rejected), (1, 1, 0));
    assert_eq!(out.payloads.len(), 1, "the row before it was built");
}

#[test]
fn text_after_a_closing_quote_is_a_warning_with_its_cell_and_the_row_is_sent_as_read() {
    // `"Bob" Smith` on one line is read as csv-core reads it (`Bob Smith`), sent, and said: a warning with the line,
    // the column and what the cell became. The rows around it are untouched; a quote inside an unquoted cell and a
    // doubled quote are well-formed enough not to warn.
    let out = people(
        "id,name,note\n1,\"Bob\" Smith,x\n2,5'10\",y\n3,\"Al \"\"Big\"\" C\",z\n4,Di,\"a\"b\n",
        Track,
    );
    assert_eq!((out.summary.rows, out.summary.valid, out.summary.rejected), (4, 4, 0));
    assert_eq!(out.summary.warnings, 2);
    let warned: Vec<_> = out
        .issues
        .iter()
        .map(|i| (i.code.as_str(), i.line, i.column, i.column_name.as_deref()))
        .collect();
    assert_eq!(
        warned,
        vec![
            ("text_after_quote", 2, Some(1), Some("name")),
            ("text_after_quote", 5, Some(2), Some("note")),
        ]
    );
    assert!(
        out.issues[0].message.contains("read as \"Bob Smith\""),
        "{}",
        out.issues[0].message
    );
    let names: Vec<&str> = out
        .payloads
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Bob Smith", "5'10\"", "Al \"Big\" C", "Di"]);
    assert_eq!(out.payloads[3]["attributes"]["note"], "ab");
}

#[test]
fn pipelines_payloads() {
    let out = events("id,event,timestamp,price\n5,purchased,1359389415123,23.45\n", Pipelines);
    let p = &out.payloads[0];
    let mid = p["messageId"].as_str().unwrap().to_string();
    assert_eq!(
        p,
        &json!({"type":"track","userId":"5","event":"purchased","properties":{"price":23.45},
                "timestamp":"2013-01-28T16:10:15.123Z","messageId":mid})
    );
    let out = people("email,plan\nada@example.com,pro\n", Pipelines);
    let mid = out.payloads[0]["messageId"].as_str().unwrap().to_string();
    assert_eq!(
        out.payloads[0],
        json!({"type":"identify","userId":"ada@example.com","traits":{"email":"ada@example.com","plan":"pro"},"messageId":mid})
    );
}

#[test]
fn timestamp_formats_end_up_as_the_same_instant() {
    // 2013-01-28T16:10:15Z written every way an export writes it.
    let cells = [
        "1359389415",
        "1359389415000",
        "1359389415000000",
        "2013-01-28T16:10:15Z",
        "2013-01-28T17:10:15+01:00",
        "2013-01-28 16:10:15",
        "\"Mon, 28 Jan 2013 16:10:15 +0000\"",
        "28/01/2013 16:10:15",
    ];
    for cell in cells {
        let csv = format!("id,event,timestamp\n1,e,{cell}\n1,e,{cell}\n");
        for api in [Track, Pipelines] {
            let out = events(&csv, api);
            assert_eq!(out.summary.valid, 2, "{cell}: {:?}", out.issues);
            let ts = &out.payloads[0]["timestamp"];
            match api {
                Track => assert_eq!(ts, &json!(1359389415), "{cell}"),
                Pipelines => assert_eq!(ts, &json!("2013-01-28T16:10:15Z"), "{cell}"),
            }
        }
    }
}

#[test]
fn day_month_order_is_inferred_per_column_and_ambiguity_is_reported() {
    let out = events("id,event,timestamp\n1,e,03/04/2020\n1,e,25/04/2020\n", Track);
    assert_eq!(out.payloads[0]["timestamp"], json!(1_585_872_000)); // 3 april 2020
    let out = events("id,event,timestamp\n1,e,03/04/2020\n1,e,04/25/2020\n", Track);
    assert_eq!(out.payloads[0]["timestamp"], json!(1_583_280_000)); // 4 march 2020
    let out = events("id,event,timestamp\n1,e,03/04/2020\n", Track);
    assert!(
        out.issues.iter().any(|i| i.code.as_str() == "date_order_ambiguous"),
        "{:?}",
        out.issues
    );
    let mut o = opts(Track, Kind::Events);
    o.mapping.date_order = Some(cio_backfill::timestamp::DateOrder::DayFirst);
    let out = dry(o, "id,event,timestamp\n1,e,03/04/2020\n");
    assert_eq!(out.payloads[0]["timestamp"], json!(1_585_872_000));
    assert!(!out.issues.iter().any(|i| i.code.as_str() == "date_order_ambiguous"));
}

#[test]
fn default_zone_applies_to_zoneless_times() {
    let mut o = opts(Track, Kind::Events);
    o.mapping.default_zone = Some("America/New_York".into());
    let out = dry(
        o,
        "id,event,timestamp\n1,e,2013-01-28 11:10:15\n1,e,2013-07-01 12:00:00\n1,e,2013-01-28T16:10:15Z\n",
    );
    let ts: Vec<_> = out.payloads.iter().map(|p| p["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(ts, vec![1359389415, 1372694400, 1359389415]);
}

#[test]
fn messy_files_read_like_clean_ones() {
    let clean = "id,name,score\n1,Zoë,\"2.5\"\n2,\"Smith, J\",3\n";
    let expected = people(clean, Track).payloads;
    assert_eq!(expected.len(), 2);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(clean.as_bytes());
    let semicolon = "id;name;score\r\n1;Zoë;2,5\r\n\r\n2;Smith, J;3\r\n";
    let mut utf16 = vec![0xFF, 0xFE];
    for u in clean.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(clean);
    let cr = clean.replace('\n', "\r");
    for (what, bytes) in [
        ("bom", bom),
        (
            "semicolon + decimal comma + crlf + blank line",
            semicolon.as_bytes().to_vec(),
        ),
        ("utf-16le", utf16),
        ("windows-1252", cp1252.into_owned()),
        ("cr", cr.into_bytes()),
    ] {
        let mut o = opts(Track, Kind::People);
        o.dry_run = true;
        let out = run_with(o, &bytes, 7, None);
        assert_eq!(out.payloads, expected, "{what}");
    }
}

#[test]
fn quoted_newlines_keep_line_numbers_right() {
    let csv = "id,note\n1,\"two\nlines\"\n,missing id\n3,\"a \"\"quote\"\"\"\n";
    let out = people(csv, Track);
    assert_eq!(codes_at(&out, 4), vec!["id_missing"]);
    assert_eq!(out.payloads[0]["attributes"]["note"], json!("two\nlines"));
    assert_eq!(out.payloads[1]["attributes"]["note"], json!("a \"quote\""));
    assert!(
        out.rejected_csv.contains(",missing id,4,id_missing,"),
        "{}",
        out.rejected_csv
    );
}

#[test]
fn file_level_errors_have_codes() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "E_CSV: the file is empty"),
        (b"\n\n", "E_CSV: the file is empty"),
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "E_CSV: expected a csv text file, found binary data",
        ),
        (b"first,last\nada,lovelace\n", "E_MAPPING: no identifier column"),
    ];
    for (bytes, expected) in cases {
        let mut o = opts(Track, Kind::People);
        o.dry_run = true;
        let out = run_with(o, bytes, 3, None);
        assert!(
            out.error.as_deref().unwrap_or("").starts_with(expected),
            "{:?} gave {:?}",
            bytes,
            out.error
        );
    }
}

#[test]
fn skip_campaign_window_rejects_recent_events() {
    let csv = "id,event,timestamp\n1,e,2026-11-30T12:00:00Z\n1,e,2020-01-01T00:00:00Z\n";
    let mut o = opts(Track, Kind::Events);
    o.skip_campaign_window = true;
    let out = dry(o, csv);
    assert_eq!(codes_at(&out, 2), vec!["skipped"]);
    assert_eq!((out.summary.valid, out.summary.rejected), (1, 1));
    let out = events(csv, Track);
    assert_eq!(out.summary.campaign_window, 1);
}

#[test]
fn ids_are_deterministic_and_content_addressed() {
    let csv = "id,event,timestamp,p\n1,e,2020-01-01T00:00:00Z,a\n1,e,2020-01-01T00:00:00Z,b\n";
    let a = events(csv, Track);
    let b = events(csv, Track);
    assert_eq!(a.payloads, b.payloads);
    assert_ne!(a.payloads[0]["id"], a.payloads[1]["id"]);
    // The same event in another file (other rows around it) keeps its id.
    let c = events(
        "id,event,timestamp,p\n9,x,2021-01-01T00:00:00Z,z\n1,e,2020-01-01T00:00:00Z,b\n",
        Track,
    );
    assert_eq!(c.payloads[1]["id"], a.payloads[1]["id"]);
    // A source event id decides alone, and a ULID is used as it is.
    let d = events(
        "id,event,timestamp,event_id\n1,e,2020-01-01T00:00:00Z,01arz3ndektsv4rrffq69g5fav\n",
        Track,
    );
    assert_eq!(d.payloads[0]["id"], json!("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

#[test]
fn resume_skips_settled_records() {
    let csv = "id,plan\n1,a\n2,b\n3,c\n";
    let mut o = opts(Track, Kind::People);
    o.resume_after_record = 2;
    let out = dry(o, csv);
    assert_eq!(out.payloads.len(), 1);
    assert_eq!(out.payloads[0]["identifiers"]["id"], json!("3"));
    assert_eq!(out.summary.skipped_resume, 2);
    assert!(out.summary.adds_up());
}

#[test]
fn api_rejections_and_auth_errors_are_accounted() {
    // A fake Track API: entries whose id starts with "bad" are refused in a 207.
    let mut api = |body: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let errors: Vec<_> = v["batch"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, e)| e["identifiers"]["id"].as_str().unwrap().starts_with("bad"))
            .map(|(i, _)| json!({"batch_index": i, "reason": "invalid", "field": "identifiers.id", "message": "nope"}))
            .collect();
        if errors.is_empty() {
            Response {
                status: 200,
                retry_after: None,
                body: b"{}".to_vec(),
            }
        } else {
            Response {
                status: 207,
                retry_after: None,
                body: serde_json::to_vec(&json!({ "errors": errors })).unwrap(),
            }
        }
    };
    let csv = "id,plan\n1,a\nbad1,b\n3,c\nbad2,d\n,e\n";
    let out = run_with(opts(Track, Kind::People), csv.as_bytes(), 5, Some(&mut api));
    let s = out.summary;
    assert_eq!(
        (s.rows, s.sent, s.api_rejected, s.rejected, s.pending),
        (5, 2, 2, 1, 0),
        "{s:?}"
    );
    assert!(s.adds_up());
    let lines: Vec<&str> = out.rejected_csv.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{}", out.rejected_csv);
    assert!(
        lines.iter().any(|l| l.starts_with("bad1,b,3,api_rejected,")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("bad2,d,5,api_rejected,")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with(",e,6,id_missing,")), "{lines:?}");

    let mut refuse = |_: &[u8]| Response {
        status: 401,
        retry_after: None,
        body: br#"{"meta":{"error":"unauthorized"}}"#.to_vec(),
    };
    let mut o = opts(Track, Kind::People);
    o.batch_bytes = Some(1_000);
    let big: String = (0..200).map(|i| format!("{i},plan{i}\n")).collect();
    let out = run_with(o, format!("id,plan\n{big}").as_bytes(), 64, Some(&mut refuse));
    // The requests already in flight (the concurrency window, 4) were started before the first 401 came back;
    // nothing is started after it.
    assert_eq!(out.bodies.len(), 4, "nothing more is sent after a 401");
    assert_eq!((out.summary.failed, out.summary.sent), (200, 0));
    assert!(out.summary.adds_up());
    assert_eq!(out.summary.checkpoint, 0, "a resume must send the failed rows again");
}

#[test]
fn cancel_settles_every_row_and_keeps_the_checkpoint_below_the_unsent() {
    use cio_backfill::pipeline::{Importer, Step};
    let mut o = opts(Track, Kind::People);
    o.batch_bytes = Some(1_000);
    let mut imp = Importer::new(o).unwrap();
    let rows: String = (1..=300).map(|i| format!("{i},plan{i}\n")).collect();
    imp.push(format!("id,plan\n{rows}").as_bytes()).unwrap();
    imp.finish().unwrap();
    // Answer the first request, then cancel while the rest are queued or in flight.
    let mut sent = Vec::new();
    while let Step::Send(r) = imp.poll(NOW) {
        sent.push(r);
    }
    let first = sent.remove(0);
    imp.on_response(
        first.id,
        NOW,
        Response {
            status: 200,
            retry_after: None,
            body: b"{}".to_vec(),
        },
    );
    imp.cancel("cancelled");
    for r in sent {
        imp.on_response(
            r.id,
            NOW,
            Response {
                status: 200,
                retry_after: None,
                body: b"{}".to_vec(),
            },
        );
    }
    assert_eq!(imp.poll(NOW), Step::Done);
    let s = imp.summary();
    assert!(s.adds_up(), "{s:?}");
    assert!(s.sent > 0 && s.failed > 0 && s.pending == 0, "{s:?}");
    assert!(s.checkpoint < s.rows && s.checkpoint >= s.sent.min(1), "{s:?}");
    let csv = String::from_utf8(imp.take_rejected_csv()).unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.ends_with(",failed,cancelled")).count() as u64,
        s.failed
    );
}

/// Event (and Pipelines message) ids are content-addressed and must not change between versions: a re-run after an upgrade would
/// otherwise send every event again under a new id. These are the ids this version gives; a change to how they
/// are hashed or encoded fails here.
#[test]
fn event_ids_are_stable_across_versions() {
    let csv = "user_id,event,timestamp,plan,amount\n\
               u1,purchased,2024-07-04T10:47:05Z,pro,66.59\n\
               u2,signed_up,2020-05-24T00:24:49Z,,\n\
               u1,purchased,2024-07-04T10:47:05.123Z,pro,66.59\n";
    // (api, the field that carries the id)
    for (api, field) in [(Track, "id"), (Pipelines, "messageId")] {
        let out = events(csv, api);
        let ids: Vec<&str> = out.payloads.iter().map(|p| p[field].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "01J1YNNQ18GKE86JK1Q5Q11XSR",
                "01E9212R387QVNQFC7ZHX5623Z",
                "01J1YNNQ53HEREYEZGEHXEMYK6"
            ],
            "{api:?}"
        );
    }
    let out = people("id,plan,created_at\nu1,pro,2024-07-04T10:47:05Z\nu2,,\n", Pipelines);
    let ids: Vec<&str> = out.payloads.iter().map(|p| p["messageId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["00000000001H2XFZXXMHE4DMRW", "0000000000P8Y1Y395VFMSD8K9"]);
    // A source event id that is not a ULID is hashed (with the identifier), the same for both APIs.
    let csv = "id,event,timestamp,event_id\n1,e,2020-01-01T00:00:00Z,order-42\n";
    for (api, field) in [(Track, "id"), (Pipelines, "messageId")] {
        assert_eq!(
            events(csv, api).payloads[0][field],
            json!("01DXF6DT003073RQ1GCDTZYSTV"),
            "{api:?}"
        );
    }
}

#[test]
fn payload_strings_round_trip_through_json_both_apis() {
    payload_strings_round_trip(Track);
    payload_strings_round_trip(Pipelines);
}

#[test]
fn id_hash_is_xxh3_128_at_every_length() {
    id_hash_is_xxh3_128(600);
}
