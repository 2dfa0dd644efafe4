// cio-backfill for Node >= 20 (and Deno): the wasm is read from disk and compiled synchronously, so the
// package is usable as soon as it is imported; `ready` is already resolved.
import { readFileSync } from "node:fs";
import { initSync, Importer, version } from "./wasm/cio_backfill.js";

initSync({ module: readFileSync(new URL("./wasm/cio_backfill_bg.wasm", import.meta.url)) });

export const ready = Promise.resolve();

/** Already loaded; kept so code written for the browser entry works unchanged. */
export function init() {
  return ready;
}

export { Importer, version };
