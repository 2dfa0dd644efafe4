// The packed tarball as users on other platforms meet it: its TypeScript types under `tsc` (nodenext and bundler
// resolution), and the package and its command line in Deno, with real requests to the sandbox. Deno and
// TypeScript are dev-dependencies (node_modules/.bin/deno, node_modules/.bin/tsc): `npm ci` installs them.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startSandbox } from "../sandbox/server.mjs";
import { storedPeople, rejectedLines } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = path.join(ROOT, "dist/pkg");
const TSC = path.join(ROOT, "node_modules/.bin/tsc");
const DENO = path.join(ROOT, "node_modules/.bin/deno");
const TYPES = path.join(ROOT, "tests/types");

let dir;
let app;

/** Pack dist/pkg and install the tarball into a fresh folder (an ES-module app). */
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-platforms-"));
  const packed = JSON.parse(execFileSync("npm", ["pack", PKG, "--json", "--pack-destination", dir], { encoding: "utf8" }));
  app = path.join(dir, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(dir, packed[0].filename)], { cwd: app, stdio: "pipe" });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function tsc(tsconfig) {
  fs.copyFileSync(path.join(TYPES, "consumer.ts"), path.join(app, "consumer.ts"));
  fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(tsconfig));
  return spawnSync(TSC, ["-p", "tsconfig.json"], { cwd: app, encoding: "utf8" });
}

const BASE = JSON.parse(fs.readFileSync(path.join(TYPES, "tsconfig.json"), "utf8"));

