// The guest side of one wasm VM: instantiates the instrumented module with our WASI layer, cuts
// epochs, digests state at each epoch, and waits at the barrier until the host says go. Runs
// inside a worker thread; everything here is synchronous by design (the guest cannot yield), so
// host messages are pulled with receiveMessageOnPort while blocked in Atomics.wait.

import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { diffPageHashes } from '../../pages/diff.js';
import { createPageHasher, PAGE_SIZE, type PageHasher } from '../../pages/hash/page-hasher.js';
import type { EpochReport, Fault, InputRecord, OutputChunk, ResourceLimits, SnapshotDelta, VmEnd } from '../types.js';
import type { HostToReplica, ReplicaInit, ReplicaReply, ReplicaToHost } from './protocol.js';
import { createWasi, type InputGate, ProcExit, type Wasi } from './wasi/index.js';

const WASM_PAGE = 65536;
const EPOCH_BREAK = 'epoch-break';
const DEFAULT_MEMORY_LIMIT = 2 ** 32;

/** Thrown inside the guest's call stack to unwind it when the replica must stop. */
class ReplicaStop extends Error {
  constructor(readonly end: VmEnd) {
    super(end.kind);
  }
}

export class Replica {
  private readonly signal: Int32Array;
  private signalSeen = 0;
  private epoch = 0; // epochs completed so far
  private epochStart = performance.now();
  private blockedMs = 0;
  private syscalls = 0;
  private syscallsInEpoch = 0;
  private outputs: OutputChunk[] = [];
  private readonly outputHashes = new Map<string, Hash>();
  private readonly queue: InputRecord[];
  private queueIndex = 0;
  private logEnded = false;
  private nextSeq: number;
  private live: boolean;
  private freeRunUntil: number;
  private limits: ResourceLimits;
  private readonly faults: { epoch: number; fault: Fault }[];
  private readonly corruptSeqs = new Set<number>();
  private growRefused = false;
  private lastHashes: Uint8Array = new Uint8Array(0);
  private memory!: WebAssembly.Memory;
  private hasher!: PageHasher;
  private budgetGlobal: WebAssembly.Global | undefined;
  private budgetStart = 0;
  private registerGlobals: [string, WebAssembly.Global][] = [];

  constructor(
    private readonly init: ReplicaInit,
    private readonly port: MessagePort,
  ) {
    this.signal = new Int32Array(init.signal);
    this.queue = [...init.replay];
    this.nextSeq = init.replay.length;
    this.live = init.role === 'primary' && init.replay.length === 0;
    this.freeRunUntil = init.freeRunUntil;
    this.limits = init.limits;
    this.faults = [...init.faults];
    for (const { fault } of this.faults) if (fault.kind === 'corrupt-input') this.corruptSeqs.add(fault.seq);
  }

  run(): void {
    const wasi = this.createWasi();
    const module =
      this.init.module instanceof WebAssembly.Module
        ? this.init.module
        : new WebAssembly.Module(this.init.module as Uint8Array<ArrayBuffer>);
    let end: VmEnd;
    try {
      const instance = new WebAssembly.Instance(module, {
        wasi_snapshot_preview1: wasi.imports,
        shadowvm: { epoch: () => this.endEpoch(), grow: (delta: number) => this.grow(delta) },
      } as WebAssembly.Imports);
      this.bind(instance, wasi);
      this.post({ t: 'ready' });
      (instance.exports._start as () => void)();
      end = { kind: 'exit', code: 0 };
    } catch (error) {
      end = this.classify(error);
    }
    if (!(end.kind === 'error' || end.kind === 'killed')) this.endEpoch(end);
    wasi.close();
    this.post({ t: 'gone', end });
  }

  private bind(instance: WebAssembly.Instance, wasi: Wasi): void {
    this.memory = instance.exports.memory as WebAssembly.Memory;
    wasi.bind(this.memory);
    this.hasher = createPageHasher(this.memory);
    this.budgetGlobal = instance.exports.__shadowvm_budget as WebAssembly.Global | undefined;
    this.registerGlobals = this.init.globals.map((name) => [name, instance.exports[name] as WebAssembly.Global]);
    this.resetBudget();
  }

  private createWasi(): Wasi {
    const gate: InputGate = { take: (kind, live) => this.take(kind, live) };
    const stdin = this.init.stdin;
    return createWasi({
      args: [...this.init.args],
      env: { ...this.init.env },
      stdin: {
        read: (buf) => {
          if (stdin.kind === 'none') return 0;
          return this.blocking(() => readStdin(stdin.fd, buf));
        },
      },
      ...(this.init.inputDir ? { inputDir: { guestPath: '/input', hostPath: this.init.inputDir } } : {}),
      scratchDir: { guestPath: '/scratch' },
      gate,
      output: (stream, bytes) => this.output(stream, bytes),
      onSyscall: () => this.onSyscall(),
    });
  }

  // ---- inputs -----------------------------------------------------------------------------------

