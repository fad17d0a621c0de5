// Deterministic pseudo-random fill for benchmark memory (xorshift32): same bytes every run.

export function fillRandom(bytes: Uint8Array, seed: number): void {
  let x = seed | 1;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}
