/*
 * Phase 2 of MODEL.md §4 (src/model/newties.c: peer, event and online ties) and the
 * dropping of ties on turnover (§8, clhs_phase_turnover), run at 1, 2 and 3 ranks.
 *
 * Every check reads a snapshot of the whole network gathered onto every rank: each
 * agent (global id, type, tier, flags, centre, membership, owning rank, the gid of its
 * caregiver or patient) and each stored tie end (gid, neighbour gid, kind, weight). So
 * the rules are checked on the same data whatever the decomposition, and ties whose two
 * ends live on different ranks are seen whole. Failures are counted on each rank and
 * summed over ranks (clhs_comm_sum_i64) before they are asserted, so every rank takes
 * the same path through the collectives; clhs_ties_check runs after every phase.
 *
 * Usage: test_newties [--write FILE | --check FILE]. --write runs only the determinism
 * test and stores its digest (a function of every tie end and every agent's flags after
 * 15 busy weeks, equal at 1 and 2 threads); --check runs every test and compares the
 * digest with the stored one (the 2- and 3-rank runs).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "fixture.h"
#include "clhs/rng.h"

/* ------------------------------------------------------------ worlds */

/* @p centres centres of exactly @p npat patients, every centre a member from step 0 (Bass
 * joining with no later joins): fx_config, adjust cfg, then finalize with the levers of a mask
 * fully on at every step and the others off (fx_finalize(&cfg, mask, ~mask)), fx_world. */
#define CENTRES(n, npat)                                                                           \
  (&(fx_opts){.centres = (n),                                                                      \
              .patients = (npat),                                                                  \
              .per_clinician = 4,                                                                  \
              .caregivers = 0.8,                                                                   \
              .members = 1,                                                                        \
              .no_joins = 1})

/* Tiers E in [Emin, 4] as a function of the gid, m = 1, no flags. */
static void set_state(clhs_world *w, int Emin, uint64_t salt) {
  for (int64_t i = 0; i < w->n; i++) {
    const uint64_t g = (uint64_t)(w->gid_begin + i);
    w->E[i] = (uint8_t)(Emin + (int)(fx_mix64(g * 64 + salt) % (uint64_t)(5 - Emin)));
    w->m[i] = 1.0f;
    w->flags[i] = 0;
  }
}

/* Phase 1 (intensities) and phase 2 at step t, then the invariant check. */
static void new_ties(clhs_world *w, int64_t t) {
  clhs_phase_levers_joins(w, t);
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_phase_new_ties(w, t, &err);
  CHECK(st == CLHS_OK, "new ties at %lld: %s", (long long)t, err.msg);
  assert_no_failures("clhs_phase_new_ties");
  fx_ties_ok(w, "clhs_ties_check after new ties");
}

/* ------------------------------------------------------------ the whole network, everywhere */

typedef struct arec {
  int64_t gid;
  int64_t partner; /* PAT: its caregiver's gid, FAM: its patient's gid, else -1 */
  int32_t centre;  /* global centre index */
  int32_t rank;    /* owner */
  uint8_t type, E, flags, member;
  uint32_t pad;
} arec;

typedef struct erec {
  int64_t a, b; /* this end's agent and its neighbour */
  uint32_t kind, wbits;
} erec;

typedef struct snap {
  int64_t n, ne;
  arec *ag; /* [n], indexed by gid */
  erec *e;  /* [ne], sorted by (a, b) */
  float *wf;
} snap;

