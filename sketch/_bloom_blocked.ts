// Sizing of the blocked Bloom layout: every item's probes fall in one
// 512-bit block (64 bytes, one cache line), so an add or a lookup touches one
// block instead of k scattered bytes. Blocks fill unevenly (their loads are
// Poisson-distributed), so for the same rate a blocked filter needs a few
// percent more bits than a standard one (Putze, Sanders and Singler, "Cache-,
// Hash- and Space-Efficient Bloom Filters", 2007).

/** Bits per block: one 64-byte cache line. */
export const BLOCK_BITS = 512;

/**
 * The false-positive rate of a blocked filter of `bits` bits (a multiple of
 * BLOCK_BITS) holding `items` items, each setting `probes` distinct bits of
 * one uniformly chosen block: the Poisson mixture over a block's load j of
 * (1 - (1 - probes/512)^j)^probes (probes taken as distinct;
 * measured rates of the mixed probe sequence in bloom.ts match it).
 */
export function blockedFalsePositiveRate(
  items: number,
  bits: number,
  probes: number,
): number {
  const load = items / (bits / BLOCK_BITS);
  const untouched = 1 - probes / BLOCK_BITS;
  const top = Math.ceil(load + 12 * Math.sqrt(load) + 20);
  const logLoad = Math.log(load);
  // log P(j) = -load + j·ln(load) - ln(j!), built up term by term (no underflow
  // trouble: the early terms of a large load are negligible anyway).
  let logP = -load;
  let rate = 0;
  for (let j = 1; j <= top; j++) {
    logP += logLoad - Math.log(j);
    rate += Math.exp(logP) * (1 - untouched ** j) ** probes;
  }
  return rate;
}

/**
 * The smallest multiple of BLOCK_BITS, from `standardBits` upward in steps of
 * about 2 %, at which a blocked filter of `items` items and `probes` probes
 * keeps its false-positive rate at or below `rate`. Stops past `limit`.
 */
export function blockedBits(
  items: number,
  rate: number,
  probes: number,
  standardBits: number,
  limit: number,
): number {
  let bits = Math.max(
    BLOCK_BITS,
    Math.ceil(standardBits / BLOCK_BITS) * BLOCK_BITS,
  );
  while (
    bits <= limit && blockedFalsePositiveRate(items, bits, probes) > rate
  ) {
    bits = Math.ceil(bits * 1.02 / BLOCK_BITS) * BLOCK_BITS;
  }
  return bits;
}

/**
 * The block of a 32-bit hash `h` among `blocks` (at most 2^22) blocks:
 * floor((h >>> 1) · blocks / 2^31), Lemire's multiply-shift range reduction
 * on the top 31 bits (no division), exact in doubles since the product stays
 * below 2^53.
 */
export function blockOf(h: number, blocks: number): number {
  return Math.floor((h >>> 1) * blocks / 2147483648);
}
