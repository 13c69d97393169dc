import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The longest files first (the crash sweep, minutes): started last, one would run alone after
 * everything else. Within each class the base order holds (cached durations when a previous run
 * left them, else the largest file first).
 */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const slow = (spec: TestSpecification) => /\.e2e\.test\.ts$|\/test\/crash\//.test(spec.moduleId);
    return [...sorted.filter(slow), ...sorted.filter((spec) => !slow(spec))];
  }
}

const include = [
  "packages/*/src/**/*.test.ts",
  "packages/*/test/**/*.test.ts",
  "apps/*/test/**/*.test.ts",
  "fixtures/plugins/*/test/**/*.test.ts",
  "scripts/release/test/**/*.test.ts",
  "scripts/*.test.ts",
  "scripts/testbed/*.test.ts",
  "scripts/test-support/test/*.test.ts",
];
const e2e = "**/*.e2e.test.ts";
// Not named e2e but holding second-scale budgets (a killed revision back within 5 s, seen in
// status within one op start-up): run with the end-to-end files, on a machine to themselves.
const timed = ["apps/op/test/commands/status.test.ts"];

// Tests run against package sources: the "@greentic/source" export condition points each
// workspace package at its src/index.ts, so no build is needed first.
const conditions = ["@greentic/source", "node", "import", "module", "default"];

export default defineConfig({
  resolve: { conditions },
  // Vitest hands the SSR conditions to Node as --conditions, where "import" would make a
  // CommonJS package's require() load its ESM wrapper (the PostgreSQL driver requiring its
  // pool): Node and Vite add "import" or "require" by themselves, per import kind.
  ssr: {
    resolve: {
      conditions: ["@greentic/source", "node", "development|production"],
      externalConditions: ["@greentic/source"],
    },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    sequence: { sequencer: SlowFirstSequencer },
    globalSetup: ["scripts/test-support/ensure-built.ts", "scripts/test-support/leftovers-setup.ts"],
    projects: [
      // Vitest's default in run mode is one worker fewer than the cores: a single worker on CI's
      // 2 cores, so every file ran alone. The files are written to run side by side (free ports,
      // private temporary roots and stores), so one worker per core, and at least two.
      {
        extends: true,
        test: {
          name: "unit",
          include,
          exclude: [...configDefaults.exclude, e2e, ...timed],
          maxWorkers: Math.max(2, availableParallelism()),
        },
      },
      // The end-to-end files (testbed boots under wrk load, rollouts judged by error rates,
      // writers killed a hundred times) hold timing budgets measured on a machine they have to
      // themselves: they keep running one at a time, after the others.
      {
        extends: true,
        test: {
          name: "e2e",
          include: [...include.map((glob) => glob.replace(/\*\.test\.ts$/, "*.e2e.test.ts")), ...timed],
          maxWorkers: 1,
        },
      },
    ],
  },
});
