/* The RK4 sub-steps of a cm table-mode pulse on a uniform voltage grid, with AVX-512 gathers.

   The same float32 operations in the same order as behavioral.cm_table._uniform_rk4 (and so as
   torch's eager kernels and inductor's C++ for it): every step is one IEEE operation, compiled
   without contraction into FMA (-ffp-contract=off) or fast-math; the clamps are max and min
   with the bound second (the bound on a tie of +0 and -0), which is what at::vec::maximum /
   minimum give for numbers. A NaN membrane, where those give NaN and the row index is out of
   range, is reported instead (the eager lookup raises an index error there). What differs is only how the table values are read: a lookup needs base, slope at row
   k of column col and at the same row of the next column, which `pairs` (base and slope of
   each grid point interleaved, column-major: point j at pairs[2 j], pairs[2 j + 1]) holds as
   one 64-bit value at j and at j + nv; 16 neurons' values come from four 8-lane 64-bit gathers
   where inductor loads 64 floats one by one. Blocks of 4 x 16 neurons are interleaved so that
   the gathers of independent neurons overlap. */

#include <immintrin.h>
#include <stdint.h>

#define LANES 16
#define BLOCK 4 /* vectors of 16 neurons integrated side by side */

typedef struct {
    const double *pairs; /* (base, slope) per grid point, as 64-bit values */
    __m512i nv;
    __m512 v_lo, v_hi, inv_step, k_max;
} grid_t;

/* base and slope of the grid points at `at` (16 indices) */
static inline void gather(const grid_t *g, __m512i at, __m512 *base, __m512 *slope) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 lo = _mm512_castpd_ps(_mm512_i32gather_pd(_mm512_castsi512_si256(at), g->pairs, 8));
    __m512 hi = _mm512_castpd_ps(_mm512_i32gather_pd(_mm512_extracti64x4_epi64(at, 1), g->pairs, 8));
    *base = _mm512_permutex2var_ps(lo, even, hi);
    *slope = _mm512_permutex2var_ps(lo, odd, hi);
}

/* _uniform_lookup: (g_hi - g_lo) * b + g_lo, g = base + a * slope in column col and the next */
static inline __m512 lookup(const grid_t *g, __m512i k, __m512 a, __m512i col, __m512 b) {
    __m512i at = _mm512_add_epi32(col, k);
    __m512 b0, s0, b1, s1;
    gather(g, at, &b0, &s0);
    gather(g, _mm512_add_epi32(at, g->nv), &b1, &s1);
    __m512 g_lo = _mm512_add_ps(b0, _mm512_mul_ps(a, s0));
    __m512 g_hi = _mm512_add_ps(b1, _mm512_mul_ps(a, s1));
    return _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(g_hi, g_lo), b), g_lo);
}

typedef struct {
    __m512 v, i_e, i_i, b_e, b_i;
    __m512i col_e, col_i;
    __mmask16 valid, bad;
} lanes_t;

/* _uniform_rate: dV/dt at x. The row k is in [0, nv - 2]: x - v_lo >= 0 after the clamp; a
   NaN x is marked bad (max gives v_lo for it: row 0, a valid address) */
static inline __m512 rate(const grid_t *g, lanes_t *n, __m512 x) {
    n->bad |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    x = _mm512_mul_ps(_mm512_sub_ps(_mm512_min_ps(_mm512_max_ps(x, g->v_lo), g->v_hi), g->v_lo),
                      g->inv_step);
    __m512 kf = _mm512_min_ps(_mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC),
                              g->k_max);
    __m512 a = _mm512_sub_ps(x, kf);
    __m512i k = _mm512_cvttps_epi32(kf);
    return _mm512_sub_ps(_mm512_mul_ps(n->i_e, lookup(g, k, a, n->col_e, n->b_e)),
                         _mm512_mul_ps(n->i_i, lookup(g, k, a, n->col_i, n->b_i)));
}

/* `n_sub` RK4 sub-steps (h = dt, h2 = dt / 2, h6 = dt / 6, each rounded to float32) of `count`
   neurons from v0 into out, on `threads` OpenMP threads. Returns 1 when a rate was evaluated
   at a NaN membrane voltage (out is then not the eager result), else 0. */
