// The root digest names a checkpoint's whole state: page size and count, every page's content key,
// and the registers. Equal states have equal root digests whatever their history. It is a
// two-level hash (chunks, then root) and chunk digests are memoised on the shared chunks, so a
// new checkpoint rehashes only the chunks it changed.

import { createHash } from 'node:crypto';
import type { ContentKeys } from './content-keys.js';
import { CHUNK_PAGES, type Chunk, type PageTable } from './page-table.js';

export class RootDigester {
  private readonly chunkDigests = new WeakMap<Int32Array, string>();
  private zeroChunkDigest: string | null = null;

  constructor(private readonly keys: ContentKeys) {}

  digest(table: PageTable, pageSize: number, registers: Readonly<Record<string, string>>): string {
    const hash = createHash('sha1').update(`shadowvm-checkpoint-v1\n${pageSize}\n${table.pageCount}\n`);
    for (const chunk of table.chunks) hash.update(this.chunkDigest(chunk));
    const sorted = Object.entries(registers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return hash.update(JSON.stringify(sorted)).digest('hex');
  }

  private chunkDigest(chunk: Chunk): string {
    if (chunk === null) {
      this.zeroChunkDigest ??= this.hashEntries(new Int32Array(CHUNK_PAGES));
      return this.zeroChunkDigest;
    }
    let digest = this.chunkDigests.get(chunk);
    if (digest === undefined) {
      digest = this.hashEntries(chunk);
      this.chunkDigests.set(chunk, digest);
    }
    return digest;
  }

  private hashEntries(entries: Int32Array): string {
    const lines = new Array<string>(entries.length);
    for (let i = 0; i < entries.length; i++) lines[i] = this.keys.key(entries[i] as number) ?? '';
    return createHash('sha1').update(lines.join('\n')).digest('hex');
  }
}