static int cmp_erec(const void *x, const void *y) {
  const erec *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

static void snap_take(const clhs_world *w, snap *s) {
  memset(s, 0, sizeof *s);
  arec *la = calloc((size_t)(w->n ? w->n : 1), sizeof *la);
  assert_non_null(la);
  for (int64_t i = 0; i < w->n; i++) {
    const int32_t lc = w->centre[i];
    la[i].gid = w->gid_begin + i;
    la[i].partner = -1;
    la[i].centre = (int32_t)(w->c_begin + lc);
    la[i].rank = comm.rank;
    la[i].type = w->type[i];
    la[i].E = w->E[i];
    la[i].flags = w->flags[i];
    la[i].member = w->member[lc];
  }
  for (int64_t p = 0; p < w->npat; p++) {
    const int32_t a = w->pat_agent[p], f = w->pat_fam[p];
    if (f < 0) continue;
    la[a].partner = w->gid_begin + f;
    la[f].partner = w->gid_begin + a;
  }
  int64_t n = w->n;
  clhs_comm_sum_i64(&comm, &n, 1);
  s->n = n;
  s->ag = malloc(sizeof *s->ag * (size_t)(n ? n : 1));
  assert_non_null(s->ag);
  clhs_comm_allgatherv(&comm, la, w->n, sizeof *la, s->ag);
  free(la);

  const int64_t nl = clhs_ties_count(w);
  erec *le = calloc((size_t)(nl ? nl : 1), sizeof *le);
  assert_non_null(le);
  int64_t k = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    for (int32_t r = 0; r < na; r++)
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1] && k < nl; d++) {
        le[k].a = w->gid_begin + a0 + r;
        le[k].b = clhs_tie_gid(ts->key[d]);
        le[k].kind = (uint32_t)clhs_tie_kind_of(ts->key[d]);
        le[k++].wbits = fx_fbits(ts->w[d]);
      }
  }
  CHECK(k == nl, "clhs_ties_count %lld, rows hold %lld", (long long)nl, (long long)k);
  int64_t ne = k;
  clhs_comm_sum_i64(&comm, &ne, 1);
  s->ne = ne;
  s->e = malloc(sizeof *s->e * (size_t)(ne ? ne : 1));
  assert_non_null(s->e);
  clhs_comm_allgatherv(&comm, le, k, sizeof *le, s->e);
  free(le);
  qsort(s->e, (size_t)ne, sizeof *s->e, cmp_erec);
  s->wf = malloc(sizeof(float) * (size_t)(ne ? ne : 1));
  assert_non_null(s->wf);
  for (int64_t j = 0; j < ne; j++)
    memcpy(&s->wf[j], &s->e[j].wbits, sizeof(float));
  for (int64_t g = 0; g < n; g++)
    CHECK(s->ag[g].gid == g, "gathered agent %lld has gid %lld", (long long)g,
          (long long)s->ag[g].gid);
  assert_no_failures("snapshot");
}

static void snap_free(snap *s) {
  free(s->ag);
  free(s->e);
  free(s->wf);
  memset(s, 0, sizeof *s);
}

static const erec *snap_find(const snap *s, int64_t a, int64_t b) {
  const erec key = {a, b, 0, 0};
  return bsearch(&key, s->e, (size_t)s->ne, sizeof *s->e, cmp_erec);
}

/* A fresh tie's weight: initial (0.5, online 0.3) plus k >= 0 reinforcements of 0.2,
 * capped at 1 (repeated creates in one step reinforce). */
static int weight_fresh(int kind, float wt) {
  const double w0 = kind == CLHS_TIE_ONLINE ? 0.3 : 0.5;
  if (wt == 1.0f) return 1;
  const double k = floor((wt - w0) / 0.2 + 0.5);
  return k >= 0 && fabs((double)wt - (w0 + 0.2 * k)) < 1e-5;
}

/* Every end: a dynamic kind, not a self tie, no duplicates, the other end holds the same
 * tie (kind and weight); with @p fresh, weights are those of new ties. */
static void check_basic(const snap *s, int fresh) {
  for (int64_t j = 0; j < s->ne; j++) {
    const erec *e = &s->e[j];
    CHECK(e->a >= 0 && e->a < s->n && e->b >= 0 && e->b < s->n, "end %lld-%lld out of range",
          (long long)e->a, (long long)e->b);
    CHECK(e->a != e->b, "self tie at %lld", (long long)e->a);
    CHECK(e->kind >= CLHS_TIE_PEER && e->kind <= CLHS_TIE_ONLINE, "end %lld-%lld of kind %u",
          (long long)e->a, (long long)e->b, e->kind);
    if (j)
      CHECK(cmp_erec(&s->e[j - 1], e) < 0, "duplicate end %lld-%lld", (long long)e->a,
            (long long)e->b);
    const erec *r = snap_find(s, e->b, e->a);
    CHECK(r && r->kind == e->kind && r->wbits == e->wbits, "end %lld-%lld has no equal partner",
          (long long)e->a, (long long)e->b);
    CHECK(s->wf[j] > 0 && s->wf[j] <= 1, "weight %g", (double)s->wf[j]);
    if (fresh)
      CHECK(weight_fresh((int)e->kind, s->wf[j]), "end %lld-%lld kind %u: weight %.7g",
            (long long)e->a, (long long)e->b, e->kind, (double)s->wf[j]);
  }
}

