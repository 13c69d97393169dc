import { defineConfig } from "vitest/config";

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
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["scripts/test-support/ensure-built.ts"],
  },
});
