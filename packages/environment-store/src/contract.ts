// The medium-free rules of the EnvironmentStore contract, for other backends (the PostgreSQL
// store): mutation options and their idempotency fingerprint, the audit event and its
// authorization, the compare-and-swap check, the staged context a transform runs in and the
// change it plans, the idempotency ledger's replay, the audit hash chain, backup ids and the
// derived runtime-config. The local filesystem store runs the same functions, so both backends
// refuse and replay alike.
export { verifyAuditChain } from "./audit-log.js";
export { localActor, authorizeLocalOwner } from "./authorize.js";
export { backupTimestamp, parseBackupId } from "./backups.js";
export { assertSafeEnvId } from "./env-id.js";
export { checkIdempotencyKey, ledgerEntryProblem, replayedError, type LedgerEntry } from "./ledger.js";
export { decide, newEvent, prepareMutation, replayLedgerEntry, type PreparedMutation } from "./mutation.js";
export { planChange, stageRuntimeConfig, type PlanChangeInput, type PlannedChange } from "./plan-change.js";
export { checkPrecondition, checkPreconditionInput, type CheckedPrecondition } from "./precondition.js";
export { ENVIRONMENT_FILE, RUNTIME_CONFIG_FILE, RUNTIME_FILE, newUlid, packAnswersPath } from "./store-core.js";
