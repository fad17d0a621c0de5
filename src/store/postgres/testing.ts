// A throwaway PostgreSQL server for tests: a fresh cluster in a temporary directory, trust auth,
// listening on 127.0.0.1 at a free port, removed again by stop(). Uses Debian's server binaries
// (package `postgresql`); tests skip when they are absent.

import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../free-port.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

/** The one role that must log in with a password (every other role is trusted), to test auth failures. */
export const PASSWORD_ROLE = 'shadowvm_password';

/** The newest installed server's bin directory, or null when no server is installed. */
export function postgresBinDir(): string | null {
  if (!existsSync(DEBIAN_ROOT)) return null;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((v) => existsSync(join(DEBIAN_ROOT, v, 'bin', 'initdb')) && existsSync(join(DEBIAN_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(DEBIAN_ROOT, versions[0], 'bin');
}

export interface TestPostgres {
  readonly port: number;
  /** URL of database `name` as the superuser `postgres` (no password: trust auth). */
  url(name: string): string;
  /** Creates a new empty database and returns its URL. */
  createDatabase(): string;
  /** Stops the server and removes its directory; throws if the server process outlived it. */
  stop(): void;
}

function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${String(result.stderr)}${String(result.stdout)}`,
    );
  }
  return String(result.stdout);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0 but no longer runs.
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\) Z /.test(stat);
}

/** pg_ctl returns once the pid file is gone; the process itself may take a moment longer to exit. */
function exited(pid: number, withinMs: number): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; isAlive(pid); waited += 50) {
    if (waited >= withinMs) return false;
    Atomics.wait(nap, 0, 0, 50);
  }
  return true;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (bin === null) throw new Error(`PostgreSQL server binaries not found under ${DEBIAN_ROOT} (apt-get install postgresql)`);
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-pg-'));
  const data = join(dir, 'data');
  // The server refuses to run as root: as root, run it as the postgres user, who owns the directory.
  const asServerUser = (command: string, args: readonly string[]): string => {
    if (process.getuid?.() !== 0) return run(command, args);
    return run('runuser', ['-u', 'postgres', '--', command, ...args]);
  };
  if (process.getuid?.() === 0) {
    const owner = run('id', ['-u', 'postgres']).trim();
    const group = run('id', ['-g', 'postgres']).trim();
    chownSync(dir, Number(owner), Number(group));
  }
  const port = await freeLoopbackPort();
  let pid: number | null = null;
  const stop = (): void => {
    if (existsSync(join(data, 'postmaster.pid'))) asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
    if (pid !== null && !exited(pid, 10_000)) throw new Error(`the test PostgreSQL server (pid ${pid}) is still running`);
  };
  try {
    asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(hba, `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    // Durability is not under test: without fsync the server keeps up with a shared, noisy disk.
    const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-o', serverOptions, '-l', join(dir, 'server.log'), '-w', 'start']);
    pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch (error) {
    stop();
    throw error;
  }
  let databases = 0;
  const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    port,
    url,
    createDatabase() {
      const name = `shadowvm_${databases++}`;
      run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      return url(name);
    },
    stop,
  };
}
