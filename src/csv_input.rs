//! Incremental CSV input: bytes pushed in chunks of any size come out as records with their positions.
//!
//! Detects the encoding (UTF-8 with or without BOM, UTF-16 LE/BE with BOM, Windows-1252 when the sniffed
//! prefix is not valid UTF-8), the delimiter (`,` `;` tab `|`, quote-aware), the line endings, and reads the
//! header row. Pushing one byte at a time gives exactly the same result as pushing the whole file at once.

use std::collections::{HashMap, VecDeque};

use csv_core::{ReadRecordResult, Reader as CoreReader, ReaderBuilder};

use crate::bytes::append_str;
use crate::issue::{Issue, IssueCode};
use crate::scan;

/// The text encoding of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (the BOM is not part of the first header).
    Utf8Bom,
    /// UTF-16 little-endian (BOM required).
    Utf16Le,
    /// UTF-16 big-endian (BOM required).
    Utf16Be,
    /// Windows-1252, used when the sniffed prefix is not valid UTF-8.
    Windows1252,
}

/// The line endings seen in the sniffed prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LineEnding {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// `\r`
    Cr,
    /// More than one kind.
    Mixed,
    /// No line ending in the sniffed prefix (a single line).
    None,
}

/// What was detected about the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dialect {
    /// The detected (or forced) encoding.
    pub encoding: Encoding,
    /// The detected (or forced) field delimiter.
    pub delimiter: u8,
    /// The quote character (always `"` today).
    pub quote: u8,
    /// The line endings.
    pub line_ending: LineEnding,
}

/// Options for [`CsvReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Force a delimiter instead of sniffing it.
    pub delimiter: Option<u8>,
    /// Force an encoding instead of sniffing it.
    pub encoding: Option<Encoding>,
    /// How many bytes are buffered before the dialect is decided (the whole input if it is shorter).
    pub sniff_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            encoding: None,
            sniff_bytes: 64 * 1024,
        }
    }
}

/// One data record (the header row is not a record), reused between reads to avoid allocation.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// 1-based physical line on which the record starts.
    pub line: u64,
    /// 1-based data record number (the header is record 0; blank lines are not records).
    pub record: u64,
    /// Byte offset of the record's start in the original input.
    ///
    /// For UTF-8 input (with or without BOM) this is the exact offset in the pushed bytes. For transcoded input
    /// (UTF-16, Windows-1252) it is the offset in the decoded UTF-8 stream (after the BOM).
    pub byte: u64,
    /// Set when the record's bytes were not valid in the detected encoding; the fields then hold a lossy decoding.
    pub invalid_encoding: bool,
    /// Set when the record's last field opens a quote that the file never closes: the field ran to the end of the
    /// file, taking in every line after its start.
    pub unclosed_quote: bool,
    /// Set when the record has text after a closing quote (right after it, or after spaces) and a line break inside
    /// quotes: malformed CSV that a stray quote makes, merging the lines up to the next quote into this record.
    pub stray_quote: bool,
    /// The first field (0-based) with text after its closing quote (`"Bob" Smith`), on one line: malformed CSV
    /// that is read as csv-core reads it, the quotes dropped and the text kept (`Bob Smith`). `None` when there is
    /// none, and when the record is flagged [`Record::stray_quote`] instead.
    pub text_after_quote: Option<usize>,
    /// The fields one after the other, `gap` bytes apart (0, or 1 when the text is a line as it was read, its
    /// delimiters left in place: one copy of the line instead of one per field).
    text: String,
    ends: Vec<usize>,
    gap: usize,
}

/// Records are equal when they say the same: position, flags and fields (however the text is laid out).
impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        (
            self.line,
            self.record,
            self.byte,
            self.invalid_encoding,
            self.unclosed_quote,
            self.stray_quote,
            self.text_after_quote,
        ) == (
            other.line,
            other.record,
            other.byte,
            other.invalid_encoding,
            other.unclosed_quote,
            other.stray_quote,
            other.text_after_quote,
        ) && self.len() == other.len()
            && self.iter().eq(other.iter())
    }
}

impl Eq for Record {}

impl Record {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// True if the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// Field `i`, if present.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        // SAFETY: i - 1 < i < ends.len().
        let start = if i == 0 {
            0
        } else {
            unsafe { *self.ends.get_unchecked(i - 1) + self.gap }
        };
        debug_assert!(start <= end && self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        // SAFETY: every way a record is filled (the reader, `set_fields`, `set_raw_parts` with another record's
        // parts) ends each field on a character boundary inside `text`, and starts the next `gap` bytes (0, or a
        // one-byte delimiter) after it: so start <= end <= text.len(), both on boundaries.
        Some(unsafe { self.text.get_unchecked(start..end) })
    }
    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i).unwrap_or(""))
    }
    /// The fields as laid out: the text, each field's end in it, and the gap between fields (for a copy that keeps
    /// the layout, [`Record::set_raw_parts`]).
    pub(crate) fn raw_parts(&self) -> (&str, &[usize], usize) {
        (&self.text, &self.ends, self.gap)
    }
    /// Replace the fields with ones laid out as [`Record::raw_parts`] gave them.
    pub(crate) fn set_raw_parts(&mut self, text: &str, ends: &[usize], gap: usize) {
        self.text.clear();
        self.text.push_str(text);
        self.ends.clear();
        self.ends.extend_from_slice(ends);
        self.gap = gap;
    }
    /// Replace the contents (used by the reader and by tests).
    pub fn set_fields<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) {
        self.text.clear();
        self.ends.clear();
        self.gap = 0;
        for f in fields {
            self.text.push_str(f);
            self.ends.push(self.text.len());
        }
    }
}

/// What [`CsvReader::read`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadResult {
    /// A record was written into the caller's [`Record`].
    Record,
    /// More input is needed (push more bytes, or call [`CsvReader::finish`]).
    NeedMore,
    /// The input is finished and every record has been read.
    End,
}

/// The delimiters the sniffer chooses among, in order of preference on ties.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// The smallest sniff window used, whatever the options say (enough to see any BOM).
const MIN_SNIFF: usize = 4;

