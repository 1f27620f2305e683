/* Batched Philox4x32-10 (rng.h: clhs_rng_batch01): words 0 and 1 of block 0 of the streams
 * of consecutive ids, several ids at a time in SIMD vectors where the CPU has them.
 *
 * Each id is one independent Philox block, so lane k of a vector simply computes the block
 * of id0 + j + k. The only per-lane input is counter word 1 (the id's low 32 bits); the
 * step, counter word 2 (id high 16 bits | purpose << 16), word 3 (index 0) and the key are
 * the same in every lane of a run of ids that does not cross a multiple of 2^32.
 *
 * The vector code is compiled for AVX2 / AVX-512F with target attributes, so a portable
 * build (no -march) still has it; which one runs is decided at run time from the CPU. */
#include "rng_batch.h"

#include <string.h>

#include "clhs/rng.h"

/* The vector code: x86 with GCC or Clang, unless built with -DCLHS_NO_SIMD (isa.h). */
#if CLHS_X86_SIMD
#include <immintrin.h>
#endif

/* A run of ids: the counter of its first id (v[1] = its low 32 bits, v[3] = index 0) and the
 * key. Ids j = 0..n-1 of the run have counter word 1 = c.v[1] + j, without wrapping. */
typedef struct {
  philox4x32_ctr_t c;
  philox4x32_key_t k;
} run_key;

/* ---- scalar: Random123 itself ---- */

/* In every implementation, id j of a run has the low word c.v[1] + j, or c.v[1] + off[j] when
 * off is given (clhs_rng_batch01_at). */
static void batch_scalar(const run_key *rk, int64_t n, const int32_t *off, uint32_t *w0,
                         uint32_t *w1) {
  philox4x32_ctr_t c = rk->c;
  for (int64_t j = 0; j < n; j++) {
    c.v[1] = rk->c.v[1] + (off ? (uint32_t)off[j] : (uint32_t)j);
    philox4x32_ctr_t b = philox4x32(c, rk->k);
    w0[j] = b.v[0];
    if (w1) w1[j] = b.v[1];
  }
}

#if CLHS_X86_SIMD

/* What the lanes of a run share. Round 1 is the same in every lane except for an XOR: it uses
 * counter word 1 (the id's low bits) only in word 0 = hi(M1 * c2) ^ c1 ^ key0. So after
 * Random123's round 1 of the counter with word 1 = 0, giving x, id lo0 + i has the words
 * (x.v[0] ^ (lo0 + i), x.v[1], x.v[2], x.v[3]), and the vectors start at round 2. */
typedef struct {
  philox4x32_ctr_t x;
  uint32_t lo0;                /* the first id's low 32 bits */
  uint32_t key0[10], key1[10]; /* [r]: round r + 1's key, key + r * (W0, W1) (bumpkey) */
} run_lanes;

static run_lanes prepare_lanes(const run_key *rk) {
  run_lanes p;
  philox4x32_ctr_t c = rk->c;
  c.v[1] = 0;
  p.x = philox4x32_R(1, c, rk->k);
  p.lo0 = rk->c.v[1];
  philox4x32_key_t k = rk->k;
  for (int r = 0; r < 10; r++) {
    p.key0[r] = k.v[0];
    p.key1[r] = k.v[1];
    k.v[0] += PHILOX_W32_0;
    k.v[1] += PHILOX_W32_1;
  }
  return p;
}

/* Vectors per loop iteration: independent chains of multiplies that overlap each other's
 * latency (4 measured fastest for both AVX2 and AVX-512 on an AMD EPYC: 1 is 20-30 % slower).
 * The last few ids of a run go one vector at a time. */
#define U 4

/* ---- AVX2: 8 ids per vector ---- */

/* The high and low 32 bits of the 8 products a[i] * m (m: one 32-bit constant in every
 * lane). _mm256_mul_epu32 multiplies the even 32-bit lanes into 64-bit products; the odd
 * lanes are shifted down into even position for a second multiply. The low halves are the
 * 32-bit products themselves (one vpmulld, rather than a shift and a blend). */
