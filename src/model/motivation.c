/*
 * Phase 5, motivation (MODEL.md §5: self-determination theory and social influence),
 * and phase 6, the engagement ladder (§6).
 *
 * Both read neighbours as they were when the phase began: the new m (or E) of every
 * agent is computed into a scratch array and copied back after the loop, and remote
 * neighbours come from the halo received after phase 3. Sums over neighbours are taken
 * in global-id order (clhs_neighbours merges care and dynamic ties in that order).
 *
 * Phase 6 reads only the agent's own new m, the tiers as they were at the start of
 * phase 6 (= those of phase 5: tiers do not change in phase 5) and the agent's exposure
 * to leaders over the same neighbours, so phase 5's pass also takes each agent's
 * engagement move (into tmp_u8), and phase 6 then only commits it. The results are
 * those of two separate passes, bit for bit (clhs_phase_engagement alone, as the unit
 * tests call it, still makes its own pass).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "model_internal.h"

/* Tier of a neighbour as at the start of the phase (local, or from the halo). */
static inline int nbr_E(const clhs_world *w, const clhs_nbr *nb) {
  return nb->loc >= 0 ? w->E[nb->loc] : w->halo.E[-1 - nb->loc];
}

/* The clinician whose m sets a family member's autonomy target: the patient's own, or
 * (for a caregiver) its patient's. */
static int32_t family_clinician(const clhs_world *w, int64_t lc, int32_t i) {
  if (w->type[i] == CLHS_PAT) return w->pat_clin[w->pat_begin[lc] + (i - w->first[CLHS_PAT][lc])];
  const int64_t f = w->fam_begin[lc] + (i - w->first[CLHS_FAM][lc]);
  return w->pat_clin[w->fam_patient[f]];
}

/* Largest neighbour count of any agent of centre lc (care + dynamic). */
static int32_t max_neighbours(const clhs_world *w, int64_t lc) {
  const clhs_tieset *ts = &w->ties[lc];
  const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
  uint32_t dmax = 0;
  for (int32_t r = 0; r < na; r++)
    if (ts->off[r + 1] - ts->off[r] > dmax) dmax = ts->off[r + 1] - ts->off[r];
  return clhs_careties_max(w, lc) + (int32_t)dmax;
}

/*
 * Phase 6's rule for one agent of a member centre (§6): the next tier from its tier E,
 * its motivation m (after phase 5), its exposure L to leaders and one keyed draw.
 */
static inline uint8_t engage_next(const clhs_world *w, const clhs_intensity *I, int32_t i, int E,
                                  float m, float L, double u) {
  const clhs_config *cfg = w->cfg;
  const int family = w->type[i] == CLHS_PAT || w->type[i] == CLHS_FAM;
  double p_up = 0;
  if (E < 4) {
    const double beta_lead = cfg->engagement.beta_lead + I->beta_lead_extra;
    const double O = E == 0 ? 1 + cfg->constants.outreach_aware * I->outreach : 1;
    const double up = family ? cfg->engagement.up_family[E] : cfg->engagement.up_staff[E];
    p_up = clamp01(up * (double)m * O * (1 + beta_lead * (double)L));
  }
  const double p_down = E >= 1 ? cfg->engagement.down[E - 1] : 0;
  if (u < p_up) /* one draw: at most one move a week */
    return (uint8_t)(E + 1);
  if (u < p_up + p_down) return (uint8_t)(E - 1);
  return (uint8_t)E;
}

/* Phase 6's moves of the agents of local centre lc into tmp_u8, from their motivation
 * m[i] and exposure L[i - first agent]; @p u0, @p u1 are scratch for the centre's draws
 * (the ENGAGE streams' first two words, computed for the whole centre at once). Kept out
 * of line: inlined into phase 5's loop it slowed that loop down. */
static __attribute__((noinline)) void engage_centre(clhs_world *w, int64_t lc, const float *m,
                                                    const float *L, int64_t t, uint32_t *u0,
                                                    uint32_t *u1) {
  const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
  if (!w->member[lc]) { /* agents of centres that have not joined make no moves */
    for (int32_t i = i0; i < i1; i++)
      w->tmp_u8[i] = w->E[i];
    return;
  }
  clhs_rng_batch01(w->cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_ENGAGE,
                   i1 - i0, u0, u1);
  for (int32_t i = i0; i < i1; i++)
    w->tmp_u8[i] = engage_next(w, &w->I[lc], i, w->E[i], m[i], L[i - i0],
                               clhs_u01_from64(u0[i - i0], u1[i - i0]));
}

