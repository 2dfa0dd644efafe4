//! Integration tests of the incremental CSV reader over the fixtures in `tests/fixtures/csv/`.

use cio_backfill::csv_input::{CsvOptions, CsvReader, Encoding, LineEnding, ReadResult, Record};
use cio_backfill::{IssueCode, Severity};

mod csv_common;
use csv_common::{parse_split, Parsed};

fn parse_with(input: &[u8], options: CsvOptions, chunk: usize) -> Parsed {
    let cuts: Vec<usize> = (0..input.len()).step_by(chunk.max(1)).collect();
    parse_split(input, &options, &cuts)
}

/// Parses with several chunkings (1 byte, odd sizes, whole), asserts they agree, and returns the result.
fn parse_opts(input: &[u8], options: CsvOptions) -> Parsed {
    let whole = parse_with(input, options.clone(), input.len());
    for chunk in [1, 2, 3, 5, 7, 64] {
        assert_eq!(parse_with(input, options.clone(), chunk), whole, "chunk size {chunk}");
    }
    whole
}

fn parse(input: &[u8]) -> Parsed {
    parse_opts(input, CsvOptions::default())
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/csv/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (line, record, fields) of each record.
fn lrf(p: &Parsed) -> Vec<(u64, u64, Vec<&str>)> {
    p.records
        .iter()
        .map(|r| (r.0, r.1, r.4.iter().map(String::as_str).collect()))
        .collect()
}

struct Case {
    file: &'static str,
    encoding: Encoding,
    delimiter: u8,
    line_ending: LineEnding,
    headers: Option<&'static [&'static str]>,
    records: &'static [(u64, u64, &'static [&'static str])],
}

#[test]
fn fixtures_table() {
    use Encoding::*;
    use LineEnding::*;
    let cases = [
        Case {
            file: "utf8_bom.csv",
            encoding: Utf8Bom,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "Renée"]), (3, 2, &["2", "Zoë"])],
        },
        Case {
            file: "utf16le_bom.csv",
            encoding: Utf16Le,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "Renée"]), (3, 2, &["2", "€uro"])],
        },
        Case {
            file: "utf16be_bom.csv",
            encoding: Utf16Be,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "Renée"]), (3, 2, &["2", "€uro"])],
        },
        Case {
            file: "windows1252.csv",
            encoding: Windows1252,
            delimiter: b';',
            line_ending: Lf,
            headers: Some(&["id", "name", "price"]),
            records: &[(2, 1, &["1", "Renée", "5€"]), (3, 2, &["2", "café", "3,50"])],
        },
        Case {
            file: "semicolon_decimal.csv",
            encoding: Utf8,
            delimiter: b';',
            line_ending: Lf,
            headers: Some(&["id", "price", "qty"]),
            records: &[
                (2, 1, &["1", "2,50", "3"]),
                (3, 2, &["2", "3,75", "4"]),
                (4, 3, &["3", "10,00", "1"]),
            ],
        },
        Case {
            file: "tab.csv",
            encoding: Utf8,
            delimiter: b'\t',
            line_ending: Lf,
            headers: Some(&["id", "name", "note"]),
            records: &[(2, 1, &["1", "ann", "hello, world"]), (3, 2, &["2", "bob", "x;y"])],
        },
        Case {
            file: "pipe.csv",
            encoding: Utf8,
            delimiter: b'|',
            line_ending: Lf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "ann, b"]), (3, 2, &["2", "bob"])],
        },
        Case {
            file: "crlf.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: CrLf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "ann"]), (3, 2, &["2", "bob"])],
        },
        Case {
            file: "cr_only.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Cr,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "ann"]), (3, 2, &["2", "bob"])],
        },
        Case {
            file: "quoted.csv",
            encoding: Utf8,
            delimiter: b',',
            // Line breaks inside quotes are not record terminators.
            line_ending: Lf,
            headers: Some(&["id", "note"]),
            records: &[
                (2, 1, &["1", "line one\nline two"]),
                (4, 2, &["2", "say \"hi\", ok"]),
                (5, 3, &["3", "cr\rand crlf\r\nend"]),
                (8, 4, &["4", "plain"]),
            ],
        },
        Case {
            file: "blank_lines.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Mixed,
            headers: Some(&["id", "name"]),
            records: &[(5, 1, &["1", "ann"]), (8, 2, &["2", "bob"])],
        },
        Case {
            file: "ragged.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["a", "b", "c"]),
            records: &[(2, 1, &["1", "2"]), (3, 2, &["1", "2", "3", "4"]), (5, 3, &["5"])],
        },
        Case {
            file: "no_trailing_newline.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["id", "name"]),
            records: &[(2, 1, &["1", "ann"]), (3, 2, &["2", "bob"])],
        },
        Case {
            file: "header_only.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["id", "name", "email"]),
            records: &[],
        },
        Case {
            file: "empty.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: None,
            headers: Option::None,
            records: &[],
        },
        Case {
            file: "one_column.csv",
            encoding: Utf8,
            delimiter: b',',
            line_ending: Lf,
            headers: Some(&["email"]),
            records: &[(2, 1, &["a@example.com"]), (3, 2, &["b@example.com"])],
        },
    ];
    for case in &cases {
        let p = parse(&fixture(case.file));
        let d = p.dialect.as_ref().expect("dialect decided");
        assert_eq!(d.encoding, case.encoding, "{}: encoding", case.file);
        assert_eq!(d.delimiter, case.delimiter, "{}: delimiter", case.file);
        assert_eq!(d.quote, b'"', "{}: quote", case.file);
        assert_eq!(d.line_ending, case.line_ending, "{}: line ending", case.file);
        assert_eq!(p.headers, case.headers.map(strs), "{}: headers", case.file);
        let want: Vec<(u64, u64, Vec<&str>)> = case.records.iter().map(|(l, r, f)| (*l, *r, f.to_vec())).collect();
        assert_eq!(lrf(&p), want, "{}: records", case.file);
        assert!(p.records.iter().all(|r| !r.3), "{}: no invalid encoding", case.file);
        if case.file != "bad_headers.csv" {
            assert!(p.issues.is_empty(), "{}: issues {:?}", case.file, p.issues);
        }
    }
}

