// A tiny static server for the importer page (tests and the local demo). Serves www/ with the right MIME types
// (application/wasm included). When given a config, it serves that as /config.json and rewrites index.html's
// Content-Security-Policy <meta> so that connect-src allows the configured endpoint, and sends the same policy
// as a response header (plus frame-ancestors 'none', which a <meta> policy cannot carry).
//
//   node tests/e2e/static-server.mjs [--port 8080] [--endpoint http://127.0.0.1:9000] [--mode direct|worker]
//
// Prints STATIC_URL=http://127.0.0.1:PORT once listening.

import http from "node:http";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const WWW = path.resolve(here, "../../www");

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json; charset=utf-8", ".wasm": "application/wasm",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8", ".ts": "text/plain; charset=utf-8",
};

/** `cspConfig` (tests only) builds the policy from another config than the one served, to simulate a host whose
 *  policy does not allow the configured endpoint. */
export async function startStaticServer({ port = 0, host = "127.0.0.1", root = WWW, config = null, cspConfig = null } = {}) {
  const { applyCspToHtml, buildCsp } = await import(pathToFileURL(path.join(root, "lib/csp.js")).href);
  const cfg = config ?? JSON.parse(await fs.readFile(path.join(root, "config.json"), "utf8"));
  const policyCfg = cspConfig ?? cfg;
  const headerCsp = buildCsp(policyCfg, { meta: false });
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://x");
      let rel = decodeURIComponent(url.pathname);
      if (rel.endsWith("/")) rel += "index.html";
      const file = path.resolve(root, "." + rel);
      if (!file.startsWith(root + path.sep)) { res.writeHead(403).end(); return; }
      let body;
      if (rel === "/config.json" && config) body = Buffer.from(JSON.stringify(config));
      else body = await fs.readFile(file);
      if (rel.endsWith("/index.html") || rel === "/index.html") body = Buffer.from(applyCspToHtml(body.toString("utf8"), policyCfg));
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "content-length": body.length,
        "cache-control": "no-store",
        "content-security-policy": headerCsp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      res.writeHead(e?.code === "ENOENT" ? 404 : 500, { "content-type": "text/plain" }).end(e?.code === "ENOENT" ? "not found" : "error");
    }
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}`;
  return { url, port: server.address().port, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
  const endpoint = arg("--endpoint", null);
  const mode = arg("--mode", "direct");
  const s = await startStaticServer({ port: Number(arg("--port", 8080)), config: endpoint || mode !== "direct" ? { endpoint, mode } : null });
  console.log(`STATIC_URL=${s.url}`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
