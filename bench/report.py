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
goals = []  # (goal, measured, met)
w("# Benchmark results")
w("")
w("Written by `make bench` (`bench/run.sh` → `bench/report.py`); every number below is from one run of it.")
w("")
w("| | |")
w("|---|---|")
w(f"| date | run started {os.environ.get('BENCH_STARTED', '?')}, report written "
  f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} |")
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
    goals.append(("native core, events: ≥ 100 MB/s", f"{wall:.1f} MB/s (median wall time)", wall >= 100))
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
    goals.append(("native core: peak memory flat with file size", "10 / 100 / 300 MB: see the memory table", flat))
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

# ---- part 2: delivery comparison, wasm vs native vs JavaScript ----
p2path = os.path.join(os.path.dirname(os.path.abspath(src)), "part2.jsonl")
p2 = [json.loads(l) for l in open(p2path) if l.strip()] if os.path.exists(p2path) else []
if p2:
    w("## Delivery: the same events to the same local server")
    w("")
    w("Each client in its own Node process, against a fresh server in another process. **Instant sink** (`sink`:")
    w("`bench/sink.rs`, native): answers each request as soon as its body is in (413 for bodies of 500,000 bytes or")
    w("more, as the APIs do; 401 without credentials), and parses the kept bodies to count the items only when the")
    w("summary is asked for, after the client has finished: the client's own speed. Customer.io's servers do not")
    w("share the client's CPU, and on this 2-vCPU machine the sink does: the native one takes the least of it (the")
    w("kernel's receive, ~0.5 s per million events), the Node one (`sink-node`, `bench/js/sink.mjs`, same answers,")
    w("shown for comparison) ~0.6 s more in Node's HTTP handling — time a client that uses both cores loses and a")
    w("one-call-at-a-time client does not; `sink CPU` is the server's own CPU during the run. **Sandbox**")
    w("(`tests/sandbox/server.mjs`, no faults): validates and stores every")
    w("item; it digests about 7 MB/s of JSON on this machine, so it sets the pace for every client and is used to")
    w("check what was delivered, not for speed.")
    w("Same file for every client: generated events, every row valid. Our command line (`cio-backfill import`) at")
    w("`--rate 1000` for the wall-time comparison; also at its defaults (Track 100 req/s, Pipelines 1000 req/s).")
    w("customerio-node: Papa Parse (streaming) → `TrackClient.batch()` with 1000 entries per call, each call")
    w("awaited. cdp-analytics-node: Papa Parse → `analytics.track()` per row → `closeAndFlush()`, default settings.")
    w("Minimum requests = total body bytes / 500,000 (the API's byte limit), rounded up.")
    w("")
    wire = [r for r in p2 if r["group"] == "wire"]
    w("| client | server | events sent | wall time | requests | minimum | requests / minimum | events delivered | refused (413) | largest body | peak RSS | sink CPU | load |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    # Repeated configurations: show the median run (by wall time) and say how many runs it is the median of.
    shown = []
    for tool, server in dict.fromkeys((r["tool"], r["server"]) for r in wire):
        g = sorted([r for r in wire if r["tool"] == tool and r["server"] == server], key=lambda r: r["secs"])
        m = dict(g[(len(g) - 1) // 2])
        if len(g) > 1:
            m["tool"] = f"{tool} — median of {len(g)} runs ({g[0]['secs']:.1f}–{g[-1]['secs']:.1f} s)"
            m["_base"] = tool
        shown.append(m)
    wire = [dict(r, tool=r.get("_base", r["tool"])) for r in shown]
    def sink_cpu(r):
        return f"{r['sinkCpuSecs']:.2f} s" if r.get("sinkCpuSecs") is not None else "–"
    for r in shown + [r for r in p2 if r["group"] == "sandbox"]:
        mn = r.get("minRequests")
        ratio = f"{r['requests'] / mn:.3f}" if mn else "–"
        w(f"| {r['tool']} | {r['server']} | {r['rows']:,} | {r['secs']:.2f} s | {r['requests']:,} | "
          f"{mn if mn else '–'} | {ratio} | {r['delivered']:,} | {r['refused']:,} | {r['largestBody']:,} B | "
          f"{r['peakRssKib'] / 1024:.0f} MiB | {sink_cpu(r)} | {r['load1']:.2f} |")
    w("")
    def find(tool, server="sink"):
        g = [r for r in wire if r["tool"] == tool and r["server"] == server]
        return g[0] if g else None
    ours = find("cio-backfill (track, --rate 1000)")
    cion = find("customerio-node TrackClient.batch(1000)")
    cdpd = find("cdp-analytics-node (defaults)")
    if ours and cion:
        goals.append(("wall time ≥ 5× less than customerio-node (1000 per call)",
                      f"{cion['secs'] / ours['secs']:.2f}× ({ours['secs']:.1f} s vs {cion['secs']:.1f} s, 1M events)",
                      cion["secs"] / ours["secs"] >= 5))
        w(f"- Wall time, {ours['rows']:,} events to the sink: cio-backfill {ours['secs']:.2f} s vs customerio-node "
          f"{cion['secs']:.2f} s = **{cion['secs'] / ours['secs']:.2f}× less** (goal: at least 5×).")
        ours_n = find("cio-backfill (track, --rate 1000)", "sink-node")
        cion_n = find("customerio-node TrackClient.batch(1000)", "sink-node")
        if ours_n and cion_n:
            w(f"- The same pair against the Node sink (`sink-node`): {ours_n['secs']:.2f} s vs {cion_n['secs']:.2f} s = "
              f"{cion_n['secs'] / ours_n['secs']:.2f}× less.")
    if ours and cdpd:
        per = cdpd["secs"] / cdpd["rows"] * ours["rows"]
        reqs = cdpd["requests"] / cdpd["rows"] * ours["rows"]
        w(f"- cdp-analytics-node (defaults) ran on {cdpd['rows']:,} events: {cdpd['secs']:.1f} s, {cdpd['requests']:,} requests; "
          f"**extrapolated** linearly to {ours['rows']:,} events: ≈ {per:.0f} s and ≈ {reqs:,.0f} requests "
          f"(≈ {per / ours['secs']:.0f}× our wall time).")
    if ours and ours.get("minRequests"):
        goals.append(("requests within 5% of the byte-limit minimum (Track)",
                      f"{ours['requests']:,} vs {ours['minRequests']:,} (+{(ours['requests'] / ours['minRequests'] - 1) * 100:.1f}%)",
                      ours["requests"] <= ours["minRequests"] * 1.05))
        w(f"- Requests: cio-backfill {ours['requests']:,} for a minimum of {ours['minRequests']:,} "
          f"({(ours['requests'] / ours['minRequests'] - 1) * 100:.1f}% above; goal: within 5%).")
    pip = find("cio-backfill (pipelines, defaults: 1000 req/s)")
    if pip and pip.get("bytes"):
        own = -(-pip["bytes"] // 475_000)
        w(f"- Pipelines: {pip['requests']:,} requests for a minimum of {pip['minRequests']:,} at 500,000 bytes; its default "
          f"batch limit is 475,000 bytes (5% under the API's limit), for which the minimum is {own:,}.")
    big = find("cdp-analytics-node (maxEventsInBatch 5000)")
    if big:
        w(f"- cdp-analytics-node with `maxEventsInBatch: 5000`: largest body {big['largestBody']:,} bytes; "
          f"{big['refused']:,} of {big['requests']:,} requests refused for size (its 480 KB guard does not bound the bytes).")
    w("")
    pipe = [r for r in p2 if r["group"] == "pipeline"]
    if pipe:
        f0 = pipe[0]
        w(f"## Pipelines: wasm core in Node vs native core vs JavaScript (`{os.path.basename(f0['file'])}`, "
          f"{f0['bytes'] / 1e6:.1f} MB, {f0['rows']:,} rows)")
        w("")
        w("Bytes → packed Track v2 batch bodies, no network. wasm core: the built package's `Importer` (dry run),")
        w("64 KiB chunks. JavaScript: Papa Parse or uDSV (streaming) + objects + `JSON.stringify` + the same packing")
        w("into ≤ 490,000-byte bodies, no validation. Median of 3 runs.")
        w("")
        w("| pipeline | MB/s (median) | MB/s range | rows/s | batches | bytes packed | peak RSS | load |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        meds = {}
        for tool in ["native-core", "wasm-core", "js-papaparse", "js-udsv"]:
            g = [r for r in pipe if r["tool"] == tool]
            if not g:
                continue
            m = statistics.median(r["mbPerSec"] for r in g)
            meds[tool] = m
            w(f"| {tool} | {m:.1f} | {min(r['mbPerSec'] for r in g):.1f}–{max(r['mbPerSec'] for r in g):.1f} | "
              f"{statistics.median(r['rowsPerSec'] for r in g):,.0f} | {g[0]['batches']:,} | {g[0]['bodyBytes'] / 1e6:.1f} MB | "
              f"{statistics.median(r['peakRssKib'] for r in g) / 1024:.1f} MiB | {min(r['load1'] for r in g):.2f}–{max(r['load1'] for r in g):.2f} |")
        w("")
        js = max((v for k, v in meds.items() if k.startswith("js-")), default=None)
        if "wasm-core" in meds and js:
            goals.append(("wasm ≥ 3× the fastest JavaScript pipeline", f"{meds['wasm-core'] / js:.2f}×", meds["wasm-core"] / js >= 3))
            w(f"- wasm vs the fastest JavaScript pipeline: **{meds['wasm-core'] / js:.2f}×** (goal: at least 3×).")
        if "wasm-core" in meds and "native-core" in meds:
            goals.append(("wasm within 2× of native", f"native {meds['native-core'] / meds['wasm-core']:.2f}× faster",
                          meds["native-core"] / meds["wasm-core"] <= 2))
            w(f"- native vs wasm: native is **{meds['native-core'] / meds['wasm-core']:.2f}×** faster (goal: within 2×).")
        w("")
    mem = [r for r in p2 if r["group"] == "memory"]
    if mem:
        w("## Memory of the Node side by file size (events)")
        w("")
        w("Peak RSS of the whole Node process. Flat means the peak at every file from 100 MB up is within 25% + 1 MiB")
        w("of the peak at 100 MB: a 10 MB run (under a second) ends before V8's heaps have grown to their working")
        w("size, so it is shown but not the reference.")
        w("")
        w("| what | " + " | ".join(f"{r['mb']} MB" for r in mem if r["tool"].startswith("wasm")) + " |")
        w("|---|" + "---:|" * len([r for r in mem if r["tool"].startswith("wasm")]))
        for tool in ["wasm-core (dry run)", "cio-backfill (track, --rate 1000)"]:
            g = sorted([r for r in mem if r["tool"] == tool], key=lambda r: r["mb"])
            if g:
                peaks = [r["peakRssKib"] / 1024 for r in g]
                # From 100 MB up: a 10 MB run ends before Node's heaps reach their working size.
                steady = [r["peakRssKib"] / 1024 for r in g if r["mb"] >= 100] or peaks
                goals.append((f"{tool}: peak memory flat as the file grows (from 100 MB up)",
                              " / ".join(f"{x:.0f}" for x in peaks) + f" MiB at {' / '.join(str(r['mb']) for r in g)} MB",
                              max(steady) <= steady[0] * 1.25 + 1))
            w(f"| {tool} | " + " | ".join(f"{r['peakRssKib'] / 1024:.0f} MiB ({r['secs']:.1f} s, load {r['load1']:.2f})" for r in g) + " |")
        w("")

notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes):
    w(open(notes).read().rstrip())
    w("")

if goals:
    at = out.index("") + 1
    while out[at] != "":
        at += 1
    block = ["", "## Goals (this run)", "", "| goal | measured | |", "|---|---|---|"]
    block += [f"| {g} | {m} | {'met' if ok else '**not met**'} |" for g, m, ok in goals]
    out[at:at] = block

open(dst, "w").write("\n".join(out) + "\n")
