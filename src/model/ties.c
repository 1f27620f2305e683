/*
 * The tie store (MODEL.md §4): one compressed-row table of dynamic ties per local centre,
 * rows sorted by neighbour gid; changes gathered as events and applied at the end of a
 * phase; the implicit care ties; neighbour lists in global-id order; and the check that
 * both ends of every tie agree. The rules that change ties are in newties.c (phase 2),
 * decay.c (phase 3), resources.c (reinforcement) and turnover.c (drops); the halo of
 * remote neighbours is in halo.c.
 *
 * Both ends of a tie see the same events in a step (each event is delivered to both
 * owners), and apply them by the same order-free rule, so their weights stay equal
 * bit for bit on any decomposition.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* ------------------------------------------------------------ bookkeeping */

int clhs_owner_of_gid(const clhs_world *w, int64_t gid) {
  return (int)clhs_range_of(w->rank_gid0, w->comm->size, gid);
}

int clhs_ties_init(clhs_world *w, clhs_error *err) {
  w->tie_visits = clhs_calloc((size_t)omp_get_max_threads() * 8, sizeof(int64_t), err, "counters");
  if (!w->tie_visits) return err->code;
  w->ties = clhs_calloc((size_t)w->c_count, sizeof *w->ties, err, "tie tables");
  if (!w->ties) return err->code;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    w->ties[lc].off = clhs_calloc((size_t)na + 1, sizeof(uint32_t), err, "tie rows");
    if (!w->ties[lc].off) return err->code;
  }
  return CLHS_OK;
}

int64_t clhs_tie_visits(const clhs_world *w) {
  int64_t n = 0;
  for (int k = 0; k < omp_get_max_threads(); k++)
    n += w->tie_visits[8 * k];
  return n;
}

void clhs_ties_free(clhs_world *w) {
  free(w->tie_visits);
  w->tie_visits = NULL;
  if (!w->ties) return;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    free(w->ties[lc].off);
    free(w->ties[lc].key);
    free(w->ties[lc].w);
  }
  free(w->ties);
  w->ties = NULL;
}

int64_t clhs_ties_count(const clhs_world *w) {
  int64_t n = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    n += w->ties[lc].off[na];
  }
  return n;
}

int64_t clhs_ties_cross_rank(const clhs_world *w) {
  int64_t n = 0;
  const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    for (uint32_t d = 0; d < ts->off[na]; d++) {
      const int64_t g = clhs_tie_gid(ts->key[d]);
      n += g < lo || g >= hi;
    }
  }
  return n;
}

size_t clhs_ties_bytes(const clhs_world *w) {
  size_t b = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    b += ((size_t)na + 1) * sizeof(uint32_t) +
         (size_t)w->ties[lc].cap * (sizeof(uint64_t) + sizeof(float));
  }
  return b;
}

/* ------------------------------------------------------------ care ties */

/*
 * The care neighbours of local agent i (centre lc), as local agent indices in gid
 * order: PAT: its caregiver, its clinician; FAM: its patient; CLIN: its patients, then
 * the other staff; QIS, RES: the other staff. Returns the count; @p out must hold
 * (patients of the centre + staff of the centre) entries.
 */
int32_t clhs_careties_neighbours(const clhs_world *w, int64_t lc, int32_t i, int32_t *out) {
  int32_t n = 0;
  const int32_t s0 = w->first[CLHS_CLIN][lc], s1 = w->first[CLHS_NTYPES][lc];
  switch (w->type[i]) {
  case CLHS_PAT: {
    int64_t p = w->pat_begin[lc] + (i - w->first[CLHS_PAT][lc]);
    if (w->pat_fam[p] >= 0) out[n++] = w->pat_fam[p];
    out[n++] = w->pat_clin[p];
    break;
  }
  case CLHS_FAM: {
    int64_t f = w->fam_begin[lc] + (i - w->first[CLHS_FAM][lc]);
    out[n++] = w->pat_agent[w->fam_patient[f]];
    break;
  }
  case CLHS_CLIN: {
    const int32_t nclin = w->first[CLHS_QIS][lc] - s0, ci = i - s0;
    for (int32_t k = w->first[CLHS_PAT][lc] + ci; k < w->first[CLHS_FAM][lc]; k += nclin)
      out[n++] = k;
  } /* clinicians are staff too: */
    /* fall through */
  default:
    for (int32_t k = s0; k < s1; k++)
      if (k != i) out[n++] = k;
    break;
  }
  return n;
}

