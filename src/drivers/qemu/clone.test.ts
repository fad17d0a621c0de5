// A free-running shadow is a clone of the primary: same RAM page for page, same registers, same
// disk as the primary at the clone point, and it runs on from there. Cloned at an epoch barrier
// (the primary paused) through the driver; cloned from a running guest through cloneVm itself, so
// that the source's state can be read at the clone point while its RAM streams as it runs on.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipWithout } from '../../host-tools.js';
import { type CloneEnd, cloneVm } from './clone.js';
import { FreeDriver } from './free-driver.js';
import { ensureGuest, type GuestImage } from './guest-build.js';
import { createReplica, differingPages, step } from './harness.js';
import { type LaunchSpec, qemuArgs } from './launch.js';
import { qemuProcessesUnder } from './leaks.js';
import { parseRegisters } from './machine.js';
import { liveQemuCount, QemuProcess, RuntimeDir } from './process.js';
import { parseProfile } from './profile.js';
import { QmpClient } from './qmp.js';
import { pageSize } from './ram.js';
import { diskContents } from './testing.js';

const lastRound = (text: string) => Number([...text.matchAll(/round (\d+) sum/g)].at(-1)?.[1] ?? 0);

/** The last workload round a guest printed to its serial file, once it is past `round` (or after 60 s). */
async function roundPast(serialFile: string, round: number): Promise<number> {
  for (let i = 0; i < 1200 && lastRound(readFileSync(serialFile, 'utf8')) <= round; i++) await sleep(50);
  return lastRound(readFileSync(serialFile, 'utf8'));
}

test('a shadow cloned from a running primary has its RAM, registers and disk, and runs on', {
  timeout: 180_000,
  skip: skipWithout('qemu'),
}, async () => {
  await ensureGuest();
  const driver = new FreeDriver({ epochMs: 800 });
  try {
    const profile = driver.profiles()[0]!;
    const primary = await createReplica(driver, 'p', 'primary', profile);
    const first = primary.next();
    await primary.vm.start();
    await first;
    for (let i = 0; i < 2; i++) await step([primary]);
    const atClone = primary.reports.at(-1)!;
    assert.ok(
      lastRound(primary.reports.map((r) => Buffer.concat(r.outputs.map((o) => o.bytes)).toString()).join('')) > 0,
      'the workload runs',
    );

    // Created mid-run: it clones the primary at the barrier where the primary waits now.
    const shadow = await createReplica(driver, 's', 'shadow', profile);
    const cloned = shadow.next();
    await shadow.vm.start();
    const s = await cloned;
    assert.equal(s.epoch, atClone.epoch);
    assert.deepEqual(differingPages(atClone, s), [], 'same RAM page for page');
    assert.deepEqual(s.digest.registers, atClone.digest.registers, 'same CPU registers');
    const disk = (id: string) => diskContents(`${driver.runtimePath}/${id}.qcow2`);
    assert.ok(disk('p').equals(disk('s')), 'same disk contents');

    let shadowSerial = '';
    for (let i = 0; i < 6 && lastRound(shadowSerial) === 0; i++) {
      const [p2, s2] = await step([primary, shadow]);
      shadowSerial += Buffer.concat(s2!.outputs.map((o) => o.bytes)).toString();
      if (i === 0) assert.ok(differingPages(p2!, s2!).length > 0, 'free-running replicas drift apart once they run');
    }
    assert.ok(lastRound(shadowSerial) > 0, `the clone runs the workload on (serial: ${JSON.stringify(shadowSerial.slice(-200))})`);
  } finally {
    await driver.close();
  }
  assert.equal(liveQemuCount(), 0);
  assert.equal(existsSync(driver.runtimePath), false);
  assert.deepEqual(qemuProcessesUnder(driver.runtimePath), []);
});

