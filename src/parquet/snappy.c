/*
 * Snappy compression of 64 KiB fragments for WebAssembly: the algorithm of snappy-js.ts, byte for
 * byte (tests/snappy.test.ts compares the two), compiled by scripts/snappy-wasm.sh into
 * snappy-wasm.ts. No libc: clang's builtins become WebAssembly's memory.copy and memory.fill.
 * compress_values() is the twin of snappy-js.ts' compressValuesJs() (pages of values that do not
 * compress, snappy-values.ts).
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint32_t u32;

#define BLOCK_SIZE 65536
#define MAX_TABLE_BITS 14
/* No match search within the last 15 bytes of a fragment (the reference's kInputMarginBytes). */
#define INPUT_MARGIN 15

/* Positions relative to the fragment's start: 16 bits suffice as fragments are 64 KiB. */
static uint16_t table[1 << MAX_TABLE_BITS];

static inline u32 load32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

static inline u32 hash(u32 v, int shift) { return (v * 0x1e35a7bdu) >> shift; }

static u8 *emit_literal(u8 *op, const u8 *src, u32 len) {
  if (len <= 60) {
    *op++ = (len - 1) << 2;
  } else if (len <= 256) {
    *op++ = 60 << 2;
    *op++ = len - 1;
  } else {
    *op++ = 61 << 2;
    *op++ = (len - 1) & 0xff;
    *op++ = (len - 1) >> 8;
  }
  __builtin_memcpy(op, src, len);
  return op + len;
}

static u8 *emit_copy_at_most_64(u8 *op, u32 offset, u32 len) {
  if (len < 12 && offset < 2048) {
    op[0] = 1 | ((len - 4) << 2) | ((offset >> 8) << 5);
    op[1] = offset & 0xff;
    return op + 2;
  }
  op[0] = 2 | ((len - 1) << 2);
  op[1] = offset & 0xff;
  op[2] = offset >> 8;
  return op + 3;
}

/* 64-byte copies while at least 68 remain, so that the last is never shorter than 4. */
static u8 *emit_copy(u8 *op, u32 offset, u32 len) {
  while (len >= 68) {
    op = emit_copy_at_most_64(op, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    op = emit_copy_at_most_64(op, offset, 60);
    len -= 60;
  }
  return emit_copy_at_most_64(op, offset, len);
}

/* How many bytes a[...] and b[...] (b < a) have in common, up to end: 8 at a time. */
static u32 match_length(const u8 *a, const u8 *b, const u8 *end) {
  const u8 *from = a;
  while (a + 8 <= end) {
    uint64_t x, y;
    __builtin_memcpy(&x, a, 8);
    __builtin_memcpy(&y, b, 8);
    if (x != y) return (u32)(a - from) + (__builtin_ctzll(x ^ y) >> 3);
    a += 8;
    b += 8;
  }
  while (a < end && *a == *b) {
    a++;
    b++;
  }
  return a - from;
}

static u8 *compress_fragment(const u8 *start, const u8 *end, u8 *op) {
  const u8 *next_emit = start;
  u32 size = end - start;
  if (size < INPUT_MARGIN) return size > 0 ? emit_literal(op, start, size) : op;
  /* the table no larger than the fragment: small pages do not pay for clearing 32 KiB */
  int bits = 8;
  while (bits < MAX_TABLE_BITS && (1u << bits) < size) bits++;
  int shift = 32 - bits;
  __builtin_memset(table, 0, sizeof(table[0]) << bits);
  const u8 *ip_limit = end - INPUT_MARGIN;
  const u8 *ip = start + 1;
  u32 next = load32(ip);
  for (;;) {
    /* after 32 misses every other position is tried, after 64 every third... */
    u32 skip = 32;
    const u8 *candidate;
    for (;;) {
      u32 h = hash(next, shift);
      u32 step = skip++ >> 5;
      const u8 *next_ip = ip + step;
      if (next_ip > ip_limit) goto emit_remainder;
      candidate = start + table[h];
      table[h] = ip - start;
      if (next == load32(candidate)) break;
      ip = next_ip;
      next = load32(ip);
    }
    op = emit_literal(op, next_emit, ip - next_emit);
    /* copies for as long as the position right after one starts another match */
    for (;;) {
      u32 matched = 4 + match_length(ip + 4, candidate + 4, end);
      op = emit_copy(op, ip - candidate, matched);
      ip += matched;
      next_emit = ip;
      if (ip >= ip_limit) goto emit_remainder;
      table[hash(load32(ip - 1), shift)] = ip - 1 - start;
      u32 cur = load32(ip);
      u32 h = hash(cur, shift);
      candidate = start + table[h];
      table[h] = ip - start;
      if (cur != load32(candidate)) break;
    }
    ip++;
    next = load32(ip);
  }
emit_remainder:
  if (next_emit < end) op = emit_literal(op, next_emit, end - next_emit);
  return op;
}

/* Compresses input[0, length) fragment by fragment to output, without the length header; returns
 * the bytes written (at most 32 + length + length / 6). */
__attribute__((export_name("compress_fragments")))
u32 compress_fragments(const u8 *input, u32 length, u8 *output) {
  u8 *op = output;
  for (u32 pos = 0; pos < length; pos += BLOCK_SIZE) {
    u32 end = length - pos < BLOCK_SIZE ? length : pos + BLOCK_SIZE;
    op = compress_fragment(input + pos, input + end, op);
  }
  return op - output;
}

/* Where compress_values() stopped: the next value's length, relative to its input. */
static uint64_t values_next;

__attribute__((export_name("values_next")))
u32 values_next_at(void) { return (u32)values_next; }

/* One fragment of a page of PLAIN BYTE_ARRAY values (snappy-values.ts): the values' lengths at
 * v, v + 4 + len, ... (v relative to input; up to slice_end readable). Each length equal to the
 * previous one in the fragment becomes a 4-byte copy of it, everything else literals. */
static u8 *values_fragment(const u8 *input, u32 from, u32 to, u32 slice_end, u8 *op) {
  u32 literal_from = from;
  int64_t previous = -1;
  uint64_t v = values_next;
  while (v < to) {
    if (v + 4 > slice_end) break; /* a length across the slice's end: the caller reads it */
    u32 len = load32(input + v);
    /* a length across the fragment's end stays in the literals (the next fragment starts afresh) */
    if (v + 4 <= to) {
      if (previous >= 0 && load32(input + previous) == len) {
        /* nothing between two copies (an empty value): no literal, as emit_literal() cannot write 0 bytes */
        if ((u32)v > literal_from) op = emit_literal(op, input + literal_from, (u32)v - literal_from);
        op = emit_copy_at_most_64(op, (u32)(v - previous), 4);
        literal_from = (u32)v + 4;
      }
      previous = (int64_t)v;
    }
    v += 4 + (uint64_t)len;
  }
  values_next = v;
  if (literal_from < to) op = emit_literal(op, input + literal_from, to - literal_from);
  return op;
}

/* compress_fragments() for a slice of a page of values whose first length is at input[first]
 * (first may lie past the slice): see values_fragment(). Returns the bytes written; values_next()
 * then gives where the next length is, relative to input. */
__attribute__((export_name("compress_values")))
u32 compress_values(const u8 *input, u32 length, u8 *output, u32 first) {
  u8 *op = output;
  values_next = first;
  for (u32 pos = 0; pos < length; pos += BLOCK_SIZE) {
    u32 end = length - pos < BLOCK_SIZE ? length : pos + BLOCK_SIZE;
    op = values_fragment(input, pos, end, length, op);
  }
  return op - output;
}
