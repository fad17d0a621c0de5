// What a driver under the contract suite (contract.ts) tells the suite about itself: how to open it
// and what its guest does, so the suite can hold any driver to the same cases.

import { ShadowvmError } from '../errors.js';
import type { Driver, ResourceLimits, VmEnd } from './types.js';

/** The epoch at whose barrier the suite snapshots its primary; restores go back to it. */
export const CHECKPOINT_EPOCH = 2;
/** Epochs after the checkpoint on which a restored VM is compared with the original. */
export const EPOCHS_AFTER_CHECKPOINT = 2;
/** The shortest guest the suite can run its cases on. */
export const MIN_GUEST_EPOCHS = CHECKPOINT_EPOCH + EPOCHS_AFTER_CHECKPOINT;

export interface DriverSubject {
  /** Names the suite in test output: "fake", "wasm (io.wasm)". */
  readonly name: string;
  /** A fresh driver for one computation (one primary and its shadows); the suite closes it. */
  open(): Promise<Driver>;
  readonly guest: SubjectGuest;
  readonly timing: SubjectTiming;
}

export interface SubjectGuest {
  /** It runs at least this many epochs (MIN_GUEST_EPOCHS or more)… */
  readonly minEpochs: number;
  /** …and ends by itself at this epoch at the latest. */
  readonly maxEpochs: number;
  /** How it ends, as the report of its last epoch says. */
  readonly end: VmEnd;
  /** Whether its primary records inputs (that its shadows must then be fed). */
  readonly takesInputs: boolean;
  /** A guest address in memory the digest covers, which the guest leaves alone in epoch 2. */
  readonly bitflipAddress: number;
  /** A value of every limit under which the guest runs as it does without one. */
  readonly limits: Required<ResourceLimits>;
}

export interface SubjectTiming {
  /** The longest a VM may take for one epoch (and to start and reach the first). */
  readonly epochMs: number;
  /** How long a VM paused at a barrier must stay silent to count as paused. */
  readonly quietMs: number;
}

export class ContractSubjectError extends ShadowvmError {
  constructor(subject: string, problem: string) {
    super('contract-subject', `contract subject ${subject}: ${problem}`);
  }
}

/** Refuses a subject whose guest is too short for the cases, before any test runs. */
export function checkSubject(subject: DriverSubject): void {
  const { minEpochs, maxEpochs } = subject.guest;
  if (minEpochs < MIN_GUEST_EPOCHS) throw new ContractSubjectError(subject.name, `its guest must run at least ${MIN_GUEST_EPOCHS} epochs`);
  if (maxEpochs < minEpochs) throw new ContractSubjectError(subject.name, 'maxEpochs is below minEpochs');
}