__attribute__((target("avx2"))) static inline void mulhilo_avx2(__m256i a, __m256i m, __m256i *hi,
                                                                __m256i *lo) {
  __m256i even = _mm256_mul_epu32(a, m);                       /* lanes 0,2,4,6 (64 bits) */
  __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m); /* lanes 1,3,5,7 (64 bits) */
  /* hi: the top halves, even ones shifted down into place. */
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  *lo = _mm256_mullo_epi32(a, m);
}

/* Ids j .. j + 8u - 1 of the run, u <= U vectors (inlined with u a constant); lanes of ids
 * >= n are computed but not stored. */
__attribute__((target("avx2"), always_inline)) static inline void
ids_avx2(int u, const run_lanes *p, int64_t j, int64_t n, const int32_t *off, uint32_t *w0,
         uint32_t *w1) {
  const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M4x32_0);
  const __m256i m1 = _mm256_set1_epi32((int)PHILOX_M4x32_1);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i c[U][4];
  for (int v = 0; v < u; v++) { /* the words after round 1 */
    __m256i id;
    if (!off) {
      id = _mm256_add_epi32(_mm256_set1_epi32((int)(p->lo0 + (uint32_t)(j + 8 * v))), lane);
    } else { /* a partial last vector's offsets through a buffer (lanes >= n: 0, not stored) */
      int32_t b[8] = {0};
      const int64_t jv = j + 8 * v, k = n - jv < 8 ? n - jv : 8;
      memcpy(b, off + jv, (size_t)k * sizeof *b);
      id = _mm256_add_epi32(_mm256_set1_epi32((int)p->lo0), _mm256_loadu_si256((const __m256i *)b));
    }
    c[v][0] = _mm256_xor_si256(_mm256_set1_epi32((int)p->x.v[0]), id);
    c[v][1] = _mm256_set1_epi32((int)p->x.v[1]);
    c[v][2] = _mm256_set1_epi32((int)p->x.v[2]);
    c[v][3] = _mm256_set1_epi32((int)p->x.v[3]);
  }
  /* Rounds 2..9: (hi0, lo0) = M0 * c0, (hi1, lo1) = M1 * c2, then
   * c = (hi1 ^ c1 ^ key0, lo1, hi0 ^ c3 ^ key1, lo0). */
  for (int r = 1; r < 9; r++) {
    const __m256i k0 = _mm256_set1_epi32((int)p->key0[r]);
    const __m256i k1 = _mm256_set1_epi32((int)p->key1[r]);
    for (int v = 0; v < u; v++) {
      __m256i h0, l0, h1, l1;
      mulhilo_avx2(c[v][0], m0, &h0, &l0);
      mulhilo_avx2(c[v][2], m1, &h1, &l1);
      c[v][0] = _mm256_xor_si256(_mm256_xor_si256(h1, c[v][1]), k0);
      c[v][1] = l1;
      c[v][2] = _mm256_xor_si256(_mm256_xor_si256(h0, c[v][3]), k1);
      c[v][3] = l0;
    }
  }
  /* Round 10, words 0 and 1 only (they need only M1 * c2); store those of ids < n. */
  const __m256i k0 = _mm256_set1_epi32((int)p->key0[9]);
  for (int v = 0; v < u; v++) {
    __m256i h1, out1;
    mulhilo_avx2(c[v][2], m1, &h1, &out1);
    __m256i out0 = _mm256_xor_si256(_mm256_xor_si256(h1, c[v][1]), k0);
    const int64_t jv = j + 8 * v;
    if (n - jv >= 8) {
      _mm256_storeu_si256((__m256i *)(w0 + jv), out0);
      if (w1) _mm256_storeu_si256((__m256i *)(w1 + jv), out1);
    } else if (n > jv) { /* a partial last vector goes through a buffer */
      uint32_t b0[8], b1[8];
      _mm256_storeu_si256((__m256i *)b0, out0);
      _mm256_storeu_si256((__m256i *)b1, out1);
      memcpy(w0 + jv, b0, (size_t)(n - jv) * sizeof *w0);
      if (w1) memcpy(w1 + jv, b1, (size_t)(n - jv) * sizeof *w1);
    }
  }
}

