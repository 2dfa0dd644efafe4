//! The CSV reader driven over split input, shared by the fixture tests and the property tests.

use cio_backfill::csv_input::{CsvOptions, CsvReader, Dialect, Limit, ReadResult, Record};
use cio_backfill::Issue;

/// Everything observable about a parse.
#[derive(Debug, PartialEq)]
pub struct Parsed {
    pub dialect: Option<Dialect>,
    pub headers: Option<Vec<String>>,
    pub issues: Vec<Issue>,
    /// (line, record, byte, invalid_encoding, fields)
    pub records: Vec<(u64, u64, u64, bool, Vec<String>)>,
    /// Records flagged with an unclosed quote.
    pub unclosed: Vec<u64>,
    /// Records flagged with a stray quote (text after a closing quote, a line break inside quotes).
    pub stray: Vec<u64>,
    /// (record, field) of the records with text after a closing quote on one line.
    pub after_quote: Vec<(u64, usize)>,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
    /// The limit that stopped it.
    pub limit: Option<Limit>,
}

/// CSV-ish atoms: mostly the bytes that matter to the parser and the sniffers (delimiters, quotes, line breaks,
/// multi-byte and malformed UTF-8, byte-order marks).
#[allow(dead_code)] // (the fixture tests, which include this module too, do not use it)
pub const ATOMS: [&[u8]; 20] = [
    b"a",
    b"b",
    b"1",
    b",",
    b",",
    b";",
    b"\t",
    b"|",
    b"\"",
    b"\"\"",
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xfe",
    b"\xc3",
];

type Rows = Vec<(u64, u64, u64, bool, Vec<String>)>;

/// (unclosed, stray, after_quote), as in [`Parsed`].
type Flags = (Vec<u64>, Vec<u64>, Vec<(u64, usize)>);

fn drain(r: &mut CsvReader, rec: &mut Record, out: &mut Rows, flags: &mut Flags) -> ReadResult {
    loop {
        match r.read(rec) {
            ReadResult::Record => {
                if rec.unclosed_quote {
                    flags.0.push(rec.record);
                }
                if rec.stray_quote {
                    flags.1.push(rec.record);
                }
                if let Some(field) = rec.text_after_quote {
                    flags.2.push((rec.record, field));
                }
                out.push((
                    rec.line,
                    rec.record,
                    rec.byte,
                    rec.invalid_encoding,
                    rec.iter().map(str::to_string).collect(),
                ))
            }
            other => return other,
        }
    }
}

/// Parses `input` split at the given cut points (any order, duplicates allowed, taken modulo the length + 1):
/// every push reads to `NeedMore`, `finish` reads to `End`, which stays; nothing is left buffered.
pub fn parse_split(input: &[u8], options: &CsvOptions, cuts: &[usize]) -> Parsed {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut r = CsvReader::new(options.clone());
    let mut rec = Record::default();
    let mut records = Vec::new();
    let mut flags = (Vec::new(), Vec::new(), Vec::new());
    for w in cuts.windows(2) {
        r.push(&input[w[0]..w[1]]);
        let got = drain(&mut r, &mut rec, &mut records, &mut flags);
        if r.stopped().is_some() {
            assert_eq!(got, ReadResult::End, "an error ends reading");
            break;
        }
        assert_eq!(got, ReadResult::NeedMore);
    }
    if r.stopped().is_none() {
        assert_eq!(r.bytes_pushed(), input.len() as u64);
        r.finish();
        assert_eq!(drain(&mut r, &mut rec, &mut records, &mut flags), ReadResult::End);
        assert_eq!(r.bytes_buffered(), 0);
    }
    assert_eq!(r.read(&mut rec), ReadResult::End, "End is sticky");
    Parsed {
        dialect: r.dialect().cloned(),
        headers: r.headers().map(<[String]>::to_vec),
        issues: r.header_issues().to_vec(),
        records,
        unclosed: flags.0,
        stray: flags.1,
        after_quote: flags.2,
        error: r.stopped().map(|(_, m)| m.to_string()),
        limit: r.stopped().map(|(l, _)| l),
    }
}
