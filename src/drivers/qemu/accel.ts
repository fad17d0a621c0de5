// Which accelerator really works here. /dev/kvm may exist and still not boot a stock kernel (a
// paravirtual KVM hangs or fails emulation), so the only proof is booting the guest once; the
// verdict is cached per guest kernel and QEMU binary.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { GuestImage } from './guest-build.js';
import { QemuProcess, RuntimeDir } from './process.js';

const verdictSchema = z.object({
  key: z.string(),
  accel: z.enum(['kvm', 'tcg']),
  reason: z.string(),
});
export type AccelVerdict = z.infer<typeof verdictSchema>;

export const defaultAccelCache = join(homedir(), '.cache', 'shadowvm', 'accel.json');

const readyMarker = 'shadowvm: ready';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function cacheKey(image: GuestImage): string {
  const kernel = statSync(image.kernel);
  const qemu = statSync('/usr/bin/qemu-system-x86_64', { throwIfNoEntry: false });
  return `${kernel.size}:${kernel.mtimeMs}:${qemu?.mtimeMs ?? 0}`;
}

/** Boots the guest under KVM once (≤ `timeoutMs`); falls back to TCG when it does not come up. */
export async function detectAccel(image: GuestImage, options: { cacheFile?: string; timeoutMs?: number } = {}): Promise<AccelVerdict> {
  const cacheFile = options.cacheFile ?? defaultAccelCache;
  const key = cacheKey(image);
  if (existsSync(cacheFile)) {
    const cached = verdictSchema.safeParse(JSON.parse(readFileSync(cacheFile, 'utf8')));
    if (cached.success && cached.data.key === key) return cached.data;
  }
  const verdict = { key, ...(await bootUnderKvm(image, options.timeoutMs ?? 15_000)) };
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, `${JSON.stringify(verdict)}\n`);
  return verdict;
}

async function bootUnderKvm(image: GuestImage, timeoutMs: number): Promise<{ accel: 'kvm' | 'tcg'; reason: string }> {
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: '/dev/kvm does not exist' };
  const runtime = RuntimeDir.create();
  const serial = runtime.file('probe.serial');
  const qemu = QemuProcess.start(runtime, 'probe', [
    '-machine',
    'q35',
    '-accel',
    'kvm',
    '-cpu',
    'host',
    '-m',
    '128M',
    '-nodefaults',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    `file:${serial}`,
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    'console=ttyS0 quiet panic=-1 shadowvm.rounds=1',
  ]);
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && qemu.running) {
      if (existsSync(serial) && readFileSync(serial, 'utf8').includes(readyMarker)) {
        return { accel: 'kvm', reason: 'a KVM guest booted to its workload' };
      }
      await sleep(100);
    }
    const end = qemu.running ? undefined : await qemu.exited;
    return {
      accel: 'tcg',
      reason: end ? `KVM boot failed: ${end.stderr.split('\n').pop() ?? 'exited'}` : `KVM guest did not boot within ${timeoutMs} ms`,
    };
  } finally {
    await qemu.kill();
    runtime.remove();
    rmSync(serial, { force: true });
  }
}
