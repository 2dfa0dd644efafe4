#!/usr/bin/env node
// cio-backfill: the command line. Streams a CSV file through the wasm importer into Customer.io (Track API v2 or
// Data Pipelines). No dependencies: node:util parseArgs, node:fs, node:crypto.
//
// Exit codes: 0 every row sent (dry run: every row valid); 1 some rows rejected, refused by the API or failed
// (also when interrupted); 2 usage, configuration, file, resume-state, CSV, mapping or authentication error.

import { parseArgs } from "node:util";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { Readable } from "node:stream";
import { importVia } from "../via.mjs";
import { applyColumnSpec } from "../columns.mjs";
import { threadFetch } from "../fetch-thread.mjs";

const PROG = "cio-backfill";
const EXIT_OK = 0;
const EXIT_ROWS = 1;
const EXIT_USAGE = 2;
const CHUNK = 256 * 1024;
const STATE_EVERY_MS = 250;
const PROGRESS_EVERY_MS = 200;
const HEAD_BYTES = 64 * 1024;
/** Rejected rows held back (to keep the rejected CSV in file order for --resume) before they are written anyway. */
const MAX_HELD_BYTES = 32 * 1024 * 1024;
const STATE_VERSION = 1;

/** The wasm core, compiled when a command first needs it: an import starts its http thread first, so that the
 * thread boots while the module compiles and the file is sampled. */
let coreModule;
const core = () => (coreModule ??= import("../node.js"));

const usage = (version) => `${PROG} ${version}: stream a CSV file into Customer.io (Track API v2 or Data Pipelines).

usage:
  ${PROG} import FILE --kind people|events --api track|pipelines [options]
  ${PROG} --help | --version

where it goes:
  --kind people|events        one identify per row, or one event per row
  --api track|pipelines       Track API v2 (/api/v2/batch) or Data Pipelines (/v1/batch)
  --region us|eu              default us
  --endpoint ORIGIN           replace Customer.io's origin (e.g. http://127.0.0.1:8080); the API's paths are kept
  --site-id ID, --api-key KEY credentials; better from the environment: CIO_SITE_ID + CIO_TRACK_API_KEY (track)
                              or CIO_API_KEY (pipelines). They are never printed or written to any file.

mapping (auto-matched from the headers when not given):
  --id-column C | --email-column C | --cio-id-column C       the person's identifier (exactly one is used)
  --event-column C | --event-name NAME                        events: a column, or one name for every row
  --timestamp-column C        when the row happened
  --event-id-column C         events: your own event id (makes event ids stable across edits)
  --column NAME=TYPE          TYPE: auto|string|integer|float|boolean|date, or attribute|ignore (repeatable)
  --empty-as-null             send empty cells as null (default: leave them out)
  --default-zone ZONE         for timestamps without a zone: UTC, +02:00, Europe/Berlin
  --date-order dayFirst|monthFirst
  --mapping FILE.json         a mapping object as in the JS API (flags above override it)
  --skip-campaign-window      reject (code "skipped") rows inside the 72-hour campaign window
  --delimiter X, --encoding E force the dialect (default: sniffed)

running:
  --dry-run                   send nothing; write the payloads as NDJSON to stdout (or --payloads FILE)
  --payloads FILE             write the payload items as NDJSON to FILE
  --rejected FILE.csv         rows not sent (original columns + line, code, reason);
                              default FILE.rejected.csv next to the input, created only if a row is rejected
  --summary FILE.json         write the summary as JSON
  --json                      also print the JSON summary to stdout (not with a dry run to stdout)
  --resume STATE.json         save progress to STATE.json; if it exists, go on after its checkpoint
  --rate N                    requests per second (default 100 track, 1000 pipelines)
  --concurrency N             requests in flight (default 4)
  --batch-bytes N             largest request body (1000..500000)
  --max-attempts N            attempts per request, retries included (default 8)
  --quiet                     no progress line, no human summary

through a Cloudflare Worker (worker/: it holds the Customer.io keys; the file goes as self-contained chunks):
  --via URL                   the Worker's origin; --api, --region and credentials are then the Worker's
  --token T                   its import token (better: CIO_IMPORT_TOKEN in the environment)
  --chunk-bytes N             chunk size (default: what the Worker's /config.json says, else 4 MiB)

exit codes: 0 every row sent; 1 some rows rejected or failed (or interrupted); 2 usage, configuration or auth error.
`;

class CliError extends Error {
  constructor(code, message, hint, exit = EXIT_USAGE) {
    super(message);
    this.code = code;
    this.hint = hint;
    this.exit = exit;
  }
}

function fail(code, message, hint) {
  throw new CliError(code, message, hint);
}

function lowerFirst(s) {
  return s.length ? s[0].toLowerCase() + s.slice(1) : s;
}

function printError(code, message, hint) {
  process.stderr.write(`${PROG}: error: ${lowerFirst(message)} [${code}]\n`);
  if (hint) process.stderr.write(`${PROG}: hint: ${hint}\n`);
}

const OPTIONS = {
  kind: { type: "string" },
  api: { type: "string" },
  region: { type: "string" },
  endpoint: { type: "string" },
  "site-id": { type: "string" },
  "api-key": { type: "string" },
  "id-column": { type: "string" },
  "email-column": { type: "string" },
  "cio-id-column": { type: "string" },
  "event-column": { type: "string" },
  "event-name": { type: "string" },
  "timestamp-column": { type: "string" },
  "event-id-column": { type: "string" },
  column: { type: "string", multiple: true },
  "empty-as-null": { type: "boolean" },
  "default-zone": { type: "string" },
  "date-order": { type: "string" },
  mapping: { type: "string" },
  "skip-campaign-window": { type: "boolean" },
  delimiter: { type: "string" },
  encoding: { type: "string" },
  "dry-run": { type: "boolean" },
  payloads: { type: "string" },
  rejected: { type: "string" },
  summary: { type: "string" },
  json: { type: "boolean" },
  resume: { type: "string" },
  rate: { type: "string" },
  concurrency: { type: "string" },
  "batch-bytes": { type: "string" },
  "max-attempts": { type: "string" },
  seed: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  via: { type: "string" },
  token: { type: "string" },
  "chunk-bytes": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
};

