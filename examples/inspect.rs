//! Dry-run a CSV through the native core and show what it would send:
//! `cargo run --release --example inspect -- FILE --kind people|events --api track|pipelines [--delimiter X]`.

use std::io::Read;
use std::process::ExitCode;

use cio_backfill::mapping::Kind;
use cio_backfill::pipeline::{ApiChoice, ImportOptions, Importer, Step};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file = None;
    let mut kind = Kind::People;
    let mut api = ApiChoice::Track;
    let mut delimiter = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kind" => {
                kind = if it.next().map(String::as_str) == Some("events") {
                    Kind::Events
                } else {
                    Kind::People
                }
            }
            "--api" => {
                api = if it.next().map(String::as_str) == Some("pipelines") {
                    ApiChoice::Pipelines
                } else {
                    ApiChoice::Track
                }
            }
            "--delimiter" => delimiter = it.next().cloned(),
            f => file = Some(f.to_string()),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: inspect FILE --kind people|events --api track|pipelines");
        return ExitCode::from(2);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64);
    let mut opts = ImportOptions::new(api, kind, now);
    opts.dry_run = true;
    opts.keep_payloads = true;
    opts.delimiter = delimiter;
    let mut imp = match Importer::new(opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            return ExitCode::from(2);
        }
    };
    let mut f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot open {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut payloads = Vec::new();
    let result = (|| loop {
        let n = f.read(&mut buf).map_err(|e| format!("cannot read {file}: {e}"))?;
        if n == 0 {
            imp.finish().map_err(|e| format!("[{}] {e}", e.code()))?;
            break Ok::<(), String>(());
        }
        imp.push(&buf[..n]).map_err(|e| format!("[{}] {e}", e.code()))?;
        payloads.extend(imp.take_payloads());
    })();
    while imp.poll(now) != Step::Done {}
    payloads.extend(imp.take_payloads());
    let ins = imp.inspect();
    println!("== {file} ({kind:?}, {api:?})");
    if let Some(d) = &ins.dialect {
        println!(
            "dialect: encoding {:?}, delimiter {:?}, line endings {:?}",
            d.encoding, d.delimiter as char, d.line_ending
        );
    }
    println!("headers: {}", ins.headers.join(" | "));
    for c in &ins.columns {
        println!(
            "  column {:>2} {:<20} {:?} {:?} -> {}",
            c.index,
            c.header,
            c.role,
            c.ty,
            c.key_path.join(".")
        );
    }
    if let Err(e) = result {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let s = imp.summary();
    println!("summary: {}", serde_json::to_string(&s).unwrap_or_default());
    println!("issues:");
    for i in imp.take_issues() {
        let col = i.column_name.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
        println!("  line {:>3}{col} {:?} {}: {}", i.line, i.severity, i.code, i.message);
    }
    println!("first payloads:");
    for line in payloads.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(3) {
        println!("  {}", String::from_utf8_lossy(line));
    }
    println!(
        "rejected rows csv:\n{}",
        String::from_utf8_lossy(&imp.take_rejected_csv())
    );
    if s.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
