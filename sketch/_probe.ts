// The step of a Bloom filter's double hashing, kept apart so its arithmetic can be tested on every range.

/**
 * `(x + y) mod m` for `0 <= x, y < m <= 2^31`, without a branch: whether the
 * sum wraps is a coin flip no predictor learns, and a mispredicted branch
 * stalls the probes' memory loads queued behind it. `x + y - m` lies in
 * `[-m, m)`, so it fits a signed 32-bit integer; a negative one gets `m` back.
 */
export function nextProbe(x: number, y: number, m: number): number {
  const d = (x + y - m) | 0;
  return (d + ((d >> 31) & m)) | 0;
}
