/*
 * The drivers of one dispatch path, instantiated once per path so the path's distance
 * functions inline into its loops (an indirect call per row would cost more than a short row).
 *
 * Before including, a path file defines:
 *   NEEDLE_FN      storage class and target attribute for every function of the path
 *   NEEDLE_NAME(x) the path's name for x (x##_avx2, ...)
 *   NEEDLE_NAME(dot_f32), NEEDLE_NAME(l2_f32), NEEDLE_NAME(dot_i8) as NEEDLE_FN functions.
 * It then gets NEEDLE_NAME(needle_ops) (needle_ops_avx2, ...), the table dispatch.c points at.
 *
 * Steps of every scan driver:
 *   1. Visit eligible rows in ascending order (all rows, set bits, or the listed ids).
 *   2. Score the row (metric's score turned into a higher-is-better key, NaN -> -inf).
 *   3. Offer (key, row) to the bounded heap held in the output buffers.
 *   4. Heapsort the kept entries best first; return how many there are.
 */
#include "internal.h"

NEEDLE_FN float NEEDLE_NAME(row_key)(const scan_job *job, size_t row) {
  const float *vector = job->vectors + row * job->dim;
  float key;
  switch (job->metric) {
  case NEEDLE_METRIC_EUCLIDEAN:
    key = -NEEDLE_NAME(l2_f32)(job->query, vector, job->dim);
    break;
  case NEEDLE_METRIC_DOTPRODUCT:
    key = NEEDLE_NAME(dot_f32)(job->query, vector, job->dim);
    break;
  default:
    key = NEEDLE_NAME(dot_f32)(job->query, vector, job->dim) * job->inverse_norms[row] * job->query_inverse_norm;
    break;
  }
  return key_sanitize(key);
}

NEEDLE_FN uint32_t NEEDLE_NAME(scan_all)(const scan_job *job) {
  uint32_t size = 0;
  for (size_t row = 0; row < job->rows; row++) {
    heap_offer(job->out_keys, job->out_rows, &size, job->k, NEEDLE_NAME(row_key)(job, row), (uint32_t)row);
  }
  heap_finish(job->out_keys, job->out_rows, size);
  return size;
}

NEEDLE_FN uint32_t NEEDLE_NAME(scan_bitset)(const scan_job *job, const uint8_t *bitset) {
  uint32_t size = 0;
  bit_cursor cursor;
  bit_cursor_init(&cursor, bitset, job->rows);
  for (;;) {
    size_t row = bit_cursor_next(&cursor);
    if (row == BIT_CURSOR_END) break;
    heap_offer(job->out_keys, job->out_rows, &size, job->k, NEEDLE_NAME(row_key)(job, row), (uint32_t)row);
  }
  heap_finish(job->out_keys, job->out_rows, size);
  return size;
}

NEEDLE_FN uint32_t NEEDLE_NAME(scan_rows)(const scan_job *job, const uint32_t *row_ids, size_t row_id_count) {
  uint32_t size = 0;
  for (size_t i = 0; i < row_id_count; i++) {
    size_t row = row_ids[i];
    heap_offer(job->out_keys, job->out_rows, &size, job->k, NEEDLE_NAME(row_key)(job, row), (uint32_t)row);
  }
  heap_finish(job->out_keys, job->out_rows, size);
  return size;
}

/* A row's int8 key: the code dot product scaled back, turned into the metric's key with the
 * exact norms (an estimate, for choosing candidates that are rescored in float32). */
NEEDLE_FN float NEEDLE_NAME(i8_row_key)(const i8_job *job, size_t row) {
  int32_t dot = NEEDLE_NAME(dot_i8)(job->query_codes, job->codes + row * job->dim, job->dim);
  float approximate = (float)dot * (job->query_scale * job->scales[row]);
  float key;
  switch (job->metric) {
  case NEEDLE_METRIC_EUCLIDEAN:
    key = -((job->query_squared_norm + job->squared_norms[row]) - 2.0f * approximate);
    break;
  case NEEDLE_METRIC_DOTPRODUCT:
    key = approximate;
    break;
  default:
    key = approximate * job->inverse_norms[row] * job->query_inverse_norm;
    break;
  }
  return key_sanitize(key);
}

NEEDLE_FN uint32_t NEEDLE_NAME(scan_i8)(const i8_job *job) {
  uint32_t size = 0;
  for (size_t row = 0; row < job->rows; row++) {
    heap_offer(job->out_keys, job->out_rows, &size, job->k, NEEDLE_NAME(i8_row_key)(job, row), (uint32_t)row);
  }
  heap_finish(job->out_keys, job->out_rows, size);
  return size;
}

NEEDLE_FN uint32_t NEEDLE_NAME(scan_i8_rows)(const i8_job *job, const uint32_t *row_ids, size_t row_id_count) {
  uint32_t size = 0;
  for (size_t i = 0; i < row_id_count; i++) {
    size_t row = row_ids[i];
    heap_offer(job->out_keys, job->out_rows, &size, job->k, NEEDLE_NAME(i8_row_key)(job, row), (uint32_t)row);
  }
  heap_finish(job->out_keys, job->out_rows, size);
  return size;
}

NEEDLE_FN void NEEDLE_NAME(assign)(const assign_job *job) {
  for (size_t i = 0; i < job->count; i++) {
    const float *vector = job->vectors + i * job->dim;
    float vector_inverse_norm = job->metric == NEEDLE_METRIC_COSINE ? inverse_norm_f32(vector, job->dim) : 0.0f;
    uint32_t best = 0;
    float best_key = -INFINITY;
    for (size_t c = 0; c < job->centroid_count; c++) {
      const float *centroid = job->centroids + c * job->dim;
      float key;
      switch (job->metric) {
      case NEEDLE_METRIC_EUCLIDEAN:
        key = -NEEDLE_NAME(l2_f32)(vector, centroid, job->dim);
        break;
      case NEEDLE_METRIC_DOTPRODUCT:
        key = NEEDLE_NAME(dot_f32)(vector, centroid, job->dim);
        break;
      default:
        key = NEEDLE_NAME(dot_f32)(vector, centroid, job->dim) * job->centroid_inverse_norms[c] * vector_inverse_norm;
        break;
      }
      key = key_sanitize(key);
      /* Strictly better only: ties keep the smaller centroid index. */
      if (c == 0 || key > best_key) {
        best = (uint32_t)c;
        best_key = key;
      }
    }
    job->assignments[i] = best;
    if (job->scores != NULL) job->scores[i] = job->metric == NEEDLE_METRIC_EUCLIDEAN ? -best_key : best_key;
  }
}

const needle_ops NEEDLE_NAME(needle_ops) = {
    NEEDLE_NAME(scan_all), NEEDLE_NAME(scan_bitset), NEEDLE_NAME(scan_rows), NEEDLE_NAME(scan_i8),
    NEEDLE_NAME(scan_i8_rows), NEEDLE_NAME(assign),
};
