/*
 * Phase 2 (MODEL.md §4): new peer, event and online ties (phase 3, decay and pruning,
 * is in decay.c).
 *
 * Cross-centre partners are chosen without reference to the decomposition: every rank
 * learns the ranks' integer totals of candidate weight (event attendees' degree + 1 by
 * type, with a fixed-point type factor; online: the number of E >= 2 agents); the
 * initiator draws a position on that axis with its own keyed stream and sends it to the
 * rank that holds it, which maps it to a centre, a type and an agent by walking its
 * candidates in global-id order (see cross_centre_ties). Every new tie is then delivered to both of
 * its ends and applied there by the same rule, at the end of the phase (synchronous update: degrees
 * are those at the start of the step).
 *
 * A failure (out of memory) is agreed by every rank before the next exchange, and the
 * phase returns a status agreed on every rank (the policy: src/model/step.c).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/model.h"
#include "clhs/rng.h"
#include "model_internal.h"

/* A growable array of tie messages (one per thread, then concatenated). */
typedef struct msgvec {
  clhs_tie_msg *v;
  int64_t n, cap;
} msgvec;

static int msg_push(msgvec *mv, int64_t target, int64_t nbr, int op, int kind) {
  if (mv->n == mv->cap) {
    int64_t cap = mv->cap ? 2 * mv->cap : 256;
    clhs_tie_msg *v = realloc(mv->v, sizeof *v * (size_t)cap);
    if (!v) return CLHS_ENOMEM;
    mv->v = v;
    mv->cap = cap;
  }
  clhs_tie_msg *m = &mv->v[mv->n++];
  memset(m, 0, sizeof *m);
  m->target = target;
  m->nbr = nbr;
  m->op = (uint8_t)op;
  m->kind = (uint8_t)kind;
  return CLHS_OK;
}

/* Both ends of a new tie. */
static int push_tie(msgvec *mv, int64_t a, int64_t b, int kind) {
  if (msg_push(mv, a, b, CLHS_TIE_CREATE, kind)) return CLHS_ENOMEM;
  return msg_push(mv, b, a, CLHS_TIE_CREATE, kind);
}

/* Concatenate per-thread vectors into one. */
static int msg_concat(msgvec *parts, int nparts, msgvec *out) {
  int64_t total = out->n;
  for (int k = 0; k < nparts; k++)
    total += parts[k].n;
  if (total > out->cap) {
    clhs_tie_msg *v = realloc(out->v, sizeof *v * (size_t)(total ? total : 1));
    if (!v) return CLHS_ENOMEM;
    out->v = v;
    out->cap = total;
  }
  for (int k = 0; k < nparts; k++) {
    if (parts[k].n) memcpy(out->v + out->n, parts[k].v, sizeof *out->v * (size_t)parts[k].n);
    out->n += parts[k].n;
    free(parts[k].v);
    parts[k].v = NULL;
    parts[k].n = parts[k].cap = 0;
  }
  return CLHS_OK;
}

/* ------------------------------------------------------------ peer ties */

/* Peer ties of one member centre (§4): Poisson(peer_rate · I_community · families/100)
 * ties between PAT/FAM agents with E >= 1; the second end has the first's role with
 * probability role_homophily. A draw that lands on a care tie (a patient and its own
 * caregiver) or on no eligible agent makes no tie. */
