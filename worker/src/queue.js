// Queue mode, for backfills that outgrow one client connection: `POST /import?queue=1&source=S&chunk=N` stores
// the chunk in R2 (UPLOADS) and enqueues it (IMPORTS) instead of importing it while the client waits; queue
// consumers import chunks under the shared rate limit (ImportSlots), the ledger makes redeliveries harmless, and
// the ImportJob Durable Object (one per source) adds up what happened: `GET /jobs/S` (totals, checkpoint, chunk
// states) and `GET /jobs/S/rejected.csv` (every chunk's rejected rows, one header, the file's line numbers).
//
// Bindings (see wrangler.toml): UPLOADS (R2 bucket), IMPORTS (Queue producer + this Worker as its consumer),
// JOBS (Durable Object ImportJob). LEDGER and SLOTS as for POST /import.

import { DurableObject } from "cloudflare:workers";
import { RequestError } from "./params.js";
import { openLedger } from "./ledger.js";
import { json, readConfig, runImport, destinationOf, ledgerKeyFor, LEDGER_CSV_MAX } from "./run.js";

const SUM_KEYS = [
  "rows", "valid", "rejected", "warnings", "sent", "apiRejected", "failed", "unsent", "pending", "skippedResume",
  "requests", "retries", "bisections", "campaignWindow", "olderThan30Days", "bodyBytes",
];
const pad = (n) => String(n).padStart(9, "0");
const chunkKey = (destination, source, chunk) => `chunks/${destination}/${source}/${pad(chunk)}.csv`;
const rejectedPrefix = (destination, source) => `rejected/${destination}/${source}/`;

export function queueBindings(env) {
  const missing = ["UPLOADS", "IMPORTS", "JOBS"].filter((k) => !env[k]);
  if (missing.length) {
    throw new RequestError(500, "E_CONFIG", `queue mode needs the ${missing.join(", ")} binding${missing.length > 1 ? "s" : ""} (see worker/wrangler.toml)`);
  }
}

function job(env, destination, source) {
  return env.JOBS.get(env.JOBS.idFromName(`${destination}:${source}`));
}

/** POST /import?queue=1: store the chunk and enqueue it. Answers 202 (or 200 when the ledger has it already). */
export async function enqueueChunk(request, env, { cfg, options, flags, base_, claimed }) {
  queueBindings(env);
  if (flags.source === null || flags.chunk === null) throw new RequestError(400, "E_CONFIG", "queue=1 needs source and chunk");
  if (options.dryRun) throw new RequestError(400, "E_CONFIG", "a dry run is answered right away: leave out queue=1");
  if (!request.headers.has("content-length")) {
    throw new RequestError(411, "E_LENGTH_REQUIRED", "queue=1 needs a Content-Length (the chunk is stored before it is imported)");
  }
  const destination = await destinationOf(cfg);
  const ledger = openLedger(env, { destination, source: flags.source });
  if (ledger && claimed) {
    const found = await ledger.peek(await ledgerKeyFor(destination, options, flags, claimed));
    if (found?.state === "done") {
      await request.body?.cancel().catch(() => {});
      await job(env, destination, flags.source).done(flags.chunk, found.answer, true);
      return json(200, { ...found.answer, ...base_, replayed: true, queued: false });
    }
  }
  const key = chunkKey(destination, flags.source, flags.chunk);
  await env.UPLOADS.put(key, request.body, { customMetadata: { sha256: claimed || "" } });
  await job(env, destination, flags.source).queued(flags.chunk, { lineOffset: flags.lineOffset, recordOffset: flags.recordOffset });
  await env.IMPORTS.send({ v: 1, key, destination, options, flags: { ...flags, rejected: true }, sha: claimed || null });
  return json(202, { ...base_, queued: true, replayed: false, job: `/jobs/${encodeURIComponent(flags.source)}` });
}

/** The queue consumer: one message = one chunk. */
export async function consumeBatch(batch, env) {
  for (const msg of batch.messages) {
    try {
      await consume(msg, env);
    } catch (e) {
      msg.retry({ delaySeconds: backoff(msg.attempts) });
    }
  }
}

const backoff = (attempts) => Math.min(300, 5 * 2 ** Math.max(0, (attempts ?? 1) - 1));