/// The push-based CSV reader.
///
/// Feed bytes with [`CsvReader::push`], mark the end with [`CsvReader::finish`], and pull records with
/// [`CsvReader::read`]. Bytes pushed after `finish` are ignored. Memory is bounded by the sniff window, the
/// largest record and the unread pushed chunks: consumed bytes are dropped.
#[derive(Debug)]
pub struct CsvReader {
    options: CsvOptions,
    sniff: usize,
    pushed: u64,
    finished: bool,
    /// Raw bytes held until the dialect is decided.
    raw: Vec<u8>,
    dialect: Option<Dialect>,
    /// Set for transcoded encodings (UTF-16, Windows-1252).
    decoder: Option<encoding_rs::Decoder>,
    /// UTF-8 bytes to parse (raw bytes for UTF-8 input, decoded bytes otherwise); `buf[..pos]` is consumed.
    buf: Vec<u8>,
    pos: usize,
    /// Offset of `buf[0]` in the (raw for UTF-8, decoded otherwise) stream.
    base: u64,
    /// Offsets (same space as `base`) of replacement characters written for malformed transcoded input.
    malformed: VecDeque<u64>,
    core: CoreReader,
    out: Vec<u8>,
    nout: usize,
    ends: Vec<usize>,
    nend: usize,
    /// The fast path's field ends and dropped quotes for the line being read (see [`CsvReader::read_line`]).
    line_ends: Vec<usize>,
    drops: Vec<usize>,
    in_record: bool,
    rec_byte: u64,
    rec_line: u64,
    /// Current physical line (1-based) at `pos`.
    line: u64,
    /// The last consumed byte was `\r` (so a following `\n` is the same line break).
    prev_cr: bool,
    records: u64,
    headers: Option<Vec<String>>,
    header_line: u64,
    issues: Vec<Issue>,
    done: bool,
    /// Where the record being read by csv-core is with respect to quotes (to tell an unclosed quote at the end).
    quote: QuoteState,
    /// What was seen of quotes in that record.
    marks: QuoteMarks,
    /// Why reading stopped before the end (a record over [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`]), and the message.
    error: Option<(Limit, String)>,
}

/// A limit a record went over, which stops the reader (see [`CsvReader::stopped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A record over [`MAX_RECORD_BYTES`]: nearly always a quote that is not closed.
    RecordBytes,
    /// A record of more than [`MAX_FIELDS`] fields.
    Fields,
}

impl Limit {
    /// Its stable name (`record_too_long`, `too_many_fields`): the `reason` of the import's `E_CSV` error.
    pub fn reason(self) -> &'static str {
        match self {
            Limit::RecordBytes => "record_too_long",
            Limit::Fields => "too_many_fields",
        }
    }
}

/// The longest record read, in bytes of its fields: far above what Customer.io takes in one row (300 attributes of
/// 1000 bytes), so a longer one is nearly always a quote that is not closed, swallowing the lines after it.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// The most fields a record may have (Customer.io takes 300 attributes per row): a bound on the memory a line of
/// delimiters could take.
pub const MAX_FIELDS: usize = 100_000;

/// The quote state of a record as csv-core reads it (its own state is private): enough to tell, at the end of the
/// input, whether the last field is still inside quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum QuoteState {
    /// At the start of a field: a `"` here opens a quoted field.
    #[default]
    FieldStart,
    /// In an unquoted field (a `"` here is a literal).
    Unquoted,
    /// Inside quotes.
    Quoted,
    /// A `"` inside quotes: the closing one, or the first of a doubled `""`.
    QuoteInQuoted,
    /// Spaces or tabs after a closing quote: text here is kept in the field (csv-core reads `"Bob" Smith` as
    /// `Bob Smith`), which well-formed CSV never has.
    AfterQuote,
}

/// What a record's bytes showed of its quotes, on csv-core's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct QuoteMarks {
    /// A line break inside quotes.
    break_in_quotes: bool,
    /// The first field (0-based) with a byte after its closing quote (and any spaces or tabs after it) that is not a
    /// delimiter or a line end (csv-core keeps it in the field; well-formed CSV has none).
    text_after_quote: Option<usize>,
    /// The delimiters seen outside quotes: the index of the field being read.
    field: usize,
}

impl QuoteState {
    /// The state after `bytes` (a record's bytes, in order, in any number of calls), noting in `marks` what is seen.
    fn after(mut self, mut bytes: &[u8], delimiter: u8, marks: &mut QuoteMarks) -> QuoteState {
        use QuoteState::*;
        let ends_field = |c: u8| c == delimiter || c == b'\n' || c == b'\r';
        while let Some((&b, rest)) = bytes.split_first() {
            match self {
                // Up to the next quote nothing changes inside quotes, and outside them only the last byte counts.
                Quoted if b != b'"' => {
                    let q = memchr::memchr(b'"', bytes);
                    let inside = &bytes[..q.unwrap_or(bytes.len())];
                    marks.break_in_quotes |= memchr::memchr2(b'\n', b'\r', inside).is_some();
                    match q {
                        Some(q) => bytes = &bytes[q..],
                        None => return Quoted,
                    }
                }
                FieldStart | Unquoted if b != b'"' => match memchr::memchr(b'"', bytes) {
                    None => {
                        marks.field += memchr::memchr_iter(delimiter, bytes).count();
                        return if ends_field(bytes[bytes.len() - 1]) {
                            FieldStart
                        } else {
                            Unquoted
                        };
                    }
                    Some(q) => {
                        marks.field += memchr::memchr_iter(delimiter, &bytes[..q]).count();
                        self = if ends_field(bytes[q - 1]) { FieldStart } else { Unquoted };
                        bytes = &bytes[q..];
                    }
                },
                _ => {
                    let after_quote = self == QuoteInQuoted || self == AfterQuote;
                    if after_quote && b == delimiter {
                        marks.field += 1;
                    }
                    let doubled = self == QuoteInQuoted && b == b'"';
                    if after_quote && !doubled && !ends_field(b) && b != b' ' && b != b'\t' {
                        marks.text_after_quote.get_or_insert(marks.field);
                    }
                    self = match self {
                        Quoted if b == b'"' => QuoteInQuoted,
                        QuoteInQuoted | FieldStart if b == b'"' => Quoted,
                        _ if ends_field(b) => FieldStart,
                        QuoteInQuoted | AfterQuote if b == b' ' || b == b'\t' => AfterQuote,
                        _ => Unquoted,
                    };
                    bytes = rest;
                }
            }
        }
        self
    }
}

