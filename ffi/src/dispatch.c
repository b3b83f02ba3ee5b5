/*
 * The exported ABI: load-time CPU dispatch, argument checks, and the calls into a path's drivers.
 *
 * Invariants:
 *   1. `default_path` is written once, by the load-time constructor, before any caller can
 *      run a kernel; afterwards this file holds no mutable state (safe from any thread).
 *   2. A path is used only when `path_supported` says the CPU (and this build) has it; the
 *      NEEDLE_SIMD variable can only lower the default, never raise it.
 *   3. Every pointer and count is checked here, before any driver dereferences anything.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Rank of each path within its architecture: NEEDLE_SIMD may only ask for an equal or lower rank. */
static int path_rank(int path) {
  switch (path) {
  case NEEDLE_PATH_SCALAR:
    return 0;
  case NEEDLE_PATH_AVX2:
  case NEEDLE_PATH_NEON:
    return 1;
  case NEEDLE_PATH_AVX512:
    return 2;
  default:
    return -1;
  }
}

static int path_supported(int path) {
  switch (path) {
  case NEEDLE_PATH_SCALAR:
    return 1;
#if defined(__x86_64__)
  case NEEDLE_PATH_AVX2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#if !defined(NEEDLE_NO_AVX512)
  case NEEDLE_PATH_AVX512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#endif
#if defined(__aarch64__)
  case NEEDLE_PATH_NEON:
    return 1;
#endif
  default:
    return 0;
  }
}

static const needle_ops *path_ops(int path) {
  switch (path) {
  case NEEDLE_PATH_SCALAR:
    return &needle_ops_scalar;
#if defined(__x86_64__)
  case NEEDLE_PATH_AVX2:
    return &needle_ops_avx2;
#if !defined(NEEDLE_NO_AVX512)
  case NEEDLE_PATH_AVX512:
    return &needle_ops_avx512;
#endif
#endif
#if defined(__aarch64__)
  case NEEDLE_PATH_NEON:
    return &needle_ops_neon;
#endif
  default:
    return NULL;
  }
}

static int default_path = NEEDLE_PATH_SCALAR;
static int env_status = 0;

static int path_from_name(const char *name) {
  if (strcmp(name, "scalar") == 0) return NEEDLE_PATH_SCALAR;
  if (strcmp(name, "avx2") == 0) return NEEDLE_PATH_AVX2;
  if (strcmp(name, "avx512") == 0) return NEEDLE_PATH_AVX512;
  if (strcmp(name, "neon") == 0) return NEEDLE_PATH_NEON;
  return -1;
}

/* The best supported path whose rank is at most `rank_max`. */
static int best_path(int rank_max) {
  int best = NEEDLE_PATH_SCALAR;
  for (int path = 0; path < NEEDLE_PATH_COUNT; path++) {
    if (path_supported(path) && path_rank(path) <= rank_max && path_rank(path) > path_rank(best)) best = path;
  }
  return best;
}

__attribute__((constructor)) static void needle_dispatch_init(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
#endif
  default_path = best_path(2);
  const char *requested_name = getenv("NEEDLE_SIMD");
  if (requested_name == NULL || requested_name[0] == '\0') return;
  int requested = path_from_name(requested_name);
  int foreign = requested < 0 || path_ops(requested) == NULL;
#if defined(__x86_64__)
  foreign = foreign || requested == NEEDLE_PATH_NEON;
#endif
  if (foreign) {
    env_status = 3;
    return;
  }
  int chosen = best_path(path_rank(requested));
  if (path_rank(chosen) > path_rank(default_path)) chosen = default_path;
  env_status = chosen == requested ? 1 : 2;
  default_path = chosen;
}

int needle_abi_version(void) { return NEEDLE_ABI_VERSION; }
int needle_default_path(void) { return default_path; }
int needle_path_supported(int path) { return path_ops(path) != NULL && path_supported(path); }
int needle_env_status(void) { return env_status; }

static const needle_ops *resolve(int path) {
  if (path == NEEDLE_PATH_DEFAULT) path = default_path;
  if (!needle_path_supported(path)) return NULL;
  return path_ops(path);
}

static int metric_valid(int metric) {
  return metric == NEEDLE_METRIC_COSINE || metric == NEEDLE_METRIC_EUCLIDEAN || metric == NEEDLE_METRIC_DOTPRODUCT;
}

/* Keys are higher-is-better; euclidean keys are negated distances. Turns them back into scores. */
static int finish_scores(int metric, float *keys, uint32_t count) {
  if (metric == NEEDLE_METRIC_EUCLIDEAN) {
    for (uint32_t i = 0; i < count; i++) keys[i] = -keys[i];
  }
  return (int)count;
}

