/*
 * The tie store of MODEL.md §4 on one rank (src/model/ties.c), on hand-built networks
 * with known outputs: creation at both ends, a create on an existing pair reinforcing,
 * two kinds in one step, k reinforcements, drops, decay and pruning (the step at which
 * a tie disappears, worked out analytically), sorted rows without duplicates,
 * clhs_neighbours merging care and dynamic ties in global-id order, care degrees by
 * type, and clhs_ties_check on good and corrupted networks.
 */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

/*
 * A world of @p centres member centres, each with exactly @p npat patients (median = min =
 * max), a caregiver per patient with probability @p fam (FX_NONE: none), one clinician per
 * 4 patients; 3 QIS per centre and 5 researchers spread over the centres.
 */
#define TINY(n, npat, fam)                                                                         \
  (&(fx_opts){                                                                                     \
      .centres = (n), .patients = (npat), .per_clinician = 4, .caregivers = (fam), .members = 1})

static int32_t row_len(const clhs_world *w, int32_t i) {
  const int64_t lc = w->centre[i];
  const int32_t r = i - w->first[0][lc];
  return (int32_t)(w->ties[lc].off[r + 1] - w->ties[lc].off[r]);
}

/* Both ends of a tie hold it with this weight and kind. */
static void assert_tie(const clhs_world *w, int32_t a, int32_t b, double wt, int kind) {
  int ka = -1, kb = -1;
  const float wa = fx_tie_weight(w, a, fx_gid(w, b), &ka),
              wb = fx_tie_weight(w, b, fx_gid(w, a), &kb);
  if (fabs(wa - wt) > 1e-6 || fabs(wb - wt) > 1e-6 || ka != kind || kb != kind)
    fail_msg("tie %d-%d: weights %g/%g kinds %d/%d, expected %g kind %d", a, b, wa, wb, ka, kb, wt,
             kind);
}

static void assert_no_tie(const clhs_world *w, int32_t a, int32_t b) {
  assert_true(fx_tie_weight(w, a, fx_gid(w, b), NULL) < 0);
  assert_true(fx_tie_weight(w, b, fx_gid(w, a), NULL) < 0);
}

/* Rows strictly increasing in gid (hence no duplicates), never a self tie. */
static void assert_rows_sorted(const clhs_world *w) {
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    assert_int_equal(ts->off[0], 0);
    for (int32_t r = 0; r < na; r++) {
      assert_true(ts->off[r] <= ts->off[r + 1]);
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        assert_true(clhs_tie_gid(ts->key[d]) != fx_gid(w, a0 + r));
        if (d > ts->off[r]) assert_true(clhs_tie_gid(ts->key[d - 1]) < clhs_tie_gid(ts->key[d]));
      }
    }
  }
}

/* ------------------------------------------------------------------ creation */

static void test_create_both_ends(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 8, 1.0));
  const int32_t p0 = fx_agent(&w, 0, CLHS_PAT, 0), p1 = fx_agent(&w, 0, CLHS_PAT, 1),
                p2 = fx_agent(&w, 0, CLHS_PAT, 2), p3 = fx_agent(&w, 0, CLHS_PAT, 3),
                p4 = fx_agent(&w, 0, CLHS_PAT, 4), f5 = fx_agent(&w, 0, CLHS_FAM, 5),
                q1 = fx_agent(&w, 1, CLHS_QIS, 0);
  assert_int_equal(clhs_ties_count(&w), 0);
  clhs_tie_event ev[16];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, p0, p2, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_event_pair(ev, &n, &w, p1, p3, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, p4, f5, CLHS_TIE_CREATE, CLHS_TIE_ONLINE); /* not p4's own caregiver */
  fx_event_pair(ev, &n, &w, p0, q1, CLHS_TIE_CREATE, CLHS_TIE_EVENT);  /* across centres */
  fx_apply(&w, ev, n);
  assert_tie(&w, p0, p2, 0.5, CLHS_TIE_PEER);
  assert_tie(&w, p1, p3, 0.5, CLHS_TIE_EVENT);
  assert_tie(&w, p4, f5, 0.3, CLHS_TIE_ONLINE);
  assert_tie(&w, p0, q1, 0.5, CLHS_TIE_EVENT);
  assert_int_equal(clhs_ties_count(&w), 8);
  assert_int_equal(row_len(&w, p0), 2);
  assert_int_equal(row_len(&w, q1), 1);
  assert_rows_sorted(&w);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

