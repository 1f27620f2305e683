/* The batched Philox (clhs_rng_batch01): every word equal to the scalar stream's, for the
 * dispatched implementation and for each one this CPU can run, at every batch length around
 * the vector widths (8, 16), for ids that cross 2^32 (counter word 2 changes inside the
 * batch) and 2^48 (the id's high 16 bits wrap), and without writing past n. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "clhs/rng.h"
#include "util/rng_batch.h"

#define MAXN 1000
#define PAD 32 /* words after n that must stay untouched */
#define CANARY 0xDEADBEEFu

/* Which implementation to run: one of enum clhs_isa, or DISPATCHED (clhs_rng_batch01). */
#define DISPATCHED (-1)

static void run_batch(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                      int64_t n, uint32_t *w0, uint32_t *w1) {
  if (isa == DISPATCHED)
    clhs_rng_batch01(seed, step, id0, purpose, n, w0, w1);
  else
    clhs_rng_batch01_isa(isa, seed, step, id0, purpose, n, w0, w1);
}

/* The implementations to check here: the dispatched one and every one the CPU supports. */
static int isas_here(int isa[4]) {
  int k = 0;
  isa[k++] = DISPATCHED;
  for (int i = CLHS_ISA_SCALAR; i <= CLHS_ISA_AVX512; i++)
    if (clhs_isa_supported(i)) isa[k++] = i;
  return k;
}

/* Random123's published known answer (counter 0, key 0) through the batch. */
static void test_known_answer(void **state) {
  (void)state;
  int isa[4], nisa = isas_here(isa);
  for (int i = 0; i < nisa; i++) {
    uint32_t w0 = 0, w1 = 0;
    run_batch(isa[i], 0, 0, 0, 0, 1, &w0, &w1);
    assert_int_equal(w0, 0x6627e8d5u);
    assert_int_equal(w1, 0xe169c58du);
  }
}

/* Every word equals the scalar stream's; nothing is written past n; w1 = NULL works. */
static void test_matches_scalar(void **state) {
  (void)state;
  static const uint64_t seeds[] = {0, 42, 0x0123456789ABCDEFull, 0xFFFFFFFFFFFFFFFFull,
                                   (uint64_t)1 << 40};
  static const uint32_t steps[] = {0, 7, 1234567, CLHS_STEP_INIT};
  static const uint32_t purposes[] = {0, CLHS_P_CARE, CLHS_P_DISEASE, 0xFFFF};
  static const uint64_t ids[] = {0,
                                 1,
                                 123456789,
                                 ((uint64_t)1 << 32) - 5, /* low word wraps inside the batch */
                                 ((uint64_t)1 << 32) - 500,
                                 (uint64_t)1 << 32,
                                 ((uint64_t)7 << 32) + 3,
                                 ((uint64_t)1 << 48) - 9, /* high 16 bits wrap to 0 */
                                 ((uint64_t)1 << 48) + 100,
                                 0xFFFFFFFFFFFFFFF8ull}; /* id0 + j wraps in 64 bits */
  static const int64_t ns[] = {0, 1, 7, 8, 9, 15, 16, 17, MAXN};
  static uint32_t want0[MAXN], want1[MAXN], got0[MAXN + PAD + 1], got1[MAXN + PAD + 1];
  int isa[4], nisa = isas_here(isa);
  long checked = 0;
  for (size_t a = 0; a < sizeof seeds / sizeof *seeds; a++)
    for (size_t b = 0; b < sizeof steps / sizeof *steps; b++)
      for (size_t c = 0; c < sizeof purposes / sizeof *purposes; c++)
        for (size_t d = 0; d < sizeof ids / sizeof *ids; d++) {
          const uint64_t seed = seeds[a], id0 = ids[d];
          const uint32_t step = steps[b], purpose = purposes[c];
          for (int64_t j = 0; j < MAXN; j++) {
            clhs_rng r;
            clhs_rng_init(&r, seed, step, id0 + (uint64_t)j, purpose);
            want0[j] = clhs_rng_u32(&r);
            want1[j] = clhs_rng_u32(&r);
          }
          for (size_t e = 0; e < sizeof ns / sizeof *ns; e++)
            for (int i = 0; i < nisa; i++)
              for (int off = 0; off < 2; off++) { /* off 1: outputs not 32-byte aligned */
                const int64_t n = ns[e];
                for (int k = 0; k < MAXN + PAD + 1; k++)
                  got0[k] = got1[k] = CANARY;
                run_batch(isa[i], seed, step, id0, purpose, n, got0 + off, got1 + off);
                for (int64_t j = 0; j < n; j++) {
                  if (got0[off + j] != want0[j] || got1[off + j] != want1[j])
                    fail_msg("isa %d seed %llx step %u purpose %u id0 %llx n %lld: word j=%lld "
                             "is (%08x, %08x), scalar (%08x, %08x)",
                             isa[i], (unsigned long long)seed, step, purpose,
                             (unsigned long long)id0, (long long)n, (long long)j, got0[off + j],
                             got1[off + j], want0[j], want1[j]);
                  checked++;
                }
                for (int64_t k = 0; k < off; k++) {
                  assert_int_equal(got0[k], CANARY);
                  assert_int_equal(got1[k], CANARY);
                }
                for (int64_t k = off + n; k < MAXN + PAD + 1; k++) {
                  assert_int_equal(got0[k], CANARY);
                  assert_int_equal(got1[k], CANARY);
                }
                /* Without w1: the same w0. */
                if (off == 0 && n > 0) {
                  memset(got0, 0, sizeof got0);
                  run_batch(isa[i], seed, step, id0, purpose, n, got0, NULL);
                  assert_memory_equal(got0, want0, (size_t)n * sizeof *got0);
                  assert_int_equal(got0[n], 0);
                }
              }
        }
  printf("  %ld words checked over %d implementations (dispatched: %s)\n", checked, nisa,
         clhs_rng_batch_isa());
}

