/* The care and centre rules of MODEL.md §2, §3, §8, §9 on hand-built cases. */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

/* Phase 7 on its own: it must succeed. */
static void care(clhs_world *w, int64_t t) {
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_phase_care(w, t, &err), CLHS_OK);
}

static int cmp_i32(const void *a, const void *b) {
  return (*(const int32_t *)a > *(const int32_t *)b) - (*(const int32_t *)a < *(const int32_t *)b);
}

/* §2: LogNormal(median 250, sigma 0.6), rounded half-up, redrawn into [50, 1000]. */
static void test_centre_size_distribution(void **state) {
  (void)state;
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.centres = 4000});
  enum { N = 4000 };
  static int32_t n[N];
  double sl = 0, sl2 = 0;
  for (int c = 0; c < N; c++) {
    n[c] = clhs_centre_patients(&cfg, c);
    assert_true(n[c] >= 50 && n[c] <= 1000);
    assert_int_equal(n[c], clhs_centre_patients(&cfg, c)); /* keyed: same centre, same size */
    sl += log(n[c]);
    sl2 += log(n[c]) * log(n[c]);
  }
  qsort(n, N, sizeof n[0], cmp_i32);
  assert_true(n[N / 2] > 235 && n[N / 2] < 265);
  double sd = sqrt(sl2 / N - (sl / N) * (sl / N));
  assert_true(sd > 0.5 && sd < 0.62); /* 0.6 before truncation at both ends */
  cfg.population.patients_min = 300;
  cfg.population.patients_max = 301;
  for (int c = 0; c < 50; c++) {
    int32_t k = clhs_centre_patients(&cfg, c);
    assert_true(k == 300 || k == 301);
  }
  clhs_config_free(&cfg);
}

/* §2 counts and global ids: centre by centre, PAT, FAM, CLIN, QIS, RES. */
static void test_world_structure(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, &(fx_opts){.centres = 30});
  assert_int_equal(w.c_count, 30);
  int64_t res = 0;
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    int32_t np = w.first[CLHS_FAM][lc] - w.first[CLHS_PAT][lc];
    int32_t nf = w.first[CLHS_CLIN][lc] - w.first[CLHS_FAM][lc];
    int32_t ncl = w.first[CLHS_QIS][lc] - w.first[CLHS_CLIN][lc];
    int32_t nq = w.first[CLHS_RES][lc] - w.first[CLHS_QIS][lc];
    res += w.first[CLHS_NTYPES][lc] - w.first[CLHS_RES][lc];
    assert_int_equal(np, clhs_centre_patients(&cfg, lc));
    assert_int_equal(nf, np); /* caregivers_per_patient = 1 */
    assert_int_equal(ncl, (np + 31) / 32);
    assert_int_equal(nq, 3 + np / 300);
    assert_int_equal(w.first[0][lc], lc ? w.first[CLHS_NTYPES][lc - 1] : 0); /* contiguous */
    for (int64_t p = w.pat_begin[lc]; p < w.pat_begin[lc + 1]; p++) {
      int32_t k = (int32_t)(p - w.pat_begin[lc]);
      assert_int_equal(w.pat_clin[p], w.first[CLHS_CLIN][lc] + k % ncl); /* round-robin */
      assert_int_equal(w.pat_fam[p], w.first[CLHS_FAM][lc] + k);
      assert_int_equal(w.type[w.pat_agent[p]], CLHS_PAT);
      assert_int_equal(w.pga[p], w.X[p]);
      assert_true(w.next_visit[p] >= 0 && w.next_visit[p] <= 12);
      if (w.X[p] == CLHS_REM) assert_int_equal(w.ster[p], 0);
    }
  }
  assert_int_equal(res, 6); /* max(5, round(0.2 * 30)) */
  /* One rank: the ranks' bounds are [0, nagents]; the first rows are 0, the totals its own. */
  assert_int_equal(w.rank_gid0[0], 0);
  assert_int_equal(w.rank_gid0[1], w.nagents);
  assert_int_equal(w.n, w.nagents);
  assert_int_equal(w.pat_row0 + w.clin_row0 + w.qis_row0, 0);
  assert_int_equal(w.npatients, w.npat);
  assert_int_equal(w.nclin_total, w.nclin);
  assert_int_equal(w.nqis_total, w.nqis);
  /* Non-member centres hold engagement at most 1 until they join. */
  for (int64_t i = 0; i < w.n; i++)
    if (!w.member[w.centre[i]]) assert_true(w.E[i] <= 1);
  fx_done(&cfg, &w);

  /* Half the patients with a caregiver: counts follow a binomial, caregivers map 1:1. */
  fx_make(&cfg, &w, &(fx_opts){.centres = 10, .caregivers = 0.5});
  int64_t withfam = 0;
  for (int64_t p = 0; p < w.npat; p++)
    withfam += w.pat_fam[p] >= 0;
  int64_t nfam = 0;
  for (int64_t lc = 0; lc < w.c_count; lc++)
    nfam += w.first[CLHS_CLIN][lc] - w.first[CLHS_FAM][lc];
  assert_int_equal(withfam, nfam);
  assert_true(fabs((double)nfam / (double)w.npat - 0.5) < 0.05);
  fx_done(&cfg, &w);
}

