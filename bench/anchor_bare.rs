//! Anchor (b): the "bare csv + serde_json" program. Parse with the csv crate, build a Track v2 entry per row
//! with serde_json (`json!` and a `Map`), pack into `{"batch":[...]}` bodies of at most 490,000 bytes. No
//! validation: empty cells are skipped, numbers that parse become numbers, the timestamp becomes unix seconds
//! with a hand-written ISO-8601 parse (rows whose timestamp does not parse are skipped, the only check).
//! Events become `event` entries, people `identify` entries (dotted headers nest one level).
//! Two styles: `--style struct` (default: borrowed cells in a `#[derive(Serialize)]` struct, no allocation per
//! cell) and `--style json` (`json!` and a `serde_json::Map` per row, the way most quick scripts are written).
//! `cargo run --release --example bench_anchor_bare -- FILE --kind events|people [--style struct|json]`

#[path = "common.rs"]
mod common;

use std::time::Instant;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A cell as the struct style sends it.
enum Cell<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
    Obj(Vec<(&'a str, Cell<'a>)>),
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Int(i) => s.serialize_i64(*i),
            Cell::Float(f) => s.serialize_f64(*f),
            Cell::Bool(b) => s.serialize_bool(*b),
            Cell::Str(t) => s.serialize_str(t),
            Cell::Obj(kv) => {
                let mut m = s.serialize_map(Some(kv.len()))?;
                for (k, v) in kv {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

#[derive(Serialize)]
struct Ids<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    identifiers: Ids<'a>,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    attributes: Cell<'a>,
}

fn cell(c: &str) -> Cell<'_> {
    if let Ok(i) = c.parse::<i64>() {
        return Cell::Int(i);
    }
    if let Ok(f) = c.parse::<f64>() {
        if f.is_finite() {
            return Cell::Float(f);
        }
    }
    match c {
        "true" => Cell::Bool(true),
        "false" => Cell::Bool(false),
        _ => Cell::Str(c),
    }
}

const LIMIT: usize = 490_000;
const PREFIX: &[u8] = br#"{"batch":["#;
const SUFFIX: &[u8] = b"]}";

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0')))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` to unix seconds.
fn iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut t = days_from_civil(y, m, d) * 86_400;
    if b.len() >= 19 {
        let (h, mi, se) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        t += h * 3600 + mi * 60 + se;
    }
    Some(t)
}

fn value(cell: &str) -> Value {
    if let Ok(i) = cell.parse::<i64>() {
        return json!(i);
    }
    if let Ok(f) = cell.parse::<f64>() {
        if f.is_finite() {
            return json!(f);
        }
    }
    match cell {
        "true" => json!(true),
        "false" => json!(false),
        _ => json!(cell),
    }
}

struct Packer {
    body: Vec<u8>,
    items: usize,
    batches: u64,
    body_bytes: u64,
    largest: u64,
}

impl Packer {
    fn push(&mut self, item: &[u8]) {
        let sep = usize::from(self.items > 0);
        if self.body.len() + sep + item.len() + SUFFIX.len() > LIMIT {
            self.flush();
        }
        if self.items > 0 {
            self.body.push(b',');
        }
        self.body.extend_from_slice(item);
        self.items += 1;
    }
    fn flush(&mut self) {
        if self.items == 0 {
            return;
        }
        self.body.extend_from_slice(SUFFIX);
        self.batches += 1;
        self.body_bytes += self.body.len() as u64;
        self.largest = self.largest.max(self.body.len() as u64);
        // A real sender would hand the body off here.
        self.body.clear();
        self.body.extend_from_slice(PREFIX);
        self.items = 0;
    }
}

