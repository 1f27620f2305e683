/* The batched exp (src/util/vmath.h): every implementation this CPU can run gives the same
 * bits as clhs_exp and as each other, for every array length around the vector widths and
 * in place; special arguments (tiny, |x| >= 512, 0, -0, inf, NaN) are libm's; and on a CPU
 * with FMA, where glibc runs its FMA build of exp, the same bits as libm's exp over a
 * million arguments of the ranges the model uses and beyond. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/isa.h"
#include "util/vmath.h"

#define N 1000000

static uint64_t bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

/* Arguments: mostly [-40, 40] (the model's), some over the whole domain, some special. */
static double *arguments(void) {
  double *x = malloc(sizeof(double) * N);
  assert_non_null(x);
  uint64_t s = 88172645463325252ull;
  for (int64_t i = 0; i < N; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const double u = (double)(s >> 11) * 0x1p-53;
    x[i] = i % 10 == 0 ? -800 + 1600 * u : (i % 10 == 1 ? (u - 0.5) * 0x1p-50 : -40 + 80 * u);
  }
  const double special[] = {0.0,    -0.0,  INFINITY, -INFINITY, NAN,   0x1p-54, -0x1p-54, 0x1p-55,
                            511.99, 512.0, -512.0,   -745.2,    709.8, 710.0,   -1e-300,  1.0};
  memcpy(x, special, sizeof special);
  return x;
}

static void test_paths_agree(void **state) {
  (void)state;
  double *x = arguments(), *y = malloc(sizeof(double) * N), *z = malloc(sizeof(double) * N);
  assert_non_null(y);
  assert_non_null(z);
  for (int64_t i = 0; i < N; i++)
    z[i] = clhs_exp(x[i]);
  int paths = 0;
  for (int isa = CLHS_ISA_SCALAR; isa <= CLHS_ISA_AVX512; isa++) {
    if (!clhs_isa_supported(isa)) continue;
    paths++;
    clhs_exp_batch_isa(isa, x, y, N);
    for (int64_t i = 0; i < N; i++)
      if (bits(y[i]) != bits(z[i]))
        fail_msg("%s: exp(%a) = %a, one at a time %a", clhs_isa_name(isa), x[i], y[i], z[i]);
    /* every length around the vector widths, in place, nothing written past n */
    for (int64_t n = 0; n <= 40; n++) {
      double buf[48];
      memcpy(buf, x + 16, sizeof(double) * (size_t)n);
      for (int64_t k = n; k < 48; k++)
        buf[k] = -7.0;
      clhs_exp_batch_isa(isa, buf, buf, n);
      for (int64_t k = 0; k < n; k++)
        assert_true(bits(buf[k]) == bits(z[16 + k]));
      for (int64_t k = n; k < 48; k++)
        assert_true(buf[k] == -7.0);
    }
  }
  assert_true(paths >= 1);
  /* special arguments: libm's value */
  for (int k = 0; k < 16; k++)
    assert_true(bits(z[k]) == bits(exp(x[k])) || (isnan(z[k]) && isnan(exp(x[k]))));
  free(x);
  free(y);
  free(z);
}

static void test_equals_libm_with_fma(void **state) {
  (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("fma")) skip(); /* glibc runs its non-FMA exp: other bits */
#endif
  double *x = arguments();
  int64_t bad = 0;
  for (int64_t i = 0; i < N; i++) {
    const double a = clhs_exp(x[i]), b = exp(x[i]);
    if (bits(a) != bits(b) && !(isnan(a) && isnan(b)) && bad++ < 3)
      print_message("exp(%a): libm %a, clhs_exp %a\n", x[i], b, a);
  }
  assert_int_equal(bad, 0);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paths_agree),
      cmocka_unit_test(test_equals_libm_with_fma),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
