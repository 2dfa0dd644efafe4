// Shared by the part-2 benchmarks: the sandbox as a child process, timing, peak memory, result lines.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const CREDS = { siteId: "site_test", trackKey: "track_key_test", cdpKey: "cdp_key_test" };
/** Fixed clock (2025-06-01) for the importers: after every generated timestamp. */
export const NOW_MS = 1_748_736_000_000;

/** `--name value` from argv. */
export function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

export function flag(name) {
  return process.argv.includes(name);
}

/** Peak RSS of this process in KiB. */
export function peakRssKib() {
  return process.resourceUsage().maxRSS;
}

/** Start a server in a process of its own (it must not share an event loop with the client under test):
 * "sandbox" (tests/sandbox/server.mjs: validates and stores every item; ~7 MB/s of JSON here), "sink" (the
 * native instant sink, target/release/examples/bench_sink from bench/sink.rs: answers at once, takes the least CPU
 * from the client's machine) or "sink-node" (bench/js/sink.mjs: the same in Node). Resolves to
 * { kind, url, summary(), close() }. */
export async function startServer(kind) {
  const [cmd, args] =
    kind === "sandbox"
      ? [process.execPath, ["--max-old-space-size=8192", path.join(ROOT, "tests/sandbox/server.mjs"), "--port", "0"]]
      : kind === "sink-node"
        ? [process.execPath, ["--max-old-space-size=8192", path.join(HERE, "sink.mjs")]]
        : [path.join(ROOT, "target/release/examples/bench_sink"), []];
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/(?:SANDBOX|SINK)_URL=(\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`${kind} exited ${code}`)));
  });
  return {
    kind,
    url,
    async summary() {
      return (await fetch(`${url}/${kind === "sandbox" ? "__sandbox" : "__sink"}/summary`)).json();
    },
    async close() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** Run a command as a child under /usr/bin/time; resolves to { code, secs, peakRssKib, stdout }. */
export function timed(cmd, args, { env = {}, cwd = ROOT } = {}) {
  return new Promise((resolve) => {
    const tf = path.join(fs.mkdtempSync("/tmp/cio-bench-"), "time");
    const t0 = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "%M", "-o", tf, cmd, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.on("exit", (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const peak = Number(fs.readFileSync(tf, "utf8").trim().split("\n").pop());
      resolve({ code, secs, peakRssKib: peak, stdout });
    });
  });
}

export function load1() {
  return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** ISO-8601 `YYYY-MM-DDTHH:MM:SSZ` to unix seconds (what a script would do: Date.parse). */
export function unixSeconds(iso) {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** A generated events row (object from Papa Parse with header: true) as Track v2 attributes, the way a script
 * would write it: empty cells left out, numbers as numbers. */
export function eventAttributes(row) {
  const a = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === "user_id" || k === "event" || k === "timestamp" || v === "" || v == null) continue;
    if (k === "amount") a[k] = Number(v);
    else if (k === "quantity") a[k] = Number.parseInt(v, 10);
    else a[k] = v;
  }
  return a;
}
