#!/usr/bin/env python3
"""Turns the JSON lines of bench/run.sh into bench/RESULTS.md (one run's numbers only)."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

src, dst = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(src) if l.strip()]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"


def cpu():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return "?"


def mem_gib():
    for l in open("/proc/meminfo"):
        if l.startswith("MemTotal"):
            return f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def os_name():
    try:
        for l in open("/etc/os-release"):
            if l.startswith("PRETTY_NAME="):
                return l.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


LABEL = {
    ("anchor-csv-parse", ""): "anchor (a): csv crate, parse only (ByteRecord loop)",
    ("anchor-bare-serde-struct", "track"): "anchor (b): bare csv + serde_json, serde struct → Track v2, packed",
    ("anchor-bare-json-macro", "track"): "anchor (b'): bare csv + serde_json, `json!` + Map → Track v2, packed",
    ("core", "track"): "**core, Track v2** (validate + payload + pack, dry run)",
    ("core", "pipelines"): "**core, Pipelines** (validate + payload + pack, dry run)",
}
ORDER = list(LABEL)


def med(rs, k):
    return statistics.median(r[k] for r in rs)


out = []
w = out.append
w("# Benchmark results")
w("")
w("Written by `make bench` (`bench/run.sh` → `bench/report.py`); every number below is from one run of it.")
w("")
w("| | |")
w("|---|---|")
w(f"| date | {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} |")
w(f"| CPU | {cpu()} |")
w(f"| cores | {os.cpu_count()} (shared with other work: see the load averages) |")
w(f"| RAM | {mem_gib()} |")
w(f"| OS | {os_name()} (kernel {platform.release()}) |")
w(f"| rustc | {sh('rustc --version')} |")
w(f"| build | `--release` (lto, codegen-units = 1, panic = abort) |")
w(f"| commit | {sh('git rev-parse --short HEAD')}{' (+ uncommitted changes)' if sh('git status --porcelain -- src bench Cargo.toml') else ''} |")
w("")
w("MB = 1,000,000 bytes of CSV input. rows/s counts data rows read (valid and rejected). Times are wall time of")
w("the whole process work: open, read the file in 64 KiB chunks (from the page cache), parse, validate, build,")
w("pack. \"MB/s of CPU time\" divides by the CPU time the process got (`/proc/self/schedstat`) instead: it")
w("leaves out time spent waiting for a core inside this machine, but not a core made slower by its neighbours")
w("(shared caches, the hypervisor), so under load both columns drop; the instruction counts at the end do not")
w("move with load. Peak RSS is the process's `VmHWM`. Each tool ran "
  f"{max(r['run'] for r in rows if r['group'] == 'main')} times, interleaved with the others; the table shows the "
  "median (and the range of MB/s). `load` is the 1-minute load average when each run started (2 cores).")
w("")

main = [r for r in rows if r["group"] == "main"]
events_core = None
for kind in ["events", "people"]:
    rs = [r for r in main if r["kind"] == kind]
    if not rs:
        continue
    f = rs[0]["file"]
    w(f"## {kind}: `{f}` ({rs[0]['bytes'] / 1e6:.1f} MB, {rs[0]['rows']:,} rows)")
    w("")
    w("| tool | MB/s (median) | MB/s range | MB/s of CPU time | rows/s | peak RSS | batches | bytes packed | rows rejected | load |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    meds = {}
    cpu_meds = {}
    for key in ORDER:
        g = [r for r in rs if (r["tool"], r["api"]) == key]
        if not g:
            continue
        m = med(g, "mbPerSec")
        meds[key] = m
        lo, hi = min(r["mbPerSec"] for r in g), max(r["mbPerSec"] for r in g)
        loads = [r["load1"] for r in g]
        batches = f"{g[0]['batches']:,}" if g[0]["batches"] else "–"
        packed = f"{g[0]['bodyBytes'] / 1e6:.1f} MB" if g[0]["bodyBytes"] else "–"
        rej = f"{g[0]['rejected']:,}" if key[0] != "anchor-csv-parse" else "–"
        cpu_meds[key] = med(g, "mbPerCpuSec")
        w(f"| {LABEL[key]} | {m:.1f} | {lo:.1f}–{hi:.1f} | {cpu_meds[key]:.1f} | {med(g, 'rowsPerSec'):,.0f} | "
          f"{med(g, 'peakRssKib') / 1024:.1f} MiB | {batches} | {packed} | {rej} | "
          f"{min(loads):.2f}–{max(loads):.2f} |")
    w("")
    for api in ["track", "pipelines"]:
        c = meds.get(("core", api))
        if c is None:
            continue
        parts = []
        for key, name in [(("anchor-csv-parse", ""), "csv parse only"),
                          (("anchor-bare-serde-struct", "track"), "bare serde struct"),
                          (("anchor-bare-json-macro", "track"), "bare `json!`")]:
            if key in meds:
                parts.append(f"{c / meds[key]:.2f}× {name} ({cpu_meds[('core', api)] / cpu_meds[key]:.2f}× on CPU time)")
        w(f"- core {api}: {c:.1f} MB/s = " + ", ".join(parts))
    if kind == "events" and ("core", "track") in meds:
        events_core = (meds[("core", "track")], cpu_meds[("core", "track")])
    w("")

w("Notes on the anchors: they do no validation, no type inference, no ids, no row accounting. The bare programs")
w("skip empty cells, turn anything that parses as a number into a number and the timestamp into unix seconds")
w("(hand-written ISO-8601 parse), and send every row whose timestamp parses (rows rejected = bad timestamps only).")
w("The core also rejects rows with a missing id or event name, a too-long event name or id, or a wrong field")
w("count, and adds a deterministic ULID `id` per event (hence more bytes packed, more batches).")
w("")

if events_core is not None:
    wall, cpu_t = events_core
    ok = "met" if wall >= 100 else "**not met**"
    w(f"Goal: at least 100 MB/s for events (core, Track v2): {wall:.1f} MB/s wall time, {ok} in this run; "
      f"{cpu_t:.1f} MB/s of CPU time (what one uncontended core would do, roughly).")
    w("")

memr = [r for r in rows if r["group"] == "memory"]
if memr:
    w("## Memory: peak RSS of the core by file size")
    w("")
    sizes = sorted({round(r["bytes"] / 1e6) for r in memr})
    w("| file | api | " + " | ".join(f"{mb} MB file" for mb in sizes) + " |")
    by = {}
    for r in memr:
        by.setdefault((r["kind"], r["api"]), []).append(r)
    ncols = max(len(v) for v in by.values())
    w("|---|---|" + "---:|" * ncols)
    flat = True
    for (kind, api), g in by.items():
        g.sort(key=lambda r: r["bytes"])
        cells = [f"{r['peakRssKib'] / 1024:.1f} MiB ({r['mbPerSec']:.0f} MB/s, load {r['load1']:.2f})" for r in g]
        w(f"| {kind} | {api} | " + " | ".join(cells) + " |")
        peaks = [r["peakRssKib"] for r in g]
        if max(peaks) > min(peaks) * 1.25 + 1024:
            flat = False
    w("")
    w(f"Peak memory {'is flat' if flat else '**grows**'} with file size "
      "(flat = the largest peak within 25% + 1 MiB of the smallest).")
    w("")

cg = [r for r in rows if r["group"] == "callgrind"]
if cg:
    w("## Instructions per input byte (callgrind, 10 MB files)")
    w("")
    w("Counted by valgrind, so independent of the load on the machine; lower is better. Wall time also depends")
    w("on cache misses and branch prediction, which this does not weigh.")
    w("")
    w("| tool | events | people |")
    w("|---|---:|---:|")
    for key in ORDER:
        cells = []
        for kind in ["events", "people"]:
            g = [r for r in cg if (r["tool"], r["api"]) == key and r["kind"] == kind]
            cells.append(f"{g[0]['instructions'] / g[0]['bytes']:.1f}" if g else "–")
        if any(c != "–" for c in cells):
            w(f"| {LABEL[key]} | " + " | ".join(cells) + " |")
    w("")

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes):
    w(open(notes).read().rstrip())
    w("")

open(dst, "w").write("\n".join(out) + "\n")
