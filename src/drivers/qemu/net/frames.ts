// QEMU's packet framing on a socket chardev (filter-mirror outdev, filter-redirector indev/outdev,
// vnet_hdr_support off): each packet is a 4-byte big-endian length followed by the frame.
import { ShadowvmError } from '../../../errors.js';

/** Largest frame QEMU's net layer passes (NET_BUFSIZE is 68 KiB); larger lengths mean garbage. */
const maxFrame = 69_632;

/** A mirror socket carried something that is not QEMU's packet framing. */
export class FramingError extends ShadowvmError {
  constructor(message: string) {
    super('qemu-net-framing', message);
  }
}

/** Splits a byte stream into frames; keeps a partial frame until its remaining bytes arrive. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns every frame they complete, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let at = 0;
    while (this.pending.length - at >= 4) {
      const length = this.pending.readUInt32BE(at);
      if (length > maxFrame) throw new FramingError(`a ${length}-byte frame is not a QEMU packet`);
      if (this.pending.length - at - 4 < length) break;
      frames.push(Buffer.from(this.pending.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    this.pending = this.pending.subarray(at);
    return frames;
  }
}

export function encodeFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}
