/*
 * Phase 4 of a step (MODEL.md §7): resources. Sub-rules, in this order, each reading
 * what the ones before it wrote:
 *   1 creation (PAT/FAM with E >= 3, CLIN/QIS with E >= 2, of member centres);
 *   2 sharing: last step's new resources are offered over the creators' ties and posted
 *     to the commons (a post stays on its creator's rank; commons.c);
 *   3 discovery through ties, else through the commons (the draws resolved by the ranks
 *     that hold the drawn resources; commons.c);
 *   4 adoption of the offered and found resources, in resource-id order;
 *   5 research (RES of member centres) and the evidence level E_tx;
 *   6 obsolescence of coverage.
 * Tie reinforcements (offers and discoveries over a tie, both ends) are delivered in
 * one call at the end of the phase.
 *
 * Synchronous update: agents read other agents (held resources, m, tie weights) as they
 * were at the start of the phase. Discovery and the peer share f of every candidate are
 * computed for all agents before any adoption is applied; remote neighbours are read
 * from the halo exchanged just before this phase.
 *
 * Determinism: every draw comes from a stream keyed by (seed, t, agent gid, purpose) and
 * the words of a stream are consumed in a fixed order (a creator's resources in id
 * order and, for each, its neighbours in gid order; an adopter's candidates in id
 * order). Everything produced by threads is sorted by a total key before use, so the
 * number of ranks and threads cannot change any value; sums over the commons are exact
 * fixed-point integers (commons.c); counters are integers.
 *
 * Modelling choices where §7 leaves room (see docs/model.md):
 *  - "New" resources are those created in the previous step (visible now); offers and
 *    posting happen once, in the step after creation. Research resources are shared
 *    the same way.
 *  - The quality v of a resource is v0 (1 - decay)^(t - creation step); v0 is stored as
 *    a 16-bit fraction. Research resources draw v0 like created ones, with the
 *    researcher's K; every researcher of a member centre does research (no tier
 *    condition), and E_tx rises by evidence_gain v0 (1 - E_tx) per resource: a step's
 *    resources together multiply 1 - E_tx by Π (1 - evidence_gain v0), computed as exp of
 *    a fixed-point sum of logarithms (EVIDENCE_ONE), the same for any decomposition.
 *  - p_search m, p_tie w and p_post I_commons m are per-week probabilities (not
 *    hazards); creation and research counts are Poisson(λ), capped at 63 a week.
 *  - Each offer over a tie reinforces it (several resources offered over one tie in a
 *    week reinforce it several times); care ties are never reinforced (§4).
 *  - Resources posted this step are already in the commons for this step's discovery.
 *  - Discovery: any agent with E >= 1 (of any centre; only members can reach E >= 2
 *    and the commons) whose largest unmet need (lowest κ on ties) exceeds the
 *    threshold searches for that κ. Its own creations count as held (it never finds
 *    them through ties or the commons). Through ties: among the neighbours holding a
 *    κ-resource it lacks, the one with the largest tie weight (lowest gid on ties);
 *    from its held list, the largest id. Through the commons: a draw ∝ v among all
 *    κ-resources, rejected if held or own, at most COMMONS_TRIES (commons.c) draws
 *    (then nothing is found); the probability of a find uses the whole N_κ. N_κ and the
 *    weights of the draw are the current qualities in fixed point (2^-24: commons.c).
 *  - A resource both offered and found in the same week is one candidate (one
 *    adoption draw); it counts as from the commons if it was found there.
 *  - The share f counts neighbours (all ties, care included) that hold any resource of
 *    the candidate's category at the start of the phase; f = 0 without neighbours.
 *  - succ saturates at 65535, adoption counts at 2^32 - 1.
 *  - Credit (succ, adoption notices) goes to whoever holds the creator's slot now, and
 *    the slot's current neighbours receive offers (turnover keeps the gid).
 */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "util/isa.h"

enum { SRC_OFFER = 0, SRC_TIE = 1, SRC_COMMONS = 2 };

/* A resource that reaches an agent: offered, or found (crosses MPI: fixed layout). */
typedef struct cand {
  int64_t target; /**< gid of the agent that may adopt */
  uint64_t id;
  float f; /**< share of the target's neighbours holding a resource of the category */
  uint16_t q;
  uint8_t src; /**< SRC_* */
  uint8_t pad;
} cand;

/* An adoption, sent to the owner of the creator (crosses MPI). */
typedef struct notice {
  int64_t creator;
  uint64_t id;
} notice;

/* A resource created this step (local). */
typedef struct newres {
  uint64_t id;
  uint16_t q;
  uint8_t kind;
  uint8_t pad;
  int32_t pad2;
} newres;

/* ------------------------------------------------------------ small helpers */

typedef struct vec {
  char *p;
  int64_t n, cap;
} vec;

