// Tests of the Customer.io sandbox: real HTTP (global fetch) to 127.0.0.1, port 0.
import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startSandbox, isUlid, isIsoTimestamp, parseJsonDetailed, makeRng } from "./server.mjs";

const SERVER = fileURLToPath(new URL("./server.mjs", import.meta.url));
const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const TRACK_AUTH = basic("site_test", "track_key_test");
const CDP_AUTH = basic("cdp_key_test", "");
const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
const ULID2 = "01ARZ3NDEKTSV4RRFFQ69G5FAW";

const person = (id, attributes = {}, extra = {}) => ({ type: "person", identifiers: { id }, action: "identify", attributes, ...extra });
const event = (id, name, extra = {}) => ({ type: "person", identifiers: { id }, action: "event", name, ...extra });

let sb;
async function post(path, body, { auth = TRACK_AUTH, headers = {}, raw = false } = {}) {
  const h = { "content-type": "application/json", ...headers };
  if (auth) h.authorization = auth;
  const res = await fetch(sb.url + path, { method: "POST", headers: h, body: raw ? body : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, headers: res.headers };
}
const track = (batch, opts) => post("/api/v2/batch", { batch }, opts);
const cdp = (batch, opts = {}) => post("/v1/batch", { batch }, { auth: CDP_AUTH, ...opts });
const strict = { headers: { "x-strict-mode": "1" } };
const get = async (path) => (await fetch(sb.url + path)).json();
const summary = () => get("/__sandbox/summary");

describe("sandbox", () => {
  before(async () => {
    sb = await startSandbox({ port: 0 });
  });
  after(async () => {
    await sb.close();
  });
  beforeEach(async () => {
    await post("/__sandbox/reset", {}, { auth: null });
  });

  // ------------------------------------------------------------------ basics
  test("listens on loopback and refuses other hosts", async () => {
    assert.match(sb.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(startSandbox({ host: "0.0.0.0" }), /loopback/);
  });

  test("helpers: ULID, ISO-8601, JSON spans and non-integer timestamps, seeded rng", () => {
    assert.ok(isUlid(ULID));
    assert.ok(isUlid(ULID.toLowerCase()));
    assert.ok(!isUlid("01ARZ3NDEKTSV4RRFFQ69G5FA")); // 25
    assert.ok(!isUlid("01ARZ3NDEKTSV4RRFFQ69G5FAI")); // I is not Crockford
    assert.ok(!isUlid("81ARZ3NDEKTSV4RRFFQ69G5FAV")); // overflows 128 bits
    assert.ok(isIsoTimestamp("2013-01-28T16:10:15Z"));
    assert.ok(isIsoTimestamp("2013-01-28T16:10:15.123+02:00"));
    assert.ok(!isIsoTimestamp("2013-02-30T16:10:15Z"));
    assert.ok(!isIsoTimestamp("2013-01-28 16:10"));
    assert.ok(!isIsoTimestamp("1359389415"));
    const p = parseJsonDetailed('{"batch":[ {"timestamp":1.0} , {"timestamp":5,"a":[1.5]} ]}');
    assert.deepEqual(p.value, { batch: [{ timestamp: 1 }, { timestamp: 5, a: [1.5] }] });
    const [a, b] = p.value.batch;
    assert.ok(p.nonIntegerTimestamp.has(a));
    assert.ok(!p.nonIntegerTimestamp.has(b));
    assert.deepEqual(p.spans.get(p.value.batch).map(([s, e]) => e - s), [17, 25]);
    assert.throws(() => parseJsonDetailed('{"a":1,}'));
    assert.throws(() => parseJsonDetailed("[1] x"));
    const r1 = makeRng(7), r2 = makeRng(7);
    assert.deepEqual([r1(), r1(), r1()], [r2(), r2(), r2()]);
  });

  // ------------------------------------------------------------------ auth
  test("Track: Basic auth required; wrong key or site id is 401 meta.error", async () => {
    for (const auth of [null, basic("site_test", "nope"), basic("other", "track_key_test"), "Bearer track_key_test"]) {
      const r = await track([person("1")], { auth });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { meta: { error: "unauthorized" } });
    }
    const ok = await track([person("1")]);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, {});
    const s = await summary();
    assert.equal(s.track.unauthorized, 4);
    assert.equal(s.track.people, 1);
  });

  test("Track: region endpoint", async () => {
    const bad = await fetch(sb.url + "/api/v1/accounts/region");
    assert.equal(bad.status, 401);
    const r = await fetch(sb.url + "/api/v1/accounts/region", { headers: { authorization: TRACK_AUTH } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { url: "https://track.customer.io", data_center: "us", environment_id: 1 });
  });

  test("Pipelines: Basic key, writeKey in a text/plain body, bad key (non-strict 200 dropped, strict 401)", async () => {
    const item = { type: "identify", userId: "u1", traits: { a: 1 } };
    assert.equal((await cdp([item])).status, 200);
    // browser path: no Authorization, writeKey in the body, text/plain, short path
    const b = await post("/v1/b", { writeKey: "cdp_key_test", batch: [{ ...item, userId: "u2" }] }, { auth: null, headers: { "content-type": "text/plain" } });
    assert.equal(b.status, 200);
    assert.equal(b.headers.get("access-control-allow-origin"), "*");
    const t = await post("/v1/t", { writeKey: "cdp_key_test", userId: "u2", event: "clicked", messageId: "m1" }, { auth: null, headers: { "content-type": "text/plain" } });
    assert.equal(t.status, 200);
    const i = await post("/v1/i", { writeKey: "cdp_key_test", userId: "u3" }, { auth: null, headers: { "content-type": "text/plain" } });
    assert.equal(i.status, 200);
    // bad key: silently dropped without strict mode, 401 with it
    const bad = await cdp([{ ...item, userId: "x" }], { auth: basic("wrong", "") });
    assert.equal(bad.status, 200);
    const none = await cdp([{ ...item, userId: "y" }], { auth: null });
    assert.equal(none.status, 200);
    const badStrict = await cdp([{ ...item, userId: "z" }], { auth: basic("wrong", ""), ...strict });
    assert.equal(badStrict.status, 401);
    const wkBad = await post("/v1/b", { writeKey: "wrong", batch: [item] }, { auth: null, ...strict });
    assert.equal(wkBad.status, 401);
    const s = await summary();
    assert.equal(s.pipelines.people, 3);
    assert.equal(s.pipelines.events, 1);
    assert.equal(s.pipelines.unauthorized, 4);
    assert.equal(s.pipelines.droppedSilently, 2);
    const people = await get("/__sandbox/people?api=pipelines");
    assert.deepEqual(people.map((p) => p.userId).sort(), ["u1", "u2", "u3"]);
    const events = await get("/__sandbox/events?api=pipelines");
    assert.deepEqual(events, [{ messageId: "m1", userId: "u2", anonymousId: null, identifier: "u2", name: "clicked", event: "clicked", timestamp: null, properties: {} }]);
  });

  // ------------------------------------------------------------------ Track validation
  test("Track: each validation rule yields a 207 entry with batch_index and field; valid ones are stored", async () => {
    const long = (n) => "x".repeat(n);
    const cases = [
      [{ ...person("1"), type: "object" }, "type"],
      [{ type: "person", action: "identify" }, "identifiers"],
      [{ type: "person", identifiers: { id: "1", email: "a@b.c" }, action: "identify" }, "identifiers"],
      [{ type: "person", identifiers: {}, action: "identify" }, "identifiers"],
      [{ type: "person", identifiers: { phone: "+1" }, action: "identify" }, "identifiers.phone"],
      [person(long(151)), "identifiers.id"],
      [person(""), "identifiers.id"],
      [{ ...person("1"), action: "delete" }, "action"],
      [{ ...person("1"), action: undefined }, "action"],
      [event("1", "   "), "name"],
      [event("1", undefined), "name"],
      [event("1", long(101)), "name"],
      [event("1", "ok", { id: "not-a-ulid" }), "id"],
      [event("1", "ok", { id: ULID.slice(1) }), "id"],
      [person("1", {}, { timestamp: "1359389415" }), "timestamp"],
      [person("1", {}, { timestamp: 1359389415.5 }), "timestamp"],
      [person("1", Object.fromEntries(Array.from({ length: 301 }, (_, k) => [`a${k}`, k]))), "attributes"],
      [person("1", { [long(151)]: 1 }), `attributes.${long(151)}`],
      [person("1", { big: long(999) }), "attributes.big"], // 999 chars + 2 quotes = 1001 bytes serialized
      [person("1", { big: { a: long(1000) } }), "attributes.big"],
      [event("1", "ok", { attributes: { d: long(100_001) } }), ""], // over 32,000 bytes first: reason too_large
      [person("1", [1, 2]), "attributes"],
      ["not an object", ""],
    ];
    const good = [person("ok1", { a: long(998) }), event("ok1", "  fine  ", { id: ULID, timestamp: 1359389415 }), person("ok2", Object.fromEntries(Array.from({ length: 300 }, (_, k) => [`a${k}`, k])))];
    // interleave: good ones at 0, middle, end
    const batch = [good[0], ...cases.slice(0, 10).map((c) => c[0]), good[1], ...cases.slice(10).map((c) => c[0]), good[2]];
    const expected = [];
    batch.forEach((e, k) => {
      const c = cases.find((x) => x[0] === e);
      if (c) expected.push([k, c[1]]);
    });
    const r = await track(batch);
    assert.equal(r.status, 207);
    assert.deepEqual(r.json.errors.map((e) => [e.batch_index, e.field]), expected);
    for (const e of r.json.errors) {
      assert.equal(typeof e.reason, "string");
      assert.equal(typeof e.message, "string");
    }
    const s = await summary();
    assert.equal(s.track.rejectedEntries, cases.length);
    assert.equal(s.track.acceptedEntries, 3);
    assert.equal(s.track.people, 2);
    assert.equal(s.track.events, 1);
  });

  test("Track: event data limit (100,000 bytes) applies when the entry limit is raised", async () => {
    const s2 = await startSandbox({ limits: { trackEntryBytes: 300_000 } });
    try {
      const send = (batch) => fetch(s2.url + "/api/v2/batch", { method: "POST", headers: { authorization: TRACK_AUTH }, body: JSON.stringify({ batch }) });
      const ok = event("1", "e", { attributes: { d: "x".repeat(100_000 - 8) } }); // {"d":"…"} = 100,000 bytes
      const over = event("1", "e", { attributes: { d: "x".repeat(100_000 - 7) } });
      const r = await send([ok, over]);
      assert.equal(r.status, 207);
      assert.deepEqual((await r.json()).errors.map((e) => [e.batch_index, e.field, e.reason]), [[1, "attributes", "too_long"]]);
    } finally {
      await s2.close();
    }
  });

  test("Track: a float timestamp written 1.0 is rejected even though JSON.parse would make it 1", async () => {
    const body = '{"batch":[{"type":"person","identifiers":{"id":"1"},"action":"identify","timestamp":1359389415.0},' +
      '{"type":"person","identifiers":{"id":"2"},"action":"identify","timestamp":1.359389415e9}]}';
    const r = await post("/api/v2/batch", body, { raw: true });
    assert.equal(r.status, 207);
    assert.deepEqual(r.json.errors.map((e) => [e.batch_index, e.field]), [[0, "timestamp"], [1, "timestamp"]]);
  });

  test("Track: whole request malformed is 400", async () => {
    for (const body of ["not json", '{"batch":{}}', "[]", '{"entries":[]}', '{"batch":[1,]}']) {
      const r = await post("/api/v2/batch", body, { raw: true });
      assert.equal(r.status, 400, body);
    }
    const bad = await post("/api/v2/batch", Buffer.from([0x7b, 0xff, 0x7d]), { raw: true });
    assert.equal(bad.status, 400);
    assert.equal((await summary()).track.rejectedRequests, 6);
  });

  test("Track: size limits (body < 500,000 bytes; entry <= 32,000 bytes; entity <= 32,000)", async () => {
    // An entry of exactly 32,000 bytes passes, 32,001 fails (measured as sent).
    const base = JSON.stringify(event("1", "big", { attributes: { d: "" } }));
    const exact = event("1", "big", { attributes: { d: "x".repeat(32_000 - base.length) } });
    assert.equal(Buffer.byteLength(JSON.stringify(exact)), 32_000);
    const over = event("1", "big", { attributes: { d: "x".repeat(32_001 - base.length) } });
    const r = await track([exact, over]);
    assert.equal(r.status, 207);
    assert.deepEqual(r.json.errors.map((e) => [e.batch_index, e.reason]), [[1, "too_large"]]);

    // Body of 499,999 bytes passes, 500,000 is refused.
    const pad = (target) => {
      const entries = [];
      const unit = event("1", "p", { attributes: { d: "y".repeat(20_000) } });
      while (JSON.stringify({ batch: [...entries, unit] }).length < target - 1_000) entries.push(unit);
      const now = JSON.stringify({ batch: [...entries, event("1", "p", { attributes: { d: "" } })] }).length;
      entries.push(event("1", "p", { attributes: { d: "z".repeat(target - now) } }));
      const text = JSON.stringify({ batch: entries });
      assert.equal(Buffer.byteLength(text), target);
      return text;
    };
    const ok = await post("/api/v2/batch", pad(499_999), { raw: true });
    assert.equal(ok.status, 200);
    const big = await post("/api/v2/batch", pad(500_000), { raw: true });
    assert.equal(big.status, 413);
    const s = await summary();
    assert.equal(s.largestBody, 500_000);

    // entity: one entry
    const e1 = await post("/api/v2/entity", exact);
    assert.equal(e1.status, 200);
    const e2 = await post("/api/v2/entity", over);
    assert.equal(e2.status, 413);
    const e3 = await post("/api/v2/entity", event("1", " "));
    assert.equal(e3.status, 400);
    assert.equal(e3.json.errors[0].field, "name");
  });

  test("Track: events deduplicated by ULID (repeat ignored but 200), events without id always stored", async () => {
    const e = event("5", "purchased", { id: ULID, timestamp: 1359389415, attributes: { price: 23.45 } });
    assert.equal((await track([e])).status, 200);
    assert.equal((await track([e, { ...e, id: ULID.toLowerCase() }])).status, 200); // ULIDs are case-insensitive
    assert.equal((await post("/api/v2/entity", e)).status, 200);
    await track([{ ...e, id: ULID2 }, { ...e, id: undefined }, { ...e, id: undefined }]);
    const s = await summary();
    assert.equal(s.track.events, 4);
    assert.equal(s.track.duplicateEvents, 3);
    const events = await get("/__sandbox/events?api=track");
    assert.deepEqual(events[0], {
      id: ULID,
      identifiers: { id: "5" },
      identifier: "5",
      identifierKind: "id",
      name: "purchased",
      timestamp: 1359389415,
      receivedTimestamp: 1359389415,
      attributes: { price: 23.45 },
    });
  });

  test("Track: people merged per identifier; an older identify is dropped", async () => {
    await track([person("7", { a: 1, b: 1 }, { timestamp: 100 })]);
    await track([person("7", { b: 2, c: 2 }, { timestamp: 200 })]);
    await track([person("7", { a: 9, d: 9 }, { timestamp: 150 })]); // older than the newest edit: dropped
    await track([person("7", { e: 5 }, { timestamp: 200 })]); // same time: applied
    await track([{ type: "person", identifiers: { email: "p@x.io" }, action: "identify", attributes: { z: 1 } }]);
    const people = await get("/__sandbox/people?api=track");
    assert.deepEqual(people, [
      { identifiers: { id: "7" }, attributes: { a: 1, b: 2, c: 2, e: 5 }, updatedAt: 200 },
      { identifiers: { email: "p@x.io" }, attributes: { z: 1 }, updatedAt: people[1].updatedAt },
    ]);
    const s = await summary();
    assert.equal(s.track.people, 2);
    assert.equal(s.track.outOfOrderDropped, 1);
    // An identify without a timestamp counts as "now": a later backfilled, older update is dropped.
    await track([person("8", { a: 1 })]);
    await track([person("8", { a: 2 }, { timestamp: 1_000_000 })]);
    const p8 = (await get("/__sandbox/people?api=track")).find((p) => p.identifiers.id === "8");
    assert.deepEqual(p8.attributes, { a: 1 });
  });

  // ------------------------------------------------------------------ Pipelines validation
  const cdpCases = [
    [{ type: "identify" }, /userId or anonymousId/],
    [{ type: "track", userId: "1" }, /event/],
    [{ type: "track", userId: "1", event: "  " }, /event/],
    [{ type: "track", event: "x" }, /userId or anonymousId/],
    [{ type: "bogus", userId: "1" }, /type/],
    [{ type: "identify", userId: "1", timestamp: 1359389415 }, /timestamp/],
    [{ type: "identify", userId: "1", timestamp: "yesterday" }, /timestamp/],
    [{ type: "identify", userId: "1", messageId: 5 }, /messageId/],
    [{ type: "identify", userId: "1", traits: "x" }, /traits/],
    [{ type: "identify", userId: "x".repeat(151) }, /userId/],
    [{ type: "identify", userId: "1", traits: { t: "x".repeat(999) } }, /value/],
    [{ type: "track", userId: "1", event: "x", properties: { d: "x".repeat(31_000) }, pad: "" }, null], // valid
    [{ type: "identify", userId: "1", traits: { d: "x".repeat(500) }, big: "y".repeat(32_000) }, /32000/],
  ];

  test("Pipelines strict mode: any invalid item refuses the whole batch with 400 meta.errors naming the item", async () => {
    for (const [k, [item, re]] of cdpCases.entries()) {
      if (!re) continue;
      const batch = [{ type: "identify", userId: "ok" }, item];
      const r = await cdp(batch, strict);
      assert.equal(r.status, 400, `case ${k}`);
      assert.ok(Array.isArray(r.json.meta.errors), `case ${k}`);
      assert.match(r.json.meta.errors[0], /^item 1: /, `case ${k}`);
      assert.match(r.json.meta.errors[0], re, `case ${k}`);
    }
    const s = await summary();
    assert.equal(s.pipelines.people, 0, "nothing stored from a refused batch");
    assert.equal(s.pipelines.rejectedBatches, cdpCases.filter((c) => c[1]).length);
    const ok = await cdp([{ type: "identify", userId: "ok", timestamp: "2013-01-28T16:10:15Z" }, cdpCases[11][0]], strict);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, {});
  });

  test("Pipelines non-strict: invalid items get 200 and are silently dropped, valid ones stored", async () => {
    const batch = [{ type: "identify", userId: "ok1" }, ...cdpCases.map((c) => c[0]), { type: "track", userId: "ok1", event: "e", messageId: "m" }];
    const r = await cdp(batch);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {});
    const s = await summary();
    assert.equal(s.pipelines.droppedSilently, cdpCases.filter((c) => c[1]).length);
    assert.equal(s.pipelines.people, 1);
    assert.equal(s.pipelines.events, 2);
    assert.equal(s.pipelines.rejectedBatches, 0);
  });

  test("Pipelines: single-call endpoints, type from the path, size limits", async () => {
    assert.equal((await post("/v1/identify", { userId: "a", traits: { x: 1 } }, { auth: CDP_AUTH })).status, 200);
    assert.equal((await post("/v1/track", { userId: "a", event: "e", messageId: "1" }, { auth: CDP_AUTH })).status, 200);
    assert.equal((await post("/v1/page", { userId: "a", name: "home" }, { auth: CDP_AUTH })).status, 200);
    const mismatch = await post("/v1/track", { type: "identify", userId: "a" }, { auth: CDP_AUTH, ...strict });
    assert.equal(mismatch.status, 400);
    const bigOne = { userId: "a", event: "e", properties: { d: "x".repeat(32_000) } };
    assert.equal((await post("/v1/track", bigOne, { auth: CDP_AUTH, ...strict })).status, 400);
    assert.equal((await post("/v1/track", bigOne, { auth: CDP_AUTH })).status, 200); // dropped silently
    // batch body over 500,000 bytes
    const items = Array.from({ length: 20 }, (_, k) => ({ type: "track", userId: "a", event: "e", messageId: `b${k}`, properties: { d: "x".repeat(25_000) } }));
    assert.ok(JSON.stringify({ batch: items }).length > 500_000);
    assert.equal((await cdp(items, strict)).status, 400);
    assert.equal((await cdp(items)).status, 200);
    const s = await summary();
    assert.equal(s.pipelines.people, 1);
    assert.equal(s.pipelines.events, 1);
    assert.equal(s.pipelines.other, 1);
    assert.equal(s.pipelines.droppedSilently, 1 + 20);
    assert.equal(s.pipelines.rejectedBatches, 3);
    const bad = await post("/v1/batch", "{oops", { raw: true, auth: CDP_AUTH });
    assert.equal(bad.status, 400);
  });

  test("Pipelines: people by userId, events by messageId (duplicates counted, stored once)", async () => {
    await cdp([
      { type: "identify", userId: "u", traits: { a: 1 }, messageId: "i1" },
      { type: "identify", userId: "u", traits: { b: 2 }, messageId: "i2" },
      { type: "identify", anonymousId: "anon-1", traits: { c: 3 } },
      { type: "track", userId: "u", event: "e", messageId: "m1", timestamp: "2020-01-01T00:00:00Z", properties: { p: 1 } },
      { type: "track", userId: "u", event: "e", messageId: "m1", properties: { p: 2 } },
      { type: "track", userId: "u", event: "e", messageId: "m2" },
    ]);
    await cdp([{ type: "identify", userId: "u", traits: { a: 1 }, messageId: "i1" }]);
    const s = await summary();
    assert.equal(s.pipelines.people, 2);
    assert.equal(s.pipelines.events, 2);
    assert.equal(s.pipelines.duplicateMessages, 2);
    const people = await get("/__sandbox/people?api=pipelines");
    assert.deepEqual(people[0], { userId: "u", anonymousId: null, traits: { a: 1, b: 2 }, timestamp: null, messageIds: ["i1", "i2"] });
    const events = await get("/__sandbox/events?api=pipelines");
    assert.deepEqual(events[0].properties, { p: 1 });
    assert.equal(events[0].timestamp, "2020-01-01T00:00:00Z");
  });

  // ------------------------------------------------------------------ CORS
  test("CORS: preflight allowed; every response carries Access-Control-Allow-Origin", async () => {
    const r = await fetch(sb.url + "/v1/batch", {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-strict-mode" },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), "http://localhost:5173");
    assert.match(r.headers.get("access-control-allow-methods"), /POST/);
    assert.match(r.headers.get("access-control-allow-headers"), /Authorization/);
    assert.match(r.headers.get("access-control-allow-headers"), /X-Strict-Mode/);
    const p = await track([person("1")], { headers: { origin: "http://localhost:5173" } });
    assert.equal(p.headers.get("access-control-allow-origin"), "http://localhost:5173");
    const unauth = await track([person("1")], { auth: null });
    assert.equal(unauth.headers.get("access-control-allow-origin"), "*");
    assert.match(unauth.headers.get("access-control-expose-headers"), /Retry-After/);
  });

  // ------------------------------------------------------------------ summary
  test("summary: requests, byStatus, largestBody, maxConcurrent, maxPerSecond", async () => {
    await Promise.all(Array.from({ length: 8 }, (_, k) => track([person(String(k))])));
    await track([person("x")], { auth: null });
    await track([event("x", "")]);
    const s = await summary();
    assert.equal(s.requests, 10);
    assert.deepEqual(s.byStatus, { 200: 8, 401: 1, 207: 1 });
    assert.ok(s.largestBody > 50);
    assert.ok(s.maxConcurrent >= 1 && s.maxConcurrent <= 8);
    assert.ok(s.maxPerSecond >= 10, `maxPerSecond ${s.maxPerSecond}`);
    assert.equal(s.track.people, 8);
    const log = await get("/__sandbox/requests");
    assert.equal(log.length, 10);
    assert.ok(!JSON.stringify(log).includes("track_key_test"));
  });
});

// ---------------------------------------------------------------------- separate servers
describe("sandbox options", () => {
  test("refusePreflight: OPTIONS 403 without CORS; simple text/plain POST still gets ACAO", async () => {
    const s = await startSandbox({ refusePreflight: true });
    try {
      const r = await fetch(s.url + "/v1/batch", { method: "OPTIONS", headers: { origin: "http://x.test", "access-control-request-method": "POST" } });
      assert.equal(r.status, 403);
      assert.equal(r.headers.get("access-control-allow-origin"), null);
      const p = await fetch(s.url + "/v1/b", {
        method: "POST",
        headers: { "content-type": "text/plain", origin: "http://x.test" },
        body: JSON.stringify({ writeKey: "cdp_key_test", batch: [{ type: "identify", userId: "1" }] }),
      });
      assert.equal(p.status, 200);
      assert.equal(p.headers.get("access-control-allow-origin"), "http://x.test");
      assert.equal(s.state.summary().pipelines.people, 1);
      assert.equal(s.state.summary().preflights, 1);
    } finally {
      await s.close();
    }
  });

  test("custom credentials", async () => {
    const s = await startSandbox({ siteId: "s2", trackApiKey: "k2", pipelinesApiKey: "p2" });
    try {
      const r = await fetch(s.url + "/api/v2/entity", { method: "POST", headers: { authorization: basic("s2", "k2") }, body: JSON.stringify(person("1")) });
      assert.equal(r.status, 200);
      const d = await fetch(s.url + "/v1/identify", { method: "POST", headers: { authorization: basic("cdp_key_test", ""), "x-strict-mode": "1" }, body: JSON.stringify({ userId: "1" }) });
      assert.equal(d.status, 401);
      assert.ok(!JSON.stringify(s.state.config).includes("k2"));
    } finally {
      await s.close();
    }
  });

  const runSequence = async (faults, n = 30) => {
    const s = await startSandbox({ faults });
    const out = [];
    try {
      for (let k = 0; k < n; k++) {
        try {
          const r = await fetch(s.url + "/api/v2/batch", { method: "POST", headers: { authorization: TRACK_AUTH }, body: JSON.stringify({ batch: [event("u", "e", { id: `01ARZ3NDEKTSV4RRFFQ69G5F${String(k).padStart(2, "0")}` })] }) });
          await r.arrayBuffer();
          out.push(r.status === 429 ? `429:${r.headers.get("retry-after")}` : r.status);
        } catch (e) {
          out.push("network");
        }
      }
      return { out, summary: s.state.summary(), events: s.state.events("track") };
    } finally {
      await s.close();
    }
  };

  test("faults: deterministic for a seed; 429 with Retry-After every Nth; 5xx share", async () => {
    const f = { seed: 42, errorRate: 0.3, rateLimitEvery: 5, retryAfter: 2 };
    const a = await runSequence(f);
    const b = await runSequence(f);
    assert.deepEqual(a.out, b.out);
    assert.deepEqual([4, 9, 14, 19, 24, 29].map((k) => a.out[k]), Array(6).fill("429:2"));
    const errors = a.out.filter((x) => x === 500 || x === 503).length;
    assert.ok(errors >= 3 && errors <= 15, `errors ${errors}`);
    assert.equal(a.summary.faultsInjected.errors, errors);
    assert.equal(a.summary.track.events, a.out.filter((x) => x === 200).length, "faulted requests store nothing");
    const c = await runSequence({ ...f, seed: 43 });
    assert.notDeepEqual(a.out, c.out);
  });

  test("faults: Retry-After as an HTTP date", async () => {
    const { out } = await runSequence({ rateLimitEvery: 1, retryAfter: "date", retryAfterSeconds: 3 }, 1);
    const value = out[0].slice(4);
    const when = Date.parse(value);
    assert.ok(Number.isFinite(when), value);
    assert.ok(when - Date.now() > 1000 && when - Date.now() <= 5000);
  });

  test("faults: a dropped connection is a client network error, yet the data was stored", async () => {
    const { out, summary, events } = await runSequence({ seed: 9, dropRate: 0.5 }, 20);
    const dropped = out.filter((x) => x === "network").length;
    assert.ok(dropped >= 3 && dropped <= 17, `dropped ${dropped}`);
    assert.equal(summary.faultsInjected.dropped, dropped);
    assert.equal(summary.byStatus.dropped, dropped);
    assert.equal(events.length, 20, "every request's event stored, dropped or not");
  });

  test("faults: scripted sequence, set at run time with POST /__sandbox/faults, cleared by reset", async () => {
    const s = await startSandbox();
    try {
      const set = await fetch(s.url + "/__sandbox/faults", { method: "POST", body: JSON.stringify({ sequence: [503, "drop", 429, 200], retryAfter: 1 }) });
      assert.equal(set.status, 200);
      const send = () => fetch(s.url + "/v1/batch", { method: "POST", headers: { authorization: CDP_AUTH }, body: JSON.stringify({ batch: [{ type: "identify", userId: "1" }] }) });
      assert.equal((await send()).status, 503);
      await assert.rejects(send(), TypeError);
      const r = await send();
      assert.equal(r.status, 429);
      assert.equal(r.headers.get("retry-after"), "1");
      assert.equal((await send()).status, 200);
      assert.equal((await send()).status, 200);
      assert.equal(s.state.summary().pipelines.people, 1);
      assert.equal(s.state.summary().pipelines.acceptedItems, 3);
      await fetch(s.url + "/__sandbox/faults", { method: "POST", body: JSON.stringify({ errorRate: 1 }) });
      assert.equal((await send()).status >= 500, true);
      await fetch(s.url + "/__sandbox/reset", { method: "POST" });
      assert.equal((await send()).status, 200);
      assert.equal(s.state.summary().requests, 1);
    } finally {
      await s.close();
    }
  });

  test("faults: latency delays responses; maxConcurrent sees overlapping requests", async () => {
    const s = await startSandbox({ faults: { latencyMs: [80, 120] } });
    try {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 5 }, () => fetch(s.url + "/api/v2/entity", { method: "POST", headers: { authorization: TRACK_AUTH }, body: JSON.stringify(person("1")) }).then((r) => r.arrayBuffer())));
      assert.ok(Date.now() - t0 >= 75);
      const sum = s.state.summary();
      assert.equal(sum.faultsInjected.slowed, 5);
      assert.equal(sum.maxConcurrent, 5);
    } finally {
      await s.close();
    }
  });

  test("faults: rateLimitPerSecond enforces a real rate with 429 + Retry-After", async () => {
    const s = await startSandbox({ faults: { rateLimitPerSecond: 5, retryAfter: 1 } });
    try {
      const statuses = [];
      for (let k = 0; k < 8; k++) {
        const r = await fetch(s.url + "/api/v2/entity", { method: "POST", headers: { authorization: TRACK_AUTH }, body: JSON.stringify(person(String(k))) });
        await r.arrayBuffer();
        statuses.push(r.status);
        if (r.status === 429) assert.equal(r.headers.get("retry-after"), "1");
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
      const sum = s.state.summary();
      assert.equal(sum.faultsInjected.rateLimitExceeded, 3);
      assert.equal(sum.maxPerSecond, 8);
      assert.equal(sum.maxPer3Seconds, 8);
      assert.equal(sum.track.people, 5);
    } finally {
      await s.close();
    }
  });

  test("GET / lists the endpoints; unknown paths are 404", async () => {
    const s = await startSandbox();
    try {
      const r = await fetch(s.url + "/");
      assert.equal(r.status, 200);
      assert.ok((await r.json()).track.includes("POST /api/v2/batch"));
      assert.equal((await fetch(s.url + "/api/v2/nothing", { method: "POST" })).status, 404);
      assert.equal((await fetch(s.url + "/v1/batch")).status, 404);
      assert.equal(s.state.summary().requests, 0);
    } finally {
      await s.close();
    }
  });

  test("CLI: prints SANDBOX_URL, serves, stops on SIGTERM; refuses non-loopback hosts", async () => {
    const child = spawn(process.execPath, [SERVER, "--port", "0", "--faults", '{"seed":1}', "--print-url"], { stdio: ["ignore", "pipe", "pipe"] });
    const url = await new Promise((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (d) => {
        buf += d;
        const m = /^SANDBOX_URL=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(buf);
        if (m) resolve(m[1]);
      });
      child.on("exit", (c) => reject(new Error(`exited ${c}`)));
    });
    const r = await fetch(url + "/api/v2/batch", { method: "POST", headers: { authorization: TRACK_AUTH }, body: JSON.stringify({ batch: [person("1")] }) });
    assert.equal(r.status, 200);
    const code = await new Promise((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    assert.equal(code, 0);
    const bad = spawn(process.execPath, [SERVER, "--host", "0.0.0.0"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    bad.stderr.on("data", (d) => (err += d));
    const badCode = await new Promise((resolve) => bad.on("exit", resolve));
    assert.notEqual(badCode, 0);
    assert.match(err, /loopback/);
  });

  test("raw http: keep-alive connections are closed by close()", async () => {
    const s = await startSandbox();
    const agent = new http.Agent({ keepAlive: true });
    await new Promise((resolve) => http.get(s.url + "/__sandbox/health", { agent }, (res) => res.resume().on("end", resolve)));
    const t0 = Date.now();
    await s.close();
    assert.ok(Date.now() - t0 < 1000);
    agent.destroy();
  });
});
