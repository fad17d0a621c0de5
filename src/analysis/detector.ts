// The contract every anomaly detector honours, built-in or plug-in: one value in, one score out,
// and a small JSON state so a detector can travel with a checkpoint and resume bit-for-bit.

/** Plain JSON, so states survive JSON.stringify/parse unchanged (no NaN, no Infinity). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What `Detector.save()` returns: tagged with the detector's name so a mismatch is caught. */
export interface DetectorState {
  readonly detector: string;
  readonly data: { readonly [key: string]: JsonValue };
}

export interface Detector {
  readonly name: string;
  /** One point in (value, optional timestamp ms), anomaly score in [0,1] out. Never sees the future. */
  update(value: number, timestampMs?: number): number;
  /** Bounded-size plain JSON state; restore(save()) continues with identical scores. */
  save(): DetectorState;
  restore(state: DetectorState): void;
}

export type DetectorFactory = (options?: Record<string, unknown>) => Detector;

/** A detector that also extrapolates its series, e.g. to say "memory exhausted in 40 epochs". */
export interface Forecaster extends Detector {
  /** Expected value `steps` points ahead of the last one seen. */
  forecast(steps: number): number;
  /** Points until the forecast reaches `threshold` (0 if already there); null if it never will. */
  forecastCrossing(threshold: number): { epochs: number } | null;
}
