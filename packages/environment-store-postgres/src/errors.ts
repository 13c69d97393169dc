import { GreenticError } from "@greentic/deploy-spec";
import type { PostgresLocation } from "./url.js";

/** Removes the password from any text the driver or the server produced. */
export function scrub(text: string, location: PostgresLocation): string {
  let out = text.split(location.url).join(location.redacted);
  if (location.password !== undefined && location.password.length > 0) out = out.split(location.password).join("***");
  return out;
}

interface PgLikeError extends Error {
  code?: string;
  errno?: number;
  severity?: string;
}

/**
 * A driver or server error as a GreenticError naming the store by its URL without the
 * password: SQLSTATE 55P03 (lock_timeout) is `locked`, 42501 (insufficient privilege) and
 * 28xxx (authentication) are `unauthorized`, a lost or refused connection is `io`. A
 * GreenticError passes through unchanged.
 */
export function storeError(error: unknown, location: PostgresLocation, doing: string): GreenticError {
  if (error instanceof GreenticError) return error;
  const e = error as PgLikeError;
  const message = scrub(e?.message ?? String(error), location);
  const where = location.redacted;
  const code = e?.code ?? "";
  if (code === "55P03")
    return new GreenticError("locked", `${doing}: the environment's lock on ${where} is held by another writer`, {
      hint: "wait for it to finish (`op env lock <env>` shows the holder), or raise --lock-timeout",
    });
  if (code === "42501" || code.startsWith("28"))
    return new GreenticError("unauthorized", `${doing}: the PostgreSQL store at ${where} refused: ${message}`, {
      hint: "the role in the URL must be a member of greentic_op (see docs/postgres-store.md)",
      details: { sqlstate: code },
    });
  if (code === "3D000" || code === "42P01" || code === "3F000")
    return new GreenticError("io", `${doing}: the PostgreSQL store at ${where} is not set up: ${message}`, {
      hint: "create the database, then the schema's owner runs `op store migrate-schema` (see docs/postgres-store.md)",
      details: { sqlstate: code },
    });
  const network =
    /^E[A-Z]+$/u.test(code) ||
    /Connection terminated|connection timeout|terminating connection|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|the database system is (shutting down|starting up)/iu.test(
      message,
    ) ||
    code === "57P01" ||
    code === "57P03";
  if (network)
    return new GreenticError("io", `${doing}: cannot reach the PostgreSQL store at ${where}: ${message}`, {
      hint: "check that the database is up and reachable; a mutation that did not report success may be retried with the same --idempotency-key",
      details: code === "" ? undefined : { sqlstate: code },
    });
  return new GreenticError("io", `${doing}: the PostgreSQL store at ${where} failed: ${message}`, {
    hint: "see the database server's log",
    details: code === "" ? undefined : { sqlstate: code },
  });
}
