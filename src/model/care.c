/*
 * Phase 7 of a step (MODEL.md §8 care and outcomes): guideline adherence, then per
 * patient adherence, treatment drift, visits (with recalls, escalation and steroid
 * starts), disease transitions (the relapse and remission hazards) and steroid courses.
 *
 * Threads share the loop over this rank's centres; a centre's patients are updated by
 * one thread, reading other agents only as they were when the phase (or an earlier
 * sub-rule of it) began.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "util/isa.h"

/* The factors are multiplied in the order MODEL.md writes them; a v1.2 term at its v1.1
 * value (rel_evidence = rem_evidence = 0) multiplies by exactly 1, so v1.1's bits stay.
 * h_rel's last factor fe = 1 - rel_evidence dE; h_rem's fi = induction_boost (1 +
 * rem_evidence dE), used while ind > 0 (both the same for all of a centre's patients). */
static inline __attribute__((always_inline)) double h_rel_of(const struct clhs_care *c, double a,
                                                             double T, double S, double fe) {
  return c->h_rel * (1 - c->rel_adherence * (a - 0.5)) * (1 - c->rel_treatment * T) *
         (1 - c->rel_selfmgmt * S) * fe;
}

static inline __attribute__((always_inline)) double h_rem_of(const struct clhs_care *c, double a,
                                                             double T, int ind, double fi) {
  return c->h_rem * (1 + c->rem_adherence * (a - 0.5)) * (1 + c->rem_treatment * T) *
         (ind > 0 ? fi : 1.0);
}

double clhs_care_h_rel(const clhs_config *cfg, double a, double T, double S, double dE) {
  return h_rel_of(&cfg->care, a, T, S, 1 - cfg->care.rel_evidence * dE);
}

double clhs_care_h_rem(const clhs_config *cfg, double a, double T, int ind, double dE) {
  return h_rem_of(&cfg->care, a, T, ind,
                  cfg->care.induction_boost * (1 + cfg->care.rem_evidence * dE));
}

double clhs_care_evidence_gain(const clhs_config *cfg, double E_tx) {
  const double dE = E_tx - cfg->constants.init_evidence;
  return dE > 0 ? dE : 0;
}

double clhs_care_p_steroid(const clhs_config *cfg, double g, double E_tx) {
  return cfg->care.steroid_start * (1 - cfg->care.steroid_g * g) *
         (1 - cfg->care.steroid_etx * E_tx);
}

double clhs_care_p_escalate(const clhs_config *cfg, double g, double r, double I_pvp, double d) {
  const struct clhs_constants *K = &cfg->constants;
  double p = g * r * (1 + K->escalate_pvp * I_pvp) * (1 + K->escalate_registry * d);
  return p < 1 ? p : 1;
}

/* ---- a centre's patients, a sub-rule (or part of one) at a time ----
 *
 * Most of a patient's week is the same arithmetic for every patient (adherence, drift, the
 * hazards, the windows and courses), done in vector passes over the centre's patients; what
 * only some have (a visit, a hazard close enough to need its exact probability) is done one
 * patient at a time in between, for those only. Each pass computes what the single loop it
 * replaced did, with the same doubles in the same order, so the bits are unchanged. */

/* A patient's step in scratch (doubles kept between the passes, as the single loop kept them
 * in registers; bytes: what a pass tells the next). */
typedef struct care_scratch {
  double *a, *T, *S, *h;
  uint8_t *vis; /* pass A: 1 = visit or recall candidate; the visit pass: 2 = escalated */
  uint8_t *ev;  /* pass C: 1 = the disease draw may be an event (needs the exact test) */
  int64_t cap;
} care_scratch;

static int care_scratch_fit(care_scratch *c, int64_t n) {
  if (n <= c->cap) return 1;
  free(c->a);
  const size_t m = (size_t)(n > 0 ? n : 1);
  c->a = malloc(m * (4 * sizeof(double) + 2)); /* one block: a, T, S, h, vis, ev */
  c->cap = c->a ? n : 0;
  if (!c->a) return 0;
  c->T = c->a + m;
  c->S = c->T + m;
  c->h = c->S + m;
  c->vis = (uint8_t *)(c->h + m);
  c->ev = c->vis + m;
  return 1;
}

