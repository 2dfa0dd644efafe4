//! Row validation against Customer.io's rules: cells become typed values, and every problem becomes an
//! [`Issue`] (the row is checked completely; validation never stops at the first problem).

use crate::bytes::append_str;
use crate::csv_input::Record;
use crate::issue::{Issue, IssueCode, Severity};
use crate::mapping::{
    parse_bool, parse_float, parse_int, trim, EventNameSource, IdKind, Kind, Mapping, Role, ValueType,
};
use crate::timestamp::{DefaultZone, TimestampOptions, TimestampParser};

/// Customer.io's limits (../shared/CUSTOMERIO.md §4); configurable, defaulting to the documented values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Identifier bytes.
    pub identifier_bytes: usize,
    /// Attribute name bytes.
    pub attribute_name_bytes: usize,
    /// Attribute value bytes (people).
    pub attribute_value_bytes: usize,
    /// Attributes per row.
    pub attributes_per_row: usize,
    /// Event name bytes.
    pub event_name_bytes: usize,
    /// Serialized event data bytes.
    pub event_data_bytes: usize,
    /// Serialized payload item bytes.
    pub item_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            identifier_bytes: 150,
            attribute_name_bytes: 150,
            attribute_value_bytes: 1000,
            attributes_per_row: 300,
            event_name_bytes: 100,
            event_data_bytes: 100_000,
            item_bytes: 32_000,
        }
    }
}

/// One typed cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// The cell's text (trimmed of nothing), taken from the record at the column's index.
    Str,
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A number whose cell (trimmed) is already what JSON would write for it: see [`is_canonical_decimal`].
    Decimal,
    /// A boolean.
    Bool(bool),
    /// JSON `null` (an empty cell with `empty_as_null`).
    Null,
    /// A date, in unix seconds.
    Date(i64),
}

/// A row after validation, ready for a payload builder. Reused between rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedRow {
    /// The identifier (trimmed).
    pub identifier: String,
    /// The event name (trimmed), events only.
    pub event_name: String,
    /// When it happened (unix ms), if the row has a timestamp.
    pub timestamp_ms: Option<i64>,
    /// The source's event id, if mapped and present.
    pub event_id: Option<String>,
    /// Attribute values by column index, in column order (empty cells left out unless `empty_as_null`).
    pub values: Vec<(usize, Value)>,
    /// The row has at least one warning.
    pub warned: bool,
    /// The row is inside the 72-hour campaign window.
    pub in_campaign_window: bool,
    /// The row's timestamp is older than 30 days (it will not show in the activity log).
    pub older_than_30_days: bool,
}

const HOUR_MS: i64 = 3_600_000;
const MS_1971: i64 = 31_536_000_000;

/// Validates rows of one file under one mapping.
#[derive(Debug)]
pub struct Validator {
    mapping: Mapping,
    headers_len: usize,
    limits: Limits,
    now_ms: i64,
    skip_campaign_window: bool,
    ts_parser: Option<TimestampParser>,
    /// A parser per date column (their day/month orders may differ).
    date_parsers: Vec<Option<TimestampParser>>,
    name_too_long: Vec<bool>,
}

/// Options for [`Validator::new`].
#[derive(Debug, Clone)]
pub struct ValidatorOptions {
    /// Customer.io's limits.
    pub limits: Limits,
    /// The clock, for the campaign window and future checks (unix ms).
    pub now_ms: i64,
    /// Reject (code `skipped`) rows inside the 72-hour campaign window.
    pub skip_campaign_window: bool,
    /// Zone for timestamps without one.
    pub default_zone: DefaultZone,
    /// Forced day/month order.
    pub date_order: Option<crate::timestamp::DateOrder>,
}

