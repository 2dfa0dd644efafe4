// The importer page: steps, state and rendering. The wasm engine runs in a Web Worker (engine.worker.js);
// this module never touches it directly (see lib/engine-client.js for the message protocol).

import { EngineClient } from "./lib/engine-client.js";
import { VirtualTable } from "./lib/virtual-table.js";
import { ThroughputChart } from "./lib/chart.js";
import { connectOrigins, endpointOrigin, parseConnectSrc } from "./lib/csp.js";
import { explain, sniffNotCsv } from "./lib/messages.js";
import { credentials as credStore, prefs, mappings, runs, fileFingerprint, sha256Hex } from "./lib/store.js";
import { num, bytes, duration, delimiterName, encodingName, lineEndingName, when } from "./lib/format.js";

const $ = (id) => document.getElementById(id);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid != null) el.append(kid instanceof Node ? kid : String(kid));
  return el;
};

const USES = [
  ["id", "Identifier: id"],
  ["email", "Identifier: email"],
  ["cio_id", "Identifier: cio_id"],
  ["event", "Event name"],
  ["event_id", "Event id (de-duplication)"],
  ["timestamp", "Timestamp"],
  ["attribute", "Attribute"],
  ["ignore", "Ignore"],
];
const TYPES = [["auto", "Automatic"], ["string", "Text"], ["integer", "Whole number"], ["float", "Decimal number"],
  ["boolean", "True / false"], ["date", "Date (unix seconds)"]];
const IDENT = new Set(["id", "email", "cio_id"]);

// ---------------------------------------------------------------- state
const S = {
  config: { endpoint: null, mode: "direct" },
  engine: null,
  engineError: null,
  secrets: null,              // { siteId, apiKey } | { token } — memory only (and localStorage if "remember")
  remembered: false,
  api: "pipelines",
  region: "us",
  kind: "people",
  file: null,
  fp: null,                   // file fingerprint
  info: null,                 // the engine's inspect()
  firstRows: 0,               // rows in the inspected prefix
  inspectEof: false,
  cols: [],                   // [{ header, index, use, type, detected, sample }]
  autoCols: null,             // the auto-detected mapping (for "back to detected")
  eventSrc: "column",
  eventName: "",
  defaultZone: "UTC",
  dateOrder: "",
  emptyAsNull: false,
  mappingKey: "",             // hash of the current mapping
  inspectSeq: 0,
  dry: null,                  // { job, summary, issues, mappingKey, parts }
  dryJob: null,
  sendJob: null,
  paused: false,
  resumeAfter: 0,
  runInfo: null,              // the saved run record of this file
  rejected: [],               // rejected CSV text of the current send
  earlierRejected: null,      // of the run before a resume in this tab
  issuesJob: null,
  issueFilter: { severity: "all", code: "" },
};

// ---------------------------------------------------------------- helpers
function announce(text) {
  const el = $("announce");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 30);
}

function showAlert(el, err, extra = {}) {
  const x = err.title ? err : explain(err, ctx(extra));
  el.className = `alert${x.code === "E_ABORTED" ? " info" : ""}`;
  el.replaceChildren(...[
    h("p", { class: "title", text: x.title }),
    h("p", { text: x.body }),
    h("p", { class: "what" }, h("strong", { text: "What to do: " }), h("span", { class: "todo", text: x.action })),
    x.technical ? h("details", {}, h("summary", { text: "Technical details" }), h("code", { text: `${x.code}: ${scrub(x.technical)}` })) : null,
  ].filter(Boolean));
  el.dataset.code = x.code;
  el.hidden = false;
}
function hideAlert(el) { el.hidden = true; el.replaceChildren(); delete el.dataset.code; }

/** Never let a key reach the DOM, even inside an engine message. */
function scrub(text) {
  let t = String(text);
  for (const v of [S.secrets?.apiKey, S.secrets?.token, S.secrets?.siteId]) if (v && v.length >= 4) t = t.split(v).join("•••");
  return t;
}

function ctx(extra = {}) {
  return { api: S.api, region: S.region, mode: S.config.mode, endpoint: S.config.endpoint, kind: S.kind, ...extra };
}

function engineOptions(extra = {}) {
  const o = { api: S.api, region: S.region, kind: S.kind, endpoint: S.config.endpoint || undefined, mode: S.config.mode };
  if (S.cols.length) o.mapping = engineMapping();
  return { ...o, ...extra };
}

function engineMapping() {
  const m = { columns: {} };
  for (const c of S.cols) {
    if (c.use === "id") m.idColumn = c.header;
    else if (c.use === "email") m.emailColumn = c.header;
    else if (c.use === "cio_id") m.cioIdColumn = c.header;
    else if (c.use === "event") { if (S.kind === "events" && S.eventSrc === "column") m.eventColumn = c.header; else m.columns[c.header] = { role: "attribute", type: c.type }; }
    else if (c.use === "timestamp") m.timestampColumn = c.header;
    else if (c.use === "event_id") { if (S.kind === "events") m.eventIdColumn = c.header; else m.columns[c.header] = { role: "attribute", type: c.type }; }
    else m.columns[c.header] = { role: c.use === "ignore" ? "ignore" : "attribute", type: c.type || "auto" };
  }
  if (S.kind === "events" && S.eventSrc === "fixed" && S.eventName.trim()) m.eventName = S.eventName.trim();
  if (S.emptyAsNull) m.emptyAsNull = true;
  if (S.defaultZone.trim()) m.defaultZone = S.defaultZone.trim();
  if (S.dateOrder) m.dateOrder = S.dateOrder;
  return m;
}

function uiMapping() {
  return {
    columns: Object.fromEntries(S.cols.map((c) => [c.header, { use: c.use, type: c.type }])),
    eventSrc: S.eventSrc, eventName: S.eventName, defaultZone: S.defaultZone, dateOrder: S.dateOrder, emptyAsNull: S.emptyAsNull,
  };
}

function applyUiMapping(m) {
  if (!m) return;
  for (const c of S.cols) {
    const saved = m.columns?.[c.header];
    if (saved) { c.use = saved.use; c.type = saved.type || "auto"; }
  }
  S.eventSrc = m.eventSrc ?? S.eventSrc;
  S.eventName = m.eventName ?? S.eventName;
  S.defaultZone = m.defaultZone ?? S.defaultZone;
  S.dateOrder = m.dateOrder ?? S.dateOrder;
  S.emptyAsNull = !!m.emptyAsNull;
}

function setStep(current) {
  const order = ["connect", "file", "columns", "check", "send"];
  const ci = order.indexOf(current);
  document.querySelectorAll(".stepper li").forEach((li) => {
    const i = order.indexOf(li.dataset.step);
    const section = $(`step-${li.dataset.step}`);
    li.classList.toggle("current", i === ci);
    li.classList.toggle("done", i < ci);
    li.classList.toggle("locked", section.hidden);
    const a = li.querySelector("a");
    if (i === ci) a.setAttribute("aria-current", "step"); else a.removeAttribute("aria-current");
    if (section.hidden) a.setAttribute("aria-disabled", "true"); else a.removeAttribute("aria-disabled");
  });
}

