// Clone of a running VM into a second QEMU started with `-incoming defer`. Guest RAM is a shared
// memory-backend-file on both sides, so with the x-ignore-shared capability the migration stream
// carries device state only; the RAM file and the qcow2 overlay are copied while the source is
// paused (a stopped QEMU has drained and flushed its disks, so its overlay file is consistent;
// the clone's QEMU opened its overlay inactive and re-reads it when the migration activates it).
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { QemuProcessError } from './errors.js';
import type { QmpClient } from './qmp.js';

/** One side of a clone: its QMP connection and the files that hold its guest's state. */
export interface CloneEnd {
  readonly qmp: QmpClient;
  readonly ramFile: string;
  readonly overlay: string;
}

/** Where the time of one clone went (ms). */
export interface CloneTimings {
  /** The source was paused (stop to cont; the time it was already paused at a barrier counts too). */
  readonly pauseMs: number;
  readonly diskCopyMs: number;
  readonly ramCopyMs: number;
  /** Migration of device state only (x-ignore-shared). */
  readonly deviceStateMs: number;
}

const migrationTimeoutMs = 60_000;
const unthrottled = 2 ** 40;

/**
 * Copies `source`'s guest into `target` (a QEMU waiting with `-incoming defer`), over the unix
 * socket `socket`. A running source is paused for the copy and resumed after it; a paused one
 * stays paused. Both end paused with identical RAM. The source's disks are left inactive by the
 * migration until its next `cont`.
 */
export async function cloneVm(source: CloneEnd, target: CloneEnd, socket: string): Promise<CloneTimings> {
  await ignoreSharedRam([source, target], true);
  // QEMU 7.2 throttles migration to 32 MiB/s by default; what is left to send (ROMs, firmware,
  // device state: under 1 MiB) goes over a local socket.
  await source.qmp.execute('migrate-set-parameters', { 'max-bandwidth': unthrottled });
  await target.qmp.execute('migrate-incoming', { uri: `unix:${socket}` });
  const status = await source.qmp.execute<{ running: boolean }>('query-status');
  const pauseStart = performance.now();
  if (status.running) await source.qmp.execute('stop');
  const diskStart = performance.now();
  copyFileSync(source.overlay, target.overlay);
  const ramStart = performance.now();
  copySparse(source.ramFile, target.ramFile);
  const migrateStart = performance.now();
  const landed = target.qmp.waitEvent('MIGRATION', migrationTimeoutMs, (e) => e.data.status === 'completed' || e.data.status === 'failed');
  await target.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
  await source.qmp.execute('migrate', { uri: `unix:${socket}` });
  const end = await landed;
  const migrateEnd = performance.now();
  if (end.data.status !== 'completed') {
    const info = await source.qmp.execute<{ 'error-desc'?: string }>('query-migrate').catch(() => ({ 'error-desc': undefined }));
    throw new QemuProcessError(`clone failed: migration ${String(end.data.status)} (${info['error-desc'] ?? 'no reason given'})`);
  }
  if (status.running) await source.qmp.execute('cont');
  const pauseEnd = performance.now();
  // Left on, the capability would also keep guest RAM out of every later snapshot-save.
  await ignoreSharedRam([source, target], false);
  return {
    pauseMs: pauseEnd - pauseStart,
    diskCopyMs: ramStart - diskStart,
    ramCopyMs: migrateStart - ramStart,
    deviceStateMs: migrateEnd - migrateStart,
  };
}

async function ignoreSharedRam(ends: readonly CloneEnd[], state: boolean): Promise<void> {
  const capabilities = [{ capability: 'x-ignore-shared', state }];
  await Promise.all(ends.map((end) => end.qmp.execute('migrate-set-capabilities', { capabilities })));
}

/**
 * Copies a RAM file keeping its holes: pages the guest never touched are neither copied nor
 * allocated in the clone. GNU cp finds them with SEEK_DATA, which node's fs cannot; measured on
 * tmpfs with a third of 256 MiB in use, it is about twice as fast as copyFileSync (which fills
 * every hole). The target is the file the clone's QEMU mapped: cp truncates and refills it in
 * place (same inode) while that QEMU waits for its migration and does not touch guest RAM.
 */
function copySparse(source: string, target: string): void {
  execFileSync('cp', ['--sparse=auto', source, target], { stdio: 'ignore' });
}
