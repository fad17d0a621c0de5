// The QEMU command line of one replica. RAM lives in a memory-backend-file on tmpfs so the host
// reads, hashes and flips guest pages directly (file offset = guest physical address).
import type { GuestImage } from './guest-build.js';
import type { QemuProfile } from './profile.js';

/** Kernel parameters that remove boot-time randomness (KASLR, shuffles): fewer benign diffs. */
const quietKernel = 'console=ttyS0 quiet nokaslr norandmaps randomize_kstack_offset=off page_alloc.shuffle=0 panic=-1';

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
}

export function qemuArgs(spec: LaunchSpec): string[] {
  const { profile } = spec;
  const accel = profile.accel === 'kvm' ? 'kvm' : `tcg,thread=${spec.rr ? 'single' : profile.threading}`;
  const args = [
    '-machine', `${profile.machine},memory-backend=mem`,
    '-accel', accel,
    '-cpu', profile.cpu,
    '-object', `memory-backend-file,id=mem,size=${spec.memoryMiB}M,mem-path=${spec.ramFile},share=on`,
    '-m', `${spec.memoryMiB}M`,
    '-smp', `1,maxcpus=${spec.maxCpus}`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-no-shutdown',
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-serial', `file:${spec.serialFile}`,
    '-qmp', `unix:${spec.qmpSocket},server=on,wait=off`,
    '-kernel', spec.image.kernel,
    '-initrd', spec.image.initrd,
    '-append', [quietKernel, ...spec.kernelArgs].join(' '),
    '-device', 'virtio-balloon-pci,id=balloon0',
    '-S',
  ];
  if (spec.rr) {
    // Block I/O must go through blkreplay so that completions happen at recorded points.
    args.push(
      '-icount', `shift=auto,rr=${spec.rr.mode},rrfile=${spec.rr.file}${spec.rr.startSnapshot ? `,rrsnapshot=${spec.rr.startSnapshot}` : ''}`,
      '-drive', `file=${spec.overlay},if=none,id=disk-direct,node-name=ov`,
      '-drive', 'driver=blkreplay,if=none,image=disk-direct,id=disk0',
    );
  } else {
    args.push('-drive', `file=${spec.overlay},if=none,id=disk0,node-name=ov`);
  }
  args.push('-device', 'virtio-blk-pci,drive=disk0');
  if (spec.loadvm !== undefined) args.push('-loadvm', spec.loadvm);
  return args;
}
