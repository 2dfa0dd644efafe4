//! Column mapping: which column is the identifier, the event name, the timestamp, and what every other
//! column becomes (an attribute with a type, or nothing).
//!
//! Roles are auto-matched from the headers (case- and punctuation-insensitively) and always overridable;
//! attribute types are inferred from a sample of rows and overridable; dotted headers (`address.city`) become
//! nested objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::csv_input::Record;
use crate::issue::{Issue, IssueCode};
use crate::timestamp::{DateOrder, DetectedFormat, FormatDetector, TimestampFormat};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// People: one identify per row, with attributes.
    People,
    /// Events: one track per row, with properties and the time it happened.
    Events,
}

/// Which identifier a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// Your own id for the person.
    Id,
    /// The person's email address.
    Email,
    /// Customer.io's own id (`cio_id`).
    CioId,
}

impl IdKind {
    /// The identifier's key in Track v2 `identifiers`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Id => "id",
            IdKind::Email => "email",
            IdKind::CioId => "cio_id",
        }
    }
}

/// The type an attribute column is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// A JSON string, verbatim.
    String,
    /// A JSON integer.
    Integer,
    /// A JSON number.
    Float,
    /// A JSON boolean (`true`/`false`, `yes`/`no`, `1`/`0` when forced).
    Boolean,
    /// A date, sent as integer unix seconds (what Customer.io segments need).
    Date,
}

/// A column's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "role", content = "as")]
pub enum Role {
    /// The person's identifier.
    Identifier(IdKind),
    /// The event name (events only).
    EventName,
    /// When the row happened.
    Timestamp,
    /// The source's own event id: ids derived from it make re-imports idempotent whatever else changes.
    EventId,
    /// An attribute (people) or property (events).
    Attribute,
    /// Not sent.
    Ignore,
}

/// A user's choice for one column, by header name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnOverride {
    /// `"attribute"` or `"ignore"`.
    #[serde(default)]
    pub role: Option<ColumnChoice>,
    /// The type; `None` (or `"auto"`) infers it.
    #[serde(default, rename = "type")]
    pub ty: Option<TypeChoice>,
    /// A type to take as if the sample had inferred it: cells that do not fit go as text, as with an inferred type
    /// (a forced `type` makes them errors). For the parts of one file sent separately (the Worker's chunks), so
    /// that every part types a column as its first part's sample did. Not with a forced `type`.
    #[serde(default)]
    pub type_hint: Option<ValueType>,
}

/// A role a user can give a plain column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnChoice {
    /// Send it.
    Attribute,
    /// Don't send it.
    Ignore,
}

/// A type a user can force (or `auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeChoice {
    /// Infer from the data.
    Auto,
    /// See [`ValueType::String`].
    String,
    /// See [`ValueType::Integer`].
    Integer,
    /// See [`ValueType::Float`].
    Float,
    /// See [`ValueType::Boolean`].
    Boolean,
    /// See [`ValueType::Date`].
    Date,
}

/// What the user asked for; everything is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappingOptions {
    /// Use this column as the `id` identifier.
    #[serde(default)]
    pub id_column: Option<String>,
    /// Use this column as the `email` identifier.
    #[serde(default)]
    pub email_column: Option<String>,
    /// Use this column as the `cio_id` identifier.
    #[serde(default)]
    pub cio_id_column: Option<String>,
    /// Events: the event name column.
    #[serde(default)]
    pub event_column: Option<String>,
    /// Events: one name for every row (instead of a column).
    #[serde(default)]
    pub event_name: Option<String>,
    /// The timestamp column.
    #[serde(default)]
    pub timestamp_column: Option<String>,
    /// Events: the source's own event id column.
    #[serde(default)]
    pub event_id_column: Option<String>,
    /// Per-column role and type, by header.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnOverride>,
    /// Send empty cells as `null` (clearing the value) instead of leaving them out.
    #[serde(default)]
    pub empty_as_null: bool,
    /// Zone for timestamps without one (`UTC`, `+02:00`, `Europe/Berlin`).
    #[serde(default)]
    pub default_zone: Option<String>,
    /// Day/month order of slash dates, overriding the inferred one.
    #[serde(default)]
    pub date_order: Option<DateOrder>,
}