/// A csv-core reader for `delimiter`, already past its first-read BOM check (so chunking cannot change it).
fn core_reader(delimiter: u8) -> CoreReader {
    let mut rdr = ReaderBuilder::new().delimiter(delimiter).quote(b'"').build();
    // The first call of csv-core strips a UTF-8 BOM only if 3 bytes are available, which would depend on the
    // chunking; a leading terminator is skipped in the start state and marks the reader as having read.
    let _ = rdr.read_record(b"\n", &mut [0u8; 1], &mut [0usize; 1]);
    rdr
}

/// Counts line breaks (`\n`, `\r\n`, lone `\r`) in `span`; `prev_cr` carries a `\r` across spans.
#[inline]
fn count_breaks(span: &[u8], prev_cr: &mut bool) -> u64 {
    let Some(&last) = span.last() else {
        return 0;
    };
    let mut n = 0u64;
    for i in memchr::memchr2_iter(b'\n', b'\r', span) {
        if span[i] == b'\r' {
            n += 1;
        } else {
            let after_cr = if i == 0 { *prev_cr } else { span[i - 1] == b'\r' };
            n += u64::from(!after_cr);
        }
    }
    *prev_cr = last == b'\r';
    n
}

/// Detects the encoding of the sniff window; returns it and the length of the UTF-8 BOM to skip.
fn detect_encoding(window: &[u8], forced: Option<Encoding>) -> (Encoding, usize) {
    let utf8_bom = window.starts_with(b"\xEF\xBB\xBF");
    if let Some(enc) = forced {
        let bom = match enc {
            Encoding::Utf8 | Encoding::Utf8Bom if utf8_bom => 3,
            _ => 0,
        };
        return (enc, bom);
    }
    if utf8_bom {
        return (Encoding::Utf8Bom, 3);
    }
    if window.starts_with(b"\xFF\xFE") {
        return (Encoding::Utf16Le, 0);
    }
    if window.starts_with(b"\xFE\xFF") {
        return (Encoding::Utf16Be, 0);
    }
    match std::str::from_utf8(window) {
        Ok(_) => (Encoding::Utf8, 0),
        // A multi-byte character cut at the window's end is still valid UTF-8.
        Err(e) if e.error_len().is_none() => (Encoding::Utf8, 0),
        Err(_) => (Encoding::Windows1252, 0),
    }
}

/// Field counts of the records in `window` parsed with `delimiter`. If `complete` is false the last record
/// (not ended by a terminator) is left out, unless it is the only one.
fn field_counts(window: &[u8], delimiter: u8, complete: bool) -> Vec<usize> {
    let mut rdr = core_reader(delimiter);
    let mut out = [0u8; 1024];
    let mut ends = [0usize; 64];
    let mut counts = Vec::new();
    let mut fields = 0usize;
    let mut input = window;
    let mut eof = false;
    loop {
        let (res, nin, _, nend) = rdr.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        fields += nend;
        match res {
            ReadRecordResult::Record => {
                counts.push(fields);
                fields = 0;
            }
            ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
            ReadRecordResult::InputEmpty => {
                if eof {
                    break;
                }
                if !input.is_empty() {
                    continue;
                }
                if complete || counts.is_empty() {
                    eof = true;
                } else {
                    break;
                }
            }
            ReadRecordResult::End => break,
        }
    }
    counts
}

/// Chooses the delimiter giving the most consistent field count (> 1) across the window's records.
fn sniff_delimiter(window: &[u8], complete: bool) -> u8 {
    // (delimiter, records with the modal count, records, modal count)
    let mut best: Option<(u8, usize, usize, usize)> = None;
    for &d in &CANDIDATES {
        if memchr::memchr(d, window).is_none() {
            continue;
        }
        let counts = field_counts(window, d, complete);
        if counts.is_empty() {
            continue;
        }
        let mut freq: HashMap<usize, usize> = HashMap::new();
        for &c in &counts {
            *freq.entry(c).or_insert(0) += 1;
        }
        // The most frequent count; on ties the header's count, then the larger one.
        let header = counts[0];
        let (mode, hits) = freq
            .into_iter()
            .max_by_key(|&(count, hits)| (hits, count == header, count))
            .unwrap_or((1, 0));
        if mode < 2 {
            continue;
        }
        let n = counts.len();
        let better = match best {
            None => true,
            Some((_, bh, bn, bm)) => {
                // Compare hits / n with bh / bn, then the modal count.
                let (l, r) = (hits as u128 * bn as u128, bh as u128 * n as u128);
                l > r || (l == r && mode > bm)
            }
        };
        if better {
            best = Some((d, hits, n, mode));
        }
    }
    best.map_or(b',', |b| b.0)
}

/// The record terminators (outside quotes) seen in the window.
fn sniff_line_ending(window: &[u8], complete: bool) -> LineEnding {
    let (mut lf, mut crlf, mut cr) = (false, false, false);
    let mut in_quotes = false;
    for i in memchr::memchr3_iter(b'"', b'\r', b'\n', window) {
        match window[i] {
            b'"' => in_quotes = !in_quotes,
            _ if in_quotes => {}
            b'\r' => match window.get(i + 1) {
                Some(b'\n') => crlf = true,
                Some(_) => cr = true,
                None if complete => cr = true,
                None => {}
            },
            _ => {
                if i == 0 || window[i - 1] != b'\r' {
                    lf = true;
                }
            }
        }
    }
    match (lf, crlf, cr) {
        (false, false, false) => LineEnding::None,
        (true, false, false) => LineEnding::Lf,
        (false, true, false) => LineEnding::CrLf,
        (false, false, true) => LineEnding::Cr,
        _ => LineEnding::Mixed,
    }
}

