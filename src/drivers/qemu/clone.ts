// Clone of a VM into a second QEMU started with `-incoming defer`, taken at one instant (the clone
// point): same guest RAM page for page, same registers and devices, same disk. The qcow2 overlay
// is copied while the source is paused there (a stopped QEMU has drained and flushed its disks, so
// its overlay file is consistent; the clone's QEMU opened its overlay inactive and re-reads it
// when the migration activates it). Guest RAM takes one of two ways:
//
// - Source running: a background snapshot (QEMU's `background-snapshot` migration). QEMU saves
//   the device state, write-protects guest RAM with userfaultfd and resumes the source at once;
//   RAM then streams to the clone while the source runs, and a page the guest writes before it was
//   sent is sent first, as it was at the clone point. The pause is the device state only.
//   Precopy migration is NOT sound here: QEMU before 9.0 loses dirty pages under TCG (its
//   migration bitmap sync clears dirty bits without re-arming the vCPUs' TLB write tracking, fixed
//   upstream in 2024 by "physmem: Fix migration dirty bitmap coherency with TCG memory access"):
//   measured on 7.2, a precopy clone of a running guest differed in 8 to 28 pages, all written by
//   the guest after the first bitmap sync, while a precopy of a paused guest differed in none.
// - Source paused (an epoch barrier): there is no pause to shorten, so the fastest copy wins: the
//   RAM file is copied and only device state migrates (x-ignore-shared).
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { QemuProcessError, QmpCommandError } from './errors.js';
import type { QmpClient, QmpEvent } from './qmp.js';

/** One side of a clone: its QMP connection and the files that hold its guest's state. */
export interface CloneEnd {
  readonly qmp: QmpClient;
  readonly ramFile: string;
  readonly overlay: string;
}

/** Where the time of one clone went (ms). */
export interface CloneTimings {
  /** The source was paused (stop to resume; the time it was already paused at a barrier counts too). */
  readonly pauseMs: number;
  readonly diskCopyMs: number;
  /** RAM file copy inside the pause (a paused source; 0 when RAM streamed while the source ran). */
  readonly ramCopyMs: number;
  /** Device state saved (and, for a paused source, migrated) inside the pause. */
  readonly deviceStateMs: number;
  /** RAM streamed to the clone after the pause while the source ran (0 for a paused source). */
  readonly ramStreamMs: number;
}

export interface CloneOptions {
  /** Runs while the source is paused at the clone point, before its RAM moves (a test's view). */
  readonly atClonePoint?: () => void | Promise<void>;
}

const migrationTimeoutMs = 60_000;
const unthrottled = 2 ** 40;

/**
 * Copies `source`'s guest into `target` (a QEMU waiting with `-incoming defer`), over the unix
 * socket `socket`. A running source is paused briefly and runs on; a paused one stays paused. The
 * clone ends paused with the source's state at the clone point. After a paused source's clone,
 * its disks stay inactive until its next `cont` (migration hands them over).
 */
export async function cloneVm(source: CloneEnd, target: CloneEnd, socket: string, options: CloneOptions = {}): Promise<CloneTimings> {
  const { running } = await source.qmp.execute<{ running: boolean }>('query-status');
  await source.qmp.execute('migrate-set-parameters', { 'max-bandwidth': unthrottled });
  await setCapabilities([target], { events: true });
  if (running && (await enableWriteTracking(source))) {
    // Left on, every later migration of the source (a clone at a barrier) would resume it.
    const trackingOff = () => setCapabilities([source], { 'background-snapshot': false });
    const timings = await cloneRunning(source, target, socket, options).catch(async (error: unknown) => {
      // A migration still under way refuses the change: the failure is the news, not this.
      await trackingOff().catch(() => undefined);
      throw error;
    });
    await trackingOff();
    return timings;
  }
  return cloneByCopy(source, target, socket, running, options);
}

/** Background snapshot of a running source: paused for its device state only. */
async function cloneRunning(source: CloneEnd, target: CloneEnd, socket: string, options: CloneOptions): Promise<CloneTimings> {
  await setCapabilities([source, target], { 'x-ignore-shared': false });
  await setCapabilities([source], { events: true });
  await target.qmp.execute('migrate-incoming', { uri: `unix:${socket}` });
  const landed = migrationEnd(target.qmp);
  const sent = migrationEnd(source.qmp);
  const resumed = source.qmp.waitEvent('RESUME', migrationTimeoutMs);
  const failedEarly = sent.then((end) => failIfNot(end, source, 'before the source resumed'));
  // Whichever is not awaited (a failure ends the wait early) must not reject unobserved later.
  for (const pending of [landed, sent, resumed, failedEarly]) pending.catch(() => undefined);
  // Our own stop fixes the clone point for the disk copy; QEMU's snapshot stops a stopped VM (a
  // no-op), saves the device state and resumes the source itself once RAM is write-protected.
  const pauseStart = performance.now();
  let migrateStart = pauseStart;
  try {
    await source.qmp.execute('stop');
    copyFileSync(source.overlay, target.overlay);
    await options.atClonePoint?.();
    migrateStart = performance.now();
    await source.qmp.execute('migrate', { uri: `unix:${socket}` });
    await Promise.race([resumed, failedEarly]);
  } catch (error) {
    await resumeIfStopped(source).catch(() => undefined);
    throw error;
  }
  const pauseEnd = performance.now();
  const [received, delivered] = await Promise.all([landed, sent]);
  await failIfNot(delivered, source, 'while streaming RAM');
  await failIfNot(received, source, 'on the clone');
  return {
    pauseMs: pauseEnd - pauseStart,
    diskCopyMs: migrateStart - pauseStart,
    ramCopyMs: 0,
    deviceStateMs: pauseEnd - migrateStart,
    ramStreamMs: performance.now() - pauseEnd,
  };
}

