// Runs the Worker (worker/src/index.js) in workerd through Miniflare's API, against the sandbox.
import path from "node:path";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { startSandbox, DEFAULT_CREDENTIALS } from "../sandbox/server.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const TOKEN = "import-token-for-tests-0123456789";
export { startSandbox, DEFAULT_CREDENTIALS };

if (!fs.existsSync(path.join(ROOT, "dist/pkg/workerd.js"))) {
  throw new Error("dist/pkg/workerd.js is missing: run `make build` first (make test-worker does)");
}

/** The static assets the Worker serves: www/ (the page) when it exists, else a stand-in. */
export function assetsDir() {
  const www = path.join(ROOT, "www");
  if (fs.existsSync(path.join(www, "index.html"))) return www;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-worker-assets-"));
  fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>cio-backfill</title><p>importer page stand-in</p>\n");
  return dir;
}

export function secretsFor(api, sandboxUrl, overrides = {}) {
  const base = { IMPORT_TOKEN: TOKEN, CIO_API: api, CIO_REGION: "us" };
  if (sandboxUrl) base.CIO_ENDPOINT = sandboxUrl;
  if (api === "track") Object.assign(base, { CIO_SITE_ID: DEFAULT_CREDENTIALS.siteId, CIO_TRACK_API_KEY: DEFAULT_CREDENTIALS.trackApiKey });
  else base.CIO_API_KEY = DEFAULT_CREDENTIALS.pipelinesApiKey;
  return { ...base, ...overrides };
}

/**
 * Start the Worker. `bindings`: vars and secrets (undefined values are left out). `ledger`: "do" | "kv" | null.
 * `slots`: bind the ImportSlots Durable Object. `queue`: queue mode (R2 UPLOADS, Queue IMPORTS consumed by the
 * Worker itself, Durable Object JOBS). Returns { url, mf, close }.
 */
export async function startWorker({ bindings, ledger = "do", slots = true, queue = false, script } = {}) {
  const scriptPath = script ?? path.join(ROOT, "worker/src/index.js");
  const clean = Object.fromEntries(Object.entries(bindings ?? {}).filter(([, v]) => v !== undefined));
  const durableObjects = {};
  if (slots) durableObjects.SLOTS = { className: "ImportSlots", useSQLite: true };
  if (ledger === "do") durableObjects.LEDGER = { className: "ChunkLedger", useSQLite: true };
  const queueOptions = {};
  if (queue) {
    durableObjects.JOBS = { className: "ImportJob", useSQLite: true };
    queueOptions.r2Buckets = ["UPLOADS"];
    queueOptions.queueProducers = { IMPORTS: { queueName: "cio-imports" } };
    queueOptions.queueConsumers = { "cio-imports": { maxBatchSize: 1, maxBatchTimeout: 0.1, maxRetries: 10, retryDelay: 0 } };
  }
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: script ? path.dirname(script) : ROOT,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-09-01",
    bindings: clean,
    kvNamespaces: ledger === "kv" ? ["CHUNKS"] : [],
    durableObjects,
    ...queueOptions,
    assets: {
      directory: assetsDir(),
      binding: "ASSETS",
      routerConfig: {
        has_user_worker: true,
        invoke_user_worker_ahead_of_assets: false,
        static_routing: { user_worker: ["/import", "/config.json"] },
      },
    },
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, close: () => mf.dispose() };
}

export async function sandboxJson(sb, p) {
  const r = await fetch(`${sb.url}${p}`);
  return r.json();
}

/** POST a CSV to /import. */
export async function postImport(url, query, body, { token = TOKEN, headers = {} } = {}) {
  const q = new URLSearchParams(query);
  const res = await fetch(`${url}/import?${q}`, {
    method: "POST",
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": "text/csv", ...headers },
    body,
    ...(body && typeof body.getReader === "function" ? { duplex: "half" } : {}),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

/** Deterministic CSVs. people: id,email,first_name,plan,score; events: user_id,event,occurred_at,amount,note. */
export function peopleCsv(n, { bad = [] } = {}) {
  const rows = ["id,email,first_name,plan,score"];
  for (let i = 1; i <= n; i++) {
    if (bad.includes(i)) rows.push(`,nobody${i}@example.com,Bad,free,${i}`); // no id: rejected
    else rows.push(`${i},user${i}@example.com,"Name, ${i}",pro,${i % 97}`);
  }
  return rows.join("\n") + "\n";
}

export function eventsCsv(n, { bad = [], quotedNewlines = false } = {}) {
  const rows = ["user_id,event,occurred_at,amount,note"];
  for (let i = 1; i <= n; i++) {
    const ts = new Date(Date.UTC(2021, 0, 1) + i * 60_000).toISOString().replace(".000", "");
    const note = quotedNewlines && i % 7 === 0 ? `"line one\nline two, ${i}"` : `note ${i}`;
    if (bad.includes(i)) rows.push(`${i % 50},,${ts},${i}.5,${note}`); // no event name: rejected
    else rows.push(`${i % 50},purchased,${ts},${i}.5,${note}`);
  }
  return rows.join("\n") + "\n";
}
