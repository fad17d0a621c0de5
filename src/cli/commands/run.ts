// `shadowvm run guest.wasm [flags] -- <guest args>`: behaves like running the guest alone (its
// stdin, stdout, stderr and exit code are the primary's), with shadows checking it at every epoch.
// `shadowvm run --driver qemu [-- kernel params]` does the same with a real Linux guest under QEMU.

import { readFileSync, writeFileSync } from 'node:fs';
import { type ComputationConfig, DEFAULT_CONFIG, DEFAULT_QEMU_MEMORY_BYTES, type PlannedFault } from '../../computation/config.js';
import { launch } from '../../computation/launch.js';
import type { ComputationReport } from '../../computation/report.js';
import { type ComputationSpec, qemuComputation, wasmComputation } from '../../computation/spec.js';
import { defaultGuestDir } from '../../drivers/guest-image.js';
import { ShadowvmError } from '../../errors.js';
import { defaultPolicy, loadPolicyFile, type Policy } from '../../policy/index.js';
import { type RemoteDriver, remoteRun, SERVER_OPTIONS, serverFrom } from '../client.js';
import { Progress, summary } from '../display.js';
import {
  parseBitflip,
  parseCommandFlags,
  parseCorruptInput,
  parseCount,
  parseDuration,
  parseEnv,
  parseSize,
  UsageError,
} from '../parse.js';
import { openStoreFromFlag, STORE_OPTION } from '../store-flag.js';

export const RUN_USAGE = `usage: shadowvm run GUEST.wasm [options] [-- guest args...]
       shadowvm run --driver qemu [options] [-- kernel params, e.g. shadowvm.rounds=20]
  --driver wasm|qemu          what runs the replicas (default wasm; qemu boots the "shadowvm guest build" Linux guest)
  --mode lockstep|free        qemu: shadows replay the primary's record (default) or run free beside it
  --image DIR                 qemu: guest image directory (default: the built default guest; with --server, one in its images directory)
  --shadows N                 shadow VMs beside the primary (default ${DEFAULT_CONFIG.shadows})
  --profiles A,B              diversity profile of each shadow in turn (thread/v8, process/liftoff, process/turbofan)
  --epoch-events N            counted guest events per epoch (default ${DEFAULT_CONFIG.epochs.events}; 0 = off)
  --epoch-syscalls N          also end an epoch every N syscalls (default off)
  --epoch-ms T                the primary also ends an epoch at an input after T (default ${DEFAULT_CONFIG.epochs.maxEpochMs}ms; 0 = off)
  --checkpoint-every M        checkpoint the primary every M epochs (default ${DEFAULT_CONFIG.checkpointEvery})
  --memory SIZE               guest memory limit, e.g. 512M (default 1G; qemu: guest RAM, default 128M)
  --max-epochs N              end a guest that runs longer as a runaway
  --timeout T                 end a computation that runs longer as a runaway, e.g. 30s
  --inject-bitflip SPEC       VM@epoch=K[,addr=A][,bit=B], e.g. primary@epoch=3 (repeatable)
  --inject-corrupt-input SPEC VM@seq=N: corrupt the N-th replayed input of a shadow (repeatable)
  --policy FILE               thresholds and interventions (YAML or JSON); built-in defaults otherwise
  --dry-run                   decide interventions but carry none out (recorded as dry-run)
  --input-dir DIR             read-only directory the guest sees as /input
  --env NAME=VALUE            guest environment variable (repeatable)
  --store PATH|URL            SQLite file (default .shadowvm/shadowvm.db) or postgres://… URL
  --report FILE               write the computation's report as JSON to FILE
  --json                      print the summary as JSON on stderr
  --quiet                     print nothing of shadowvm's own
  --server URL                run in the manager at URL (default $SHADOWVM_SERVER); GUEST is a path in its guests directory
  --token T                   the manager's bearer token (default $SHADOWVM_TOKEN)`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const split = argv.indexOf('--');
  const own = split >= 0 ? argv.slice(0, split) : argv;
  const guestArgs = split >= 0 ? argv.slice(split + 1) : [];
  const { values, positionals } = parseFlags(own);
  const driver = values.driver ?? 'wasm';
  if (driver !== 'wasm' && driver !== 'qemu') throw new UsageError(`run: --driver ${driver}: expected wasm or qemu`);
  if (driver === 'wasm' && (values.mode !== undefined || values.image !== undefined))
    throw new UsageError('run: --mode and --image need --driver qemu');
  if (driver === 'qemu' && positionals.length > 0)
    throw new UsageError(`run: unexpected argument ${positionals[0]}; the qemu driver boots --image (kernel params go after --)`);
  if (driver === 'wasm' && positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'run: the guest module is missing; usage: shadowvm run GUEST.wasm [options] -- args'
        : `run: unexpected argument ${positionals[1]}; put guest arguments after --`,
    );
  }
  const config = configFrom(values);
  const server = serverFrom(values);
  if (server) {
    return remoteRun(server, {
      driver: remoteDriverFrom(values, positionals[0], guestArgs),
      config,
      ...(values.policy ? { policyText: readFileSync(values.policy, 'utf8') } : {}),
      dryRun: values['dry-run'] === true,
      json: values.json === true,
      quiet: values.quiet === true,
      ...(values.report ? { reportPath: values.report } : {}),
    });
  }
  const quiet = values.quiet === true;
  const progress = new Progress(process.stderr, positionals[0] ?? 'linux guest', quiet || values.json === true);
  const policy = await policyFrom(values.policy, values['dry-run'] === true);
  const store = openStoreFromFlag(values.store);
  let report: ComputationReport;
  let created: string | undefined;
  try {
    const common = {
      config,
      store,
      sink: { write: (stream: string, bytes: Uint8Array) => (stream === 'stderr' ? process.stderr : process.stdout).write(bytes) },
      observers: [progress],
      onEvent: (event: Parameters<Progress['event']>[0]) => progress.event(event),
      onAction: (action: Parameters<Progress['action']>[0]) => progress.action(action),
      policy,
      writeLine: (line: string) => {
        if (!quiet) {
          progress.clear();
          process.stderr.write(`${line}\n`);
        }
      },
    };
    report = await untilSettled(
      launch({
        ...common,
        spec: specFrom(values, positionals[0], guestArgs, config),
        context: { stdinFd: 0 },
        onEndpoints: (endpoints) => {
          for (const endpoint of endpoints) common.writeLine(`shadowvm: ${endpoint.note}: ${endpoint.url}`);
        },
        onCreated: (id) => {
          created = id;
        },
      }),
    ).catch((error: unknown) => {
      if (error instanceof ComputationStalledError && created !== undefined) {
        store.computations.update(created, { status: 'failed', report: { end: error.message } });
      }
      throw error;
    });
  } finally {
    progress.clear();
    store.close();
  }
  if (values.report) writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) process.stderr.write(`${JSON.stringify(report)}\n`);
  else if (!quiet) process.stderr.write(summary(report));
  return report.exitCode;
}

