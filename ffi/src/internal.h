/*
 * Internal pieces shared by the dispatch paths: the job descriptions, the per-path table of
 * drivers, and the bounded top-k heap.
 *
 * Heap invariants (keys are "higher is better": euclidean distances are negated, NaN is -inf):
 *   1. The heap lives in the caller's output buffers: keys[i] in out_scores, rows[i] in out_rows.
 *   2. While scanning, keys[0]/rows[0] is the WORST kept entry: every parent is worse than or
 *      equal to its children, where "a worse than b" means a.key < b.key, or equal keys and
 *      a.row > b.row (ties go to the smaller row number).
 *   3. Rows are offered in strictly ascending order, so a newcomer whose key equals the root's
 *      key is worse than the root and is rejected by a single `key > keys[0]` test.
 *   4. size <= k at all times; after heap_finish the entries are best first.
 */
#ifndef NEEDLE_INTERNAL_H
#define NEEDLE_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "needle_kernels.h"

typedef struct {
  const float *query;
  const float *vectors;
  size_t rows;
  size_t dim;
  int metric;
  const float *inverse_norms;
  float query_inverse_norm;
  uint32_t k;
  uint32_t *out_rows;
  float *out_keys;
} scan_job;

typedef struct {
  const int8_t *query_codes;
  float query_scale;
  const int8_t *codes;
  const float *scales;
  size_t rows;
  size_t dim;
  int metric;
  const float *inverse_norms;
  float query_inverse_norm;
  const float *squared_norms;
  float query_squared_norm;
  uint32_t k;
  uint32_t *out_rows;
  float *out_keys;
} i8_job;

typedef struct {
  const float *vectors;
  size_t count;
  const float *centroids;
  size_t centroid_count;
  size_t dim;
  int metric;
  const float *centroid_inverse_norms; /* cosine only, filled by the caller of the driver */
  uint32_t *assignments;
  float *scores; /* may be null */
} assign_job;

typedef struct {
  uint32_t (*scan_all)(const scan_job *job);
  uint32_t (*scan_bitset)(const scan_job *job, const uint8_t *bitset);
  uint32_t (*scan_rows)(const scan_job *job, const uint32_t *row_ids, size_t row_id_count);
  uint32_t (*scan_i8)(const i8_job *job);
  uint32_t (*scan_i8_rows)(const i8_job *job, const uint32_t *row_ids, size_t row_id_count);
  void (*assign)(const assign_job *job);
} needle_ops;

extern const needle_ops needle_ops_scalar;
#if defined(__x86_64__)
extern const needle_ops needle_ops_avx2;
#if !defined(NEEDLE_NO_AVX512)
extern const needle_ops needle_ops_avx512;
#endif
#endif
#if defined(__aarch64__)
extern const needle_ops needle_ops_neon;
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the bitset word loads assume a little-endian machine"
#endif

/* Walks the set bits of a bitset in ascending order, 64 bits at a time. */
#define BIT_CURSOR_END SIZE_MAX

typedef struct {
  const uint8_t *bitset;
  size_t rows;
  size_t base; /* row number of bit 0 of `word` */
  uint64_t word;
} bit_cursor;

static inline uint64_t bit_cursor_load(const uint8_t *bitset, size_t rows, size_t base) {
  size_t bytes = (rows + 7) / 8;
  size_t offset = base / 8;
  uint64_t word = 0;
  memcpy(&word, bitset + offset, bytes - offset < 8 ? bytes - offset : 8);
  if (rows - base < 64) word &= (UINT64_C(1) << (rows - base)) - 1;
  return word;
}

static inline void bit_cursor_init(bit_cursor *cursor, const uint8_t *bitset, size_t rows) {
  cursor->bitset = bitset;
  cursor->rows = rows;
  cursor->base = 0;
  cursor->word = rows > 0 ? bit_cursor_load(bitset, rows, 0) : 0;
}

/* The next set row, or BIT_CURSOR_END. */
static inline size_t bit_cursor_next(bit_cursor *cursor) {
  while (cursor->word == 0) {
    if (cursor->base + 64 >= cursor->rows) return BIT_CURSOR_END;
    cursor->base += 64;
    cursor->word = bit_cursor_load(cursor->bitset, cursor->rows, cursor->base);
  }
  size_t row = cursor->base + (size_t)__builtin_ctzll(cursor->word);
  cursor->word &= cursor->word - 1;
  return row;
}

/* 1/||vector|| as float32, 0 for an all-zero vector. Double accumulation in index order:
 * ffi/vector-math.ts computes the same bits. */
static inline float inverse_norm_f32(const float *vector, size_t dim) {
  double sum = 0.0;
  for (size_t d = 0; d < dim; d++) sum += (double)vector[d] * (double)vector[d];
  return sum > 0.0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
}

/* A score that is not a finite number (NaN, or an infinity from overflow) ranks last: it
 * becomes -inf, so ordinary comparisons stay total and no such row displaces a real match. */
static inline float key_sanitize(float key) { return isfinite(key) ? key : -INFINITY; }

static inline int entry_worse(float key_a, uint32_t row_a, float key_b, uint32_t row_b) {
  return key_a < key_b || (key_a == key_b && row_a > row_b);
}

static inline void heap_sift_down(float *keys, uint32_t *rows, uint32_t size, uint32_t at) {
  float key = keys[at];
  uint32_t row = rows[at];
  for (;;) {
    uint32_t child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && entry_worse(keys[child + 1], rows[child + 1], keys[child], rows[child])) child++;
    if (!entry_worse(keys[child], rows[child], key, row)) break;
    keys[at] = keys[child];
    rows[at] = rows[child];
    at = child;
  }
  keys[at] = key;
  rows[at] = row;
}

/* Offers one row; `*size` grows until k. Rows must be offered in ascending order (invariant 3). */
static inline void heap_offer(float *keys, uint32_t *rows, uint32_t *size, uint32_t k, float key, uint32_t row) {
  if (*size < k) {
    uint32_t at = (*size)++;
    while (at > 0) {
      uint32_t parent = (at - 1) / 2;
      if (!entry_worse(key, row, keys[parent], rows[parent])) break;
      keys[at] = keys[parent];
      rows[at] = rows[parent];
      at = parent;
    }
    keys[at] = key;
    rows[at] = row;
  } else if (key > keys[0]) {
    keys[0] = key;
    rows[0] = row;
    heap_sift_down(keys, rows, *size, 0);
  }
}

/* Heapsort in place: repeatedly moves the worst entry to the end, leaving the best first. */
static inline void heap_finish(float *keys, uint32_t *rows, uint32_t size) {
  for (uint32_t end = size; end > 1; end--) {
    float key = keys[0];
    uint32_t row = rows[0];
    keys[0] = keys[end - 1];
    rows[0] = rows[end - 1];
    keys[end - 1] = key;
    rows[end - 1] = row;
    heap_sift_down(keys, rows, end - 1, 0);
  }
}

#endif