typedef struct care_par {
  double at[4], adherence_rate, t_drift, t_base;
  int64_t t, recall_weeks, induction_weeks, remission_stop, course;
  int recall_on; /* the centre has a pre-visit-planning intensity (recalls possible) */
  double fe, fi; /* h_rel's evidence factor, h_rem's induction factor (this centre) */
  struct clhs_care haz;
} care_par;

/* Pass A (adherence, drift, who may visit) for the n patients of agents i0.. (consecutive):
 * fam their caregivers (-1: none), the per-patient arrays from the centre's first patient. */
static inline __attribute__((always_inline)) void
care_a_loop(const care_par *restrict P, int32_t n, int32_t i0, const float *restrict cover,
            const float *restrict m, const int32_t *restrict fam, const float *restrict adh,
            const float *restrict Tp, const int32_t *restrict next_visit,
            const int32_t *restrict last_visit, const uint8_t *restrict X,
            const uint8_t *restrict pga, double *restrict ad, double *restrict Td,
            double *restrict Sd, uint8_t *restrict vis) {
  const double at0 = P->at[0], at1 = P->at[1], at2 = P->at[2], at3 = P->at[3];
  const double rate = P->adherence_rate, drift = P->t_drift, base = P->t_base;
  /* t >= next_visit and t - last_visit >= recall_weeks as 32-bit comparisons: the int32
   * values against t and t - recall_weeks clamped to INT32_MAX (t >= 0, recall_weeks <= 1000,
   * so neither is below INT32_MIN); the same truth for every int32 value. */
  const int32_t tv = P->t < INT32_MAX ? (int32_t)P->t : INT32_MAX;
  const int64_t tr = P->t - P->recall_weeks;
  const int32_t tl = tr < INT32_MAX ? (int32_t)tr : INT32_MAX;
  const int recall_on = P->recall_on;
  const float *restrict mp = m + i0, *restrict cp = cover + (int64_t)i0 * CLHS_NEEDS + 1;
#pragma GCC ivdep /* the outputs are the scratch arrays and vis: no store feeds a later load */
  for (int32_t k = 0; k < n; k++) {
    /* the caregiver, or the patient itself for none: index arithmetic, not a select (which
     * the compiler would turn into a masked load it cannot gather); loaded either way */
    const int32_t f = fam[k], hf = f >= 0, fi = (f & -hf) | ((i0 + k) & (hf - 1));
    const double S0 = cp[(int64_t)k * CLHS_NEEDS];
    const double Sf = cover[(int64_t)fi * CLHS_NEEDS + 1], mf = m[fi];
    const double S = hf ? (S0 > Sf ? S0 : Sf) : S0; /* dmax */
    const double m_fam = hf ? mf : 0.0;
    const double a_star = at0 + at1 * mp[k] + at2 * S + at3 * m_fam;
    ad[k] = adh[k] + rate * (a_star - adh[k]);
    Td[k] = Tp[k] + drift * (base - Tp[k]);
    Sd[k] = S;
    vis[k] = (uint8_t)((next_visit[k] <= tv) | (recall_on & (X[k] == CLHS_ACT) &
                                                (pga[k] == CLHS_REM) & (last_visit[k] <= tl)));
  }
}
CLHS_ISA_KERNEL(care_a, care_a_loop,
                (const care_par *P, int32_t n, int32_t i0, const float *cover, const float *m,
                 const int32_t *fam, const float *adh, const float *Tp, const int32_t *next_visit,
                 const int32_t *last_visit, const uint8_t *X, const uint8_t *pga, double *ad,
                 double *Td, double *Sd, uint8_t *vis),
                (P, n, i0, cover, m, fam, adh, Tp, next_visit, last_visit, X, pga, ad, Td, Sd, vis))

/* Induction weeks left this step: iw = induction_weeks after an escalation (vis = 2), else as
 * kept. */
static inline __attribute__((always_inline)) int ind_now(int iw, uint8_t vis, uint8_t ind) {
  return vis == 2 ? iw : (int)ind;
}

/* Pass C: each patient's hazard (relapse if in remission, else remission) and whether its
 * disease draw u may be an event (clhs_hazard_may, the first test of clhs_hazard_event). */
