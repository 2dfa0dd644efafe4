// Everything the page keeps in localStorage. Credentials only when the person ticks "remember on this device".

const P = "cio-backfill:v1:";

function read(key) {
  try { return JSON.parse(localStorage.getItem(P + key) ?? "null"); } catch { return null; }
}
function write(key, value) {
  try { localStorage.setItem(P + key, JSON.stringify(value)); return true; } catch { return false; }
}
function remove(key) {
  try { localStorage.removeItem(P + key); } catch {}
}

export async function sha256Hex(data) {
  const buf = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const d = await crypto.subtle.digest("SHA-256", buf);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- credentials (opt-in) ----
export const credentials = {
  load: () => read("credentials"),
  save: (c) => write("credentials", { ...c, savedAt: Date.now() }),
  forget: () => remove("credentials"),
};

// ---- non-secret preferences: last API, region, kind ----
export const prefs = {
  load: () => read("prefs") ?? {},
  save: (p) => write("prefs", { ...prefs.load(), ...p }),
};

// ---- mappings, by the file's headers ----
export async function headersSignature(kind, headers) {
  return sha256Hex(JSON.stringify([kind, headers]));
}
export const mappings = {
  async load(kind, headers) { return read(`mapping:${await headersSignature(kind, headers)}`); },
  async save(kind, headers, mapping) {
    return write(`mapping:${await headersSignature(kind, headers)}`, { kind, headers, mapping, savedAt: Date.now() });
  },
  async forget(kind, headers) { remove(`mapping:${await headersSignature(kind, headers)}`); },
};

// ---- send checkpoints, by the file's identity ----
/** Identity of a file: name, size, last modified and a hash of its first 64 KB. */
export async function fileFingerprint(file) {
  const head = new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer());
  const headHash = await sha256Hex(head);
  return { fileName: file.name, size: file.size, lastModified: file.lastModified, headHash,
    key: await sha256Hex(`${file.name}\u0000${file.size}\u0000${file.lastModified}\u0000${headHash}`) };
}
export const runs = {
  load: (fp) => read(`run:${fp.key}`),
  save: (fp, run) => write(`run:${fp.key}`, { ...run, fileName: fp.fileName, size: fp.size,
    lastModified: fp.lastModified, headHash: fp.headHash, updatedAt: Date.now() }),
  forget: (fp) => remove(`run:${fp.key}`),
};
