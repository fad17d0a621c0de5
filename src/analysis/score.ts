// Maps a deviation measured in "how many scales away" to a score in [0,1], 0.5 at `centre`.
// A rational curve d^p / (d^p + c^p) rather than a logistic: it never rounds to exactly 1 in
// double precision for any realistic deviation, so huge deviations still outrank large ones and a
// swept threshold can tell them apart.

export function deviationScore(deviation: number, centre: number, steepness = 3): number {
  if (Number.isNaN(deviation)) return 0;
  const d = Math.abs(deviation) / centre;
  if (d === Infinity) return 1;
  const dp = d ** steepness;
  return dp / (dp + 1);
}
