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

/**
 * `x mod m` for `0 <= x < 2^32` and `1 <= m <= 2^31`, given `inverse = 1 / m`:
 * a multiply instead of the division `%` compiles to. The quotient from the
 * double product is off by at most one, which the remainder's range check
 * repairs; every product is an exact integer below 2^53.
 */
export function modOf(x: number, m: number, inverse: number): number {
  const r = x - Math.floor(x * inverse) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}
