/*
 * Phase 4 of MODEL.md §7 (src/model/resources.c) on hand-built cases: creation,
 * sharing and posting, discovery through ties and through the commons, adoption,
 * research and the evidence level, obsolescence; then a determinism check on a busy
 * random world: the same digest with 1 and 3 threads, and with 1 and 3 ranks.
 *
 * Usage: test_resources [--write FILE | --check FILE]. At one rank every test runs and
 * --write stores the determinism digest; at more ranks only the determinism test runs
 * (the hand-built cases assume one rank owns every centre) and --check compares its
 * digest with the stored one.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "fixture.h"
#include "model/model_internal.h"

/* ------------------------------------------------------------ helpers */

/* A world of @p centres, round(share x centres) of them members from step 0 (Bass joining
 * with no later joins): fx_config, adjust cfg, then fx_finalize(&cfg, FX_ALL_LEVERS, 0)
 * (every lever fully on at every step) and fx_world. */
#define CENTRES(n, share) (&(fx_opts){.centres = (n), .members = (share), .no_joins = 1})

/* Nobody creates, searches or holds anything. */
static void quiet(clhs_world *w) {
  const int64_t hm = w->cfg->resources.held_max;
  for (int64_t i = 0; i < w->n; i++) {
    w->E[i] = 0;
    w->m[i] = 0;
    w->K[i] = 0.5f;
    for (int k = 0; k < CLHS_NEEDS; k++) {
      w->need[i * CLHS_NEEDS + k] = 0;
      w->cover[i * CLHS_NEEDS + k] = 0.1f;
    }
    for (int64_t k = 0; k < hm; k++) {
      w->held[i * hm + k] = CLHS_RES_NONE;
      w->held_q[i * hm + k] = 0;
    }
    w->succ[i] = 0;
    w->flags[i] = 0;
  }
}

/* Phases 1 and 4 of step t, with the halo exchanged between them (succ reset first,
 * as the step does). */
static void run_phase(clhs_world *w, int64_t t) {
  clhs_error err;
  clhs_error_clear(&err);
  for (int64_t i = 0; i < w->n; i++)
    w->succ[i] = 0;
  clhs_phase_levers_joins(w, t);
  assert_int_equal(clhs_halo_exchange(w, &err), CLHS_OK);
  int rc = clhs_phase_resources(w, t, &err);
  if (rc) print_message("phase 4: %s\n", err.msg);
  assert_int_equal(rc, CLHS_OK);
}

/* Put a resource into this rank's table (kept sorted by id). */
static uint64_t add_res(clhs_world *w, int64_t step, int64_t creator, int k, int cat, uint16_t q,
                        int kind) {
  clhs_restab *r = &w->res;
  if (r->n == r->cap) {
    int64_t cap = 2 * r->cap + 16;
    r->id = realloc(r->id, sizeof *r->id * (size_t)cap);
    r->q = realloc(r->q, sizeof *r->q * (size_t)cap);
    r->kind = realloc(r->kind, (size_t)cap);
    r->in_commons = realloc(r->in_commons, (size_t)cap);
    r->adoptions = realloc(r->adoptions, sizeof *r->adoptions * (size_t)cap);
    assert_non_null(r->id);
    assert_non_null(r->q);
    assert_non_null(r->kind);
    assert_non_null(r->in_commons);
    assert_non_null(r->adoptions);
    r->cap = cap;
  }
  const uint64_t id = clhs_res_id(step, fx_gid(w, creator), k, cat);
  int64_t x = r->n;
  for (; x > 0 && r->id[x - 1] > id; x--) {
    r->id[x] = r->id[x - 1];
    r->q[x] = r->q[x - 1];
    r->kind[x] = r->kind[x - 1];
    r->in_commons[x] = r->in_commons[x - 1];
    r->adoptions[x] = r->adoptions[x - 1];
  }
  r->id[x] = id;
  r->q[x] = q;
  r->kind[x] = (uint8_t)kind;
  r->in_commons[x] = 0;
  r->adoptions[x] = 0;
  r->n++;
  r->fresh_begin = r->n;
  return id;
}

static int64_t res_index(const clhs_world *w, uint64_t id) {
  for (int64_t k = 0; k < w->res.n; k++)
    if (w->res.id[k] == id) return k;
  return -1;
}

/* Post a resource of this rank's table to the commons (the index is rebuilt from res). */
static void add_commons(clhs_world *w, uint64_t id) {
  const int64_t r = res_index(w, id);
  assert_true(r >= 0);
  w->res.in_commons[r] = 1;
  assert_int_equal(clhs_commons_rebuild(w), CLHS_OK);
}

/* A dynamic tie a-b (local agents) of @p kind, reinforced @p times (both ends). */
static void add_tie(clhs_world *w, int64_t a, int64_t b, int kind, int times) {
  clhs_tie_msg m[2 * 8];
  int64_t n = 0;
  assert_true(times < 8);
  for (int k = 0; k <= times; k++)
    fx_msg_pair(m, &n, fx_gid(w, a), fx_gid(w, b), k == 0 ? CLHS_TIE_CREATE : CLHS_TIE_REINFORCE,
                kind);
  fx_deliver(w, m, n);
}

static int agent_holds(const clhs_world *w, int64_t i, uint64_t id) {
  const int64_t hm = w->cfg->resources.held_max;
  return holds(w->held + i * hm, hm, id); /* model_internal.h */
}

