//! Incremental CSV input: bytes pushed in chunks of any size come out as records with their positions.
//!
//! Detects the encoding (UTF-8 with or without BOM, UTF-16 LE/BE with BOM, Windows-1252 when the sniffed
//! prefix is not valid UTF-8), the delimiter (`,` `;` tab `|`, quote-aware), the line endings, and reads the
//! header row. Pushing one byte at a time gives exactly the same result as pushing the whole file at once.

use crate::issue::Issue;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// 1-based physical line on which the record starts.
    pub line: u64,
    /// 1-based data record number (the header is record 0; blank lines are not records).
    pub record: u64,
    /// Byte offset of the record's start in the original input.
    pub byte: u64,
    /// Set when the record's bytes were not valid in the detected encoding; the fields then hold a lossy decoding.
    pub invalid_encoding: bool,
    text: String,
    ends: Vec<usize>,
}

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
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }
    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i).unwrap_or(""))
    }
    /// Replace the contents (used by the reader and by tests).
    pub fn set_fields<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) {
        self.text.clear();
        self.ends.clear();
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

/// The push-based CSV reader.
#[derive(Debug)]
pub struct CsvReader {
    _private: (),
}

impl CsvReader {
    /// A reader with the given options.
    pub fn new(options: CsvOptions) -> Self {
        let _ = options;
        todo!("csv_input")
    }
    /// Feed the next chunk of bytes (any size, including empty).
    pub fn push(&mut self, chunk: &[u8]) {
        let _ = chunk;
        todo!("csv_input")
    }
    /// Mark the end of the input.
    pub fn finish(&mut self) {
        todo!("csv_input")
    }
    /// Read the next data record into `out`.
    pub fn read(&mut self, out: &mut Record) -> ReadResult {
        let _ = out;
        todo!("csv_input")
    }
    /// The dialect, once decided (after `sniff_bytes` bytes or `finish`).
    pub fn dialect(&self) -> Option<&Dialect> {
        todo!("csv_input")
    }
    /// The header names, once the header row has been read (BOM stripped, not trimmed otherwise).
    pub fn headers(&self) -> Option<&[String]> {
        todo!("csv_input")
    }
    /// Header issues (blank, duplicate, near-duplicate), available with [`CsvReader::headers`].
    pub fn header_issues(&self) -> &[Issue] {
        todo!("csv_input")
    }
    /// Total bytes pushed so far.
    pub fn bytes_pushed(&self) -> u64 {
        todo!("csv_input")
    }
    /// Bytes pushed but not yet consumed as records (for backpressure).
    pub fn bytes_buffered(&self) -> usize {
        todo!("csv_input")
    }
}