static void test_hazards(void **state) {
  (void)state;
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.centres = 1});
  assert_true(fabs(clhs_care_h_rel(&cfg, 0.5, 0, 0, 0) - 0.016) < 1e-15);
  assert_true(fabs(clhs_care_h_rel(&cfg, 1, 1, 1, 0) - 0.016 * 0.6 * 0.6 * 0.7) < 1e-15);
  /* v1.2 defaults: rel_evidence 0 leaves h_rel alone; M1 scales only the induction boost */
  assert_true(clhs_care_h_rel(&cfg, 1, 1, 1, 0.3) == clhs_care_h_rel(&cfg, 1, 1, 1, 0));
  assert_true(fabs(clhs_care_h_rem(&cfg, 0.5, 0, 0, 0) - 0.0125) < 1e-15);
  assert_true(fabs(clhs_care_h_rem(&cfg, 1, 1, 3, 0) - 0.0125 * 1.4 * 2.0 * 1.45) < 1e-15);
  assert_true(clhs_care_h_rem(&cfg, 1, 1, 0, 0.2) == clhs_care_h_rem(&cfg, 1, 1, 0, 0));
  assert_true(fabs(clhs_care_h_rem(&cfg, 1, 1, 3, 0.2) - 0.0125 * 1.4 * 2.0 * 1.45 * 2.35) < 1e-15);
  assert_true(clhs_care_evidence_gain(&cfg, 0.05) == 0);
  assert_true(fabs(clhs_care_evidence_gain(&cfg, 0.3) - 0.2) < 1e-15);
  assert_true(fabs(clhs_care_p_steroid(&cfg, 0.5, 0.4) - 0.55 * 0.85) < 1e-15);
  cfg.care.rel_evidence = 0.5;
  assert_true(fabs(clhs_care_h_rel(&cfg, 0.5, 0, 0, 0.2) - 0.016 * 0.9) < 1e-15);
  cfg.care.steroid_g = 0.6; /* v1.1 */
  cfg.care.steroid_etx = 0.5;
  cfg.care.steroid_start = 0.6;
  assert_true(fabs(clhs_care_p_steroid(&cfg, 0.5, 0.4) - 0.6 * 0.7 * 0.8) < 1e-15);
  assert_true(fabs(clhs_care_p_escalate(&cfg, 0.5, 0.5, 1, 0.5) - 0.25 * 1.5 * 1.1) < 1e-15);
  assert_true(clhs_care_p_escalate(&cfg, 1, 1, 1, 1) == 1.0);
  clhs_config_free(&cfg);
}

/* §9 schedule: 7 members at the start, 23 on 2009-06-01, 96 from 2017-06-01, scaled. */
static void test_schedule(void **state) {
  (void)state;
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.centres = 100});
  assert_int_equal(clhs_schedule_members(&cfg, 0), 7);
  /* 2009-06-01 is day 882 after 2007-01-01: step 126 is day 882. */
  assert_int_equal(clhs_schedule_members(&cfg, 126), 23);
  assert_int_equal(clhs_schedule_members(&cfg, 700), 96);
  int64_t prev = 0;
  for (int64_t t = 0; t < 730; t++) {
    int64_t m = clhs_schedule_members(&cfg, t);
    assert_true(m >= prev);
    prev = m;
  }
  clhs_config_free(&cfg);
  fx_make(&cfg, NULL, &(fx_opts){.centres = 200});
  assert_int_equal(clhs_schedule_members(&cfg, 0), 14);
  assert_int_equal(clhs_schedule_members(&cfg, 700), 192);
  clhs_config_free(&cfg);
}

/* A world of one member centre, with its first patient set up by hand. */
static void one_centre(clhs_config *cfg, clhs_world *w) {
  fx_make(cfg, w, &(fx_opts){.centres = 1, .members = 1}); /* a member from step 0 */
  assert_int_equal(w->member[0], 1);
}

static void test_visit_schedule(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  one_centre(&cfg, &w);
  cfg.care.misread = 0;
  const int64_t t = 20;
  clhs_phase_levers_joins(&w, t);
  w.X[0] = CLHS_REM;
  w.next_visit[0] = (int32_t)t;
  w.X[1] = CLHS_ACT;
  w.next_visit[1] = (int32_t)t;
  w.X[2] = CLHS_REM;
  w.next_visit[2] = (int32_t)t + 3;
  care(&w, t);
  assert_int_equal(w.last_visit[0], t);
  assert_int_equal(w.next_visit[0], t + 13); /* pga REM: 13 weeks */
  assert_int_equal(w.pga[1], CLHS_ACT);
  assert_int_equal(w.next_visit[1], t + 6); /* pga ACT: 6 weeks */
  assert_int_equal(w.next_visit[2], t + 3); /* not due */
  assert_int_equal(w.counts[0].visits >= 2, 1);
  fx_done(&cfg, &w);
}

/* A flare the last visit missed is recalled with probability r_c * I_pop (1 here),
 * and a certain escalation raises T by 0.3 and starts 12 weeks of induction. */
