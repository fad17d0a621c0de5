// Content addressing of pages: a page's key is the SHA-1 of its bytes (hardware-accelerated in
// node:crypto, about 1 GB/s), except all-zero pages, which have no key and are never stored.
// Keys are interned to small integers so page tables are compact typed arrays.

import { createHash } from 'node:crypto';

const zeroPages = new Map<number, Buffer>();

function zeroPage(size: number): Buffer {
  let page = zeroPages.get(size);
  if (page === undefined) {
    page = Buffer.alloc(size);
    zeroPages.set(size, page);
  }
  return page;
}

/** The page's content key, or null for a page of zeros. */
export function contentKey(page: Uint8Array): string | null {
  if (Buffer.from(page.buffer, page.byteOffset, page.length).equals(zeroPage(page.length))) return null;
  return createHash('sha1').update(page).digest('hex');
}

/**
 * Interned content keys. Id 0 is the zero page; ids never change once given. A key is interned
 * before its page is known to be stored (the save may still fail), so storage is tracked apart.
 */
export class ContentKeys {
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [''];
  private readonly stored: boolean[] = [true];

  /** The id of `key` (0 for null), assigning the next id to a key not seen before. */
  intern(key: string | null): number {
    if (key === null) return 0;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.keys.push(key);
      this.stored.push(false);
      this.ids.set(key, id);
    }
    return id;
  }

  /** True once `markStored` confirmed the page of `key` is in the persistent store. */
  isStored(key: string): boolean {
    const id = this.ids.get(key);
    return id !== undefined && this.stored[id] === true;
  }

  markStored(id: number): void {
    this.stored[id] = true;
  }

  /** The key of an id, null for the zero page. */
  key(id: number): string | null {
    return id === 0 ? null : (this.keys[id] ?? null);
  }
}