static int64_t held_count(const clhs_world *w, int64_t i) {
  const int64_t hm = w->cfg->resources.held_max;
  int64_t n = 0;
  for (int64_t k = 0; k < hm; k++)
    n += w->held[i * hm + k] != CLHS_RES_NONE;
  return n;
}

static int64_t holders(const clhs_world *w, uint64_t id) {
  int64_t n = 0;
  for (int64_t i = 0; i < w->n; i++)
    n += agent_holds(w, i, id);
  return n;
}

static void set_held(clhs_world *w, int64_t i, const uint64_t *ids, int n) {
  const int64_t hm = w->cfg->resources.held_max;
  for (int64_t k = 0; k < hm; k++) {
    w->held[i * hm + k] = k < n ? ids[k] : CLHS_RES_NONE;
    w->held_q[i * hm + k] = k < n ? 65535 : 0;
  }
  clhs_world_held_cats(w); /* the flags' held categories, derived from the lists */
}

static int is_neighbour(const clhs_world *w, int64_t i, int64_t g) {
  const int64_t lc = w->centre[i];
  int32_t *care = malloc(sizeof(int32_t) * (size_t)clhs_careties_max(w, lc));
  clhs_nbr *nb = malloc(sizeof(clhs_nbr) * (size_t)clhs_degree(w, lc, (int32_t)i));
  assert_non_null(care);
  assert_non_null(nb);
  const int32_t nn = clhs_neighbours(w, lc, (int32_t)i, care, nb);
  int found = 0;
  for (int32_t j = 0; j < nn; j++)
    found |= nb[j].gid == g;
  free(care);
  free(nb);
  return found;
}

/* The caregiver of the centre's first caregiver-having patient and that patient. */
static void family_pair(const clhs_world *w, int64_t lc, int64_t *fam, int64_t *pat) {
  const int32_t f = w->fam_begin[lc];
  assert_true(f < w->fam_begin[lc + 1]);
  *fam = w->first[CLHS_FAM][lc];
  *pat = w->pat_agent[w->fam_patient[f]];
}

/* ------------------------------------------------------------ 1. creation */