__attribute__((target("avx2"))) static void
batch_avx2(const run_key *rk, int64_t n, const int32_t *off, uint32_t *w0, uint32_t *w1) {
  const run_lanes p = prepare_lanes(rk);
  int64_t j = 0;
  /* The loops twice, so that the consecutive ids' are compiled with off = NULL (one loop for
   * both measured 20-40 % slower per block in rng_bench). */
  if (!off) {
    for (; n - j >= 8 * U; j += 8 * U)
      ids_avx2(U, &p, j, n, NULL, w0, w1);
    for (; j < n; j += 8)
      ids_avx2(1, &p, j, n, NULL, w0, w1);
  } else {
    for (; n - j >= 8 * U; j += 8 * U)
      ids_avx2(U, &p, j, n, off, w0, w1);
    for (; j < n; j += 8)
      ids_avx2(1, &p, j, n, off, w0, w1);
  }
}

/* ---- AVX-512F: 16 ids per vector, the same steps as AVX2 ---- */

__attribute__((target("avx512f"))) static inline void mulhilo_avx512(__m512i a, __m512i m,
                                                                     __m512i *hi, __m512i *lo) {
  __m512i even = _mm512_mul_epu32(a, m);                       /* lanes 0,2,..,14 (64 bits) */
  __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m); /* lanes 1,3,..,15 (64 bits) */
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  *lo = _mm512_mullo_epi32(a, m);
}

__attribute__((target("avx512f"), always_inline)) static inline void
ids_avx512(int u, const run_lanes *p, int64_t j, int64_t n, const int32_t *off, uint32_t *w0,
           uint32_t *w1) {
  const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M4x32_0);
  const __m512i m1 = _mm512_set1_epi32((int)PHILOX_M4x32_1);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i c[U][4];
  for (int v = 0; v < u; v++) {
    __m512i id;
    if (!off) {
      id = _mm512_add_epi32(_mm512_set1_epi32((int)(p->lo0 + (uint32_t)(j + 16 * v))), lane);
    } else { /* the offsets of lanes >= n are not loaded (0), their words not stored */
      const int64_t jv = j + 16 * v, left = n - jv;
      const __mmask16 in = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
      id = _mm512_add_epi32(_mm512_set1_epi32((int)p->lo0), _mm512_maskz_loadu_epi32(in, off + jv));
    }
    c[v][0] = _mm512_xor_si512(_mm512_set1_epi32((int)p->x.v[0]), id);
    c[v][1] = _mm512_set1_epi32((int)p->x.v[1]);
    c[v][2] = _mm512_set1_epi32((int)p->x.v[2]);
    c[v][3] = _mm512_set1_epi32((int)p->x.v[3]);
  }
  for (int r = 1; r < 9; r++) {
    const __m512i k0 = _mm512_set1_epi32((int)p->key0[r]);
    const __m512i k1 = _mm512_set1_epi32((int)p->key1[r]);
    for (int v = 0; v < u; v++) {
      __m512i h0, l0, h1, l1;
      mulhilo_avx512(c[v][0], m0, &h0, &l0);
      mulhilo_avx512(c[v][2], m1, &h1, &l1);
      c[v][0] = _mm512_xor_si512(_mm512_xor_si512(h1, c[v][1]), k0);
      c[v][1] = l1;
      c[v][2] = _mm512_xor_si512(_mm512_xor_si512(h0, c[v][3]), k1);
      c[v][3] = l0;
    }
  }
  const __m512i k0 = _mm512_set1_epi32((int)p->key0[9]);
  for (int v = 0; v < u; v++) {
    __m512i h1, out1;
    mulhilo_avx512(c[v][2], m1, &h1, &out1);
    __m512i out0 = _mm512_xor_si512(_mm512_xor_si512(h1, c[v][1]), k0);
    /* Stored under a mask: only the lanes of ids < n. */
    const int64_t jv = j + 16 * v, left = n - jv;
    if (left <= 0) break;
    __mmask16 keep = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    _mm512_mask_storeu_epi32(w0 + jv, keep, out0);
    if (w1) _mm512_mask_storeu_epi32(w1 + jv, keep, out1);
  }
}

