// The QEMU driver in lockstep mode: the computation's primary records, its shadows replay the
// recording and agree with it page for page (exact agreement). It holds the computation's
// recordings, a new one after each rollback of the primary.
import type { Capability, DiversityProfile, Endpoint, VmRequest } from '../types.js';
import { CAPABILITIES, QemuDriver, type QemuDriverOptions } from './driver.js';
import { QemuRequestError } from './errors.js';
import { LockstepVm } from './lockstep-vm.js';
import { Recordings } from './recordings.js';

export class LockstepDriver extends QemuDriver<LockstepVm> {
  readonly agreement = 'exact';
  readonly capabilities: ReadonlySet<Capability> = CAPABILITIES.lockstep;
  private readonly recordings: Recordings;

  constructor(options: QemuDriverOptions = {}) {
    super(options);
    this.recordings = new Recordings(this.runtime);
  }

  /** Replay needs the recorder's exact machine: lockstep shadows cannot differ in hardware. */
  override profiles(): readonly DiversityProfile[] {
    return super.profiles().slice(0, 1);
  }

  async endpoints(): Promise<readonly Endpoint[]> {
    return [];
  }

  async createVm(request: VmRequest): Promise<LockstepVm> {
    if (request.restore === undefined) {
      // A fresh primary starts the computation's first recording; fresh shadows follow it.
      if (request.role === 'primary') {
        if (this.recordings.latest !== undefined)
          throw new QemuRequestError('this lockstep computation already has a primary; restore it instead');
        this.recordings.open(0);
      } else if (this.recordings.latest === undefined) {
        throw new QemuRequestError('create the lockstep primary before its shadows');
      }
    }
    return this.track(new LockstepVm({ ...this.vmConfig(request), recordings: this.recordings, siblings: () => this.vms }));
  }

  protected release(): void {
    this.recordings.fail('driver closed');
  }
}