static void count_kinds(const snap *s, int64_t *by_kind) {
  for (int k = 0; k < CLHS_NTIEKINDS; k++)
    by_kind[k] = 0;
  for (int64_t j = 0; j < s->ne; j++)
    by_kind[s->e[j].kind & 3u]++;
}

/* ------------------------------------------------------------ peer ties */

static void peer_case(double homophily, int roles_on) {
  char what[96];
  snprintf(what, sizeof what, "peer ties, homophily %g, roles %s", homophily,
           roles_on ? "on" : "off");
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(5, 80));
  cfg.network.peer_rate = 60;
  cfg.network.role_homophily = homophily;
  const unsigned levers = roles_on ? FX_LEVER(CLHS_LEV_ROLES) : 0u;
  fx_finalize(&cfg, levers, ~levers);
  fx_world(&cfg, &w);
  set_state(&w, 0, 11);
  new_ties(&w, 1);
  snap s;
  snap_take(&w, &s);
  check_basic(&s, 1);

  /* Σ_c peer_rate · I_community · families_c / 100 over member centres. */
  double lambda = 0;
  for (int64_t g = 0; g < s.n; g++)
    if (s.ag[g].member && s.ag[g].type <= CLHS_FAM) lambda += cfg.network.peer_rate / 100.0;
  int64_t ties = 0, same = 0, pat = 0, fam = 0;
  for (int64_t j = 0; j < s.ne; j++) {
    const erec *e = &s.e[j];
    if (e->a > e->b) continue; /* each tie once; the other end is checked by check_basic */
    const arec *A = &s.ag[e->a], *B = &s.ag[e->b];
    CHECK(e->kind == CLHS_TIE_PEER, "tie %lld-%lld of kind %u without events or the commons",
          (long long)e->a, (long long)e->b, e->kind);
    CHECK(A->centre == B->centre, "peer tie %lld-%lld joins centres %d and %d", (long long)e->a,
          (long long)e->b, A->centre, B->centre);
    CHECK(A->member && B->member, "peer tie %lld-%lld in a non-member centre", (long long)e->a,
          (long long)e->b);
    CHECK(A->type <= CLHS_FAM && B->type <= CLHS_FAM, "peer tie %lld-%lld joins types %d and %d",
          (long long)e->a, (long long)e->b, A->type, B->type);
    CHECK(A->E >= 1 && B->E >= 1, "peer tie %lld-%lld joins tiers %d and %d", (long long)e->a,
          (long long)e->b, A->E, B->E);
    CHECK(A->partner != e->b, "peer tie %lld-%lld joins a patient and its own caregiver",
          (long long)e->a, (long long)e->b);
    if (homophily == 1.0)
      CHECK(A->type == B->type, "homophily 1: peer tie %lld-%lld joins types %d and %d",
            (long long)e->a, (long long)e->b, A->type, B->type);
    if (homophily == 0.0)
      CHECK(A->type != B->type, "homophily 0: peer tie %lld-%lld joins types %d and %d",
            (long long)e->a, (long long)e->b, A->type, B->type);
    ties++;
    same += A->type == B->type;
    pat += A->type == CLHS_PAT && B->type == CLHS_PAT;
    fam += A->type == CLHS_FAM && B->type == CLHS_FAM;
  }
  if (!roles_on) {
    CHECK(s.ne == 0, "roles lever off: %lld tie ends", (long long)s.ne);
  } else {
    /* Poisson(lambda) draws in all: within 4 sd, less up to 5 % for draws that land on
     * a care pair or repeat a pair. */
    const double sd = sqrt(lambda);
    CHECK(ties >= 0.95 * lambda - 4 * sd && ties <= lambda + 4 * sd,
          "%lld peer ties, expected about %.1f", (long long)ties, lambda);
    if (homophily > 0 && homophily < 1) {
      const double f = (double)same / (double)(ties ? ties : 1);
      CHECK(fabs(f - homophily) < 0.1, "share of same-role peer ties %.3f, homophily %g", f,
            homophily);
      CHECK(pat > 0 && fam > 0, "no PAT-PAT (%lld) or FAM-FAM (%lld) peer ties", (long long)pat,
            (long long)fam);
    }
  }
  assert_no_failures(what);
  snap_free(&s);
  fx_done(&cfg, &w);
}

static void test_peer_ties(void **state) {
  (void)state;
  peer_case(0.8, 1);
  peer_case(1.0, 1);
  peer_case(0.0, 1);
  peer_case(0.8, 0);
}

