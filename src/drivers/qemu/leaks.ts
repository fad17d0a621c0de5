// Finds QEMU processes started from a runtime directory: the proof that nothing was left behind.
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of qemu-system processes whose command line names `dir`. */
export function qemuProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('qemu-system') && cmdline.includes(dir)) pids.push(Number(entry));
  }
  return pids;
}