#[test]
fn byte_offsets() {
    // UTF-8: offsets in the original bytes, BOM included.
    let p = parse(&fixture("utf8_bom.csv"));
    let bytes: Vec<u64> = p.records.iter().map(|r| r.2).collect();
    assert_eq!(bytes, vec![3 + 8, 3 + 8 + 9]);
    let p = parse(&fixture("blank_lines.csv"));
    let bytes: Vec<u64> = p.records.iter().map(|r| r.2).collect();
    assert_eq!(bytes, vec![11, 20]);
    let p = parse(&fixture("quoted.csv"));
    let input = fixture("quoted.csv");
    for r in &p.records {
        let at = r.2 as usize;
        assert!(input[at..].starts_with(r.4[0].as_bytes()), "record {} at {at}", r.1);
        assert!(at == 0 || input[at - 1] == b'\n' || input[at - 1] == b'\r');
    }
    // Transcoded: offsets in the decoded UTF-8 stream (after the BOM).
    let p = parse(&fixture("utf16le_bom.csv"));
    let bytes: Vec<u64> = p.records.iter().map(|r| r.2).collect();
    assert_eq!(bytes, vec![8, 8 + "1,Renée\n".len() as u64]);
}

type IssueRow<'a> = (IssueCode, Severity, u64, u64, Option<usize>, Option<&'a str>);

#[test]
fn bad_headers() {
    let p = parse(&fixture("bad_headers.csv"));
    assert_eq!(
        p.headers,
        Some(strs(&[
            "id",
            "Id",
            "",
            "email",
            "email",
            "First Name",
            "first_name",
            " "
        ]))
    );
    let got: Vec<IssueRow> = p
        .issues
        .iter()
        .map(|i| (i.code, i.severity, i.line, i.record, i.column, i.column_name.as_deref()))
        .collect();
    use IssueCode::*;
    use Severity::*;
    assert_eq!(
        got,
        vec![
            (HeaderNearDuplicate, Warning, 1, 0, Some(1), Some("Id")),
            (HeaderBlank, Error, 1, 0, Some(2), Some("")),
            (HeaderDuplicate, Error, 1, 0, Some(4), Some("email")),
            (HeaderNearDuplicate, Warning, 1, 0, Some(6), Some("first_name")),
            (HeaderBlank, Error, 1, 0, Some(7), Some(" ")),
        ]
    );
    for i in &p.issues {
        // Lowercase outside the quoted column names.
        let outside: String = i.message.split('"').step_by(2).collect();
        assert_eq!(outside, outside.to_lowercase(), "{}", i.message);
        assert!(i.message.starts_with("expected "), "{}", i.message);
    }
    assert!(
        p.issues[2].message.contains("duplicates column 4"),
        "{}",
        p.issues[2].message
    );
    assert!(
        p.issues[0].message.contains("\"id\" in column 1"),
        "{}",
        p.issues[0].message
    );
    assert_eq!(lrf(&p), vec![(2, 1, vec!["1", "2", "3", "4", "5", "6", "7", "8"])]);
}

