;; MurmurHash64A (Redis's HLL element hash) over linear memory, with 64-bit
;; integer multiplies that JavaScript lacks. Input bytes start at offset 16;
;; bytes 0..8 receive the full 64-bit hash (little endian) of `hash`.
;; Memory must hold 8 readable bytes past the input (the tail is loaded as one
;; 64-bit word and masked), which the JavaScript side guarantees.
(module
  (memory (export "memory") 1)

  (func $mm64a (param $len i32) (param $seed i32) (result i64)
    (local $h i64) (local $k i64) (local $p i32) (local $end i32) (local $tail i32)
    (local.set $h
      (i64.xor
        (i64.extend_i32_u (local.get $seed))
        (i64.mul (i64.extend_i32_u (local.get $len)) (i64.const 0xc6a4a7935bd1e995))))
    (local.set $p (i32.const 16))
    (local.set $end (i32.add (i32.const 16) (i32.and (local.get $len) (i32.const -8))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k (i64.mul (i64.load (local.get $p)) (i64.const 0xc6a4a7935bd1e995)))
        (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 47))))
        (local.set $k (i64.mul (local.get $k) (i64.const 0xc6a4a7935bd1e995)))
        (local.set $h
          (i64.mul (i64.xor (local.get $h) (local.get $k)) (i64.const 0xc6a4a7935bd1e995)))
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
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 47))))
    (local.set $h (i64.mul (local.get $h) (i64.const 0xc6a4a7935bd1e995)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 47))))

  ;; The hash of memory[16..16+len): low 32 bits returned, all 64 bits stored at 0.
  (func (export "hash") (param $len i32) (param $seed i32) (result i32)
    (local $h i64)
    (local.set $h (call $mm64a (local.get $len) (local.get $seed)))
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
    (call $patLen (call $mm64a (local.get $len) (i32.const 0xadc83b19)))))
