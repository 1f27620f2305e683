/*
 * Phase 1 of a step (MODEL.md §9 joining, §10 levers): the lever intensities I(t) of
 * each centre, the Bass joins, and membership (a centre that joins gets its waiting
 * initial tiers back).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

double clhs_lever_intensity(const clhs_lever_cfg *lv, double t, int64_t centre) {
  /* centre < 0 asks for the lever's untargeted intensity (network-wide uses). */
  if (lv->ncentres > 0 && centre >= 0) {
    if (centre > INT32_MAX) return 0.0;
    int32_t c = (int32_t)centre;
    if (!bsearch(&c, lv->centres, (size_t)lv->ncentres, sizeof c, cmp_i32)) return 0.0;
  }
  double x = t - lv->on_step;
  if (!(x > 0)) return 0.0; /* MODEL.md §10: at `on` the intensity is 0 */
  if (!(lv->ramp > 0) || x >= lv->ramp) return lv->max; /* ramp 0: a step after `on` */
  return lv->max * (x / lv->ramp);
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

/* Bass joining (§9), decided by each centre's owner: the draw is keyed by centre, and
 * its inputs (members before this step's joins, mean V of member clinicians) are exact
 * reductions, one sum of integers. */
static void bass_joins(clhs_world *w, int64_t t) {
  const clhs_config *cfg = w->cfg;
  /* Members, then the mean V of member clinicians summed in 2^-32 fixed point: exact in
   * integers. */
  int64_t acc[3] = {0, 0, 0};
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    acc[0] += w->join_step[lc] < t;
    if (!w->member[lc]) continue;
    for (int32_t i = w->first[CLHS_CLIN][lc]; i < w->first[CLHS_CLIN + 1][lc]; i++) {
      acc[1] += (int64_t)llround((double)w->V[i] * 4294967296.0);
      acc[2]++;
    }
  }
  clhs_comm_sum_i64(w->comm, acc, 3);
  const double meanV = acc[2] ? (double)acc[1] / 4294967296.0 / (double)acc[2] : 0.0;
  const double p = cfg->centres.bass_p + cfg->centres.bass_q * (double)acc[0] /
                                             (double)w->ncentres *
                                             (1.0 + cfg->centres.beta_value * meanV);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    if (w->join_step[lc] <= t) continue;
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, (uint32_t)t, (uint64_t)(w->c_begin + lc), CLHS_P_BASS);
    if (clhs_rng_bernoulli(&r, p)) w->join_step[lc] = (int32_t)t;
  }
}

void clhs_phase_levers_joins(clhs_world *w, int64_t t) {
  const clhs_config *cfg = w->cfg;
  if (cfg->centres.join == CLHS_JOIN_BASS && t > 0 && t % cfg->constants.bass_every == 0)
    bass_joins(w, t);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int64_t c = w->c_begin + lc;
    if (!w->member[lc] && w->join_step[lc] <= t) {
      w->member[lc] = 1;
      /* The clamped initial tiers (§3, §6) are restored when the centre joins. */
      for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++)
        w->E[i] = w->E_wait[i];
    }
    clhs_intensity_compute(cfg, (double)t, c, w->member[lc], &w->I[lc]);
  }
}
