// The ledger of completed chunks: a chunk that is sent again (a client retry, a re-run of the whole upload)
// is answered from the ledger, with `replayed: true`, and nothing goes to Customer.io a second time.
//
// Track API v2 deduplicates events by id and our ids are deterministic per row, so Track needs no ledger to be
// safe; Data Pipelines documents no deduplication, so there the ledger is what prevents duplicates.
//
// Key: destination (api, region, endpoint, account: a hash, never the keys) + options (kind, mapping, offsets)
// + source id + chunk number + SHA-256 of the chunk's bytes. A changed chunk has another key and is sent.
//
// Two backends, chosen by what is bound:
//   LEDGER (Durable Object ChunkLedger, one per source): strongly consistent; a chunk being imported is
//          "running" (a lease), so a concurrent duplicate gets 409 E_CHUNK_BUSY instead of sending twice.
//   CHUNKS (KV namespace): eventually consistent (a read in another location may miss a write for up to
//          ~60 s); the running marker is best effort. Good for retries from one client.

import { DurableObject } from "cloudflare:workers";

const DAY_MS = 86_400_000;

/** A lease on a running chunk expires after this long (an invocation that died never releases it). */
export const LEASE_MS = 15 * 60_000;

export function openLedger(env, scope) {
  const ttlDays = Number(env.LEDGER_TTL_DAYS ?? 30) || 30;
  if (env.LEDGER) {
    const stub = env.LEDGER.get(env.LEDGER.idFromName(`${scope.destination}:${scope.source}`));
    return {
      kind: "durable-object",
      begin: (key) => stub.begin(key, LEASE_MS),
      peek: (key) => stub.peek(key),
      commit: (key, record) => stub.commit(key, record, ttlDays * DAY_MS),
      abort: (key) => stub.abort(key),
    };
  }
  if (env.CHUNKS) {
    const kv = env.CHUNKS;
    return {
      kind: "kv",
      async begin(key) {
        const v = await kv.get(key, "json");
        if (v?.state === "done") return v;
        if (v?.state === "running" && v.until > Date.now()) return { state: "busy", retryAfterMs: v.until - Date.now() };
        await kv.put(key, JSON.stringify({ state: "running", until: Date.now() + LEASE_MS }), {
          expirationTtl: Math.ceil(LEASE_MS / 1000),
        });
        return { state: "new" };
      },
      peek: (key) => kv.get(key, "json"),
      async commit(key, record) {
        await kv.put(key, JSON.stringify({ state: "done", ...record }), { expirationTtl: ttlDays * 86_400 });
      },
      async abort(key) {
        await kv.delete(key);
      },
    };
  }
  return null;
}

/** Durable Object: the ledger of one source's chunks. */
export class ChunkLedger extends DurableObject {
  async begin(key, leaseMs) {
    const now = Date.now();
    const v = await this.ctx.storage.get(key);
    if (v?.state === "done" && (!v.expires || v.expires > now)) return v;
    if (v?.state === "running" && v.until > now) return { state: "busy", retryAfterMs: v.until - now };
    await this.ctx.storage.put(key, { state: "running", until: now + leaseMs });
    return { state: "new" };
  }

  async peek(key) {
    const v = await this.ctx.storage.get(key);
    return v?.state === "done" && (!v.expires || v.expires > Date.now()) ? v : null;
  }

  async commit(key, record, ttlMs) {
    await this.ctx.storage.put(key, { state: "done", ...record, expires: Date.now() + ttlMs });
    // Forget expired entries now and then (storage is per source, so this stays small).
    if (Math.random() < 0.05) {
      const now = Date.now();
      const all = await this.ctx.storage.list();
      const old = [...all].filter(([, v]) => v.expires && v.expires < now).map(([k]) => k);
      if (old.length) await this.ctx.storage.delete(old.slice(0, 128));
    }
  }

  async abort(key) {
    const v = await this.ctx.storage.get(key);
    if (v?.state === "running") await this.ctx.storage.delete(key);
  }
}

/** Hex SHA-256 of a string (for keys: never the secrets themselves). */
export async function sha256Hex(text) {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return hex(d);
}

export function hex(buf) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
