// Worker mode: send the file through the importer's Cloudflare Worker instead of straight to Customer.io.
// The Worker holds the Customer.io keys as secrets; the browser only has an import token.
//
// Contract (the Worker in worker/, see worker/README.md):
//   POST {endpoint}/import?kind=people|events&api=track|pipelines&region=us|eu&chunk=N&mapping=<JSON>
//        &source=<upload id>&line-offset=L&record-offset=R&rejected=1[&skipCampaignWindow=1]
//   Authorization: Bearer <import token>; X-Chunk-Sha256: <hex digest of the body>
//   (line-offset / record-offset make the Worker's line numbers the file's; source + the digest let it replay a
//   chunk it already completed instead of sending it again)
//   Content-Type: text/csv
//   body: one self-contained CSV: the file's header row, then whole records (never split inside a quoted field)
//   200 → { rows, valid, rejected, sent, apiRejected, failed, requests, retries, rejectedCsv? }   (that chunk)
//   401/403 → the token is wrong. Anything else → retried, then the chunk's rows count as failed.
// Checkpoint: the number of chunks fully confirmed; resuming skips them (the Worker's event ids are
// deterministic per row, so a chunk sent twice does not duplicate events on Track).
//
// It cuts the file with js/via.mjs's CsvChunker (the build copies it to pkg/, next to the wasm), the same one the
// command line's --via uses; the engine worker runs it for mode "worker".

import { CsvChunker, pinnedParams, pinsGate, sha256Hex, withoutHeader } from "../pkg/via.mjs";

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
  const chunker = new CsvChunker({ chunkBytes: options.chunkBytes ?? 4 * 1024 * 1024 });
  const totals = { rows: 0, valid: 0, rejected: 0, warnings: 0, sent: 0, apiRejected: 0, failed: 0,
    skippedResume: 0, requests: 0, retries: 0, bytesRead: 0, checkpoint: options.resumeAfterChunk ?? 0 };
  const started = Date.now();
  let index = 0;
  const base = new URL("/import", options.endpoint || self.location.origin);
  let source = null, rejectedHeaderSent = false;
  // Every chunk decides as the file's first rows say (delimiter, encoding, inferred types, date order): the first
  // chunks are held back until they hold the importer's sample, and the Worker is asked once, with a dry run of
  // them (js/via.mjs's pinsGate).
  let pins = null;
  const own = { kind: options.kind, api: options.api, region: options.region, ...(options.mapping ? { mapping: options.mapping } : {}) };
  const gate = pinsGate({ endpoint: base, token: options.token, params: own, headerLength: () => chunker.header?.length ?? 0,
    fetch: fetchFn, signal: hooks.signal,
    onPins: (got) => { if (got) pins = pinnedParams(own, got); },
    send: async (c) => { await postChunk(c); progress(); } });

  async function postChunk({ body, lineOffset, recordOffset }) {
    const n = index++;
    if (n < (options.resumeAfterChunk ?? 0)) return;
    const sha = await sha256Hex(body);
    if (source === null) source = sha.slice(0, 24);
    const url = new URL(base);
    url.searchParams.set("source", source);
    url.searchParams.set("line-offset", String(lineOffset));
    url.searchParams.set("record-offset", String(recordOffset));
    url.searchParams.set("rejected", "1");
    url.searchParams.set("kind", options.kind);
    url.searchParams.set("api", options.api);
    url.searchParams.set("region", options.region);
    url.searchParams.set("chunk", String(n));
    if (options.mapping) url.searchParams.set("mapping", JSON.stringify(options.mapping));
    if (options.skipCampaignWindow) url.searchParams.set("skipCampaignWindow", "1");
    for (const [k, v] of Object.entries(pins ?? {})) for (const one of [v].flat()) url.searchParams.append(k, one);
    for (let attempt = 0; ; attempt++) {
      if (hooks.signal?.aborted) throw new WorkerModeError("E_ABORTED", "the import was cancelled");
      let res;
      try {
        totals.requests++;
        res = await fetchFn(url, {
          method: "POST",
          headers: { authorization: `Bearer ${options.token}`, "content-type": "text/csv", "x-chunk-sha256": sha },
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
      if (s.rejectedCsv) {
        hooks.onRejectedCsv?.(rejectedHeaderSent ? withoutHeader(s.rejectedCsv) : s.rejectedCsv, n);
        rejectedHeaderSent = true;
      }
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
    // (the chunker keeps views of what it is given, and the caller's buffer is reused for the next read)
    for (const c of chunker.push(bytes.slice())) await gate.take(c);
  }
  for (const c of chunker.end()) await gate.take(c);
  await gate.end();
  return { ...totals, campaignWindow: 0, olderThan30Days: 0, bisections: 0, mode: "worker" };
}
