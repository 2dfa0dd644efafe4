// An instant sink: answers every batch request at once, so a client's wall time is the client's own. It reads the
// body, counts requests, bytes and items (JSON.parse of the body), refuses bodies of 500,000 bytes or more with
// 413 as the real APIs do, and answers 200 {}. The validating sandbox (tests/sandbox/server.mjs) is ~7 MB/s of
// JSON on this machine, which would make every client look the same; it is used for the events-delivered check.
// node sink.mjs  ->  prints SINK_URL=http://127.0.0.1:PORT ; GET /__sink/summary ; POST /__sink/reset
import http from "node:http";

const LIMIT = 500_000;
let s;
function reset() {
  s = { requests: 0, bytes: 0, largestBody: 0, items: 0, tooLarge: 0, unauthorized: 0, maxConcurrent: 0, firstAt: 0, lastAt: 0 };
}
reset();
let inFlight = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/__sink/summary") {
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
    const body = Buffer.concat(chunks);
    const now = Date.now();
    if (!s.firstAt) s.firstAt = now;
    s.lastAt = now;
    s.requests++;
    s.bytes += body.length;
    s.largestBody = Math.max(s.largestBody, body.length);
    const auth = req.headers.authorization;
    let status = 200;
    if (body.length >= LIMIT) {
      s.tooLarge++;
      status = 413;
    } else {
      try {
        const j = JSON.parse(body.toString("utf8"));
        if (!auth && !j.writeKey) {
          s.unauthorized++;
          status = 401;
        } else {
          s.items += Array.isArray(j.batch) ? j.batch.length : 1;
        }
      } catch {
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