int32_t clhs_careties_degree(const clhs_world *w, int64_t lc, int32_t i) {
  const int32_t staff = w->first[CLHS_NTYPES][lc] - w->first[CLHS_CLIN][lc];
  switch (w->type[i]) {
  case CLHS_PAT: {
    int64_t p = w->pat_begin[lc] + (i - w->first[CLHS_PAT][lc]);
    return 1 + (w->pat_fam[p] >= 0);
  }
  case CLHS_FAM: return 1;
  case CLHS_CLIN: {
    const int32_t s0 = w->first[CLHS_CLIN][lc], nclin = w->first[CLHS_QIS][lc] - s0;
    const int32_t npat = w->first[CLHS_FAM][lc] - w->first[CLHS_PAT][lc], ci = i - s0;
    return (npat - ci + nclin - 1) / nclin + staff - 1;
  }
  default: return staff - 1;
  }
}

/* Scratch large enough for any agent's care neighbours in centre lc. */
int32_t clhs_careties_max(const clhs_world *w, int64_t lc) {
  return (w->first[CLHS_FAM][lc] - w->first[CLHS_PAT][lc]) +
         (w->first[CLHS_NTYPES][lc] - w->first[CLHS_CLIN][lc]) + 2;
}

/*
 * All neighbours of local agent i, care and dynamic, merged in global-id order:
 * nb[k].gid, .w, .kind and .loc (local agent index, or -1 - halo index for a remote
 * neighbour). @p care is scratch of clhs_careties_max() entries. Returns the count.
 */
int32_t clhs_neighbours(const clhs_world *w, int64_t lc, int32_t i, int32_t *care, clhs_nbr *nb) {
  const int32_t nc = clhs_careties_neighbours(w, lc, i, care);
  const clhs_tieset *ts = &w->ties[lc];
  const int32_t r = i - w->first[0][lc];
  uint32_t d = ts->off[r];
  const uint32_t d1 = ts->off[r + 1];
  int32_t c = 0, n = 0;
  const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
  while (c < nc || d < d1) {
    int64_t gc = c < nc ? w->gid_begin + care[c] : INT64_MAX;
    int64_t gd = d < d1 ? clhs_tie_gid(ts->key[d]) : INT64_MAX;
    if (gc < gd) {
      nb[n].gid = gc;
      nb[n].w = CLHS_CARETIES_W;
      nb[n].kind = CLHS_TIE_CARE;
      nb[n].loc = care[c];
      c++;
    } else {
      nb[n].gid = gd;
      nb[n].w = ts->w[d];
      nb[n].kind = (uint8_t)clhs_tie_kind_of(ts->key[d]);
      if (gd >= lo && gd < hi) {
        nb[n].loc = gd - lo;
      } else {
        nb[n].loc = -1 - halo_index(w, gd, w->gid_begin + i);
      }
      d++;
    }
    n++;
  }
  w->tie_visits[8 * omp_get_thread_num()] += n; /* own cache line per thread */
  return n;
}

int32_t clhs_degree(const clhs_world *w, int64_t lc, int32_t i) {
  const clhs_tieset *ts = &w->ties[lc];
  const int32_t r = i - w->first[0][lc];
  return clhs_careties_degree(w, lc, i) + (int32_t)(ts->off[r + 1] - ts->off[r]);
}

/* ------------------------------------------------------------ applying events */

static int cmp_event(const void *pa, const void *pb) {
  const clhs_tie_event *a = pa, *b = pb;
  if (a->agent != b->agent) return a->agent < b->agent ? -1 : 1;
  if (a->nbr != b->nbr) return a->nbr < b->nbr ? -1 : 1;
  if (a->op != b->op) return a->op < b->op ? -1 : 1;
  return (a->kind > b->kind) - (a->kind < b->kind);
}

static float initial_weight(int kind) {
  return kind == CLHS_TIE_ONLINE ? 0.3f : 0.5f;
}

static float reinforce(float w0, int64_t times, double amount) {
  double x = (double)w0 + (double)times * amount; /* capping once == capping each time */
  return (float)(x < 1.0 ? x : 1.0);
}