/* Per-thread scratch for neighbour lists. */
typedef struct scratch {
  int32_t *care;
  clhs_nbr *nb;
  int32_t cap;
  float *L;          /**< exposure to leaders of the centre's agents */
  uint32_t *u0, *u1; /**< the centre's engagement draws */
  int32_t L_cap;
} scratch;

/* Room for one centre's per-agent scratch (L, u0, u1). */
static int scratch_centre(scratch *s, int32_t na) {
  if (na <= s->L_cap) return 1;
  free(s->L);
  free(s->u0);
  free(s->u1);
  s->L = malloc(sizeof(float) * (size_t)na);
  s->u0 = malloc(sizeof(uint32_t) * (size_t)na);
  s->u1 = malloc(sizeof(uint32_t) * (size_t)na);
  s->L_cap = s->L && s->u0 && s->u1 ? na : 0;
  return s->L_cap > 0;
}

static void scratch_free(scratch *s) {
  free(s->care);
  free(s->nb);
  free(s->L);
  free(s->u0);
  free(s->u1);
}

static int scratch_fit(scratch *s, int32_t need) {
  if (need <= s->cap) return 1;
  free(s->care);
  free(s->nb);
  s->care = malloc(sizeof(int32_t) * (size_t)need);
  s->nb = malloc(sizeof(clhs_nbr) * (size_t)need);
  s->cap = s->care && s->nb ? need : 0;
  return s->cap > 0;
}