/// One resolved column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// 0-based index.
    pub index: usize,
    /// The header, verbatim.
    pub header: String,
    /// The role.
    #[serde(flatten)]
    pub role: Role,
    /// The attribute type (attributes only).
    #[serde(rename = "type")]
    pub ty: ValueType,
    /// True when the user forced the type (then a value that does not fit is an error).
    pub forced_type: bool,
    /// Where the value goes: `["address", "city"]` for `address.city`.
    pub key_path: Vec<String>,
    /// For timestamp and date columns: what the sample looked like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_format: Option<DetectedFormat>,
}

/// Where event names come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EventNameSource {
    /// From this column.
    Column(usize),
    /// One name for the file.
    Fixed(String),
}

/// The resolved mapping for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    /// People or events.
    pub kind: Kind,
    /// Every column, in file order.
    pub columns: Vec<Column>,
    /// The identifier column and kind.
    pub identifier: (usize, IdKind),
    /// Events: where the name comes from.
    pub event_name: Option<EventNameSource>,
    /// The timestamp column.
    pub timestamp: Option<usize>,
    /// The source's event id column.
    pub event_id: Option<usize>,
    /// Empty cells become `null`.
    pub empty_as_null: bool,
    /// Numbers use a decimal comma (`2,50`).
    pub decimal_comma: bool,
}

/// The mapping cannot be used: the user must choose something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// Lowercase, says what is missing and how to fix it.
    pub message: String,
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MappingError {}

/// Lowercase and keep only letters and digits: `Customer ID` → `customerid`, `E-mail` → `email`.
pub fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

const ID_NAMES: &[&str] = &[
    "id",
    "userid",
    "customerid",
    "uid",
    "externalid",
    "personid",
    "contactid",
    "memberid",
    "clientid",
    "user",
];
const EMAIL_NAMES: &[&str] = &[
    "email",
    "emailaddress",
    "mail",
    "useremail",
    "customeremail",
    "contactemail",
];
const CIO_ID_NAMES: &[&str] = &["cioid"];
const EVENT_NAMES: &[&str] = &["event", "eventname", "name", "eventtype", "activity", "action"];
const EVENT_TS_NAMES: &[&str] = &[
    "timestamp",
    "time",
    "occurredat",
    "createdat",
    "eventtime",
    "eventtimestamp",
    "datetime",
    "date",
    "ts",
    "happenedat",
    "eventdate",
];
const PEOPLE_TS_NAMES: &[&str] = &["timestamp", "updatedat", "lastupdated", "modifiedat"];
const EVENT_ID_NAMES: &[&str] = &["eventid", "messageid"];

fn find(headers: &[String], names: &[&str], taken: &[usize]) -> Option<usize> {
    // Earlier names in the table win over later ones; within a name, the first column.
    let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
    names
        .iter()
        .find_map(|n| (0..headers.len()).find(|i| !taken.contains(i) && norm[*i] == *n))
}

fn find_exact(headers: &[String], name: &str, what: &str) -> Result<usize, MappingError> {
    headers.iter().position(|h| h == name).ok_or_else(|| MappingError {
        message: format!("{what} column {name:?} not found; the headers are {}", list(headers)),
    })
}

fn list(headers: &[String]) -> String {
    let mut s = String::new();
    for (i, h) in headers.iter().take(20).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{h:?}"));
    }
    if headers.len() > 20 {
        s.push_str(&format!(" and {} more", headers.len() - 20));
    }
    s
}

/// Hints that a column holds codes, not numbers (leading zeros matter, no arithmetic).
fn looks_like_code(norm: &str) -> bool {
    [
        "phone", "zip", "postal", "postcode", "id", "code", "sku", "mobile", "tel",
    ]
    .iter()
    .any(|k| norm.contains(k))
}

fn looks_like_date(norm: &str) -> bool {
    norm.ends_with("at")
        || norm.contains("date")
        || norm.contains("time")
        || norm.contains("birthday")
        || norm.contains("dob")
        || norm.ends_with("since")
        || norm.ends_with("until")
}

/// Infers one column's type from sample cells.
#[derive(Debug, Default)]
struct TypeSample {
    non_empty: usize,
    ints: usize,
    floats: usize,
    decimal_comma_floats: usize,
    bools: usize,
    /// `true`/`false` (not only `yes`/`no`): a column of yes/no alone stays text.
    true_false: usize,
    leading_zero: bool,
    dates: FormatDetector,
}

/// `s.trim()` (Unicode whitespace), with a fast path for the common cell that starts and ends with a visible
/// ASCII byte: an ASCII byte is a whole char, and only ` `, `\t`, `\n`, `\x0b`, `\x0c`, `\r` of them are
/// whitespace.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let visible = |b: u8| b.is_ascii() && !matches!(b, b' ' | 0x09..=0x0d);
    match s.as_bytes() {
        [first, .., last] if visible(*first) && visible(*last) => s,
        [only] if visible(*only) => s,
        _ => s.trim(),
    }
}