function parse(argv) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    const m = /^(Unknown option '[^']*'|Option '[^']*' argument missing|Option '[^']*[^.]*)/.exec(e.message);
    fail("E_USAGE", (m ? m[1] : e.message.split(". ")[0]).replace(/\.$/, ""), `see \`${PROG} --help\``);
  }
}

function number(values, name, { integer = false, min = -Infinity, max = Infinity } = {}) {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const what = integer ? "an integer" : "a number";
    const range = Number.isFinite(min) && Number.isFinite(max) ? ` from ${min} to ${max}` : min > 0 ? " above 0" : "";
    fail("E_USAGE", `--${name}: expected ${what}${range}, found ${JSON.stringify(raw)}`);
  }
  return n;
}

function oneOf(values, name, allowed, required) {
  const v = values[name];
  if (v === undefined) {
    if (required) fail("E_USAGE", `--${name} is required (${allowed.join(" or ")})`, `see \`${PROG} --help\``);
    return undefined;
  }
  if (!allowed.includes(v)) fail("E_USAGE", `--${name}: expected ${allowed.join(" or ")}, found ${JSON.stringify(v)}`);
  return v;
}

function buildMapping(values) {
  let mapping = {};
  if (values.mapping !== undefined) {
    let text;
    try {
      text = fs.readFileSync(values.mapping, "utf8");
    } catch (e) {
      fail("E_FILE", `cannot read the mapping file ${values.mapping}: ${describeFsError(e)}`);
    }
    try {
      mapping = JSON.parse(text);
    } catch (e) {
      fail("E_USAGE", `the mapping file ${values.mapping} is not json: ${lowerFirst(e.message)}`);
    }
    if (!mapping || typeof mapping !== "object" || Array.isArray(mapping)) {
      fail("E_USAGE", `the mapping file ${values.mapping} must hold a json object`);
    }
  }
  const flags = {
    "id-column": "idColumn",
    "email-column": "emailColumn",
    "cio-id-column": "cioIdColumn",
    "event-column": "eventColumn",
    "event-name": "eventName",
    "timestamp-column": "timestampColumn",
    "event-id-column": "eventIdColumn",
    "default-zone": "defaultZone",
  };
  for (const [flag, key] of Object.entries(flags)) {
    if (values[flag] !== undefined) mapping[key] = values[flag];
  }
  const ids = ["idColumn", "emailColumn", "cioIdColumn"].filter((k) => mapping[k] !== undefined);
  if (ids.length > 1) fail("E_USAGE", "give one identifier column: --id-column, --email-column or --cio-id-column");
  if (mapping.eventColumn !== undefined && mapping.eventName !== undefined) {
    fail("E_USAGE", "give --event-column or --event-name, not both");
  }
  if (values["date-order"] !== undefined) mapping.dateOrder = oneOf(values, "date-order", ["dayFirst", "monthFirst"]);
  if (values["empty-as-null"]) mapping.emptyAsNull = true;
  for (const spec of values.column ?? []) {
    const problem = applyColumnSpec(mapping, spec, "--column");
    if (problem) fail("E_USAGE", problem);
  }
  return mapping;
}

function describeFsError(e) {
  const known = { ENOENT: "no such file", EACCES: "permission denied", EISDIR: "it is a folder", ENOTDIR: "no such folder" };
  return known[e.code] ?? lowerFirst(e.message);
}

function defaultRejectedPath(file) {
  if (file === "-") return path.resolve(`${PROG}.rejected.csv`);
  const ext = path.extname(file);
  const base = [".csv", ".tsv", ".txt"].includes(ext.toLowerCase()) ? file.slice(0, -ext.length) : file;
  return path.resolve(`${base}.rejected.csv`);
}

function sha256(data) {
  return crypto.createHash("sha256").update(data).digest("hex");
}

function fileIdentity(file, stat) {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, stat.size));
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { path: path.resolve(file), size: stat.size, mtimeMs: stat.mtimeMs, head: sha256(buf.subarray(0, got)) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomic: write a temporary file next to the target, then rename it over the target. */
function writeFileAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Splits CSV text (whole rows, possibly quoted newlines) into rows and fields. */
class CsvRows {
  constructor() {
    this.carry = "";
  }
  /** Returns [{ text, fields }] for every complete row in `chunk` (plus what was carried over). */
  push(chunk) {
    const s = this.carry + chunk;
    const rows = [];
    let start = 0;
    let fields = [];
    let field = "";
    let quoted = false;
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (quoted) {
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
        } else field += c;
        i += 1;
        continue;
      }
      if (c === '"') quoted = true;
      else if (c === ",") {
        fields.push(field);
        field = "";
      } else if (c === "\n") {
        fields.push(field.endsWith("\r") ? field.slice(0, -1) : field);
        rows.push({ text: s.slice(start, i + 1), fields });
        fields = [];
        field = "";
        start = i + 1;
      } else field += c;
      i += 1;
    }
    this.carry = s.slice(start);
    return rows;
  }
}