function focusSection(id) {
  const hd = $(id).querySelector("h2");
  hd.tabIndex = -1;
  hd.focus({ preventScroll: true });
  $(id).scrollIntoView({ behavior: "smooth", block: "start" });
}

// ---------------------------------------------------------------- start
async function start() {
  document.body.append(h("div", { id: "announce", class: "visually-hidden", "aria-live": "polite", role: "status" }));
  try {
    const r = await fetch("config.json", { cache: "no-store" });
    if (r.ok) S.config = { endpoint: null, mode: "direct", ...(await r.json()) };
  } catch { /* defaults */ }
  if (S.config.mode !== "worker") S.config.mode = "direct";

  // The meta policy must allow the configured endpoint, or every request to it would be blocked.
  try {
    const ep = endpointOrigin(S.config.endpoint);
    const meta = document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? "";
    if (ep && ep !== location.origin && !parseConnectSrc(meta).includes(ep)) {
      showAlert($("global-alert"), { code: "E_CONFIG", title: "The endpoint is not allowed by this page's security policy",
        body: `config.json sends data to ${ep}, but the page's Content-Security-Policy only allows Customer.io's servers, so the browser would block every request.`,
        action: `Run “node www/tools/configure.mjs --endpoint ${ep}” (or add ${ep} to connect-src in index.html by hand); see www/README.md.` });
    }
  } catch (e) {
    showAlert($("global-alert"), { code: "E_CONFIG", title: "config.json has an invalid endpoint", body: String(e.message), action: "Fix the endpoint in config.json: an http(s) URL, or null." });
  }

  const worker = S.config.mode === "worker";
  $("mode-badge").textContent = worker ? "Through the importer Worker" : "Direct to Customer.io";
  $("creds-direct").hidden = worker;
  $("creds-worker").hidden = !worker;
  $("foot-dest").textContent = worker ? `the importer Worker (${S.config.endpoint || location.origin})` : (S.config.endpoint ? S.config.endpoint : "Customer.io");

  const allow = connectOrigins(S.config);
  S.engine = new EngineClient({ allow, mode: S.config.mode });
  S.engine.ready.then((r) => { $("engine-version").textContent = r.version ? `v${r.version}` : "ready"; },
    (e) => {
      S.engineError = e;
      $("engine-version").textContent = "not available";
      showAlert($("global-alert"), e);
    });

  const p = prefs.load();
  if (p.api) S.api = p.api;
  if (p.region) S.region = p.region;
  if (p.kind) S.kind = p.kind;
  document.querySelector(`input[name=api][value=${S.api}]`).checked = true;
  document.querySelector(`input[name=region][value=${S.region}]`).checked = true;
  document.querySelector(`input[name=kind][value=${S.kind}]`).checked = true;
  syncCredFields();

  const saved = credStore.load();
  if (saved && (worker ? saved.token : saved.apiKey)) {
    S.secrets = worker ? { token: saved.token } : { siteId: saved.siteId ?? "", apiKey: saved.apiKey };
    if (saved.api) S.api = saved.api;
    if (saved.region) S.region = saved.region;
    document.querySelector(`input[name=api][value=${S.api}]`).checked = true;
    document.querySelector(`input[name=region][value=${S.region}]`).checked = true;
    S.remembered = true;
    $("remember").checked = true;
    connected(true);
  } else {
    setStep("connect");
  }
  wire();
}

// ---------------------------------------------------------------- step 1: connect
function syncCredFields() {
  const track = S.api === "track";
  $("field-site").hidden = !track;
  $("api-key-label").textContent = track ? "Track API key" : "API key (of your Pipelines source)";
  $("key-help").textContent = track
    ? "Settings → Workspace settings → API and webhook credentials → Track API keys. Calls from a browser carry it in a header, which Customer.io's servers may refuse (the page will say so)."
    : "Data Pipelines → your source (e.g. an HTTP API source) → Settings → API key. It is sent in the request body, the way Customer.io's own browser library does.";
}

function connectSummary() {
  const api = S.api === "track" ? "Track API" : "Data Pipelines";
  const region = S.region === "eu" ? "EU" : "US";
  if (S.config.mode === "worker") return `${api} · ${region} · import token entered${S.remembered ? " (remembered on this device)" : " (kept in memory only)"}`;
  return `${api} · ${region} · ${S.api === "track" ? "site ID and API key" : "API key"} entered${S.remembered ? " — remembered in this browser's localStorage" : " — kept in this tab's memory only"}`;
}

function connected(fromStorage = false) {
  $("connect-edit").hidden = true;
  $("connect-done").hidden = false;
  $("connect-summary").textContent = connectSummary();
  $("forget").hidden = !S.remembered;
  $("step-file").hidden = false;
  setStep(S.file ? (S.sendJob ? "send" : "columns") : "file");
  if (!fromStorage) focusSection("step-file");
}

function onContinue() {
  const err = $("connect-error");
  err.hidden = true;
  const worker = S.config.mode === "worker";
  const fields = worker ? [$("import-token")] : S.api === "track" ? [$("site-id"), $("api-key")] : [$("api-key")];
  const values = fields.map((f) => f.value.trim());
  const keepOld = values.every((v) => v === "") && S.secrets && (worker ? S.secrets.token : S.secrets.apiKey) && (S.secrets.api ?? S.api) === S.api;
  if (!keepOld) {
    const missing = fields.filter((f, i) => !values[i]);
    fields.forEach((f) => f.setAttribute("aria-invalid", String(missing.includes(f))));
    if (missing.length) {
      err.textContent = `Enter the ${missing.map((f) => f.labels[0].textContent.replace(/ \(.*\)/, "")).join(" and ")} to continue.`;
      err.hidden = false;
      missing[0].focus();
      return;
    }
    S.secrets = worker ? { token: values[0] } : S.api === "track" ? { siteId: values[0], apiKey: values[1] } : { apiKey: values[0] };
    S.secrets.api = S.api;
  }
  // After entry the key lives only in memory: clear the fields so it is not left in the DOM.
  for (const f of [$("site-id"), $("api-key"), $("import-token")]) { f.value = ""; f.removeAttribute("aria-invalid"); }
  S.remembered = $("remember").checked;
  if (S.remembered) credStore.save({ api: S.api, region: S.region, ...S.secrets });
  else credStore.forget();
  prefs.save({ api: S.api, region: S.region });
  connected();
}

// ---------------------------------------------------------------- step 2: file
function fileIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "file-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8l-5-5Zm0 0v5h5M9 13h6M9 17h6");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.6");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

