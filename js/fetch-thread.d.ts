/** What `threadFetch({ response: "plain" })` resolves to: the parts of a Response that `importer.run()` reads. */
export interface PlainAnswer {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null; has(name: string): boolean; entries(): IterableIterator<[string, string]> };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * A fetch-compatible function that sends from a Node worker thread over node:http(s); `close()` ends the thread.
 * A `Uint8Array` body that spans its whole buffer is transferred to the thread, so it is detached afterwards.
 */
export interface ThreadFetch {
  (url: string | URL, init?: { method?: string; headers?: HeadersInit; body?: Uint8Array | string | null; signal?: AbortSignal }): Promise<Response>;
  /** Ends the thread; requests still out reject. */
  close(): Promise<void>;
}

/** Answers as `PlainAnswer`s: lighter, and undici (Node's fetch) is never loaded on the calling thread. */
export interface PlainThreadFetch {
  (url: string | URL, init?: { method?: string; headers?: HeadersInit; body?: Uint8Array | string | null; signal?: AbortSignal }): Promise<PlainAnswer>;
  /** Ends the thread; requests still out reject. */
  close(): Promise<void>;
}

/** Start the thread (Node only). Pass the result as `importer.run(stream, { fetch })`. */
export function threadFetch(options?: { response?: "Response" }): ThreadFetch;
export function threadFetch(options: { response: "plain" }): PlainThreadFetch;
