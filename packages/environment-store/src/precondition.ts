import { GreenticError } from "@greentic/deploy-spec";
import type { Precondition } from "./types.js";

/** Checks the caller's compare-and-swap pin against the current state. */
export function checkPrecondition(
  envId: string,
  current: { etag: string; generation: number } | undefined,
  pre: Precondition | undefined,
): void {
  if (pre === undefined) return;
  const { if_match: ifMatch, expected_generation: expected } = pre;
  if (ifMatch === undefined && expected === undefined) return;
  if (current === undefined) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} does not exist, but the request pins ${ifMatch !== undefined ? `etag ${ifMatch}` : `generation ${expected}`}`,
      {
        hint: "drop the precondition to create it, or check the environment id",
      },
    );
  }
  if (ifMatch !== undefined && ifMatch.replace(/^"|"$/gu, "") !== current.etag) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected etag ${ifMatch}, actual ${current.etag} (generation ${current.generation})`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_etag: ifMatch, actual_etag: current.etag, actual_generation: current.generation },
      },
    );
  }
  if (expected !== undefined && expected !== current.generation) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected generation ${expected}, actual ${current.generation}`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_generation: expected, actual_generation: current.generation, actual_etag: current.etag },
      },
    );
  }
}