static int peer_ties(clhs_world *w, int64_t lc, int64_t t, int32_t *elig, msgvec *mv) {
  const clhs_config *cfg = w->cfg;
  const int64_t c = w->c_begin + lc;
  const int32_t p0 = w->first[CLHS_PAT][lc], f0 = w->first[CLHS_FAM][lc],
                f1 = w->first[CLHS_CLIN][lc];
  const double lambda = cfg->network.peer_rate * w->I[lc].community * (double)(f1 - p0) / 100.0;
  if (!(lambda > 0)) return CLHS_OK;
  clhs_rng r;
  clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)c, CLHS_P_PEER);
  const int64_t k = clhs_rng_poisson(&r, lambda);
  if (k == 0) return CLHS_OK;
  int32_t npat = 0, nfam = 0;
  for (int32_t i = p0; i < f0; i++) { /* (without a branch: about half are) */
    elig[npat] = i;
    npat += w->E[i] >= 1;
  }
  for (int32_t i = f0; i < f1; i++) {
    elig[npat + nfam] = i;
    nfam += w->E[i] >= 1;
  }
  const int32_t ntot = npat + nfam;
  for (int64_t e = 0; e < k; e++) {
    if (ntot < 2) break;
    const int32_t a = elig[clhs_rng_below(&r, (uint32_t)ntot)];
    const int first_pat = a < f0;
    const int same = clhs_rng_bernoulli(&r, cfg->network.role_homophily);
    const int want_pat = same ? first_pat : !first_pat;
    const int32_t *pool = want_pat ? elig : elig + npat;
    const int32_t npool = want_pat ? npat : nfam;
    const int32_t exclude = (want_pat == first_pat) ? 1 : 0;
    if (npool - exclude < 1) continue;
    /* Uniform among the pool without the first end. */
    int32_t pick = (int32_t)clhs_rng_below(&r, (uint32_t)(npool - exclude));
    if (exclude) {
      int32_t pos_a = 0; /* position of a in its pool */
      while (pool[pos_a] != a)
        pos_a++;
      if (pick >= pos_a) pick++;
    }
    const int32_t b = pool[pick];
    /* A patient and its own caregiver share a care tie already: care ties are fixed. */
    const int32_t pa = a < f0 ? a : b, fb = a < f0 ? b : a;
    if (pa < f0 && fb >= f0 && w->pat_fam[w->pat_begin[lc] + (pa - p0)] == fb) continue;
    if (push_tie(mv, w->gid_begin + a, w->gid_begin + b, CLHS_TIE_PEER)) return CLHS_ENOMEM;
  }
  return CLHS_OK;
}

/* ------------------------------------------------------------ cross-centre ties */

/*
 * Event and online partners, without any centre's totals leaving its rank.
 *
 * The partner rule (MODEL.md §4): the initiator, of type T, draws a position x uniform on the
 * total weight W of the other member centres' candidates, laid out in centre order and inside a
 * centre by candidate type u, its own centre skipped; a candidate's weight is f(T, u) · (degree
 * + 1) for events, 1 online. Every weight is an integer: f(T, T) = 10^6 and f(T, u ≠ T) =
 * cross_role · 10^6 rounded (CLHS_EVENT_WEIGHT_ONE: fixed point; online f = 1), so every prefix
 * sum is exact and the same for any decomposition. "The centre whose prefix range holds x" is
 * then found in two steps: the rank, from the ranks' per-type totals (one allgather a step for
 * events and online together: 1 integer a rank, 6 on event weeks; ranks own contiguous centre
 * blocks in centre order), and the centre, the type and the agent, by that rank (the partner
 * inside (centre, type): ∝ degree + 1 for events, uniform online, from a second uniform y).
 */

/* Candidate weights of one of this rank's centres. */
typedef struct cand_rec {
  int64_t centre;
  int64_t s[CLHS_NTYPES]; /* events: Σ (degree + 1) over attendees of each type; online: s[0] */
} cand_rec;

/* Local candidates of a centre: for each type, agents in gid order with cumulative
 * weights, so an offset maps to an agent by binary search. */
typedef struct cand_list {
  int32_t *agent; /* [n] local agent index */
  int64_t *cum;   /* [n] cumulative weight up to and including this agent */
  int64_t *begin; /* [c_count * NTYPES + 1] */
} cand_list;

/* A request to the rank that holds position `pos` (from that rank's start) of the
 * initiator type's axis: the initiator's gid times 8 plus its type, and y. */
typedef struct cross_req {
  int64_t who, pos;
  double y;
} cross_req;

static int64_t find_rec(const cand_rec *rec, int64_t n, int64_t centre) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (rec[mid].centre < centre)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && rec[lo].centre == centre ? lo : -1;
}

