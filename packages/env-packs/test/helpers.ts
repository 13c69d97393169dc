export { contextFor, testDir } from "../../../scripts/test-support/handler-context.ts";
