const nf = new Intl.NumberFormat("en-US");
const nf1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export const num = (n) => (n == null || Number.isNaN(Number(n)) ? "–" : nf.format(Math.round(Number(n))));
export const num1 = (n) => (n == null ? "–" : nf1.format(n));

export function bytes(n) {
  if (n == null) return "–";
  const u = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} bytes` : `${nf1.format(v)} ${u[i]}`;
}

export function duration(sec) {
  if (sec == null || !Number.isFinite(sec)) return "–";
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return `${sec} s`;
  const m = Math.floor(sec / 60), s = sec % 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, "0")} min`;
}

const DELIMS = { ",": "comma ( , )", ";": "semicolon ( ; )", "\t": "tab", "|": "pipe ( | )" };
export function delimiterName(d) {
  if (typeof d === "number") d = String.fromCharCode(d);
  return DELIMS[d] ?? (d ? `“${d}”` : "–");
}

export function encodingName(e) {
  const k = String(e ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");
  const names = {
    utf8: "UTF-8", utf8bom: "UTF-8 with byte-order mark", utf16le: "UTF-16 (little-endian)",
    utf16be: "UTF-16 (big-endian)", windows1252: "Windows-1252 (Western European)",
  };
  return names[k] ?? (e ? String(e) : "–");
}

export function lineEndingName(l) {
  const k = String(l ?? "").toLowerCase().replace(/[^a-z]/g, "");
  return { lf: "LF (Unix, macOS)", crlf: "CRLF (Windows)", cr: "CR (classic Mac)", mixed: "mixed", none: "single line" }[k] ?? (l ? String(l) : "–");
}

export function when(ts) {
  try { return new Date(ts).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }); } catch { return String(ts); }
}
