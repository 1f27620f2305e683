/*
 * The commons of MODEL.md §7, used by phase 4 (resources.c), distributed: a posted resource
 * stays on the rank of its creator (res.in_commons), and no rank holds the others'.
 *
 *  - Index: each rank lists its posted resources by category in (creator gid, id) order.
 *    Ranks own contiguous blocks of gids, so these lists, in rank order, are one global
 *    order that does not depend on the decomposition. Each step the current quality
 *    v = v0 (1 - decay)^age of every entry is rounded to fixed point (CLHS_FIXED_ONE) and
 *    summed: N_κ is an exact integer, the same for any ranks and threads. The ranks'
 *    totals are allgathered (5 integers a rank: one allgather of O(P) integers a step).
 *  - Discovery: the saturating hazard 1 − exp(−find_rate · I_find · N_κ/(1 + N_κ/saturation))
 *    on that N_κ; then draws ∝ v: a position x uniform on [0, N_κ) (64 random bits of the
 *    searcher's stream, multiplied by the fixed-point total), the rank whose range holds x
 *    from the ranks' totals, and the resource by that rank (the first running sum above
 *    x); the rank replies with the resource. A draw that the searcher holds or created is
 *    redrawn, at most COMMONS_TRIES draws: the first try goes out in a first round, the
 *    others, for the searchers whose first try failed, in a second. The draws are fixed
 *    by the searcher's stream (seed, t, gid, SEARCH), so the find is the same however the
 *    tries are batched and whatever the decomposition.
 *  - Which agents have adopted from the commons (commons users) is an agent flag counted
 *    at adoption (resources.c) and summed over ranks at each record (the engine).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/** Draws ∝ v from the commons before giving up (rejections: held or own resources). */
#define COMMONS_TRIES 16
/** The first round sends this many tries a searcher; the second the rest. */
#define COMMONS_FIRST 1

static int grow_cat(clhs_commons *c, int k, int64_t need) {
  if (need <= c->cap[k]) return CLHS_OK;
  const int64_t cap = need + need / 2 + 64;
  int64_t *at = realloc(c->at[k], sizeof *at * (size_t)cap);
  if (at) c->at[k] = at;
  int64_t *cum = realloc(c->cum[k], sizeof *cum * (size_t)cap);
  if (cum) c->cum[k] = cum;
  if (!at || !cum) return CLHS_ENOMEM;
  c->cap[k] = cap;
  return CLHS_OK;
}

/* (creator, id) order of two rows of res. */
static int before(const clhs_restab *r, int64_t a, int64_t b) {
  const int64_t ca = clhs_res_creator(r->id[a]), cb = clhs_res_creator(r->id[b]);
  return ca != cb ? ca < cb : r->id[a] < r->id[b];
}

/* Merge the rows of res [vb, ve) that are in the commons into the index. They are of one
 * step, newer than every entry, and (ids of one step sort by creator) in (creator, id)
 * order already: one merge from the back per category. */
static int add_rows(clhs_world *w, int64_t vb, int64_t ve) {
  clhs_commons *c = &w->commons;
  const clhs_restab *r = &w->res;
  int64_t add[CLHS_NEEDS] = {0, 0, 0, 0};
  for (int64_t x = vb; x < ve; x++)
    if (r->in_commons[x]) add[clhs_res_cat(r->id[x])]++;
  for (int k = 0; k < CLHS_NEEDS; k++) {
    if (!add[k]) continue;
    if (grow_cat(c, k, c->len[k] + add[k])) return CLHS_ENOMEM;
    int64_t *at = c->at[k];
    int64_t i = c->len[k] - 1, o = c->len[k] + add[k] - 1, x = ve - 1;
    while (o >= 0) {
      while (x >= vb && !(r->in_commons[x] && clhs_res_cat(r->id[x]) == k))
        x--;
      if (x >= vb && (i < 0 || before(r, at[i], x)))
        at[o--] = x--;
      else
        at[o--] = at[i--];
    }
    c->len[k] += add[k];
  }
  return CLHS_OK;
}

