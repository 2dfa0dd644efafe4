//! Timestamps: parse what real exports contain into unix milliseconds, and format them for the APIs.
//!
//! Accepted: unix seconds, milliseconds and microseconds (told apart by magnitude), ISO-8601 / RFC 3339 with a
//! zone, ISO-8601 without a zone and `YYYY-MM-DD[ HH:MM[:SS]]` in a configurable default zone (UTC by default),
//! RFC 2822, and `DD/MM/YYYY` / `MM/DD/YYYY` (with optional time), the order inferred per column from the data.
//!
//! # Accepted forms (after trimming surrounding whitespace)
//!
//! * **Unix numbers**: `[+-]digits[.digits][e[+-]digits]`, the unit chosen by the magnitude of the integer part:
//!   `< 10^11` seconds (so every value up to the year 5138, negative and small values included, `1359389415.5`
//!   too), `< 10^14` milliseconds (13 digits; from 1973-03-03 on), `< 10^17` microseconds (16 digits), anything
//!   larger nanoseconds (19 digits). Sub-millisecond precision is dropped by flooring on the timeline.
//!   Consequence: a millisecond value before 1973-03-03 (fewer than 12 digits) reads as seconds.
//! * **ISO-8601 / RFC 3339**: `YYYY-MM-DD`, then optionally `T`, `t` or spaces and `HH:MM[:SS[.fraction]]`
//!   (fraction of any length, `.` or `,`; truncated to milliseconds; a leap second `:60` reads as `:59`), then
//!   optionally a zone: `Z`/`z`, `+HH:MM`, `+HHMM`, `+HH`, `UTC`/`GMT` (optionally followed by an offset), or an
//!   RFC 2822 zone name like `EST`, optionally a bracketed RFC 9557 annotation (`[Europe/Berlin]`, used only when
//!   no offset is given). `/` or `.` may replace `-` in the date; month and day may have one digit. Without a
//!   zone the value is read in the [`DefaultZone`].
//! * **RFC 2822 and textual dates**: `[Mon, ]28 Jan 2013[ 16:10:15[ +0000]]`, also `28-Jan-2013`, full month
//!   and weekday names, `Jan 28, 2013 4:10 PM`, and JavaScript's `Mon Jan 28 2013 16:10:15 GMT+0000 (...)`.
//!   Weekdays are not checked against the date. Zones: `UT`, `UTC`, `GMT`, `Z`, `EST`/`EDT`, `CST`/`CDT`,
//!   `MST`/`MDT`, `PST`/`PDT`, numeric offsets; a trailing `(comment)` is ignored.
//! * **Day/month dates**: `DD/MM/YYYY` or `MM/DD/YYYY` with `/`, `.` or `-`, optionally followed by
//!   `HH:MM[:SS[.fff]]`, optional `AM`/`PM` (also allowed after any time above) and an optional zone. The order
//!   comes from [`TimestampOptions::date_order`] (month first when `None`); [`FormatDetector`] infers it.
//!   Two-digit years are rejected as ambiguous everywhere.
//!
//! Results must lie in the years 0000–9999 (UTC).
//!
//! # Performance
//!
//! `YYYY-MM-DDTHH:MM:SS[.fff]Z` (also `t`/space, and without `Z` in a fixed-offset default zone) and unsigned
//! integer unix numbers (up to 18 digits) take a hand-written fast path
//! (fixed-position digit arithmetic and the days-from-civil algorithm, no allocation); other forms use a
//! byte cursor, still without allocation on success. jiff is used only to resolve local times in IANA zones.

use std::fmt::Write as _;

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
    zone: Zone,
}

#[derive(Debug, Clone, PartialEq)]
enum Zone {
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// An IANA zone, with its daylight saving rules.
    Iana(jiff::tz::TimeZone),
}

impl DefaultZone {
    /// UTC.
    pub fn utc() -> Self {
        DefaultZone { zone: Zone::Fixed(0) }
    }
    /// Parse `UTC`, `Z`, a fixed offset like `+02:00` / `-0530`, or an IANA name like `Europe/Berlin`.
    ///
    /// Also accepted: `GMT`, `Etc/UTC`, `+2`, `UTC+2`, `GMT-05:30`. IANA names are matched case-insensitively
    /// against jiff's bundled time zone database, compiled in with the cargo feature `iana` (on by default;
    /// about +275 KB of release wasm). Without it IANA names are an error.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "utc" | "z" | "gmt" | "ut" | "zulu" | "universal" | "etc/utc" | "etc/gmt" | "etc/universal"
            | "etc/zulu" | "utc+0" | "utc-0" | "gmt+0" | "gmt-0" | "+0" | "-0" => return Ok(Self::utc()),
            _ => {}
        }
        let rest = lower
            .strip_prefix("utc")
            .or_else(|| lower.strip_prefix("gmt"))
            .filter(|r| r.starts_with(['+', '-']))
            .unwrap_or(&lower);
        if rest.starts_with(['+', '-']) {
            return match parse_fixed_offset(rest.as_bytes()) {
                Some(secs) => Ok(DefaultZone {
                    zone: Zone::Fixed(secs),
                }),
                None => Err(format!(
                    "invalid offset {t:?}: expected +hh:mm, +hhmm or +h with hours 0-23 and minutes 0-59"
                )),
            };
        }
        if t.is_empty() {
            return Err(
                "expected a time zone (utc, an offset like +02:00, or an iana name like europe/berlin), found \"\""
                    .to_string(),
            );
        }
        if !cfg!(feature = "iana") {
            return Err(format!(
                "time zone {t:?} needs iana time zone support (cargo feature \"iana\"): use utc or an offset like +02:00"
            ));
        }
        match jiff::tz::db().get(t) {
            Ok(tz) => Ok(DefaultZone { zone: Zone::Iana(tz) }),
            Err(_) => Err(format!(
                "unknown time zone {t:?}: expected utc, an offset like +02:00, or an iana name like europe/berlin"
            )),
        }
    }

    /// A display name: `UTC`, `+02:00`, or the IANA name (`Europe/Berlin`).
    pub fn name(&self) -> String {
        match &self.zone {
            Zone::Fixed(0) => "UTC".to_string(),
            Zone::Fixed(secs) => {
                let sign = if *secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
            }
            Zone::Iana(tz) => tz.iana_name().unwrap_or("unknown").to_string(),
        }
    }

    /// True for UTC (a zero offset).
    pub fn is_utc(&self) -> bool {
        self.zone == Zone::Fixed(0)
    }
}

impl Default for DefaultZone {
    fn default() -> Self {
        Self::utc()
    }
}

/// `+h`, `+hh`, `+hhmm`, `+hh:mm`, `+h:mm` (with `-` too) into seconds east of UTC.
fn parse_fixed_offset(b: &[u8]) -> Option<i32> {
    let (neg, b) = match b.split_first()? {
        (b'+', r) => (false, r),
        (b'-', r) => (true, r),
        _ => return None,
    };
    let mut c = Cur::new(b);
    let (h, nh) = c.digits(2);
    if nh == 0 || h > 23 {
        return None;
    }
    let mut m = 0;
    if !c.at_end() {
        c.eat(b':');
        let (mv, nm) = c.digits(2);
        if nm != 2 || mv > 59 || !c.at_end() {
            return None;
        }
        m = mv;
    }
    let secs = (h * 3600 + m * 60) as i32;
    Some(if neg { -secs } else { secs })
}

/// The format family detected for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimestampFormat {
    /// Integer (or decimal) unix seconds.
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
    /// Unix microseconds (nanoseconds, 19 digits, are counted here too).
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

const FORMATS: [TimestampFormat; 8] = [
    TimestampFormat::UnixSeconds,
    TimestampFormat::UnixMillis,
    TimestampFormat::UnixMicros,
    TimestampFormat::IsoZoned,
    TimestampFormat::IsoLocal,
    TimestampFormat::Rfc2822,
    TimestampFormat::DayMonth,
    TimestampFormat::Mixed,
];

/// Options for [`TimestampParser`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampOptions {
    /// Zone for values without one.
    pub default_zone: DefaultZone,
    /// Day/month order for ambiguous slash dates; `None` means "month first" unless told otherwise.
    pub date_order: Option<DateOrder>,
}

