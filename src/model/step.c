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
 *
 * Errors inside a step: one policy. A phase never ends the job; it records the error (with
 * a message) in err and returns its status. This driver puts the step and the phase in
 * front of the message, agrees the status across ranks, and returns it: every rank
 * returns the same error at the same point, and the engine ends the run. What keeps a
 * rank that failed from leaving the others inside a collective:
 *   - A rank that fails still takes part in every exchange of its phase (sending nothing,
 *     as clhs_comm_route does for a rank out of memory); where an exchange needs what the
 *     failure spoiled (a buffer, the halo's records), the ranks first agree the status
 *     (clhs_comm_agree_error: one small reduction) and every rank leaves the phase
 *     together.
 *   - Phases 2, 3 and 4 are followed by exchanges, so each returns a status agreed on every
 *     rank (its last agreement is at its end); on an error the driver returns at once.
 *   - Phases 5, 6, 7 and 9 return this rank's own status (5-7 have no exchange; 9 still
 *     takes part in its delivery of tie drops). A rank that failed there goes on: those
 *     phases only skip work, so its state is stale, not broken, and it is never written.
 *     Whether any rank failed rides on the step's one closing reduction (phase 10's
 *     counter), after which every rank returns the agreed error.
 *   - Phases 1 and 8 cannot fail (no allocation, no exchange).
 * Two ends remain, by design: the communication layer ends every rank if it cannot
 * allocate a receive buffer in the middle of a collective (comm.h), and a remote neighbour
 * missing from the halo (a bug, caught in the hot neighbour lookup) ends the job at once.
 */
#include "clhs/model.h"

const char *const clhs_phase_names[CLHS_NPHASES] = {
    "levers_joins", "new_ties", "decay_halo", "resources", "motivation",
    "engagement",   "care",     "centres",    "turnover",  "records"};

/* An error of phase @p ph at step @p t: the step and the phase go in front of its message. */
static int phase_error(clhs_error *err, int64_t t, int ph) {
  clhs_error_prefix(err, "step %lld, phase %d (%s): ", (long long)t, ph + 1, clhs_phase_names[ph]);
  return err->code;
}

/* Fault injection for the tests (clhs_step_inject_fault): phase number, step. */
static int fault_phase = -1;
static int64_t fault_step = -1;

void clhs_step_inject_fault(int64_t step, int phase) {
  fault_step = step;
  fault_phase = phase;
}

/* The first error of this rank's own (not yet agreed) statuses, after phase @p ph's @p st. */
static int first_error(const clhs_world *w, int status, int st, clhs_error *err, int64_t t,
                       int ph) {
  if (t == fault_step && ph + 1 == fault_phase && st == CLHS_OK)
    st = clhs_error_set(err, CLHS_EFAIL, "fault injected by CLHS_FAULT_INJECT on rank %d",
                        w->comm->rank);
  return status != CLHS_OK || st == CLHS_OK ? status : phase_error(err, t, ph);
}

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
  /* 2-4: statuses agreed on every rank. */
  if (clhs_phase_new_ties(w, t, err)) return phase_error(err, t, CLHS_PH_NEWTIES); /* 2 */
  LAP(CLHS_PH_NEWTIES);
  if (clhs_phase_decay(w, t, err)) return phase_error(err, t, CLHS_PH_DECAY); /* 3 (and halo) */
  LAP(CLHS_PH_DECAY);
  if (clhs_phase_resources(w, t, err)) return phase_error(err, t, CLHS_PH_RESOURCES); /* 4 */
  LAP(CLHS_PH_RESOURCES);
  /* 5-9: this rank's own statuses, agreed at the end of the step. */
  int status = first_error(w, CLHS_OK, clhs_phase_motivation(w, t, err), err, t, /* 5 */
                           CLHS_PH_MOTIVATION);
  LAP(CLHS_PH_MOTIVATION);
  status =
      first_error(w, status, clhs_phase_engagement(w, t, err), err, t, CLHS_PH_ENGAGEMENT); /* 6 */
  LAP(CLHS_PH_ENGAGEMENT);
  int64_t rec_before = 0, rec_after = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++)
    rec_before += w->counts[lc].records;
  status = first_error(w, status, clhs_phase_care(w, t, err), err, t, CLHS_PH_CARE); /* 7 */
  LAP(CLHS_PH_CARE);
  clhs_phase_centres(w, t); /* 8 */
  LAP(CLHS_PH_CENTRES);
  status = first_error(w, status, clhs_phase_turnover(w, t, err), err, t, CLHS_PH_TURNOVER); /* 9 */
  for (int64_t lc = 0; lc < w->c_count; lc++)
    rec_after += w->counts[lc].records;
  /* 10: network-wide counters (exact integer reduction), and whether any rank failed. */
  int64_t sums[2] = {rec_after - rec_before, status != CLHS_OK};
  clhs_comm_sum_i64(w->comm, sums, 2);
  if (sums[1]) return clhs_comm_agree_error(w->comm, status, err);
  w->N_rec += sums[0];
  w->step = t + 1;
  LAP(CLHS_PH_TURNOVER);
#undef LAP
  return CLHS_OK;
}