/* §4: a new tie to an existing neighbour reinforces it (+reinforce, capped at 1). */
static void test_create_existing_reinforces(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(1, 8, 1.0));
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 0), b = fx_agent(&w, 0, CLHS_PAT, 5);
  clhs_tie_event ev[16];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  const double expect[] = {0.7, 0.9, 1.0, 1.0};
  for (int k = 0; k < 4; k++) {
    n = 0; /* a create of another kind: the tie keeps its kind and is reinforced */
    fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, k % 2 ? CLHS_TIE_EVENT : CLHS_TIE_ONLINE);
    fx_apply(&w, ev, n);
    assert_tie(&w, a, b, expect[k], CLHS_TIE_PEER);
    assert_int_equal(row_len(&w, a), 1);
    assert_int_equal(row_len(&w, b), 1);
  }
  /* Three creates of a new pair in one step: a tie, reinforced twice. */
  const int32_t c = fx_agent(&w, 0, CLHS_PAT, 1), d = fx_agent(&w, 0, CLHS_FAM, 2);
  n = 0;
  for (int k = 0; k < 3; k++)
    fx_event_pair(ev, &n, &w, c, d, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  fx_apply(&w, ev, n);
  assert_tie(&w, c, d, 0.3 + 2 * 0.2, CLHS_TIE_ONLINE);
  assert_int_equal(row_len(&w, c), 1);
  assert_int_equal(clhs_ties_count(&w), 4);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

/* Two creates of different kinds in one step: one tie of the lowest kind code,
 * reinforced once, whatever order the events come in. */
static void test_two_kinds_one_step(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(1, 8, 1.0));
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 0), b = fx_agent(&w, 0, CLHS_PAT, 1),
                c = fx_agent(&w, 0, CLHS_PAT, 2), d = fx_agent(&w, 0, CLHS_PAT, 3),
                e = fx_agent(&w, 0, CLHS_PAT, 4);
  clhs_tie_event ev[32];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, c, d, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, c, d, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  fx_event_pair(ev, &n, &w, c, d, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_event_pair(ev, &n, &w, e, a, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_event_pair(ev, &n, &w, e, a, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  /* Reverse the order at one end: the rule must not depend on it. */
  for (int64_t k = 0; k < n / 2; k++) {
    clhs_tie_event t = ev[k];
    ev[k] = ev[n - 1 - k];
    ev[n - 1 - k] = t;
  }
  fx_apply(&w, ev, n);
  assert_tie(&w, a, b, 0.5 + 0.2, CLHS_TIE_EVENT);
  assert_tie(&w, c, d, 0.5 + 0.4, CLHS_TIE_PEER);
  assert_tie(&w, e, a, 0.5 + 0.2, CLHS_TIE_PEER);
  assert_int_equal(row_len(&w, a), 2);
  assert_int_equal(clhs_ties_count(&w), 6);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

/* REINFORCE k times in one step: min(1, w + k reinforce); on a missing pair: nothing. */
static void test_reinforce_k(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(1, 16, 1.0));
  clhs_tie_event ev[256];
  int64_t n = 0;
  for (int k = 0; k < 7; k++)
    fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 2 * k),
                  fx_agent(&w, 0, CLHS_PAT, 2 * k + 1), CLHS_TIE_CREATE,
                  k == 3 ? CLHS_TIE_ONLINE : CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  n = 0;
  for (int k = 0; k < 7; k++)
    for (int j = 0; j < k; j++)
      fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 2 * k),
                    fx_agent(&w, 0, CLHS_PAT, 2 * k + 1), CLHS_TIE_REINFORCE, 0);
  const int32_t x = fx_agent(&w, 0, CLHS_PAT, 14), y = fx_agent(&w, 0, CLHS_FAM, 3);
  fx_event_pair(ev, &n, &w, x, y, CLHS_TIE_REINFORCE, CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  for (int k = 0; k < 7; k++) {
    const double w0 = k == 3 ? 0.3 : 0.5;
    assert_tie(&w, fx_agent(&w, 0, CLHS_PAT, 2 * k), fx_agent(&w, 0, CLHS_PAT, 2 * k + 1),
               fmin(1.0, w0 + 0.2 * k), k == 3 ? CLHS_TIE_ONLINE : CLHS_TIE_PEER);
  }
  assert_no_tie(&w, x, y);
  /* The amount is network.reinforce. */
  cfg.network.reinforce = 0.05;
  n = 0;
  fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 0), fx_agent(&w, 0, CLHS_PAT, 1),
                CLHS_TIE_REINFORCE, 0);
  fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 0), fx_agent(&w, 0, CLHS_PAT, 1),
                CLHS_TIE_REINFORCE, 0);
  fx_apply(&w, ev, n);
  assert_tie(&w, fx_agent(&w, 0, CLHS_PAT, 0), fx_agent(&w, 0, CLHS_PAT, 1), 0.6, CLHS_TIE_PEER);
  assert_int_equal(clhs_ties_count(&w), 14);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