static void test_recall_and_escalation(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  one_centre(&cfg, &w);
  cfg.care.misread = 0;
  cfg.levers[CLHS_LEV_PREVISIT].on_step = -1000; /* full intensity at any step */
  cfg.levers[CLHS_LEV_PREVISIT].ramp = 0;
  const int64_t t = 30;
  clhs_phase_levers_joins(&w, t);
  assert_true(w.I[0].pop == 1.0);
  w.r[0] = 1.0f;
  for (int32_t k = w.clin_begin[0]; k < w.clin_begin[1]; k++)
    w.g[k] = 1.0f;
  w.X[0] = CLHS_ACT;
  w.pga[0] = CLHS_REM;
  w.last_visit[0] = (int32_t)t - 6;
  w.next_visit[0] = (int32_t)t + 5;
  w.T[0] = 0.2f;
  w.ster[0] = 1; /* already on steroids: no new course */
  w.ster_weeks[0] = 3;
  care(&w, t);
  assert_int_equal(w.counts[0].recalls, 1);
  assert_int_equal(w.last_visit[0], t);
  assert_int_equal(w.pga[0], CLHS_ACT);
  assert_int_equal(w.counts[0].escalations >= 1, 1);
  /* drift first, then +0.3 */
  double T = 0.2 + 0.01 * (0.2 - 0.2) + 0.3;
  assert_true(fabs(w.T[0] - T) < 1e-6);
  assert_int_equal(w.ind[0], 11); /* 12, then one week used */
  assert_int_equal(w.ster_weeks[0], w.ster[0] ? 4 : 0);
  /* Not recalled if the last visit was only 5 weeks ago. */
  w.X[1] = CLHS_ACT;
  w.pga[1] = CLHS_REM;
  w.last_visit[1] = (int32_t)t + 1 - 5;
  w.next_visit[1] = (int32_t)t + 10;
  care(&w, t + 1);
  assert_int_equal(w.last_visit[1], t + 1 - 5);
  fx_done(&cfg, &w);
}

/* A steroid course ends after 12 weeks of true remission or at care.steroid_course weeks. */
static void test_steroid_course(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  one_centre(&cfg, &w);
  cfg.care.h_rel = 0; /* stays in remission */
  w.X[0] = CLHS_REM;
  w.ster[0] = 1;
  w.ster_weeks[0] = 0;
  w.rem_weeks[0] = 0;
  w.next_visit[0] = 100000;
  int weeks = 0;
  for (int64_t t = 0; t < 40 && w.ster[0]; t++, weeks++)
    care(&w, t);
  assert_int_equal(weeks, 12);
  cfg.care.h_rem = 0; /* stays active */
  w.X[0] = CLHS_ACT;
  w.ster[0] = 1;
  w.ster_weeks[0] = 0;
  weeks = 0;
  for (int64_t t = 0; t < 40 && w.ster[0]; t++, weeks++)
    care(&w, t);
  assert_int_equal(weeks, cfg.care.steroid_course);
  fx_done(&cfg, &w);
}

/* §8 turnover: every slot renewed with a newly diagnosed patient and caregiver. */
static void test_turnover(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  one_centre(&cfg, &w);
  cfg.care.turnover = 1.0;
  const float m0 = w.m[w.pat_agent[0]];
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_phase_turnover(&w, 50, &err), CLHS_OK);
  for (int64_t p = 0; p < w.npat; p++) {
    int32_t i = w.pat_agent[p];
    assert_int_equal(w.X[p], CLHS_ACT);
    assert_int_equal(w.pga[p], CLHS_ACT);
    assert_int_equal(w.E[i], 0);
    assert_int_equal(w.last_visit[p], 50);
    assert_int_equal(w.next_visit[p], 51);
    assert_int_equal(w.ster[p], 0);
    assert_true(fabs(w.T[p] - 0.2f) < 1e-7);
    assert_true(w.cover[(int64_t)i * 4] == 0.1f);
    assert_int_equal(w.E[w.pat_fam[p]], 0);
  }
  assert_true(w.m[w.pat_agent[0]] != m0); /* fresh draw */
  fx_done(&cfg, &w);
}

/* §9: QI work raises reliability only in member centres; completeness follows the registry. */
static void test_reliability(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, &(fx_opts){.centres = 100});
  for (int64_t t = 0; t < 104; t++) {
    clhs_phase_levers_joins(&w, t);
    clhs_phase_centres(&w, t);
  }
  assert_true(w.r[0] > 0.5); /* founding member after two years of QI */
  assert_true(w.d[0] > 0.5);
  assert_true(w.r[99] == 0.21f); /* joins only in 2017 */
  assert_true(w.d[99] == 0.5f);
  fx_done(&cfg, &w);
}

FX_MAIN(cmocka_unit_test(test_centre_size_distribution), cmocka_unit_test(test_world_structure),
        cmocka_unit_test(test_hazards), cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_visit_schedule), cmocka_unit_test(test_recall_and_escalation),
        cmocka_unit_test(test_steroid_course), cmocka_unit_test(test_turnover),
        cmocka_unit_test(test_reliability))
