/*
 * One step of the model in the phase order of MODEL.md §10a:
 *   1 levers and joins; 2 events and new ties; 3 tie decay and pruning;
 *   4 resources; 5 motivation; 6 engagement; 7 care; 8 centres; 9 turnover;
 *   10 records.
 * Phases 2-6 (the collaboration network) come with the network issue; until
 * then motivation, engagement, needs and coverage keep their initial values.
 *
 * Threads share each phase's loop over this rank's centres. A centre's agents
 * are updated by one thread, reading other agents only as they were when the
 * phase (or an earlier sub-rule of it) began, so the order of visits and the
 * number of threads cannot change any value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/model.h"
#include "clhs/rng.h"

static inline double clamp01(double x) {
  return x < 0 ? 0 : (x > 1 ? 1 : x);
}
static inline double dmax(double a, double b) {
  return a > b ? a : b;
}

void clhs_intensity_compute(const clhs_config *cfg, double t, int64_t centre, int member,
                            clhs_intensity *I) {
  memset(I, 0, sizeof *I);
  const struct clhs_constants *K = &cfg->constants;
  I->c_data = K->c_data[0];
  if (!member) return; /* levers act only on member centres */
  double L[CLHS_NLEVERS];
  for (int k = 0; k < CLHS_NLEVERS; k++)
    L[k] = clhs_lever_intensity(&cfg->levers[k], t, centre);
  I->registry = L[CLHS_LEV_REGISTRY];
  I->train = I->qi = L[CLHS_LEV_QI_TRAINING];
  I->pvp = I->pop = L[CLHS_LEV_PREVISIT];
  I->guidelines = L[CLHS_LEV_GUIDELINES];
  I->c_data = clamp01(K->c_data[0] + (K->c_data[1] - K->c_data[0]) * L[CLHS_LEV_EHR]);
  I->commons = I->platform = I->tools = L[CLHS_LEV_COMMONS];
  I->roles = I->community = L[CLHS_LEV_ROLES];
  /* I_outreach adds the 2015 campaign and the 2017 lever (0-2, not capped). */
  I->outreach = L[CLHS_LEV_ENGAGEMENT] + L[CLHS_LEV_OUTREACH];
  I->beta_lead_extra = K->engagement_lead * L[CLHS_LEV_ENGAGEMENT];
  I->find = L[CLHS_LEV_COMMONS] + K->outreach_find * L[CLHS_LEV_OUTREACH];
  I->research = L[CLHS_LEV_RESEARCH];
}
/* ---------------------------------------------------------------- phase 1 */

/* Bass joining (§9), decided identically on every rank for every centre: the
 * draw is keyed by centre, and its inputs (members before this step's joins,
 * mean V of member clinicians) are exact reductions. */
static void bass_joins(clhs_world *w, int64_t t) {
  const clhs_config *cfg = w->cfg;
  const int64_t C = w->ncentres;
  int64_t members = 0;
  for (int64_t c = 0; c < C; c++)
    members += w->join_step[c] < t;
  /* Mean V of member clinicians, summed in 2^-32 fixed point: exact in integers. */
  int64_t acc[2] = {0, 0};
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    if (!w->member[lc]) continue;
    for (int32_t i = w->first[CLHS_CLIN][lc]; i < w->first[CLHS_CLIN + 1][lc]; i++) {
      acc[0] += (int64_t)llround((double)w->V[i] * 4294967296.0);
      acc[1]++;
    }
  }
  clhs_comm_sum_i64(w->comm, acc, 2);
  const double meanV = acc[1] ? (double)acc[0] / 4294967296.0 / (double)acc[1] : 0.0;
  const double p = cfg->centres.bass_p + cfg->centres.bass_q * (double)members / (double)C *
                                             (1.0 + cfg->centres.beta_value * meanV);
  for (int64_t c = 0; c < C; c++) {
    if (w->join_step[c] <= t) continue;
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)c, CLHS_P_BASS);
    if (clhs_rng_bernoulli(&r, p)) w->join_step[c] = (int32_t)t;
  }
}

void clhs_phase_levers_joins(clhs_world *w, int64_t t) {
  const clhs_config *cfg = w->cfg;
  if (cfg->centres.join == CLHS_JOIN_BASS && t > 0 && t % cfg->constants.bass_every == 0)
    bass_joins(w, t);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int64_t c = w->c_begin + lc;
    if (!w->member[lc] && w->join_step[c] <= t) {
      w->member[lc] = 1;
      /* The clamped initial tiers (§3, §6) are restored when the centre joins. */
      for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++)
        w->E[i] = w->E_wait[i];
    }
    clhs_intensity_compute(cfg, (double)t, c, w->member[lc], &w->I[lc]);
  }
}

/* ---------------------------------------------------------------- phase 7 */

double clhs_care_h_rel(const clhs_config *cfg, double a, double T, double S) {
  return cfg->care.h_rel * (1 - cfg->care.rel_adherence * (a - 0.5)) *
         (1 - cfg->care.rel_treatment * T) * (1 - cfg->care.rel_selfmgmt * S);
}

