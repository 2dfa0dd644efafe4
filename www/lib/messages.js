// Engine and page errors, in plain words: what happened and what to do.

const WORKER_DOC = "worker/README.md";

function host(ctx) {
  if (ctx.endpoint) return ctx.endpoint;
  const eu = ctx.region === "eu";
  return ctx.api === "track" ? (eu ? "track-eu.customer.io" : "track.customer.io") : (eu ? "cdp-eu.customer.io" : "cdp.customer.io");
}

/** Sniffs the first bytes of a file for formats people often pick by mistake. */
export function sniffNotCsv(head) {
  const b = head;
  const starts = (...sig) => sig.every((v, i) => b[i] === v);
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "an Excel workbook (.xlsx) or another zip archive";
  if (starts(0xd0, 0xcf, 0x11, 0xe0)) return "an old Excel workbook (.xls)";
  if (starts(0x25, 0x50, 0x44, 0x46)) return "a PDF document";
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "a PNG image";
  if (starts(0xff, 0xd8, 0xff)) return "a JPEG image";
  if (starts(0x1f, 0x8b)) return "a gzip-compressed file";
  if (starts(0x7b) || starts(0x5b)) {
    // { or [ : JSON, unless it parses as a CSV header later; a hint only
    return null;
  }
  // binary: NUL bytes outside a UTF-16 byte-order mark
  const utf16 = starts(0xff, 0xfe) || starts(0xfe, 0xff);
  if (!utf16) for (let i = 0; i < Math.min(b.length, 4096); i++) if (b[i] === 0) return "a binary file";
  return null;
}

/**
 * @param {Error & {code?:string, detail?:object}} err
 * @param {{api:string, region:string, mode:string, endpoint?:string, phase?:string, kind?:string}} ctx
 * @returns {{title:string, body:string, action:string, code:string, technical?:string}}
 */
