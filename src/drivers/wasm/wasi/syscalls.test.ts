// WASI calls driven directly over a bare memory (no compiler needed): what lands in guest memory
// and in the outputs, errno results, and replay of clocks, randomness and poll_oneoff.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayDivergenceError, WasiNotBoundError } from './errors.js';
import { type GateRecord, type InputGate, RecordingGate, ReplayGate } from './gate.js';
import { OutputLog, stdinOf } from './guest-fixture.js';
import { createWasi, WasiConfigError, type WasiOptions } from './wasi.js';

function harness(gate: InputGate, options: Partial<WasiOptions> = {}) {
  const out = new OutputLog();
  const names: string[] = [];
  const wasi = createWasi({
    args: ['prog', 'ü'],
    env: { A: '1' },
    stdin: stdinOf('typed'),
    scratchDir: { guestPath: '/scratch' },
    gate,
    output: out.output,
    onSyscall: (name) => names.push(name),
    ...options,
  });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  const call = (name: string, ...args: (number | bigint)[]): number => {
    const fn = wasi.imports[name];
    assert.ok(fn, `no import ${name}`);
    return fn(...args);
  };
  const view = () => new DataView(memory.buffer);
  const bytes = (ptr: number, length: number) => new Uint8Array(memory.buffer, ptr, length).slice();
  const put = (ptr: number, data: Uint8Array | string) =>
    new Uint8Array(memory.buffer).set(typeof data === 'string' ? Buffer.from(data) : data, ptr);
  const iovec = (at: number, ptr: number, length: number) => {
    view().setUint32(at, ptr, true);
    view().setUint32(at + 4, length, true);
  };
  return { wasi, memory, call, view, bytes, put, iovec, out, names };
}

const recorder = () => {
  const records: GateRecord[] = [];
  return { records, gate: new RecordingGate((kind, payload) => records.push({ kind, payload })) };
};

const replaying = (records: readonly GateRecord[]) => {
  let next = 0;
  return new ReplayGate(
    () => records[next++],
    () => {},
  );
};

test('args and environment are laid out as NUL-terminated UTF-8 strings', () => {
  const h = harness(recorder().gate);
  assert.equal(h.call('args_sizes_get', 0, 4), 0);
  assert.deepEqual([h.view().getUint32(0, true), h.view().getUint32(4, true)], [2, 8]);
  assert.equal(h.call('args_get', 16, 64), 0);
  assert.deepEqual([h.view().getUint32(16, true), h.view().getUint32(20, true)], [64, 69]);
  assert.equal(Buffer.from(h.bytes(64, 8)).toString(), 'prog\0ü\0');
  assert.equal(h.call('environ_get', 16, 64), 0);
  assert.equal(Buffer.from(h.bytes(64, 4)).toString(), 'A=1\0');
});

test('preopens are announced from fd 3 and end with EBADF', () => {
  const h = harness(recorder().gate);
  assert.equal(h.call('fd_prestat_get', 3, 0), 0);
  assert.deepEqual([h.view().getUint8(0), h.view().getUint32(4, true)], [0, 8]);
  assert.equal(h.call('fd_prestat_dir_name', 3, 16, 8), 0);
  assert.equal(Buffer.from(h.bytes(16, 8)).toString(), '/scratch');
  assert.equal(h.call('fd_prestat_get', 4, 0), 8);
  assert.equal(h.call('fd_prestat_get', 1, 0), 8);
});

test('stdout and stderr go to the output callback; a closed stdout is EBADF, never the host', () => {
  const h = harness(recorder().gate);
  h.put(100, 'out!');
  h.put(104, 'err');
  h.iovec(0, 100, 2);
  h.iovec(8, 102, 2);
  assert.equal(h.call('fd_write', 1, 0, 2, 200), 0);
  assert.equal(h.view().getUint32(200, true), 4);
  h.iovec(0, 104, 3);
  assert.equal(h.call('fd_write', 2, 0, 1, 200), 0);
  assert.equal(h.call('fd_close', 1), 0);
  assert.equal(h.call('fd_write', 1, 0, 1, 200), 8);
  assert.equal(h.out.text('stdout'), 'out!');
  assert.equal(h.out.text('stderr'), 'err');
  assert.equal(h.call('fd_seek', 2, 0n, 0, 200), 70, 'stdio is not seekable (ESPIPE)');
});

