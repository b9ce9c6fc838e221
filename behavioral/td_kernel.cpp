// The td step (behavioral/td.py, _pulses_and_count) as one hand-vectorised AVX-512 loop.
//
// The same operations in the same order and precision as the torch function it replaces:
// SplitMix64 on int64 (wrapping), the two 24-bit fields, Box-Muller in float64 with Sleef's
// Sleef_logd8_u10 and Sleef_cosd8_u10 (the functions inside torch's compiled kernels, taken
// from libtorch_cpu), the float32 CCOs, the int32 counter of rtl.reference.counter_step and
// the two totals. No fast-math and no FMA contraction (-ffp-contract=off): every float
// operation rounds as the torch operation does. Eight elements per iteration; the tail runs
// the same code with masked loads and stores.
//
// The draws first use Sleef's faster u35 functions, whose radius and cosine are within
// U35_ULPS ulp of the u10 ones for every value of the 24-bit fields (tests/test_td_native.py
// checks all 2^24). The float64 product of the u10 factors then lies within
// 2 * U35_ULPS + 1 ulp (the two factors and the roundings of the two products) of the u35
// product, well inside its interval +- |p| * 2^-48 (16 ulp); where that interval holds no
// float32 rounding boundary, both products round to the same float32 draw. Where it does
// (about one draw in 10^7), the eight draws are computed again with u10.

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>

extern "C" __m512d Sleef_logd8_u10(__m512d);
extern "C" __m512d Sleef_cosd8_u10(__m512d);
extern "C" __m512d Sleef_logd8_u35(__m512d);
extern "C" __m512d Sleef_cosd8_u35(__m512d);

// the largest distance, in ulp, of Sleef's u35 radius and cosine from the u10 ones over all
// 2^24 field values (measured: 2; tests/test_td_native.py holds the kernel to it)
#define U35_ULPS 2

namespace {

inline __m512i xorshift(__m512i z, int s) {  // z ^ (z >>> s), logical shift
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, s));
}

// Box-Muller's two uniforms from 8 x 64 random bits: the field at bit 40 (u1, the radius's)
// and at bit 16 (u2, the angle's), (field + 0.5) 2^-24.
inline void uniforms8(__m512i z, __m512d* u1, __m512d* u2) {
  const __m512i field = _mm512_set1_epi64(0xFFFFFF);
  const __m512d half = _mm512_set1_pd(0.5), scale = _mm512_set1_pd(0x1p-24);
  *u1 = _mm512_mul_pd(
      _mm512_add_pd(_mm512_cvtepi64_pd(_mm512_and_si512(_mm512_srli_epi64(z, 40), field)), half),
      scale);
  *u2 = _mm512_mul_pd(
      _mm512_add_pd(_mm512_cvtepi64_pd(_mm512_and_si512(_mm512_srli_epi64(z, 16), field)), half),
      scale);
}

// The radius sqrt(-2 log u1) and cos(2 pi u2) (golden.noise.normal_of), with Sleef's u10
// functions or (fast) its u35 ones.
template <bool fast>
inline void factors8(__m512d u1, __m512d u2, __m512d* radius, __m512d* angle) {
  __m512d lg = fast ? Sleef_logd8_u35(u1) : Sleef_logd8_u10(u1);
  __m512d x = _mm512_mul_pd(u2, _mm512_set1_pd(6.283185307179586));
  *radius = _mm512_sqrt_pd(_mm512_mul_pd(lg, _mm512_set1_pd(-2.0)));
  *angle = fast ? Sleef_cosd8_u35(x) : Sleef_cosd8_u10(x);
}

// golden.noise.normal_of(golden.noise.bits_at(key, base)) for 8 elements, float32.
inline __m256 normal8(__m512i base, __m512i key) {
  const __m512i m1 = _mm512_set1_epi64((int64_t)0xBF58476D1CE4E5B9ull);
  const __m512i m2 = _mm512_set1_epi64((int64_t)0x94D049BB133111EBull);
  __m512i z = _mm512_add_epi64(base, key);
  z = _mm512_mullo_epi64(xorshift(z, 30), m1);
  z = _mm512_mullo_epi64(xorshift(z, 27), m2);
  z = xorshift(z, 31);
  __m512d u1, u2, radius, angle;
  uniforms8(z, &u1, &u2);
  factors8<true>(u1, u2, &radius, &angle);
  __m512d p = _mm512_mul_pd(radius, angle);
  __m512d margin = _mm512_mul_pd(_mm512_abs_pd(p), _mm512_set1_pd(0x1p-48));
  __m256 lo = _mm512_cvtpd_ps(_mm512_sub_pd(p, margin));
  __m256 hi = _mm512_cvtpd_ps(_mm512_add_pd(p, margin));
  if (_mm256_cmp_ps_mask(lo, hi, _CMP_NEQ_UQ) != 0) {  // a rounding boundary near a draw
    factors8<false>(u1, u2, &radius, &angle);
    p = _mm512_mul_pd(radius, angle);
  }
  return _mm512_cvtpd_ps(p);
}

struct Cco {
  __m256i pulses;  // int32, at most max_pulses
  __m256 phase;
  __m256 lost;     // float32 pulses over the rate limit
};

