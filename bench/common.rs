//! Shared by the benchmark programs: arguments, peak memory, the JSON result line.

#![allow(dead_code)]

use std::time::Instant;

/// Peak resident set size of this process in KiB (`VmHWM`), 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time this process has run so far, in seconds (`/proc/self/schedstat`, ns on a CPU), 0 if unknown.
/// Less sensitive than wall time to other work on a shared machine (it still feels shared caches).
pub fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map_or(0.0, |ns| ns / 1e9)
}

/// `--name value` from the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The first argument that is not a flag or a flag's value.
pub fn file_arg() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        if args[i].starts_with("--") {
            i += 2;
            continue;
        }
        return args[i].clone();
    }
    panic!("usage: PROGRAM FILE [--kind events|people] [--api track|pipelines]");
}

/// One result, printed as a JSON line on stdout.
pub struct Report {
    pub tool: &'static str,
    pub file: String,
    pub kind: String,
    pub api: String,
    pub bytes: u64,
    pub rows: u64,
    pub valid: u64,
    pub rejected: u64,
    pub batches: u64,
    pub body_bytes: u64,
    pub largest_body: u64,
    pub started: Instant,
    /// [`cpu_secs`] when the work started.
    pub cpu_started: f64,
}

impl Report {
    pub fn print(&self) {
        let secs = self.started.elapsed().as_secs_f64();
        let cpu = cpu_secs() - self.cpu_started;
        println!(
            "{{\"tool\":\"{}\",\"file\":\"{}\",\"kind\":\"{}\",\"api\":\"{}\",\"bytes\":{},\"rows\":{},\"valid\":{},\
             \"rejected\":{},\"batches\":{},\"bodyBytes\":{},\"largestBody\":{},\"secs\":{:.4},\"mbPerSec\":{:.2},\
             \"rowsPerSec\":{:.0},\"cpuSecs\":{:.4},\"mbPerCpuSec\":{:.2},\"peakRssKib\":{}}}",
            self.tool,
            self.file,
            self.kind,
            self.api,
            self.bytes,
            self.rows,
            self.valid,
            self.rejected,
            self.batches,
            self.body_bytes,
            self.largest_body,
            secs,
            self.bytes as f64 / 1e6 / secs,
            self.rows as f64 / secs,
            cpu,
            self.bytes as f64 / 1e6 / cpu,
            peak_rss_kib()
        );
    }
}
