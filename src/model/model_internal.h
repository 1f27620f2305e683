/*
 * Internal to src/model: small helpers that several rule files share (static inline, so
 * that the hot loops that call them keep them inlined). Not part of the public API in
 * include/clhs/model.h.
 */
#ifndef CLHS_MODEL_INTERNAL_H
#define CLHS_MODEL_INTERNAL_H

#include <stdint.h>

#include "clhs/model.h"
#include "clhs/rng.h"

/* ------------------------------------------------------------ small helpers */

static inline double clamp01(double x) {
  return x < 0 ? 0 : (x > 1 ? 1 : x);
}
static inline double dmax(double a, double b) {
  return a > b ? a : b;
}

#endif
