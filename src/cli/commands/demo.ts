// `shadowvm demo` (npm start): the bundled data pipeline runs once unshadowed as the reference,
// then with 2 shadows and a bit flipped in the primary's memory mid-run. The run shows the
// divergence at that epoch, the vote, the rollback, and a final output identical to the reference.

import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG } from '../../computation/config.js';
import { launch } from '../../computation/launch.js';
import type { ComputationReport } from '../../computation/report.js';
import { wasmComputation } from '../../computation/spec.js';
import { describeVerdict, Progress, summary, table } from '../display.js';
import { parseCommandFlags, parseCount } from '../parse.js';
import { openStoreFromFlag, STORE_OPTION } from '../store-flag.js';

export const DEMO_USAGE = `usage: shadowvm demo [--rows N] [--json] [--store PATH]
  runs guests/bin/pipeline.wasm (seeded sensor data: sort, aggregate, simulate, checksum) with 2
  shadows, flips a bit in the primary mid-run, and shows detection, vote, rollback and a correct result`;

const PIPELINE = fileURLToPath(new URL('../../../../guests/bin/pipeline.wasm', import.meta.url));

interface Captured {
  readonly report: ComputationReport;
  readonly stdout: Buffer;
}

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandFlags('demo', argv, { rows: { type: 'string' }, json: { type: 'boolean' }, ...STORE_OPTION });
  const rows = values.rows !== undefined ? parseCount('--rows', values.rows, 1) : 400_000;
  const json = values.json === true;
  const say = (text: string) => {
    if (!json) process.stderr.write(`${text}\n`);
  };
  const store = openStoreFromFlag(values.store);
  try {
    const args = ['42', String(rows)];
    say(`shadowvm demo: pipeline.wasm ${args.join(' ')} — sort, aggregate and simulate seeded sensor data\n`);
    say('1/2 reference run: the primary alone, no fault');
    const reference = await capture(store, args, { shadows: 0, faults: [] }, json);
    const faultEpoch = Math.max(2, Math.ceil(reference.report.epochs / 2));
    say(`    ${reference.report.epochs} epochs, output sha256 ${sha256(reference.stdout).slice(0, 16)}…\n`);
    say(`2/2 shadowed run: 2 shadows, one bit flipped in the primary's memory at the end of epoch ${faultEpoch}`);
    const faulted = await capture(
      store,
      args,
      { shadows: 2, faults: [{ target: 'primary', epoch: faultEpoch, fault: { kind: 'bitflip', bit: 3 } }] },
      json,
    );
    const identical = reference.stdout.equals(faulted.stdout);
    const detectedAt = faulted.report.divergences[0]?.epoch;
    const outcome = {
      reference: { computationId: reference.report.computationId, epochs: reference.report.epochs, sha256: sha256(reference.stdout) },
      shadowed: faulted.report,
      faultEpoch,
      detectedAtEpoch: detectedAt ?? null,
      rolledBack: faulted.report.rollbacks.length > 0,
      outputIdentical: identical,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
    } else {
      say('');
      process.stderr.write(summary(faulted.report));
      say('');
      say(
        table([
          ['fault injected', 'divergence detected', 'vote', 'rollback', 'final output'],
          [
            `primary, epoch ${faultEpoch}`,
            detectedAt !== undefined ? `epoch ${detectedAt}` : 'no',
            faulted.report.verdicts[0]
              ? describeVerdict(faulted.report.verdicts[0].kind, faulted.report.verdicts[0].blamed).replace(/^vote: /, '')
              : 'none',
            faulted.report.rollbacks.length > 0 ? `yes (${faulted.report.rollbacks.length})` : 'no',
            identical ? `identical to the reference (sha256 ${sha256(faulted.stdout).slice(0, 16)}…)` : 'DIFFERENT from the reference',
          ],
        ]),
      );
      say(`\nthe differential log: npx shadowvm log ${faulted.report.computationId}`);
    }
    return identical && faulted.report.exitCode === 0 ? 0 : 1;
  } finally {
    store.close();
  }
}

async function capture(
  store: ReturnType<typeof openStoreFromFlag>,
  args: readonly string[],
  overrides: { shadows: number; faults: typeof DEFAULT_CONFIG.faults },
  quiet: boolean,
): Promise<Captured> {
  const chunks: Buffer[] = [];
  const progress = new Progress(process.stderr, 'pipeline.wasm', quiet);
  try {
    const report = await launch({
      spec: wasmComputation({ module: PIPELINE, args, config: { ...DEFAULT_CONFIG, ...overrides } }),
      store,
      sink: { write: (stream, bytes) => (stream === 'stdout' ? chunks.push(Buffer.from(bytes)) : undefined) },
      observers: [progress],
      onEvent: (event) => progress.event(event),
      onAction: (action) => progress.action(action),
    });
    return { report, stdout: Buffer.concat(chunks) };
  } finally {
    progress.clear();
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
