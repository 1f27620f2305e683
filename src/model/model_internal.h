/*
 * Internal to src/model: small helpers that several rule files share (static inline, so
 * that the hot loops that call them keep them inlined), and the interface between
 * phase 4 (resources.c) and the commons (commons.c). Not part of the public API in
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

/* A resource posted to the commons or created by research (crosses MPI: fixed layout). */
typedef struct clhs_post {
  uint64_t id;
  uint16_t q;
  uint8_t kind;
  uint8_t pad[5];
} clhs_post;

/* Every rank's @p mine[0, n) gathered on every rank and sorted by id (collective; the
 * communication layer ends every rank if it cannot allocate the result). Sets *@p nall. */
clhs_post *clhs_posts_allgather(clhs_world *w, const clhs_post *mine, int64_t n, int64_t *nall);

/* Posting (§7 sharing): this rank's resources [vb, ve) of res that were drawn for the
 * commons, with every other rank's, appended to the commons in id order (collective).
 * Returns CLHS_OK or CLHS_ENOMEM. */
int clhs_commons_post(clhs_world *w, int64_t vb, int64_t ve);

/* The commons by category: entries of category κ (commons indices, id order) and the
 * running sums of their current quality (N_κ is the last). */
typedef struct clhs_commons_index {
  int64_t n[CLHS_NEEDS];
  int64_t *idx[CLHS_NEEDS];
  double *cum[CLHS_NEEDS];
} clhs_commons_index;

int clhs_commons_index_build(const clhs_world *w, int64_t t, clhs_commons_index *ci);
void clhs_commons_index_free(clhs_commons_index *ci);

/*
 * Discovery through the commons (§7) by agent @p g searching for category @p k, with its
 * centre's I_find @p find, its held list @p own[0, held_max) and the uniform @p u of the
 * find: the hazard saturates with N_κ; a find is drawn ∝ v from @p r and redrawn if held
 * or own. Returns the commons index of the resource found, or -1.
 */
int64_t clhs_commons_find(const clhs_world *w, const clhs_commons_index *ci, int k, double find,
                          int64_t g, const uint64_t *own, double u, clhs_rng *r);

#endif