// behavioral.td._cco for 8 elements; amp == nullptr: no jitter.
inline Cco cco8(__mmask8 m, int64_t i, const float* phase, const float* dphi, const float* amp,
                __m512i base, int64_t key, float max_pulses) {
  __m256 d = _mm256_maskz_loadu_ps(m, dphi + i);
  __m256 total = d;
  if (amp != nullptr) {
    __m256 n = normal8(base, _mm512_set1_epi64(key));
    total = _mm256_add_ps(_mm256_mul_ps(n, _mm256_maskz_loadu_ps(m, amp + i)), d);
  }
  total = _mm256_max_ps(total, _mm256_setzero_ps());
  total = _mm256_add_ps(total, _mm256_maskz_loadu_ps(m, phase + i));
  __m256 pulses = _mm256_floor_ps(total);
  __m256 mp = _mm256_set1_ps(max_pulses);
  Cco out;
  out.lost = _mm256_max_ps(_mm256_sub_ps(pulses, mp), _mm256_setzero_ps());
  out.pulses = _mm256_cvttps_epi32(_mm256_min_ps(pulses, mp));
  out.phase = _mm256_sub_ps(total, pulses);
  return out;
}

}  // namespace

extern "C" void td_pulses_and_count(
    int64_t n, int nthreads, const float* phase_e, const float* phase_i, const float* dphi_e,
    const float* amp_e, const float* dphi_i, const float* amp_i, int64_t key_e, int64_t key_i,
    const int64_t* base, const int32_t* count, const uint8_t* overflow, int32_t n_th,
    int32_t count_min, int32_t count_max, int32_t max_pulses, float* spikes,
    float* new_phase_e, float* new_phase_i, int32_t* new_count, uint8_t* new_overflow,
    int32_t* up, int32_t* down, int64_t* sent_out, int64_t* lost_out) {
  int64_t sent = 0;
  double lost = 0.0;
  const float mp = (float)max_pulses;
  const int64_t blocks = (n + 7) / 8;
#pragma omp parallel for num_threads(nthreads) schedule(static) reduction(+ : sent, lost)
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t i = 8 * b;
    const __mmask8 m = n - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (n - i)) - 1);
    __m512i bs = _mm512_maskz_loadu_epi64(m, base + i);
    Cco e = cco8(m, i, phase_e, dphi_e, amp_e, bs, key_e, mp);
    Cco h = cco8(m, i, phase_i, dphi_i, amp_i, bs, key_i, mp);
    // rtl.reference.counter_step in int32
    __m256i c = _mm256_maskz_loadu_epi32(m, count + i);
    __m256i raised = _mm256_add_epi32(c, e.pulses);
    __mmask8 flag = _mm256_cmpgt_epi32_mask(raised, _mm256_set1_epi32(count_max)) |
                    _mm256_cmplt_epi32_mask(_mm256_sub_epi32(c, h.pulses),
                                            _mm256_set1_epi32(count_min));
    __m256i next = _mm256_sub_epi32(raised, h.pulses);
    next = _mm256_min_epi32(_mm256_max_epi32(next, _mm256_set1_epi32(count_min)),
                            _mm256_set1_epi32(count_max));
    __mmask8 spike = _mm256_cmpge_epi32_mask(next, _mm256_set1_epi32(n_th));
    next = _mm256_mask_sub_epi32(next, spike, next, _mm256_set1_epi32(n_th));
    __m128i ovf = _mm_maskz_loadu_epi8(m, overflow + i);
    ovf = _mm_or_si128(ovf, _mm_maskz_set1_epi8(flag, 1));
    _mm256_mask_storeu_ps(spikes + i, m, _mm256_maskz_mov_ps(spike, _mm256_set1_ps(1.0f)));
    _mm256_mask_storeu_ps(new_phase_e + i, m, e.phase);
    _mm256_mask_storeu_ps(new_phase_i + i, m, h.phase);
    _mm256_mask_storeu_epi32(new_count + i, m, next);
    _mm_mask_storeu_epi8(new_overflow + i, m, ovf);
    _mm256_mask_storeu_epi32(up + i, m, e.pulses);
    _mm256_mask_storeu_epi32(down + i, m, h.pulses);
    // the totals: lanes beyond n are zero here (masked loads), and count nothing
    __m256i both = _mm256_maskz_add_epi32(m, e.pulses, h.pulses);
    sent += _mm512_reduce_add_epi64(_mm512_cvtepi32_epi64(both));
    lost += _mm512_reduce_add_pd(
        _mm512_cvtps_pd(_mm256_maskz_mov_ps(m, _mm256_add_ps(e.lost, h.lost))));
  }
  *sent_out = sent;
  *lost_out = (int64_t)lost;
}

// The two float64 factors of Box-Muller (factors8: u10, or u35 where fast) for the 24-bit
// field values field[k] (both fields of a draw set to it): what the tests compare, over every
// field value, with the compiled torch functions and with each other.
extern "C" void td_box_muller_factors(int64_t n, const int32_t* field, int fast, double* radius,
                                      double* angle) {
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 m = n - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (n - i)) - 1);
    __m512i f = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, field + i));
    __m512d u1, u2, r, a;
    uniforms8(_mm512_or_si512(_mm512_slli_epi64(f, 40), _mm512_slli_epi64(f, 16)), &u1, &u2);
    if (fast)
      factors8<true>(u1, u2, &r, &a);
    else
      factors8<false>(u1, u2, &r, &a);
    _mm512_mask_storeu_pd(radius + i, m, r);
    _mm512_mask_storeu_pd(angle + i, m, a);
  }
}

// U35_ULPS, for the tests
extern "C" int td_u35_ulps() { return U35_ULPS; }
