// The QEMU driver in free mode (COLO-style): replicas run free beside each other and drift
// benignly (drift agreement). It holds the mirror hub that feeds the primary's network input to
// the shadows, and starts each shadow as a clone of the primary.
import { freeLoopbackPort } from '../../free-port.js';
import type { Capability, DiversityProfile, Endpoint, VmEvents, VmRequest } from '../types.js';
import { CAPABILITIES, QemuDriver } from './driver.js';
import { QemuRequestError } from './errors.js';
import { FreeRunner, type VmNetwork } from './free-runner.js';
import type { NicSpec } from './launch.js';
import { fileStem } from './machine.js';
import { MirrorHub } from './net/hub.js';
import { parseProfile } from './profile.js';

export class FreeDriver extends QemuDriver<FreeRunner> {
  readonly agreement = 'drift';
  readonly capabilities: ReadonlySet<Capability> = CAPABILITIES.free;
  /** The primary's network input, mirrored to the shadows. */
  private readonly hub = new MirrorHub();
  private hostPort: number | undefined;
  /** The primary, once it has reported an epoch (paused at its barrier: clonable). */
  private primary: { readonly profile: DiversityProfile; readonly ready: Promise<FreeRunner> } | undefined;

  /** The host port (on 127.0.0.1) forwarded to the primary guest's web server. */
  async httpPort(): Promise<number> {
    this.hostPort ??= await freeLoopbackPort();
    return this.hostPort;
  }

  async endpoints(): Promise<readonly Endpoint[]> {
    const url = `http://127.0.0.1:${await this.httpPort()}`;
    return [{ name: 'http', url, note: "the guest's HTTP server (port 80); requests are mirrored to the shadows" }];
  }

  /**
   * A free-running VM's NIC and events. The primary's first report makes it clonable; a shadow
   * whose hardware matches the primary's starts as a clone of it (migration needs the same machine,
   * CPU model and accelerator), others boot on their own and see mirrored input from then on.
   * A restored shadow starts from the checkpoint's snapshot: that is exactly the state the
   * restored primary starts from, without waiting for the primary to be restored first.
   */
  async createVm(request: VmRequest): Promise<FreeRunner> {
    const hub = this.hub;
    const { id } = request;
    const stem = fileStem(id);
    const sockets = { inbound: this.runtime.file(`${stem}.net-in`), outbound: this.runtime.file(`${stem}.net-out`) };
    let nic: NicSpec;
    let cloneOf: (() => Promise<FreeRunner>) | undefined;
    let clonable: Deferred<FreeRunner> | undefined;
    const isPrimary = request.role === 'primary';
    if (isPrimary) {
      await hub.attachPrimary(id, sockets);
      nic = { role: 'primary', hostPort: await this.httpPort(), ...sockets };
      clonable = deferred<FreeRunner>();
      this.primary = { profile: request.profile, ready: clonable.promise };
    } else {
      await hub.attachShadow(id, sockets);
      nic = { role: 'shadow', ...sockets };
      const primary = this.primary;
      if (request.restore === undefined && primary && sameHardware(primary.profile, request.profile)) cloneOf = () => primary.ready;
    }
    const { events } = request;
    // The events are the VM's own: they tell the hub and the clones which VM reported.
    let vm: FreeRunner | undefined;
    const wrapped: VmEvents = {
      ...events,
      onEpoch: (report) => {
        if (vm) clonable?.resolve(vm);
        events.onEpoch(isPrimary ? report : { ...report, pairedOutputs: hub.takePaired(id) });
      },
      onGone: (end) => {
        clonable?.reject(new QemuRequestError(`primary ${id} ended before a shadow could be cloned from it`));
        hub.detach(id);
        events.onGone(end);
      },
    };
    const network: VmNetwork = { nic, activate: () => hub.activate(id), corruptNextInput: () => hub.corruptNextInput(id) };
    vm = new FreeRunner({ ...this.vmConfig({ ...request, events: wrapped }), network, ...(cloneOf ? { cloneOf } : {}) });
    return this.track(vm);
  }

  protected release(): void {
    this.hub.close();
  }
}

/** Clones need the primary's machine, CPU model and accelerator; TCG threading may differ. */
function sameHardware(a: DiversityProfile, b: DiversityProfile): boolean {
  const x = parseProfile(a);
  const y = parseProfile(b);
  return x.accel === y.accel && x.machine === y.machine && x.cpu === y.cpu;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting to clone: a primary that ends early is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
