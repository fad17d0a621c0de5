// What a request may boot comes from the server's own disk: a wasm guest is a file named relative
// to the guests directory, a QEMU guest image a directory named relative to the images directory,
// and nothing outside them (no "..", no absolute path, no symlink leading out) is ever read.

import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { guestImage } from '../drivers/guest-image.js';
import { ShadowvmError } from '../errors.js';
import { GuestPathError, ImagePathError } from './errors.js';

/** The absolute path of the wasm module `requested` inside `guestsDir`, or a GuestPathError. */
export function resolveGuest(guestsDir: string, requested: string): string {
  const refuse = (reason: string) => new GuestPathError(requested, reason);
  const path = resolveInside(guestsDir, 'guests', requested, refuse);
  if (!statSync(path).isFile()) throw refuse('not a file');
  return path;
}

/**
 * The absolute path of the guest image directory `requested` inside `imagesDir`, or of
 * `defaultImage` when the request names none; either is checked to hold a complete image built
 * from this shadowvm's guest sources. An ImagePathError otherwise.
 */
export function resolveImage(imagesDir: string, requested: string | undefined, defaultImage: string): string {
  const label = requested ?? '(the default guest)';
  const path =
    requested === undefined
      ? resolve(defaultImage)
      : resolveInside(imagesDir, 'images', requested, (reason) => new ImagePathError(label, `${reason}; ${IMAGE_HINT}`));
  try {
    return guestImage(path).dir;
  } catch (error) {
    // The driver's refusal already names the fix (build the guest).
    if (error instanceof ShadowvmError) throw new ImagePathError(label, error.message);
    throw error;
  }
}

const IMAGE_HINT = "name a guest image directory inside the server's images directory, or none for the default guest";

/** `requested` resolved inside `root` with its symlinks followed, or the error `refuse` makes. */
function resolveInside(root: string, rootName: string, requested: string, refuse: (reason: string) => Error): string {
  if (requested.length === 0 || isAbsolute(requested) || requested.includes('\0')) throw refuse('must be a relative path');
  let realRoot: string;
  let real: string;
  try {
    realRoot = realpathSync(resolve(root));
  } catch {
    throw refuse(`the server's ${rootName} directory does not exist`);
  }
  try {
    real = realpathSync(resolve(realRoot, requested));
  } catch {
    throw refuse('no such file or directory');
  }
  const inside = relative(realRoot, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw refuse(`it escapes the ${rootName} directory`);
  }
  return real;
}
