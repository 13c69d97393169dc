// Every command class, by oclif id: the target of the "explicit" discovery strategy in
// package.json, read by `oclif manifest` (and by oclif itself if op is ever loaded without
// src/main.ts). Starts never import it: src/start.ts (or src/main.ts) loads one command at a time.
export { COMMANDS } from "op-embedded:commands";
