/* The NEON path for aarch64 (NEON is part of the base ARMv8-A ISA, so no runtime check is
 * needed): four 4-lane accumulators with fused multiply-add, scalar tail. */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "internal.h"

#define NEEDLE_FN static inline
#define NEEDLE_NAME(x) x##_neon

NEEDLE_FN float dot_f32_neon(const float *a, const float *b, size_t dim) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f), s2 = vdupq_n_f32(0.0f), s3 = vdupq_n_f32(0.0f);
  size_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    s0 = vfmaq_f32(s0, vld1q_f32(a + d), vld1q_f32(b + d));
    s1 = vfmaq_f32(s1, vld1q_f32(a + d + 4), vld1q_f32(b + d + 4));
    s2 = vfmaq_f32(s2, vld1q_f32(a + d + 8), vld1q_f32(b + d + 8));
    s3 = vfmaq_f32(s3, vld1q_f32(a + d + 12), vld1q_f32(b + d + 12));
  }
  for (; d + 4 <= dim; d += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + d), vld1q_f32(b + d));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; d < dim; d++) sum += a[d] * b[d];
  return sum;
}

NEEDLE_FN float l2_f32_neon(const float *a, const float *b, size_t dim) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f), s2 = vdupq_n_f32(0.0f), s3 = vdupq_n_f32(0.0f);
  size_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    float32x4_t d0 = vsubq_f32(vld1q_f32(a + d), vld1q_f32(b + d));
    float32x4_t d1 = vsubq_f32(vld1q_f32(a + d + 4), vld1q_f32(b + d + 4));
    float32x4_t d2 = vsubq_f32(vld1q_f32(a + d + 8), vld1q_f32(b + d + 8));
    float32x4_t d3 = vsubq_f32(vld1q_f32(a + d + 12), vld1q_f32(b + d + 12));
    s0 = vfmaq_f32(s0, d0, d0);
    s1 = vfmaq_f32(s1, d1, d1);
    s2 = vfmaq_f32(s2, d2, d2);
    s3 = vfmaq_f32(s3, d3, d3);
  }
  for (; d + 4 <= dim; d += 4) {
    float32x4_t diff = vsubq_f32(vld1q_f32(a + d), vld1q_f32(b + d));
    s0 = vfmaq_f32(s0, diff, diff);
  }
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; d < dim; d++) {
    float diff = a[d] - b[d];
    sum += diff * diff;
  }
  return sum;
}

NEEDLE_FN int32_t dot_i8_neon(const int8_t *a, const int8_t *b, size_t dim) {
  int32x4_t s0 = vdupq_n_s32(0), s1 = vdupq_n_s32(0);
  size_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    int8x16_t va = vld1q_s8(a + d), vb = vld1q_s8(b + d);
    s0 = vpadalq_s16(s0, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
    s1 = vpadalq_s16(s1, vmull_s8(vget_high_s8(va), vget_high_s8(vb)));
  }
  int32_t sum = vaddvq_s32(vaddq_s32(s0, s1));
  for (; d < dim; d++) sum += (int32_t)a[d] * (int32_t)b[d];
  return sum;
}

#include "scan_template.h"
#endif