  private take(kind: string, live: () => Uint8Array): Uint8Array {
    if (!this.live) {
      let record = this.nextRecord(kind);
      while (record?.kind === EPOCH_BREAK) {
        this.endEpoch();
        record = this.nextRecord(kind);
      }
      if (record) {
        if (record.kind !== kind) this.mismatch(record.kind, kind);
        return this.corruptSeqs.has(record.seq) ? corrupt(record.payload) : record.payload;
      }
    }
    if (this.shouldBreakBefore(kind)) {
      this.record(EPOCH_BREAK, new Uint8Array(0));
      this.endEpoch();
    }
    const payload = this.blocking(live);
    this.record(kind, payload);
    return payload;
  }

  /** The primary ends an epoch at an input when it ran long, or before stdin may block with output pending. */
  private shouldBreakBefore(kind: string): boolean {
    const { maxEpochMs } = this.init.epochs;
    if (maxEpochMs > 0 && performance.now() - this.epochStart > maxEpochMs) return true;
    return this.outputs.length > 0 && kind.startsWith('fd_read fd=0');
  }

  private record(kind: string, payload: Uint8Array): void {
    const record: InputRecord = { seq: this.nextSeq++, epoch: this.epoch + 1, kind, payload };
    this.post({ t: 'input', record });
  }

  /** Next replayed record; a shadow waits for the primary; a restored primary then goes live (undefined). */
  private nextRecord(expected: string): InputRecord | undefined {
    for (;;) {
      const record = this.queue[this.queueIndex];
      if (record) {
        this.queueIndex++;
        if (this.queueIndex > 1024) {
          this.queue.splice(0, this.queueIndex);
          this.queueIndex = 0;
        }
        return record;
      }
      if (this.init.role === 'primary') {
        this.live = true;
        return undefined;
      }
      if (this.logEnded) this.mismatch("(end of the primary's inputs)", expected);
      this.blocking(() => this.waitForMessage());
    }
  }

  private mismatch(expected: string, got: string): never {
    this.post({ t: 'mismatch', epoch: this.epoch + 1, expected, got });
    throw new ReplicaStop({ kind: 'error', message: `replay divergence: expected ${expected}, got ${got}` });
  }

  // ---- outputs and syscalls ---------------------------------------------------------------------

  private output(stream: string, bytes: Uint8Array): void {
    const copy = new Uint8Array(bytes);
    this.outputs.push({ stream, bytes: copy });
    let hash = this.outputHashes.get(stream);
    if (!hash) {
      hash = createHash('sha256');
      this.outputHashes.set(stream, hash);
    }
    hash.update(copy);
  }

  private onSyscall(): void {
    this.syscalls++;
    this.syscallsInEpoch++;
    const every = this.init.epochs.syscalls;
    if (every > 0 && this.syscalls % every === 0) this.endEpoch();
  }

  private grow(deltaPages: number): number {
    const current = this.memory.buffer.byteLength;
    const limit = this.limits.memoryBytes ?? DEFAULT_MEMORY_LIMIT;
    if (current + deltaPages * WASM_PAGE > limit) {
      this.growRefused = true;
      return -1;
    }
    try {
      return this.memory.grow(deltaPages);
    } catch {
      this.growRefused = true;
      return -1;
    }
  }

  // ---- epochs -------------------------------------------------------------------------------------

  private resetBudget(): void {
    const events = this.limits.epochBudget ?? this.init.epochs.events;
    this.budgetStart = events > 0 ? events : 0x7fffffff;
    if (this.budgetGlobal) this.budgetGlobal.value = this.budgetStart;
    this.epochStart = performance.now();
    this.blockedMs = 0;
    this.syscallsInEpoch = 0;
  }

  private endEpoch(end?: VmEnd): void {
    const epoch = this.epoch + 1;
    const runMs = performance.now() - this.epochStart - this.blockedMs;
    for (const planned of this.faults) if (planned.epoch === epoch) this.applyFault(planned.fault);
    const digestStart = performance.now();
    const pageCount = this.memory.buffer.byteLength / PAGE_SIZE;
    const pageHashes = new Uint8Array(pageCount * 16);
    this.hasher.hashPages(0, pageCount, pageHashes);
    this.lastHashes = pageHashes;
    const registers: Record<string, string> = {};
    for (const [name, global] of this.registerGlobals) registers[name] = String(global.value);
    const outputs: Record<string, string> = {};
    for (const [stream, hash] of this.outputHashes) outputs[stream] = hash.copy().digest('hex');
    const digestMs = performance.now() - digestStart;
    const remaining = this.budgetGlobal ? Number(this.budgetGlobal.value) : 0;
    const report: EpochReport = {
      epoch,
      digest: { pageSize: PAGE_SIZE, pageHashes, registers, outputs },
      metrics: {
        instructions: Math.max(0, this.budgetStart - Math.max(0, remaining)),
        runMs,
        digestMs,
        memoryBytes: pageCount * PAGE_SIZE,
        syscalls: this.syscallsInEpoch,
        extra: { inputWaitMs: this.blockedMs },
      },
      outputs: this.outputs,
      ...(end ? { end } : {}),
    };
    this.outputs = [];
    this.epoch = epoch;
    this.post({ t: 'epoch', report });
    if (end) return;
    if (epoch > this.freeRunUntil) this.barrier();
    this.resetBudget();
  }

