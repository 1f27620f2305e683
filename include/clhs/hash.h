/**
 * @file hash.h
 * @brief The 64-bit mixing steps shared by the state digest (clhs_world_digest) and the
 *        checkpoints' whole-file checksum: one definition, so the two cannot drift apart.
 *
 * Not cryptographic: they detect differences, they do not resist forgery.
 */
#ifndef CLHS_HASH_H
#define CLHS_HASH_H

#include <stdint.h>

/** splitmix64's finaliser: a bijective 64-bit mixer. */
static inline uint64_t clhs_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/** Fold the word @p v into the running hash @p h: one multiply-xor step, a bijection of
 * @p h for a fixed @p v and of @p v for a fixed @p h. */
static inline uint64_t clhs_fold64(uint64_t h, uint64_t v) {
  return (h ^ v) * 0x9fb21c651e98df25ULL;
}

#endif