static inline __attribute__((always_inline)) void
care_c_loop(const care_par *restrict P, int32_t n, const uint32_t *restrict ud,
            const uint8_t *restrict X, const uint8_t *restrict ind, const uint8_t *restrict vis,
            const double *restrict ad, const double *restrict Td, const double *restrict Sd,
            double *restrict hd, uint8_t *restrict ev) {
  const struct clhs_care haz = P->haz;
  const double fe = P->fe, fi = P->fi;
  const int iw = (int)P->induction_weeks;
  for (int32_t k = 0; k < n; k++) {
    const double rel = h_rel_of(&haz, ad[k], Td[k], Sd[k], fe);
    const double rem = h_rem_of(&haz, ad[k], Td[k], ind_now(iw, vis[k], ind[k]), fi);
    const double h = X[k] == CLHS_REM ? rel : rem;
    hd[k] = h;
    ev[k] = (uint8_t)clhs_hazard_may(clhs_u01_from32(ud[k]), h);
  }
}
CLHS_ISA_KERNEL(care_c, care_c_loop,
                (const care_par *P, int32_t n, const uint32_t *ud, const uint8_t *X,
                 const uint8_t *ind, const uint8_t *vis, const double *ad, const double *Td,
                 const double *Sd, double *hd, uint8_t *ev),
                (P, n, ud, X, ind, vis, ad, Td, Sd, hd, ev))

/* What pass E counts (for the centre's counters). */
typedef struct care_sums {
  int32_t rem, esc_remitted, esc_not;
} care_sums;

/* Pass E, after the disease transitions: the weeks in remission, the escalation windows,
 * induction, steroid courses, and a and T stored. */
static inline __attribute__((always_inline)) void
care_e_loop(const care_par *restrict P, int32_t n, const uint8_t *restrict X,
            const uint8_t *restrict vis, uint8_t *restrict ind, uint8_t *restrict esc,
            uint8_t *restrict ster, uint16_t *restrict ster_weeks, uint16_t *restrict rem_weeks,
            const double *restrict ad, const double *restrict Td, float *restrict adh,
            float *restrict Tp, care_sums *restrict out) {
  int32_t n_rem = 0, n_er = 0, n_en = 0;
  const int iw = (int)P->induction_weeks;
  const int32_t rstop = (int32_t)P->remission_stop, course = (int32_t)P->course;
  for (int32_t k = 0; k < n; k++) {
    const int rem = X[k] == CLHS_REM;
    n_rem += rem;
    /* the window's weeks are this step and the next 11 */
    const int e = esc[k];
    n_er += (e != 0) & rem;
    n_en += (e == 1) & !rem;
    esc[k] = (uint8_t)((e != 0) & !rem ? e - 1 : 0);
    const int i = ind_now(iw, vis[k], ind[k]);
    ind[k] = (uint8_t)(i > 0 ? i - 1 : 0);
    /* Steroids: a course stops after 12 weeks of true remission or at its length (as masks,
     * which vectors can do). */
    const int on = ster[k], sw0 = ster_weeks[k], rw0 = rem_weeks[k];
    const int sw = (uint16_t)(sw0 + 1), rw = (uint16_t)(rw0 + 1) & -rem;
    const int stop = (rw >= rstop) | (sw >= course);
    const int keep = on & !stop; /* -keep: all ones while a course goes on; -!on: none on */
    ster[k] = (uint8_t)keep;
    ster_weeks[k] = (uint16_t)((sw & -keep) | (sw0 & -!on));
    rem_weeks[k] = (uint16_t)((rw & -keep) | (rw0 & -!on));
    adh[k] = (float)ad[k];
    Tp[k] = (float)Td[k];
  }
  out->rem = n_rem;
  out->esc_remitted = n_er;
  out->esc_not = n_en;
}
CLHS_ISA_KERNEL(care_e, care_e_loop,
                (const care_par *P, int32_t n, const uint8_t *X, const uint8_t *vis, uint8_t *ind,
                 uint8_t *esc, uint8_t *ster, uint16_t *ster_weeks, uint16_t *rem_weeks,
                 const double *ad, const double *Td, float *adh, float *Tp, care_sums *out),
                (P, n, X, vis, ind, esc, ster, ster_weeks, rem_weeks, ad, Td, adh, Tp, out))

