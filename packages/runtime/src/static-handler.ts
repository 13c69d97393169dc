import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { ContentEntry, ContentIndex } from "./content-index.js";

/**
 * Where a request path leads: a file to serve, a redirect to the directory form, or a refusal.
 * Only paths present in the content index are ever served, so whatever the decoding tricks, a
 * request cannot reach a file the index does not list.
 */
export type Resolution =
  | { kind: "file"; path: string; entry: ContentEntry }
  | { kind: "redirect"; location: string }
  | { kind: "bad-request"; reason: string }
  | { kind: "not-found" };

export function resolveRequestPath(rawUrl: string, index: ContentIndex): Resolution {
  if (!rawUrl.startsWith("/")) return { kind: "bad-request", reason: "request target is not an absolute path" };
  const end = rawUrl.search(/[?#]/);
  const encoded = end === -1 ? rawUrl : rawUrl.slice(0, end);
  const query = end === -1 ? "" : rawUrl.slice(end).split("#")[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { kind: "bad-request", reason: "malformed percent-encoding" };
  }
  if (decoded.includes("\0")) return { kind: "bad-request", reason: "NUL byte in path" };
  const segments = decoded.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === ".." || s === "." || s.includes("\\")))
    return { kind: "bad-request", reason: "path traversal" };
  const path = segments.join("/");
  const trailingSlash = decoded.endsWith("/");
  const file = index.files[path];
  if (file && !trailingSlash) return { kind: "file", path, entry: file };
  if (path === "" || index.directories.includes(path)) {
    // Built from the normalized segments so that `//host` can never become an open redirect.
    if (!trailingSlash)
      return { kind: "redirect", location: `/${segments.map(encodeURIComponent).join("/")}/${query}` };
    const indexPath = path === "" ? index.index_document : `${path}/${index.index_document}`;
    const entry = index.files[indexPath];
    return entry ? { kind: "file", path: indexPath, entry } : { kind: "not-found" };
  }
  return { kind: "not-found" };
}

/** True when an If-None-Match header value matches the entity tag. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  // Weak comparison, as RFC 9110 asks for If-None-Match.
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

const COMMON_HEADERS = { "X-Content-Type-Options": "nosniff" } as const;

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Small files kept in memory after their first read. Safe because the bundle is read-only for
 * the runtime's whole life; bounded by a total byte budget, first come first kept.
 */
export class ContentCache {
  readonly #files = new Map<string, Buffer>();
  #bytes = 0;

  constructor(
    readonly maxBytes = 32 * 1024 * 1024,
    readonly maxFileBytes = 256 * 1024,
  ) {}

  get(path: string): Buffer | undefined {
    return this.#files.get(path);
  }

  /** Keeps `data` when it is small enough and the budget allows. */
  offer(path: string, data: Buffer): void {
    if (data.length > this.maxFileBytes || this.#bytes + data.length > this.maxBytes || this.#files.has(path)) return;
    this.#files.set(path, data);
    this.#bytes += data.length;
  }
}

/** Serves one public request from the bundle's content index. */
export function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  index: ContentIndex,
  cache?: ContentCache,
): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendText(res, 405, "Method Not Allowed\n", { Allow: "GET, HEAD" });
    return;
  }
  const resolution = resolveRequestPath(req.url ?? "/", index);
  switch (resolution.kind) {
    case "bad-request":
      sendText(res, 400, `Bad Request: ${resolution.reason}\n`);
      return;
    case "not-found":
      sendText(res, 404, "Not Found\n");
      return;
    case "redirect":
      sendText(res, 301, "Moved Permanently\n", { Location: resolution.location });
      return;
    case "file":
      break;
  }
  const { entry, path } = resolution;
  const etag = `"${entry.sha256}"`;
  const headers = { ...COMMON_HEADERS, ETag: etag, "Cache-Control": "no-cache", "Accept-Ranges": "none" };
  if (etagMatches(req.headers["if-none-match"], etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Type": entry.content_type, "Content-Length": entry.size });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const file = join(index.bundle_dir, entry.target ?? path);
  const cached = cache?.get(path);
  if (cached) {
    res.end(cached);
  } else if (cache && entry.size <= cache.maxFileBytes) {
    readFile(file).then(
      (data) => {
        // The index promised these bytes; anything else means the bundle changed underneath us.
        if (data.length !== entry.size) return res.destroy();
        cache.offer(path, data);
        res.end(data);
      },
      () => res.destroy(),
    );
  } else {
    const stream = createReadStream(file);
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  }
}
