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

#endif
