/*
 * Phase 5, motivation (MODEL.md §5), and phase 6, the engagement ladder (§6), on
 * hand-built cases (src/model/motivation.c).
 *
 * Phase 5: the state of a few agents of every type and of their neighbours is set by
 * hand; the test computes §5 itself (relatedness from Σw over care and dynamic ties,
 * competence, autonomy targets by type, value, the sigmoid target, social influence,
 * the clamp) from the state as it was before the phase, with its own list of each
 * agent's neighbours, and compares to within 1e-6.
 *
 * Phase 6: forced moves, non-member centres, the top tier, and leader exposure and
 * outreach on cases where the agent's keyed draw u (CLHS_P_ENGAGE) is known, so that
 * the up probability is set just below u and a factor decides whether the agent moves.
 */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"
#include "clhs/rng.h"

#define NPAT 8 /* per centre; 2 clinicians (4 patients each), 3 QIS */

/* Two centres; @p share of them (the lowest indices) members from step 0. */
#define WORLD2(share)                                                                              \
  (&(fx_opts){.centres = 2, .patients = NPAT, .per_clinician = 4, .members = (share)})

/* Phases 5 and 6 on their own: they must succeed. */
static void motivation(clhs_world *w, int64_t t) {
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_phase_motivation(w, t, &err), CLHS_OK);
}
static void engagement(clhs_world *w, int64_t t) {
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_phase_engagement(w, t, &err), CLHS_OK);
}

static void lever_full(clhs_config *cfg, int lever, double max) {
  cfg->levers[lever].on_step = -1000;
  cfg->levers[lever].ramp = 0;
  cfg->levers[lever].max = max;
}

static void lever_off(clhs_config *cfg, int lever) {
  cfg->levers[lever].on_step = 1e9;
}

/* A tie (op CLHS_TIE_CREATE) or its end (CLHS_TIE_DROP) at both ends. */
static void tie(clhs_world *w, int32_t a, int32_t b, int op, int kind) {
  clhs_tie_event ev[2];
  int64_t n = 0;
  fx_event_pair(ev, &n, w, a, b, op, kind);
  fx_apply(w, ev, n);
}

/* ------------------------------------------------------------------ phase 5 */

/* The state before the phase. */
typedef struct snap {
  float *m, *A, *K, *Rl, *V, *need, *cover;
  uint8_t *E, *flags;
  uint16_t *succ;
} snap;

static float *fdup(const float *x, int64_t n) {
  float *y = malloc(sizeof *y * (size_t)n);
  assert_non_null(y);
  memcpy(y, x, sizeof *y * (size_t)n);
  return y;
}

static snap take(const clhs_world *w) {
  snap s;
  s.m = fdup(w->m, w->n);
  s.A = fdup(w->A, w->n);
  s.K = fdup(w->K, w->n);
  s.Rl = fdup(w->Rl, w->n);
  s.V = fdup(w->V, w->n);
  s.need = fdup(w->need, w->n * CLHS_NEEDS);
  s.cover = fdup(w->cover, w->n * CLHS_NEEDS);
  s.E = malloc((size_t)w->n);
  s.flags = malloc((size_t)w->n);
  s.succ = malloc(sizeof *s.succ * (size_t)w->n);
  assert_non_null(s.E);
  assert_non_null(s.flags);
  assert_non_null(s.succ);
  memcpy(s.E, w->E, (size_t)w->n);
  memcpy(s.flags, w->flags, (size_t)w->n);
  memcpy(s.succ, w->succ, sizeof *s.succ * (size_t)w->n);
  return s;
}

static void snap_free(snap *s) {
  free(s->m);
  free(s->A);
  free(s->K);
  free(s->Rl);
  free(s->V);
  free(s->need);
  free(s->cover);
  free(s->E);
  free(s->flags);
  free(s->succ);
}

/* Dynamic ties the test made, as its own record. */
typedef struct dyn {
  int32_t a, b;
  float w;
} dyn;

