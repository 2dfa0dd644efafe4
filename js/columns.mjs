// `--column NAME=TYPE` (the command line) and `column=NAME=TYPE` (the Worker's query parameters): one parser for
// both, so the two accept and refuse the same things with the same words. Also the Worker's `type-hint=NAME=TYPE`
// (a type taken as if inferred: what `importVia` pins for every chunk from the file's first rows).

/** The types a column can be given (the core's `ValueType`, and `auto` for inferred). */
export const COLUMN_TYPES = ["auto", "string", "integer", "float", "boolean", "date"];

/**
 * Apply one `NAME=TYPE` (or `NAME=attribute`, `NAME=ignore`) to `mapping.columns`. The name may hold `=`: the last
 * one splits. Returns null, or what is wrong, starting with `label` (`--column`, `column`), for the caller to raise
 * as its own error.
 * @param {{ columns?: Record<string, { role?: string, type?: string }> }} mapping
 * @param {string} spec
 * @param {string} label
 * @returns {string | null}
 */
export function applyColumnSpec(mapping, spec, label) {
  const [name, choice] = splitSpec(spec);
  if (name === null) return `${label}: expected NAME=TYPE (or NAME=ignore), found ${JSON.stringify(spec)}`;
  const col = { ...(mapping.columns?.[name] ?? {}) };
  if (choice === "ignore" || choice === "attribute") col.role = choice;
  else if (COLUMN_TYPES.includes(choice)) col.type = choice;
  else {
    return `${label} ${name}: expected one of ${[...COLUMN_TYPES, "attribute", "ignore"].join(", ")}, found ${JSON.stringify(choice)}`;
  }
  mapping.columns = { ...(mapping.columns ?? {}), [name]: col };
  return null;
}

/** The types a column can be hinted (as if its sample had inferred them). */
export const HINT_TYPES = COLUMN_TYPES.filter((t) => t !== "auto");

/**
 * Apply one `NAME=TYPE` type hint to `mapping.columns` (its `typeHint`). Returns null, or what is wrong.
 * @param {{ columns?: Record<string, { role?: string, type?: string, typeHint?: string }> }} mapping
 * @param {string} spec
 * @param {string} label
 * @returns {string | null}
 */
export function applyTypeHintSpec(mapping, spec, label) {
  const [name, type] = splitSpec(spec);
  if (name === null) return `${label}: expected NAME=TYPE, found ${JSON.stringify(spec)}`;
  if (!HINT_TYPES.includes(type)) return `${label} ${name}: expected one of ${HINT_TYPES.join(", ")}, found ${JSON.stringify(type)}`;
  mapping.columns = { ...(mapping.columns ?? {}), [name]: { ...(mapping.columns?.[name] ?? {}), typeHint: type } };
  return null;
}

/** `NAME=VALUE` split at its last `=` (a name may hold `=`), or [null, null] without a name. */
function splitSpec(spec) {
  const eq = spec.lastIndexOf("=");
  return eq <= 0 ? [null, null] : [spec.slice(0, eq), spec.slice(eq + 1)];
}
