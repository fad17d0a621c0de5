// Diversity profiles of the QEMU driver: which CPU model, machine type, accelerator and TCG
// threading a replica runs on. A profile's dimensions are the attribution a report names when
// that replica diverges.
import { z } from 'zod';
import type { DiversityProfile } from '../types.js';
import { QemuRequestError } from './errors.js';

const dimensionsSchema = z.object({
  engine: z.literal('qemu').default('qemu'),
  accel: z.enum(['tcg', 'kvm']).default('tcg'),
  machine: z.enum(['q35', 'pc']).default('q35'),
  cpu: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('qemu64'),
  threading: z.enum(['single', 'multi']).default('single'),
});

export type QemuProfile = z.infer<typeof dimensionsSchema>;

function profileOf(name: string, dimensions: Partial<QemuProfile>): DiversityProfile {
  const full = dimensionsSchema.parse(dimensions);
  return { name, dimensions: { ...full } };
}

/** The profiles the driver offers; the first is the primary's default (what rr needs). */
export function qemuProfiles(kvmWorks: boolean): DiversityProfile[] {
  const profiles = [
    profileOf('qemu/tcg-q35-qemu64', {}),
    profileOf('qemu/tcg-q35-max', { cpu: 'max' }),
    profileOf('qemu/tcg-pc-qemu64', { machine: 'pc' }),
    profileOf('qemu/mttcg-q35-qemu64', { threading: 'multi' }),
  ];
  if (kvmWorks) profiles.push(profileOf('qemu/kvm-q35-host', { accel: 'kvm', cpu: 'host' }));
  return profiles;
}

/** Reads a profile's QEMU settings; a foreign or malformed profile is a request error. */
export function parseProfile(profile: DiversityProfile): QemuProfile {
  const parsed = dimensionsSchema.safeParse(profile.dimensions);
  if (!parsed.success) {
    throw new QemuRequestError(`profile ${profile.name} is not a QEMU profile: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