/// Is `s` an integer we can send as a JSON number without changing it?
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    // At most 15 digits: no overflow, so no checked arithmetic (an overflow check of a 64-bit multiply is a
    // 128-bit multiply in wasm).
    let v = digits.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
    Some(if digits.len() < b.len() { -v } else { v })
}

/// Is `s` a plain decimal number (`12.5`, `-0.25`; with `decimal_comma`, `12,5`)?
pub(crate) fn parse_float(s: &str, decimal_comma: bool) -> Option<f64> {
    let b = s.as_bytes();
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let sep = if decimal_comma { b',' } else { b'.' };
    let mut seen_sep = false;
    let mut digits = 0;
    for &c in body {
        if c == sep && !seen_sep {
            seen_sep = true;
        } else if c.is_ascii_digit() {
            digits += 1;
        } else {
            return None;
        }
    }
    if digits == 0 || digits > 17 || body.first() == Some(&sep) || body.last() == Some(&sep) {
        return None;
    }
    let v: f64 = if decimal_comma {
        s.replacen(',', ".", 1).parse().ok()?
    } else {
        s.parse().ok()?
    };
    v.is_finite().then_some(v)
}

/// `true`/`false`/`yes`/`no` in any case (and, when `digits`, `1`/`0`).
pub(crate) fn parse_bool(s: &str, digits: bool) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("yes") || (digits && s == "1") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("no") || (digits && s == "0") {
        Some(false)
    } else {
        None
    }
}

impl TypeSample {
    fn observe(&mut self, cell: &str, decimal_comma: bool) {
        let cell = cell.trim();
        if cell.is_empty() {
            return;
        }
        self.non_empty += 1;
        let digits = cell.strip_prefix('-').unwrap_or(cell);
        if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|c| c.is_ascii_digit()) {
            self.leading_zero = true;
        }
        if parse_int(cell).is_some() {
            self.ints += 1;
        } else if parse_float(cell, false).is_some() {
            self.floats += 1;
        } else if decimal_comma && parse_float(cell, true).is_some() {
            self.decimal_comma_floats += 1;
        } else if parse_bool(cell, false).is_some() {
            self.bools += 1;
            self.true_false += usize::from(cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false"));
        }
        if self.non_empty <= 200 {
            self.dates.observe(cell);
        }
    }

    fn infer(&self, norm_header: &str, decimal_comma: bool) -> (ValueType, Option<DetectedFormat>) {
        let n = self.non_empty;
        if n == 0 {
            return (ValueType::String, None);
        }
        if let Some(d) = self.dates.detect() {
            let numeric = matches!(
                d.format,
                TimestampFormat::UnixSeconds | TimestampFormat::UnixMillis | TimestampFormat::UnixMicros
            );
            // A date-like header whose values are mostly dates is a date column, and a value that is not a date
            // is an error to fix (a date attribute sent as text would break segments on it). Written dates
            // (`2023-01-05T10:00:00Z`) make a date column whatever the header; plain numbers need the header's hint.
            let by_header = looks_like_date(norm_header) && d.parse_ratio >= 0.8 && (!numeric || self.ints == n);
            let by_values = !numeric && d.parse_ratio >= 0.95 && self.ints + self.floats == 0;
            if by_header || by_values {
                return (ValueType::Date, Some(d));
            }
        }
        if looks_like_code(norm_header) || self.leading_zero {
            return (ValueType::String, None);
        }
        if self.ints == n {
            (ValueType::Integer, None)
        } else if (self.ints + self.floats == n && self.floats > 0)
            || (decimal_comma && self.ints + self.decimal_comma_floats == n && self.decimal_comma_floats > 0)
        {
            (ValueType::Float, None)
        } else if self.bools == n && self.true_false > 0 {
            (ValueType::Boolean, None)
        } else {
            (ValueType::String, None)
        }
    }
}

fn key_path(header: &str) -> Vec<String> {
    let parts: Vec<&str> = header.split('.').collect();
    if parts.len() > 1 && parts.iter().all(|p| !p.trim().is_empty()) {
        parts.iter().map(|p| p.to_string()).collect()
    } else {
        vec![header.to_string()]
    }
}

