// Guests come from the server's own disk: a request names a path relative to one directory, and
// nothing outside it (no "..", no absolute path, no symlink leading out) is ever read.

import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { GuestPathError } from './errors.js';

/** The absolute path of `requested` inside `guestsDir`, or a GuestPathError. */
export function resolveGuest(guestsDir: string, requested: string): string {
  if (requested.length === 0 || isAbsolute(requested) || requested.includes('\0')) {
    throw new GuestPathError(requested, 'must be a relative path');
  }
  const root = realpathSync(resolve(guestsDir));
  let real: string;
  try {
    real = realpathSync(resolve(root, requested));
  } catch {
    throw new GuestPathError(requested, 'no such file');
  }
  const inside = relative(root, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw new GuestPathError(requested, 'it escapes the guests directory');
  }
  if (!statSync(real).isFile()) throw new GuestPathError(requested, 'not a file');
  return real;
}