/* Merge a centre's sorted events into its rows. */
static int apply_centre(clhs_world *w, int64_t lc, const clhs_tie_event *ev, int64_t nev) {
  clhs_tieset *ts = &w->ties[lc];
  const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
  const double amount = w->cfg->network.reinforce;
  const uint32_t old_n = ts->off[na];
  const size_t cap = (size_t)old_n + (size_t)nev;
  uint64_t *key = malloc(cap * sizeof *key);
  float *wt = malloc(cap * sizeof *wt);
  if (!key || !wt) {
    free(key);
    free(wt);
    return CLHS_ENOMEM;
  }
  uint32_t out = 0;
  int64_t e = 0;
  for (int32_t r = 0; r < na;) {
    /* Rows up to the next one with events are copied as one block (ts->off[k] for
     * k >= r still holds the old offsets: rows are rewritten in order). */
    const int32_t r_ev = e < nev ? ev[e].agent - a0 : na;
    if (r_ev > r) {
      const uint32_t s0 = ts->off[r], s1 = ts->off[r_ev];
      if (s1 > s0) { /* (a centre that never had a tie has no arrays yet) */
        memcpy(key + out, ts->key + s0, sizeof *key * (s1 - s0));
        memcpy(wt + out, ts->w + s0, sizeof *wt * (s1 - s0));
      }
      for (int32_t k = r; k < r_ev; k++)
        ts->off[k] = ts->off[k] - s0 + out;
      out += s1 - s0;
      r = r_ev;
      continue;
    }
    const int32_t agent = a0 + r;
    uint32_t d = ts->off[r];
    const uint32_t d1 = ts->off[r + 1];
    ts->off[r] = out;
    r++;
    while (d < d1 || (e < nev && ev[e].agent == agent)) {
      int64_t gd = d < d1 ? clhs_tie_gid(ts->key[d]) : INT64_MAX;
      int64_t ge = e < nev && ev[e].agent == agent ? ev[e].nbr : INT64_MAX;
      if (gd < ge) { /* untouched tie */
        key[out] = ts->key[d];
        wt[out++] = ts->w[d++];
        continue;
      }
      /* Events on the pair (agent, ge): count them by operation. */
      int64_t creates = 0, reinf = 0, drops = 0;
      int kind = 0;
      while (e < nev && ev[e].agent == agent && ev[e].nbr == ge) {
        if (ev[e].op == CLHS_TIE_CREATE) {
          if (!creates || ev[e].kind < kind) kind = ev[e].kind;
          creates++;
        } else if (ev[e].op == CLHS_TIE_REINFORCE) {
          reinf++;
        } else {
          drops++;
        }
        e++;
      }
      if (gd == ge) { /* existing tie */
        if (!drops) {
          key[out] = ts->key[d];
          wt[out++] = reinforce(ts->w[d], creates + reinf, amount);
        }
        d++;
      } else if (creates && !drops) { /* a new tie; further events reinforce it */
        key[out] = clhs_tie_key(ge, kind);
        wt[out++] = reinforce(initial_weight(kind), creates - 1 + reinf, amount);
      }
    }
  }
  ts->off[na] = out;
  free(ts->key);
  free(ts->w);
  ts->key = key;
  ts->w = wt;
  ts->cap = (uint32_t)cap;
  /* Give back what the merge did not use (keep a quarter as slack). */
  if (cap > (size_t)out + out / 4 + 16) {
    size_t keep = (size_t)out + out / 8 + 8;
    uint64_t *k2 = realloc(ts->key, keep * sizeof *k2);
    float *w2 = realloc(ts->w, keep * sizeof *w2);
    if (k2) ts->key = k2;
    if (w2) ts->w = w2;
    if (k2 && w2) ts->cap = (uint32_t)keep;
  }
  return CLHS_OK;
}

int clhs_ties_apply_local(clhs_world *w, clhs_tie_event *ev, int64_t nev, clhs_error *err) {
  if (nev <= 0) return CLHS_OK;
  /* Events grouped by centre (a counting sort: w->centre of each event's agent), then
   * sorted and applied centre by centre in parallel; within a centre the order is the
   * total order of cmp_event, so the grouping changes nothing. */
  int64_t *start = calloc((size_t)w->c_count + 2, sizeof(int64_t));
  clhs_tie_event *by = malloc(sizeof *by * (size_t)nev);
  if (!start || !by) {
    free(start);
    free(by);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory applying tie events");
  }
  for (int64_t e = 0; e < nev; e++)
    start[w->centre[ev[e].agent] + 2]++;
  for (int64_t lc = 0; lc < w->c_count; lc++)
    start[lc + 2] += start[lc + 1];
  for (int64_t e = 0; e < nev; e++)
    by[start[w->centre[ev[e].agent] + 1]++] = ev[e];
  /* start[lc] is now the first event of centre lc, start[c_count] the end. */
  int status = CLHS_OK;
#pragma omp parallel for schedule(dynamic, 1) reduction(max : status)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int64_t n = start[lc + 1] - start[lc];
    if (n > 0) {
      qsort(by + start[lc], (size_t)n, sizeof *by, cmp_event);
      int st = apply_centre(w, lc, by + start[lc], n);
      if (st > status) status = st;
    }
  }
  free(start);
  free(by);
  if (status != CLHS_OK)
    return clhs_error_set(err, status, "out of memory growing the tie tables on rank %d",
                          w->comm->rank);
  return CLHS_OK;
}

