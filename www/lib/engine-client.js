// The page's side of the engine worker's message protocol (see www/README.md).
// Starts the worker, feeds it the file chunk by chunk when it asks (backpressure), and turns its messages into
// promises and callbacks.

const CHUNK_BYTES = 1024 * 1024;

/**
 * Start the engine worker. It is loaded through a one-line blob: module that imports engine.worker.js: a worker
 * created from a blob: URL inherits the page's Content-Security-Policy, so connect-src binds the engine's fetch
 * calls on any static host (a worker loaded from its own URL would only obey that script's response headers).
 */
function startWorker() {
  const real = new URL("../engine.worker.js", import.meta.url).href;
  const boot = URL.createObjectURL(new Blob([`import ${JSON.stringify(real)};\n`], { type: "text/javascript" }));
  const w = new Worker(boot, { type: "module", name: "cio-backfill engine" });
  setTimeout(() => URL.revokeObjectURL(boot), 60_000);
  return w;
}

/**
 * Reads a File as a stream into 1 MB buffers, one each time the worker asks. With a BYOB ("bring your own
 * buffer") reader the same two buffers go back and forth between page and worker (each is transferred, never
 * copied), so reading a 1 GB file allocates no new memory per chunk; without BYOB support chunks are copied in.
 */
class FileFeed {
  constructor(file) {
    const stream = file.stream();
    try {
      this.reader = stream.getReader({ mode: "byob" });
      this.byob = true;
    } catch {
      this.reader = stream.getReader();
      this.byob = false;
    }
    this.carry = null;
    this.done = false;
  }

  /** Fills `buf` (a returned buffer, or a new one) → { buf, len }, or null at the end. */
  async next(buf) {
    if (this.done) return null;
    let target = buf instanceof ArrayBuffer && buf.byteLength === CHUNK_BYTES ? buf : new ArrayBuffer(CHUNK_BYTES);
    let len = 0;
    if (this.byob) {
      while (len < CHUNK_BYTES) {
        const { value, done } = await this.reader.read(new Uint8Array(target, len, CHUNK_BYTES - len));
        if (value) { target = value.buffer; len += value.byteLength; }
        if (done) { this.done = true; break; }
      }
    } else {
      const out = new Uint8Array(target);
      while (len < CHUNK_BYTES) {
        let value = this.carry;
        this.carry = null;
        if (!value) {
          const r = await this.reader.read();
          if (r.done) { this.done = true; break; }
          value = r.value;
        }
        const take = Math.min(value.length, CHUNK_BYTES - len);
        out.set(value.subarray(0, take), len);
        len += take;
        if (take < value.length) this.carry = value.subarray(take);
      }
    }
    return len === 0 ? null : { buf: target, len };
  }

  cancel() {
    if (this.done && !this.reader) return;
    this.done = true;
    this.carry = null;
    this.reader?.cancel().catch(() => {});
    this.reader = null;
  }
}

export class EngineClient {
  constructor({ allow, mode }) {
    this.worker = startWorker();
    this.jobs = new Map();
    this.nextJob = 1;
    this.nextReq = 1;
    this.pendingPages = new Map();
    this.ready = new Promise((resolve, reject) => { this._ready = { resolve, reject }; });
    this.worker.onmessage = (e) => this.#onMessage(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      const err = Object.assign(new Error(e.message || "the engine worker failed to start"), { code: "E_ENGINE_MISSING" });
      this._ready.reject(err);
      for (const j of this.jobs.values()) j.reject(err);
    };
    this.worker.postMessage({ t: "init", allow, mode });
  }

  #onMessage(m) {
    if (m.t === "ready") return this._ready.resolve(m);
    if (m.t === "fatal") return this._ready.reject(Object.assign(new Error(m.message), { code: m.code }));
    if (m.t === "issuesPage") {
      const p = this.pendingPages.get(m.req);
      this.pendingPages.delete(m.req);
      return p?.(m);
    }
    const job = this.jobs.get(m.job);
    if (!job) return;
    switch (m.t) {
      case "pull": return this.#feed(job, m.buf);
      case "stopReading": job.feed.cancel(); return;
      case "progress": return job.on.progress?.(m);
      case "rejected": return job.on.rejected?.(m.text);
      case "state": return job.on.state?.(m);
      case "inspected":
      case "done":
        job.feed.cancel();
        return job.resolve(m);
      case "error":
        job.feed.cancel();
        return job.reject(Object.assign(new Error(m.message), { code: m.code, detail: m }));
    }
  }

  async #feed(job, spare) {
    try {
      const c = job.feed.reader ? await job.feed.next(spare) : null;
      if (c === null) this.worker.postMessage({ t: "eof", job: job.id });
      else this.worker.postMessage({ t: "chunk", job: job.id, buf: c.buf, len: c.len }, [c.buf]);
    } catch (e) {
      this.worker.postMessage({ t: "readError", job: job.id, message: String(e?.message ?? e) });
    }
  }

  #start(t, file, options, on = {}, extra = {}) {
    const id = this.nextJob++;
    const job = { id, feed: new FileFeed(file), on };
    job.done = new Promise((resolve, reject) => { job.resolve = resolve; job.reject = reject; });
    this.jobs.set(id, job);
    this.worker.postMessage({ t, job: id, options, ...extra });
    return job;
  }

  /** Reads the first `maxBytes` of the file: dialect, headers, auto-mapping, preview, first issues and payloads. */
  inspect(file, options, maxBytes = 1024 * 1024) {
    return this.#start("inspect", file, options, {}, { maxBytes }).done;
  }

  /** Streams the whole file through the engine without sending. Returns the job (await job.done). */
  dryRun(file, options, on) { return this.#start("dryRun", file, options, on); }

  /** Sends. Returns the job (await job.done); pause/resume/cancel take it. */
  send(file, options, on) { return this.#start("send", file, options, on); }

  pause(job) { this.worker.postMessage({ t: "pause", job: job.id }); }
  resume(job) { this.worker.postMessage({ t: "resume", job: job.id }); }
  cancel(job) { this.worker.postMessage({ t: "cancel", job: job.id }); }
  release(job) { if (job) { this.jobs.delete(job.id); this.worker.postMessage({ t: "release", job: job.id }); } }

  /** A page of a job's issues: { offset, total, rows }. */
  issues(jobId, offset, limit, filter) {
    const req = this.nextReq++;
    return new Promise((resolve) => {
      this.pendingPages.set(req, resolve);
      this.worker.postMessage({ t: "issues", job: jobId, req, offset, limit, filter });
    });
  }
}
