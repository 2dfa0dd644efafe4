// Runs inside the engine worker. Wraps the worker's global `fetch` (which the wasm engine calls) so that:
//  - only the allowed origins can be reached (a second fence behind the Content-Security-Policy),
//  - "pause" holds back requests that have not started yet (requests already in flight finish),
//  - a refused or failed connection is remembered, so the page can say what happened in plain words.

export function installFetchGuard(scope, allowedOrigins) {
  const realFetch = scope.fetch.bind(scope);
  const allowed = new Set(allowedOrigins);
  const state = {
    paused: false,
    waiters: [],
    cancelled: false,
    lastRefused: null,      // { origin, reason: "not-allowed" | "csp" }
    lastNetworkError: null, // { origin, message }
    inFlight: 0,
  };

  function gate() {
    if (!state.paused) return Promise.resolve();
    return new Promise((resolve) => state.waiters.push(resolve));
  }

  scope.fetch = async function guardedFetch(input, init) {
    const url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url, scope.location.href);
    if (url.origin !== scope.location.origin && !allowed.has(url.origin)) {
      state.lastRefused = { origin: url.origin, reason: "not-allowed" };
      throw new TypeError(`connection to ${url.origin} refused: it is not one of the importer's allowed hosts`);
    }
    await gate();
    if (state.cancelled) throw new DOMException("the import was cancelled", "AbortError");
    state.inFlight++;
    try {
      return await realFetch(input, init);
    } catch (e) {
      if (e?.name !== "AbortError") state.lastNetworkError = { origin: url.origin, message: String(e?.message ?? e) };
      throw e;
    } finally {
      state.inFlight--;
    }
  };

  scope.addEventListener?.("securitypolicyviolation", (e) => {
    try {
      state.lastRefused = { origin: new URL(e.blockedURI).origin, reason: "csp" };
    } catch {
      state.lastRefused = { origin: String(e.blockedURI), reason: "csp" };
    }
  });

  return {
    state,
    pause() { state.paused = true; },
    resume() {
      state.paused = false;
      const w = state.waiters.splice(0);
      for (const f of w) f();
    },
    /** A new run: forget the previous run's errors and cancellation. */
    reset() {
      state.cancelled = false;
      state.lastRefused = null;
      state.lastNetworkError = null;
      this.resume();
    },
    /** Requests still held back by a pause fail with AbortError instead of going out. */
    cancel() {
      state.cancelled = true;
      this.resume();
    },
    gate,
    realFetch,
  };
}
