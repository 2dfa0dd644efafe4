//! Anchor (a): the csv crate alone, a `ByteRecord` loop over the file (64 KiB buffer), counting records.
//! `cargo run --release --example bench_anchor_parse -- FILE`

#[path = "common.rs"]
mod common;

use std::time::Instant;

fn main() {
    let file = common::file_arg();
    let started = Instant::now();
    let cpu_started = common::cpu_secs();
    let bytes = std::fs::metadata(&file).expect("stat").len();
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(64 * 1024)
        .flexible(true)
        .from_path(&file)
        .expect("open");
    let mut rec = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut fields = 0u64;
    while rdr.read_byte_record(&mut rec).expect("csv") {
        rows += 1;
        fields += rec.len() as u64;
    }
    assert!(fields >= rows);
    common::Report {
        tool: "anchor-csv-parse",
        file,
        kind: common::arg("--kind").unwrap_or_default(),
        api: String::new(),
        bytes,
        rows,
        valid: rows,
        rejected: 0,
        batches: 0,
        body_bytes: 0,
        largest_body: 0,
        started,
        cpu_started,
    }
    .print();
}