static int32_t cand_resolve(const cand_list *cl, int64_t slot, int64_t offset) {
  int64_t lo = cl->begin[slot], hi = cl->begin[slot + 1];
  if (lo == hi) return -1;
  while (lo < hi) { /* first entry with cum > offset */
    int64_t mid = lo + (hi - lo) / 2;
    if (cl->cum[mid] <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo >= cl->begin[slot + 1]) lo = cl->begin[slot + 1] - 1;
  return cl->agent[lo];
}

static void cand_free(cand_list *cl) {
  free(cl->agent);
  free(cl->cum);
  free(cl->begin);
}

/* Which event (if any) is held at step t: 2 conference, 1 webinar, 0 none. */
static int event_at(const clhs_config *cfg, int64_t t) {
  if (t <= 0) return 0;
  if (t % cfg->network.conference_every == 0) return 2;
  if (t % cfg->network.webinar_every == 0) return 1;
  return 0;
}

/*
 * Build this step's candidates: event attendees (decided here, flagged TRAINED) with
 * weight degree + 1 per type, or online candidates (E >= 2 in member centres) with
 * weight 1 (one slot, type 0). *recs gets this rank's centres with candidates, in centre
 * order. Collective (agrees on a failure).
 */
static int build_candidates(clhs_world *w, int64_t t, int online, cand_list *cl, cand_rec **recs,
                            int64_t *nrecs, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const int64_t nslots = w->c_count * CLHS_NTYPES;
  memset(cl, 0, sizeof *cl);
  cl->begin = calloc((size_t)nslots + 1, sizeof(int64_t));
  int64_t ncand = 0;
  int status = cl->begin ? CLHS_OK : CLHS_ENOMEM;
  /* Pass 1: decide membership of the candidate set and count per slot. */
  if (!status) {
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
      clhs_u32buf ua = {0};
#pragma omp for schedule(dynamic, 4)
      for (int64_t lc = 0; lc < w->c_count; lc++) {
        if (!w->member[lc]) continue;
        const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc], na = i1 - i0;
        /* The agents with E >= 2 (few), as offsets from i0 in ua's second half; at an event,
         * the first word of each one's ATTEND stream (attendance) in the first. */
        if (!clhs_u32buf_fit(&ua, 2 * (int64_t)na)) {
          oom = 1;
          continue;
        }
        int32_t *ix = (int32_t *)(void *)(ua.v + na);
        const int32_t nx = clhs_compact_at_least(w->E + i0, na, 2, ix);
        if (!online)
          clhs_rng_batch01_at(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0),
                              CLHS_P_ATTEND, nx, ix, ua.v, NULL);
        for (int32_t x = 0; x < nx; x++) {
          const int32_t i = i0 + ix[x];
          int in = 1;
          if (!online) {
            const double p = w->I[lc].train * cfg->network.attend[w->E[i] - 2] * w->m[i];
            in = clhs_u01_from32(ua.v[x]) < p;
            if (in) w->flags[i] |= CLHS_F_TRAINED;
          }
          if (in) cl->begin[lc * CLHS_NTYPES + (online ? 0 : w->type[i]) + 1]++;
        }
      }
      free(ua.v);
    }
    if (oom) status = CLHS_ENOMEM;
  }
  if (!status) {
    for (int64_t s = 0; s < nslots; s++)
      cl->begin[s + 1] += cl->begin[s];
    ncand = cl->begin[nslots];
    cl->agent = malloc(sizeof(int32_t) * (size_t)(ncand ? ncand : 1));
    cl->cum = malloc(sizeof(int64_t) * (size_t)(ncand ? ncand : 1));
    if (!cl->agent || !cl->cum) status = CLHS_ENOMEM;
  }
  /* Pass 2: fill in gid order with cumulative weights; per-centre totals. */
  cand_rec *mine = calloc((size_t)(w->c_count ? w->c_count : 1), sizeof *mine);
  if (!mine) status = CLHS_ENOMEM;
  if (!status) {
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      int64_t pos[CLHS_NTYPES], cum[CLHS_NTYPES] = {0};
      for (int u = 0; u < CLHS_NTYPES; u++)
        pos[u] = cl->begin[lc * CLHS_NTYPES + u];
      mine[lc].centre = w->c_begin + lc;
      if (!w->member[lc]) continue;
      const int32_t i0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - i0;
      for (int64_t k = clhs_next_at_least(w->E + i0, 0, na, 2); k < na;
           k = clhs_next_at_least(w->E + i0, k + 1, na, 2)) {
        const int32_t i = i0 + (int32_t)k; /* E >= 2 */
        if (!online && !(w->flags[i] & CLHS_F_TRAINED)) continue;
        const int u = online ? 0 : w->type[i];
        cum[u] += online ? 1 : (int64_t)clhs_degree(w, lc, i) + 1;
        cl->agent[pos[u]] = i;
        cl->cum[pos[u]++] = cum[u];
      }
      for (int u = 0; u < CLHS_NTYPES; u++)
        mine[lc].s[u] = cum[u];
    }
  }
  if (status) clhs_error_set(err, status, "out of memory choosing tie partners");
  if (clhs_comm_agree_error(w->comm, status, err)) {
    free(mine);
    cand_free(cl);
    return err->code;
  }
  /* Keep only centres with candidates. */
  int64_t nm = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    int64_t tot = 0;
    for (int u = 0; u < CLHS_NTYPES; u++)
      tot += mine[lc].s[u];
    if (tot > 0) mine[nm++] = mine[lc];
  }
  *recs = mine;
  *nrecs = nm;
  return CLHS_OK;
}

