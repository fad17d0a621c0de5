// The wasm driver against the driver contract, on io.wasm: every kind of nondeterministic input
// (stdin, clocks, randomness, a sleep, a file of /input), cut into 10 epochs of 3 syscalls.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { driverContract } from '../contract.js';
import { openDriver } from '../open.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowvm-wasm-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'greeting.txt'), 'hello from the input directory\n');
writeFileSync(join(dir, 'stdin.txt'), 'a first line\nand a second\n');
const EPOCH_EVENTS = 1_000_000;

driverContract({
  name: 'wasm (io.wasm)',
  open: async () => {
    const spec = {
      kind: 'wasm',
      module: fileURLToPath(new URL('../../../../guests/bin/io.wasm', import.meta.url)),
      args: ['greeting.txt'],
      env: {},
      inputDir: dir,
      stdin: { file: join(dir, 'stdin.txt') },
      epochs: { events: EPOCH_EVENTS, syscalls: 3, maxEpochMs: 0 },
    };
    return (await openDriver(spec, { cacheDir: join(dir, 'cache') })).driver;
  },
  guest: {
    minEpochs: 10,
    maxEpochs: 10,
    end: { kind: 'exit', code: 0 },
    takesInputs: true,
    // In its first 64 KiB page of linear memory, page 1 of the driver's 4 KiB pages.
    bitflipAddress: 4096 + 17,
    limits: { memoryBytes: 64 * 2 ** 20, cpuShare: 1, epochBudget: EPOCH_EVENTS },
  },
  // A shadow in a child process compiles the module before its first epoch.
  timing: { epochMs: 15_000, quietMs: 200 },
});