/** Pages at which two RAM images differ. */
function pagesDiffering(a: Buffer, b: Buffer): number[] {
  const pages: number[] = [];
  for (let offset = 0; offset < Math.max(a.length, b.length); offset += pageSize) {
    if (Buffer.compare(a.subarray(offset, offset + pageSize), b.subarray(offset, offset + pageSize)) !== 0) pages.push(offset / pageSize);
  }
  return pages;
}

/** A free-running QEMU of the default profile in `runtime`, named `name`, with its QMP connection. */
async function launch(runtime: RuntimeDir, image: GuestImage, name: string, incoming: boolean): Promise<CloneEnd & { qemu: QemuProcess }> {
  const spec: LaunchSpec = {
    image,
    profile: parseProfile({ name: 'default', dimensions: {} }),
    memoryMiB: 128,
    maxCpus: 1,
    ramFile: runtime.file(`${name}.ram`),
    qmpSocket: runtime.file(`${name}.qmp`),
    serialFile: runtime.file(`${name}.serial`),
    overlay: runtime.file(`${name}.qcow2`),
    kernelArgs: ['shadowvm.rounds=0'],
    incoming,
  };
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image.disk, '-F', 'qcow2', spec.overlay]);
  const qemu = QemuProcess.start(runtime, name, qemuArgs(spec));
  const qmp = await QmpClient.connect(spec.qmpSocket);
  return { qemu, qmp, ramFile: spec.ramFile, overlay: spec.overlay };
}

test('a clone of a running guest holds its state at the clone point while the source runs on', {
  timeout: 180_000,
  skip: skipWithout('qemu'),
}, async () => {
  const image = await ensureGuest();
  const runtime = RuntimeDir.create();
  const ends: (CloneEnd & { qemu: QemuProcess })[] = [];
  try {
    const source = await launch(runtime, image, 'src', false);
    ends.push(source);
    await source.qmp.execute('cont');
    // Cloned mid-workload: every round forks, pipes and checksums, writing guest memory throughout.
    assert.ok((await roundPast(runtime.file('src.serial'), 1)) >= 2, 'the source runs its workload');
    const target = await launch(runtime, image, 'dst', true);
    ends.push(target);

    let atClone: { ram: Buffer; registers: Record<string, string>; disk: Buffer } | undefined;
    const timings = await cloneVm(source, target, runtime.file('clone.sock'), {
      atClonePoint: async () => {
        atClone = {
          ram: readFileSync(source.ramFile),
          registers: parseRegisters(await source.qmp.hmp('info registers')),
          disk: diskContents(source.overlay),
        };
      },
    });
    assert.ok(atClone !== undefined, 'the clone point was reached');
    assert.ok(timings.ramStreamMs > 0 && timings.ramCopyMs === 0, 'RAM streamed after the pause, not copied in it');
    assert.equal((await source.qmp.execute<{ status: string }>('query-status')).status, 'running', 'the source runs on');
    assert.deepEqual(
      pagesDiffering(atClone.ram, readFileSync(target.ramFile)),
      [],
      'the clone has the RAM of the clone point, page for page',
    );
    assert.deepEqual(parseRegisters(await target.qmp.hmp('info registers')), atClone.registers, 'same CPU registers');
    assert.ok(diskContents(target.overlay).equals(atClone.disk), 'same disk contents');
    // The guest wrote memory while its RAM streamed (and after): had those writes leaked into the
    // stream, the clone would differ from the clone point above.
    assert.ok(pagesDiffering(atClone.ram, readFileSync(source.ramFile)).length > 0, 'the source wrote memory after the clone point');

    await target.qmp.execute('cont');
    assert.ok((await roundPast(runtime.file('dst.serial'), 0)) > 0, 'the clone runs the workload on');
  } finally {
    for (const end of ends) {
      end.qmp.close();
      await end.qemu.kill();
    }
    runtime.remove();
  }
  assert.equal(liveQemuCount(), 0);
  assert.deepEqual(qemuProcessesUnder(runtime.path), []);
});
