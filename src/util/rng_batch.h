/*
 * Private to the library (and its tests and benchmarks): the implementations behind
 * clhs_rng_batch01 (rng.h), so that each one can be run and checked on its own.
 */
#ifndef CLHS_UTIL_RNG_BATCH_H
#define CLHS_UTIL_RNG_BATCH_H

#include <stdint.h>

#include "isa.h"

/* The implementations: enum clhs_isa (isa.h); which one runs: clhs_isa_choice(). */

/** clhs_rng_batch01 with the implementation `isa` (enum clhs_isa) (scalar if this CPU cannot run
 * it). */
void clhs_rng_batch01_isa(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                          int64_t n, uint32_t *w0, uint32_t *w1);
/** clhs_rng_batch01_at with the implementation `isa`. */
void clhs_rng_batch01_at_isa(int isa, uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose,
                             int64_t n, const int32_t *off, uint32_t *w0, uint32_t *w1);

#endif
