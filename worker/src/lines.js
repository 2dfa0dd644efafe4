// Line numbers of a chunk → line numbers of the whole file. The Worker sees one chunk (the file's header, then
// some of its records); the client says how many lines of the file come before the chunk's first record
// (`line-offset`), and the rejected-rows CSV is rewritten so its `line` column names lines of the file.

/**
 * Add `offset` to the `line` column of a rejected-rows CSV (as written by the package: comma-separated,
 * `"`-quoted, `\n`-terminated; the original columns, then `line`, `code`, `reason`), and count the rows by
 * `code`. The header row and every other byte are kept as they are. Returns { csv, byCode }.
 */
export function rewriteRejected(csv, offset) {
  const byCode = {};
  if (!csv) return { csv: csv ?? "", byCode };
  let out = "";
  let width = -1; // index of the `line` field, known after the header
  let field = 0;
  let inQuotes = false;
  let atFieldStart = true;
  let last = 0;
  let codeStart = -1;
  for (let i = 0; i < csv.length; i++) {
    const c = csv.charCodeAt(i);
    if (atFieldStart && width >= 0 && !inQuotes) {
      if (field === width && offset) {
        let j = i;
        while (j < csv.length && csv.charCodeAt(j) >= 48 && csv.charCodeAt(j) <= 57) j++;
        if (j > i) {
          out += csv.slice(last, i) + String(Number(csv.slice(i, j)) + offset);
          last = j;
          i = j - 1;
          atFieldStart = false;
          continue;
        }
      }
      if (field === width + 1) codeStart = i;
    }
    atFieldStart = false;
    if (c === 0x22) {
      inQuotes = !inQuotes;
    } else if (!inQuotes && (c === 0x2c || c === 0x0a)) {
      if (codeStart >= 0 && field === width + 1) {
        const code = csv.slice(codeStart, i).replace(/^"|"$/g, "");
        byCode[code] = (byCode[code] ?? 0) + 1;
        codeStart = -1;
      }
      if (c === 0x2c) {
        field++;
      } else {
        if (width < 0) width = field + 1 - 3;
        field = 0;
      }
      atFieldStart = true;
    }
  }
  return { csv: out + csv.slice(last), byCode };
}

/** Only the line shift (see rewriteRejected). */
export function shiftRejectedLines(csv, offset) {
  return rewriteRejected(csv, offset).csv;
}
