// NAB's cost profiles (config/profiles.json): what a true positive earns and what a false
// positive and a missed window cost.

import { z } from 'zod';

export interface CostProfile {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

export type ProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

export const PROFILE_NAMES: readonly ProfileName[] = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'];

/** The published profiles, for when no profiles.json is at hand. */
export const NAB_PROFILES: Readonly<Record<ProfileName, CostProfile>> = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
};

const costMatrix = z.object({ tpWeight: z.number(), fpWeight: z.number(), fnWeight: z.number() });
export const profilesFileSchema = z.object({
  standard: z.object({ CostMatrix: costMatrix }),
  reward_low_FP_rate: z.object({ CostMatrix: costMatrix }),
  reward_low_FN_rate: z.object({ CostMatrix: costMatrix }),
});

export function profilesFromFile(json: unknown): Record<ProfileName, CostProfile> {
  const parsed = profilesFileSchema.parse(json);
  return {
    standard: parsed.standard.CostMatrix,
    reward_low_FP_rate: parsed.reward_low_FP_rate.CostMatrix,
    reward_low_FN_rate: parsed.reward_low_FN_rate.CostMatrix,
  };
}
