// The host side of free-running shadowing's network: the primary's NIC mirrors every packet it
// receives and sends to this hub (filter-mirror); the hub feeds the received ones to each shadow
// (filter-redirector indev) and captures what each shadow sends (filter-redirector outdev), which
// never goes anywhere else. Replies are reassembled per TCP connection on both sides and paired:
// for every connection both answered, equal or different. Each QEMU connects to a unix socket
// the hub listens on, so the hub exists before the VM and no port is opened.
//
// A shadow's guest picks its own initial sequence numbers, so the client's acknowledgements (of
// the primary's numbers) are shifted into the shadow's before they are fed. QEMU's COLO
// filter-rewriter does that shift too, but it cannot serve here: it learns a connection's offset
// only if the shadow's SYN-ACK passes it before the client's ACK (COLO gets that order from
// colo-compare holding the primary's SYN-ACK), and it parks packets that arrive while the VM is
// stopped in a queue of its own that is flushed only behind the next packet, out of order.
// Free-running VMs stop at every epoch barrier, so the hub holds a connection's frames until the
// shadow's SYN-ACK is out and rewrites the acknowledgements itself; frames fed to a stopped
// shadow wait in its NIC's own queue, which QEMU flushes in order when it runs again.

import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { PairedOutputs } from '../../types.js';
import { encodeFrame, FrameReader } from './frames.js';
import { fixTcpChecksum, parseTcp, setTcpAck, tcpFlags } from './packet.js';
import { comparablePayload, type Reply, ReplyAssembler } from './replies.js';

/** Socket paths of one VM's mirrored streams (QEMU connects to them as a client). */
export interface MirrorSockets {
  /** Primary: frames its NIC receives. Shadow: frames fed to its NIC. */
  readonly inbound: string;
  /** Frames the VM's NIC sends (primary: mirrored copy; shadow: the only copy). */
  readonly outbound: string;
}

/** Epoch boundaries a primary reply waits for the shadow's before it counts as not matched. */
const answerEpochs = 5;
/**
 * Epoch boundaries after which a shadow that has not accepted a mirrored connection gets the rest
 * of it anyway (it ran a whole epoch since; wall time says nothing while VMs wait at barriers).
 */
const handshakeEpochs = 3;
/** Bounds for a shadow that stops reading its feed or answers what the primary never did. */
const maxQueuedFrames = 10_000;
const maxUnpairedAnswers = 1_000;

interface Endpoint {
  readonly server: Server;
  readonly path: string;
  socket: Socket | undefined;
}

interface Awaited {
  readonly reply: Reply;
  epochs: number;
}

interface ShadowPort {
  readonly endpoints: Endpoint[];
  readonly feed: Endpoint;
  readonly replies: ReplyAssembler;
  /** Frames waiting to be fed, in the order the primary received them. */
  readonly queue: Buffer[];
  /** Connections fed a SYN whose SYN-ACK from this shadow has not been seen (→ epochs waited). */
  readonly handshakes: Map<string, number>;
  /** The shadow's initial sequence number per connection (from its SYN-ACK). */
  readonly shadowIsn: Map<string, number>;
  /** Shadow ISN minus primary ISN per connection: added to the client's acknowledgements. */
  readonly ackOffsets: Map<string, number>;
  readonly answers: Map<string, Reply[]>;
  /**
   * Connections whose opening SYN this shadow was fed: only their replies can be expected of it
   * (a connection that began before it was live, e.g. during a clone or a rollback, cannot).
   */
  readonly fed: Map<string, number>;
  awaited: Awaited[];
  live: boolean;
  corruptNext: boolean;
}

interface PrimaryPort {
  readonly id: string;
  readonly endpoints: Endpoint[];
  readonly replies: ReplyAssembler;
}

export class MirrorHub {
  private primary: PrimaryPort | undefined;
  private readonly shadows = new Map<string, ShadowPort>();

  /** Listens for a primary's mirror streams (replacing any earlier primary, e.g. after rollback). */
  async attachPrimary(id: string, sockets: MirrorSockets): Promise<void> {
    this.detach(this.primary?.id ?? id);
    const replies = new ReplyAssembler();
    const inbound = await listen(sockets.inbound, (frame) => this.fromOutside(frame));
    const outbound = await listen(sockets.outbound, (frame) => {
      const reply = replies.push(frame);
      if (reply === undefined) return;
      for (const shadow of this.shadows.values())
        if (shadow.live && shadow.fed.has(reply.connection)) shadow.awaited.push({ reply, epochs: 0 });
    });
    this.primary = { id, endpoints: [inbound, outbound], replies };
  }

