import { GreenticError } from "@greentic/deploy-spec/documents";
import { unsafeEnvIdReason, unsafeSegmentReason } from "./segment.js";

export { unsafeEnvIdReason, unsafeSegmentReason };

/** Throws `invalid-argument` unless `envId` is usable as a store directory name. */
export function assertSafeEnvId(envId: unknown, what = "environment id"): asserts envId is string {
  if (typeof envId !== "string") {
    throw new GreenticError("invalid-argument", `${what} must be a string, got ${typeof envId}`, {
      hint: "pass an id such as `local` or `staging`",
    });
  }
  const reason = unsafeEnvIdReason(envId);
  if (reason !== undefined) {
    // io-kit's message names "environment id"; say what the caller passed instead, and always
    // quote the value (io-kit's "is empty" does not).
    const quoted = JSON.stringify(envId);
    const message = reason.includes(quoted)
      ? reason.replace(/^environment id/u, what)
      : `${what} ${quoted} is not allowed: ${reason}`;
    throw new GreenticError("invalid-argument", message, {
      hint: "use ASCII letters, digits, '-', '_' or '.', not starting with '.'",
      details: { value: envId },
    });
  }
}