/* ------------------------------------------------------------ events */

typedef struct event_opts {
  int64_t t;
  double cross, attend[3];
  int odd_m0;      /* m = 0 for agents with an odd gid */
  unsigned levers; /* lever mask */
  double lam;      /* ties per attendee expected at t (0: no event) */
} event_opts;

/* Would this agent attend with probability 1 (else 0) under these options? */
static int attends(const event_opts *o, const arec *a) {
  if (!a->member || a->E < 2 || !(o->levers & FX_LEVER(CLHS_LEV_QI_TRAINING)) || o->lam == 0)
    return 0;
  if (o->odd_m0 && (a->gid & 1)) return 0;
  return o->attend[a->E - 2] == 1.0;
}

static void event_case(const char *what, const event_opts *o) {
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(8, 60));
  for (int k = 0; k < 3; k++)
    cfg.network.attend[k] = o->attend[k];
  cfg.network.conference_every = 26;
  cfg.network.webinar_every = 4;
  cfg.network.conference_ties = 3;
  cfg.network.webinar_ties = 1;
  cfg.network.cross_role = o->cross;
  fx_finalize(&cfg, o->levers, ~o->levers);
  fx_world(&cfg, &w);
  set_state(&w, 0, 21);
  for (int64_t i = 0; i < w.n; i++) {
    w.flags[i] = CLHS_F_TRAINED; /* last week's attendance must be cleared */
    if (o->odd_m0 && ((w.gid_begin + i) & 1)) w.m[i] = 0;
  }
  new_ties(&w, o->t);
  snap s;
  snap_take(&w, &s);
  check_basic(&s, 1);

  int64_t att = 0;
  for (int64_t g = 0; g < s.n; g++) {
    const int want = attends(o, &s.ag[g]);
    const int got = (s.ag[g].flags & CLHS_F_TRAINED) != 0;
    att += got;
    CHECK(want == got, "agent %lld (centre %d, type %d, E %d): TRAINED %d, expected %d",
          (long long)g, s.ag[g].centre, s.ag[g].type, s.ag[g].E, got, want);
  }
  for (int64_t j = 0; j < s.ne; j++) {
    const erec *e = &s.e[j];
    const arec *A = &s.ag[e->a], *B = &s.ag[e->b];
    CHECK(e->kind == CLHS_TIE_EVENT, "end %lld-%lld of kind %u with only the training lever",
          (long long)e->a, (long long)e->b, e->kind);
    CHECK((A->flags & CLHS_F_TRAINED) && (B->flags & CLHS_F_TRAINED),
          "event tie %lld-%lld joins a non-attendee", (long long)e->a, (long long)e->b);
    CHECK(A->centre != B->centre, "event tie %lld-%lld inside centre %d", (long long)e->a,
          (long long)e->b, A->centre);
    if (o->cross == 0)
      CHECK(A->type == B->type, "cross_role 0: event tie %lld-%lld joins types %d and %d",
            (long long)e->a, (long long)e->b, A->type, B->type);
  }
  if (o->lam == 0) {
    CHECK(s.ne == 0, "%lld event tie ends without an event", (long long)s.ne);
    CHECK(att == 0, "%lld attendees without an event", (long long)att);
  } else {
    /* Each attendee starts Poisson(lam) ties of two ends each: 2 lam ends per attendee,
     * within 4 sd, less up to 5 % for pairs drawn twice. */
    const double per = (double)s.ne / (double)(att ? att : 1);
    const double sd = 2 * sqrt(o->lam / (double)(att ? att : 1));
    CHECK(att > 50, "only %lld attendees", (long long)att);
    CHECK(per >= 0.95 * 2 * o->lam - 4 * sd && per <= 2 * o->lam + 4 * sd,
          "%.3f event tie ends per attendee, expected about %g", per, 2 * o->lam);
  }
  assert_no_failures(what);
  snap_free(&s);
  fx_done(&cfg, &w);
}

