/*
 * Phase 8 of a step (MODEL.md §9 centres and their improvement work): process
 * reliability r_c, QI skill q (events and coaching), registry completeness d_c, for member
 * centres.
 */
#include "model_internal.h"

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
    /* QI skill grows at each event a QIS attends, then (M3, v1.2) with the weekly coaching
     * of the centre's team, both after reliability read it. Coaching 0 (v1.1) adds exactly 0. */
    const double coach = w->cfg->centres.coaching * I->train;
    for (int32_t i = q0, k = w->qis_begin[lc]; i < q1; i++, k++) {
      if (w->flags[i] & CLHS_F_TRAINED)
        w->q[k] = (float)(w->q[k] + K->qi_skill_gain * (1 - w->q[k]));
      if (coach > 0) w->q[k] = (float)(w->q[k] + coach * (1 - w->q[k]));
    }
    w->r[lc] = (float)clamp01(
        r + K->reliability_rate * Q * (1 - r) * (1 + K->reliability_selfmgmt * S) * I->qi -
        K->reliability_decay * (r - K->reliability_usual));
    w->d[lc] = (float)clamp01(d + K->completeness_rate * I->registry * (1 - I->c_data) * (1 - d) -
                              K->completeness_decay * d);
  }
}
