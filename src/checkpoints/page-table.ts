// A persistent page table: page index → content-key id, where 0 means "all zeros". Tables are
// immutable; deriving a new one copies only the chunks it changes and shares every other chunk
// with its parent, so forking a checkpoint of a 1 GiB VM costs a few hundred pointers, not 1 GiB.

/** Pages per chunk: 4 KiB of entries, 256 chunks for a 1 GiB VM of 4 KiB pages. */
export const CHUNK_PAGES = 1024;
const CHUNK_SHIFT = 10;
const CHUNK_MASK = CHUNK_PAGES - 1;

/** Key ids of CHUNK_PAGES consecutive pages; null for a chunk whose pages are all zero. */
export type Chunk = Int32Array | null;

export class PageTable {
  private constructor(
    readonly pageCount: number,
    /** Shared with tables derived from this one wherever they did not change. */
    readonly chunks: readonly Chunk[],
  ) {}

  static empty(): PageTable {
    return new PageTable(0, []);
  }

  /** The key id of `page`, 0 when the page is all zeros or past the end of the table. */
  get(page: number): number {
    const chunk = this.chunks[page >>> CHUNK_SHIFT];
    return chunk ? (chunk[page & CHUNK_MASK] as number) : 0;
  }

  /**
   * A table of `pageCount` pages holding this one's entries with `changes` (page, key id)
   * applied. Pages must be below `pageCount`; pages beyond a shrunk count are dropped.
   */
  with(pageCount: number, changes: Iterable<readonly [number, number]>): PageTable {
    const chunkCount = Math.ceil(pageCount / CHUNK_PAGES);
    const chunks: Chunk[] = this.chunks.slice(0, chunkCount);
    while (chunks.length < chunkCount) chunks.push(null);
    const copied = new Set<number>();
    const writable = (index: number): Int32Array => {
      let chunk = chunks[index] ?? null;
      if (!copied.has(index)) {
        chunk = chunk === null ? new Int32Array(CHUNK_PAGES) : chunk.slice();
        chunks[index] = chunk;
        copied.add(index);
      }
      return chunk as Int32Array;
    };
    // A shrunk table keeps no entries past its end, so equal states have equal chunks.
    const tail = pageCount & CHUNK_MASK;
    if (pageCount < this.pageCount && tail !== 0 && chunks[chunkCount - 1]) writable(chunkCount - 1).fill(0, tail);
    for (const [page, key] of changes) writable(page >>> CHUNK_SHIFT)[page & CHUNK_MASK] = key;
    return new PageTable(pageCount, chunks);
  }
}