/* clhs_rng_batch01_at: the words of the streams of id0 + off[j] only, for ascending offsets of
 * every density (all, some, few), lengths around the vector widths, ids whose high words change
 * inside the batch (once and twice), and nothing written past n. */
static void test_at_matches_scalar(void **state) {
  (void)state;
  static const uint64_t ids[] = {0, 1000, ((uint64_t)1 << 32) - 40, ((uint64_t)2 << 32) - 3000,
                                 ((uint64_t)1 << 48) - 100};
  static const int64_t ns[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 300};
  static const int32_t gaps[] = {1, 2, 3, 17, 1 << 30}; /* 1 << 30: crosses 2^32 in 4 steps */
  static int32_t off[400];
  static uint32_t want0[400], want1[400], got0[400 + PAD], got1[400 + PAD];
  int isa[4], nisa = isas_here(isa);
  long checked = 0;
  uint32_t x = 12345; /* a small LCG for the offsets' gaps */
  for (size_t d = 0; d < sizeof ids / sizeof *ids; d++)
    for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++)
      for (size_t e = 0; e < sizeof ns / sizeof *ns; e++) {
        const int64_t n = ns[e];
        const uint64_t id0 = ids[d];
        int64_t o = 0, m = 0; /* m: the offsets below 2^31 (the largest gaps stop early) */
        for (; m < n && o <= INT32_MAX; m++) { /* random gaps of 1 .. gaps[g] */
          off[m] = (int32_t)o;
          x = x * 1103515245u + 12345u;
          o += 1 + (int64_t)((x >> 8) % (uint32_t)gaps[g]);
        }
        for (int64_t j = 0; j < m; j++) {
          clhs_rng r;
          clhs_rng_init(&r, 7, 11, id0 + (uint64_t)off[j], CLHS_P_SEARCH);
          want0[j] = clhs_rng_u32(&r);
          want1[j] = clhs_rng_u32(&r);
        }
        for (int i = 0; i < nisa; i++) {
          for (int k = 0; k < 400 + PAD; k++)
            got0[k] = got1[k] = CANARY;
          if (isa[i] == DISPATCHED)
            clhs_rng_batch01_at(7, 11, id0, CLHS_P_SEARCH, m, off, got0, got1);
          else
            clhs_rng_batch01_at_isa(isa[i], 7, 11, id0, CLHS_P_SEARCH, m, off, got0, got1);
          for (int64_t j = 0; j < m; j++) {
            if (got0[j] != want0[j] || got1[j] != want1[j])
              fail_msg("isa %d id0 %llx n %lld gap %d: word j=%lld (offset %d) is (%08x, %08x), "
                       "scalar (%08x, %08x)",
                       isa[i], (unsigned long long)id0, (long long)m, gaps[g], (long long)j, off[j],
                       got0[j], got1[j], want0[j], want1[j]);
            checked++;
          }
          for (int64_t k = m; k < 400 + PAD; k++) {
            assert_int_equal(got0[k], CANARY);
            assert_int_equal(got1[k], CANARY);
          }
          if (m > 0) { /* without w1: the same w0 */
            memset(got0, 0, sizeof got0);
            if (isa[i] == DISPATCHED)
              clhs_rng_batch01_at(7, 11, id0, CLHS_P_SEARCH, m, off, got0, NULL);
            else
              clhs_rng_batch01_at_isa(isa[i], 7, 11, id0, CLHS_P_SEARCH, m, off, got0, NULL);
            assert_memory_equal(got0, want0, (size_t)m * sizeof *got0);
            assert_int_equal(got0[m], 0);
          }
        }
      }
  printf("  %ld words at offsets checked over %d implementations\n", checked, nisa);
}

/* The name reports the implementation chosen, which is the widest this CPU supports. */
static void test_isa_name(void **state) {
  (void)state;
  const char *name = clhs_rng_batch_isa();
  static const char *const names[] = {"scalar", "avx2", "avx512"};
  int choice = clhs_isa_choice();
  assert_true(choice >= CLHS_ISA_SCALAR && choice <= CLHS_ISA_AVX512);
  assert_string_equal(name, names[choice]);
  assert_true(clhs_isa_supported(choice));
  for (int i = choice + 1; i <= CLHS_ISA_AVX512; i++)
    assert_false(clhs_isa_supported(i));
  assert_true(clhs_isa_supported(CLHS_ISA_SCALAR));
  assert_false(clhs_isa_supported(99));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answer),
      cmocka_unit_test(test_matches_scalar),
      cmocka_unit_test(test_at_matches_scalar),
      cmocka_unit_test(test_isa_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