/* The part every float32 scan shares: resolve the path, check the arguments, fill the job.
 * Returns 0 or a NEEDLE_ERR_* status. */
static int prepare_scan(int path, const needle_ops **ops, scan_job *job, const float *query, const float *vectors,
                        uint32_t rows, uint32_t dim, int metric, const float *inverse_norms, uint32_t k,
                        uint32_t *out_rows, float *out_scores) {
  *ops = resolve(path);
  if (*ops == NULL) return NEEDLE_ERR_PATH;
  if (!metric_valid(metric) || dim == 0) return NEEDLE_ERR_ARGUMENT;
  if (k == 0 || k > NEEDLE_TOP_K_MAX) return NEEDLE_ERR_K;
  if (metric == NEEDLE_METRIC_COSINE && rows > 0 && inverse_norms == NULL) return NEEDLE_ERR_NORMS;
  if (query == NULL) return NEEDLE_ERR_ARGUMENT;
  if (rows > 0 && (vectors == NULL || out_rows == NULL || out_scores == NULL)) return NEEDLE_ERR_ARGUMENT;
  job->query = query;
  job->vectors = vectors;
  job->rows = rows;
  job->dim = dim;
  job->metric = metric;
  job->inverse_norms = inverse_norms;
  job->query_inverse_norm = metric == NEEDLE_METRIC_COSINE ? inverse_norm_f32(query, dim) : 0.0f;
  job->k = k;
  job->out_rows = out_rows;
  job->out_keys = out_scores;
  return 0;
}

int needle_scan_f32(int path, const float *query, const float *vectors, uint32_t rows, uint32_t dim, int metric,
                    const float *inverse_norms, uint32_t k, uint32_t *out_rows, float *out_scores) {
  const needle_ops *ops;
  scan_job job;
  int status = prepare_scan(path, &ops, &job, query, vectors, rows, dim, metric, inverse_norms, k, out_rows, out_scores);
  if (status != 0) return status;
  if (rows == 0) return 0;
  return finish_scores(metric, out_scores, ops->scan_all(&job));
}

int needle_scan_f32_bitset(int path, const float *query, const float *vectors, uint32_t rows, uint32_t dim,
                           int metric, const float *inverse_norms, const uint8_t *bitset, uint32_t bitset_bytes,
                           uint32_t k, uint32_t *out_rows, float *out_scores) {
  const needle_ops *ops;
  scan_job job;
  int status = prepare_scan(path, &ops, &job, query, vectors, rows, dim, metric, inverse_norms, k, out_rows, out_scores);
  if (status != 0) return status;
  if (rows == 0) return 0;
  /* In 64 bits: rows + 7 wraps in uint32 for rows above 2^32 - 8, which would pass any bitset. */
  if (bitset == NULL || bitset_bytes < ((uint64_t)rows + 7u) / 8u) return NEEDLE_ERR_BITSET;
  return finish_scores(metric, out_scores, ops->scan_bitset(&job, bitset));
}

int needle_scan_f32_rows(int path, const float *query, const float *vectors, uint32_t rows, uint32_t dim,
                         int metric, const float *inverse_norms, const uint32_t *row_ids, uint32_t row_id_count,
                         uint32_t k, uint32_t *out_rows, float *out_scores) {
  const needle_ops *ops;
  scan_job job;
  int status = prepare_scan(path, &ops, &job, query, vectors, rows, dim, metric, inverse_norms, k, out_rows, out_scores);
  if (status != 0) return status;
  if (row_id_count == 0) return 0;
  if (row_ids == NULL || out_rows == NULL || out_scores == NULL) return NEEDLE_ERR_ARGUMENT;
  /* Ascending ids keep the heap's tie rule (invariant 3 of internal.h) and the reads sequential. */
  for (uint32_t i = 0; i < row_id_count; i++) {
    if (row_ids[i] >= rows) return NEEDLE_ERR_ROW_IDS;
    if (i > 0 && row_ids[i] <= row_ids[i - 1]) return NEEDLE_ERR_ROW_IDS;
  }
  return finish_scores(metric, out_scores, ops->scan_rows(&job, row_ids, row_id_count));
}