async function consume(msg, env) {
  const { key, destination, options, flags, sha } = msg.body;
  const j = job(env, destination, flags.source);
  let cfg;
  try {
    cfg = readConfig(env);
  } catch (e) {
    await j.failed(flags.chunk, { code: e.code, message: e.message }, false);
    return msg.retry({ delaySeconds: 60 }); // someone may fix the secret
  }
  if ((await destinationOf(cfg)) !== destination) {
    await j.failed(flags.chunk, { code: "E_CONFIG", message: "the Worker's destination changed since the chunk was queued" }, true);
    return msg.ack();
  }
  const base_ = { api: cfg.api, kind: options.kind, chunk: flags.chunk, source: flags.source, lineOffset: flags.lineOffset, recordOffset: flags.recordOffset };
  const ledger = openLedger(env, { destination, source: flags.source });
  const lkey = sha ? await ledgerKeyFor(destination, options, flags, sha) : null;
  let leased = false;
  if (ledger && lkey) {
    const found = await ledger.begin(lkey);
    if (found.state === "done") {
      await j.done(flags.chunk, found.answer, true);
      await env.UPLOADS.delete(key);
      return msg.ack();
    }
    if (found.state === "busy") return msg.retry({ delaySeconds: Math.ceil((found.retryAfterMs ?? 30_000) / 1000) });
    leased = true;
  }
  const abort = () => (leased ? ledger.abort(lkey).catch(() => {}) : undefined);
  const slotId = crypto.randomUUID();
  const slots = env.SLOTS ? env.SLOTS.get(env.SLOTS.idFromName(destination)) : null;
  if (slots) {
    const got = await slots.acquire(slotId, cfg.parallel, 15 * 60_000);
    if (!got.granted) {
      await abort();
      return msg.retry({ delaySeconds: Math.max(1, Math.ceil(got.retryAfterMs / 1000)) });
    }
  }
  const startedAt = Date.now();
  const release = (n) => slots?.release(slotId, Math.max(0, Math.ceil(((n ?? Math.max(4, cfg.concurrency)) / cfg.ratePerChunk) * 1000 - (Date.now() - startedAt)))).catch(() => {});
  const obj = await env.UPLOADS.get(key);
  if (!obj) {
    await release(0);
    await abort();
    await j.failed(flags.chunk, { code: "E_MISSING", message: "the chunk is no longer in the UPLOADS bucket: send it again" }, true);
    return msg.ack();
  }
  let result;
  try {
    result = await runImport(obj.body, cfg, options, flags, base_);
  } catch (e) {
    await release(e?.extra?.summary?.requests);
    await abort();
    const final = ["E_UPSTREAM_AUTH", "E_CSV", "E_MAPPING", "E_CONFIG", "E_TOO_LARGE"].includes(e?.code);
    await j.failed(flags.chunk, { code: e?.code ?? "E_INTERNAL", message: String(e?.message ?? e) }, final);
    if (final) {
      await env.UPLOADS.delete(key);
      return msg.ack();
    }
    return msg.retry({ delaySeconds: backoff(msg.attempts) });
  }
  await release(result.answer.requests);
  const { answer, rejectedCsv, digest } = result;
  const maxAttempts = Number(env.QUEUE_MAX_ATTEMPTS ?? 5) || 5;
  // Rows that failed after the invocation's own retries: send the chunk again later, when that cannot send a
  // delivered row twice (Track deduplicates; or nothing was delivered), until the attempts run out.
  if (!answer.complete && (cfg.api === "track" || answer.sent + answer.apiRejected === 0) && (msg.attempts ?? 1) < maxAttempts) {
    await abort();
    return msg.retry({ delaySeconds: backoff(msg.attempts) });
  }
  if (answer.complete && (!sha || !digest || digest === sha) && ledger && (lkey || digest)) {
    const record = { answer };
    if (rejectedCsv.length <= LEDGER_CSV_MAX) record.rejectedCsv = rejectedCsv;
    await ledger.commit(lkey ?? (await ledgerKeyFor(destination, options, flags, digest)), record);
  } else {
    await abort();
  }
  if (rejectedCsv) await env.UPLOADS.put(`${rejectedPrefix(destination, flags.source)}${pad(flags.chunk)}.csv`, rejectedCsv);
  await j.done(flags.chunk, answer, false);
  await env.UPLOADS.delete(key);
  msg.ack();
}

