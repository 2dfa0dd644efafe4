// A `fetch` for Node that makes its requests on a worker thread, for `importer.run(stream, { fetch })`.
//
// The importer builds each body in WebAssembly on the main thread; sending it with the global fetch (undici:
// request objects, body extraction, socket writes, reading the answer) was a fifth of the command line's CPU
// time, taken in turns with parsing. On its own thread, over node:http, sending overlaps with parsing the next
// rows and costs less. Bodies are transferred, not copied. Answers come back as real `Response`s, or with
// `{ response: "plain" }` as plain answers (status, statusText, ok, headers.get/has, text(), json()): enough for
// `run()`, and they keep undici off the calling thread altogether (loading it took ~50 ms of the command line's
// start, and each Response and Headers object ~0.1 ms).
//
//   const fetch = threadFetch();
//   try { await importer.run(stream, { fetch }); } finally { await fetch.close(); }
import { Worker, isMainThread, parentPort } from "node:worker_threads";

/** An answer without undici: what `run()` reads of a Response (and `ok`, `has`, `json()` for other callers). */
class PlainAnswer {
  constructor(status, statusText, pairs, text) {
    this.status = status;
    this.statusText = statusText;
    this.ok = status >= 200 && status <= 299;
    const map = new Map();
    for (const [k, v] of pairs) {
      const name = k.toLowerCase();
      map.set(name, map.has(name) ? `${map.get(name)}, ${v}` : v);
    }
    this.headers = {
      get: (name) => map.get(String(name).toLowerCase()) ?? null,
      has: (name) => map.has(String(name).toLowerCase()),
      entries: () => map.entries(),
      [Symbol.iterator]: () => map.entries(),
    };
    this.body = text;
  }
  text() {
    return Promise.resolve(this.body);
  }
  json() {
    return this.text().then(JSON.parse);
  }
}

/** Request headers as [name, value] pairs: a plain object's own entries as they are (names lowercased, values
 * made strings), anything else through `Headers`. */
function headerPairs(headers) {
  if (headers == null) return [];
  if (Object.getPrototypeOf(headers) === Object.prototype) {
    return Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]);
  }
  return [...new Headers(headers)];
}

/** Start the thread; returns a fetch-compatible function with a `close()` that ends the thread. With
 * `{ response: "plain" }` it resolves to plain answers instead of `Response`s (see above). */
