// Query parameters of `POST /import` → the package's Importer options. The names mirror the command line's
// flags (`--id-column X` → `?id-column=X`); anything else is refused, so a typo never silently does nothing.
import { applyColumnSpec, applyTypeHintSpec } from "../../dist/pkg/columns.mjs";

export class RequestError extends Error {
  constructor(status, code, message, extra, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

const bad = (message) => new RequestError(400, "E_CONFIG", message);

/** Mapping flags: query name → MappingOptions key (strings). */
const MAPPING_STRINGS = {
  "id-column": "idColumn",
  "email-column": "emailColumn",
  "cio-id-column": "cioIdColumn",
  "event-column": "eventColumn",
  "event-name": "eventName",
  "event-id-column": "eventIdColumn",
  "timestamp-column": "timestampColumn",
  "default-zone": "defaultZone",
};
const BOOLEANS = ["skip-campaign-window", "empty-as-null", "dry-run", "rejected", "queue"];
const COUNTS = ["chunk", "line-offset", "record-offset", "resume-after-record"];
const OTHER = ["kind", "date-order", "delimiter", "encoding", "source", "mapping", "api", "region", "column", "type-hint"];
/** Parameters that may be given more than once (like the command line's repeatable flags). */
const REPEATABLE = ["column", "type-hint"];
/** Names the importer page (www/lib/worker-mode.js) sends, accepted as aliases. */
const ALIASES = { skipCampaignWindow: "skip-campaign-window", dryRun: "dry-run" };

export const KNOWN_PARAMS = [...Object.keys(MAPPING_STRINGS), ...BOOLEANS, ...COUNTS, ...OTHER];

function parseBool(name, v) {
  if (v === "" || v === "1" || v === "true" || v === "yes") return true;
  if (v === "0" || v === "false" || v === "no") return false;
  throw bad(`expected ${name} to be 1 or 0 (true or false), found ${JSON.stringify(v)}`);
}

function parseCount(name, v) {
  if (!/^\d{1,15}$/.test(v)) throw bad(`expected ${name} to be a whole number ≥ 0, found ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Parse and check the query. `config` is the Worker's configuration ({ api, region }): `api` and `region`
 * in the query are assertions (the page sends them), never choices: the Worker's variables decide.
 * Returns { options (for new Importer, minus edge keys), flags: { rejected, chunk, source, lineOffset, recordOffset } }.
 */
export function parseImportParams(searchParams, config) {
  const seen = new Map();
  for (const [rawName, value] of searchParams) {
    const name = ALIASES[rawName] ?? rawName;
    if (!KNOWN_PARAMS.includes(name)) {
      throw bad(`unknown query parameter ${JSON.stringify(rawName)}; known: ${KNOWN_PARAMS.join(", ")}`);
    }
    if (REPEATABLE.includes(name)) {
      seen.set(name, [...(seen.get(name) ?? []), value]);
      continue;
    }
    if (seen.has(name)) throw bad(`query parameter ${JSON.stringify(name)} is given twice`);
    seen.set(name, value);
  }
  const kind = seen.get("kind");
  if (kind !== "people" && kind !== "events") {
    throw bad(`expected kind=people or kind=events, found ${kind === undefined ? "none" : JSON.stringify(kind)}`);
  }
  for (const k of ["api", "region"]) {
    if (seen.has(k) && seen.get(k) !== config[k]) {
      throw bad(
        `this Worker sends to ${k} ${JSON.stringify(config[k])} (its CIO_${k.toUpperCase()} variable); ` +
          `the request asked for ${JSON.stringify(seen.get(k))}`,
      );
    }
  }

  let mapping = {};
  if (seen.has("mapping")) {
    try {
      mapping = JSON.parse(seen.get("mapping"));
    } catch (e) {
      throw bad(`mapping must be JSON: ${e.message}`);
    }
    if (mapping === null || typeof mapping !== "object" || Array.isArray(mapping)) {
      throw bad("mapping must be a JSON object (the package's mapping options)");
    }
  }
  for (const [q, key] of Object.entries(MAPPING_STRINGS)) {
    if (!seen.has(q)) continue;
    const v = seen.get(q);
    if (v.trim() === "") throw bad(`${q} must not be empty`);
    mapping[key] = v;
  }
  const ids = ["idColumn", "emailColumn", "cioIdColumn"].filter((k) => mapping[k] !== undefined);
  if (ids.length > 1) throw bad("give one identifier column: id-column, email-column or cio-id-column");
  if (mapping.eventColumn !== undefined && mapping.eventName !== undefined) throw bad("give event-column or event-name, not both");
  for (const spec of seen.get("column") ?? []) {
    const problem = applyColumnSpec(mapping, spec, "column");
    if (problem) throw bad(problem);
  }
  for (const spec of seen.get("type-hint") ?? []) {
    const problem = applyTypeHintSpec(mapping, spec, "type-hint");
    if (problem) throw bad(problem);
  }
  if (seen.has("empty-as-null")) mapping.emptyAsNull = parseBool("empty-as-null", seen.get("empty-as-null"));
  if (seen.has("date-order")) {
    const v = seen.get("date-order");
    const order = { "day-first": "dayFirst", dayfirst: "dayFirst", dmy: "dayFirst", "month-first": "monthFirst", monthfirst: "monthFirst", mdy: "monthFirst" }[v.toLowerCase()];
    if (!order) throw bad(`expected date-order=day-first or month-first, found ${JSON.stringify(v)}`);
    mapping.dateOrder = order;
  }

  const options = { kind };
  if (Object.keys(mapping).length) options.mapping = mapping;
  if (seen.has("skip-campaign-window")) options.skipCampaignWindow = parseBool("skip-campaign-window", seen.get("skip-campaign-window"));
  if (seen.has("dry-run")) options.dryRun = parseBool("dry-run", seen.get("dry-run"));
  if (seen.has("delimiter")) options.delimiter = seen.get("delimiter");
  if (seen.has("encoding")) options.encoding = seen.get("encoding");

  const counts = {};
  for (const c of COUNTS) if (seen.has(c)) counts[c] = parseCount(c, seen.get(c));
  const recordOffset = counts["record-offset"] ?? 0;
  const resumeAfter = counts["resume-after-record"] ?? 0;
  if (resumeAfter > recordOffset) options.resumeAfterRecord = resumeAfter - recordOffset;

  let source = null;
  if (seen.has("source")) {
    source = seen.get("source");
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(source)) {
      throw bad("expected source to be 1 to 128 characters of A-Z a-z 0-9 . _ : -");
    }
  }
  const flags = {
    rejected: seen.has("rejected") ? parseBool("rejected", seen.get("rejected")) : false,
    queue: seen.has("queue") ? parseBool("queue", seen.get("queue")) : false,
    chunk: counts.chunk ?? null,
    source,
    lineOffset: counts["line-offset"] ?? 0,
    recordOffset,
  };
  return { options, flags };
}
