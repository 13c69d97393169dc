import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { store } from "../../helpers.js";

// A store directory the Rust reference wrote (its documented shapes: pretty environment.json
// without our generation, compact audit lines without prev_hash), driven through the real `op`.
let s: ReturnType<typeof store>;
beforeAll(() => {
  s = store({ persistent: true });
  const dir = join(s.root, "local");
  mkdirSync(join(dir, "audit"), { recursive: true });
  const kinds = [
    "deployer.local-process",
    "secrets.dev-store",
    "telemetry.stdout",
    "sessions.in-memory",
    "state.in-memory",
  ];
  const env = {
    schema: "greentic.environment.v1",
    environment_id: "local",
    name: "local",
    host_config: { env_id: "local", listen_addr: "127.0.0.1:8080" },
    packs: kinds.map((k) => ({
      slot: k.split(".")[0],
      kind: `greentic.${k}@0.1.0`,
      pack_ref: `greentic.${k}@0.1.0`,
      generation: 0,
    })),
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
    added_by_newer_reference: true,
  };
  writeFileSync(join(dir, "environment.json"), `${JSON.stringify(env, null, 2)}\n`);
  const line = (id: string, verb: string) =>
    JSON.stringify({
      schema: "greentic.audit.event.v1",
      event_id: id,
      ts: "2026-07-01T12:00:00Z",
      actor: { kind: "local-user", user: "ref", uid: 1000 },
      env_id: "local",
      noun: "env",
      verb,
      target: { environment_id: "local", public_base_url_applied: false },
      authorization: { decision: "allow", policy: "local-only", reason: "env `local` is the local env" },
      result: { outcome: "ok" },
    });
  writeFileSync(
    join(dir, "audit", "events.jsonl"),
    `${line("01JTKW5B4W4Q5Y1CQW93F7S001", "init")}\n${line("01JTKW5B4W4Q5Y1CQW93F7S002", "init")}\n`,
  );
  writeFileSync(join(dir, ".lock"), "");
});
afterAll(() => s.dispose());

it("env init answers untouched on the reference's environment, and heals only when asked", () => {
  const untouched = s.ok(["env", "init"]);
  expect([untouched.outcome, untouched.healable_slots, untouched.pack_count]).toEqual(["untouched", ["revocation"], 5]);
  const healed = s.ok(["env", "init", "--heal"]);
  expect([healed.outcome, healed.added_slots, healed.pack_count]).toEqual(["healed", ["revocation"], 6]);
  const doc = JSON.parse(readFileSync(join(s.root, "local", "environment.json"), "utf8"));
  expect([doc.generation, doc.added_by_newer_reference]).toEqual([1, true]);
});

it("audit verify names the reference's unchained lines and the chain continues after them", () => {
  const verified = s.ok(["audit", "verify", "local"]);
  expect(verified).toEqual({ environment_id: "local", ok: true, lines: 3, unchained: [2] });
  const events = s.ok(["audit", "list", "local"]);
  const ours = (events.events ?? events).at(-1);
  expect([ours.verb, ours.target]).toEqual(["init", { environment_id: "local", public_base_url_applied: false }]);
});
