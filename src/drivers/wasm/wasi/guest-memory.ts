// Bounds-checked access to the guest's linear memory. The views are re-created only when the
// memory's buffer changed (it is replaced when the guest grows its memory), not on every call.

import { Errno, Layout } from './abi.js';
import { SyscallError, WasiNotBoundError } from './errors.js';

/** What the layer needs of a WebAssembly.Memory. */
export interface MemorySource {
  readonly buffer: ArrayBufferLike;
}

const fault = (): SyscallError => new SyscallError(Errno.FAULT);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class GuestMemory {
  private source: MemorySource | undefined;
  private buffer: ArrayBufferLike | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private bytes: Uint8Array = new Uint8Array(0);

  bind(source: MemorySource): void {
    this.source = source;
    this.buffer = undefined;
    this.refresh();
  }

  /** Called at the start of every WASI call: the guest may have grown its memory since the last. */
  refresh(): void {
    if (!this.source) throw new WasiNotBoundError();
    const buffer = this.source.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  private check(ptr: number, length: number): void {
    if (ptr + length > this.bytes.length) throw fault();
  }

  u32(ptr: number): number {
    this.check(ptr, 4);
    return this.view.getUint32(ptr, true);
  }

  u64(ptr: number): bigint {
    this.check(ptr, 8);
    return this.view.getBigUint64(ptr, true);
  }

  u8(ptr: number): number {
    this.check(ptr, 1);
    return this.view.getUint8(ptr);
  }

  u16(ptr: number): number {
    this.check(ptr, 2);
    return this.view.getUint16(ptr, true);
  }

  setU8(ptr: number, value: number): void {
    this.check(ptr, 1);
    this.view.setUint8(ptr, value);
  }

  setU16(ptr: number, value: number): void {
    this.check(ptr, 2);
    this.view.setUint16(ptr, value, true);
  }

  setU32(ptr: number, value: number): void {
    this.check(ptr, 4);
    this.view.setUint32(ptr, value, true);
  }

  setU64(ptr: number, value: bigint): void {
    this.check(ptr, 8);
    this.view.setBigUint64(ptr, BigInt.asUintN(64, value), true);
  }

  /** A live view of guest memory: valid only until the guest runs again. */
  view8(ptr: number, length: number): Uint8Array {
    this.check(ptr, length);
    return this.bytes.subarray(ptr, ptr + length);
  }

  write(ptr: number, data: Uint8Array): void {
    this.check(ptr, data.length);
    this.bytes.set(data, ptr);
  }

  fill(ptr: number, length: number, value: number): void {
    this.check(ptr, length);
    this.bytes.fill(value, ptr, ptr + length);
  }

  /** A UTF-8 string the guest passed (paths): invalid UTF-8 is EILSEQ. */
  string(ptr: number, length: number): string {
    this.check(ptr, length);
    try {
      // Copied first: the decoder refuses views of shared memory.
      return utf8.decode(this.bytes.slice(ptr, ptr + length));
    } catch {
      throw new SyscallError(Errno.ILSEQ);
    }
  }

  /** Total bytes of an iovec array, checking every buffer lies inside memory. */
  iovecTotal(iovs: number, count: number): number {
    this.check(iovs, count * Layout.IOVEC_SIZE);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const length = this.iovLength(iovs, i);
      this.check(this.iovPtr(iovs, i), length);
      total += length;
    }
    return total;
  }

  /** The bytes of an iovec array (checked by iovecTotal): a view when one buffer holds them all. */
  gather(iovs: number, count: number, total: number): Uint8Array {
    for (let i = 0; i < count; i++) {
      if (this.iovLength(iovs, i) === total) return this.bytes.subarray(this.iovPtr(iovs, i), this.iovPtr(iovs, i) + total);
    }
    const data = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const ptr = this.iovPtr(iovs, i);
      data.set(this.bytes.subarray(ptr, ptr + this.iovLength(iovs, i)), at);
      at += this.iovLength(iovs, i);
    }
    return data;
  }

  /** Spreads `data` over an iovec array (checked by iovecTotal), in order. */
  scatter(iovs: number, count: number, data: Uint8Array): void {
    let at = 0;
    for (let i = 0; i < count && at < data.length; i++) {
      const length = Math.min(this.iovLength(iovs, i), data.length - at);
      this.bytes.set(data.subarray(at, at + length), this.iovPtr(iovs, i));
      at += length;
    }
  }

  private iovPtr(iovs: number, index: number): number {
    return this.view.getUint32(iovs + index * Layout.IOVEC_SIZE, true);
  }

  private iovLength(iovs: number, index: number): number {
    return this.view.getUint32(iovs + index * Layout.IOVEC_SIZE + 4, true);
  }
}
