// cio-backfill --via: send a CSV through the importer's Cloudflare Worker (worker/), in chunks.
//
// Dependency-free; runs in Node >= 20, browsers and Web Workers (anything with fetch, TextEncoder and
// crypto.subtle). The file is read as a stream and cut into self-contained chunks: the header row, then whole
// records (a quote-parity scanner on the raw bytes: a newline inside a "quoted" field never ends a record), each
// about `chunkBytes` long. Each chunk goes to `POST {url}/import` with its number, the upload's source id, its
// SHA-256 (X-Chunk-Sha256) and where it starts in the file (line-offset, record-offset), so the Worker's line
// numbers, checkpoints and rejected rows are the file's. A chunk that gets no answer, a 5xx, a 429 or a busy
// answer is sent again: that is safe (Track deduplicates by our deterministic event ids; for Pipelines the
// Worker's ledger answers a completed chunk from memory without sending anything).
//
//   import { importVia } from "./via.mjs";
//   const summary = await importVia({ url: "https://importer.example.workers.dev", token, file | stream,
//     kind: "events", params: { "event-name": "purchased" }, onProgress(p) {}, signal });
//
// Limits: the file must be in an ASCII-compatible encoding (UTF-8, Windows-1252), use `"` for quoting and end
// lines with LF or CRLF (not CR alone). UTF-16 files are refused (convert them to UTF-8 first).

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const SLICE = 64 * 1024;

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const SUM_KEYS = [
  "rows", "valid", "rejected", "warnings", "sent", "apiRejected", "failed", "unsent", "pending", "skippedResume",
  "requests", "retries", "bisections", "campaignWindow", "olderThan30Days", "bodyBytes",
];

export class ViaError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.name = "ViaError";
    this.code = code;
    Object.assign(this, extra);
  }
}

/**
 * Cuts a byte stream into CSV chunks. push(bytes) → chunks ready; end() → the last chunk (if any).
 * A chunk: { index, body (Uint8Array: header + records), lines (newlines in its records), records,
 *            lineOffset, recordOffset, dataBytes }.
 */
export class CsvChunker {
  constructor({ chunkBytes = DEFAULT_CHUNK_BYTES, maxChunkBytes = chunkBytes * 2 } = {}) {
    this.target = chunkBytes;
    this.max = maxChunkBytes;
    this.header = null;
    this.headerEnd = null;
    this.headerLines = 0;
    this.parts = [];
    this.pending = 0; // bytes in parts
    this.inQuotes = false;
    this.content = false; // the current record has a byte other than CR / LF
    this.lines = 0; // newlines since the start of pending
    this.records = 0; // records ended since the start of pending
    this.cut = null; // { at, lines, records }: the last record end outside quotes
    this.index = 0;
    this.lineOffset = 0;
    this.recordOffset = 0;
    this.bytesRead = 0;
    this.first = true;
  }

  push(bytes) {
    const ready = [];
    // Scan in slices so a chunk overshoots its target by at most a slice (plus one record).
    const slice = Math.max(1024, Math.min(SLICE, Math.floor(this.target / 4)));
    for (let o = 0; o < bytes.length; o += slice) this.#scan(bytes.subarray(o, o + slice), ready);
    return ready;
  }