static void test_drop(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 8, 1.0));
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 0), b = fx_agent(&w, 0, CLHS_PAT, 1),
                c = fx_agent(&w, 1, CLHS_CLIN, 0), d = fx_agent(&w, 0, CLHS_FAM, 3);
  clhs_tie_event ev[32];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_event_pair(ev, &n, &w, a, c, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, b, d, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  fx_apply(&w, ev, n);
  assert_int_equal(clhs_ties_count(&w), 6);
  n = 0;
  fx_event_pair(ev, &n, &w, a, c, CLHS_TIE_DROP, 0);
  fx_event_pair(ev, &n, &w, c, d, CLHS_TIE_DROP, 0); /* no such tie: nothing happens */
  fx_apply(&w, ev, n);
  assert_no_tie(&w, a, c);
  assert_no_tie(&w, c, d);
  assert_tie(&w, a, b, 0.5, CLHS_TIE_PEER);
  assert_tie(&w, b, d, 0.3, CLHS_TIE_ONLINE);
  assert_int_equal(clhs_ties_count(&w), 4);
  assert_int_equal(row_len(&w, c), 0);
  fx_ties_ok(&w, "clhs_ties_check");
  /* A drop in the same step as a create or reinforcement removes the tie (the agent
   * has left); a drop with a create of a new pair makes no tie. */
  n = 0;
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_REINFORCE, 0);
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_DROP, 0);
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_event_pair(ev, &n, &w, a, c, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, a, c, CLHS_TIE_DROP, 0);
  fx_apply(&w, ev, n);
  assert_no_tie(&w, a, b);
  assert_no_tie(&w, a, c);
  assert_int_equal(clhs_ties_count(&w), 2);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------------ decay */

/* The first step n at which w0 (1 - decay)^n < prune. */
static int64_t prune_step(double w0, double decay, double prune) {
  return (int64_t)floor(log(prune / w0) / log(1.0 - decay)) + 1;
}

