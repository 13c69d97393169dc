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
//   GT_CRASH_SKIP=REGEX    calls matching "<name> <path>" are neither counted nor acted on (the lock's
//                          timer-driven refresh, which falls between different calls from run to run;
//                          writes outside the store). A call on a descriptor, and the unnamed inner calls
//                          of a recursive rm, are matched with the last path named before them.
//   GT_CRASH_MODE=step     instead of one point: stop (SIGSTOP) before and after every counted call and
//                          write "B <n>" or "A <n>" (and " same" on a "B" whose state is the previous "A"'s:
//                          nothing another process could see happened between them) as one line to fd 3,
//                          so the harness can copy the store while the process is stopped and SIGCONT it.
//                          A killed process leaves the files exactly as they are at that stop, so each copy
//                          is the store a SIGKILL there would leave, as long as nothing else carries the
//                          run's effects: once a process this run started is still running at a stop (a
//                          revision, a router, which a kill would leave behind, serving this store), it
//                          writes "E <n>" instead and stops no more (points from "before n" on need real kills).
//                          The same once it has sent a signal to another process (a router told to reload:
//                          a kill leaves it serving what it loaded, which a copy would not reproduce).
// A recursive mkdir of an existing directory is not counted: it writes nothing.
if (process.env.GT_CRASH_ARMED === "1") {
  delete process.env.GT_CRASH_ARMED;
  const fs = require("node:fs");
  const fsp = require("node:fs/promises");
  const { syncBuiltinESMExports } = require("node:module");
  const at = Number(process.env.GT_CRASH_AT ?? 0);
  const match = process.env.GT_CRASH_MATCH ? new RegExp(process.env.GT_CRASH_MATCH) : undefined;
  const nth = Number(process.env.GT_CRASH_NTH ?? 1);
  const skip = process.env.GT_CRASH_SKIP ? new RegExp(process.env.GT_CRASH_SKIP) : undefined;
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
  // GT_CRASH_SEQUENCE=FILE: written at exit, the order of events: "B<n>" call n begins, "A<n>"
  // it has returned (its callback or promise), "X" the process did something another process can
  // see other than a counted call (started a process, sent a signal, used a socket). Killing
  // after call n is the same as killing before call m when "A<n>" is followed by "B<m>".
  const sequenceFile = process.env.GT_CRASH_SEQUENCE;
  const sequence = [];
  const kill = process.kill.bind(process);
  const stepping = mode === "step";
  // Processes this run started that may still be running.
  const children = new Set();
  let signalled = false;
  if (sequenceFile || stepping) {
    if (sequenceFile) process.on("exit", () => writeReport(sequenceFile, `${sequence.join(" ")}\n`));
    const visible = () => {
      if (sequence.at(-1) !== "X") sequence.push("X");
    };
    const patch = (obj, name, seen = () => true) => {
      const orig = obj[name];
      obj[name] = function (...args) {
        if (seen.call(this, args)) visible();
        return orig.apply(this, args);
      };
    };
    const cp = require("node:child_process");
    patch(cp.ChildProcess.prototype, "spawn");
    const spawnChild = cp.ChildProcess.prototype.spawn;
    cp.ChildProcess.prototype.spawn = function (...args) {
      const r = spawnChild.apply(this, args);
      children.add(this);
      this.once("exit", () => children.delete(this));
      return r;
    };
    for (const n of ["spawnSync", "execSync", "execFileSync"]) patch(cp, n);
    // Signal 0 only asks whether a process is alive.
    patch(process, "kill", (args) => {
      const real = args[1] !== 0 && Number(args[0]) !== process.pid;
      if (real) signalled = true;
      return args[1] !== 0;
    });
    // The command's own output is not state.
    const net = require("node:net");
    for (const n of ["connect", "write", "end"])
      patch(net.Socket.prototype, n, function () {
        return this !== process.stdout && this !== process.stderr;
      });
  }
  const fire = () => {
    fired = true;
    save();
    kill(process.pid, mode === "stop" ? "SIGSTOP" : "SIGKILL");
  };
  // Step mode: one stop per state, reported on fd 3 (written with the unwrapped writeSync).
  const writeStep = fs.writeSync.bind(fs);
  let stepsEnded = !stepping;
  let stoppedAfter;
  const step = (kind, n) => {
    if (stepsEnded || n === 0) return;
    const last = sequence.length >= 2 ? sequence[sequence.length - 2] : undefined;
    if (signalled || [...children].some((c) => c.exitCode === null && c.signalCode === null)) {
      stepsEnded = true;
      writeStep(3, `E ${n}\n`);
      return;
    }
    // The state before call n is the one after the previous call, stopped at and copied: no stop.
    const same = kind === "B" && last !== undefined && last === stoppedAfter;
    writeStep(3, `${kind} ${n}${same ? " same" : ""}\n`);
    if (same) return;
    if (kind === "A") stoppedAfter = `A${n}`;
    kill(process.pid, "SIGSTOP");
  };
  const W = fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND;
  const writes = (flags) =>
    flags === undefined ? false : typeof flags === "number" ? (flags & W) !== 0 : /[wa+]/.test(String(flags));
  // The last path named: a call on a descriptor, or rm's unnamed inner calls, happen there.
  let lastPath = "";
  /** Counts one call: its number `n` (0 when not counted), and whether this is the one to act on. */
  const hit = (name, arg) => {
    const what = typeof arg === "string" ? arg.replace(/\n/g, "\\n") : typeof arg === "number" ? `fd ${arg}` : "";
    if (typeof arg === "string") lastPath = what;
    const entry = `${name} ${what}`;
    if (skip?.test(`${name} ${typeof arg === "string" ? what : lastPath}`)) return { n: 0, mine: false };
    count++;
    // One line per counted call: call N's line is line N.
    trace.push(`${count} ${entry}`);
    if (sequenceFile || stepping) sequence.push(`B${count}`);
    const mine = match !== undefined ? !fired && match.test(entry) && ++matched === nth : count === at;
    return { n: count, mine };
  };
  const returned = (n) => {
    if ((sequenceFile || stepping) && n > 0) sequence.push(`A${n}`);
  };
  const isOpen = (name) => name === "open" || name === "openSync";
  // A recursive mkdir of a directory that exists changes nothing: it is no write point.
  const noop = (name, args) =>
    name.startsWith("mkdir") &&
    typeof args[1] === "object" &&
    args[1]?.recursive === true &&
    typeof args[0] === "string" &&
    fs.existsSync(args[0]);
  const counts = (name, args) =>
    isOpen(name)
      ? writes(args[1] ?? "r")
      : !(name.startsWith("write") && (args[0] === 1 || args[0] === 2)) && !noop(name, args);

  const wrapSync = (obj, name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = function (...args) {
      if (!counts(name, args)) return orig.apply(this, args);
      const { n, mine } = hit(name, args[0]);
      step("B", n);
      if (mine && when === "before") fire();
      let r;
      try {
        r = orig.apply(this, args);
      } finally {
        returned(n);
      }
      step("A", n);
      if (mine && when === "after") fire();
      return r;
    };
  };
  const wrapCallback = (obj, name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = function (...args) {
      if (!counts(name, args)) return orig.apply(this, args);
      const { n, mine } = hit(name, args[0]);
      step("B", n);
      if (mine && when === "before") fire();
      const cb = args[args.length - 1];
      if (typeof cb === "function")
        args[args.length - 1] = function (...res) {
          returned(n);
          step("A", n);
          if (mine && when === "after") fire();
          return cb.apply(this, res);
        };
      return orig.apply(this, args);
    };
  };
  const wrapPromise = (obj, name, label = name) => {
    const orig = obj[name];
    if (typeof orig !== "function") return;
    obj[name] = async function (...args) {
      if ((label === "open" && !writes(args[1] ?? "r")) || noop(label, args)) return orig.apply(this, args);
      // A FileHandle method's first argument is the data: name the handle's fd, never the content.
      const { n, mine } = hit(label, label.startsWith("handle.") || typeof args[0] !== "string" ? this?.fd : args[0]);
      step("B", n);
      if (mine && when === "before") fire();
      let r;
      try {
        r = await orig.apply(this, args);
      } finally {
        returned(n);
      }
      step("A", n);
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