static void test_events(void **state) {
  (void)state;
  const unsigned qi = FX_LEVER(CLHS_LEV_QI_TRAINING);
  event_opts o = {1, 0.3, {1, 1, 1}, 0, qi, 0};
  event_case("no event at step 1", &o);
  o.t = 0;
  event_case("no event at step 0", &o);
  o.t = 26;
  o.lam = 3;
  event_case("conference at step 26", &o);
  o.t = 4;
  o.lam = 1;
  event_case("webinar at step 4", &o);
  o.t = 52; /* a multiple of both: a conference, no webinar */
  o.lam = 3;
  event_case("conference at step 52", &o);
  o.t = 26;
  o.cross = 0;
  event_case("conference with cross_role 0", &o);
  o.cross = 0.3;
  o.attend[0] = 0;
  o.attend[2] = 0;
  o.odd_m0 = 1;
  event_case("attendance only at E = 3 and m = 1", &o);
  o.attend[0] = o.attend[2] = 1;
  o.odd_m0 = 0;
  o.levers = 0;
  o.lam = 0; /* I_train = 0: nobody attends */
  event_case("conference with the training lever off", &o);
}

/* Partners are chosen in proportion to degree + 1: an attendee with ~150 more ties
 * than the others draws far more than its share of new event ties. */
static void test_preferential_attachment(void **state) {
  (void)state;
  enum { NPAT = 150 };
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(6, NPAT));
  for (int k = 0; k < 3; k++)
    cfg.network.attend[k] = 1;
  cfg.network.conference_ties = 2;
  cfg.network.cross_role = 0.3;
  fx_finalize(&cfg, FX_LEVER(CLHS_LEV_QI_TRAINING), ~FX_LEVER(CLHS_LEV_QI_TRAINING));
  fx_world(&cfg, &w);
  set_state(&w, 2, 31); /* everyone attends */
  /* The hub: the first patient of centre 0, tied to every other patient of its centre. */
  const int64_t hub = 0;
  clhs_tie_msg *m = calloc(2 * NPAT, sizeof *m);
  assert_non_null(m);
  int64_t nm = 0;
  if (clhs_owner_of_gid(&w, hub) == comm.rank)
    for (int64_t k = 1; k < NPAT; k++)
      fx_msg_pair(m, &nm, hub, hub + k, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_deliver(&w, m, nm);
  free(m);
  fx_ties_ok(&w, "clhs_ties_check with the hub");
  new_ties(&w, 26);
  snap s;
  snap_take(&w, &s);
  check_basic(&s, 1);
  int64_t hub_event = 0, hub_peer = 0, pat_event = 0, npat_att = 0;
  for (int64_t j = 0; j < s.ne; j++) {
    const erec *e = &s.e[j];
    if (e->a == hub) {
      hub_event += e->kind == CLHS_TIE_EVENT;
      hub_peer += e->kind == CLHS_TIE_PEER;
    } else if (s.ag[e->a].type == CLHS_PAT && e->kind == CLHS_TIE_EVENT) {
      pat_event++;
    }
  }
  for (int64_t g = 0; g < s.n; g++)
    npat_att += g != hub && s.ag[g].type == CLHS_PAT && (s.ag[g].flags & CLHS_F_TRAINED);
  const double mean = (double)pat_event / (double)(npat_att ? npat_att : 1);
  CHECK(hub_peer == NPAT - 1, "the hub kept %lld of %d peer ties", (long long)hub_peer, NPAT - 1);
  CHECK(npat_att > 0 && mean > 0, "no patient attendees with event ties");
  CHECK((double)hub_event > 4 * mean && hub_event >= 15,
        "the hub (degree %d) has %lld event ties; a patient attendee has %.2f on average", NPAT + 1,
        (long long)hub_event, mean);
  assert_no_failures("preferential attachment");
  snap_free(&s);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ online ties */

static void online_case(const char *what, double rate, unsigned levers) {
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(6, 80));
  cfg.network.online_rate = rate;
  fx_finalize(&cfg, levers, ~levers);
  fx_world(&cfg, &w);
  set_state(&w, 0, 41);
  new_ties(&w, 1);
  snap s;
  snap_take(&w, &s);
  check_basic(&s, 1);
  const int on = rate > 0 && (levers & FX_LEVER(CLHS_LEV_COMMONS));
  int64_t *n_on = calloc((size_t)s.n, sizeof *n_on);
  assert_non_null(n_on);
  for (int64_t j = 0; j < s.ne; j++) {
    const erec *e = &s.e[j];
    const arec *A = &s.ag[e->a], *B = &s.ag[e->b];
    CHECK(e->kind == CLHS_TIE_ONLINE, "end %lld-%lld of kind %u with only the commons lever",
          (long long)e->a, (long long)e->b, e->kind);
    CHECK(A->E >= 2 && B->E >= 2, "online tie %lld-%lld joins tiers %d and %d", (long long)e->a,
          (long long)e->b, A->E, B->E);
    CHECK(A->centre != B->centre, "online tie %lld-%lld inside centre %d", (long long)e->a,
          (long long)e->b, A->centre);
    CHECK(A->member && B->member, "online tie %lld-%lld with a non-member", (long long)e->a,
          (long long)e->b);
    n_on[e->a]++;
  }
  int64_t n2 = 0;
  for (int64_t g = 0; g < s.n; g++) {
    if (!s.ag[g].member || s.ag[g].E < 2) continue;
    n2++;
    if (on && rate == 1)
      CHECK(n_on[g] >= 1, "agent %lld (E %d) has no online tie at online_rate 1", (long long)g,
            s.ag[g].E);
  }
  if (!on) {
    CHECK(s.ne == 0, "%lld online tie ends", (long long)s.ne);
  } else if (rate == 1) {
    /* One tie per E >= 2 agent; a pair chosen twice (rare) makes one tie. */
    const int64_t ties = s.ne / 2;
    CHECK(ties <= n2 && ties >= 0.9 * (double)n2, "%lld online ties for %lld initiators",
          (long long)ties, (long long)n2);
  }
  assert_no_failures(what);
  free(n_on);
  snap_free(&s);
  fx_done(&cfg, &w);
}

