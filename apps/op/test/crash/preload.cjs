"use strict";
// Crash injection for the `op` binary: `node --require preload.cjs bin/run.js ...`. It counts
// the process's mutating filesystem calls (opens for writing, writes, renames, links, unlinks,
// mkdirs, truncates, fsyncs, utimes) and, at call number GT_CRASH_AT, kills the process with
// SIGKILL or stops it with SIGSTOP, before or after the call (GT_CRASH_WHEN). A stopped
// process resumes from there on SIGCONT, as a paused writer would. Inactive unless
// GT_CRASH_ARMED=1, which it removes from the environment so child processes run unarmed.
//   GT_CRASH_AT=N          call to act on (0: count only)
//   GT_CRASH_MODE=kill|stop
//   GT_CRASH_WHEN=before|after
//   GT_CRASH_REPORT=FILE   written (sync, uncounted) when it fires and at exit: "<count> <fired>\n<trace>"
//   GT_CRASH_MATCH=REGEX   instead of GT_CRASH_AT: act on the GT_CRASH_NTH-th (default 1st) call whose
//                          trace entry ("<name> <path>") matches, e.g. the second commit record linked
//                          (timers such as lock refreshes make plain call numbers vary between runs)
if (process.env.GT_CRASH_ARMED === "1") {
  delete process.env.GT_CRASH_ARMED;
  const fs = require("node:fs");
  const fsp = require("node:fs/promises");
  const { syncBuiltinESMExports } = require("node:module");
  const at = Number(process.env.GT_CRASH_AT ?? 0);
  const match = process.env.GT_CRASH_MATCH ? new RegExp(process.env.GT_CRASH_MATCH) : undefined;
  const nth = Number(process.env.GT_CRASH_NTH ?? 1);
  let matched = 0;
  const mode = process.env.GT_CRASH_MODE ?? "kill";
  const when = process.env.GT_CRASH_WHEN ?? "before";
  const report = process.env.GT_CRASH_REPORT;
  const writeReport = fs.writeFileSync.bind(fs);
  let count = 0;
  let fired = false;
  const trace = [];
  const save = () => {
    if (report) writeReport(report, `${count} ${fired}\n${trace.join("\n")}\n`);
  };
  process.on("exit", save);
  const fire = () => {
    fired = true;
    save();
    process.kill(process.pid, mode === "stop" ? "SIGSTOP" : "SIGKILL");
  };
  const W = fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND;
  const writes = (flags) =>
    flags === undefined ? false : typeof flags === "number" ? (flags & W) !== 0 : /[wa+]/.test(String(flags));
  /** Counts one call; true when this is the one to act on. */
  const hit = (name, arg) => {
    count++;
    // One line per call: the sweep reads call N's line as line N.
    const what = typeof arg === "string" ? arg.replace(/\n/g, "\\n") : typeof arg === "number" ? `fd ${arg}` : "";
    const entry = `${name} ${what}`;
    trace.push(`${count} ${entry}`);
    if (match !== undefined) return !fired && match.test(entry) && ++matched === nth;
    return count === at;
  };
  const isOpen = (name) => name === "open" || name === "openSync";
  const counts = (name, args) =>
    isOpen(name) ? writes(args[1] ?? "r") : !(name.startsWith("write") && (args[0] === 1 || args[0] === 2));

  const wrapSync = (obj, name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = function (...args) {
      if (!counts(name, args)) return orig.apply(this, args);
      const mine = hit(name, args[0]);
      if (mine && when === "before") fire();
      const r = orig.apply(this, args);
      if (mine && when === "after") fire();
      return r;
    };
  };
  const wrapCallback = (obj, name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = function (...args) {
      if (!counts(name, args)) return orig.apply(this, args);
      const mine = hit(name, args[0]);
      if (mine && when === "before") fire();
      const cb = args[args.length - 1];
      if (mine && when === "after" && typeof cb === "function")
        args[args.length - 1] = function (...res) {
          fire();
          return cb.apply(this, res);
        };
      return orig.apply(this, args);
    };
  };
  const wrapPromise = (obj, name, label = name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = async function (...args) {
      if (label === "open" && !writes(args[1] ?? "r")) return orig.apply(this, args);
      // A FileHandle method's first argument is the data: name the handle's fd, never the content.
      const mine = hit(label, label.startsWith("handle.") || typeof args[0] !== "string" ? this?.fd : args[0]);
      if (mine && when === "before") fire();
      const r = await orig.apply(this, args);
      if (mine && when === "after") fire();
      return r;
    };
  };
  const names = [
    "open", "writeFile", "appendFile", "write", "writev", "rename", "link", "unlink", "mkdir", "rmdir", "rm",
    "truncate", "ftruncate", "fsync", "fdatasync", "utimes", "futimes", "symlink", "copyFile",
  ];
  for (const n of names) {
    wrapSync(fs, `${n}Sync`);
    wrapCallback(fs, n);
  }
  for (const n of ["open", "writeFile", "appendFile", "rename", "link", "unlink", "mkdir", "rmdir", "rm", "truncate", "utimes", "symlink", "copyFile"])
    wrapPromise(fsp, n);
  // FileHandle methods: patched on the prototype of the first handle opened.
  let patched = false;
  const origOpen = fsp.open;
  fsp.open = async function (...args) {
    const handle = await origOpen.apply(this, args);
    if (!patched) {
      patched = true;
      const proto = Object.getPrototypeOf(handle);
      for (const [m, label] of [["write", "handle.write"], ["writev", "handle.writev"], ["writeFile", "handle.writeFile"], ["appendFile", "handle.appendFile"], ["truncate", "handle.truncate"], ["sync", "handle.sync"], ["datasync", "handle.datasync"]])
        wrapPromise(proto, m, label);
    }
    return handle;
  };
  syncBuiltinESMExports();
}
