// Instrumenting a large module takes seconds; the result depends only on the module's bytes and the
// instrumentation version, so it is kept on disk under that key and read back on the next run.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { INSTRUMENTATION_VERSION } from './abi.js';
import type { InstrumentedModule } from './instrument.js';
import { sha256Hex } from './module-hash.js';

/** File layout: MAGIC, u32 LE length of the JSON header, the header, the instrumented module. */
const MAGIC = Buffer.from('SVMI');
const HEADER_AT = MAGIC.length + 4;

const headerSchema = z.object({
  version: z.literal(INSTRUMENTATION_VERSION),
  moduleHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** sha256 of the instrumented bytes, so a truncated or damaged file is never used. */
  bytesHash: z.string().regex(/^[0-9a-f]{64}$/),
  globals: z.array(z.string()),
  countedSites: z.object({ loops: z.number().int().nonnegative(), functions: z.number().int().nonnegative() }),
});

/** `$SHADOWVM_CACHE`, else `~/.cache/shadowvm/instrumented`. */
export function defaultCacheDir(): string {
  return process.env.SHADOWVM_CACHE || join(homedir(), '.cache', 'shadowvm', 'instrumented');
}

/** Where the instrumented form of a module with this hash is cached. */
export function cacheFileFor(moduleHash: string, cacheDir: string): string {
  return join(cacheDir, `${moduleHash}.v${INSTRUMENTATION_VERSION}.svmi`);
}

/**
 * `instrumentModule`, cached on disk by module hash and instrumentation version. A missing or
 * damaged cache file is (re)written; a cache that cannot be written is not an error.
 */
export async function loadInstrumented(bytes: Uint8Array, cacheDir = defaultCacheDir()): Promise<InstrumentedModule> {
  const moduleHash = sha256Hex(bytes);
  const file = cacheFileFor(moduleHash, cacheDir);
  const cached = await readCached(file);
  if (cached?.moduleHash === moduleHash) return cached;
  // binaryen is loaded only on a miss: importing it costs about half a second.
  const { instrumentModule } = await import('./instrument.js');
  const result = instrumentModule(bytes);
  await writeCached(file, result).catch(() => {
    // A read-only or full disk costs the next run the instrumentation time, nothing else.
  });
  return result;
}

async function readCached(file: string): Promise<InstrumentedModule | null> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    return null;
  }
  if (data.length < HEADER_AT || !data.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const headerEnd = HEADER_AT + data.readUInt32LE(MAGIC.length);
  if (headerEnd > data.length) return null;
  let header: z.infer<typeof headerSchema>;
  try {
    header = headerSchema.parse(JSON.parse(data.subarray(HEADER_AT, headerEnd).toString('utf8')));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(data.subarray(headerEnd));
  if (sha256Hex(bytes) !== header.bytesHash) return null;
  return { bytes, moduleHash: header.moduleHash, globals: header.globals, countedSites: header.countedSites };
}

async function writeCached(file: string, result: InstrumentedModule): Promise<void> {
  const header = Buffer.from(
    JSON.stringify({
      version: INSTRUMENTATION_VERSION,
      moduleHash: result.moduleHash,
      bytesHash: sha256Hex(result.bytes),
      globals: result.globals,
      countedSites: result.countedSites,
    }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true });
  // Write then rename: readers (other processes too) see the old file or the whole new one.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, Buffer.concat([MAGIC, length, header, result.bytes]));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}
