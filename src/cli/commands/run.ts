// `shadowvm run guest.wasm [flags] -- <guest args>`: behaves like running the guest alone (its
// stdin, stdout, stderr and exit code are the primary's), with shadows checking it at every epoch.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, type ComputationConfig, type PlannedFault } from '../../manager/config.js';
import { launchWasm } from '../../manager/launch.js';
import { defaultPolicy, loadPolicyFile, type Policy } from '../../policy/index.js';
import type { ComputationReport } from '../../manager/report.js';
import { Progress, summary } from '../display.js';
import { UsageError, parseBitflip, parseCorruptInput, parseCount, parseDuration, parseEnv, parseSize } from '../parse.js';
import { openStoreFromFlag, STORE_OPTION } from '../store-flag.js';

export const RUN_USAGE = `usage: shadowvm run GUEST.wasm [options] [-- guest args...]
  --shadows N                 shadow VMs beside the primary (default ${DEFAULT_CONFIG.shadows})
  --profiles A,B              diversity profile of each shadow in turn (thread/v8, process/liftoff, process/turbofan)
  --epoch-events N            counted guest events per epoch (default ${DEFAULT_CONFIG.epochs.events}; 0 = off)
  --epoch-syscalls N          also end an epoch every N syscalls (default off)
  --epoch-ms T                the primary also ends an epoch at an input after T (default ${DEFAULT_CONFIG.epochs.maxEpochMs}ms; 0 = off)
  --checkpoint-every M        checkpoint the primary every M epochs (default ${DEFAULT_CONFIG.checkpointEvery})
  --memory SIZE               guest memory limit, e.g. 512M (default 1G)
  --max-epochs N              end a guest that runs longer as a runaway
  --timeout T                 end a computation that runs longer as a runaway, e.g. 30s
  --inject-bitflip SPEC       VM@epoch=K[,addr=A][,bit=B], e.g. primary@epoch=3 (repeatable)
  --inject-corrupt-input SPEC VM@seq=N: corrupt the N-th replayed input of a shadow (repeatable)
  --policy FILE               thresholds and interventions (YAML or JSON); built-in defaults otherwise
  --dry-run                   decide interventions but carry none out (recorded as dry-run)
  --input-dir DIR             read-only directory the guest sees as /input
  --env NAME=VALUE            guest environment variable (repeatable)
  --store PATH                SQLite database (default .shadowvm/shadowvm.db)
  --report FILE               write the computation's report as JSON to FILE
  --json                      print the summary as JSON on stderr
  --quiet                     print nothing of shadowvm's own`;

export async function runCommand(argv: readonly string[]): Promise<number> {
  const split = argv.indexOf('--');
  const own = split >= 0 ? argv.slice(0, split) : argv;
  const guestArgs = split >= 0 ? argv.slice(split + 1) : [];
  const { values, positionals } = parseFlags(own);
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'run: the guest module is missing; usage: shadowvm run GUEST.wasm [options] -- args' : `run: unexpected argument ${positionals[1]}; put guest arguments after --`);
  }
  const config = configFrom(values);
  const quiet = values.quiet === true;
  const progress = new Progress(process.stderr, positionals[0] as string, quiet || values.json === true);
  const policy = await policyFrom(values.policy, values['dry-run'] === true);
  const store = openStoreFromFlag(values.store);
  let report: ComputationReport;
  try {
    report = await launchWasm({
      wasmPath: positionals[0] as string,
      args: guestArgs,
      env: Object.fromEntries((values.env ?? []).map(parseEnv)),
      ...(values['input-dir'] ? { inputDir: values['input-dir'] } : {}),
      stdinFd: 0,
      config,
      store,
      sink: { write: (stream, bytes) => (stream === 'stderr' ? process.stderr : process.stdout).write(bytes) },
      observers: [progress],
      onEvent: (event) => progress.event(event),
      policy,
      writeLine: (line) => {
        if (!quiet) {
          progress.clear();
          process.stderr.write(`${line}\n`);
        }
      },
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

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
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
      },
    });
  } catch (error) {
    throw new UsageError(`run: ${(error as Error).message.split('\n')[0]}; see shadowvm run --help`);
  }
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

export function configFrom(values: RunFlags): ComputationConfig {
  const faults: PlannedFault[] = [
    ...(values['inject-bitflip'] ?? []).map(parseBitflip),
    ...(values['inject-corrupt-input'] ?? []).map(parseCorruptInput),
  ];
  const shadows = values.shadows !== undefined ? parseCount('--shadows', values.shadows) : DEFAULT_CONFIG.shadows;
  if (shadows > 16) throw new UsageError(`--shadows ${shadows}: at most 16`);
  for (const fault of faults) {
    const index = fault.target === 'primary' ? 0 : Number(fault.target.slice('shadow'.length));
    if (index > shadows) throw new UsageError(`cannot inject into ${fault.target}: the computation has ${shadows} shadow(s); raise --shadows`);
  }
  return {
    ...DEFAULT_CONFIG,
    shadows,
    shadowProfiles: values.profiles ? values.profiles.split(',').map((p) => p.trim()).filter(Boolean) : [],
    epochs: {
      events: values['epoch-events'] !== undefined ? parseCount('--epoch-events', values['epoch-events']) : DEFAULT_CONFIG.epochs.events,
      syscalls: values['epoch-syscalls'] !== undefined ? parseCount('--epoch-syscalls', values['epoch-syscalls']) : DEFAULT_CONFIG.epochs.syscalls,
      maxEpochMs: values['epoch-ms'] !== undefined ? (values['epoch-ms'] === '0' ? 0 : parseDuration('--epoch-ms', values['epoch-ms'])) : DEFAULT_CONFIG.epochs.maxEpochMs,
    },
    checkpointEvery: values['checkpoint-every'] !== undefined ? parseCount('--checkpoint-every', values['checkpoint-every'], 1) : DEFAULT_CONFIG.checkpointEvery,
    memoryLimitBytes: values.memory !== undefined ? parseSize('--memory', values.memory) : DEFAULT_CONFIG.memoryLimitBytes,
    ...(values['max-epochs'] !== undefined ? { maxEpochs: parseCount('--max-epochs', values['max-epochs'], 1) } : {}),
    ...(values.timeout !== undefined ? { timeoutMs: parseDuration('--timeout', values.timeout) } : {}),
    faults,
  };
}
