import { z } from "zod";
import type { EnvPackHandler, PreflightCheck } from "./types.js";

/** Outcome of one preflight check, as reported by doctor and `env tool-check`. */
export interface PreflightReport {
  name: string;
  ok: boolean;
  detail: string;
  /** Present when the check failed. */
  install_hint?: string;
  timed_out?: boolean;
  duration_ms: number;
}

/** Runs one check, bounded by its timeout; a throw or a timeout is a failed check, not an error. */
export async function runPreflightCheck(check: PreflightCheck): Promise<PreflightReport> {
  const started = Date.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, check.timeoutMs);
  });
  try {
    const outcome = await Promise.race([check.run(controller.signal), timeout]);
    const duration_ms = Date.now() - started;
    if (outcome === "timeout") {
      return {
        name: check.name,
        ok: false,
        detail: `no answer within ${check.timeoutMs} ms`,
        install_hint: check.installHint,
        timed_out: true,
        duration_ms,
      };
    }
    return {
      name: check.name,
      ok: outcome.ok,
      detail: outcome.detail,
      ...(outcome.ok ? {} : { install_hint: check.installHint }),
      duration_ms,
    };
  } catch (error) {
    return {
      name: check.name,
      ok: false,
      detail: `the check failed: ${(error as Error).message}`,
      install_hint: check.installHint,
      duration_ms: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every preflight check of a handler, in order. */
export async function runPreflight(handler: EnvPackHandler): Promise<PreflightReport[]> {
  const reports: PreflightReport[] = [];
  for (const check of handler.preflight?.() ?? []) reports.push(await runPreflightCheck(check));
  return reports;
}

/** JSON Schema (2020-12) of what a user writes in the handler's answers file, if it has one. */
export function answersJsonSchema(handler: EnvPackHandler): Record<string, unknown> | undefined {
  if (handler.answersSchema === undefined) return undefined;
  return z.toJSONSchema(handler.answersSchema, { io: "input" }) as Record<string, unknown>;
}
