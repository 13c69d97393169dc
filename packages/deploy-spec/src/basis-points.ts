import { GreenticError, type ValidationIssue } from "./errors.js";

/** Basis points in a whole: every split and revenue share sums to exactly this. */
export const TOTAL_BASIS_POINTS = 10_000;

export type WeightResult = { ok: true; bps: number } | { ok: false; code: string; message: string };

/** Checks one basis-point weight: a number, not NaN, an integer, 0..10000. */
export function checkBasisPoints(value: unknown): WeightResult {
  if (typeof value !== "number") {
    return {
      ok: false,
      code: "weight-type",
      message: `weight must be a number of basis points, got ${typeof value} ${JSON.stringify(value) ?? String(value)}`,
    };
  }
  if (Number.isNaN(value))
    return {
      ok: false,
      code: "weight-not-a-number",
      message: "weight is NaN; expected an integer number of basis points 0..10000",
    };
  if (value < 0)
    return { ok: false, code: "weight-negative", message: `weight ${value} is negative; basis points run 0..10000` };
  if (!Number.isInteger(value))
    return { ok: false, code: "weight-not-integer", message: `weight ${value} is not a whole number of basis points` };
  if (value > TOTAL_BASIS_POINTS) {
    return {
      ok: false,
      code: "basis-points-entry-too-large",
      message: `weight ${value} exceeds ${TOTAL_BASIS_POINTS} basis points`,
    };
  }
  return { ok: true, bps: value };
}

/**
 * Converts a percentage (0..100) to basis points exactly, working on the decimal digits so
 * that 50.5 gives 5050 and 0.07 gives 7 (no float rounding). A value that is not a whole
 * number of basis points (33.333...) is refused.
 */
export function percentToBasisPoints(value: unknown): WeightResult {
  if (typeof value === "string") return percentTextToBasisPoints(value);
  if (typeof value !== "number") {
    return {
      ok: false,
      code: "weight-type",
      message: `weight_percent must be a number, got ${typeof value} ${JSON.stringify(value) ?? String(value)}`,
    };
  }
  if (Number.isNaN(value))
    return { ok: false, code: "weight-not-a-number", message: "weight_percent is NaN; expected a percentage 0..100" };
  if (value < 0)
    return {
      ok: false,
      code: "weight-negative",
      message: `weight_percent ${value} is negative; percentages run 0..100`,
    };
  if (!Number.isFinite(value) || value > 100)
    return { ok: false, code: "weight-percent-range", message: `weight_percent ${value} exceeds 100` };
  // String(n) is the shortest decimal that round-trips, so it holds exactly the digits the user wrote.
  const text = String(value);
  if (text.includes("e")) {
    return {
      ok: false,
      code: "weight-percent-precision",
      message: `weight_percent ${text} is not a whole number of basis points (0.01%)`,
    };
  }
  return percentTextToBasisPoints(text);
}

function percentTextToBasisPoints(text: string): WeightResult {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m)
    return { ok: false, code: "weight-syntax", message: `weight ${JSON.stringify(text)} is not a decimal number` };
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 2) {
    return {
      ok: false,
      code: "weight-percent-precision",
      message: `weight ${text}% is not a whole number of basis points (0.01%)`,
    };
  }
  const bps = Number(m[1]) * 100 + Number(frac.padEnd(2, "0"));
  if (bps > TOTAL_BASIS_POINTS)
    return { ok: false, code: "weight-percent-range", message: `weight ${text}% exceeds 100%` };
  return { ok: true, bps };
}

/**
 * Parses one CLI weight: `N` or `N%` is a percentage (0..100, up to two decimals), `Nbps` is
 * basis points (integer 0..10000). Throws `GreenticError("invalid-argument")`.
 */
export function parseWeight(text: string): number {
  const t = text.trim();
  let result: WeightResult;
  if (t.endsWith("bps")) {
    const digits = t.slice(0, -3);
    result = /^\d+$/.test(digits)
      ? checkBasisPoints(Number(digits))
      : {
          ok: false,
          code: "weight-syntax",
          message: `weight ${JSON.stringify(text)}: basis points must be a whole number before "bps"`,
        };
  } else {
    result = percentTextToBasisPoints(t.endsWith("%") ? t.slice(0, -1) : t);
  }
  if (result.ok) return result.bps;
  throw new GreenticError("invalid-argument", result.message, {
    hint: "write a weight as N or N% (percent, e.g. 50 or 50.5%) or Nbps (basis points, e.g. 5050bps)",
    details: { code: result.code, value: text },
  });
}

/** Parses the CLI form `<revision_id>=<weight>` into `{revision_id, weight_bps}`. */
export function parseTrafficEntry(text: string): { revision_id: string; weight_bps: number } {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) {
    throw new GreenticError("invalid-argument", `traffic entry ${JSON.stringify(text)} is not <revision_id>=<weight>`, {
      hint: "e.g. 01J9Z6S4Y2M3N4P5Q6R7S8T9VW=50%",
      details: { code: "entry-syntax", value: text },
    });
  }
  return { revision_id: text.slice(0, eq), weight_bps: parseWeight(text.slice(eq + 1)) };
}

/**
 * Checks a list of weighted entries: each weight valid (entries above 10000 are refused
 * before any sum is taken, so huge values cannot wrap around), no duplicate id, and a sum of
 * exactly 10000. Returns issues with paths relative to the list (`<i>.<weightKey>`).
 */
export function checkWeightedEntries(
  entries: readonly Record<string, unknown>[],
  idKey = "revision_id",
  weightKey = "weight_bps",
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Map<unknown, number>();
  let sum = 0;
  let weightsOk = true;
  entries.forEach((entry, i) => {
    const id = entry[idKey];
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      issues.push({
        path: `${i}.${idKey}`,
        code: "duplicate-entry",
        message: `${idKey} ${JSON.stringify(id)} appears twice (entries ${earlier} and ${i})`,
      });
    } else {
      seen.set(id, i);
    }
    const w = checkBasisPoints(entry[weightKey]);
    if (w.ok) sum += w.bps;
    else {
      weightsOk = false;
      issues.push({ path: `${i}.${weightKey}`, code: w.code, message: w.message });
    }
  });
  if (weightsOk && sum !== TOTAL_BASIS_POINTS) {
    issues.push({
      path: "",
      code: "basis-points-sum",
      message: `weights sum to ${sum} basis points; they must sum to exactly ${TOTAL_BASIS_POINTS}`,
    });
  }
  return issues;
}
