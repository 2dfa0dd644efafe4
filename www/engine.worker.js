// The engine worker: the only code that touches the wasm package (./pkg/cio_backfill.js, wasm-bindgen
// --target web). The page starts it from a one-line blob: bootstrap (see app.js) so that the page's
// Content-Security-Policy applies to it. The message protocol is documented in www/README.md.

import { installFetchGuard } from "./lib/fetch-guard.js";
import { IssueStore } from "./lib/issue-store.js";
import { FormulaSafeCsv } from "./lib/csv-safe.js";
import { sendViaWorker } from "./lib/worker-mode.js";

const PROGRESS_MS = 200;
const PREVIEW_PAYLOADS = 10;

let pkg = null;
let wasmExports = null;
const wasmBytes = () => wasmExports?.memory?.buffer?.byteLength ?? null;
let guard = null;
let mode = "direct";
const jobs = new Map();

const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);

function errorMessage(job, e) {
  const code = typeof e?.code === "string" ? e.code : "E_INTERNAL";
  const msg = { t: "error", job, code, message: String(e?.message ?? e) };
  if (e?.summary) msg.summary = e.summary;
  if (guard) {
    msg.refused = guard.state.lastRefused;
    msg.network = guard.state.lastNetworkError;
  }
  return msg;
}

// ---- pulling file chunks from the page (backpressure: one chunk asked for at a time) ----
class ChunkSource {
  constructor(job) {
    this.job = job;
    this.waiting = null;
    this.eof = false;
    this.bytes = 0;
    this.paused = false;
    this.resumeWaiters = [];
  }
  /**
   * The next chunk (Uint8Array) or null at the end. The previous chunk's buffer goes back to the page with the
   * request, to be filled again: callers must be done with a chunk (the engine copies it in) before asking again.
   */
  async next() {
    while (this.paused) await new Promise((r) => this.resumeWaiters.push(r));
    if (this.eof) return null;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      const buf = this.spare;
      this.spare = null;
      if (buf) post({ t: "pull", job: this.job, buf }, [buf]);
      else post({ t: "pull", job: this.job });
    });
  }
  deliver(buf, len) {
    const w = this.waiting;
    this.waiting = null;
    if (buf == null) { this.eof = true; w?.resolve(null); return; }
    const n = len ?? buf.byteLength;
    this.bytes += n;
    this.spare = buf;
    w?.resolve(new Uint8Array(buf, 0, n));
  }
  fail(err) {
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }
  pause() { this.paused = true; }
  resume() { this.paused = false; for (const r of this.resumeWaiters.splice(0)) r(); }
  /** A ReadableStream for Importer.run(); highWaterMark 0: a chunk is asked for only when the engine reads. */
  stream() {
    return new ReadableStream({
      pull: async (controller) => {
        const c = await this.next();
        if (c === null) controller.close(); else controller.enqueue(c);
      },
      cancel: () => { this.eof = true; post({ t: "stopReading", job: this.job }); },
    }, { highWaterMark: 0 });
  }
}

function importerOptions(o, dryRun, extra = {}) {
  const opts = {
    api: o.api,
    region: o.region,
    kind: o.kind,
    credentials: o.api === "track" ? { siteId: o.siteId ?? "", apiKey: o.apiKey ?? "" } : { apiKey: o.apiKey ?? "" },
    dryRun,
    skipCampaignWindow: !!o.skipCampaignWindow,
  };
  if (o.endpoint) opts.endpoint = o.endpoint;
  if (o.mapping) opts.mapping = o.mapping;
  if (o.api === "pipelines") opts.transport = "write-key"; // no CORS preflight from a browser
  if (o.resumeAfterRecord) opts.resumeAfterRecord = o.resumeAfterRecord;
  if (o.rateLimit) opts.rateLimit = o.rateLimit;
  if (o.concurrency) opts.concurrency = o.concurrency;
  return { ...opts, ...extra };
}

/** Moves what the importer has collected (issues, rejected CSV, first payloads) out of it. */
function drain(job, imp) {
  if (job.drainBroken) return;
  try {
    job.issues.addAll(imp.takeIssues());
    const csv = imp.takeRejectedCsv();
    if (csv) {
      const safe = job.csvGuard.push(csv);
      if (safe) post({ t: "rejected", job: job.id, text: safe });
    }
    if (job.keepPayloads) {
      // NDJSON of the items built since the last call (only with keepPayloads)
      const text = imp.takePayloads();
      if (text && job.payloads.length < PREVIEW_PAYLOADS) {
        for (const line of text.split("\n")) {
          if (!line || job.payloads.length >= PREVIEW_PAYLOADS) continue;
          try { job.payloads.push(JSON.parse(line)); } catch { /* a partial line cannot happen; skip */ }
        }
      }
    }
  } catch (e) {
    // calls while run() is busy may be refused by the binding; they are retried when the run ends
    job.drainBroken = true;
    job.drainError = String(e?.message ?? e);
  }
}