  #scan(bytes, ready) {
    if (this.first && bytes.length) {
      this.first = false;
      if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
        throw new ViaError("E_CSV", "the file is UTF-16: convert it to UTF-8 to send it in chunks");
      }
    }
    this.bytesRead += bytes.length;
    const base = this.pending;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === QUOTE) {
        this.inQuotes = !this.inQuotes;
        this.content = true;
      } else if (b === NL) {
        this.lines++;
        if (!this.inQuotes) {
          if (this.content) this.records++;
          const cut = { at: base + i + 1, lines: this.lines, records: this.records };
          if (this.header === null && this.headerEnd === null && this.content) this.headerEnd = cut;
          this.content = false;
          this.cut = cut;
        }
      } else if (b !== CR) {
        this.content = true;
      }
    }
    this.parts.push(bytes);
    this.pending += bytes.length;
    if (this.header === null) {
      const h = this.headerEnd;
      if (!h) {
        if (this.pending > this.max) throw new ViaError("E_CSV", `no header row within the first ${this.max} bytes (a quote is not closed?)`);
        return;
      }
      this.header = this.#take(h.at);
      this.headerLines = h.lines;
      this.lines -= h.lines;
      this.records -= h.records;
      this.cut = this.cut.at > h.at ? { at: this.cut.at - h.at, lines: this.cut.lines - h.lines, records: this.cut.records - h.records } : null;
    }
    if (this.pending >= this.target && this.cut && this.cut.records > 0) {
      ready.push(this.#emit(this.cut));
    } else if (this.pending > this.max) {
      throw new ViaError(
        "E_CSV",
        `a record near line ${this.headerLines + this.lineOffset + 1} is larger than ${this.max} bytes, or a quote is not closed`,
      );
    }
  }

  #take(n) {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - o);
      out.set(p.subarray(0, k), o);
      o += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.pending -= n;
    return out;
  }

  #emit(cut) {
    const data = this.#take(cut.at);
    const body = new Uint8Array(this.header.length + data.length);
    body.set(this.header, 0);
    body.set(data, this.header.length);
    const chunk = {
      index: this.index++,
      body,
      dataBytes: data.length,
      lines: cut.lines,
      records: cut.records,
      lineOffset: this.lineOffset,
      recordOffset: this.recordOffset,
    };
    this.lineOffset += cut.lines;
    this.recordOffset += cut.records;
    this.lines -= cut.lines;
    this.records -= cut.records;
    this.cut = null;
    return chunk;
  }

  end() {
    if (this.header === null) {
      if (this.pending === 0) throw new ViaError("E_CSV", "the file is empty");
      // Only a header (without a line ending): send it alone, so the Worker says what it thinks of it.
      const only = this.#take(this.pending);
      return [{ index: this.index++, body: only, dataBytes: 0, lines: 0, records: 0, lineOffset: 0, recordOffset: 0 }];
    }
    if (this.content) this.records++;
    this.content = false;
    if (this.pending === 0) return [];
    return [this.#emit({ at: this.pending, lines: this.lines, records: this.records })];
  }
}

async function* bytesOf(input) {
  if (input && typeof input.getReader === "function") {
    const reader = input.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield typeof value === "string" ? new TextEncoder().encode(value) : new Uint8Array(value.buffer ?? value, value.byteOffset ?? 0, value.byteLength ?? value.length);
      }
    } finally {
      reader.releaseLock?.();
    }
  }
  if (input && typeof input[Symbol.asyncIterator] === "function") {
    for await (const v of input) yield typeof v === "string" ? new TextEncoder().encode(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return;
  }
  throw new ViaError("E_CONFIG", "importVia needs `file` (a Blob) or `stream` (a ReadableStream or an async iterable of bytes)");
}

/**
 * Ask the Worker what it makes of the file's first rows: a dry run of the header and the first records of `chunks`
 * (the first chunks of the upload, in order: hold them back until they have `SAMPLE_RECORDS` records or the file
 * ends, so the probe samples what one import of the whole file would) with the upload's `params` (kind and
 * mapping flags). Resolves to its `pins` ({ delimiter, encoding, typeHints, dateOrder }), or null when the Worker
 * gives none (an older one) or the probe failed: the chunks then infer on their own, and a chunk with a real
 * problem reports it itself.
 */