impl Default for TimestampOptions {
    /// UTC, month first.
    fn default() -> Self {
        TimestampOptions {
            default_zone: DefaultZone::utc(),
            date_order: None,
        }
    }
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

impl std::error::Error for TimestampError {}

fn err(message: String) -> TimestampError {
    TimestampError { message }
}

/// A value quoted for a message, cut to 60 bytes (at a character boundary).
fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &s[..end])
}

fn expected_any(s: &str) -> TimestampError {
    err(format!(
        "expected a date or time (unix seconds/ms, iso-8601, rfc 2822, dd/mm/yyyy), found {}",
        quote(s)
    ))
}

/// Parses timestamp cells; cheap to call per cell.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    zone: Zone,
    order: DateOrder,
}

impl TimestampParser {
    /// A parser with the given options.
    pub fn new(options: TimestampOptions) -> Self {
        TimestampParser {
            zone: options.default_zone.zone,
            order: options.date_order.unwrap_or(DateOrder::MonthFirst),
        }
    }
    /// Parse one cell (surrounding whitespace ignored) into unix milliseconds.
    #[inline]
    pub fn parse(&self, s: &str) -> Result<i64, TimestampError> {
        let t = crate::mapping::trim(s);
        let b = t.as_bytes();
        if let Some((ms, _)) = fast_path(b, &self.zone) {
            return Ok(ms);
        }
        parse_core(t, &self.zone, OrderMode::Fixed(self.order)).map(|p| p.millis)
    }
    /// Parse one cell and also tell which format family it was written in.
    pub fn parse_with_format(&self, s: &str) -> Result<(i64, TimestampFormat), TimestampError> {
        parse_core(s.trim(), &self.zone, OrderMode::Fixed(self.order)).map(|p| (p.millis, p.format))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Calendar arithmetic
// ---------------------------------------------------------------------------------------------------------

const MS_PER_DAY: i64 = 86_400_000;
/// 0000-01-01T00:00:00Z.
const MIN_MS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = 253_402_300_799_999;

// The calendar below works in 32-bit arithmetic for every year a timestamp can have (and far beyond): wasm
// divides 64-bit integers in hardware, 32-bit ones by a constant with a multiplication.

#[inline]
fn is_leap(y: i64) -> bool {
    if let Ok(y) = i32::try_from(y) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    }
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1–12) of year `y`; 0 for another `m`.
#[inline]
pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
#[inline]
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    if (-1_000_000..=1_000_000).contains(&y) {
        // No overflow here: |era * 146_097| < 2^29.
        let y = y as i32;
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
        return i64::from(era * 146_097 + doe - 719_468);
    }
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + i64::from(doy);
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
#[inline]
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

// ---------------------------------------------------------------------------------------------------------
// Fast paths
// ---------------------------------------------------------------------------------------------------------

#[inline(always)]
fn dig(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    if d < 10 {
        Some(d as u32)
    } else {
        None
    }
}

#[inline(always)]
fn d2(b: &[u8], i: usize) -> Option<u32> {
    Some(dig(b[i])? * 10 + dig(b[i + 1])?)
}

/// The fast path: `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]` (without `Z` only when the default zone is a fixed
/// offset) and unsigned integers of up to 18 digits (unit by digit count, same thresholds as the general
/// parser). `None` means "not this exact shape or not valid": the general parser decides (and explains).
#[inline]
fn fast_path(b: &[u8], zone: &Zone) -> Option<(i64, TimestampFormat)> {
    let n = b.len();
    if n >= 19 {
        if n > 24
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let zoned = (b[n - 1] | 0x20) == b'z';
        let body = n - usize::from(zoned);
        let ms = match body {
            19 => 0,
            23 if b[19] == b'.' => dig(b[20])? * 100 + dig(b[21])? * 10 + dig(b[22])?,
            _ => return None,
        };
        let off = match (zoned, zone) {
            (true, _) => 0,
            (false, Zone::Fixed(off)) => *off as i64,
            (false, Zone::Iana(_)) => return None,
        };
        let y = (d2(b, 0)? * 100 + d2(b, 2)?) as i64;
        let mo = d2(b, 5)?;
        let d = d2(b, 8)?;
        let h = d2(b, 11)?;
        let mi = d2(b, 14)?;
        let s = d2(b, 17)?;
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        let secs = days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64 - off;
        let millis = secs * 1000 + ms as i64;
        if !(MIN_MS..=MAX_MS).contains(&millis) {
            return None;
        }
        let format = if zoned {
            TimestampFormat::IsoZoned
        } else {
            TimestampFormat::IsoLocal
        };
        return Some((millis, format));
    }
    if (1..=18).contains(&n) {
        let mut v: i64 = 0;
        for &c in b {
            v = v * 10 + dig(c)? as i64;
        }
        // Leading zeros make the digit count lie about the magnitude: use the value.
        return Some(if v < 100_000_000_000 {
            (v * 1000, TimestampFormat::UnixSeconds)
        } else if v < 100_000_000_000_000 {
            (v, TimestampFormat::UnixMillis)
        } else if v < 100_000_000_000_000_000 {
            (v / 1000, TimestampFormat::UnixMicros)
        } else {
            (v / 1_000_000, TimestampFormat::UnixMicros)
        });
    }
    None
}

// ---------------------------------------------------------------------------------------------------------
// General parser
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum OrderMode {
    Fixed(DateOrder),
    /// Day first when the first part is > 12, else month first (for detection).
    Infer,
}

#[derive(Debug, Clone, Copy)]
struct Parsed {
    millis: i64,
    format: TimestampFormat,
    /// For day/month dates: the first and second parts as written.
    dm: Option<(u32, u32)>,
}

/// A byte cursor over ASCII-structured text. It only ever steps over ASCII bytes, so `i` is always a char
/// boundary of `s`.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cur { b, i: 0 }
    }
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    #[inline]
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    #[inline]
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    #[inline]
    fn eat_ci(&mut self, c: u8) -> bool {
        match self.peek() {
            Some(x) if x.to_ascii_lowercase() == c => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }
    fn skip_spaces(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }
    /// Up to `max` digits: (value, how many).
    #[inline]
    fn digits(&mut self, max: usize) -> (u32, usize) {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek().and_then(dig) {
                Some(d) => {
                    v = v.wrapping_mul(10).wrapping_add(d);
                    self.i += 1;
                    n += 1;
                }
                None => break,
            }
        }
        (v, n)
    }
    fn count_digits(&self) -> usize {
        self.b[self.i.min(self.b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    }
    fn word(&mut self) -> &'a [u8] {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        &self.b[start..self.i]
    }
}

fn parse_core(s: &str, zone: &Zone, order: OrderMode) -> Result<Parsed, TimestampError> {
    let b = s.as_bytes();
    if let Some((millis, format)) = fast_path(b, zone) {
        return Ok(Parsed {
            millis,
            format,
            dm: None,
        });
    }
    let Some(&c0) = b.first() else {
        return Err(expected_any(s));
    };
    if let Some(r) = parse_number(s) {
        return r;
    }
    if c0.is_ascii_digit() {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let next = b.get(n).copied();
        if n == 4 && matches!(next, Some(b'-' | b'/' | b'.')) {
            return parse_iso(s, zone);
        }
        if (n == 1 || n == 2) && matches!(next, Some(b'-' | b'/' | b'.')) {
            return parse_day_month(s, zone, order);
        }
        if n <= 2 && matches!(next, Some(b' ' | b'\t')) {
            return parse_text(s, zone);
        }
        return Err(expected_any(s));
    }
    if c0.is_ascii_alphabetic() {
        return parse_text(s, zone);
    }
    Err(expected_any(s))
}