/**
 * The rejected-rows CSV. Rows are written in file order, each once the importer's checkpoint has passed it, so
 * that at every "consistent" moment the file holds exactly the rejected rows of records 1..checkpoint: --resume
 * truncates it to that length and the resumed run appends the rest, and nothing is listed twice or lost.
 */
class RejectedLedger {
  constructor(file, { offset = 0, tallies = null } = {}) {
    this.file = file;
    this.fd = null;
    this.offset = offset; // bytes in the file (already there when resuming)
    this.header = null;
    this.rows = new CsvRows();
    this.held = []; // { line, record, text, code }
    this.heldBytes = 0;
    this.sawHeader = false;
    this.flushedMaxRecord = 0;
    this.tainted = false; // a row of unknown record was written: no more consistent moments
    this.minFailed = Infinity; // lowest record that failed delivery (resume must send it again)
    this.tallies = tallies ? { ...tallies } : { rejected: 0, apiRejected: 0, failed: 0 };
    this.runRows = 0;
    this.byCode = {};
    this.warningsByCode = {}; // warnings (issues, not rows) of this run by code
    this.firstWarnings = {}; // code -> the first one: { line, column, message }
    this.synced = true;
  }

  /** Take what the importer has (issues first: they give each rejected line its record number). */
  take(imp) {
    const lineRecord = new Map();
    for (const i of imp.takeIssues()) {
      if (i.record > 0) lineRecord.set(i.line, i.record);
      if (i.severity === "warning") {
        this.warningsByCode[i.code] = (this.warningsByCode[i.code] ?? 0) + 1;
        this.firstWarnings[i.code] ??= { line: i.line, column: i.columnName ?? null, message: i.message };
      }
      if (i.code === "failed" && i.record > 0 && i.record < this.minFailed) this.minFailed = i.record;
    }
    const csv = imp.takeRejectedCsv();
    if (!csv) return;
    for (const row of this.rows.push(csv)) {
      if (!this.sawHeader) {
        this.sawHeader = true;
        this.header = row.text;
        continue;
      }
      const n = row.fields.length;
      const line = Number(row.fields[n - 3]);
      const code = row.fields[n - 2];
      const record = lineRecord.get(line) ?? null;
      if (code === "failed" && record !== null && record < this.minFailed) this.minFailed = record;
      this.held.push({ line, record, text: row.text, code });
      this.heldBytes += row.text.length;
      this.byCode[code] = (this.byCode[code] ?? 0) + 1;
      this.runRows += 1;
    }
  }

  /** Write the held rows that the checkpoint has passed (all of them when `all`). */
  flush(checkpoint, all = false) {
    if (this.held.length === 0) return;
    this.held.sort((a, b) => a.line - b.line);
    let cut = 0;
    if (all || this.heldBytes > MAX_HELD_BYTES) cut = this.held.length;
    else {
      for (let k = this.held.length - 1; k >= 0; k--) {
        const r = this.held[k].record;
        if (r !== null && r <= checkpoint) {
          cut = k + 1;
          break;
        }
      }
    }
    if (cut === 0) return;
    const out = this.held.splice(0, cut);
    let bound = 0;
    for (let k = out.length - 1; k >= 0; k--) {
      if (out[k].record !== null) {
        bound = out[k].record;
        break;
      }
    }
    if (out[out.length - 1].record === null) this.tainted = true;
    this.flushedMaxRecord = Math.max(this.flushedMaxRecord, bound);
    let text = "";
    for (const r of out) {
      text += r.text;
      this.heldBytes -= r.text.length;
      if (r.code === "api_rejected") this.tallies.apiRejected += 1;
      else if (r.code === "failed") this.tallies.failed += 1;
      else this.tallies.rejected += 1;
    }
    this.write(text);
  }

  write(text) {
    if (this.fd === null) {
      this.fd = fs.openSync(this.file, this.offset > 0 ? "r+" : "w");
      if (this.offset > 0) fs.ftruncateSync(this.fd, this.offset);
      if (this.offset === 0 && this.header) text = this.header + text;
    }
    const buf = Buffer.from(text, "utf8");
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, this.offset + done);
    this.offset += buf.length;
    this.synced = false;
  }

  /** The record up to which the file is exactly the rejected rows, or null if it is not now. */
  consistentAt(checkpoint) {
    const c = Math.min(checkpoint, this.minFailed - 1);
    if (this.tainted || this.flushedMaxRecord > c) return null;
    if (this.held.some((r) => r.record === null || r.record <= c)) return null;
    return c;
  }

  sync() {
    if (this.fd !== null && !this.synced) {
      fs.fdatasyncSync(this.fd);
      this.synced = true;
    }
  }

  close() {
    if (this.fd !== null) {
      this.sync();
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  /** The file exists (this run or an earlier one wrote to it). */
  exists() {
    return this.fd !== null || this.offset > 0;
  }
}

/** A text sink with backpressure (stdout or a file). */
class Sink {
  constructor(stream) {
    this.stream = stream;
    this.broken = false;
    this.waiting = null;
    stream.on("error", () => {
      this.broken = true;
      this.release();
    });
    stream.on("drain", () => this.release());
  }
  release() {
    const w = this.waiting;
    this.waiting = null;
    if (w) w();
  }
  write(text) {
    if (!text || this.broken) return;
    this.stream.write(text);
  }
  /** Resolves when the sink can take more. */
  ready() {
    if (this.broken || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((res) => {
      const prev = this.waiting;
      this.waiting = () => {
        if (prev) prev();
        res();
      };
    });
  }
  end() {
    if (this.stream === process.stdout || this.broken) return Promise.resolve();
    return new Promise((res) => this.stream.end(res));
  }
}

/** A ReadableStream over a file that waits for the output sinks; it reads one chunk ahead of the importer, so the
 * next chunk is in memory by the time the importer has parsed this one. */
function fileStream(fh, gate) {
  return new ReadableStream(
    {
      async pull(controller) {
        await gate();
        const buf = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) {
          controller.close();
          await fh.close().catch(() => {});
          return;
        }
        controller.enqueue(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead));
      },
      async cancel() {
        await fh.close().catch(() => {});
      },
    },
    { highWaterMark: 1 },
  );
}