#[test]
fn header_after_blank_lines_has_its_line() {
    let p = parse(b"\r\n\nid,id\n1,2\n");
    assert_eq!(p.issues.len(), 1);
    assert_eq!(p.issues[0].line, 3);
    assert_eq!(p.issues[0].code, IssueCode::HeaderDuplicate);
    assert_eq!(lrf(&p), vec![(4, 1, vec!["1", "2"])]);
}

#[test]
fn invalid_utf8_later_is_flagged_not_fatal() {
    let opts = CsvOptions {
        sniff_bytes: 16,
        ..CsvOptions::default()
    };
    let p = parse_opts(&fixture("utf8_invalid_later.csv"), opts);
    assert_eq!(p.dialect.as_ref().map(|d| d.encoding), Some(Encoding::Utf8));
    let flags: Vec<(u64, bool)> = p.records.iter().map(|r| (r.1, r.3)).collect();
    assert_eq!(flags, vec![(1, false), (2, true), (3, false)]);
    assert_eq!(p.records[1].4, strs(&["2", "bad\u{FFFD}\u{FFFD}byte"]));
    // With the whole file in the sniff window it is Windows-1252 instead.
    let p = parse(&fixture("utf8_invalid_later.csv"));
    assert_eq!(p.dialect.as_ref().map(|d| d.encoding), Some(Encoding::Windows1252));
    assert_eq!(p.records[1].4, strs(&["2", "badÿþbyte"]));
}

#[test]
fn multibyte_char_cut_at_window_end_is_still_utf8() {
    // "é" is 2 bytes; the window of 9 bytes ends in its middle.
    let input = "id,name\né,x\n".as_bytes();
    let opts = CsvOptions {
        sniff_bytes: 9,
        ..CsvOptions::default()
    };
    let p = parse_opts(input, opts);
    assert_eq!(p.dialect.as_ref().unwrap().encoding, Encoding::Utf8);
    assert_eq!(lrf(&p), vec![(2, 1, vec!["é", "x"])]);
}

#[test]
fn forced_options() {
    let opts = CsvOptions {
        delimiter: Some(b';'),
        encoding: Some(Encoding::Windows1252),
        ..CsvOptions::default()
    };
    let p = parse_opts(b"a,b;c\n\xe9,1;2\n", opts);
    let d = p.dialect.clone().unwrap();
    assert_eq!((d.encoding, d.delimiter), (Encoding::Windows1252, b';'));
    assert_eq!(p.headers, Some(strs(&["a,b", "c"])));
    assert_eq!(lrf(&p), vec![(2, 1, vec!["é,1", "2"])]);
    // Forced UTF-16 LE without a BOM.
    let text: Vec<u8> = "x,y\n1,2\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let p = parse_opts(
        &text,
        CsvOptions {
            encoding: Some(Encoding::Utf16Le),
            ..CsvOptions::default()
        },
    );
    assert_eq!(p.headers, Some(strs(&["x", "y"])));
    assert_eq!(lrf(&p), vec![(2, 1, vec!["1", "2"])]);
}

#[test]
fn utf16_malformed_is_flagged() {
    // An unpaired surrogate in record 2.
    let mut units: Vec<u16> = "id\n1\n".encode_utf16().collect();
    units.push(0xD800);
    units.extend("x\n3\n".encode_utf16());
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    let p = parse(&bytes);
    let flags: Vec<(u64, bool, Vec<String>)> = p.records.iter().map(|r| (r.1, r.3, r.4.clone())).collect();
    assert_eq!(
        flags,
        vec![
            (1, false, strs(&["1"])),
            (2, true, strs(&["\u{FFFD}x"])),
            (3, false, strs(&["3"]))
        ]
    );
}

#[test]
fn sniff_window_truncated_last_record_is_ignored() {
    // The window (24 bytes) cuts the third line; scoring must not be thrown off by it.
    let input = b"a;b;c\n1;2,5;3\n4;5;6,7,8,9,10\n";
    let opts = CsvOptions {
        sniff_bytes: 24,
        ..CsvOptions::default()
    };
    let p = parse_opts(input, opts);
    assert_eq!(p.dialect.unwrap().delimiter, b';');
}

