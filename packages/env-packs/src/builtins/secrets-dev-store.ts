import { createHmac, randomBytes } from "node:crypto";
import { readFile, rm, stat } from "node:fs/promises";
import { writeFileAtomic } from "@greentic/io-kit";
import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { readJsonFile, refuseSymlink, writeIoError, writeJsonFile } from "../fs-utils.js";
import type { EnvPackHandler, HandlerContext, RevealOptions } from "../types.js";

const SCHEMA = "greentic.dev-secrets.v1";
const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,255}$/;

interface SecretsDocument {
  schema: typeof SCHEMA;
  secrets: Record<string, { value: string; updated_at: string }>;
}

function checkKey(key: string): void {
  if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
    throw new GreenticError("invalid-argument", `secret key ${JSON.stringify(key)} is not valid`, {
      hint: "use 1-256 characters from A-Z a-z 0-9 _ . - /, starting with a letter or digit",
      details: { key },
    });
  }
}

/** The secrets file; `create: false` for readers, which never create the data directory. */
async function secretsFile(ctx: HandlerContext, options: { create?: boolean } = {}): Promise<string> {
  return join(await ctx.dataDir("secrets", options), "secrets.json");
}

async function readDocument(file: string): Promise<SecretsDocument> {
  await refuseSymlink(file);
  const info = await stat(file).catch(() => undefined);
  if (info !== undefined && (info.mode & 0o077) !== 0) {
    throw new GreenticError(
      "integrity",
      `${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)})`,
      {
        path: file,
        hint: `run chmod 600 ${file}`,
      },
    );
  }
  // Parse errors would quote the file's text, i.e. secret values: report them without detail.
  let doc: unknown;
  try {
    doc = await readJsonFile(file);
  } catch (error) {
    if (error instanceof GreenticError && error.kind === "integrity") {
      throw new GreenticError("integrity", `${file} is not valid JSON`, {
        path: file,
        hint: "restore the secrets file from a backup",
      });
    }
    throw error;
  }
  // Names are looked up in an object with no prototype: `constructor` or `valueOf` is a name
  // like any other, never something inherited from Object.prototype.
  const secrets: SecretsDocument["secrets"] = Object.create(null);
  if (doc === undefined) return { schema: SCHEMA, secrets };
  const candidate = doc as Partial<SecretsDocument>;
  if (
    candidate.schema !== SCHEMA ||
    typeof candidate.secrets !== "object" ||
    candidate.secrets === null ||
    Array.isArray(candidate.secrets) ||
    !Object.values(candidate.secrets).every((e) => typeof e === "object" && e !== null && typeof e.value === "string")
  ) {
    throw new GreenticError("integrity", `${file} is not a ${SCHEMA} document`, {
      path: file,
      hint: "restore the secrets file from a backup",
    });
  }
  for (const [name, entry] of Object.entries(candidate.secrets)) secrets[name] = entry;
  return { schema: SCHEMA, secrets };
}

/** The entry of `key`, if this environment holds it (own names only). */
function entryOf(doc: SecretsDocument, key: string): SecretsDocument["secrets"][string] | undefined {
  return Object.hasOwn(doc.secrets, key) ? doc.secrets[key] : undefined;
}

async function fingerprintKeyFile(ctx: HandlerContext, options: { create?: boolean } = {}): Promise<string> {
  return join(await ctx.dataDir("secrets", options), "fingerprint.key");
}

/**
 * The environment's fingerprint key (32 random bytes, mode 0600, beside the secrets file),
 * created on first use. Idempotency fingerprints of values are HMACs under it, so a ledger
 * entry never holds a plain digest from which a weak value could be recovered offline.
 */
async function fingerprintKey(ctx: HandlerContext): Promise<Buffer> {
  const file = await fingerprintKeyFile(ctx);
  await refuseSymlink(file);
  const existing = await readKey(file);
  if (existing !== undefined) return existing;
  const key = randomBytes(KEY_BYTES);
  try {
    // Exclusive and atomic: a full disk or a crash never leaves a short key behind, and of two
    // racing writers the first key wins.
    await writeFileAtomic(file, key, { mode: 0o600, exclusive: true });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return (await readKey(file)) ?? key;
    throw writeIoError(file, error);
  }
}

const KEY_BYTES = 32;

/** The key in `file`, `undefined` when there is none; a key of the wrong length is `integrity`. */
async function readKey(file: string): Promise<Buffer | undefined> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new GreenticError("io", `cannot read ${file}: ${(error as Error).message}`, { path: file, cause: error });
  }
  if (key.length !== KEY_BYTES) {
    throw new GreenticError("integrity", `${file} holds ${key.length} bytes, not a ${KEY_BYTES}-byte key`, {
      path: file,
      hint: "the fingerprint key is damaged: remove it (secrets put with an idempotency key then makes a new one; earlier keyed requests are no longer recognised as replays)",
    });
  }
  return key;
}

