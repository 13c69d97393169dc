import { randomBytes } from "node:crypto";
import { isGreenticError, type ErrorKind } from "@greentic/deploy-spec/documents";
import type { AppliedRuntimeRevision, Deployer, EnvPackHandler, HandlerContext, RevisionRef } from "./types.js";

/** The conformance checks, in the order they run. */
export const CONFORMANCE_CHECKS = [
  "happy-path",
  "idempotency",
  "invalid-split",
  "unknown-revision",
  "runtime-config-drift",
  "cross-deployment-interference",
] as const;
export type ConformanceCheck = (typeof CONFORMANCE_CHECKS)[number];

/** One failed check. `code` is the reference bench's failure name. */
export interface ConformanceFailure {
  check: ConformanceCheck;
  code:
    | "HappyPathFailed"
    | "NotIdempotent"
    | "InvalidSplitAccepted"
    | "InvalidSplitWrongError"
    | "UnknownRevisionAccepted"
    | "UnknownRevisionWrongError"
    | "RuntimeConfigDrift"
    | "CrossDeploymentInterference";
  message: string;
}

export interface ConformanceResult {
  ok: boolean;
  /** Checks that ran (all of them unless `only` was given). */
  checks: ConformanceCheck[];
  failures: ConformanceFailure[];
}

/** Options of `runDeployerConformance`. */
export interface ConformanceOptions {
  /** A fresh, isolated context per check (its own environment id and data dirs). */
  ctxFactory: (check: ConformanceCheck) => HandlerContext | Promise<HandlerContext>;
  /**
   * The `.gtbundle` every check stages, e.g. one built with `buildBundle` from
   * `@greentic/bundle`. Given by the caller so that the kit (and env-packs) does not depend on
   * the bundle builder.
   */
  bundlePath: string;
  /** Health-gate timeout passed to `warm`. Default 60 000 ms. */
  warmTimeoutMs?: number;
  /** Run only these checks. */
  only?: readonly ConformanceCheck[];
}

class CheckFailed extends Error {
  constructor(
    readonly code: ConformanceFailure["code"],
    message: string,
  ) {
    super(message);
  }
}

function newId(): string {
  // ULID-shaped (26 Crockford base32 chars); uniqueness is all that matters here.
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  return [...randomBytes(26)].map((byte) => alphabet[byte % 32]).join("");
}

function revisionIn(deploymentId: string, bundleId: string): RevisionRef {
  return { revision_id: newId(), deployment_id: deploymentId, bundle_id: bundleId };
}