/*
 * The neighbours of local agent i, from the structure (§4 care ties, w = 0.8) and the
 * test's own list of dynamic ties; returns the count, with local indices and weights.
 */
static int nbrs(const clhs_world *w, int32_t i, const dyn *d, int nd, int32_t *who, double *wt) {
  const int64_t lc = w->centre[i];
  int n = 0;
  switch (w->type[i]) {
  case CLHS_PAT: {
    const int64_t p = w->pat_begin[lc] + (i - w->first[CLHS_PAT][lc]);
    if (w->pat_fam[p] >= 0) who[n] = w->pat_fam[p], wt[n++] = 0.8;
    who[n] = w->pat_clin[p], wt[n++] = 0.8;
    break;
  }
  case CLHS_FAM:
    for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++)
      if (w->pat_fam[p] == i) who[n] = w->pat_agent[p], wt[n++] = 0.8;
    break;
  default:
    if (w->type[i] == CLHS_CLIN)
      for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++)
        if (w->pat_clin[p] == i) who[n] = w->pat_agent[p], wt[n++] = 0.8;
    for (int32_t s = w->first[CLHS_CLIN][lc]; s < w->first[CLHS_NTYPES][lc]; s++)
      if (s != i) who[n] = s, wt[n++] = 0.8;
    break;
  }
  for (int k = 0; k < nd; k++) {
    if (d[k].a == i) who[n] = d[k].b, wt[n++] = d[k].w;
    if (d[k].b == i) who[n] = d[k].a, wt[n++] = d[k].w;
  }
  return n;
}

/* The clinician whose m sets a family member's autonomy target. */
static int32_t fam_clin(const clhs_world *w, int32_t i) {
  const int64_t lc = w->centre[i];
  for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++)
    if (w->pat_agent[p] == i || w->pat_fam[p] == i) return w->pat_clin[p];
  fail_msg("agent %d has no patient", i);
  return -1;
}

typedef struct expect {
  double m, A, K, Rl, V;
} expect;

static double clamp01(double x) {
  return x < 0 ? 0 : (x > 1 ? 1 : x);
}

/* MODEL.md §5 for agent i, from the snapshot (defaults: w_a = w_k = w_r = 2, w_v = 3,
 * theta = 3.5, eta = 0.05, gamma_r = 0.5, kappa_success 0.02, kappa_train 0.05, k_decay
 * 0.002, mu 0.05 / 0.03). */
static expect model5(const clhs_world *w, const snap *s, int32_t i, const dyn *d, int nd,
                     double mu_pat, double mu_staff) {
  int32_t who[256];
  double wt[256];
  const int nn = nbrs(w, i, d, nd, who, wt);
  const clhs_intensity *I = &w->I[w->centre[i]];
  double sw = 0, infl = 0;
  for (int k = 0; k < nn; k++) {
    sw += wt[k];
    infl += wt[k] * ((double)s->m[who[k]] - s->m[i]);
  }
  expect e;
  e.Rl = s->Rl[i] + 0.05 * (1 - exp(-0.5 * sw) - s->Rl[i]);
  const double trained = (s->flags[i] & CLHS_F_TRAINED) ? 1 : 0;
  e.K = s->K[i] + 0.02 * s->succ[i] * (1 - s->K[i]) + 0.05 * trained * I->train * (1 - s->K[i]) -
        0.002 * s->K[i];
  const double R = s->E[i] >= 2 ? I->roles : 0;
  double Astar = 0.3 + 0.4 * R;
  const int ty = w->type[i];
  if (ty == CLHS_PAT || ty == CLHS_FAM) Astar += 0.3 * s->m[fam_clin(w, i)];
  if (ty == CLHS_RES) Astar += 0.3 * I->research;
  e.A = s->A[i] + 0.05 * (Astar - s->A[i]);
  double num = 0, den = 0;
  for (int q = 0; q < CLHS_NEEDS; q++) {
    num += (double)s->need[i * CLHS_NEEDS + q] * s->cover[i * CLHS_NEEDS + q];
    den += s->need[i * CLHS_NEEDS + q];
  }
  e.V = s->V[i] + 0.05 * (num / den - s->V[i]);
  const double x = 2 * e.A + 2 * e.K + 2 * e.Rl + 3 * e.V - 3.5;
  const double mstar = 1 / (1 + exp(-x));
  const double mu = ty == CLHS_PAT || ty == CLHS_FAM ? mu_pat : mu_staff;
  e.m = clamp01(s->m[i] + 0.05 * (mstar - s->m[i]) + mu * infl / (sw + 1e-9));
  return e;
}

