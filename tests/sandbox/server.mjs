#!/usr/bin/env node
// A local Customer.io-compatible API server (Track API v2 + Data Pipelines) for tests and the demo.
//
// Written independently of the product's Rust validation (it is the referee): the rules come from
// /work/shared/CUSTOMERIO.md. Plain Node >= 20, no dependencies. Listens on loopback only.
// See tests/sandbox/README.md for the API.

import http from "node:http";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { realpathSync } from "node:fs";

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

export const DEFAULT_CREDENTIALS = Object.freeze({
  siteId: "site_test",
  trackApiKey: "track_key_test",
  pipelinesApiKey: "cdp_key_test",
});

export const DEFAULT_LIMITS = Object.freeze({
  trackBatchBytes: 500_000, // Track /api/v2/batch body must be STRICTLY LESS than this ("< 500 KB")
  trackEntryBytes: 32_000, // each Track entry (and the /api/v2/entity body) must be <= this
  pipelinesBatchBytes: 500_000, // Pipelines /v1/batch body must be <= this
  pipelinesItemBytes: 32_000, // each Pipelines item (and a single-call body) must be <= this
  identifierBytes: 150,
  attributeNameBytes: 150,
  attributeValueBytes: 1000, // JSON-serialized size of one person attribute value
  attributesPerCall: 300,
  eventNameBytes: 100, // after trimming
  eventDataBytes: 100_000, // JSON-serialized size of the event attributes / properties object
  maxBodyBytes: 8_000_000, // hard cap: beyond this the connection is destroyed while reading
  maxJsonDepth: 200,
});

const HOSTS_ALLOWED = new Set(["127.0.0.1", "::1", "localhost"]);
const REQUEST_LOG_CAP = 20_000;

// ---------------------------------------------------------------------------------------------
// A small JSON parser that JSON.parse cannot replace: it remembers (a) the source span of each element
// of arrays at depth 1 (the entries of {"batch":[...]}), to measure each entry's bytes as sent, and
// (b) which objects had a "timestamp" number written with a fraction or exponent (1.0, 1e9), which
// JSON.parse would silently turn into an integer. Strings are delegated to JSON.parse for exactness.
// ---------------------------------------------------------------------------------------------

export class JsonSyntaxError extends Error {}