/* One kind of partner this step (events or online): its candidates, the ranks' totals
 * and the prefix sums, one axis per initiator type. */
typedef struct cross_set {
  int online, ntt, ns; /* initiator types with their own axis; candidate types */
  cand_list cl;
  cand_rec *rec; /* this rank's centres with candidates, in centre order */
  int64_t nrec;
  int64_t *R;  /* [ntt][P + 1] the ranks' prefix */
  int64_t *lp; /* [ntt][nrec + 1] this rank's centres' prefix, from its start */
  int64_t f[CLHS_NTYPES][CLHS_NTYPES]; /* f(T, u) in fixed point (online: 1) */
} cross_set;

/* A request's code: the initiator type on the event axes, 7 online. */
enum { ONLINE_CODE = 7 };

typedef struct reqvec {
  cross_req *v;
  int *to;
  int64_t n, cap;
} reqvec;

static int req_push(reqvec *q, cross_req r, int to) {
  if (q->n == q->cap) {
    const int64_t cap = q->cap ? 2 * q->cap : 1024;
    cross_req *v = realloc(q->v, sizeof *v * (size_t)cap);
    if (v) q->v = v;
    int *d = realloc(q->to, sizeof *d * (size_t)cap);
    if (d) q->to = d;
    if (!v || !d) return CLHS_ENOMEM;
    q->cap = cap;
  }
  q->v[q->n] = r;
  q->to[q->n++] = to;
  return CLHS_OK;
}

/* The candidates of one kind (collective); the factors; this rank's totals per candidate
 * type into mine[0 .. ns). */
static int set_build(clhs_world *w, int64_t t, int online, cross_set *s, int64_t *mine,
                     clhs_error *err) {
  memset(s, 0, sizeof *s);
  s->online = online;
  s->ntt = s->ns = online ? 1 : CLHS_NTYPES;
  if (build_candidates(w, t, online, &s->cl, &s->rec, &s->nrec, err)) return err->code;
  const int64_t cross = (int64_t)llround(w->cfg->network.cross_role * CLHS_EVENT_WEIGHT_ONE);
  for (int T = 0; T < s->ntt; T++)
    for (int u = 0; u < s->ns; u++)
      s->f[T][u] = online ? 1 : u == T ? CLHS_EVENT_WEIGHT_ONE : cross;
  for (int u = 0; u < s->ns; u++)
    mine[u] = 0;
  for (int64_t k = 0; k < s->nrec; k++)
    for (int u = 0; u < s->ns; u++)
      mine[u] += s->rec[k].s[u];
  return CLHS_OK;
}