function resetDownstream() {
  S.inspectSeq++;
  for (const j of [S.dryJob, S.issuesJob]) if (j) S.engine.release(j);
  S.info = null; S.cols = []; S.autoCols = null; S.dry = null; S.dryJob = null; S.issuesJob = null;
  S.resumeAfter = 0; S.runInfo = null; S.rejected = []; S.earlierRejected = null;
  for (const id of ["step-columns", "step-check", "step-send", "resume-offer", "file-info", "check-results", "payloads",
    "summary", "live", "dry-progress", "mapping-notice", "send-confirm"]) $(id).hidden = true;
  for (const id of ["file-alert", "columns-alert", "check-alert", "send-alert"]) hideAlert($(id));
}

async function onFile(file) {
  if (!file) return;
  if (S.sendJob) return; // not while sending
  resetDownstream();
  S.file = file;
  S.fp = null;
  $("file-info").replaceChildren(
    h("svg-icon"),
    h("div", { class: "grow" }, h("span", { class: "name", text: file.name }), " ",
      h("span", { class: "meta", text: `${bytes(file.size)}${file.lastModified ? ` · changed ${when(file.lastModified)}` : ""}` })),
    h("button", { type: "button", class: "btn", id: "pick-another", text: "Choose another file", onclick: () => $("file").click() }),
  );
  $("file-info").querySelector("svg-icon").replaceWith(fileIcon());
  $("file-info").hidden = false;
  $("drop").classList.add("compact");
  setStep("file");

  if (file.size === 0) return showAlert($("file-alert"), { code: "E_EMPTY" });
  const head = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
  const notCsv = sniffNotCsv(head);
  if (notCsv) return showAlert($("file-alert"), Object.assign(new Error(`file starts like ${notCsv}`), { code: "E_NOT_CSV", detail: { what: notCsv } }));
  if (S.engineError) return showAlert($("file-alert"), S.engineError);

  S.fp = await fileFingerprint(file);
  const run = runs.load(S.fp);
  S.runInfo = run;
  await inspect({ first: true });
  if (run) offerResume(run);
}

function offerResume(run) {
  const box = $("resume-offer");
  const cp = Number(run.checkpoint ?? 0);
  const how = `${run.api === "track" ? "Track API" : "Data Pipelines"}, ${run.region === "eu" ? "EU" : "US"}`;
  if (run.status === "done") {
    box.replaceChildren(
      h("p", {}, h("strong", { text: "This file was already sent " }), `on ${when(run.updatedAt)} (${how}): ${num(run.sent)} rows accepted.`),
      h("p", { text: "Sending it again repeats identify calls (harmless) and, on Data Pipelines, repeats events. On the Track API events are not duplicated." }),
      h("div", { class: "inline-actions" }, h("button", { type: "button", class: "btn subtle", text: "Forget this run", onclick: () => { runs.forget(S.fp); box.hidden = true; } })),
    );
    box.hidden = false;
    return;
  }
  if (cp <= 0) return;
  box.replaceChildren(
    h("p", {}, h("strong", { text: "You were sending this file " }), `on ${when(run.updatedAt)} (${how}, ${run.kind}). Rows 1 to ${num(cp)} are confirmed.`),
    h("p", { text: `Resuming skips rows 1 to ${num(cp)} and sends the rest with the same column mapping. Rows that were on their way when the run stopped go again with the same event ids: the Track API ignores such repeats.` }),
    h("div", { class: "inline-actions" },
      h("button", { type: "button", class: "btn primary", id: "resume-btn", text: `Resume after row ${num(cp)}`, onclick: () => chooseResume(run) }),
      h("button", { type: "button", class: "btn", text: "Start over", onclick: () => { runs.forget(S.fp); S.runInfo = null; S.resumeAfter = 0; box.hidden = true; renderSendLead(); } })),
  );
  box.hidden = false;
}

async function chooseResume(run) {
  const note = [];
  if (run.api && run.api !== S.api) note.push(`the ${run.api === "track" ? "Track API" : "Data Pipelines"} (it was sent with it)`);
  if (run.region && run.region !== S.region) note.push(`the ${run.region.toUpperCase()} region`);
  if (note.length) {
    showAlert($("file-alert"), { code: "E_CONFIG", title: "Connect the way this file was being sent",
      body: `To resume, use ${note.join(" and ")}.`, action: "Click “Change” in step 1, pick those settings and enter their credentials, then choose “Resume” again." });
    return;
  }
  if (run.kind && run.kind !== S.kind) {
    S.kind = run.kind;
    document.querySelector(`input[name=kind][value=${S.kind}]`).checked = true;
  }
  S.resumeAfter = Number(run.checkpoint);
  if (S.rejected.length) S.earlierRejected = S.rejected;
  if (run.mapping) {
    await inspect({ first: true, mapping: run.mapping });
  }
  $("resume-offer").replaceChildren(h("p", {}, h("strong", { text: "Resuming. " }), `The send will start after row ${num(S.resumeAfter)}. A check (step 4) is optional.`));
  renderSendLead();
  $("step-send").hidden = false;
  setStep("send");
  focusSection("step-send");
}

// ---------------------------------------------------------------- inspection and mapping
/** The engine's column role ({ role, as }) as one choice of the "Use as" menu. */
function normUse(col) {
  switch (col.role) {
    case "identifier": return col.as === "email" ? "email" : col.as === "cio_id" ? "cio_id" : "id";
    case "eventName": return "event";
    case "eventId": return "event_id";
    case "timestamp": return "timestamp";
    case "ignore": return "ignore";
    default: return "attribute";
  }
}

const FORMAT_NAMES = {
  unixSeconds: "unix seconds", unixMillis: "unix milliseconds", unixMicros: "unix microseconds",
  isoZoned: "ISO 8601 with a zone", isoLocal: "ISO 8601 without a zone (read in the zone below)",
  rfc2822: "RFC 2822", dayMonth: "day/month dates", mixed: "mixed formats",
};
function formatText(d) {
  if (!d) return null;
  if (typeof d === "string") return d;
  const parts = [FORMAT_NAMES[d.format] ?? d.format];
  if (d.dateOrder && (d.format === "dayMonth" || d.format === "mixed"))
    parts.push(`${d.dateOrder === "dayFirst" ? "day first" : "month first"}${d.ambiguous ? " (a guess: no day was over 12)" : ""}`);
  if (d.parseRatio != null && d.parseRatio < 1) parts.push(`${Math.round(d.parseRatio * 100)}% of the sample readable`);
  return parts.join(", ");
}

function colsFromInspect(info) {
  const preview = info.preview ?? [];
  const cols = info.columns?.length ? info.columns : info.headers.map((hd, index) => ({ index, header: hd, role: "attribute" }));
  return cols.map((c) => {
    const i = c.index ?? info.headers.indexOf(c.header);
    const samples = [];
    for (const row of preview) { const v = row?.[i]; if (v != null && v !== "" && samples.length < 3) samples.push(v); }
    const use = normUse(c);
    return { header: c.header ?? info.headers[i], index: i, use, type: "auto", autoType: c.type ?? null,
      detected: formatText(c.detectedFormat), keyPath: c.keyPath ?? null, sample: samples.join(" · ") };
  });
}