static int vec_push(vec *v, const void *x, size_t size) {
  if (v->n == v->cap) {
    int64_t cap = v->cap ? 2 * v->cap : 64;
    char *p = realloc(v->p, size * (size_t)cap);
    if (!p) return CLHS_ENOMEM;
    v->p = p;
    v->cap = cap;
  }
  memcpy(v->p + size * (size_t)v->n++, x, size);
  return CLHS_OK;
}

/* Per-thread scratch and outputs. */
typedef struct scratch {
  int32_t *care;
  clhs_nbr *nb;
  int32_t care_cap, nb_cap;
  vec newres, offers, found, searches, reinf, notices;
  int64_t ev_log, ev_sat; /* research: Σ fixed-point log(1 - gain v), terms with gain v >= 1 */
  clhs_u32buf draws;      /* one centre's batched draws */
  uint8_t *sf;            /* one centre's search candidates (discover) */
  int64_t sf_cap;
  int status;
} scratch;

static void scratch_free(scratch *s) {
  free(s->care);
  free(s->nb);
  free(s->newres.p);
  free(s->offers.p);
  free(s->found.p);
  free(s->searches.p);
  free(s->reinf.p);
  free(s->notices.p);
  free(s->draws.v);
  free(s->sf);
}

/* Concatenate the vector at byte offset @p member of every thread's scratch into one
 * malloc'd array with room for @p extra more items; NULL if out of memory. */
static void *gather_threads(const scratch *sc, int nt, size_t member, size_t size, int64_t extra,
                            int64_t *n) {
  int64_t total = extra;
  for (int k = 0; k < nt; k++)
    total += ((const vec *)((const char *)&sc[k] + member))->n;
  char *out = malloc(size * (size_t)(total ? total : 1));
  *n = 0;
  if (!out) return NULL;
  int64_t at = 0;
  for (int k = 0; k < nt; k++) {
    const vec *v = (const vec *)((const char *)&sc[k] + member);
    if (v->n) memcpy(out + size * (size_t)at, v->p, size * (size_t)v->n);
    at += v->n;
  }
  *n = at;
  return out;
}

/* All neighbours of local agent i (centre lc) into s->nb; -1 if out of memory. */
static int32_t neighbours(const clhs_world *w, int64_t lc, int32_t i, scratch *s) {
  const int32_t cm = clhs_careties_max(w, lc), deg = clhs_degree(w, lc, i);
  if (cm > s->care_cap) {
    int32_t *p = realloc(s->care, sizeof *p * (size_t)cm);
    if (!p) return -1;
    s->care = p;
    s->care_cap = cm;
  }
  if (deg > s->nb_cap) {
    clhs_nbr *p = realloc(s->nb, sizeof *p * (size_t)deg);
    if (!p) return -1;
    s->nb = p;
    s->nb_cap = deg;
  }
  return clhs_neighbours(w, lc, i, s->care, s->nb);
}

/* The held list (and its qualities) of a neighbour as at the start of the phase: local
 * agents' own arrays (not yet changed: adoption comes later), remote ones' halo. NULL if
 * the neighbour is missing from the halo (an internal error). */
static const uint64_t *nbr_held(const clhs_world *w, const clhs_nbr *b, const uint16_t **q) {
  const int64_t hm = w->cfg->resources.held_max;
  if (b->loc >= 0) {
    if (w->gid_begin + b->loc != b->gid) return NULL; /* a remote gid not in the halo */
    *q = w->held_q + b->loc * hm;
    return w->held + b->loc * hm;
  }
  const int64_t h = -1 - b->loc;
  if (h >= w->halo.n || w->halo.gid[h] != b->gid) return NULL;
  *q = w->halo.held_q + h * hm;
  return w->halo.held + h * hm;
}

/* Largest unmet need u[κ] = n[κ](1 - s[κ]) of local agent i (lowest κ on ties). */
static int largest_need(const clhs_world *w, int64_t i, double *u) {
  int best = 0;
  double bu = -1;
  for (int k = 0; k < CLHS_NEEDS; k++) {
    double x = (double)w->need[i * CLHS_NEEDS + k] * (1.0 - (double)w->cover[i * CLHS_NEEDS + k]);
    if (x > bu) {
      bu = x;
      best = k;
    }
  }
  *u = bu;
  return best;
}

/* Current quality v = v0 (1 - decay)^(age in weeks). */
static double quality(uint16_t q, uint64_t id, int64_t t, double keep) {
  const int64_t age = t - clhs_res_step(id);
  return clhs_quality_v0(q) * (age > 0 ? pow(keep, (double)age) : 1.0);
}

/* First index in sorted ids[0, n) with ids[k] >= x. */
static int64_t lower_u64(const uint64_t *ids, int64_t n, uint64_t x) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* First index in candidates sorted by target with target >= g. */
static int64_t lower_cand(const cand *c, int64_t n, int64_t g) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (c[mid].target < g)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int cmp_cand(const void *pa, const void *pb) {
  const cand *a = pa, *b = pb;
  if (a->target != b->target) return a->target < b->target ? -1 : 1;
  if (a->id != b->id) return a->id < b->id ? -1 : 1;
  return (a->src > b->src) - (a->src < b->src);
}