/* The axes from the ranks' totals S[r * stride + u] (u < ns). */
static int set_axes(cross_set *s, int P, const int64_t *S, int stride) {
  s->R = calloc((size_t)s->ntt * (size_t)(P + 1), sizeof *s->R);
  s->lp = malloc(sizeof *s->lp * (size_t)s->ntt * (size_t)(s->nrec + 1));
  if (!s->R || !s->lp) return CLHS_ENOMEM;
  for (int T = 0; T < s->ntt; T++) {
    int64_t *RT = s->R + (size_t)T * (size_t)(P + 1),
            *lT = s->lp + (size_t)T * (size_t)(s->nrec + 1);
    for (int r = 0; r < P; r++) {
      int64_t x = 0;
      for (int u = 0; u < s->ns; u++)
        x += s->f[T][u] * S[(size_t)r * (size_t)stride + (size_t)u];
      RT[r + 1] = RT[r] + x;
    }
    lT[0] = 0;
    for (int64_t k = 0; k < s->nrec; k++) {
      int64_t x = 0;
      for (int u = 0; u < s->ns; u++)
        x += s->f[T][u] * s->rec[k].s[u];
      lT[k + 1] = lT[k] + x;
    }
  }
  return CLHS_OK;
}

static void set_free(cross_set *s) {
  free(s->R);
  free(s->lp);
  free(s->rec);
  cand_free(&s->cl);
}

/* This step's initiators of one of this rank's centres, and their partners' positions, as
 * requests to the ranks that hold them (threads keep their own lists: the order of
 * requests does not matter). */
static int draw_centre(clhs_world *w, int64_t t, const cross_set *cs, int64_t lc, clhs_u32buf *ub,
                       reqvec *q) {
  const clhs_config *cfg = w->cfg;
  const int P = w->comm->size, me = w->comm->rank, online = cs->online;
  const int64_t s0 = cs->cl.begin[lc * CLHS_NTYPES];
  const int64_t s1 = cs->cl.begin[online ? lc * CLHS_NTYPES + 1 : (lc + 1) * CLHS_NTYPES];
  if (s0 == s1) return CLHS_OK;
  const int64_t own = find_rec(cs->rec, cs->nrec, w->c_begin + lc); /* >= 0: it has some */
  const double lam =
      event_at(cfg, t) == 2 ? cfg->network.conference_ties : cfg->network.webinar_ties;
  const double p_online = cfg->network.online_rate * w->I[lc].platform;
  const int32_t i0 = w->first[0][lc];
  /* Whether each candidate starts a tie: the first word of its ONLINE stream (few do, at
   * online_rate), drawn for the candidates at once (in gid order: ascending offsets). */
  const int64_t nc = s1 - s0;
  if (online) {
    if (!clhs_u32buf_fit(ub, 2 * nc)) return CLHS_ENOMEM;
    int32_t *ix = (int32_t *)(void *)(ub->v + nc);
    for (int64_t s = s0; s < s1; s++)
      ix[s - s0] = cs->cl.agent[s] - i0;
    clhs_rng_batch01_at(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_ONLINE,
                        nc, ix, ub->v, NULL);
  }
  for (int64_t s = s0; s < s1; s++) {
    const int32_t i = cs->cl.agent[s];
    if (online && !(clhs_u01_from32(ub->v[s - s0]) < p_online)) continue;
    const int T = online ? 0 : w->type[i];
    const int64_t *R = cs->R + (size_t)T * (size_t)(P + 1);
    const int64_t *lp = cs->lp + (size_t)T * (size_t)(cs->nrec + 1);
    const int64_t P_own = R[me] + lp[own], own_w = lp[own + 1] - lp[own];
    const int64_t W = R[P] - own_w;
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i),
                  online ? CLHS_P_ONLINE : CLHS_P_EVENT_TIES);
    int64_t k = 1;
    if (online)
      (void)clhs_rng_u32(&r); /* an initiator: its stream goes on from the second word */
    else
      k = clhs_rng_poisson(&r, lam);
    for (int64_t e = 0; e < k; e++) {
      const double x = clhs_rng_uniform(&r) * (double)W;
      const double y = clhs_rng_uniform(&r);
      if (!(W > 0)) break;
      int64_t X = x < (double)W ? (int64_t)x : W - 1; /* u = 1 can round x up to W */
      if (X >= P_own) X += own_w;                     /* skip the initiator's own centre */
      const int to = (int)clhs_range_of(R, P, X);
      const cross_req rq = {(w->gid_begin + i) * 8 + (online ? ONLINE_CODE : T), X - R[to], y};
      if (req_push(q, rq, to)) return CLHS_ENOMEM;
    }
  }
  return CLHS_OK;
}