static void test_creation(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(2, 0.5));
  for (int k = 0; k < 4; k++)
    cfg.resources.rate[k] = 20;
  cfg.resources.held_max = 200;
  cfg.resources.p_tie = 1;
  cfg.resources.p_post = 1;
  cfg.resources.decay = 0;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  assert_int_equal(w.member[0], 1);
  assert_int_equal(w.member[1], 0);
  quiet(&w);
  const int64_t a = w.first[CLHS_PAT][0], b = a + 1, c = w.first[CLHS_FAM][0];
  const int64_t d = w.first[CLHS_CLIN][0], e = w.first[CLHS_QIS][0];
  const int64_t x = w.first[CLHS_CLIN][1]; /* a clinician of the non-member centre */
  const float need_a[4] = {0.2f, 0.5f, 0.9f, 0.1f}, need_c[4] = {0.3f, 0.8f, 0.2f, 0.8f};
  const int64_t active[] = {a, b, c, d, e, x};
  const uint8_t tier[] = {3, 2, 3, 2, 2, 2};
  for (int k = 0; k < 6; k++) {
    w.E[active[k]] = tier[k];
    w.m[active[k]] = 1;
    w.K[active[k]] = 1;
  }
  w.K[d] = 0.2f;
  for (int k = 0; k < 4; k++) {
    w.need[a * 4 + k] = need_a[k];
    w.need[c * 4 + k] = need_c[k];
  }
  if (w.first[CLHS_RES][0] < w.first[CLHS_NTYPES][0]) { /* a researcher does not create */
    w.E[w.first[CLHS_RES][0]] = 4;
    w.m[w.first[CLHS_RES][0]] = 1;
  }
  run_phase(&w, 5);

  /* Only a (category 2: largest unmet need), c (1: tie of 1 and 3 -> lowest), d (0)
   * and e (1, tool) create; b's tier is too low; x's centre is not a member. */
  int64_t n[4] = {0, 0, 0, 0};
  const int64_t creators[4] = {a, c, d, e};
  const int cats[4] = {2, 1, 0, 1}, kinds[4] = {0, 0, 0, CLHS_RES_TOOL};
  assert_true(w.res.n > 0);
  assert_int_equal(w.res.fresh_begin, 0);
  for (int64_t k = 0; k < w.res.n; k++) {
    const uint64_t id = w.res.id[k];
    if (k > 0) assert_true(w.res.id[k - 1] < id);
    assert_int_equal(clhs_res_step(id), 5);
    int who = -1;
    for (int j = 0; j < 4; j++)
      if (clhs_res_creator(id) == fx_gid(&w, creators[j])) who = j;
    assert_true(who >= 0);
    assert_int_equal(clhs_res_cat(id), cats[who]);
    assert_int_equal(w.res.kind[k], kinds[who]);
    assert_int_equal((int)((id >> 2) & 63), (int)n[who]); /* k-th of the creator this step */
    n[who]++;
    assert_true(w.res.q[k] > 0);
    if (who == 2) assert_true(w.res.q[k] <= clhs_quality_q(0.6)); /* Beta x (0.5 + 0.5 K) */
    assert_int_equal(w.res.in_commons[k], 0);
    assert_int_equal(w.res.adoptions[k], 0);
  }
  for (int j = 0; j < 4; j++)
    assert_true(n[j] >= 1 && n[j] <= CLHS_RES_MAX_PER_STEP);
  assert_int_equal(w.counts[0].created[CLHS_RES_INFORMATION], n[0] + n[1] + n[2]);
  assert_int_equal(w.counts[0].created[CLHS_RES_TOOL], n[3]);
  assert_int_equal(w.counts[0].created[CLHS_RES_KNOWLEDGE], 0);
  for (int k = 0; k < CLHS_NRESKINDS; k++)
    assert_int_equal(w.counts[1].created[k], 0);
  /* Not visible in their creation step: not offered, not posted. */
  assert_int_equal(w.commons.n, 0);
  for (int64_t i = 0; i < w.n; i++) {
    assert_int_equal(held_count(&w, i), 0);
    assert_int_equal(w.succ[i], 0);
  }

  /* Next step: offered over every tie (p_tie w = 0.8 for care ties) and posted (p_post
   * I_commons m = 1). Nobody creates any more; everyone in centre 0 is fully motivated. */
  const int64_t nres = w.res.n;
  for (int j = 0; j < 4; j++)
    w.E[creators[j]] = 0;
  for (int64_t i = w.first[0][0]; i < w.first[CLHS_NTYPES][0]; i++)
    w.m[i] = 1;
  for (int64_t k = 0; k < w.res.n; k++)
    w.res.q[k] = 65535;
  run_phase(&w, 6);
  assert_int_equal(w.res.n, nres);
  assert_int_equal(w.commons.n, nres);
  int64_t listed = 0; /* this rank's index of the commons lists every posted resource */
  for (int k = 0; k < CLHS_NEEDS; k++)
    listed += w.commons.len[k];
  assert_int_equal(listed, nres);
  assert_true(clhs_commons_quality_mean(&w) > 0.99); /* every q = 65535 (v = 1, this step) */
  for (int64_t k = 0; k < nres; k++)
    assert_int_equal(w.res.in_commons[k], 1);
  /* Every adoption is of a neighbour's resource, never of one's own; successes add up. */
  int64_t total = 0, total_res = 0, counted = 0;
  for (int64_t k = 0; k < nres; k++)
    total_res += w.res.adoptions[k];
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    counted += w.counts[lc].adoptions;
    assert_int_equal(w.counts[lc].commons_adoptions, 0);
  }
  const int64_t hm = cfg.resources.held_max;
  for (int64_t i = 0; i < w.n; i++) {
    const int64_t h = held_count(&w, i);
    total += h;
    int64_t own = 0;
    for (int64_t k = 0; k < nres; k++)
      if (clhs_res_creator(w.res.id[k]) == fx_gid(&w, i)) own += w.res.adoptions[k];
    assert_int_equal(w.succ[i], h + own);
    /* Coverage: +0.3 v per adoption in id order (oldest held last), capped at 1. */
    float s[4] = {0.1f, 0.1f, 0.1f, 0.1f};
    for (int64_t k = h - 1; k >= 0; k--) {
      const uint64_t id = w.held[i * hm + k];
      assert_true(clhs_res_creator(id) != fx_gid(&w, i));
      assert_true(is_neighbour(&w, i, clhs_res_creator(id)));
      if (k > 0) assert_true(w.held[i * hm + k - 1] > id); /* newest first */
      const double sn = (double)s[clhs_res_cat(id)] + 0.3;
      s[clhs_res_cat(id)] = (float)(sn < 1 ? sn : 1);
    }
    for (int k = 0; k < 4; k++)
      assert_true(w.cover[i * 4 + k] == s[k]);
  }
  assert_true(total > 0);
  assert_int_equal(total, total_res);
  assert_int_equal(total, counted);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 2. sharing */

static void test_sharing(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(2, 1.0));
  cfg.resources.p_tie = 1;
  cfg.resources.p_post = 1;
  cfg.resources.decay = 0;
  cfg.resources.beta_peer = 0;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  const int64_t X = w.first[CLHS_QIS][0], X2 = X + 1;
  w.m[X] = 1; /* posts for sure; X2 (m = 0) never posts */
  enum { NY = 10 };
  int64_t Y[NY];
  for (int k = 0; k < NY; k++) {
    Y[k] = w.first[CLHS_PAT][1] + k;
    w.m[Y[k]] = 1; /* adopts whatever it is offered: v (0.5 + 0.5 m) = 1 */
    add_tie(&w, X, Y[k], CLHS_TIE_EVENT, 0);
    assert_true(fx_tie_weight(&w, X, fx_gid(&w, Y[k]), NULL) == 0.5f);
  }
  const uint64_t R = add_res(&w, 9, X, 0, 1, 65535, CLHS_RES_TOOL);
  const uint64_t R2 = add_res(&w, 9, X2, 0, 1, 65535, CLHS_RES_TOOL);
  run_phase(&w, 10);
  /* An offer over a tie (p_tie w = 0.5) reinforces it at both ends; offered => adopted. */
  int offered = 0;
  for (int k = 0; k < NY; k++) {
    const float wxy = fx_tie_weight(&w, X, fx_gid(&w, Y[k]), NULL),
                wyx = fx_tie_weight(&w, Y[k], fx_gid(&w, X), NULL);
    assert_true(wxy == wyx);
    if (agent_holds(&w, Y[k], R)) {
      offered++;
      assert_true(wxy == 0.7f);
    } else {
      assert_true(wxy == 0.5f);
    }
  }
  assert_true(offered >= 1 && offered < NY);
  assert_false(agent_holds(&w, X, R));
  /* X's successes: adoptions of R, and its own adoption of X2's R2 (staff clique). */
  assert_int_equal(w.succ[X], holders(&w, R) + held_count(&w, X));
  assert_int_equal(w.res.adoptions[res_index(&w, R)], holders(&w, R));
  assert_int_equal(w.res.adoptions[res_index(&w, R2)], holders(&w, R2));
  /* Posting: R (creator's m = 1) is in the commons, R2 (m = 0) is not. */
  assert_int_equal(w.commons.n, 1);
  assert_int_equal(w.commons.len[clhs_res_cat(R)], 1);
  assert_true(w.res.id[w.commons.at[clhs_res_cat(R)][0]] == R);
  assert_int_equal(w.res.in_commons[res_index(&w, R)], 1);
  assert_int_equal(w.res.in_commons[res_index(&w, R2)], 0);
  /* One week later R is no longer new: no offers, no reinforcement, no second post. */
  const int64_t had = holders(&w, R);
  run_phase(&w, 11);
  assert_int_equal(holders(&w, R), had);
  assert_int_equal(w.succ[X], 0);
  assert_int_equal(w.commons.n, 1);
  for (int k = 0; k < NY; k++)
    assert_true(fx_tie_weight(&w, X, fx_gid(&w, Y[k]), NULL) ==
                (agent_holds(&w, Y[k], R) ? 0.7f : 0.5f));
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 3. discovery: ties */