/**
 * `greentic.secrets.dev-store`: secrets of one environment in a 0600 JSON file in its data
 * area. Values never appear in errors or log events. Writes are serialized per file within a
 * process; cross-process callers go through the environment lock.
 */
export function devStoreSecretsHandler(): EnvPackHandler {
  const queues = new Map<string, Promise<unknown>>();
  const serialize = <T>(file: string, fn: () => Promise<T>): Promise<T> => {
    const run = (queues.get(file) ?? Promise.resolve()).then(fn, fn);
    queues.set(
      file,
      run.catch(() => undefined),
    );
    return run;
  };
  const mutate = async <T>(ctx: HandlerContext, fn: (doc: SecretsDocument) => T): Promise<T> => {
    const file = await secretsFile(ctx);
    return serialize(file, async () => {
      const doc = await readDocument(file);
      const result = fn(doc);
      await writeJsonFile(file, doc, 0o600);
      return result;
    });
  };
  return {
    slot: "secrets",
    descriptorPath: "greentic.secrets.dev-store",
    supportedVersions: "^0.1.0",
    description: "Development secrets store: one 0600 JSON file per environment on this machine. Not for production.",
    secrets: {
      async put(ctx, key, value) {
        checkKey(key);
        if (typeof value !== "string") {
          throw new GreenticError("invalid-argument", `secret ${JSON.stringify(key)}: the value must be a string`, {
            hint: "pass the value as text",
          });
        }
        const result = await mutate(ctx, (doc) => {
          const created = entryOf(doc, key) === undefined;
          doc.secrets[key] = { value, updated_at: new Date().toISOString() };
          return { key, created };
        });
        ctx.log?.({ event: "secrets.put", key, created: result.created });
        return result;
      },
      async get(ctx, key, options: RevealOptions) {
        checkKey(key);
        if (options?.reveal !== true) {
          throw new GreenticError(
            "invalid-argument",
            `reading secret ${JSON.stringify(key)} needs an explicit reveal`,
            {
              hint: "pass {reveal: true} (op secrets get --reveal)",
            },
          );
        }
        const file = await secretsFile(ctx, { create: false });
        const entry = entryOf(await serialize(file, () => readDocument(file)), key);
        if (entry === undefined) {
          throw new GreenticError(
            "not-found",
            `secret ${JSON.stringify(key)} does not exist in environment ${ctx.envId}`,
            {
              hint: "list the keys with op secrets list",
              details: { key },
            },
          );
        }
        return entry.value;
      },
      async list(ctx) {
        const file = await secretsFile(ctx, { create: false });
        return Object.keys((await serialize(file, () => readDocument(file))).secrets).sort();
      },
      async delete(ctx, key) {
        checkKey(key);
        const result = await mutate(ctx, (doc) => {
          const deleted = entryOf(doc, key) !== undefined;
          delete doc.secrets[key];
          return { key, deleted };
        });
        ctx.log?.({ event: "secrets.delete", key, deleted: result.deleted });
        return result;
      },
      async rotate(ctx, key, options = {}) {
        checkKey(key);
        const value = options.value ?? randomBytes(32).toString("base64url");
        const result = await mutate(ctx, (doc) => {
          if (entryOf(doc, key) === undefined) {
            throw new GreenticError(
              "not-found",
              `secret ${JSON.stringify(key)} does not exist in environment ${ctx.envId}`,
              {
                hint: "create it first with op secrets put",
                details: { key },
              },
            );
          }
          const rotated_at = new Date().toISOString();
          doc.secrets[key] = { value, updated_at: rotated_at };
          return { key, rotated_at };
        });
        ctx.log?.({ event: "secrets.rotate", key });
        return result;
      },
      async fingerprint(ctx, value) {
        return createHmac("sha256", await fingerprintKey(ctx))
          .update(value, "utf8")
          .digest("hex");
      },
      async destroy(ctx) {
        const file = await secretsFile(ctx, { create: false });
        const removed = await serialize(file, async () => {
          const had = (await stat(file).catch(() => undefined)) !== undefined;
          await rm(file, { force: true });
          await rm(await fingerprintKeyFile(ctx, { create: false }), { force: true });
          return had;
        });
        ctx.log?.({ event: "secrets.destroy", removed });
        return { removed };
      },
    },
  };
}
