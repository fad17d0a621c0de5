// Isolation of free-running replicas, checked on the QEMU processes actually launched: sandboxed,
// no unrestricted user networking, shadows with no way out at all, every runtime file in the
// driver's private directory, and a guest-side probe that finds nothing reachable from a shadow.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { skipWithout } from '../../host-tools.js';
import { FreeDriver } from './free-driver.js';
import { ensureGuest } from './guest-build.js';
import { createReplica, type Replica, step } from './harness.js';
import { qemuProcessesUnder } from './leaks.js';
import { liveQemuCount } from './process.js';

/** Values of every occurrence of `option` on a command line. */
const valuesOf = (args: readonly string[], option: string) => args.flatMap((arg, i) => (arg === option ? [args[i + 1] ?? ''] : []));

/** Paths a command line names (file=…, path=…, mem-path=…, unix:…, and plain absolute paths). */
function pathsIn(args: readonly string[]): string[] {
  const paths: string[] = [];
  for (const arg of args) {
    for (const match of arg.matchAll(/(?:^|[,=:])(\/[^,]+)/g)) paths.push(match[1]!);
  }
  return paths;
}

test('free-running replicas are sandboxed, shadows reach nothing, files stay private', {
  timeout: 180_000,
  skip: skipWithout('qemu'),
}, async () => {
  const image = await ensureGuest();
  // The guest tries to reach the host (10.0.2.2) every second and prints the outcome.
  const driver = new FreeDriver({ epochMs: 1000, kernelArgs: ['shadowvm.netprobe=1'] });
  try {
    const profile = driver.profiles()[0]!;
    const primary = await createReplica(driver, 'p', 'primary', profile);
    const shadow = await createReplica(driver, 's', 'shadow', profile);
    const replicas: Replica[] = [primary, shadow];
    const firsts = replicas.map((r) => r.next());
    await Promise.all(replicas.map((r) => r.vm.start()));
    await Promise.all(firsts);

    const runtime = driver.runtimePath;
    assert.equal(statSync(runtime).mode & 0o777, 0o700, 'the runtime directory is private');
    const commandLines = new Map<string, string[]>();
    for (const pid of qemuProcessesUnder(runtime)) {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a.length > 0);
      const ram = valuesOf(args, '-object').find((o) => o.startsWith('memory-backend-file'));
      const role = ram?.includes(`${runtime}/p.ram`) ? 'primary' : ram?.includes(`${runtime}/s.ram`) ? 'shadow' : 'other';
      commandLines.set(role, args);
    }
    assert.deepEqual([...commandLines.keys()].sort(), ['primary', 'shadow']);
    for (const [role, args] of commandLines) {
      assert.ok(
        valuesOf(args, '-sandbox').some((v) => /^on(,|$)/.test(v)),
        `${role}: -sandbox on`,
      );
      for (const netdev of valuesOf(args, '-netdev')) {
        assert.match(netdev, /^user,/, `${role}: only user networking (${netdev})`);
        assert.match(netdev, /(^|,)restrict=on(,|$)/, `${role}: user networking is restricted (${netdev})`);
        if (role === 'shadow') assert.doesNotMatch(netdev, /hostfwd|guestfwd/, 'a shadow forwards nothing');
        else
          for (const forward of netdev.matchAll(/hostfwd=tcp:([^:]*):/g))
            assert.equal(forward[1], '127.0.0.1', 'forwarded from loopback only');
      }
      const outside = pathsIn(args).filter((path) => !path.startsWith(`${runtime}/`) && !path.startsWith(`${image.dir}/`));
      assert.deepEqual(outside, [], `${role}: every file is in the runtime directory or the read-only image`);
    }
    // The shadow's only NIC traffic goes through the hub: its frames are redirected out, none in.
    const shadowArgs = commandLines.get('shadow')!;
    assert.ok(
      valuesOf(shadowArgs, '-object').some((o) => /^filter-redirector,.*queue=rx,outdev=/.test(o)),
      'shadow output is redirected to the host',
    );

    let serial = '';
    for (let epoch = 0; epoch < 12 && !/netprobe (un)?reachable/.test(serial); epoch++) {
      const [, s] = await step(replicas);
      serial += Buffer.concat(s!.outputs.map((o) => o.bytes)).toString();
    }
    assert.match(serial, /shadowvm: netprobe unreachable/, 'the shadow guest tried to reach the host and could not');
    assert.doesNotMatch(serial, /shadowvm: netprobe reachable/);
  } finally {
    await driver.close();
  }
  assert.equal(liveQemuCount(), 0);
  assert.equal(existsSync(driver.runtimePath), false);
  assert.deepEqual(qemuProcessesUnder(driver.runtimePath), []);
});