static void test_online(void **state) {
  (void)state;
  online_case("online_rate 1", 1.0, FX_LEVER(CLHS_LEV_COMMONS));
  online_case("online_rate 0", 0.0, FX_LEVER(CLHS_LEV_COMMONS));
  online_case("online_rate 1, commons lever off", 1.0, 0u);
}

/* ------------------------------------------------------------ non-member centres */

static void test_non_members(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(10, 40));
  cfg.centres.join = CLHS_JOIN_SCHEDULE; /* 30 per 100 centres: centres 0-2, for ever */
  cfg.centres.nschedule = 1;
  snprintf(cfg.centres.schedule_date[0], CLHS_DATE_LEN, "%s", cfg.run.start_date);
  cfg.centres.schedule_count[0] = 30;
  cfg.network.peer_rate = 60;
  cfg.network.online_rate = 1;
  for (int k = 0; k < 3; k++)
    cfg.network.attend[k] = 1;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  fx_world(&cfg, &w);
  set_state(&w, 2, 51); /* every agent, members or not, could tie by its tier */
  new_ties(&w, 26);
  snap s;
  snap_take(&w, &s);
  check_basic(&s, 1);
  int64_t kinds[CLHS_NTIEKINDS];
  count_kinds(&s, kinds);
  for (int64_t g = 0; g < s.n; g++) {
    const arec *a = &s.ag[g];
    CHECK(a->member == (a->centre < 3), "centre %d membership %d", a->centre, a->member);
    if (!a->member)
      CHECK(!(a->flags & CLHS_F_TRAINED), "agent %lld of non-member centre %d attended",
            (long long)g, a->centre);
  }
  for (int64_t j = 0; j < s.ne; j++)
    CHECK(s.ag[s.e[j].a].member && s.ag[s.e[j].b].member,
          "tie %lld-%lld (kind %u) with an agent of a non-member centre", (long long)s.e[j].a,
          (long long)s.e[j].b, s.e[j].kind);
  for (int k = CLHS_TIE_PEER; k <= CLHS_TIE_ONLINE; k++)
    CHECK(kinds[k] > 0, "no ties of kind %d among the members", k);
  assert_no_failures("non-member centres");
  snap_free(&s);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ determinism */

/* 15 weeks of phases 1-3 and 9 on a busy world (joins, peer ties, webinars every 2 and
 * conferences every 6 weeks, online ties, decay, turnover); a digest of every tie end
 * and every agent's tier and flags, summed over ends and agents (decomposition-free). */
