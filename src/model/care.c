/*
 * Phase 7 of a step (MODEL.md §8 care and outcomes): guideline adherence, then per
 * patient adherence, treatment drift, visits (with recalls, escalation and steroid
 * starts), disease transitions (the relapse and remission hazards) and steroid courses.
 *
 * Threads share the loop over this rank's centres; a centre's patients are updated by
 * one thread, reading other agents only as they were when the phase (or an earlier
 * sub-rule of it) began.
 */
#include <stdlib.h>

#include "model_internal.h"

/* The factors are multiplied in the order MODEL.md writes them; a v1.2 term at its v1.1
 * value (rel_evidence = rem_evidence = 0) multiplies by exactly 1, so v1.1's bits stay. */
double clhs_care_h_rel(const clhs_config *cfg, double a, double T, double S, double dE) {
  return cfg->care.h_rel * (1 - cfg->care.rel_adherence * (a - 0.5)) *
         (1 - cfg->care.rel_treatment * T) * (1 - cfg->care.rel_selfmgmt * S) *
         (1 - cfg->care.rel_evidence * dE);
}

double clhs_care_h_rem(const clhs_config *cfg, double a, double T, int ind, double dE) {
  return cfg->care.h_rem * (1 + cfg->care.rem_adherence * (a - 0.5)) *
         (1 + cfg->care.rem_treatment * T) *
         (ind > 0 ? cfg->care.induction_boost * (1 + cfg->care.rem_evidence * dE) : 1.0);
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

/* Sub-rules run in the order of §8 (adherence, guideline adherence, drift, visits,
 * disease, steroids); each reads what the sub-rules before it wrote. Clinicians'
 * g is updated for the whole rank before any patient reads it. */
int clhs_phase_care(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const uint64_t seed = cfg->run.seed;
  const double E_tx = w->E_tx, dE_member = clhs_care_evidence_gain(cfg, E_tx);
  const struct clhs_constants *K = &cfg->constants;
  const double *gt = K->guideline_target, *at = K->adherence_target;

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
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const clhs_intensity *I = &w->I[lc];
      const double rc = w->r[lc], dc = w->d[lc];
      clhs_centre_counts *cc = &w->counts[lc];
      const int32_t clin0 = w->first[CLHS_CLIN][lc], g0 = w->clin_begin[lc];
      /* M1: what the network has learned reaches the patients of member centres only. */
      const double dE = w->member[lc] ? dE_member : 0;
      /* The disease draws of the centre's patients (consecutive agents), all at once. */
      const int64_t p0 = w->pat_begin[lc], np = w->pat_begin[lc + 1] - p0;
      if (!clhs_u32buf_fit(&ud, np)) {
        oom = 1;
        continue;
      }
      clhs_rng_batch01(seed, (uint32_t)t, (uint64_t)(w->gid_begin + w->first[CLHS_PAT][lc]),
                       CLHS_P_DISEASE, np, ud.v, NULL);
      for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++) {
        const int64_t i = w->pat_agent[p];
        const int32_t f = w->pat_fam[p];
        /* Adherence. */
        double S = w->cover[i * CLHS_NEEDS + 1];
        double m_fam = 0;
        if (f >= 0) {
          S = dmax(S, w->cover[(int64_t)f * CLHS_NEEDS + 1]);
          m_fam = w->m[f];
        }
        const double a_star = at[0] + at[1] * w->m[i] + at[2] * S + at[3] * m_fam;
        double a = w->adh[p] + K->adherence_rate * (a_star - w->adh[p]);
        /* Treatment drift. */
        double T = w->T[p] + cfg->care.t_drift * (cfg->care.t_base - w->T[p]);
        int ind = w->ind[p];
        /* Visits: scheduled, or a recall of a flare that the last visit did not see. */
        clhs_rng r;
        clhs_rng_init(&r, seed, (uint32_t)t, (uint64_t)(w->gid_begin + i), CLHS_P_CARE);
        int visit = t >= w->next_visit[p];
        if (!visit && w->X[p] == CLHS_ACT && w->pga[p] == CLHS_REM &&
            t - w->last_visit[p] >= K->recall_weeks && I->pop > 0 &&
            clhs_rng_bernoulli(&r, rc * I->pop)) {
          visit = 1;
          cc->recalls++;
        }
        if (visit) {
          cc->visits++;
          /* §5: a clinician less motivated than the patient pulls the patient down. */
          const double m_clin = w->m[w->pat_clin[p]];
          if (m_clin < w->m[i])
            w->m[i] = (float)(w->m[i] - cfg->motivation.mu_visit * (w->m[i] - m_clin));
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
            const double g = w->g[g0 + (w->pat_clin[p] - clin0)];
            if (clhs_rng_bernoulli(&r, clhs_care_p_escalate(cfg, g, rc, I->pvp, dc))) {
              cc->escalations++;
              /* A flare's first escalation opens an outcome window (member centres). */
              if (w->member[lc] && w->X[p] == CLHS_ACT && !w->esc_wait[p])
                w->esc_wait[p] = CLHS_ESC_WINDOW;
              T = T + K->escalate_T < 1 ? T + K->escalate_T : 1;
              ind = (int)K->induction_weeks;
            }
            if (!w->ster[p] && clhs_rng_bernoulli(&r, clhs_care_p_steroid(cfg, g, E_tx))) {
              w->ster[p] = 1;
              w->ster_weeks[p] = 0;
              w->rem_weeks[p] = 0;
            }
          }
          w->last_visit[p] = (int32_t)t;
          w->next_visit[p] =
              (int32_t)(t + (pga == CLHS_REM ? cfg->care.visit_rem : cfg->care.visit_act));
        }
        /* Disease transitions (the first word of the patient's DISEASE stream). */
        const double u = clhs_u01_from32(ud.v[p - p0]);
        if (w->X[p] == CLHS_REM) {
          if (clhs_hazard_event(u, clhs_care_h_rel(cfg, a, T, S, dE))) {
            w->X[p] = CLHS_ACT;
            cc->relapses += w->member[lc];
          }
        } else {
          if (clhs_hazard_event(u, clhs_care_h_rem(cfg, a, T, ind, dE))) w->X[p] = CLHS_REM;
        }
        if (w->member[lc]) cc->remission_weeks += w->X[p] == CLHS_REM;
        if (w->esc_wait[p]) { /* the window's weeks are this step and the next 11 */
          if (w->X[p] == CLHS_REM) {
            cc->esc_remitted++;
            w->esc_wait[p] = 0;
          } else if (--w->esc_wait[p] == 0) {
            cc->esc_not++;
          }
        }
        if (ind > 0) ind--;
        /* Steroids: a course stops after 12 weeks of true remission or at its length. */
        if (w->ster[p]) {
          w->ster_weeks[p]++; /* bounded: a course ends at steroid_course <= 1000 weeks */
          w->rem_weeks[p] = (uint16_t)(w->X[p] == CLHS_REM ? w->rem_weeks[p] + 1 : 0);
          if (w->rem_weeks[p] >= K->steroid_remission_stop ||
              w->ster_weeks[p] >= cfg->care.steroid_course) {
            w->ster[p] = 0;
            w->ster_weeks[p] = 0;
            w->rem_weeks[p] = 0;
          }
        }
        w->adh[p] = (float)a;
        w->T[p] = (float)T;
        w->ind[p] = (uint8_t)ind;
      }
    }
    free(ud.v);
  }
  /* (a centre skipped for want of memory is left as it was: the step reports the error) */
  if (oom) return clhs_error_set(err, CLHS_ENOMEM, "out of memory for the draws of phase 7");
  return CLHS_OK;
}