impl Validator {
    /// A validator for `mapping` over a file with `headers_len` columns.
    pub fn new(mapping: Mapping, headers_len: usize, options: ValidatorOptions) -> Self {
        let parser_for = |i: usize| {
            let detected = mapping.columns[i].detected_format.and_then(|d| d.date_order);
            TimestampParser::new(TimestampOptions {
                default_zone: options.default_zone.clone(),
                date_order: options.date_order.or(detected),
            })
        };
        let ts_parser = mapping.timestamp.map(parser_for);
        let date_parsers = mapping
            .columns
            .iter()
            .map(|c| (c.role == Role::Attribute && c.ty == ValueType::Date).then(|| parser_for(c.index)))
            .collect();
        let name_too_long = mapping
            .columns
            .iter()
            .map(|c| c.key_path.iter().any(|k| k.len() > options.limits.attribute_name_bytes))
            .collect();
        Validator {
            mapping,
            headers_len,
            limits: options.limits,
            now_ms: options.now_ms,
            skip_campaign_window: options.skip_campaign_window,
            ts_parser,
            date_parsers,
            name_too_long,
        }
    }

    /// The mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Check `rec`, fill `row`, and append every issue to `issues`. Returns false if the row is rejected.
    pub fn check(&self, rec: &Record, row: &mut PreparedRow, issues: &mut Vec<Issue>) -> bool {
        let start = issues.len();
        let (line, record) = (rec.line, rec.record);
        let m = &self.mapping;
        row.values.clear();
        row.identifier.clear();
        row.event_name.clear();
        row.timestamp_ms = None;
        row.event_id = None;
        row.warned = false;
        row.in_campaign_window = false;
        row.older_than_30_days = false;
        let col_issue = |code: IssueCode, i: usize, msg: String| {
            Issue::new(code, line, record, msg).at_column(i, m.columns[i].header.clone())
        };

        if (rec.invalid_encoding || rec.unclosed_quote || rec.stray_quote) && !flagged_record(rec, issues) {
            return false;
        }
        if rec.len() != self.headers_len {
            issues.push(Issue::new(
                IssueCode::FieldCount,
                line,
                record,
                format!(
                    "expected {} fields (as in the header), found {}",
                    self.headers_len,
                    rec.len()
                ),
            ));
            // Cells cannot be trusted to be in their columns: nothing more to check.
            return false;
        }
        if let Some(i) = rec.text_after_quote.filter(|&i| i < rec.len()) {
            issues.push(col_issue(
                IssueCode::TextAfterQuote,
                i,
                format!(
                    "expected a delimiter or the end of the row after a closing quote, found text: the cell is read \
                     as {:?} (a quote inside a cell is written twice: \"\")",
                    clip(rec.get(i).unwrap_or(""))
                ),
            ));
        }

        // Identifier.
        let (id_col, id_kind) = m.identifier;
        let id = trim(rec.get(id_col).unwrap_or(""));
        if id.is_empty() {
            issues.push(col_issue(
                IssueCode::IdMissing,
                id_col,
                format!("expected {} identifier, found an empty cell", article(id_kind)),
            ));
        } else if id.len() > self.limits.identifier_bytes {
            issues.push(col_issue(
                IssueCode::IdTooLong,
                id_col,
                format!(
                    "expected an identifier of at most {} bytes, found {} bytes",
                    self.limits.identifier_bytes,
                    id.len()
                ),
            ));
        } else if id_kind == IdKind::Email && !plausible_email(id) {
            issues.push(col_issue(
                IssueCode::EmailInvalid,
                id_col,
                format!("expected an email address, found {:?}", clip(id)),
            ));
        }
        append_str(&mut row.identifier, id);

        // Event name.
        if m.kind == Kind::Events {
            match &m.event_name {
                Some(EventNameSource::Fixed(name)) => append_str(&mut row.event_name, name),
                Some(EventNameSource::Column(c)) => {
                    let name = trim(rec.get(*c).unwrap_or(""));
                    if name.is_empty() {
                        issues.push(col_issue(
                            IssueCode::EventNameMissing,
                            *c,
                            "expected an event name, found an empty cell".into(),
                        ));
                    } else if name.len() > self.limits.event_name_bytes {
                        issues.push(col_issue(
                            IssueCode::EventNameTooLong,
                            *c,
                            format!(
                                "expected an event name of at most {} bytes, found {} bytes",
                                self.limits.event_name_bytes,
                                name.len()
                            ),
                        ));
                    }
                    append_str(&mut row.event_name, name);
                }
                None => {}
            }
            if let Some(c) = m.event_id {
                let v = trim(rec.get(c).unwrap_or(""));
                if !v.is_empty() {
                    row.event_id = Some(v.to_string());
                }
            }
        }

        // Timestamp.
        if let (Some(c), Some(parser)) = (m.timestamp, &self.ts_parser) {
            let cell = trim(rec.get(c).unwrap_or(""));
            if cell.is_empty() {
                if m.kind == Kind::Events {
                    issues.push(col_issue(
                        IssueCode::TimestampInvalid,
                        c,
                        "expected when the event happened, found an empty cell (it would be recorded as now)".into(),
                    ));
                }
            } else {
                match parser.parse(cell) {
                    Ok(ms) => {
                        row.timestamp_ms = Some(ms);
                        self.check_time(ms, c, row, issues, &col_issue);
                    }
                    Err(e) => issues.push(col_issue(IssueCode::TimestampInvalid, c, e.message)),
                }
            }
        }

        // Attributes.
        let mut count = 0usize;
        for col in &m.columns {
            if col.role != Role::Attribute {
                continue;
            }
            let raw = rec.get(col.index).unwrap_or("");
            let cell = if col.ty == ValueType::String { raw } else { trim(raw) };
            if cell.is_empty() {
                if m.empty_as_null {
                    row.values.push((col.index, Value::Null));
                }
                continue;
            }
            count += 1;
            if self.name_too_long[col.index] {
                issues.push(col_issue(
                    IssueCode::AttributeNameTooLong,
                    col.index,
                    format!(
                        "expected an attribute name of at most {} bytes, found {} bytes",
                        self.limits.attribute_name_bytes,
                        col.header.len()
                    ),
                ));
            }
            // Measured as sent: a text value with its quotes and escapes (the strict reading of the limit).
            if m.kind == Kind::People && cell.len() + 2 > self.limits.attribute_value_bytes {
                let size = if col.ty == ValueType::String {
                    json_string_len(cell)
                } else {
                    cell.len()
                };
                if size > self.limits.attribute_value_bytes {
                    issues.push(col_issue(
                        IssueCode::AttributeValueTooLong,
                        col.index,
                        format!(
                            "expected a value of at most {} bytes (as json), found {size} bytes",
                            self.limits.attribute_value_bytes
                        ),
                    ));
                }
            }
            let v = match col.ty {
                ValueType::String => Some(Value::Str),
                ValueType::Integer => parse_int(cell).map(Value::Int),
                // Most decimal cells (`66.59`) are written back as they are: no parse, no formatting.
                ValueType::Float if !m.decimal_comma && is_canonical_decimal(cell) => Some(Value::Decimal),
                ValueType::Float => parse_float(cell, m.decimal_comma)
                    .or_else(|| parse_float(cell, false))
                    .map(Value::Float),
                ValueType::Boolean => parse_bool(cell, col.forced_type).map(Value::Bool),
                // (A date column's values that are not dates are errors above, whether inferred or forced.)
                ValueType::Date => match self.date_parsers[col.index].as_ref().map(|p| p.parse(cell)) {
                    Some(Ok(ms)) => Some(Value::Date(ms.div_euclid(1000))),
                    Some(Err(e)) => {
                        issues.push(col_issue(IssueCode::ValueType, col.index, e.message));
                        continue;
                    }
                    _ => None,
                },
            };
            match v {
                Some(v) => row.values.push((col.index, v)),
                None if col.forced_type => issues.push(col_issue(
                    IssueCode::ValueType,
                    col.index,
                    format!("expected {}, found {:?}", type_name(col.ty), clip(cell)),
                )),
                // An inferred type the sample suggested but this cell does not fit: send the text as it is.
                None => row.values.push((col.index, Value::Str)),
            }
        }
        if count > self.limits.attributes_per_row {
            issues.push(Issue::new(
                IssueCode::TooManyAttributes,
                line,
                record,
                format!(
                    "expected at most {} attributes, found {count}",
                    self.limits.attributes_per_row
                ),
            ));
        }
        let new = &issues[start..];
        row.warned = new.iter().any(|i| i.severity == Severity::Warning);
        !new.iter().any(|i| i.severity == Severity::Error)
    }