double clhs_care_h_rem(const clhs_config *cfg, double a, double T, int ind) {
  return cfg->care.h_rem * (1 + cfg->care.rem_adherence * (a - 0.5)) *
         (1 + cfg->care.rem_treatment * T) * (ind > 0 ? cfg->care.induction_boost : 1.0);
}

double clhs_care_p_escalate(const clhs_config *cfg, double g, double r, double I_pvp, double d) {
  const struct clhs_constants *K = &cfg->constants;
  double p = g * r * (1 + K->escalate_pvp * I_pvp) * (1 + K->escalate_registry * d);
  return p < 1 ? p : 1;
}

/* Sub-rules run in the order of §8 (adherence, guideline adherence, drift, visits,
 * disease, steroids); each reads what the sub-rules before it wrote. Clinicians'
 * g is updated for the whole rank before any patient reads it. */
void clhs_phase_care(clhs_world *w, int64_t t) {
  const clhs_config *cfg = w->cfg;
  const uint64_t seed = cfg->run.seed;
  const double E_tx = w->E_tx;
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
            if (!w->ster[p] &&
                clhs_rng_bernoulli(&r, cfg->care.steroid_start * (1 - K->steroid_g * g) *
                                           (1 - K->steroid_evidence * E_tx))) {
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
          if (clhs_hazard_event(u, clhs_care_h_rel(cfg, a, T, S))) {
            w->X[p] = CLHS_ACT;
            cc->relapses += w->member[lc];
          }
        } else {
          if (clhs_hazard_event(u, clhs_care_h_rem(cfg, a, T, ind))) w->X[p] = CLHS_REM;
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
  if (oom) clhs_comm_abort(w->comm, 1, "out of memory for the draws of phase 7");
}

/* ---------------------------------------------------------------- phase 8 */

void clhs_phase_centres(clhs_world *w, int64_t t) {
  (void)t;
  const struct clhs_constants *K = &w->cfg->constants;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    if (!w->member[lc]) continue; /* only members improve (§9) */
    const clhs_intensity *I = &w->I[lc];
    double Q = 0, S = 0;
    const int32_t q0 = w->first[CLHS_QIS][lc], q1 = w->first[CLHS_QIS + 1][lc];
    for (int32_t i = q0, k = w->qis_begin[lc]; i < q1; i++, k++) {
      Q += w->m[i] * dmax(w->K[i], w->q[k]);
      S += w->cover[(int64_t)i * CLHS_NEEDS + 1];
    }
    if (q1 > q0) {
      Q /= (double)(q1 - q0);
      S /= (double)(q1 - q0);
    }
    const double r = w->r[lc], d = w->d[lc];
    /* QI skill grows at each event a QIS attends (after reliability read it). */
    for (int32_t i = q0, k = w->qis_begin[lc]; i < q1; i++, k++)
      if (w->flags[i] & CLHS_F_TRAINED)
        w->q[k] = (float)(w->q[k] + K->qi_skill_gain * (1 - w->q[k]));
    w->r[lc] = (float)clamp01(
        r + K->reliability_rate * Q * (1 - r) * (1 + K->reliability_selfmgmt * S) * I->qi -
        K->reliability_decay * (r - K->reliability_usual));
    w->d[lc] = (float)clamp01(d + K->completeness_rate * I->registry * (1 - I->c_data) * (1 - d) -
                              K->completeness_decay * d);
  }
}

/* ---------------------------------------------------------------- phase 9 */

/* Each renewed agent's non-care ties are dropped at both ends (§8). Per-centre counts
 * and their prefix sums let threads fill the messages in place. */
static int drop_ties_of_renewed(clhs_world *w, clhs_error *err) {
  int64_t *start = malloc(sizeof(int64_t) * (size_t)(w->c_count + 1));
  if (!start) return clhs_error_set(err, CLHS_ENOMEM, "out of memory dropping ties on turnover");
  start[0] = 0;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    int64_t k = 0;
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++)
      if (w->tmp_u8[i])
        k += 2 * (int64_t)(ts->off[i - w->first[0][lc] + 1] - ts->off[i - w->first[0][lc]]);
    start[lc + 1] = k;
  }
  for (int64_t lc = 0; lc < w->c_count; lc++)
    start[lc + 1] += start[lc];
  const int64_t nmsg = start[w->c_count];
  clhs_tie_msg *msg = calloc((size_t)(nmsg ? nmsg : 1), sizeof *msg);
  if (!msg) {
    free(start);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory dropping ties on turnover");
  }
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    int64_t k = start[lc];
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      if (!w->tmp_u8[i]) continue;
      const int32_t r = i - w->first[0][lc];
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        const int64_t g = clhs_tie_gid(ts->key[d]);
        msg[k].target = w->gid_begin + i;
        msg[k].nbr = g;
        msg[k++].op = CLHS_TIE_DROP;
        msg[k].target = g;
        msg[k].nbr = w->gid_begin + i;
        msg[k++].op = CLHS_TIE_DROP;
      }
    }
  }
  free(start);
  int st = clhs_ties_deliver(w, msg, nmsg, err);
  free(msg);
  return st;
}

