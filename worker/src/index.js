// cio-backfill as a Cloudflare Worker: serves the importer page (www/) in "worker" mode, and imports CSV
// chunks with `POST /import`, holding the Customer.io keys as secrets so that the browser never sees them.
//
//   POST /import?kind=people|events[&<mapping flags>][&chunk=N&source=ID&line-offset=L&record-offset=R]
//        Authorization: Bearer <IMPORT_TOKEN>        body: one CSV (header row + records), streamed
//   → 200 the chunk's summary JSON (the command line's summary, plus chunk, source, replayed, …)
//   GET /config.json → {"mode":"worker", …} (the page reads it to send through this Worker)
//   anything else → the static assets (the importer page)
//
// See README.md "Cloudflare Worker" for the configuration, the limits and the design for large backfills.

import { version } from "../../dist/pkg/workerd.js";
import { parseImportParams, RequestError } from "./params.js";
import { openLedger } from "./ledger.js";
import { enqueueChunk, consumeBatch, jobRoute } from "./queue.js";
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_CHUNK_BYTES,
  LEDGER_CSV_MAX,
  json,
  errorResponse,
  readConfig,
  checkToken,
  corsHeaders,
  tooLargeMessage,
  runImport,
  destinationOf,
  ledgerKeyFor,
} from "./run.js";

export { ChunkLedger } from "./ledger.js";
export { ImportSlots } from "./slots.js";
export { ImportJob } from "./queue.js";

// ---- POST /import ----

async function handleImport(request, env, ctx, url) {
  if (request.method !== "POST") {
    return errorResponse(405, "E_METHOD", "use POST /import with the CSV as the body", undefined, { allow: "POST, OPTIONS" });
  }
  await checkToken(request, env);
  const base = readConfig(env, { needCredentials: false });
  const { options, flags } = parseImportParams(url.searchParams, base);
  const dryRun = options.dryRun === true;
  const cfg = readConfig(env, { needCredentials: !dryRun });

  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > cfg.maxChunkBytes) {
    return errorResponse(413, "E_TOO_LARGE", tooLargeMessage(cfg, Number(declared)), { maxChunkBytes: cfg.maxChunkBytes, chunkBytes: cfg.chunkBytes });
  }
  if (!request.body) return errorResponse(422, "E_CSV", "the body is empty: send the CSV as the request body");

  const claimed = (request.headers.get("x-chunk-sha256") ?? "").trim().toLowerCase();
  if (claimed && !/^[0-9a-f]{64}$/.test(claimed)) {
    return errorResponse(400, "E_CONFIG", "X-Chunk-Sha256 must be the body's SHA-256 as 64 hex digits");
  }

  // The ledger: only for real sends of a numbered chunk of a named upload.
  const destination = await destinationOf(cfg);
  const ledger = !dryRun && flags.source !== null && flags.chunk !== null ? openLedger(env, { destination, source: flags.source }) : null;
  const keyFor = (sha) => ledgerKeyFor(destination, options, flags, sha);
  const base_ = { api: cfg.api, kind: options.kind, chunk: flags.chunk, source: flags.source, lineOffset: flags.lineOffset, recordOffset: flags.recordOffset };

  if (flags.queue) {
    const { queue, ...rest } = flags;
    return enqueueChunk(request, env, { cfg, options, flags: rest, base_, claimed });
  }

  let leaseKey = null;
  if (ledger && claimed) {
    const found = await ledger.begin(await keyFor(claimed));
    if (found.state === "done") {
      const answer = { ...found.answer, ...base_, replayed: true, ledger: ledger.kind };
      if (flags.rejected) {
        if (found.rejectedCsv !== undefined) answer.rejectedCsv = found.rejectedCsv;
        else answer.rejectedCsvOmitted = true;
      }
      await discardBody(request, cfg.maxChunkBytes);
      return json(200, answer);
    }
    if (found.state === "busy") {
      await discardBody(request, cfg.maxChunkBytes);
      const secs = Math.max(1, Math.ceil((found.retryAfterMs ?? 5000) / 1000));
      return errorResponse(409, "E_CHUNK_BUSY", `chunk ${flags.chunk} of source ${flags.source} is being imported right now; ask again later for its summary`, { retryAfterMs: Math.min(secs, 30) * 1000 }, { "retry-after": String(Math.min(secs, 30)) });
    }
    leaseKey = await keyFor(claimed);
  }

  // One shared rate limit: take a slot (each slot paces at CIO_RATE_LIMIT / MAX_PARALLEL_CHUNKS).
  const slotId = crypto.randomUUID();
  let slots = null;
  if (env.SLOTS && !dryRun) {
    slots = env.SLOTS.get(env.SLOTS.idFromName(destination));
    const got = await slots.acquire(slotId, cfg.parallel, 15 * 60_000);
    if (!got.granted) {
      if (leaseKey) await ledger.abort(leaseKey);
      await discardBody(request, cfg.maxChunkBytes);
      return errorResponse(503, "E_BUSY", `all ${cfg.parallel} import slots are in use (MAX_PARALLEL_CHUNKS); send this chunk again shortly`, { retryAfterMs: got.retryAfterMs }, { "retry-after": String(Math.max(1, Math.ceil(got.retryAfterMs / 1000))) });
    }
  }

  // The slot is given back with a cool-down: the time its pacer would still need to have earned the requests
  // this invocation made (n / rate − elapsed), so one slot never sends faster than its share across chunks,
  // however short they are (the next invocation's pacer starts with a full burst).
  const startedAt = Date.now();
  const release = (requests) => {
    if (!slots) return;
    const n = requests ?? Math.max(4, cfg.concurrency);
    const cooldownMs = Math.max(0, Math.ceil((n / cfg.ratePerChunk) * 1000 - (Date.now() - startedAt)));
    return slots.release(slotId, cooldownMs).catch(() => {});
  };
  // Everything after the import (slot, ledger) is part of `work`, which is kept alive with waitUntil: if the
  // client goes away the chunk still completes and is recorded, and a re-sent chunk replays it.
  const work = runImport(request.body, cfg, options, flags, base_).then(
    async (r) => {
      await release(r.answer.requests);
      await record(r);
      return r;
    },
    async (e) => {
      await release(e?.extra?.summary?.requests);
      if (leaseKey) await ledger.abort(leaseKey).catch(() => {});
      throw e;
    },
  );
  async function record({ answer, rejectedCsv, digest: actual }) {
    if (!(leaseKey || (ledger && actual))) return;
    const ok = answer.complete && (!claimed || actual === null || actual === claimed);
    if (claimed && actual && actual !== claimed) answer.ledgerWarning = "X-Chunk-Sha256 does not match the body: the chunk was not recorded";
    if (ok) {
      const entry = { answer: { ...answer } };
      if (rejectedCsv !== undefined && rejectedCsv.length <= LEDGER_CSV_MAX) entry.rejectedCsv = rejectedCsv;
      await ledger.commit(await keyFor(claimed || actual), entry);
      answer.ledger = ledger.kind;
    } else if (leaseKey) {
      await ledger.abort(leaseKey);
    }
  }
  ctx?.waitUntil?.(work.catch(() => {}));
  const { answer, rejectedCsv } = await work;
  if (flags.rejected) answer.rejectedCsv = rejectedCsv ?? "";
  return json(200, answer);
}