test('stdin is an input: recorded on the primary, replayed on a replica', () => {
  const primary = recorder();
  const h = harness(primary.gate);
  h.iovec(0, 100, 16);
  assert.equal(h.call('fd_read', 0, 0, 1, 200), 0);
  assert.equal(h.view().getUint32(200, true), 5);
  assert.deepEqual(
    primary.records.map((r) => r.kind),
    ['fd_read fd=0 len=16'],
  );

  const replica = harness(replaying(primary.records), { stdin: stdinOf('something else') });
  replica.iovec(0, 100, 16);
  assert.equal(replica.call('fd_read', 0, 0, 1, 200), 0);
  assert.equal(Buffer.from(replica.bytes(100, replica.view().getUint32(200, true))).toString(), 'typed');
});

test('clocks and random bytes are replayed exactly; an unknown clock is EINVAL without an input', () => {
  const primary = recorder();
  const p = harness(primary.gate);
  assert.equal(p.call('clock_time_get', 1, 0n, 0), 0);
  assert.equal(p.call('random_get', 16, 32), 0);
  assert.equal(p.call('clock_time_get', 9, 0n, 0), 28);
  assert.deepEqual(
    primary.records.map((r) => [r.kind, r.payload.length]),
    [
      ['clock_time_get id=1', 8],
      ['random_get len=32', 32],
    ],
  );

  const r = harness(replaying(primary.records));
  assert.equal(r.call('clock_time_get', 1, 0n, 0), 0);
  assert.equal(r.call('random_get', 16, 32), 0);
  assert.deepEqual(r.bytes(0, 48), p.bytes(0, 48));
  assert.deepEqual(r.bytes(16, 32), primary.records[1]?.payload);
});

test('poll_oneoff results are replayed from the record, including which subscription fired', () => {
  const writeSubscriptions = (h: ReturnType<typeof harness>) => {
    const v = h.view();
    // #0: relative monotonic clock, 1 ms; #1: fd_read on stdin (ready at once).
    v.setBigUint64(0, 0xaan, true);
    v.setUint8(8, 0);
    v.setUint32(16, 1, true);
    v.setBigUint64(24, 1_000_000n, true);
    v.setBigUint64(48, 0xbbn, true);
    v.setUint8(56, 1);
    v.setUint32(64, 0, true);
  };
  const primary = recorder();
  const p = harness(primary.gate);
  writeSubscriptions(p);
  assert.equal(p.call('poll_oneoff', 0, 200, 2, 300), 0);
  assert.equal(p.view().getUint32(300, true), 1);
  assert.deepEqual([p.view().getBigUint64(200, true), p.view().getUint8(210)], [0xbbn, 1]);
  assert.deepEqual(
    primary.records.map((r) => r.kind),
    ['poll_oneoff clock(id=1 timeout=1000000 abs=0) fd_read(fd=0)'],
  );

  const r = harness(replaying(primary.records));
  writeSubscriptions(r);
  assert.equal(r.call('poll_oneoff', 0, 200, 2, 300), 0);
  assert.deepEqual(r.bytes(200, 104), p.bytes(200, 104));
});