static void test_discovery_ties(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(2, 1.0));
  cfg.resources.p_tie = 1;
  cfg.resources.p_search = 1;
  cfg.resources.decay = 0;
  cfg.resources.beta_peer = 0;
  cfg.resources.held_max = 6;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  const int64_t S = w.first[CLHS_PAT][0], clin = w.pat_clin[w.pat_begin[0]];
  const int64_t J1 = w.first[CLHS_PAT][1], J2 = J1 + 1, J3 = J1 + 2;
  const int64_t C1 = w.first[CLHS_CLIN][1];
  w.E[S] = 1; /* aware: searches through ties only */
  w.m[S] = 1;
  w.need[S * 4 + 2] = 1;                 /* unmet need 0.9 in category 2 */
  add_tie(&w, S, J1, CLHS_TIE_EVENT, 3); /* weight 1 */
  add_tie(&w, S, J2, CLHS_TIE_EVENT, 3); /* weight 1, higher gid */
  add_tie(&w, S, J3, CLHS_TIE_EVENT, 0); /* weight 0.5 */
  assert_true(fx_tie_weight(&w, S, fx_gid(&w, J1), NULL) == 1.0f);
  const uint64_t A = add_res(&w, 1, C1, 0, 2, 65535, 0);
  const uint64_t B = add_res(&w, 3, C1, 0, 2, 65535, 0);
  const uint64_t C = add_res(&w, 4, C1, 0, 2, 65535, 0);
  const uint64_t D = add_res(&w, 5, C1, 0, 2, 65535, 0);
  const uint64_t E = add_res(&w, 6, C1, 0, 2, 65535, 0);
  const uint64_t O = add_res(&w, 7, S, 0, 2, 65535, 0); /* the searcher's own */
  const uint64_t X0 = add_res(&w, 8, C1, 0, 1, 65535, 0);
  const uint64_t j1[] = {A, C, X0, B, O}, j2[] = {D}, cl[] = {E}, s[] = {C};
  set_held(&w, J1, j1, 5);
  set_held(&w, J2, j2, 1);
  set_held(&w, clin, cl, 1);
  set_held(&w, S, s, 1);
  run_phase(&w, 10);
  /* Holders of a category-2 resource S lacks: clin (0.8), J1 and J2 (1.0): J1 has the
   * largest weight and the lower gid; of its resources, B is the newest that S neither
   * holds (C) nor created (O) in category 2 (X0 is category 1). */
  assert_true(w.held[S * 6 + 0] == B);
  assert_true(w.held[S * 6 + 1] == C);
  assert_int_equal(held_count(&w, S), 2);
  assert_true(w.cover[S * 4 + 2] == (float)(0.1f + 0.3));
  assert_int_equal(w.succ[S], 1);
  assert_int_equal(w.succ[C1], 1);
  assert_int_equal(w.res.adoptions[res_index(&w, B)], 1);
  assert_int_equal(w.counts[0].adoptions, 1);
  assert_int_equal(w.counts[0].commons_adoptions, 0);
  assert_int_equal(w.flags[S] & CLHS_F_COMMONS, 0);
  assert_true(fx_tie_weight(&w, S, fx_gid(&w, J3), NULL) == 0.5f);

  /* Only J3 (weight 0.5) holds one: found with probability 0.5 a week; the discovery
   * reinforces the tie at both ends. */
  const uint64_t F = add_res(&w, 8, C1, 1, 2, 65535, 0), f[] = {F};
  set_held(&w, S, NULL, 0);
  set_held(&w, J1, NULL, 0);
  set_held(&w, J2, NULL, 0);
  set_held(&w, clin, NULL, 0);
  set_held(&w, J3, f, 1);
  w.cover[S * 4 + 2] = 0.1f;
  int found = 0;
  for (int64_t t = 20; t < 80 && !found; t++) {
    run_phase(&w, t);
    const float a = fx_tie_weight(&w, S, fx_gid(&w, J3), NULL),
                b = fx_tie_weight(&w, J3, fx_gid(&w, S), NULL);
    found = agent_holds(&w, S, F);
    assert_true(a == b);
    assert_true(a == (found ? 0.7f : 0.5f));
  }
  assert_true(found);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 3. discovery: commons */

