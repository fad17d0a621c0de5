// The programs from Debian that some tests and benchmarks need, each with the packages that bring
// it (.ci/run installs them all). On a newcomer's machine a test without its tool skips and says
// what to install; under CI=true it fails instead, so that CI cannot pass by skipping what it was
// meant to run.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ShadowvmError } from './errors.js';

interface HostTool {
  /** The Debian packages to install for it. */
  readonly packages: string;
  /** What of it is missing, as a user would look for it; undefined when all of it is there. */
  readonly missing: () => string | undefined;
}

/** Where `command` is on the PATH, or undefined. */
export function commandPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter((entry) => entry !== '')) {
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here, or not executable: the next directory
    }
  }
  return undefined;
}

/** A tool that is one or more commands on the PATH. */
function commands(packages: string, ...names: readonly string[]): HostTool {
  return { packages, missing: () => names.find((name) => commandPath(name) === undefined) };
}

/** A tool that `installed` finds, described as `what`. */
function probed(what: string, packages: string, installed: () => boolean): HostTool {
  return { packages, missing: () => (installed() ? undefined : what) };
}

/** clang alone is not enough: building for wasm32-wasi needs the WASI sysroot and runtime too. */
function clangBuildsWasi(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-clang-probe-'));
  try {
    writeFileSync(join(dir, 'probe.c'), 'int main(void) { return 0; }\n');
    const build = spawnSync('clang', ['--target=wasm32-wasi', '-O2', '-o', join(dir, 'probe.wasm'), join(dir, 'probe.c')], {
      stdio: 'ignore',
    });
    return build.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Debian keeps the server's programs off the PATH, under /usr/lib/postgresql/<version>/bin. */
function postgresServerInstalled(): boolean {
  const root = '/usr/lib/postgresql';
  return existsSync(root) && readdirSync(root).some((version) => existsSync(join(root, version, 'bin', 'initdb')));
}

export const HOST_TOOLS = {
  clang: probed('clang --target=wasm32-wasi', 'clang lld wasi-libc libclang-rt-14-dev-wasm32', clangBuildsWasi),
  qemu: commands('qemu-system-x86 qemu-utils busybox-static', 'qemu-system-x86_64', 'qemu-img', 'busybox'),
  postgres: probed('the PostgreSQL server (initdb)', 'postgresql', postgresServerInstalled),
  chromium: commands('chromium', 'chromium'),
} satisfies Record<string, HostTool>;

export type HostToolName = keyof typeof HOST_TOOLS;

/** A tool a test or benchmark needs is not installed. */
export class MissingToolError extends ShadowvmError {
  constructor(problem: string) {
    super('missing-tool', problem);
  }
}

/** Each tool's answer, once per process: probing clang builds a program. */
const answers = new Map<HostToolName, string | undefined>();

/** Why `tool` cannot be used here, naming what to install; undefined when it is installed. */
export function missingTool(tool: HostToolName): string | undefined {
  if (!answers.has(tool)) {
    const missing = HOST_TOOLS[tool].missing();
    answers.set(tool, missing === undefined ? undefined : `${missing} is not installed (apt-get install ${HOST_TOOLS[tool].packages})`);
  }
  return answers.get(tool);
}

/** Throws MissingToolError unless `tool` is installed: for a benchmark, which has nothing to skip to. */
export function requireTool(tool: HostToolName): void {
  const missing = missingTool(tool);
  if (missing !== undefined) throw new MissingToolError(missing);
}

/**
 * The `skip` option of a test that needs `tool`: false when it is installed, otherwise the reason,
 * naming the packages. Under CI=true a missing tool throws MissingToolError instead, which fails
 * the test file with that reason.
 */
export function skipWithout(tool: HostToolName): string | false {
  const missing = missingTool(tool);
  if (missing === undefined) return false;
  if (process.env.CI === 'true') throw new MissingToolError(`${missing}; CI=true makes a test that needs it fail rather than skip`);
  return missing;
}
