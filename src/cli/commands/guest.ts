// `shadowvm guest build [--out DIR]`: builds the default Linux guest the QEMU driver boots
// (Debian kernel + busybox initramfs + base disk), from Debian's own packages only.

import { parseArgs } from 'node:util';
import { buildGuest, defaultGuestDir } from '../../drivers/qemu/guest-build.js';
import { UsageError } from '../parse.js';

export const GUEST_USAGE = `usage: shadowvm guest build [--out DIR]
  --out DIR    where to put vmlinux, initramfs.cpio and base.qcow2 (default ${defaultGuestDir})`;

export async function guestCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { out: { type: 'string' } } });
  } catch (error) {
    throw new UsageError(`guest: ${(error as Error).message.split('\n')[0]}; see shadowvm guest --help`);
  }
  const [action, extra] = parsed.positionals;
  if (action !== 'build' || extra !== undefined) throw new UsageError('guest: the only action is "build"; usage: shadowvm guest build [--out DIR]');
  const image = await buildGuest(parsed.values.out ?? defaultGuestDir);
  process.stdout.write(`${image.dir}\n`);
  return 0;
}