export async function fetchPins({ endpoint, token, params, chunks, headerLength, fetch: fetchFn = globalThis.fetch, signal, attempts = 4 }) {
  const target = new URL(endpoint);
  target.search = queryOf({ ...params, "dry-run": true }).toString();
  const body = sampleOf(joinChunks(chunks, headerLength), headerLength, SAMPLE_RECORDS);
  for (let attempt = 1; ; attempt++) {
    let res = null;
    try {
      res = await fetchFn(target, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" }, body, signal });
      const answer = await res.json().catch(() => null);
      if (res.ok) return answer?.pins && typeof answer.pins === "object" ? answer.pins : null;
    } catch {
      if (signal?.aborted) throw new ViaError("E_ABORTED", "the import was cancelled");
    }
    // No answer, busy (503, 429) or a passing failure: asked again, as a chunk would be; anything else is final.
    const again = res === null || res.status === 429 || res.status === 408 || res.status >= 500;
    if (!again || attempt >= attempts) return null;
    await sleep(retryAfterMs(res, 500 * 2 ** (attempt - 1)), signal);
  }
}

/**
 * Holds back an upload's first chunks until they have the importer's sample (`SAMPLE_RECORDS` records) or the
 * file ends (`end()`), asks the Worker for its pins once (fetchPins; `headerLength()` is read then), hands them to
 * `onPins` (null when none came), then passes every chunk to `send` in order (`send` returns false to stop).
 */
export function pinsGate({ endpoint, token, params, headerLength, fetch, signal, onPins, send }) {
  let held = [];
  const release = async () => {
    const chunks = held;
    held = null;
    onPins(await fetchPins({ endpoint, token, params, chunks, headerLength: headerLength(), fetch, signal }));
    for (const chunk of chunks) if ((await send(chunk)) === false) return;
  };
  return {
    async take(chunk) {
      if (!held) return send(chunk);
      held.push(chunk);
      if (held.reduce((n, c) => n + c.records, 0) >= SAMPLE_RECORDS) await release();
    },
    /** The file has ended: release what is held (a file with fewer records than the sample). */
    async end() {
      if (held?.length) await release();
    },
  };
}

/**
 * The parameters that pin `pins` for every chunk, beside the upload's own `params` (which win: a delimiter,
 * encoding or date order given is kept; a column given a forced type was not hinted by the Worker).
 */
export function pinnedParams(params, pins) {
  const out = {};
  const hints = Object.entries(pins.typeHints ?? {}).map(([name, type]) => `${name}=${type}`);
  if (hints.length) out["type-hint"] = hints;
  const mapping = typeof params.mapping === "string" ? safeJson(params.mapping) : params.mapping;
  if (pins.dateOrder && params["date-order"] === undefined && mapping?.dateOrder === undefined) out["date-order"] = pins.dateOrder;
  if (pins.delimiter && params.delimiter === undefined) out.delimiter = pins.delimiter;
  if (pins.encoding && params.encoding === undefined) out.encoding = pins.encoding;
  return out;
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Records the Worker's importer samples to infer types (the package's default `sampleRows`). */
export const SAMPLE_RECORDS = 1000;

/** One CSV of the header and the records of `chunks` (each starts with the same `headerLength`-byte header). */
function joinChunks(chunks, headerLength) {
  if (chunks.length === 1) return chunks[0].body;
  const size = chunks.reduce((n, c) => n + c.body.length - headerLength, headerLength);
  const out = new Uint8Array(size);
  out.set(chunks[0].body.subarray(0, headerLength), 0);
  let o = headerLength;
  for (const c of chunks) {
    out.set(c.body.subarray(headerLength), o);
    o += c.body.length - headerLength;
  }
  return out;
}

/** Query parameters: `true` as 1, objects as JSON, arrays as one parameter per element; false/null/undefined left out. */
export function queryOf(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === false) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one === true ? "1" : typeof one === "object" ? JSON.stringify(one) : String(one));
  }
  return q;
}

/**
 * The header and the first `n` records of a chunk `body` whose header is `headerLen` bytes: cut after the line end
 * (outside quotes) of the n-th record, counting records as the chunker does (a line with content).
 */