/* The visit (or recall) of patient p (agent i) of local centre lc, whose a pass-A flag is set:
 * the sub-rule "visits" of §8 with its draws from the patient's CARE stream. T may rise and
 * vis becomes 2 on an escalation. */
static void care_visit(clhs_world *w, int64_t t, int64_t lc, int64_t p, double *T, uint8_t *vis) {
  const clhs_config *cfg = w->cfg;
  const struct clhs_constants *K = &cfg->constants;
  const uint64_t seed = cfg->run.seed;
  const clhs_intensity *I = &w->I[lc];
  const double rc = w->r[lc], dc = w->d[lc];
  clhs_centre_counts *cc = &w->counts[lc];
  const int64_t i = w->pat_agent[p];
  const int32_t f = w->pat_fam[p];
  clhs_rng r;
  clhs_rng_init(&r, seed, (uint32_t)t, (uint64_t)(w->gid_begin + i), CLHS_P_CARE);
  /* Scheduled, or a recall of a flare that the last visit did not see. */
  if (t < w->next_visit[p]) {
    if (!clhs_rng_bernoulli(&r, rc * I->pop)) return;
    cc->recalls++;
  }
  cc->visits++;
  /* §5: a clinician less motivated than the patient pulls the patient down. */
  const double m_clin = w->m[w->pat_clin[p]];
  if (m_clin < w->m[i]) w->m[i] = (float)(w->m[i] - cfg->motivation.mu_visit * (w->m[i] - m_clin));
  /* §6: an unaware patient or caregiver of a member centre is invited to awareness
   * if the patient's clinician takes part (E >= 2). */
  if (w->member[lc] && w->E[w->pat_clin[p]] >= 2) {
    const double pin = cfg->engagement.invite * (I->outreach < 1 ? I->outreach : 1);
    clhs_rng ri;
    clhs_rng_init(&ri, seed, (uint32_t)t, (uint64_t)(w->gid_begin + i), CLHS_P_INVITE);
    if (w->E[i] == 0 && clhs_rng_bernoulli(&ri, pin)) w->E[i] = 1;
    if (f >= 0 && w->E[f] == 0 && clhs_rng_bernoulli(&ri, pin)) w->E[f] = 1;
  }
  int pga = w->X[p];
  if (clhs_rng_bernoulli(&r, cfg->care.misread)) pga = 1 - pga;
  w->pga[p] = (uint8_t)pga;
  if (clhs_rng_bernoulli(&r, dc * I->registry)) cc->records++;
  if (pga == CLHS_ACT) {
    const int32_t clin0 = w->first[CLHS_CLIN][lc], g0 = w->clin_begin[lc];
    const double g = w->g[g0 + (w->pat_clin[p] - clin0)];
    if (clhs_rng_bernoulli(&r, clhs_care_p_escalate(cfg, g, rc, I->pvp, dc))) {
      cc->escalations++;
      /* A flare's first escalation opens an outcome window (member centres). */
      if (w->member[lc] && w->X[p] == CLHS_ACT && !w->esc_wait[p]) w->esc_wait[p] = CLHS_ESC_WINDOW;
      *T = *T + K->escalate_T < 1 ? *T + K->escalate_T : 1;
      *vis = 2; /* ind = induction_weeks */
    }
    if (!w->ster[p] && clhs_rng_bernoulli(&r, clhs_care_p_steroid(cfg, g, w->E_tx))) {
      w->ster[p] = 1;
      w->ster_weeks[p] = 0;
      w->rem_weeks[p] = 0;
    }
  }
  w->last_visit[p] = (int32_t)t;
  w->next_visit[p] = (int32_t)(t + (pga == CLHS_REM ? cfg->care.visit_rem : cfg->care.visit_act));
}

/* Sub-rules run in the order of §8 (adherence, guideline adherence, drift, visits,
 * disease, steroids); each reads what the sub-rules before it wrote. Clinicians'
 * g is updated for the whole rank before any patient reads it. */