/// Resolve the mapping from the headers, a sample of records, and the user's options.
///
/// `decimal_comma` says the file's numbers may use a decimal comma (a `;`-delimited file). Returns the mapping
/// and file-level issues (e.g. an ambiguous day/month order), or an error the user must fix.
pub fn resolve(
    kind: Kind,
    headers: &[String],
    sample: &[Record],
    options: &MappingOptions,
    decimal_comma: bool,
) -> Result<(Mapping, Vec<Issue>), MappingError> {
    let mut issues = Vec::new();
    for (name, ov) in &options.columns {
        if !headers.iter().any(|h| h == name) {
            return Err(MappingError {
                message: format!(
                    "column {name:?} in the mapping not found; the headers are {}",
                    list(headers)
                ),
            });
        }
        if ov.type_hint.is_some() && !matches!(ov.ty, None | Some(TypeChoice::Auto)) {
            return Err(MappingError {
                message: format!("column {name:?}: expected a type or a type hint, found both"),
            });
        }
    }
    // Identifier: explicit choice first, then id-like, email-like, cio_id-like headers.
    let explicit = [
        (&options.id_column, IdKind::Id, "id"),
        (&options.email_column, IdKind::Email, "email"),
        (&options.cio_id_column, IdKind::CioId, "cio_id"),
    ];
    let chosen: Vec<_> = explicit.iter().filter(|(c, _, _)| c.is_some()).collect();
    if chosen.len() > 1 {
        return Err(MappingError {
            message: "more than one identifier column chosen; choose one of id, email and cio_id".into(),
        });
    }
    let identifier = if let Some((col, kind, what)) = chosen.first() {
        (
            find_exact(
                headers,
                col.as_deref().unwrap_or_default(),
                &format!("{what} identifier"),
            )?,
            *kind,
        )
    } else if let Some(i) = find(headers, ID_NAMES, &[]) {
        (i, IdKind::Id)
    } else if let Some(i) = find(headers, EMAIL_NAMES, &[]) {
        (i, IdKind::Email)
    } else if let Some(i) = find(headers, CIO_ID_NAMES, &[]) {
        (i, IdKind::CioId)
    } else {
        return Err(MappingError {
            message: format!(
                "no identifier column: expected a column such as id, user_id, customer_id or email, found {}; \
                 choose one with the id, email or cio_id column option",
                list(headers)
            ),
        });
    };
    let mut taken = vec![identifier.0];

    let event_name = match kind {
        Kind::People => None,
        Kind::Events => Some(if let Some(name) = &options.event_name {
            if name.trim().is_empty() {
                return Err(MappingError {
                    message: "the fixed event name is blank".into(),
                });
            }
            EventNameSource::Fixed(name.trim().to_string())
        } else if let Some(c) = &options.event_column {
            let i = find_exact(headers, c, "event name")?;
            taken.push(i);
            EventNameSource::Column(i)
        } else if let Some(i) = find(headers, EVENT_NAMES, &taken) {
            taken.push(i);
            EventNameSource::Column(i)
        } else {
            return Err(MappingError {
                message: format!(
                    "no event name: expected a column such as event or event_name, found {}; choose the event \
                     column or give one event name for the file",
                    list(headers)
                ),
            });
        }),
    };

    let timestamp = if let Some(c) = &options.timestamp_column {
        Some(find_exact(headers, c, "timestamp")?)
    } else {
        let names = if kind == Kind::Events {
            EVENT_TS_NAMES
        } else {
            PEOPLE_TS_NAMES
        };
        find(headers, names, &taken)
    };
    if let Some(t) = timestamp {
        taken.push(t);
    } else if kind == Kind::Events {
        return Err(MappingError {
            message: format!(
                "no timestamp column: backfilled events without one are recorded as happening now (and can \
                 trigger campaigns); expected a column such as timestamp or occurred_at, found {}",
                list(headers)
            ),
        });
    }

    let event_id = match (kind, &options.event_id_column) {
        (Kind::Events, Some(c)) => Some(find_exact(headers, c, "event id")?),
        (Kind::Events, None) => find(headers, EVENT_ID_NAMES, &taken),
        (Kind::People, _) => None,
    };
    if let Some(e) = event_id {
        taken.push(e);
    }

    let mut samples: Vec<TypeSample> = headers.iter().map(|_| TypeSample::default()).collect();
    for rec in sample {
        for (i, cell) in rec.iter().enumerate().take(headers.len()) {
            samples[i].observe(cell, decimal_comma);
        }
    }

    let mut columns = Vec::with_capacity(headers.len());
    for (index, header) in headers.iter().enumerate() {
        // A repeated header would write one key twice: the later column is ignored (and reported by the reader).
        let repeated = headers[..index].contains(header);
        let norm = normalize_header(header);
        let ov = options.columns.get(header).cloned().unwrap_or_default();
        let role = if index == identifier.0 {
            Role::Identifier(identifier.1)
        } else if matches!(event_name, Some(EventNameSource::Column(c)) if c == index) {
            Role::EventName
        } else if timestamp == Some(index) {
            Role::Timestamp
        } else if event_id == Some(index) {
            Role::EventId
        } else if ov.role == Some(ColumnChoice::Ignore) || header.trim().is_empty() || repeated {
            Role::Ignore
        } else {
            Role::Attribute
        };
        let (inferred, mut detected) = samples[index].infer(&norm, decimal_comma);
        let (ty, forced_type) = match ov.ty {
            None | Some(TypeChoice::Auto) => (ov.type_hint.unwrap_or(inferred), false),
            Some(TypeChoice::String) => (ValueType::String, true),
            Some(TypeChoice::Integer) => (ValueType::Integer, true),
            Some(TypeChoice::Float) => (ValueType::Float, true),
            Some(TypeChoice::Boolean) => (ValueType::Boolean, true),
            Some(TypeChoice::Date) => (ValueType::Date, true),
        };
        if role == Role::Timestamp || ty == ValueType::Date {
            detected = samples[index].dates.detect();
            if let Some(d) = detected {
                if d.ambiguous && options.date_order.is_none() && d.format == TimestampFormat::DayMonth {
                    issues.push(
                        Issue::new(
                            IssueCode::DateOrderAmbiguous,
                            1,
                            0,
                            "day/month order cannot be told from the data (no day above 12): read as month first \
                             (mm/dd/yyyy); set the date order to day first if that is wrong",
                        )
                        .at_column(index, header.clone()),
                    );
                }
            }
        }
        let ty = if matches!(role, Role::Attribute) {
            ty
        } else {
            ValueType::String
        };
        columns.push(Column {
            index,
            header: header.clone(),
            role,
            ty,
            forced_type,
            key_path: key_path(header),
            detected_format: detected,
        });
    }
    // A dotted column whose parent is also a plain column would clash: keep such headers flat.
    let plain: Vec<String> = columns
        .iter()
        .filter(|c| c.role == Role::Attribute && c.key_path.len() == 1)
        .map(|c| c.header.clone())
        .collect();
    for c in &mut columns {
        if c.key_path.len() > 1 && plain.contains(&c.key_path[0]) {
            c.key_path = vec![c.header.clone()];
        }
    }
    Ok((
        Mapping {
            kind,
            columns,
            identifier,
            event_name,
            timestamp,
            event_id,
            empty_as_null: options.empty_as_null,
            decimal_comma,
        },
        issues,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn auto_matches_identifiers_and_roles() {
        // (kind, headers, identifier index and kind, event name column, timestamp column)
        type Case<'a> = (Kind, &'a [&'a str], (usize, IdKind), Option<usize>, Option<usize>);
        let cases: &[Case] = &[
            (Kind::People, &["id", "email", "name"], (0, IdKind::Id), None, None),
            (Kind::People, &["E-mail", "first_name"], (0, IdKind::Email), None, None),
            (
                Kind::People,
                &["Customer ID", "plan", "updated_at"],
                (0, IdKind::Id),
                None,
                Some(2),
            ),
            (Kind::People, &["email", "userId"], (1, IdKind::Id), None, None),
            (Kind::People, &["cio_id", "x"], (0, IdKind::CioId), None, None),
            (
                Kind::Events,
                &["user_id", "event", "occurred_at", "price"],
                (0, IdKind::Id),
                Some(1),
                Some(2),
            ),
            (
                Kind::Events,
                &["email", "name", "time"],
                (0, IdKind::Email),
                Some(1),
                Some(2),
            ),
            (
                Kind::Events,
                &["customer_id", "event_name", "created_at"],
                (0, IdKind::Id),
                Some(1),
                Some(2),
            ),
        ];
        for (kind, headers, id, ev, ts) in cases {
            let (m, _) = resolve(*kind, &h(headers), &[], &MappingOptions::default(), false).unwrap();
            assert_eq!(m.identifier, *id, "{headers:?}");
            assert_eq!(m.event_name, ev.map(EventNameSource::Column), "{headers:?}");
            assert_eq!(m.timestamp, *ts, "{headers:?}");
        }
    }

    #[test]
    fn explains_what_is_missing() {
        let cases: &[(Kind, &[&str], &str)] = &[
            (Kind::People, &["first", "last"], "no identifier column"),
            (Kind::Events, &["id", "timestamp"], "no event name"),
            (Kind::Events, &["id", "event"], "no timestamp column"),
        ];
        for (kind, headers, msg) in cases {
            let e = resolve(*kind, &h(headers), &[], &MappingOptions::default(), false).unwrap_err();
            assert!(e.message.starts_with(msg), "{}", e.message);
        }
        let opts = MappingOptions {
            id_column: Some("nope".into()),
            ..Default::default()
        };
        let e = resolve(Kind::People, &h(&["id"]), &[], &opts, false).unwrap_err();
        assert!(e.message.contains("\"nope\" not found"), "{}", e.message);
    }

    #[test]
    fn overrides_win() {
        let mut opts = MappingOptions {
            email_column: Some("mail".into()),
            event_name: Some(" signed up ".into()),
            timestamp_column: Some("when".into()),
            ..Default::default()
        };
        opts.columns.insert(
            "plan".into(),
            ColumnOverride {
                role: Some(ColumnChoice::Ignore),
                ..Default::default()
            },
        );
        let (m, _) = resolve(Kind::Events, &h(&["id", "mail", "when", "plan"]), &[], &opts, false).unwrap();
        assert_eq!(m.identifier, (1, IdKind::Email));
        assert_eq!(m.event_name, Some(EventNameSource::Fixed("signed up".into())));
        assert_eq!(m.timestamp, Some(2));
        assert_eq!(m.columns[0].role, Role::Attribute);
        assert_eq!(m.columns[3].role, Role::Ignore);
    }

    #[test]
    fn infers_types_from_the_sample() {
        let headers = h(&["id", "age", "score", "vip", "zip", "note", "price", "signed_up"]);
        let rows = [
            ["1", "31", "2.5", "true", "02134", "x", "1,5", "2023-01-05T10:00:00Z"],
            ["2", "", "3", "FALSE", "10001", "12", "2", "2023-02-01"],
        ];
        let sample: Vec<Record> = rows
            .iter()
            .map(|r| {
                let mut rec = Record::default();
                rec.set_fields(r.iter().copied());
                rec
            })
            .collect();
        let (m, _) = resolve(Kind::People, &headers, &sample, &MappingOptions::default(), true).unwrap();
        let types: Vec<ValueType> = m.columns.iter().map(|c| c.ty).collect();
        use ValueType::*;
        assert_eq!(
            types,
            vec![String, Integer, Float, Boolean, String, String, Float, Date]
        );
    }

    #[test]
    fn dotted_headers_nest_unless_they_clash() {
        let (m, _) = resolve(
            Kind::People,
            &h(&["id", "address.city", "plan", "plan.tier", "a..b"]),
            &[],
            &Default::default(),
            false,
        )
        .unwrap();
        assert_eq!(m.columns[1].key_path, vec!["address", "city"]);
        assert_eq!(m.columns[3].key_path, vec!["plan.tier"]);
        assert_eq!(m.columns[4].key_path, vec!["a..b"]);
    }

    #[test]
    fn fast_trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a\u{b}",
            "\u{a0}x\u{a0}",
            "x\u{85}",
            "\u{3000}y",
            "é",
            " é ",
            "a b",
            "\t1\r\n",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_trim_matches_str_trim(s in "\\PC*|[ \\t\\n\\x0b\\x0c\\r\\u{85}\\u{a0}\\u{2000}a-z]{0,8}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }

        /// An integer cell is at most 15 digits, optionally negative, without leading zeros; its value is std's.
        #[test]
        fn parse_int_is_std_within_its_rules(s in "-?[0-9]{0,17}|[-+0-9a ]{0,4}") {
            let digits = s.strip_prefix('-').unwrap_or(&s);
            let allowed = !digits.is_empty()
                && digits.len() <= 15
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !(digits.len() > 1 && digits.starts_with('0'));
            let want = if allowed { s.parse::<i64>().ok() } else { None };
            proptest::prop_assert_eq!(parse_int(&s), want);
        }
    }

    #[test]
    fn normalizes_headers() {
        for (a, b) in [
            ("Customer ID", "customerid"),
            ("E-mail", "email"),
            ("occurred_at", "occurredat"),
            ("ÉVÉNEMENT", "événement"),
        ] {
            assert_eq!(normalize_header(a), b);
        }
    }
}