/// Unix numbers. `None` when `s` is not number-shaped.
fn parse_number(s: &str) -> Option<Result<Parsed, TimestampError>> {
    const LIM: u128 = 1_000_000_000_000_000_000_000_000_000_000; // 10^30 significant digits at most
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    // value = m * 10^scale
    let mut m: u128 = 0;
    let mut scale: i64 = 0;
    let mut nd = 0usize;
    while let Some(d) = b.get(i).copied().and_then(dig) {
        if m < LIM {
            m = m * 10 + d as u128;
        } else {
            scale += 1;
        }
        nd += 1;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = b.get(i).copied().and_then(dig) {
            if m < LIM {
                m = m * 10 + d as u128;
                scale -= 1;
            }
            nd += 1;
            i += 1;
        }
    }
    if nd == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i64 = 0;
        let mut ne = 0;
        while let Some(d) = b.get(i).copied().and_then(dig) {
            e = (e * 10 + d as i64).min(100_000);
            ne += 1;
            i += 1;
        }
        if ne == 0 {
            return None;
        }
        scale += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    let out_of_range = || {
        Some(Err(err(format!(
            "unix timestamp {} is out of range: expected a time in the years 0000-9999",
            quote(s)
        ))))
    };
    let pow10 = |k: i64| -> Option<u128> {
        if (0..=38).contains(&k) {
            Some(10u128.pow(k as u32))
        } else {
            None
        }
    };
    // Integer part, to pick the unit.
    let ip = if m == 0 {
        0
    } else if scale >= 0 {
        match pow10(scale).and_then(|p| m.checked_mul(p)) {
            Some(v) => v,
            None => return out_of_range(),
        }
    } else {
        match pow10(-scale) {
            Some(p) => m / p,
            None => 0,
        }
    };
    let (format, unit_exp) = if ip < 100_000_000_000 {
        (TimestampFormat::UnixSeconds, 3)
    } else if ip < 100_000_000_000_000 {
        (TimestampFormat::UnixMillis, 0)
    } else if ip < 100_000_000_000_000_000 {
        (TimestampFormat::UnixMicros, -3)
    } else {
        (TimestampFormat::UnixMicros, -6)
    };
    let k = scale + unit_exp;
    let (q, inexact) = if m == 0 {
        (0, false)
    } else if k >= 0 {
        match pow10(k).and_then(|p| m.checked_mul(p)) {
            Some(v) => (v, false),
            None => return out_of_range(),
        }
    } else {
        match pow10(-k) {
            Some(p) => (m / p, m % p != 0),
            None => (0, true),
        }
    };
    if q > (i64::MAX as u128) {
        return out_of_range();
    }
    let q = q as i64;
    let ms = if neg { -q - i64::from(inexact) } else { q };
    if !(MIN_MS..=MAX_MS).contains(&ms) {
        return out_of_range();
    }
    Some(Ok(Parsed {
        millis: ms,
        format,
        dm: None,
    }))
}

#[derive(Debug, Clone, Copy, Default)]
struct TimeParts {
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
    /// Byte range of the time text in the input, for messages.
    start: usize,
    end: usize,
}

enum ZoneSpec {
    Default,
    Offset(i32),
    Tz(jiff::tz::TimeZone),
}

/// `disp` renders the date for messages (only called on error).
fn check_date(y: u32, m: u32, d: u32, disp: impl FnOnce() -> String, hint: &str) -> Result<(), TimestampError> {
    if !(1..=12).contains(&m) {
        let disp = disp();
        return Err(err(format!(
            "invalid date {disp}: month {m} is out of range (1-12){hint}"
        )));
    }
    let dim = days_in_month(y as i64, m);
    if d == 0 || d > dim {
        let disp = disp();
        return Err(err(format!(
            "invalid date {disp}: day {d} is out of range for {} ({dim} days in {y}){hint}",
            MONTHS[(m - 1) as usize]
        )));
    }
    Ok(())
}

/// `H[H]:MM[:SS[.fraction]]` at the cursor.
fn parse_time(c: &mut Cur<'_>, s: &str) -> Result<TimeParts, TimestampError> {
    let start = c.i;
    let bad = || {
        err(format!(
            "expected a time like hh:mm[:ss] after the date, found {} in {}",
            quote(&s[start..]),
            quote(s)
        ))
    };
    let (hour, nh) = c.digits(2);
    if nh == 0 || !c.eat(b':') {
        return Err(bad());
    }
    let (minute, nm) = c.digits(2);
    if nm != 2 {
        return Err(bad());
    }
    let mut t = TimeParts {
        hour,
        minute,
        start,
        ..TimeParts::default()
    };
    if c.peek() == Some(b':') && c.peek_at(1).is_some_and(|x| x.is_ascii_digit()) {
        c.i += 1;
        let (sec, ns) = c.digits(2);
        if ns != 2 {
            return Err(bad());
        }
        t.second = sec;
        if matches!(c.peek(), Some(b'.' | b',')) && c.peek_at(1).is_some_and(|x| x.is_ascii_digit()) {
            c.i += 1;
            let mut n = 0;
            while let Some(d) = c.peek().and_then(dig) {
                if n < 3 {
                    t.milli = t.milli * 10 + d;
                }
                n += 1;
                c.i += 1;
            }
            for _ in n..3 {
                t.milli *= 10;
            }
        }
    }
    t.end = c.i;
    Ok(t)
}

/// RFC 2822 / common zone abbreviations, in seconds east of UTC.
fn named_zone(w: &[u8]) -> Option<i32> {
    let mut l = [0u8; 4];
    if w.len() > 4 {
        return None;
    }
    for (i, c) in w.iter().enumerate() {
        l[i] = c.to_ascii_lowercase();
    }
    let h = 3600;
    Some(match &l[..w.len()] {
        b"ut" | b"utc" | b"gmt" | b"z" => 0,
        b"est" => -5 * h,
        b"edt" => -4 * h,
        b"cst" => -6 * h,
        b"cdt" => -5 * h,
        b"mst" => -7 * h,
        b"mdt" => -6 * h,
        b"pst" => -8 * h,
        b"pdt" => -7 * h,
        _ => return None,
    })
}

/// `+HH[:]MM`, `+HH` (or `-`) at the cursor, in seconds.
fn parse_offset(c: &mut Cur<'_>) -> Option<i32> {
    let neg = match c.peek()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    c.i += 1;
    let (h, nh) = c.digits(2);
    if nh == 0 || h > 23 {
        return None;
    }
    let mut m = 0;
    let save = c.i;
    let colon = c.eat(b':');
    let (mv, nm) = c.digits(2);
    if nm == 2 {
        m = mv;
    } else if nm == 0 && !colon {
        c.i = save;
    } else {
        return None;
    }
    if m > 59 || c.peek().is_some_and(|x| x.is_ascii_digit()) {
        return None;
    }
    let secs = (h * 3600 + m * 60) as i32;
    Some(if neg { -secs } else { secs })
}

/// What follows a date or time: `AM`/`PM`, a zone, an annotation or comment, then the end.
fn finish(c: &mut Cur<'_>, s: &str, time: &mut Option<TimeParts>) -> Result<ZoneSpec, TimestampError> {
    c.skip_spaces();
    if let Some(t) = time.as_mut() {
        let save = c.i;
        let pm = match c.peek().map(|x| x.to_ascii_lowercase()) {
            Some(b'a') => Some(false),
            Some(b'p') => Some(true),
            _ => None,
        };
        if let Some(pm) = pm {
            c.i += 1;
            c.eat(b'.');
            if c.eat_ci(b'm') && !c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
                c.eat(b'.');
                if t.hour == 0 || t.hour > 12 {
                    return Err(err(format!(
                        "invalid time {} {}: hour {} is out of range for am/pm (1-12)",
                        &s[t.start..t.end],
                        if pm { "pm" } else { "am" },
                        t.hour
                    )));
                }
                t.hour = t.hour % 12 + if pm { 12 } else { 0 };
                c.skip_spaces();
            } else {
                c.i = save;
            }
        }
    }
    let mut spec = ZoneSpec::Default;
    let zone_start = c.i;
    match c.peek() {
        None | Some(b'(' | b'[') => {}
        Some(b'+' | b'-') => match parse_offset(c) {
            Some(off) => spec = ZoneSpec::Offset(off),
            None => {
                c.i = zone_start;
                return Err(bad_zone(c, s));
            }
        },
        Some(x) if x.is_ascii_alphabetic() => {
            let start = c.i;
            let w = c.word();
            match named_zone(w) {
                Some(off) => {
                    let mut off = off;
                    if matches!(c.peek(), Some(b'+' | b'-')) && off == 0 {
                        match parse_offset(c) {
                            Some(o) => off = o,
                            None => {
                                c.i = zone_start;
                                return Err(bad_zone(c, s));
                            }
                        }
                    }
                    spec = ZoneSpec::Offset(off);
                }
                None => {
                    c.i = start;
                    return Err(bad_zone(c, s));
                }
            }
        }
        Some(_) => return Err(bad_zone(c, s)),
    }
    c.skip_spaces();
    if c.peek() == Some(b'[') {
        let rest = &s[c.i + 1..];
        let Some(close) = rest.find(']') else {
            return Err(bad_zone(c, s));
        };
        let name = rest[..close].trim_start_matches('!');
        if matches!(spec, ZoneSpec::Default) {
            match jiff::tz::db().get(name) {
                Ok(tz) => spec = ZoneSpec::Tz(tz),
                Err(_) => {
                    return Err(err(format!(
                        "unknown time zone {}: expected an iana name like europe/berlin, in {}",
                        quote(name),
                        quote(s)
                    )))
                }
            }
        }
        c.i += close + 2;
        c.skip_spaces();
    }
    if c.peek() == Some(b'(') {
        match s[c.i..].find(')') {
            Some(close) => c.i += close + 1,
            None => return Err(bad_zone(c, s)),
        }
        c.skip_spaces();
    }
    if !c.at_end() {
        return Err(bad_zone(c, s));
    }
    Ok(spec)
}

