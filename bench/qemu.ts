// QEMU driver costs on real TCG guests: page diff of guest RAM vs a plain read, checkpoint and
// rollback, the slowdown of a recording (lockstep) primary against a plain TCG run, and the clone
// of a running guest that starts a free-running shadow.

import type { QemuDriver } from '../src/drivers/qemu/driver.js';
import { FreeDriver } from '../src/drivers/qemu/free-driver.js';
import type { FreeRunner } from '../src/drivers/qemu/free-runner.js';
import { ensureGuest } from '../src/drivers/qemu/guest-build.js';
import { createReplica, type Replica, step } from '../src/drivers/qemu/harness.js';
import { LockstepDriver } from '../src/drivers/qemu/lockstep-driver.js';
import { RamFile } from '../src/drivers/qemu/ram.js';
import type { EpochReport, RestoreTarget } from '../src/drivers/types.js';
import { requireTool } from '../src/host-tools.js';
import { GOALS } from './goals.js';
import { type BenchLine, median } from './line.js';

const mib256 = 256 * 2 ** 20;

function timed<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, performance.now() - start];
}

/** Workload rounds the guest printed across `reports` (its own measure of progress). */
function rounds(reports: readonly EpochReport[]): number {
  const text = Buffer.concat(reports.flatMap((r) => r.outputs.map((o) => o.bytes))).toString();
  return (text.match(/round \d+ sum/g) ?? []).length;
}

async function bootAndRun(driver: QemuDriver, epochs: number, memoryBytes: number): Promise<Replica> {
  const vm = await createReplica(driver, 'bench', 'primary', driver.profiles()[0]!, { limits: { memoryBytes } });
  const first = vm.next();
  await vm.vm.start();
  await first;
  for (let i = 1; i < epochs; i++) await step([vm]);
  return vm;
}

async function memoryAndCheckpoints(): Promise<BenchLine[]> {
  const driver = new FreeDriver({ epochMs: 1000 });
  try {
    const vm = await bootAndRun(driver, 4, mib256);
    const ram = new RamFile(`${driver.runtimePath}/bench.ram`);
    const reads: number[] = [];
    const diffs: number[] = [];
    let before = ram.readAll();
    for (let i = 0; i < 3; i++) {
      const [after, readMs] = timed(() => ram.readAll());
      reads.push(readMs);
      const [, diffMs] = timed(() => {
        let differing = 0;
        for (let offset = 0; offset < after.length; offset += 4096) {
          if (Buffer.compare(before.subarray(offset, offset + 4096), after.subarray(offset, offset + 4096)) !== 0) differing++;
        }
        return differing;
      });
      diffs.push(diffMs + readMs);
      before = after;
    }
    const checkpointStart = performance.now();
    const delta = await vm.vm.snapshot();
    const checkpointMs = performance.now() - checkpointStart;
    const report = vm.reports.at(-1)!;
    await vm.vm.kill('bench rollback');
    const target: RestoreTarget = {
      epoch: delta.epoch,
      digest: report.digest,
      driverState: delta.driverState,
      readPage: (p) => delta.changed.get(p)!,
    };
    const restored = await createReplica(driver, 'bench2', 'primary', driver.profiles()[0]!, {
      limits: { memoryBytes: mib256 },
      restore: { target, log: { read: () => [], length: 0 }, catchUpTo: 0 },
    });
    const next = restored.next();
    const rollbackStart = performance.now();
    await restored.vm.start();
    await next;
    const rollbackMs = performance.now() - rollbackStart - 1000;
    return [
      { name: 'qemu: plain read of 256 MiB guest RAM', value: median(reads), unit: 'ms' },
      { name: 'qemu: page diff of 256 MiB guest RAM (read + compare)', value: median(diffs), unit: 'ms' },
      { name: 'qemu: checkpoint (snapshot-save + disk copy + pages) 256 MiB', value: checkpointMs, unit: 'ms' },
      { name: 'qemu: rollback (new QEMU + loadvm + RAM check) 256 MiB', value: Math.max(0, rollbackMs), unit: 'ms' },
    ];
  } finally {
    await driver.close();
  }
}