async function inspect({ first = false, mapping = null } = {}) {
  const seq = ++S.inspectSeq;
  hideAlert($("columns-alert"));
  const opts = first ? engineOptions({ mapping: undefined }) : engineOptions();
  if (first) delete opts.mapping;
  let res;
  try {
    await S.engine.ready;
    res = await S.engine.inspect(S.file, opts);
  } catch (e) {
    if (seq !== S.inspectSeq) return;
    const target = S.info ? $("columns-alert") : $("file-alert");
    return showAlert(target, e);
  }
  if (seq !== S.inspectSeq) return;
  if (!res.inspect) {
    return showAlert($("file-alert"), res.error ? Object.assign(new Error(res.error.message), { code: res.error.code, detail: res.error })
      : Object.assign(new Error("no header row found"), { code: "E_CSV" }));
  }
  hideAlert($("file-alert"));
  S.info = res.inspect;
  S.firstRows = res.summary?.rows ?? res.inspect.preview?.length ?? 0;
  S.inspectEof = res.eof;
  S.previewPayloads = res.payloads ?? [];
  if (first) {
    S.cols = colsFromInspect(res.inspect);
    S.autoCols = structuredClone(S.cols);
    S.eventSrc = "column";
    S.eventName = "";
    const saved = mapping ? { mapping, savedAt: null } : await mappings.load(S.kind, res.inspect.headers);
    if (seq !== S.inspectSeq) return;
    if (saved?.mapping) {
      applyUiMapping(saved.mapping);
      if (!mapping) {
        $("mapping-notice").replaceChildren(
          h("p", {}, h("strong", { text: "Your saved mapping is in use. " }), `You saved it on ${when(saved.savedAt)} for files with these columns.`),
          h("div", { class: "inline-actions" }, h("button", { type: "button", class: "btn subtle", text: "Use the detected mapping instead", onclick: resetMapping })));
        $("mapping-notice").hidden = false;
      }
      renderAll();
      return inspect(); // again, with the saved mapping, for its payloads and checks
    }
  } else {
    // keep the person's choices; refresh what was detected
    const byHeader = new Map(colsFromInspect(res.inspect).map((c) => [c.header, c]));
    for (const c of S.cols) { const d = byHeader.get(c.header); if (d) { c.detected = d.detected; c.autoType = d.autoType; } }
  }
  S.mappingKey = await sha256Hex(JSON.stringify([S.kind, engineMapping()]));
  if (seq !== S.inspectSeq) return;
  renderAll();
  if (res.error) showAlert($("columns-alert"), Object.assign(new Error(res.error.message), { code: res.error.code, detail: res.error }));
  else if (res.inspect.mappingError) showAlert($("columns-alert"), Object.assign(new Error(res.inspect.mappingError), { code: "E_MAPPING" }));
  else if (first) announce(`${S.file.name}: ${S.cols.length} columns found. Check the columns in step 3.`);
}

function renderAll() {
  renderFacts();
  renderPreview();
  renderMapping();
  renderPayloads(S.dry?.payloads?.length ? S.dry.payloads : S.previewPayloads);
  $("step-columns").hidden = false;
  $("step-check").hidden = false;
  $("step-send").hidden = false;
  renderSendLead();
  setStep(S.sendJob ? "send" : S.dry ? "send" : "columns");
}

function renderFacts() {
  const d = S.info.dialect ?? {};
  const rows = S.dry?.summary?.rows ?? S.liveRows;
  const rowText = S.dry?.done ? num(S.dry.summary.rows)
    : rows != null ? `${num(rows)} so far`
    : S.inspectEof ? num(S.firstRows) : `${num(S.firstRows)} in the first ${bytes(1024 * 1024)} — counted in full by the check`;
  const items = [
    ["Encoding", encodingName(d.encoding)],
    ["Delimiter", delimiterName(d.delimiter)],
    ["Line endings", lineEndingName(d.lineEnding ?? d.line_ending)],
    ["Columns", num(S.info.headers.length)],
    ["Rows", rowText],
  ];
  $("facts").replaceChildren(...items.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v, "data-fact": k.toLowerCase().replace(/ /g, "-") }))));
}

function renderPreview() {
  const headers = S.info.headers;
  const rows = (S.info.preview ?? []).slice(0, 10);
  const table = h("table", { class: "preview" },
    h("caption", { class: "visually-hidden", text: "The first rows of the file" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "rownum", text: "#" }), headers.map((x) => h("th", { scope: "col", text: x })))),
    h("tbody", {}, rows.map((r, i) => h("tr", {}, h("td", { class: "rownum", text: String(i + 1) }),
      headers.map((_, c) => { const v = r?.[c] ?? ""; return h("td", { class: v === "" ? "empty" : null, text: v === "" ? "(empty)" : v, title: v.length > 30 ? v : null }); })))),
  );
  $("preview-wrap").replaceChildren(rows.length ? table : h("p", { class: "vt-empty", text: "The file has a header row but no rows under it." }));
}

function option(value, label, selected) {
  const o = h("option", { value, text: label });
  o.selected = !!selected;
  return o;
}

function detectedText(c) {
  if (c.use === "timestamp") return c.detected ? `format: ${c.detected}` : "timestamp";
  if (c.use === "ignore") return "not sent";
  if (IDENT.has(c.use)) return "who the row is about";
  if (c.use === "event") return "event name";
  if (c.use === "event_id") return "the same row always gets the same event id";
  const parts = [];
  if (c.detected) parts.push(c.detected);
  if (c.keyPath && Array.isArray(c.keyPath) && c.keyPath.length > 1) parts.push(`nested: ${c.keyPath.join(" → ")}`);
  return parts.join(" · ");
}

function renderMapping() {
  const events = S.kind === "events";
  const tbody = $("mapping").tBodies[0];
  tbody.replaceChildren(...S.cols.map((c, i) => {
    const useSel = h("select", { id: `use-${i}`, "aria-label": `Use column “${c.header}” as`, "data-col": c.header },
      USES.filter(([v]) => events || (v !== "event" && v !== "event_id")).map(([v, l]) => option(v, l, c.use === v)));
    useSel.addEventListener("change", () => setUse(i, useSel.value));
    const isAttr = c.use === "attribute";
    const typeSel = h("select", { id: `type-${i}`, "aria-label": `Type of column “${c.header}”`, disabled: !isAttr },
      TYPES.map(([v, l]) => option(v, v === "auto" && c.autoType && c.autoType !== "auto" ? `Automatic (${TYPES.find(([t]) => t === c.autoType)?.[1].toLowerCase() ?? c.autoType})` : l, c.type === v)));
    typeSel.addEventListener("change", () => { c.type = typeSel.value; mappingChanged(); });
    return h("tr", { class: c.use === "ignore" ? "ignored" : null },
      h("td", { class: "col", text: c.header || "(blank header)" }),
      h("td", { class: "sample", text: c.sample || "—", title: c.sample || null }),
      h("td", {}, useSel), h("td", {}, typeSel),
      h("td", { class: "detected", text: detectedText(c) }));
  }));

  // event name and timestamp controls
  $("event-field").hidden = !events;
  const evCol = S.cols.find((c) => c.use === "event");
  $("event-column").replaceChildren(option("", "— choose a column —", !evCol), ...S.cols.map((c) => option(c.header, c.header, c === evCol)));
  document.querySelector(`input[name=event-src][value=${S.eventSrc}]`).checked = true;
  $("event-column").hidden = S.eventSrc !== "column";
  $("event-name").hidden = S.eventSrc !== "fixed";
  $("event-name").value = S.eventName;
  const ts = S.cols.find((c) => c.use === "timestamp");
  $("ts-column").replaceChildren(option("", events ? "— none: the time of sending —" : "— none —", !ts), ...S.cols.map((c) => option(c.header, c.header, c === ts)));
  $("ts-detected").textContent = ts ? (ts.detected ? `Detected format: ${ts.detected}` : "Format detected from the values.")
    : events ? "Without a timestamp Customer.io records each event at the moment it arrives." : "Optional: orders updates to the same person.";
  $("default-zone").value = S.defaultZone;
  $("date-order").value = S.dateOrder;
  $("empty-null").checked = S.emptyAsNull;
  $("mapping-status").textContent = "";
}