static int cmp_newres(const void *pa, const void *pb) {
  const newres *a = pa, *b = pb;
  return (a->id > b->id) - (a->id < b->id);
}

static int push_reinforce(vec *v, int64_t a, int64_t b) {
  clhs_tie_msg m;
  memset(&m, 0, sizeof m);
  m.op = CLHS_TIE_REINFORCE;
  m.target = a;
  m.nbr = b;
  if (vec_push(v, &m, sizeof m)) return CLHS_ENOMEM;
  m.target = b;
  m.nbr = a;
  return vec_push(v, &m, sizeof m);
}

static int grow_res(clhs_restab *r, int64_t need) {
  if (need <= r->cap) return CLHS_OK;
  int64_t cap = need + need / 2 + 64;
  uint64_t *id = realloc(r->id, sizeof *id * (size_t)cap);
  if (id) r->id = id;
  uint16_t *q = realloc(r->q, sizeof *q * (size_t)cap);
  if (q) r->q = q;
  uint8_t *kind = realloc(r->kind, (size_t)cap);
  if (kind) r->kind = kind;
  uint8_t *ic = realloc(r->in_commons, (size_t)cap);
  if (ic) r->in_commons = ic;
  uint32_t *ad = realloc(r->adoptions, sizeof *ad * (size_t)cap);
  if (ad) r->adoptions = ad;
  if (!id || !q || !kind || !ic || !ad) return CLHS_ENOMEM;
  r->cap = cap;
  return CLHS_OK;
}

/* Quality v0 of a new resource: Beta(quality_beta) (c0 + c1 K). */
static uint16_t draw_quality(const clhs_config *cfg, clhs_rng *r, double K) {
  const struct clhs_constants *C = &cfg->constants;
  const double v = clhs_rng_beta(r, C->quality_beta[0], C->quality_beta[1]) *
                   (C->quality_base[0] + C->quality_base[1] * K);
  return clhs_quality_q(v);
}

/* ------------------------------------------------------------ sub-rules */

/* 1. Creation (member centres): appended to res at the end of the phase. */
static void create(clhs_world *w, int64_t t, scratch *sc) {
  const clhs_config *cfg = w->cfg;
#pragma omp parallel
  {
    scratch *s = &sc[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      if (!w->member[lc]) continue;
      const double cost = 1.0 - cfg->resources.create_cost * (1.0 - w->I[lc].tools);
      /* Creators have E >= 2 (few): found eight tiers at a time. */
      const int32_t c0 = w->first[CLHS_PAT][lc], nc = w->first[CLHS_RES][lc] - c0;
      for (int64_t x = clhs_next_at_least(w->E + c0, 0, nc, 2); x < nc;
           x = clhs_next_at_least(w->E + c0, x + 1, nc, 2)) {
        const int32_t i = c0 + (int32_t)x;
        const int ty = w->type[i];
        const int family = ty == CLHS_PAT || ty == CLHS_FAM;
        if (w->E[i] < (family ? 3 : 2)) continue;
        const double lambda = cfg->resources.rate[ty] * w->m[i] * w->K[i] * cost;
        if (!(lambda > 0)) continue;
        const int64_t g = w->gid_begin + i;
        clhs_rng r;
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_CREATE);
        int64_t k = clhs_rng_poisson(&r, lambda);
        if (k > CLHS_RES_MAX_PER_STEP) k = CLHS_RES_MAX_PER_STEP;
        if (k <= 0) continue;
        double u;
        const int cat = family ? largest_need(w, i, &u) : (ty == CLHS_CLIN ? 0 : 1);
        const int kind = ty == CLHS_QIS ? CLHS_RES_TOOL : CLHS_RES_INFORMATION;
        for (int j = 0; j < (int)k; j++) {
          newres nr;
          memset(&nr, 0, sizeof nr);
          nr.id = clhs_res_id(t, g, j, cat);
          nr.q = draw_quality(cfg, &r, w->K[i]);
          nr.kind = (uint8_t)kind;
          if (vec_push(&s->newres, &nr, sizeof nr)) s->status = CLHS_ENOMEM;
        }
        w->counts[lc].created[kind] += k;
      }
    }
  }
}

/* 2. Sharing of last step's resources [b, e) of res: offers over the creators' ties
 * (to s->offers, reinforcements to s->reinf) and posting (res.in_commons). */