static void assert_close(double got, double want, const char *what, int32_t i) {
  if (!(fabs(got - want) <= 1e-6))
    fail_msg("agent %d: %s = %.9f, expected %.9f", i, what, got, want);
}

static void assert_agent(const clhs_world *w, int32_t i, expect e) {
  assert_close(w->m[i], e.m, "m", i);
  assert_close(w->A[i], e.A, "A", i);
  assert_close(w->K[i], e.K, "K", i);
  assert_close(w->Rl[i], e.Rl, "Rl", i);
  assert_close(w->V[i], e.V, "V", i);
}

static void set_agent(clhs_world *w, int32_t i, double m, double A, double K, double Rl, double V,
                      int E, int succ, int trained, const double need[4], const double cover[4]) {
  w->m[i] = (float)m;
  w->A[i] = (float)A;
  w->K[i] = (float)K;
  w->Rl[i] = (float)Rl;
  w->V[i] = (float)V;
  w->E[i] = (uint8_t)E;
  w->succ[i] = (uint16_t)succ;
  w->flags[i] = trained ? CLHS_F_TRAINED : 0;
  for (int q = 0; q < CLHS_NEEDS; q++) {
    w->need[(int64_t)i * CLHS_NEEDS + q] = (float)need[q];
    w->cover[(int64_t)i * CLHS_NEEDS + q] = (float)cover[q];
  }
}

