// The contract suite's shared run: one primary and one shadow fed its inputs, driven barrier by
// barrier to the guest's end the way the loop drives them, with every probe the cases need made
// on the way (a pause held, pages read, limits adjusted, a snapshot, requests left in flight).
// Probes only record what the driver did; the cases (contract-cases.ts) judge it afterwards, so
// one broken promise fails its own case and leaves the others' evidence intact. Running the
// guest once for all of them is what keeps a slow driver (QEMU under TCG) affordable.

import { setTimeout as sleep } from 'node:timers/promises';
import { attempt, leaveInFlight, type Outcome, type PendingRequest, type Replica, Session } from './contract-session.js';
import { CHECKPOINT_EPOCH, type DriverSubject } from './contract-subject.js';
import type { VmEvent } from './contract-transcript.js';
import type { Capability, EpochReport, ResourceLimits, SnapshotDelta } from './types.js';

/** The limits of ResourceLimits, each with the capability that adjusting it needs. */
export const LIMITS: readonly { readonly key: keyof ResourceLimits; readonly capability: Capability }[] = [
  { key: 'memoryBytes', capability: 'memory-limit' },
  { key: 'cpuShare', capability: 'cpu-limit' },
  { key: 'epochBudget', capability: 'epoch-budget' },
];

export interface LimitAdjustment {
  readonly key: keyof ResourceLimits;
  readonly capability: Capability;
  readonly value: number;
  readonly outcome: Outcome<ResourceLimits>;
  /** What the VM's limits() said afterwards. */
  readonly after: ResourceLimits;
}

export interface Scenario {
  readonly session: Session;
  readonly primary: Replica;
  readonly shadow: Replica;
  /** What each VM sent after its first report while both were held at the end of epoch 1. */
  readonly whilePaused: ReadonlyMap<Replica, readonly VmEvent[]>;
  /** The pages the primary was asked for at the checkpoint barrier: 0, the bit flip's, the last. */
  readonly pagesAsked: readonly number[];
  readonly pages: Outcome<Uint8Array[]>;
  readonly snapshot: Outcome<SnapshotDelta>;
  /** The primary's adjustments at the end of epoch 1 (the shadow got the same ones). */
  readonly adjustments: readonly LimitAdjustment[];
  /** How many inputs the primary had recorded by the end of each epoch. */
  readonly recordedBy: ReadonlyMap<number, number>;
  /** A change of no limit asked of each VM right after every resume, while it ran its next epoch. */
  readonly inFlight: readonly PendingRequest[];
}

export class ScenarioError extends Error {
  constructor(message: string) {
    super(`the shared primary+shadow run could not go on: ${message}`);
    this.name = 'ScenarioError';
  }
}

export async function runScenario(subject: DriverSubject): Promise<Scenario> {
  const session = await Session.open(subject);
  try {
    return await drive(session);
  } catch (error) {
    await session.close();
    throw error;
  }
}

async function drive(session: Session): Promise<Scenario> {
  const { guest, timing } = session.subject;
  const primary = await session.replica('primary', 'primary');
  // A second profile where the driver has one: replicas that differ on purpose must still agree.
  const shadow = await session.replica('shadow', 'shadow', { profileIndex: 1 });
  primary.log.forwardInputs(shadow.vm);
  const started = await attempt(() => Promise.all([primary.vm.start(), shadow.vm.start()]), timing.epochMs, 'start');
  if (!started.ok) throw new ScenarioError(`start failed: ${String(started.error)}`);

  const recordedBy = new Map<number, number>();
  const inFlight: PendingRequest[] = [];
  const whilePaused = new Map<Replica, VmEvent[]>();
  let adjustments: LimitAdjustment[] = [];
  let pagesAsked: number[] = [];
  const unreached: Outcome<never> = { ok: false, error: new ScenarioError(`the primary never reached epoch ${CHECKPOINT_EPOCH}`) };
  let pages: Outcome<Uint8Array[]> = unreached;
  let snapshot: Outcome<SnapshotDelta> = unreached;
  const running = new Set([primary, shadow]);
  let toldEndOfInput = false;

  for (let epoch = 1; running.size > 0; epoch++) {
    for (const replica of running) {
      if (await replica.log.until(() => replica.log.lastEpoch >= epoch, timing.epochMs)) continue;
      running.delete(replica);
      if (!replica.log.gone && replica === primary) throw new ScenarioError(`no report of epoch ${epoch} from ${primary.log.describe()}`);
    }
    recordedBy.set(epoch, primary.log.inputs.length);
    if (epoch === 1) {
      await sleep(timing.quietMs);
      for (const replica of [primary, shadow]) whilePaused.set(replica, eventsAfterFirstReport(replica));
      adjustments = await adjustLimits(session, primary, [shadow]);
    }
    if (epoch === CHECKPOINT_EPOCH) {
      const { digest } = primary.log.reports.at(-1) as EpochReport;
      pagesAsked = [0, Math.floor(guest.bitflipAddress / digest.pageSize), digest.pageHashes.length / 16 - 1];
      pages = await attempt(() => primary.vm.readPages(pagesAsked), timing.epochMs, 'readPages');
      snapshot = await attempt(() => primary.vm.snapshot(), timing.epochMs, 'snapshot');
    }
    for (const replica of running) if (replica.log.gone) running.delete(replica);
    if (primary.log.gone && !toldEndOfInput) {
      toldEndOfInput = true;
      shadow.vm.endOfInput();
    }
    if (running.size > 0 && epoch > guest.maxEpochs) throw new ScenarioError(`the guest did not end by epoch ${guest.maxEpochs}`);
    for (const replica of running) {
      replica.vm.resume();
      inFlight.push(leaveInFlight(`adjust of ${replica.log.id} during epoch ${epoch + 1}`, () => replica.vm.adjust({})));
    }
  }
  // Whatever a driver still sends after its VMs are gone must be on record for the cases.
  await sleep(timing.quietMs);
  return { session, primary, shadow, whilePaused, pagesAsked, pages, snapshot, adjustments, recordedBy, inFlight };
}

function eventsAfterFirstReport(replica: Replica): VmEvent[] {
  const first = replica.log.events.findIndex((event) => event.kind === 'epoch');
  return first < 0 ? [] : replica.log.events.slice(first + 1);
}

/** Sets every limit on the primary, and the same on the others so that they still agree. */
async function adjustLimits(session: Session, primary: Replica, others: readonly Replica[]): Promise<LimitAdjustment[]> {
  const adjustments: LimitAdjustment[] = [];
  const { epochMs } = session.subject.timing;
  for (const { key, capability } of LIMITS) {
    const value = session.subject.guest.limits[key];
    const change: ResourceLimits = { [key]: value };
    const outcome = await attempt(() => primary.vm.adjust(change), epochMs, `adjust of ${key}`);
    for (const other of others) await attempt(() => other.vm.adjust(change), epochMs, `adjust of ${key}`);
    adjustments.push({ key, capability, value, outcome, after: primary.vm.limits() });
  }
  return adjustments;
}