int cm_table_rk4(float *out, const float *v0, const float *i_e, const float *i_i,
                 const int32_t *col_e, const float *b_e, const int32_t *col_i, const float *b_i,
                 const float *pairs, int32_t nv, int64_t count, float v_lo, float v_hi,
                 float inv_step, float h2, float h, float h6, int32_t n_sub, int32_t threads) {
    int bad_any = 0;
    int64_t blocks = (count + LANES * BLOCK - 1) / (LANES * BLOCK);
    #pragma omp parallel for num_threads(threads) schedule(static) reduction(|:bad_any)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const grid_t g = {(const double *)pairs, _mm512_set1_epi32(nv), _mm512_set1_ps(v_lo),
                          _mm512_set1_ps(v_hi), _mm512_set1_ps(inv_step),
                          _mm512_set1_ps((float)(nv - 2))};
        const __m512 vh2 = _mm512_set1_ps(h2), vh = _mm512_set1_ps(h), vh6 = _mm512_set1_ps(h6);
        const __m512 two = _mm512_set1_ps(2.0f);
        lanes_t n[BLOCK];
        for (int u = 0; u < BLOCK; u++) {
            int64_t at = (blk * BLOCK + u) * LANES, left = count - at;
            __mmask16 m = left >= LANES ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            n[u].valid = m;
            n[u].bad = 0;
            n[u].v = _mm512_maskz_loadu_ps(m, v0 + at);
            n[u].i_e = _mm512_maskz_loadu_ps(m, i_e + at);
            n[u].i_i = _mm512_maskz_loadu_ps(m, i_i + at);
            n[u].b_e = _mm512_maskz_loadu_ps(m, b_e + at);
            n[u].b_i = _mm512_maskz_loadu_ps(m, b_i + at);
            n[u].col_e = _mm512_maskz_loadu_epi32(m, col_e + at);
            n[u].col_i = _mm512_maskz_loadu_epi32(m, col_i + at);
        }
        for (int s = 0; s < n_sub; s++) {
            __m512 k1[BLOCK], k2[BLOCK], k3[BLOCK], k4[BLOCK];
            for (int u = 0; u < BLOCK; u++)
                k1[u] = rate(&g, &n[u], n[u].v);
            for (int u = 0; u < BLOCK; u++)
                k2[u] = rate(&g, &n[u], _mm512_add_ps(n[u].v, _mm512_mul_ps(k1[u], vh2)));
            for (int u = 0; u < BLOCK; u++)
                k3[u] = rate(&g, &n[u], _mm512_add_ps(n[u].v, _mm512_mul_ps(k2[u], vh2)));
            for (int u = 0; u < BLOCK; u++)
                k4[u] = rate(&g, &n[u], _mm512_add_ps(n[u].v, _mm512_mul_ps(k3[u], vh)));
            for (int u = 0; u < BLOCK; u++) {
                /* (((k1 + k2 * 2) + k3 * 2) + k4) * (dt / 6) + v */
                __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(
                    k1[u], _mm512_mul_ps(k2[u], two)), _mm512_mul_ps(k3[u], two)), k4[u]);
                n[u].v = _mm512_add_ps(_mm512_mul_ps(sum, vh6), n[u].v);
            }
        }
        for (int u = 0; u < BLOCK; u++) {
            _mm512_mask_storeu_ps(out + (blk * BLOCK + u) * LANES, n[u].valid, n[u].v);
            bad_any |= (n[u].bad & n[u].valid) != 0;
        }
    }
    return bad_any;
}

/* _columns: for each current i (A) of one path (negated first when `negate`): clamped to
   [lo, hi] (NaN stays NaN), ki = torch.bucketize(i, axis) (the first axis value >= i; none,
   as for NaN: ni) clamped to [1, ni - 1], col = (ki - 1) * nv and b = (i - axis[ki - 1]) /
   (axis[ki] - axis[ki - 1]), in float32 as torch computes them. */
void cm_table_columns(int32_t *col, float *b, const float *current, int32_t negate,
                      const float *axis, int32_t ni, int32_t nv, float lo, float hi,
                      int64_t count, int32_t threads) {
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t j = 0; j < count; j++) {
        float x = negate ? -current[j] : current[j];
        if (x == x) {
            x = x > lo ? x : lo;
            x = x < hi ? x : hi;
        }
        int32_t start = 0, end = ni;
        while (start < end) {
            int32_t mid = start + ((end - start) >> 1);
            if (!(axis[mid] >= x))
                start = mid + 1;
            else
                end = mid;
        }
        int32_t k = start < 1 ? 1 : start > ni - 1 ? ni - 1 : start;
        col[j] = (k - 1) * nv;
        b[j] = (x - axis[k - 1]) / (axis[k] - axis[k - 1]);
    }
}
