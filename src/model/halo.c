/*
 * The halo (MODEL.md §13: neighbours' state as at the start of a phase): after phase 3
 * settles the ties, each rank receives, for every remote neighbour of its agents, that
 * agent's m, E and held resources, in one personalised exchange with the neighbouring
 * ranks; lookups by gid. The ranks agree on a failure before the exchange and after it,
 * so phase 3 returns a status agreed on every rank (src/model/step.c).
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

int64_t clhs_halo_find(const clhs_halo *h, int64_t gid) {
  return halo_find(h, gid);
}

int64_t clhs_halo_index(const clhs_world *w, int64_t gid, int64_t of) {
  return halo_index(w, gid, of);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Pack one agent's halo record: m, E, held ids, held quality. */
static size_t halo_record_bytes(const clhs_world *w) {
  const size_t hm = (size_t)w->cfg->resources.held_max;
  return sizeof(float) + 1 + hm * (sizeof(uint64_t) + sizeof(uint16_t));
}

int clhs_halo_exchange(clhs_world *w, clhs_error *err) {
  clhs_halo *h = &w->halo;
  const int P = w->comm->size;
  const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
  const int64_t hm = w->cfg->resources.held_max;
  const size_t rb = halo_record_bytes(w);
  int st = CLHS_OK;
  int64_t *cstart = NULL, *rg = NULL, *pairs = NULL, *scount = NULL, nh = 0, ns = 0, nbytes = 0;
  unsigned char *sbuf = NULL;
  void *recv = NULL;
  /* 1. Remote tie ends: (remote gid, local agent); per-centre counts, then threads fill. */
  cstart = malloc(sizeof(int64_t) * (size_t)(w->c_count + 1));
  if (!cstart) goto packed;
  cstart[0] = 0;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    int64_t k = 0;
    for (uint32_t d = 0; d < ts->off[na]; d++) {
      int64_t g = clhs_tie_gid(ts->key[d]);
      k += g < lo || g >= hi;
    }
    cstart[lc + 1] = k;
  }
  for (int64_t lc = 0; lc < w->c_count; lc++)
    cstart[lc + 1] += cstart[lc];
  const int64_t nrem = cstart[w->c_count];
  rg = malloc(sizeof(int64_t) * (size_t)(nrem ? nrem : 1));
  pairs = malloc(sizeof(int64_t) * 2 * (size_t)(nrem ? nrem : 1)); /* (rank, agent) */
  if (!rg || !pairs) goto packed;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    int64_t k = cstart[lc];
    if (k == cstart[lc + 1]) continue; /* no remote neighbour (on one rank: none anywhere) */
    int32_t r = 0;                     /* the agent of tie end d: off[r] <= d < off[r + 1] */
    for (uint32_t d = 0; d < ts->off[na]; d++) {
      int64_t g = clhs_tie_gid(ts->key[d]);
      if (g >= lo && g < hi) continue;
      int32_t b = na; /* bisection: the first index > r with off > d, less one */
      while (b - r > 1) {
        const int32_t mid = r + (b - r) / 2;
        if (ts->off[mid] <= d)
          r = mid;
        else
          b = mid;
      }
      rg[k] = g;
      /* (owner rank, local agent) packed so that sorting groups by rank, then gid. */
      pairs[k] = (int64_t)clhs_owner_of_gid(w, g) * ((int64_t)1 << 40) + (a0 + r);
      k++;
    }
  }
  qsort(rg, (size_t)nrem, sizeof *rg, cmp_i64);
  qsort(pairs, (size_t)nrem, sizeof *pairs, cmp_i64);
  for (int64_t j = 0; j < nrem; j++) {
    if (j == 0 || rg[j] != rg[j - 1]) rg[nh++] = rg[j];
    if (j == 0 || pairs[j] != pairs[j - 1]) pairs[ns++] = pairs[j];
  }
  /* 2. Send each neighbour rank the records of our agents it has ties to, in gid
   * order; by the symmetry of ties, that is exactly its halo entries owned by us. */
  sbuf = malloc(rb * (size_t)(ns ? ns : 1));
  scount = calloc((size_t)P, sizeof *scount);
  if (!sbuf || !scount) goto packed;
  for (int64_t j = 0; j < ns; j++) {
    const int rank = (int)(pairs[j] >> 40);
    const int64_t a = pairs[j] & (((int64_t)1 << 40) - 1);
    unsigned char *p = sbuf + (size_t)j * rb;
    memcpy(p, &w->m[a], sizeof(float));
    p[sizeof(float)] = w->E[a];
    memcpy(p + sizeof(float) + 1, &w->held[a * hm], (size_t)hm * sizeof(uint64_t));
    memcpy(p + sizeof(float) + 1 + (size_t)hm * sizeof(uint64_t), &w->held_q[a * hm],
           (size_t)hm * sizeof(uint16_t));
    scount[rank] += (int64_t)rb;
  }
