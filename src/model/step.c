/*
 * One step of the model: the phases of MODEL.md §10a in order, each timed:
 *   1 levers and joins (levers.c); 2 events and new ties (newties.c); 3 tie decay and
 *   pruning, then the halo exchange (decay.c, halo.c); 4 resources (resources.c,
 *   commons.c); 5 motivation and 6 engagement (motivation.c); 7 care (care.c);
 *   8 centres (centres.c); 9 turnover (turnover.c); 10 records (the network-wide
 *   counters here; the records themselves are written by the engine).
 *
 * Threads share each phase's loop over this rank's centres. A centre's agents
 * are updated by one thread, reading other agents only as they were when the
 * phase (or an earlier sub-rule of it) began, so the order of visits and the
 * number of threads cannot change any value.
 */
#include "clhs/model.h"

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