static void run_decay(clhs_config *cfg, clhs_world *w, double decay, double prune) {
  cfg->network.decay = decay;
  cfg->network.prune_below = prune;
  const int32_t a = fx_agent(w, 0, CLHS_PAT, 0), b = fx_agent(w, 0, CLHS_PAT, 1),
                c = fx_agent(w, 0, CLHS_PAT, 2), d = fx_agent(w, 1, CLHS_QIS, 1),
                e = fx_agent(w, 0, CLHS_FAM, 4);
  clhs_tie_event ev[32];
  int64_t n = 0;
  fx_event_pair(ev, &n, w, a, b, CLHS_TIE_CREATE, CLHS_TIE_PEER);   /* 0.5 */
  fx_event_pair(ev, &n, w, a, c, CLHS_TIE_CREATE, CLHS_TIE_ONLINE); /* 0.3 */
  fx_event_pair(ev, &n, w, a, d, CLHS_TIE_CREATE, CLHS_TIE_EVENT);  /* 0.5 + 3 x 0.2 -> 1 */
  for (int k = 0; k < 3; k++)
    fx_event_pair(ev, &n, w, a, d, CLHS_TIE_REINFORCE, 0);
  fx_event_pair(ev, &n, w, c, e, CLHS_TIE_CREATE, CLHS_TIE_EVENT); /* 0.5 */
  fx_apply(w, ev, n);
  const int32_t pa[4] = {a, a, a, c}, pb[4] = {b, c, d, e};
  const double w0[4] = {0.5, 0.3, 1.0, 0.5};
  int64_t gone[4] = {-1, -1, -1, -1}, expect[4];
  for (int k = 0; k < 4; k++)
    expect[k] = prune_step(w0[k], decay, prune);
  int64_t last = 0;
  for (int k = 0; k < 4; k++)
    if (expect[k] > last) last = expect[k];
  int32_t care[64];
  clhs_nbr nb[64];
  for (int64_t s = 1; s <= last + 2; s++) {
    clhs_ties_decay(w);
    for (int k = 0; k < 4; k++) {
      int ka = -1, kb = -1;
      const float wa = fx_tie_weight(w, pa[k], fx_gid(w, pb[k]), &ka),
                  wb = fx_tie_weight(w, pb[k], fx_gid(w, pa[k]), &kb);
      if (wa < 0 || wb < 0) {
        assert_true(wa < 0 && wb < 0); /* pruned at both ends together */
        if (gone[k] < 0) gone[k] = s;
        continue;
      }
      assert_true(wa == wb);
      assert_true(gone[k] < 0); /* never comes back */
      const double want = w0[k] * pow(1.0 - decay, (double)s);
      if (fabs(wa - want) > 1e-5 * want)
        fail_msg("tie %d at step %lld: %.9g, expected %.9g", k, (long long)s, wa, want);
    }
    if (s % 16 == 0) fx_ties_ok(w, "clhs_ties_check");
  }
  for (int k = 0; k < 4; k++)
    if (gone[k] != expect[k])
      fail_msg("decay %g, prune %g: tie from %g pruned at step %lld, expected %lld", decay, prune,
               w0[k], (long long)gone[k], (long long)expect[k]);
  assert_int_equal(clhs_ties_count(w), 0);
  /* Care ties never decay. */
  const int32_t nn = clhs_neighbours(w, 0, a, care, nb);
  assert_int_equal(nn, 2);
  for (int k = 0; k < nn; k++)
    assert_true(nb[k].w == CLHS_CARETIES_W && nb[k].kind == CLHS_TIE_CARE);
  fx_ties_ok(w, "clhs_ties_check");
}

static void test_decay_prune(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 8, 1.0));
  /* Defaults: 1 % a week, pruned below 0.05: 0.5 -> step 230, 0.3 -> 179, 1 -> 299. */
  assert_int_equal(prune_step(0.5, 0.01, 0.05), 230);
  assert_int_equal(prune_step(0.3, 0.01, 0.05), 179);
  assert_int_equal(prune_step(1.0, 0.01, 0.05), 299);
  run_decay(&cfg, &w, cfg.network.decay, cfg.network.prune_below);
  run_decay(&cfg, &w, 0.2, 0.1); /* 0.5 -> 8, 0.3 -> 6, 1 -> 11 */
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------------ many events */

static uint64_t lcg_state = 88172645463325252ULL;
static uint32_t rnd(uint32_t n) {
  lcg_state ^= lcg_state << 13;
  lcg_state ^= lcg_state >> 7;
  lcg_state ^= lcg_state << 17;
  return (uint32_t)(lcg_state % n);
}

/* Is (a, b) a care tie? */
static int care_tied(const clhs_world *w, int32_t a, int32_t b) {
  if (w->centre[a] != w->centre[b]) return 0;
  int32_t care[256];
  const int32_t nc = clhs_careties_neighbours(w, w->centre[a], a, care);
  for (int32_t k = 0; k < nc; k++)
    if (care[k] == b) return 1;
  return 0;
}

