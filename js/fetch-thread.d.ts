/**
 * A fetch-compatible function that sends from a Node worker thread over node:http(s); `close()` ends the thread.
 * A `Uint8Array` body that spans its whole buffer is transferred to the thread, so it is detached afterwards.
 */
export interface ThreadFetch {
  (url: string | URL, init?: { method?: string; headers?: HeadersInit; body?: Uint8Array | string | null; signal?: AbortSignal }): Promise<Response>;
  /** Ends the thread; requests still out reject. */
  close(): Promise<void>;
}

/** Start the thread (Node only). Pass the result as `importer.run(stream, { fetch })`. */
export function threadFetch(): ThreadFetch;