fn bad_zone(c: &Cur<'_>, s: &str) -> TimestampError {
    err(format!(
        "expected a zone like z, +02:00 or utc after the date/time, found {} in {}",
        quote(&s[c.i.min(s.len())..]),
        quote(s)
    ))
}

fn check_time(t: &mut TimeParts, s: &str) -> Result<(), TimestampError> {
    let disp = &s[t.start..t.end];
    if t.hour > 23 {
        return Err(err(format!(
            "invalid time {disp}: hour {} is out of range (0-23)",
            t.hour
        )));
    }
    if t.minute > 59 {
        return Err(err(format!(
            "invalid time {disp}: minute {} is out of range (0-59)",
            t.minute
        )));
    }
    if t.second > 60 {
        return Err(err(format!(
            "invalid time {disp}: second {} is out of range (0-59)",
            t.second
        )));
    }
    if t.second == 60 {
        // A leap second: read as :59 (like jiff).
        t.second = 59;
    }
    Ok(())
}

/// Combine a validated civil date and time with a zone into unix milliseconds.
fn to_millis(
    y: u32,
    mo: u32,
    d: u32,
    time: Option<TimeParts>,
    spec: ZoneSpec,
    default: &Zone,
    s: &str,
) -> Result<i64, TimestampError> {
    let t = time.unwrap_or_default();
    let local_secs = days_from_civil(y as i64, mo, d) * 86_400 + (t.hour * 3600 + t.minute * 60 + t.second) as i64;
    let utc_secs = match (&spec, default) {
        (ZoneSpec::Offset(off), _) | (ZoneSpec::Default, Zone::Fixed(off)) => local_secs - *off as i64,
        (ZoneSpec::Tz(tz), _) | (ZoneSpec::Default, Zone::Iana(tz)) => {
            let placed = jiff::civil::DateTime::new(
                y as i16,
                mo as i8,
                d as i8,
                t.hour as i8,
                t.minute as i8,
                t.second as i8,
                0,
            )
            .and_then(|dt| tz.to_timestamp(dt));
            match placed {
                Ok(ts) => ts.as_second(),
                Err(_) => return Err(range_err(s)),
            }
        }
    };
    let ms = utc_secs * 1000 + t.milli as i64;
    if !(MIN_MS..=MAX_MS).contains(&ms) {
        return Err(range_err(s));
    }
    Ok(ms)
}

fn range_err(s: &str) -> TimestampError {
    err(format!(
        "timestamp {} is out of range: expected a time in the years 0000-9999 (utc)",
        quote(s)
    ))
}

/// `YYYY-MM-DD...` (also `/` or `.`).
fn parse_iso(s: &str, zone: &Zone) -> Result<Parsed, TimestampError> {
    let b = s.as_bytes();
    let mut c = Cur::new(b);
    let (y, _) = c.digits(4);
    let sep = b[4];
    c.i = 5;
    let (mo, n1) = c.digits(2);
    if n1 == 0 || !c.eat(sep) {
        return Err(expected_iso(s));
    }
    let (d, n2) = c.digits(2);
    if n2 == 0 || c.peek().is_some_and(|x| x.is_ascii_digit()) {
        return Err(expected_iso(s));
    }
    check_date(y, mo, d, || s[..c.i].to_string(), "")?;
    let mut time = None;
    match c.peek() {
        Some(b'T' | b't') => {
            c.i += 1;
            time = Some(parse_time(&mut c, s)?);
        }
        Some(b' ' | b'\t') => {
            c.skip_spaces();
            if c.peek().is_some_and(|x| x.is_ascii_digit()) {
                time = Some(parse_time(&mut c, s)?);
            }
        }
        _ => {}
    }
    let spec = finish(&mut c, s, &mut time)?;
    if let Some(t) = time.as_mut() {
        check_time(t, s)?;
    }
    let format = if matches!(spec, ZoneSpec::Default) {
        TimestampFormat::IsoLocal
    } else {
        TimestampFormat::IsoZoned
    };
    let millis = to_millis(y, mo, d, time, spec, zone, s)?;
    Ok(Parsed {
        millis,
        format,
        dm: None,
    })
}

fn expected_iso(s: &str) -> TimestampError {
    err(format!(
        "expected an iso-8601 date like \"2013-01-28\" or \"2013-01-28T16:10:15Z\", found {}",
        quote(s)
    ))
}

fn two_digit_year(s: &str, forms: &str) -> TimestampError {
    err(format!(
        "2-digit year in {} is ambiguous: expected a 4-digit year ({forms})",
        quote(s)
    ))
}

/// `DD/MM/YYYY` or `MM/DD/YYYY` (also `.` or `-`), optional time.
fn parse_day_month(s: &str, zone: &Zone, order: OrderMode) -> Result<Parsed, TimestampError> {
    let b = s.as_bytes();
    let mut c = Cur::new(b);
    let bad = || {
        err(format!(
            "expected a date like dd/mm/yyyy or mm/dd/yyyy, found {}",
            quote(s)
        ))
    };
    let (p1, _) = c.digits(2);
    let sep = b[c.i];
    c.i += 1;
    let (p2, n2) = c.digits(2);
    if n2 == 0 || !c.eat(sep) {
        return Err(bad());
    }
    let ny = c.count_digits();
    if ny == 2 {
        return Err(two_digit_year(s, "dd/mm/yyyy or mm/dd/yyyy"));
    }
    if ny != 4 {
        return Err(bad());
    }
    let (y, _) = c.digits(4);
    let order = match order {
        OrderMode::Fixed(o) => o,
        OrderMode::Infer if p1 > 12 => DateOrder::DayFirst,
        OrderMode::Infer => DateOrder::MonthFirst,
    };
    let (d, mo, hint) = match order {
        DateOrder::DayFirst => (p1, p2, "; read as dd/mm/yyyy: is the column mm/dd/yyyy?"),
        DateOrder::MonthFirst => (p2, p1, "; read as mm/dd/yyyy: is the column dd/mm/yyyy?"),
    };
    let hint = if p1 <= 12 && p2 <= 12 { "" } else { hint };
    check_date(y, mo, d, || s[..c.i].to_string(), hint)?;
    let mut time = None;
    c.eat(b',');
    let spaced = c.skip_spaces() > 0;
    if (spaced || c.eat_ci(b't')) && c.peek().is_some_and(|x| x.is_ascii_digit()) {
        time = Some(parse_time(&mut c, s)?);
    } else if !spaced && !c.at_end() {
        return Err(bad());
    }
    let spec = finish(&mut c, s, &mut time)?;
    if let Some(t) = time.as_mut() {
        check_time(t, s)?;
    }
    let millis = to_millis(y, mo, d, time, spec, zone, s)?;
    Ok(Parsed {
        millis,
        format: TimestampFormat::DayMonth,
        dm: Some((p1, p2)),
    })
}

