import { isIPv4 } from "node:net";

// Apart from local-router.ts so that the deployer validates answers without loading node:http
// (about 45 ms of start-up), which only the router process needs.

/**
 * Parses a loopback listen address `host:port` (`127.0.0.1:8080`, `[::1]:0`, `localhost:8080`).
 * Throws an Error saying what is wrong: the router only ever listens on loopback.
 */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  if (match === null) throw new Error(`${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)`);
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65_535) throw new Error(`port ${port} in ${JSON.stringify(value)} is above 65535`);
  const loopback = host === "localhost" || host === "::1" || (isIPv4(host) && host.startsWith("127."));
  if (!loopback) throw new Error(`${JSON.stringify(host)} is not a loopback address (127.0.0.0/8, ::1 or localhost)`);
  return { host: host === "localhost" ? "127.0.0.1" : host, port };
}