int clhs_commons_post(clhs_world *w, int64_t vb, int64_t ve) {
  return add_rows(w, vb, ve);
}

int clhs_commons_index(clhs_world *w, int64_t t, int status) {
  clhs_commons *c = &w->commons;
  const int P = w->comm->size;
  const double keep = 1.0 - w->cfg->resources.decay;
  /* keep^age for every age up to t (pow, as the quality of a candidate is computed). */
  const int64_t na = t > 0 ? t + 1 : 1;
  double *f = status ? NULL : malloc(sizeof *f * (size_t)na);
  int64_t *rs = status ? NULL : realloc(c->rank_start, sizeof *rs * (size_t)(CLHS_NEEDS * (P + 1)));
  if (rs) c->rank_start = rs;
  if (!f || !rs) status = CLHS_ENOMEM;
  int64_t mine[CLHS_NEEDS + 1] = {0, 0, 0, 0, 0};
  if (!status) {
    for (int64_t a = 0; a < na; a++)
      f[a] = a > 0 ? pow(keep, (double)a) : 1.0;
    const clhs_restab *r = &w->res;
    for (int k = 0; k < CLHS_NEEDS; k++) {
      int64_t sum = 0;
      for (int64_t e = 0; e < c->len[k]; e++) {
        const int64_t x = c->at[k][e], age = t - clhs_res_step(r->id[x]);
        const double v = clhs_quality_v0(r->q[x]) * (age > 0 && age < na ? f[age] : 1.0);
        sum += (int64_t)(v * CLHS_FIXED_ONE + 0.5);
        c->cum[k][e] = sum;
      }
      mine[k] = sum;
      mine[CLHS_NEEDS] += c->len[k];
    }
  }
  free(f);
  int64_t nall = 0; /* (the communication layer ends every rank if it cannot allocate) */
  int64_t *all = clhs_comm_allgatherv_alloc(w->comm, mine, CLHS_NEEDS + 1, sizeof *mine, &nall);
  c->n = 0;
  for (int k = 0; k < CLHS_NEEDS; k++) {
    int64_t s = 0;
    for (int q = 0; q < P; q++) {
      if (rs) rs[k * (P + 1) + q] = s;
      s += all[q * (CLHS_NEEDS + 1) + k];
    }
    if (rs) rs[k * (P + 1) + P] = s;
    c->total[k] = s;
  }
  for (int q = 0; q < P; q++)
    c->n += all[q * (CLHS_NEEDS + 1) + CLHS_NEEDS];
  free(all);
  return status;
}

int clhs_commons_rebuild(clhs_world *w) {
  clhs_commons *c = &w->commons;
  for (int k = 0; k < CLHS_NEEDS; k++)
    c->len[k] = 0;
  /* Rows of one step at a time (the merge takes one step's rows, newer than the rest). */
  int st = CLHS_OK;
  for (int64_t b = 0; b < w->res.n && !st;) {
    int64_t e = b + 1;
    while (e < w->res.n && clhs_res_step(w->res.id[e]) == clhs_res_step(w->res.id[b]))
      e++;
    st = add_rows(w, b, e);
    b = e;
  }
  st = clhs_commons_index(w, w->step > 0 ? w->step - 1 : 0, st);
  return clhs_comm_agree(w->comm, st, NULL, 0);
}

double clhs_commons_quality_mean(const clhs_world *w) {
  const clhs_commons *c = &w->commons;
  int64_t s = 0;
  for (int k = 0; k < CLHS_NEEDS; k++)
    s += c->total[k];
  return c->n ? (double)s / CLHS_FIXED_ONE / (double)c->n : NAN;
}

