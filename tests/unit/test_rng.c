/* The keyed random numbers: known answers, keying, and the distributions built on them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clhs/rng.h"

/* Random123's published known-answer vectors for Philox4x32-10. */
static void test_philox_known_answers(void **state) {
  (void)state;
  philox4x32_ctr_t r = clhs_rng_block(0, 0, 0, 0, 0);
  assert_int_equal(r.v[0], 0x6627e8d5u);
  assert_int_equal(r.v[1], 0xe169c58du);
  assert_int_equal(r.v[2], 0xbc57ac4cu);
  assert_int_equal(r.v[3], 0x9b00dbd8u);
  /* Key (seed) and counter fields land where rng.h says they do. */
  uint64_t seed = ((uint64_t)0x299f31d0u << 32) | 0xa4093822u;
  uint64_t id = ((uint64_t)0x1370u << 32) | 0x85a308d3u; /* high 16 bits of id in word 2 */
  r = clhs_rng_block(seed, 0x243f6a88u, id, 0x0319u, 0x03707344u); /* purpose << 16 | id_hi */
  philox4x32_ctr_t c = {{0x243f6a88u, 0x85a308d3u, (0x0319u << 16) | 0x1370u, 0x03707344u}};
  philox4x32_key_t k = {{0xa4093822u, 0x299f31d0u}};
  philox4x32_ctr_t e = philox4x32(c, k);
  for (int i = 0; i < 4; i++)
    assert_int_equal(r.v[i], e.v[i]);
}

/* A stream hands out the words of index 0, 1, 2, ... of its key, in order. */
static void test_stream_is_keyed(void **state) {
  (void)state;
  clhs_rng s;
  clhs_rng_init(&s, 42, 7, 123456789012ULL, CLHS_P_CARE);
  for (uint32_t idx = 0; idx < 3; idx++) {
    philox4x32_ctr_t b = clhs_rng_block(42, 7, 123456789012ULL, CLHS_P_CARE, idx);
    for (int k = 0; k < 4; k++)
      assert_int_equal(clhs_rng_u32(&s), b.v[k]);
  }
}

/* Changing any one part of the key changes the draw. */
static void test_every_key_part_matters(void **state) {
  (void)state;
  const philox4x32_ctr_t base = clhs_rng_block(1, 10, 5, CLHS_P_CARE, 0);
  philox4x32_ctr_t other[] = {
      clhs_rng_block(2, 10, 5, CLHS_P_CARE, 0),
      clhs_rng_block(1, 11, 5, CLHS_P_CARE, 0),
      clhs_rng_block(1, 10, 6, CLHS_P_CARE, 0),
      clhs_rng_block(1, 10, 5 + (1ULL << 32), CLHS_P_CARE, 0), /* ids above 2^32 */
      clhs_rng_block(1, 10, 5, CLHS_P_DISEASE, 0),
      clhs_rng_block(1, 10, 5, CLHS_P_CARE, 1),
      clhs_rng_block(1ULL << 40, 10, 5, CLHS_P_CARE, 0), /* high seed bits */
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    assert_false(other[i].v[0] == base.v[0] && other[i].v[1] == base.v[1]);
}

static double mean_of(double (*draw)(clhs_rng *, double, double), double a, double b, int n,
                      double *var) {
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) {
    clhs_rng r;
    clhs_rng_init(&r, 9, 0, (uint64_t)i, 100);
    double x = draw(&r, a, b);
    s += x;
    ss += x * x;
  }
  double m = s / n;
  *var = ss / n - m * m;
  return m;
}

static double beta_draw(clhs_rng *r, double a, double b) {
  return clhs_rng_beta(r, a, b);
}
static double poisson_draw(clhs_rng *r, double l, double unused) {
  (void)unused;
  return (double)clhs_rng_poisson(r, l);
}
static double binom_draw(clhs_rng *r, double n, double p) {
  return (double)clhs_rng_binomial(r, (int64_t)n, p);
}
static double uniform_draw(clhs_rng *r, double a, double b) {
  (void)a;
  (void)b;
  return clhs_rng_uniform(r);
}

