import { isIPv4, isIPv6 } from "node:net";

/** Listen address used when an environment does not set one (reference `DEFAULT_LISTEN_ADDR`). */
export const DEFAULT_LISTEN_ADDR = "127.0.0.1:8080";

export type PublicBaseUrlResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * The reference's `validate_public_base_url`: trims; http or https only; a host is required;
 * no whitespace, userinfo, query or fragment; the path is empty or `/`; the port must be
 * numeric (1..65535); IPv6 literals are accepted; a trailing `/` is stripped. Returns the
 * normalized URL or why it is refused.
 */
export function normalizePublicBaseUrl(input: string): PublicBaseUrlResult {
  const shown = JSON.stringify(input);
  const url = input.trim();
  if (url.length === 0) return { ok: false, message: "public_base_url is empty" };
  if (/\s/.test(url)) return { ok: false, message: `public_base_url ${shown} contains whitespace` };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (!scheme) return { ok: false, message: `public_base_url ${shown} must start with http:// or https://` };
  const proto = scheme[1]!.toLowerCase();
  if (proto !== "http" && proto !== "https") {
    return {
      ok: false,
      message: `public_base_url ${shown} uses scheme "${scheme[1]}"; only http and https are allowed`,
    };
  }
  const rest = url.slice(scheme[0].length);
  if (rest.includes("#")) return { ok: false, message: `public_base_url ${shown} must not have a fragment` };
  if (rest.includes("?")) return { ok: false, message: `public_base_url ${shown} must not have a query` };
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  if (authority.includes("@"))
    return { ok: false, message: `public_base_url ${shown} must not contain userinfo (user@host)` };
  if (path !== "" && path !== "/")
    return { ok: false, message: `public_base_url ${shown} must not have a path (got ${JSON.stringify(path)})` };

  let host: string;
  let port: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return { ok: false, message: `public_base_url ${shown} has an unterminated IPv6 literal` };
    host = authority.slice(1, close);
    if (!isIPv6(host)) return { ok: false, message: `public_base_url ${shown} has an invalid IPv6 address "${host}"` };
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":"))
      return { ok: false, message: `public_base_url ${shown} has characters after the IPv6 literal` };
    if (after !== "") port = after.slice(1);
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (colon >= 0) port = authority.slice(colon + 1);
    if (host.length === 0) return { ok: false, message: `public_base_url ${shown} has no host` };
    if (!/^[A-Za-z0-9.-]+$/.test(host) || host.startsWith(".") || host.includes("..")) {
      return { ok: false, message: `public_base_url ${shown} has an invalid host "${host}"` };
    }
  }
  if (port !== undefined) {
    if (!/^\d+$/.test(port)) return { ok: false, message: `public_base_url ${shown} has a non-numeric port "${port}"` };
    const n = Number(port);
    if (n < 1 || n > 65535) return { ok: false, message: `public_base_url ${shown} has port ${port} outside 1..65535` };
  }
  return { ok: true, value: `${scheme[0]}${authority}` };
}

/** Parses a `SocketAddr` string as Rust writes it: `a.b.c.d:port` or `[v6]:port`. */
export function parseSocketAddr(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return isIPv6(m[1]) ? { host: m[1], port } : null;
  return isIPv4(m[2]!) ? { host: m[2]!, port } : null;
}

/** `gui_enabled` as the reference resolves it: an explicit value wins, else on only for `local`. */
export function resolvedGuiEnabled(hostConfig: { env_id: string; gui_enabled?: boolean | undefined }): boolean {
  return hostConfig.gui_enabled ?? hostConfig.env_id === "local";
}