  /** Paused at the end of an epoch: serve the host's requests until it says go. */
  private barrier(): void {
    for (;;) {
      const message = this.receive();
      if (message) {
        if (message.t === 'go') return;
        this.handle(message);
        continue;
      }
      this.waitSignal();
    }
  }

  private handle(message: HostToReplica): void {
    switch (message.t) {
      case 'go':
        return;
      case 'input':
        this.queue.push(...message.records);
        return;
      case 'log-end':
        this.logEnded = true;
        return;
      case 'free-run':
        this.freeRunUntil = Math.max(this.freeRunUntil, message.until);
        return;
      case 'read-pages':
        return this.reply(message.id, { kind: 'pages', pages: message.pages.map((p) => this.readPage(p)) });
      case 'snapshot':
        return this.reply(message.id, { kind: 'snapshot', delta: this.snapshot(message.base) });
      case 'inject':
        if (message.fault.kind === 'corrupt-input') this.corruptSeqs.add(message.fault.seq);
        else this.faults.push({ epoch: this.epoch + 1, fault: message.fault });
        return this.reply(message.id, { kind: 'ok' });
      case 'limits':
        this.limits = { ...this.limits, ...message.limits };
        return this.reply(message.id, { kind: 'limits', limits: this.limits });
    }
  }

  private readPage(page: number): Uint8Array {
    const start = page * PAGE_SIZE;
    if (start + PAGE_SIZE > this.memory.buffer.byteLength) return new Uint8Array(PAGE_SIZE);
    return new Uint8Array(this.memory.buffer.slice(start, start + PAGE_SIZE));
  }

  private snapshot(base: Uint8Array | undefined): SnapshotDelta {
    const changed = new Map<number, Uint8Array>();
    const pageCount = this.lastHashes.length / 16;
    const pages = base
      ? diffPageHashes(base, this.lastHashes).filter((page) => page < pageCount)
      : Array.from({ length: pageCount }, (_, page) => page);
    copyPages(new Uint8Array(this.memory.buffer), pages, changed);
    const registers: Record<string, string> = {};
    for (const [name, global] of this.registerGlobals) registers[name] = String(global.value);
    return { epoch: this.epoch, pageSize: PAGE_SIZE, pageCount, changed, registers, driverState: {} };
  }

  private applyFault(fault: Fault): void {
    if (fault.kind !== 'bitflip') return;
    const bytes = new Uint8Array(this.memory.buffer);
    const address = fault.address % bytes.length;
    bytes[address] = (bytes[address] ?? 0) ^ (1 << (fault.bit & 7));
  }

  // ---- plumbing -----------------------------------------------------------------------------------

  private classify(error: unknown): VmEnd {
    if (error instanceof ProcExit) return { kind: 'exit', code: error.code };
    if (error instanceof ReplicaStop) return error.end;
    const message = error instanceof Error ? error.message : String(error);
    if (this.growRefused) {
      const limit = this.limits.memoryBytes ?? DEFAULT_MEMORY_LIMIT;
      return { kind: 'oom', message: `guest ran out of memory at the ${Math.round(limit / 2 ** 20)} MiB limit (${message})` };
    }
    if (error instanceof WebAssembly.RuntimeError || error instanceof RangeError) return { kind: 'trap', message };
    return { kind: 'error', message };
  }

  private reply(id: number, reply: ReplicaReply): void {
    this.post({ t: 'reply', id, reply });
  }

  private post(message: ReplicaToHost): void {
    this.port.postMessage(message);
  }

  private receive(): HostToReplica | undefined {
    this.signalSeen = Atomics.load(this.signal, 0);
    const received = receiveMessageOnPort(this.port);
    return received?.message as HostToReplica | undefined;
  }

  private waitSignal(): void {
    Atomics.wait(this.signal, 0, this.signalSeen, 1000);
  }

  /** Blocks for one host message and handles it (used while waiting for replayed inputs). */
  private waitForMessage(): void {
    const message = this.receive();
    if (!message) return this.waitSignal();
    this.handle(message);
  }

  /** Time spent blocked on the outside world is not the guest's run time. */
  private blocking<T>(work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.blockedMs += performance.now() - start;
    }
  }
}

/** Copies pages into one contiguous block (one allocation, not one per page) and maps views of it. */
export function copyPages(memory: Uint8Array, pages: readonly number[], into: Map<number, Uint8Array>): void {
  const block = new Uint8Array(pages.length * PAGE_SIZE);
  pages.forEach((page, i) => {
    const view = block.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    view.set(memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE));
    into.set(page, view);
  });
}

function corrupt(payload: Uint8Array): Uint8Array {
  const copy = new Uint8Array(payload);
  if (copy.length > 0) copy[0] = (copy[0] ?? 0) ^ 1;
  return copy;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function readStdin(fd: number, buf: Uint8Array): number {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      if (code === 'EOF') return 0;
      throw error;
    }
  }
}