export function sampleOf(body, headerLen, n) {
  let q = false;
  let content = false;
  let records = 0;
  for (let i = headerLen; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      q = !q;
      content = true;
    } else if (c === NL && !q) {
      if (content && ++records >= n) return body.subarray(0, i + 1);
      content = false;
    } else if (c !== CR) content = true;
  }
  return body;
}

/** The SHA-256 of `bytes` in lowercase hex (the X-Chunk-Sha256 header; the page's worker mode uses it too). */
export async function sha256Hex(bytes) {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ViaError("E_ABORTED", "the import was cancelled"));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new ViaError("E_ABORTED", "the import was cancelled"));
    }, { once: true });
  });

function retryAfterMs(res, fallback) {
  const h = res?.headers?.get("retry-after");
  if (!h) return fallback;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.min(300_000, Math.max(0, s * 1000));
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.min(300_000, Math.max(0, t - Date.now())) : fallback;
}

/** The rejected-rows CSV without its header row (every chunk's answer repeats it; the page's worker mode uses it
 * too). */
export function withoutHeader(csv) {
  let q = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv.charCodeAt(i);
    if (c === QUOTE) q = !q;
    else if (c === NL && !q) return csv.slice(i + 1);
  }
  return "";
}

/**
 * Send a CSV through the Worker. Options:
 *   url             the Worker's origin (or its /import URL)
 *   token           the Worker's IMPORT_TOKEN
 *   file | stream   a Blob/File, or a ReadableStream / async iterable of Uint8Array (a Node read stream)
 *   kind            "people" | "events"
 *   params          more query parameters, named like the command line's flags ({ "id-column": "uid", "dry-run": true })
 *   chunkBytes      chunk size (default: what the Worker's /config.json says, else 4 MiB)
 *   parallel        chunks in flight (default: the Worker's MAX_PARALLEL_CHUNKS, else 4)
 *   source          an id for the whole upload (default: derived from the first chunk's bytes, so a re-run of
 *                   the same file has the same id and its completed chunks are replayed, not re-sent)
 *   rejected        true: collect the rejected rows (summary.rejectedCsv, one header, the file's line numbers)
 *   resumeAfterRecord  skip records up to this one (a checkpoint from an earlier run)
 *   maxAttempts     attempts per chunk (default 6); "busy" answers (all slots taken, E_BUSY; the chunk running
 *                   in an earlier attempt, E_CHUNK_BUSY) are waited out instead, up to busyBudgetMs (30 min)
 *   onProgress(p)   after each chunk: the running totals, { chunks, chunksDone, bytesRead, ... }
 *   onChunk(answer) each chunk's answer from the Worker
 *   signal          AbortSignal
 *   queue           true: the Worker stores and queues the chunks (queue mode: R2 + Queues, see worker/README.md)
 *                   and its consumers import them; importVia uploads at full speed, then polls GET /jobs/<source>
 *                   (every pollMs, default 2 s) and resolves to the job's totals
 *   fetch           a fetch function (default: the global one)
 *   pin             false: let every chunk infer types and date order from its own first rows (default: pinned
 *                   to what the file's first rows say, from one dry-run probe; see fetchPins)
 * Resolves to the aggregated summary (with `pins`, what was pinned); throws ViaError { code, status?, summary } on a fatal error.
 */