test('corrupted or foreign payloads never crash a replica', () => {
  const records: GateRecord[] = [
    { kind: 'clock_time_get id=0', payload: Uint8Array.of(5) },
    { kind: 'fd_read fd=0 len=8', payload: Uint8Array.of(1) },
    { kind: 'random_get len=4', payload: Uint8Array.of(9) },
    { kind: 'poll_oneoff clock(id=0 timeout=5 abs=0)', payload: Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
  ];
  const h = harness(replaying(records));
  assert.equal(h.call('clock_time_get', 0, 0n, 0), 0);
  assert.equal(h.view().getBigUint64(0, true), 5n);
  h.iovec(16, 100, 8);
  assert.equal(h.call('fd_read', 0, 16, 1, 200), 29, 'a payload without a status is EIO');
  h.put(300, Uint8Array.of(1, 2, 3, 4));
  assert.equal(h.call('random_get', 300, 4), 0);
  assert.deepEqual(h.bytes(300, 4), Uint8Array.of(9, 0, 0, 0));
  h.view().setUint8(408, 0);
  h.view().setBigUint64(424, 5n, true);
  assert.equal(h.call('poll_oneoff', 400, 500, 1, 600), 0);
  assert.equal(h.view().getUint32(600, true), 0, 'an event naming no subscription is dropped');
});

test('pointers outside memory are EFAULT (21) and take no input; pointers arrive as unsigned', () => {
  const primary = recorder();
  const h = harness(primary.gate);
  assert.equal(h.call('clock_time_get', 0, 0n, 65536 - 4), 21);
  assert.equal(h.call('random_get', -8, 4), 21, 'i32 -8 is address 0xfffffff8');
  assert.equal(h.call('fd_write', 1, -16, 1, 0), 21);
  assert.deepEqual(primary.records, []);
});

test('views follow memory growth', () => {
  const h = harness(recorder().gate);
  h.memory.grow(1);
  assert.equal(h.call('clock_time_get', 0, 0n, 65536 + 8), 0);
  assert.notEqual(h.view().getBigUint64(65536 + 8, true), 0n);
});

test('every wasi_snapshot_preview1 function can be imported', () => {
  const preview1 = `args_get args_sizes_get clock_res_get clock_time_get environ_get environ_sizes_get fd_advise
    fd_allocate fd_close fd_datasync fd_fdstat_get fd_fdstat_set_flags fd_fdstat_set_rights fd_filestat_get
    fd_filestat_set_size fd_filestat_set_times fd_pread fd_prestat_dir_name fd_prestat_get fd_pwrite fd_read
    fd_readdir fd_renumber fd_seek fd_sync fd_tell fd_write path_create_directory path_filestat_get
    path_filestat_set_times path_link path_open path_readlink path_remove_directory path_rename path_symlink
    path_unlink_file poll_oneoff proc_exit proc_raise random_get sched_yield sock_accept sock_recv sock_send
    sock_shutdown`.split(/\s+/);
  const { wasi } = harness(recorder().gate);
  assert.deepEqual(
    preview1.filter((name) => typeof wasi.imports[name] !== 'function'),
    [],
  );
});

test('sockets are not supported, proc_raise is not implemented, and every call is counted once', () => {
  const h = harness(recorder().gate);
  assert.equal(h.call('sock_recv', 3, 0, 0, 0, 0, 0), 58);
  assert.equal(h.call('sock_accept', 3, 0, 0), 58);
  assert.equal(h.call('proc_raise', 9), 52);
  assert.equal(h.call('sched_yield'), 0);
  assert.deepEqual(h.names, ['sock_recv', 'sock_accept', 'proc_raise', 'sched_yield']);
});

test('a divergence inside a call unwinds the guest instead of becoming an errno', () => {
  const h = harness(replaying([{ kind: 'random_get len=4', payload: new Uint8Array(4) }]));
  assert.throws(() => h.call('clock_time_get', 0, 0n, 0), ReplayDivergenceError);
});

test('calls before bind and bad configurations fail with their typed errors', () => {
  const wasi = createWasi({ args: [], env: {}, stdin: stdinOf(''), gate: recorder().gate, output: () => {} });
  assert.throws(() => wasi.imports.sched_yield?.(), WasiNotBoundError);
  assert.throws(
    () =>
      createWasi({ args: [], env: {}, stdin: stdinOf(''), scratchDir: { guestPath: 'scratch' }, gate: recorder().gate, output: () => {} }),
    WasiConfigError,
  );
  assert.throws(
    () => createWasi({ args: ['a\0b'], env: {}, stdin: stdinOf(''), gate: recorder().gate, output: () => {} }),
    WasiConfigError,
  );
});