/* The owner's side: position -> centre -> type -> agent; the new tie. */
static int resolve_req(clhs_world *w, const cross_set *sets, const cross_req *q, msgvec *mv) {
  const int code = (int)(q->who % 8), online = code == ONLINE_CODE;
  const cross_set *cs = &sets[online ? 0 : 1];
  const int T = online ? 0 : code;
  const cand_rec *rec = cs->rec;
  const int64_t *lp = cs->lp + (size_t)T * (size_t)(cs->nrec + 1);
  const int64_t k = clhs_range_of(lp, cs->nrec, q->pos);
  int64_t rest = q->pos - lp[k];
  int u = 0;
  if (!online)
    for (u = 0; u < CLHS_NTYPES - 1; u++) {
      const int64_t wu = cs->f[T][u] * rec[k].s[u];
      if (rest < wu) break;
      rest -= wu;
    }
  const int64_t su = rec[k].s[u];
  int64_t off = (int64_t)(q->y * (double)su);
  if (off >= su) off = su - 1;
  const int32_t j = cand_resolve(&cs->cl, (rec[k].centre - w->c_begin) * CLHS_NTYPES + u, off);
  if (j < 0) return CLHS_OK;
  return push_tie(mv, q->who / 8, w->gid_begin + j, online ? CLHS_TIE_ONLINE : CLHS_TIE_EVENT);
}

/*
 * Online partners every step (each E >= 2 agent, with probability online_rate ·
 * I_platform, one partner uniform among E >= 2 agents of other member centres) and, on
 * event weeks, event partners (each attendee forms Poisson(ties per attendee) ties,
 * partner ∝ (degree + 1) × (1 same type, cross_role otherwise)): one allgather of the
 * ranks' totals (1 integer a rank, 6 on event weeks) and one exchange of requests.
 * Collective; returns a status agreed on every rank.
 */
static int cross_centre_ties(clhs_world *w, int64_t t, msgvec *mv, clhs_error *err) {
  const int P = w->comm->size, nsets = event_at(w->cfg, t) ? 2 : 1;
  const int stride = nsets == 2 ? 1 + CLHS_NTYPES : 1; /* online, then the event types */
  cross_set sets[2];
  int64_t mine[1 + CLHS_NTYPES];
  memset(sets, 0, sizeof sets);
  if (set_build(w, t, 1, &sets[0], mine, err) ||
      (nsets == 2 && set_build(w, t, 0, &sets[1], mine + 1, err))) {
    set_free(&sets[0]);
    return err->code;
  }
  int64_t *S = malloc(sizeof *S * (size_t)stride * (size_t)P); /* [P][stride] */
  const int nth = omp_get_max_threads();
  reqvec *tq = calloc((size_t)nth, sizeof *tq);
  int st = S && tq ? CLHS_OK : CLHS_ENOMEM;
  if (st) clhs_error_set(err, st, "out of memory forming cross-centre ties");
  st = clhs_comm_agree_error(w->comm, st, err);
  if (!st) {
    clhs_comm_allgatherv(w->comm, mine, stride, sizeof(int64_t), S);
    /* Every rank sees the same totals: the bound of the fixed point is agreed. */
    int64_t sum = 0;
    for (int r = 0; nsets == 2 && r < P; r++)
      for (int u = 1; u < stride; u++)
        sum += S[(size_t)r * (size_t)stride + (size_t)u];
    if (sum > INT64_MAX / CLHS_EVENT_WEIGHT_ONE)
      st = clhs_error_set(err, CLHS_EFAIL,
                          "%lld event attendees' degree + 1 in all: beyond the fixed-point range "
                          "of the event partner weights (%lld)",
                          (long long)sum, (long long)(INT64_MAX / CLHS_EVENT_WEIGHT_ONE));
  }
  int fail = 0;
  for (int k = 0; !st && k < nsets; k++)
    if (set_axes(&sets[k], P, S + k, stride)) fail = 1;
  if (!st) {
    const int fail0 = fail; /* inside the region each thread's `fail` starts at 0 */
#pragma omp parallel reduction(| : fail)
    {
      const int tid = omp_get_thread_num();
      clhs_u32buf ub = {0};
      for (int k = 0; k < nsets; k++) {
#pragma omp for schedule(dynamic, 4)
        for (int64_t lc = 0; lc < w->c_count; lc++)
          if (!fail && !fail0 && draw_centre(w, t, &sets[k], lc, &ub, &tq[tid])) fail = 1;
      }
      free(ub.v);
    }
    /* To the ranks that hold the chosen positions. */
    reqvec all = {0};
    for (int k = 0; !fail && k < nth; k++)
      for (int64_t j = 0; j < tq[k].n && !fail; j++)
        if (req_push(&all, tq[k].v[j], tq[k].to[j])) fail = 1;
    st = fail ? CLHS_ENOMEM : CLHS_OK;
    if (st) clhs_error_set(err, st, "out of memory forming cross-centre ties");
    if ((st = clhs_comm_agree_error(w->comm, st, err)) == CLHS_OK) {
      int oom = 0;
      int64_t nin = 0;
      void *recv = clhs_comm_route(w->comm, all.v, all.to, all.n, sizeof *all.v, &nin, &oom);
      if (oom) st = CLHS_ENOMEM;
      const cross_req *in = recv;
      for (int64_t k = 0; k < nin && !st; k++)
        st = resolve_req(w, sets, &in[k], mv);
      free(recv);
      if (st) clhs_error_set(err, st, "out of memory forming cross-centre ties");
      st = clhs_comm_agree_error(w->comm, st, err);
    }
    free(all.v);
    free(all.to);
  }
  for (int k = 0; tq && k < nth; k++) {
    free(tq[k].v);
    free(tq[k].to);
  }
  free(tq);
  free(S);
  for (int k = 0; k < nsets; k++)
    set_free(&sets[k]);
  return st;
}