static void test_discovery_commons(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(1, 1.0));
  cfg.resources.p_tie = 0; /* nothing through ties */
  cfg.resources.p_search = 1;
  cfg.resources.find_rate = 1000; /* a search of a non-empty commons always finds */
  cfg.resources.decay = 0;
  cfg.resources.beta_peer = 0;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  const int64_t S = w.first[CLHS_PAT][0], S2 = S + 1, Z = w.first[CLHS_CLIN][0];
  w.E[S] = 2; /* takes part in the commons */
  w.E[S2] = 1;
  w.m[S] = w.m[S2] = 1;
  w.need[S * 4 + 3] = w.need[S2 * 4 + 3] = 1;
  const uint64_t O1 = add_res(&w, 2, S, 0, 3, 6553, 0);  /* its own */
  const uint64_t H1 = add_res(&w, 3, Z, 0, 3, 6553, 0);  /* held */
  const uint64_t R1 = add_res(&w, 4, Z, 0, 3, 65535, 0); /* the only one it can find */
  const uint64_t K0 = add_res(&w, 4, Z, 1, 0, 65535, 0); /* another category */
  add_commons(&w, O1);
  add_commons(&w, H1);
  add_commons(&w, R1);
  add_commons(&w, K0);
  const uint64_t h[] = {H1};
  set_held(&w, S, h, 1);
  run_phase(&w, 10);
  assert_true(w.held[S * 4 + 0] == R1);
  assert_true(w.held[S * 4 + 1] == H1);
  assert_int_equal(held_count(&w, S2), 0); /* E = 1: no commons */
  assert_true(w.flags[S] & CLHS_F_COMMONS);
  assert_int_equal(w.counts[0].adoptions, 1);
  assert_int_equal(w.counts[0].commons_adoptions, 1);
  assert_int_equal(w.counts[0].new_commons_users, 1);
  assert_int_equal(w.succ[Z], 1);
  assert_int_equal(w.res.adoptions[res_index(&w, R1)], 1);
  /* A second find from the commons: not a new user. */
  const uint64_t R2 = add_res(&w, 5, Z, 0, 3, 65535, 0);
  add_commons(&w, R2);
  run_phase(&w, 11);
  assert_true(w.held[S * 4 + 0] == R2);
  assert_int_equal(w.counts[0].adoptions, 2);
  assert_int_equal(w.counts[0].commons_adoptions, 2);
  assert_int_equal(w.counts[0].new_commons_users, 1);
  assert_int_equal(held_count(&w, S2), 0);
  fx_done(&cfg, &w);
}

/* The draws of the commons: ∝ v, redrawn if held or own (clhs_commons_find directly). */
static void test_commons_draws(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(1, 1.0));
  cfg.resources.decay = 0;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  const int64_t Z = w.first[CLHS_CLIN][0], n = w.n;
  const uint64_t A = add_res(&w, 1, Z, 0, 3, 16384, 0); /* v = 0.25 */
  const uint64_t B = add_res(&w, 1, Z, 1, 3, 49151, 0); /* v = 0.75 */
  add_commons(&w, A);
  add_commons(&w, B);
  assert_true(fabs((double)w.commons.total[3] / CLHS_FIXED_ONE - 1.0) < 1e-4);
  clhs_commons_search *s = calloc((size_t)n, sizeof *s);
  assert_non_null(s);
  for (int64_t i = 0; i < n; i++)
    s[i] = (clhs_commons_search){w.gid_begin + i, 0.5f, 3};
  /* Nobody holds either: A in a quarter of the finds (the creator Z finds nothing). */
  clhs_commons_found *f = NULL;
  int64_t nf = 0, na = 0;
  assert_int_equal(clhs_commons_find(&w, 2, s, n, &f, &nf), CLHS_OK);
  assert_int_equal(nf, n - 1);
  for (int64_t k = 0; k < nf; k++) {
    assert_true(f[k].g != w.gid_begin + Z);
    assert_true(f[k].id == A || f[k].id == B);
    assert_true(f[k].f == 0.5f);
    na += f[k].id == A;
  }
  const double sd = sqrt(0.25 * 0.75 / (double)nf);
  assert_true(fabs((double)na / (double)nf - 0.25) < 5 * sd);
  free(f);
  /* Holding B: every find is A (redrawn until it is; 16 tries find it but for 0.75^16). */
  for (int64_t i = 0; i < n; i++)
    set_held(&w, i, &B, 1);
  assert_int_equal(clhs_commons_find(&w, 3, s, n, &f, &nf), CLHS_OK);
  assert_true(nf > n - 1 - 5);
  for (int64_t k = 0; k < nf; k++)
    assert_true(f[k].id == A && f[k].q == 16384);
  free(f);
  free(s);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 4. adoption */

