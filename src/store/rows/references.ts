// A write that refers to a missing row (a computation, a parent checkpoint…) fails in each
// database with its own error; callers get their own typed one instead (ComputationNotFoundError…).

/** Runs a write, turning a missing referenced row into the caller's typed error. */
export type WithReference = <T>(write: () => T, missing: () => Error) => T;

/** The store's WithReference, given how its database reports a violated foreign key. */
export function referenceGuard(isForeignKeyViolation: (error: unknown) => boolean): WithReference {
  return (write, missing) => {
    try {
      return write();
    } catch (error) {
      if (isForeignKeyViolation(error)) throw missing();
      throw error;
    }
  };
}