/**
 * Read what is left of a small unread body before answering an error, so the connection can be reused (an
 * unread body makes workerd close it, and a client that already reuses it sees a reset). Large bodies are not
 * read: cancelling them closes the connection, which is what a refused upload should do.
 */
async function discardBody(request, limit = 256 * 1024) {
  if (!request.body || request.bodyUsed) return;
  const n = Number(request.headers.get("content-length"));
  try {
    if (request.headers.has("content-length") && Number.isFinite(n) && n <= limit) await request.arrayBuffer();
    else await request.body.cancel();
  } catch {}
}

// ---- routing ----

export default {
  async queue(batch, env) {
    await consumeBatch(batch, env);
  },

  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const cors = corsHeaders(request, env);
    try {
      if (url.pathname === "/import") {
        if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
        const res = await handleImport(request, env, ctx, url);
        for (const [k, v] of Object.entries(cors)) res.headers.set(k, v);
        return res;
      }
      const jobPath = /^\/jobs\/([A-Za-z0-9._:-]{1,128})(?:\/(rejected\.csv))?$/.exec(url.pathname);
      if (jobPath) {
        if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
        await checkToken(request, env);
        const res = await jobRoute(request, env, jobPath[1], jobPath[2]);
        for (const [k, v] of Object.entries(cors)) res.headers.set(k, v);
        return res;
      }
      if (url.pathname === "/config.json") {
        let api = null;
        let region = null;
        let chunkBytes = DEFAULT_CHUNK_BYTES;
        let maxChunkBytes = DEFAULT_MAX_CHUNK_BYTES;
        let parallel = 4;
        try {
          ({ api, region, chunkBytes, maxChunkBytes, parallel } = readConfig(env, { needCredentials: false }));
        } catch {}
        const queue = Boolean(env.UPLOADS && env.IMPORTS && env.JOBS);
        return json(200, { mode: "worker", endpoint: null, api, region, chunkBytes, maxChunkBytes, maxParallelChunks: parallel, queue, version: version() }, cors);
      }
      if (env.ASSETS) return env.ASSETS.fetch(request);
      return errorResponse(404, "E_NOT_FOUND", "not found");
    } catch (e) {
      await discardBody(request);
      if (e instanceof RequestError) {
        return errorResponse(e.status, e.code, e.message, e.extra, { ...cors, ...(e.headers ?? {}) });
      }
      return errorResponse(500, "E_INTERNAL", String(e?.message ?? e), undefined, cors);
    }
  },
};
