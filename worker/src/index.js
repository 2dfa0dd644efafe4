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

import { Importer, version } from "../../dist/pkg/workerd.js";
import { parseImportParams, RequestError } from "./params.js";
import { rewriteRejected } from "./lines.js";
import { openLedger, sha256Hex, hex } from "./ledger.js";

export { ChunkLedger } from "./ledger.js";
export { ImportSlots } from "./slots.js";

/** Largest chunk body accepted by default (MAX_CHUNK_BYTES overrides, up to the platform's 100 MB). */
const DEFAULT_MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** The chunk size clients are told to use (`/config.json`): half the maximum, so a chunk never gets near it. */
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const PLATFORM_MAX_BODY = 100 * 1000 * 1000;
/** Attempts per Customer.io request inside one invocation (the package's default is 8). */
const DEFAULT_MAX_ATTEMPTS = 6;
const MAX_ISSUES_IN_ANSWER = 100;
/** The ledger keeps a replayable rejected-rows CSV up to this size (Durable Object values are ≤ 128 KiB). */
const LEDGER_CSV_MAX = 96 * 1024;

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function errorBody(code, message, extra) {
  return { error: { code, message }, ...(extra ?? {}) };
}

function errorResponse(status, code, message, extra, headers) {
  return json(status, errorBody(code, message, extra), headers);
}

const num = (v, dflt) => {
  if (v === undefined || v === null || String(v).trim() === "") return dflt;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : NaN;
};

/** The Worker's configuration from its variables and secrets; throws E_CONFIG (500) naming what is wrong. */
function readConfig(env, { needCredentials = true } = {}) {
  const fail = (message) => new RequestError(500, "E_CONFIG", message);
  const api = String(env.CIO_API ?? "track").trim().toLowerCase();
  if (api !== "track" && api !== "pipelines") {
    throw fail(`the Worker's CIO_API variable must be "track" or "pipelines", found ${JSON.stringify(env.CIO_API)}`);
  }
  const region = String(env.CIO_REGION ?? "us").trim().toLowerCase() || "us";
  if (region !== "us" && region !== "eu") {
    throw fail(`the Worker's CIO_REGION variable must be "us" or "eu", found ${JSON.stringify(env.CIO_REGION)}`);
  }
  let endpoint;
  const rawEndpoint = String(env.CIO_ENDPOINT ?? "").trim();
  if (rawEndpoint) {
    let u;
    try {
      u = new URL(rawEndpoint);
    } catch {
      throw fail("the Worker's CIO_ENDPOINT variable must be an origin such as https://host:port");
    }
    if (!/^https?:$/.test(u.protocol) || u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "")) {
      throw fail("the Worker's CIO_ENDPOINT variable must be an origin (scheme, host, port) without path, query or credentials");
    }
    endpoint = u.origin;
  }
  const secret = (k) => (typeof env[k] === "string" && env[k].trim() !== "" ? env[k].trim() : null);
  const wanted = api === "track" ? ["CIO_SITE_ID", "CIO_TRACK_API_KEY"] : ["CIO_API_KEY"];
  const missing = wanted.filter((k) => !secret(k));
  if (needCredentials && missing.length) {
    throw fail(
      `the Worker is missing the secret${missing.length > 1 ? "s" : ""} ${missing.join(" and ")} ` +
        `(CIO_API is "${api}"): set ${missing.length > 1 ? "them" : "it"} with \`wrangler secret put ${missing[0]}\``,
    );
  }
  const credentials = api === "track" ? { siteId: secret("CIO_SITE_ID"), apiKey: secret("CIO_TRACK_API_KEY") } : { apiKey: secret("CIO_API_KEY") };
  const maxChunkBytes = num(env.MAX_CHUNK_BYTES, DEFAULT_MAX_CHUNK_BYTES);
  if (!(maxChunkBytes >= 1024 && maxChunkBytes <= PLATFORM_MAX_BODY)) {
    throw fail(`the Worker's MAX_CHUNK_BYTES variable must be a number of bytes from 1024 to ${PLATFORM_MAX_BODY}`);
  }
  const rateTotal = num(env.CIO_RATE_LIMIT, api === "track" ? 100 : 1000);
  const parallel = num(env.MAX_PARALLEL_CHUNKS, 4);
  const concurrency = num(env.CIO_CONCURRENCY, 4);
  const maxAttempts = num(env.CIO_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS);
  for (const [k, v] of Object.entries({ CIO_RATE_LIMIT: rateTotal, MAX_PARALLEL_CHUNKS: parallel, CIO_CONCURRENCY: concurrency, CIO_MAX_ATTEMPTS: maxAttempts })) {
    if (Number.isNaN(v)) throw fail(`the Worker's ${k} variable must be a positive number`);
  }
  return {
    api,
    region,
    endpoint,
    credentials,
    missing,
    maxChunkBytes: Math.floor(maxChunkBytes),
    chunkBytes: Math.min(DEFAULT_CHUNK_BYTES, Math.floor(maxChunkBytes / 2)),
    rateTotal,
    parallel: Math.floor(parallel),
    ratePerChunk: rateTotal / Math.floor(parallel),
    concurrency: Math.min(64, Math.floor(concurrency)),
    maxAttempts: Math.floor(maxAttempts),
  };
}