static int share(clhs_world *w, int64_t t, int64_t b, int64_t e, scratch *sc) {
  const clhs_config *cfg = w->cfg;
  const clhs_restab *res = &w->res;
  /* Groups of one creator (ids of one step sort by creator). */
  int64_t ng = 0;
  for (int64_t k = b; k < e; k++)
    ng += k == b || clhs_res_creator(res->id[k]) != clhs_res_creator(res->id[k - 1]);
  int64_t *gs = malloc(sizeof *gs * (size_t)(ng + 1));
  if (!gs) return CLHS_ENOMEM;
  ng = 0;
  for (int64_t k = b; k < e; k++)
    if (k == b || clhs_res_creator(res->id[k]) != clhs_res_creator(res->id[k - 1])) gs[ng++] = k;
  gs[ng] = e;
  int status = CLHS_OK;
#pragma omp parallel
  {
    scratch *s = &sc[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
    for (int64_t gi = 0; gi < ng; gi++) {
      const int64_t g = clhs_res_creator(res->id[gs[gi]]);
      const int64_t i = g - w->gid_begin;
      if (i < 0 || i >= w->n) { /* res holds only this rank's creators */
        s->status = CLHS_EFAIL;
        continue;
      }
      const int64_t lc = w->centre[i];
      const int32_t nn = neighbours(w, lc, (int32_t)i, s);
      if (nn < 0) {
        s->status = CLHS_ENOMEM;
        continue;
      }
      const double p_post = cfg->resources.p_post * w->I[lc].commons * w->m[i];
      clhs_rng r;
      clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_SHARE);
      for (int64_t k = gs[gi]; k < gs[gi + 1]; k++) {
        for (int32_t j = 0; j < nn; j++) {
          const clhs_nbr *nb = &s->nb[j];
          if (!(clhs_u01_from32(clhs_rng_u32(&r)) < cfg->resources.p_tie * (double)nb->w)) continue;
          cand c;
          memset(&c, 0, sizeof c);
          c.target = nb->gid;
          c.id = res->id[k];
          c.q = res->q[k];
          c.src = SRC_OFFER;
          if (vec_push(&s->offers, &c, sizeof c)) s->status = CLHS_ENOMEM;
          if (nb->kind != CLHS_TIE_CARE && push_reinforce(&s->reinf, g, nb->gid))
            s->status = CLHS_ENOMEM;
        }
        if (clhs_u01_from32(clhs_rng_u32(&r)) < p_post) w->res.in_commons[k] = 1;
      }
    }
  }
  free(gs);
  return status;
}

/* 3. Discovery, and the share f of every candidate's category among the neighbours
 * (both as at the start of the phase). Offers [0, noff) sorted by target get their f;
 * finds go to s->found. */

