// Entry of the local-process router process:
//   node local-router-bin.js --state-dir DIR --listen HOST:PORT [--prefer-port N] [--processes-dir DIR]
// (see local-router-main.ts).
import { runLocalRouter } from "./local-router-main.js";

await runLocalRouter(process.argv.slice(2), [process.execPath, process.argv[1]!]);