function setUse(i, use) {
  const c = S.cols[i];
  const single = IDENT.has(use) ? (x) => IDENT.has(x.use) : ["event", "timestamp", "event_id"].includes(use) ? (x) => x.use === use : null;
  if (single) for (const o of S.cols) if (o !== c && single(o)) o.use = "attribute";
  c.use = use;
  if (use === "event") S.eventSrc = "column";
  renderMapping();
  $(`use-${i}`).focus();
  mappingChanged();
}

let mappingTimer = 0;
function mappingChanged() {
  S.dry = null;
  $("check-results").hidden = true;
  hideAlert($("check-alert"));
  $("dry-download").hidden = true;
  renderSendLead();
  clearTimeout(mappingTimer);
  mappingTimer = setTimeout(() => inspect(), 250);
}

function resetMapping() {
  if (!S.autoCols) return;
  S.cols = structuredClone(S.autoCols);
  S.eventSrc = "column"; S.eventName = ""; S.defaultZone = "UTC"; S.dateOrder = ""; S.emptyAsNull = false;
  $("mapping-notice").hidden = true;
  renderMapping();
  mappingChanged();
  $("mapping-status").textContent = "Back to the detected mapping.";
}

// ---------------------------------------------------------------- step 4: dry run
function counts(summary, issues) {
  const s = summary ?? {};
  const items = [
    ["rows", "Rows read", s.rows, ""],
    ["valid", "Valid rows", s.valid, "ok"],
    ["rejected", "Rejected rows", s.rejected, s.rejected ? "err" : ""],
    ["warnings", "Rows with warnings", s.warnings ?? issues?.warnings, (s.warnings ?? issues?.warnings) ? "warn" : ""],
  ];
  $("counts").replaceChildren(...items.map(([key, k, v, cls]) => h("div", { class: `count ${cls}`, "data-count": key },
    h("span", { class: "v", text: num(v ?? 0) }), h("span", { class: "k", text: k }))));
}

async function onDryRun() {
  if (S.dryJob || S.sendJob) return;
  hideAlert($("check-alert"));
  if (S.issuesJob) { S.engine.release(S.issuesJob); S.issuesJob = null; }
  $("dry-run").disabled = true;
  $("dry-cancel").hidden = false;
  $("dry-progress").hidden = false;
  $("check-results").hidden = false;
  $("dry-download").hidden = true;
  $("window-warning").hidden = true;
  $("old-note").hidden = true;
  const parts = [];
  const mappingKey = S.mappingKey;
  const job = S.engine.dryRun(S.file, engineOptions(), {
    progress(m) {
      const read = m.bytesRead ?? 0;
      $("dry-bar").value = S.file.size ? read / S.file.size : 0;
      $("dry-text").textContent = `${bytes(read)} of ${bytes(S.file.size)} · ${num(m.p?.rows)} rows`;
      S.liveRows = m.p?.rows;
      renderFacts();
      counts(m.p, m.issues);
      renderIssues(job.id, m.issues, true);
    },
    rejected(text) { parts.push(text); },
  });
  S.dryJob = job;
  S.issuesJob = job.id;
  try {
    const res = await job.done;
    S.dry = { done: true, summary: res.summary, issues: res.issues, payloads: res.payloads, mappingKey, parts, job: job.id };
    $("dry-bar").value = 1;
    $("dry-text").textContent = `Checked ${num(res.summary.rows)} rows (${bytes(res.bytesRead)}).`;
    $("dry-text").dataset.engineMemory = String(res.wasmBytes ?? "");
    if (res.inspect) S.info = { ...S.info, dialect: res.inspect.dialect ?? S.info.dialect };
    counts(res.summary, res.issues);
    renderIssues(job.id, res.issues, false);
    renderWindow(res.summary);
    renderPayloads(res.payloads?.length ? res.payloads : S.previewPayloads);
    renderFacts();
    $("dry-download").hidden = !parts.length;
    renderSendLead();
    setStep("send");
    announce(`Check finished: ${num(res.summary.valid)} valid, ${num(res.summary.rejected)} rejected.`);
  } catch (e) {
    S.dry = null;
    showAlert($("check-alert"), e);
    if (e.detail?.summary) counts(e.detail.summary, e.detail.issues);
    if (e.detail?.issues) renderIssues(job.id, e.detail.issues, false);
  } finally {
    S.dryJob = null;
    S.liveRows = null;
    $("dry-run").disabled = false;
    $("dry-run").textContent = "Check again";
    $("dry-cancel").hidden = true;
  }
}

function renderWindow(summary) {
  const n = Number(summary?.campaignWindow ?? 0);
  if (n > 0) {
    $("window-text").replaceChildren(h("strong", { text: `${num(n)} ${S.kind === "events" ? "events are" : "rows are"} from the last 72 hours. ` }),
      "Backfilled events that recent can still trigger campaigns in your workspace (older ones cannot). Skip them if they should not start campaigns.");
    $("skip-window-label").textContent = `Skip these ${num(n)} rows (they are listed in the rejected rows download)`;
    $("window-warning").hidden = false;
  } else {
    $("window-warning").hidden = true;
    $("skip-window").checked = false;
  }
  const old = Number(summary?.olderThan30Days ?? 0);
  $("old-note").textContent = `${num(old)} events are older than 30 days: they count in segments, but Customer.io does not show them in the activity log — that does not mean they were lost.`;
  $("old-note").hidden = !(old > 0 && S.kind === "events");
}