function fmtInt(n) {
  return Math.round(n).toLocaleString("en-US");
}

function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function fingerprint(cfg) {
  const o = {
    api: cfg.api,
    kind: cfg.kind,
    mapping: cfg.mapping,
    dryRun: cfg.dryRun,
    region: cfg.region ?? "us",
    endpoint: cfg.endpoint ?? null,
    skipCampaignWindow: cfg.skipCampaignWindow,
    delimiter: cfg.delimiter ?? null,
    encoding: cfg.encoding ?? null,
  };
  return { ...o, hash: sha256(stableJson(o)) };
}

function stableJson(v) {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function readState(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return null;
    fail("E_RESUME", `cannot read the resume state ${file}: ${describeFsError(e)}`);
  }
  try {
    const s = JSON.parse(text);
    if (s?.version !== STATE_VERSION || typeof s.checkpoint !== "number" || !s.file || !s.options) throw new Error("x");
    return s;
  } catch {
    fail("E_RESUME", `the resume state ${file} is not a ${PROG} state file`, "give another --resume path, or delete it to start over");
  }
}

async function cmdImport(values, positionals) {
  const started = Date.now();
  if (positionals.length !== 1) {
    fail("E_USAGE", positionals.length ? `expected one file to import, found ${positionals.length}` : "expected a file to import", `usage: ${PROG} import FILE --kind people|events --api track|pipelines`);
  }
  if (values.via !== undefined) return cmdImportVia(values, positionals[0]);
  const file = positionals[0];
  const kind = oneOf(values, "kind", ["people", "events"], true);
  const api = oneOf(values, "api", ["track", "pipelines"], true);
  const region = oneOf(values, "region", ["us", "eu"], false);
  const dryRun = Boolean(values["dry-run"]);
  // Requests go out from a thread of their own, so that sending overlaps with reading the next rows; it starts
  // now, to boot while the core compiles (it is unref'd: a usage error below still exits at once). Plain answers:
  // what run() reads of a Response, without loading undici on this thread.
  const fetch = dryRun ? undefined : threadFetch({ response: "plain" });
  const { Importer, version } = await core();
  const mapping = buildMapping(values);
  const rate = number(values, "rate", { min: Number.MIN_VALUE });
  const concurrency = number(values, "concurrency", { integer: true, min: 1, max: 64 });
  const batchBytes = number(values, "batch-bytes", { integer: true, min: 1000, max: 500000 });
  const maxAttempts = number(values, "max-attempts", { integer: true, min: 1, max: 100 });
  const seed = number(values, "seed", { integer: true, min: 0 });
  if (dryRun && !values.payloads && values.json) {
    fail("E_USAGE", "--json prints to stdout, where a dry run writes its payloads", "add --payloads FILE, or use --summary FILE.json");
  }

  // Credentials: flags, else the environment. Never printed, never written.
  const env = process.env;
  const credentials = {};
  if (api === "track") {
    credentials.siteId = values["site-id"] ?? env.CIO_SITE_ID;
    credentials.apiKey = values["api-key"] ?? env.CIO_TRACK_API_KEY;
    if (!dryRun && (!credentials.siteId || !credentials.apiKey)) {
      fail("E_CONFIG", "the track api needs a site id and a track api key", "set CIO_SITE_ID and CIO_TRACK_API_KEY (or pass --site-id and --api-key)");
    }
  } else {
    credentials.apiKey = values["api-key"] ?? env.CIO_API_KEY;
    if (!dryRun && !credentials.apiKey) {
      fail("E_CONFIG", "the pipelines api needs the source's api key", "set CIO_API_KEY (or pass --api-key)");
    }
  }
  for (const k of Object.keys(credentials)) if (!credentials[k]) delete credentials[k];

  // The input.
  let stat = null;
  if (file !== "-") {
    try {
      stat = fs.statSync(file);
    } catch (e) {
      fail("E_FILE", `cannot read ${file}: ${describeFsError(e)}`);
    }
    if (!stat.isFile()) fail("E_FILE", `cannot read ${file}: it is not a regular file`);
  }

  const cfg = {
    api,
    kind,
    region,
    endpoint: values.endpoint,
    mapping,
    dryRun,
    skipCampaignWindow: Boolean(values["skip-campaign-window"]),
    delimiter: values.delimiter,
    encoding: values.encoding,
  };

  // Resume state.
  const statePath = values.resume ? path.resolve(values.resume) : null;
  let state = null;
  let identity = null;
  if (statePath) {
    if (file === "-") fail("E_USAGE", "--resume needs a file, not standard input");
    identity = fileIdentity(file, stat);
    state = readState(statePath);
    if (state) {
      const f = state.file;
      if (f.size !== identity.size || f.head !== identity.head || f.mtimeMs !== identity.mtimeMs) {
        const what = f.size !== identity.size ? `its size is ${identity.size} bytes, the state's ${f.size}` : f.head !== identity.head ? "its first 64 KiB differ" : "it was modified since";
        fail("E_RESUME", `the resume state ${values.resume} is for another version of the file (${what})`, "give the state file of this file, or another --resume path to start over");
      }
      if (state.options.hash !== fingerprint(cfg).hash) {
        const a = state.options;
        const b = fingerprint(cfg);
        const diff = Object.keys(b).filter((k) => k !== "hash" && stableJson(a[k]) !== stableJson(b[k]));
        fail("E_RESUME", `the resume state ${values.resume} was made with other options (${diff.join(", ") || "mapping"})`, "run with the same --api, --kind, mapping and --dry-run as before, or another --resume path to start over");
      }
    }
  }
  const resumeAfter = state ? state.checkpoint : 0;

  // The rejected-rows file.
  let rejectedPath = values.rejected ? path.resolve(values.rejected) : null;
  let rejectedOffset = 0;
  if (state?.rejected?.path) {
    if (rejectedPath && rejectedPath !== state.rejected.path) {
      fail("E_RESUME", `the resume state writes rejected rows to ${state.rejected.path}, not ${values.rejected}`, "leave out --rejected when resuming");
    }
    rejectedPath = state.rejected.path;
    rejectedOffset = state.rejected.bytes ?? 0;
    let size = -1;
    try {
      size = fs.statSync(rejectedPath).size;
    } catch {}
    if (size < rejectedOffset) {
      fail("E_RESUME", `the rejected-rows file ${rejectedPath} has ${Math.max(size, 0)} bytes, the resume state expects at least ${rejectedOffset}`, "restore it, or start over with another --resume path");
    }
    // Rows written after the saved point belong to records this run reads again: drop them now.
    if (size > rejectedOffset) {
      if (rejectedOffset === 0) fs.rmSync(rejectedPath, { force: true });
      else fs.truncateSync(rejectedPath, rejectedOffset);
    }
  }
  rejectedPath = rejectedPath ?? defaultRejectedPath(file);
  if (stat && path.resolve(file) === rejectedPath) fail("E_USAGE", "--rejected must not be the input file");
  // Fail before sending anything if an output cannot be written.
  for (const [flag, p] of [["--rejected", rejectedPath], ["--summary", values.summary], ["--resume", statePath], ["--payloads", values.payloads]]) {
    if (!p) continue;
    const dir = path.dirname(path.resolve(p));
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (e) {
      fail("E_FILE", `cannot write ${flag} ${p}: ${e.code === "ENOENT" ? "no such folder" : describeFsError(e)}`);
    }
  }
  const ledger = new RejectedLedger(rejectedPath, { offset: rejectedOffset, tallies: state?.settled ?? null });

  // Payload output (dry runs: stdout by default).
  const payloadsTo = values.payloads ? path.resolve(values.payloads) : dryRun ? "-" : null;
  let payloadSink = null;
  if (payloadsTo === "-") payloadSink = new Sink(process.stdout);
  else if (payloadsTo) {
    try {
      payloadSink = new Sink(fs.createWriteStream(payloadsTo, { flags: "w" }));
    } catch (e) {
      fail("E_FILE", `cannot write ${values.payloads}: ${describeFsError(e)}`);
    }
  }

  const options = {
    api,
    kind,
    mapping,
    dryRun,
    keepPayloads: payloadSink !== null,
    skipCampaignWindow: cfg.skipCampaignWindow,
    resumeAfterRecord: resumeAfter,
  };
  if (region) options.region = region;
  if (values.endpoint !== undefined) options.endpoint = values.endpoint;
  if (Object.keys(credentials).length) options.credentials = credentials;
  if (rate !== undefined) options.rateLimit = rate;
  if (concurrency !== undefined) options.concurrency = concurrency;
  if (batchBytes !== undefined) options.batchBytes = batchBytes;
  if (maxAttempts !== undefined) options.maxAttempts = maxAttempts;
  if (seed !== undefined) options.seed = seed;
  if (values.delimiter !== undefined) options.delimiter = values.delimiter;
  if (values.encoding !== undefined) options.encoding = values.encoding;

  let imp;
  try {
    imp = new Importer(options);
  } catch (e) {
    fail(e.code ?? "E_CONFIG", e.message, e.code === "E_CONFIG" ? `see \`${PROG} --help\`` : undefined);
  }

  // The saved point: (checkpoint, rejected-file length, tallies of records 1..checkpoint).
  let saved = state
    ? { checkpoint: state.checkpoint, bytes: rejectedOffset, settled: { ...ledger.tallies } }
    : { checkpoint: 0, bytes: 0, settled: { rejected: 0, apiRejected: 0, failed: 0 } };
  let lastSaveAt = 0;
  let lastSummary = null;
  const fp = statePath ? fingerprint(cfg) : null;
  const saveState = (summary, complete) => {
    if (!statePath) return;
    ledger.sync();
    const doc = {
      version: STATE_VERSION,
      tool: `${PROG} ${version()}`,
      file: identity,
      options: fp,
      checkpoint: saved.checkpoint,
      rejected: { path: rejectedPath, bytes: saved.bytes },
      settled: saved.settled,
      complete: Boolean(complete),
      summary,
      updatedAt: new Date().toISOString(),
    };
    writeFileAtomic(statePath, JSON.stringify(doc, null, 2) + "\n");
    lastSaveAt = Date.now();
  };
  /** Drain the importer's outputs at checkpoint `cp`; advance the saved point when consistent. */
  const drain = (cp, all = false) => {
    ledger.take(imp);
    ledger.flush(cp, all);
    if (payloadSink) payloadSink.write(imp.takePayloads());
    const c = ledger.consistentAt(cp);
    if (c !== null && c >= saved.checkpoint) {
      const advanced = c > saved.checkpoint || ledger.offset !== saved.bytes;
      saved = { checkpoint: c, bytes: ledger.offset, settled: { ...ledger.tallies } };
      return advanced;
    }
    return false;
  };

  // Progress line (terminal only).
  const tty = process.stderr.isTTY && !values.quiet;
  const size = stat?.size ?? 0;
  let lastLine = 0;
  const progressLine = (p) => {
    const now = Date.now();
    if (!tty || now - lastLine < PROGRESS_EVERY_MS) return;
    lastLine = now;
    const parts = [`rows ${fmtInt(p.rows)}`, `${fmtInt(p.rowsPerSec)} rows/s`];
    if (size > 0) {
      const frac = Math.min(1, p.bytesRead / size);
      parts.push(`${(frac * 100).toFixed(frac < 0.1 ? 1 : 0)}%`);
      if (frac > 0 && frac < 1) parts.push(`eta ${fmtDuration((p.elapsedMs * (1 - frac)) / frac)}`);
    }
    parts.push(`retries ${fmtInt(p.retries)}`);
    if (p.rejected + p.apiRejected + p.failed > 0) parts.push(`not sent ${fmtInt(p.rejected + p.apiRejected + p.failed)}`);
    process.stderr.write(`\r${parts.join("  ")}\x1b[K`);
  };
  const clearLine = () => {
    if (tty && lastLine) process.stderr.write("\r\x1b[K");
  };

  // Stop on SIGINT/SIGTERM: save the state first, then cancel (unsent rows end failed "cancelled").
  const ac = new AbortController();
  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) {
      process.stderr.write(`\n${PROG}: ${sig} again: quitting now\n`);
      process.exit(130);
    }
    interrupted = true;
    try {
      const s = imp.summary();
      drain(s.checkpoint);
      saveState(s, false);
    } catch {}
    clearLine();
    if (!values.quiet) process.stderr.write(`${PROG}: stopping; rows not yet sent end failed ("cancelled"); ${sig} again quits at once\n`);
    ac.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const onProgress = (p) => {
    try {
      lastSummary = p;
      const advanced = drain(p.checkpoint);
      if (advanced && Date.now() - lastSaveAt >= STATE_EVERY_MS) saveState(p, false);
      progressLine(p);
    } catch (e) {
      // Never throw into the importer. Rows that cannot be recorded must not be sent: stop, report it at the end.
      if (!progressError) {
        progressError = e;
        ac.abort();
      }
    }
  };
  let progressError = null;

  let input;
  if (file === "-") input = Readable.toWeb(process.stdin);
  else {
    const fh = await fs.promises.open(file, "r");
    input = fileStream(fh, () => (payloadSink ? payloadSink.ready() : Promise.resolve()));
  }

  let summary;
  let error = null;
  try {
    summary = await imp.run(input, { onProgress, signal: ac.signal, fetch });
  } catch (e) {
    error = e;
    summary = e?.summary ?? imp.summary();
  } finally {
    await fetch?.close();
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  clearLine();
  try {
    drain(summary.checkpoint, true);
  } catch (e) {
    progressError = progressError ?? e;
  }
  const complete = !error && !interrupted && !progressError && saved.checkpoint >= summary.checkpoint && summary.failed === 0;
  try {
    saveState(summary, complete);
    ledger.close();
  } catch (e) {
    progressError = progressError ?? e;
  }
  if (payloadSink) await payloadSink.end();
  if (progressError) throw new CliError("E_FILE", `writing the output failed: ${describeFsError(progressError)}`, undefined, EXIT_USAGE);

  // The report.
  const code = error?.code ?? null;
  const total = state
    ? {
        rows: summary.rows,
        rejected: state.settled.rejected + summary.rejected,
        apiRejected: state.settled.apiRejected + summary.apiRejected,
        failed: state.settled.failed + summary.failed,
      }
    : null;
  if (total) {
    const before = state.checkpoint - state.settled.rejected - state.settled.apiRejected - state.settled.failed;
    total.valid = summary.valid + before;
    if (dryRun) total.unsent = summary.unsent + before;
    else total.sent = summary.sent + before;
  }
  const whole = total ?? summary;
  let exit;
  if (code === "E_ABORTED" || interrupted) exit = EXIT_ROWS;
  else if (code === "E_AUTH" || code === "E_CSV" || code === "E_MAPPING" || code === "E_CONFIG") exit = EXIT_USAGE;
  else if (code) exit = EXIT_USAGE;
  else exit = whole.rejected + whole.apiRejected + whole.failed > 0 ? EXIT_ROWS : EXIT_OK;

  const durationMs = Date.now() - started;
  const report = {
    ...summary,
    api,
    kind,
    file: file === "-" ? "-" : path.resolve(file),
    rejectedCsv: ledger.exists() ? rejectedPath : null,
    rejectedCsvRows: ledger.runRows,
    rejectedByCode: ledger.byCode,
    warningsByCode: ledger.warningsByCode,
    firstWarnings: ledger.firstWarnings,
    payloads: payloadsTo === "-" ? "stdout" : payloadsTo,
    durationMs,
    rowsPerSec: summary.rows / Math.max(durationMs / 1000, 0.001),
    exitCode: exit,
    error: error ? { code: code ?? "E_INTERNAL", message: lowerFirst(String(error.message ?? error)) } : null,
    resume: statePath
      ? { stateFile: statePath, resumedFrom: resumeAfter, checkpoint: saved.checkpoint, complete }
      : null,
  };
  if (total) report.total = total;
  const json = JSON.stringify(report, null, 2) + "\n";
  if (values.summary) {
    try {
      writeFileAtomic(path.resolve(values.summary), json);
    } catch (e) {
      printError("E_FILE", `cannot write the summary ${values.summary}: ${describeFsError(e)}`);
      exit = EXIT_USAGE;
    }
  }
  if (values.json) process.stdout.write(json);
  if (!values.quiet) process.stderr.write(humanSummary(report, file, total));
  if (error && code !== "E_ABORTED") {
    const hints = {
      E_AUTH: api === "track" ? "check CIO_SITE_ID and CIO_TRACK_API_KEY (a track api key of this workspace and region)" : "check CIO_API_KEY (the api key of a source of this workspace and region)",
      E_CSV: "export the data as a csv text file (a header row, then one row per record)",
      E_MAPPING: "name the columns with --id-column/--email-column, --event-column/--event-name",
    };
    const message = String(error.message ?? error);
    if (error.reason === "record_too_long") {
      hints.E_CSV = "close that field's quote (a quote inside a quoted field is written twice: \"\"), then import the file again";
    } else if (error.reason === "too_many_fields") {
      hints.E_CSV = "check that line, and the delimiter (--delimiter): no row of a customer.io import has that many columns";
    }
    printError(code ?? "E_INTERNAL", message, hints[code]);
  }
  if (statePath && !complete && !values.quiet) {
    process.stderr.write(`${PROG}: progress saved to ${statePath}; run the same command again to go on after record ${saved.checkpoint}\n`);
  }
  return exit;
}