export function parseJsonDetailed(text, { maxDepth = DEFAULT_LIMITS.maxJsonDepth } = {}) {
  let i = 0;
  const n = text.length;
  const spans = new WeakMap(); // array at depth 1 -> [[start, end], ...] (UTF-16 offsets)
  const nonIntegerTimestamp = new WeakSet(); // objects whose "timestamp" literal was not integer-form
  let lastNumberNonInteger = false;

  const fail = (msg) => {
    throw new JsonSyntaxError(`${msg} at position ${i}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const literal = (word, v) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return v;
    }
    return fail("unexpected token");
  };
  const string = () => {
    const start = i;
    i++;
    let escaped = false;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        if (!escaped) return text.slice(start + 1, i - 1);
        try {
          return JSON.parse(text.slice(start, i));
        } catch {
          i = start;
          return fail("bad string");
        }
      }
      if (c === 92) {
        escaped = true;
        i += 2;
      }
      else if (c < 0x20) return fail("control character in string");
      else i++;
    }
    return fail("unterminated string");
  };
  const NUM = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const number = () => {
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) return fail("bad number");
    i = NUM.lastIndex;
    lastNumberNonInteger = m[1] !== undefined || m[2] !== undefined;
    return Number(m[0]);
  };
  const value = (depth) => {
    ws();
    if (i >= n) return fail("unexpected end of input");
    const c = text[i];
    if (c === "{") return object(depth);
    if (c === "[") return array(depth);
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };
  const object = (depth) => {
    if (depth >= maxDepth) fail("nesting too deep");
    i++;
    const obj = {};
    ws();
    if (text[i] === "}") {
      i++;
      return obj;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') fail("expected a string key");
      const key = string();
      ws();
      if (text[i] !== ":") fail("expected ':'");
      i++;
      const v = value(depth + 1);
      if (key === "timestamp" && typeof v === "number" && lastNumberNonInteger) nonIntegerTimestamp.add(obj);
      if (key === "__proto__") {
        Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true });
      } else {
        obj[key] = v;
      }
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        return obj;
      }
      fail("expected ',' or '}'");
    }
  };
  const array = (depth) => {
    if (depth >= maxDepth) fail("nesting too deep");
    i++;
    const arr = [];
    const sp = depth === 1 ? [] : null;
    ws();
    if (text[i] === "]") {
      i++;
      if (sp) spans.set(arr, sp);
      return arr;
    }
    for (;;) {
      ws();
      const start = i;
      arr.push(value(depth + 1));
      if (sp) sp.push([start, i]);
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        if (sp) spans.set(arr, sp);
        return arr;
      }
      fail("expected ',' or ']'");
    }
  };

  const root = value(0);
  ws();
  if (i < n) fail("unexpected data after the JSON value");
  return { value: root, spans, nonIntegerTimestamp };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true });
const bytes = (s) => Buffer.byteLength(s, "utf8");
const jsonBytes = (v) => bytes(JSON.stringify(v) ?? "null");
const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i; // 26 Crockford base32 chars, first <= 7 (128 bits)
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-](\d{2}):?(\d{2}))$/;

export function isUlid(s) {
  return typeof s === "string" && ULID_RE.test(s);
}

export function isIsoTimestamp(s) {
  if (typeof s !== "string") return false;
  const m = ISO_RE.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, sec = "0"] = m;
  const Y = +y, M = +mo, D = +d;
  if (M < 1 || M > 12 || D < 1) return false;
  const dim = new Date(Date.UTC(Y, M, 0)).getUTCDate();
  if (D > dim) return false;
  if (+h > 23 || +mi > 59 || +sec > 60) return false;
  if (m[9] !== undefined && (+m[9] > 23 || +m[10] > 59)) return false;
  return true;
}

// Deterministic PRNG: a counter hashed with SHA-256 together with the seed (slow-ish, but statistically
// sound and trivially reproducible; a few draws per request cost nothing).
export function makeRng(seed) {
  const prefix = `${String(seed ?? 1)}:`;
  let counter = 0;
  return () => createHash("sha256").update(prefix + counter++).digest().readUInt32BE(0) / 4294967296;
}

function parseBasic(header) {
  if (typeof header !== "string") return null;
  const m = /^\s*Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return null;
  let decoded;
  try {
    decoded = Buffer.from(m[1], "base64").toString("utf8");
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return { user: decoded, pass: "" };
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

const err = (reason, field, message) => ({ reason, field, message });

// ---------------------------------------------------------------------------------------------
// Validation: Track API v2 entries (CUSTOMERIO.md §2 and §4). Returns null or {reason, field, message}.
// ---------------------------------------------------------------------------------------------

function checkIdentifierValue(v, field, L) {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return err("invalid", field, "identifier must be a string or a finite number");
    v = String(v);
  }
  if (typeof v !== "string") return err("invalid_type", field, "identifier must be a string");
  if (v.trim() === "") return err("required", field, "identifier must not be blank");
  if (bytes(v) > L.identifierBytes)
    return err("too_long", field, `identifier is ${bytes(v)} bytes, over the ${L.identifierBytes}-byte limit`);
  return null;
}

function checkAttributeNames(attrs, field, L) {
  for (const k of Object.keys(attrs)) {
    if (k === "") return err("invalid", `${field}`, "attribute name must not be empty");
    if (bytes(k) > L.attributeNameBytes)
      return err("too_long", `${field}.${k}`, `attribute name is ${bytes(k)} bytes, over the ${L.attributeNameBytes}-byte limit`);
  }
  return null;
}

export function validateTrackEntry(entry, { limits: L = DEFAULT_LIMITS, nonIntegerTimestamp, identifierKinds } = {}) {
  const kinds = identifierKinds ?? ["id", "email", "cio_id"];
  if (!isPlainObject(entry)) return err("invalid_type", "", "entry must be a JSON object");
  if (entry.type !== "person")
    return err(entry.type === undefined ? "required" : "invalid", "type", `type must be "person"`);
  const ids = entry.identifiers;
  if (!isPlainObject(ids)) return err(ids === undefined ? "required" : "invalid_type", "identifiers", "identifiers must be an object");
  const present = Object.keys(ids);
  const unknown = present.filter((k) => !kinds.includes(k));
  if (unknown.length) return err("invalid", `identifiers.${unknown[0]}`, `unknown identifier ${JSON.stringify(unknown[0])}; use one of ${kinds.join(", ")}`);
  if (present.length !== 1)
    return err(present.length ? "invalid" : "required", "identifiers", `identifiers must hold exactly one of ${kinds.join(", ")} (got ${present.length})`);
  const kind = present[0];
  const idErr = checkIdentifierValue(ids[kind], `identifiers.${kind}`, L);
  if (idErr) return idErr;
  if (kind === "email" && !String(ids.email).includes("@"))
    return err("invalid", "identifiers.email", "email identifier must contain '@'");

  if (entry.action !== "identify" && entry.action !== "event")
    return err(entry.action === undefined ? "required" : "invalid", "action", `action must be "identify" or "event"`);

  if (hasOwn(entry, "timestamp")) {
    const t = entry.timestamp;
    if (typeof t !== "number" || !Number.isSafeInteger(t) || (nonIntegerTimestamp && nonIntegerTimestamp.has(entry)))
      return err("invalid_type", "timestamp", "timestamp must be an integer (unix seconds)");
    if (t < 0) return err("invalid", "timestamp", "timestamp must not be negative");
  }

  if (hasOwn(entry, "attributes") && entry.attributes !== null && !isPlainObject(entry.attributes))
    return err("invalid_type", "attributes", "attributes must be an object");
  const attrs = entry.attributes ?? {};

  if (entry.action === "event") {
    if (typeof entry.name !== "string") return err(entry.name === undefined ? "required" : "invalid_type", "name", "event name is required");
    const name = entry.name.trim();
    if (name === "") return err("required", "name", "event name must not be blank");
    if (bytes(name) > L.eventNameBytes)
      return err("too_long", "name", `event name is ${bytes(name)} bytes, over the ${L.eventNameBytes}-byte limit`);
    if (hasOwn(entry, "id") && entry.id !== null && !isUlid(entry.id))
      return err("invalid", "id", "event id must be a ULID (26 Crockford base32 characters)");
    const nameErr = checkAttributeNames(attrs, "attributes", L);
    if (nameErr) return nameErr;
    const size = jsonBytes(attrs);
    if (size > L.eventDataBytes)
      return err("too_long", "attributes", `event attributes are ${size} bytes, over the ${L.eventDataBytes}-byte limit`);
  } else {
    const keys = Object.keys(attrs);
    if (keys.length > L.attributesPerCall)
      return err("too_many", "attributes", `${keys.length} attributes, over the limit of ${L.attributesPerCall}`);
    const nameErr = checkAttributeNames(attrs, "attributes", L);
    if (nameErr) return nameErr;
    for (const k of keys) {
      const size = jsonBytes(attrs[k]);
      if (size > L.attributeValueBytes)
        return err("too_long", `attributes.${k}`, `attribute value is ${size} bytes, over the ${L.attributeValueBytes}-byte limit`);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Validation: Data Pipelines items (CUSTOMERIO.md §1, plus the §4 limits Pipelines forwards).
// Returns null or a message string.
// ---------------------------------------------------------------------------------------------

const PIPELINE_TYPES = new Set(["identify", "track", "page", "screen", "group", "alias"]);

function checkPipelinesUser(v, field, L) {
  if (v === undefined || v === null) return null;
  if (typeof v === "number" && Number.isFinite(v)) v = String(v);
  if (typeof v !== "string") return `${field} must be a string`;
  if (v.trim() === "") return `${field} must not be blank`;
  if (bytes(v) > L.identifierBytes) return `${field} is ${bytes(v)} bytes, over the ${L.identifierBytes}-byte limit`;
  return null;
}

export function validatePipelinesItem(item, { limits: L = DEFAULT_LIMITS, applyTrackLimits = true } = {}) {
  if (!isPlainObject(item)) return "item must be a JSON object";
  if (!PIPELINE_TYPES.has(item.type)) return `type must be one of ${[...PIPELINE_TYPES].join(", ")}`;
  for (const f of ["userId", "anonymousId"]) {
    const e = checkPipelinesUser(item[f], f, L);
    if (e) return e;
  }
  const hasUser = (item.userId ?? null) !== null || (item.anonymousId ?? null) !== null;
  if (!hasUser) return "userId or anonymousId is required";
  if (hasOwn(item, "timestamp") && item.timestamp !== null && !isIsoTimestamp(item.timestamp))
    return "timestamp must be an ISO-8601 date-time string with a zone";
  if (hasOwn(item, "messageId") && item.messageId !== null && (typeof item.messageId !== "string" || item.messageId === ""))
    return "messageId must be a non-empty string";
  for (const f of ["traits", "properties", "context"]) {
    if (hasOwn(item, f) && item[f] !== null && !isPlainObject(item[f])) return `${f} must be an object`;
  }
  if (item.type === "track") {
    if (typeof item.event !== "string" || item.event.trim() === "") return "event is required and must not be blank";
    if (applyTrackLimits && bytes(item.event.trim()) > L.eventNameBytes)
      return `event name is ${bytes(item.event.trim())} bytes, over the ${L.eventNameBytes}-byte limit`;
  }
  if (item.type === "group" && (item.groupId ?? null) === null) return "groupId is required for group";
  if (item.type === "alias" && (item.previousId ?? null) === null) return "previousId is required for alias";
  if (applyTrackLimits) {
    const traits = item.traits ?? {};
    const keys = Object.keys(traits);
    if (keys.length > L.attributesPerCall) return `${keys.length} traits, over the limit of ${L.attributesPerCall}`;
    for (const k of keys) {
      if (k === "") return "trait name must not be empty";
      if (bytes(k) > L.attributeNameBytes) return `trait name ${JSON.stringify(k.slice(0, 40))} is over ${L.attributeNameBytes} bytes`;
      const size = jsonBytes(traits[k]);
      if (size > L.attributeValueBytes) return `trait ${JSON.stringify(k)} value is ${size} bytes, over the ${L.attributeValueBytes}-byte limit`;
    }
    const props = item.properties ?? {};
    for (const k of Object.keys(props)) {
      if (bytes(k) > L.attributeNameBytes) return `property name ${JSON.stringify(k.slice(0, 40))} is over ${L.attributeNameBytes} bytes`;
    }
    const psize = jsonBytes(props);
    if (psize > L.eventDataBytes) return `properties are ${psize} bytes, over the ${L.eventDataBytes}-byte limit`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

function freshStore() {
  return {
    requests: 0,
    preflights: 0,
    byStatus: {},
    largestBody: 0,
    maxConcurrent: 0,
    maxPerSecond: 0,
    maxPer3Seconds: 0,
    inFlight: 0,
    arrivals: [], // ms timestamps of API requests within the last 3 seconds
    faultsInjected: { errors: 0, rateLimited: 0, rateLimitExceeded: 0, dropped: 0, slowed: 0 },
    requestLog: [],
    track: {
      people: new Map(), // "kind:value" -> { identifiers, attributes, updatedAt, firstSeenAt }
      events: [], // stored events, in arrival order
      eventIds: new Set(),
      duplicateEvents: 0,
      acceptedEntries: 0,
      rejectedEntries: 0,
      rejectedRequests: 0,
      outOfOrderDropped: 0,
      unauthorized: 0,
    },
    pipelines: {
      people: new Map(), // userId (or "anon:" + anonymousId) -> { userId, anonymousId, traits, timestamp }
      events: [],
      messageIds: new Set(),
      other: [],
      duplicateMessages: 0,
      acceptedItems: 0,
      droppedSilently: 0,
      rejectedBatches: 0,
      unauthorized: 0,
    },
  };
}

function normaliseFaults(f) {
  const o = isPlainObject(f) ? f : {};
  const num = (v, d) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  const lat = Array.isArray(o.latencyMs) ? o.latencyMs : typeof o.latencyMs === "number" ? [o.latencyMs, o.latencyMs] : null;
  return {
    seed: o.seed ?? 1,
    errorRate: Math.min(1, Math.max(0, num(o.errorRate, 0))),
    rateLimitEvery: Math.max(0, Math.floor(num(o.rateLimitEvery, 0))),
    retryAfter: o.retryAfter === "date" ? "date" : Math.max(0, num(o.retryAfter, 1)),
    retryAfterSeconds: Math.max(0, num(o.retryAfterSeconds, 1)), // used when retryAfter is "date"
    dropRate: Math.min(1, Math.max(0, num(o.dropRate, 0))),
    latencyMs: lat ? [Math.max(0, num(lat[0], 0)), Math.max(0, num(lat[1] ?? lat[0], 0))] : null,
    slowRate: o.slowRate === undefined ? (lat ? 1 : 0) : Math.min(1, Math.max(0, num(o.slowRate, 0))),
    // Forced outcomes for the next API requests, in order: a status (429, 500, 503, ...), "drop", or "ok".
    sequence: Array.isArray(o.sequence) ? o.sequence.slice() : [],
    only: o.only === "track" || o.only === "pipelines" ? o.only : null,
    // Enforce a real rate: a request arriving when more than this many arrived in the last second gets 429.
    rateLimitPerSecond: Math.max(0, Math.floor(num(o.rateLimitPerSecond, 0))),
  };
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/**
 * Start the sandbox.
 * @param {object} [options]
 * @param {number} [options.port=0]  0 = any free port
 * @param {string} [options.host="127.0.0.1"]  loopback only ("127.0.0.1", "::1", "localhost")
 * @param {string} [options.siteId="site_test"]
 * @param {string} [options.trackApiKey="track_key_test"]
 * @param {string} [options.pipelinesApiKey="cdp_key_test"]
 * @param {object} [options.faults]  { seed, errorRate, rateLimitEvery, retryAfter, retryAfterSeconds, dropRate, latencyMs, slowRate, sequence, only }
 * @param {boolean} [options.refusePreflight=false]
 * @param {object} [options.limits]  overrides of DEFAULT_LIMITS
 * @param {boolean} [options.pipelinesApplyTrackLimits=true]
 * @param {number} [options.pipelinesNonStrictBadKeyStatus=200]  what a bad key gets without X-Strict-Mode
 * @param {string[]} [options.identifierKinds=["id","email","cio_id"]]
 * @param {() => number} [options.now=Date.now]  clock (ms) for identifies without a timestamp
 * @param {(line: string) => void} [options.log]  request log lines (never credentials); default: silent
 */
export async function startSandbox(options = {}) {
  const host = options.host ?? "127.0.0.1";
  if (!HOSTS_ALLOWED.has(host)) throw new Error(`sandbox: refusing to listen on ${host}; loopback only`);
  const cfg = {
    siteId: options.siteId ?? DEFAULT_CREDENTIALS.siteId,
    trackApiKey: options.trackApiKey ?? DEFAULT_CREDENTIALS.trackApiKey,
    pipelinesApiKey: options.pipelinesApiKey ?? DEFAULT_CREDENTIALS.pipelinesApiKey,
    refusePreflight: !!options.refusePreflight,
    limits: { ...DEFAULT_LIMITS, ...(options.limits ?? {}) },
    pipelinesApplyTrackLimits: options.pipelinesApplyTrackLimits ?? true,
    pipelinesNonStrictBadKeyStatus: options.pipelinesNonStrictBadKeyStatus ?? 200,
    identifierKinds: options.identifierKinds ?? ["id", "email", "cio_id"],
    now: options.now ?? Date.now,
    log: typeof options.log === "function" ? options.log : null,
  };
  let store = freshStore();
  let faults = normaliseFaults(options.faults);
  let rng = makeRng(faults.seed);
  let apiRequestNo = 0; // counts API requests since the faults were last set, for rateLimitEvery

  const setFaults = (f) => {
    faults = normaliseFaults(f);
    rng = makeRng(faults.seed);
    apiRequestNo = 0;
    return faults;
  };

  // ---- response helpers ----
  const corsHeaders = (req) => ({
    "Access-Control-Allow-Origin": req.headers.origin || "*",
    "Access-Control-Expose-Headers": "Retry-After",
    Vary: "Origin",
  });
  const send = (req, res, status, body, extra = {}) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      ...corsHeaders(req),
      ...extra,
    });
    res.end(text);
    return status;
  };

  // ---- Track ----
  const trackAuthOk = (req) => {
    const b = parseBasic(req.headers.authorization);
    return !!b && b.user === cfg.siteId && b.pass === cfg.trackApiKey;
  };

  const applyTrackEntry = (e) => {
    const T = store.track;
    const kind = Object.keys(e.identifiers)[0];
    const value = String(e.identifiers[kind]);
    const key = `${kind}:${value}`;
    const ts = hasOwn(e, "timestamp") ? e.timestamp : Math.floor(cfg.now() / 1000);
    if (e.action === "identify") {
      const p = T.people.get(key);
      if (!p) {
        T.people.set(key, { identifiers: { [kind]: e.identifiers[kind] }, attributes: { ...(e.attributes ?? {}) }, updatedAt: ts });
      } else if (ts < p.updatedAt) {
        T.outOfOrderDropped++;
      } else {
        Object.assign(p.attributes, e.attributes ?? {});
        p.updatedAt = ts;
      }
    } else {
      const id = typeof e.id === "string" ? e.id.toUpperCase() : null;
      if (id !== null && T.eventIds.has(id)) {
        T.duplicateEvents++;
        return;
      }
      if (id !== null) T.eventIds.add(id);
      T.events.push({
        id: e.id ?? null,
        identifiers: { [kind]: e.identifiers[kind] },
        identifier: value,
        identifierKind: kind,
        name: e.name,
        timestamp: hasOwn(e, "timestamp") ? e.timestamp : null,
        receivedTimestamp: ts,
        attributes: e.attributes ?? {},
      });
    }
  };

  const handleTrack = (req, res, path, raw) => {
    const T = store.track;
    if (!trackAuthOk(req)) {
      T.unauthorized++;
      return send(req, res, 401, { meta: { error: "unauthorized" } });
    }
    if (path === "/api/v1/accounts/region") {
      return send(req, res, 200, { url: "https://track.customer.io", data_center: "us", environment_id: 1 });
    }
    const L = cfg.limits;
    const isBatch = path === "/api/v2/batch";
    if (isBatch ? raw.length >= L.trackBatchBytes : raw.length > L.trackEntryBytes) {
      T.rejectedRequests++;
      return send(req, res, 413, {
        meta: { error: `request body is ${raw.length} bytes; the limit is ${isBatch ? `< ${L.trackBatchBytes}` : `<= ${L.trackEntryBytes}`}` },
      });
    }
    let parsed;
    let src;
    try {
      src = utf8.decode(raw);
      parsed = parseJsonDetailed(src, { maxDepth: L.maxJsonDepth });
    } catch (e) {
      T.rejectedRequests++;
      return send(req, res, 400, { meta: { error: `malformed JSON: ${e.message}` } });
    }
    const { value, spans, nonIntegerTimestamp } = parsed;
    const vopts = { limits: L, nonIntegerTimestamp, identifierKinds: cfg.identifierKinds };
    if (!isBatch) {
      const e = validateTrackEntry(value, vopts);
      if (e) {
        T.rejectedEntries++;
        return send(req, res, 400, { errors: [e] });
      }
      T.acceptedEntries++;
      applyTrackEntry(value);
      return send(req, res, 200, {});
    }
    if (!isPlainObject(value) || !Array.isArray(value.batch)) {
      T.rejectedRequests++;
      return send(req, res, 400, { meta: { error: 'body must be {"batch":[...]}' } });
    }
    const sp = spans.get(value.batch) ?? [];
    const errors = [];
    value.batch.forEach((entry, idx) => {
      const [s, en] = sp[idx] ?? [0, 0];
      // UTF-8 needs at most 3 bytes per UTF-16 unit: measure exactly only when it could matter.
      const size = (en - s) * 3 <= L.trackEntryBytes ? en - s : bytes(src.slice(s, en));
      let e = null;
      if (size > L.trackEntryBytes) e = err("too_large", "", `entry is ${size} bytes, over the ${L.trackEntryBytes}-byte limit`);
      else e = validateTrackEntry(entry, vopts);
      if (e) {
        errors.push({ batch_index: idx, ...e });
        T.rejectedEntries++;
      } else {
        T.acceptedEntries++;
        applyTrackEntry(entry);
      }
    });
    if (errors.length) return send(req, res, 207, { errors });
    return send(req, res, 200, {});
  };

  // ---- Pipelines ----
  const SINGLE = { identify: "identify", i: "identify", track: "track", t: "track", page: "page", p: "page", screen: "screen", s: "screen", group: "group", g: "group", alias: "alias", a: "alias" };

  const applyPipelinesItem = (it) => {
    const P = store.pipelines;
    const mid = typeof it.messageId === "string" ? it.messageId : null;
    const dup = mid !== null && P.messageIds.has(mid);
    if (mid !== null) P.messageIds.add(mid);
    if (dup) P.duplicateMessages++;
    const userId = it.userId ?? null;
    const anonymousId = it.anonymousId ?? null;
    if (it.type === "identify") {
      const key = userId !== null ? `user:${userId}` : `anon:${anonymousId}`;
      const p = P.people.get(key);
      if (!p) P.people.set(key, { userId, anonymousId, traits: { ...(it.traits ?? {}) }, timestamp: it.timestamp ?? null, messageIds: mid ? [mid] : [] });
      else {
        Object.assign(p.traits, it.traits ?? {});
        if (it.timestamp) p.timestamp = it.timestamp;
        if (anonymousId !== null && p.anonymousId === null) p.anonymousId = anonymousId;
        if (mid && !dup) p.messageIds.push(mid);
      }
    } else if (it.type === "track") {
      if (dup) return;
      P.events.push({
        messageId: mid,
        userId,
        anonymousId,
        identifier: String(userId ?? anonymousId),
        name: it.event,
        event: it.event,
        timestamp: it.timestamp ?? null,
        properties: it.properties ?? {},
      });
    } else {
      if (dup) return;
      P.other.push(it);
    }
  };

  const handlePipelines = (req, res, path, raw) => {
    const P = store.pipelines;
    const L = cfg.limits;
    const strict = /^(1|true|yes)$/i.test(String(req.headers["x-strict-mode"] ?? "").trim());
    const seg = path.slice("/v1/".length);
    const isBatch = seg === "batch" || seg === "b";
    const singleType = SINGLE[seg];
    const strictFail = (status, messages) => {
      P.rejectedBatches++;
      return send(req, res, status, { meta: { errors: messages } });
    };

    // Parse first: the browser path carries the key in the body.
    let parsed = null;
    let parseError = null;
    let src = "";
    try {
      src = utf8.decode(raw);
      parsed = parseJsonDetailed(src, { maxDepth: L.maxJsonDepth });
    } catch (e) {
      parseError = e;
    }
    const body = parsed?.value;
    const header = parseBasic(req.headers.authorization);
    let keyOk = !!header && header.user === cfg.pipelinesApiKey;
    if (!keyOk && isPlainObject(body)) {
      if (body.writeKey === cfg.pipelinesApiKey) keyOk = true;
      else if (body.writeKey === undefined && Array.isArray(body.batch) && body.batch.length && body.batch.every((it) => isPlainObject(it) && it.writeKey === cfg.pipelinesApiKey)) keyOk = true;
    }
    const itemCount = Array.isArray(body?.batch) ? body.batch.length : isPlainObject(body) && !isBatch ? 1 : 0;
    if (!keyOk) {
      P.unauthorized++;
      if (strict || cfg.pipelinesNonStrictBadKeyStatus === 401) return send(req, res, 401, { meta: { error: "unauthorized" } });
      P.droppedSilently += itemCount;
      return send(req, res, cfg.pipelinesNonStrictBadKeyStatus, {});
    }
    if (parseError) {
      P.rejectedBatches++;
      return send(req, res, 400, { meta: { errors: [`malformed JSON: ${parseError.message}`] } });
    }
    const bodyLimit = isBatch ? L.pipelinesBatchBytes : L.pipelinesItemBytes;
    if (raw.length > bodyLimit) {
      if (strict) return strictFail(400, [`request body is ${raw.length} bytes, over the ${bodyLimit}-byte limit`]);
      P.droppedSilently += itemCount;
      return send(req, res, 200, {});
    }
    let items;
    let sizes;
    if (isBatch) {
      if (!isPlainObject(body) || !Array.isArray(body.batch)) {
        if (strict) return strictFail(400, ['body must be {"batch":[...]}']);
        P.droppedSilently += 1;
        return send(req, res, 200, {});
      }
      items = body.batch;
      const sp = parsed.spans.get(items) ?? [];
      sizes = items.map((_, k) => {
        if (!sp[k]) return 0;
        const [a, z] = sp[k];
        return (z - a) * 3 <= L.pipelinesItemBytes ? z - a : bytes(src.slice(a, z));
      });
    } else {
      if (!isPlainObject(body)) {
        if (strict) return strictFail(400, ["body must be a JSON object"]);
        P.droppedSilently += 1;
        return send(req, res, 200, {});
      }
      const it = { ...body };
      delete it.writeKey;
      if (it.type === undefined) it.type = singleType;
      items = [it];
      sizes = [raw.length];
    }
    const problems = [];
    const good = [];
    items.forEach((it, k) => {
      let e = null;
      if (sizes[k] > L.pipelinesItemBytes) e = `item is ${sizes[k]} bytes, over the ${L.pipelinesItemBytes}-byte limit`;
      else if (!isBatch && isPlainObject(it) && it.type !== singleType) e = `type ${JSON.stringify(it.type)} does not match the endpoint /v1/${seg}`;
      else e = validatePipelinesItem(it, { limits: L, applyTrackLimits: cfg.pipelinesApplyTrackLimits });
      if (e) problems.push(isBatch ? `item ${k}: ${e}` : e);
      else good.push(it);
    });
    if (problems.length && strict) return strictFail(400, problems);
    P.droppedSilently += problems.length;
    for (const it of good) {
      const clean = isPlainObject(it) && hasOwn(it, "writeKey") ? (({ writeKey, ...rest }) => rest)(it) : it;
      P.acceptedItems++;
      applyPipelinesItem(clean);
    }
    return send(req, res, 200, {});
  };

  // ---- sandbox control ----
  const summary = () => ({
    requests: store.requests,
    preflights: store.preflights,
    byStatus: { ...store.byStatus },
    largestBody: store.largestBody,
    maxConcurrent: store.maxConcurrent,
    maxPerSecond: store.maxPerSecond,
    maxPer3Seconds: store.maxPer3Seconds,
    faultsInjected: { ...store.faultsInjected },
    track: {
      people: store.track.people.size,
      events: store.track.events.length,
      duplicateEvents: store.track.duplicateEvents,
      acceptedEntries: store.track.acceptedEntries,
      rejectedEntries: store.track.rejectedEntries,
      rejectedRequests: store.track.rejectedRequests,
      outOfOrderDropped: store.track.outOfOrderDropped,
      unauthorized: store.track.unauthorized,
    },
    pipelines: {
      people: store.pipelines.people.size,
      events: store.pipelines.events.length,
      other: store.pipelines.other.length,
      duplicateMessages: store.pipelines.duplicateMessages,
      acceptedItems: store.pipelines.acceptedItems,
      droppedSilently: store.pipelines.droppedSilently,
      rejectedBatches: store.pipelines.rejectedBatches,
      unauthorized: store.pipelines.unauthorized,
    },
  });
  const people = (api) =>
    api === "pipelines"
      ? [...store.pipelines.people.values()].map((p) => structuredClone(p))
      : [...store.track.people.values()].map((p) => structuredClone(p));
  const events = (api) => structuredClone(api === "pipelines" ? store.pipelines.events : store.track.events);

  const handleControl = (req, res, url, raw) => {
    const p = url.pathname;
    const api = url.searchParams.get("api") === "pipelines" ? "pipelines" : "track";
    if (req.method === "GET" && p === "/__sandbox/summary") return send(req, res, 200, summary());
    if (req.method === "GET" && p === "/__sandbox/people") return send(req, res, 200, people(api));
    if (req.method === "GET" && p === "/__sandbox/events") return send(req, res, 200, events(api));
    if (req.method === "GET" && p === "/__sandbox/other") return send(req, res, 200, structuredClone(store.pipelines.other));
    if (req.method === "GET" && p === "/__sandbox/requests") return send(req, res, 200, store.requestLog);
    if (req.method === "GET" && p === "/__sandbox/faults") return send(req, res, 200, faults);
    if (req.method === "GET" && p === "/__sandbox/health") return send(req, res, 200, { ok: true });
    if (req.method === "POST" && p === "/__sandbox/reset") {
      store = freshStore();
      setFaults(options.faults);
      return send(req, res, 200, { ok: true });
    }
    if (req.method === "POST" && p === "/__sandbox/faults") {
      let f;
      try {
        f = raw.length ? JSON.parse(utf8.decode(raw)) : {};
      } catch {
        return send(req, res, 400, { meta: { error: "faults must be JSON" } });
      }
      return send(req, res, 200, setFaults(f));
    }
    return send(req, res, 404, { meta: { error: "not found" } });
  };

  // ---- fault decision for one API request (deterministic for a seed and an arrival order) ----
  const decideFault = (api, inLastSecond) => {
    if (faults.only && faults.only !== api) return { kind: "none", delay: 0 };
    if (faults.rateLimitPerSecond > 0 && inLastSecond > faults.rateLimitPerSecond) return { kind: "429", delay: 0, exceeded: true };
    apiRequestNo++;
    // Always draw the same number of random values per request, so outcomes depend only on the order.
    const rErr = rng(), rKind = rng(), rDrop = rng(), rSlow = rng(), rLat = rng();
    let delay = 0;
    if (faults.latencyMs && rSlow < faults.slowRate) {
      const [a, b] = faults.latencyMs;
      delay = Math.round(a + (Math.max(a, b) - a) * rLat);
    }
    if (faults.sequence.length) {
      const s = faults.sequence.shift();
      if (s === "drop") return { kind: "drop", delay };
      if (s === 429) return { kind: "429", delay };
      if (typeof s === "number" && s >= 400) return { kind: "status", status: s, delay };
      return { kind: "none", delay };
    }
    if (faults.rateLimitEvery > 0 && apiRequestNo % faults.rateLimitEvery === 0) return { kind: "429", delay };
    if (rErr < faults.errorRate) return { kind: "status", status: rKind < 0.5 ? 500 : 503, delay };
    if (rDrop < faults.dropRate) return { kind: "drop", delay };
    return { kind: "none", delay };
  };

  const retryAfterHeader = () => {
    if (faults.retryAfter === "date") return new Date(cfg.now() + Math.ceil(faults.retryAfterSeconds) * 1000 + 999).toUTCString();
    return String(Math.ceil(faults.retryAfter));
  };

  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      req.on("data", (c) => {
        size += c.length;
        if (size > cfg.limits.maxBodyBytes) {
          reject(new Error("body over the hard cap"));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });

  const server = http.createServer(async (req, res) => {
    let url;
    try {
      url = new URL(req.url, "http://sandbox.invalid");
    } catch {
      return send(req, res, 400, { meta: { error: "bad url" } });
    }
    const path = url.pathname;

    if (req.method === "OPTIONS") {
      store.preflights++;
      req.resume();
      if (cfg.refusePreflight) {
        res.writeHead(403, { "Content-Length": 0 });
        return res.end();
      }
      res.writeHead(204, {
        ...corsHeaders(req),
        "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Strict-Mode",
        "Access-Control-Max-Age": "600",
        "Content-Length": 0,
      });
      return res.end();
    }

    if (req.method === "GET" && path === "/") {
      req.resume();
      return send(req, res, 200, {
        name: "cio-backfill Customer.io sandbox",
        track: ["POST /api/v2/batch", "POST /api/v2/entity", "GET /api/v1/accounts/region"],
        pipelines: ["POST /v1/batch", "POST /v1/b", "POST /v1/identify|i", "POST /v1/track|t", "POST /v1/page|p", "POST /v1/screen|s", "POST /v1/group|g", "POST /v1/alias|a"],
        control: ["GET /__sandbox/summary", "GET /__sandbox/people?api=track|pipelines", "GET /__sandbox/events?api=track|pipelines", "GET /__sandbox/other", "GET /__sandbox/requests", "GET|POST /__sandbox/faults", "POST /__sandbox/reset", "GET /__sandbox/health"],
      });
    }

    if (path.startsWith("/__sandbox/")) {
      let raw;
      try {
        raw = await readBody(req);
      } catch {
        return;
      }
      return handleControl(req, res, url, raw);
    }

    const api = path.startsWith("/api/") ? "track" : path.startsWith("/v1/") ? "pipelines" : null;
    const known =
      api === "track"
        ? (req.method === "POST" && (path === "/api/v2/batch" || path === "/api/v2/entity")) || (req.method === "GET" && path === "/api/v1/accounts/region")
        : api === "pipelines"
          ? req.method === "POST" && (path === "/v1/batch" || path === "/v1/b" || hasOwn(SINGLE, path.slice(4)))
          : false;
    if (!known) {
      req.resume();
      return send(req, res, api && req.method !== "POST" && req.method !== "GET" ? 405 : 404, { meta: { error: "not found" } });
    }

    // ---- an API request: count it ----
    const started = cfg.now();
    store.requests++;
    store.inFlight++;
    store.maxConcurrent = Math.max(store.maxConcurrent, store.inFlight);
    const arrivalClock = Date.now();
    store.arrivals.push(arrivalClock);
    while (store.arrivals.length && store.arrivals[0] <= arrivalClock - 3000) store.arrivals.shift();
    let inLastSecond = 0;
    for (let k = store.arrivals.length - 1; k >= 0 && store.arrivals[k] > arrivalClock - 1000; k--) inLastSecond++;
    store.maxPerSecond = Math.max(store.maxPerSecond, inLastSecond);
    store.maxPer3Seconds = Math.max(store.maxPer3Seconds, store.arrivals.length);
    const storeAtStart = store;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      storeAtStart.inFlight--;
    };
    res.on("close", finish);
    const fault = decideFault(api, inLastSecond);
    const logEntry = { n: storeAtStart.requests, method: req.method, path, bytes: 0, status: 0, fault: fault.kind === "none" ? null : fault.kind, at: started };
    const record = (status) => {
      const key = String(status);
      storeAtStart.byStatus[key] = (storeAtStart.byStatus[key] ?? 0) + 1;
      logEntry.status = status;
      logEntry.ms = cfg.now() - started;
      if (storeAtStart.requestLog.length < REQUEST_LOG_CAP) storeAtStart.requestLog.push(logEntry);
      if (cfg.log) cfg.log(`${req.method} ${path} ${logEntry.bytes}B -> ${status}${logEntry.fault ? ` (${logEntry.fault})` : ""}`);
    };

    let raw;
    try {
      raw = await readBody(req);
    } catch {
      record("aborted");
      return;
    }
    logEntry.bytes = raw.length;
    storeAtStart.largestBody = Math.max(storeAtStart.largestBody, raw.length);
    if (fault.delay > 0) {
      storeAtStart.faultsInjected.slowed++;
      await new Promise((r) => setTimeout(r, fault.delay));
    }
    if (fault.kind === "429") {
      if (fault.exceeded) storeAtStart.faultsInjected.rateLimitExceeded++;
      else storeAtStart.faultsInjected.rateLimited++;
      return record(send(req, res, 429, { meta: { error: "rate limited" } }, { "Retry-After": retryAfterHeader() }));
    }
    if (fault.kind === "status") {
      storeAtStart.faultsInjected.errors++;
      return record(send(req, res, fault.status, { meta: { error: "injected server error" } }));
    }
    if (fault.kind === "drop") {
      // Process and store, then destroy the connection without answering: the client sees a network error.
      const fake = {
        writeHead() {},
        end() {},
      };
      try {
        if (api === "track") handleTrack(req, fake, path, raw);
        else handlePipelines(req, fake, path, raw);
      } catch {
        /* ignore */
      }
      storeAtStart.faultsInjected.dropped++;
      record("dropped");
      req.socket.destroy();
      return;
    }
    try {
      const status = api === "track" ? handleTrack(req, res, path, raw) : handlePipelines(req, res, path, raw);
      record(status);
    } catch (e) {
      record(send(req, res, 500, { meta: { error: `sandbox bug: ${e && e.message}` } }));
    }
  });
  server.keepAliveTimeout = 5000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host === "localhost" ? "127.0.0.1" : host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = server.address().port;
  const urlHost = host === "::1" ? "[::1]" : "127.0.0.1";
  const url = `http://${urlHost}:${port}`;

  const state = {
    summary,
    people,
    events,
    other: () => structuredClone(store.pipelines.other),
    requestLog: () => store.requestLog.slice(),
    reset: () => {
      store = freshStore();
      setFaults(options.faults);
    },
    setFaults,
    get faults() {
      return faults;
    },
    get config() {
      const { log, now, ...rest } = cfg;
      void log;
      void now;
      return { ...rest, trackApiKey: "(hidden)", pipelinesApiKey: "(hidden)" };
    },
  };

  let closed = null;
  const close = () => {
    if (!closed) {
      closed = new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    return closed;
  };

  return { url, port, close, state };
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = {};
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const val = () => (inline !== undefined ? inline : argv[++k]);
    switch (flag) {
      case "--port": opts.port = Number(val()); break;
      case "--host": opts.host = val(); break;
      case "--faults": opts.faults = JSON.parse(val()); break;
      case "--limits": opts.limits = JSON.parse(val()); break;
      case "--refuse-preflight": opts.refusePreflight = true; break;
      case "--site-id": opts.siteId = val(); break;
      case "--track-key": opts.trackApiKey = val(); break;
      case "--cdp-key": opts.pipelinesApiKey = val(); break;
      case "--log": opts.log = (line) => process.stderr.write(`sandbox: ${line}\n`); break;
      case "--print-url": break; // the URL line is always printed
      case "--help": case "-h":
        process.stdout.write(
          "usage: node tests/sandbox/server.mjs [--port 0] [--host 127.0.0.1] [--faults JSON] [--limits JSON]\n" +
          "       [--refuse-preflight] [--site-id ID] [--track-key KEY] [--cdp-key KEY] [--log] [--print-url]\n" +
          "prints SANDBOX_URL=http://127.0.0.1:PORT once listening; stops on SIGTERM/SIGINT\n");
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return opts;
}

let isMain = false;
try {
  isMain = !!process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
} catch {
  isMain = false;
}
if (isMain) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sandbox: ${e.message}\n`);
    process.exit(2);
  }
  try {
    const sb = await startSandbox(opts);
    process.stdout.write(`SANDBOX_URL=${sb.url}\n`);
    const stop = () => sb.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  } catch (e) {
    process.stderr.write(`sandbox: ${e.message}\n`);
    process.exit(1);
  }
}