static void discover(clhs_world *w, int64_t t, cand *off, int64_t noff, scratch *sc) {
  const clhs_config *cfg = w->cfg;
  const int64_t hm = cfg->resources.held_max;
  const double p_tie = cfg->resources.p_tie;
#pragma omp parallel
  {
    scratch *s = &sc[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const int32_t a0 = w->first[0][lc], a1 = w->first[CLHS_NTYPES][lc];
      const int64_t na = a1 - a0, g1 = w->gid_begin + a1;
      int64_t o = lower_cand(off, noff, w->gid_begin + a0);
      /* Who may search: E >= 1 and the first word of the SEARCH stream below p_search m;
       * drawn in vectors for the agents with E >= 1 only (the same words as drawing for all).
       * Whether such a candidate searches then depends on its largest need. A searcher's
       * stream goes on from its second word. */
      if (na <= 0) continue; /* (no agents: no offers either) */
      if (!clhs_u32buf_fit(&s->draws, na)) {
        s->status = CLHS_ENOMEM;
        continue;
      }
      if (na > s->sf_cap) { /* one block: the flags, then the offsets (4-byte aligned) */
        free(s->sf);
        s->sf = malloc((size_t)((na + 3) / 4 * 4) + (size_t)na * sizeof(int32_t));
        s->sf_cap = s->sf ? na : 0;
        if (!s->sf) {
          s->status = CLHS_ENOMEM;
          continue;
        }
      }
      int32_t *ix = (int32_t *)(void *)(s->sf + (na + 3) / 4 * 4);
      const int32_t nx = clhs_compact_at_least(w->E + a0, (int32_t)na, 1, ix);
      clhs_rng_batch01_at(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + a0), CLHS_P_SEARCH,
                          nx, ix, s->draws.v, NULL);
      memset(s->sf, 0, (size_t)na);
      for (int32_t j = 0; j < nx; j++)
        s->sf[ix[j]] = clhs_u01_from32(s->draws.v[j]) < cfg->resources.p_search * w->m[a0 + ix[j]];
      clhs_rng r; /* a searcher's SEARCH stream (set up for each searcher; read by no other) */
      memset(&r, 0, sizeof r);
      /* Only the candidates and the targets of offers have anything to do. */
      for (int64_t x = clhs_next_set(s->sf, 0, na);; x = clhs_next_set(s->sf, x + 1, na)) {
        const int64_t ko = o < noff && off[o].target < g1 ? off[o].target - w->gid_begin - a0 : na;
        if (ko < x) x = ko; /* an offer's target before the next candidate */
        if (x >= na) break;
        const int32_t i = a0 + (int32_t)x;
        const int64_t g = w->gid_begin + i;
        const int64_t o0 = o;
        while (o < noff && off[o].target == g)
          o++;
        int search = 0, kstar = 0;
        if (s->sf[x]) {
          double u;
          kstar = largest_need(w, i, &u);
          if (u > cfg->resources.need_threshold) {
            search = 1;
            clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_SEARCH);
            (void)clhs_rng_u32(&r); /* the first word: the draw above */
          }
        }
        if (o == o0 && !search) continue;
        const int32_t nn = neighbours(w, lc, i, s);
        if (nn < 0) {
          s->status = CLHS_ENOMEM;
          continue;
        }
        const uint64_t *own = w->held + (int64_t)i * hm;
        int64_t cnt[CLHS_NEEDS] = {0, 0, 0, 0};
        double miss = 1.0; /* Π_j (1 - p_tie w_ij h_jκ) */
        int32_t best = -1;
        float bestw = 0;
        for (int32_t j = 0; j < nn; j++) {
          /* The categories a neighbour holds: a local one's from its flags (one byte of a
           * dense array, not its held list), a remote one's from the halo's list. */
          unsigned cats;
          const uint64_t *h = NULL;
          const uint16_t *hq;
          if (s->nb[j].loc >= 0 && w->gid_begin + s->nb[j].loc == s->nb[j].gid) {
            cats = (unsigned)w->flags[s->nb[j].loc] >> CLHS_F_HELD_SHIFT;
          } else {
            if (!(h = nbr_held(w, &s->nb[j], &hq))) {
              s->status = CLHS_EFAIL;
              continue;
            }
            cats = held_cats(h, hm);
          }
          for (int k = 0; k < CLHS_NEEDS; k++)
            cnt[k] += (cats >> k) & 1u;
          int hj = 0;
          if (search && (cats >> kstar & 1u)) { /* one it can find: the list itself */
            if (!h) h = nbr_held(w, &s->nb[j], &hq);
            for (int64_t k = 0; k < hm && !hj; k++)
              hj = h[k] != CLHS_RES_NONE && clhs_res_cat(h[k]) == kstar &&
                   clhs_res_creator(h[k]) != g && !holds(own, hm, h[k]);
          }
          if (hj) {
            miss *= 1.0 - p_tie * (double)s->nb[j].w;
            if (best < 0 || s->nb[j].w > bestw) { /* gid order: lowest gid wins ties */
              best = j;
              bestw = s->nb[j].w;
            }
          }
        }
        float f[CLHS_NEEDS];
        for (int k = 0; k < CLHS_NEEDS; k++)
          f[k] = nn ? (float)((double)cnt[k] / (double)nn) : 0.0f;
        for (int64_t y = o0; y < o; y++)
          off[y].f = f[clhs_res_cat(off[y].id)];
        if (!search) continue;
        const double u_tie = clhs_u01_from32(clhs_rng_u32(&r));
        const double u_com = clhs_u01_from32(clhs_rng_u32(&r));
        cand c;
        memset(&c, 0, sizeof c);
        c.target = g;
        c.f = f[kstar];
        if (best >= 0 && u_tie < 1.0 - miss) {
          const uint16_t *hq = NULL;
          const uint64_t *h = nbr_held(w, &s->nb[best], &hq);
          c.id = CLHS_RES_NONE;
          for (int64_t k = 0; k < hm; k++) {
            if (h[k] == CLHS_RES_NONE || clhs_res_cat(h[k]) != kstar ||
                clhs_res_creator(h[k]) == g || holds(own, hm, h[k]))
              continue;
            if (c.id == CLHS_RES_NONE || h[k] > c.id) {
              c.id = h[k];
              c.q = hq[k];
            }
          }
          c.src = SRC_TIE;
          if (vec_push(&s->found, &c, sizeof c)) s->status = CLHS_ENOMEM;
          if (s->nb[best].kind != CLHS_TIE_CARE && push_reinforce(&s->reinf, g, s->nb[best].gid))
            s->status = CLHS_ENOMEM;
        } else if (w->E[i] >= 2 && clhs_commons_hazard(w, kstar, w->I[lc].find, u_com)) {
          /* which resource: drawn after the phase's discovery, by the owners (commons.c) */
          const clhs_commons_search q = {g, c.f, kstar};
          if (vec_push(&s->searches, &q, sizeof q)) s->status = CLHS_ENOMEM;
        }
      }
    }
  }
}

