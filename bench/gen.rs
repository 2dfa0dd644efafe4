//! Writes realistic, deterministic benchmark CSVs:
//! `cargo run --release --example bench_gen -- --kind events|people --mb 100 [--seed 42] [--out FILE]`
//! `[--rows N]` (exactly N data rows instead of a size) `[--clean]` (no bad rows and no odd cells: every row valid).
//!
//! Events: user_id, event, timestamp (ISO-8601 Z), plan, amount, currency, coupon, sku, quantity, channel, note
//! (5–8 properties present per row; the note has occasional quotes and commas).
//! People: id, email, first/last name, plan, company, phone, address.city, address.country, created_at (date),
//! vip, lifetime_value (12 columns).
//! About 0.5% of rows are bad (missing id or event, bad timestamp or email, a non-number, a short row).
//! The same seed and size give the same bytes. Sizes are in MB of 1,000,000 bytes; the file ends at the first
//! row boundary at or past the size.

use std::io::{BufWriter, Write};

/// `--clean`: no bad rows or odd cells.
static CLEAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn clean() -> bool {
    CLEAN.load(std::sync::atomic::Ordering::Relaxed)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64: fast, deterministic, good enough for test data.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, per_10k: u64) -> bool {
        self.below(10_000) < per_10k
    }
}

const EVENTS: &[&str] = &[
    "purchased",
    "signed_up",
    "page_viewed",
    "added_to_cart",
    "checkout_started",
    "subscription_renewed",
    "trial_started",
    "email_clicked",
    "support_ticket_opened",
    "invoice_paid",
];
const PLANS: &[&str] = &["free", "starter", "pro", "team", "enterprise"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CAD", "AUD"];
const COUPONS: &[&str] = &["WELCOME10", "SPRING24", "BLACKFRIDAY", "LOYAL5", "FREESHIP"];
const CHANNELS: &[&str] = &["web", "ios", "android", "email", "partner"];
const WORDS: &[&str] = &[
    "customer",
    "asked",
    "about",
    "delivery",
    "the",
    "order",
    "was",
    "late",
    "great",
    "service",
    "refund",
    "requested",
    "gift",
    "wrap",
    "please",
    "call",
    "back",
    "before",
    "noon",
    "size",
    "too",
    "small",
    "blue",
    "colour",
    "prefers",
    "invoice",
    "by",
    "post",
    "happy",
    "again",
    "new",
    "address",
    "next",
    "week",
];
const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Edsger",
    "Barbara",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Sophie",
    "Tim",
    "Joan",
    "Bjarne",
    "Zoë",
    "José",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Dijkstra",
    "Liskov",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "Knuth",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Wirth",
    "Wilson",
    "Berners-Lee",
    "Clarke",
    "Stroustrup",
    "Müller",
    "O'Brien",
];
const CITIES: &[(&str, &str)] = &[
    ("London", "GB"),
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("New York", "US"),
    ("San Francisco", "US"),
    ("Toronto", "CA"),
    ("Sydney", "AU"),
    ("Tokyo", "JP"),
    ("São Paulo", "BR"),
    ("Madrid", "ES"),
    ("Amsterdam", "NL"),
    ("Dublin", "IE"),
];
const COMPANIES: &[&str] = &[
    "Acme Inc",
    "Globex",
    "Initech",
    "Umbrella, Ltd",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net", "corp.example"];

/// Unix seconds to (y, m, d, hh, mm, ss), proleptic Gregorian, UTC.
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

// 2020-01-01T00:00:00Z .. 2024-12-31: old enough to stay out of the campaign window and the future.
const T0: i64 = 1_577_836_800;
const SPAN: u64 = 5 * 365 * 86_400;

fn note(rng: &mut Rng, out: &mut Vec<u8>) {
    let r = rng.below(100);
    if r < 20 {
        return; // empty
    }
    let words = 3 + rng.below(10) as usize;
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if rng.chance(800) { ',' } else { ' ' });
            if s.ends_with(',') {
                s.push(' ');
            }
        }
        if rng.chance(300) {
            s.push('"');
            s.push_str(rng.pick(WORDS));
            s.push('"');
        } else {
            s.push_str(rng.pick(WORDS));
        }
    }
    csv_cell(&s, out);
}