static void test_motivation_formulas(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, WORLD2(1.0));
  lever_full(&cfg, CLHS_LEV_QI_TRAINING, 0.8);
  lever_full(&cfg, CLHS_LEV_ROLES, 0.6);
  lever_full(&cfg, CLHS_LEV_RESEARCH, 0.5);
  const int64_t t = 5;
  clhs_phase_levers_joins(&w, t);
  assert_true(fabs(w.I[0].train - 0.8) < 1e-12 && fabs(w.I[0].roles - 0.6) < 1e-12 &&
              fabs(w.I[0].research - 0.5) < 1e-12);

  /* The agents. a: a patient with a role (E = 2), trained, with successes; its caregiver
   * and clinician; b: another patient of centre 0, tied to a (synchronous update); f: a
   * caregiver whose patient's clinician is clin0; a clinician; a QIS of centre 1 tied to
   * a; a researcher. */
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 1), fa = fx_agent(&w, 0, CLHS_FAM, 1),
                ca = fx_agent(&w, 0, CLHS_CLIN, 1), b = fx_agent(&w, 0, CLHS_PAT, 5),
                f = fx_agent(&w, 0, CLHS_FAM, 2), clin0 = fx_agent(&w, 0, CLHS_CLIN, 0),
                qis = fx_agent(&w, 1, CLHS_QIS, 0), f3 = fx_agent(&w, 0, CLHS_FAM, 3);
  assert_int_equal(w.pat_clin[w.pat_begin[0] + 1], ca);
  assert_int_equal(w.pat_clin[w.pat_begin[0] + 2], clin0);
  int32_t res = -1;
  for (int32_t i = 0; i < w.n && res < 0; i++)
    if (w.type[i] == CLHS_RES) res = i;
  assert_true(res >= 0);
  const double n1[4] = {0.2, 0.5, 0.7, 0.1}, s1[4] = {0.1, 0.6, 0.3, 0.9};
  const double n2[4] = {0.9, 0.1, 0.4, 0.6}, s2[4] = {0.8, 0.1, 0.1, 0.5};
  set_agent(&w, a, 0.45, 0.4, 0.35, 0.2, 0.1, 2, 3, 1, n1, s1);
  set_agent(&w, b, 0.2, 0.6, 0.2, 0.7, 0.3, 1, 0, 0, n2, s2);
  set_agent(&w, f, 0.55, 0.3, 0.5, 0.4, 0.6, 3, 1, 1, n2, s1);
  set_agent(&w, clin0, 0.15, 0.7, 0.6, 0.5, 0.2, 2, 2, 1, n1, s2);
  set_agent(&w, qis, 0.65, 0.5, 0.5, 0.5, 0.05, 4, 0, 1, n1, s1);
  set_agent(&w, res, 0.33, 0.45, 0.55, 0.25, 0.15, 1, 5, 0, n2, s2);
  w.m[fa] = 0.7f;
  w.m[ca] = 0.9f;
  w.m[f3] = 0.05f;
  const dyn d[3] = {{a, b, 0.5f}, {a, qis, 0.5f}, {a, f3, 0.3f}};
  tie(&w, a, b, CLHS_TIE_CREATE, CLHS_TIE_PEER);
  tie(&w, a, qis, CLHS_TIE_CREATE, CLHS_TIE_EVENT);
  tie(&w, a, f3, CLHS_TIE_CREATE, CLHS_TIE_ONLINE);

  snap s = take(&w);
  const int32_t who[6] = {a, b, f, clin0, qis, res};
  expect e[6];
  for (int k = 0; k < 6; k++)
    e[k] = model5(&w, &s, who[k], d, 3, 0.05, 0.03);
  motivation(&w, t);
  for (int k = 0; k < 6; k++)
    assert_agent(&w, who[k], e[k]);
  /* Every other agent too (care ties only), from the same snapshot. */
  for (int32_t i = 0; i < w.n; i++)
    assert_agent(&w, i, model5(&w, &s, i, d, 3, 0.05, 0.03));

  /* Synchronous: b read a's m as it was (0.45), not a's new m; the difference is well
   * above the tolerance, so the test would see a sequential update. */
  snap sq = take(&w);
  memcpy(sq.m, s.m, sizeof(float) * (size_t)w.n);
  sq.m[a] = (float)e[0].m;
  memcpy(sq.A, s.A, sizeof(float) * (size_t)w.n);
  memcpy(sq.K, s.K, sizeof(float) * (size_t)w.n);
  memcpy(sq.Rl, s.Rl, sizeof(float) * (size_t)w.n);
  memcpy(sq.V, s.V, sizeof(float) * (size_t)w.n);
  const expect seq = model5(&w, &sq, b, d, 3, 0.05, 0.03);
  assert_true(fabs(seq.m - e[1].m) > 1e-5);
  snap_free(&sq);
  snap_free(&s);

  /* Without ties beyond the care ties, a's relatedness target falls; weights change the
   * influence (a second week from the new state). */
  tie(&w, a, f3, CLHS_TIE_DROP, 0);
  s = take(&w);
  motivation(&w, t + 1);
  assert_agent(&w, a, model5(&w, &s, a, d, 2, 0.05, 0.03));
  assert_agent(&w, b, model5(&w, &s, b, d, 2, 0.05, 0.03));
  snap_free(&s);

  /* Other weights and influence rates from the config. */
  cfg.motivation.mu_patient = 0.2;
  cfg.motivation.mu_staff = 0.1;
  s = take(&w);
  motivation(&w, t + 2);
  for (int k = 0; k < 6; k++)
    assert_agent(&w, who[k], model5(&w, &s, who[k], d, 2, 0.2, 0.1));
  snap_free(&s);
  fx_done(&cfg, &w);
}