/* 4. Adoption of the candidates [0, nc) sorted by (target, id, src). */
static void adopt(clhs_world *w, int64_t t, const cand *cs, int64_t nc, scratch *sc) {
  const clhs_config *cfg = w->cfg;
  const int64_t hm = cfg->resources.held_max;
  const double keep = 1.0 - cfg->resources.decay;
  const double *am = cfg->constants.adopt_m;
#pragma omp parallel
  {
    scratch *s = &sc[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const int64_t g0 = w->gid_begin + w->first[0][lc];
      const int64_t g1 = w->gid_begin + w->first[CLHS_NTYPES][lc];
      int64_t x = lower_cand(cs, nc, g0);
      clhs_centre_counts *cc = &w->counts[lc];
      while (x < nc && cs[x].target < g1) {
        const int64_t g = cs[x].target, i = g - w->gid_begin;
        clhs_rng r;
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_ADOPT);
        uint64_t *held = w->held + i * hm;
        uint16_t *held_q = w->held_q + i * hm;
        while (x < nc && cs[x].target == g) {
          const cand *c = &cs[x];
          int from_commons = 0;
          for (; x < nc && cs[x].target == g && cs[x].id == c->id; x++)
            from_commons |= cs[x].src == SRC_COMMONS;
          if (clhs_res_creator(c->id) == g || holds(held, hm, c->id)) continue;
          const double v = quality(c->q, c->id, t, keep);
          const double p = v * (am[0] + am[1] * w->m[i]) * (1.0 + cfg->resources.beta_peer * c->f);
          if (!clhs_rng_bernoulli(&r, p)) continue;
          /* Adopted: coverage, held (newest first, oldest dropped), successes, counts. */
          const int k = clhs_res_cat(c->id);
          float *s_k = &w->cover[i * CLHS_NEEDS + k];
          const double sn = (double)*s_k + cfg->resources.coverage_gain * v;
          *s_k = (float)(sn < 1.0 ? sn : 1.0);
          memmove(held + 1, held, sizeof *held * (size_t)(hm - 1));
          memmove(held_q + 1, held_q, sizeof *held_q * (size_t)(hm - 1));
          held[0] = c->id;
          held_q[0] = c->q;
          held_cats_set(w, i);
          if (w->succ[i] < UINT16_MAX) w->succ[i]++;
          cc->adoptions++;
          if (from_commons) {
            cc->commons_adoptions++;
            if (!(w->flags[i] & CLHS_F_COMMONS)) {
              w->flags[i] |= CLHS_F_COMMONS;
              cc->new_commons_users++;
            }
          }
          notice nt = {clhs_res_creator(c->id), c->id};
          if (vec_push(&s->notices, &nt, sizeof nt)) s->status = CLHS_ENOMEM;
        }
      }
    }
  }
}

/* The fixed point of the evidence update: (1 - E_tx) is multiplied by exp of a sum of
 * log(1 - evidence_gain v) rounded to 2^-36 (an exact integer sum, in any order; each term
 * is at most 11.1 in size, v0 being a 16-bit fraction: 10^7 terms a step before it could
 * overflow at evidence_gain 1, 4 · 10^10 at the default 0.005). */
#define EVIDENCE_ONE 68719476736.0 /* 2^36 */

/* 5. Research by RES of member centres (to s->newres; the evidence terms to s->ev_*). */
static void research(clhs_world *w, int64_t t, scratch *sc) {
  const clhs_config *cfg = w->cfg;
  const double lrec = log(1.0 + (double)w->N_rec / cfg->constants.research_nrec_scale);
#pragma omp parallel
  {
    scratch *s = &sc[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      if (!w->member[lc]) continue;
      for (int32_t i = w->first[CLHS_RES][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
        const double lambda =
            cfg->resources.research_rate * w->m[i] * lrec * (1.0 + w->I[lc].research);
        if (!(lambda > 0)) continue;
        const int64_t g = w->gid_begin + i;
        clhs_rng r;
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_RESEARCH);
        int64_t k = clhs_rng_poisson(&r, lambda);
        if (k > CLHS_RES_MAX_PER_STEP) k = CLHS_RES_MAX_PER_STEP;
        for (int j = 0; j < (int)k; j++) {
          newres nr;
          memset(&nr, 0, sizeof nr);
          nr.id = clhs_res_id(t, g, j, 0);
          nr.q = draw_quality(cfg, &r, w->K[i]);
          nr.kind = CLHS_RES_KNOWLEDGE;
          if (vec_push(&s->newres, &nr, sizeof nr)) s->status = CLHS_ENOMEM;
          const double x = cfg->resources.evidence_gain * clhs_quality_v0(nr.q);
          if (x >= 1)
            s->ev_sat++;
          else
            s->ev_log += llround(log1p(-x) * EVIDENCE_ONE);
        }
        if (k > 0) w->counts[lc].created[CLHS_RES_KNOWLEDGE] += k;
      }
    }
  }
}

/* 6. Obsolescence: coverage decays toward its initial value. */
static inline __attribute__((always_inline)) void obsolesce_loop(float *restrict c, int64_t n,
                                                                 double d, double s0) {
  for (int64_t x = 0; x < n; x++)
    c[x] = (float)((double)c[x] - d * ((double)c[x] - s0));
}
CLHS_ISA_KERNEL(obsolesce_run, obsolesce_loop, (float *c, int64_t n, double d, double s0),
                (c, n, d, s0))