/* Route events addressed to any agent: each goes to the rank that owns its `target`. */
int clhs_ties_deliver(clhs_world *w, const clhs_tie_msg *msg, int64_t nmsg, clhs_error *err) {
  int *dest = malloc(sizeof(int) * (size_t)(nmsg ? nmsg : 1));
  int oom = !dest; /* (a rank out of memory still takes part in the exchange, sending nothing) */
  for (int64_t k = 0; dest && k < nmsg; k++)
    dest[k] = clhs_owner_of_gid(w, msg[k].target);
  int64_t nrecv = 0;
  void *recv = clhs_comm_route(w->comm, msg, dest, dest ? nmsg : 0, sizeof *msg, &nrecv, &oom);
  free(dest);
  if (oom) {
    free(recv);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory routing tie events");
  }
  const clhs_tie_msg *in = recv;
  clhs_tie_event *ev = malloc(sizeof *ev * (size_t)(nrecv ? nrecv : 1));
  if (!ev) {
    free(recv);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory applying tie events");
  }
  for (int64_t k = 0; k < nrecv; k++) {
    ev[k].agent = (int32_t)(in[k].target - w->gid_begin);
    ev[k].nbr = in[k].nbr;
    ev[k].op = in[k].op;
    ev[k].kind = in[k].kind;
    ev[k].pad = 0;
  }
  free(recv);
  int st = clhs_ties_apply_local(w, ev, nrecv, err);
  free(ev);
  return st;
}

/* ------------------------------------------------------------ invariants */

/*
 * Both ends of every tie agree on weight and kind (across ranks too), rows are sorted
 * with no duplicates, no self ties, no dynamic tie duplicates a care tie, weights are in
 * (0, 1], tiers in 0..4, coverage in [0, 1]. Collective. Returns the number of
 * violations found on all ranks (0 = all good) and describes the first in @p err; -1 if
 * the check could not be made (out of memory: @p err says so on every rank).
 */
