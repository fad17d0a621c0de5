// For tests that boot real guests (which skip, or fail under CI, through src/host-tools.ts when
// QEMU is missing): what the guest's workload prints, and disk helpers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the guest's workload prints for round n (init.sh: seq n n+size | sha256sum | cut -c1-16). */
export function expectedRound(n: number, size: number): string {
  let text = '';
  for (let i = n; i <= n + size; i++) text += `${i}\n`;
  return `round ${n} sum ${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/** The workload rounds a guest printed on its (CRLF) serial console, in order ("round N sum …"). */
export function printedRounds(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .filter((line) => line.startsWith('shadowvm: round'))
    .map((line) => line.slice('shadowvm: '.length));
}

/** The guest-visible contents of a qcow2 disk (or of one of its snapshots), even one a QEMU has open. */
export function diskContents(disk: string, snapshot?: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-disk-'));
  try {
    const raw = join(dir, 'disk.raw');
    execFileSync('qemu-img', [
      'convert',
      '-U',
      '-f',
      'qcow2',
      '-O',
      'raw',
      ...(snapshot ? ['-l', `snapshot.name=${snapshot}`] : []),
      disk,
      raw,
    ]);
    return readFileSync(raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