static void test_adoption(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(1, 1.0));
  cfg.resources.p_tie = 1;
  cfg.resources.decay = 0;
  cfg.resources.beta_peer = 2;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  assert_int_equal(cfg.resources.held_max, 4);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  int64_t Y, P;
  family_pair(&w, 0, &Y, &P);
  const int64_t X = w.first[CLHS_PAT][0] == P ? w.first[CLHS_PAT][0] + 1 : w.first[CLHS_PAT][0];
  const int64_t Z = w.first[CLHS_CLIN][0];
  add_tie(&w, X, Y, CLHS_TIE_PEER, 3); /* weight 1: every new resource of X reaches Y */
  w.m[Y] = 1;
  /* Y's neighbours are P (care) and X; P holds a category-2 resource, so f = 1/2 and a
   * resource of quality 1/2 is adopted with probability 1/2 (0.5 + 0.5 m)(1 + 2 f) = 1
   * (1/2 if f were ignored: twenty adoptions in a row say it is not). */
  const uint64_t kp[] = {clhs_res_id(1, fx_gid(&w, Z), 5, 2)};
  set_held(&w, P, kp, 1);
  const uint64_t h[4] = {clhs_res_id(4, fx_gid(&w, Z), 1, 0), clhs_res_id(3, fx_gid(&w, Z), 1, 0),
                         clhs_res_id(2, fx_gid(&w, Z), 1, 0), clhs_res_id(1, fx_gid(&w, Z), 1, 0)};
  const double v = clhs_quality_v0(32768);
  for (int64_t t = 10; t < 30; t++) {
    set_held(&w, Y, h, 4);
    w.cover[Y * 4 + 2] = 0.1f;
    const uint64_t R = add_res(&w, t - 1, X, 0, 2, 32768, 0);
    run_phase(&w, t);
    /* Newest first, the oldest dropped. */
    assert_true(w.held[Y * 4 + 0] == R);
    assert_int_equal(w.held_q[Y * 4 + 0], 32768);
    for (int k = 1; k < 4; k++)
      assert_true(w.held[Y * 4 + k] == h[k - 1]);
    assert_true(w.cover[Y * 4 + 2] == (float)(0.1f + 0.3 * v));
    assert_int_equal(w.succ[Y], 1);
    assert_false(agent_holds(&w, X, R)); /* a creator never adopts its own */
    assert_int_equal(w.res.adoptions[res_index(&w, R)], holders(&w, R));
    assert_int_equal(w.succ[X], holders(&w, R));
  }
  /* A resource it already holds is not adopted again. */
  const uint64_t R = add_res(&w, 29, X, 0, 2, 32768, 0);
  const uint64_t hr[4] = {R, h[0], h[1], h[2]};
  set_held(&w, Y, hr, 4);
  run_phase(&w, 30);
  for (int k = 0; k < 4; k++)
    assert_true(w.held[Y * 4 + k] == hr[k]);
  assert_int_equal(w.succ[Y], 0);
  assert_int_equal(w.res.adoptions[res_index(&w, R)], holders(&w, R) - 1);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 5. research */

static void test_research(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(2, 0.5));
  cfg.population.researchers_min = 30;
  cfg.resources.research_rate = 50;
  cfg.resources.evidence_gain = 0.5;
  cfg.resources.p_post = 1;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  assert_true(w.first[CLHS_RES][0] < w.first[CLHS_NTYPES][0]);
  for (int64_t i = 0; i < w.n; i++)
    if (w.type[i] == CLHS_RES) w.m[i] = w.K[i] = 1; /* in both centres */
  w.N_rec = 1718;                                   /* log(1 + N_rec / 1000) = 1.0 */
  const double E0 = w.E_tx;
  run_phase(&w, 3);
  /* Knowledge resources of category 0 by researchers of the member centre only. */
  double E = E0;
  int64_t n = 0, L = 0; /* L: the fixed-point sum of log(1 - gain v0) (resources.c) */
  for (int64_t k = 0; k < w.res.n; k++) {
    const uint64_t id = w.res.id[k];
    const int64_t i = clhs_res_creator(id) - w.gid_begin;
    assert_int_equal(clhs_res_step(id), 3);
    assert_int_equal(clhs_res_cat(id), 0);
    assert_int_equal(w.res.kind[k], CLHS_RES_KNOWLEDGE);
    assert_int_equal(w.type[i], CLHS_RES);
    assert_int_equal(w.centre[i], 0);
    E += 0.5 * clhs_quality_v0(w.res.q[k]) * (1 - E); /* one at a time, as §7 says */
    L += llround(log1p(-0.5 * clhs_quality_v0(w.res.q[k])) * 0x1p36);
    n++;
  }
  assert_true(n > 0);
  assert_int_equal(w.counts[0].created[CLHS_RES_KNOWLEDGE], n);
  assert_int_equal(w.counts[1].created[CLHS_RES_KNOWLEDGE], 0);
  assert_true(w.E_tx == 1 - (1 - E0) * exp((double)L * 0x1p-36)); /* the same product */
  assert_true(fabs(w.E_tx - E) < 1e-9);
  /* (1 - E_tx) times a product of many factors can round to 0: E_tx reaches 1, never more */
  assert_true(w.E_tx > E0 && w.E_tx <= 1);
  /* Saturation: near 1 it rises less and stays below 1. Last week's research is shared
   * like any resource (posted here). */
  const int64_t before = w.res.n;
  w.E_tx = 0.999;
  run_phase(&w, 4);
  E = 0.999;
  for (int64_t k = before; k < w.res.n; k++)
    E += 0.5 * clhs_quality_v0(w.res.q[k]) * (1 - E);
  assert_true(w.res.n > before);
  assert_true(fabs(w.E_tx - E) < 1e-12);
  assert_true(w.E_tx > 0.999 && w.E_tx <= 1);
  assert_int_equal(w.commons.n, before);
  for (int64_t k = 0; k < before; k++)
    assert_int_equal(w.res.in_commons[k], 1);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ 6. obsolescence */