/**
 * `import FILE --via URL --token T`: the file goes to the Worker as numbered, self-contained chunks (js/via.mjs);
 * the Worker holds the Customer.io keys. A re-run is safe: completed chunks are replayed by the Worker's ledger
 * (Pipelines) and Track deduplicates the content-addressed event ids.
 */
async function cmdImportVia(values, file) {
  const started = Date.now();
  const kind = oneOf(values, "kind", ["people", "events"], true);
  const token = values.token ?? process.env.CIO_IMPORT_TOKEN;
  if (!token) fail("E_CONFIG", "--via needs the worker's import token", "set CIO_IMPORT_TOKEN (or pass --token)");
  for (const flag of ["site-id", "api-key", "endpoint", "resume", "payloads", "rate", "concurrency", "batch-bytes", "max-attempts", "seed"]) {
    if (values[flag] !== undefined) {
      fail("E_USAGE", `--${flag} does not go with --via: the worker decides it`, flag === "resume" ? "run the same command again: completed chunks are not sent twice" : undefined);
    }
  }
  let url;
  try {
    url = new URL(values.via);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http");
  } catch {
    fail("E_USAGE", `expected --via to be the worker's url (https://…), found ${JSON.stringify(values.via)}`);
  }
  if (file !== "-") {
    try {
      if (!fs.statSync(file).isFile()) fail("E_FILE", `cannot read ${file}: it is not a regular file`);
    } catch (e) {
      if (e instanceof CliError) throw e;
      fail("E_FILE", `cannot read ${file}: ${describeFsError(e)}`);
    }
  }
  const params = { mapping: buildMapping(values) };
  if (values.api) params.api = oneOf(values, "api", ["track", "pipelines"], false);
  if (values.region) params.region = oneOf(values, "region", ["us", "eu"], false);
  if (values["dry-run"]) params["dry-run"] = true;
  if (values["skip-campaign-window"]) params["skip-campaign-window"] = true;
  if (values.delimiter) params.delimiter = values.delimiter;
  if (values.encoding) params.encoding = values.encoding;
  const chunkBytes = number(values, "chunk-bytes", { integer: true, min: 1024 });
  const rejectedPath = values.rejected ? path.resolve(values.rejected) : defaultRejectedPath(file);
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  const tty = process.stderr.isTTY && !values.quiet;
  let summary;
  try {
    summary = await importVia({
      url: url.href,
      token,
      kind,
      stream: file === "-" ? process.stdin : fs.createReadStream(file, { highWaterMark: CHUNK }),
      params,
      chunkBytes,
      rejected: true,
      signal: ac.signal,
      onProgress: (p) => {
        if (tty) process.stderr.write(`\r\x1b[2K${PROG}: ${fmtInt(p.rows)} rows, ${fmtInt(p.chunksDone)}/${fmtInt(p.chunks)} chunks, ${fmtInt(p.rowsPerSec)} rows/s`);
      },
    });
  } catch (e) {
    if (tty) process.stderr.write("\r\x1b[2K");
    const code = e?.code ?? "E_NETWORK";
    const exit = code === "E_ABORTED" ? EXIT_ROWS : EXIT_USAGE;
    if (e?.summary?.rejectedCsv) fs.writeFileSync(rejectedPath, e.summary.rejectedCsv);
    throw new CliError(code, String(e?.message ?? e), code === "E_AUTH_TOKEN" ? "check --token / CIO_IMPORT_TOKEN" : undefined, exit);
  }
  if (tty) process.stderr.write("\r\x1b[2K");
  const { rejectedCsv, ...rest } = summary;
  const hasRejected = typeof rejectedCsv === "string" && rejectedCsv.includes("\n") && rejectedCsv.split("\n").filter(Boolean).length > 1;
  if (hasRejected) fs.writeFileSync(rejectedPath, rejectedCsv);
  const report = { ...rest, via: url.origin, kind, rejectedCsv: hasRejected ? rejectedPath : null, durationMs: Date.now() - started };
  if (values.summary) writeFileAtomic(path.resolve(values.summary), JSON.stringify(report, null, 2) + "\n");
  if (values.json) process.stdout.write(JSON.stringify(report) + "\n");
  if (!values.quiet) {
    const name = file === "-" ? "stdin" : path.basename(file);
    process.stderr.write(
      `${PROG}: ${name} → ${url.origin} (${kind}): ${n(report.rows ?? 0, "row")}: ${fmtInt(report.sent ?? 0)} sent, ` +
        `${fmtInt(report.rejected ?? 0)} rejected, ${fmtInt(report.apiRejected ?? 0)} refused by the api, ${fmtInt(report.failed ?? 0)} failed` +
        ` (${n(report.chunks ?? 0, "chunk")}${report.replayedChunks ? `, ${fmtInt(report.replayedChunks)} replayed` : ""})\n` +
        pinsLine(report.pins, report.chunks ?? 0) +
        (hasRejected ? `  rows not sent: ${rejectedPath}\n` : ""),
    );
  }
  const notSent = (report.rejected ?? 0) + (report.apiRejected ?? 0) + (report.failed ?? 0);
  return notSent > 0 ? EXIT_ROWS : EXIT_OK;
}

