// A virtualised table: fixed row height, only the visible rows (plus a few) exist in the DOM, rows are fetched
// in pages from an async source and cached. Stays smooth with 100,000s of rows.
// Accessibility: role="table" with aria-rowcount / aria-rowindex; the scroll area is focusable, so arrow keys,
// Page Up/Down, Home and End scroll it.

const PAGE = 200;

export class VirtualTable {
  /**
   * @param {HTMLElement} root  an empty element; the table is built inside
   * @param {{key:string,label:string,className?:string,render?:(row)=>string|Node}[]} columns
   * @param {{rowHeight?:number,label:string}} opts
   */
  constructor(root, columns, { rowHeight = 34, label = "Table", maxHeight = 374 } = {}) {
    this.root = root;
    this.maxHeight = maxHeight;
    this.columns = columns;
    this.rowHeight = rowHeight;
    this.total = 0;
    this.fetch = null;
    this.cache = new Map();   // page index -> rows[]
    this.loading = new Set();
    this.generation = 0;
    this.pool = [];

    root.classList.add("vt");
    root.setAttribute("role", "table");
    root.setAttribute("aria-label", label);
    root.setAttribute("aria-rowcount", "1");

    const head = document.createElement("div");
    head.className = "vt-head";
    head.setAttribute("role", "rowgroup");
    const hr = document.createElement("div");
    hr.className = "vt-row vt-header";
    hr.setAttribute("role", "row");
    hr.setAttribute("aria-rowindex", "1");
    for (const c of columns) {
      const cell = document.createElement("div");
      cell.className = `vt-cell ${c.className ?? ""}`;
      cell.setAttribute("role", "columnheader");
      cell.textContent = c.label;
      hr.append(cell);
    }
    head.append(hr);

    this.viewport = document.createElement("div");
    this.viewport.className = "vt-viewport";
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute("role", "rowgroup");
    this.viewport.setAttribute("aria-label", `${label}: scroll with the arrow keys`);
    this.spacer = document.createElement("div");
    this.spacer.className = "vt-spacer";
    this.viewport.append(this.spacer);

    this.empty = document.createElement("p");
    this.empty.className = "vt-empty";
    this.empty.textContent = "Nothing to show.";

    root.replaceChildren(head, this.viewport, this.empty);
    this.viewport.addEventListener("scroll", () => this.#schedule(), { passive: true });
    this.viewport.addEventListener("keydown", (e) => this.#key(e));
    new ResizeObserver(() => this.#schedule()).observe(this.viewport);
  }

  /** Sets the row source: `fetch(offset, limit)` resolves to rows (objects keyed by column key). */
  setSource(total, fetch) {
    this.generation++;
    this.total = total;
    this.fetch = fetch;
    this.cache.clear();
    this.loading.clear();
    this.#size();
    if (this.viewport.scrollTop > total * this.rowHeight) this.viewport.scrollTop = 0;
    this.#render();
  }

  /** Grows the row count (rows arriving during a run) without dropping the cache. */
  setTotal(total) {
    if (total === this.total) return;
    // the last cached page may be incomplete: drop it
    this.cache.delete(Math.floor(this.total / PAGE));
    this.total = total;
    this.#size();
    this.#schedule();
  }

  #size() {
    const total = this.total;
    this.spacer.style.height = `${total * this.rowHeight}px`;
    // short lists get a short box; long ones scroll inside a fixed height
    this.viewport.style.height = `${Math.min(this.maxHeight, Math.max(1, total) * this.rowHeight + 2)}px`;
    this.root.setAttribute("aria-rowcount", String(total + 1));
    this.empty.hidden = total > 0;
    this.viewport.hidden = total === 0;
  }

  scrollToRow(i) {
    this.viewport.scrollTop = i * this.rowHeight;
    this.#render();
  }

  #key(e) {
    const v = this.viewport;
    const page = v.clientHeight - this.rowHeight;
    const moves = { ArrowDown: this.rowHeight, ArrowUp: -this.rowHeight, PageDown: page, PageUp: -page };
    if (e.key in moves) v.scrollTop += moves[e.key];
    else if (e.key === "Home") v.scrollTop = 0;
    else if (e.key === "End") v.scrollTop = v.scrollHeight;
    else return;
    e.preventDefault();
  }

  #schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.#render(); });
  }

  #load(p) {
    if (this.cache.has(p) || this.loading.has(p) || !this.fetch) return;
    const gen = this.generation;
    this.loading.add(p);
    Promise.resolve(this.fetch(p * PAGE, PAGE)).then((rows) => {
      if (gen !== this.generation) return;
      this.loading.delete(p);
      this.cache.set(p, rows);
      if (this.cache.size > 50) this.cache.delete(this.cache.keys().next().value);
      this.#schedule();
    }, () => this.loading.delete(p));
  }

  #row(i) {
    const r = document.createElement("div");
    r.className = "vt-row";
    r.setAttribute("role", "row");
    r.cells = this.columns.map((c) => {
      const cell = document.createElement("div");
      cell.className = `vt-cell ${c.className ?? ""}`;
      cell.setAttribute("role", "cell");
      r.append(cell);
      return cell;
    });
    return r;
  }

  #render() {
    const v = this.viewport;
    const h = this.rowHeight;
    const first = Math.max(0, Math.floor(v.scrollTop / h) - 5);
    const last = Math.min(this.total, Math.ceil((v.scrollTop + (v.clientHeight || 400)) / h) + 5);
    const need = Math.max(0, last - first);
    while (this.pool.length < need) {
      const r = this.#row();
      this.pool.push(r);
      this.spacer.append(r);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const r = this.pool[k];
      const i = first + k;
      if (k >= need) { r.hidden = true; continue; }
      r.hidden = false;
      r.style.transform = `translateY(${i * h}px)`;
      r.setAttribute("aria-rowindex", String(i + 2));
      const p = Math.floor(i / PAGE);
      const rows = this.cache.get(p);
      if (!rows) this.#load(p);
      const data = rows?.[i - p * PAGE];
      if (r.index === i && r.data === data) continue;
      r.index = i;
      r.data = data;
      r.classList.toggle("vt-loading", !data);
      this.columns.forEach((c, ci) => {
        const cell = r.cells[ci];
        if (!data) { cell.textContent = ci === 0 ? "…" : ""; return; }
        const out = c.render ? c.render(data) : data[c.key];
        if (out instanceof Node) cell.replaceChildren(out);
        else cell.textContent = out == null ? "" : String(out);
        if (c.title) cell.title = cell.textContent;
      });
    }
  }
}