/* m is clamped to [0, 1] when the influence term overshoots. */
static void test_motivation_clamp(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, WORLD2(1.0));
  clhs_phase_levers_joins(&w, 5);
  cfg.motivation.mu_patient = 1.0;
  const int32_t hi = fx_agent(&w, 0, CLHS_PAT, 6), lo = fx_agent(&w, 0, CLHS_PAT, 7);
  const int32_t chi = w.pat_clin[w.pat_begin[0] + 6], clo = w.pat_clin[w.pat_begin[0] + 7];
  assert_true(chi != clo);
  w.m[hi] = 0.98f;
  w.m[w.pat_fam[w.pat_begin[0] + 6]] = 1.0f;
  w.m[chi] = 1.0f;
  w.m[lo] = 0.1f;
  w.m[w.pat_fam[w.pat_begin[0] + 7]] = 0.0f;
  w.m[clo] = 0.0f;
  /* Strong need coverage for hi, none for lo: targets near 1 and 0. */
  for (int q = 0; q < CLHS_NEEDS; q++) {
    w.cover[(int64_t)hi * CLHS_NEEDS + q] = 1.0f;
    w.cover[(int64_t)lo * CLHS_NEEDS + q] = 0.0f;
  }
  w.A[hi] = w.K[hi] = w.Rl[hi] = w.V[hi] = 1.0f;
  w.A[lo] = w.K[lo] = w.Rl[lo] = w.V[lo] = 0.0f;
  w.succ[hi] = w.succ[lo] = 0;
  w.flags[hi] = w.flags[lo] = 0;
  /* hi: 0.98 + 0.05 (m* - 0.98) + 1.0 (0.02) > 1; lo: 0.1 + 0.05 (m* - 0.1) - 0.1 < 0 */
  snap s = take(&w);
  const expect ehi = model5(&w, &s, hi, NULL, 0, 1.0, 0.03);
  const expect elo = model5(&w, &s, lo, NULL, 0, 1.0, 0.03);
  assert_true(ehi.m == 1.0 && elo.m == 0.0);
  motivation(&w, 5);
  assert_true(w.m[hi] == 1.0f);
  assert_true(w.m[lo] == 0.0f);
  assert_agent(&w, hi, ehi);
  assert_agent(&w, lo, elo);
  snap_free(&s);
  fx_done(&cfg, &w);
}

/* ------------------------------------------------------------------ phase 6 */

/* The agent's draw in phase 6 at step t. */
static double engage_u(const clhs_world *w, int32_t i, int64_t t) {
  clhs_rng r;
  clhs_rng_init(&r, w->cfg->run.seed, (uint32_t)t, (uint64_t)fx_gid(w, i), CLHS_P_ENGAGE);
  return clhs_rng_uniform(&r);
}

