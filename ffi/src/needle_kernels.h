/*
 * needle_kernels: Needle's C SIMD kernels. The public ABI loaded by ffi/native.ts.
 *
 * Conventions for every exported kernel:
 *   - It takes a whole batch (pointers, counts, dim) and returns an int: >= 0 is the number of
 *     results written, < 0 is one of the NEEDLE_ERR_* codes. Nothing is allocated here: the
 *     caller owns every buffer, including output buffers and scratch.
 *   - `path` selects a dispatch path (NEEDLE_PATH_*); NEEDLE_PATH_DEFAULT (-1) means the path
 *     chosen at load time (best the CPU supports, lowered by the NEEDLE_SIMD env variable).
 *   - Vectors are read with unaligned loads: slab vectors are 64-byte aligned but memtable
 *     vectors need not be.
 *   - Top-k output: `out_rows` and `out_scores` each hold at least min(k, eligible rows)
 *     entries; they double as the bounded heap while scanning, so no scratch is needed.
 *     Results are best first; equal scores are ordered by the smaller row number.
 *   - Scores: cosine similarity and dot product (higher first), squared L2 (lower first).
 *     A NaN score ranks below every other score and is reported as -inf (cosine, dot)
 *     or +inf (euclidean), identically in the TypeScript twin.
 */
#ifndef NEEDLE_KERNELS_H
#define NEEDLE_KERNELS_H

#include <stdint.h>

#define NEEDLE_ABI_VERSION 2

/* Built with -fvisibility=hidden: only what is marked here is exported. */
#define NEEDLE_EXPORT __attribute__((visibility("default")))

#define NEEDLE_METRIC_COSINE 0
#define NEEDLE_METRIC_EUCLIDEAN 1
#define NEEDLE_METRIC_DOTPRODUCT 2

#define NEEDLE_PATH_DEFAULT (-1)
#define NEEDLE_PATH_SCALAR 0
#define NEEDLE_PATH_AVX2 1
#define NEEDLE_PATH_AVX512 2
#define NEEDLE_PATH_NEON 3
#define NEEDLE_PATH_COUNT 4

#define NEEDLE_TOP_K_MAX 10000
/* int32 sums of int8 products stay exact below 2^31 / 128^2 dimensions (int8DimensionMax in validate.ts). */
#define NEEDLE_I8_DIM_MAX 131072

#define NEEDLE_ERR_ARGUMENT (-1)       /* null pointer, zero dim, int8 dim too large, unknown metric */
#define NEEDLE_ERR_K (-2)              /* k outside 1..NEEDLE_TOP_K_MAX */
#define NEEDLE_ERR_NORMS (-3)          /* cosine (or int8 euclidean) without the norms it needs */
#define NEEDLE_ERR_ROW_IDS (-4)        /* row-id list not strictly ascending or an id >= rows */
#define NEEDLE_ERR_PATH (-5)           /* path unknown or not supported by this CPU/build */
#define NEEDLE_ERR_BITSET (-6)         /* bitset shorter than ceil(rows / 8) bytes */

/* Load-time dispatch. */
NEEDLE_EXPORT int needle_abi_version(void);
NEEDLE_EXPORT int needle_default_path(void);
NEEDLE_EXPORT int needle_path_supported(int path);
/* What NEEDLE_SIMD did: 0 unset, 1 applied as asked, 2 lowered to what the CPU supports,
 * 3 not recognised on this architecture (ignored). */
NEEDLE_EXPORT int needle_env_status(void);

NEEDLE_EXPORT int needle_scan_f32(int path, const float *query, const float *vectors, uint32_t rows, uint32_t dim,
                    int metric, const float *inverse_norms, uint32_t k, uint32_t *out_rows,
                    float *out_scores);

NEEDLE_EXPORT int needle_scan_f32_bitset(int path, const float *query, const float *vectors, uint32_t rows,
                           uint32_t dim, int metric, const float *inverse_norms, const uint8_t *bitset,
                           uint32_t bitset_bytes, uint32_t k, uint32_t *out_rows, float *out_scores);

NEEDLE_EXPORT int needle_scan_f32_rows(int path, const float *query, const float *vectors, uint32_t rows, uint32_t dim,
                         int metric, const float *inverse_norms, const uint32_t *row_ids,
                         uint32_t row_id_count, uint32_t k, uint32_t *out_rows, float *out_scores);

NEEDLE_EXPORT int needle_scan_i8(int path, const int8_t *query_codes, float query_scale, const int8_t *codes,
                   const float *scales, uint32_t rows, uint32_t dim, int metric, const float *inverse_norms,
                   float query_inverse_norm, const float *squared_norms, float query_squared_norm,
                   uint32_t k, uint32_t *out_rows, float *out_scores);

/* needle_scan_i8 over the listed rows only (strictly ascending, each < rows), like
 * needle_scan_f32_rows: candidate generation inside an index's probed partitions. */
NEEDLE_EXPORT int needle_scan_i8_rows(int path, const int8_t *query_codes, float query_scale, const int8_t *codes,
                        const float *scales, uint32_t rows, uint32_t dim, int metric, const float *inverse_norms,
                        float query_inverse_norm, const float *squared_norms, float query_squared_norm,
                        const uint32_t *row_ids, uint32_t row_id_count, uint32_t k, uint32_t *out_rows,
                        float *out_scores);

/* For each vector, the best centroid. `scratch` holds centroid_count floats (cosine only,
 * may be null otherwise). `scores` may be null. Returns count on success. */
NEEDLE_EXPORT int needle_assign_nearest(int path, const float *vectors, uint32_t count, const float *centroids,
                          uint32_t centroid_count, uint32_t dim, int metric, float *scratch,
                          uint32_t *assignments, float *scores);

#endif