/*
 * Random batches of creations, reinforcements and drops on both ends, in random order,
 * against a dense reference that applies MODEL.md §4 per pair: rows stay sorted by gid
 * without duplicates, and every weight and kind is as the reference says.
 */
static void test_random_batches(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(3, 12, 1.0));
  const int32_t N = (int32_t)w.n;
  float *ref = calloc((size_t)N * (size_t)N, sizeof *ref); /* 0: no tie */
  uint8_t *rkind = calloc((size_t)N * (size_t)N, 1);
  enum { NEV = 600 };
  clhs_tie_event *ev = malloc(sizeof *ev * 2 * NEV);
  int *cr = malloc(sizeof(int) * (size_t)N * (size_t)N * 4); /* creates, reinf, drops, kind */
  assert_non_null(ref);
  assert_non_null(rkind);
  assert_non_null(ev);
  assert_non_null(cr);
  for (int batch = 0; batch < 6; batch++) {
    memset(cr, 0, sizeof(int) * (size_t)N * (size_t)N * 4);
    int64_t n = 0;
    while (n < 2 * NEV) {
      const int32_t a = (int32_t)rnd((uint32_t)N), b = (int32_t)rnd((uint32_t)N);
      if (a == b || care_tied(&w, a, b)) continue;
      const uint32_t u = rnd(100);
      const int op = u < 60 ? CLHS_TIE_CREATE : (u < 90 ? CLHS_TIE_REINFORCE : CLHS_TIE_DROP);
      const int kind = 1 + (int)rnd(3);
      fx_event_pair(ev, &n, &w, a, b, op, kind);
      const int32_t lo = a < b ? a : b, hi = a < b ? b : a;
      int *c = &cr[((size_t)lo * (size_t)N + (size_t)hi) * 4];
      if (op == CLHS_TIE_CREATE) {
        if (!c[0] || kind < c[3]) c[3] = kind;
        c[0]++;
      } else {
        c[op]++;
      }
    }
    /* Shuffle (Fisher-Yates): events come in any order. */
    for (int64_t k = n - 1; k > 0; k--) {
      const int64_t j = rnd((uint32_t)(k + 1));
      clhs_tie_event t = ev[k];
      ev[k] = ev[j];
      ev[j] = t;
    }
    fx_apply(&w, ev, n);
    /* The reference. */
    for (int32_t a = 0; a < N; a++)
      for (int32_t b = a + 1; b < N; b++) {
        const int *c = &cr[((size_t)a * (size_t)N + (size_t)b) * 4];
        float *r = &ref[(size_t)a * (size_t)N + (size_t)b];
        uint8_t *k = &rkind[(size_t)a * (size_t)N + (size_t)b];
        if (c[2]) {
          *r = 0;
        } else if (*r > 0) {
          *r = (float)fmin(1.0, (double)*r + 0.2 * (c[0] + c[1]));
        } else if (c[0]) {
          *k = (uint8_t)c[3];
          *r = (float)fmin(1.0, (c[3] == CLHS_TIE_ONLINE ? 0.3 : 0.5) + 0.2 * (c[0] - 1 + c[1]));
        }
      }
    int64_t ends = 0;
    for (int32_t a = 0; a < N; a++)
      for (int32_t b = a + 1; b < N; b++) {
        const float r = ref[(size_t)a * (size_t)N + (size_t)b];
        if (r > 0) {
          assert_tie(&w, a, b, r, rkind[(size_t)a * (size_t)N + (size_t)b]);
          ends += 2;
        } else {
          assert_no_tie(&w, a, b);
        }
      }
    assert_true(ends > 0);
    assert_int_equal(clhs_ties_count(&w), ends);
    assert_rows_sorted(&w);
    fx_ties_ok(&w, "clhs_ties_check");
    clhs_ties_decay(&w); /* change the weights between batches */
    for (size_t k = 0; k < (size_t)N * (size_t)N; k++)
      if (ref[k] > 0) {
        ref[k] = (float)((double)ref[k] * (1.0 - cfg.network.decay));
        if (ref[k] < (float)cfg.network.prune_below) ref[k] = 0;
      }
  }
  free(ref);
  free(rkind);
  free(ev);
  free(cr);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------------ neighbours */

