/* The AVX-512 path (F for floats, BW for int8): four 16-lane accumulators, masked loads for
 * the tail. Compiled with per-function target attributes, so the build needs no -m flags and
 * only runs when dispatch.c saw avx512f and avx512bw at load time. */
#if defined(__x86_64__) && !defined(NEEDLE_NO_AVX512)
#include <immintrin.h>

#include "internal.h"

#define NEEDLE_FN static inline __attribute__((target("avx512f,avx512bw,avx2,fma")))
#define NEEDLE_NAME(x) x##_avx512

NEEDLE_FN float dot_f32_avx512(const float *a, const float *b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t d = 0;
  for (; d + 64 <= dim; d += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 16), _mm512_loadu_ps(b + d + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 32), _mm512_loadu_ps(b + d + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 48), _mm512_loadu_ps(b + d + 48), s3);
  }
  for (; d + 16 <= dim; d += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s0);
  if (d < dim) {
    __mmask16 mask = (__mmask16)((1u << (dim - d)) - 1u);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + d), _mm512_maskz_loadu_ps(mask, b + d), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

NEEDLE_FN float l2_f32_avx512(const float *a, const float *b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t d = 0;
  for (; d + 64 <= dim; d += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + d + 16), _mm512_loadu_ps(b + d + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + d + 32), _mm512_loadu_ps(b + d + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + d + 48), _mm512_loadu_ps(b + d + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; d + 16 <= dim; d += 16) {
    __m512 diff = _mm512_sub_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d));
    s0 = _mm512_fmadd_ps(diff, diff, s0);
  }
  if (d < dim) {
    __mmask16 mask = (__mmask16)((1u << (dim - d)) - 1u);
    __m512 diff = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a + d), _mm512_maskz_loadu_ps(mask, b + d));
    s1 = _mm512_fmadd_ps(diff, diff, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

NEEDLE_FN int32_t dot_i8_avx512(const int8_t *a, const int8_t *b, size_t dim) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  size_t d = 0;
  for (; d + 64 <= dim; d += 64) {
    __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + d)));
    __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + d)));
    __m512i a1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + d + 32)));
    __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + d + 32)));
    s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
    s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(a1, b1));
  }
  int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
  for (; d < dim; d++) sum += (int32_t)a[d] * (int32_t)b[d];
  return sum;
}

#include "scan_template.h"
#endif