static uint64_t busy_digest(int threads) {
  omp_set_num_threads(threads);
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, &(fx_opts){.centres = 7,
                             .patients = 50,
                             .patients_min = 25,
                             .patients_max = 90,
                             .per_clinician = 4,
                             .caregivers = 0.8,
                             .members = 0.6});
  cfg.centres.bass_p = 0.3;
  cfg.centres.bass_q = 0.2;
  cfg.network.peer_rate = 8;
  cfg.network.conference_every = 6;
  cfg.network.webinar_every = 2;
  cfg.network.conference_ties = 2;
  cfg.network.webinar_ties = 0.5;
  cfg.network.online_rate = 0.1;
  cfg.care.turnover = 0.02;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  fx_world(&cfg, &w);
  for (int64_t i = 0; i < w.n; i++) {
    const uint64_t g = (uint64_t)(w.gid_begin + i);
    w.E[i] = (uint8_t)(fx_mix64(g * 3 + 1) % 5);
    w.m[i] = (float)((double)(fx_mix64(g * 3 + 2) >> 11) * 0x1p-53);
  }
  clhs_error err;
  for (int64_t t = 0; t <= 14; t++) {
    new_ties(&w, t);
    clhs_error_clear(&err);
    int st = clhs_phase_decay(&w, t, &err);
    CHECK(st == CLHS_OK, "decay at %lld: %s", (long long)t, err.msg);
    clhs_error_clear(&err);
    st = clhs_phase_turnover(&w, t, &err);
    CHECK(st == CLHS_OK, "turnover at %lld: %s", (long long)t, err.msg);
    assert_no_failures("decay and turnover");
    fx_ties_ok(&w, "clhs_ties_check after decay and turnover");
  }
  uint64_t sum[1 + CLHS_NTIEKINDS] = {0};
  for (int64_t i = 0; i < w.n; i++) {
    uint64_t h = fx_mix64((uint64_t)(w.gid_begin + i) + 5);
    FX_FOLD(h, (uint64_t)w.flags[i] | (uint64_t)w.E[i] << 8);
    sum[0] += h;
  }
  sum[0] += fx_ties_digest(&w, sum);
  clhs_comm_sum_u64(&comm, sum, 1 + CLHS_NTIEKINDS);
  for (int k = CLHS_TIE_PEER; k <= CLHS_TIE_ONLINE; k++)
    CHECK(sum[1 + k] > 50, "only %llu tie ends of kind %d", (unsigned long long)sum[1 + k], k);
  assert_no_failures("a busy network");
  fx_done(&cfg, &w);
  return sum[0];
}

static void test_determinism(void **state) {
  (void)state;
  const uint64_t d1 = busy_digest(1), d2 = busy_digest(2);
  if (d1 != d2)
    print_message("rank %d: digest %016llx at 1 thread, %016llx at 2\n", comm.rank,
                  (unsigned long long)d1, (unsigned long long)d2);
  assert_true(d1 == d2);
  fx_digest_settle(d1);
}

/* ------------------------------------------------------------ turnover */

/* Ties among all kinds of agents, then turnover at step 27: every renewed patient and
 * caregiver holds no tie, nobody holds a tie to one, and every other tie is unchanged. */
