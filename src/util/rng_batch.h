/*
 * Private to the library (and its tests and benchmarks): the implementations behind
 * clhs_rng_batch01 (rng.h), so that each one can be run and checked on its own.
 */
#ifndef CLHS_UTIL_RNG_BATCH_H
#define CLHS_UTIL_RNG_BATCH_H

#include <stdint.h>

/** The implementations of clhs_rng_batch01. Every one gives the same bits. */
enum clhs_rng_isa {
  CLHS_RNG_ISA_SCALAR = 0, /**< plain C: Random123's philox4x32, one id at a time */
  CLHS_RNG_ISA_AVX2 = 1,   /**< 8 ids at a time in 256-bit vectors */
  CLHS_RNG_ISA_AVX512 = 2, /**< 16 ids at a time in 512-bit vectors (AVX-512F) */
};

/** Whether this build and this CPU can run `isa`. */
int clhs_rng_batch_supported(int isa);

/** The implementation clhs_rng_batch01 uses: the widest supported one, chosen once. */
int clhs_rng_batch_choice(void);

/** clhs_rng_batch01 with the implementation `isa` (scalar if this CPU cannot run it). */
void clhs_rng_batch01_isa(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                          int64_t n, uint32_t *w0, uint32_t *w1);

#endif
