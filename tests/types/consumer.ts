// Compiled by tests/js/platforms.test.mjs with `tsc --noEmit` against the installed tarball: the package's types
// as a TypeScript user meets them. Every `@ts-expect-error` below must be an error, or tsc fails ("unused
// directive"): the types refuse what the package refuses.
import { Importer, init, ready, version, type ImporterError, type Issue, type Progress, type Summary } from "cio-backfill";
import { threadFetch } from "cio-backfill/fetch-thread";

export async function main(stream: ReadableStream<Uint8Array>): Promise<Summary> {
  await ready;
  await init();
  const v: string = version();
  const imp = new Importer({
    api: "track",
    kind: "events",
    region: "eu",
    endpoint: "http://127.0.0.1:8080",
    credentials: { siteId: "site", apiKey: "key" },
    mapping: {
      idColumn: "user_id",
      eventColumn: "event",
      timestampColumn: "at",
      columns: { plan: { type: "string" }, secret: { role: "ignore" } },
      defaultZone: "Europe/Berlin",
      dateOrder: "dayFirst",
    },
    rateLimit: 50,
    concurrency: 4,
    batchBytes: 400_000,
  });
  imp.push(new TextEncoder().encode("user_id,event,at\n"));
  const issues: Issue[] = imp.takeIssues();
  const line: number = issues[0]?.line ?? 0;
  const ac = new AbortController();
  const fetch = threadFetch();
  try {
    const s = await imp.run(stream, {
      signal: ac.signal,
      fetch,
      onProgress(p: Progress) {
        const perSec: number = p.rowsPerSec;
        const sent: number = p.sent;
        void [perSec, sent, line, v];
      },
    });
    const total: number = s.rejected + s.sent + s.apiRejected + s.failed + s.unsent + s.pending + s.skippedResume;
    void total;
    return s;
  } catch (e) {
    const err = e as ImporterError;
    if (err.code === "E_AUTH" && err.summary) return err.summary;
    throw err;
  } finally {
    await fetch.close();
    imp.free();
  }
}

export async function plainAnswers(stream: ReadableStream<Uint8Array>): Promise<number> {
  await ready;
  const imp = new Importer({ api: "track", kind: "events", credentials: { siteId: "s", apiKey: "k" } });
  const fetch = threadFetch({ response: "plain" });
  try {
    const s = await imp.run(stream, { fetch });
    const r = await fetch("http://127.0.0.1:9/", { method: "GET" });
    const retry: string | null = r.headers.get("retry-after");
    const ok: boolean = r.ok;
    void [retry, ok];
    return s.sent;
  } finally {
    await fetch.close();
  }
}

export function refused(): void {
  // @ts-expect-error: answers are "Response" or "plain"
  threadFetch({ response: "json" });
  // @ts-expect-error: "tracks" is not an api
  new Importer({ api: "tracks", kind: "people" });
  // @ts-expect-error: kind is required
  new Importer({ api: "track" });
  // @ts-expect-error: a column's type is one of the value types
  new Importer({ api: "track", kind: "people", mapping: { columns: { a: { type: "number" } } } });
  // @ts-expect-error: push takes bytes, not text
  new Importer({ api: "track", kind: "people", dryRun: true }).push("id\n1\n");
  const code = (e: ImporterError): string => e.code;
  // @ts-expect-error: error codes are a closed set
  const c: ImporterError["code"] = "E_WHATEVER";
  void [code, c];
}