static void turnover_case(double rate) {
  char what[64];
  snprintf(what, sizeof what, "turnover %g", rate);
  const int64_t t = 27;
  clhs_config cfg;
  clhs_world w;
  fx_config(&cfg, CENTRES(6, 40));
  cfg.network.peer_rate = 40;
  cfg.network.online_rate = 0.5;
  cfg.network.conference_ties = 3;
  for (int k = 0; k < 3; k++)
    cfg.network.attend[k] = 1;
  cfg.care.turnover = rate;
  const unsigned levers =
      FX_LEVER(CLHS_LEV_ROLES) | FX_LEVER(CLHS_LEV_QI_TRAINING) | FX_LEVER(CLHS_LEV_COMMONS);
  fx_finalize(&cfg, levers, ~levers);
  fx_world(&cfg, &w);
  set_state(&w, 2, 61);
  new_ties(&w, 26);
  /* A tie from the first patient and the first caregiver of each centre to the last agent
   * of the next centre (a QIS or a researcher: staff, never renewed), held on another rank
   * where the decomposition splits the two centres. */
  clhs_tie_msg m[64];
  int64_t nm = 0;
  int64_t *g0 = fx_centre_gid0(&w);
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    const int64_t c2 = (w.c_begin + lc + 1) % w.ncentres;
    const int64_t staff = g0[c2 + 1] - 1;
    const int32_t srcs[2] = {w.first[CLHS_PAT][lc], w.first[CLHS_FAM][lc]};
    for (int k = 0; k < 2 && nm + 2 <= 64; k++) {
      if (srcs[k] >= w.first[k + 1][lc]) continue; /* no agent of that type */
      fx_msg_pair(m, &nm, w.gid_begin + srcs[k], staff, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
    }
  }
  free(g0);
  fx_deliver(&w, m, nm);
  fx_ties_ok(&w, "clhs_ties_check before turnover");
  snap before;
  snap_take(&w, &before);

  clhs_error err;
  clhs_error_clear(&err);
  int st = clhs_phase_turnover(&w, t, &err);
  CHECK(st == CLHS_OK, "turnover: %s", err.msg);
  assert_no_failures("clhs_phase_turnover");
  fx_ties_ok(&w, "clhs_ties_check after turnover");
  snap after;
  snap_take(&w, &after);

  /* Who is renewed: each patient by its keyed draw (§8, §13), with its caregiver. */
  uint8_t *renewed = calloc((size_t)before.n, 1);
  assert_non_null(renewed);
  int64_t nren = 0, staff_before = 0;
  for (int64_t g = 0; g < before.n; g++) {
    if (before.ag[g].type != CLHS_PAT) continue;
    clhs_rng r;
    clhs_rng_init(&r, cfg.run.seed, (uint32_t)t, (uint64_t)g, CLHS_P_TURNOVER);
    if (!clhs_rng_bernoulli(&r, rate)) continue;
    renewed[g] = 1;
    if (before.ag[g].partner >= 0) renewed[before.ag[g].partner] = 1;
  }
  for (int64_t g = 0; g < before.n; g++) {
    nren += renewed[g];
    if (rate == 1)
      CHECK(renewed[g] == (before.ag[g].type <= CLHS_FAM), "turnover 1: agent %lld type %d",
            (long long)g, before.ag[g].type);
    if (renewed[g])
      CHECK(after.ag[g].E == 0, "renewed agent %lld has E %d", (long long)g, after.ag[g].E);
  }
  CHECK(nren > 0, "nobody renewed");
  /* Ties of renewed agents before, and of those, ends held on another rank. */
  int64_t dropped = 0, dropped_remote = 0, kept = 0;
  for (int64_t j = 0; j < before.ne; j++) {
    const erec *e = &before.e[j];
    if (renewed[e->a] || renewed[e->b]) {
      dropped++;
      dropped_remote += before.ag[e->a].rank != before.ag[e->b].rank;
    } else {
      kept++;
      staff_before += before.ag[e->a].type >= CLHS_CLIN && before.ag[e->b].type >= CLHS_CLIN;
    }
  }
  CHECK(dropped > 0, "no ties to drop");
  if (comm.size > 1) CHECK(dropped_remote > 0, "no dropped tie crossed ranks (the test needs one)");
  if (rate == 1) CHECK(staff_before > 0, "no staff-staff ties to keep");
  /* After: exactly the ties of the agents not renewed, unchanged. */
  CHECK(after.ne == kept, "%lld tie ends after turnover, expected %lld", (long long)after.ne,
        (long long)kept);
  int64_t k = 0;
  for (int64_t j = 0; j < before.ne; j++) {
    const erec *e = &before.e[j];
    if (renewed[e->a] || renewed[e->b]) continue;
    if (k < after.ne) {
      const erec *x = &after.e[k];
      CHECK(x->a == e->a && x->b == e->b && x->kind == e->kind && x->wbits == e->wbits,
            "end %lld-%lld (kind %u) became %lld-%lld (kind %u)", (long long)e->a, (long long)e->b,
            e->kind, (long long)x->a, (long long)x->b, x->kind);
    }
    k++;
  }
  for (int64_t j = 0; j < after.ne; j++)
    CHECK(!renewed[after.e[j].a] && !renewed[after.e[j].b],
          "a tie %lld-%lld of a renewed agent survived turnover", (long long)after.e[j].a,
          (long long)after.e[j].b);
  assert_no_failures(what);
  free(renewed);
  snap_free(&before);
  snap_free(&after);
  fx_done(&cfg, &w);
}

static void test_turnover(void **state) {
  (void)state;
  turnover_case(1.0);
  turnover_case(0.3);
}

int main(int argc, char **argv) {
  fx_init(&argc, &argv);
  const struct CMUnitTest all[] = {
      cmocka_unit_test(test_peer_ties),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_preferential_attachment),
      cmocka_unit_test(test_online),
      cmocka_unit_test(test_non_members),
      cmocka_unit_test(test_turnover),
      cmocka_unit_test(test_determinism),
  };
  const struct CMUnitTest write_only[] = {cmocka_unit_test(test_determinism)};
  return fx_finish(fx_path && fx_write ? cmocka_run_group_tests(write_only, NULL, NULL)
                                       : cmocka_run_group_tests(all, NULL, NULL));
}
