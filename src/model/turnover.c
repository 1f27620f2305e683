/*
 * Phase 9 of a step (MODEL.md §8 turnover): a leaving patient's slot (and global id)
 * goes to a newly diagnosed patient, its caregiver is renewed with it, and the dynamic
 * ties of both are dropped at both ends.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Each renewed agent's non-care ties are dropped at both ends (§8). Per-centre counts
 * and their prefix sums let threads fill the messages in place. */
static int drop_ties_of_renewed(clhs_world *w, clhs_error *err) {
  int64_t *start = malloc(sizeof(int64_t) * (size_t)(w->c_count + 1)), nmsg = 0;
  clhs_tie_msg *msg = NULL;
  if (!start) goto deliver;
  start[0] = 0;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const uint8_t *ren = w->tmp_u8 + w->first[0][lc]; /* renewed this step */
    const uint32_t *off = w->ties[lc].off;
    const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
    int64_t k = 0;
    for (int32_t r = 0; r < na; r++) { /* (no branch: it runs in vectors) */
      const int64_t deg = off[r + 1] - off[r];
      k += deg & -(int64_t)(ren[r] != 0);
    }
    start[lc + 1] = 2 * k;
  }
  for (int64_t lc = 0; lc < w->c_count; lc++)
    start[lc + 1] += start[lc];
  nmsg = start[w->c_count];
  msg = calloc((size_t)(nmsg ? nmsg : 1), sizeof *msg);
  if (!msg) goto deliver;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    int64_t k = start[lc];
    const int32_t i1 = w->first[CLHS_NTYPES][lc];
    for (int32_t i = w->first[0][lc]; i < i1; i++) {
      uint64_t eight; /* few are renewed: skip eight unrenewed agents at a time */
      while (i + 8 <= i1 && (memcpy(&eight, w->tmp_u8 + i, 8), eight == 0))
        i += 8;
      if (i >= i1) break;
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
deliver:;
  const int oom = !start || !msg;
  free(start);
  int st = CLHS_OK;
  if (oom) { /* still take part in the delivery, sending nothing */
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory dropping ties on turnover");
    nmsg = 0;
  }
  const int st2 = clhs_ties_deliver(w, msg, nmsg, err);
  free(msg);
  return st ? st : st2;
}

int clhs_phase_turnover(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  int oom = 0;
#pragma omp parallel reduction(| : oom)
  {
    clhs_u32buf ut = {0};
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      memset(w->tmp_u8 + w->first[0][lc], 0, (size_t)(w->first[CLHS_NTYPES][lc] - w->first[0][lc]));
      /* Each patient's TURNOVER stream: its first word (all of the centre's at once) says
       * whether the patient leaves; a leaver's stream goes on from its second word. */
      const int64_t p0 = w->pat_begin[lc], np = w->pat_begin[lc + 1] - p0;
      if (!clhs_u32buf_fit(&ut, np + (np + 3) / 4)) { /* the draws, then a byte each */
        oom = 1;
        continue;
      }
      clhs_rng_batch01(cfg->run.seed, (uint32_t)t,
                       (uint64_t)(w->gid_begin + w->first[CLHS_PAT][lc]), CLHS_P_TURNOVER, np, ut.v,
                       NULL);
      /* Who leaves (few): flags after the draws (a vector pass), found eight at a time. */
      uint8_t *leave = (uint8_t *)(void *)(ut.v + np);
      const uint32_t *u = ut.v;
      const double turnover = cfg->care.turnover;
      for (int64_t k = 0; k < np; k++)
        leave[k] = clhs_u01_from32(u[k]) < turnover;
      for (int64_t x = clhs_next_set(leave, 0, np); x < np; x = clhs_next_set(leave, x + 1, np)) {
        const int64_t p = p0 + x;
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
  /* A rank out of memory renews no one in the centres it skipped, and still takes part in
   * the delivery of the drops; its status is agreed at the end of the step. */
  const int st =
      oom ? clhs_error_set(err, CLHS_ENOMEM, "out of memory for the draws of phase 9") : CLHS_OK;
  const int st2 = drop_ties_of_renewed(w, err);
  return st ? st : st2;
}