export function explain(err, ctx = {}) {
  const code = err?.code ?? "E_INTERNAL";
  const msg = String(err?.message ?? err ?? "");
  const d = err?.detail ?? {};
  const technical = msg;
  switch (code) {
    case "E_ENGINE_MISSING":
      return { code, technical, title: "The import engine is not available",
        body: "This page needs its engine files (pkg/cio_backfill.js and pkg/cio_backfill_bg.wasm) next to index.html, and they could not be loaded.",
        action: "If you run the importer from its source code, run “make build” (or “make demo”) first. If someone hosts it for you, tell them the pkg/ folder is missing." };
    case "E_ENGINE_INIT":
      return { code, technical, title: "The import engine could not start",
        body: "Your browser refused to run the importer's WebAssembly engine.",
        action: "Use a current version of Chrome, Edge, Firefox or Safari. If an extension or company policy blocks WebAssembly, try another browser profile." };
    case "E_EMPTY":
      return { code, technical, title: "This file is empty",
        body: "The file has no content at all, so there is nothing to import.",
        action: "Check that you picked the right file and that it was saved completely, then choose it again." };
    case "E_NOT_CSV":
      return { code, technical, title: "This is not a CSV file",
        body: `The file looks like ${d.what ?? "something other than text"}, not a CSV (comma- or semicolon-separated text) file.`,
        action: "Open it in your spreadsheet program and use “Save as” → “CSV UTF-8”, then choose the CSV file here." };
    case "E_CSV": {
      if (/empty|no data|no content|zero/i.test(msg))
        return { code, technical, title: "This file has nothing to import",
          body: "The file has no header row or no rows under it.",
          action: "The first line must hold the column names (for example id,email,plan) and the rows follow. Check the file and choose it again." };
      return { code, technical, title: "This file could not be read as CSV",
        body: `The importer could not find a header row and columns in it (${msg}).`,
        action: "Save it from your spreadsheet program as “CSV UTF-8” and choose it again. The first line must hold the column names." };
    }
    case "E_MAPPING": {
      if (/event/i.test(msg) && !/identif/i.test(msg))
        return { code, technical, title: "No event name",
          body: "Every event needs a name, and no column was chosen as the event name.",
          action: "In “Columns”, choose the column that holds the event name, or type one name to use for every row." };
      return { code, technical, title: "No column identifies the people",
        body: `Customer.io needs to know who each row is about, and no column was recognised as an identifier (${msg}).`,
        action: "In “Columns”, set one column to “Identifier”: the person's id, their email address, or their cio_id. If the file has none, add one and choose the file again." };
    }
    case "E_AUTH": {
      const region = ctx.region === "eu" ? "EU" : "US";
      const other = ctx.region === "eu" ? "US" : "EU";
      if (ctx.mode === "worker")
        return { code, technical, title: "The import token was refused",
          body: "The importer's Worker did not accept the import token.",
          action: "Check the token with whoever set up the importer Worker, enter it again and resume." };
      return { code, technical, title: "Customer.io did not accept these credentials",
        body: `${host(ctx)} answered that the ${ctx.api === "track" ? "site ID and API key are" : "API key is"} not valid for the ${region} region.`,
        action: ctx.api === "track"
          ? `Check the site ID and the Track API key in Customer.io under Settings → Workspace settings → API and webhook credentials. If your workspace is in the ${other} region, choose ${other}: keys only work in their own region. Then resume: confirmed rows are skipped.`
          : `Check the API key of your Data Pipelines source (Data Pipelines → your source → Settings → API key). If your workspace is in the ${other} region, choose ${other}: keys only work in their own region. Then resume: confirmed rows are skipped.` };
    }
    case "E_NETWORK": {
      const r = d.refused;
      if (r && (r.reason === "not-allowed" || r.reason === "csp"))
        return { code, technical, title: "The page's security policy blocked the connection",
          body: `The importer may only connect to Customer.io's servers${ctx.endpoint ? ` and ${ctx.endpoint}` : ""}; a connection to ${r.origin} was blocked.`,
          action: "If you host this page with a custom endpoint, add it to config.json and to the page's Content-Security-Policy (see README: “Configuring an endpoint”)." };
      if (ctx.mode === "worker")
        return { code, technical, title: "The importer's Worker did not answer",
          body: `No answer came back from ${ctx.endpoint || "the importer's Worker"}.`,
          action: "Check your internet connection and that the Worker is deployed, then resume: rows already confirmed are not sent again." };
      return { code, technical, title: "Your browser could not reach Customer.io",
        body: `The browser got no answer from ${host(ctx)}. Usually this means the server did not allow a direct call from a web page — the browser then blocks it (a “CORS” refusal) — or you are offline, or a firewall or ad-blocker stopped it. Whether Customer.io's servers accept direct calls from browsers is not documented.`
          + (ctx.api === "track" ? " Track API calls carry the key in a header, so the browser must ask the server's permission first; Pipelines calls do not need to." : ""),
        action: `Check your connection and resume. If it keeps failing, use the Worker deployment (see ${WORKER_DOC}): it runs on Cloudflare with your keys stored as secrets, so the browser does not need Customer.io's permission.`
          + (ctx.api === "track" ? " Or try the Pipelines API from this page." : "") };
    }
    case "E_ABORTED":
      return { code, technical, title: "Cancelled", body: "The run was cancelled. Rows that were not sent are listed as failed (cancelled).",
        action: "Choose the same file again at any time to resume from the last confirmed row." };
    case "E_READ":
      return { code, technical, title: "The file could not be read",
        body: "The browser lost access to the file while reading it. It may have been moved, changed or deleted.",
        action: "Choose the file again. If you were sending, you will be offered to resume from the last confirmed row." };
    case "E_CONFIG":
      return { code, technical, title: "These settings were not accepted",
        body: `The importer rejected a setting: ${msg}.`,
        action: "Check the API, region and column settings above and try again." };
    default:
      return { code, technical, title: "Something went wrong in the importer",
        body: `An unexpected error happened: ${msg}.`,
        action: "Try again. If it happens again, report it with the text above; no data was changed by the failed step." };
  }
}
