//! Property tests for `cio_backfill::timestamp`: never panic, and ISO-8601 round trips.

use cio_backfill::timestamp::{
    write_iso8601, DateOrder, DefaultZone, FormatDetector, TimestampOptions, TimestampParser,
};
use proptest::prelude::*;

fn parser(zone: &str, order: Option<DateOrder>) -> TimestampParser {
    TimestampParser::new(TimestampOptions {
        default_zone: DefaultZone::parse(zone).unwrap(),
        date_order: order,
    })
}

/// A zone with daylight saving time when IANA support is compiled in, else a fixed offset.
fn dst_zone(name: &'static str) -> &'static str {
    if cfg!(feature = "iana") {
        name
    } else {
        "+02:00"
    }
}

/// 1900-01-01T00:00:00Z ..= 2100-12-31T23:59:59.999Z
const LO: i64 = -2_208_988_800_000;
const HI: i64 = 4_133_980_799_999;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_string(s in any::<String>()) {
        for p in [parser("UTC", None), parser(dst_zone("Europe/Berlin"), Some(DateOrder::DayFirst))] {
            let _ = p.parse(&s);
        }
        let mut d = FormatDetector::default();
        d.observe(&s);
        let _ = d.detect();
        let _ = DefaultZone::parse(&s);
    }

    #[test]
    fn never_panics_on_date_like_strings(
        s in "[0-9 :./,+TZtzAPMapm()\\[\\]-]{0,40}|[0-9]{1,4}[-/.][0-9]{1,3}[-/.][0-9]{1,5}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?( ?[AaPp][Mm])?( ?[+-][0-9]{1,4}| ?[A-Za-z]{1,4})?"
    ) {
        for p in [parser("UTC", None), parser(dst_zone("America/New_York"), None)] {
            if let Ok(ms) = p.parse(&s) {
                // whatever parses is in the supported range and formats back
                let mut out = Vec::new();
                write_iso8601(ms, &mut out);
                prop_assert!(out.len() == 20 || out.len() == 24, "{s:?} -> {ms}");
            }
        }
    }

    #[test]
    fn never_panics_on_numbers(s in "[+-]?[0-9]{0,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?") {
        let _ = parser("UTC", None).parse(&s);
    }

    #[test]
    fn iso_roundtrip(ms in LO..=HI) {
        let p = parser("UTC", None);
        let mut out = Vec::new();
        write_iso8601(ms, &mut out);
        let s = std::str::from_utf8(&out).unwrap();
        prop_assert_eq!(p.parse(s), Ok(ms), "{}", s);
        // a default zone does not change zoned values
        prop_assert_eq!(parser(dst_zone("Asia/Kolkata"), None).parse(s), Ok(ms), "{}", s);
    }

    #[test]
    fn iso_matches_jiff(ms in LO..=HI) {
        let mut out = Vec::new();
        write_iso8601(ms, &mut out);
        let ts = jiff::Timestamp::from_millisecond(ms).unwrap();
        let want = if ms.rem_euclid(1000) == 0 {
            ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        };
        prop_assert_eq!(std::str::from_utf8(&out).unwrap(), want);
    }

    #[test]
    fn unix_seconds_and_millis(secs in -2_208_988_800i64..=4_133_980_799, ms in 0i64..1000) {
        let p = parser("UTC", None);
        prop_assert_eq!(p.parse(&secs.to_string()), Ok(secs * 1000));
        let m = secs * 1000 + ms;
        if m.abs() >= 100_000_000_000 {
            prop_assert_eq!(p.parse(&m.to_string()), Ok(m));
            prop_assert_eq!(p.parse(&(m * 1000).to_string()), Ok(m));
        }
    }

    #[cfg(feature = "iana")]
    #[test]
    fn local_in_zone_matches_jiff(ms in LO..=HI, zone in prop::sample::select(vec![
        "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
    ])) {
        // format a UTC instant as local wall time in `zone`, parse it back in `zone`:
        // equal to jiff's compatible resolution of that wall time
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        let ts = jiff::Timestamp::from_millisecond(ms).unwrap();
        let local = tz.to_datetime(ts);
        let text = local.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string();
        let want = tz.to_timestamp(local).unwrap().as_millisecond();
        prop_assert_eq!(parser(zone, None).parse(&text), Ok(want), "{}", text);
    }
}