/** GET /jobs/<source>[/rejected.csv] (token checked by the caller). */
export async function jobRoute(request, env, source, what) {
  queueBindings(env);
  const cfg = readConfig(env);
  const destination = await destinationOf(cfg);
  if (what === "rejected.csv") {
    const listed = [];
    let cursor;
    do {
      const page = await env.UPLOADS.list({ prefix: rejectedPrefix(destination, source), cursor });
      listed.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    listed.sort();
    let first = true;
    const stream = new ReadableStream({
      async pull(controller) {
        const k = listed.shift();
        if (k === undefined) return controller.close();
        const text = (await (await env.UPLOADS.get(k))?.text()) ?? "";
        controller.enqueue(new TextEncoder().encode(first ? text : withoutHeader(text)));
        first = false;
      },
    });
    return new Response(stream, { headers: { "content-type": "text/csv; charset=utf-8", "cache-control": "no-store" } });
  }
  return json(200, await job(env, destination, source).status(source));
}

function withoutHeader(csv) {
  let q = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv.charCodeAt(i);
    if (c === 0x22) q = !q;
    else if (c === 0x0a && !q) return csv.slice(i + 1);
  }
  return "";
}

/** Durable Object: what happened to each chunk of one source (one upload). */
export class ImportJob extends DurableObject {
  async queued(chunk, meta) {
    const k = `c:${pad(chunk)}`;
    const v = await this.ctx.storage.get(k);
    if (v?.state === "done") return;
    await this.ctx.storage.put(k, { state: "queued", chunk, ...meta, at: Date.now() });
  }

  async done(chunk, answer, replayed) {
    const slim = { replayed: !!replayed };
    for (const key of [...SUM_KEYS, "checkpoint", "recordOffset", "lineOffset", "complete", "dryRun"]) slim[key] = answer[key];
    slim.rejectedByCode = answer.rejectedByCode ?? {};
    slim.issueCounts = answer.issueCounts ?? {};
    await this.ctx.storage.put(`c:${pad(chunk)}`, { state: "done", chunk, answer: slim, at: Date.now() });
  }

  async failed(chunk, error, final) {
    const k = `c:${pad(chunk)}`;
    const v = (await this.ctx.storage.get(k)) ?? { chunk };
    if (v.state === "done") return;
    await this.ctx.storage.put(k, { ...v, state: final ? "failed" : "retrying", error, attempts: (v.attempts ?? 0) + 1, at: Date.now() });
  }

  async status(source) {
    const all = [...(await this.ctx.storage.list({ prefix: "c:" })).values()];
    const totals = Object.fromEntries(SUM_KEYS.map((k) => [k, 0]));
    const states = { queued: 0, retrying: 0, done: 0, failed: 0 };
    const rejectedByCode = {};
    const issueCounts = {};
    const errors = [];
    let replayedChunks = 0;
    for (const c of all) {
      states[c.state] = (states[c.state] ?? 0) + 1;
      if (c.state === "done") {
        for (const k of SUM_KEYS) totals[k] += Number(c.answer[k] ?? 0);
        for (const [k, v] of Object.entries(c.answer.rejectedByCode ?? {})) rejectedByCode[k] = (rejectedByCode[k] ?? 0) + v;
        for (const [k, v] of Object.entries(c.answer.issueCounts ?? {})) issueCounts[k] = (issueCounts[k] ?? 0) + v;
        if (c.answer.replayed) replayedChunks++;
      } else if (c.error && errors.length < 50) errors.push({ chunk: c.chunk, state: c.state, ...c.error });
    }
    // The checkpoint: through the contiguous run of chunks 0, 1, 2, … whose rows are all settled.
    let checkpoint = 0;
    for (let i = 0; i < all.length; i++) {
      const c = all[i];
      if (c.chunk !== i || c.state !== "done") break;
      checkpoint = c.answer.checkpoint;
      if (c.answer.checkpoint < c.answer.recordOffset + c.answer.rows) break;
    }
    return {
      source,
      chunks: all.length,
      states,
      finished: states.queued === 0 && states.retrying === 0,
      ...totals,
      checkpoint,
      replayedChunks,
      rejectedByCode,
      issueCounts,
      errors,
    };
  }
}