/// Lowercase letters and digits only: `First Name`, `first_name` and `FIRSTNAME` all give `firstname`.
fn near_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Blank, duplicate and near-duplicate header issues.
fn header_issues(headers: &[String], line: u64) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut exact: HashMap<&str, usize> = HashMap::new();
    let mut near: HashMap<String, usize> = HashMap::new();
    for (i, name) in headers.iter().enumerate() {
        if name.trim().is_empty() {
            issues.push(
                Issue::new(
                    IssueCode::HeaderBlank,
                    line,
                    0,
                    format!("expected a column name, found a blank header in column {}", i + 1),
                )
                .at_column(i, name.clone()),
            );
            continue;
        }
        if let Some(&j) = exact.get(name.as_str()) {
            issues.push(
                Issue::new(
                    IssueCode::HeaderDuplicate,
                    line,
                    0,
                    format!(
                        "expected unique column names, found \"{name}\" in column {} which duplicates column {}",
                        i + 1,
                        j + 1
                    ),
                )
                .at_column(i, name.clone()),
            );
            continue;
        }
        exact.insert(name.as_str(), i);
        let key = near_key(name);
        if key.is_empty() {
            continue;
        }
        if let Some(&j) = near.get(&key) {
            issues.push(
                Issue::new(
                    IssueCode::HeaderNearDuplicate,
                    line,
                    0,
                    format!(
                        "expected distinct column names, found \"{name}\" in column {} which differs from \"{}\" in column {} only by case, punctuation or whitespace",
                        i + 1,
                        headers[j],
                        j + 1
                    ),
                )
                .at_column(i, name.clone()),
            );
        } else {
            near.insert(key, i);
        }
    }
    issues
}

impl CsvReader {
    /// A reader with the given options.
    ///
    /// A `sniff_bytes` below 4 is raised to 4 (enough to see any byte-order mark).
    pub fn new(options: CsvOptions) -> Self {
        let sniff = options.sniff_bytes.max(MIN_SNIFF);
        CsvReader {
            options,
            sniff,
            pushed: 0,
            finished: false,
            raw: Vec::new(),
            dialect: None,
            decoder: None,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            malformed: VecDeque::new(),
            core: core_reader(b','),
            out: vec![0; 1024],
            nout: 0,
            ends: vec![0; 64],
            nend: 0,
            line_ends: Vec::new(),
            drops: Vec::new(),
            in_record: false,
            rec_byte: 0,
            rec_line: 0,
            line: 1,
            prev_cr: false,
            records: 0,
            headers: None,
            header_line: 0,
            issues: Vec::new(),
            done: false,
            quote: QuoteState::FieldStart,
            marks: QuoteMarks::default(),
            error: None,
        }
    }

    /// Feed the next chunk of bytes (any size, including empty).
    pub fn push(&mut self, chunk: &[u8]) {
        if self.finished || chunk.is_empty() {
            return;
        }
        self.pushed += chunk.len() as u64;
        if self.dialect.is_none() {
            self.raw.extend_from_slice(chunk);
            if self.raw.len() >= self.sniff {
                self.decide();
            }
            return;
        }
        self.compact();
        if self.decoder.is_some() {
            self.decode(chunk, false);
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Mark the end of the input.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.dialect.is_none() {
            self.decide();
        }
        if self.decoder.is_some() {
            self.decode(&[], true);
        }
    }

    /// Drops the consumed bytes once they are at least half the buffer (amortised O(1) per byte).
    fn compact(&mut self) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
    }

    /// Transcodes `src` to UTF-8 at the end of `buf`, writing U+FFFD for malformed input (and remembering where).
    fn decode(&mut self, mut src: &[u8], last: bool) {
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        loop {
            let need = decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(src.len().saturating_mul(3))
                .clamp(16, 1 << 20);
            let old = self.buf.len();
            self.buf.resize(old + need, 0);
            let (res, read, written) = decoder.decode_to_utf8_without_replacement(src, &mut self.buf[old..], last);
            self.buf.truncate(old + written);
            src = &src[read..];
            match res {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(_, _) => {
                    self.malformed.push_back(self.base + self.buf.len() as u64);
                    self.buf.extend_from_slice("\u{FFFD}".as_bytes());
                }
            }
        }
    }

