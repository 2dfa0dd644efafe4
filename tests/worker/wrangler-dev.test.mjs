// The real worker/wrangler.toml under `wrangler dev --local` (assets, run_worker_first, Durable Object
// migrations, the CompiledWasm rule): the page, /config.json and an import through the sandbox.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import fs from "node:fs";
import { ROOT, startSandbox, secretsFor, peopleCsv, sandboxJson, postImport } from "./harness.mjs";

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

test("wrangler dev --local with worker/wrangler.toml", { timeout: 120_000 }, async (t) => {
  fs.mkdirSync(path.join(ROOT, "www"), { recursive: true });
  const sb = await startSandbox({ port: 0 });
  const port = await freePort();
  const state = fs.mkdtempSync(path.join(ROOT, "dist/wrangler-state-"));
  const vars = Object.entries(secretsFor("pipelines", sb.url)).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  // Its own process group (detached), so that stopping it stops workerd too.
  const child = spawn(path.join(ROOT, "node_modules/.bin/wrangler"), ["dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "-c", "worker/wrangler.toml", "--persist-to", state, ...vars], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.once("exit", r));
  t.after(async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(state, { recursive: true, force: true });
    await sb.close();
  });
  const url = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    await new Promise((r) => setTimeout(r, 300));
    ready = await fetch(`${url}/config.json`).then((r) => r.ok, () => false);
  }
  assert.ok(ready, `wrangler dev did not start:\n${log}`);

  const cfg = await (await fetch(`${url}/config.json`)).json();
  assert.equal(cfg.mode, "worker", "the Worker answers /config.json, not www/config.json");
  assert.equal(cfg.api, "pipelines");
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);

  const r = await postImport(url, { kind: "people", chunk: "0", source: "wrangler-dev" }, peopleCsv(120), { headers: {} });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sent, 120);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).pipelines.people, 120);
});