fn csv_cell(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn event_row(rng: &mut Rng, n: u64, out: &mut Vec<u8>) {
    // ~0.5% bad rows (rejected), spread over the kinds of mistake people make: missing id or event name, an
    // event name that is too long, a bad timestamp, a short row.
    let bad = if rng.chance(50) { 1 + rng.below(6) } else { 0 };
    let bad = if clean() { 0 } else { bad };
    // Odd cells that are sent as text (after the 1000-row type sample, so the column stays numeric).
    let odd = if n > 1000 && rng.chance(5) && !clean() {
        1 + rng.below(2)
    } else {
        0
    };
    let user = 1 + rng.below(2_000_000);
    if bad != 1 {
        write!(out, "u{user}").unwrap();
    }
    out.push(b',');
    if bad == 4 {
        out.extend_from_slice(
            b"purchased_via_the_partner_portal_after_a_long_description_pasted_into_the_event_name_field_by_mistake",
        );
    } else if bad != 2 {
        out.extend_from_slice(rng.pick(EVENTS).as_bytes());
    }
    out.push(b',');
    if bad == 3 {
        out.extend_from_slice(if rng.chance(5000) {
            b"yesterday"
        } else {
            b"2021-13-45T25:61:00Z"
        });
    } else {
        let (y, mo, d, h, mi, s) = civil(T0 + rng.below(SPAN) as i64);
        write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z").unwrap();
    }
    out.push(b',');
    out.extend_from_slice(rng.pick(PLANS).as_bytes());
    out.push(b',');
    if odd == 1 {
        out.extend_from_slice(b"twelve");
    } else {
        let cents = 99 + rng.below(50_000);
        write!(out, "{}.{:02}", cents / 100, cents % 100).unwrap();
    }
    out.push(b',');
    out.extend_from_slice(rng.pick(CURRENCIES).as_bytes());
    out.push(b',');
    if rng.chance(3000) {
        out.extend_from_slice(rng.pick(COUPONS).as_bytes());
    }
    out.push(b',');
    write!(out, "SKU-{:05}", rng.below(100_000)).unwrap();
    out.push(b',');
    if odd == 2 {
        out.extend_from_slice(b"a few");
    } else {
        write!(out, "{}", 1 + rng.below(9)).unwrap();
    }
    if bad == 5 || bad == 6 {
        out.push(b'\n'); // a short row: fields are missing
        return;
    }
    out.push(b',');
    if rng.chance(7000) {
        out.extend_from_slice(rng.pick(CHANNELS).as_bytes());
    }
    out.push(b',');
    note(rng, out);
    out.push(b'\n');
}

fn people_row(rng: &mut Rng, n: u64, out: &mut Vec<u8>) {
    // ~0.5% bad rows (rejected): missing id, an id over 150 bytes, a row with a field too many or too few.
    let bad = if rng.chance(50) { 1 + rng.below(4) } else { 0 };
    let bad = if clean() { 0 } else { bad };
    // Odd cells that are sent as text (after the 1000-row type sample): an email without @, a bad date, a word
    // for a number.
    let odd = if n > 1000 && rng.chance(5) && !clean() {
        1 + rng.below(3)
    } else {
        0
    };
    if bad == 2 {
        out.extend_from_slice("x".repeat(151).as_bytes());
    } else if bad != 1 {
        write!(out, "{}", 100_000 + n).unwrap();
    }
    out.push(b',');
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    if odd == 1 {
        write!(out, "{}.at.{}", first.to_lowercase(), rng.pick(DOMAINS)).unwrap();
    } else {
        let local: String = format!("{}.{}{}", first, last, n)
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        write!(out, "{local}@{}", rng.pick(DOMAINS)).unwrap();
    }
    out.push(b',');
    out.extend_from_slice(first.as_bytes());
    out.push(b',');
    csv_cell(last, out);
    out.push(b',');
    out.extend_from_slice(rng.pick(PLANS).as_bytes());
    out.push(b',');
    csv_cell(rng.pick(COMPANIES), out);
    out.push(b',');
    if rng.chance(6000) {
        write!(out, "+1-555-{:03}-{:04}", rng.below(1000), rng.below(10_000)).unwrap();
    }
    out.push(b',');
    let (city, country) = CITIES[rng.below(CITIES.len() as u64) as usize];
    out.extend_from_slice(city.as_bytes());
    out.push(b',');
    out.extend_from_slice(country.as_bytes());
    out.push(b',');
    if odd == 2 {
        out.extend_from_slice(b"not a date");
    } else {
        let (y, mo, d, ..) = civil(T0 + rng.below(SPAN) as i64);
        write!(out, "{y:04}-{mo:02}-{d:02}").unwrap();
    }
    out.push(b',');
    out.extend_from_slice(if rng.chance(1000) { b"true" } else { b"false" });
    out.push(b',');
    if odd == 3 {
        out.extend_from_slice(b"lots");
    } else if bad == 3 {
        out.extend_from_slice(b"1.5,extra"); // one field too many
    } else if bad == 4 {
        // a field too few: drop the value and its comma
        out.pop();
    } else {
        let cents = rng.below(2_000_000);
        write!(out, "{}.{:02}", cents / 100, cents % 100).unwrap();
    }
    out.push(b'\n');
}

fn main() {
    let mut kind = String::from("events");
    let mut mb: f64 = 100.0;
    let mut seed: u64 = 42;
    let mut out_path: Option<String> = None;
    let mut want_rows: Option<u64> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--kind" => kind = val(),
            "--mb" => mb = val().parse().expect("--mb NUMBER"),
            "--seed" => seed = val().parse().expect("--seed NUMBER"),
            "--out" => out_path = Some(val()),
            "--rows" => want_rows = Some(val().parse().expect("--rows NUMBER")),
            "--clean" => CLEAN.store(true, std::sync::atomic::Ordering::Relaxed),
            other => panic!("unknown argument {other}"),
        }
    }
    let path = out_path.unwrap_or_else(|| format!("bench/data/{kind}-{mb}mb.csv"));
    if let Some(dir) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(dir).expect("create output dir");
    }
    let target = (mb * 1_000_000.0) as u64;
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("create output"));
    let mut rng = Rng(seed ^ if kind == "people" { 0x5EED } else { 0xE7E7 });
    let mut buf = Vec::with_capacity(1 << 16);
    let header: &[u8] = match kind.as_str() {
        "events" => b"user_id,event,timestamp,plan,amount,currency,coupon,sku,quantity,channel,note\n",
        "people" => {
            b"id,email,first_name,last_name,plan,company,phone,address.city,address.country,created_at,vip,lifetime_value\n"
        }
        k => panic!("--kind events|people, found {k}"),
    };
    buf.extend_from_slice(header);
    let mut written = 0u64;
    let mut rows = 0u64;
    let more = |written: u64, buffered: usize, rows: u64| match want_rows {
        Some(n) => rows < n,
        None => written + (buffered as u64) < target,
    };
    while more(written, buf.len(), rows) {
        if kind == "events" {
            event_row(&mut rng, rows, &mut buf);
        } else {
            people_row(&mut rng, rows, &mut buf);
        }
        rows += 1;
        if buf.len() > 60_000 {
            w.write_all(&buf).unwrap();
            written += buf.len() as u64;
            buf.clear();
        }
    }
    w.write_all(&buf).unwrap();
    written += buf.len() as u64;
    w.flush().unwrap();
    println!("{path}: {written} bytes, {rows} rows");
}
