// The mirror hub without QEMU: frames in QEMU's socket framing go in and out of real unix
// sockets, the way filter-mirror and filter-redirector use them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeFrame, FrameReader } from './frames.js';
import { MirrorHub } from './hub.js';
import { fixTcpChecksum, parseTcp, tcpChecksumValid, tcpFlags } from './packet.js';
import { ReplyAssembler } from './replies.js';

const client = { ip: [10, 0, 2, 2], port: 40_000 };
const guest = { ip: [10, 0, 2, 15], port: 80 };

/** An Ethernet/IPv4/TCP frame with a valid checksum. */
function tcpFrame(fromClient: boolean, seq: number, ack: number, flags: number, payload = ''): Buffer {
  const [src, dst] = fromClient ? [client, guest] : [guest, client];
  const data = Buffer.from(payload, 'latin1');
  const frame = Buffer.alloc(14 + 20 + 20 + data.length);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(40 + data.length, 16);
  frame[14 + 8] = 64;
  frame[14 + 9] = 6;
  frame.set(src.ip, 14 + 12);
  frame.set(dst.ip, 14 + 16);
  frame.writeUInt16BE(src.port, 34);
  frame.writeUInt16BE(dst.port, 36);
  frame.writeUInt32BE(seq >>> 0, 38);
  frame.writeUInt32BE(ack >>> 0, 42);
  frame[46] = 5 << 4;
  frame[47] = flags;
  frame.writeUInt16BE(65535, 48);
  frame.set(data, 54);
  fixTcpChecksum(frame);
  return frame;
}

const { syn, ack, fin, psh } = tcpFlags;

test('frames split across chunks come out whole; checksums are those the guest checks', () => {
  const frame = tcpFrame(true, 1, 2, ack | psh, 'GET /data HTTP/1.1\r\n\r\n');
  assert.ok(tcpChecksumValid(frame));
  const wire = Buffer.concat([encodeFrame(frame), encodeFrame(frame)]);
  const reader = new FrameReader();
  const out = [...reader.push(wire.subarray(0, 7)), ...reader.push(wire.subarray(7, 70)), ...reader.push(wire.subarray(70))];
  assert.deepEqual(out, [frame, frame]);
  assert.equal(parseTcp(frame)?.payloadLength, 22);
});

test('a reply is reassembled from out-of-order and retransmitted segments, complete at FIN', () => {
  const replies = new ReplyAssembler();
  const isn = 2 ** 32 - 3; // the sequence space wraps inside the reply
  assert.equal(replies.push(tcpFrame(false, isn, 1, syn | ack)), undefined);
  assert.equal(replies.push(tcpFrame(false, isn + 1 + 5, 1, ack, ' world')), undefined);
  assert.equal(replies.push(tcpFrame(false, isn + 1, 1, ack, 'hello')), undefined);
  assert.equal(replies.push(tcpFrame(false, isn + 1, 1, ack, 'hello')), undefined);
  const reply = replies.push(tcpFrame(false, isn + 12, 1, fin | ack));
  assert.deepEqual(reply && { ...reply, payload: reply.payload.toString() }, {
    connection: '10.0.2.2:40000>80',
    payload: 'hello world',
    ending: 'fin',
  });
});

interface FakeQemu {
  readonly socket: Socket;
  readonly received: Buffer[];
}

