import { isIP } from "node:net";

/** A parsed `host:port`: `host` without brackets (`::1`, not `[::1]`). */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port` or `[IPv6]:port` (port 0-65535, decimal). The host is an IPv4 address, a
 * bracketed IPv6 address, or a name without `:`; an unbracketed IPv6 address is refused, since
 * `::1:8433` is ambiguous. `null` when malformed: the caller words the error for its own field.
 */
export function parseHostPort(value: string): HostPort | null {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(value) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(value);
  if (match === null) return null;
  const host = match[1]!;
  const port = Number(match[2]);
  if (port > 65_535) return null;
  if (value.startsWith("[") && isIP(host) !== 6) return null;
  return { host, port };
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * True when `address` is an IP address that only this machine can reach: 127.0.0.0/8, `::1` in
 * any spelling, or an IPv4-mapped `::ffff:127.x.y.z` (either notation). The one loopback rule
 * of every package. False for names, `localhost` included (a name can resolve anywhere:
 * callers that accept it resolve it and check every answer), for the wildcards `0.0.0.0` and
 * `::`, and for addresses with a zone (`::1%lo`).
 */
export function isLoopback(address: string): boolean {
  const kind = isIP(address);
  if (kind === 4) return address.startsWith("127.");
  if (kind !== 6 || address.includes("%")) return false;
  const groups = ipv6Groups(address);
  if (groups === null) return false;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  if (zeros(0, 7) && groups[7] === 1) return true;
  // ::ffff:a.b.c.d, the IPv4-mapped form: loopback when a is 127.
  return zeros(0, 5) && groups[5] === 0xffff && groups[6]! >> 8 === 127;
}

/** The eight 16-bit groups of a valid IPv6 address (no zone), dotted IPv4 tail included. */
function ipv6Groups(address: string): number[] | null {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (tail === undefined ? fill !== 0 : fill < 1) return null;
  return [...left, ...new Array<number>(fill).fill(0), ...right];
}