const ISSUE_COLUMNS = [
  { key: "line", label: "Line", className: "num" },
  { key: "columnName", label: "Column", title: true, render: (r) => r.columnName ?? (r.column != null ? `#${r.column + 1}` : "—") },
  { key: "code", label: "Problem", render: (r) => h("span", { class: `sev ${r.severity}`, text: r.code }) },
  { key: "message", label: "Details", title: true },
];
let issuesTable = null;
let lastIssueCounts = null;
function renderIssues(jobId, ic, live) {
  if (!issuesTable) issuesTable = new VirtualTable($("issues"), ISSUE_COLUMNS, { label: "Issues by line", rowHeight: 34 });
  lastIssueCounts = ic;
  const f = S.issueFilter;
  const totalFor = () => {
    if (!ic) return 0;
    if (f.code) return Math.min(ic.byCode[f.code] ?? 0, ic.stored);
    if (f.severity === "error") return Math.min(ic.errors, ic.stored);
    if (f.severity === "warning") return Math.min(ic.warnings, ic.stored);
    return ic.stored;
  };
  // keep the code filter in sync
  const sel = $("issue-code");
  const codes = Object.keys(ic?.byCode ?? {}).sort();
  if (sel.options.length - 1 !== codes.length) {
    sel.replaceChildren(option("", "Any", !f.code), ...codes.map((c) => option(c, `${c} (${num(ic.byCode[c])})`, f.code === c)));
  }
  const total = totalFor();
  const fetchRows = (offset, limit) => S.engine.issues(jobId, offset, limit, { ...f }).then((p) => p.rows);
  if (issuesTable.jobId !== jobId || issuesTable.filterKey !== JSON.stringify(f) || (!live && issuesTable.live)) {
    issuesTable.jobId = jobId;
    issuesTable.filterKey = JSON.stringify(f);
    issuesTable.setSource(total, fetchRows);
  } else issuesTable.setTotal(total);
  issuesTable.live = live;
  const shown = ic ? `${num(ic.total)} issue${ic.total === 1 ? "" : "s"}: ${num(ic.errors)} error${ic.errors === 1 ? "" : "s"}, ${num(ic.warnings)} warning${ic.warnings === 1 ? "" : "s"}` : "";
  $("issues-count").textContent = shown + (ic && ic.total > ic.stored ? ` — the table keeps the first ${num(ic.stored)}; the download lists every rejected row` : "");
}

function renderPayloads(list) {
  const items = list ?? [];
  $("payloads").hidden = !items.length;
  if (!items.length) return;
  const pick = $("payload-pick");
  const cur = Number(pick.value || 0);
  const label = (p, i) => {
    const who = p?.identifiers ? Object.values(p.identifiers)[0] : p?.userId ?? p?.anonymousId;
    const what = p?.action === "event" || p?.type === "track" ? `event “${p.name ?? p.event}”` : p?.action ?? p?.type ?? "item";
    return `Row ${i + 1}: ${what}${who != null ? ` for ${who}` : ""}`;
  };
  pick.replaceChildren(...items.map((p, i) => option(String(i), label(p, i), i === cur)));
  const show = () => { $("payload-json").textContent = JSON.stringify(items[Number(pick.value) || 0], null, 2); };
  pick.onchange = show;
  show();
}

// ---------------------------------------------------------------- step 5: send
function renderSendLead() {
  if (!S.info) return;
  const api = S.config.mode === "worker" ? "the importer Worker" : S.api === "track" ? "Customer.io's Track API" : "Customer.io Data Pipelines";
  const what = S.dry?.done ? `${num(S.dry.summary.valid)} valid ${S.kind === "events" ? "events" : "people"}` : S.kind === "events" ? "the events" : "the people";
  const region = S.region === "eu" ? "EU" : "US";
  $("send-lead").textContent = `Sends ${what} from ${S.file.name} to ${api} (${region})${S.resumeAfter ? `, starting after row ${num(S.resumeAfter)}` : ""}. You can pause or cancel at any time and resume later.`;
  $("send-note").hidden = !(S.api === "pipelines" && S.config.mode !== "worker");
  $("send").textContent = S.resumeAfter ? `Resume sending after row ${num(S.resumeAfter)}` : "Send to Customer.io";
}

function onSendClick() {
  if (S.sendJob || S.dryJob) return;
  if (!S.secrets) { $("connect-edit").hidden = false; $("connect-done").hidden = true; focusSection("step-connect"); return; }
  if (!S.dry?.done && !S.resumeAfter) { $("send-confirm").hidden = false; $("check-first").focus(); return; }
  startSend();
}

function stat(key, label, value) { return h("div", { "data-stat": key }, h("dt", { text: label }), h("dd", { text: value })); }

async function startSend() {
  $("send-confirm").hidden = true;
  hideAlert($("send-alert"));
  $("summary").hidden = true;
  $("live").hidden = false;
  $("send").hidden = true;
  $("pause").hidden = false;
  $("pause").textContent = "Pause";
  $("cancel").hidden = false;
  $("cancel").disabled = false;
  $("dry-run").disabled = true;
  $("file").disabled = true;
  S.paused = false;
  S.rejected = [];
  const chart = (S.chart ??= new ThroughputChart($("chart")));
  chart.reset();
  const started = performance.now();
  const samples = [];
  let lastSave = 0;
  let lastSample = { t: started, done: 0 };
  const mapping = engineMapping();
  const ui = uiMapping();
  const resumeFrom = S.resumeAfter;
  const runBase = { status: "running", api: S.api, region: S.region, kind: S.kind, headers: S.info.headers, mapping: ui,
    checkpoint: resumeFrom, startedAt: S.runInfo?.startedAt ?? Date.now(), sent: S.runInfo?.sent ?? 0 };
  runs.save(S.fp, runBase);
  const opts = engineOptions({
    mapping,
    skipCampaignWindow: $("skip-window").checked,
    resumeAfterRecord: resumeFrom || undefined,
    ...(S.config.mode === "worker" ? { token: S.secrets.token } : { siteId: S.secrets.siteId, apiKey: S.secrets.apiKey }),
  });
  let last = null;
  // The engine's checkpoint is the record below which every row is settled, and a failed row (after retries, or
  // cancelled) counts as settled. A resume must send failed rows again, so only checkpoints reported while no row
  // had failed are kept: every row up to such a checkpoint was accepted or rejected for good.
  let safeCp = resumeFrom;
  const job = S.engine.send(S.file, opts, {
    progress(m) {
      const p = m.p ?? {};
      last = { ...p, bytesRead: p.bytesRead ?? m.bytesRead };
      renderLive(last, started, samples, chart, lastSample);
      const before = safeCp;
      if (p.checkpoint != null && Number(p.failed ?? 0) === 0) safeCp = Math.max(safeCp, Number(p.checkpoint));
      // saved as soon as it moves (a closed tab loses at most one progress interval), else once a second
      if (safeCp !== before || performance.now() - lastSave > 1000) {
        lastSave = performance.now();
        runs.save(S.fp, { ...runBase, checkpoint: safeCp, sent: (runBase.sent ?? 0) + Number(p.sent ?? 0) });
      }
    },
    rejected(text) { S.rejected.push(text); },
    state(m) {
      S.paused = m.paused;
      $("pause").textContent = m.paused ? "Resume" : "Pause";
      $("send-status").textContent = m.paused ? `Paused. ${m.inFlight ? `${m.inFlight} request${m.inFlight === 1 ? "" : "s"} already on the way will finish; ` : ""}nothing new is sent until you resume.` : "Sending…";
    },
  });
  S.sendJob = job;
  setStep("send");
  $("send-status").textContent = "Sending…";
  window.addEventListener("beforeunload", beforeUnload);
  let summary = null, error = null, cancelled = false;
  try {
    const res = await job.done;
    summary = res.summary;
    cancelled = !!res.cancelled;
    // Network failures are not exceptions: the rows end as failed after retries. Say why.
    if (!cancelled && Number(summary?.failed) > 0 && (res.network || res.refused))
      error = Object.assign(new Error(res.network?.message ?? "blocked"), { code: "E_NETWORK", detail: res });
  } catch (e) {
    error = e;
    summary = e.detail?.summary ?? last;
    cancelled = e.code === "E_ABORTED";
  }
  window.removeEventListener("beforeunload", beforeUnload);
  S.sendJob = null;
  const finished = !error && !cancelled;
  const cp = finished && Number(summary?.failed ?? 0) === 0 ? Math.max(resumeFrom, Number(summary?.checkpoint ?? 0)) : safeCp;
  runs.save(S.fp, { ...runBase, status: finished ? "done" : cancelled ? "cancelled" : "failed", checkpoint: cp,
    sent: (runBase.sent ?? 0) + Number(summary?.sent ?? 0) });
  S.runInfo = runs.load(S.fp);
  $("pause").hidden = true;
  $("cancel").hidden = true;
  $("send").hidden = false;
  $("dry-run").disabled = false;
  $("file").disabled = false;
  if (error && !cancelled) showAlert($("send-alert"), error);
  if (summary) {
    renderLive({ ...summary, bytesRead: S.file.size }, started, samples, chart, lastSample, true);
    $("send-status").textContent = finished ? "Finished." : cancelled ? "Cancelled." : "Stopped.";
  }
  renderSummary(summary, { cancelled, error, seconds: (performance.now() - started) / 1000, checkpoint: cp });
  if (finished) {
    S.resumeAfter = 0;
    $("send").textContent = "Send again";
  } else {
    S.earlierRejected = S.rejected;
    S.resumeAfter = cp;
    renderSendLead();
    $("send").textContent = cp ? `Resume after row ${num(cp)}` : "Send again";
  }
  announce(finished ? `Done: ${num(summary?.sent)} rows sent.` : cancelled ? "Cancelled. You can resume later." : "The send stopped with an error.");
}

