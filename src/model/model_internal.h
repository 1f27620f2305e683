/*
 * Internal to src/model: small helpers that several rule files share (static inline, so
 * that the hot loops that call them keep them inlined), and the interface between
 * phase 4 (resources.c) and the commons (commons.c). Not part of the public API in
 * include/clhs/model.h.
 */
#ifndef CLHS_MODEL_INTERNAL_H
#define CLHS_MODEL_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "clhs/model.h"
#include "clhs/rng.h"

/* ------------------------------------------------------------ small helpers */

/* The range [A[k], A[k+1]) of a non-decreasing prefix array A[0..n] that holds x, for
 * A[0] <= x < A[n]: the first k with A[k + 1] > x, so never an empty range (ranks with no
 * agents, centres or weight share their start with the next one, which holds x). */
static inline int64_t clhs_range_of(const int64_t *A, int64_t n, int64_t x) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (A[mid + 1] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

static inline double clamp01(double x) {
  /* Both tests always made (not nested): the compiler then turns them into vector selects
   * (a nested test is a conditional, possibly trapping, comparison that it will not
   * speculate). The same values as x < 0 ? 0 : (x > 1 ? 1 : x), NaN and -0 included. */
  const double lo = x < 0 ? 0 : x;
  return lo > 1 ? 1 : lo;
}
static inline double dmax(double a, double b) {
  return a > b ? a : b;
}

_Static_assert(CLHS_F_HELD_SHIFT + CLHS_NEEDS <= 8, "the held categories fit in flags");

/* The first k in [k, n) with f[k] >= v, or n, for v a power of two (1: nonzero; 2: tier >= 2):
 * eight bytes at a time, for bytes of which few qualify (flags set by a vector pass for the
 * rare work a scalar pass then does; the tiers E of which few are 2 or more). */
static inline int64_t clhs_next_at_least(const uint8_t *f, int64_t k, int64_t n, unsigned v) {
  const uint64_t mask = 0x0101010101010101ull * (uint8_t) ~(v - 1); /* a byte >= v: a bit here */
  for (; k + 8 <= n; k += 8) {
    uint64_t x;
    memcpy(&x, f + k, sizeof x);
    x &= mask;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (x) return k + __builtin_ctzll(x) / 8; /* the first byte is the lowest */
#else
    if (x) break; /* the byte loop finds which */
#endif
  }
  for (; k < n && f[k] < v; k++) {
  }
  return k;
}

/* The offsets k in [0, n) with f[k] >= v (v a power of two), in order, into ix; returns how
 * many. Eight bytes at a time: each qualifying byte's top bit set in t, then the set bits. */
static inline int32_t clhs_compact_at_least(const uint8_t *f, int32_t n, unsigned v, int32_t *ix) {
  int32_t nx = 0, k = 0;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t mask = 0x0101010101010101ull * (uint8_t) ~(v - 1), lo7 = 0x7F7F7F7F7F7F7F7Full;
  for (; k + 8 <= n; k += 8) {
    uint64_t x;
    memcpy(&x, f + k, sizeof x);
    x &= mask;
    uint64_t t = (((x & lo7) + lo7) | x) & ~lo7; /* a byte's top bit: the byte is nonzero */
    while (t) {
      ix[nx++] = k + __builtin_ctzll(t) / 8;
      t &= t - 1;
    }
  }
#endif
  for (; k < n; k++) {
    ix[nx] = k;
    nx += f[k] >= v;
  }
  return nx;
}

/* The first k in [k, n) with f[k] != 0, or n. */
static inline int64_t clhs_next_set(const uint8_t *f, int64_t k, int64_t n) {
  return clhs_next_at_least(f, k, n, 1);
}

/* The categories of the held list @p held[0, hm): bit κ set if it holds a κ-resource. */
static inline unsigned held_cats(const uint64_t *held, int64_t hm) {
  unsigned c = 0;
  for (int64_t k = 0; k < hm; k++)
    if (held[k] != CLHS_RES_NONE) c |= 1u << clhs_res_cat(held[k]);
  return c;
}

/* Local agent i's flags with its held-category bits set from its held list. */
static inline void held_cats_set(clhs_world *w, int64_t i) {
  const int64_t hm = w->cfg->resources.held_max;
  w->flags[i] = (uint8_t)((w->flags[i] & ((1u << CLHS_F_HELD_SHIFT) - 1)) |
                          held_cats(w->held + i * hm, hm) << CLHS_F_HELD_SHIFT);
}

/* Whether the held list @p held[0, hm) holds resource @p id. */
static inline int holds(const uint64_t *held, int64_t hm, uint64_t id) {
  for (int64_t k = 0; k < hm; k++)
    if (held[k] == id) return 1;
  return 0;
}

/* ------------------------------------------------------------ the decomposition */

/* This rank's block of centres, from the configuration alone (world.c; the memory estimate
 * uses it too). */
typedef struct clhs_decomp {
  int64_t ncentres, nagents, npatients, nclin_total, nqis_total; /* the whole run */
  /* This rank's centres [c_begin, c_begin + c_count) (a rank with none: where its block
   * would start) and the global index of its first agent, patient, clinician and QIS. */
  int64_t c_begin, c_count, gid_begin, pat_row0, clin_row0, qis_row0;
  int32_t (*cnt)[CLHS_NTYPES]; /* [c_count]: agents of each type in this rank's centres */
  int64_t *rank_gid0;          /* [P + 1]: global id of each rank's first agent; nagents */
} clhs_decomp;

/* Collective: size an equal share of the centres, place them on their owners; aborts every
 * rank when out of memory. */
void clhs_world_decompose(const clhs_config *cfg, const clhs_comm *comm, clhs_decomp *d);
void clhs_decomp_free(clhs_decomp *d);

/* ------------------------------------------------------------ the halo lookup */

/* Index of a remote gid in the halo, or -1. Inline for the neighbour lists (ties.c);
 * clhs_halo_find (halo.c) is the same for other callers. */
static inline int64_t halo_find(const clhs_halo *h, int64_t gid) {
  int64_t lo = 0, hi = h->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (h->gid[mid] < gid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < h->n && h->gid[lo] == gid ? lo : -1;
}

/* Halo index of remote neighbour @p gid of agent @p of; aborts every rank if missing.
 * Inline for the neighbour lists (ties.c); clhs_halo_index (halo.c) for other callers. */
static inline int64_t halo_index(const clhs_world *w, int64_t gid, int64_t of) {
  const int64_t hx = halo_find(&w->halo, gid);
  /* The halo is rebuilt after every change to the ties (phase 3); a remote neighbour
   * missing from it is a bug, not a state to read through. */
  if (hx < 0)
    clhs_comm_abort(w->comm, 1, "agent %lld: remote neighbour %lld is not in the halo",
                    (long long)of, (long long)gid);
  return hx;
}

/* ------------------------------------------------------------ the commons (commons.c) */

/* Posting (§7 sharing): this rank's resources [vb, ve) of res that were drawn for the
 * commons join its index (local; the network-wide count follows at clhs_commons_index).
 * Returns CLHS_OK or CLHS_ENOMEM. */
int clhs_commons_post(clhs_world *w, int64_t vb, int64_t ve);

/* The index at step @p t: every posted resource's current quality in fixed point, the
 * running sums, and the ranks' totals (one allgather of 5 integers a rank). Collective:
 * a rank whose @p status is not CLHS_OK takes part with nothing. Returns this rank's
 * status (CLHS_ENOMEM if it could not allocate). */
int clhs_commons_index(clhs_world *w, int64_t t, int status);

/* Whether a searcher of category @p k in a centre with I_find @p find finds through the
 * commons, given the uniform @p u: the saturating hazard of §7 on the exact N_κ. */
int clhs_commons_hazard(const clhs_world *w, int k, double find, double u);

/* A search that passed the hazard: searcher gid, its category, its peer share f. */
typedef struct clhs_commons_search {
  int64_t g;
  float f;
  int32_t k;
} clhs_commons_search;

/* A resource found in the commons, for searcher @p g. */
typedef struct clhs_commons_found {
  int64_t g;
  uint64_t id;
  float f;
  uint16_t q;
} clhs_commons_found;

/*
 * What the searches @p s[0, n) of step @p t find (collective): up to COMMONS_TRIES draws
 * ∝ v each, drawn from the searcher's SEARCH stream (words 3, 4 for the first, ...),
 * resolved by the ranks that own the drawn positions; the first draw that the searcher
 * neither holds nor created is the find. Finds go to *@p out (malloc'd), *@p nout of them.
 * A rank that cannot allocate takes part with nothing; returns its status (CLHS_EFAIL: a
 * position outside this rank's index, which its totals and index disagreeing would cause).
 */
int clhs_commons_find(clhs_world *w, int64_t t, const clhs_commons_search *s, int64_t n,
                      clhs_commons_found **out, int64_t *nout);

#endif
