// Errors a user can act on. The CLI and the API print `message` alone (one line, naming the
// problem and the fix) and never a stack trace; anything that is not a ShadowvmError is a bug.

export class ShadowvmError extends Error {
  /** Stable machine-readable code, e.g. "not-wasm" (the API returns it as `code`). */
  readonly code: string;
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = 2) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

export function isShadowvmError(value: unknown): value is ShadowvmError {
  return value instanceof ShadowvmError;
}