function beforeUnload(e) { e.preventDefault(); e.returnValue = ""; }

function processed(p) {
  return Number(p.sent ?? 0) + Number(p.rejected ?? 0) + Number(p.apiRejected ?? 0) + Number(p.failed ?? 0) + Number(p.skippedResume ?? 0);
}

function renderLive(p, started, samples, chart, lastSample, final = false) {
  const now = performance.now();
  const done = processed(p);
  const read = Number(p.bytesRead ?? 0);
  const estTotal = final ? Number(p.rows ?? 0) : read > 0 && p.rows ? Math.max(p.rows, (p.rows * S.file.size) / read) : null;
  const frac = final ? (estTotal ? done / estTotal : 1) : estTotal ? Math.min(1, done / estTotal) : 0;
  samples.push({ t: now, done });
  while (samples.length > 2 && now - samples[0].t > 10_000) samples.shift();
  const span = (samples.at(-1).t - samples[0].t) / 1000;
  const elapsed = (now - started) / 1000;
  const rate = final ? (elapsed > 0 ? (done - Number(p.skippedResume ?? 0)) / elapsed : 0)
    : span > 0.5 ? (samples.at(-1).done - samples[0].done) / span : Number(p.rowsPerSec ?? 0);
  const eta = estTotal && rate > 0 ? (estTotal - done) / rate : null;
  if (now - lastSample.t >= 1000) {
    chart.add(Math.max(0, ((done - lastSample.done) * 1000) / (now - lastSample.t)));
    lastSample.t = now;
    lastSample.done = done;
    $("chart-caption").textContent = `Rows per second — now ${num(rate)}, peak ${num(chart.peak)}`;
  }
  $("send-bar").value = frac;
  $("send-pct").textContent = `${Math.floor(frac * 100)} %`;
  $("stats").replaceChildren(
    stat("rate", final ? "Rows/s (average)" : "Rows per second", S.paused && !final ? "—" : num(rate)),
    stat("eta", "Time left", final ? "—" : S.paused ? "paused" : eta != null ? duration(eta) : "estimating…"),
    stat("sent", "Sent", num(p.sent)),
    stat("rejected", "Rejected", num(Number(p.rejected ?? 0) + Number(p.apiRejected ?? 0))),
    stat("failed", "Failed", num(p.failed)),
    stat("retries", "Retries", num(p.retries)),
    stat("requests", "Requests", num(p.requests)),
    stat("elapsed", "Elapsed", duration(elapsed)),
  );
  if (final && chart.points.length < 3) $("chart-caption").textContent = "Rows per second — the run was too short to chart";
  if (!S.paused && !final) $("send-status").textContent = estTotal ? `Sending… ${num(done)} of about ${num(estTotal)} rows handled.` : "Sending…";
}

