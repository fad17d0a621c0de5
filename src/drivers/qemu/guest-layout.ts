// Where things sit in the guest's physical memory, read from the kernel ELF the guest boots
// (no KASLR: the kernel lands at its link address). Fault-injection tests need a spot the guest
// never rewrites and does not execute, so a flipped bit stays put until the next epoch compares it
// and the guest keeps running: the kernel's BTF type data is read only by BPF tooling.
import { readFileSync } from 'node:fs';
import { GuestImageError } from './errors.js';
import type { GuestImage } from './guest-build.js';

/** x86-64 kernel text mapping: virtual = physical + this. */
const kernelMapBase = 0xffffffff80000000n;

interface Section {
  readonly name: string;
  readonly address: bigint;
  readonly size: bigint;
}

function sections(elf: Buffer): Section[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new GuestImageError('the guest kernel is not a 64-bit ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const namesIndex = elf.readUInt16LE(0x3e);
  const header = (i: number) => shoff + i * entrySize;
  const namesOffset = Number(elf.readBigUInt64LE(header(namesIndex) + 0x18));
  const list: Section[] = [];
  for (let i = 0; i < count; i++) {
    const at = header(i);
    const nameStart = namesOffset + elf.readUInt32LE(at);
    const name = elf.toString('latin1', nameStart, elf.indexOf(0, nameStart));
    list.push({ name, address: elf.readBigUInt64LE(at + 0x10), size: elf.readBigUInt64LE(at + 0x20) });
  }
  return list;
}

/** A guest-physical address in the middle of the kernel's BTF data: never written, rarely read. */
export function quietKernelAddress(image: GuestImage): number {
  const btf = sections(readFileSync(image.kernel)).find((section) => section.name === '.BTF');
  if (btf === undefined || btf.address < kernelMapBase)
    throw new GuestImageError('the guest kernel has no .BTF section to place a fault in');
  return Number(btf.address - kernelMapBase + btf.size / 2n);
}
