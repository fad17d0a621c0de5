// For tests that boot real guests: they need Debian's qemu-system-x86 and busybox-static
// (installed by .ci/run); a newcomer's machine may not have them, and the skip says what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A skip reason naming the missing tool and the packages to install, or false when all are there. */
export function qemuMissing(): string | false {
  const missing = ['qemu-system-x86_64', 'qemu-img', 'busybox'].find(
    (tool) => spawnSync(tool, ['--help'], { stdio: 'ignore' }).error !== undefined,
  );
  return missing ? `${missing} is not installed (apt-get install qemu-system-x86 qemu-utils busybox-static)` : false;
}

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
