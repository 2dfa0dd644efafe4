#!/usr/bin/env node
// Configure a copy of the importer page for a host: writes config.json and puts the matching
// Content-Security-Policy into index.html's <meta> tag and into _headers (Cloudflare Pages / Netlify format).
// A <meta> policy cannot change after the page loads, so the endpoint has to be written into the page.
//
//   node www/tools/configure.mjs [--dir www] [--endpoint https://import.example.com | --no-endpoint] [--mode direct|worker]
//
// Without options it prints the current configuration and policy.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
const dir = path.resolve(opt("--dir") ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
const { buildCsp, applyCspToHtml, endpointOrigin } = await import(pathToFileURL(path.join(dir, "lib/csp.js")).href);

const cfgFile = path.join(dir, "config.json");
const config = { endpoint: null, mode: "direct", ...JSON.parse(fs.readFileSync(cfgFile, "utf8")) };
let changed = false;
if (args.includes("--no-endpoint")) { config.endpoint = null; changed = true; }
if (opt("--endpoint") !== undefined) { config.endpoint = endpointOrigin(opt("--endpoint")); changed = true; }
if (opt("--mode") !== undefined) {
  if (!["direct", "worker"].includes(opt("--mode"))) throw new Error("--mode must be direct or worker");
  config.mode = opt("--mode");
  changed = true;
}

if (changed) {
  fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2) + "\n");
  const html = path.join(dir, "index.html");
  fs.writeFileSync(html, applyCspToHtml(fs.readFileSync(html, "utf8"), config));
  fs.writeFileSync(path.join(dir, "_headers"),
    `/*\n  Content-Security-Policy: ${buildCsp(config, { meta: false })}\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n`);
}
console.log(JSON.stringify(config));
console.log(`Content-Security-Policy: ${buildCsp(config, { meta: false })}`);