describe("typescript", () => {
  test("the types compile for a consumer, and refuse what the package refuses (nodenext resolution)", () => {
    const r = tsc(BASE);
    assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
  });

  test("the same consumer under bundler resolution with the workerd and browser conditions", () => {
    for (const condition of ["workerd", "browser"]) {
      const r = tsc({ ...BASE, compilerOptions: { ...BASE.compilerOptions, module: "esnext", moduleResolution: "bundler", customConditions: [condition] } });
      assert.equal(r.status, 0, `tsc (${condition}) failed:\n${r.stdout}${r.stderr}`);
    }
  });

  test("a consumer that misuses the api does not compile (the check can fail)", () => {
    const bad = fs.readFileSync(path.join(TYPES, "consumer.ts"), "utf8").replace('api: "tracks"', 'api: "track"').replace("cio-backfill/fetch-thread", "cio-backfill/fetch-threads");
    fs.writeFileSync(path.join(app, "consumer.ts"), bad);
    fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(BASE));
    const r = spawnSync(TSC, ["-p", "tsconfig.json"], { cwd: app, encoding: "utf8" });
    assert.notEqual(r.status, 0, `tsc should fail:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /TS2578: Unused '@ts-expect-error' directive/, "a wrong api is an error the types catch");
    assert.match(r.stdout, /TS2307: Cannot find module 'cio-backfill\/fetch-threads'/, "only exported subpaths resolve");
  });
});

describe("deno", () => {
  let sb;
  before(async () => {
    sb = await startSandbox({ port: 0 });
  });
  after(() => sb.close());

  /** Deno in the app folder, asynchronously (the sandbox answers from this process's event loop); never prompts. */
  function denoRun(permissions, args, env = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(DENO, ["run", "--no-prompt", ...permissions, ...args], {
        cwd: app,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  }
  /** A script that reads only the app folder and talks only to the loopback sandbox. */
  const deno = (args) => denoRun(["--allow-read=.", "--allow-net=127.0.0.1"], args);

  test("deno is the pinned one", () => {
    const r = spawnSync(DENO, ["--version"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const want = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies.deno;
    assert.match(r.stdout, new RegExp(`^deno ${want.replaceAll(".", "\\.")} `));
  });

  test('import "cio-backfill" (its deno condition): a dry run, then both APIs send to the sandbox', async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    fs.writeFileSync(
      path.join(app, "deno-node-entry.mjs"),
      `import { Importer, ready, version } from "cio-backfill";
      await ready;
      const csv = "id,name,plan\\n1,Ada,pro\\n,Nobody,free\\n2,Grace,team\\n";
      const dry = new Importer({ api: "track", kind: "people", dryRun: true, keepPayloads: true });
      const out = { deno: typeof Deno.version.deno, version: version(), dry: await dry.run(new Response(csv).body) };
      out.first = JSON.parse(dry.takePayloads().split("\\n")[0]);
      for (const api of ["track", "pipelines"]) {
        const credentials = api === "track" ? { siteId: "site_test", apiKey: "track_key_test" } : { apiKey: "cdp_key_test" };
        const imp = new Importer({ api, kind: "people", endpoint: Deno.args[0], credentials });
        out[api] = await imp.run(new Response(csv).body);
        out[api + "Rejected"] = imp.takeRejectedCsv();
      }
      console.log(JSON.stringify(out));`,
    );
    const r = await deno(["deno-node-entry.mjs", sb.url]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.deno, "string", "it ran in deno");
    assert.equal(out.version, JSON.parse(fs.readFileSync(path.join(PKG, "package.json"), "utf8")).version);
    assert.deepEqual([out.dry.unsent, out.dry.rejected, out.dry.sent], [2, 1, 0]);
    assert.deepEqual(out.first, { type: "person", identifiers: { id: "1" }, action: "identify", attributes: { name: "Ada", plan: "pro" } });
    for (const api of ["track", "pipelines"]) {
      assert.deepEqual([out[api].sent, out[api].rejected, out[api].failed], [2, 1, 0], api);
      const rej = rejectedLines(out[api + "Rejected"]);
      assert.deepEqual(rej.map((x) => [x.line, x.code, x.cells]), [[3, "id_missing", ["", "Nobody", "free"]]], `${api}: the rejected row, with its line and code`);
      const people = await storedPeople(sb, api);
      assert.deepEqual([...people.keys()].sort(), ["1", "2"], `${api}: the sandbox has both people`);
      assert.equal(people.get("2").plan, "team");
    }
  });

  test('import "cio-backfill/browser": the wasm is fetched next to the module, and a send works', async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    fs.writeFileSync(
      path.join(app, "deno-browser-entry.mjs"),
      `import { Importer, ready } from "cio-backfill/browser";
      await ready;
      const imp = new Importer({ api: "pipelines", kind: "people", endpoint: Deno.args[0], credentials: { apiKey: "cdp_key_test" } });
      console.log(JSON.stringify(await imp.run(new Response("id,name\\n7,Lin\\n").body)));`,
    );
    const r = await deno(["deno-browser-entry.mjs", sb.url]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sent, 1);
    assert.deepEqual([...(await storedPeople(sb, "pipelines")).keys()], ["7"]);
  });

  test("the command line runs in deno: a file to the sandbox, the summary, the rejected rows and exit code 1", async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    fs.writeFileSync(path.join(app, "people.csv"), "id,name\n1,Ada\n,Nobody\n2,Grace\n");
    const cli = path.join("node_modules", "cio-backfill", "bin", "cio-backfill.mjs");
    const r = await denoRun(
      ["--allow-read=.", "--allow-write=.", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys"],
      [cli, "import", "people.csv", "--kind", "people", "--api", "track", "--endpoint", sb.url, "--json"],
      { CIO_SITE_ID: "site_test", CIO_TRACK_API_KEY: "track_key_test" },
    );
    assert.equal(r.status, 1, `exit 1: a row was rejected\n${r.stderr}`);
    const s = JSON.parse(r.stdout);
    assert.deepEqual([s.rows, s.sent, s.rejected, s.exitCode], [3, 2, 1, 1]);
    const rej = rejectedLines(fs.readFileSync(path.join(app, "people.rejected.csv"), "utf8"));
    assert.deepEqual(rej.map((x) => [x.line, x.code]), [[3, "id_missing"]]);
    assert.deepEqual([...(await storedPeople(sb, "track")).keys()].sort(), ["1", "2"]);
    assert.doesNotMatch(r.stdout + r.stderr, /track_key_test/, "the key is never printed");
  });
});