size_t clhs_commons_bytes(const clhs_world *w) {
  size_t b = w->commons.rank_start ? (size_t)(CLHS_NEEDS * (w->comm->size + 1)) * sizeof(int64_t)
                                   : 0; /* allocated at the first step */
  for (int k = 0; k < CLHS_NEEDS; k++)
    b += (size_t)w->commons.cap[k] * 2 * sizeof(int64_t);
  return b;
}

void clhs_commons_free(clhs_commons *c) {
  for (int k = 0; k < CLHS_NEEDS; k++) {
    free(c->at[k]);
    free(c->cum[k]);
  }
  free(c->rank_start);
  memset(c, 0, sizeof *c);
}

int clhs_commons_hazard(const clhs_world *w, int k, double find, double u) {
  const clhs_config *cfg = w->cfg;
  const double N = (double)w->commons.total[k] / CLHS_FIXED_ONE;
  const double h = cfg->resources.find_rate * find * N / (1.0 + N / cfg->resources.saturation);
  return N > 0 && clhs_hazard_event(u, h);
}

/* ------------------------------------------------------------ the draws */

/* A try sent to the rank that holds its position (crosses MPI: fixed layout). */
typedef struct try_req {
  int64_t x;   /**< position within the owner's range of category k */
  int64_t tag; /**< the sender's index of the try */
  int32_t from, k;
} try_req;

/* The owner's answer (crosses MPI). */
typedef struct try_rep {
  int64_t tag;
  uint64_t id;
  uint16_t q;
  uint8_t pad[6];
} try_rep;

/* Position of try j of searcher g: 64 bits of its SEARCH stream (words 3 + 2j and 4 + 2j:
 * word 0 decided the search, 1 and 2 the finds through ties and the commons), times the
 * fixed-point total, so x is uniform on [0, total). */
static int64_t try_position(const clhs_world *w, int64_t t, int64_t g, int j, int64_t total) {
  uint32_t word[2];
  for (int h = 0; h < 2; h++) {
    const uint32_t wi = (uint32_t)(3 + 2 * j + h);
    const philox4x32_ctr_t b =
        clhs_rng_block(w->cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_SEARCH, wi / 4);
    word[h] = b.v[wi % 4];
  }
  /* The high 64 bits of u · total, in 32-bit halves. */
  const uint64_t u1 = word[0], u0 = word[1], T = (uint64_t)total;
  const uint64_t t1 = T >> 32, t0 = T & 0xFFFFFFFFu;
  const uint64_t p00 = u0 * t0, p01 = u0 * t1, p10 = u1 * t0, p11 = u1 * t1;
  const uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
  return (int64_t)(p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32));
}

