import { isLoopback, parseHostPort } from "@greentic/io-kit";

// Apart from local-router.ts so that the deployer validates answers without loading node:http
// (about 45 ms of start-up), which only the router process needs.

/**
 * Parses a loopback listen address `host:port` (`127.0.0.1:8080`, `[::1]:0`, `localhost:8080`;
 * `localhost` becomes 127.0.0.1). Throws an Error saying what is wrong: the router only ever
 * listens on loopback (the I/O kit's `isLoopback`).
 */
export function parseListenAddress(value: string): { host: string; port: number } {
  const parsed = parseHostPort(value);
  if (parsed === null)
    throw new Error(`${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080), port 0-65535`);
  const host = parsed.host.toLowerCase() === "localhost" ? "127.0.0.1" : parsed.host;
  if (!isLoopback(host))
    throw new Error(`${JSON.stringify(parsed.host)} is not a loopback address (127.0.0.0/8, ::1 or localhost)`);
  return { host, port: parsed.port };
}