    /// Decides the encoding and the dialect on the sniff window, and moves the raw bytes into the parse buffer.
    fn decide(&mut self) {
        let raw = std::mem::take(&mut self.raw);
        let wlen = raw.len().min(self.sniff);
        // The window holds the whole input only if it was decided at `finish`.
        let complete = self.finished && wlen == raw.len();
        let (encoding, bom) = detect_encoding(&raw[..wlen], self.options.encoding);
        let (win_start, win_end) = match encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => {
                self.buf = raw;
                self.pos = bom.min(wlen);
                (self.pos, wlen)
            }
            Encoding::Utf16Le | Encoding::Utf16Be | Encoding::Windows1252 => {
                let enc = match encoding {
                    Encoding::Utf16Le => encoding_rs::UTF_16LE,
                    Encoding::Utf16Be => encoding_rs::UTF_16BE,
                    _ => encoding_rs::WINDOWS_1252,
                };
                self.decoder = Some(enc.new_decoder_with_bom_removal());
                self.decode(&raw[..wlen], false);
                let w = self.buf.len();
                self.decode(&raw[wlen..], false);
                (0, w)
            }
        };
        let window = &self.buf[win_start..win_end];
        let delimiter = self
            .options
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(window, complete));
        let line_ending = sniff_line_ending(window, complete);
        self.core = core_reader(delimiter);
        self.dialect = Some(Dialect {
            encoding,
            delimiter,
            quote: b'"',
            line_ending,
        });
    }

    /// Read the next data record into `out`.
    pub fn read(&mut self, out: &mut Record) -> ReadResult {
        if self.done {
            return ReadResult::End;
        }
        if self.dialect.is_none() {
            return ReadResult::NeedMore;
        }
        loop {
            if !self.in_record {
                // Skip blank lines (csv-core would too, but the record's start position must be known).
                while let Some(&b) = self.buf.get(self.pos) {
                    if b == b'\n' {
                        self.line += u64::from(!self.prev_cr);
                        self.prev_cr = false;
                    } else if b == b'\r' {
                        self.line += 1;
                        self.prev_cr = true;
                    } else {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == self.buf.len() {
                    if self.finished {
                        self.done = true;
                        return ReadResult::End;
                    }
                    return ReadResult::NeedMore;
                }
                self.in_record = true;
                self.rec_byte = self.base + self.pos as u64;
                self.rec_line = self.line;
                self.nout = 0;
                self.nend = 0;
                if self.headers.is_some() && self.read_line(out) {
                    return ReadResult::Record;
                }
                if self.read_plain_line() {
                    if let Some(r) = self.end_record(out) {
                        return r;
                    }
                    continue;
                }
                // The record goes through csv-core, from its start.
                self.quote = QuoteState::FieldStart;
                self.marks = QuoteMarks::default();
            }
            let input = &self.buf[self.pos..];
            if input.is_empty() && !self.finished {
                return ReadResult::NeedMore;
            }
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[self.nout..], &mut self.ends[self.nend..]);
            self.line += count_breaks(&input[..nin], &mut self.prev_cr);
            let delimiter = self.delimiter();
            self.quote = self.quote.after(&input[..nin], delimiter, &mut self.marks);
            self.pos += nin;
            self.nout += nout;
            self.nend += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if !self.finished {
                        return ReadResult::NeedMore;
                    }
                }
                ReadRecordResult::OutputFull => {
                    // Full means `nout == out.len()`: past the limit, the record is too long whatever follows.
                    if self.nout > MAX_RECORD_BYTES {
                        return self.too_long();
                    }
                    let len = (self.out.len().max(64) * 2).min(MAX_RECORD_BYTES + 1);
                    self.out.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.nend > MAX_FIELDS {
                        return self.too_long();
                    }
                    let len = (self.ends.len().max(8) * 2).min(MAX_FIELDS + 1);
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => {
                    if self.nout > MAX_RECORD_BYTES || self.nend > MAX_FIELDS {
                        return self.too_long();
                    }
                    // A record that ends with the input while a field is still inside quotes: its quote was never
                    // closed, and the field took in every line after it.
                    let unclosed = self.finished && self.pos == self.buf.len() && self.quote == QuoteState::Quoted;
                    // Text after a closing quote, in a record whose quotes held a line break: a stray quote took in
                    // the lines up to the next quote.
                    let stray = self.marks.break_in_quotes && self.marks.text_after_quote.is_some();
                    let after_quote = if stray { None } else { self.marks.text_after_quote };
                    if let Some(r) = self.end_record(out) {
                        out.unclosed_quote = unclosed;
                        out.stray_quote = stray;
                        out.text_after_quote = after_quote;
                        return r;
                    }
                }
                ReadRecordResult::End => {
                    self.in_record = false;
                    self.done = true;
                    return ReadResult::End;
                }
            }
        }
    }

    /// The fast path for the common record, complete in the buffer and ended by `\n` or `\r\n`: unquoted fields
    /// are found with memchr, quoted ones (`"…"`, with `""` for a quote, line breaks allowed) by searching for the
    /// next quote, instead of csv-core's byte-at-a-time state machine (a fifth of the core's time on typical
    /// files). The fields are exactly what csv-core gives for such a record. Anything else (a lone `\r`, text
    /// after a closing quote, a record not yet complete) returns false with nothing consumed, and the record goes
    /// through csv-core, which is at a record start here either way: its state after a record (`EndRecord` or
    /// `CRLF`) moves to `StartRecord` on the next byte without consuming it, and blank lines are skipped before
    /// it sees them.
    fn read_plain_line(&mut self) -> bool {
        let delimiter = self.delimiter();
        let input = &self.buf[self.pos..];
        let (out, ends) = (&mut self.out, &mut self.ends);
        let (mut i, mut nout, mut nend) = (0, 0, 0);
        let mut quoted = false;
        // Both buffers grow to what this record needs: csv-core's OutputFull / OutputEndsFull do not happen here.
        loop {
            // `i` is at the start of a field; find its end (the delimiter or terminator after it).
            let stop = if input.get(i) == Some(&b'"') {
                quoted = true;
                i += 1;
                loop {
                    let Some(q) = memchr::memchr(b'"', &input[i..]) else {
                        return false; // the closing quote is not in the buffer yet
                    };
                    let part = &input[i..i + q];
                    if out.len() < nout + part.len() + 1 {
                        out.resize((nout + part.len() + 1) * 2, 0);
                    }
                    out[nout..nout + part.len()].copy_from_slice(part);
                    nout += part.len();
                    i += q + 1;
                    if input.get(i) == Some(&b'"') {
                        out[nout] = b'"';
                        nout += 1;
                        i += 1;
                        continue;
                    }
                    break;
                }
                match input.get(i) {
                    Some(&b) if b == delimiter || b == b'\n' || b == b'\r' => i,
                    _ => return false, // text after the closing quote, or the end of the buffer
                }
            } else {
                let Some(d) = memchr::memchr3(delimiter, b'\r', b'\n', &input[i..]) else {
                    return false; // the record's end is not in the buffer yet
                };
                let part = &input[i..i + d];
                if out.len() < nout + part.len() {
                    out.resize((nout + part.len()) * 2, 0);
                }
                out[nout..nout + part.len()].copy_from_slice(part);
                nout += part.len();
                i + d
            };
            if nend == ends.len() {
                ends.resize(ends.len().max(8) * 2, 0);
            }
            ends[nend] = nout;
            nend += 1;
            match input[stop] {
                b'\n' => {
                    i = stop + 1;
                    break;
                }
                b'\r' if input.get(stop + 1) == Some(&b'\n') => {
                    i = stop + 2;
                    break;
                }
                b'\r' => return false, // a lone `\r`: csv-core's business
                _ => i = stop + 1,     // the delimiter: next field
            }
        }
        if nout > MAX_RECORD_BYTES || nend > MAX_FIELDS {
            // (bounded meanwhile: the record is complete in the reader's buffer)
            return false; // csv-core stops on it with the error
        }
        self.nout = nout;
        self.nend = nend;
        if quoted {
            // Quoted fields may hold line breaks: count them as csv-core's path does.
            self.line += count_breaks(&input[..i], &mut self.prev_cr);
        } else {
            self.line += 1;
            self.prev_cr = false;
        }
        self.pos += i;
        true
    }

    /// The fastest path, for a data record on one line, complete in the buffer and ended by `\n` or `\r\n` (nearly
    /// every record): the line's delimiters, quotes and non-ASCII bytes are found 64 bytes at a time ([`scan`]), and
    /// the line goes into `out` as it is, less the quotes that are CSV's (opening a field, closing it, the first of
    /// a `""`), with the delimiters left in place and their positions as the field ends. The fields are the ones
    /// csv-core gives for such a line. Anything else (a quote inside an unquoted field, text after a closing quote,
    /// a line break inside quotes, a lone `\r`, bytes that are not UTF-8) returns false with nothing consumed and
    /// `out` untouched.
    fn read_line(&mut self, out: &mut Record) -> bool {
        let delimiter = self.delimiter();
        let input = &self.buf[self.pos..];
        let Some(nl) = memchr::memchr(b'\n', input) else {
            return false;
        };
        let len = if nl > 0 && input[nl - 1] == b'\r' { nl - 1 } else { nl };
        if len >= MAX_FIELDS || !delimiter.is_ascii() {
            // A long line (rare) goes the exact way, which also tells whether it has too many fields or bytes; a
            // delimiter that is not ASCII could split a character.
            return false;
        }
        // The line's structure: field ends (as positions in the line, less the quotes dropped before them) and the
        // quotes to drop.
        let (ends, drops) = (&mut self.line_ends, &mut self.drops);
        ends.clear();
        drops.clear();
        let mut field_start = 0;
        let mut quoted = false;
        let mut doubled = usize::MAX; // the second quote of a `""` inside quotes
        let mut high = 0u64;
        let mut base = 0;
        while base < len {
            let n = (len - base).min(64);
            let m = scan::marks(&input[base..], n, delimiter);
            if m.returns != 0 {
                return false; // a lone `\r` (or one inside quotes): csv-core's business
            }
            high |= m.high;
            let mut bits = m.delimiters | m.quotes;
            while bits != 0 {
                let i = bits.trailing_zeros();
                bits &= bits - 1;
                let p = base + i as usize;
                let quote = m.quotes >> i & 1 == 1;
                if quoted {
                    if !quote || p == doubled {
                        continue; // a delimiter inside quotes, or the quote a `""` keeps
                    }
                    drops.push(p);
                    match input[p + 1] {
                        b'"' if p + 1 < len => doubled = p + 1,
                        _ if p + 1 == len => quoted = false,
                        b if b == delimiter => quoted = false,
                        _ => return false, // text after the closing quote
                    }
                } else if quote {
                    if p != field_start {
                        return false; // a quote inside an unquoted field
                    }
                    drops.push(p);
                    quoted = true;
                } else {
                    ends.push(p - drops.len());
                    field_start = p + 1;
                }
            }
            base += n;
        }
        if quoted {
            return false; // the quote is closed on a later line (or never)
        }
        ends.push(len - drops.len());
        let bytes = &input[..len];
        let line = if high == 0 {
            // SAFETY: no byte of the line has its high bit set (the marks' `high`), and ASCII is valid UTF-8.
            unsafe { std::str::from_utf8_unchecked(bytes) }
        } else {
            match std::str::from_utf8(bytes) {
                Ok(line) => line,
                Err(_) => return false,
            }
        };
        out.text.clear();
        let mut copied = 0;
        for &q in drops.iter() {
            // (a quote is one byte: the text either side of it is whole characters)
            append_str(&mut out.text, &line[copied..q]);
            copied = q + 1;
        }
        append_str(&mut out.text, &line[copied..]);
        std::mem::swap(&mut out.ends, ends);
        out.gap = 1;
        self.line += 1;
        self.prev_cr = false;
        self.pos += nl + 1;
        let invalid = self.close_record();
        self.records += 1;
        self.stamp(out, invalid);
        true
    }

    /// Give `out` the position of the record just read, and its encoding flag.
    fn stamp(&self, out: &mut Record, invalid: bool) {
        out.line = self.rec_line;
        out.record = self.records;
        out.byte = self.rec_byte;
        out.invalid_encoding = invalid;
        out.unclosed_quote = false;
        out.stray_quote = false;
        out.text_after_quote = None;
    }

    /// Stop reading: the record being read is over [`MAX_RECORD_BYTES`] or [`MAX_FIELDS`] (see
    /// [`CsvReader::stopped`]).
    fn too_long(&mut self) -> ReadResult {
        self.error = Some(if self.nend > MAX_FIELDS {
            let m = format!(
                "expected records of at most {MAX_FIELDS} fields, found more in the one starting on line {}",
                self.rec_line
            );
            (Limit::Fields, m)
        } else {
            let m = format!(
                "expected records of at most {} MiB, found a longer one starting on line {}: a quote is probably \
                 not closed (a field that starts with \" ends at the next \" that is not doubled)",
                MAX_RECORD_BYTES >> 20,
                self.rec_line
            );
            (Limit::RecordBytes, m)
        });
        self.in_record = false;
        self.done = true;
        ReadResult::End
    }

    /// Why reading stopped before the end of the input, if it did: the limit a record went over
    /// ([`MAX_RECORD_BYTES`], nearly always a quote that is not closed, or [`MAX_FIELDS`]) and the message. The
    /// records before it were read.
    pub fn stopped(&self) -> Option<(Limit, &str)> {
        self.error.as_ref().map(|(l, m)| (*l, m.as_str()))
    }

    /// The delimiter of the detected dialect (`,` until it is decided).
    fn delimiter(&self) -> u8 {
        self.dialect.as_ref().map_or(b',', |d| d.delimiter)
    }

    /// The record read ends here: true if the decoder found malformed bytes in it.
    fn close_record(&mut self) -> bool {
        self.in_record = false;
        let end = self.base + self.pos as u64;
        let mut invalid = false;
        while self.malformed.front().is_some_and(|&m| m < end) {
            self.malformed.pop_front();
            invalid = true;
        }
        invalid
    }

    /// A record has been parsed into `out`/`ends`: the header row is kept, a data record is written to `out`
    /// (`Some`); `None` means read on.
    fn end_record(&mut self, out: &mut Record) -> Option<ReadResult> {
        let invalid = self.close_record();
        if self.headers.is_none() {
            self.set_headers();
            return None;
        }
        self.records += 1;
        self.fill(out, invalid);
        Some(ReadResult::Record)
    }

    /// Copies the parsed record into `out` (lossily, flagging it, if it is not valid UTF-8).
    fn fill(&self, out: &mut Record, invalid: bool) {
        self.stamp(out, invalid);
        out.text.clear();
        out.ends.clear();
        out.gap = 0;
        let bytes = &self.out[..self.nout];
        let ends = &self.ends[..self.nend];
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.text.push_str(s);
                out.ends.extend_from_slice(ends);
            }
            Err(_) => {
                let mut start = 0;
                for &e in ends {
                    out.text.push_str(&String::from_utf8_lossy(&bytes[start..e]));
                    out.ends.push(out.text.len());
                    start = e;
                }
                out.invalid_encoding = true;
            }
        }
    }

    fn set_headers(&mut self) {
        let bytes = &self.out[..self.nout];
        let mut start = 0;
        let mut headers = Vec::with_capacity(self.nend);
        for &e in &self.ends[..self.nend] {
            headers.push(String::from_utf8_lossy(&bytes[start..e]).into_owned());
            start = e;
        }
        if let Some(first) = headers.first_mut() {
            if let Some(rest) = first.strip_prefix('\u{FEFF}') {
                *first = rest.to_string();
            }
        }
        self.header_line = self.rec_line;
        self.issues = header_issues(&headers, self.rec_line);
        self.headers = Some(headers);
    }

    /// The dialect, once decided (after `sniff_bytes` bytes or `finish`).
    pub fn dialect(&self) -> Option<&Dialect> {
        self.dialect.as_ref()
    }

    /// The header names, once the header row has been read (BOM stripped, not trimmed otherwise).
    pub fn headers(&self) -> Option<&[String]> {
        self.headers.as_deref()
    }

    /// Header issues (blank, duplicate, near-duplicate), available with [`CsvReader::headers`].
    pub fn header_issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The 1-based line of the header row, once it has been read.
    pub fn header_line(&self) -> Option<u64> {
        self.headers.as_ref().map(|_| self.header_line)
    }

    /// Total bytes pushed so far.
    pub fn bytes_pushed(&self) -> u64 {
        self.pushed
    }

    /// Bytes pushed but not yet consumed as records (for backpressure).
    ///
    /// Before the dialect is decided these are raw bytes; after, bytes of the parse buffer (decoded UTF-8 for
    /// transcoded input).
    pub fn bytes_buffered(&self) -> usize {
        if self.dialect.is_none() {
            self.raw.len()
        } else {
            self.buf.len() - self.pos
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_breaks_table() {
        // (spans, expected breaks): spans are counted in sequence, carrying a `\r`.
        let cases: &[(&[&[u8]], u64)] = &[
            (&[b""], 0),
            (&[b"abc"], 0),
            (&[b"\n"], 1),
            (&[b"\r"], 1),
            (&[b"\r\n"], 1),
            (&[b"\n\r"], 2),
            (&[b"\r\r\n\n"], 3),
            (&[b"a\r", b"\nb"], 1),
            (&[b"a\r", b"", b"\nb"], 1),
            (&[b"\r", b"\r", b"\n"], 2),
            (&[b"x\"\r\n\"y\n"], 2),
        ];
        for (spans, want) in cases {
            let mut prev_cr = false;
            let got: u64 = spans.iter().map(|s| count_breaks(s, &mut prev_cr)).sum();
            assert_eq!(got, *want, "{spans:?}");
        }
    }

    #[test]
    fn detect_encoding_table() {
        use Encoding::*;
        let cases: &[(&[u8], Option<Encoding>, Encoding, usize)] = &[
            (b"", None, Utf8, 0),
            (b"id,name\n", None, Utf8, 0),
            (b"\xEF\xBB\xBFid", None, Utf8Bom, 3),
            (b"\xFF\xFEi\0", None, Utf16Le, 0),
            (b"\xFE\xFF\0i", None, Utf16Be, 0),
            (b"caf\xC3\xA9", None, Utf8, 0),
            // Cut in the middle of a multi-byte character: still UTF-8.
            (b"caf\xC3", None, Utf8, 0),
            (b"\xE2\x82", None, Utf8, 0),
            (b"caf\xE9,x", None, Windows1252, 0),
            (b"\x80abc", None, Windows1252, 0),
            (b"\xEF\xBB\xBFid", Some(Utf8), Utf8, 3),
            (b"id", Some(Utf8Bom), Utf8Bom, 0),
            (b"caf\xE9", Some(Utf8), Utf8, 0),
            (b"id", Some(Windows1252), Windows1252, 0),
        ];
        for &(window, forced, want, bom) in cases {
            assert_eq!(detect_encoding(window, forced), (want, bom), "{window:?}");
        }
    }

    #[test]
    fn sniff_delimiter_table() {
        let cases: &[(&[u8], bool, u8)] = &[
            (b"", true, b','),
            (b"email\na@b.c\n", true, b','),
            (b"a,b,c\n1,2,3\n", true, b','),
            (b"a;b\n1;2\n", true, b';'),
            (b"id;price\n1;2,50\n2;3,75", true, b';'),
            (b"id;price;q\n1;2,50;3,1\n2;3,75;1,0\n", true, b';'),
            (b"a\tb\n1\thello, world\n2\tx\n", true, b'\t'),
            (b"a|b\n1|2,5\n", true, b'|'),
            // Quote-aware: the `;` are inside quotes.
            (b"name,desc\nx,\"a;b;c\"\ny,\"d;e;f\"\n", true, b','),
            (b"name;desc\nx;\"a,b,c\"\ny;\"d,e\"\n", true, b';'),
            // A truncated last record is ignored when the window is not the whole input.
            (b"a;b\n1;2\n3;4,5,6,7,8", false, b';'),
            // A single (truncated) line is still used when it is all there is.
            (b"a;b;c;d", false, b';'),
            // One column, a stray `;` in one value: the header's count breaks the tie.
            (b"email\na;b@x.io\n", true, b','),
            (b"a;b\n1;2\n3\n", true, b';'),
            // One column with commas in quotes.
            (b"note\n\"a,b\"\n\"c,d\"\n", true, b','),
        ];
        for &(window, complete, want) in cases {
            assert_eq!(
                sniff_delimiter(window, complete) as char,
                want as char,
                "{:?}",
                String::from_utf8_lossy(window)
            );
        }
    }

    #[test]
    fn sniff_line_ending_table() {
        use LineEnding::*;
        let cases: &[(&[u8], bool, LineEnding)] = &[
            (b"", true, None),
            (b"a,b", true, None),
            (b"a\nb\n", true, Lf),
            (b"a\r\nb\r\n", true, CrLf),
            (b"a\rb\r", true, Cr),
            (b"a\nb\r\n", true, Mixed),
            (b"a\r\nb\"x\ny\"\r\n", true, CrLf),
            // A `\r` at the end of a truncated window may be half of `\r\n`.
            (b"a\r\nb\r", false, CrLf),
            (b"a\r\nb\r", true, Mixed),
        ];
        for &(window, complete, want) in cases {
            assert_eq!(sniff_line_ending(window, complete), want, "{window:?}");
        }
    }

    #[test]
    fn near_key_table() {
        let cases = [
            ("id", "id"),
            ("ID", "id"),
            ("First Name", "firstname"),
            ("first_name", "firstname"),
            ("first-name ", "firstname"),
            ("Émail", "émail"),
            ("--", ""),
        ];
        for (name, want) in cases {
            assert_eq!(near_key(name), want, "{name}");
        }
    }

    #[test]
    fn header_issues_table() {
        use IssueCode::*;
        type Row = (IssueCode, usize);
        let cases: &[(&[&str], &[Row])] = &[
            (&["id", "name"], &[]),
            (
                &["id", "Id", "ID"],
                &[(HeaderNearDuplicate, 1), (HeaderNearDuplicate, 2)],
            ),
            (&["a", "a", "a"], &[(HeaderDuplicate, 1), (HeaderDuplicate, 2)]),
            (&["", "x", "  "], &[(HeaderBlank, 0), (HeaderBlank, 2)]),
            (&["first_name", "First Name"], &[(HeaderNearDuplicate, 1)]),
            (&["a", "A", "a"], &[(HeaderNearDuplicate, 1), (HeaderDuplicate, 2)]),
            (&["-", "_"], &[]),
        ];
        for &(names, want) in cases {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let issues = header_issues(&names, 7);
            let got: Vec<Row> = issues.iter().map(|i| (i.code, i.column.unwrap())).collect();
            assert_eq!(got, want, "{names:?}");
            for i in &issues {
                assert_eq!((i.line, i.record), (7, 0));
                assert_eq!(i.severity, i.code.severity());
                assert_eq!(i.column_name.as_deref(), Some(names[i.column.unwrap()].as_str()));
            }
        }
        let issues = header_issues(&["id".into(), "x".into(), "id".into()], 1);
        assert_eq!(
            issues[0].message,
            "expected unique column names, found \"id\" in column 3 which duplicates column 1"
        );
    }

    #[test]
    fn read_before_sniff_window_is_full_needs_more() {
        let mut r = CsvReader::new(CsvOptions {
            sniff_bytes: 10,
            ..CsvOptions::default()
        });
        let mut rec = Record::default();
        r.push(b"a,b\n1,2\n");
        assert_eq!(r.dialect(), None);
        assert_eq!(r.read(&mut rec), ReadResult::NeedMore);
        assert_eq!(r.bytes_buffered(), 8);
        r.push(b"3,4\n");
        assert_eq!(r.dialect().map(|d| d.delimiter), Some(b','));
        assert_eq!(r.read(&mut rec), ReadResult::Record);
        assert_eq!(r.headers(), Some(&["a".to_string(), "b".to_string()][..]));
        assert_eq!((rec.line, rec.record, rec.byte), (2, 1, 4));
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.read(&mut rec), ReadResult::Record);
        assert_eq!((rec.line, rec.record, rec.byte), (3, 2, 8));
        assert_eq!(r.read(&mut rec), ReadResult::NeedMore);
        assert_eq!(r.bytes_buffered(), 0);
        r.finish();
        r.push(b"ignored\n");
        assert_eq!(r.bytes_pushed(), 12);
        assert_eq!(r.read(&mut rec), ReadResult::End);
    }

    #[test]
    fn long_records_grow_buffers() {
        let field = "x".repeat(5000);
        let row: Vec<&str> = std::iter::repeat_n(field.as_str(), 100).collect();
        let input = format!("h\n{}\n", row.join(","));
        let mut r = CsvReader::new(CsvOptions::default());
        let mut rec = Record::default();
        for c in input.as_bytes().chunks(777) {
            r.push(c);
        }
        r.finish();
        assert_eq!(r.read(&mut rec), ReadResult::Record);
        assert_eq!(rec.len(), 100);
        assert!(rec.iter().all(|f| f == field));
        assert_eq!(r.read(&mut rec), ReadResult::End);
    }
}

