// The import itself, shared by `POST /import` and the queue consumer: configuration, the token check, the metered
// body, and one chunk through the package's Importer.

import { Importer } from "../../dist/pkg/workerd.js";
import { RequestError } from "./params.js";
import { rewriteRejected } from "./lines.js";
import { hex, sha256Hex } from "./ledger.js";

/** Largest chunk body accepted by default (MAX_CHUNK_BYTES overrides, up to the platform's 100 MB). */
export const DEFAULT_MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** The chunk size clients are told to use (`/config.json`): half the maximum, so a chunk never gets near it. */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
export const PLATFORM_MAX_BODY = 100 * 1000 * 1000;
/** Attempts per Customer.io request inside one invocation (the package's default is 8). */
export const DEFAULT_MAX_ATTEMPTS = 6;
export const MAX_ISSUES_IN_ANSWER = 100;
/** The ledger keeps a replayable rejected-rows CSV up to this size (Durable Object values are ≤ 128 KiB). */
export const LEDGER_CSV_MAX = 96 * 1024;

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function errorBody(code, message, extra) {
  // a finer reason (E_CSV: record_too_long, too_many_fields) goes with the code
  const { reason, ...rest } = extra ?? {};
  return { error: reason ? { code, message, reason } : { code, message }, ...rest };
}

export function errorResponse(status, code, message, extra, headers) {
  return json(status, errorBody(code, message, extra), headers);
}

export const num = (v, dflt) => {
  if (v === undefined || v === null || String(v).trim() === "") return dflt;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : NaN;
};

/** The Worker's configuration from its variables and secrets; throws E_CONFIG (500) naming what is wrong. */
export function readConfig(env, { needCredentials = true } = {}) {
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

export async function digest(s) {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
}

/** Constant-time comparison: both sides are hashed first, so neither the length nor a prefix leaks. */
export async function tokenMatches(given, expected) {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
  return d === 0;
}

export async function checkToken(request, env) {
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

export function corsHeaders(request, env) {
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

export function meter(body, max, state) {
  state.bytes = 0;
  const digestStream = typeof crypto.DigestStream === "function" ? new crypto.DigestStream("SHA-256") : null;
  const writer = digestStream?.getWriter();
  state.digest = digestStream ? digestStream.digest.then(hex) : Promise.resolve(null);
  state.digest.catch(() => {});
  state.drained = Promise.resolve();
  const reader = body.getReader();
  // A pump rather than pipeThrough: past the limit the importer's stream fails at once, but the rest of the
  // client's upload is still read (and dropped), up to DRAIN_LIMIT more bytes, so that the client finishes
  // sending and reads the 413 instead of seeing its connection reset mid-upload.
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        if (writer) await writer.close();
        controller.close();
        return;
      }
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(value);
      state.bytes += bytes.byteLength;
      if (state.bytes > max) {
        state.tooLarge = true;
        writer?.abort().catch(() => {});
        state.drained = drainRest(reader, DRAIN_LIMIT);
        controller.error(new Error(`the body is larger than ${max} bytes`));
        return;
      }
      if (writer) await writer.write(bytes);
      controller.enqueue(bytes);
    },
    cancel(reason) {
      writer?.abort().catch(() => {});
      return reader.cancel(reason);
    },
  });
}

/** Bytes of a refused upload still read (and dropped) before answering 413; past this the connection is closed. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

async function drainRest(reader, limit) {
  let n = 0;
  try {
    while (n <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      n += value.byteLength;
    }
    await reader.cancel();
  } catch {}
}

export function tooLargeMessage(cfg, n) {
  return `the body${n ? ` (${n} bytes)` : ""} is larger than one import may be (${cfg.maxChunkBytes} bytes): split the file into chunks of about ${cfg.chunkBytes} bytes, each with the header row (cio-backfill --via does this)`;
}

/** Import one CSV `body` (a ReadableStream of bytes). Resolves to { answer, rejectedCsv, digest }; throws RequestError. */
export async function runImport(body, cfg, options, flags, base_) {
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
  let pins;
  try {
    let summary;
    try {
      const rest = await prime(imp, meter(body, cfg.maxChunkBytes, state));
      pins = pinsOf(imp.inspect());
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
      if (state.tooLarge) await state.drained;
      if (state.tooLarge) throw new RequestError(413, "E_TOO_LARGE", tooLargeMessage(cfg, 0), { ...extra, maxChunkBytes: cfg.maxChunkBytes, chunkBytes: cfg.chunkBytes });
      switch (e?.code) {
        case "E_AUTH":
          throw new RequestError(502, "E_UPSTREAM_AUTH", `Customer.io refused the Worker's credentials (${e.message}): check the ${cfg.api === "track" ? "CIO_SITE_ID and CIO_TRACK_API_KEY secrets" : "CIO_API_KEY secret"} and CIO_REGION`, extra);
        case "E_NETWORK":
          throw new RequestError(502, "E_UPSTREAM_NETWORK", `Customer.io did not answer (${e.message}): check CIO_REGION${cfg.endpoint ? " and CIO_ENDPOINT" : ""}; the chunk may be sent again`, extra);
        case "E_CSV":
        case "E_MAPPING":
          throw new RequestError(422, e.code, e.message, e.reason ? { ...extra, reason: e.reason } : extra);
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
    if (pins) answer.pins = pins;
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
export async function prime(imp, stream) {
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

const ENCODING_NAMES = { Utf8: "utf-8", Utf8Bom: "utf-8", Windows1252: "windows-1252", Utf16Le: "utf-16le", Utf16Be: "utf-16be" };

/**
 * What this chunk's importer decided from its first rows, for the later chunks of the same file to decide alike
 * (`importVia` sends them as parameters): { delimiter, encoding, typeHints: { header: type } for the attribute
 * columns whose type was inferred, dateOrder when every slash-date column read one order }. Undefined before
 * the mapping is resolved.
 */
export function pinsOf(info) {
  if (!info?.mapping) return undefined;
  const pins = {};
  if (info.dialect) {
    pins.delimiter = info.dialect.delimiter === 9 ? "tab" : String.fromCharCode(info.dialect.delimiter);
    pins.encoding = ENCODING_NAMES[info.dialect.encoding];
  }
  pins.typeHints = {};
  const orders = new Set();
  for (const c of info.mapping.columns) {
    if (c.role === "attribute" && !c.forcedType) pins.typeHints[c.header] = c.type;
    if (c.detectedFormat?.dateOrder) orders.add(c.detectedFormat.dateOrder);
  }
  if (orders.size === 1) pins.dateOrder = [...orders][0];
  return pins;
}

/** Record numbers of the chunk → record numbers of the file. */
export function fileLevel(summary, flags) {
  return { ...summary, checkpoint: summary.checkpoint + flags.recordOffset };
}


/** A short hash naming where rows go (api, region, endpoint, account): never the keys themselves. */
export async function destinationOf(cfg) {
  const c = cfg.credentials;
  return (await sha256Hex(`${cfg.api}|${cfg.region}|${cfg.endpoint ?? ""}|${c.siteId ?? ""}|${c.apiKey ?? ""}`)).slice(0, 16);
}

/** The ledger key of one chunk: destination · options · source · chunk · the body's SHA-256. */
export async function ledgerKeyFor(destination, options, flags, sha) {
  const optionsKey = (await sha256Hex(JSON.stringify([options, flags.lineOffset, flags.recordOffset]))).slice(0, 16);
  return `v1:${destination}:${flags.source}:${flags.chunk}:${optionsKey}:${sha}`;
}
