// A manager that died (kill -9, power loss) leaves computations the store still calls running or
// created. They cannot be resumed (their VMs died with the process), so at start they are marked
// failed with the epoch they reached; nothing they logged is touched.

import type { Store } from '../store/types.js';

export interface Interrupted {
  readonly id: string;
  readonly epoch: number;
}

const SCAN_LIMIT = 1_000_000;

export function markInterrupted(store: Store): Interrupted[] {
  const stale = [
    ...store.computations.list({ status: 'running', limit: SCAN_LIMIT }),
    ...store.computations.list({ status: 'created', limit: SCAN_LIMIT }),
  ];
  return stale.map((computation) => {
    const epochs = store.difflog.readEpochs(computation.id);
    const epoch = epochs.reduce((max, record) => Math.max(max, record.epoch), 0);
    const message = `manager restarted; computation interrupted at epoch ${epoch}`;
    for (const vm of store.vms.list(computation.id)) {
      if (vm.status !== 'ended') store.vms.end(computation.id, vm.vmId, { kind: 'killed', message });
    }
    store.computations.update(computation.id, { status: 'failed', report: { interrupted: true, epoch, end: message } });
    return { id: computation.id, epoch };
  });
}