fn main() {
    let file = common::file_arg();
    let kind = common::arg("--kind").unwrap_or_else(|| "events".into());
    let events = kind == "events";
    let style = common::arg("--style").unwrap_or_else(|| "struct".into());
    let structs = style != "json";
    let started = Instant::now();
    let cpu_started = common::cpu_secs();
    let bytes = std::fs::metadata(&file).expect("stat").len();
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(64 * 1024)
        .flexible(true)
        .from_path(&file)
        .expect("open");
    let headers: Vec<String> = rdr.headers().expect("headers").iter().map(str::to_string).collect();
    let split: Vec<Option<(String, String)>> = headers
        .iter()
        .map(|h| h.split_once('.').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let mut packer = Packer {
        body: Vec::with_capacity(LIMIT + 64 * 1024),
        items: 0,
        batches: 0,
        body_bytes: 0,
        largest: 0,
    };
    packer.body.extend_from_slice(PREFIX);
    let mut rec = csv::StringRecord::new();
    let mut item = Vec::with_capacity(4096);
    let (mut rows, mut valid) = (0u64, 0u64);
    while rdr.read_record(&mut rec).expect("csv") {
        rows += 1;
        if structs {
            item.clear();
            let mut attrs: Vec<(&str, Cell)> = Vec::with_capacity(16);
            let entry = if events {
                let Some(ts) = rec.get(2).and_then(iso) else { continue };
                for (i, c) in rec.iter().enumerate().skip(3) {
                    if !c.is_empty() && i < headers.len() {
                        attrs.push((&headers[i], cell(c)));
                    }
                }
                Entry {
                    ty: "person",
                    identifiers: Ids {
                        id: rec.get(0).unwrap_or(""),
                    },
                    action: "event",
                    name: Some(rec.get(1).unwrap_or("")),
                    timestamp: Some(ts),
                    attributes: Cell::Obj(attrs),
                }
            } else {
                for (i, c) in rec.iter().enumerate().skip(1) {
                    if c.is_empty() || i >= headers.len() {
                        continue;
                    }
                    let v = if headers[i].ends_with("_at") {
                        iso(c).map_or(Cell::Str(c), Cell::Int)
                    } else {
                        cell(c)
                    };
                    match &split[i] {
                        Some((outer, inner)) => {
                            if let Some((_, Cell::Obj(kv))) = attrs.iter_mut().find(|(k, _)| k == outer) {
                                kv.push((inner, v));
                            } else {
                                attrs.push((outer, Cell::Obj(vec![(inner, v)])));
                            }
                        }
                        None => attrs.push((&headers[i], v)),
                    }
                }
                Entry {
                    ty: "person",
                    identifiers: Ids {
                        id: rec.get(0).unwrap_or(""),
                    },
                    action: "identify",
                    name: None,
                    timestamp: None,
                    attributes: Cell::Obj(attrs),
                }
            };
            serde_json::to_writer(&mut item, &entry).expect("json");
            packer.push(&item);
            valid += 1;
            continue;
        }
        let mut attrs = Map::new();
        let entry = if events {
            // user_id, event, timestamp, properties...
            let Some(ts) = rec.get(2).and_then(iso) else { continue };
            for (i, cell) in rec.iter().enumerate().skip(3) {
                if !cell.is_empty() && i < headers.len() {
                    attrs.insert(headers[i].clone(), value(cell));
                }
            }
            json!({
                "type": "person",
                "identifiers": {"id": rec.get(0).unwrap_or("")},
                "action": "event",
                "name": rec.get(1).unwrap_or(""),
                "timestamp": ts,
                "attributes": attrs,
            })
        } else {
            for (i, cell) in rec.iter().enumerate().skip(1) {
                if cell.is_empty() || i >= headers.len() {
                    continue;
                }
                let v = if headers[i].ends_with("_at") {
                    iso(cell).map_or_else(|| json!(cell), |t| json!(t))
                } else {
                    value(cell)
                };
                match &split[i] {
                    Some((outer, inner)) => {
                        let o = attrs.entry(outer.clone()).or_insert_with(|| json!({}));
                        if let Value::Object(m) = o {
                            m.insert(inner.clone(), v);
                        }
                    }
                    None => {
                        attrs.insert(headers[i].clone(), v);
                    }
                }
            }
            json!({
                "type": "person",
                "identifiers": {"id": rec.get(0).unwrap_or("")},
                "action": "identify",
                "attributes": attrs,
            })
        };
        item.clear();
        serde_json::to_writer(&mut item, &entry).expect("json");
        packer.push(&item);
        valid += 1;
    }
    packer.flush();
    common::Report {
        tool: if structs {
            "anchor-bare-serde-struct"
        } else {
            "anchor-bare-json-macro"
        },
        file,
        kind,
        api: "track".into(),
        bytes,
        rows,
        valid,
        rejected: rows - valid,
        batches: packer.batches,
        body_bytes: packer.body_bytes,
        largest_body: packer.largest,
        started,
        cpu_started,
    }
    .print();
}
