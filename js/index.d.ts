// Types of the cio-backfill package (all entries: browser/default, node, workerd). See docs/JS_API.md.

/** Resolves once the wasm is loaded. In Node and workerd it is already resolved at import. */
export declare const ready: PromiseLike<void> & {
  catch(onRejected: (reason: unknown) => unknown): Promise<unknown>;
  finally(onFinally: () => void): Promise<void>;
};

/**
 * Load the wasm (once; later calls return the same promise). Browser entry: without an argument the wasm is
 * fetched from next to the module; pass `{ module_or_path }` (bytes, a Response, a URL or a WebAssembly.Module)
 * to load it from elsewhere. Node and workerd entries: already loaded.
 */
export declare function init(input?: { module_or_path: InitInput | Promise<InitInput> }): Promise<void>;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** The package version (after `ready`). */
export declare function version(): string;

export type Api = "track" | "pipelines";
export type Kind = "people" | "events";
export type ValueType = "string" | "integer" | "float" | "boolean" | "date";

/** Per-column choice, by header name. */
export interface ColumnOverride {
  role?: "attribute" | "ignore";
  /** Forced: a cell that does not fit is an error. */
  type?: "auto" | ValueType;
  /**
   * Taken as if the sample had inferred it: a cell that does not fit goes as text. For parts of one file imported
   * separately, so that each types a column as the first part did. Not with a forced `type`.
   */
  typeHint?: ValueType;
}

export interface MappingOptions {
  /** Exactly one identifier column is used; auto-matched from the headers when none is given. */
  idColumn?: string;
  emailColumn?: string;
  /** Track only. */
  cioIdColumn?: string;
  /** Events: the event name column … */
  eventColumn?: string;
  /** … or one fixed name for every row. */
  eventName?: string;
  timestampColumn?: string;
  /** Events: the source's own event id; event ids derived from it make re-imports idempotent. */
  eventIdColumn?: string;
  columns?: Record<string, ColumnOverride>;
  /** Empty cells are left out unless true (then sent as null). */
  emptyAsNull?: boolean;
  /** For timestamps without a zone: "UTC", "+02:00", "Europe/Berlin". */
  defaultZone?: string;
  /** Override the inferred order of slash dates. */
  dateOrder?: "dayFirst" | "monthFirst";
}

export interface Credentials {
  /** Track: the workspace's site id. */
  siteId?: string;
  /** Track: a Track API key; Pipelines: the source's API key. */
  apiKey?: string;
}

export interface ImporterOptions {
  api: Api;
  kind: Kind;
  /** Default "us". */
  region?: "us" | "eu";
  /** An origin that replaces Customer.io's (e.g. "http://127.0.0.1:8080"); the API's paths are kept. */
  endpoint?: string;
  /** Required unless `dryRun`. Never logged, never put in a URL. */
  credentials?: Credentials;
  mapping?: MappingOptions;
  /** Build and pack everything, send nothing. */
  dryRun?: boolean;
  /** Keep the payload items for `takePayloads()` (dry runs, previews). */
  keepPayloads?: boolean;
  /** Rows inside the 72-hour campaign window are rejected with code "skipped". */
  skipCampaignWindow?: boolean;
  /** Pipelines from a browser: "write-key" (text/plain, key in the body, no preflight); "auto" picks by platform. */
  transport?: "auto" | "basic" | "write-key";
  /** Requests per second (default 100 Track, 1000 Pipelines). */
  rateLimit?: number;
  /** Requests in flight, 1..64. */
  concurrency?: number;
  /** Attempts per request (retries included). */
  maxAttempts?: number;
  /** Largest request body, 1000..500000 bytes (default 490000 Track, 475000 Pipelines). */
  batchBytes?: number;
  /** Skip records up to and including this one (a checkpoint); counted as `skippedResume`. */
  resumeAfterRecord?: number;
  /** Force a one-byte delimiter (",", ";", "|", "tab"); sniffed by default. */
  delimiter?: string;
  /** Force an encoding: "utf-8", "utf-16le", "utf-16be", "windows-1252"; sniffed by default. */
  encoding?: string;
  /** Seed of the retry jitter. */
  seed?: number;
  /** Rows sampled to infer types and date orders (default 1000). */
  sampleRows?: number;
  /** The clock for the 72-hour window, unix ms (default Date.now()). */
  now?: number;
}

/** What happened to every row so far. `rows == rejected + sent + apiRejected + failed + unsent + pending + skippedResume`. */
export interface Summary {
  rows: number;
  valid: number;
  rejected: number;
  /** Rows with at least one warning (still sent). */
  warnings: number;
  sent: number;
  apiRejected: number;
  failed: number;
  /** Valid rows not sent because this is a dry run. */
  unsent: number;
  /** Valid rows packed or in flight. */
  pending: number;
  skippedResume: number;
  requests: number;
  retries: number;
  bisections: number;
  campaignWindow: number;
  olderThan30Days: number;
  bodyBytes: number;
  /** Every record up to this one is settled: pass it as `resumeAfterRecord` to go on. */
  checkpoint: number;
  dryRun: boolean;
}

