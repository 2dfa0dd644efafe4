// Runs inside the engine worker. Keeps the issues of one run in compact column arrays so that 100,000s of them
// cost a few MB, and serves pages of them (optionally filtered) to the page's virtual table.

const GROW = 1.6;

export class IssueStore {
  constructor(cap = 250_000) {
    this.cap = cap;
    this.n = 0;
    this.size = 1024;
    this.line = new Float64Array(this.size);
    this.record = new Float64Array(this.size);
    this.column = new Int32Array(this.size);
    this.codeIx = new Uint16Array(this.size);
    this.colNameIx = new Int32Array(this.size);
    this.message = [];
    this.codes = [];          // code strings, interned
    this.codeSev = [];        // severity per interned code
    this.codeMap = new Map();
    this.colNames = [];
    this.colNameMap = new Map();
    this.total = 0;           // all issues seen, including those over the cap
    this.errors = 0;
    this.warnings = 0;
    this.byCode = Object.create(null);
    this.filterKey = null;
    this.filterIdx = null;
  }

  get dropped() { return this.total - this.n; }

  #intern(map, list, s) {
    let i = map.get(s);
    if (i === undefined) { i = list.length; list.push(s); map.set(s, i); }
    return i;
  }

  #grow() {
    const size = Math.min(this.cap, Math.ceil(this.size * GROW));
    for (const k of ["line", "record", "column", "codeIx", "colNameIx"]) {
      const a = new this[k].constructor(size);
      a.set(this[k]);
      this[k] = a;
    }
    this.size = size;
  }

  add(issue) {
    this.total++;
    const sev = issue.severity === "warning" ? "warning" : "error";
    if (sev === "warning") this.warnings++; else this.errors++;
    const code = String(issue.code ?? "unknown");
    this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    if (this.n >= this.cap) return;
    if (this.n === this.size) this.#grow();
    const i = this.n++;
    this.line[i] = Number(issue.line ?? 0);
    this.record[i] = Number(issue.record ?? 0);
    this.column[i] = issue.column == null ? -1 : Number(issue.column);
    const ci = this.#intern(this.codeMap, this.codes, code);
    this.codeSev[ci] = sev;
    this.codeIx[i] = ci;
    this.colNameIx[i] = issue.columnName == null ? -1 : this.#intern(this.colNameMap, this.colNames, String(issue.columnName));
    this.message[i] = String(issue.message ?? "");
    this.filterKey = null;
  }

  addAll(list) {
    if (list) for (const it of list) this.add(it);
  }

  /** A copy holding only the issues of records below `record` (file-level issues, record 0, are kept). */
  below(record) {
    const out = new IssueStore(this.cap);
    for (let i = 0; i < this.n; i++) {
      if (this.record[i] >= record) continue;
      const ci = this.codeIx[i];
      out.add({ line: this.line[i], record: this.record[i], column: this.column[i] < 0 ? null : this.column[i],
        columnName: this.colNameIx[i] < 0 ? null : this.colNames[this.colNameIx[i]], code: this.codes[ci],
        severity: this.codeSev[ci], message: this.message[i] });
    }
    return out;
  }

  counts() {
    return { total: this.total, stored: this.n, errors: this.errors, warnings: this.warnings, byCode: { ...this.byCode } };
  }

  #indices(filter) {
    const sev = filter?.severity || "all";
    const code = filter?.code || "";
    if (sev === "all" && !code) return null;
    const key = `${sev}\u0000${code}\u0000${this.n}`;
    if (this.filterKey === key) return this.filterIdx;
    const out = new Uint32Array(this.n);
    let k = 0;
    for (let i = 0; i < this.n; i++) {
      const ci = this.codeIx[i];
      if (sev !== "all" && this.codeSev[ci] !== sev) continue;
      if (code && this.codes[ci] !== code) continue;
      out[k++] = i;
    }
    this.filterKey = key;
    this.filterIdx = out.subarray(0, k);
    return this.filterIdx;
  }

  page(offset, limit, filter) {
    const idx = this.#indices(filter);
    const total = idx ? idx.length : this.n;
    const rows = [];
    const end = Math.min(total, offset + Math.min(limit, 1000));
    for (let j = Math.max(0, offset); j < end; j++) {
      const i = idx ? idx[j] : j;
      const ci = this.codeIx[i];
      rows.push({
        line: this.line[i],
        record: this.record[i],
        column: this.column[i] < 0 ? null : this.column[i],
        columnName: this.colNameIx[i] < 0 ? null : this.colNames[this.colNameIx[i]],
        code: this.codes[ci],
        severity: this.codeSev[ci],
        message: this.message[i],
      });
    }
    return { offset, total, rows };
  }
}