int clhs_phase_motivation(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const struct clhs_constants *K = &cfg->constants;
  const double mu[CLHS_NTYPES] = {cfg->motivation.mu_patient, cfg->motivation.mu_patient,
                                  cfg->motivation.mu_staff, cfg->motivation.mu_staff,
                                  cfg->motivation.mu_staff};
  int oom = 0;
#pragma omp parallel reduction(| : oom)
  {
    scratch s = {0};
    double memo_sw = -1, memo_rl = 0;
    int64_t visits = 0; /* neighbour entries of the fast path below */
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
      if (!scratch_fit(&s, max_neighbours(w, lc)) || !scratch_centre(&s, na)) {
        oom = 1;
        continue;
      }
      const clhs_intensity *I = &w->I[lc];
      const clhs_tieset *ts = &w->ties[lc];
      const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
      for (int32_t i = i0; i < i1; i++) {
        const double mi = w->m[i];
        double sw = 0, infl = 0, lead = 0;
        if (ts->off[i - i0] == ts->off[i - i0 + 1]) {
          /* Care ties only (most agents): they are local and listed in gid order already,
           * so the sums run over them directly, in the same order as the merged list. */
          const int32_t nc = clhs_careties_neighbours(w, lc, i, s.care);
          const double cw = CLHS_CARETIES_W;
          for (int32_t k = 0; k < nc; k++) {
            const int32_t j = s.care[k];
            sw += cw;
            infl += cw * ((double)w->m[j] - mi);
            if (w->E[j] == 4) lead += cw;
          }
          visits += nc;
        } else {
          /* Care and dynamic ties merged in global-id order, as clhs_neighbours lists
           * them, summed on the way (no list is built). */
          const int32_t nc = clhs_careties_neighbours(w, lc, i, s.care);
          uint32_t d = ts->off[i - i0];
          const uint32_t d1 = ts->off[i - i0 + 1];
          const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
          visits += nc + (int64_t)(d1 - d);
          for (int32_t c = 0; c < nc || d < d1;) {
            const int64_t gc = c < nc ? lo + s.care[c] : INT64_MAX;
            const int64_t gd = d < d1 ? clhs_tie_gid(ts->key[d]) : INT64_MAX;
            float wt, mj;
            int Ej;
            if (gc < gd) {
              const int32_t j = s.care[c++];
              wt = CLHS_CARETIES_W;
              mj = w->m[j];
              Ej = w->E[j];
            } else {
              wt = ts->w[d++];
              if (gd >= lo && gd < hi) {
                mj = w->m[gd - lo];
                Ej = w->E[gd - lo];
              } else {
                const int64_t hx = clhs_halo_index(w, gd, lo + i);
                mj = w->halo.m[hx];
                Ej = w->halo.E[hx];
              }
            }
            sw += wt;
            infl += wt * ((double)mj - mi);
            if (Ej == 4) lead += wt;
          }
        }
        const int ty = w->type[i];
        /* Relatedness, competence, autonomy, value. */
        double Rl = w->Rl[i];
        /* Many neighbours lists weigh the same (a patient's two care ties): reuse the
         * last exp for an equal Σw (same input, same value: results do not change). */
        if (sw != memo_sw) {
          memo_sw = sw;
          memo_rl = 1 - exp(-cfg->motivation.gamma_r * sw);
        }
        Rl += K->relatedness_rate * (memo_rl - Rl);
        double Kc = w->K[i];
        const int trained = (w->flags[i] & CLHS_F_TRAINED) != 0;
        Kc += cfg->motivation.kappa_success * (double)w->succ[i] * (1 - Kc) +
              cfg->motivation.kappa_train * trained * I->train * (1 - Kc) -
              cfg->motivation.k_decay * Kc;
        const double R = w->E[i] >= 2 ? I->roles : 0.0;
        double Astar = K->autonomy_target[0] + K->autonomy_target[1] * R;
        if (ty == CLHS_PAT || ty == CLHS_FAM)
          Astar += K->autonomy_target[2] * w->m[family_clinician(w, lc, i)];
        else if (ty == CLHS_RES)
          Astar += K->autonomy_target[3] * I->research;
        double A = w->A[i] + K->autonomy_rate * (Astar - w->A[i]);
        double num = 0, den = 0;
        for (int q = 0; q < CLHS_NEEDS; q++) {
          num +=
              (double)w->need[(int64_t)i * CLHS_NEEDS + q] * w->cover[(int64_t)i * CLHS_NEEDS + q];
          den += w->need[(int64_t)i * CLHS_NEEDS + q];
        }
        const double Vstar = den > 0 ? num / den : 0;
        double V = w->V[i] + cfg->motivation.eta_v * (Vstar - w->V[i]);
        A = clamp01(A);
        Kc = clamp01(Kc);
        Rl = clamp01(Rl);
        V = clamp01(V);
        /* Target and update. */
        const double x = cfg->motivation.w_a * A + cfg->motivation.w_k * Kc +
                         cfg->motivation.w_r * Rl + cfg->motivation.w_v * V - cfg->motivation.theta;
        const double mstar = 1.0 / (1.0 + exp(-x));
        const double m =
            mi + cfg->motivation.eta_m * (mstar - mi) + mu[ty] * infl / (sw + K->motivation_eps);
        w->tmp_f[i] = (float)clamp01(m);
        s.L[i - i0] = (float)lead;
        w->A[i] = (float)A;
        w->K[i] = (float)Kc;
        w->Rl[i] = (float)Rl;
        w->V[i] = (float)V;
      }
      /* Phase 6's moves, taken here while the centre is in cache (see the top of this
       * file): agents of centres that have not joined make none. */
      engage_centre(w, lc, w->tmp_f, s.L, t, s.u0, s.u1);
    }
    w->tie_visits[8 * omp_get_thread_num()] += visits; /* as clhs_neighbours counts them */
    scratch_free(&s);
  }
  /* (out of memory: m is left as it was, and phase 6 makes its own pass) */
  if (oom) return clhs_error_set(err, CLHS_ENOMEM, "out of memory for neighbour lists in phase 5");
  w->tmp_E_step = t;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    w->m[i] = w->tmp_f[i];
  return CLHS_OK;
}

int clhs_phase_engagement(clhs_world *w, int64_t t, clhs_error *err) {
  if (w->tmp_E_step != t) { /* phase 6 on its own (tests): its own neighbour pass */
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
      scratch s = {0};
#pragma omp for schedule(dynamic, 4)
      for (int64_t lc = 0; lc < w->c_count; lc++) {
        const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
        if (!scratch_fit(&s, max_neighbours(w, lc)) || !scratch_centre(&s, i1 - i0)) {
          oom = 1;
          continue;
        }
        for (int32_t i = i0; i < i1 && w->member[lc]; i++) {
          double L = 0;
          if (w->E[i] < 4) {
            const int32_t nn = clhs_neighbours(w, lc, i, s.care, s.nb);
            for (int32_t k = 0; k < nn; k++)
              if (nbr_E(w, &s.nb[k]) == 4) L += s.nb[k].w;
          }
          s.L[i - i0] = (float)L;
        }
        engage_centre(w, lc, w->m, s.L, t, s.u0, s.u1);
      }
      scratch_free(&s);
    }
    /* (out of memory: E is left as it was) */
    if (oom)
      return clhs_error_set(err, CLHS_ENOMEM, "out of memory for neighbour lists in phase 6");
  }
  w->tmp_E_step = -1;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    w->E[i] = w->tmp_u8[i];
  return CLHS_OK;
}
