/* The portable path: plain C, several independent accumulators so the loop is not one long
 * dependency chain. Compiled without -ffast-math, so the compiler keeps this exact order. */
#include "internal.h"

#define NEEDLE_FN static inline
#define NEEDLE_NAME(x) x##_scalar

NEEDLE_FN float dot_f32_scalar(const float *a, const float *b, size_t dim) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    s0 += a[d] * b[d];
    s1 += a[d + 1] * b[d + 1];
    s2 += a[d + 2] * b[d + 2];
    s3 += a[d + 3] * b[d + 3];
  }
  for (; d < dim; d++) s0 += a[d] * b[d];
  return (s0 + s1) + (s2 + s3);
}

NEEDLE_FN float l2_f32_scalar(const float *a, const float *b, size_t dim) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    float d0 = a[d] - b[d], d1 = a[d + 1] - b[d + 1], d2 = a[d + 2] - b[d + 2], d3 = a[d + 3] - b[d + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; d < dim; d++) {
    float diff = a[d] - b[d];
    s0 += diff * diff;
  }
  return (s0 + s1) + (s2 + s3);
}

NEEDLE_FN int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t dim) {
  int32_t sum = 0;
  for (size_t d = 0; d < dim; d++) sum += (int32_t)a[d] * (int32_t)b[d];
  return sum;
}

#include "scan_template.h"