__attribute__((target("avx512f"))) static void
batch_avx512(const run_key *rk, int64_t n, const int32_t *off, uint32_t *w0, uint32_t *w1) {
  const run_lanes p = prepare_lanes(rk);
  int64_t j = 0;
  if (!off) {
    for (; n - j >= 16 * U; j += 16 * U)
      ids_avx512(U, &p, j, n, NULL, w0, w1);
    for (; j < n; j += 16)
      ids_avx512(1, &p, j, n, NULL, w0, w1);
  } else {
    for (; n - j >= 16 * U; j += 16 * U)
      ids_avx512(U, &p, j, n, off, w0, w1);
    for (; j < n; j += 16)
      ids_avx512(1, &p, j, n, off, w0, w1);
  }
}

#endif /* CLHS_X86_SIMD */

/* ---- choosing one (isa.h) ---- */

const char *clhs_rng_batch_isa(void) {
  return clhs_isa_name(clhs_isa_choice());
}

/* One run of ids whose counter word 2 is the same (that of id_hi): id0 + j (off NULL) or
 * id0 + off[j]. */
static void batch_run(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint64_t id_hi,
                      uint32_t purpose, int64_t n, const int32_t *off, uint32_t *w0, uint32_t *w1) {
  run_key rk = {{{step, (uint32_t)id0, (uint32_t)((id_hi >> 32) & 0xFFFFu) | (purpose << 16), 0}},
                {{(uint32_t)seed, (uint32_t)(seed >> 32)}}};
  switch (isa) {
#if CLHS_X86_SIMD
  case CLHS_ISA_AVX2: batch_avx2(&rk, n, off, w0, w1); break;
  case CLHS_ISA_AVX512: batch_avx512(&rk, n, off, w0, w1); break;
#endif
  default: batch_scalar(&rk, n, off, w0, w1); break;
  }
}

void clhs_rng_batch01_isa(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                          int64_t n, uint32_t *w0, uint32_t *w1) {
  if (!clhs_isa_supported(isa)) isa = CLHS_ISA_SCALAR;
  while (n > 0) {
    /* The ids up to the next multiple of 2^32 share counter word 2 (as clhs_rng_init). */
    uint64_t to_wrap = ((uint64_t)1 << 32) - (uint32_t)id0;
    int64_t m = (uint64_t)n < to_wrap ? n : (int64_t)to_wrap;
    batch_run(isa, seed, step, id0, id0, purpose, m, NULL, w0, w1);
    id0 += (uint64_t)m;
    n -= m;
    w0 += m;
    if (w1) w1 += m;
  }
}

void clhs_rng_batch01_at_isa(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                             int64_t n, const int32_t *off, uint32_t *w0, uint32_t *w1) {
  if (!clhs_isa_supported(isa)) isa = CLHS_ISA_SCALAR;
  while (n > 0) {
    /* The offsets ascend: those whose ids share their high 32 bits come together (the last of
     * them found by bisection; usually all n). The low words are (uint32)id0 + off[j]. */
    const uint64_t hi = (id0 + (uint64_t)off[0]) >> 32;
    int64_t m = n;
    if ((id0 + (uint64_t)off[n - 1]) >> 32 != hi) {
      int64_t lo = 1; /* off[0..lo) share hi; off[m..n) do not */
      while (lo < m) {
        const int64_t mid = lo + (m - lo) / 2;
        if ((id0 + (uint64_t)off[mid]) >> 32 == hi)
          lo = mid + 1;
        else
          m = mid;
      }
    }
    batch_run(isa, seed, step, id0, hi << 32, purpose, m, off, w0, w1);
    n -= m;
    off += m;
    w0 += m;
    if (w1) w1 += m;
  }
}

void clhs_rng_batch01(uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose, int64_t n,
                      uint32_t *w0, uint32_t *w1) {
  clhs_rng_batch01_isa(clhs_isa_choice(), seed, step, id0, purpose, n, w0, w1);
}

void clhs_rng_batch01_at(uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose, int64_t n,
                         const int32_t *off, uint32_t *w0, uint32_t *w1) {
  clhs_rng_batch01_at_isa(clhs_isa_choice(), seed, step, id0, purpose, n, off, w0, w1);
}