function qemuEnd(path: string): Promise<FakeQemu> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(fake));
    const reader = new FrameReader();
    const fake: FakeQemu = { socket, received: [] };
    socket.on('data', (chunk: Buffer) => fake.received.push(...reader.push(chunk)));
    socket.on('error', reject);
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('the hub feeds mirrored input to a shadow in order, shifted to its sequence numbers, and pairs replies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-hub-'));
  const hub = new MirrorHub();
  try {
    const sockets = (name: string) => ({ inbound: join(dir, `${name}.in`), outbound: join(dir, `${name}.out`) });
    await hub.attachPrimary('p', sockets('p'));
    await hub.attachShadow('s', sockets('s'));
    const [pIn, pOut, sFeed, sOut] = await Promise.all([
      qemuEnd(sockets('p').inbound),
      qemuEnd(sockets('p').outbound),
      qemuEnd(sockets('s').inbound),
      qemuEnd(sockets('s').outbound),
    ]);
    hub.activate('s');
    const request = 'GET /data HTTP/1.1\r\n\r\n';
    const fromClient = [tcpFrame(true, 100, 0, syn), tcpFrame(true, 101, 5001, ack), tcpFrame(true, 101, 5001, ack | psh, request)];
    for (const frame of fromClient) pIn.socket.write(encodeFrame(frame));
    await settle();
    assert.deepEqual(sFeed.received, fromClient.slice(0, 1), 'the ACK waits for the shadow to accept');
    sOut.socket.write(encodeFrame(tcpFrame(false, 9000, 101, syn | ack)));
    await settle();
    assert.equal(sFeed.received.length, 3, 'the rest follows the shadow SYN-ACK');
    // The client acknowledges the primary's ISN (5000); the shadow chose 9000.
    assert.deepEqual(
      sFeed.received.map((f) => [parseTcp(f)!.flags, parseTcp(f)!.ack]),
      [
        [syn, 0],
        [ack, 9001],
        [ack | psh, 9001],
      ],
    );
    assert.ok(sFeed.received.every(tcpChecksumValid));

    const answer = (out: FakeQemu, isn: number, body: string) => {
      const payload = `HTTP/1.1 200 OK\r\nDate: ${isn}\r\n\r\n${body}`;
      out.socket.write(encodeFrame(tcpFrame(false, isn, 101, syn | ack)));
      out.socket.write(encodeFrame(tcpFrame(false, isn + 1, 123, ack | psh, payload)));
      out.socket.write(encodeFrame(tcpFrame(false, isn + 1 + payload.length, 123, fin | ack)));
    };
    answer(pOut, 5000, 'same');
    answer(sOut, 9000, 'same');
    await settle();
    assert.deepEqual(hub.takePaired('s'), { compared: 1, differing: 0 }, 'equal apart from the Date header');

    // A new connection on the same port: the shadow answers differently.
    hub.corruptNextInput('s');
    pIn.socket.write(encodeFrame(tcpFrame(true, 200, 0, syn)));
    await settle();
    sOut.socket.write(encodeFrame(tcpFrame(false, 7000, 201, syn | ack)));
    pIn.socket.write(encodeFrame(tcpFrame(true, 201, 6001, ack | psh, request)));
    await settle();
    const corrupted = sFeed.received.at(-1)!;
    assert.ok(tcpChecksumValid(corrupted), 'a corrupted frame still passes the guest checksum');
    assert.equal(corrupted.subarray(parseTcp(corrupted)!.payloadOffset).toString('latin1'), 'GET /eata HTTP/1.1\r\n\r\n');
    answer(pOut, 6000, 'data');
    answer(sOut, 7000, 'nope');
    await settle();
    assert.deepEqual(hub.takePaired('s'), { compared: 1, differing: 1 });

    // A shadow that joins while a connection is open (a clone, a re-fork after a rollback) never
    // saw that connection open: the primary's reply on it is not expected of the newcomer.
    await hub.attachShadow('t', sockets('t'));
    const [tFeed, tOut] = await Promise.all([qemuEnd(sockets('t').inbound), qemuEnd(sockets('t').outbound)]);
    hub.activate('t');
    answer(pOut, 8000, 'late');
    await settle();
    const paired = Array.from({ length: 6 }, () => hub.takePaired('t'));
    assert.deepEqual(
      paired,
      paired.map(() => ({ compared: 0, differing: 0 })),
      'an unseen connection is never counted as unanswered',
    );

    // A fault injected into the newcomer's input skips that unseen connection (its answer is never
    // compared, so the fault would go unseen) and lands on the next one it was fed from the SYN.
    hub.corruptNextInput('t');
    pIn.socket.write(encodeFrame(tcpFrame(true, 223, 6001, ack | psh, request)));
    await settle();
    assert.equal(
      tFeed.received
        .at(-1)!
        .subarray(parseTcp(tFeed.received.at(-1)!)!.payloadOffset)
        .toString('latin1'),
      request,
    );
    pIn.socket.write(encodeFrame(tcpFrame(true, 300, 0, syn)));
    await settle();
    tOut.socket.write(encodeFrame(tcpFrame(false, 4000, 301, syn | ack)));
    pIn.socket.write(encodeFrame(tcpFrame(true, 301, 3001, ack | psh, request)));
    await settle();
    const landed = tFeed.received.at(-1)!;
    assert.equal(landed.subarray(parseTcp(landed)!.payloadOffset).toString('latin1'), 'GET /eata HTTP/1.1\r\n\r\n');
    for (const end of [pIn, pOut, sFeed, sOut, tFeed, tOut]) end.socket.destroy();
  } finally {
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