// ---- the import token ----

async function digest(s) {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
}

/** Constant-time comparison: both sides are hashed first, so neither the length nor a prefix leaks. */
async function tokenMatches(given, expected) {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
  return d === 0;
}

async function checkToken(request, env) {
  const expected = typeof env.IMPORT_TOKEN === "string" ? env.IMPORT_TOKEN.trim() : "";
  if (!expected) {
    throw new RequestError(500, "E_CONFIG", "the Worker is missing the secret IMPORT_TOKEN: set it with `wrangler secret put IMPORT_TOKEN`");
  }
  const h = request.headers.get("authorization") ?? "";
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  const www = { "www-authenticate": 'Bearer realm="cio-backfill"' };
  if (!m) throw new RequestError(401, "E_AUTH_TOKEN", "send the import token as `Authorization: Bearer <token>`", undefined, www);
  if (!(await tokenMatches(m[1], expected))) throw new RequestError(401, "E_AUTH_TOKEN", "the import token is wrong", undefined, www);
}

// ---- CORS (only for origins listed in ALLOWED_ORIGINS; the page served by this Worker is same-origin) ----

function corsHeaders(request, env) {
  const origin = request.headers.get("origin");
  if (!origin) return {};
  const allowed = String(env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (!allowed.includes(origin) && !allowed.includes("*")) return {};
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": "POST, GET, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type, X-Chunk-Sha256",
    "access-control-expose-headers": "Retry-After",
    "access-control-max-age": "600",
    vary: "Origin",
  };
}

// ---- the body: counted (413 past the limit) and hashed while it streams ----