int clhs_phase_turnover(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  int oom = 0;
#pragma omp parallel reduction(| : oom)
  {
    clhs_u32buf ut = {0};
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++)
        w->tmp_u8[i] = 0;
      /* Each patient's TURNOVER stream: its first word (all of the centre's at once) says
       * whether the patient leaves; a leaver's stream goes on from its second word. */
      const int64_t p0 = w->pat_begin[lc], np = w->pat_begin[lc + 1] - p0;
      if (!clhs_u32buf_fit(&ut, np)) {
        oom = 1;
        continue;
      }
      clhs_rng_batch01(cfg->run.seed, (uint32_t)t,
                       (uint64_t)(w->gid_begin + w->first[CLHS_PAT][lc]), CLHS_P_TURNOVER, np, ut.v,
                       NULL);
      for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++) {
        if (!(clhs_u01_from32(ut.v[p - p0]) < cfg->care.turnover)) continue;
        const int64_t i = w->pat_agent[p];
        clhs_rng r;
        clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i),
                      CLHS_P_TURNOVER);
        (void)clhs_rng_u32(&r); /* the first word: the draw above */
        /* A newly diagnosed patient takes the slot (and its global id). */
        clhs_agent_fresh(w, i, (uint32_t)t, CLHS_P_RENEW);
        w->E[i] = w->E_wait[i] = 0;
        w->tmp_u8[i] = 1;
        w->X[p] = w->pga[p] = CLHS_ACT;
        w->T[p] = (float)cfg->constants.renew_T;
        w->adh[p] = (float)clhs_rng_beta(&r, cfg->constants.init_adherence[0],
                                         cfg->constants.init_adherence[1]);
        w->ind[p] = w->ster[p] = w->esc_wait[p] = 0; /* an open escalation window is dropped */
        w->ster_weeks[p] = w->rem_weeks[p] = 0;
        w->last_visit[p] = (int32_t)t;
        w->next_visit[p] = (int32_t)(t + 1);
        const int32_t f = w->pat_fam[p];
        if (f >= 0) {
          clhs_agent_fresh(w, f, (uint32_t)t, CLHS_P_RENEW);
          w->E[f] = w->E_wait[f] = 0;
          w->tmp_u8[f] = 1;
        }
      }
    }
    free(ut.v);
  }
  if (oom) return clhs_error_set(err, CLHS_ENOMEM, "out of memory for the draws of phase 9");
  return drop_ties_of_renewed(w, err);
}

/* ---------------------------------------------------------------- a step */

static _Noreturn void step_abort(const clhs_world *w, const clhs_error *err) {
  clhs_comm_abort(w->comm, err->code ? err->code : 1, "step %lld: %s", (long long)w->step,
                  err->msg);
}

const char *const clhs_phase_names[CLHS_NPHASES] = {
    "levers_joins", "new_ties", "decay_halo", "resources", "motivation",
    "engagement",   "care",     "centres",    "turnover",  "records"};

int clhs_world_step(clhs_world *w, clhs_error *err) {
  const int64_t t = w->step;
  double *tp = w->t_phase, t0 = clhs_comm_wtime(), t1;
#define LAP(ph)                                                                                    \
  do {                                                                                             \
    t1 = clhs_comm_wtime();                                                                        \
    tp[ph] += t1 - t0;                                                                             \
    t0 = t1;                                                                                       \
  } while (0)
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    w->succ[i] = 0;
  clhs_phase_levers_joins(w, t); /* 1 */
  LAP(CLHS_PH_LEVERS);
  /* A failure inside a step leaves the ranks at different collectives: end them all. */
  if (clhs_phase_new_ties(w, t, err)) step_abort(w, err); /* 2 */
  LAP(CLHS_PH_NEWTIES);
  if (clhs_phase_decay(w, t, err)) step_abort(w, err); /* 3 (and the halo) */
  LAP(CLHS_PH_DECAY);
  if (clhs_phase_resources(w, t, err)) step_abort(w, err); /* 4 */
  LAP(CLHS_PH_RESOURCES);
  clhs_phase_motivation(w, t); /* 5 */
  LAP(CLHS_PH_MOTIVATION);
  clhs_phase_engagement(w, t); /* 6 */
  LAP(CLHS_PH_ENGAGEMENT);
  int64_t rec_before = 0, rec_after = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++)
    rec_before += w->counts[lc].records;
  clhs_phase_care(w, t); /* 7 */
  LAP(CLHS_PH_CARE);
  clhs_phase_centres(w, t); /* 8 */
  LAP(CLHS_PH_CENTRES);
  if (clhs_phase_turnover(w, t, err)) step_abort(w, err); /* 9 */
  for (int64_t lc = 0; lc < w->c_count; lc++)
    rec_after += w->counts[lc].records;
  /* 10: network-wide counters (exact integer reduction). */
  int64_t new_records = rec_after - rec_before;
  clhs_comm_sum_i64(w->comm, &new_records, 1);
  w->N_rec += new_records;
  w->step = t + 1;
  LAP(CLHS_PH_TURNOVER);
#undef LAP
  return CLHS_OK;
}
