import { ShadowvmError } from '../errors.js';

/** A policy file (or saved evaluator state) that cannot be used; the message names the fix. */
export class PolicyError extends ShadowvmError {
  constructor(message: string) {
    super('policy-invalid', message);
  }
}