/* A patient's neighbours: caregiver and clinician (care, 0.8) merged with its dynamic
 * ties in increasing gid order. */
static void test_neighbours_patient(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 8, 1.0));
  const int32_t i = fx_agent(&w, 0, CLHS_PAT, 1);
  const int64_t p = w.pat_begin[0] + 1;
  const int32_t fam = w.pat_fam[p], clin = w.pat_clin[p];
  assert_int_equal(fam, fx_agent(&w, 0, CLHS_FAM, 1));
  assert_int_equal(clin, fx_agent(&w, 0, CLHS_CLIN, 1)); /* round-robin: patient 1, clinician 1 */
  const int32_t peer = fx_agent(&w, 0, CLHS_PAT, 5), other_fam = fx_agent(&w, 0, CLHS_FAM, 4),
                far = fx_agent(&w, 1, CLHS_PAT, 0);
  assert_true(peer < fam && fam < other_fam && other_fam < clin && clin < far);
  clhs_tie_event ev[16];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, i, far, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, i, other_fam, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);
  fx_event_pair(ev, &n, &w, i, peer, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  int32_t care[64];
  clhs_nbr nb[64];
  assert_true(clhs_careties_max(&w, 0) <= 64);
  const int32_t nn = clhs_neighbours(&w, 0, i, care, nb);
  assert_int_equal(nn, 5);
  const int32_t want[5] = {peer, fam, other_fam, clin, far};
  const int kind[5] = {CLHS_TIE_PEER, CLHS_TIE_CARE, CLHS_TIE_ONLINE, CLHS_TIE_CARE,
                       CLHS_TIE_EVENT};
  const float wt[5] = {0.5f, CLHS_CARETIES_W, 0.3f, CLHS_CARETIES_W, 0.5f};
  for (int k = 0; k < 5; k++) {
    assert_int_equal(nb[k].gid, fx_gid(&w, want[k]));
    assert_int_equal(nb[k].loc, want[k]);
    assert_int_equal(nb[k].kind, kind[k]);
    assert_true(nb[k].w == wt[k]);
  }
  assert_int_equal(clhs_degree(&w, 0, i), 5);
  /* The clinician: its patients, then the other staff, then the far end of a new tie,
   * in gid order. */
  n = 0;
  fx_event_pair(ev, &n, &w, clin, far, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_apply(&w, ev, n);
  const int32_t nc = clhs_neighbours(&w, 0, clin, care, nb);
  assert_int_equal(nc, clhs_degree(&w, 0, clin));
  int32_t k = 0;
  for (int32_t pp = w.pat_begin[0]; pp < w.pat_begin[1]; pp++)
    if (w.pat_clin[pp] == clin) assert_int_equal(nb[k++].loc, w.pat_agent[pp]);
  for (int32_t s = w.first[CLHS_CLIN][0]; s < w.first[CLHS_NTYPES][0]; s++)
    if (s != clin) {
      assert_int_equal(nb[k].loc, s);
      assert_true(nb[k].w == CLHS_CARETIES_W);
      k++;
    }
  assert_int_equal(nb[k].loc, far);
  assert_int_equal(nb[k].kind, CLHS_TIE_EVENT);
  assert_int_equal(k + 1, nc);
  for (int32_t j = 1; j < nc; j++)
    assert_true(nb[j - 1].gid < nb[j].gid);
  fx_ties_ok(&w, "clhs_ties_check");
  fx_done(&cfg, &w);
}

/* Care degrees by type: PAT 1 + (caregiver), FAM 1, CLIN its patients + staff - 1, QIS and
 * RES staff - 1; clhs_degree adds the dynamic ties. */
static void check_care_degrees(clhs_world *w) {
  int32_t care[256];
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int32_t staff = w->first[CLHS_NTYPES][lc] - w->first[CLHS_CLIN][lc];
    assert_true(clhs_careties_max(w, lc) <= 256);
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      int32_t want = 0;
      switch (w->type[i]) {
      case CLHS_PAT: {
        const int64_t p = w->pat_begin[lc] + (i - w->first[CLHS_PAT][lc]);
        want = 1 + (w->pat_fam[p] >= 0);
        break;
      }
      case CLHS_FAM: want = 1; break;
      case CLHS_CLIN:
        want = staff - 1;
        for (int32_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++)
          want += w->pat_clin[p] == i;
        break;
      default: want = staff - 1; break;
      }
      assert_int_equal(clhs_careties_degree(w, lc, i), want);
      const int32_t nc = clhs_careties_neighbours(w, lc, i, care);
      assert_int_equal(nc, want);
      for (int32_t k = 0; k < nc; k++) {
        assert_true(care[k] != i);
        if (k) assert_true(care[k - 1] < care[k]);
        assert_true(care_tied(w, care[k], i)); /* symmetric */
      }
      assert_int_equal(clhs_degree(w, lc, i), want + row_len(w, i));
    }
  }
}

