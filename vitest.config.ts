import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The end-to-end files (testbed boots, killed processes, the crash sweep) take from seconds to
 * minutes each and most of the run; started first, they spread over the workers and the quick
 * files fill the gaps at the end, instead of one long file running alone after everything else.
 * Within each class the base order holds (cached durations when a previous run left them, else
 * the largest file first).
 */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const slow = (spec: TestSpecification) => /\.e2e\.test\.ts$|\/test\/crash\//.test(spec.moduleId);
    return [...sorted.filter(slow), ...sorted.filter((spec) => !slow(spec))];
  }
}

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
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "fixtures/plugins/*/test/**/*.test.ts",
      "scripts/release/test/**/*.test.ts",
      "scripts/*.test.ts",
      "scripts/testbed/*.test.ts",
      "scripts/test-support/test/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Vitest's default in run mode is one worker fewer than the cores: a single worker on CI's 2
    // cores, so every file ran alone. The files spend much of their time waiting on the processes,
    // testbeds and clusters they start, and are written to run side by side (free ports, unique
    // machine names, private temporary roots), so one worker per core, and at least two.
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: SlowFirstSequencer },
    globalSetup: ["scripts/test-support/ensure-built.ts", "scripts/test-support/leftovers-setup.ts"],
  },
});