/// Index (0-based) of a month or weekday name: its full name, or a prefix of at least 3 letters.
fn name_index(w: &[u8], names: &[&str]) -> Option<usize> {
    if w.len() < 3 {
        return None;
    }
    names.iter().position(|n| {
        n.len() >= w.len()
            && n.as_bytes()[..w.len()]
                .iter()
                .zip(w)
                .all(|(a, b)| *a == b.to_ascii_lowercase())
    })
}

/// RFC 2822 and textual dates: `[Mon, ]28 Jan 2013 ...`, `[Mon ]Jan 28[,] 2013 ...`.
fn parse_text(s: &str, zone: &Zone) -> Result<Parsed, TimestampError> {
    let b = s.as_bytes();
    let mut c = Cur::new(b);
    let skip_seps = |c: &mut Cur<'_>| {
        let start = c.i;
        while matches!(c.peek(), Some(b' ' | b'\t' | b',' | b'-' | b'.')) {
            c.i += 1;
        }
        c.i > start
    };
    if c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        let save = c.i;
        let w = c.word();
        if name_index(w, &WEEKDAYS).is_some() {
            skip_seps(&mut c);
        } else {
            c.i = save;
        }
    }
    let (day, month);
    if c.peek().is_some_and(|x| x.is_ascii_digit()) {
        let (d, _) = c.digits(2);
        if c.peek().is_some_and(|x| x.is_ascii_digit()) || !skip_seps(&mut c) {
            return Err(expected_any(s));
        }
        let w = c.word();
        let Some(m) = name_index(w, &MONTHS) else {
            return Err(expected_any(s));
        };
        day = d;
        month = m as u32 + 1;
    } else {
        let w = c.word();
        let Some(m) = name_index(w, &MONTHS) else {
            return Err(expected_any(s));
        };
        skip_seps(&mut c);
        let (d, nd) = c.digits(2);
        if nd == 0 {
            return Err(expected_any(s));
        }
        // `28th`, `1st`...
        let save = c.i;
        let suffix = c.word();
        if !matches!(suffix.to_ascii_lowercase().as_slice(), b"st" | b"nd" | b"rd" | b"th") {
            c.i = save;
        }
        day = d;
        month = m as u32 + 1;
    }
    if !skip_seps(&mut c) {
        return Err(expected_any(s));
    }
    let ny = c.count_digits();
    if ny == 2 {
        return Err(two_digit_year(s, "like 28 jan 2013"));
    }
    if ny != 4 {
        return Err(expected_any(s));
    }
    let (y, _) = c.digits(4);
    check_date(y, month, day, || format!("{y:04}-{month:02}-{day:02}"), "")?;
    let mut time = None;
    let save = c.i;
    c.eat(b',');
    c.skip_spaces();
    if c.peek().is_some_and(|x| x.is_ascii_digit()) {
        time = Some(parse_time(&mut c, s)?);
    } else if c.peek().is_some_and(|x| x.is_ascii_alphabetic()) && c.i > save {
        // `Jan 28, 2013 at 4:10 PM`
        let save2 = c.i;
        let w = c.word();
        if w.eq_ignore_ascii_case(b"at") && c.skip_spaces() > 0 && c.peek().is_some_and(|x| x.is_ascii_digit()) {
            time = Some(parse_time(&mut c, s)?);
        } else {
            c.i = save2;
        }
    } else if c.i == save && !c.at_end() {
        return Err(expected_any(s));
    }
    let spec = finish(&mut c, s, &mut time)?;
    if let Some(t) = time.as_mut() {
        check_time(t, s)?;
    }
    let millis = to_millis(y, month, day, time, spec, zone, s)?;
    Ok(Parsed {
        millis,
        format: TimestampFormat::Rfc2822,
        dm: None,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------------------

/// 1971-01-01T00:00:00Z: plain numbers below this are not counted as timestamps by the detector.
const PLAUSIBLE_UNIX_MIN_MS: i64 = 31_536_000_000;
/// 2200-01-01T00:00:00Z: nor are numbers from here on.
const PLAUSIBLE_UNIX_MAX_MS: i64 = 7_258_118_400_000;

/// Learns a column's format and day/month order from sample values.
///
/// Plain numbers count as unix timestamps only when they land in 1971..2200 (so a column of small counts,
/// ids or `YYYYMMDD` numbers is not taken for timestamps); other values count when they parse at all.
#[derive(Debug, Clone, Default)]
pub struct FormatDetector {
    /// Parsed values per family, indexed like [`FORMATS`].
    counts: [u64; 8],
    non_empty: u64,
    parsed: u64,
    /// Day/month values whose first part is > 12.
    day_first: u64,
    /// Day/month values whose second part is > 12.
    month_first: u64,
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
    /// Share of non-empty sampled values (0..=1) that parse as a timestamp at all (plain numbers: only those
    /// landing in 1971..2200, see [`FormatDetector`]).
    pub parse_ratio: f64,
}

impl FormatDetector {
    /// A detector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// Look at one sample value (empty values are ignored).
    pub fn observe(&mut self, s: &str) {
        let t = s.trim();
        if t.is_empty() {
            return;
        }
        self.non_empty += 1;
        let Ok(p) = parse_core(t, &Zone::Fixed(0), OrderMode::Infer) else {
            return;
        };
        let unix = matches!(
            p.format,
            TimestampFormat::UnixSeconds | TimestampFormat::UnixMillis | TimestampFormat::UnixMicros
        );
        if unix && !(PLAUSIBLE_UNIX_MIN_MS..PLAUSIBLE_UNIX_MAX_MS).contains(&p.millis) {
            // Small counts, ids or compact `YYYYMMDD` dates are numbers, not evidence of a timestamp column.
            return;
        }
        self.parsed += 1;
        let idx = FORMATS.iter().position(|f| *f == p.format).unwrap_or(7);
        self.counts[idx] += 1;
        if let Some((a, b)) = p.dm {
            if a > 12 {
                self.day_first += 1;
            } else if b > 12 {
                self.month_first += 1;
            }
        }
    }
    /// The conclusion so far; `None` if no non-empty value was seen.
    ///
    /// The family is the one of at least 90% of the values that parse, else `Mixed` (also when nothing
    /// parses). Day/month order: any value with a first part > 12 means day-first, a second part > 12 means
    /// month-first; both seen is conflicting (`Mixed`, the order by majority, ties month-first); neither is
    /// `ambiguous` (month-first). `date_order` is `Some` whenever day/month values were seen.
    pub fn detect(&self) -> Option<DetectedFormat> {
        if self.non_empty == 0 {
            return None;
        }
        let parse_ratio = self.parsed as f64 / self.non_empty as f64;
        let (top, &top_n) = self
            .counts
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
        let mut format = if self.parsed > 0 && top_n * 10 >= self.parsed * 9 {
            FORMATS[top]
        } else {
            TimestampFormat::Mixed
        };
        let dm_seen = self.counts[6] > 0;
        let (date_order, ambiguous) = if !dm_seen {
            (None, false)
        } else if self.day_first > 0 && self.month_first > 0 {
            format = TimestampFormat::Mixed;
            let o = if self.day_first > self.month_first {
                DateOrder::DayFirst
            } else {
                DateOrder::MonthFirst
            };
            (Some(o), false)
        } else if self.day_first > 0 {
            (Some(DateOrder::DayFirst), false)
        } else if self.month_first > 0 {
            (Some(DateOrder::MonthFirst), false)
        } else {
            (Some(DateOrder::MonthFirst), true)
        };
        Some(DetectedFormat {
            format,
            date_order,
            ambiguous,
            parse_ratio,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------------------

#[inline(always)]
fn put2(buf: &mut [u8], i: usize, v: u32) {
    buf[i] = b'0' + (v / 10) as u8;
    buf[i + 1] = b'0' + (v % 10) as u8;
}

/// Append the ISO-8601 UTC form (`2013-01-28T16:10:15Z`, or `.123Z` when there are milliseconds) to `out`.
///
/// Years outside 0000–9999 use the expanded form with a sign and six or more digits (`+010000-01-01T00:00:00Z`,
/// `-000001-...`), as JavaScript's `toISOString` does.
pub fn write_iso8601(millis: i64, out: &mut Vec<u8>) {
    let days = millis.div_euclid(MS_PER_DAY);
    let rem = millis.rem_euclid(MS_PER_DAY) as u32;
    let (y, mo, d) = civil_from_days(days);
    let secs = rem / 1000;
    let ms = rem % 1000;
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut buf = [0u8; 24];
    let n = if (0..=9999).contains(&y) {
        let y = y as u32;
        put2(&mut buf, 0, y / 100);
        put2(&mut buf, 2, y % 100);
        0
    } else {
        let mut head = String::with_capacity(12);
        let _ = write!(head, "{}{:06}", if y < 0 { '-' } else { '+' }, y.unsigned_abs());
        out.extend_from_slice(head.as_bytes());
        4
    };
    buf[4] = b'-';
    put2(&mut buf, 5, mo);
    buf[7] = b'-';
    put2(&mut buf, 8, d);
    buf[10] = b'T';
    put2(&mut buf, 11, h);
    buf[13] = b':';
    put2(&mut buf, 14, mi);
    buf[16] = b':';
    put2(&mut buf, 17, s);
    let end = if ms == 0 {
        buf[19] = b'Z';
        20
    } else {
        buf[19] = b'.';
        buf[20] = b'0' + (ms / 100) as u8;
        put2(&mut buf, 21, ms % 100);
        buf[23] = b'Z';
        24
    };
    out.extend_from_slice(&buf[n..end]);
}

/// Unix seconds (floor) of unix milliseconds.
pub fn to_unix_seconds(millis: i64) -> i64 {
    millis.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC RFC 3339 string, via jiff (an independent oracle).
    fn utc(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn parser(zone: &str, order: Option<DateOrder>) -> TimestampParser {
        TimestampParser::new(TimestampOptions {
            default_zone: DefaultZone::parse(zone).unwrap(),
            date_order: order,
        })
    }

    const T: i64 = 1_359_389_415_000; // 2013-01-28T16:10:15Z

    #[test]
    fn accepted_formats_utc() {
        let p = parser("UTC", None);
        let cases: &[(&str, i64)] = &[
            // unix numbers
            ("1359389415", T),
            ("  1359389415 \t", T),
            ("\u{a0}1359389415\u{a0}", T),
            ("+1359389415", T),
            ("1359389415.5", T + 500),
            ("1359389415.123456", T + 123),
            ("1359389415123", T + 123),
            ("1359389415123.9", T + 123),
            ("1359389415123456", T + 123),
            ("1359389415123456789", T + 123),
            ("1.359389415e9", T),
            ("1.359389415E+12", T),
            ("0", 0),
            ("5", 5000),
            ("-1", -1000),
            ("-1.5", -1500),
            ("-0.0001", -1),
            ("-1359389415", -T),
            ("99999999999", 99_999_999_999_000),
            ("100000000000", 100_000_000_000),
            ("0001359389415", T),
            // ISO-8601 / RFC 3339 with zone
            ("2013-01-28T16:10:15Z", T),
            ("2013-01-28t16:10:15z", T),
            ("2013-01-28 16:10:15Z", T),
            ("2013-01-28T16:10:15.123Z", T + 123),
            ("2013-01-28T16:10:15.1Z", T + 100),
            ("2013-01-28T16:10:15.123456789Z", T + 123),
            ("2013-01-28T16:10:15,5Z", T + 500),
            ("2013-01-28T18:10:15+02:00", T),
            ("2013-01-28T18:10:15+0200", T),
            ("2013-01-28T18:10:15+02", T),
            ("2013-01-28T11:10:15-05:00", T),
            ("2013-01-28T21:40:15+05:30", T),
            ("2013-01-28T16:10:15.999999-00:00", T + 999),
            ("2013-01-28 16:10:15 +0000", T),
            ("2013-01-28 16:10:15 UTC", T),
            ("2013-01-28 16:10:15 GMT+0100", T - 3_600_000),
            ("2013-01-28T11:10:15 EST", T),
            ("2013-01-28T17:10:15+01:00[Europe/Paris]", T),
            #[cfg(feature = "iana")]
            ("2013-01-28T17:10:15[Europe/Berlin]", T),
            ("2013-01-28T16:10Z", T - 15_000),
            ("2013-01-28T16:10:60Z", T - 15_000 + 59_000),
            // ISO without zone (default zone UTC)
            ("2013-01-28T16:10:15", T),
            ("2013-01-28 16:10:15", T),
            ("2013-01-28 16:10:15.123", T + 123),
            ("2013-01-28 16:10", T - 15_000),
            ("2013-01-28", utc("2013-01-28T00:00:00Z")),
            ("2013/01/28 16:10:15", T),
            ("2013/1/28", utc("2013-01-28T00:00:00Z")),
            ("2013.01.28 16:10:15", T),
            ("2013-01-28 4:10:15 PM", T),
            ("2013-01-28 12:10 am", utc("2013-01-28T00:10:00Z")),
            ("2013-01-28 12:10 pm", utc("2013-01-28T12:10:00Z")),
            ("0000-01-01T00:00:00Z", MIN_MS),
            ("9999-12-31T23:59:59.999Z", MAX_MS),
            ("1900-01-01T00:00:00Z", utc("1900-01-01T00:00:00Z")),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2024-02-29", utc("2024-02-29T00:00:00Z")),
            ("2000-02-29", utc("2000-02-29T00:00:00Z")),
            // RFC 2822 and textual
            ("Mon, 28 Jan 2013 16:10:15 +0000", T),
            ("28 Jan 2013 16:10:15 +0000", T),
            ("Mon, 28 Jan 2013 16:10:15 GMT", T),
            ("Mon, 28 Jan 2013 16:10:15 UT", T),
            ("Mon, 28 Jan 2013 11:10:15 EST", T),
            ("Mon, 28 Jan 2013 12:10:15 EDT", T),
            ("Mon, 28 Jan 2013 08:10:15 PST", T),
            ("Mon, 28 Jan 2013 18:10:15 +0200", T),
            ("Mon, 28 Jan 2013 16:10 +0000", T - 15_000),
            ("Monday, 28 January 2013 16:10:15 +0000", T),
            ("Tue, 28 Jan 2013 16:10:15 +0000", T), // weekday not checked
            ("mon, 28 jan 2013 16:10:15 +0000 (UTC)", T),
            ("Mon, 28-Jan-2013 16:10:15 GMT", T),
            ("Mon Jan 28 2013 17:10:15 GMT+0100 (Central European Standard Time)", T),
            ("Jan 28, 2013 4:10:15 PM", T),
            ("January 28th, 2013 at 4:10:15 pm", T),
            ("28 Jan 2013", utc("2013-01-28T00:00:00Z")),
            ("Sept 1, 2013", utc("2013-09-01T00:00:00Z")),
            // day/month dates, month first by default
            ("01/28/2013", utc("2013-01-28T00:00:00Z")),
            ("1/28/2013 16:10:15", T),
            ("01/28/2013 4:10:15 PM", T),
            ("01/28/2013 04:10 PM", T - 15_000),
            ("01-28-2013 16:10", T - 15_000),
            ("01.28.2013 16:10:15.123", T + 123),
            ("01/28/2013, 16:10:15", T),
            ("01/28/2013T16:10:15Z", T),
            ("02/03/2024", utc("2024-02-03T00:00:00Z")),
        ];
        for (input, want) in cases {
            assert_eq!(p.parse(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn day_first() {
        let p = parser("UTC", Some(DateOrder::DayFirst));
        let cases: &[(&str, i64)] = &[
            ("28/01/2013", utc("2013-01-28T00:00:00Z")),
            ("28/01/2013 16:10:15", T),
            ("28.01.2013 16:10", T - 15_000),
            ("28-01-2013 04:10:15 pm", T),
            ("02/03/2024", utc("2024-03-02T00:00:00Z")),
            ("2/3/2024", utc("2024-03-02T00:00:00Z")),
        ];
        for (input, want) in cases {
            assert_eq!(p.parse(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn default_zone_fixed_offsets() {
        for (zone, off_s) in [
            ("+02:00", 7200),
            ("-0530", -19_800),
            ("+2", 7200),
            ("UTC+2", 7200),
            ("GMT-05:30", -19_800),
            ("Z", 0),
            ("utc", 0),
        ] {
            let p = parser(zone, None);
            assert_eq!(p.parse("2013-01-28 16:10:15"), Ok(T - off_s * 1000), "zone {zone}");
            // explicit zones win over the default
            assert_eq!(p.parse("2013-01-28T16:10:15Z"), Ok(T), "zone {zone}");
            assert_eq!(p.parse("1359389415"), Ok(T), "zone {zone}");
        }
        assert_eq!(DefaultZone::parse("+02:00").unwrap().name(), "+02:00");
        assert_eq!(DefaultZone::parse("-0530").unwrap().name(), "-05:30");
        assert!(DefaultZone::parse("utc").unwrap().is_utc());
        #[cfg(feature = "iana")]
        assert_eq!(DefaultZone::parse("europe/berlin").unwrap().name(), "Europe/Berlin");
        #[cfg(not(feature = "iana"))]
        assert!(DefaultZone::parse("Europe/Berlin")
            .unwrap_err()
            .contains("cargo feature"));
    }

    #[test]
    fn default_zone_errors() {
        for (zone, frag) in [
            #[cfg(feature = "iana")]
            ("Mars/Olympus", "unknown time zone \"Mars/Olympus\""),
            ("+25:00", "invalid offset"),
            ("+02:75", "invalid offset"),
            ("", "expected a time zone"),
        ] {
            let e = DefaultZone::parse(zone).unwrap_err();
            assert!(e.contains(frag), "zone {zone:?}: {e}");
        }
    }

    #[cfg(feature = "iana")]
    #[test]
    fn dst_new_york() {
        let p = parser("America/New_York", None);
        let cases: &[(&str, &str)] = &[
            ("2024-01-15 12:00:00", "2024-01-15T17:00:00Z"),
            ("2024-07-01 12:00:00", "2024-07-01T16:00:00Z"),
            // gap: 02:30 does not exist; compatible takes the time after the gap (03:30 EDT)
            ("2024-03-10 02:30:00", "2024-03-10T07:30:00Z"),
            ("2024-03-10 01:59:59", "2024-03-10T06:59:59Z"),
            ("2024-03-10 03:00:00", "2024-03-10T07:00:00Z"),
            // fold: 01:30 happens twice; compatible takes the first (EDT)
            ("2024-11-03 01:30:00", "2024-11-03T05:30:00Z"),
            ("2024-11-03 02:00:00", "2024-11-03T07:00:00Z"),
            ("11/03/2024 1:30 AM", "2024-11-03T05:30:00Z"),
            ("2024-07-01", "2024-07-01T04:00:00Z"),
            ("Mon, 01 Jul 2024 12:00:00", "2024-07-01T16:00:00Z"),
            // explicit offsets ignore the zone
            ("2024-07-01T12:00:00Z", "2024-07-01T12:00:00Z"),
            ("2024-07-01 12:00:00.250", "2024-07-01T16:00:00.250Z"),
        ];
        for (input, want) in cases {
            assert_eq!(p.parse(input), Ok(utc(want)), "input {input:?}");
        }
    }

    #[cfg(feature = "iana")]
    #[test]
    fn dst_berlin() {
        let p = parser("Europe/Berlin", Some(DateOrder::DayFirst));
        let cases: &[(&str, &str)] = &[
            ("2024-01-15 12:00:00", "2024-01-15T11:00:00Z"),
            ("2024-07-01 12:00:00", "2024-07-01T10:00:00Z"),
            ("2024-03-31 02:30:00", "2024-03-31T01:30:00Z"),
            ("2024-03-31 01:59:59", "2024-03-31T00:59:59Z"),
            ("2024-10-27 02:30:00", "2024-10-27T00:30:00Z"),
            ("2024-10-27 03:00:00", "2024-10-27T02:00:00Z"),
            ("27.10.2024 02:30", "2024-10-27T00:30:00Z"),
            ("31/03/2024", "2024-03-30T23:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(p.parse(input), Ok(utc(want)), "input {input:?}");
        }
    }

    #[test]
    fn errors() {
        let p = parser("UTC", None);
        let cases: &[(&str, &str)] = &[
            (
                "yesterday",
                "expected a date or time (unix seconds/ms, iso-8601, rfc 2822, dd/mm/yyyy), found \"yesterday\"",
            ),
            ("", "found \"\""),
            ("   ", "found \"\""),
            (
                "2024-02-30",
                "invalid date 2024-02-30: day 30 is out of range for february",
            ),
            (
                "2023-02-29T00:00:00Z",
                "invalid date 2023-02-29: day 29 is out of range for february (28 days in 2023)",
            ),
            ("2024-13-01", "invalid date 2024-13-01: month 13 is out of range (1-12)"),
            ("2024-00-10", "month 0 is out of range"),
            ("2024-04-31", "day 31 is out of range for april"),
            (
                "2024-01-01T25:00:00Z",
                "invalid time 25:00:00: hour 25 is out of range (0-23)",
            ),
            ("2024-01-01 25:00", "invalid time 25:00: hour 25 is out of range (0-23)"),
            ("2024-01-01T10:61:00Z", "minute 61 is out of range"),
            ("2024-01-01T10:00:61Z", "second 61 is out of range"),
            ("2024-01-01 13:00 pm", "hour 13 is out of range for am/pm"),
            (
                "2024-01-01T10:00:00+25:00",
                "expected a zone like z, +02:00 or utc after the date/time, found \"+25:00\"",
            ),
            ("2024-01-01T10:00:00 XYZ", "found \"XYZ\""),
            ("2024-01-01T10:00:00Zjunk", "expected a zone"),
            ("2024-01-01T", "expected a time like hh:mm[:ss]"),
            (
                "2024-01-01Tnoon",
                "expected a time like hh:mm[:ss] after the date, found \"noon\"",
            ),
            ("2024-01", "expected an iso-8601 date"),
            ("03/04/24", "2-digit year in \"03/04/24\" is ambiguous"),
            ("28 Jan 13 16:10:15 +0000", "2-digit year"),
            ("03/04/202", "expected a date like dd/mm/yyyy"),
            (
                "13/28/2024",
                "month 13 is out of range (1-12); read as mm/dd/yyyy: is the column dd/mm/yyyy?",
            ),
            ("02/30/2024", "day 30 is out of range for february"),
            ("03/04-2024", "expected a date like dd/mm/yyyy"),
            ("1e400", "out of range"),
            ("99999999999999999999999", "out of range"),
            ("-99999999999", "out of range"),
            ("Foo, 28 Jan 2013", "expected a date or time"),
            ("28 Foo 2013", "expected a date or time"),
            ("Mon, 30 Feb 2013 10:00:00 +0000", "invalid date"),
            ("10000-01-01", "expected a date or time"),
            ("1.2.3", "expected a date like dd/mm/yyyy"),
            ("--1", "expected a date or time"),
            (
                "2024-01-01T10:00:00[Mars/Olympus]",
                "unknown time zone \"Mars/Olympus\"",
            ),
            ("9999-12-31T23:59:59-01:00", "out of range"),
            ("0000-01-01T00:00:00+01:00", "out of range"),
        ];
        for (input, frag) in cases {
            match p.parse(input) {
                Ok(v) => panic!("input {input:?} parsed as {v}, expected an error containing {frag:?}"),
                Err(e) => {
                    assert!(
                        e.message.contains(frag),
                        "input {input:?}: message {:?} lacks {frag:?}",
                        e.message
                    );
                    let unquoted: String = e.message.split('"').step_by(2).collect();
                    assert_eq!(unquoted, unquoted.to_lowercase(), "not lowercase: {}", e.message);
                }
            }
        }
        // long inputs are cut in messages
        let long = "x".repeat(500);
        assert!(p.parse(&long).unwrap_err().message.len() < 200);
    }

    #[test]
    fn formats_reported() {
        let p = parser("UTC", None);
        let cases: &[(&str, TimestampFormat)] = &[
            ("1359389415", TimestampFormat::UnixSeconds),
            ("1359389415.5", TimestampFormat::UnixSeconds),
            ("1359389415123", TimestampFormat::UnixMillis),
            ("1359389415123456", TimestampFormat::UnixMicros),
            ("2013-01-28T16:10:15Z", TimestampFormat::IsoZoned),
            ("2013-01-28T16:10:15+01:00", TimestampFormat::IsoZoned),
            ("2013-01-28 16:10:15", TimestampFormat::IsoLocal),
            ("2013-01-28", TimestampFormat::IsoLocal),
            ("Mon, 28 Jan 2013 16:10:15 +0000", TimestampFormat::Rfc2822),
            ("01/28/2013", TimestampFormat::DayMonth),
        ];
        for (input, want) in cases {
            assert_eq!(p.parse_with_format(input).map(|r| r.1), Ok(*want), "input {input:?}");
        }
    }

    fn detect(values: &[&str]) -> Option<DetectedFormat> {
        let mut d = FormatDetector::new();
        for v in values {
            d.observe(v);
        }
        d.detect()
    }

    #[test]
    fn detector() {
        use DateOrder::*;
        use TimestampFormat::*;
        // (values, format, order, ambiguous, parse_ratio)
        type Case<'a> = (&'a [&'a str], TimestampFormat, Option<DateOrder>, bool, f64);
        let cases: &[Case] = &[
            (
                &["1359389415", "1359389416", "", "1700000000"],
                UnixSeconds,
                None,
                false,
                1.0,
            ),
            (&["1359389415000", "1359389416000"], UnixMillis, None, false, 1.0),
            (&["1359389415000000"], UnixMicros, None, false, 1.0),
            (
                &["2013-01-28T16:10:15Z", "2013-01-28T16:10:15+02:00"],
                IsoZoned,
                None,
                false,
                1.0,
            ),
            (&["2013-01-28 16:10:15", "2013-01-29"], IsoLocal, None, false, 1.0),
            (&["Mon, 28 Jan 2013 16:10:15 +0000"], Rfc2822, None, false, 1.0),
            (&["28/01/2013", "03/04/2013"], DayMonth, Some(DayFirst), false, 1.0),
            (&["01/28/2013", "03/04/2013"], DayMonth, Some(MonthFirst), false, 1.0),
            (&["01/02/2013", "03/04/2013"], DayMonth, Some(MonthFirst), true, 1.0),
            (
                &["28/01/2013", "01/28/2013", "29/01/2013"],
                Mixed,
                Some(DayFirst),
                false,
                1.0,
            ),
            (
                &["28/01/2013", "01/28/2013", "01/29/2013"],
                Mixed,
                Some(MonthFirst),
                false,
                1.0,
            ),
            (&["2013-01-28T16:10:15Z", "1359389415"], Mixed, None, false, 1.0),
            (
                &["1359389415", "1359389415", "yesterday", "n/a"],
                UnixSeconds,
                None,
                false,
                0.5,
            ),
            (&["yesterday"], Mixed, None, false, 0.0),
            (&["1", "25", "20240115", "1359389415"], UnixSeconds, None, false, 0.25),
            (&["-1359389415", "99999999999"], Mixed, None, false, 0.0),
            (&["2013-01-28", "01/28/2013"], Mixed, Some(MonthFirst), false, 1.0),
        ];
        for (values, format, order, ambiguous, ratio) in cases {
            let d = detect(values).unwrap();
            assert_eq!(d.format, *format, "values {values:?}: {d:?}");
            assert_eq!(d.date_order, *order, "values {values:?}: {d:?}");
            assert_eq!(d.ambiguous, *ambiguous, "values {values:?}: {d:?}");
            assert!((d.parse_ratio - ratio).abs() < 1e-9, "values {values:?}: {d:?}");
        }
        assert_eq!(detect(&[]), None);
        assert_eq!(detect(&["", "  "]), None);
        // mostly seconds, one stray millisecond value: still seconds
        let mut many = vec!["1359389415"; 20];
        many.push("1359389415000");
        assert_eq!(detect(&many).unwrap().format, UnixSeconds);
    }

    #[test]
    fn iso_writer() {
        let cases: &[(i64, &str)] = &[
            (T, "2013-01-28T16:10:15Z"),
            (T + 123, "2013-01-28T16:10:15.123Z"),
            (T + 5, "2013-01-28T16:10:15.005Z"),
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (-1000, "1969-12-31T23:59:59Z"),
            (MIN_MS, "0000-01-01T00:00:00Z"),
            (MAX_MS, "9999-12-31T23:59:59.999Z"),
            (utc("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z"),
            (MAX_MS + 1, "+010000-01-01T00:00:00Z"),
            (MIN_MS - 1000, "-000001-12-31T23:59:59Z"),
        ];
        for (ms, want) in cases {
            let mut out = b"x".to_vec();
            write_iso8601(*ms, &mut out);
            assert_eq!(std::str::from_utf8(&out[1..]).unwrap(), *want, "millis {ms}");
        }
        // extremes never panic
        for ms in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let mut out = Vec::new();
            write_iso8601(ms, &mut out);
            assert!(!out.is_empty());
        }
        assert_eq!(to_unix_seconds(-1), -1);
        assert_eq!(to_unix_seconds(T + 999), T / 1000);
    }

    #[test]
    fn calendar_in_32_bits_is_the_64_bit_one() {
        // The formulas in i64 throughout, as they were before the 32-bit path.
        let days64 = |y: i64, m: u32, d: u32| {
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let mp = ((m + 9) % 12) as i64;
            let doy = (153 * mp + 2) / 5 + d as i64 - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            era * 146_097 + doe - 719_468
        };
        let leap64 = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let mut years: Vec<i64> = (-1_000_003..=-999_997).chain(999_997..=1_000_003).collect();
        years.extend([-401, -400, -100, -4, -1, 0, 1, 4, 100, 400, 1970, 2000, 2100, 9999]);
        years.extend([
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            -(1 << 40),
            1 << 40,
        ]);
        for y in years {
            assert_eq!(is_leap(y), leap64(y), "{y}");
            for (m, d) in [(1, 1), (2, 28), (2, 29), (3, 1), (12, 31)] {
                assert_eq!(days_from_civil(y, m, d), days64(y, m, d), "{y}-{m}-{d}");
            }
        }
    }

    #[test]
    fn civil_roundtrip_every_day() {
        for days in days_from_civil(0, 1, 1)..=days_from_civil(9999, 12, 31) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn fast_path_agrees_with_general_parser() {
        let zones = [Zone::Fixed(0), Zone::Fixed(7200), Zone::Fixed(-19_800)];
        let mut ms = MIN_MS;
        let mut buf = Vec::new();
        while ms < MAX_MS {
            buf.clear();
            write_iso8601(ms, &mut buf);
            let z = std::str::from_utf8(&buf).unwrap().to_string();
            let variants = [
                z.clone(),
                z.replace('T', " "),
                z.replace('Z', ""),
                z.replace('T', "t").replace('Z', "z"),
            ];
            for zone in &zones {
                for v in &variants {
                    let fast = fast_path(v.as_bytes(), zone).map(|r| r.0);
                    let slow = parse_iso(v, zone).map(|p| p.millis).ok();
                    assert_eq!(fast, slow, "{v:?} in {zone:?}");
                }
            }
            ms += 9_876_543_211;
        }
        for v in [
            "1359389415",
            "000000001359389415",
            "1359389415123",
            "1359389415123456",
            "135938941512345678",
            "0",
        ] {
            let fast = fast_path(v.as_bytes(), &Zone::Fixed(0)).map(|r| r.0);
            let slow = parse_number(v).unwrap().map(|p| p.millis).ok();
            assert_eq!(fast, slow, "{v:?}");
        }
        // out of range near the edges falls back to the general parser, which explains
        let p = TimestampParser::new(TimestampOptions {
            default_zone: DefaultZone::parse("-01:00").unwrap(),
            date_order: None,
        });
        assert!(p
            .parse("9999-12-31 23:30:00")
            .unwrap_err()
            .message
            .contains("out of range"));
        assert_eq!(p.parse("2013-01-28 15:10:15.123"), Ok(T + 123));
    }
}