    fn check_time(
        &self,
        ms: i64,
        c: usize,
        row: &mut PreparedRow,
        issues: &mut Vec<Issue>,
        col_issue: &dyn Fn(IssueCode, usize, String) -> Issue,
    ) {
        if ms > self.now_ms + 60_000 {
            issues.push(col_issue(
                IssueCode::TimestampFuture,
                c,
                "expected a time in the past, found one in the future".into(),
            ));
        } else if ms >= self.now_ms - 72 * HOUR_MS && self.mapping.kind == Kind::Events {
            row.in_campaign_window = true;
            if self.skip_campaign_window {
                issues.push(col_issue(
                    IssueCode::Skipped,
                    c,
                    "skipped on request: inside the 72-hour window in which backfilled events can trigger campaigns"
                        .into(),
                ));
            } else {
                issues.push(col_issue(
                    IssueCode::CampaignWindow,
                    c,
                    "inside the last 72 hours: this backfilled event can trigger campaigns".into(),
                ));
            }
        }
        if ms < MS_1971 {
            issues.push(col_issue(
                IssueCode::TimestampBefore1971,
                c,
                "expected a recent date, found one before 1971 (seconds read as milliseconds, or a zero date?)".into(),
            ));
        }
        row.older_than_30_days = ms < self.now_ms - 30 * 24 * HOUR_MS;
    }
}