/* The part both int8 scans share, like prepare_scan. */
static int prepare_i8(int path, const needle_ops **ops, i8_job *job, const int8_t *query_codes, float query_scale,
                      const int8_t *codes, const float *scales, uint32_t rows, uint32_t dim, int metric,
                      const float *inverse_norms, float query_inverse_norm, const float *squared_norms,
                      float query_squared_norm, uint32_t k, uint32_t *out_rows, float *out_scores) {
  *ops = resolve(path);
  if (*ops == NULL) return NEEDLE_ERR_PATH;
  if (!metric_valid(metric) || dim == 0 || query_codes == NULL) return NEEDLE_ERR_ARGUMENT;
  if (dim > NEEDLE_I8_DIM_MAX) return NEEDLE_ERR_ARGUMENT;
  if (k == 0 || k > NEEDLE_TOP_K_MAX) return NEEDLE_ERR_K;
  if (rows > 0 && (codes == NULL || scales == NULL || out_rows == NULL || out_scores == NULL))
    return NEEDLE_ERR_ARGUMENT;
  if (rows > 0 && metric == NEEDLE_METRIC_COSINE && inverse_norms == NULL) return NEEDLE_ERR_NORMS;
  if (rows > 0 && metric == NEEDLE_METRIC_EUCLIDEAN && squared_norms == NULL) return NEEDLE_ERR_NORMS;
  i8_job filled = {query_codes,   query_scale,        codes, scales,   rows,       dim,      metric, inverse_norms,
                   query_inverse_norm, squared_norms, query_squared_norm, k, out_rows, out_scores};
  *job = filled;
  return 0;
}

int needle_scan_i8(int path, const int8_t *query_codes, float query_scale, const int8_t *codes, const float *scales,
                   uint32_t rows, uint32_t dim, int metric, const float *inverse_norms, float query_inverse_norm,
                   const float *squared_norms, float query_squared_norm, uint32_t k, uint32_t *out_rows,
                   float *out_scores) {
  const needle_ops *ops;
  i8_job job;
  int status = prepare_i8(path, &ops, &job, query_codes, query_scale, codes, scales, rows, dim, metric, inverse_norms,
                          query_inverse_norm, squared_norms, query_squared_norm, k, out_rows, out_scores);
  if (status != 0) return status;
  if (rows == 0) return 0;
  return finish_scores(metric, out_scores, ops->scan_i8(&job));
}

int needle_scan_i8_rows(int path, const int8_t *query_codes, float query_scale, const int8_t *codes,
                        const float *scales, uint32_t rows, uint32_t dim, int metric, const float *inverse_norms,
                        float query_inverse_norm, const float *squared_norms, float query_squared_norm,
                        const uint32_t *row_ids, uint32_t row_id_count, uint32_t k, uint32_t *out_rows,
                        float *out_scores) {
  const needle_ops *ops;
  i8_job job;
  int status = prepare_i8(path, &ops, &job, query_codes, query_scale, codes, scales, rows, dim, metric, inverse_norms,
                          query_inverse_norm, squared_norms, query_squared_norm, k, out_rows, out_scores);
  if (status != 0) return status;
  if (row_id_count == 0) return 0;
  if (row_ids == NULL || rows == 0) return row_ids == NULL ? NEEDLE_ERR_ARGUMENT : NEEDLE_ERR_ROW_IDS;
  for (uint32_t i = 0; i < row_id_count; i++) {
    if (row_ids[i] >= rows) return NEEDLE_ERR_ROW_IDS;
    if (i > 0 && row_ids[i] <= row_ids[i - 1]) return NEEDLE_ERR_ROW_IDS;
  }
  return finish_scores(metric, out_scores, ops->scan_i8_rows(&job, row_ids, row_id_count));
}

int needle_assign_nearest(int path, const float *vectors, uint32_t count, const float *centroids,
                          uint32_t centroid_count, uint32_t dim, int metric, float *scratch, uint32_t *assignments,
                          float *scores) {
  const needle_ops *ops = resolve(path);
  if (ops == NULL) return NEEDLE_ERR_PATH;
  if (!metric_valid(metric) || dim == 0 || centroid_count == 0 || centroids == NULL) return NEEDLE_ERR_ARGUMENT;
  if (count == 0) return 0;
  if (vectors == NULL || assignments == NULL) return NEEDLE_ERR_ARGUMENT;
  if (metric == NEEDLE_METRIC_COSINE) {
    if (scratch == NULL) return NEEDLE_ERR_ARGUMENT;
    for (uint32_t c = 0; c < centroid_count; c++) scratch[c] = inverse_norm_f32(centroids + (size_t)c * dim, dim);
  }
  assign_job job = {vectors, count, centroids, centroid_count, dim, metric, scratch, assignments, scores};
  ops->assign(&job);
  return (int)count;
}