int64_t clhs_ties_check(clhs_world *w, clhs_error *err) {
  int64_t bad = 0;
  const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
  char first[512] = "";
#define VIOLATION(...)                                                                             \
  do {                                                                                             \
    if (!bad++) snprintf(first, sizeof first, __VA_ARGS__);                                        \
  } while (0)
  int64_t nmsg = 0, cap = 1024;
  clhs_tie_msg *msg = malloc(sizeof *msg * (size_t)cap);
  int32_t *care = NULL;
  int oom = !msg;
  for (int64_t lc = 0; lc < w->c_count && !oom; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    free(care);
    care = malloc(sizeof(int32_t) * (size_t)clhs_careties_max(w, lc));
    if (!care) oom = 1;
    for (int32_t r = 0; r < na && !oom; r++) {
      const int32_t i = a0 + r;
      const int64_t gi = lo + i;
      if (w->E[i] > 4) VIOLATION("agent %lld has tier %d", (long long)gi, w->E[i]);
      for (int q = 0; q < CLHS_NEEDS; q++) {
        float s = w->cover[(int64_t)i * CLHS_NEEDS + q];
        if (!(s >= 0 && s <= 1)) VIOLATION("agent %lld has coverage %g", (long long)gi, s);
      }
      {
        const int64_t hm = w->cfg->resources.held_max;
        if ((unsigned)w->flags[i] >> CLHS_F_HELD_SHIFT != held_cats(w->held + i * hm, hm))
          VIOLATION("agent %lld: held-category flags 0x%x, held list 0x%x", (long long)gi,
                    (unsigned)w->flags[i] >> CLHS_F_HELD_SHIFT, held_cats(w->held + i * hm, hm));
      }
      const int32_t nc = clhs_careties_neighbours(w, lc, i, care);
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        const int64_t g = clhs_tie_gid(ts->key[d]);
        const int kind = clhs_tie_kind_of(ts->key[d]);
        if (!(ts->w[d] > 0 && ts->w[d] <= 1))
          VIOLATION("tie %lld-%lld has weight %g", (long long)gi, (long long)g, ts->w[d]);
        if (kind == CLHS_TIE_CARE)
          VIOLATION("a stored tie %lld-%lld of kind care", (long long)gi, (long long)g);
        if (g == gi) VIOLATION("self tie at agent %lld", (long long)gi);
        if (d > ts->off[r] && clhs_tie_gid(ts->key[d - 1]) >= g)
          VIOLATION("ties of agent %lld not in strictly increasing gid order", (long long)gi);
        for (int32_t c = 0; c < nc; c++)
          if (lo + care[c] == g)
            VIOLATION("dynamic tie %lld-%lld duplicates a care tie", (long long)gi, (long long)g);
        /* The other end must hold (g -> gi) with the same kind and weight. */
        if (g >= lo && g < hi) {
          const int64_t lcg = w->centre[g - lo];
          const clhs_tieset *tg = &w->ties[lcg];
          const int32_t rg = (int32_t)(g - lo) - w->first[0][lcg];
          uint32_t a = tg->off[rg], b = tg->off[rg + 1];
          const uint64_t want = clhs_tie_key(gi, kind);
          while (a < b && tg->key[a] != want)
            a++;
          if (a == b || tg->w[a] != ts->w[d])
            VIOLATION("tie %lld-%lld: the ends disagree", (long long)gi, (long long)g);
        } else {
          if (nmsg == cap) {
            cap *= 2;
            clhs_tie_msg *m2 = realloc(msg, sizeof *msg * (size_t)cap);
            if (!m2) {
              oom = 1;
              break;
            }
            msg = m2;
          }
          clhs_tie_msg *m = &msg[nmsg++];
          m->target = g;
          m->nbr = gi;
          m->kind = (uint8_t)kind;
          m->op = 0;
          memcpy(&m->pad, &ts->w[d], sizeof(float));
        }
      }
    }
  }
  free(care);
  /* Cross-rank ends: send each remote end's expectation to its owner (a rank out of memory
   * takes part sending nothing). The counts below need every rank's ends: a rank out of
   * memory is agreed first, and every rank returns -1. */
  int *dest = oom ? NULL : malloc(sizeof(int) * (size_t)(nmsg ? nmsg : 1));
  if (!dest) oom = 1;
  for (int64_t j = 0; dest && j < nmsg; j++)
    dest[j] = clhs_owner_of_gid(w, msg[j].target);
  int64_t nin = 0, remote_here = 0;
  void *recv = clhs_comm_route(w->comm, msg, dest, oom ? 0 : nmsg, sizeof *msg, &nin, &oom);
  if (oom) clhs_error_set(err, CLHS_ENOMEM, "out of memory checking ties");
  if (clhs_comm_agree_error(w->comm, oom ? CLHS_ENOMEM : CLHS_OK, err)) {
    free(recv);
    free(msg);
    free(dest);
    return -1;
  }
  const clhs_tie_msg *in = recv;
  for (int64_t j = 0; j < nin; j++) {
    const int64_t g = in[j].target;
    const int64_t lcg = w->centre[g - lo];
    const clhs_tieset *tg = &w->ties[lcg];
    const int32_t rg = (int32_t)(g - lo) - w->first[0][lcg];
    uint32_t a = tg->off[rg], b = tg->off[rg + 1];
    const uint64_t want = clhs_tie_key(in[j].nbr, in[j].kind);
    float wexp;
    memcpy(&wexp, &in[j].pad, sizeof(float));
    while (a < b && tg->key[a] != want)
      a++;
    if (a == b || tg->w[a] != wexp)
      VIOLATION("cross-rank tie %lld-%lld: the ends disagree", (long long)g, (long long)in[j].nbr);
  }
  /* Every local end with a remote partner must have been confirmed from the other side:
   * count them (the number of remote ends here equals the number received). */
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    for (uint32_t d = 0; d < ts->off[na]; d++) {
      int64_t g = clhs_tie_gid(ts->key[d]);
      remote_here += g < lo || g >= hi;
    }
  }
  if (remote_here != nin)
    VIOLATION("rank %d holds %lld cross-rank tie ends but %lld partner ends point to it",
              w->comm->rank, (long long)remote_here, (long long)nin);
  free(recv);
  free(msg);
  free(dest);

#undef VIOLATION
  int64_t total = bad;
  clhs_comm_sum_i64(w->comm, &total, 1);
  if (bad)
    clhs_error_set(err, CLHS_EFAIL, "invariant violated on rank %d: %s", w->comm->rank, first);
  return total;
}