/// True if `s` is a decimal that serde_json writes back byte for byte once it is read as an `f64`: an optional
/// minus, an integer part without leading zeros, a point and a fraction that does not end in 0; at most 15
/// significant digits and 17 digits in all (as [`crate::mapping::parse_float`] takes); a size serde_json writes
/// without an exponent (below 10^15, at most three zeros after `0.`). With 15 significant digits or fewer the `f64`
/// nearest to the decimal gives the same digits back, and no shorter decimal rounds to that `f64` (it too would
/// have 15 digits or fewer), so the shortest form serde_json writes is the cell itself. Checked against serde_json
/// by a property test.
pub fn is_canonical_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let b = b.strip_prefix(b"-").unwrap_or(b);
    let Some(dot) = b.iter().position(|&c| c == b'.') else {
        return false;
    };
    let (int, frac) = (&b[..dot], &b[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(int) || !digits(frac) || frac.ends_with(b"0") || (int.len() > 1 && int[0] == b'0') {
        return false;
    }
    let significant = if int == b"0" {
        let zeros = frac.iter().take_while(|&&c| c == b'0').count();
        if zeros > 3 {
            return false;
        }
        frac.len() - zeros
    } else {
        int.len() + frac.len()
    };
    // (parse_float takes at most 17 digits: a longer cell is not a number to it, and must not become one here.)
    significant <= 15 && int.len() + frac.len() <= 17
}

/// The size of `s` as a JSON string: quotes, and the escapes serde_json writes.
pub fn json_string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn article(k: IdKind) -> &'static str {
    match k {
        IdKind::Id => "an id",
        IdKind::Email => "an email",
        IdKind::CioId => "a cio_id",
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::String => "text",
        ValueType::Integer => "an integer",
        ValueType::Float => "a number",
        ValueType::Boolean => "true or false",
        ValueType::Date => "a date",
    }
}

/// At most 60 characters of `s`, for messages.
pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(57).collect();
        t.push_str("...");
        t
    }
}

/// One `@`, a non-empty local part, a domain with a dot and no empty label, no spaces, at most 254 bytes.
pub fn plausible_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
}

