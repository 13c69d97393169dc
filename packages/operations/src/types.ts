import type { Precondition } from "@greentic/environment-store";

/** Options every mutating verb takes besides its answers payload. */
export interface MutationOptions {
  /**
   * Retry key: the same key with the same payload replays the first result; with another
   * payload it is refused (`idempotency-conflict`). Overrides the payload's `idempotency_key`.
   */
  idempotencyKey?: string | undefined;
  /** Compare-and-swap pin (ETag and/or generation the caller last saw): stale → `precondition-failed`. */
  precondition?: Precondition | undefined;
  /** Where the answers came from (a file name), named in validation messages. */
  source?: string | undefined;
}

/** What the store reports about a committed mutation, added to every mutating verb's result. */
export interface CommitInfo {
  /** ETag of the environment after the mutation (canonical SHA-256). */
  etag: string;
  /** Generation of the environment after the mutation. */
  generation: number;
  /** `replayed` when an earlier call with the same idempotency key and payload answered. */
  idempotency: "applied" | "replayed";
}

/** A verb's result payload plus the commit information. */
export type Mutated<R> = R & CommitInfo;

/** A progress event for long verbs (`deploy`, `revisions warm`, `env destroy`), for the CLI to render. */
export interface ProgressEvent {
  /** Dotted name, e.g. `deploy.stage`, `deploy.warm`, or a handler event such as `local-process.started`. */
  event: string;
  /** One human sentence. */
  message?: string;
  [field: string]: unknown;
}