/* Moments within about 5 standard errors (n = 200000). */
static void test_distributions(void **state) {
  (void)state;
  const int n = 200000;
  double v, m;
  m = mean_of(uniform_draw, 0, 0, n, &v);
  assert_true(fabs(m - 0.5) < 0.004 && fabs(v - 1.0 / 12) < 0.002);
  m = mean_of(beta_draw, 2, 3, n, &v); /* mean 0.4, var 0.04 */
  assert_true(fabs(m - 0.4) < 0.003 && fabs(v - 0.04) < 0.002);
  m = mean_of(beta_draw, 0.5, 0.5, n, &v); /* shape < 1 path: mean 0.5, var 0.125 */
  assert_true(fabs(m - 0.5) < 0.005 && fabs(v - 0.125) < 0.003);
  m = mean_of(poisson_draw, 3.0, 0, n, &v);
  assert_true(fabs(m - 3.0) < 0.03 && fabs(v - 3.0) < 0.1);
  m = mean_of(poisson_draw, 40.0, 0, n, &v); /* PTRS path */
  assert_true(fabs(m - 40.0) < 0.1 && fabs(v - 40.0) < 1.5);
  m = mean_of(binom_draw, 250, 0.3, n, &v); /* mean 75, var 52.5 */
  assert_true(fabs(m - 75.0) < 0.1 && fabs(v - 52.5) < 2.0);
  m = mean_of(binom_draw, 250, 0.9, n, &v); /* flipped path: mean 225, var 22.5 */
  assert_true(fabs(m - 225.0) < 0.07 && fabs(v - 22.5) < 1.0);
}

static void test_edge_cases(void **state) {
  (void)state;
  clhs_rng r;
  clhs_rng_init(&r, 1, 1, 1, 1);
  assert_int_equal(clhs_rng_binomial(&r, 10, 1.0), 10);
  assert_int_equal(clhs_rng_binomial(&r, 10, 0.0), 0);
  assert_int_equal(clhs_rng_poisson(&r, 0.0), 0);
  for (int i = 0; i < 1000; i++) {
    assert_false(clhs_rng_bernoulli(&r, 0.0));
    assert_true(clhs_rng_bernoulli(&r, 1.0));
    assert_true(clhs_rng_below(&r, 7) < 7);
  }
  assert_true(fabs(clhs_hazard_p(0.016) - (1 - exp(-0.016))) < 1e-15);
  assert_true(clhs_hazard_p(0) == 0);
  /* The uniform stays inside (0, 1) at both ends of its 53 bits (the top one rounds to 1
   * in double arithmetic and is clamped below it). */
  assert_true(clhs_u01_from64(0xFFFFFFFFu, 0xFFFFFFFFu) < 1.0);
  assert_true(clhs_u01_from64(0xFFFFFFFFu, 0xFFFFF000u) < 1.0);
  assert_true(clhs_u01_from64(0, 0) > 0.0);
}

/*
 * clhs_hazard_event(u, h) skips the expm1 when u >= h: it relies on 1 - exp(-h), as
 * this libm computes it, never exceeding h. Check that on this platform over the range
 * of weekly hazards (subnormal to far above 1, dense near the model's 0.001-0.1), and
 * that the event agrees with u < clhs_hazard_p(h) at and around the boundary.
 */
static void test_hazard_event(void **state) {
  (void)state;
  int64_t checked = 0;
  for (double h = 0x1p-1074; h < 64; h = h * 1.0001 + 0x1p-1074) {
    const double p = clhs_hazard_p(h);
    if (!(p <= h)) fail_msg("1 - exp(-%a) = %a exceeds h", h, p);
    const double us[] = {p, nextafter(p, 0), nextafter(p, 2), h, nextafter(h, 0), 0.5};
    for (size_t k = 0; k < sizeof us / sizeof us[0]; k++)
      assert_int_equal(clhs_hazard_event(us[k], h), us[k] < p);
    checked++;
  }
  clhs_rng r;
  clhs_rng_init(&r, 9, 9, 9, 9);
  for (int i = 0; i < 1000000; i++) { /* the model's range, random draws */
    const double h = 0.2 * clhs_rng_uniform(&r), u = clhs_rng_uniform(&r);
    assert_int_equal(clhs_hazard_event(u, h), u < clhs_hazard_p(h));
  }
  assert_false(clhs_hazard_event(0.3, 0.0));
  assert_false(clhs_hazard_event(0.3, -1.0));
  assert_true(checked > 1000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_stream_is_keyed),
      cmocka_unit_test(test_every_key_part_matters),
      cmocka_unit_test(test_distributions),
      cmocka_unit_test(test_edge_cases),
      cmocka_unit_test(test_hazard_event),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
