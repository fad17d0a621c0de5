// The QEMU command line of one replica. RAM lives in a memory-backend-file on tmpfs so the host
// reads, hashes and flips guest pages directly (file offset = guest physical address).
import type { GuestImage } from './guest-build.js';
import type { QemuProfile } from './profile.js';

/** Kernel parameters that remove boot-time randomness (KASLR, shuffles): fewer benign diffs. */
const quietKernel = 'console=ttyS0 quiet nokaslr norandmaps randomize_kstack_offset=off page_alloc.shuffle=0 panic=-1';

/**
 * Guest time under record/replay is a fixed function of the instruction count. With `shift=auto`
 * QEMU re-tunes the ns-per-instruction rate from host time (a timer of the host's clock), and a
 * halted vCPU's clock is warped forward by host time too: QEMU 7.2 then logged virtual-timer
 * checkpoints a replayer could not reach, and it stalled for good (about 1 epoch in 300, and at
 * the first timer tick of every recording that starts from a snapshot, so rollback never replayed).
 * A fixed rate (32 ns per instruction; a recording guest runs ~400 M instructions/s here, so its
 * clock runs ~13x wall time) with a guest that polls instead of halting (`idle=poll`) leaves host
 * time out of guest time: 1,100 stress epochs and 11 lockstep rollbacks without a stall, measured
 * in session 4. Each half alone was not enough: `shift=5` alone stalled in a stress run,
 * `idle=poll` alone in a rollback.
 */
const replayClock = 'shift=5';
const replayKernel = 'idle=poll';

export interface RecordReplay {
  readonly mode: 'record' | 'replay';
  readonly file: string;
  /** Record only: save this internal snapshot as the recording starts (replayers load it). */
  readonly startSnapshot?: string;
}

export interface LaunchSpec {
  readonly image: GuestImage;
  readonly profile: QemuProfile;
  readonly memoryMiB: number;
  readonly maxCpus: number;
  readonly ramFile: string;
  readonly qmpSocket: string;
  readonly serialFile: string;
  readonly overlay: string;
  /** Lockstep: the primary records, shadows replay its log. Absent: free-running. */
  readonly rr?: RecordReplay;
  /** Internal snapshot of the overlay to start from (restore). */
  readonly loadvm?: string;
  /** Extra kernel parameters (the guest's workload reads shadowvm.rounds=N, shadowvm.size=N). */
  readonly kernelArgs: readonly string[];
  /** Free-running: the VM's NIC and how its packets are mirrored (see `nicArgs`). */
  readonly nic?: NicSpec;
  /** Start empty and wait for a migration stream (`migrate-incoming`): a clone. */
  readonly incoming?: boolean;
}

/**
 * A free-running replica's NIC. The primary's only way in is a port forwarded from the host's
 * loopback (restrict=on: the guest reaches nothing, not even the host); both directions are
 * mirrored to the host's hub. A shadow's user netdev is restricted too and never sees a packet:
 * what its guest sends is redirected to the hub, and its input comes only from the hub. (It has
 * a user netdev at all because the primary's migration stream carries slirp state to load.)
 */
export type NicSpec =
  | { readonly role: 'primary'; readonly hostPort: number; readonly inbound: string; readonly outbound: string }
  | { readonly role: 'shadow'; readonly inbound: string; readonly outbound: string };

/** Every replica has the same MAC: the shadows are clones and must look like the primary. */
const guestMac = '52:54:00:5e:00:01';
/** Port of the guest's web server. */
const guestHttpPort = 80;

function nicArgs(nic: NicSpec): string[] {
  const chardevs = ['-chardev', `socket,id=net-in,path=${nic.inbound}`, '-chardev', `socket,id=net-out,path=${nic.outbound}`];
  if (nic.role === 'primary') {
    return [
      '-netdev',
      `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${nic.hostPort}-:${guestHttpPort}`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=${guestMac}`,
      ...chardevs,
      // A netdev's tx queue carries what it sends to the guest, its rx queue what the guest sends.
      '-object',
      'filter-mirror,id=mirror-in,netdev=n0,queue=tx,outdev=net-in',
      '-object',
      'filter-mirror,id=mirror-out,netdev=n0,queue=rx,outdev=net-out',
    ];
  }
  return [
    '-netdev',
    'user,id=n0,restrict=on',
    '-device',
    `virtio-net-pci,netdev=n0,mac=${guestMac}`,
    ...chardevs,
    // Sequence numbers are shifted by the hub, not by filter-rewriter (see net/hub.ts).
    '-object',
    'filter-redirector,id=feed,netdev=n0,queue=tx,indev=net-in',
    '-object',
    'filter-redirector,id=capture,netdev=n0,queue=rx,outdev=net-out',
  ];
}

export function qemuArgs(spec: LaunchSpec): string[] {
  const { profile } = spec;
  const accel = profile.accel === 'kvm' ? 'kvm' : `tcg,thread=${spec.rr ? 'single' : profile.threading}`;
  // A free-running VM that boots may be cloned while it runs (clone.ts): QEMU 7.2 first faults in
  // every page of guest RAM to write-protect it, ~150 ms for 256 MiB on a fresh mapping, and that
  // would fall inside the source's pause. Preallocated at launch, the mapping is already complete.
  const prealloc = !spec.rr && !spec.incoming ? ',prealloc=on' : '';
  const args = [
    '-machine',
    `${profile.machine},memory-backend=mem`,
    '-accel',
    accel,
    '-cpu',
    profile.cpu,
    '-object',
    `memory-backend-file,id=mem,size=${spec.memoryMiB}M,mem-path=${spec.ramFile},share=on${prealloc}`,
    '-m',
    `${spec.memoryMiB}M`,
    '-smp',
    `1,maxcpus=${spec.maxCpus}`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-no-shutdown',
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-serial',
    `file:${spec.serialFile}`,
    '-qmp',
    `unix:${spec.qmpSocket},server=on,wait=off`,
    '-kernel',
    spec.image.kernel,
    '-initrd',
    spec.image.initrd,
    '-append',
    [quietKernel, ...(spec.rr ? [replayKernel] : []), ...spec.kernelArgs].join(' '),
    '-device',
    'virtio-balloon-pci,id=balloon0',
    '-S',
  ];
  if (spec.rr) {
    // Block I/O must go through blkreplay so that completions happen at recorded points.
    args.push(
      '-icount',
      `${replayClock},rr=${spec.rr.mode},rrfile=${spec.rr.file}${spec.rr.startSnapshot ? `,rrsnapshot=${spec.rr.startSnapshot}` : ''}`,
      '-drive',
      `file=${spec.overlay},if=none,id=disk-direct,node-name=ov`,
      '-drive',
      'driver=blkreplay,if=none,image=disk-direct,id=disk0',
    );
  } else {
    args.push('-drive', `file=${spec.overlay},if=none,id=disk0,node-name=ov`);
  }
  args.push('-device', 'virtio-blk-pci,drive=disk0');
  if (spec.nic) args.push(...nicArgs(spec.nic));
  if (spec.loadvm !== undefined) args.push('-loadvm', spec.loadvm);
  if (spec.incoming) args.push('-incoming', 'defer');
  return args;
}