/* First entry of category k whose running sum is above x (x below this rank's total). */
static int64_t local_pick(const clhs_commons *c, int k, int64_t x) {
  int64_t lo = 0, hi = c->len[k] - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (c->cum[k][mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return c->at[k][lo];
}

/* One round: tries [j0, j1) of the searches s[pend[0..np)]; the replies into rep (indexed
 * by pending search and try). Returns the status (a rank out of memory takes part). */
static int round_trip(clhs_world *w, int64_t t, const clhs_commons_search *s, const int64_t *pend,
                      int64_t np, int j0, int j1, try_rep *rep, int status) {
  const int P = w->comm->size, me = w->comm->rank, nj = j1 - j0;
  const int64_t nr = status ? 0 : np * nj;
  try_req *req = malloc(sizeof *req * (size_t)(nr ? nr : 1));
  int *dest = malloc(sizeof *dest * (size_t)(nr ? nr : 1));
  int oom = !req || !dest;
  const int64_t nsend = oom ? 0 : nr;
  const int64_t *R = w->commons.rank_start;
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < nsend; e++) {
    const clhs_commons_search *q = &s[pend[e / nj]];
    const int64_t x = try_position(w, t, q->g, j0 + (int)(e % nj), w->commons.total[q->k]);
    const int to = (int)clhs_range_of(R + q->k * (P + 1), P, x);
    req[e] = (try_req){x - R[q->k * (P + 1) + to], e, me, q->k};
    dest[e] = to;
    rep[e].id = CLHS_RES_NONE; /* until the answer comes */
  }
  int64_t nin = 0;
  try_req *in = clhs_comm_route(w->comm, req, dest, nsend, sizeof *req, &nin, &oom);
  free(req);
  try_rep *out = malloc(sizeof *out * (size_t)(nin ? nin : 1));
  int *back = malloc(sizeof *back * (size_t)(nin ? nin : 1));
  int bad = 0;
  if (!out || !back) {
    oom = 1;
    nin = 0;
  }
  const clhs_restab *r = &w->res;
#pragma omp parallel for schedule(static) reduction(| : bad)
  for (int64_t e = 0; e < nin; e++) {
    const int k = in[e].k;
    memset(&out[e], 0, sizeof out[e]);
    out[e].tag = in[e].tag;
    back[e] = in[e].from;
    if (k < 0 || k >= CLHS_NEEDS || in[e].x < 0 || !w->commons.len[k] ||
        in[e].x >= w->commons.cum[k][w->commons.len[k] - 1]) {
      bad = 1; /* the ranks' totals and this rank's index disagree: a bug */
      out[e].id = CLHS_RES_NONE;
      continue;
    }
    const int64_t x = local_pick(&w->commons, k, in[e].x);
    out[e].id = r->id[x];
    out[e].q = r->q[x];
  }
  free(in);
  int64_t nback = 0;
  try_rep *got = clhs_comm_route(w->comm, out, back, nin, sizeof *out, &nback, &oom);
  free(out);
  free(back);
  free(dest);
  for (int64_t e = 0; e < nback && !oom; e++)
    if (got[e].tag >= 0 && got[e].tag < nsend) rep[got[e].tag] = got[e];
  free(got);
  if (bad) return CLHS_EFAIL; /* a bug: the caller says so */
  return oom ? CLHS_ENOMEM : status;
}

int clhs_commons_find(clhs_world *w, int64_t t, const clhs_commons_search *s, int64_t n,
                      clhs_commons_found **out, int64_t *nout) {
  const int64_t hm = w->cfg->resources.held_max;
  int status = CLHS_OK;
  clhs_commons_found *fd = malloc(sizeof *fd * (size_t)(n ? n : 1));
  int64_t *pend = malloc(sizeof *pend * (size_t)(n ? n : 1));
  try_rep *rep = malloc(sizeof *rep * (size_t)(n ? n : 1) * (COMMONS_TRIES - COMMONS_FIRST));
  if (!fd || !pend || !rep) status = CLHS_ENOMEM;
  int64_t np = status ? 0 : n, nf = 0;
  for (int64_t e = 0; e < np; e++)
    pend[e] = e;
  static const int bounds[3] = {0, COMMONS_FIRST, COMMONS_TRIES};
  for (int round = 0; round < 2; round++) {
    const int j0 = bounds[round], j1 = bounds[round + 1];
    status = round_trip(w, t, s, pend, status ? 0 : np, j0, j1, rep, status);
    if (status) continue;
    int64_t left = 0;
    for (int64_t p = 0; p < np; p++) {
      const clhs_commons_search *q = &s[pend[p]];
      const uint64_t *own = w->held + (q->g - w->gid_begin) * hm;
      int done = 0;
      for (int j = 0; j < j1 - j0 && !done; j++) {
        const try_rep *a = &rep[p * (j1 - j0) + j];
        if (a->id == CLHS_RES_NONE || clhs_res_creator(a->id) == q->g || holds(own, hm, a->id))
          continue;
        fd[nf++] = (clhs_commons_found){q->g, a->id, q->f, a->q};
        done = 1;
      }
      if (!done) pend[left++] = pend[p];
    }
    np = left;
  }
  free(pend);
  free(rep);
  *out = fd;
  *nout = status ? 0 : nf;
  return status;
}
