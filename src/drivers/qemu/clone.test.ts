// A free-running shadow is a clone of the primary taken at the primary's epoch barrier: same RAM
// page for page, same registers, same disk, and it runs on from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from './driver.js';
import { ensureGuest } from './guest-build.js';
import { createReplica, differingPages, step } from './harness.js';
import { qemuProcessesUnder } from './leaks.js';
import { liveQemuCount } from './process.js';
import { qemuMissing } from './testing.js';


/** The guest-visible contents of a qcow2 disk that a (paused) QEMU has open. */
function diskContents(disk: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'shadowvm-clone-'));
  try {
    execFileSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', disk, join(dir, 'disk.raw')]);
    return readFileSync(join(dir, 'disk.raw'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lastRound = (text: string) => Number([...text.matchAll(/round (\d+) sum/g)].at(-1)?.[1] ?? 0);

test('a shadow cloned from a running primary has its RAM, registers and disk, and runs on', { timeout: 180_000, skip: qemuMissing() }, async () => {
  await ensureGuest();
  const driver = new QemuDriver({ mode: 'free', epochMs: 800 });
  try {
    const profile = driver.profiles()[0]!;
    const primary = await createReplica(driver, 'p', 'primary', profile);
    const first = primary.next();
    await primary.vm.start();
    await first;
    for (let i = 0; i < 2; i++) await step([primary]);
    const atClone = primary.reports.at(-1)!;
    assert.ok(lastRound(primary.reports.map((r) => Buffer.concat(r.outputs.map((o) => o.bytes)).toString()).join('')) > 0, 'the workload runs');

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
