//! Timestamps: parse what real exports contain into unix milliseconds, and format them for the APIs.
//!
//! Accepted: unix seconds, milliseconds and microseconds (told apart by magnitude), ISO-8601 / RFC 3339 with a
//! zone, ISO-8601 without a zone and `YYYY-MM-DD[ HH:MM[:SS]]` in a configurable default zone (UTC by default),
//! RFC 2822, and `DD/MM/YYYY` / `MM/DD/YYYY` (with optional time), the order inferred per column from the data.

/// Day/month order for slash (or dot/dash) dates like `03/04/2024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DateOrder {
    /// `DD/MM/YYYY`
    DayFirst,
    /// `MM/DD/YYYY`
    MonthFirst,
}

/// The zone applied to timestamps that carry none.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultZone {
    _private: (),
}

impl DefaultZone {
    /// UTC.
    pub fn utc() -> Self {
        todo!("timestamp")
    }
    /// Parse `UTC`, `Z`, a fixed offset like `+02:00` / `-0530`, or an IANA name like `Europe/Berlin`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let _ = s;
        todo!("timestamp")
    }
}

/// The format family detected for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimestampFormat {
    /// Integer (or decimal) unix seconds.
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
    /// Unix microseconds.
    UnixMicros,
    /// ISO-8601 / RFC 3339 with an explicit zone or offset.
    IsoZoned,
    /// ISO-8601 or `YYYY-MM-DD[ HH:MM[:SS]]` without a zone (read in the default zone).
    IsoLocal,
    /// RFC 2822 (`Mon, 28 Jan 2013 16:10:15 +0000`).
    Rfc2822,
    /// Slash, dot or dash dates with the day or month first.
    DayMonth,
    /// Values of several families were seen.
    Mixed,
}

/// Options for [`TimestampParser`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampOptions {
    /// Zone for values without one.
    pub default_zone: DefaultZone,
    /// Day/month order for ambiguous slash dates; `None` means "month first" unless told otherwise.
    pub date_order: Option<DateOrder>,
}

/// Why a value is not a timestamp (the message says expected versus found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    /// Lowercase message, e.g. `expected a date or time (unix seconds, iso-8601, ...), found "yesterday"`.
    pub message: String,
}

impl std::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses timestamp cells; cheap to call per cell.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    _private: (),
}

impl TimestampParser {
    /// A parser with the given options.
    pub fn new(options: TimestampOptions) -> Self {
        let _ = options;
        todo!("timestamp")
    }
    /// Parse one cell (surrounding whitespace ignored) into unix milliseconds.
    pub fn parse(&self, s: &str) -> Result<i64, TimestampError> {
        let _ = s;
        todo!("timestamp")
    }
}

/// Learns a column's format and day/month order from sample values.
#[derive(Debug, Clone, Default)]
pub struct FormatDetector {
    _private: (),
}

/// What a [`FormatDetector`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedFormat {
    /// The family most values belong to (`None`-like `Mixed` when several).
    pub format: TimestampFormat,
    /// For day/month dates: the order chosen.
    pub date_order: Option<DateOrder>,
    /// True when no value decided the order (every day and month were ≤ 12); the choice is then month-first.
    pub ambiguous: bool,
    /// Share of non-empty sampled values (0..=1) that parse as a timestamp at all.
    pub parse_ratio: f64,
}

impl FormatDetector {
    /// Look at one sample value (empty values are ignored).
    pub fn observe(&mut self, s: &str) {
        let _ = s;
        todo!("timestamp")
    }
    /// The conclusion so far; `None` if no non-empty value was seen.
    pub fn detect(&self) -> Option<DetectedFormat> {
        todo!("timestamp")
    }
}

/// Append the ISO-8601 UTC form (`2013-01-28T16:10:15Z`, or `.123Z` when there are milliseconds) to `out`.
pub fn write_iso8601(millis: i64, out: &mut Vec<u8>) {
    let _ = (millis, out);
    todo!("timestamp")
}

/// Unix seconds (floor) of unix milliseconds.
pub fn to_unix_seconds(millis: i64) -> i64 {
    millis.div_euclid(1000)
}