int clhs_phase_care(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const uint64_t seed = cfg->run.seed;
  const double E_tx = w->E_tx, dE_member = clhs_care_evidence_gain(cfg, E_tx);
  const struct clhs_constants *K = &cfg->constants;
  const double *gt = K->guideline_target;
  const int isa = clhs_isa_choice();
  /* Guideline adherence (CLIN). */
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const double rc = w->r[lc], Ig = w->I[lc].guidelines;
    for (int32_t i = w->first[CLHS_CLIN][lc], k = w->clin_begin[lc];
         i < w->first[CLHS_CLIN + 1][lc]; i++, k++) {
      double gs = gt[0] + gt[1] * rc + gt[2] * w->cover[(int64_t)i * CLHS_NEEDS + 0] +
                  gt[3] * E_tx + gt[4] * Ig;
      if (gs > 1) gs = 1;
      w->g[k] = (float)(w->g[k] + K->guideline_rate * (gs - w->g[k]));
    }
  }

  int oom = 0;
#pragma omp parallel reduction(| : oom)
  {
    clhs_u32buf ud = {0};
    care_scratch cs = {0};
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const clhs_intensity *I = &w->I[lc];
      clhs_centre_counts *cc = &w->counts[lc];
      /* M1: what the network has learned reaches the patients of member centres only. */
      const double dE = w->member[lc] ? dE_member : 0;
      const int64_t p0 = w->pat_begin[lc];
      const int32_t np = w->pat_begin[lc + 1] - w->pat_begin[lc], i0 = w->first[CLHS_PAT][lc];
      if (!clhs_u32buf_fit(&ud, np) || !care_scratch_fit(&cs, np)) {
        oom = 1;
        continue;
      }
      care_par P = {.adherence_rate = K->adherence_rate,
                    .t_drift = cfg->care.t_drift,
                    .t_base = cfg->care.t_base,
                    .t = t,
                    .recall_weeks = K->recall_weeks,
                    .induction_weeks = K->induction_weeks,
                    .remission_stop = K->steroid_remission_stop,
                    .course = cfg->care.steroid_course,
                    .recall_on = I->pop > 0,
                    .fe = 1 - cfg->care.rel_evidence * dE,
                    .fi = cfg->care.induction_boost * (1 + cfg->care.rem_evidence * dE),
                    .haz = cfg->care};
      memcpy(P.at, K->adherence_target, sizeof P.at);
      /* The patients are the agents i0 .. i0 + np - 1, in patient order. */
      care_a(isa, &P, np, i0, w->cover, w->m, w->pat_fam + p0, w->adh + p0, w->T + p0,
             w->next_visit + p0, w->last_visit + p0, w->X + p0, w->pga + p0, cs.a, cs.T, cs.S,
             cs.vis);
      for (int64_t k = clhs_next_set(cs.vis, 0, np); k < np; k = clhs_next_set(cs.vis, k + 1, np))
        care_visit(w, t, lc, p0 + k, &cs.T[k], &cs.vis[k]);
      /* Disease transitions: the first word of each patient's DISEASE stream, all at once. */
      clhs_rng_batch01(seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_DISEASE, np, ud.v,
                       NULL);
      care_c(isa, &P, np, ud.v, w->X + p0, w->ind + p0, cs.vis, cs.a, cs.T, cs.S, cs.h, cs.ev);
      for (int64_t k = clhs_next_set(cs.ev, 0, np); k < np; k = clhs_next_set(cs.ev, k + 1, np)) {
        if (!(clhs_u01_from32(ud.v[k]) < clhs_hazard_p(cs.h[k]))) continue;
        if (w->X[p0 + k] == CLHS_REM) {
          w->X[p0 + k] = CLHS_ACT;
          cc->relapses += w->member[lc];
        } else {
          w->X[p0 + k] = CLHS_REM;
        }
      }
      care_sums sums;
      care_e(isa, &P, np, w->X + p0, cs.vis, w->ind + p0, w->esc_wait + p0, w->ster + p0,
             w->ster_weeks + p0, w->rem_weeks + p0, cs.a, cs.T, w->adh + p0, w->T + p0, &sums);
      if (w->member[lc]) cc->remission_weeks += sums.rem;
      cc->esc_remitted += sums.esc_remitted;
      cc->esc_not += sums.esc_not;
    }
    free(ud.v);
    free(cs.a);
  }
  /* (a centre skipped for want of memory is left as it was: the step reports the error) */
  if (oom) return clhs_error_set(err, CLHS_ENOMEM, "out of memory for the draws of phase 7");
  return CLHS_OK;
}
