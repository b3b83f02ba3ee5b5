/* The AVX2 + FMA path: four 8-lane accumulators (32 floats per step) to hide FMA latency,
 * unaligned loads everywhere, and a masked load for the tail so no byte past the row is read. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "internal.h"

#define NEEDLE_FN static inline __attribute__((target("avx2,fma")))
#define NEEDLE_NAME(x) x##_avx2

NEEDLE_FN float hsum_avx2(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

NEEDLE_FN __m256i tail_mask_avx2(size_t remaining) {
  /* remaining in 1..7: lanes below it are all-ones. */
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)remaining), lanes);
}

NEEDLE_FN float dot_f32_avx2(const float *a, const float *b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t d = 0;
  for (; d + 32 <= dim; d += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 16), _mm256_loadu_ps(b + d + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 24), _mm256_loadu_ps(b + d + 24), s3);
  }
  for (; d + 8 <= dim; d += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
  if (d < dim) {
    __m256i mask = tail_mask_avx2(dim - d);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + d, mask), _mm256_maskload_ps(b + d, mask), s1);
  }
  return hsum_avx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

NEEDLE_FN float l2_f32_avx2(const float *a, const float *b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t d = 0;
  for (; d + 32 <= dim; d += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + d + 16), _mm256_loadu_ps(b + d + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + d + 24), _mm256_loadu_ps(b + d + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; d + 8 <= dim; d += 8) {
    __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d));
    s0 = _mm256_fmadd_ps(diff, diff, s0);
  }
  if (d < dim) {
    __m256i mask = tail_mask_avx2(dim - d);
    __m256 diff = _mm256_sub_ps(_mm256_maskload_ps(a + d, mask), _mm256_maskload_ps(b + d, mask));
    s1 = _mm256_fmadd_ps(diff, diff, s1);
  }
  return hsum_avx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

NEEDLE_FN int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t dim) {
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t d = 0;
  for (; d + 32 <= dim; d += 32) {
    __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + d)));
    __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + d)));
    __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + d + 16)));
    __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + d + 16)));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
  }
  __m256i s = _mm256_add_epi32(s0, s1);
  __m128i half = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(1, 0, 3, 2)));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(2, 3, 0, 1)));
  int32_t sum = _mm_cvtsi128_si32(half);
  for (; d < dim; d++) sum += (int32_t)a[d] * (int32_t)b[d];
  return sum;
}

#include "scan_template.h"
#endif