function finishDrain(job, imp) {
  job.drainBroken = false;
  drain(job, imp);
  const rest = job.csvGuard.end();
  if (rest) post({ t: "rejected", job: job.id, text: rest });
}

function progressMsg(job, phase, p) {
  return { t: "progress", job: job.id, phase, bytesRead: job.src.bytes, p, issues: job.issues.counts(), wasmBytes: wasmBytes() };
}

function safeInspect(imp) {
  try { return imp.inspect(); } catch { return null; }
}

function safeSummary(imp) {
  try { return imp.summary(); } catch { return null; }
}

function newJob(m) {
  const job = {
    id: m.job,
    op: m.t,
    src: new ChunkSource(m.job),
    issues: new IssueStore(m.issueCap ?? 250_000),
    csvGuard: new FormulaSafeCsv(","),
    payloads: [],
    keepPayloads: m.t === "inspect",
    abort: new AbortController(),
    imp: null,
  };
  jobs.set(m.job, job);
  return job;
}

// ---- inspect: read the first ~1 MB, detect, auto-map, preview ----
async function inspect(m) {
  const job = newJob(m);
  const maxBytes = m.maxBytes ?? 1024 * 1024;
  let imp;
  try {
    imp = job.imp = new pkg.Importer(importerOptions(m.options, true, { keepPayloads: true }));
    let eof = false;
    let failure = null;
    try {
      while (job.src.bytes < maxBytes) {
        const c = await job.src.next();
        if (c === null) { eof = true; break; }
        imp.push(c);
        drain(job, imp);
      }
      if (!eof) post({ t: "stopReading", job: job.id });
      // The prefix is treated as the whole file, so that the mapping resolves even when it holds fewer rows
      // than the engine samples; an issue on its last (likely cut) record is dropped below.
      imp.finish();
    } catch (e) { failure = e; }
    drain(job, imp);
    if (!eof) {
      const rows = safeSummary(imp)?.rows ?? 0;
      job.issues = job.issues.below(rows);
    }
    const info = safeInspect(imp);
    post({
      t: "inspected", job: job.id, eof, bytesRead: job.src.bytes,
      inspect: info, summary: safeSummary(imp), payloads: job.payloads,
      issues: job.issues.counts(), sample: job.issues.page(0, 50).rows,
      error: failure ? errorMessage(job.id, failure) : null,
    });
  } catch (e) {
    post({ t: "stopReading", job: job.id });
    post(errorMessage(job.id, e));
  } finally {
    try { imp?.free(); } catch {}
    job.imp = null;
  }
}

// ---- dry run: stream the whole file through the engine, send nothing ----
async function dryRun(m) {
  const job = newJob(m);
  let imp;
  try {
    imp = job.imp = new pkg.Importer(importerOptions(m.options, true));
    let last = 0;
    for (;;) {
      if (job.abort.signal.aborted) throw Object.assign(new Error("the check was cancelled"), { code: "E_ABORTED" });
      const c = await job.src.next();
      if (c === null) { imp.finish(); break; }
      imp.push(c);
      drain(job, imp);
      const now = Date.now();
      if (now - last > PROGRESS_MS) { last = now; post(progressMsg(job, "dry", safeSummary(imp))); }
    }
    finishDrain(job, imp);
    post({ t: "done", job: job.id, phase: "dry", summary: imp.summary(), inspect: safeInspect(imp),
      payloads: job.payloads, issues: job.issues.counts(), bytesRead: job.src.bytes, wasmBytes: wasmBytes() });
  } catch (e) {
    if (imp) try { finishDrain(job, imp); } catch {}
    post({ t: "stopReading", job: job.id });
    post({ ...errorMessage(job.id, e), summary: imp ? safeSummary(imp) : null, issues: job.issues.counts() });
  } finally {
    try { imp?.free(); } catch {}
    job.imp = null;
  }
}

