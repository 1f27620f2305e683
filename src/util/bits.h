/*
 * Private to the library: the bits of a float or double as an integer, and back (memcpy, the
 * defined way; compilers make it a register move).
 */
#ifndef CLHS_UTIL_BITS_H
#define CLHS_UTIL_BITS_H

#include <stdint.h>
#include <string.h>

static inline uint32_t clhs_f32_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline uint64_t clhs_f64_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline double clhs_f64_from_bits(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

#endif
