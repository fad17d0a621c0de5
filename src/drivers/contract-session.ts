// One driver under the contract suite, the VMs the suite made with it, and the helpers that keep
// every call to a driver bounded in time and its failure on record instead of thrown.

import type { DriverSubject } from './contract-subject.js';
import { Transcript } from './contract-transcript.js';
import type { DiversityProfile, Driver, InputLogReader, InputRecord, Role, Vm, VmRequest } from './types.js';

export interface Replica {
  readonly vm: Vm;
  readonly log: Transcript;
}

/** What a driver call gave: its value, or what it threw or rejected with. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export class DriverCallTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not settle within ${ms} ms`);
    this.name = 'DriverCallTimeoutError';
  }
}

/** The outcome of `call`, whether it throws synchronously, rejects, or hangs past `ms`. */
export async function attempt<T>(call: () => Promise<T>, ms: number, what: string): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await within(call(), ms, what) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** `promise`, or a DriverCallTimeoutError once `ms` passed without it settling. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DriverCallTimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `body`, then `cleanUp`; a failing clean-up is reported only when `body` passed (its own failure says more). */
export async function thenCleanUp<T>(body: () => Promise<T>, cleanUp: () => Promise<void>): Promise<T> {
  let value: T;
  try {
    value = await body();
  } catch (error) {
    await cleanUp().catch(() => undefined);
    throw error;
  }
  await cleanUp();
  return value;
}

/** A request left to settle on its own; `settled` says whether it did (a sync throw counts). */
export interface PendingRequest {
  readonly what: string;
  settled: boolean;
}

export function leaveInFlight(what: string, call: () => Promise<unknown>): PendingRequest {
  const request: PendingRequest = { what, settled: false };
  const settle = (): void => {
    request.settled = true;
  };
  new Promise((resolve) => resolve(call())).then(settle, settle);
  return request;
}

/** A log reader over records held in memory (the primary's, as the suite saw them). */
export function inputLog(records: readonly InputRecord[]): InputLogReader {
  return { length: records.length, read: (from) => records.filter((record) => record.seq >= from) };
}

export class Session {
  private readonly replicas: Replica[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    readonly subject: DriverSubject,
    readonly driver: Driver,
  ) {}

  static async open(subject: DriverSubject): Promise<Session> {
    return new Session(subject, await subject.open());
  }

  /** A VM of the driver's `profileIndex`-th profile (wrapping around), recorded by a transcript. */
  async replica(name: string, role: Role, options: { profileIndex?: number; restore?: VmRequest['restore'] } = {}): Promise<Replica> {
    const log = new Transcript(name);
    const vm = await this.driver.createVm({
      id: `contract/${name}`,
      role,
      profile: this.profile(options.profileIndex ?? 0),
      events: log.listener,
      limits: {},
      ...(options.restore ? { restore: options.restore } : {}),
    });
    const replica = { vm, log };
    this.replicas.push(replica);
    return replica;
  }

  /** A VM made for `use` alone, killed once `use` is done with it (unless it is gone already). */
  async withReplica<T>(
    name: string,
    role: Role,
    options: { restore?: VmRequest['restore'] },
    use: (replica: Replica) => Promise<T>,
  ): Promise<T> {
    const replica = await this.replica(name, role, options);
    return thenCleanUp(
      () => use(replica),
      async () => {
        if (!replica.log.gone) await within(replica.vm.kill('contract case done'), this.subject.timing.epochMs, `kill of ${name}`);
      },
    );
  }

  /** Kills the VMs still running (each once: a second kill is the kill case's business), then closes the driver. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const { epochMs } = this.subject.timing;
      const running = this.replicas.filter((replica) => !replica.log.gone);
      await Promise.all(running.map((replica) => within(replica.vm.kill('contract suite done'), epochMs, `kill of ${replica.log.id}`)));
      await this.driverClose();
    })();
    return this.closing;
  }

  /** Closes the driver with its VMs as they are: ending those still running is the close's own job. */
  closeDriver(): Promise<void> {
    this.closing ??= this.driverClose();
    return this.closing;
  }

  private driverClose(): Promise<void> {
    return within(this.driver.close(), this.subject.timing.epochMs, `close of the ${this.driver.name} driver`);
  }

  private profile(index: number): DiversityProfile {
    const profiles = this.driver.profiles();
    return profiles[index % profiles.length] as DiversityProfile;
  }
}