function describe(error: unknown): string {
  return isGreenticError(error)
    ? `${error.kind}: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);
}

async function expectOk<T>(code: ConformanceFailure["code"], what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new CheckFailed(code, `${what} threw ${describe(error)}`);
  }
}

async function expectRejected(
  what: string,
  kind: ErrorKind,
  codes: { accepted: ConformanceFailure["code"]; wrong: ConformanceFailure["code"] },
  run: () => Promise<unknown>,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (isGreenticError(error) && error.kind === kind) return;
    throw new CheckFailed(
      codes.wrong,
      `${what} failed with ${describe(error)}; expected a GreenticError of kind ${kind}`,
    );
  }
  throw new CheckFailed(codes.accepted, `${what} was accepted; expected a GreenticError of kind ${kind}`);
}

async function warmOk(
  deployer: Deployer,
  ctx: HandlerContext,
  revision: RevisionRef,
  timeoutMs: number,
  code: ConformanceFailure["code"],
) {
  const gate = await expectOk(code, `warm ${revision.revision_id}`, () => deployer.warm(ctx, { revision, timeoutMs }));
  if (!gate.ok)
    throw new CheckFailed(
      code,
      `warm ${revision.revision_id} failed its health gate: ${gate.failure.failed_checks.join(", ")}: ${gate.failure.message}`,
    );
}

function sameEntries(actual: AppliedRuntimeRevision[], expected: AppliedRuntimeRevision[]): boolean {
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/**
 * Runs the deployer conformance checks against `handler` and returns the failures as data
 * (the kit never asserts: call it from your own test and assert `result.ok`). Every check
 * gets a fresh context and ends with `destroy`, so nothing is left running.
 */
export async function runDeployerConformance(
  handler: EnvPackHandler,
  options: ConformanceOptions,
): Promise<ConformanceResult> {
  const deployer = handler.deployer;
  if (deployer === undefined) throw new TypeError(`env-pack ${handler.descriptorPath} has no deployer`);
  const checks = CONFORMANCE_CHECKS.filter((check) => options.only === undefined || options.only.includes(check));
  const timeoutMs = options.warmTimeoutMs ?? 60_000;
  const { bundlePath } = options;
  const failures: ConformanceFailure[] = [];
  const stage = (ctx: HandlerContext, revision: RevisionRef, code: ConformanceFailure["code"]) =>
    expectOk(code, `stage ${revision.revision_id}`, () => deployer.stage(ctx, { revision, bundlePath }));

  const bodies: Record<ConformanceCheck, (ctx: HandlerContext) => Promise<void>> = {
    "happy-path": async (ctx) => {
      const code = "HappyPathFailed";
      const r = revisionIn(newId(), "conformance");
      const staged = await stage(ctx, r, code);
      if (!/^sha256:[0-9a-f]{64}$/.test(staged.bundle_digest))
        throw new CheckFailed(
          code,
          `stage returned bundle_digest ${JSON.stringify(staged.bundle_digest)}, not sha256:<hex>`,
        );
      await warmOk(deployer, ctx, r, timeoutMs, code);
      const running = (await expectOk(code, "status", () => deployer.status(ctx))).find(
        (s) => s.revision_id === r.revision_id,
      );
      if (running?.state !== "running")
        throw new CheckFailed(
          code,
          `after warm, status reports ${running?.state ?? "nothing"} for the revision, not running`,
        );
      const split = {
        deployment_id: r.deployment_id,
        bundle_id: r.bundle_id,
        entries: [{ revision_id: r.revision_id, weight_bps: 10_000 }],
      };
      await expectOk(code, "applyTrafficSplit", () => deployer.applyTrafficSplit(ctx, { split, revisions: [r] }));
      const other = revisionIn(r.deployment_id, r.bundle_id);
      await stage(ctx, other, code);
      await expectOk(code, "applyTrafficSplit (move traffic)", () =>
        deployer.applyTrafficSplit(ctx, {
          split: { ...split, entries: [{ revision_id: other.revision_id, weight_bps: 10_000 }] },
          revisions: [r, other],
        }),
      );
      await expectOk(code, "drain", () => deployer.drain(ctx, r));
      const drained = (await deployer.status(ctx)).find((s) => s.revision_id === r.revision_id);
      if (drained?.state === "running") throw new CheckFailed(code, "after drain, the revision is still running");
      await expectOk(code, "archive", () => deployer.archive(ctx, r));
      if ((await deployer.status(ctx)).some((s) => s.revision_id === r.revision_id))
        throw new CheckFailed(code, "after archive, status still lists the revision");
    },
    idempotency: async (ctx) => {
      const code = "NotIdempotent";
      const r = revisionIn(newId(), "conformance");
      const first = await stage(ctx, r, code);
      const second = await stage(ctx, r, code);
      if (first.bundle_digest !== second.bundle_digest)
        throw new CheckFailed(code, `staging twice gave digests ${first.bundle_digest} and ${second.bundle_digest}`);
      await warmOk(deployer, ctx, r, timeoutMs, code);
      const pid = (await deployer.status(ctx)).find((s) => s.revision_id === r.revision_id)?.pid;
      await warmOk(deployer, ctx, r, timeoutMs, code);
      const after = (await deployer.status(ctx)).find((s) => s.revision_id === r.revision_id);
      if (after?.state !== "running" || after.pid !== pid)
        throw new CheckFailed(
          code,
          `a second warm replaced or lost the running revision (pid ${pid} -> ${after?.pid})`,
        );
      const split = {
        deployment_id: r.deployment_id,
        bundle_id: r.bundle_id,
        entries: [{ revision_id: r.revision_id, weight_bps: 10_000 }],
      };
      const a = await expectOk(code, "applyTrafficSplit", () =>
        deployer.applyTrafficSplit(ctx, { split, revisions: [r] }),
      );
      const b = await expectOk(code, "applyTrafficSplit again", () =>
        deployer.applyTrafficSplit(ctx, { split, revisions: [r] }),
      );
      if (!sameEntries(a.revisions, b.revisions))
        throw new CheckFailed(code, "applying the same split twice gave different runtime configs");
      await expectOk(code, "drain", () => deployer.drain(ctx, r));
      await expectOk(code, "drain again", () => deployer.drain(ctx, r));
      const spare = revisionIn(r.deployment_id, r.bundle_id);
      await stage(ctx, spare, code);
      await expectOk(code, "applyTrafficSplit away", () =>
        deployer.applyTrafficSplit(ctx, {
          split: { ...split, entries: [{ revision_id: spare.revision_id, weight_bps: 10_000 }] },
          revisions: [r, spare],
        }),
      );
      await expectOk(code, "archive", () => deployer.archive(ctx, r));
      await expectOk(code, "archive again", () => deployer.archive(ctx, r));
    },
    "invalid-split": async (ctx) => {
      const r1 = revisionIn(newId(), "conformance");
      const r2 = revisionIn(r1.deployment_id, r1.bundle_id);
      await stage(ctx, r1, "HappyPathFailed");
      await stage(ctx, r2, "HappyPathFailed");
      const codes = { accepted: "InvalidSplitAccepted", wrong: "InvalidSplitWrongError" } as const;
      const bad: [string, { revision_id: string; weight_bps: number }[]][] = [
        [
          "a split summing to 9999",
          [
            { revision_id: r1.revision_id, weight_bps: 9_000 },
            { revision_id: r2.revision_id, weight_bps: 999 },
          ],
        ],
        [
          "a split summing to 10001",
          [
            { revision_id: r1.revision_id, weight_bps: 9_000 },
            { revision_id: r2.revision_id, weight_bps: 1_001 },
          ],
        ],
        [
          "an entry above 10000 wrapping to 10000 in u32",
          [
            { revision_id: r1.revision_id, weight_bps: 4_294_967_295 },
            { revision_id: r2.revision_id, weight_bps: 10_001 },
          ],
        ],
        [
          "a negative weight",
          [
            { revision_id: r1.revision_id, weight_bps: -1 },
            { revision_id: r2.revision_id, weight_bps: 10_001 },
          ],
        ],
        ["an empty split", []],
        [
          "a duplicate revision",
          [
            { revision_id: r1.revision_id, weight_bps: 5_000 },
            { revision_id: r1.revision_id, weight_bps: 5_000 },
          ],
        ],
      ];
      for (const [what, entries] of bad) {
        await expectRejected(what, "validation", codes, () =>
          deployer.applyTrafficSplit(ctx, {
            split: { deployment_id: r1.deployment_id, bundle_id: r1.bundle_id, entries },
            revisions: [r1, r2],
          }),
        );
      }
      const applied = await deployer.runtimeConfig(ctx);
      if (applied.revisions.some((entry) => entry.deployment_id === r1.deployment_id)) {
        throw new CheckFailed("InvalidSplitAccepted", "a rejected split still shows up in the runtime config");
      }
    },
    "unknown-revision": async (ctx) => {
      const codes = { accepted: "UnknownRevisionAccepted", wrong: "UnknownRevisionWrongError" } as const;
      const ghost = revisionIn(newId(), "conformance");
      await expectRejected("warm of a revision never staged", "not-found", codes, () =>
        deployer.warm(ctx, { revision: ghost, timeoutMs }),
      );
      await expectRejected("drain of a revision never staged", "not-found", codes, () => deployer.drain(ctx, ghost));
      await expectRejected("archive of a revision never staged", "not-found", codes, () =>
        deployer.archive(ctx, ghost),
      );
      await expectRejected("a split naming an unknown revision", "not-found", codes, () =>
        deployer.applyTrafficSplit(ctx, {
          split: {
            deployment_id: ghost.deployment_id,
            bundle_id: ghost.bundle_id,
            entries: [{ revision_id: ghost.revision_id, weight_bps: 10_000 }],
          },
          revisions: [],
        }),
      );
    },
    "runtime-config-drift": async (ctx) => {
      const code = "RuntimeConfigDrift";
      const r1 = revisionIn(newId(), "conformance");
      const r2 = revisionIn(r1.deployment_id, r1.bundle_id);
      await stage(ctx, r1, code);
      await stage(ctx, r2, code);
      for (const weights of [
        [7_000, 3_000],
        [10_000, 0],
        [2_500, 7_500],
      ] as const) {
        const entries = [
          { revision_id: r1.revision_id, weight_bps: weights[0] },
          { revision_id: r2.revision_id, weight_bps: weights[1] },
        ];
        const split = { deployment_id: r1.deployment_id, bundle_id: r1.bundle_id, entries };
        const expected = entries.map((e) => ({ deployment_id: r1.deployment_id, bundle_id: r1.bundle_id, ...e }));
        const returned = await expectOk(code, "applyTrafficSplit", () =>
          deployer.applyTrafficSplit(ctx, { split, revisions: [r1, r2] }),
        );
        const reported = await expectOk(code, "runtimeConfig", () => deployer.runtimeConfig(ctx));
        for (const [what, config] of [
          ["applyTrafficSplit", returned],
          ["runtimeConfig", reported],
        ] as const) {
          const mine = config.revisions.filter((entry) => entry.deployment_id === r1.deployment_id);
          if (!sameEntries(mine, expected)) {
            throw new CheckFailed(
              code,
              `${what} reports ${JSON.stringify(mine)} after applying ${JSON.stringify(expected)}`,
            );
          }
          if (config.env_id !== ctx.envId)
            throw new CheckFailed(code, `${what} reports env_id ${config.env_id}, not ${ctx.envId}`);
        }
      }
    },
    "cross-deployment-interference": async (ctx) => {
      const code = "CrossDeploymentInterference";
      const a = revisionIn(newId(), "conformance-a");
      const b1 = revisionIn(newId(), "conformance-b");
      const b2 = revisionIn(b1.deployment_id, b1.bundle_id);
      for (const r of [a, b1, b2]) await stage(ctx, r, code);
      await warmOk(deployer, ctx, a, timeoutMs, code);
      await warmOk(deployer, ctx, b1, timeoutMs, code);
      const splitA = {
        deployment_id: a.deployment_id,
        bundle_id: a.bundle_id,
        entries: [{ revision_id: a.revision_id, weight_bps: 10_000 }],
      };
      await expectOk(code, "applyTrafficSplit A", () =>
        deployer.applyTrafficSplit(ctx, { split: splitA, revisions: [a, b1, b2] }),
      );
      const before = (await deployer.runtimeConfig(ctx)).revisions.filter((e) => e.deployment_id === a.deployment_id);
      const pidA = (await deployer.status(ctx)).find((s) => s.revision_id === a.revision_id)?.pid;
      await expectOk(code, "applyTrafficSplit B", () =>
        deployer.applyTrafficSplit(ctx, {
          split: {
            deployment_id: b1.deployment_id,
            bundle_id: b1.bundle_id,
            entries: [{ revision_id: b2.revision_id, weight_bps: 10_000 }],
          },
          revisions: [a, b1, b2],
        }),
      );
      await expectRejected(
        "a split for deployment B naming A's revision",
        "validation",
        { accepted: code, wrong: code },
        () =>
          deployer.applyTrafficSplit(ctx, {
            split: {
              deployment_id: b1.deployment_id,
              bundle_id: b1.bundle_id,
              entries: [{ revision_id: a.revision_id, weight_bps: 10_000 }],
            },
            revisions: [a, b1, b2],
          }),
      );
      await expectOk(code, "drain B1", () => deployer.drain(ctx, b1));
      await expectOk(code, "archive B1", () => deployer.archive(ctx, b1));
      const after = (await deployer.runtimeConfig(ctx)).revisions.filter((e) => e.deployment_id === a.deployment_id);
      if (!sameEntries(after, before))
        throw new CheckFailed(
          code,
          `deployment A's split changed from ${JSON.stringify(before)} to ${JSON.stringify(after)} by acting on deployment B`,
        );
      const stateA = (await deployer.status(ctx)).find((s) => s.revision_id === a.revision_id);
      if (stateA?.state !== "running" || stateA.pid !== pidA)
        throw new CheckFailed(
          code,
          `deployment A's revision is ${stateA?.state ?? "gone"} after acting on deployment B`,
        );
    },
  };

  for (const check of checks) {
    const ctx = await options.ctxFactory(check);
    try {
      await bodies[check](ctx);
    } catch (error) {
      failures.push(
        error instanceof CheckFailed
          ? { check, code: error.code, message: error.message }
          : { check, code: codeFor(check), message: `unexpected error: ${describe(error)}` },
      );
    } finally {
      await deployer.destroy(ctx).catch((error: unknown) => {
        failures.push({ check, code: codeFor(check), message: `destroy failed: ${describe(error)}` });
      });
    }
  }
  return { ok: failures.length === 0, checks, failures };
}

function codeFor(check: ConformanceCheck): ConformanceFailure["code"] {
  const codes: Record<ConformanceCheck, ConformanceFailure["code"]> = {
    "happy-path": "HappyPathFailed",
    idempotency: "NotIdempotent",
    "invalid-split": "InvalidSplitWrongError",
    "unknown-revision": "UnknownRevisionWrongError",
    "runtime-config-drift": "RuntimeConfigDrift",
    "cross-deployment-interference": "CrossDeploymentInterference",
  };
  return codes[check];
}

/** One line per failure, for an assertion message: `expect(result.ok, formatConformanceFailures(result)).toBe(true)`. */
export function formatConformanceFailures(result: ConformanceResult): string {
  return result.failures.map((failure) => `${failure.check} (${failure.code}): ${failure.message}`).join("\n");
}
