/*
 * Phase 3 of a step (MODEL.md §4 decay and pruning): every dynamic tie loses a fraction
 * `network.decay` of its weight and is removed below `network.prune_below`; then the
 * ties are settled for the step, and the halo of remote neighbours is exchanged
 * (halo.c). Care ties are implicit (ties.c) and never decay.
 */
#include "model_internal.h"

void clhs_ties_decay(clhs_world *w) {
  const double keep = 1.0 - w->cfg->network.decay;
  const float prune = (float)w->cfg->network.prune_below;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    clhs_tieset *ts = &w->ties[lc];
    const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    /* Every tie end's new weight, in one pass over the ends (vectors); the lists are
     * rebuilt, agent by agent, only in a centre where some tie falls below the threshold
     * (both ends compute the same x: both prune). */
    float *const wt = ts->w;
    const uint32_t nd = ts->off[na];
    int32_t low = 0;
    for (uint32_t d = 0; d < nd; d++) {
      const float x = (float)((double)wt[d] * keep);
      wt[d] = x;
      low |= x < prune;
    }
    if (!low) continue;
    uint32_t out = 0, d = 0;
    for (int32_t r = 0; r < na; r++) {
      const uint32_t d1 = ts->off[r + 1];
      ts->off[r] = out;
      for (; d < d1; d++) {
        if (wt[d] < prune) continue;
        ts->key[out] = ts->key[d];
        wt[out++] = wt[d];
      }
    }
    ts->off[na] = out;
  }
}

int clhs_phase_decay(clhs_world *w, int64_t t, clhs_error *err) {
  (void)t;
  clhs_ties_decay(w);
  return clhs_halo_exchange(w, err);
}
