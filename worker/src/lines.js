// Line numbers of a chunk → line numbers of the whole file. The Worker sees one chunk (the file's header, then
// some of its records); the client says how many lines of the file come before the chunk's first record
// (`line-offset`), and the rejected-rows CSV is rewritten so its `line` column names lines of the file.

/**
 * Add `offset` to the `line` column of a rejected-rows CSV (as written by the package: comma-separated,
 * `"`-quoted, `\n`-terminated; the original columns, then `line`, `code`, `reason`). The header row and
 * every other byte are kept as they are.
 */
export function shiftRejectedLines(csv, offset) {
  if (!offset || !csv) return csv;
  let out = "";
  let width = -1; // index of the `line` field, known after the header
  let field = 0;
  let inQuotes = false;
  let atFieldStart = true;
  let last = 0;
  let fieldsInHeader = 0;
  for (let i = 0; i < csv.length; i++) {
    const c = csv.charCodeAt(i);
    if (atFieldStart && width >= 0 && field === width && !inQuotes) {
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
    atFieldStart = false;
    if (c === 0x22) {
      inQuotes = !inQuotes;
    } else if (!inQuotes && c === 0x2c) {
      field++;
      atFieldStart = true;
    } else if (!inQuotes && c === 0x0a) {
      if (width < 0) {
        fieldsInHeader = field + 1;
        width = fieldsInHeader - 3;
      }
      field = 0;
      atFieldStart = true;
    }
  }
  return out + csv.slice(last);
}

/** The rejected-rows CSV without its header row (to append a chunk's rows to an earlier chunk's). */
export function withoutHeader(csv) {
  let inQuotes = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv.charCodeAt(i);
    if (c === 0x22) inQuotes = !inQuotes;
    else if (c === 0x0a && !inQuotes) return csv.slice(i + 1);
  }
  return "";
}