/* ------------------------------------------------------------ the phases */

int clhs_phase_new_ties(clhs_world *w, int64_t t, clhs_error *err) {
  const int nth = omp_get_max_threads();
  msgvec all = {0};
  msgvec *part = calloc((size_t)nth, sizeof *part);
  int status = part ? CLHS_OK : CLHS_ENOMEM;
  uint8_t *const flags = w->flags; /* (a byte store through w->flags could change w->flags:
                                    * a local pointer lets the loop run in vectors) */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    flags[i] &= (uint8_t)~CLHS_F_TRAINED;
  if (!status) {
    /* A private copy of a max-reduction starts at INT_MIN: keep the failure in an
     * or-reduction (private copies start at 0) and test only that. */
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
      const int tid = omp_get_thread_num();
      int32_t *elig = NULL;
      int32_t elig_cap = 0;
#pragma omp for schedule(dynamic, 4)
      for (int64_t lc = 0; lc < w->c_count; lc++) {
        if (!w->member[lc] || fail) continue;
        const int32_t need = w->first[CLHS_CLIN][lc] - w->first[CLHS_PAT][lc];
        if (need > elig_cap) {
          free(elig);
          elig = malloc(sizeof(int32_t) * (size_t)need);
          elig_cap = elig ? need : 0;
          if (!elig) {
            fail = 1;
            continue;
          }
        }
        if (peer_ties(w, lc, t, elig, &part[tid])) fail = 1;
      }
      free(elig);
    }
    if (fail) status = CLHS_ENOMEM;
  }
  if (!status) status = msg_concat(part, nth, &all);
  free(part);
  if (status) clhs_error_set(err, status, "out of memory forming peer ties");
  if (clhs_comm_agree_error(w->comm, status, err)) {
    free(all.v);
    return err->code;
  }
  if (cross_centre_ties(w, t, &all, err)) {
    free(all.v);
    return err->code;
  }
  const int st = clhs_ties_deliver(w, all.v, all.n, err);
  free(all.v);
  /* Phase 3 exchanges the halo next: every rank leaves this phase with the same status. */
  return clhs_comm_agree_error(w->comm, st, err);
}
