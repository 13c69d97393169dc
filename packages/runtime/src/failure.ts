/** Stable reasons the runtime refuses to start or stops; mapped to GreenticError kinds by the library. */
export type RuntimeFailureCode = "invalid-config" | "bind" | "integrity" | "io";

/**
 * The runtime's own error (the bin may depend on Node built-ins only, so not on GreenticError).
 * The library entry point converts it to a GreenticError.
 */
export class RuntimeFailure extends Error {
  override readonly name = "RuntimeFailure";
  readonly code: RuntimeFailureCode;
  readonly hint: string;
  readonly fields: Record<string, unknown>;

  constructor(
    code: RuntimeFailureCode,
    message: string,
    hint: string,
    fields: Record<string, unknown> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.hint = hint;
    this.fields = fields;
  }
}
