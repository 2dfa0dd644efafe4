// cio-backfill for Cloudflare Workers (workerd): the bundler hands the wasm over as a compiled
// WebAssembly.Module, instantiated synchronously at import.
import wasm from "./wasm/cio_backfill_bg.wasm";
import { initSync, Importer, version } from "./wasm/cio_backfill.js";

initSync({ module: wasm });

export const ready = Promise.resolve();

/** Already loaded; kept so code written for the browser entry works unchanged. */
export function init() {
  return ready;
}

export { Importer, version };
