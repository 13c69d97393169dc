// Plan time and no-op apply time for an applied single-VM deployment, against a `--root`
// staging deployment (the systemd testbed is too heavy to boot inside a bench). Baseline:
// hashing the same generated files and bundle, the floor any observe step pays.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { applyDeployment, planDeployment } from "@greentic/adapter-single-vm";
import { median, report, timeRuns } from "../../../bench/lib.ts";

const work = mkdtempSync(join(tmpdir(), "gt-bench-svm-"));
try {
  const src = join(work, "src");
  execFileSync("mkdir", ["-p", src]);
  for (let i = 0; i < 200; i++) writeFileSync(join(src, `page-${i}.html`), `<p>${"x".repeat(4096)} ${i}</p>\n`);
  const bundle = join(work, "bench.gtbundle");
  execFileSync("mksquashfs", [src, bundle, "-noappend", "-quiet", "-all-root"]);
  const runtime = join(work, "runtime.js");
  writeFileSync(runtime, `${"// padding\n".repeat(3000)}console.log("runtime");\n`);
  const parsed = parseDeploymentSpec(
    JSON.stringify({
      apiVersion: "greentic.ai/v1alpha1",
      kind: "Deployment",
      metadata: { name: "bench" },
      spec: { bundle: { source: bundle }, runtime: { binary: runtime } },
    }),
  );
  if (!parsed.ok) throw new Error(parsed.summary);
  const spec = parsed.value;
  const root = join(work, "root");
  await applyDeployment(spec, { root });

  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }))
      e.isDirectory() ? walk(join(dir, e.name)) : files.push(join(dir, e.name));
  };
  walk(root);
  const runs = 15;
  const baseline = await timeRuns(() => {
    for (const f of [...files, bundle, runtime]) createHash("sha256").update(readFileSync(f)).digest("hex");
  }, runs);
  const plan = await timeRuns(() => planDeployment(spec, { root }), runs);
  // The deployment is already applied: plan and apply observe everything and change nothing.
  const pending = (await planDeployment(spec, { root })).actions;
  if (pending.length > 0) throw new Error(`expected a converged deployment, plan lists ${JSON.stringify(pending)}`);
  const noop = await timeRuns(() => applyDeployment(spec, { root }), runs);
  const b = median(baseline);
  const bundleKb = Math.round(statSync(bundle).size / 1024);
  report(
    "single-vm plan / apply (staging root)",
    `sha256 of ${files.length + 2} files incl. a ${bundleKb} KiB bundle`,
    [
      { name: "baseline: hash files", median: b, unit: "ms", ratio: 1, runs },
      { name: "plan (applied deployment)", median: median(plan), unit: "ms", ratio: median(plan) / b, runs },
      {
        name: "apply (nothing changed)",
        median: median(noop),
        unit: "ms",
        ratio: median(noop) / b,
        runs,
        note: "no action, nothing rewritten",
      },
    ],
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