/// The issues of a record the reader flagged (bad bytes, an unclosed or a stray quote), out of the hot path; false when the
/// record cannot be checked further.
#[cold]
#[inline(never)]
fn flagged_record(rec: &Record, issues: &mut Vec<Issue>) -> bool {
    if rec.invalid_encoding {
        issues.push(Issue::new(
            IssueCode::Encoding,
            rec.line,
            rec.record,
            "expected text in the file's encoding, found bytes that are not valid (shown as \u{fffd})",
        ));
    }
    if rec.unclosed_quote {
        issues.push(Issue::new(
            IssueCode::UnclosedQuote,
            rec.line,
            rec.record,
            "expected a closing quote for the field that opens in this row, found the end of the file: every line \
             after it was read into that field",
        ));
        // Its cells past the quote are the rest of the file: nothing more to check.
        return false;
    }
    if rec.stray_quote {
        issues.push(Issue::new(
            IssueCode::StrayQuote,
            rec.line,
            rec.record,
            "expected a delimiter or the end of the row after a closing quote, found text, in a row whose quotes hold \
             a line break: a stray quote probably merged the lines after it into this row (a quote inside a field is \
             written twice: \"\")",
        ));
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_writes(s: &str) -> String {
        serde_json::to_string(&s.parse::<f64>().expect("a number")).unwrap()
    }

    #[test]
    fn canonical_decimals_are_the_ones_serde_json_writes_back() {
        let cases: &[(&str, bool)] = &[
            ("66.59", true),
            ("0.5", true),
            ("-0.5", true),
            ("-12.25", true),
            ("0.0001", true),
            ("12345678901234.5", true),
            ("0.000123456789012", true),
            ("0.000123456789012345", false),
            ("1.50", false),
            ("5", false),
            ("05.5", false),
            (".5", false),
            ("5.", false),
            ("0.00001", false),
            ("123456789012345.1", false),
            ("1e5", false),
            ("+1.5", false),
            ("1,5", false),
            ("-", false),
            ("1.2.3", false),
            ("", false),
        ];
        for &(s, want) in cases {
            assert_eq!(is_canonical_decimal(s), want, "{s:?}");
            if want {
                assert_eq!(serde_writes(s), s);
                assert_eq!(crate::mapping::parse_float(s, false), s.parse().ok(), "{s:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, ..Default::default() })]

        #[test]
        fn a_canonical_decimal_is_written_back_unchanged(
            neg in proptest::bool::ANY,
            int in "0|[1-9][0-9]{0,15}",
            zeros in 0usize..6,
            frac in "[0-9]{0,15}[1-9]",
        ) {
            let s = format!("{}{int}.{}{frac}", if neg { "-" } else { "" }, "0".repeat(zeros));
            if is_canonical_decimal(&s) {
                proptest::prop_assert_eq!(serde_writes(&s), s.clone());
                proptest::prop_assert_eq!(crate::mapping::parse_float(&s, false), s.parse().ok());
            }
        }

        #[test]
        fn any_text_taken_as_canonical_is_written_back_unchanged(s in "[-0-9.]{1,20}") {
            if is_canonical_decimal(&s) {
                proptest::prop_assert_eq!(serde_writes(&s), s.clone());
            }
        }
    }

    #[test]
    fn emails() {
        let cases = [
            ("a@b.co", true),
            ("first.last+tag@example.co.uk", true),
            ("a@b", false),
            ("@b.com", false),
            ("a@@b.com", false),
            ("a b@c.com", false),
            ("a@b..com", false),
            ("a@-b.com", false),
            ("plainaddress", false),
        ];
        for (s, ok) in cases {
            assert_eq!(plausible_email(s), ok, "{s}");
        }
    }

    #[test]
    fn json_string_len_matches_serde_json() {
        for s in [
            "",
            "abc",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "\u{1}",
            "é€",
            "\t\r\u{8}\u{c}",
        ] {
            assert_eq!(json_string_len(s), serde_json::to_string(s).unwrap().len(), "{s:?}");
        }
    }

    #[test]
    fn clip_keeps_short_and_cuts_long() {
        assert_eq!(clip("abc"), "abc");
        assert_eq!(clip(&"x".repeat(100)).len(), 60);
    }
}
