// Writes answers in protobuf binary directly (the bytes toBinary writes, without its reflection): the hot path of every binary query.

import type {
  Answer,
  Coverage,
  ReadStats,
  Value,
} from "../proto/gen/murmur/v1/query_pb.ts";

const VARINT = 0;
const FIXED64 = 1;
const DELIMITED = 2;

const encoder = new TextEncoder();
const scratch = new DataView(new ArrayBuffer(8));

/**
 * A growable byte buffer with the few protobuf encodings an answer needs.
 * Nested messages reserve one length byte and move their bytes when the
 * length needs more (only messages of 128 bytes and over).
 */
class Writer {
  buf = new Uint8Array(512);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A varint of an unsigned 32-bit number. */
  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** A varint of a 64-bit value given as its unsigned two's complement. */
  uint64(v: bigint): void {
    if (v >= 0n && v <= 0xffffffffn) {
      this.uint32(Number(v));
      return;
    }
    let lo = Number(v & 0xffffffffn);
    let hi = Number((v >> 32n) & 0xffffffffn);
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    // 64 bits as two halves: 7 bits at a time while anything is left.
    while (hi > 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  tag(field: number, wire: number): void {
    this.uint32((field << 3) | wire);
  }

  double(v: number): void {
    this.ensure(8);
    scratch.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.buf[this.pos++] = scratch.getUint8(i);
  }

  string(s: string): void {
    const n = s.length;
    if (n < 128) {
      // All-ASCII strings under 128 characters: a one-byte length, one byte a character.
      this.ensure(1 + n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.pos = p;
        return;
      }
    }
    this.bytes(encoder.encode(s));
  }

  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a length-delimited field's body; returns where its length goes. */
  fork(field: number): number {
    this.tag(field, DELIMITED);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the body started by {@linkcode fork} at `at`. */
  join(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    let size = 1;
    for (let v = len >>> 7; v > 0; v >>>= 7) size++;
    this.ensure(size - 1);
    const buf = this.buf;
    buf.copyWithin(at + size, at + 1, this.pos);
    let v = len;
    let p = at;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
    this.pos += size - 1;
  }

  /** A copy of what was written. */
  done(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.pos);
  }
}

const w = new Writer();

const u64 = (v: bigint) => BigInt.asUintN(64, v);

function stringField(field: number, s: string): void {
  if (s === "") return;
  w.tag(field, DELIMITED);
  w.string(s);
}

function uint32Field(field: number, v: number): void {
  if (v === 0) return;
  w.tag(field, VARINT);
  w.uint32(v);
}

function boolField(field: number, v: boolean): void {
  if (!v) return;
  w.tag(field, VARINT);
  w.uint32(1);
}

function doubleField(field: number, v: number): void {
  // +0 is the default and is left out; -0 is written, as toBinary does.
  if (v === 0 && 1 / v > 0) return;
  w.tag(field, FIXED64);
  w.double(v);
}

function int64Field(field: number, v: bigint): void {
  if (v === 0n) return;
  w.tag(field, VARINT);
  w.uint64(u64(v));
}

function packedInt64(field: number, list: readonly bigint[]): void {
  if (list.length === 0) return;
  const at = w.fork(field);
  for (const v of list) w.uint64(u64(v));
  w.join(at);
}

function value(v: Value): void {
  const kind = v.kind;
  switch (kind.case) {
    case undefined:
      return;
    case "number":
      w.tag(1, FIXED64);
      w.double(kind.value);
      return;
    case "integer":
      w.tag(2, VARINT);
      w.uint64(u64((kind.value << 1n) ^ (kind.value >> 63n)));
      return;
    case "cardinality": {
      const c = kind.value;
      const at = w.fork(3);
      doubleField(1, c.estimate);
      doubleField(2, c.lower);
      doubleField(3, c.upper);
      doubleField(4, c.confidence);
      w.join(at);
      return;
    }
    case "topK": {
      const at = w.fork(4);
      uint32Field(1, kind.value.k);
      for (const e of kind.value.entries) {
        const entry = w.fork(2);
        stringField(1, e.key);
        doubleField(2, e.count);
        w.join(entry);
      }
      w.join(at);
      return;
    }
    case "bloom": {
      const b = kind.value;
      const at = w.fork(5);
      for (const p of b.probes) {
        const probe = w.fork(1);
        stringField(1, p.item);
        boolField(2, p.mightContain);
        w.join(probe);
      }
      if (b.bits !== 0n) {
        w.tag(2, VARINT);
        w.uint64(u64(b.bits));
      }
      uint32Field(3, b.hashes);
      doubleField(4, b.estimatedItems);
      w.join(at);
      return;
    }
    case "json":
      w.tag(6, DELIMITED);
      w.string(kind.value);
      return;
  }
}

function coverage(c: Coverage): void {
  boolField(1, c.allTime);
  stringField(2, c.granularity);
  int64Field(3, c.startMs);
  int64Field(4, c.endMs);
  packedInt64(5, c.buckets);
  packedInt64(6, c.presentBuckets);
}

function stats(s: ReadStats): void {
  uint32Field(1, s.keys);
  uint32Field(2, s.cacheHits);
  uint32Field(3, s.storeReads);
  boolField(4, s.coalesced);
}

/** Writes `v` (when set) with `write` as the message field `field`. */
function nested<T>(
  field: number,
  v: T | undefined,
  write: (v: T) => void,
): void {
  if (v === undefined) return;
  const at = w.fork(field);
  write(v);
  w.join(at);
}

/** Writes `a` as field `field` of the enclosing message. */
function answer(field: number, a: Answer): void {
  const at = w.fork(field);
  stringField(1, a.pipeline);
  stringField(2, a.entity);
  boolField(3, a.present);
  nested(4, a.value, value);
  if (a.data.length > 0) {
    w.tag(5, DELIMITED);
    w.bytes(a.data);
  }
  stringField(6, a.format);
  stringField(7, a.kind);
  nested(8, a.coverage, coverage);
  nested(9, a.stats, stats);
  w.join(at);
}

/** Answers as the repeated field 1 of their response message. */
function answers(list: readonly Answer[]): Uint8Array<ArrayBuffer> {
  w.reset();
  for (const a of list) answer(1, a);
  return w.done();
}

/** A response holding one answer (`Get`, `GetWindow`, `GetRange`), in protobuf binary. */
export function oneAnswerBinary(
  response: { answer?: Answer | undefined },
): Uint8Array<ArrayBuffer> {
  return answers(response.answer === undefined ? [] : [response.answer]);
}

/** A response holding many answers (the `*Many` methods), in protobuf binary. */
export function manyAnswersBinary(
  response: { answers: readonly Answer[] },
): Uint8Array<ArrayBuffer> {
  return answers(response.answers);
}
