// What shadowvm itself says on stderr while a computation runs: a progress line (on a terminal),
// notable events as they happen, and a summary table at the end.

import type { ComputationEvent, EpochObserver, EpochOutcome } from '../computation/ports.js';
import type { ComputationReport } from '../computation/report.js';
import type { StoredAction } from '../store/types.js';

const NOTABLE: ReadonlySet<ComputationEvent['kind']> = new Set(['restore-verified', 'fault']);

/** One line for a verdict: who the vote blamed, or that no majority decided. */
export function describeVerdict(kind: string, blamed: readonly string[]): string {
  if (kind === 'primary-diverged') return `vote: the primary diverged (${blamed.join(', ')} outvoted)`;
  if (kind === 'shadows-diverged') return `vote: ${blamed.join(', ')} diverged from the primary and the majority`;
  return 'vote: no majority: the differing replicas are re-executed';
}

/** One line for an action: what was done to whom, on whose decision, and what came of it. */
export function describeAction(action: Pick<StoredAction, 'kind' | 'vmId' | 'actor' | 'reason' | 'status' | 'outcome'>): string {
  return `${action.kind}${action.vmId ? ` ${action.vmId}` : ''} (${action.actor}: ${action.reason}): ${action.status}: ${action.outcome}`;
}

export class Progress implements EpochObserver {
  private readonly tty: boolean;
  private lastDraw = 0;
  private lineShown = false;
  private differences = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly quiet: boolean,
  ) {
    this.tty = Boolean(out.isTTY) && !quiet;
  }

  observe(outcome: EpochOutcome): void {
    this.differences += outcome.differences.size;
    if (outcome.verdict.kind !== 'agree' && !this.quiet) {
      this.clear();
      this.out.write(
        `shadowvm: epoch ${outcome.epoch}: ${describeVerdict(outcome.verdict.kind === 'unattributed' ? 'undecided' : outcome.verdict.kind, outcome.blamed)}\n`,
      );
    }
    const now = performance.now();
    if (!this.tty || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const primary = [...outcome.reports.values()][0];
    const memory = primary ? `${(primary.metrics.memoryBytes / 2 ** 20).toFixed(1)} MiB` : '';
    const spin = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[outcome.epoch % 10];
    this.draw(
      `${spin} ${this.label}  epoch ${outcome.epoch}  ${outcome.reports.size} replicas  ${memory}  differences ${this.differences}`,
    );
  }

  event(event: ComputationEvent): void {
    if (this.quiet || !NOTABLE.has(event.kind)) return;
    this.clear();
    this.out.write(`shadowvm: epoch ${event.epoch}: ${event.message}\n`);
  }

  /** Alerts have their own lines (the log sink); every other action is shown as it is taken. */
  action(action: StoredAction): void {
    if (this.quiet || action.kind === 'alert') return;
    this.clear();
    this.out.write(`shadowvm: epoch ${action.epoch}: ${describeAction(action)}\n`);
  }

  clear(): void {
    if (this.lineShown) this.out.write('\r\x1b[2K');
    this.lineShown = false;
  }

  private draw(text: string): void {
    const width = this.out.columns ?? 100;
    this.out.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
    this.lineShown = true;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function summary(report: ComputationReport): string {
  const ratio = report.log.fullCaptureBytes > 0 ? `1/${Math.round(1 / Math.max(report.log.ratio, 1e-12)).toLocaleString('en-US')}` : 'n/a';
  const lines = [
    `shadowvm: computation ${report.computationId} ended: ${report.end} (exit code ${report.exitCode})`,
    table([
      ['epochs', 'verified', 'differences', 'rollbacks', 're-forks', 'checkpoints', 'wall time', 'log bytes', 'full capture', 'saving'],
      [
        String(report.epochs),
        String(report.verifiedEpochs),
        String(report.divergences.length),
        String(report.rollbacks.length),
        String(report.reforks.length),
        String(report.checkpoints.length),
        `${(report.timings.wallMs / 1000).toFixed(2)} s`,
        formatBytes(report.log.bytesLogged),
        formatBytes(report.log.fullCaptureBytes),
        ratio,
      ],
    ]),
    table([
      ['replica', 'role', 'profile', 'dimensions', 'end'],
      ...report.replicas.map((r) => [
        r.id,
        r.role,
        r.profile,
        Object.entries(r.dimensions)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        r.end ?? 'running',
      ]),
    ]),
    ...report.attribution.map((a) => {
      const what = a.basis === 'vote' ? 'outvoted' : 'drifted from the primary';
      const where =
        a.differsIn.length === 0
          ? `same profile as ${a.reference}, so the cause is not the configuration`
          : `its profile differs from ${a.reference} in ${a.differsIn.map((d) => `${d.dimension} (${d.replica} vs ${d.reference})`).join(', ')}`;
      return `shadowvm: ${a.vm} (${a.profile}) ${what} at epoch ${a.epochs.join(', ')}; ${where}`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}
