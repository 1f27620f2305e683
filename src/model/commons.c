/*
 * The commons of MODEL.md §7, used by phase 4 (resources.c): posting (every rank appends
 * the step's posts, gathered from all ranks, in id order, so the commons is identical on
 * every rank), the index by category for draws ∝ current quality v, and discovery
 * through the commons with the saturating hazard
 *   1 − exp(−find_rate · I_find · N_κ / (1 + N_κ / saturation)),
 * N_κ the summed current quality of the commons' κ-resources. Which agents have adopted
 * from the commons (commons users) is counted at adoption (resources.c) and summed over
 * ranks at each record (the engine).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/** Draws ∝ v from the commons before giving up (rejections: held or own resources). */
#define COMMONS_TRIES 16

static int cmp_post(const void *pa, const void *pb) {
  const clhs_post *a = pa, *b = pb;
  return (a->id > b->id) - (a->id < b->id);
}

clhs_post *clhs_posts_allgather(clhs_world *w, const clhs_post *mine, int64_t n, int64_t *nall) {
  clhs_post *all = clhs_comm_allgatherv_alloc(w->comm, mine, n, sizeof *mine, nall);
  qsort(all, (size_t)*nall, sizeof *all, cmp_post);
  return all;
}

static int grow_commons(clhs_commons *c, int64_t need) {
  if (need <= c->cap) return CLHS_OK;
  int64_t cap = need + need / 2 + 64;
  uint64_t *id = realloc(c->id, sizeof *id * (size_t)cap);
  if (id) c->id = id;
  uint16_t *q = realloc(c->q, sizeof *q * (size_t)cap);
  if (q) c->q = q;
  uint8_t *kind = realloc(c->kind, (size_t)cap);
  if (kind) c->kind = kind;
  if (!id || !q || !kind) return CLHS_ENOMEM;
  c->cap = cap;
  return CLHS_OK;
}

int clhs_commons_post(clhs_world *w, int64_t vb, int64_t ve) {
  int status = CLHS_OK;
  int64_t mine = 0, nposts = 0;
  for (int64_t k = vb; k < ve; k++)
    mine += w->res.in_commons[k];
  clhs_post *lp = malloc(sizeof *lp * (size_t)(mine ? mine : 1));
  if (!lp) {
    status = CLHS_ENOMEM;
    mine = 0;
  }
  int64_t j = 0;
  for (int64_t k = vb; k < ve && lp; k++) {
    if (!w->res.in_commons[k]) continue;
    memset(&lp[j], 0, sizeof lp[j]);
    lp[j].id = w->res.id[k];
    lp[j].q = w->res.q[k];
    lp[j++].kind = w->res.kind[k];
  }
  clhs_post *posts = clhs_posts_allgather(w, lp, mine, &nposts);
  free(lp);
  if (grow_commons(&w->commons, w->commons.n + nposts)) {
    status = CLHS_ENOMEM;
  } else {
    for (int64_t k = 0; k < nposts; k++) {
      w->commons.id[w->commons.n] = posts[k].id;
      w->commons.q[w->commons.n] = posts[k].q;
      w->commons.kind[w->commons.n++] = posts[k].kind;
    }
  }
  free(posts);
  return status;
}

int clhs_commons_index_build(const clhs_world *w, int64_t t, clhs_commons_index *ci) {
  const clhs_commons *c = &w->commons;
  const double keep = 1.0 - w->cfg->resources.decay;
  memset(ci, 0, sizeof *ci);
  for (int64_t e = 0; e < c->n; e++)
    ci->n[clhs_res_cat(c->id[e])]++;
  for (int k = 0; k < CLHS_NEEDS; k++) {
    ci->idx[k] = malloc(sizeof(int64_t) * (size_t)(ci->n[k] ? ci->n[k] : 1));
    ci->cum[k] = malloc(sizeof(double) * (size_t)(ci->n[k] ? ci->n[k] : 1));
    if (!ci->idx[k] || !ci->cum[k]) return CLHS_ENOMEM;
    ci->n[k] = 0;
  }
  double sum[CLHS_NEEDS] = {0, 0, 0, 0};
  int64_t step = -1;
  double factor = 1;
  for (int64_t e = 0; e < c->n; e++) { /* id order = creation-step order */
    const int64_t s = clhs_res_step(c->id[e]);
    if (s != step) {
      step = s;
      factor = t > s ? pow(keep, (double)(t - s)) : 1.0;
    }
    const int k = clhs_res_cat(c->id[e]);
    sum[k] += clhs_quality_v0(c->q[e]) * factor;
    ci->idx[k][ci->n[k]] = e;
    ci->cum[k][ci->n[k]++] = sum[k];
  }
  return CLHS_OK;
}

void clhs_commons_index_free(clhs_commons_index *ci) {
  for (int k = 0; k < CLHS_NEEDS; k++) {
    free(ci->idx[k]);
    free(ci->cum[k]);
  }
}

static double commons_total(const clhs_commons_index *ci, int k) {
  return ci->n[k] ? ci->cum[k][ci->n[k] - 1] : 0.0;
}

/* Index of the first running sum above x (x in [0, N_κ)). */
static int64_t commons_pick(const clhs_commons_index *ci, int k, double x) {
  int64_t lo = 0, hi = ci->n[k] - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (ci->cum[k][mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return ci->idx[k][lo];
}

int64_t clhs_commons_find(const clhs_world *w, const clhs_commons_index *ci, int k, double find,
                          int64_t g, const uint64_t *own, double u, clhs_rng *r) {
  const clhs_config *cfg = w->cfg;
  const int64_t hm = cfg->resources.held_max;
  const double N = commons_total(ci, k);
  const double h = cfg->resources.find_rate * find * N / (1.0 + N / cfg->resources.saturation);
  if (!(N > 0) || !clhs_hazard_event(u, h)) return -1;
  for (int tries = 0; tries < COMMONS_TRIES; tries++) {
    const int64_t e = commons_pick(ci, k, clhs_rng_uniform(r) * N);
    const uint64_t id = w->commons.id[e];
    if (clhs_res_creator(id) == g || holds(own, hm, id)) continue;
    return e;
  }
  return -1;
}
