// Entry of a replica's child process (started with other V8 flags for engine diversity): hosts
// the replica worker and relays messages between it and the manager over IPC.

import { type ProcessMessage, startReplicaWorker } from './replica-host.js';

let send: ((message: Extract<ProcessMessage, { t: 'to-replica' }>['message']) => void) | undefined;

process.on('message', (raw) => {
  const message = raw as ProcessMessage;
  if (message.t === 'init') {
    const started = startReplicaWorker(
      message.init,
      (fromReplica) => process.send?.(fromReplica),
      (error) => {
        if (error) process.stderr.write(`shadowvm replica process: ${error.message}\n`);
        process.exitCode = error ? 1 : 0;
        // IPC sends are asynchronous: disconnect only once everything forwarded so far is out.
        process.send?.({ t: 'flushed' }, () => process.disconnect?.());
      },
    );
    send = started.send;
    return;
  }
  send?.(message.message);
});