/**
 * Clones of a running 256 MiB primary (free mode): a shadow created while the primary runs an
 * epoch clones it there. Pause: the primary stopped (overlay copy, device state; RAM streams after
 * it while the primary runs, see clone.ts); total: from the shadow's start to its first report
 * (its QEMU launch, the RAM stream and its first digest included). The first clone of a primary
 * is reported on its own too: it is the one that would pay for QEMU setting up write tracking.
 */
async function cloneOfRunningGuest(): Promise<BenchLine[]> {
  const driver = new FreeDriver({ epochMs: 1000 });
  try {
    const primary = await bootAndRun(driver, 2, mib256);
    const pauses: number[] = [];
    const totals: number[] = [];
    const devices: number[] = [];
    const copies: number[] = [];
    const streams: number[] = [];
    for (let i = 0; i < 3; i++) {
      primary.vm.resume();
      const running = primary.next();
      const shadow = await createReplica(driver, `clone${i}`, 'shadow', driver.profiles()[0]!, { limits: { memoryBytes: mib256 } });
      const first = shadow.next();
      const start = performance.now();
      await shadow.vm.start();
      await first;
      totals.push(performance.now() - start);
      const timings = (shadow.vm as FreeRunner).cloneTimings;
      if (timings === undefined) throw new Error('the shadow did not start as a clone');
      pauses.push(timings.pauseMs);
      devices.push(timings.deviceStateMs);
      copies.push(timings.ramCopyMs);
      streams.push(timings.ramStreamMs);
      await shadow.vm.kill('bench clone measured');
      await running;
    }
    return [
      { name: GOALS.qemuClonePause.promise, value: median(pauses), unit: 'ms', goal: GOALS.qemuClonePause },
      {
        name: 'qemu: clone of a running 256 MiB guest, first clone pause',
        value: pauses[0] ?? 0,
        unit: 'ms',
        goal: GOALS.qemuClonePause,
      },
      { name: 'qemu: clone of a running 256 MiB guest, total', value: median(totals), unit: 'ms' },
      { name: 'qemu: clone, RAM file copy (part of the pause)', value: median(copies), unit: 'ms' },
      { name: 'qemu: clone, device state migration (part of the pause)', value: median(devices), unit: 'ms' },
      { name: 'qemu: clone, RAM stream after the pause (primary runs)', value: median(streams), unit: 'ms' },
    ];
  } finally {
    await driver.close();
  }
}

async function roundsPerSecond(driver: QemuDriver): Promise<number> {
  try {
    const vm = await bootAndRun(driver, 6, 128 * 2 ** 20);
    // Boot speeds differ between the modes: measure only once the workload runs (rounds appear).
    for (let epoch = 0; epoch < 40 && rounds(vm.reports.slice(-4)) === 0; epoch++) await step([vm]);
    for (let i = 0; i < 4; i++) await step([vm]);
    const window = vm.reports.slice(-4);
    const seconds = window.reduce((sum, r) => sum + r.metrics.runMs, 0) / 1000;
    return seconds > 0 ? rounds(window) / seconds : 0;
  } finally {
    await driver.close();
  }
}

export async function run(): Promise<BenchLine[]> {
  requireTool('qemu');
  await ensureGuest();
  const lines = await memoryAndCheckpoints();
  lines.push(...(await cloneOfRunningGuest()));
  const plain = await roundsPerSecond(new FreeDriver({ epochMs: 1000 }));
  const recording = await roundsPerSecond(new LockstepDriver({ epochMs: 1000 }));
  lines.push(
    { name: 'qemu: workload rounds/s, plain TCG', value: plain, unit: 'rounds/s' },
    { name: 'qemu: workload rounds/s, recording lockstep primary', value: recording, unit: 'rounds/s' },
  );
  if (recording > 0) lines.push({ name: 'qemu: lockstep slowdown (plain TCG / recording primary)', value: plain / recording, unit: '×' });
  else process.stderr.write('qemu: the recording primary ran no workload round within 40 epochs; no lockstep slowdown measured\n');
  return lines;
}
