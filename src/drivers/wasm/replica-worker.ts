// Entry of a replica's worker thread: runs the guest to its end, then lets the thread exit (the
// port stays open so that the host can still drain the last messages).

import { type MessagePort, workerData } from 'node:worker_threads';
import type { ReplicaInit } from './protocol.js';
import { Replica } from './replica.js';

const { init, port } = workerData as { init: ReplicaInit; port: MessagePort };
new Replica(init, port).run();
