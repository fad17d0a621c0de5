// Where a replica runs: a worker thread in the manager's process, or a worker inside a child Node
// process started with other V8 flags (a different wasm tier is a different "engine" for
// diversity). Both look the same to WasmVm: send a message, hear messages, kill.

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { HostToReplica, ReplicaInit, ReplicaToHost } from './protocol.js';

export interface ReplicaHost {
  send(message: HostToReplica): void;
  /** Ends the replica; resolves once its thread or process is gone. */
  kill(): Promise<void>;
}

export type ReplicaListener = (message: ReplicaToHost) => void;
export type HostExitListener = (error: Error | undefined) => void;

const workerFile = fileURLToPath(new URL('./replica-worker.js', import.meta.url));
const processFile = fileURLToPath(new URL('./replica-process.js', import.meta.url));

/** Posts a message to a blocked replica: the port carries it, the shared counter wakes it. */
export function notifyingSender(port: MessagePort, signal: Int32Array): (message: HostToReplica) => void {
  return (message) => {
    port.postMessage(message);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
}

/** Starts the replica worker in this process and wires its port. */
export function startReplicaWorker(
  init: Omit<ReplicaInit, 'signal'>,
  onMessage: ReplicaListener,
  onExit: HostExitListener,
): { send: (message: HostToReplica) => void; worker: Worker } {
  const signalBuffer = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(workerFile, {
    workerData: { init: { ...init, signal: signalBuffer }, port: port2 },
    transferList: [port2],
    // Guests may recurse deeply; the default worker stack is small.
    resourceLimits: { stackSizeMb: 16 },
  });
  port1.on('message', (message: ReplicaToHost) => onMessage(message));
  let exited = false;
  const ended = (error: Error | undefined): void => {
    // The worker's last messages (its final epoch, 'gone') may still sit in the port's queue when
    // its end is reported: take them first, or a clean end would look like a crash.
    for (let queued = receiveMessageOnPort(port1); queued; queued = receiveMessageOnPort(port1)) {
      onMessage(queued.message as ReplicaToHost);
    }
    if (exited) return;
    exited = true;
    port1.close();
    onExit(error);
  };
  worker.on('error', (error) => ended(error));
  worker.on('exit', () => ended(undefined));
  return { send: notifyingSender(port1, new Int32Array(signalBuffer)), worker };
}

export class ThreadReplicaHost implements ReplicaHost {
  private readonly worker: Worker;
  readonly send: (message: HostToReplica) => void;

  constructor(init: Omit<ReplicaInit, 'signal'>, onMessage: ReplicaListener, onExit: HostExitListener) {
    const started = startReplicaWorker(init, onMessage, onExit);
    this.worker = started.worker;
    this.send = started.send;
  }

  async kill(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Messages between the manager and a replica process; the module travels as bytes. */
export type ProcessMessage =
  | { readonly t: 'init'; readonly init: Omit<ReplicaInit, 'signal'> }
  | { readonly t: 'to-replica'; readonly message: HostToReplica };

export class ProcessReplicaHost implements ReplicaHost {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(init: Omit<ReplicaInit, 'signal'>, v8Flags: readonly string[], onMessage: ReplicaListener, onExit: HostExitListener) {
    this.child = fork(processFile, [], {
      execArgv: [...v8Flags],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (message) => onMessage(message as ReplicaToHost));
    // A send racing the child's exit fails with EPIPE; the exit itself is reported below.
    this.child.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        onExit(code === 0 || signal === 'SIGKILL' ? undefined : new Error(`replica process exited with ${code ?? signal}`));
        resolve();
      });
    });
    const module = init.module instanceof WebAssembly.Module ? undefined : init.module;
    if (!module) throw new Error('a replica process needs the module as bytes');
    this.child.send({ t: 'init', init } satisfies ProcessMessage);
  }

  send(message: HostToReplica): void {
    if (this.child.connected) this.child.send({ t: 'to-replica', message } satisfies ProcessMessage, () => {});
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
