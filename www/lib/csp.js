// The Content-Security-Policy of the importer, built from www/config.json.
// Used by tools/configure.mjs (to write the <meta> tag and _headers) and by the local demo/test server
// (to serve the page with the configured endpoint allowed). The page itself uses `connectOrigins` to check,
// at start, that its meta policy allows the endpoint it is configured to use.

/** Customer.io's API hosts (Track v2 and Data Pipelines, US and EU). */
export const CUSTOMERIO_ORIGINS = Object.freeze([
  "https://track.customer.io",
  "https://track-eu.customer.io",
  "https://cdp.customer.io",
  "https://cdp-eu.customer.io",
]);

/** The origin of a configured endpoint (`null` when none); throws on anything but http(s) URLs. */
export function endpointOrigin(endpoint) {
  if (endpoint == null || endpoint === "") return null;
  const u = new URL(endpoint);
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`endpoint must be an http(s) URL: ${endpoint}`);
  return u.origin;
}

/** Every origin the page may connect to, besides its own. */
export function connectOrigins(config = {}) {
  const list = [...CUSTOMERIO_ORIGINS];
  const ep = endpointOrigin(config.endpoint);
  if (ep && !list.includes(ep)) list.push(ep);
  return list;
}

/**
 * The policy string. `meta: true` leaves out the directives a <meta> policy ignores (frame-ancestors).
 * worker-src allows blob: because the page starts its engine worker from a one-line blob: bootstrap so that the
 * worker inherits this very policy (a worker loaded from a URL would only be bound by its own response headers).
 */
export function buildCsp(config = {}, { meta = true } = {}) {
  const d = [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    `connect-src 'self' ${connectOrigins(config).join(" ")}`,
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ];
  if (!meta) d.push("frame-ancestors 'none'");
  return d.join("; ");
}

const META_RE = /(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")/i;

/** index.html with its meta policy replaced by the one for `config`. */
export function applyCspToHtml(html, config) {
  if (!META_RE.test(html)) throw new Error("index.html has no Content-Security-Policy meta tag");
  return html.replace(META_RE, (_, a, _old, c) => a + buildCsp(config, { meta: true }) + c);
}

/** The origins a policy string allows in connect-src (besides 'self'). */
export function parseConnectSrc(policy) {
  for (const part of String(policy).split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name === "connect-src") return values.filter((v) => !v.startsWith("'"));
  }
  return [];
}