#[test]
fn bounded_memory_on_many_rows() {
    let mut r = CsvReader::new(CsvOptions::default());
    let mut rec = Record::default();
    r.push(b"id,name,email\n");
    let chunk: Vec<u8> = (0..1000)
        .flat_map(|i| format!("{i},name{i},a{i}@example.com\n").into_bytes())
        .collect();
    let mut n = 0u64;
    let mut max_buffered = 0;
    for _ in 0..200 {
        r.push(&chunk);
        max_buffered = max_buffered.max(r.bytes_buffered());
        while r.read(&mut rec) == ReadResult::Record {
            n += 1;
            assert_eq!(rec.record, n);
            assert_eq!(rec.line, n + 1);
        }
        if r.dialect().is_some() {
            assert!(r.bytes_buffered() < 64, "consumed bytes are dropped");
        }
    }
    r.finish();
    assert_eq!(r.read(&mut rec), ReadResult::End);
    assert_eq!(n, 200_000);
    assert!(max_buffered <= 2 * chunk.len() + 64 * 1024, "{max_buffered}");
}

#[test]
fn a_quote_never_closed_is_flagged_on_its_record() {
    // (input, records read, the records flagged)
    let cases: &[(&str, usize, &[u64])] = &[
        ("id,name\n1,\"unterminated\n2,b\n3,c\n", 1, &[1]),
        ("id,name\n1,a\n2,\"open", 2, &[2]),
        ("id,name\n1,a\n2,\"a\"\"", 2, &[2]),   // a doubled quote inside: still open
        ("id,name\n1,a\n2,\"a\"\"\"", 2, &[]),  // doubled, then closed
        ("id,name\n1,a\n2,\"closed\"", 2, &[]), // closed at the very end, no line break
        ("id,height\n1,5'11\"", 1, &[]),        // a quote inside an unquoted field is a literal
        ("id,name\n1,\"a\"x\n2,b\n", 2, &[]),   // text after a closing quote (csv-core keeps it)
    ];
    for (input, n, flagged) in cases {
        let p = parse(input.as_bytes());
        assert_eq!(p.records.len(), *n, "{input:?}");
        assert_eq!(p.unclosed, *flagged, "{input:?}");
        assert_eq!(p.error, None);
    }
    let p = parse(b"id,name\n1,\"unterminated\n2,b\n3,c\n");
    assert_eq!(lrf(&p), vec![(2, 1, vec!["1", "unterminated\n2,b\n3,c\n"])]);
}

#[test]
fn a_record_over_the_limit_stops_reading_with_its_line() {
    use cio_backfill::csv_input::MAX_RECORD_BYTES;
    // An unclosed quote on line 3 takes in the rest of a long file; a long but closed field just fits.
    let mut fits = b"id,note\n1,\"".to_vec();
    fits.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES - 1));
    fits.extend_from_slice(b"\"\n2,b\n");
    let mut over = b"id,note\n1,a\n2,\"never closed\n".to_vec();
    for i in 0..(MAX_RECORD_BYTES / 20) {
        over.extend_from_slice(format!("{i},some text here\n").as_bytes());
    }
    for chunk in [over.len(), 65_536, 4_093] {
        let p = parse_with(&over, CsvOptions::default(), chunk);
        assert_eq!(
            lrf(&p),
            vec![(2, 1, vec!["1", "a"])],
            "the records before it (chunk {chunk})"
        );
        let e = p.error.expect("an error");
        assert!(
            e.starts_with("expected records of at most 4 MiB, found a longer one starting on line 3"),
            "{e}"
        );
        assert_eq!(p.limit, Some(cio_backfill::Limit::RecordBytes));
        assert_eq!(cio_backfill::Limit::RecordBytes.reason(), "record_too_long");
        let p = parse_with(&fits, CsvOptions::default(), chunk);
        assert_eq!(p.error, None, "chunk {chunk}");
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.records[0].4[1].len(), MAX_RECORD_BYTES - 1);
    }
}