static void test_engagement_forced(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, WORLD2(0.5)); /* centre 0 a member, centre 1 not */
  const int64_t t = 5;            /* not a Bass step: centre 1 stays out */
  clhs_phase_levers_joins(&w, t);
  assert_int_equal(w.member[0], 1);
  assert_int_equal(w.member[1], 0);
  for (int k = 0; k < 4; k++) {
    cfg.engagement.up_family[k] = 1;
    cfg.engagement.up_staff[k] = 1;
    cfg.engagement.down[k] = 1;
  }
  /* Members: everyone unaware with m = 1 becomes aware (p_up = 1; one move only).
   * Non-members: nobody moves, up or down. */
  for (int32_t i = 0; i < w.n; i++) {
    w.m[i] = 1.0f;
    w.E[i] = (uint8_t)(w.centre[i] == 0 ? 0 : i % 2);
  }
  engagement(&w, t);
  for (int32_t i = 0; i < w.n; i++)
    assert_int_equal(w.E[i], w.centre[i] == 0 ? 1 : i % 2);
  /* Tiers 1-3 move up by exactly one; the top tier cannot move up, and with down[3] = 1
   * it moves down by one. */
  for (int32_t i = 0; i < w.n; i++)
    w.E[i] = (uint8_t)(w.centre[i] == 0 ? 1 + i % 4 : 1);
  engagement(&w, t + 1);
  for (int32_t i = 0; i < w.n; i++) {
    const int E0 = w.centre[i] == 0 ? 1 + i % 4 : 1;
    assert_int_equal(w.E[i], w.centre[i] == 0 ? (E0 == 4 ? 3 : E0 + 1) : 1);
  }
  /* At E = 4 with down[3] = 0: no move at all. */
  cfg.engagement.down[3] = 0;
  for (int32_t i = 0; i < w.n; i++)
    w.E[i] = 4;
  engagement(&w, t + 2);
  for (int32_t i = 0; i < w.n; i++)
    assert_int_equal(w.E[i], 4);
  /* p_up = 0 and down[0] = 0: awareness is never lost. */
  for (int k = 0; k < 4; k++) {
    cfg.engagement.up_family[k] = 0;
    cfg.engagement.up_staff[k] = 0;
  }
  cfg.engagement.down[0] = 0;
  for (int32_t i = 0; i < w.n; i++)
    w.E[i] = 1;
  engagement(&w, t + 3);
  for (int32_t i = 0; i < w.n; i++)
    assert_int_equal(w.E[i], 1);
  /* m = 0: no up move, whatever up[] says. */
  cfg.engagement.up_family[0] = cfg.engagement.up_staff[0] = 1;
  for (int32_t i = 0; i < w.n; i++) {
    w.E[i] = 0;
    w.m[i] = 0;
  }
  engagement(&w, t + 4);
  for (int32_t i = 0; i < w.n; i++)
    assert_int_equal(w.E[i], 0);
  fx_done(&cfg, &w);
}

/*
 * Leader exposure L = Σ w [E_j = 4] and outreach O, against the agent's own keyed draw u:
 * up is set to u / 1.2, so the agent moves exactly when (1 + beta_lead L) O > 1.2.
 */
