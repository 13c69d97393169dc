import {
  CAPABILITY_SLOTS,
  GreenticError,
  checkPackDescriptor,
  type CapabilitySlot,
  type ErrorKind,
  type PackDescriptor,
} from "@greentic/deploy-spec/documents";
// The two functions used, not semver's index, which loads all of its ~50 modules at start.
import satisfies from "semver/functions/satisfies.js";
import validRange from "semver/ranges/valid.js";
import type { EnvPackHandler, RegistryErrorCode } from "./types.js";

/** What `resolve` accepts: a descriptor string (`path@version`) or a parsed descriptor. */
export type KindOrDescriptor = string | Pick<PackDescriptor, "path" | "version">;

/** A resolved descriptor: the handler and the descriptor it was asked for. */
export interface ResolvedHandler {
  handler: EnvPackHandler;
  descriptor: PackDescriptor;
}

/** One row of `EnvPackRegistry.list()`. */
export interface RegisteredHandlerInfo {
  slot: CapabilitySlot;
  descriptor_path: string;
  supported_versions: string;
  description: string;
  /** `builtin`, or the npm package name of the plugin that registered it. */
  source: string;
}

/**
 * A handler that lives in its own package and is imported the first time a descriptor with its
 * path is resolved (see `EnvPackRegistry.registerLazy`).
 */
export interface LazyHandler {
  /** The package `load` imports, named in the error when the import fails. */
  package: string;
  /** Imports the package and builds the handler. */
  load: () => Promise<EnvPackHandler>;
}

/** Options of `EnvPackRegistry.register`. */
export interface RegisterOptions {
  /** Who registers the handler (`builtin` or a plugin package name); shown by `list()`. */
  source?: string;
}

/** Builds a registry error: a GreenticError whose `details.code` is the stable registry code. */
export function registryError(
  kind: ErrorKind,
  code: RegistryErrorCode,
  message: string,
  hint: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): GreenticError {
  return new GreenticError(kind, message, { hint, details: { code, ...details }, cause });
}

/**
 * Maps descriptor paths (`greentic.deployer.local-process`) to handlers. A path is registered
 * once: a second registration is refused rather than shadowing the first.
 */
export class EnvPackRegistry {
  readonly #handlers = new Map<string, { handler: EnvPackHandler; source: string }>();
  readonly #lazy = new Map<string, LazyHandler>();
  readonly #loading = new Map<string, Promise<void>>();
  /** Called by `resolve` for a path no registered handler serves (plugin loading on demand). */
  #fallback: ((path: string) => Promise<void>) | undefined;

  /** Registers a handler; throws `conflict` for a duplicate path, `validation` for a bad handler. */
  register(handler: EnvPackHandler, options: RegisterOptions = {}): void {
    checkHandlerShape(handler);
    const existing = this.#handlers.get(handler.descriptorPath);
    if (existing !== undefined) {
      throw registryError(
        "conflict",
        "duplicate-registration",
        `env-pack ${JSON.stringify(handler.descriptorPath)} is already registered (by ${existing.source})`,
        "each descriptor path is registered once; remove the duplicate plugin or rename its descriptor path",
        { descriptor_path: handler.descriptorPath, registered_by: existing.source },
      );
    }
    if (handler.slot === "deployer" && handler.credentials === undefined) {
      throw registryError(
        "validation",
        "deployer-missing-credentials",
        `deployer env-pack ${JSON.stringify(handler.descriptorPath)} has no credentials contract`,
        "give the handler a `credentials` object (requirements() may return [] when nothing is needed)",
        { descriptor_path: handler.descriptorPath },
      );
    }
    this.#handlers.set(handler.descriptorPath, { handler, source: options.source ?? "builtin" });
  }

  /**
   * Declares a handler for `path` that is imported only when a descriptor with that path is
   * first resolved, so that building the registry (and starting the CLI) does not load it. It
   * is then registered like any built-in (source `builtin`) and shows in `list()` from then on.
   * A handler registered for the same path before that keeps it.
   */
  registerLazy(path: string, lazy: LazyHandler): void {
    this.#lazy.set(path, lazy);
  }

  /** True when a handler is registered for `path` (no plugin loading). */
  has(path: string): boolean {
    return this.#handlers.has(path);
  }