/** RAM file copy + device state only (x-ignore-shared), all while the source is paused. */
async function cloneByCopy(
  source: CloneEnd,
  target: CloneEnd,
  socket: string,
  running: boolean,
  options: CloneOptions,
): Promise<CloneTimings> {
  await setCapabilities([source, target], { 'x-ignore-shared': true });
  await target.qmp.execute('migrate-incoming', { uri: `unix:${socket}` });
  const landed = migrationEnd(target.qmp);
  landed.catch(() => undefined);
  const pauseStart = performance.now();
  let diskStart = pauseStart;
  let ramStart = pauseStart;
  let migrateStart = pauseStart;
  try {
    if (running) await source.qmp.execute('stop');
    diskStart = performance.now();
    copyFileSync(source.overlay, target.overlay);
    await options.atClonePoint?.();
    ramStart = performance.now();
    copySparse(source.ramFile, target.ramFile);
    migrateStart = performance.now();
    await source.qmp.execute('migrate', { uri: `unix:${socket}` });
    await failIfNot(await landed, source, 'on the clone');
  } catch (error) {
    // A failed clone too leaves a running source running.
    if (running) await resumeIfStopped(source).catch(() => undefined);
    throw error;
  }
  const migrateEnd = performance.now();
  if (running) await source.qmp.execute('cont');
  const pauseEnd = performance.now();
  // Left on, the capability would also keep guest RAM out of every later snapshot-save.
  await setCapabilities([source, target], { 'x-ignore-shared': false });
  return {
    pauseMs: pauseEnd - pauseStart,
    diskCopyMs: ramStart - diskStart,
    ramCopyMs: migrateStart - ramStart,
    deviceStateMs: migrateEnd - migrateStart,
    ramStreamMs: 0,
  };
}

async function resumeIfStopped(end: CloneEnd): Promise<void> {
  const { running } = await end.qmp.execute<{ running: boolean }>('query-status');
  if (!running) await end.qmp.execute('cont');
}

/**
 * Turns on the source's background snapshot; false when this host cannot track writes to guest
 * RAM (userfaultfd write-protect on shared memory needs Linux 5.19 or later).
 */
async function enableWriteTracking(source: CloneEnd): Promise<boolean> {
  try {
    await setCapabilities([source], { 'background-snapshot': true });
    return true;
  } catch (error) {
    if (error instanceof QmpCommandError) return false;
    throw error;
  }
}

async function setCapabilities(ends: readonly CloneEnd[], states: Readonly<Record<string, boolean>>): Promise<void> {
  const capabilities = Object.entries(states).map(([capability, state]) => ({ capability, state }));
  await Promise.all(ends.map((end) => end.qmp.execute('migrate-set-capabilities', { capabilities })));
}

/** The next MIGRATION event that ends a migration on this side (register it before `migrate`). */
function migrationEnd(qmp: QmpClient): Promise<QmpEvent> {
  return qmp.waitEvent('MIGRATION', migrationTimeoutMs, (e) => e.data.status === 'completed' || e.data.status === 'failed');
}

async function failIfNot(end: QmpEvent, source: CloneEnd, where: string): Promise<void> {
  if (end.data.status === 'completed') return;
  const info = await source.qmp.execute<{ 'error-desc'?: string }>('query-migrate').catch(() => ({ 'error-desc': undefined }));
  throw new QemuProcessError(`clone failed ${where}: migration ${String(end.data.status)} (${info['error-desc'] ?? 'no reason given'})`);
}

/**
 * Copies a RAM file keeping it sparse: GNU cp finds data with SEEK_DATA (which node's fs cannot)
 * and, with --sparse=always, also leaves holes for the zero pages of a preallocated source, so the
 * clone allocates only the pages in use. The target is the file the clone's QEMU mapped: cp
 * truncates and refills it in place (same inode) while that QEMU waits for its migration and does
 * not touch guest RAM.
 */
function copySparse(source: string, target: string): void {
  execFileSync('cp', ['--sparse=always', source, target], { stdio: 'ignore' });
}
