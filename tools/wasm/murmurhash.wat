;; MurmurHash64A (Redis's HLL element hash) with the 64-bit integer multiplies
;; that JavaScript lacks. Two ways in:
;;   - `hash` / `hll`: the input bytes sit in linear memory from offset 16.
;;     Memory must hold 8 readable bytes past the input (the tail is loaded as
;;     one 64-bit word and masked), which the JavaScript side guarantees.
;;   - `hash16` / `hll16`: an input of at most 16 bytes arrives as four
;;     little-endian 32-bit words (bytes past the length are zero), so a short
;;     item needs no store into memory at all.
;; `hash` and `hash16` store the full 64-bit hash (little endian) at bytes 0..8.
(module
  (memory (export "memory") 1)

  ;; The start value: seed ^ (len * m).
  (func $start (param $len i32) (param $seed i32) (result i64)
    (i64.xor
      (i64.extend_i32_u (local.get $seed))
      (i64.mul (i64.extend_i32_u (local.get $len)) (i64.const 0xc6a4a7935bd1e995))))

  ;; One 8-byte block k mixed into h.
  (func $block (param $h i64) (param $k i64) (result i64)
    (local.set $k (i64.mul (local.get $k) (i64.const 0xc6a4a7935bd1e995)))
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 47))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xc6a4a7935bd1e995)))
    (i64.mul (i64.xor (local.get $h) (local.get $k)) (i64.const 0xc6a4a7935bd1e995)))

  ;; The final avalanche.
  (func $finish (param $h i64) (result i64)
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 47))))
    (local.set $h (i64.mul (local.get $h) (i64.const 0xc6a4a7935bd1e995)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 47))))

  (func $mm64a (param $len i32) (param $seed i32) (result i64)
    (local $h i64) (local $p i32) (local $end i32) (local $tail i32)
    (local.set $h (call $start (local.get $len) (local.get $seed)))
    (local.set $p (i32.const 16))
    (local.set $end (i32.add (i32.const 16) (i32.and (local.get $len) (i32.const -8))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (call $block (local.get $h) (i64.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $blocks)))
    (local.set $tail (i32.and (local.get $len) (i32.const 7)))
    (if (local.get $tail)
      (then
        (local.set $h
          (i64.mul
            (i64.xor
              (local.get $h)
              (i64.and
                (i64.load (local.get $p))
                (i64.sub
                  (i64.shl (i64.const 1) (i64.extend_i32_u (i32.shl (local.get $tail) (i32.const 3))))
                  (i64.const 1))))
            (i64.const 0xc6a4a7935bd1e995)))))
    (call $finish (local.get $h)))

  ;; The same hash of len (0..16) bytes given as words w0..w3, zero past len.
  (func $mm64a16 (param $len i32) (param $seed i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (result i64)
    (local $h i64) (local $lo i64) (local $hi i64) (local $rest i32)
    (local.set $h (call $start (local.get $len) (local.get $seed)))
    (local.set $lo
      (i64.or (i64.extend_i32_u (local.get $w0))
        (i64.shl (i64.extend_i32_u (local.get $w1)) (i64.const 32))))
    (local.set $hi
      (i64.or (i64.extend_i32_u (local.get $w2))
        (i64.shl (i64.extend_i32_u (local.get $w3)) (i64.const 32))))
    (local.set $rest (local.get $len))
    (if (i32.ge_u (local.get $len) (i32.const 8))
      (then
        (local.set $h (call $block (local.get $h) (local.get $lo)))
        (local.set $lo (local.get $hi))
        (local.set $rest (i32.sub (local.get $len) (i32.const 8)))
        (if (i32.eq (local.get $len) (i32.const 16))
          (then
            (local.set $h (call $block (local.get $h) (local.get $hi)))
            (local.set $rest (i32.const 0))))))
    (if (local.get $rest)
      (then
        (local.set $h
          (i64.mul (i64.xor (local.get $h) (local.get $lo)) (i64.const 0xc6a4a7935bd1e995)))))
    (call $finish (local.get $h)))

  ;; The hash of memory[16..16+len): low 32 bits returned, all 64 bits stored at 0.
  (func (export "hash") (param $len i32) (param $seed i32) (result i32)
    (local $h i64)
    (local.set $h (call $mm64a (local.get $len) (local.get $seed)))
    (i64.store (i32.const 0) (local.get $h))
    (i32.wrap_i64 (local.get $h)))

  ;; The hash of a short input given as words: low 32 bits returned, all 64 stored at 0.
  (func (export "hash16") (param $len i32) (param $seed i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (result i32)
    (local $h i64)
    (local.set $h
      (call $mm64a16 (local.get $len) (local.get $seed)
        (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
    (i64.store (i32.const 0) (local.get $h))
    (i32.wrap_i64 (local.get $h)))

  ;; Redis's hllPatLen() of a hash: (run length << 14) | register index.
  (func $patLen (param $h i64) (result i32)
    (i32.or
      (i32.shl
        (i32.wrap_i64
          (i64.add
            (i64.ctz
              (i64.or (i64.shr_u (local.get $h) (i64.const 14)) (i64.const 0x4000000000000)))
            (i64.const 1)))
        (i32.const 14))
      (i32.and (i32.wrap_i64 (local.get $h)) (i32.const 16383))))

  ;; Redis's hllPatLen() of memory[16..16+len) with the HLL seed.
  (func (export "hll") (param $len i32) (result i32)
    (call $patLen (call $mm64a (local.get $len) (i32.const 0xadc83b19))))

  ;; Redis's hllPatLen() of a short input given as words, with the HLL seed.
  (func (export "hll16") (param $len i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32) (result i32)
    (call $patLen
      (call $mm64a16 (local.get $len) (i32.const 0xadc83b19)
        (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))))
