// The modules scripts/embedded.ts generates at build time.
declare module "op-embedded:commands" {
  import type { CommandBase } from "./lib/command.js";
  export const COMMANDS: Record<string, typeof CommandBase>;
}
declare module "op-embedded:plugins" {
  type Pjson = Record<string, unknown> & { name: string; version: string };
  type Loaders = Record<string, () => Promise<Record<string, unknown>>>;
  export const PJSON: Pjson;
  export const OP_LOADERS: Loaders;
  export const PLUGINS: ReadonlyArray<{ pjson: Pjson; manifest: unknown; loaders: Loaders }>;
}