static void test_engagement_leaders(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, WORLD2(1.0));
  lever_off(&cfg, CLHS_LEV_ENGAGEMENT);
  lever_off(&cfg, CLHS_LEV_OUTREACH);
  int64_t t = 5;
  clhs_phase_levers_joins(&w, t);
  assert_true(w.I[0].beta_lead_extra == 0 && w.I[0].outreach == 0);
  const int32_t a = fx_agent(&w, 0, CLHS_PAT, 1), fa = fx_agent(&w, 0, CLHS_FAM, 1),
                ca = fx_agent(&w, 0, CLHS_CLIN, 1), p5 = fx_agent(&w, 0, CLHS_PAT, 5),
                f5 = fx_agent(&w, 0, CLHS_FAM, 5);
  assert_int_equal(w.pat_clin[w.pat_begin[0] + 1], ca);
  tie(&w, a, p5, CLHS_TIE_CREATE, CLHS_TIE_PEER);   /* 0.5 */
  tie(&w, a, f5, CLHS_TIE_CREATE, CLHS_TIE_ONLINE); /* 0.3 */
  const double u = engage_u(&w, a, t);
  cfg.engagement.up_family[1] = u / 1.2;
  assert_true(cfg.engagement.down[0] == 0);
  /* {E of clinician, of p5, of f5, moves?}: L = 0, 0.8, 0.5, 0.3, 0.8 -> factor 1, 1.4,
   * 1.25, 1.15, 1.4 */
  const int cases[5][4] = {{3, 3, 3, 0}, {4, 3, 3, 1}, {3, 4, 3, 1}, {3, 3, 4, 0}, {3, 4, 4, 1}};
  for (int k = 0; k < 5; k++) {
    for (int32_t i = 0; i < w.n; i++)
      w.m[i] = 1.0f;
    w.E[a] = 1;
    w.E[fa] = 1;
    w.E[ca] = (uint8_t)cases[k][0];
    w.E[p5] = (uint8_t)cases[k][1];
    w.E[f5] = (uint8_t)cases[k][2];
    engagement(&w, t);
    if (w.E[a] != 1 + cases[k][3])
      fail_msg("case %d: E = %d, expected %d (u = %g)", k, w.E[a], 1 + cases[k][3], u);
  }
  /* m scales the probability: with m = 0.8 even the 1.4 factor stays below u (1.12 u / 1.2). */
  w.E[a] = 1;
  w.E[ca] = 4;
  w.E[p5] = w.E[f5] = 3;
  w.m[a] = 0.8f;
  engagement(&w, t);
  assert_int_equal(w.E[a], 1);

  /* Synchronous: p5 climbs from 3 to 4 this week (up_family[3] = 1); a reads its old tier. */
  cfg.engagement.up_family[3] = 1;
  for (int32_t i = 0; i < w.n; i++)
    w.m[i] = 1.0f;
  w.E[a] = 1;
  w.E[ca] = 3;
  w.E[p5] = 3;
  w.E[f5] = 3;
  engagement(&w, t);
  assert_int_equal(w.E[p5], 4);
  assert_int_equal(w.E[a], 1);
  cfg.engagement.up_family[3] = 0.0001;

  /* The engagement lever adds engagement_lead (0.5) x its intensity to beta_lead: the
   * online leader alone (L = 0.3) now gives 1 + 1.0 x 0.3 = 1.3 > 1.2. */
  lever_full(&cfg, CLHS_LEV_ENGAGEMENT, 1.0);
  clhs_phase_levers_joins(&w, t);
  assert_true(w.I[0].beta_lead_extra == 0.5 && w.I[0].outreach == 1.0);
  w.E[a] = 1;
  w.E[ca] = 3;
  w.E[p5] = 3;
  w.E[f5] = 4;
  engagement(&w, t);
  assert_int_equal(w.E[a], 2);

  /* Outreach (O = 1 + 1.5 I_outreach) acts only on the move from unaware: b at E = 0 with
   * up_family[0] = u_b / 2 moves with the lever on (2.5 / 2 > 1), not without. */
  const int32_t b = fx_agent(&w, 0, CLHS_PAT, 3), fb = fx_agent(&w, 0, CLHS_FAM, 3);
  const int32_t cb = w.pat_clin[w.pat_begin[0] + 3];
  const double ub = engage_u(&w, b, t);
  cfg.engagement.up_family[0] = ub / 2;
  w.E[b] = 0;
  w.E[fb] = 0;
  w.E[cb] = 3;
  engagement(&w, t);
  assert_int_equal(w.E[b], 1);
  lever_off(&cfg, CLHS_LEV_ENGAGEMENT);
  clhs_phase_levers_joins(&w, t);
  w.E[b] = 0;
  w.E[fb] = 0;
  w.E[cb] = 3;
  engagement(&w, t);
  assert_int_equal(w.E[b], 0);
  /* The outreach lever (2017) adds to I_outreach as well. */
  lever_full(&cfg, CLHS_LEV_OUTREACH, 1.0);
  clhs_phase_levers_joins(&w, t);
  assert_true(w.I[0].outreach == 1.0 && w.I[0].beta_lead_extra == 0);
  w.E[b] = 0;
  w.E[fb] = 0;
  w.E[cb] = 3;
  engagement(&w, t);
  assert_int_equal(w.E[b], 1);
  fx_done(&cfg, &w);
}

FX_MAIN(cmocka_unit_test(test_motivation_formulas), cmocka_unit_test(test_motivation_clamp),
        cmocka_unit_test(test_engagement_forced), cmocka_unit_test(test_engagement_leaders))
