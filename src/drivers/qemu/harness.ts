// Drives replicas of one computation epoch by epoch the way the manager does (all reach epoch k,
// then all resume), collecting reports. Used by the tests and the benchmark.
import { diffPageHashes } from '../../pages/diff.js';
import type { DiversityProfile, EpochReport, InputRecord, Role, Vm, VmEnd, VmRequest } from '../types.js';
import type { QemuDriver } from './driver.js';

export interface Replica {
  readonly vm: Vm;
  readonly reports: EpochReport[];
  readonly inputs: InputRecord[];
  gone?: VmEnd;
  next(): Promise<EpochReport>;
}

export async function createReplica(
  driver: QemuDriver,
  id: string,
  role: Role,
  profile: DiversityProfile,
  extra: Partial<Pick<VmRequest, 'restore' | 'limits'>> = {},
): Promise<Replica> {
  let waiting: ((report: EpochReport) => void) | undefined;
  let failed: ((error: Error) => void) | undefined;
  const queued: EpochReport[] = [];
  const replica: Replica = {
    vm: undefined as unknown as Vm,
    reports: [],
    inputs: [],
    next: () => {
      const ready = queued.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<EpochReport>((resolve, reject) => {
        waiting = resolve;
        failed = reject;
      });
    },
  };
  const vm = await driver.createVm({
    id,
    role,
    profile,
    limits: extra.limits ?? {},
    ...(extra.restore ? { restore: extra.restore } : {}),
    events: {
      onEpoch: (report) => {
        replica.reports.push(report);
        if (waiting) {
          const resolve = waiting;
          waiting = undefined;
          resolve(report);
        } else queued.push(report);
      },
      onInput: (record) => replica.inputs.push(record),
      onInputMismatch: () => undefined,
      onRestored: () => undefined,
      onGone: (end) => {
        replica.gone = end;
        failed?.(new Error(`${id} gone: ${end.kind} ${'message' in end ? end.message : ''}`));
      },
    },
  });
  (replica as { vm: Vm }).vm = vm;
  return replica;
}

/** Pages whose 16-byte digests differ between two reports. */
export function differingPages(a: EpochReport, b: EpochReport): number[] {
  return diffPageHashes(a.digest.pageHashes, b.digest.pageHashes);
}

/** Resumes every replica and waits for all of their next reports (one barrier). */
export async function step(replicas: readonly Replica[]): Promise<EpochReport[]> {
  const next = replicas.map((replica) => replica.next());
  for (const replica of replicas) replica.vm.resume();
  return Promise.all(next);
}