#[test]
fn a_record_of_too_many_fields_stops_reading_with_its_line() {
    use cio_backfill::csv_input::MAX_FIELDS;
    // (the line of delimiters, is it within the limit)
    for (fields, ok) in [(MAX_FIELDS, true), (MAX_FIELDS + 1, false)] {
        let mut input = b"id\n1\n".to_vec();
        input.extend(std::iter::repeat_n(b',', fields - 1));
        input.extend_from_slice(b"\n2\n");
        for chunk in [input.len(), 4_093] {
            let p = parse_with(&input, CsvOptions::default(), chunk);
            if ok {
                assert_eq!((p.error, p.limit), (None, None));
                assert_eq!(p.records.len(), 3);
                assert_eq!(p.records[1].4.len(), fields);
            } else {
                assert_eq!(p.records.len(), 1, "the record before it (chunk {chunk})");
                let e = p.error.expect("an error");
                assert_eq!(
                    e,
                    format!(
                        "expected records of at most {MAX_FIELDS} fields, found more in the one starting on line 3"
                    )
                );
                assert_eq!(p.limit.map(cio_backfill::Limit::reason), Some("too_many_fields"));
            }
        }
    }
}

#[test]
fn quotes_out_of_place_are_flagged_or_marked() {
    // (input, the fields of the first record, the records flagged stray, the (record, field)s marked with text after
    // a closing quote). Text after a closing quote is read as csv-core reads it (the quotes dropped, the text kept):
    // in a record whose quotes hold a line break it is a stray quote that merged lines; on one line it is marked, so
    // that a warning can say so. A space or a tab after the quote, a quote inside an unquoted field and a doubled
    // quote are neither.
    type Case<'a> = (&'a str, &'a [&'a str], &'a [u64], &'a [(u64, usize)]);
    let cases: &[Case] = &[
        // Two stray quotes: lines 3 and 4 end up inside row 1's field, and text follows the closing quote.
        (
            "id,name\n1,\"abc\n2,b\n3,\"def\n4,d\n",
            &["1", "abc\n2,b\n3,def"],
            &[1],
            &[],
        ),
        ("id,name\n1,\"a\nb\"x\n2,c\n", &["1", "a\nbx"], &[1], &[]),
        ("id,name\n1,\"a\nb\" x\n2,c\n", &["1", "a\nb x"], &[1], &[]),
        // Well-formed multi-line fields, or only a space after the quote: neither.
        ("id,name\n1,\"abc\ndef\"\n2,c\n", &["1", "abc\ndef"], &[], &[]),
        ("id,name\n1,\"a\nb\" \n2,c\n", &["1", "a\nb "], &[], &[]),
        // Text after a quote on one line: marked with its field.
        ("id,name\n1,\"Bob\" Smith\n2,c\n", &["1", "Bob Smith"], &[], &[(1, 1)]),
        ("id,name\n1,\"Bob\"Smith\n2,c\n", &["1", "BobSmith"], &[], &[(1, 1)]),
        ("id,name\n1,\"ab\"c\n2,c\n", &["1", "abc"], &[], &[(1, 1)]),
        ("id,name,x\n\"1\"0,\"a\"b,\"c\"d\n", &["10", "ab", "cd"], &[], &[(1, 0)]),
        ("id,name,x\n1,\"a,b\"c,d\n", &["1", "a,bc", "d"], &[], &[(1, 1)]),
        ("id;name;x\n1;a,b;\"c\"d\n", &["1", "a,b", "cd"], &[], &[(1, 2)]),
        ("id,name\n1,\"x\"y\"z\"\n", &["1", "xy\"z\""], &[], &[(1, 1)]),
        ("id,name\n1,ab\n2,\"c\"d\n", &["1", "ab"], &[], &[(2, 1)]),
        (
            "id,name\n1,\"Bob\" \t Smith\n2,c\n",
            &["1", "Bob \t Smith"],
            &[],
            &[(1, 1)],
        ),
        ("id,name\n1,\"a\" \"b\"\n", &["1", "a \"b\""], &[], &[(1, 1)]),
        // Spaces or a tab alone after the quote, a quote inside an unquoted field, a doubled quote: neither.
        ("id,name\n1,\"Bob\" \n2,c\n", &["1", "Bob "], &[], &[]),
        ("id,name,x\n1,\"Bob\"  ,c\n", &["1", "Bob  ", "c"], &[], &[]),
        ("id,name\n1,\"Bob\"\t\n", &["1", "Bob\t"], &[], &[]),
        ("id,name\n1,ab\"c\n", &["1", "ab\"c"], &[], &[]),
        ("id,name\n1,\"a\"\"b\"\n", &["1", "a\"b"], &[], &[]),
    ];
    for (input, first, stray, marked) in cases {
        let p = parse(input.as_bytes());
        assert_eq!(p.records[0].4, strs(first), "{input:?}");
        assert_eq!(p.stray, *stray, "{input:?}");
        assert_eq!(p.after_quote, *marked, "{input:?}");
    }
}