static void test_degrees(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 10, 1.0)); /* 3 clinicians with 4, 3 and 3 patients */
  const int32_t c0 = fx_agent(&w, 0, CLHS_CLIN, 0), c2 = fx_agent(&w, 0, CLHS_CLIN, 2);
  const int32_t staff0 = w.first[CLHS_NTYPES][0] - w.first[CLHS_CLIN][0];
  assert_int_equal(clhs_careties_degree(&w, 0, c0), 4 + staff0 - 1);
  assert_int_equal(clhs_careties_degree(&w, 0, c2), 3 + staff0 - 1);
  assert_int_equal(clhs_careties_degree(&w, 0, fx_agent(&w, 0, CLHS_PAT, 3)), 2);
  assert_int_equal(clhs_careties_degree(&w, 0, fx_agent(&w, 0, CLHS_FAM, 3)), 1);
  assert_int_equal(clhs_careties_degree(&w, 0, fx_agent(&w, 0, CLHS_QIS, 2)), staff0 - 1);
  check_care_degrees(&w);
  clhs_tie_event ev[16];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 3), fx_agent(&w, 1, CLHS_QIS, 0),
                CLHS_TIE_CREATE, 2);
  fx_event_pair(ev, &n, &w, fx_agent(&w, 0, CLHS_PAT, 3), fx_agent(&w, 0, CLHS_FAM, 0),
                CLHS_TIE_CREATE, 1);
  fx_event_pair(ev, &n, &w, c0, fx_agent(&w, 1, CLHS_CLIN, 1), CLHS_TIE_CREATE, 3);
  fx_apply(&w, ev, n);
  assert_int_equal(clhs_degree(&w, 0, fx_agent(&w, 0, CLHS_PAT, 3)), 4);
  assert_int_equal(clhs_degree(&w, 0, c0), 4 + staff0 - 1 + 1);
  check_care_degrees(&w);
  fx_done(&cfg, &w);
  /* No caregivers: a patient's only care tie is its clinician. */
  fx_make(&cfg, &w, TINY(2, 10, FX_NONE));
  for (int64_t lc = 0; lc < 2; lc++) {
    assert_int_equal(w.first[CLHS_CLIN][lc], w.first[CLHS_FAM][lc]);
    assert_int_equal(clhs_careties_degree(&w, lc, fx_agent(&w, lc, CLHS_PAT, 0)), 1);
  }
  check_care_degrees(&w);
  fx_done(&cfg, &w);
  /* Some caregivers. */
  fx_make(&cfg, &w, TINY(3, 12, 0.5));
  check_care_degrees(&w);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------------ the check */

static int msg_names_pair(const char *msg, int64_t a, int64_t b) {
  char p1[64], p2[64];
  snprintf(p1, sizeof p1, "%lld-%lld", (long long)a, (long long)b);
  snprintf(p2, sizeof p2, "%lld-%lld", (long long)b, (long long)a);
  return strstr(msg, p1) || strstr(msg, p2);
}

static void expect_violation(clhs_world *w, int64_t a, int64_t b, const char *what) {
  clhs_error err;
  clhs_error_clear(&err);
  const int64_t bad = clhs_ties_check(w, &err);
  if (bad <= 0) fail_msg("clhs_ties_check missed %s", what);
  if (a >= 0 && !msg_names_pair(err.msg, a, b))
    fail_msg("%s: the message does not name the pair %lld-%lld: %s", what, (long long)a,
             (long long)b, err.msg);
}