static void obsolesce(clhs_world *w) {
  const double d = w->cfg->resources.decay, s0 = w->cfg->constants.init_cover;
  const int64_t n = w->n * CLHS_NEEDS;
  const int isa = clhs_isa_choice();
#pragma omp parallel
  { /* each thread its static share, in SIMD vectors */
    const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t a = n * id / nt, b = n * (id + 1) / nt;
    obsolesce_run(isa, w->cover + a, b - a, d, s0);
  }
}

static int thread_status(const scratch *sc, int nt) {
  int st = CLHS_OK;
  for (int k = 0; k < nt; k++)
    if (sc[k].status > st) st = sc[k].status;
  return st;
}

/* ------------------------------------------------------------ the phase */

int clhs_phase_resources(clhs_world *w, int64_t t, clhs_error *err) {
  const int nt = omp_get_max_threads();
  int status = CLHS_OK, rc = CLHS_OK;
  scratch *sc = calloc((size_t)nt, sizeof *sc);
  cand *off = NULL, *cs = NULL, *found = NULL;
  notice *nts = NULL, *nin = NULL;
  clhs_tie_msg *reinf = NULL;
  newres *nr = NULL;
  int *dest = NULL;
  clhs_commons_search *srch = NULL;
  clhs_commons_found *cfound = NULL;
  int64_t noff = 0, nsrch = 0, ncf = 0;
  if (!sc) status = CLHS_ENOMEM; /* agreed below, before any exchange */
  if (t >= ((int64_t)1 << 20))
    status = clhs_error_set(err, CLHS_EINPUT,
                            "step %lld: resource ids hold 20 bits of creation step (at most "
                            "1048575 steps)",
                            (long long)t);

  /* 1. Creation (appended to res at the end: not visible this step). */
  if (!status) create(w, t, sc);

  /* 2. Sharing: resources created in the previous step. */
  int64_t vb = 0, ve = 0;
  if (t > 0 && !status) {
    vb = lower_u64(w->res.id, w->res.n, clhs_res_id(t - 1, 0, 0, 0));
    ve = lower_u64(w->res.id, w->res.n, clhs_res_id(t, 0, 0, 0));
    status = share(w, t, vb, ve, sc);
  }
  if (!status) status = thread_status(sc, nt);
  if ((rc = clhs_comm_agree_error(w->comm, status, err)) != CLHS_OK) goto done;
  { /* offers travel to the owners of their targets */
    int64_t n = 0;
    cand *mine = gather_threads(sc, nt, offsetof(scratch, offers), sizeof(cand), 0, &n);
    dest = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!mine || !dest) {
      status = CLHS_ENOMEM;
      n = 0;
    }
    for (int64_t k = 0; k < n; k++)
      dest[k] = clhs_owner_of_gid(w, mine[k].target);
    int oom = 0;
    off = clhs_comm_route(w->comm, mine, dest, n, sizeof(cand), &noff, &oom);
    if (oom) status = CLHS_ENOMEM;
    free(mine);
    free(dest);
    dest = NULL;
    for (int k = 0; k < nt; k++)
      sc[k].offers.n = 0;
    qsort(off, (size_t)noff, sizeof *off, cmp_cand);
  }
  /* posting: the posts stay on this rank, in its index of the commons */
  if (!status && clhs_commons_post(w, vb, ve)) status = CLHS_ENOMEM;
  status = clhs_commons_index(w, t, status);

  /* 3. Discovery (and f of every candidate); the commons' draws; 4. adoption. */
  if (!status) {
    discover(w, t, off, noff, sc);
    status = thread_status(sc, nt);
  }
  if ((rc = clhs_comm_agree_error(w->comm, status, err)) != CLHS_OK) goto done;
  srch = gather_threads(sc, nt, offsetof(scratch, searches), sizeof *srch, 0, &nsrch);
  if (!srch) status = CLHS_ENOMEM;
  status = clhs_commons_find(w, t, srch, status ? 0 : nsrch, &cfound, &ncf);
  if (status == CLHS_EFAIL)
    clhs_error_set(err, status, "a draw from the commons falls outside this rank's index of it");
  if (!status) {
    int64_t nf = 0;
    found = gather_threads(sc, nt, offsetof(scratch, found), sizeof(cand), noff + ncf, &nf);
    if (!found) {
      status = CLHS_ENOMEM;
    } else {
      for (int64_t k = 0; k < ncf; k++) {
        cand c;
        memset(&c, 0, sizeof c);
        c.target = cfound[k].g;
        c.id = cfound[k].id;
        c.f = cfound[k].f;
        c.q = cfound[k].q;
        c.src = SRC_COMMONS;
        found[nf++] = c;
      }
      if (noff) memcpy(found + nf, off, sizeof *off * (size_t)noff);
      cs = found;
      found = NULL;
      const int64_t nc = nf + noff;
      qsort(cs, (size_t)nc, sizeof *cs, cmp_cand);
      adopt(w, t, cs, nc, sc);
      status = thread_status(sc, nt);
    }
  }
  if ((rc = clhs_comm_agree_error(w->comm, status, err)) != CLHS_OK) goto done;
  { /* adoption notices travel to the owners of the creators */
    int64_t n = 0, nrecv = 0;
    nts = gather_threads(sc, nt, offsetof(scratch, notices), sizeof(notice), 0, &n);
    dest = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!nts || !dest) {
      status = CLHS_ENOMEM;
      n = 0;
    }
    for (int64_t k = 0; k < n; k++)
      dest[k] = clhs_owner_of_gid(w, nts[k].creator);
    int oom = 0;
    nin = clhs_comm_route(w->comm, nts, dest, n, sizeof(notice), &nrecv, &oom);
    if (oom) status = CLHS_ENOMEM;
    for (int64_t k = 0; k < nrecv; k++) { /* integer increments: any order */
      const int64_t i = nin[k].creator - w->gid_begin;
      const int64_t x = lower_u64(w->res.id, w->res.n, nin[k].id);
      if (i < 0 || i >= w->n || x >= w->res.n || w->res.id[x] != nin[k].id) {
        status =
            clhs_error_set(err, CLHS_EFAIL,
                           "adoption of resource %llx: its creator %lld has no record of it "
                           "on rank %d",
                           (unsigned long long)nin[k].id, (long long)nin[k].creator, w->comm->rank);
        break;
      }
      if (w->succ[i] < UINT16_MAX) w->succ[i]++;
      if (w->res.adoptions[x] < UINT32_MAX) w->res.adoptions[x]++;
    }
  }

  /* 5. Research, and the evidence level: identical on every rank (an exact sum). */
  if (!status) {
    research(w, t, sc);
    status = thread_status(sc, nt);
  }
  if ((rc = clhs_comm_agree_error(w->comm, status, err)) != CLHS_OK) goto done;
  /* From here a rank that fails still takes part in every exchange (sending nothing); the
   * phase's status is agreed at its end. */
  { /* E_tx += gain v (1 - E_tx) for each research resource: 1 - E_tx is multiplied by
     * Π (1 - gain v), summed as fixed-point logarithms over ranks (exact, any order) */
    int64_t ev[2] = {0, 0};
    for (int k = 0; k < nt; k++) {
      ev[0] += sc[k].ev_log;
      ev[1] += sc[k].ev_sat;
    }
    clhs_comm_sum_i64(w->comm, ev, 2);
    if (ev[1] > 0)
      w->E_tx = 1.0;
    else if (ev[0] != 0)
      w->E_tx = 1.0 - (1.0 - w->E_tx) * exp((double)ev[0] / EVIDENCE_ONE);
  }

  /* 6. Obsolescence. */
  obsolesce(w);

  { /* this step's resources (creation and research) join res, in id order */
    int64_t n = 0;
    nr = gather_threads(sc, nt, offsetof(scratch, newres), sizeof(newres), 0, &n);
    if (!nr || grow_res(&w->res, w->res.n + n)) {
      status = clhs_error_set(err, CLHS_ENOMEM, "out of memory growing the resource table");
    } else {
      qsort(nr, (size_t)n, sizeof *nr, cmp_newres);
      clhs_restab *rt = &w->res;
      rt->fresh_begin = rt->n;
      for (int64_t k = 0; k < n; k++) {
        rt->id[rt->n] = nr[k].id;
        rt->q[rt->n] = nr[k].q;
        rt->kind[rt->n] = nr[k].kind;
        rt->in_commons[rt->n] = 0;
        rt->adoptions[rt->n++] = 0;
      }
    }
  }

  { /* all tie reinforcements of the phase, both ends, in one delivery */
    int64_t n = 0;
    reinf = gather_threads(sc, nt, offsetof(scratch, reinf), sizeof(clhs_tie_msg), 0, &n);
    if (!reinf) {
      status = clhs_error_set(err, CLHS_ENOMEM, "out of memory gathering tie reinforcements");
      n = 0;
    }
    clhs_error derr;
    clhs_error_clear(&derr);
    if (clhs_ties_deliver(w, reinf, n, &derr) != CLHS_OK && !status)
      status = clhs_error_set(err, derr.code, "%s", derr.msg);
  }
  rc = clhs_comm_agree_error(w->comm, status, err);

done:
  free(srch);
  free(cfound);
  for (int k = 0; sc && k < nt; k++)
    scratch_free(&sc[k]);
  free(sc);
  free(off);
  free(cs);
  free(found);
  free(nts);
  free(nin);
  free(reinf);
  free(nr);
  free(dest);
  return rc;
}
