// The fake guest's program: a deterministic function of its memory and its inputs. All of its
// state lives in its memory (page 0 holds the epoch, an accumulator and how many inputs it took),
// so a checkpoint's pages are enough to resume it anywhere.

import { createHash } from 'node:crypto';

const EPOCH = 0;
const ACC = 4;
const CONSUMED = 8;
/** Bytes each epoch touches. */
const TOUCHED = 32;

export class Program {
  readonly memory: Uint8Array;
  private readonly header: DataView;

  constructor(
    readonly pageSize: number,
    pages: number,
  ) {
    this.memory = new Uint8Array(pageSize * pages);
    this.header = new DataView(this.memory.buffer);
  }

  get epoch(): number {
    return this.header.getUint32(EPOCH, true);
  }

  /** Inputs taken so far: where in the input log the guest continues. */
  get consumed(): number {
    return this.header.getUint32(CONSUMED, true);
  }

  get pageCount(): number {
    return this.memory.length / this.pageSize;
  }

  /** Runs epoch `epoch + 1` with its input (if it takes one); returns the line it prints. */
  step(input: Uint8Array | undefined): string {
    const epoch = this.epoch + 1;
    const data = this.memory.length - this.pageSize;
    let acc = this.header.getUint32(ACC, true);
    for (let i = 0; i < TOUCHED; i++) {
      const mix = (Math.imul(epoch, 2654435761) + Math.imul(i, 40503) + (input?.[i % input.length] ?? 0)) >>> 0;
      const position = this.pageSize + (mix % data);
      const value = ((this.memory[position] ?? 0) + (acc & 0xff) + i) & 0xff;
      this.memory[position] = value;
      acc = (Math.imul(acc, 31) + value) >>> 0;
    }
    this.header.setUint32(ACC, acc, true);
    this.header.setUint32(EPOCH, epoch, true);
    if (input) this.header.setUint32(CONSUMED, this.consumed + 1, true);
    return `epoch ${epoch} acc ${acc}\n`;
  }

  registers(): Record<string, string> {
    return { epoch: String(this.epoch), acc: String(this.header.getUint32(ACC, true)) };
  }

  /** 16 bytes per page: the first half of each page's sha256. */
  pageHashes(): Uint8Array {
    const out = new Uint8Array(this.pageCount * 16);
    for (let page = 0; page < this.pageCount; page++) out.set(this.hashPage(page), page * 16);
    return out;
  }

  page(page: number): Uint8Array {
    return this.memory.slice(page * this.pageSize, (page + 1) * this.pageSize);
  }

  load(page: number, bytes: Uint8Array): void {
    this.memory.set(bytes.subarray(0, this.pageSize), page * this.pageSize);
  }

  flipBit(address: number, bit: number): void {
    const at = address % this.memory.length;
    this.memory[at] = (this.memory[at] ?? 0) ^ (1 << (bit & 7));
  }

  private hashPage(page: number): Uint8Array {
    return createHash('sha256')
      .update(this.memory.subarray(page * this.pageSize, (page + 1) * this.pageSize))
      .digest()
      .subarray(0, 16);
  }
}

/**
 * The running digest of an output stream, chained so that it continues from a checkpoint's digest
 * (a restored replica has the digest, not the bytes before it).
 */
export function chainDigest(previous: string, bytes: Uint8Array): string {
  return createHash('sha256').update(previous).update(bytes).digest('hex');
}