static void test_obsolescence(void **state) {
  (void)state;
  clhs_config cfg;
  fx_config(&cfg, CENTRES(1, 1.0));
  cfg.resources.decay = 0.1;
  cfg.resources.p_tie = 1;
  cfg.resources.beta_peer = 100;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  quiet(&w);
  const int64_t a = w.first[CLHS_CLIN][0];
  const float s0[4] = {0.9f, 0.05f, 0.1f, 1.0f};
  const double s1[4] = {0.82, 0.055, 0.1, 0.91}; /* s - 0.1 (s - 0.1) */
  for (int k = 0; k < 4; k++)
    w.cover[a * 4 + k] = s0[k];
  run_phase(&w, 10);
  for (int k = 0; k < 4; k++)
    assert_true(fabs(w.cover[a * 4 + k] - s1[k]) < 1e-6);
  /* A resource a week old has quality 0.9 v0: adopted (f = 1/2, beta_peer = 100), its
   * coverage gain 0.3 x 0.9, then the week's decay: 0.1 + 0.27 - 0.1 x 0.27 = 0.343. */
  int64_t Y, P;
  family_pair(&w, 0, &Y, &P);
  const int64_t X = w.first[CLHS_PAT][0] == P ? w.first[CLHS_PAT][0] + 1 : w.first[CLHS_PAT][0];
  add_tie(&w, X, Y, CLHS_TIE_PEER, 3);
  w.m[Y] = 1;
  const uint64_t kp[] = {clhs_res_id(1, fx_gid(&w, a), 5, 2)};
  set_held(&w, P, kp, 1);
  const uint64_t R = add_res(&w, 10, X, 0, 2, 65535, 0);
  run_phase(&w, 11);
  assert_true(agent_holds(&w, Y, R));
  assert_true(fabs(w.cover[Y * 4 + 2] - 0.343) < 1e-6);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------ determinism */

static double unit(uint64_t g, int salt) {
  return (double)(fx_mix64(g * 16 + (uint64_t)salt) >> 11) * 0x1p-53;
}

/* A busy world of 5 centres with random cross-centre ties, 30 weeks of phase 4 (and tie
 * decay); returns a digest of everything phase 4 touches, summed over agents, tie ends,
 * resources and centres (so it does not depend on the decomposition). */
static uint64_t busy_digest(int threads) {
  omp_set_num_threads(threads);
  clhs_config cfg;
  fx_config(&cfg, &(fx_opts){.centres = 5,
                             .patients = 60,
                             .patients_min = 50,
                             .patients_max = 80,
                             .members = 1.0,
                             .no_joins = 1});
  for (int k = 0; k < 4; k++)
    cfg.resources.rate[k] = 0.5;
  cfg.resources.research_rate = 1;
  cfg.resources.p_search = 0.6;
  cfg.resources.find_rate = 0.5;
  fx_finalize(&cfg, FX_ALL_LEVERS, 0);
  clhs_world w;
  fx_world(&cfg, &w);
  for (int64_t i = 0; i < w.n; i++) {
    const uint64_t g = (uint64_t)fx_gid(&w, i);
    w.E[i] = (uint8_t)(fx_mix64(g) % 5);
    w.m[i] = (float)unit(g, 1);
    w.K[i] = (float)unit(g, 2);
    for (int k = 0; k < 4; k++)
      w.need[i * 4 + k] = (float)unit(g, 3 + k);
  }
  /* Random cross-centre ties, listed by rank 0 and delivered to both ends. */
  int64_t *g0 = fx_centre_gid0(&w);
  clhs_tie_msg *m = NULL;
  int64_t nm = 0;
  if (comm.rank == 0) {
    const int64_t N = w.nagents, want = 3 * N;
    m = calloc((size_t)(2 * want), sizeof *m);
    assert_non_null(m);
    for (int64_t k = 0; k < want; k++) {
      const int64_t a = (int64_t)(fx_mix64((uint64_t)k * 2) % (uint64_t)N);
      const int64_t b = (int64_t)(fx_mix64((uint64_t)k * 2 + 1) % (uint64_t)N);
      if (fx_centre_of(&w, g0, a) == fx_centre_of(&w, g0, b)) continue;
      fx_msg_pair(m, &nm, a, b, CLHS_TIE_CREATE, k % 3 ? CLHS_TIE_EVENT : CLHS_TIE_ONLINE);
    }
  }
  fx_deliver(&w, m, nm);
  free(m);
  free(g0);
  w.N_rec = 3000;
  for (int64_t t = 1; t <= 30; t++) {
    clhs_ties_decay(&w);
    run_phase(&w, t);
  }
  fx_ties_ok(&w, "clhs_ties_check after 30 weeks");

  const int64_t hm = cfg.resources.held_max;
  uint64_t sum = 0, activity[3] = {0, 0, 0}; /* adoptions, res, held */
  for (int64_t i = 0; i < w.n; i++) {
    uint64_t h = fx_mix64((uint64_t)fx_gid(&w, i));
    FX_FOLD(h, w.succ[i] | (uint64_t)w.flags[i] << 16 | (uint64_t)w.E[i] << 24);
    for (int k = 0; k < 4; k++)
      FX_FOLD(h, fx_fbits(w.cover[i * 4 + k]));
    for (int64_t k = 0; k < hm; k++) {
      FX_FOLD(h, w.held[i * hm + k]);
      FX_FOLD(h, w.held_q[i * hm + k]);
    }
    activity[2] += (uint64_t)held_count(&w, i);
    sum += h;
  }
  sum += fx_ties_digest(&w, NULL);
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    const clhs_centre_counts *cc = &w.counts[lc];
    uint64_t h = fx_mix64((uint64_t)(w.c_begin + lc) + 99);
    for (int k = 0; k < CLHS_NRESKINDS; k++)
      FX_FOLD(h, cc->created[k]);
    FX_FOLD(h, cc->adoptions);
    FX_FOLD(h, cc->commons_adoptions);
    FX_FOLD(h, cc->new_commons_users);
    activity[0] += (uint64_t)cc->adoptions;
    sum += h;
  }
  for (int64_t k = 0; k < w.res.n; k++) {
    uint64_t h = fx_mix64(w.res.id[k]);
    FX_FOLD(h, w.res.q[k] | (uint64_t)w.res.kind[k] << 16 | (uint64_t)w.res.in_commons[k] << 24);
    FX_FOLD(h, w.res.adoptions[k]);
    sum += h;
  }
  activity[1] = (uint64_t)w.res.n;
  clhs_comm_sum_u64(&comm, &sum, 1);
  clhs_comm_sum_u64(&comm, activity, 3);
  /* The commons' size and totals and E_tx are network-wide: every rank must hold the same. */
  uint64_t ch = 0;
  FX_FOLD(ch, (uint64_t)w.commons.n);
  for (int k = 0; k < CLHS_NEEDS; k++)
    FX_FOLD(ch, (uint64_t)w.commons.total[k]);
  uint64_t eb;
  memcpy(&eb, &w.E_tx, sizeof eb);
  FX_FOLD(ch, eb);
  int64_t mx[2] = {(int64_t)(ch >> 1), -(int64_t)(ch >> 1)};
  clhs_comm_max_i64(&comm, mx, 2);
  assert_true(mx[0] == -mx[1]);
  assert_true(w.commons.n > 0);
  assert_true(w.E_tx > cfg.constants.init_evidence);
  /* The world was busy: resources, adoptions, held lists. */
  assert_true(activity[0] > 100 && activity[1] > 100 && activity[2] > 100);
  fx_done(&cfg, &w);
  return sum ^ ch;
}