packed:
  /* A rank that could not pack its records would leave the others waiting in the
   * exchange: the ranks agree first. */
  if (!cstart || !rg || !pairs || !sbuf || !scount)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory building the halo");
  free(cstart);
  free(pairs);
  if ((st = clhs_comm_agree_error(w->comm, st, err)) != CLHS_OK) goto done;
  h->bytes_sent = (int64_t)rb * ns;
  clhs_comm_alltoallv(w->comm, sbuf, scount, &recv, &nbytes);
  free(sbuf);
  free(scount);
  sbuf = NULL;
  scount = NULL;
  if (nbytes != (int64_t)rb * nh) {
    st = clhs_error_set(err, CLHS_EFAIL,
                        "halo exchange on rank %d: expected %lld records, received %lld bytes "
                        "(the two ends of some tie disagree)",
                        w->comm->rank, (long long)nh, (long long)nbytes);
    goto agreed;
  }
  /* 3. Unpack (received in rank order = gid order). */
  if (nh > h->cap) {
    int64_t cap = nh + nh / 4 + 16;
    free(h->gid);
    free(h->m);
    free(h->E);
    free(h->held);
    free(h->held_q);
    h->gid = malloc(sizeof(int64_t) * (size_t)cap);
    h->m = malloc(sizeof(float) * (size_t)cap);
    h->E = malloc((size_t)cap);
    h->held = malloc(sizeof(uint64_t) * (size_t)(cap * hm));
    h->held_q = malloc(sizeof(uint16_t) * (size_t)(cap * hm));
    h->cap = cap;
    if (!h->gid || !h->m || !h->E || !h->held || !h->held_q) {
      h->cap = h->n = 0;
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for %lld halo entries", (long long)nh);
      goto agreed;
    }
  }
  h->n = nh;
  if (nh) memcpy(h->gid, rg, sizeof(int64_t) * (size_t)nh);
  const unsigned char *in = recv;
  for (int64_t j = 0; j < nh; j++) {
    const unsigned char *p = in + (size_t)j * rb;
    memcpy(&h->m[j], p, sizeof(float));
    h->E[j] = p[sizeof(float)];
    memcpy(&h->held[j * hm], p + sizeof(float) + 1, (size_t)hm * sizeof(uint64_t));
    memcpy(&h->held_q[j * hm], p + sizeof(float) + 1 + (size_t)hm * sizeof(uint64_t),
           (size_t)hm * sizeof(uint16_t));
  }
agreed:
  /* Phase 4 reads the halo: every rank leaves with the same status. */
  st = clhs_comm_agree_error(w->comm, st, err);
done:
  free(rg);
  free(sbuf);
  free(scount);
  free(recv);
  return st;
}

void clhs_halo_free(clhs_halo *h) {
  free(h->gid);
  free(h->m);
  free(h->E);
  free(h->held);
  free(h->held_q);
  memset(h, 0, sizeof *h);
}