// ---- send: Importer.run() over a pulled stream, with progress, pause, resume and cancel ----
async function send(m) {
  const job = newJob(m);
  guard.reset();
  const o = m.options;
  if (mode === "worker" || o.mode === "worker") return sendWorkerMode(job, o);
  let imp;
  try {
    imp = job.imp = new pkg.Importer(importerOptions(o, false));
    let last = 0;
    const summary = await imp.run(job.src.stream(), {
      signal: job.abort.signal,
      onProgress(p) {
        const now = Date.now();
        if (now - last < PROGRESS_MS) return;
        last = now;
        post(progressMsg(job, "send", p));
        // The engine calls onProgress while it holds its state: take issues and CSV after it returns.
        setTimeout(() => { if (job.imp) drain(job, imp); }, 0);
      },
    });
    finishDrain(job, imp);
    post({ t: "done", job: job.id, phase: "send", summary: summary ?? imp.summary(), payloads: job.payloads,
      issues: job.issues.counts(), bytesRead: job.src.bytes, cancelled: job.abort.signal.aborted,
      network: guard.state.lastNetworkError, refused: guard.state.lastRefused });
  } catch (e) {
    if (imp) try { finishDrain(job, imp); } catch {}
    post({ t: "stopReading", job: job.id });
    post({ ...errorMessage(job.id, e), summary: e?.summary ?? (imp ? safeSummary(imp) : null), issues: job.issues.counts() });
  } finally {
    try { imp?.free(); } catch {}
    job.imp = null;
  }
}

async function sendWorkerMode(job, o) {
  try {
    const summary = await sendViaWorker(() => job.src.next(), {
      endpoint: o.endpoint, token: o.token, kind: o.kind, api: o.api, region: o.region, mapping: o.mapping,
      skipCampaignWindow: o.skipCampaignWindow, resumeAfterChunk: o.resumeAfterRecord ?? 0,
    }, {
      signal: job.abort.signal,
      onProgress: (p) => post(progressMsg(job, "send", p)),
      onRejectedCsv: (text) => post({ t: "rejected", job: job.id, text: job.csvGuard.push(text) }),
    });
    post({ t: "done", job: job.id, phase: "send", summary, payloads: [], issues: job.issues.counts(),
      bytesRead: job.src.bytes, cancelled: job.abort.signal.aborted });
  } catch (e) {
    post({ t: "stopReading", job: job.id });
    post(errorMessage(job.id, e));
  }
}

// ---- messages from the page ----
const handlers = {
  async init(m) {
    mode = m.mode === "worker" ? "worker" : "direct";
    guard = installFetchGuard(self, m.allow ?? []);
    try {
      pkg = await import("./pkg/cio_backfill.js");
    } catch (e) {
      post({ t: "fatal", code: "E_ENGINE_MISSING", message: `the engine (pkg/cio_backfill.js) could not be loaded: ${e?.message ?? e}` });
      return;
    }
    try {
      wasmExports = await pkg.default({ module_or_path: new URL("./pkg/cio_backfill_bg.wasm", import.meta.url) });
    } catch (e) {
      post({ t: "fatal", code: "E_ENGINE_INIT", message: `the engine could not start: ${e?.message ?? e}` });
      return;
    }
    let version = null;
    try { version = typeof pkg.version === "function" ? pkg.version() : pkg.version ?? null; } catch {}
    post({ t: "ready", version });
  },
  inspect,
  dryRun,
  send,
  chunk(m) { jobs.get(m.job)?.src.deliver(m.buf, m.len); },
  eof(m) { jobs.get(m.job)?.src.deliver(null); },
  readError(m) {
    jobs.get(m.job)?.src.fail(Object.assign(new Error(`the file could not be read: ${m.message}`), { code: "E_READ" }));
  },
  pause(m) {
    const job = jobs.get(m.job);
    if (!job) return;
    job.src.pause();
    guard.pause();
    post({ t: "state", job: m.job, paused: true, inFlight: guard.state.inFlight });
  },
  resume(m) {
    const job = jobs.get(m.job);
    if (!job) return;
    job.src.resume();
    guard.resume();
    post({ t: "state", job: m.job, paused: false });
  },
  cancel(m) {
    const job = jobs.get(m.job);
    if (!job) return;
    job.abort.abort();
    guard.cancel();
    job.src.resume();
  },
  issues(m) {
    const job = jobs.get(m.job);
    const page = job ? job.issues.page(m.offset, m.limit, m.filter) : { offset: m.offset, total: 0, rows: [] };
    post({ t: "issuesPage", job: m.job, req: m.req, ...page });
  },
  release(m) { jobs.delete(m.job); },
};

self.onmessage = (e) => {
  const m = e.data;
  const h = handlers[m?.t];
  if (h) Promise.resolve(h(m)).catch((err) => post(errorMessage(m.job, err)));
};
