// Formula-injection guard for CSV that people open in a spreadsheet.
// A cell that starts with = + - @ tab or carriage return is run as a formula by Excel, LibreOffice and Google
// Sheets. Such cells are written as text by prefixing an apostrophe (OWASP's advice) – except plain numbers such
// as -12.5, which are not formulas. Streaming: text can be pushed in pieces of any size (quotes and line breaks
// may straddle pieces). Idempotent: an already-guarded cell starts with ' and is left alone.

const TRIGGER = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function isDangerousCell(value) {
  return TRIGGER.test(value) && !PLAIN_NUMBER.test(value);
}

export function guardCell(value) {
  return isDangerousCell(value) ? `"'${value.replaceAll('"', '""')}"` : null;
}

export class FormulaSafeCsv {
  constructor(delimiter = ",") {
    this.delim = delimiter;
    this.state = 0;   // 0 field start, 1 unquoted, 2 quoted, 3 quote seen inside quoted
    this.raw = "";    // the field as written
    this.val = "";    // the field's value
  }

  #endField(out) {
    const g = guardCell(this.val);
    out.push(g ?? this.raw);
    this.raw = "";
    this.val = "";
    this.state = 0;
  }

  /** Push a piece of CSV text, get back the guarded text that is complete so far. */
  push(text) {
    const out = [];
    const d = this.delim;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      switch (this.state) {
        case 0:
        case 1:
          if (ch === d) { this.#endField(out); out.push(d); }
          else if (ch === "\n" || ch === "\r") { this.#endField(out); out.push(ch); }
          else if (ch === '"' && this.state === 0) { this.state = 2; this.raw += ch; }
          else { this.state = 1; this.raw += ch; this.val += ch; }
          break;
        case 2:
          this.raw += ch;
          if (ch === '"') this.state = 3; else this.val += ch;
          break;
        case 3:
          if (ch === '"') { this.raw += ch; this.val += ch; this.state = 2; }
          else if (ch === d) { this.#endField(out); out.push(d); }
          else if (ch === "\n" || ch === "\r") { this.#endField(out); out.push(ch); }
          else { this.raw += ch; this.val += ch; this.state = 1; } // lenient: text after a closing quote
          break;
      }
    }
    return out.join("");
  }

  /** The rest, at the end of the input. */
  end() {
    if (this.raw === "" && this.state === 0) return "";
    const out = [];
    this.#endField(out);
    return out.join("");
  }
}