export async function importVia(opts) {
  const { url, token, kind, signal } = opts;
  const fetchFn = opts.fetch ?? globalThis.fetch;
  if (!url) throw new ViaError("E_CONFIG", "importVia needs the Worker's url");
  if (!token) throw new ViaError("E_CONFIG", "importVia needs the import token");
  if (kind !== "people" && kind !== "events") throw new ViaError("E_CONFIG", `expected kind "people" or "events", found ${JSON.stringify(kind)}`);
  const endpoint = new URL(String(url).replace(/\/import\/?$/, "").replace(/\/?$/, "/import"));
  const cfgUrl = new URL("/config.json", endpoint);

  let server = {};
  if (!opts.chunkBytes || !opts.parallel) {
    try {
      const r = await fetchFn(cfgUrl, { signal });
      if (r.ok) server = await r.json();
    } catch (e) {
      if (signal?.aborted) throw new ViaError("E_ABORTED", "the import was cancelled");
    }
  }
  const chunkBytes = opts.chunkBytes ?? server.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const maxChunkBytes = Math.max(chunkBytes * 2, server.maxChunkBytes ?? 0);
  const parallel = Math.max(1, Math.floor(opts.parallel ?? server.maxParallelChunks ?? 4));
  const maxAttempts = opts.maxAttempts ?? 6;
  const busyBudgetMs = opts.busyBudgetMs ?? 30 * 60_000;
  const resumeAfter = opts.resumeAfterRecord ?? 0;
  const params = { ...(opts.params ?? {}) };
  for (const k of ["kind", "chunk", "source", "line-offset", "record-offset", "rejected", "resume-after-record"]) delete params[k];
  const dryRun = ["1", "true", "yes", ""].includes(String(params["dry-run"] ?? "false"));

  const input = opts.file ? opts.file.stream() : opts.stream;
  const chunker = new CsvChunker({ chunkBytes, maxChunkBytes });
  let source = opts.source ?? null;

  const totals = Object.fromEntries(SUM_KEYS.map((k) => [k, 0]));
  const agg = { ...totals, checkpoint: resumeAfter, dryRun, chunks: 0, chunksDone: 0, replayedChunks: 0, chunkRetries: 0, busyWaits: 0, chunksQueued: 0, bytesRead: 0, issueCounts: {}, rejectedByCode: {}, issues: [] };
  let rejectedCsv = null;
  const results = []; // by index: { records, recordOffset, answer }
  const started = Date.now();

  const progress = () => opts.onProgress?.({ ...agg, source, elapsedMs: Date.now() - started, rowsPerSec: agg.rows / Math.max(0.001, (Date.now() - started) / 1000) });

  function advanceCheckpoint() {
    let cp = resumeAfter;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (!r) break;
      const end = r.recordOffset + r.records;
      if (end <= resumeAfter) continue;
      cp = Math.max(cp, r.answer?.checkpoint ?? end);
      if (cp < end) break;
    }
    agg.checkpoint = cp;
  }

  function add(chunk, answer) {
    for (const k of SUM_KEYS) agg[k] += Number(answer[k] ?? 0);
    agg.chunksDone++;
    if (answer.replayed) agg.replayedChunks++;
    for (const [k, v] of Object.entries(answer.issueCounts ?? {})) agg.issueCounts[k] = (agg.issueCounts[k] ?? 0) + v;
    for (const [k, v] of Object.entries(answer.rejectedByCode ?? {})) agg.rejectedByCode[k] = (agg.rejectedByCode[k] ?? 0) + v;
    for (const i of answer.issues ?? []) if (agg.issues.length < 100) agg.issues.push(i);
    if (opts.rejected && typeof answer.rejectedCsv === "string" && answer.rejectedCsv) {
      rejectedCsv = rejectedCsv === null ? answer.rejectedCsv : rejectedCsv + withoutHeader(answer.rejectedCsv);
    }
    results[chunk.index] = { records: chunk.records, recordOffset: chunk.recordOffset, answer };
    advanceCheckpoint();
    opts.onChunk?.(answer);
    progress();
  }

  async function send(chunk) {
    const end = chunk.recordOffset + chunk.records;
    if (end <= resumeAfter) {
      // Entirely before the checkpoint: nothing to send.
      const answer = { rows: chunk.records, skippedResume: chunk.records, checkpoint: end, chunk: chunk.index, skipped: true };
      add(chunk, answer);
      return;
    }
    const q = queryOf({ kind, ...params });
    q.set("chunk", String(chunk.index));
    q.set("source", source);
    q.set("line-offset", String(chunk.lineOffset));
    q.set("record-offset", String(chunk.recordOffset));
    if (resumeAfter > chunk.recordOffset) q.set("resume-after-record", String(resumeAfter));
    if (opts.rejected && !opts.queue) q.set("rejected", "1");
    if (opts.queue) q.set("queue", "1");
    const target = new URL(endpoint);
    target.search = q.toString();
    const sha = await sha256Hex(chunk.body);
    let lastError = null;
    let busyMs = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new ViaError("E_ABORTED", "the import was cancelled", { summary: finalSummary() });
      let res = null;
      let wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      try {
        res = await fetchFn(target, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "text/csv", "x-chunk-sha256": sha },
          body: chunk.body,
          signal,
        });
      } catch (e) {
        if (signal?.aborted) throw new ViaError("E_ABORTED", "the import was cancelled", { summary: finalSummary() });
        lastError = new ViaError("E_NETWORK", `no answer from the Worker for chunk ${chunk.index}: ${e?.cause?.message ?? e?.message ?? e}`);
      }
      if (res) {
        let body = null;
        try {
          body = await res.json();
        } catch {
          body = null;
        }
        if (res.status === 202 && body?.queued) {
          agg.chunksQueued++;
          opts.onChunk?.(body);
          progress();
          return;
        }
        if (res.ok && body && !body.error) {
          add(chunk, body);
          return;
        }
        const code = body?.error?.code ?? `HTTP_${res.status}`;
        const message = body?.error?.message ?? `the Worker answered ${res.status} for chunk ${chunk.index}`;
        const retryable = res.status >= 500 && code !== "E_UPSTREAM_AUTH" && code !== "E_CONFIG" ? true : res.status === 429 || res.status === 409 || res.status === 408;
        if (!retryable) {
          throw new ViaError(code, `chunk ${chunk.index}: ${message}`, { status: res.status, chunk: chunk.index, answer: body, summary: finalSummary() });
        }
        wait = Number.isFinite(body?.retryAfterMs) ? Math.min(300_000, Math.max(50, body.retryAfterMs)) : retryAfterMs(res, wait);
        lastError = new ViaError(code, `chunk ${chunk.index}: ${message}`, { status: res.status, chunk: chunk.index });
        if (code === "E_BUSY" || code === "E_CHUNK_BUSY") {
          // Not a failure: every slot is taken, or this chunk is being imported by an earlier attempt.
          busyMs += wait;
          if (busyMs <= busyBudgetMs) {
            attempt--;
            agg.busyWaits++;
            await sleep(wait, signal);
            continue;
          }
        }
      }
      if (attempt >= maxAttempts) {
        lastError.summary = finalSummary();
        throw lastError;
      }
      agg.chunkRetries++;
      await sleep(wait, signal);
    }
  }

  function finalSummary() {
    const s = { ...agg, source, elapsedMs: Date.now() - started };
    if (opts.rejected) s.rejectedCsv = rejectedCsv ?? "";
    return s;
  }

  // Send with up to `parallel` chunks in flight; the reader waits while the window is full (bounded memory).
  const inflight = new Set();
  let failure = null;
  const launch = async (chunk) => {
    if (source === null) source = (await sha256Hex(chunk.body)).slice(0, 24);
    agg.chunks++;
    const p = send(chunk).catch((e) => {
      failure ??= e;
    });
    inflight.add(p);
    p.finally(() => inflight.delete(p));
    while (inflight.size >= parallel && !failure) await Promise.race(inflight);
  };
  // The file's first rows decide, for every chunk, what a whole-file import decides from them: the delimiter, the
  // encoding, each inferred column type and the slash-date order. A dry run of the file's first 1000 records (the
  // importer's sample) asks the Worker what it makes of them; every chunk is then sent with those choices
  // pinned (a type as a hint: a cell that does not fit still goes as text, as it would in one import). Without
  // them, a chunk whose own first rows look otherwise (a column of numbers with one word in the chunk's first
  // thousand rows, or no day above 12) would type or read that column differently from the rest of the file.
  const gate =
    opts.pin === false
      ? null
      : pinsGate({
          endpoint,
          token,
          params: { kind, ...params },
          headerLength: () => chunker.header?.length ?? 0,
          fetch: fetchFn,
          signal,
          onPins(pins) {
            if (!pins) return;
            agg.pins = pins;
            Object.assign(params, pinnedParams(params, pins));
          },
          async send(chunk) {
            await launch(chunk);
            return !failure;
          },
        });
  const take = (chunk) => (gate ? gate.take(chunk) : launch(chunk));
  try {
    for await (const bytes of bytesOf(input)) {
      if (failure) break;
      agg.bytesRead += bytes.length;
      for (const chunk of chunker.push(bytes)) {
        await take(chunk);
        if (failure) break;
      }
    }
    if (!failure) {
      for (const chunk of chunker.end()) await take(chunk);
      await gate?.end();
    }
  } catch (e) {
    failure ??= e instanceof ViaError ? e : new ViaError("E_CSV", `reading the file failed: ${e?.message ?? e}`);
  }
  await Promise.all(inflight);
  if (failure) {
    failure.summary = finalSummary();
    throw failure;
  }
  if (opts.queue && agg.chunksQueued + agg.chunksDone > 0) return await waitForJob();
  return finalSummary();

  // Queue mode: the chunks are stored and queued; the Worker's consumers import them. Wait for the job.
  async function waitForJob() {
    const jobUrl = new URL(`/jobs/${encodeURIComponent(source)}`, endpoint);
    const headers = { authorization: `Bearer ${token}` };
    const pollMs = opts.pollMs ?? 2000;
    const deadline = Date.now() + (opts.queueTimeoutMs ?? 24 * 3600_000);
    for (;;) {
      let job = null;
      try {
        const r = await fetchFn(jobUrl, { headers, signal });
        if (r.status === 401) throw new ViaError("E_AUTH_TOKEN", "the Worker refused the token", { status: 401 });
        if (r.ok) job = await r.json();
      } catch (e) {
        if (e instanceof ViaError) throw Object.assign(e, { summary: finalSummary() });
        if (signal?.aborted) throw new ViaError("E_ABORTED", "the import was cancelled", { summary: finalSummary() });
      }
      if (job) {
        const skipped = results.filter((r) => r?.answer?.skipped);
        const out = { ...finalSummary(), job };
        for (const k of SUM_KEYS) out[k] = Number(job[k] ?? 0) + skipped.reduce((a, r) => a + Number(r.answer[k] ?? 0), 0);
        out.checkpoint = Math.max(resumeAfter, job.checkpoint ?? 0);
        out.chunksDone = (job.states?.done ?? 0) + skipped.length;
        out.replayedChunks = job.replayedChunks ?? 0;
        out.rejectedByCode = job.rejectedByCode ?? {};
        out.issueCounts = job.issueCounts ?? {};
        opts.onProgress?.({ ...out, elapsedMs: Date.now() - started });
        const settled = (job.states?.done ?? 0) + (job.states?.failed ?? 0);
        if (job.finished && settled >= agg.chunksQueued + agg.chunksDone - skipped.length) {
          if (opts.rejected) {
            const r = await fetchFn(new URL(`${jobUrl.pathname}/rejected.csv`, endpoint), { headers, signal });
            out.rejectedCsv = r.ok ? await r.text() : "";
          }
          if (job.states?.failed) {
            throw new ViaError(job.errors?.[0]?.code ?? "E_CHUNK_FAILED", `${job.states.failed} chunk(s) failed: ${job.errors?.[0]?.message ?? ""}`, { summary: out });
          }
          return out;
        }
      }
      if (Date.now() > deadline) throw new ViaError("E_TIMEOUT", "the queued chunks did not finish in time", { summary: finalSummary() });
      await sleep(pollMs, signal);
    }
  }
}
