// `shadowvm guest build [--out DIR]`: builds the default Linux guest the QEMU driver boots
// (Debian kernel + busybox initramfs + base disk), from Debian's own packages only.

import { buildGuest, defaultGuestDir } from '../../drivers/guest-image.js';
import { parseCommandFlags, UsageError } from '../parse.js';

export const GUEST_USAGE = `usage: shadowvm guest build [--out DIR]
  --out DIR    where to put vmlinux, initramfs.cpio and base.qcow2 (default ${defaultGuestDir})`;

export async function guestCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandFlags('guest', argv, { out: { type: 'string' } }, { positionals: true });
  const [action, extra] = parsed.positionals;
  if (action !== 'build' || extra !== undefined)
    throw new UsageError('guest: the only action is "build"; usage: shadowvm guest build [--out DIR]');
  const image = await buildGuest(parsed.values.out ?? defaultGuestDir);
  process.stdout.write(`${image.dir}\n`);
  return 0;
}