/* The byte scans the phases use to find their rare agents (model_internal.h): the next byte
 * >= v and the list of all of them, against plain loops, for every length 0..70 and start,
 * thresholds 1, 2 and 4, sparse and dense bytes (tiers 0..4 and any byte value). */
static void test_byte_scans(void **state) {
  (void)state;
  uint8_t f[72];
  int32_t ix[72];
  uint32_t x = 99;
  long checked = 0;
  for (int dense = 0; dense < 3; dense++)
    for (int32_t n = 0; n <= 70; n++) {
      for (int32_t k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        const uint32_t r = x >> 16;
        f[k] = (uint8_t)(dense == 0 ? (r % 17 == 0 ? 1 + r % 4 : 0) : dense == 1 ? r % 5 : r);
      }
      for (unsigned v = 1; v <= 4; v *= 2) {
        int32_t want = 0;
        for (int32_t k = 0; k < n; k++)
          if (f[k] >= v) {
            assert_true(want < 72);
            ix[want] = -1;
            want++;
          }
        const int32_t got = clhs_compact_at_least(f, n, v, ix);
        assert_int_equal(got, want);
        for (int32_t j = 0, k = 0; k < n; k++)
          if (f[k] >= v) assert_int_equal(ix[j++], k);
        for (int64_t k0 = 0; k0 <= n; k0++) {
          int64_t next = k0;
          while (next < n && f[next] < v)
            next++;
          assert_int_equal(clhs_next_at_least(f, k0, n, v), next);
          if (v == 1) assert_int_equal(clhs_next_set(f, k0, n), next);
          checked++;
        }
      }
    }
  assert_true(checked > 10000);
}

static void test_determinism(void **state) {
  (void)state;
  const uint64_t d1 = busy_digest(1), d3 = busy_digest(3);
  assert_true(d1 == d3);
  fx_digest_settle(d1);
}

int main(int argc, char **argv) {
  fx_init(&argc, &argv);
  const struct CMUnitTest all[] = {
      cmocka_unit_test(test_creation),       cmocka_unit_test(test_sharing),
      cmocka_unit_test(test_discovery_ties), cmocka_unit_test(test_discovery_commons),
      cmocka_unit_test(test_commons_draws),  cmocka_unit_test(test_adoption),
      cmocka_unit_test(test_research),       cmocka_unit_test(test_obsolescence),
      cmocka_unit_test(test_byte_scans),     cmocka_unit_test(test_determinism),
  };
  const struct CMUnitTest multi[] = {cmocka_unit_test(test_determinism)};
  return fx_finish(comm.size == 1 ? cmocka_run_group_tests(all, NULL, NULL)
                                  : cmocka_run_group_tests(multi, NULL, NULL));
}