/** What every chunk was pinned to (from the file's first rows), or that each chunk decided alone. */
function pinsLine(pins, chunks) {
  if (chunks < 2) return "";
  if (!pins) return "  each chunk typed its columns from its own first rows (the worker gave no pins)\n";
  const types = Object.entries(pins.typeHints ?? {}).map(([c, t]) => `${c} ${t}`);
  const parts = [];
  if (types.length) parts.push(`types ${types.slice(0, 6).join(", ")}${types.length > 6 ? `, +${types.length - 6} more` : ""}`);
  if (pins.dateOrder) parts.push(`dates ${pins.dateOrder === "dayFirst" ? "day" : "month"} first`);
  if (pins.delimiter) parts.push(`delimiter ${JSON.stringify(pins.delimiter)}`);
  if (pins.encoding) parts.push(pins.encoding);
  return `  every chunk as the file's first rows say: ${parts.join("; ")}\n`;
}

function n(count, word) {
  return `${fmtInt(count)} ${word}${count === 1 ? "" : "s"}`;
}

function humanSummary(r, file, total) {
  const w = total ?? r;
  const lines = [];
  const name = file === "-" ? "stdin" : path.basename(file);
  const what = r.dryRun
    ? `${fmtInt(w.valid)} valid (dry run: nothing sent), ${fmtInt(w.rejected)} rejected`
    : `${fmtInt(w.sent)} sent, ${fmtInt(w.rejected)} rejected, ${fmtInt(w.apiRejected)} refused by the api, ${fmtInt(w.failed)} failed`;
  lines.push(`${PROG}: ${name} → ${r.api} (${r.kind}): ${n(w.rows, "row")}: ${what}`);
  if (total) lines.push(`  resumed after record ${fmtInt(r.resume.resumedFrom)} (${n(r.skippedResume, "row")} settled by earlier runs)`);
  lines.push(`  ${n(r.requests, "request")}${r.dryRun ? " (would be made)" : ""}, ${fmtInt(r.retries)} ${r.retries === 1 ? "retry" : "retries"}, ${(r.durationMs / 1000).toFixed(1)} s, ${fmtInt(r.rowsPerSec)} rows/s`);
  if (r.warnings) lines.push(`  ${n(r.warnings, "row")} with warnings (still sent unless listed below)`);
  for (const [code, count] of Object.entries(r.warningsByCode ?? {}).sort((a, b) => b[1] - a[1])) {
    const f = r.firstWarnings[code];
    const where = `line ${fmtInt(f.line)}${f.column !== null ? `, column ${JSON.stringify(f.column)}` : ""}`;
    lines.push(`    ${code} ${fmtInt(count)}, first on ${where}: ${f.message}`);
  }
  if (r.campaignWindow) lines.push(`  ${n(r.campaignWindow, "row")} within the last 72 hours: they can trigger campaigns`);
  if (r.olderThan30Days) lines.push(`  ${n(r.olderThan30Days, "row")} older than 30 days: they count in segments but do not show in the activity log`);
  if (r.rejectedCsv) {
    const codes = Object.entries(r.rejectedByCode)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${fmtInt(n)}`)
      .join(", ");
    lines.push(`  rows not sent: ${r.rejectedCsv}${codes ? ` (${codes})` : ""}`);
  }
  if (r.payloads && r.payloads !== "stdout") lines.push(`  payloads: ${r.payloads}`);
  return lines.join("\n") + "\n";
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    (cmd === undefined ? process.stderr : process.stdout).write(usage((await core()).version()));
    return cmd === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (cmd === "--version" || cmd === "-V" || cmd === "version") {
    process.stdout.write(`${PROG} ${(await core()).version()}\n`);
    return EXIT_OK;
  }
  if (cmd !== "import") {
    fail("E_USAGE", `unknown command ${JSON.stringify(cmd)}`, `usage: ${PROG} import FILE --kind people|events --api track|pipelines (see \`${PROG} --help\`)`);
  }
  const { values, positionals } = parse(rest);
  if (values.help) {
    process.stdout.write(usage((await core()).version()));
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write(`${PROG} ${(await core()).version()}\n`);
    return EXIT_OK;
  }
  return cmdImport(values, positionals);
}

let settled = false;
// If the importer's promise never settled, Node would exit with 0 once nothing is left to run: say so instead.
process.on("beforeExit", () => {
  if (!settled) {
    settled = true;
    printError("E_INTERNAL", "the import stopped before it finished (nothing left to wait for); this is a bug");
    process.exitCode = EXIT_USAGE;
  }
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e) => {
    settled = true;
    if (e instanceof CliError) {
      printError(e.code, e.message, e.hint);
      process.exitCode = e.exit;
    } else {
      printError("E_INTERNAL", e?.stack ?? String(e));
      process.exitCode = EXIT_USAGE;
    }
  },
);
