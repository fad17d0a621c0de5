// QEMU processes that never outlive their manager: each runs in its own process group, its pid is
// recorded in a private runtime directory, and every manager starts by sweeping the directories of
// managers that died without cleaning up (killing their QEMUs, removing their /dev/shm files).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QemuProcessError } from './errors.js';

/** All shadowvm QEMU runtime directories live here: RAM files must be on tmpfs to be cheap. */
export const runtimeRoot = '/dev/shm/shadowvm-qemu';

const live = new Set<QemuProcess>();
/** Runtime directories this process created and has not removed. */
const ownDirs = new Set<string>();
let exitHookInstalled = false;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone: nothing to reap.
  }
}

/**
 * Kills the QEMUs of dead managers and removes their runtime directories. A pid is only killed
 * when its command line names the dead manager's directory, so a recycled pid is never hit.
 * Returns the number of QEMU processes killed.
 */
export function sweepStale(root: string = runtimeRoot): number {
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const owner = /^m-(\d+)-/.exec(entry);
    if (owner === null || isAlive(Number(owner[1]))) continue;
    const dir = join(root, entry);
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.pid'))) {
      const pid = Number(readFileSync(join(dir, file), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1 && commandLineOf(pid).includes(dir)) {
        killGroup(pid);
        killed += 1;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return killed;
}

/** A private (0700) directory for one manager's QEMU sockets, pidfiles, RAM files and logs. */
export class RuntimeDir {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Sweeps stale directories first, then creates a fresh one owned by this process. */
  static create(root: string = runtimeRoot): RuntimeDir {
    sweepStale(root);
    mkdirSync(root, { recursive: true, mode: 0o1777 });
    const path = join(root, `m-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(path, { mode: 0o700 });
    chmodSync(path, 0o700);
    ownDirs.add(path);
    return new RuntimeDir(path);
  }

  file(name: string): string {
    return join(this.path, name);
  }

  /** Removes the directory and everything in it (RAM files included). */
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
    ownDirs.delete(this.path);
  }
}

export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: string | null;
  /** Last lines QEMU wrote to stderr: the reason it failed, if it did. */
  readonly stderr: string;
}

/** One QEMU process in its own process group, with a pidfile in the runtime directory. */
export class QemuProcess {
  readonly pid: number;
  readonly exited: Promise<ProcessEnd>;
  private readonly pidFile: string;
  private ended = false;

  private constructor(child: ChildProcess, pidFile: string) {
    if (child.pid === undefined) throw new QemuProcessError('qemu-system-x86_64 could not be started');
    this.pid = child.pid;
    this.pidFile = pidFile;
    writeFileSync(pidFile, `${this.pid}\n`);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise<ProcessEnd>((resolve) => {
      child.on('close', (code, signal) => {
        this.ended = true;
        live.delete(this);
        rmSync(this.pidFile, { force: true });
        resolve({ code, signal, stderr: stderr.trim() });
      });
    });
  }

  /** Spawns `qemu-system-x86_64 args` as `name` in `dir` (setsid: its own process group). */
  static start(dir: RuntimeDir, name: string, args: readonly string[]): QemuProcess {
    installExitHook();
    const child = spawn('qemu-system-x86_64', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    child.on('error', () => undefined);
    const qemu = new QemuProcess(child, dir.file(`${name}.pid`));
    live.add(qemu);
    return qemu;
  }

  get running(): boolean {
    return !this.ended;
  }

  /** Kills the whole process group and waits until the process is reaped. */
  async kill(): Promise<ProcessEnd> {
    if (!this.ended) killGroup(this.pid);
    return this.exited;
  }
}

/** Kills every QEMU of this process and removes its runtime directories (RAM files included). */
function endAll(): void {
  for (const qemu of live) killGroup(qemu.pid);
  for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true });
}

/** Last resort on a normal manager exit: no QEMU may survive it (crashes are swept later). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', endAll);
  // A signal's default action ends the manager without an 'exit' event: kill the QEMUs first,
  // then let the signal do what it would have done. A program that handles the signal itself
  // (the service stops cleanly and closes its drivers) is left to do so.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      if (process.listenerCount(signal) > 0) return;
      endAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Number of QEMU processes this manager still has (tests assert 0 at the end). */
export function liveQemuCount(): number {
  return live.size;
}
