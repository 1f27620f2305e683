/*
 * Phase 2 (MODEL.md §4): new peer, event and online ties (phase 3, decay and pruning,
 * is in decay.c).
 *
 * Cross-centre partners are chosen without reference to the decomposition: every rank
 * learns, per centre in centre order, the integer weight of its candidates (event
 * attendees' degree + 1 by type; online: the number of E >= 2 agents); the initiator
 * draws a centre (and a type) from those totals with its own keyed stream, and an
 * offset inside it; the owner of that centre maps the offset to an agent by walking its
 * candidates in global-id order. Every new tie is then delivered to both of its ends
 * and applied there by the same rule, at the end of the phase (synchronous update:
 * degrees are those at the start of the step).
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
  for (int32_t i = p0; i < f0; i++)
    if (w->E[i] >= 1) elig[npat++] = i;
  for (int32_t i = f0; i < f1; i++)
    if (w->E[i] >= 1) elig[npat + nfam++] = i;
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

/* Candidate weights of one centre, gathered from every rank in centre order. */
typedef struct cand_rec {
  int64_t centre;
  int64_t s[CLHS_NTYPES]; /* events: Σ (degree + 1) over attendees of each type; online: s[0] */
} cand_rec;

/* A request for a partner in `centre`, at integer `offset` into the candidates of type
 * `type` (online: type 0 = all), sent to the centre's owner. */
typedef struct tie_req {
  int64_t initiator, centre, offset;
  int32_t kind, type;
} tie_req;

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