function renderSummary(s, { cancelled, error, seconds, checkpoint }) {
  s = s ?? {};
  const v = (k) => Number(s[k] ?? 0);
  const rows = [
    ["sent", "Sent and accepted by Customer.io", v("sent"), null],
    ["rejected", "Rejected before sending", v("rejected"), $("skip-window").checked ? "problems in the file, and rows skipped inside the 72-hour window" : "problems in the file — see the download"],
    ["apiRejected", "Rejected by Customer.io", v("apiRejected"), "the API refused these rows — see the download"],
    ["failed", "Failed", v("failed"), cancelled ? "not sent because the run was cancelled, or not confirmed after retries" : "not confirmed after retries"],
    ["skippedResume", "Already sent in an earlier run", v("skippedResume"), "skipped when resuming"],
    ["pending", "Still on the way", v("pending"), "sent, but no answer yet when the run stopped"],
    ["unsent", "Not sent (dry run)", v("unsent"), null],
  ].filter(([k, , n]) => n > 0 || ["sent", "rejected", "failed"].includes(k));
  const sum = rows.reduce((a, r) => a + r[2], 0);
  const tbody = $("summary-table").tBodies[0];
  tbody.replaceChildren(
    ...rows.map(([k, label, n, sub]) => h("tr", { "data-row": k }, h("td", {}, label, sub ? h("span", { class: "sub", text: sub }) : null), h("td", { class: "v", text: num(n) }))),
    h("tr", { class: "total", "data-row": "rows" }, h("td", { text: "Rows read from the file" }), h("td", { class: "v", text: num(v("rows")) })),
  );
  const ok = sum === v("rows");
  $("summary-check").replaceChildren(h("span", { class: ok ? "adds-up" : "adds-up bad", text: ok ? `✓ Every row is accounted for: ${rows.map((r) => num(r[2])).join(" + ")} = ${num(sum)}.` : `These numbers do not add up (${num(sum)} vs ${num(v("rows"))} rows read). Please report this.` }));
  const notes = [];
  const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;
  notes.push(`${plural(v("requests"), "request", "requests")}, ${plural(v("retries"), "retry", "retries")}, ${seconds < 1 ? "under a second" : duration(seconds)}.`);
  if (v("olderThan30Days") && S.kind === "events") notes.push(`${num(v("olderThan30Days"))} events are older than 30 days: they are in your workspace but do not show in the activity log.`);
  if (v("campaignWindow") && !$("skip-window").checked) notes.push(`${num(v("campaignWindow"))} events were from the last 72 hours and may trigger campaigns.`);
  if ((cancelled || error) && checkpoint) notes.push(`Rows 1 to ${num(checkpoint)} are confirmed. Choose this file again (even after closing the tab) to resume after row ${num(checkpoint)}.`);
  if (S.earlierRejected && S.earlierRejected !== S.rejected && S.earlierRejected.length && !cancelled) notes.push("This download lists the rows of this run; the rows rejected before resuming were in the earlier run's download.");
  $("summary-notes").textContent = notes.join(" ");
  $("summary-h").textContent = error && !cancelled ? "Stopped — summary so far" : cancelled ? "Cancelled — summary so far" : "Done";
  $("download").hidden = !S.rejected.length;
  $("summary").hidden = false;
  $("summary").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

function download(parts, suffix) {
  // a byte-order mark, so spreadsheet programs read the file as UTF-8
  const blob = new Blob(["\ufeff", ...parts], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `${S.file.name.replace(/\.[^.]+$/, "")}-${suffix}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

// ---------------------------------------------------------------- wiring
function wire() {
  document.querySelectorAll("input[name=api]").forEach((r) => r.addEventListener("change", () => { S.api = r.value; syncCredFields(); }));
  document.querySelectorAll("input[name=region]").forEach((r) => r.addEventListener("change", () => { S.region = r.value; }));
  $("connect-continue").addEventListener("click", onContinue);
  for (const id of ["site-id", "api-key", "import-token"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") onContinue(); });
  $("connect-change").addEventListener("click", () => {
    $("connect-edit").hidden = false;
    $("connect-done").hidden = true;
    setStep("connect");
    document.querySelector("input[name=api]:checked").focus();
  });
  $("forget").addEventListener("click", () => {
    credStore.forget();
    S.remembered = false;
    $("remember").checked = false;
    $("forget").hidden = true;
    $("connect-summary").textContent = connectSummary();
    announce("The saved credentials were deleted from this browser.");
  });

  document.querySelectorAll("input[name=kind]").forEach((r) => r.addEventListener("change", () => {
    S.kind = r.value;
    prefs.save({ kind: S.kind });
    if (S.file && !S.sendJob) onFile(S.file);
  }));
  $("file").addEventListener("change", () => onFile($("file").files[0]));
  $("pick-file").addEventListener("click", () => $("file").click());
  // the whole "Choose the file" card takes a dropped file
  const zone = $("step-file"), drop = $("drop");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); zone.classList.add("over"); });
  zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) { drop.classList.remove("over"); zone.classList.remove("over"); } });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) onFile(e.dataTransfer.files[0]);
  });
  // a file dropped anywhere else must not make the browser navigate away
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  document.querySelectorAll("input[name=event-src]").forEach((r) => r.addEventListener("change", () => {
    S.eventSrc = r.value;
    if (S.eventSrc === "fixed") for (const c of S.cols) if (c.use === "event") c.use = "attribute";
    renderMapping();
    (S.eventSrc === "fixed" ? $("event-name") : $("event-column")).focus();
    mappingChanged();
  }));
  $("event-column").addEventListener("change", () => {
    const i = S.cols.findIndex((c) => c.header === $("event-column").value);
    if (i >= 0) setUse(i, "event"); else { for (const c of S.cols) if (c.use === "event") c.use = "attribute"; renderMapping(); mappingChanged(); }
    $("event-column").focus();
  });
  $("event-name").addEventListener("input", () => { S.eventName = $("event-name").value; mappingChanged(); });
  $("ts-column").addEventListener("change", () => {
    const i = S.cols.findIndex((c) => c.header === $("ts-column").value);
    if (i >= 0) setUse(i, "timestamp"); else { for (const c of S.cols) if (c.use === "timestamp") c.use = "attribute"; renderMapping(); mappingChanged(); }
    $("ts-column").focus();
  });
  $("default-zone").addEventListener("change", () => { S.defaultZone = $("default-zone").value; mappingChanged(); });
  $("date-order").addEventListener("change", () => { S.dateOrder = $("date-order").value; mappingChanged(); });
  $("empty-null").addEventListener("change", () => { S.emptyAsNull = $("empty-null").checked; mappingChanged(); });
  $("save-mapping").addEventListener("click", async () => {
    const ok = await mappings.save(S.kind, S.info.headers, uiMapping());
    $("mapping-status").textContent = ok ? "Saved. It will be used for the next file with the same columns." : "Could not save: this browser's storage is full or disabled.";
  });
  $("reset-mapping").addEventListener("click", resetMapping);

  $("dry-run").addEventListener("click", onDryRun);
  $("dry-cancel").addEventListener("click", () => { if (S.dryJob) S.engine.cancel(S.dryJob); });
  $("issue-severity").addEventListener("change", () => { S.issueFilter.severity = $("issue-severity").value; if (S.issuesJob) renderIssues(S.issuesJob, lastIssueCounts, false); });
  $("issue-code").addEventListener("change", () => { S.issueFilter.code = $("issue-code").value; if (S.issuesJob) renderIssues(S.issuesJob, lastIssueCounts, false); });
  $("dry-download").addEventListener("click", () => download(S.dry?.parts ?? [], "rejected-rows"));

  $("send").addEventListener("click", onSendClick);
  $("send-anyway").addEventListener("click", startSend);
  $("check-first").addEventListener("click", () => { $("send-confirm").hidden = true; focusSection("step-check"); $("dry-run").focus(); });
  $("pause").addEventListener("click", () => {
    if (!S.sendJob) return;
    if (S.paused) S.engine.resume(S.sendJob); else S.engine.pause(S.sendJob);
  });
  $("cancel").addEventListener("click", () => {
    if (!S.sendJob) return;
    $("cancel").disabled = true;
    $("send-status").textContent = "Cancelling… requests already on the way are finishing.";
    S.engine.cancel(S.sendJob);
  });
  $("download").addEventListener("click", () => download(S.rejected, "rejected-and-failed-rows"));
  $("another").addEventListener("click", () => {
    resetDownstream();
    S.file = null;
    $("file").value = "";
    $("drop").classList.remove("compact");
    setStep("file");
    focusSection("step-file");
  });
}

start();
