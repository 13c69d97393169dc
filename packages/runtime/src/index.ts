import { GreenticError, type ErrorKind } from "@greentic/deploy-spec";
import type { RuntimeConfig } from "./config.js";
import { RuntimeFailure, type RuntimeFailureCode } from "./failure.js";
import { startRuntimeServer, type RuntimeHandle, type StartRuntimeOptions } from "./server.js";

export {
  DEFAULT_ADMIN_BIND,
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  DEFAULT_PUBLIC_BIND,
  adminHostProblem,
  isOnReadOnlyMount,
  loadRuntimeConfig,
  type ConfigIssue,
  type HostPort,
  type LoadRuntimeConfigOptions,
  type LoadRuntimeConfigResult,
  type RuntimeConfig,
} from "./config.js";
export {
  CONTENT_INDEX_FILE,
  CONTENT_INDEX_SCHEMA,
  MANIFEST_FILE,
  type ContentEntry,
  type ContentIndex,
} from "./content-index.js";
export { contentTypeFor } from "./content-types.js";
export type { LogFields, LogSink } from "./log.js";
export {
  LISTEN_FILE,
  type DrainResult,
  type ListenFile,
  type RuntimeHandle,
  type RuntimeState,
  type StartRuntimeOptions,
} from "./server.js";
export {
  adminRequest,
  readListenFile,
  waitForReady,
  type AdminRequestOptions,
  type AdminResponse,
  type ClientTlsMaterial,
  type WaitForReadyOptions,
} from "./admin-client.js";
export {
  ADMIN_CERT_FILES,
  certificatesNeedRotation,
  createAdminCertificates,
  issueAdminClientCertificate,
  rotateAdminCertificates,
  type AdminCertFiles,
  type AdminCertificateOptions,
  type AdminCertificates,
  type IssueClientCertificateOptions,
  type RotateOptions,
  type RotationCheckOptions,
  type RotationResult,
  type RotationStatus,
} from "./certificates.js";

const KINDS: Record<RuntimeFailureCode, ErrorKind> = {
  "invalid-config": "invalid-argument",
  bind: "io",
  integrity: "integrity",
  io: "io",
};

function toGreenticError(error: unknown): unknown {
  if (!(error instanceof RuntimeFailure)) return error;
  const variable = typeof error.fields.variable === "string" ? error.fields.variable : undefined;
  const path = variable ?? (typeof error.fields.path === "string" ? error.fields.path : undefined);
  return new GreenticError(KINDS[error.code], error.message, {
    hint: error.hint,
    path,
    details: { code: error.code, ...error.fields },
    cause: error,
  });
}

/**
 * Starts the runtime in this process (tests, benches, embedding): binds the admin and public
 * listeners, writes listen.json, and warms in the background (`handle.ready`). Failures, from
 * start or from warming, are GreenticErrors. The `greentic-runtime` bin is the same code plus
 * environment parsing and signal handling.
 */
export async function startRuntime(config: RuntimeConfig, options: StartRuntimeOptions = {}): Promise<RuntimeHandle> {
  let handle: RuntimeHandle;
  try {
    handle = await startRuntimeServer(config, options);
  } catch (error) {
    throw toGreenticError(error);
  }
  const ready = handle.ready.catch((error: unknown) => {
    throw toGreenticError(error);
  });
  ready.catch(() => {});
  return {
    ...handle,
    ready,
    reloadCertificates() {
      try {
        handle.reloadCertificates();
      } catch (error) {
        throw toGreenticError(error);
      }
    },
  };
}

/**
 * Absolute path of the self-contained runtime executable (`dist/bin.js`), for deployers that
 * spawn it or copy it onto a host. It exists once the package is built.
 */
export function runtimeBinPath(): string {
  // Works from src/ (workspace sources) and dist/ alike: both are one level below the package.
  return new URL("../dist/bin.js", import.meta.url).pathname;
}
