// The package's one seeded PRNG (sfc32), for synthetic data, tests and benchmarks: never for secrets.

/**
 * A deterministic source of floats in `[0, 1)` (sfc32, warmed up): the same
 * seed always gives the same sequence.
 *
 * @param seed Any 32-bit integer.
 * @returns A function answering the next float on each call.
 */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162;
  let d = 1;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * A deterministic source of unsigned 32-bit integers, from the same
 * generator as {@linkcode seededRandom}.
 *
 * @param seed Any 32-bit integer.
 * @returns A function answering the next integer in `[0, 2^32)`.
 */
export function seededUint32(seed: number): () => number {
  const random = seededRandom(seed);
  return () => Math.floor(random() * 4294967296);
}