  /** Registered handlers, sorted by descriptor path. */
  list(): RegisteredHandlerInfo[] {
    return [...this.#handlers.values()]
      .map(({ handler, source }) => ({
        slot: handler.slot,
        descriptor_path: handler.descriptorPath,
        supported_versions: handler.supportedVersions,
        description: handler.description,
        source,
      }))
      .sort((a, b) => a.descriptor_path.localeCompare(b.descriptor_path));
  }

  /**
   * Sets the hook `resolve` calls once for an unregistered path before giving up (used by
   * `createDefaultRegistry` to load plugins on demand).
   */
  setFallback(fallback: ((path: string) => Promise<void>) | undefined): void {
    this.#fallback = fallback;
  }

  /**
   * Resolves a descriptor to its handler. Errors: `validation`/`invalid-descriptor` for a
   * malformed string, `not-found`/`unknown-kind`, `validation`/`version-unsupported`.
   */
  async resolve(kind: KindOrDescriptor): Promise<ResolvedHandler> {
    const descriptor = toDescriptor(kind);
    let entry = this.#handlers.get(descriptor.path);
    if (entry === undefined && this.#lazy.has(descriptor.path)) {
      await this.#loadLazy(descriptor.path);
      entry = this.#handlers.get(descriptor.path);
    }
    if (entry === undefined && this.#fallback !== undefined) {
      await this.#fallback(descriptor.path);
      entry = this.#handlers.get(descriptor.path);
    }
    if (entry === undefined) {
      throw registryError(
        "not-found",
        "unknown-kind",
        `no env-pack handler is registered for ${JSON.stringify(descriptor.raw)}`,
        "check the descriptor spelling, or install the plugin that provides it and name it in GREENTIC_ENV_PACK_PLUGINS",
        { kind: descriptor.raw, descriptor_path: descriptor.path },
      );
    }
    const { handler } = entry;
    if (!satisfies(descriptor.version, handler.supportedVersions, { includePrerelease: true })) {
      throw registryError(
        "validation",
        "version-unsupported",
        `env-pack ${JSON.stringify(descriptor.raw)}: version ${descriptor.version} is outside the handler's supported range ${handler.supportedVersions}`,
        `bind a version matching ${handler.supportedVersions}, or upgrade the plugin that provides ${descriptor.path}`,
        { kind: descriptor.raw, requested: descriptor.version, supported: handler.supportedVersions },
      );
    }
    return { handler, descriptor };
  }

  /** Imports a lazy handler once; a failed import may be retried by the next resolve (e.g. after a build). */
  #loadLazy(path: string): Promise<void> {
    let loading = this.#loading.get(path);
    if (loading === undefined) {
      const lazy = this.#lazy.get(path)!;
      loading = (async () => {
        let handler: EnvPackHandler;
        try {
          handler = await lazy.load();
        } catch (error) {
          throw registryError(
            "internal",
            "plugin-broken",
            `built-in env-pack ${JSON.stringify(path)} could not be loaded from ${lazy.package}: ${(error as Error).message}`,
            `reinstall the CLI (or build ${lazy.package} in a checkout: pnpm -r build)`,
            { package: lazy.package, descriptor_path: path },
            error,
          );
        }
        if (!this.has(path)) this.register(handler, { source: "builtin" });
      })();
      this.#loading.set(path, loading);
      loading.catch(() => this.#loading.delete(path));
    }
    return loading;
  }

  /** Like `resolve`, and the handler must serve `slot` (`validation`/`slot-mismatch`). */
  async resolveForSlot(slot: CapabilitySlot, kind: KindOrDescriptor): Promise<ResolvedHandler> {
    const resolved = await this.resolve(kind);
    if (resolved.handler.slot !== slot) {
      throw registryError(
        "validation",
        "slot-mismatch",
        `env-pack ${JSON.stringify(resolved.descriptor.raw)} serves the ${resolved.handler.slot} slot, not ${slot}`,
        `bind a ${slot} env-pack to the ${slot} slot`,
        { kind: resolved.descriptor.raw, expected: slot, actual: resolved.handler.slot },
      );
    }
    return resolved;
  }
}

function toDescriptor(kind: KindOrDescriptor): PackDescriptor {
  const raw = typeof kind === "string" ? kind : `${kind.path}@${kind.version}`;
  const parsed = checkPackDescriptor(raw);
  if (!parsed.ok) {
    throw new GreenticError("validation", parsed.message, {
      hint: "write a pack descriptor as <namespace>.<slot>.<name>@<semver>, e.g. greentic.deployer.local-process@0.1.0",
      details: { code: parsed.code, value: raw },
    });
  }
  return parsed.value;
}

const CAPABILITY_KEYS = {
  deployer: "deployer",
  secrets: "secrets",
  telemetry: "telemetry",
  sessions: "sessions",
  state: "state",
  revocation: "revocation",
} as const satisfies Partial<Record<CapabilitySlot, keyof EnvPackHandler>>;

/** Rejects handlers that cannot work: unknown slot, bad path or range, missing capability. */
function checkHandlerShape(handler: EnvPackHandler): void {
  const invalid = (what: string): never => {
    throw registryError(
      "validation",
      "invalid-handler",
      `env-pack handler ${JSON.stringify(handler?.descriptorPath)}: ${what}`,
      "see the env-pack authoring guide for the EnvPackHandler contract",
      { descriptor_path: handler?.descriptorPath },
    );
  };
  if (handler === null || typeof handler !== "object") invalid("is not an object");
  if (!(CAPABILITY_SLOTS as readonly string[]).includes(handler.slot))
    invalid(`slot ${JSON.stringify(handler.slot)} is not a capability slot`);
  const probe = checkPackDescriptor(`${String(handler.descriptorPath)}@0.0.0`);
  if (typeof handler.descriptorPath !== "string" || !probe.ok)
    invalid("descriptorPath must look like <namespace>.<slot>.<name> ([a-z0-9.-])");
  if (typeof handler.supportedVersions !== "string" || validRange(handler.supportedVersions) === null) {
    invalid(`supportedVersions ${JSON.stringify(handler.supportedVersions)} is not a semver range`);
  }
  const key = (CAPABILITY_KEYS as Partial<Record<string, keyof EnvPackHandler>>)[handler.slot];
  if (key !== undefined && (handler[key] === undefined || handler[key] === null)) {
    invalid(`a ${handler.slot} handler must provide \`${key}\``);
  }
}