#[cfg(test)]
mod quote_state_tests {
    use super::QuoteMarks;
    use super::QuoteState::{self, *};

    /// The state machine one byte at a time: what `after` must equal.
    fn reference(mut q: QuoteState, bytes: &[u8], delimiter: u8, marks: &mut QuoteMarks) -> QuoteState {
        for &b in bytes {
            let ends_field = b == delimiter || b == b'\n' || b == b'\r';
            if q == Quoted && (b == b'\n' || b == b'\r') {
                marks.break_in_quotes = true;
            }
            let after_quote = q == QuoteInQuoted || q == AfterQuote;
            if after_quote && !(q == QuoteInQuoted && b == b'"') && !ends_field && b != b' ' && b != b'\t' {
                marks.text_after_quote.get_or_insert(marks.field);
            }
            if q != Quoted && b == delimiter {
                marks.field += 1;
            }
            q = match q {
                Quoted if b == b'"' => QuoteInQuoted,
                Quoted => Quoted,
                QuoteInQuoted | FieldStart if b == b'"' => Quoted,
                _ if ends_field => FieldStart,
                QuoteInQuoted | AfterQuote if b == b' ' || b == b'\t' => AfterQuote,
                _ => Unquoted,
            };
        }
        q
    }

    proptest::proptest! {
        #[test]
        fn after_is_the_byte_at_a_time_machine(
            bytes in proptest::collection::vec(proptest::sample::select(b"a;,\"\n\rx \t".to_vec()), 0..40),
            cut in 0usize..40,
            start in 0usize..5,
        ) {
            let start = [FieldStart, Unquoted, Quoted, QuoteInQuoted, AfterQuote][start];
            for delimiter in [b',', b';'] {
                let cut = cut.min(bytes.len());
                let (mut m1, mut m2, mut m3) = (QuoteMarks::default(), QuoteMarks::default(), QuoteMarks::default());
                let split = start.after(&bytes[..cut], delimiter, &mut m1).after(&bytes[cut..], delimiter, &mut m1);
                let want = reference(start, &bytes, delimiter, &mut m2);
                proptest::prop_assert_eq!((split, m1), (want, m2));
                proptest::prop_assert_eq!((start.after(&bytes, delimiter, &mut m3), m3), (want, m2));
            }
        }
    }
}
