// The fake driver: in-memory replicas of the fake program (script.ts), for tests of everything
// above the drivers. Registered as the driver kind "fake" only by the tests that import it.

import { z } from 'zod';
import { registerDriverKind } from '../open.js';
import type { Capability, DiversityProfile, Driver, Endpoint, Vm, VmRequest } from '../types.js';
import { type FakeScript, type FakeScriptInput, FakeScriptSchema } from './script.js';
import { FakeVm } from './vm.js';

/** Two profiles, so attribution to a configuration can be tested. */
export const FAKE_PROFILES: readonly DiversityProfile[] = [
  { name: 'fake/a', dimensions: { engine: 'fake', variant: 'a' } },
  { name: 'fake/b', dimensions: { engine: 'fake', variant: 'b' } },
];

export class FakeDriver implements Driver {
  readonly name = 'fake';
  readonly agreement = 'exact';
  readonly capabilities: ReadonlySet<Capability>;
  readonly script: FakeScript;
  /** Every VM the driver created, in order (tests look at them). */
  readonly vms: FakeVm[] = [];
  closed = false;

  constructor(script: FakeScriptInput = {}) {
    this.script = FakeScriptSchema.parse(script);
    this.capabilities = new Set(this.script.capabilities);
  }

  profiles(): readonly DiversityProfile[] {
    return FAKE_PROFILES;
  }

  async endpoints(): Promise<readonly Endpoint[]> {
    return [];
  }

  async createVm(request: VmRequest): Promise<Vm> {
    if (!FAKE_PROFILES.some((p) => p.name === request.profile.name)) throw new Error(`unknown fake profile ${request.profile.name}`);
    const vm = new FakeVm(this, this.script, request);
    this.vms.push(vm);
    return vm;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Only the VMs still running: a second kill of an ended VM is the kill case's to test, not close's.
    await Promise.all(this.vms.filter((vm) => !vm.ended).map((vm) => vm.kill('driver closed')));
  }
}

export const FakeSpecSchema = z.strictObject({ kind: z.literal('fake'), script: FakeScriptSchema });

/** Makes `{ kind: 'fake', script }` openable through drivers/open.ts (tests only). */
export function registerFakeDriver(): void {
  registerDriverKind({
    kind: 'fake',
    schema: FakeSpecSchema,
    async open(spec) {
      return { driver: new FakeDriver(spec.script), image: { name: 'fake', reference: 'fake', digest: 'fake' } };
    },
  });
}
