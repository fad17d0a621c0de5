// Builds and locates the default Linux guest (kernel + busybox initramfs + base qcow2 disk).
// The build itself is guests/linux/build.sh so CI and humans can run it without node.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestImageError } from './errors.js';

/** The files a QEMU VM boots from. */
export interface GuestImage {
  readonly dir: string;
  /** Uncompressed ELF kernel (PVH entry: boots ~3x faster under TCG than vmlinuz). */
  readonly kernel: string;
  readonly initrd: string;
  /** Base disk; every VM writes to its own copy-on-write overlay of it. */
  readonly disk: string;
}

export const defaultGuestDir = join(homedir(), '.cache', 'shadowvm', 'guest');

// dist/src/drivers/qemu/ → repository root is four levels up (same from src/drivers/qemu/).
const buildScript = fileURLToPath(new URL('../../../../guests/linux/build.sh', import.meta.url));
const initScript = fileURLToPath(new URL('../../../../guests/linux/init.sh', import.meta.url));

/** Digest of the guest's sources, as build.sh records it in SOURCES: a changed /init means a rebuild. */
function sourcesDigest(): string {
  return createHash('sha256').update(readFileSync(buildScript)).update(readFileSync(initScript)).digest('hex');
}

function imageIn(dir: string): GuestImage {
  return {
    dir,
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initramfs.cpio'),
    disk: join(dir, 'base.qcow2'),
  };
}

/** The guest in `dir`, or a GuestImageError naming the command that builds it. */
export function guestImage(dir: string = defaultGuestDir): GuestImage {
  const image = imageIn(dir);
  for (const file of [image.kernel, image.initrd, image.disk]) {
    if (!existsSync(file)) {
      throw new GuestImageError(`guest image incomplete: ${file} is missing; run "shadowvm guest build"`);
    }
  }
  const sources = join(dir, 'SOURCES');
  if (!existsSync(sources) || readFileSync(sources, 'utf8').trim() !== sourcesDigest()) {
    throw new GuestImageError(`the guest in ${dir} was built from other sources than guests/linux; run "shadowvm guest build"`);
  }
  return image;
}

/** Runs guests/linux/build.sh into `outDir`; resolves with the built image. */
export async function buildGuest(outDir: string = defaultGuestDir): Promise<GuestImage> {
  const log: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('sh', [buildScript, outDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => log.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => log.push(chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve(exitCode ?? 1));
  });
  if (code !== 0) {
    const tail = Buffer.concat(log).toString('utf8').trim().split('\n').slice(-1)[0] ?? '';
    throw new GuestImageError(`guest build failed (exit ${code}): ${tail}`);
  }
  return guestImage(outDir);
}

/** The guest in `dir`, built first when it is not there yet. */
export async function ensureGuest(dir: string = defaultGuestDir): Promise<GuestImage> {
  try {
    return guestImage(dir);
  } catch (error) {
    if (error instanceof GuestImageError) return buildGuest(dir);
    throw error;
  }
}

/** Digest of what a guest boots (kernel, initramfs, base disk): the computation's image hash. */
export function guestImageHash(image: GuestImage): string {
  const hash = createHash('sha256');
  for (const file of [image.kernel, image.initrd, image.disk]) hash.update(readFileSync(file));
  return hash.digest('hex');
}
