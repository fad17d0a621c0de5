// Reassembles what a guest answered on each TCP connection it accepted, from the frames it sent:
// payload bytes placed by sequence number (retransmissions overwrite the same bytes), complete
// when the guest's FIN has come and every byte before it has been seen.
import { parseTcp, tcpFlags } from './packet.js';

export interface Reply {
  /** The client's side of the connection ("ip:port>guestPort"), the same on every replica. */
  readonly connection: string;
  readonly payload: Buffer;
  /** 'reset': the guest aborted the connection (RST) after `payload`. */
  readonly ending: 'fin' | 'reset';
}

interface Stream {
  /** Sequence number of the first payload byte: the SYN-ACK's + 1. */
  readonly base: number;
  readonly segments: Map<number, Buffer>;
  finAt: number | undefined;
}

/** Replies longer than this are not tracked further (the mirror compares small answers). */
const maxReply = 4 * 2 ** 20;

export class ReplyAssembler {
  private readonly streams = new Map<string, Stream>();

  /** Feeds one frame the guest sent; returns the reply it completes, if any. */
  push(frame: Uint8Array): Reply | undefined {
    const segment = parseTcp(frame);
    if (segment === undefined) return undefined;
    const connection = `${segment.dstIp}:${segment.dstPort}>${segment.srcPort}`;
    const { flags } = segment;
    if ((flags & (tcpFlags.syn | tcpFlags.ack)) === (tcpFlags.syn | tcpFlags.ack)) {
      // The guest accepts a connection (SYN-ACK): a new reply starts, whatever came before.
      this.streams.set(connection, { base: (segment.seq + 1) >>> 0, segments: new Map(), finAt: undefined });
      return undefined;
    }
    const stream = this.streams.get(connection);
    if (stream === undefined || flags & tcpFlags.syn) return undefined;
    if (flags & tcpFlags.rst) {
      this.streams.delete(connection);
      return { connection, payload: contiguous(stream), ending: 'reset' };
    }
    const carries = segment.payloadLength > 0 || (flags & tcpFlags.fin) !== 0;
    if (!carries) return undefined;
    // Sequence numbers wrap at 2^32; the offset is taken modulo it.
    const offset = (segment.seq - stream.base) >>> 0;
    if (offset + segment.payloadLength > maxReply) return undefined;
    if (segment.payloadLength > 0) {
      stream.segments.set(offset, Buffer.from(frame.subarray(segment.payloadOffset, segment.payloadOffset + segment.payloadLength)));
    }
    if (flags & tcpFlags.fin) stream.finAt = offset + segment.payloadLength;
    if (stream.finAt === undefined) return undefined;
    const payload = contiguous(stream);
    if (payload.length < stream.finAt) return undefined;
    this.streams.delete(connection);
    return { connection, payload: payload.subarray(0, stream.finAt), ending: 'fin' };
  }
}

/** The payload from the first byte up to the first gap. */
function contiguous(stream: Stream): Buffer {
  const ordered = [...stream.segments].sort(([a], [b]) => a - b);
  let end = 0;
  for (const [offset, bytes] of ordered) {
    if (offset > end) break;
    end = Math.max(end, offset + bytes.length);
  }
  const out = Buffer.alloc(end);
  for (const [offset, bytes] of ordered) if (offset < end) out.set(bytes.subarray(0, end - offset), offset);
  return out;
}

/**
 * What of a reply must agree between replicas. An HTTP reply's Date header is each replica's
 * clock read at the moment it answered, not an output of the computation: it is left out.
 */
export function comparablePayload(payload: Buffer): Buffer {
  const headerEnd = payload.indexOf('\r\n\r\n');
  if (!payload.subarray(0, 5).equals(Buffer.from('HTTP/')) || headerEnd < 0) return payload;
  const headers = payload
    .subarray(0, headerEnd)
    .toString('latin1')
    .split('\r\n')
    .filter((line) => !/^date:/i.test(line))
    .join('\r\n');
  return Buffer.concat([Buffer.from(headers, 'latin1'), payload.subarray(headerEnd)]);
}
