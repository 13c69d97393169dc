import { GreenticError } from "./errors.js";

/** Revision lifecycle states (lowercase on the wire). */
export const LIFECYCLE_STATES = ["inactive", "staged", "warming", "ready", "draining", "failed", "archived"] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** The reference's transition matrix: no self-transitions, archived is terminal, draining only to inactive. */
const ALLOWED: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  inactive: ["staged", "failed", "archived"],
  staged: ["warming", "failed", "archived"],
  warming: ["ready", "failed", "archived"],
  ready: ["draining", "failed", "archived"],
  draining: ["inactive"],
  failed: ["staged", "archived"],
  archived: [],
};

/** True when a revision may move from `from` to `to` in one step. */
export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return ALLOWED[from].includes(to);
}

/** The states reachable from `from` in one step. */
export function allowedTransitions(from: LifecycleState): readonly LifecycleState[] {
  return ALLOWED[from];
}

/** The `conflict` error for a refused transition, or null when the transition is allowed. */
export function checkTransition(from: LifecycleState, to: LifecycleState, revisionId?: string): GreenticError | null {
  if (canTransition(from, to)) return null;
  const who = revisionId === undefined ? "revision" : `revision ${revisionId}`;
  const allowed = ALLOWED[from];
  return new GreenticError("conflict", `${who} cannot move from ${from} to ${to}`, {
    hint: allowed.length === 0 ? `${from} is terminal` : `from ${from} it can move to: ${allowed.join(", ")}`,
    details: {
      code: "invalid-lifecycle-transition",
      from,
      to,
      ...(revisionId === undefined ? {} : { revision_id: revisionId }),
    },
  });
}

/**
 * Moves a revision to `to`, returning a new object (the input is not modified). Stamps
 * `staged_at` when entering `staged` and `warmed_at` when entering `ready`. Throws
 * `GreenticError("conflict")` for a transition the matrix forbids.
 */
export function transitionRevision<R extends { revision_id: string; lifecycle: LifecycleState }>(
  revision: R,
  to: LifecycleState,
  now: string,
): R {
  const error = checkTransition(revision.lifecycle, to, revision.revision_id);
  if (error) throw error;
  const next: R = { ...revision, lifecycle: to };
  if (to === "staged") (next as R & { staged_at?: string }).staged_at = now;
  if (to === "ready") (next as R & { warmed_at?: string }).warmed_at = now;
  return next;
}