  /** Listens for a shadow's feed and capture streams; it gets frames once `activate`d. */
  async attachShadow(id: string, sockets: MirrorSockets): Promise<void> {
    this.detach(id);
    const replies = new ReplyAssembler();
    const feed = await listen(sockets.inbound, () => undefined);
    const port: ShadowPort = {
      endpoints: [feed],
      feed,
      replies,
      queue: [],
      handshakes: new Map(),
      shadowIsn: new Map(),
      ackOffsets: new Map(),
      answers: new Map(),
      fed: new Map(),
      awaited: [],
      live: false,
      corruptNext: false,
    };
    const capture = await listen(sockets.outbound, (frame) => this.fromShadow(port, frame));
    port.endpoints.push(capture);
    feed.server.on('connection', () => this.pump(port));
    this.shadows.set(id, port);
  }

  /**
   * The shadow's guest now holds the primary's state (a clone finished, or it booted): frames
   * the primary receives from now on are fed to it. Frames received while the primary was paused
   * for the clone are still queued in the primary's NIC, not in its RAM, so they count as new.
   */
  activate(id: string): void {
    const port = this.shadows.get(id);
    if (port === undefined) return;
    port.live = true;
    this.pump(port);
  }

  /**
   * The next fed frame carrying TCP payload, on a connection whose reply is expected of this
   * shadow, reaches it with the low bit of its 6th payload byte flipped (in an HTTP request line:
   * the path) and a valid checksum. A connection opened before the shadow was live is fed but not
   * compared: a fault landing there would go unseen (under load, a clone's RAM stream outlasted
   * the first requests and the injected fault was lost).
   */
  corruptNextInput(id: string): void {
    const port = this.shadows.get(id);
    if (port) port.corruptNext = true;
  }

  /** Replies paired since the last call: primary answers the shadow also gave, and whether equal. */
  takePaired(id: string): PairedOutputs {
    const port = this.shadows.get(id);
    if (port === undefined) return { compared: 0, differing: 0 };
    let compared = 0;
    let differing = 0;
    const waiting: Awaited[] = [];
    for (const entry of port.awaited) {
      const answers = port.answers.get(entry.reply.connection);
      const answer = answers?.shift();
      if (answers?.length === 0) port.answers.delete(entry.reply.connection);
      if (answer !== undefined) {
        compared += 1;
        if (!sameReply(entry.reply, answer)) differing += 1;
      } else if (++entry.epochs >= answerEpochs) {
        // The shadow never answered what the primary answered: a divergence too.
        compared += 1;
        differing += 1;
      } else waiting.push(entry);
    }
    port.awaited = waiting;
    for (const [connection, epochs] of port.handshakes) {
      if (epochs + 1 >= handshakeEpochs) port.handshakes.delete(connection);
      else port.handshakes.set(connection, epochs + 1);
    }
    this.pump(port);
    return { compared, differing };
  }

  /** Stops listening for a VM and forgets its streams. */
  detach(id: string): void {
    const port = this.shadows.get(id);
    const endpoints = port?.endpoints ?? (this.primary?.id === id ? this.primary.endpoints : []);
    if (port) this.shadows.delete(id);
    if (this.primary?.id === id) this.primary = undefined;
    for (const endpoint of endpoints) close(endpoint);
  }

  close(): void {
    for (const id of [...this.shadows.keys()]) this.detach(id);
    if (this.primary) this.detach(this.primary.id);
  }

  private fromOutside(frame: Buffer): void {
    for (const port of this.shadows.values()) {
      if (!port.live || port.queue.length >= maxQueuedFrames) continue;
      port.queue.push(Buffer.from(frame));
      this.pump(port);
    }
  }

