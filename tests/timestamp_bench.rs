//! Rough timings of the timestamp hot paths. Run with
//! `cargo test --release --test timestamp_bench -- --ignored --nocapture`.

use cio_backfill::timestamp::{write_iso8601, DefaultZone, TimestampOptions, TimestampParser};
use std::hint::black_box;
use std::time::Instant;

fn values(f: impl Fn(i64) -> String) -> Vec<String> {
    (0..10_000i64).map(|i| f(1_359_389_415 + i * 7_919)).collect()
}

fn iso(secs: i64, frac: bool) -> String {
    let mut out = Vec::new();
    write_iso8601(secs * 1000 + if frac { 123 } else { 0 }, &mut out);
    String::from_utf8(out).unwrap()
}

fn time_parse(name: &str, p: &TimestampParser, vals: &[String]) {
    let rounds = 100;
    let mut sum = 0i64;
    let start = Instant::now();
    for _ in 0..rounds {
        for v in vals {
            sum = sum.wrapping_add(p.parse(black_box(v)).unwrap());
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * vals.len()) as f64;
    black_box(sum);
    println!("{name:<40} {ns:>7.1} ns/value");
}

#[test]
#[ignore]
fn bench_timestamps() {
    let utc = TimestampParser::new(TimestampOptions::default());
    time_parse("unix seconds", &utc, &values(|s| s.to_string()));
    time_parse("unix millis", &utc, &values(|s| (s * 1000 + 123).to_string()));
    time_parse("iso YYYY-MM-DDTHH:MM:SSZ", &utc, &values(|s| iso(s, false)));
    time_parse("iso YYYY-MM-DDTHH:MM:SS.fffZ", &utc, &values(|s| iso(s, true)));
    time_parse(
        "iso +02:00 offset",
        &utc,
        &values(|s| iso(s, false).replace('Z', "+02:00")),
    );
    time_parse(
        "iso local 'YYYY-MM-DD HH:MM:SS' utc",
        &utc,
        &values(|s| iso(s, false).replace('T', " ").replace('Z', "")),
    );
    time_parse(
        "rfc 2822",
        &utc,
        &values(|_| "Mon, 28 Jan 2013 16:10:15 +0000".to_string()),
    );
    time_parse("mm/dd/yyyy hh:mm", &utc, &values(|_| "01/28/2013 16:10".to_string()));
    if cfg!(feature = "iana") {
        let ny = TimestampParser::new(TimestampOptions {
            default_zone: DefaultZone::parse("America/New_York").unwrap(),
            date_order: None,
        });
        time_parse(
            "iso local in America/New_York",
            &ny,
            &values(|s| iso(s, false).replace('Z', "")),
        );
    }
    let rounds = 100;
    let mut out = Vec::with_capacity(32);
    let start = Instant::now();
    for r in 0..rounds * 10_000i64 {
        out.clear();
        write_iso8601(black_box(1_359_389_415_000 + r * 7_919_123), &mut out);
        black_box(&out);
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * 10_000) as f64;
    println!("{:<40} {ns:>7.1} ns/value", "write_iso8601");
}