const RUN_OPTIONS = {
  driver: { type: 'string' },
  mode: { type: 'string' },
  image: { type: 'string' },
  shadows: { type: 'string' },
  profiles: { type: 'string' },
  'epoch-events': { type: 'string' },
  'epoch-syscalls': { type: 'string' },
  'epoch-ms': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  memory: { type: 'string' },
  'max-epochs': { type: 'string' },
  timeout: { type: 'string' },
  'inject-bitflip': { type: 'string', multiple: true },
  'inject-corrupt-input': { type: 'string', multiple: true },
  'input-dir': { type: 'string' },
  policy: { type: 'string' },
  'dry-run': { type: 'boolean' },
  env: { type: 'string', multiple: true },
  report: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  ...STORE_OPTION,
  ...SERVER_OPTIONS,
} as const;

function parseFlags(argv: readonly string[]) {
  return parseCommandFlags('run', argv, RUN_OPTIONS, { positionals: true });
}

async function policyFrom(path: string | undefined, dryRun: boolean): Promise<Policy> {
  const policy = path ? await loadPolicyFile(path) : defaultPolicy();
  return dryRun ? withDryRun(policy) : policy;
}

/** --dry-run wins over the policy file and every per-VM override. */
function withDryRun(policy: Policy): Policy {
  return {
    ...policy,
    defaults: { ...policy.defaults, dryRun: true },
    overrides: policy.overrides.map((override) => ({ ...override, patch: { ...override.patch, dryRun: true } })),
  };
}

type RunFlags = ReturnType<typeof parseFlags>['values'];

/** Nothing is left that could settle the computation: a bug of shadowvm's, reported as one. */
export class ComputationStalledError extends ShadowvmError {
  constructor() {
    super(
      'computation-stalled',
      'internal error: the computation stopped without ending (nothing was left to wake it); its row is marked failed — please report this',
      70,
    );
  }
}

/**
 * The computation's result, or ComputationStalledError when the event loop empties first: a
 * pending promise that nothing can settle would otherwise let the process exit 0 with no output.
 */
async function untilSettled<T>(running: Promise<T>): Promise<T> {
  let onIdle: (() => void) | undefined;
  const stalled = new Promise<never>((_, reject) => {
    onIdle = () => reject(new ComputationStalledError());
    process.once('beforeExit', onIdle);
  });
  try {
    return await Promise.race([running, stalled]);
  } finally {
    if (onIdle) process.off('beforeExit', onIdle);
  }
}