export function threadFetch({ response = "Response" } = {}) {
  if (response !== "Response" && response !== "plain") {
    throw new TypeError(`threadFetch: expected response "Response" or "plain", found ${JSON.stringify(response)}`);
  }
  const plain = response === "plain";
  const worker = new Worker(new URL(import.meta.url));
  const pending = new Map();
  let next = 1;
  let failed = null;
  const settle = (id) => {
    const p = pending.get(id);
    pending.delete(id);
    if (p) p.signal?.removeEventListener("abort", p.onAbort);
    if (pending.size === 0) worker.unref();
    return p;
  };
  worker.on("message", (m) => {
    // A body the thread is done with comes back, to be freed by this thread's collector: left to the thread's,
    // which has little else to collect and seldom runs, they held ~85 MB more by 1 GB of input.
    if (m.done) return;
    const p = settle(m.id);
    if (!p) return;
    if (m.error) {
      const e = new Error(m.error.message, m.error.cause ? { cause: new Error(m.error.cause) } : undefined);
      e.name = m.error.name;
      p.reject(e);
      return;
    }
    // A null-body status (204, 304, …) cannot carry a body, even an empty one.
    const nullBody = m.status === 101 || m.status === 204 || m.status === 205 || m.status === 304;
    if (plain) {
      p.resolve(new PlainAnswer(m.status, m.statusText, m.headers, nullBody ? "" : m.text));
      return;
    }
    try {
      p.resolve(new Response(nullBody ? null : m.text, { status: m.status, statusText: m.statusText, headers: m.headers }));
    } catch (e) {
      p.reject(new TypeError("fetch failed", { cause: e })); // a status a Response cannot have
    }
  });
  const failAll = (e) => {
    failed = e;
    for (const id of [...pending.keys()]) settle(id).reject(e);
  };
  worker.on("error", (e) => failAll(new Error("the http thread failed", { cause: e })));
  worker.on("exit", () => failAll(new Error("the http thread has stopped")));
  // The thread keeps the process alive only while a request is out: an idle one must not hold up the exit. (After
  // the listeners: adding a "message" listener refs the worker again.)
  worker.unref();

  function fetch(url, init = {}) {
    if (failed) return Promise.reject(failed);
    const { signal } = init;
    if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException("the request was aborted", "AbortError"));
    let body = init.body;
    if (typeof body === "string") body = new TextEncoder().encode(body);
    else if (body != null && !(body instanceof Uint8Array)) return Promise.reject(new TypeError("threadFetch sends Uint8Array or string bodies only"));
    // Transfer the bytes (the caller's Uint8Array is detached: the importer's bodies are fresh copies); a view into
    // a larger buffer (or a shared one) is copied first so nothing else moves.
    if (body && (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength || !(body.buffer instanceof ArrayBuffer))) {
      body = body.slice();
    }
    const buffer = body ? body.buffer : null;
    const length = body ? body.byteLength : 0;
    let headers;
    try {
      headers = headerPairs(init.headers);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const id = next++;
      const onAbort = () => {
        if (!pending.has(id)) return;
        settle(id);
        worker.postMessage({ abort: id });
        reject(signal.reason ?? new DOMException("the request was aborted", "AbortError"));
      };
      pending.set(id, { resolve, reject, signal, onAbort });
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.ref();
      worker.postMessage({ id, url: String(url), method: init.method ?? "GET", headers, buffer, length }, buffer ? [buffer] : []);
    });
  }
  fetch.close = () => worker.terminate().then(() => undefined);
  return fetch;
}

// The thread: one request per message over node:http(s) with keep-alive sockets (lighter than undici's fetch,
// whose Request/Response objects and body streams cost more CPU than the bytes they carry); answers
// { id, status, statusText, headers, text } or { id, error } shaped like fetch's errors ("fetch failed" with
// the socket's error as the cause).
if (!isMainThread && parentPort) {
  // node:https (and TLS with it) is loaded for the first https request only: a shorter boot for the loopback.
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const http = require("node:http");
  let https;
  const agents = { "http:": new http.Agent({ keepAlive: true }), "https:": null };
  const agentFor = (protocol) => {
    if (protocol === "https:" && !agents["https:"]) {
      https = require("node:https");
      agents["https:"] = new https.Agent({ keepAlive: true });
    }
    return agents[protocol];
  };
  const requests = new Map();
  const answer = (id, msg) => {
    if (!requests.delete(id)) return; // aborted, or already answered
    parentPort.postMessage({ id, ...msg });
  };
  const failure = (e) => ({ error: { name: "TypeError", message: "fetch failed", cause: String(e?.message ?? e) } });
  parentPort.on("message", (m) => {
    if (m.abort) {
      const req = requests.get(m.abort);
      requests.delete(m.abort);
      req?.destroy();
      return;
    }
    let url;
    try {
      url = new URL(m.url);
      if (!(url.protocol in agents)) throw new Error(`unsupported protocol ${url.protocol}`);
    } catch (e) {
      parentPort.postMessage({ id: m.id, ...failure(e) });
      return;
    }
    const headers = Object.fromEntries(m.headers);
    if (m.buffer) headers["content-length"] = String(m.length);
    const agent = agentFor(url.protocol);
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request(url, { method: m.method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const pairs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        answer(m.id, { status: res.statusCode, statusText: res.statusMessage ?? "", headers: pairs, text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", (e) => answer(m.id, failure(e)));
    });
    requests.set(m.id, req);
    req.on("error", (e) => answer(m.id, failure(e)));
    // The body goes back once the request is over (written, answered or failed), not while a write of it may
    // still be under way.
    if (m.buffer) req.once("close", () => parentPort.postMessage({ done: true, buffer: m.buffer }, [m.buffer]));
    req.end(m.buffer ? Buffer.from(m.buffer, 0, m.length) : undefined);
  });
}
