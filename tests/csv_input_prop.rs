//! Property tests of the incremental CSV reader: chunking never changes the result, a model round-trips,
//! arbitrary bytes never panic. Fed one byte at a time, a record after the sniffing window is never whole in the
//! buffer, so csv-core parses it; fed whole, most records take the reader's memchr fast path: the two must agree.

use cio_backfill::csv_input::{CsvOptions, Encoding};
use proptest::prelude::*;

mod csv_common;
use csv_common::parse_split;

/// CSV-ish bytes: mostly the characters that matter to the parser and the sniffers.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(csv_common::ATOMS.to_vec()), 0..80).prop_map(|v| v.concat())
}

fn options() -> impl Strategy<Value = CsvOptions> {
    (
        prop::option::weighted(0.2, prop::sample::select(vec![b',', b';', b'\t', b'|'])),
        prop::option::weighted(
            0.2,
            prop::sample::select(vec![
                Encoding::Utf8,
                Encoding::Utf8Bom,
                Encoding::Utf16Le,
                Encoding::Utf16Be,
                Encoding::Windows1252,
            ]),
        ),
        prop::sample::select(vec![0usize, 4, 5, 9, 16, 33, 64 * 1024]),
    )
        .prop_map(|(delimiter, encoding, sniff_bytes)| CsvOptions {
            delimiter,
            encoding,
            sniff_bytes,
        })
}

/// Writes one field, quoting when needed.
fn write_field(out: &mut String, f: &str, alone: bool) {
    if f.is_empty() && alone || f.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

fn breaks(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\r' || (c == b'\n' && (i == 0 || b[i - 1] != b'\r')) {
            n += 1;
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chunking_never_changes_the_result(
        input in csvish(),
        opts in options(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse_split(&input, &opts, &[]);
        prop_assert_eq!(parse_split(&input, &opts, &cuts), whole);
    }

    #[test]
    fn one_byte_at_a_time_equals_whole(input in csvish(), opts in options()) {
        let whole = parse_split(&input, &opts, &[]);
        let all: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(parse_split(&input, &opts, &all), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..300),
        prefix in prop::sample::select(vec![&b""[..], b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"]),
        opts in options(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&input);
        let whole = parse_split(&bytes, &opts, &[]);
        prop_assert_eq!(parse_split(&bytes, &opts, &cuts), whole);
    }

    /// Rows written by a simple writer come back with the right fields and line numbers.
    #[test]
    fn model_round_trip(
        header in prop::collection::vec("[a-z]{1,4}", 1..4),
        rows in prop::collection::vec(prop::collection::vec("[a-z ,;\"\r\n]{0,5}", 1..4), 0..12),
        terms in prop::collection::vec(prop::sample::select(vec!["\n", "\r\n", "\r"]), 13),
        blanks in prop::collection::vec(0usize..3, 13),
        trailing in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut text = String::new();
        let mut expected = Vec::new();
        let all: Vec<&Vec<String>> = std::iter::once(&header).chain(rows.iter()).collect();
        for (i, row) in all.iter().enumerate() {
            for _ in 0..blanks[i] {
                text.push_str(terms[i]);
            }
            let line = 1 + breaks(&text);
            let byte = text.len() as u64;
            for (j, f) in row.iter().enumerate() {
                if j > 0 {
                    text.push(',');
                }
                write_field(&mut text, f, row.len() == 1);
            }
            if i > 0 {
                expected.push((line, i as u64, byte, false, (*row).clone()));
            }
            if i + 1 < all.len() || trailing {
                text.push_str(terms[i]);
            }
        }
        let opts = CsvOptions { delimiter: Some(b','), ..CsvOptions::default() };
        let p = parse_split(text.as_bytes(), &opts, &cuts);
        prop_assert_eq!(p.headers.as_ref(), Some(&header));
        prop_assert_eq!(p.records, expected);
    }

    /// Lines longer than the 64 bytes the fast path scans at a time, quoted fields (with `""`, delimiters and
    /// line breaks inside) across those boundaries: the fields and line numbers the writer meant.
    #[test]
    fn long_lines_round_trip(
        rows in prop::collection::vec(prop::collection::vec("[a-z ,;\"\r\n]{0,40}|[a-z]{60,140}", 3..=3), 1..8),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let term = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from("x,y,z");
        let mut expected = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            text.push_str(term);
            let line = 1 + breaks(&text);
            let byte = text.len() as u64;
            for (j, f) in row.iter().enumerate() {
                if j > 0 {
                    text.push(',');
                }
                write_field(&mut text, f, false);
            }
            expected.push((line, i as u64 + 1, byte, false, row.clone()));
        }
        text.push_str(term);
        let opts = CsvOptions { delimiter: Some(b','), ..CsvOptions::default() };
        let p = parse_split(text.as_bytes(), &opts, &cuts);
        prop_assert_eq!(p.records, expected);
    }

    /// Long lines of CSV-ish text, well formed or not: read whole (the fast paths) as read a byte at a time
    /// (csv-core).
    #[test]
    fn long_lines_whole_equal_one_byte_at_a_time(
        lines in prop::collection::vec(prop::collection::vec(csvish(), 1..4), 1..5),
        opts in options(),
    ) {
        let mut input = b"h1,h2,h3\n".to_vec();
        for parts in &lines {
            for p in parts {
                input.extend(p.iter().filter(|&&b| b != b'\n'));
            }
            input.push(b'\n');
        }
        let whole = parse_split(&input, &opts, &[]);
        let all: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(parse_split(&input, &opts, &all), whole);
    }
}
