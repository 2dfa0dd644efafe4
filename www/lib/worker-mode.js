// Worker mode: send the file through the importer's Cloudflare Worker instead of straight to Customer.io.
// The Worker holds the Customer.io keys as secrets; the browser only has an import token.
//
// Contract (proposal for the Worker, see www/README.md "Worker mode"):
//   POST {endpoint}/import?kind=people|events&api=track|pipelines&region=us|eu&chunk=N&mapping=<JSON>
//        [&skipCampaignWindow=1]
//   Authorization: Bearer <import token>
//   Content-Type: text/csv
//   body: one self-contained CSV: the file's header row, then whole records (never split inside a quoted field)
//   200 → { rows, valid, rejected, sent, apiRejected, failed, requests, retries, rejectedCsv? }   (that chunk)
//   401/403 → the token is wrong. Anything else → retried, then the chunk's rows count as failed.
// Checkpoint: the number of chunks fully confirmed; resuming skips them (the Worker's event ids are
// deterministic per row, so a chunk sent twice does not duplicate events on Track).
//
// This module has no dependency on the wasm package; the engine worker runs it for mode "worker".

const NL = 0x0a, QUOTE = 0x22;

/** Splits a byte stream into CSV chunks of about `target` bytes, each cut at a record end outside quotes. */
export class CsvChunker {
  constructor(target = 4 * 1024 * 1024) {
    this.target = target;
    this.header = null;   // Uint8Array: the header record incl. its line ending
    this.parts = [];      // pending bytes
    this.pending = 0;
    this.inQuotes = false;
    this.lastCut = -1;    // offset in `pending` just after the last record end outside quotes
  }

  #concat(n) {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = this.parts[0];
      const take = Math.min(p.length, n - o);
      out.set(p.subarray(0, take), o);
      o += take;
      if (take === p.length) this.parts.shift(); else this.parts[0] = p.subarray(take);
    }
    this.pending -= n;
    return out;
  }

  /** Push bytes; returns the complete chunks (Uint8Array, header first) that are ready. */
  push(bytes) {
    const ready = [];
    const base = this.pending;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === QUOTE) this.inQuotes = !this.inQuotes;
      else if (b === NL && !this.inQuotes) this.lastCut = base + i + 1;
    }
    this.parts.push(bytes.slice()); // the caller's buffer is reused for the next chunk
    this.pending += bytes.length;
    if (this.header === null && this.lastCut > 0) {
      // the first record end is the header's; find it again from the start
      this.header = this.#takeFirstRecord();
    }
    while (this.header !== null && this.pending >= this.target && this.lastCut > 0) {
      const n = this.lastCut;
      this.lastCut = -1;
      ready.push(this.#withHeader(this.#concat(n)));
    }
    return ready;
  }

  #takeFirstRecord() {
    const all = this.#concat(this.pending);
    let q = false, end = -1;
    for (let i = 0; i < all.length; i++) {
      if (all[i] === QUOTE) q = !q;
      else if (all[i] === NL && !q) { end = i + 1; break; }
    }
    const rest = all.subarray(end);
    this.parts = rest.length ? [rest] : [];
    this.pending = rest.length;
    // recompute the last cut in the rest
    this.lastCut = -1;
    q = false;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === QUOTE) q = !q;
      else if (rest[i] === NL && !q) this.lastCut = i + 1;
    }
    return all.slice(0, end);
  }

  #withHeader(body) {
    const out = new Uint8Array(this.header.length + body.length);
    out.set(this.header, 0);
    out.set(body, this.header.length);
    return out;
  }

  /** The last chunk (or none). */
  end() {
    if (this.header === null) {
      if (this.pending === 0) return [];
      this.header = this.#concat(this.pending);
      return [];
    }
    if (this.pending === 0) return [];
    return [this.#withHeader(this.#concat(this.pending))];
  }
}

export class WorkerModeError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

/**
 * Sends `nextChunk()` (a pull function returning Uint8Array|null) through the Worker.
 * options: { endpoint, token, kind, api, region, mapping, skipCampaignWindow, resumeAfterChunk, chunkBytes }
 * hooks: { onProgress(p), onRejectedCsv(text), signal, fetch }
 */
export async function sendViaWorker(nextChunk, options, hooks) {
  const fetchFn = hooks.fetch ?? fetch;
  const chunker = new CsvChunker(options.chunkBytes ?? 4 * 1024 * 1024);
  const totals = { rows: 0, valid: 0, rejected: 0, warnings: 0, sent: 0, apiRejected: 0, failed: 0,
    skippedResume: 0, requests: 0, retries: 0, bytesRead: 0, checkpoint: options.resumeAfterChunk ?? 0 };
  const started = Date.now();
  let index = 0;
  const base = new URL("/import", options.endpoint || self.location.origin);

  async function postChunk(body) {
    const n = index++;
    if (n < (options.resumeAfterChunk ?? 0)) return;
    const url = new URL(base);
    url.searchParams.set("kind", options.kind);
    url.searchParams.set("api", options.api);
    url.searchParams.set("region", options.region);
    url.searchParams.set("chunk", String(n));
    if (options.mapping) url.searchParams.set("mapping", JSON.stringify(options.mapping));
    if (options.skipCampaignWindow) url.searchParams.set("skipCampaignWindow", "1");
    for (let attempt = 0; ; attempt++) {
      if (hooks.signal?.aborted) throw new WorkerModeError("E_ABORTED", "the import was cancelled");
      let res;
      try {
        totals.requests++;
        res = await fetchFn(url, {
          method: "POST",
          headers: { authorization: `Bearer ${options.token}`, "content-type": "text/csv" },
          body,
          signal: hooks.signal,
        });
      } catch (e) {
        if (e?.name === "AbortError") throw new WorkerModeError("E_ABORTED", "the import was cancelled");
        if (attempt >= 3) throw new WorkerModeError("E_NETWORK", `no answer from the import Worker: ${e?.message ?? e}`);
        totals.retries++;
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        continue;
      }
      if (res.status === 401 || res.status === 403) throw new WorkerModeError("E_AUTH", "the import Worker refused the token");
      if (!res.ok) {
        if (attempt >= 3) throw new WorkerModeError("E_NETWORK", `the import Worker answered ${res.status}`);
        totals.retries++;
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        continue;
      }
      const s = await res.json();
      for (const k of ["rows", "valid", "rejected", "warnings", "sent", "apiRejected", "failed", "retries"]) totals[k] += Number(s[k] ?? 0);
      if (s.rejectedCsv) hooks.onRejectedCsv?.(s.rejectedCsv, n);
      totals.checkpoint = n + 1;
      return;
    }
  }

  const progress = () => hooks.onProgress?.({ ...totals,
    rowsPerSec: totals.rows / Math.max(0.001, (Date.now() - started) / 1000) });

  for (;;) {
    const bytes = await nextChunk();
    if (bytes === null) break;
    totals.bytesRead += bytes.length;
    for (const c of chunker.push(bytes)) { await postChunk(c); progress(); }
  }
  for (const c of chunker.end()) { await postChunk(c); progress(); }
  return { ...totals, campaignWindow: 0, olderThan30Days: 0, bisections: 0, mode: "worker" };
}