static void test_check(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, TINY(2, 8, 1.0));
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 2), b = fx_agent(&w, 1, CLHS_FAM, 6),
                c = fx_agent(&w, 0, CLHS_PAT, 6);
  clhs_tie_event ev[16];
  int64_t n = 0;
  fx_event_pair(ev, &n, &w, a, b, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  fx_event_pair(ev, &n, &w, a, c, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  fx_ties_ok(&w, "clhs_ties_check");

  /* One end's weight changed by hand. */
  clhs_tieset *tb = &w.ties[w.centre[b]];
  const uint32_t db = tb->off[b - w.first[0][w.centre[b]]];
  assert_int_equal(clhs_tie_gid(tb->key[db]), fx_gid(&w, a));
  const float saved = tb->w[db];
  tb->w[db] = 0.45f;
  expect_violation(&w, fx_gid(&w, a), fx_gid(&w, b), "a weight changed at one end");
  tb->w[db] = saved;
  fx_ties_ok(&w, "clhs_ties_check");

  /* One end's kind changed. */
  const uint64_t key = tb->key[db];
  tb->key[db] = clhs_tie_key(fx_gid(&w, a), CLHS_TIE_ONLINE);
  expect_violation(&w, fx_gid(&w, a), fx_gid(&w, b), "a kind changed at one end");
  tb->key[db] = key;
  fx_ties_ok(&w, "clhs_ties_check");

  /* Weight out of (0, 1] at both ends. */
  tb->w[db] = 1.5f;
  clhs_tieset *ta = &w.ties[0];
  uint32_t da = ta->off[a - w.first[0][0]];
  while (clhs_tie_gid(ta->key[da]) != fx_gid(&w, b))
    da++;
  ta->w[da] = 1.5f;
  expect_violation(&w, fx_gid(&w, a), fx_gid(&w, b), "a weight above 1");
  tb->w[db] = ta->w[da] = saved;
  fx_ties_ok(&w, "clhs_ties_check");

  /* A tie held at one end only. */
  const int32_t d = fx_agent(&w, 0, CLHS_PAT, 7);
  clhs_tie_event one = {0};
  one.agent = d;
  one.nbr = fx_gid(&w, c);
  one.op = CLHS_TIE_CREATE;
  one.kind = CLHS_TIE_PEER;
  fx_apply(&w, &one, 1);
  expect_violation(&w, fx_gid(&w, c), fx_gid(&w, d), "a one-sided tie");
  one.op = CLHS_TIE_DROP;
  fx_apply(&w, &one, 1);
  fx_ties_ok(&w, "clhs_ties_check");

  /* A dynamic tie that duplicates a care tie (a patient and its own clinician). */
  const int32_t clin = w.pat_clin[w.pat_begin[0] + 2];
  n = 0;
  fx_event_pair(ev, &n, &w, a, clin, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  fx_apply(&w, ev, n);
  expect_violation(&w, fx_gid(&w, a), fx_gid(&w, clin), "a dynamic tie duplicating a care tie");
  n = 0;
  fx_event_pair(ev, &n, &w, a, clin, CLHS_TIE_DROP, 0);
  fx_apply(&w, ev, n);
  fx_ties_ok(&w, "clhs_ties_check");

  /* A self tie. */
  one.agent = c;
  one.nbr = fx_gid(&w, c);
  one.op = CLHS_TIE_CREATE;
  fx_apply(&w, &one, 1);
  expect_violation(&w, -1, -1, "a self tie");
  fx_done(&cfg, &w);
}

FX_MAIN(cmocka_unit_test(test_create_both_ends), cmocka_unit_test(test_create_existing_reinforces),
        cmocka_unit_test(test_two_kinds_one_step), cmocka_unit_test(test_reinforce_k),
        cmocka_unit_test(test_drop), cmocka_unit_test(test_decay_prune),
        cmocka_unit_test(test_random_batches), cmocka_unit_test(test_neighbours_patient),
        cmocka_unit_test(test_degrees), cmocka_unit_test(test_check))
