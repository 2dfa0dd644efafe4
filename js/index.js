// cio-backfill: the browser / default entry (also Web Workers and Deno). The wasm is fetched from next to this
// file; call `init(input)` first to load it from elsewhere (bytes, a Response, a URL or a WebAssembly.Module).
import wasmInit, { Importer, version } from "./wasm/cio_backfill.js";

let loading = null;

/** Load the wasm (once). `input`: as wasm-bindgen's init takes it, e.g. `{ module_or_path: bytes }`. */
export function init(input) {
  if (!loading) {
    const arg = input ?? { module_or_path: new URL("./wasm/cio_backfill_bg.wasm", import.meta.url) };
    loading = wasmInit(arg).then(() => undefined);
    loading.catch(() => {
      loading = null; // a failed load may be retried
    });
  }
  return loading;
}

/** Resolves once the wasm is loaded; awaiting it loads the wasm from next to this file unless `init` ran. */
export const ready = {
  then(onFulfilled, onRejected) {
    return init().then(onFulfilled, onRejected);
  },
  catch(onRejected) {
    return init().catch(onRejected);
  },
  finally(onFinally) {
    return init().finally(onFinally);
  },
};

export { Importer, version };