function meter(body, max, state) {
  state.bytes = 0;
  const digestStream = typeof crypto.DigestStream === "function" ? new crypto.DigestStream("SHA-256") : null;
  const writer = digestStream?.getWriter();
  state.digest = digestStream ? digestStream.digest.then(hex) : Promise.resolve(null);
  state.digest.catch(() => {});
  return body.pipeThrough(
    new TransformStream({
      async transform(chunk, controller) {
        const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
        state.bytes += bytes.byteLength;
        if (state.bytes > max) {
          state.tooLarge = true;
          writer?.abort().catch(() => {});
          throw new Error(`the body is larger than ${max} bytes`);
        }
        if (writer) await writer.write(bytes);
        controller.enqueue(bytes);
      },
      async flush() {
        if (writer) await writer.close();
      },
    }),
  );
}

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
  const destination = (await sha256Hex(`${cfg.api}|${cfg.region}|${cfg.endpoint ?? ""}|${cfg.credentials.siteId ?? ""}|${cfg.credentials.apiKey ?? ""}`)).slice(0, 16);
  const ledger = !dryRun && flags.source !== null && flags.chunk !== null ? openLedger(env, { destination, source: flags.source }) : null;
  const optionsKey = (await sha256Hex(JSON.stringify([options, flags.lineOffset, flags.recordOffset]))).slice(0, 16);
  const keyFor = (sha) => `v1:${destination}:${flags.source}:${flags.chunk}:${optionsKey}:${sha}`;
  const base_ = { api: cfg.api, kind: options.kind, chunk: flags.chunk, source: flags.source, lineOffset: flags.lineOffset, recordOffset: flags.recordOffset };

  let leaseKey = null;
  if (ledger && claimed) {
    const found = await ledger.begin(keyFor(claimed));
    if (found.state === "done") {
      const answer = { ...found.answer, ...base_, replayed: true, ledger: ledger.kind };
      if (flags.rejected) {
        if (found.rejectedCsv !== undefined) answer.rejectedCsv = found.rejectedCsv;
        else answer.rejectedCsvOmitted = true;
      }
      await request.body.cancel().catch(() => {});
      return json(200, answer);
    }
    if (found.state === "busy") {
      await request.body.cancel().catch(() => {});
      const secs = Math.max(1, Math.ceil((found.retryAfterMs ?? 5000) / 1000));
      return errorResponse(409, "E_CHUNK_BUSY", `chunk ${flags.chunk} of source ${flags.source} is being imported right now; ask again later for its summary`, { retryAfterMs: Math.min(secs, 30) * 1000 }, { "retry-after": String(Math.min(secs, 30)) });
    }
    leaseKey = keyFor(claimed);
  }

  // One shared rate limit: take a slot (each slot paces at CIO_RATE_LIMIT / MAX_PARALLEL_CHUNKS).
  const slotId = crypto.randomUUID();
  let slots = null;
  if (env.SLOTS && !dryRun) {
    slots = env.SLOTS.get(env.SLOTS.idFromName(destination));
    const got = await slots.acquire(slotId, cfg.parallel, 15 * 60_000);
    if (!got.granted) {
      if (leaseKey) await ledger.abort(leaseKey);
      await request.body.cancel().catch(() => {});
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
  const work = runImport(request, cfg, options, flags, base_).then(
    async (r) => {
      await release(r.answer.requests);
      return r;
    },
    async (e) => {
      await release(e?.extra?.summary?.requests);
      throw e;
    },
  );
  // Keep going if the client goes away: the ledger then learns the outcome, and a re-sent chunk replays it.
  ctx?.waitUntil?.(work.catch(() => {}));
  let result;
  try {
    result = await work;
  } catch (e) {
    if (leaseKey) await ledger.abort(leaseKey).catch(() => {});
    throw e;
  }
  const { answer, rejectedCsv, digest: actual } = result;
  if (leaseKey || (ledger && actual)) {
    const ok = answer.complete && (!claimed || actual === null || actual === claimed);
    if (claimed && actual && actual !== claimed) answer.ledgerWarning = "X-Chunk-Sha256 does not match the body: the chunk was not recorded";
    if (ok) {
      const record = { answer };
      if (rejectedCsv !== undefined && rejectedCsv.length <= LEDGER_CSV_MAX) record.rejectedCsv = rejectedCsv;
      await ledger.commit(keyFor(claimed || actual), record);
      answer.ledger = ledger.kind;
    } else if (leaseKey) {
      await ledger.abort(leaseKey);
    }
  }
  if (flags.rejected) answer.rejectedCsv = rejectedCsv ?? "";
  return json(200, answer);
}

function tooLargeMessage(cfg, n) {
  return `the body${n ? ` (${n} bytes)` : ""} is larger than one import may be (${cfg.maxChunkBytes} bytes): split the file into chunks of about ${cfg.chunkBytes} bytes, each with the header row (cio-backfill --via does this)`;
}

async function runImport(request, cfg, options, flags, base_) {
  const state = {};
  const startedAt = Date.now();
  let imp;
  try {
    imp = new Importer({
    ...options,
    api: cfg.api,
    region: cfg.region,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    credentials: Object.fromEntries(Object.entries(cfg.credentials).filter(([, v]) => v)),
    transport: "basic", // Authorization header, and X-Strict-Mode: 1 for Pipelines
    rateLimit: cfg.ratePerChunk,
    concurrency: cfg.concurrency,
    maxAttempts: cfg.maxAttempts,
    });
  } catch (e) {
    throw new RequestError(e?.code === "E_CONFIG" ? 400 : 500, e?.code ?? "E_INTERNAL", String(e?.message ?? e));
  }
  const issues = [];
  const issueCounts = {};
  let rejectedCsv = "";
  const drain = () => {
    for (const i of imp.takeIssues()) {
      issueCounts[i.code] = (issueCounts[i.code] ?? 0) + 1;
      if (issues.length < MAX_ISSUES_IN_ANSWER) {
        if (typeof i.line === "number") i.line += flags.lineOffset;
        if (typeof i.record === "number" && i.record > 0) i.record += flags.recordOffset;
        issues.push(i);
      }
    }
    // Kept for the answer and the ledger's replay; bounded by the chunk's size.
    rejectedCsv += imp.takeRejectedCsv();
  };
  let pendingDrain = false;
  try {
    let summary;
    try {
      const rest = await prime(imp, meter(request.body, cfg.maxChunkBytes, state));
      summary = await imp.run(rest, {
        onProgress() {
          // The importer must not be called back from inside onProgress: drain right after it returns.
          if (!pendingDrain) {
            pendingDrain = true;
            setTimeout(() => {
              pendingDrain = false;
              try {
                drain();
              } catch {}
            }, 0);
          }
        },
      });
    } catch (e) {
      try {
        drain();
      } catch {}
      let partial = e?.summary;
      if (!partial) {
        try {
          partial = imp.summary();
        } catch {}
      }
      const extra = { ...base_, summary: partial ? fileLevel(partial, flags) : undefined, issues, issueCounts };
      if (state.tooLarge) throw new RequestError(413, "E_TOO_LARGE", tooLargeMessage(cfg, 0), { ...extra, maxChunkBytes: cfg.maxChunkBytes, chunkBytes: cfg.chunkBytes });
      switch (e?.code) {
        case "E_AUTH":
          throw new RequestError(502, "E_UPSTREAM_AUTH", `Customer.io refused the Worker's credentials (${e.message}): check the ${cfg.api === "track" ? "CIO_SITE_ID and CIO_TRACK_API_KEY secrets" : "CIO_API_KEY secret"} and CIO_REGION`, extra);
        case "E_CSV":
        case "E_MAPPING":
          throw new RequestError(422, e.code, e.message, extra);
        case "E_CONFIG":
          throw new RequestError(400, "E_CONFIG", e.message, extra);
        default:
          throw new RequestError(500, e?.code ?? "E_INTERNAL", String(e?.message ?? e), extra);
      }
    }
    drain();
    const answer = {
      ...fileLevel(summary, flags),
      ...base_,
      replayed: false,
      complete: !summary.dryRun && summary.failed === 0 && summary.pending === 0,
      bytes: state.bytes,
      issues,
      issueCounts,
    };
    const digest = await state.digest;
    if (digest) answer.sha256 = digest;
    const rewritten = rewriteRejected(rejectedCsv, flags.lineOffset);
    answer.rejectedByCode = rewritten.byCode;
    answer.durationMs = Date.now() - startedAt;
    answer.rowsPerSec = summary.rows / Math.max(answer.durationMs / 1000, 0.001);
    return { answer, rejectedCsv: rewritten.csv, digest };
  } catch (e) {
    if (e instanceof RequestError) throw e;
    // Constructor and option errors.
    throw new RequestError(e?.code === "E_CONFIG" ? 400 : 500, e?.code ?? "E_INTERNAL", String(e?.message ?? e));
  } finally {
    try {
      imp.free();
    } catch {}
  }
}

/**
 * Feed the importer with `push` until its mapping is resolved (or the input ends), then hand the rest of the
 * stream to `run`. Every error the core can raise (binary input, empty file, no identifier or event column)
 * happens before that point, and `push`/`finish` report them as exceptions with a code. (Through `run`, the
 * package's transport panics on them: it reads the summary while the failing call still borrows the core,
 * which leaves the wasm instance unusable for later requests in this isolate. Fixed in the package, this
 * stays harmless.)
 */
async function prime(imp, stream) {
  const reader = stream.getReader();
  for (;;) {
    const info = imp.inspect();
    if (info && (info.mapping || info.mappingError)) break;
    const { done, value } = await reader.read();
    if (done) {
      imp.finish();
      return new ReadableStream({ start: (c) => c.close() });
    }
    imp.push(value);
  }
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Record numbers of the chunk → record numbers of the file. */
function fileLevel(summary, flags) {
  return { ...summary, checkpoint: summary.checkpoint + flags.recordOffset };
}

// ---- routing ----

export default {
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
      if (url.pathname === "/config.json") {
        let api = null;
        let region = null;
        let chunkBytes = DEFAULT_CHUNK_BYTES;
        let maxChunkBytes = DEFAULT_MAX_CHUNK_BYTES;
        let parallel = 4;
        try {
          ({ api, region, chunkBytes, maxChunkBytes, parallel } = readConfig(env, { needCredentials: false }));
        } catch {}
        return json(200, { mode: "worker", endpoint: null, api, region, chunkBytes, maxChunkBytes, maxParallelChunks: parallel, version: version() }, cors);
      }
      if (env.ASSETS) return env.ASSETS.fetch(request);
      return errorResponse(404, "E_NOT_FOUND", "not found");
    } catch (e) {
      if (e instanceof RequestError) {
        return errorResponse(e.status, e.code, e.message, e.extra, { ...cors, ...(e.headers ?? {}) });
      }
      return errorResponse(500, "E_INTERNAL", String(e?.message ?? e), undefined, cors);
    }
  },
};