/* Index of the last prefix entry <= x (prefix[0] = 0, increasing). */
static int64_t find_prefix(const double *prefix, int64_t n, double x) {
  int64_t lo = 0, hi = n; /* answer in [0, n) */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (prefix[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* Local candidates of a centre: for each type, agents in gid order with cumulative
 * weights, so an offset maps to an agent by binary search. */
typedef struct cand_list {
  int32_t *agent; /* [n] local agent index */
  int64_t *cum;   /* [n] cumulative weight up to and including this agent */
  int64_t *begin; /* [c_count * NTYPES + 1] */
} cand_list;

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
 * weight 1 (one slot, type 0). Collective. @p gather: *recs gets every centre's totals
 * (from every rank, in centre order); otherwise only this rank's centres'.
 */
static int build_candidates(clhs_world *w, int64_t t, int online, int gather, cand_list *cl,
                            cand_rec **recs, int64_t *nrecs, clhs_error *err) {
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
        const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
        if (!online) { /* attendance: the first word of each agent's ATTEND stream */
          if (!clhs_u32buf_fit(&ua, i1 - i0)) {
            oom = 1;
            continue;
          }
          clhs_rng_batch01(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_ATTEND,
                           i1 - i0, ua.v, NULL);
        }
        for (int32_t i = i0; i < i1; i++) {
          if (w->E[i] < 2) continue;
          int in = 1;
          if (!online) {
            const double p = w->I[lc].train * cfg->network.attend[w->E[i] - 2] * w->m[i];
            in = clhs_u01_from32(ua.v[i - i0]) < p;
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
      for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
        if (w->E[i] < 2) continue;
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
  /* Keep only centres with candidates, then gather them all in centre order. */
  int64_t nm = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    int64_t tot = 0;
    for (int u = 0; u < CLHS_NTYPES; u++)
      tot += mine[lc].s[u];
    if (tot > 0) mine[nm++] = mine[lc];
  }
  if (!gather) {
    *recs = mine;
    *nrecs = nm;
    return CLHS_OK;
  }
  *recs = clhs_comm_allgatherv_alloc(w->comm, mine, nm, sizeof *mine, nrecs);
  free(mine);
  return CLHS_OK;
}

/*
 * Draw partners for this step's initiators: events (each attendee forms
 * Poisson(ties per attendee) ties, partner ∝ (degree + 1) × (1 same type, cross_role
 * otherwise)) or online (each E >= 2 agent, with probability online_rate · I_platform,
 * one partner uniform among E >= 2 agents of other member centres).
 */
static int draw_requests(clhs_world *w, int64_t t, int online, const cand_list *cl,
                         const cand_rec *rec, int64_t nrec, tie_req **reqs, int64_t *nreqs) {
  const clhs_config *cfg = w->cfg;
  const double cross = cfg->network.cross_role;
  const int ntt = online ? 1 : CLHS_NTYPES; /* initiator types with their own prefix sums */
  double *prefix = malloc(sizeof(double) * (size_t)ntt * (size_t)(nrec + 1));
  if (!prefix) return CLHS_ENOMEM;
  for (int T = 0; T < ntt; T++) {
    double *P = prefix + (size_t)T * (size_t)(nrec + 1);
    P[0] = 0;
    for (int64_t k = 0; k < nrec; k++) {
      double s = 0;
      for (int u = 0; u < CLHS_NTYPES; u++)
        s += (online || u == T ? 1.0 : cross) * (double)rec[k].s[u];
      P[k + 1] = P[k] + s;
    }
  }
  const double lam =
      event_at(cfg, t) == 2 ? cfg->network.conference_ties : cfg->network.webinar_ties;
  /* Initiators are independent (each draws from its own keyed stream): threads take
   * centres and keep their requests apart; the order of requests does not matter. */
  const int nth = omp_get_max_threads();
  tie_req **tout = calloc((size_t)nth, sizeof *tout);
  int64_t *tn = calloc((size_t)nth, sizeof *tn), *tcap = calloc((size_t)nth, sizeof *tcap);
  int fail = !tout || !tn || !tcap;
  const int fail0 = fail; /* inside the region each thread's `fail` starts at 0 */
#pragma omp parallel reduction(| : fail)
  {
    const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      if (fail || fail0) continue;
      const int64_t c = w->c_begin + lc;
      const int64_t own = find_rec(rec, nrec, c);
      for (int64_t s = cl->begin[lc * CLHS_NTYPES]; s < cl->begin[(lc + 1) * CLHS_NTYPES]; s++) {
        const int32_t i = cl->agent[s];
        const int T = online ? 0 : w->type[i];
        const double *P = prefix + (size_t)T * (size_t)(nrec + 1);
        const double own_w = own >= 0 ? P[own + 1] - P[own] : 0;
        const double W = P[nrec] - own_w;
        clhs_rng r;
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i),
                      online ? CLHS_P_ONLINE : CLHS_P_EVENT_TIES);
        int64_t k;
        if (online)
          k = clhs_rng_bernoulli(&r, cfg->network.online_rate * w->I[lc].platform) ? 1 : 0;
        else
          k = clhs_rng_poisson(&r, lam);
        for (int64_t e = 0; e < k; e++) {
          double x = clhs_rng_uniform(&r) * W;
          const double y = clhs_rng_uniform(&r);
          if (!(W > 0)) break;
          if (own >= 0 && x >= P[own]) x += own_w; /* skip the initiator's own centre */
          int64_t j = find_prefix(P, nrec + 1, x);
          if (j >= nrec) j = nrec - 1;
          if (j == own) j = own + 1 < nrec ? own + 1 : own - 1; /* rounding at the edge */
          if (j < 0) break;
          /* The partner's type, ∝ f(T, u) · s[u] inside the chosen centre. */
          double rest = x - P[j];
          int u = 0;
          if (!online) {
            for (u = 0; u < CLHS_NTYPES - 1; u++) {
              const double wu = (u == T ? 1.0 : cross) * (double)rec[j].s[u];
              if (rest < wu && rec[j].s[u] > 0) break;
              rest -= wu;
            }
            while (rec[j].s[u] == 0 && u > 0)
              u--; /* rounding: the last non-empty type */
            while (rec[j].s[u] == 0 && u < CLHS_NTYPES - 1)
              u++;
          }
          /* The partner inside (centre, type): ∝ degree + 1 (events) or uniform (online). */
          int64_t off = (int64_t)(y * (double)rec[j].s[u]);
          if (off >= rec[j].s[u]) off = rec[j].s[u] - 1;
          if (tn[tid] == tcap[tid]) {
            tcap[tid] = tcap[tid] ? 2 * tcap[tid] : 1024;
            tie_req *o2 = realloc(tout[tid], sizeof **tout * (size_t)tcap[tid]);
            if (!o2) {
              fail = 1;
              break;
            }
            tout[tid] = o2;
          }
          tie_req *q = &tout[tid][tn[tid]++];
          q->initiator = w->gid_begin + i;
          q->centre = rec[j].centre;
          q->offset = off;
          q->kind = online ? CLHS_TIE_ONLINE : CLHS_TIE_EVENT;
          q->type = u;
        }
      }
    }
  }
  int64_t n = 0;
  for (int k = 0; !fail && k < nth; k++)
    n += tn[k];
  tie_req *out = fail ? NULL : malloc(sizeof *out * (size_t)(n ? n : 1));
  if (!out) fail = 1;
  for (int64_t k = 0, pos = 0; !fail && k < nth; k++) {
    if (tn[k]) memcpy(out + pos, tout[k], sizeof *out * (size_t)tn[k]);
    pos += tn[k];
  }
  for (int k = 0; tout && k < nth; k++)
    free(tout[k]);
  free(tout);
  free(tn);
  free(tcap);
  if (fail) {
    free(out);
    free(prefix);
    return CLHS_ENOMEM;
  }
  free(prefix);
  *reqs = out;
  *nreqs = n;
  return CLHS_OK;
}

/* Send requests to the owners of their centres; resolve them into new ties. */
static int resolve_requests(clhs_world *w, const cand_list *cl, tie_req *reqs, int64_t nreqs,
                            msgvec *mv) {
  int *dest = malloc(sizeof(int) * (size_t)(nreqs ? nreqs : 1));
  int oom = !dest;
  for (int64_t k = 0; dest && k < nreqs; k++)
    dest[k] = w->owner[reqs[k].centre];
  int64_t nin = 0; /* (a rank out of memory still takes part in the exchange) */
  void *recv = clhs_comm_route(w->comm, reqs, dest, dest ? nreqs : 0, sizeof *reqs, &nin, &oom);
  free(dest);
  const tie_req *in = recv;
  int st = oom ? CLHS_ENOMEM : CLHS_OK;
  for (int64_t k = 0; k < nin && !st; k++) {
    const int64_t lc = in[k].centre - w->c_begin;
    const int32_t j = cand_resolve(cl, lc * CLHS_NTYPES + in[k].type, in[k].offset);
    if (j < 0) continue;
    st = push_tie(mv, in[k].initiator, w->gid_begin + j, in[k].kind);
  }
  free(recv);
  return st;
}

static int cross_centre_ties(clhs_world *w, int64_t t, int online, msgvec *mv, clhs_error *err) {
  cand_list cl;
  cand_rec *rec = NULL;
  int64_t nrec = 0, nreqs = 0;
  tie_req *reqs = NULL;
  if (build_candidates(w, t, online, 1, &cl, &rec, &nrec, err)) return err->code;
  int st = draw_requests(w, t, online, &cl, rec, nrec, &reqs, &nreqs);
  if (st) clhs_error_set(err, st, "out of memory forming cross-centre ties");
  if ((st = clhs_comm_agree_error(w->comm, st, err)) == CLHS_OK) {
    st = resolve_requests(w, &cl, reqs, nreqs, mv);
    if (st) clhs_error_set(err, st, "out of memory forming cross-centre ties");
    st = clhs_comm_agree_error(w->comm, st, err);
  }
  free(reqs);
  free(rec);
  cand_free(&cl);
  return st;
}

/*
 * Online ties without any centre's totals leaving its rank.
 *
 * The partner rule is that of draw_requests with every weight 1: x uniform on the total
 * T of the other member centres' candidates, in centre order, skipping the initiator's
 * own centre. The prefix sums are sums of integers (exact in double below 2^53), so
 * "the centre whose prefix range holds x" can be found in two steps: the rank, from the
 * ranks' totals (one allgather of P integers: ranks own contiguous centre blocks in
 * centre order), then the centre, by that rank. Same draws, same partner as gathering
 * every centre's total (draw_requests), without the O(centres) allgather each step.
 */
typedef struct online_req {
  int64_t initiator;
  double x, y; /* position on the prefix axis; the uniform that picks inside the centre */
} online_req;

/* The rank whose non-empty range [R[r], R[r+1]) holds x; past the end: the last
 * non-empty rank (the rounding clamp of draw_requests); -1 if every range is empty. */
static int online_rank(const int64_t *R, int P, double x) {
  int lo = 0, hi = P; /* last r in [0, P) with R[r] <= x among non-empty ranges */
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if ((double)R[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  while (lo >= 0 && R[lo + 1] == R[lo])
    lo--; /* an empty range (only before x's rank when x is past the end) */
  return lo;
}

static int online_ties(clhs_world *w, int64_t t, msgvec *mv, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const int P = w->comm->size, me = w->comm->rank;
  cand_list cl;
  cand_rec *rec = NULL; /* this rank's centres with candidates, in centre order */
  int64_t nrec = 0;
  if (build_candidates(w, t, 1, 0, &cl, &rec, &nrec, err)) return err->code;
  int64_t *lp = malloc(sizeof *lp * (size_t)(nrec + 1)); /* local prefix */
  int64_t *R = calloc((size_t)P + 1, sizeof *R);         /* ranks' prefix */
  int st = lp && R ? CLHS_OK : CLHS_ENOMEM;
  if (st) clhs_error_set(err, st, "out of memory forming online ties");
  if (clhs_comm_agree_error(w->comm, st, err)) {
    free(lp);
    free(R);
    free(rec);
    cand_free(&cl);
    return err->code;
  }
  lp[0] = 0;
  for (int64_t k = 0; k < nrec; k++)
    lp[k + 1] = lp[k] + rec[k].s[0];
  clhs_comm_allgatherv(w->comm, &lp[nrec], 1, sizeof(int64_t), R + 1);
  for (int r = 0; r < P; r++)
    R[r + 1] += R[r];
  const int64_t total = R[P], base = R[me];
  /* Draws, in centre order (threads keep their own lists; order does not matter). */
  const int nth = omp_get_max_threads();
  online_req **tout = calloc((size_t)nth, sizeof *tout);
  int32_t **trank = calloc((size_t)nth, sizeof *trank);
  int64_t *tn = calloc((size_t)nth, sizeof *tn), *tcap = calloc((size_t)nth, sizeof *tcap);
  int fail = !tout || !trank || !tn || !tcap;
  const int fail0 = fail; /* inside the region each thread's `fail` starts at 0 */
#pragma omp parallel reduction(| : fail)
  {
    const int tid = omp_get_thread_num();
    clhs_u32buf u = {0};
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      if (fail || fail0 || cl.begin[lc * CLHS_NTYPES] == cl.begin[lc * CLHS_NTYPES + 1]) continue;
      const int64_t own = find_rec(rec, nrec, w->c_begin + lc); /* >= 0: it has candidates */
      const double P_own = (double)(base + lp[own]), own_w = (double)rec[own].s[0];
      const double W = (double)total - own_w;
      const double p_online = cfg->network.online_rate * w->I[lc].platform;
      /* Whether each candidate starts a tie: the first word of its ONLINE stream (the
       * centre's all at once; few candidates do, at online_rate). */
      const int32_t i0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - i0;
      if (!clhs_u32buf_fit(&u, na)) {
        fail = 1;
        continue;
      }
      clhs_rng_batch01(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_ONLINE, na,
                       u.v, NULL);
      for (int64_t s = cl.begin[lc * CLHS_NTYPES]; s < cl.begin[lc * CLHS_NTYPES + 1]; s++) {
        const int32_t i = cl.agent[s];
        if (!(clhs_u01_from32(u.v[i - i0]) < p_online)) continue;
        clhs_rng r; /* an initiator: its stream goes on from the second word */
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i), CLHS_P_ONLINE);
        (void)clhs_rng_u32(&r);
        double x = clhs_rng_uniform(&r) * W;
        const double y = clhs_rng_uniform(&r);
        if (!(W > 0)) continue;
        if (x >= P_own) x += own_w; /* skip the initiator's own centre */
        if (x >= (double)total && P_own + own_w == (double)total) {
          /* Past the end (u = 1 can round x up to W) with the own centre last: draw_requests
           * clamps to the last centre, finds it is the own one and takes the one before
           * (none: no tie). The middle of the previous centre's range has that owner. */
          if (P_own == 0) continue;
          x = P_own - 0.5;
        }
        const int to = online_rank(R, P, x);
        if (to < 0) continue;
        if (tn[tid] == tcap[tid]) {
          tcap[tid] = tcap[tid] ? 2 * tcap[tid] : 1024;
          online_req *o2 = realloc(tout[tid], sizeof **tout * (size_t)tcap[tid]);
          int32_t *r2 = realloc(trank[tid], sizeof **trank * (size_t)tcap[tid]);
          if (o2) tout[tid] = o2;
          if (r2) trank[tid] = r2;
          if (!o2 || !r2) {
            fail = 1;
            break;
          }
        }
        tout[tid][tn[tid]] = (online_req){w->gid_begin + i, x, y};
        trank[tid][tn[tid]++] = to;
      }
    }
    free(u.v);
  }
  /* To the ranks that hold the chosen positions. */
  int64_t n = 0;
  for (int k = 0; !fail && k < nth; k++)
    n += tn[k];
  online_req *all = fail ? NULL : malloc(sizeof *all * (size_t)(n ? n : 1));
  int *dest = fail ? NULL : malloc(sizeof *dest * (size_t)(n ? n : 1));
  if (!all || !dest) fail = 1;
  int64_t pos = 0;
  for (int k = 0; !fail && k < nth; k++)
    for (int64_t q = 0; q < tn[k]; q++, pos++) {
      all[pos] = tout[k][q];
      dest[pos] = trank[k][q];
    }
  for (int k = 0; k < nth && tout; k++) {
    free(tout[k]);
    if (trank) free(trank[k]);
  }
  free(tout);
  free(trank);
  free(tn);
  free(tcap);
  st = fail ? CLHS_ENOMEM : CLHS_OK;
  if (st) clhs_error_set(err, st, "out of memory forming online ties");
  if ((st = clhs_comm_agree_error(w->comm, st, err)) == CLHS_OK) {
    int oom = 0;
    int64_t nin = 0;
    void *recv = clhs_comm_route(w->comm, all, dest, n, sizeof *all, &nin, &oom);
    if (oom) st = CLHS_ENOMEM;
    const online_req *in = recv;
    for (int64_t k = 0; k < nin && !st; k++) {
      /* The last of this rank's centres whose prefix start is <= x (clamped to the last
       * one past the end, as draw_requests clamps to the last centre). */
      int64_t lo = 0, hi = nrec;
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if ((double)(base + lp[mid]) <= in[k].x)
          lo = mid;
        else
          hi = mid;
      }
      const int64_t sj = rec[lo].s[0];
      int64_t off = (int64_t)(in[k].y * (double)sj);
      if (off >= sj) off = sj - 1;
      const int32_t j = cand_resolve(&cl, (rec[lo].centre - w->c_begin) * CLHS_NTYPES, off);
      if (j >= 0) st = push_tie(mv, in[k].initiator, w->gid_begin + j, CLHS_TIE_ONLINE);
    }
    free(recv);
    if (st) clhs_error_set(err, st, "out of memory forming online ties");
    st = clhs_comm_agree_error(w->comm, st, err);
  }
  free(all);
  free(dest);
  free(lp);
  free(R);
  free(rec);
  cand_free(&cl);
  return st;
}

/* ------------------------------------------------------------ the phases */

int clhs_phase_new_ties(clhs_world *w, int64_t t, clhs_error *err) {
  const int nth = omp_get_max_threads();
  msgvec all = {0};
  msgvec *part = calloc((size_t)nth, sizeof *part);
  int status = part ? CLHS_OK : CLHS_ENOMEM;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    w->flags[i] &= (uint8_t)~CLHS_F_TRAINED;
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
  if (event_at(w->cfg, t) && cross_centre_ties(w, t, 0, &all, err)) {
    free(all.v);
    return err->code;
  }
  if (online_ties(w, t, &all, err)) {
    free(all.v);
    return err->code;
  }
  const int st = clhs_ties_deliver(w, all.v, all.n, err);
  free(all.v);
  /* Phase 3 exchanges the halo next: every rank leaves this phase with the same status. */
  return clhs_comm_agree_error(w->comm, st, err);
}
