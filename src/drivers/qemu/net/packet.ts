// Just enough Ethernet/IPv4/TCP to follow the guest's HTTP conversations: where a frame's TCP
// segment is, its ports, sequence numbers, flags and payload, and the checksum to fix after
// changing a byte (a corrupted mirrored request must still reach the guest's TCP stack).

export const tcpFlags = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

export interface TcpSegment {
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  /** Offset of the TCP payload in the frame, and its length. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

const etherTypeIpv4 = 0x0800;
const protocolTcp = 6;
const ethernetHeader = 14;

const ipText = (frame: Uint8Array, at: number) => `${frame[at]}.${frame[at + 1]}.${frame[at + 2]}.${frame[at + 3]}`;

/** The TCP segment in an Ethernet frame, or undefined (not IPv4/TCP, fragment, truncated). */
export function parseTcp(frame: Uint8Array): TcpSegment | undefined {
  if (frame.length < ethernetHeader + 20) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint16(12) !== etherTypeIpv4) return undefined;
  const ip = ethernetHeader;
  const ihl = ((frame[ip] ?? 0) & 0x0f) * 4;
  const totalLength = view.getUint16(ip + 2);
  const fragment = view.getUint16(ip + 6) & 0x3fff;
  if (frame[ip + 9] !== protocolTcp || fragment !== 0 || ihl < 20 || ip + totalLength > frame.length) return undefined;
  const tcp = ip + ihl;
  if (tcp + 20 > ip + totalLength) return undefined;
  const dataOffset = ((frame[tcp + 12] ?? 0) >> 4) * 4;
  const payloadOffset = tcp + dataOffset;
  if (dataOffset < 20 || payloadOffset > ip + totalLength) return undefined;
  return {
    srcIp: ipText(frame, ip + 12),
    dstIp: ipText(frame, ip + 16),
    srcPort: view.getUint16(tcp),
    dstPort: view.getUint16(tcp + 2),
    seq: view.getUint32(tcp + 4),
    ack: view.getUint32(tcp + 8),
    flags: frame[tcp + 13] ?? 0,
    payloadOffset,
    payloadLength: ip + totalLength - payloadOffset,
  };
}

/** Overwrites a TCP segment's acknowledgement number (fix the checksum afterwards). */
export function setTcpAck(frame: Uint8Array, ack: number): void {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const tcp = ethernetHeader + ((frame[ethernetHeader] ?? 0) & 0x0f) * 4;
  view.setUint32(tcp + 8, ack >>> 0);
}

/** Ones' complement sum of 16-bit words (big-endian), odd byte padded. */
function sum16(bytes: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if ((end - start) % 2 === 1) sum += (bytes[end - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Recomputes the TCP checksum of an IPv4/TCP frame in place (after its bytes were changed). */
export function fixTcpChecksum(frame: Uint8Array): void {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const ip = ethernetHeader;
  const ihl = ((frame[ip] ?? 0) & 0x0f) * 4;
  const tcp = ip + ihl;
  const end = ip + view.getUint16(ip + 2);
  view.setUint16(tcp + 16, 0);
  // Pseudo-header: source and destination address, protocol, TCP length.
  let sum = sum16(frame, ip + 12, ip + 20, 0);
  sum = sum16(Uint8Array.of(0, protocolTcp, ((end - tcp) >> 8) & 0xff, (end - tcp) & 0xff), 0, 4, sum);
  sum = sum16(frame, tcp, end, sum);
  view.setUint16(tcp + 16, ~sum & 0xffff);
}

/** True when the frame's TCP checksum is right (tests; the guest checks it the same way). */
export function tcpChecksumValid(frame: Uint8Array): boolean {
  const copy = Uint8Array.from(frame);
  fixTcpChecksum(copy);
  return Buffer.compare(copy, frame) === 0;
}
