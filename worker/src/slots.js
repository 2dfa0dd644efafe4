// One rate limit shared by every chunk, whichever Worker instance runs it.
//
// Customer.io's limit is per workspace (Track) or per source (Pipelines), not per connection: if 20 chunks run
// at once and each paces itself at the full limit, together they send 20× too fast and live traffic gets 429s.
// So the total (CIO_RATE_LIMIT, requests/s) is divided into MAX_PARALLEL_CHUNKS slots, each invocation paces
// itself at total / slots, and the Durable Object ImportSlots (bound as SLOTS) hands out at most that many slots
// at a time: an invocation that finds none free answers 503 E_BUSY with Retry-After and the client tries again.
// The sum of all invocations' rates never exceeds the total. Without SLOTS the division still applies, but
// nothing stops a client from running more chunks at once than MAX_PARALLEL_CHUNKS.
//
// Bound: in any window of T seconds Customer.io sees at most CIO_RATE_LIMIT × T + MAX_PARALLEL_CHUNKS × burst
// requests from this Worker (burst: the package's pacer starts with max(4, CIO_CONCURRENCY) tokens).

import { DurableObject } from "cloudflare:workers";

export class ImportSlots extends DurableObject {
  /** Take a slot for `leaseMs`; returns { granted: true } or { granted: false, retryAfterMs }. */
  async acquire(id, slots, leaseMs) {
    const now = Date.now();
    const held = (await this.ctx.storage.get("held")) ?? {};
    for (const [k, until] of Object.entries(held)) if (until <= now) delete held[k];
    if (Object.keys(held).length >= slots) {
      const soonest = Math.min(...Object.values(held));
      // Usually a slot frees long before its lease ends: ask again soon.
      return { granted: false, retryAfterMs: Math.min(2000, Math.max(200, soonest - now)) };
    }
    held[id] = now + leaseMs;
    await this.ctx.storage.put("held", held);
    return { granted: true };
  }

  /**
   * Give the slot back. It stays taken for `cooldownMs` more: the next invocation's pacer starts with a full
   * burst of tokens, and the cool-down is the time this slot's pacer would need to earn them back, so one slot
   * never sends faster than its share, however short its chunks are.
   */
  async release(id, cooldownMs = 0) {
    const held = (await this.ctx.storage.get("held")) ?? {};
    if (id in held) {
      if (cooldownMs > 0) held[id] = Date.now() + cooldownMs;
      else delete held[id];
      await this.ctx.storage.put("held", held);
    }
  }

  async status() {
    const now = Date.now();
    const held = (await this.ctx.storage.get("held")) ?? {};
    return { held: Object.values(held).filter((u) => u > now).length };
  }
}