  private fromShadow(port: ShadowPort, frame: Buffer): void {
    const segment = parseTcp(frame);
    if (segment) {
      const connection = `${segment.dstIp}:${segment.dstPort}>${segment.srcPort}`;
      const accepted = (segment.flags & (tcpFlags.syn | tcpFlags.ack)) === (tcpFlags.syn | tcpFlags.ack);
      if (accepted) remember(port.shadowIsn, connection, segment.seq);
      // The shadow accepted (SYN-ACK) or refused (RST) a connection it was fed: feed the rest.
      if ((accepted || segment.flags & tcpFlags.rst) && port.handshakes.delete(connection)) this.pump(port);
    }
    const reply = port.replies.push(frame);
    if (reply) {
      const list = port.answers.get(reply.connection) ?? [];
      list.push(reply);
      port.answers.set(reply.connection, list);
      if (port.answers.size > maxUnpairedAnswers) port.answers.delete(port.answers.keys().next().value as string);
    }
  }

  /**
   * Feeds queued frames in order. After a SYN, the rest of the stream waits until the shadow's
   * SYN-ACK (or RST) for that connection has come out, or `handshakeEpochs` passed: the client's
   * ACK tells the primary's ISN, the SYN-ACK the shadow's, and from then on acknowledgements are
   * shifted by their difference.
   */
  private pump(port: ShadowPort): void {
    const socket = port.feed.socket;
    if (!port.live || socket === undefined) return;
    while (port.queue.length > 0) {
      const frame = port.queue[0] as Buffer;
      const segment = parseTcp(frame);
      if (segment !== undefined) {
        const connection = `${segment.srcIp}:${segment.srcPort}>${segment.dstPort}`;
        const isSyn = (segment.flags & (tcpFlags.syn | tcpFlags.ack)) === tcpFlags.syn;
        const waiting = port.handshakes.has(connection);
        if (waiting && !isSyn) return;
        if (isSyn && !waiting) {
          remember(port.fed, connection, 0);
          port.handshakes.set(connection, 0);
          port.shadowIsn.delete(connection);
          port.ackOffsets.delete(connection);
        }
        let changed = false;
        if (segment.flags & tcpFlags.ack) {
          const shadowIsn = port.shadowIsn.get(connection);
          // The first acknowledgement after the handshake acknowledges the primary's ISN + 1.
          if (!port.ackOffsets.has(connection) && shadowIsn !== undefined)
            remember(port.ackOffsets, connection, (shadowIsn - (segment.ack - 1)) >>> 0);
          const offset = port.ackOffsets.get(connection);
          if (offset !== undefined && offset !== 0) {
            setTcpAck(frame, (segment.ack + offset) >>> 0);
            changed = true;
          }
        }
        if (port.corruptNext && segment.payloadLength > 0 && port.fed.has(connection)) {
          port.corruptNext = false;
          const at = segment.payloadOffset + Math.min(5, segment.payloadLength - 1);
          frame[at] = (frame[at] ?? 0) ^ 0x01;
          changed = true;
        }
        if (changed) fixTcpChecksum(frame);
      }
      port.queue.shift();
      socket.write(encodeFrame(frame));
    }
  }
}

/** Sets a per-connection value, forgetting the oldest connection beyond a bound. */
function remember(map: Map<string, number>, connection: string, value: number): void {
  map.delete(connection);
  map.set(connection, value);
  if (map.size > maxUnpairedAnswers) map.delete(map.keys().next().value as string);
}

function sameReply(a: Reply, b: Reply): boolean {
  return a.ending === b.ending && comparablePayload(a.payload).equals(comparablePayload(b.payload));
}

/** A unix socket server taking one QEMU connection at a time, handing each frame to `onFrame`. */
function listen(path: string, onFrame: (frame: Buffer) => void): Promise<Endpoint> {
  rmSync(path, { force: true });
  return new Promise((resolve, reject) => {
    const endpoint: Endpoint = { server: createServer(), path, socket: undefined };
    endpoint.server.on('connection', (socket) => {
      endpoint.socket?.destroy();
      endpoint.socket = socket;
      const reader = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        let frames: Buffer[];
        try {
          frames = reader.push(chunk);
        } catch {
          socket.destroy();
          return;
        }
        for (const frame of frames) onFrame(frame);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (endpoint.socket === socket) endpoint.socket = undefined;
      });
    });
    endpoint.server.once('error', reject);
    endpoint.server.listen(path, () => resolve(endpoint));
  });
}

function close(endpoint: Endpoint): void {
  endpoint.socket?.destroy();
  endpoint.server.close();
  rmSync(endpoint.path, { force: true });
}
