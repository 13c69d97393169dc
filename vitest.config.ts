import { defineConfig } from "vitest/config";

// Tests run against package sources: the "@greentic/source" export condition points each
// workspace package at its src/index.ts, so no build is needed first.
const conditions = ["@greentic/source", "node", "import", "module", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@greentic/source"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "fixtures/plugins/*/test/**/*.test.ts",
      "scripts/release/test/**/*.test.ts",
      "scripts/*.test.ts",
      "scripts/testbed/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["scripts/test-support/ensure-built.ts"],
  },
});
