import { GreenticError } from "@greentic/deploy-spec";

/** A store location: the local filesystem store (a directory) or a PostgreSQL database. */
export interface PostgresLocation {
  kind: "postgres";
  /** The URL as given (with its password, if any): only ever handed to the driver. */
  url: string;
  /** The URL without its password: what messages, logs and `--json` output show. */
  redacted: string;
  /** The password, if any, so that it can be scrubbed from the driver's messages. */
  password?: string | undefined;
}

/**
 * Checks a `--store` / `GREENTIC_STORE_URL` value: `postgres://` or `postgresql://` with a host
 * (or a `host=` socket directory) and a database name. Any other scheme, or a value that is not
 * a URL, is `invalid-argument` (exit 2) naming where it came from and without its password.
 */
export function parseStoreUrl(value: string, source = "--store"): PostgresLocation {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new GreenticError("invalid-argument", `${source} ${JSON.stringify(scrubAny(value))} is not a URL`, {
      hint: "use postgres://USER@HOST:PORT/DATABASE (and set the password in PGPASSWORD or ~/.pgpass)",
    });
  }
  const redacted = redactUrl(url);
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new GreenticError(
      "invalid-argument",
      `${source} ${redacted} has the scheme ${url.protocol.slice(0, -1)}; only postgres:// (or postgresql://) stores are supported`,
      {
        hint: "use postgres://USER@HOST:PORT/DATABASE, or leave it unset for the local store (--store-root for its directory)",
      },
    );
  }
  const socketHost = url.searchParams.get("host");
  if (url.hostname === "" && (socketHost === null || socketHost === "")) {
    throw new GreenticError("invalid-argument", `${source} ${redacted} names no host`, {
      hint: "use postgres://USER@HOST:PORT/DATABASE, or ?host=/socket/dir for a Unix socket",
    });
  }
  if (url.port !== "" && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) {
    throw new GreenticError("invalid-argument", `${source} ${redacted} has an invalid port ${url.port}`, {
      hint: "PostgreSQL listens on 5432 by default",
    });
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//u, ""));
  if (database === "" || database.includes("/")) {
    throw new GreenticError("invalid-argument", `${source} ${redacted} names no database`, {
      hint: "end the URL with /DATABASE, e.g. postgres://op@db.example:5432/greentic",
    });
  }
  const password = url.password === "" ? undefined : decodeURIComponent(url.password);
  return { kind: "postgres", url: value, redacted, password };
}

/** The URL with its password replaced by `***` (and `password=` query parameters too). */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== "") copy.password = "***";
  if (copy.searchParams.has("password")) copy.searchParams.set("password", "***");
  return copy.href;
}

/** A value that did not even parse as a URL: drop anything between `:` and `@` after the scheme. */
function scrubAny(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/iu, "$1:***@");
}
