/* Non-uniform variates over a keyed stream. Each one consumes a data-dependent
 * number of words, which is fine: the stream is a pure function of its key. */
#include "clhs/rng.h"

#include <math.h>

double clhs_rng_normal(clhs_rng *r) {
  /* Box-Muller, one value per call (no cached second value: a cache would be state). */
  double u1 = clhs_rng_uniform(r), u2 = clhs_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double clhs_rng_gamma(clhs_rng *r, double shape) {
  if (shape <= 0) return 0.0;
  if (shape < 1.0) {
    /* Boost: Gamma(a) = Gamma(a+1) * U^(1/a). */
    double g = clhs_rng_gamma(r, shape + 1.0);
    return g * pow(clhs_rng_uniform(r), 1.0 / shape);
  }
  /* Marsaglia & Tsang (2000). */
  const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = clhs_rng_normal(r);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    double u = clhs_rng_uniform(r);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
  }
}

double clhs_rng_beta(clhs_rng *r, double a, double b) {
  double x = clhs_rng_gamma(r, a), y = clhs_rng_gamma(r, b);
  return x / (x + y);
}

int64_t clhs_rng_poisson(clhs_rng *r, double lambda) {
  if (!(lambda > 0)) return 0;
  if (lambda < 10.0) {
    /* Knuth: multiply uniforms until the product drops below e^-lambda. */
    double limit = exp(-lambda), prod = clhs_rng_uniform(r);
    int64_t k = 0;
    while (prod > limit) {
      prod *= clhs_rng_uniform(r);
      k++;
    }
    return k;
  }
  /* Hörmann (1993) PTRS: transformed rejection with squeeze. */
  const double slam = sqrt(lambda), loglam = log(lambda);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    double u = clhs_rng_uniform(r) - 0.5, v = clhs_rng_uniform(r);
    double us = 0.5 - fabs(u);
    int64_t k = (int64_t)floor((2 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
        -lambda + (double)k * loglam - lgamma((double)k + 1))
      return k;
  }
}

int64_t clhs_rng_binomial(clhs_rng *r, int64_t n, double p) {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  /* Inversion over the rarer outcome: expected O(n min(p, 1-p)) words. */
  int flip = p > 0.5;
  double q = flip ? 1.0 - p : p;
  double s = q / (1.0 - q), a = (double)(n + 1) * s, f = pow(1.0 - q, (double)n);
  double u = clhs_rng_uniform(r);
  int64_t k = 0;
  while (u > f && k < n) {
    u -= f;
    k++;
    f *= a / (double)k - s;
  }
  return flip ? n - k : k;
}
