// The instant sink in Node (the benchmark uses the native one, bench/sink.rs, and this one for comparison: same
// answers, same summary). An instant sink: answers every batch request as soon as its body has arrived, so a client's wall time is the
// client's own. It refuses bodies of 500,000 bytes or more with 413 (as the real APIs do) and requests without
// credentials with 401, and answers 200 {} to the rest without looking inside: the bodies are kept and parsed
// only when the summary is asked for (requests, bytes, items, bodies that were not JSON). Parsing each body
// before answering (JSON.parse of ~300 MB for a million events) cost this server ~3 s of CPU on the machine's
// second core while the client ran, which on two cores is time taken from the client under test.
// The validating sandbox (tests/sandbox/server.mjs) is used for the events-delivered check under real rules.
// node sink.mjs  ->  prints SINK_URL=http://127.0.0.1:PORT ; GET /__sink/summary ; POST /__sink/reset
import http from "node:http";

const LIMIT = 500_000;
let s;
let bodies;
let cpuAtReset;
function reset() {
  s = { requests: 0, bytes: 0, largestBody: 0, items: 0, notJson: 0, tooLarge: 0, unauthorized: 0, maxConcurrent: 0, firstAt: 0, lastAt: 0 };
  bodies = [];
  cpuAtReset = process.cpuUsage();
}
reset();
let inFlight = 0;

/** Count the items of the bodies received since the last summary. */
function countItems() {
  for (const body of bodies) {
    try {
      const j = JSON.parse(body.toString("utf8"));
      s.items += Array.isArray(j.batch) ? j.batch.length : 1;
    } catch {
      s.notJson++;
    }
  }
  bodies = [];
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/__sink/summary") {
    // the CPU spent receiving, before the parsing below (which is not part of answering)
    const cpu = process.cpuUsage(cpuAtReset);
    s.cpuSecs = (cpu.user + cpu.system) / 1e6;
    countItems();
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(s));
  }
  if (req.method === "POST" && req.url === "/__sink/reset") {
    reset();
    return res.end("{}");
  }
  const chunks = [];
  inFlight++;
  s.maxConcurrent = Math.max(s.maxConcurrent, inFlight);
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    inFlight--;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const now = Date.now();
    if (!s.firstAt) s.firstAt = now;
    s.lastAt = now;
    s.requests++;
    s.bytes += body.length;
    s.largestBody = Math.max(s.largestBody, body.length);
    let status = 200;
    if (body.length >= LIMIT) {
      s.tooLarge++;
      status = 413;
    } else if (req.headers.authorization) {
      bodies.push(body);
    } else {
      // No Authorization header: only a body with a writeKey (Pipelines from a browser) is let in; this path is
      // not taken by the benchmark's clients, so parsing it here costs them nothing.
      try {
        const j = JSON.parse(body.toString("utf8"));
        if (j.writeKey) {
          s.items += Array.isArray(j.batch) ? j.batch.length : 1;
        } else {
          s.unauthorized++;
          status = 401;
        }
      } catch {
        s.notJson++;
        status = 400;
      }
    }
    res.writeHead(status, { "content-type": "application/json" });
    res.end(status === 200 ? "{}" : '{"meta":{"error":"refused"}}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`SINK_URL=http://127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
process.on("SIGINT", () => server.close(() => process.exit(0)));