/** `onProgress`'s argument: the summary plus reading and speed figures. */
export interface Progress extends Summary {
  bytesRead: number;
  rowsPerSec: number;
  elapsedMs: number;
}

export interface Issue {
  code: string;
  severity: "error" | "warning";
  /** 1-based physical line where the row starts. */
  line: number;
  /** 1-based data record (0 for the header and file-level issues). */
  record: number;
  column?: number;
  columnName?: string;
  message: string;
}

export interface Dialect {
  encoding: "Utf8" | "Utf8Bom" | "Utf16Le" | "Utf16Be" | "Windows1252";
  /** The delimiter's byte value (44 is ","). */
  delimiter: number;
  /** The quote's byte value (34). */
  quote: number;
  line_ending: "Lf" | "CrLf" | "Cr" | "Mixed" | "None";
}

export interface Column {
  index: number;
  header: string;
  role: "identifier" | "eventName" | "timestamp" | "eventId" | "attribute" | "ignore";
  /** For identifiers: which one. */
  as?: "id" | "email" | "cio_id";
  type: ValueType;
  forcedType: boolean;
  /** Where the value goes: ["address", "city"] for "address.city". */
  keyPath: string[];
  detectedFormat?: unknown;
}

export interface ResolvedMapping {
  kind: Kind;
  columns: Column[];
  identifier: [number, "id" | "email" | "cio_id"];
  eventName: { column: number } | { fixed: string } | null;
  timestamp: number | null;
  eventId: number | null;
  emptyAsNull: boolean;
  decimalComma: boolean;
}

export interface Inspection {
  dialect: Dialect | null;
  headers: string[];
  columns: Column[];
  mapping?: ResolvedMapping;
  mappingError?: string;
  preview: string[][];
  fileIssues: Issue[];
}

export type ErrorCode = "E_CONFIG" | "E_CSV" | "E_MAPPING" | "E_AUTH" | "E_NETWORK" | "E_ABORTED" | "E_INTERNAL";

/** Errors thrown or rejected by the importer. `run()` rejections carry the summary at the time. */
export interface ImporterError extends Error {
  code: ErrorCode;
  /** A finer, stable reason where there is one: for E_CSV, a record over 4 MiB (`record_too_long`: nearly always a
   * quote that is not closed) or over 100,000 fields (`too_many_fields`). */
  reason?: "record_too_long" | "too_many_fields";
  summary?: Summary;
}

/** What `run()` reads of an answer to a request: a `Response` has it (so has `threadFetch`'s plain answer). */
export interface FetchAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface RunOptions {
  /** Called at most every 100 ms while running, and once at the end. It may call the importer's methods. */
  onProgress?: (progress: Progress) => void;
  /** Stops reading and sending; rows not handed to the API end failed ("cancelled"); run rejects with E_ABORTED. */
  signal?: AbortSignal;
  /**
   * Sends the requests (default: the global `fetch`). Called as `fetch(url, { method, headers, body, signal })`
   * with a `Uint8Array` body and plain-object headers; it must resolve to a `Response` (or any `FetchAnswer`) or
   * reject on a network error.
   */
  fetch?: (url: string, init: { method: string; headers: Record<string, string>; body: Uint8Array; signal: AbortSignal }) => Promise<FetchAnswer>;
}

export declare class Importer {
  /** Throws an ImporterError (E_CONFIG, with the unknown option's name, for options it does not know). */
  constructor(options: ImporterOptions);
  /** Feed the next chunk of the file (E_CSV / E_MAPPING once the header and sample are read). */
  push(chunk: Uint8Array): void;
  /** The file is complete. */
  finish(): void;
  /** Detected dialect, headers, resolved columns, preview rows, file issues. */
  inspect(): Inspection;
  /** Issues found since the last call (at most 100,000 are held between calls). */
  takeIssues(): Issue[];
  /** The next part of the rejected/failed-rows CSV (original columns + line, code, reason); the header comes first. */
  takeRejectedCsv(): string;
  /** The payload items since the last call, as NDJSON text (needs `keepPayloads: true`). */
  takePayloads(): string;
  summary(): Summary;
  /** Stop reading and sending; rows not yet handed to the API end failed. */
  cancel(): void;
  /** Read the stream (Uint8Array chunks), send everything, resolve to the summary. */
  run(stream: ReadableStream<Uint8Array>, options?: RunOptions): Promise<Summary>;
  free(): void;
  [Symbol.dispose](): void;
}