/** The computation's spec: a wasm module with its argv, or the QEMU guest with extra kernel parameters. */
function specFrom(values: RunFlags, module: string | undefined, guestArgs: readonly string[], config: ComputationConfig): ComputationSpec {
  if (values.driver === 'qemu') {
    const epochMs = qemuEpochMs(values);
    return qemuComputation({
      mode: qemuMode(values),
      image: values.image ?? defaultGuestDir,
      kernelArgs: guestArgs,
      ...(epochMs !== undefined ? { epochMs } : {}),
      config,
    });
  }
  return wasmComputation({
    module: module as string,
    args: guestArgs,
    env: Object.fromEntries((values.env ?? []).map(parseEnv)),
    ...(values['input-dir'] ? { inputDir: values['input-dir'] } : {}),
    stdin: 'live',
    config,
  });
}

/** What runs the replicas in the manager: GUEST and --image name files in its own directories. */
function remoteDriverFrom(values: RunFlags, module: string | undefined, guestArgs: readonly string[]): RemoteDriver {
  if (values['input-dir'] !== undefined)
    throw new UsageError('run: --input-dir names a directory of this host; it cannot go with --server');
  if (values.driver === 'qemu') {
    const epochMs = qemuEpochMs(values);
    return {
      driver: 'qemu',
      mode: qemuMode(values),
      ...(values.image !== undefined ? { image: values.image } : {}),
      kernelArgs: guestArgs,
      ...(epochMs !== undefined ? { epochMs } : {}),
    };
  }
  return {
    driver: 'wasm',
    guest: module as string,
    args: guestArgs,
    env: Object.fromEntries((values.env ?? []).map(parseEnv)),
    ...(process.stdin.isTTY ? {} : { stdin: readFileSync(0, 'utf8') }),
  };
}

function qemuMode(values: RunFlags): 'lockstep' | 'free' {
  const mode = values.mode ?? 'lockstep';
  if (mode !== 'lockstep' && mode !== 'free') throw new UsageError(`run: --mode ${mode}: expected lockstep or free`);
  return mode;
}

/** A QEMU epoch's wall-clock length from --epoch-ms; the driver's default when absent or 0. */
function qemuEpochMs(values: RunFlags): number | undefined {
  return values['epoch-ms'] !== undefined && values['epoch-ms'] !== '0' ? parseDuration('--epoch-ms', values['epoch-ms']) : undefined;
}

export function configFrom(values: RunFlags): ComputationConfig {
  const faults: PlannedFault[] = [
    ...(values['inject-bitflip'] ?? []).map(parseBitflip),
    ...(values['inject-corrupt-input'] ?? []).map(parseCorruptInput),
  ];
  const shadows = values.shadows !== undefined ? parseCount('--shadows', values.shadows) : DEFAULT_CONFIG.shadows;
  if (shadows > 16) throw new UsageError(`--shadows ${shadows}: at most 16`);
  for (const fault of faults) {
    const index = fault.target === 'primary' ? 0 : Number(fault.target.slice('shadow'.length));
    if (index > shadows)
      throw new UsageError(`cannot inject into ${fault.target}: the computation has ${shadows} shadow(s); raise --shadows`);
  }
  return {
    ...DEFAULT_CONFIG,
    shadows,
    shadowProfiles: values.profiles
      ? values.profiles
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : [],
    epochs: {
      events: values['epoch-events'] !== undefined ? parseCount('--epoch-events', values['epoch-events']) : DEFAULT_CONFIG.epochs.events,
      syscalls:
        values['epoch-syscalls'] !== undefined ? parseCount('--epoch-syscalls', values['epoch-syscalls']) : DEFAULT_CONFIG.epochs.syscalls,
      maxEpochMs:
        values['epoch-ms'] !== undefined
          ? values['epoch-ms'] === '0'
            ? 0
            : parseDuration('--epoch-ms', values['epoch-ms'])
          : DEFAULT_CONFIG.epochs.maxEpochMs,
    },
    checkpointEvery:
      values['checkpoint-every'] !== undefined
        ? parseCount('--checkpoint-every', values['checkpoint-every'], 1)
        : DEFAULT_CONFIG.checkpointEvery,
    memoryLimitBytes:
      values.memory !== undefined
        ? parseSize('--memory', values.memory)
        : values.driver === 'qemu'
          ? DEFAULT_QEMU_MEMORY_BYTES
          : DEFAULT_CONFIG.memoryLimitBytes,
    ...(values['max-epochs'] !== undefined ? { maxEpochs: parseCount('--max-epochs', values['max-epochs'], 1) } : {}),
    ...(values.timeout !== undefined ? { timeoutMs: parseDuration('--timeout', values.timeout) } : {}),
    faults,
  };
}
