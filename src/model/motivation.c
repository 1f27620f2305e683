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
#include "util/isa.h"
#include "util/vmath.h"

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
 * Phase 6's rule (§6) for the n agents of a member centre, in SIMD vectors (isa.h): the next
 * tier from the tier E, the motivation m (after phase 5), the exposure L to leaders and one
 * keyed draw (words u0, u1 of the ENGAGE stream). The centre's parameters come as tables by
 * tier: up[family][E] (0 at E = 4: no move up), O[E] (the outreach factor, 1 above E = 0),
 * down[E] (0 at E = 0). Multiplying by O = 1 and adding p_down = 0 change no bit, so the
 * result is the rule's, one agent at a time:
 *   p_up = E < 4 ? clamp01(up m O (1 + beta_lead L)) : 0, p_down = E >= 1 ? down[E-1] : 0,
 *   u < p_up: up one; else u < p_up + p_down: down one (one draw: at most one move a week).
 */
typedef struct engage_par {
  double up[2 * CLHS_TIERS]; /* [E]: staff, [CLHS_TIERS + E]: patients and families */
  double O[CLHS_TIERS], down[CLHS_TIERS], beta_lead;
} engage_par;

static inline __attribute__((always_inline)) void
engage_loop(const engage_par *restrict P, int32_t n, const uint8_t *restrict E,
            const uint8_t *restrict type, const float *restrict m, const float *restrict L,
            const uint32_t *restrict u0, const uint32_t *restrict u1, uint8_t *restrict out) {
  const double *restrict up = P->up, *restrict O = P->O, *restrict dn = P->down;
  const double beta_lead = P->beta_lead;
  for (int32_t k = 0; k < n; k++) {
    const int e = E[k], fam = type[k] <= CLHS_FAM;
    const double p_up =
        clamp01(up[fam * CLHS_TIERS + e] * (double)m[k] * O[e] * (1 + beta_lead * (double)L[k]));
    const double p_down = dn[e];
    /* clhs_u01_from64(u0, u1), in pieces that convert exactly as signed 32-bit integers */
    const double x = (double)(int32_t)(u0[k] >> 1) * 0x1p22 +
                     (double)(int32_t)(((u0[k] & 1u) << 21) | (u1[k] >> 11));
    const double uu = (x + 0.5) * 0x1p-53;
    const double u = uu < 1.0 ? uu : 0x1.fffffffffffffp-1;
    const int down = u < p_up + p_down ? e - 1 : e;
    out[k] = (uint8_t)(u < p_up ? e + 1 : down);
  }
}
CLHS_ISA_KERNEL(engage, engage_loop,
                (const engage_par *P, int32_t n, const uint8_t *E, const uint8_t *type,
                 const float *m, const float *L, const uint32_t *u0, const uint32_t *u1,
                 uint8_t *out),
                (P, n, E, type, m, L, u0, u1, out))

/* Phase 6's moves of the agents of local centre lc into tmp_u8, from their motivation
 * m[i] and exposure L[i - first agent]; @p u0, @p u1 are scratch for the centre's draws
 * (the ENGAGE streams' first two words, computed for the whole centre at once). */
static void engage_centre(clhs_world *w, int64_t lc, const float *m, const float *L, int64_t t,
                          uint32_t *u0, uint32_t *u1) {
  const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
  if (!w->member[lc]) { /* agents of centres that have not joined make no moves */
    for (int32_t i = i0; i < i1; i++)
      w->tmp_u8[i] = w->E[i];
    return;
  }
  const clhs_config *cfg = w->cfg;
  const clhs_intensity *I = &w->I[lc];
  engage_par P;
  for (int e = 0; e < CLHS_TIERS; e++) {
    P.up[e] = e < 4 ? cfg->engagement.up_staff[e] : 0;
    P.up[CLHS_TIERS + e] = e < 4 ? cfg->engagement.up_family[e] : 0;
    P.O[e] = e == 0 ? 1 + cfg->constants.outreach_aware * I->outreach : 1;
    P.down[e] = e >= 1 ? cfg->engagement.down[e - 1] : 0;
  }
  P.beta_lead = cfg->engagement.beta_lead + I->beta_lead_extra;
  clhs_rng_batch01(cfg->run.seed, (uint32_t)t, (uint64_t)(w->gid_begin + i0), CLHS_P_ENGAGE,
                   i1 - i0, u0, u1);
  engage(clhs_isa_choice(), &P, i1 - i0, w->E + i0, w->type + i0, m + i0, L, u0, u1,
         w->tmp_u8 + i0);
}

/* Per-thread scratch for neighbour lists. */
typedef struct scratch {
  int32_t *care;
  clhs_nbr *nb;
  int32_t cap;
  float *L;          /**< exposure to leaders of the centre's agents */
  uint32_t *u0, *u1; /**< the centre's engagement draws */
  double *d;         /**< phase 5's per-agent terms: SCR_TERMS arrays of L_cap */
  int32_t *ix;       /**< the kernel's neighbours of family members and tiers: 4 of L_cap */
  int32_t L_cap;
} scratch;

/* Phase 5's per-agent terms of a centre, in s.d (array t at s.d + t * L_cap); the last three
 * are the staff's care-tie sums (staff_sums). */
// clang-format off
enum { SCR_SOC, SCR_SW, SCR_ASTAR, SCR_EXP1, SCR_EXP2, SCR_KS, SCR_KT, SCR_VSTAR,
       SCR_SSW, SCR_SINFL, SCR_SLEAD, SCR_TERMS };
// clang-format on

/* Room for one centre's per-agent scratch (L, u0, u1). */
static int scratch_centre(scratch *s, int32_t na) {
  if (na <= s->L_cap) return 1;
  free(s->L);
  free(s->u0);
  free(s->u1);
  free(s->d);
  free(s->ix);
  s->L = malloc(sizeof(float) * (size_t)na);
  s->u0 = malloc(sizeof(uint32_t) * (size_t)na);
  s->u1 = malloc(sizeof(uint32_t) * (size_t)na);
  s->d = malloc(sizeof(double) * SCR_TERMS * (size_t)na);
  s->ix = malloc(sizeof(int32_t) * 4 * (size_t)na);
  s->L_cap = s->L && s->u0 && s->u1 && s->d && s->ix ? na : 0;
  return s->L_cap > 0;
}

static void scratch_free(scratch *s) {
  free(s->care);
  free(s->nb);
  free(s->L);
  free(s->u0);
  free(s->u1);
  free(s->d);
  free(s->ix);
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

/* ---- phase 5's per-agent rules over a centre's agents, in SIMD vectors (isa.h) ----
 *
 * The same expressions, in the same order, as one agent at a time: no reassociation, no
 * contraction (ISO C: -ffp-contract=off), so every path gives the same bits. Each is a plain
 * loop over arrays that the compiler vectorises; the two exp between them are
 * clhs_exp_batch (vmath.h). */

/** The parameters of the rules (the centre's and the run's). */
typedef struct rules_par {
  double rel_rate, k_decay, aut_rate, eta_v;
  double w_a, w_k, w_r, w_v, theta, eta_m, eps;
} rules_par;

/* The value target V* = Σ n s / Σ n over the 4 needs (0 when Σ n = 0), for n agents: a loop
 * of its own, whose strided loads the compiler turns into whole vectors and shuffles. */
static inline __attribute__((always_inline)) void vstar_loop(int32_t n, const float *restrict need,
                                                             const float *restrict cover,
                                                             double *restrict vstar) {
  for (int32_t k = 0; k < n; k++) {
    double num = 0, den = 0;
    for (int q = 0; q < CLHS_NEEDS; q++) {
      num += (double)need[k * CLHS_NEEDS + q] * cover[k * CLHS_NEEDS + q];
      den += need[k * CLHS_NEEDS + q];
    }
    const double q = num / (den > 0 ? den : 1); /* (no division by 0 to speculate) */
    vstar[k] = den > 0 ? q : 0;
  }
}
CLHS_ISA_KERNEL(vstar, vstar_loop,
                (int32_t n, const float *need, const float *cover, double *vstar),
                (n, need, cover, vstar))

/* §5 for n agents: relatedness from e1 = exp(-gamma_r sum w), competence (ks = kappa_success
 * succ, kt = kappa_train trained I_train: made by the first pass, so that this loop has only
 * float and double lanes), autonomy towards astar, value; A, K, Rl, V updated in place; e2 = -x,
 * the sigmoid's argument. */
static inline __attribute__((always_inline)) void
rules_loop(const rules_par *restrict P, int32_t n, float *restrict A_, float *restrict K_,
           float *restrict Rl_, float *restrict V_, const double *restrict ks,
           const double *restrict kt, const double *restrict vstar, const double *restrict astar,
           const double *restrict e1, double *restrict e2) {
  for (int32_t k = 0; k < n; k++) {
    double Rl = Rl_[k];
    Rl += P->rel_rate * ((1 - e1[k]) - Rl);
    double Kc = K_[k];
    Kc += ks[k] * (1 - Kc) + kt[k] * (1 - Kc) - P->k_decay * Kc;
    double A = A_[k] + P->aut_rate * (astar[k] - A_[k]);
    double V = V_[k] + P->eta_v * (vstar[k] - V_[k]);
    A = clamp01(A);
    Kc = clamp01(Kc);
    Rl = clamp01(Rl);
    V = clamp01(V);
    const double x = P->w_a * A + P->w_k * Kc + P->w_r * Rl + P->w_v * V - P->theta;
    e2[k] = -x;
    A_[k] = (float)A;
    K_[k] = (float)Kc;
    Rl_[k] = (float)Rl;
    V_[k] = (float)V;
  }
}

/* The update of m (e2 = exp(-x); the social term soc / (sw + eps): mu infl / (sum w + eps)). */
static inline __attribute__((always_inline)) void
update_loop(const rules_par *restrict P, int32_t n, const float *restrict m,
            const double *restrict soc, const double *restrict sw, const double *restrict e2,
            float *restrict out) {
  for (int32_t k = 0; k < n; k++) {
    const double mi = m[k];
    const double mstar = 1.0 / (1.0 + e2[k]);
    out[k] = (float)clamp01(mi + P->eta_m * (mstar - mi) + soc[k] / (sw[k] + P->eps));
  }
}

CLHS_ISA_KERNEL(rules, rules_loop,
                (const rules_par *P, int32_t n, float *A_, float *K_, float *Rl_, float *V_,
                 const double *ks, const double *kt, const double *vstar, const double *astar,
                 const double *e1, double *e2),
                (P, n, A_, K_, Rl_, V_, ks, kt, vstar, astar, e1, e2))
CLHS_ISA_KERNEL(update, update_loop,
                (const rules_par *P, int32_t n, const float *m, const double *soc, const double *sw,
                 const double *e2, float *out),
                (P, n, m, soc, sw, e2, out))

/* ---- phase 5's first pass for patients and family members with care ties only ----
 *
 * A patient's care ties are its family member (if it has one) and its clinician, in that
 * (global-id) order; a family member's, its patient. The sums start at 0 and add the terms in
 * that order, as the general loop does (so 0 + (-0) gives +0 there too); then the terms of
 * the second pass. Agents of the segment that also have dynamic ties are done again, after
 * this, by the general loop. */
typedef struct terms_par {
  double cw, mu, at0, at1, at2, roles, ngamma, kappa_success, kappa_train, train;
} terms_par;

/* n agents of one kind from local agent i0 on (Ec: the tiers of the centre's agents from
 * local agent c0 on, as 32-bit integers, which vectors can gather); c[k] is the clinician
 * whose m enters A*. Patients (pat = 1): a[k] the family member (-1: none), then the clinician
 * c[k], always there. Family members (pat = 0): a[k] the patient, always there, and no second
 * neighbour. (pat is a constant in each kernel below, so each loads only what its kind has.)
 * The terms are those of the general form with ha = a[k] >= 0 and hb (a second neighbour):
 * sw = hb ? sw1 + cw : sw1 and so on, with hb fixed. Outputs are the centre's per-agent terms
 * from the segment's first agent on; visits gets the care-tie neighbour entries summed over. */
static inline __attribute__((always_inline)) void
care_terms_loop(const terms_par *restrict P, int32_t n, int32_t i0, const float *restrict m,
                const uint8_t *restrict E, const int32_t *restrict Ec, int32_t c0,
                const uint16_t *restrict succ, const uint8_t *restrict flags,
                const int32_t *restrict a, const int32_t *restrict c, const int pat,
                double *restrict soc, double *restrict sws, double *restrict astar,
                double *restrict e1, double *restrict ks, double *restrict kt, float *restrict L,
                int64_t *restrict visits) {
  const double cw = P->cw, mu = P->mu, at0 = P->at0, at1 = P->at1, at2 = P->at2;
  const double roles = P->roles, ngamma = P->ngamma, kappa_success = P->kappa_success;
  const double kappa_train = P->kappa_train, train = P->train;
  int32_t v = 0;
#pragma GCC ivdep /* the outputs are the scratch arrays: no store feeds a later load */
  for (int32_t k = 0; k < n; k++) {
    const int32_t i = i0 + k;
    const double mi = m[i];
    const int32_t ha = pat ? a[k] >= 0 : 1;
    /* the neighbour, or the agent itself for none: index arithmetic, not a select (which
     * the compiler would turn into a masked load it cannot gather) */
    const int32_t ja = pat ? (a[k] & -ha) | (i & (ha - 1)) : a[k], jc = c[k];
    const double ma = m[ja], mc = m[jc]; /* loaded whether used or not: no branches */
    const int la = Ec[ja - c0] == 4;
    const double sw1 = ha ? 0.0 + cw : 0.0;
    const double ta = 0.0 + cw * (ma - mi);
    const double in1 = ha ? ta : 0.0;
    const double ld1 = ha & la ? 0.0 + cw : 0.0;
    double sw = sw1, infl = in1, lead = ld1;
    if (pat) { /* the clinician, the second neighbour */
      const int lc = Ec[jc - c0] == 4;
      const double tc = cw * (mc - mi);
      sw = sw1 + cw;
      infl = in1 + tc;
      lead = lc ? ld1 + cw : ld1;
    }
    const double R = E[i] >= 2 ? roles : 0.0;
    const double Astar = at0 + at1 * R;
    astar[k] = Astar + at2 * mc;
    soc[k] = mu * infl;
    sws[k] = sw;
    e1[k] = ngamma * sw;
    const int trained = (flags[i] & CLHS_F_TRAINED) != 0;
    ks[k] = kappa_success * (double)succ[i];
    kt[k] = kappa_train * trained * train;
    L[k] = (float)lead;
    v += ha + pat;
  }
  *visits += v;
}
#define CARE_TERMS_PARAMS                                                                          \
  (const terms_par *restrict P, int32_t n, int32_t i0, const float *restrict m,                    \
   const uint8_t *restrict E, const int32_t *restrict Ec, int32_t c0,                              \
   const uint16_t *restrict succ, const uint8_t *restrict flags, const int32_t *restrict a,        \
   const int32_t *restrict c, double *restrict soc, double *restrict sws, double *restrict astar,  \
   double *restrict e1, double *restrict ks, double *restrict kt, float *restrict L,               \
   int64_t *restrict visits)
#define CARE_TERMS_ARGS                                                                            \
  (P, n, i0, m, E, Ec, c0, succ, flags, a, c, soc, sws, astar, e1, ks, kt, L, visits)
/* The two kinds, pat a constant in each. */
static inline __attribute__((always_inline)) void care_terms_pat_loop CARE_TERMS_PARAMS {
  care_terms_loop(P, n, i0, m, E, Ec, c0, succ, flags, a, c, 1, soc, sws, astar, e1, ks, kt, L,
                  visits);
}
static inline __attribute__((always_inline)) void care_terms_fam_loop CARE_TERMS_PARAMS {
  care_terms_loop(P, n, i0, m, E, Ec, c0, succ, flags, a, c, 0, soc, sws, astar, e1, ks, kt, L,
                  visits);
}
CLHS_ISA_KERNEL(care_terms_pat, care_terms_pat_loop, CARE_TERMS_PARAMS, CARE_TERMS_ARGS)
CLHS_ISA_KERNEL(care_terms_fam, care_terms_fam_loop, CARE_TERMS_PARAMS, CARE_TERMS_ARGS)

/* The care-tie sums of a centre's ns staff (agents c0 .. c0 + ns - 1, the first nclin of them
 * clinicians), as the general loop makes them from the care-tie list: clinician s's patients
 * p0 + s, p0 + s + nclin, ... (below f0), then every other staff member, in gid order; here
 * without building the list. (One member at a time: a centre has a dozen or so.) */
static void staff_sums(int32_t ns, int32_t nclin, int32_t c0, int32_t p0, int32_t f0,
                       const float *restrict m, const uint8_t *restrict E, double *restrict sw,
                       double *restrict infl, double *restrict lead) {
  const double cw = CLHS_CARETIES_W;
  for (int32_t s = 0; s < ns; s++) {
    const double mi = m[c0 + s];
    double a = 0, b = 0, c = 0;
    for (int32_t k = p0 + s; s < nclin && k < f0; k += nclin) {
      a += cw;
      b += cw * ((double)m[k] - mi);
      if (E[k] == 4) c += cw;
    }
    for (int32_t k = c0; k < c0 + ns; k++) {
      if (k == c0 + s) continue;
      a += cw;
      b += cw * ((double)m[k] - mi);
      if (E[k] == 4) c += cw;
    }
    sw[s] = a;
    infl[s] = b;
    lead[s] = c;
  }
}

int clhs_phase_motivation(clhs_world *w, int64_t t, clhs_error *err) {
  const clhs_config *cfg = w->cfg;
  const struct clhs_constants *K = &cfg->constants;
  const double mu[CLHS_NTYPES] = {cfg->motivation.mu_patient, cfg->motivation.mu_patient,
                                  cfg->motivation.mu_staff, cfg->motivation.mu_staff,
                                  cfg->motivation.mu_staff};
  const int isa = clhs_isa_choice();
  int oom = 0;
#pragma omp parallel reduction(| : oom)
  {
    scratch s = {0};
    int64_t visits = 0; /* neighbour entries of the fast path below */
#pragma omp for schedule(dynamic, 4)
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const int32_t na = w->first[CLHS_NTYPES][lc] - w->first[0][lc];
      /* (only care-tie lists here: the dynamic ties are summed where they are stored) */
      if (!scratch_fit(&s, clhs_careties_max(w, lc)) || !scratch_centre(&s, na)) {
        oom = 1;
        continue;
      }
      const clhs_intensity *I = &w->I[lc];
      const clhs_tieset *ts = &w->ties[lc];
      const int32_t i0 = w->first[0][lc], i1 = w->first[CLHS_NTYPES][lc];
      double *sws = s.d + SCR_SW * (size_t)s.L_cap;
      double *soc = s.d + SCR_SOC * (size_t)s.L_cap, *astar = s.d + SCR_ASTAR * (size_t)s.L_cap;
      double *e1 = s.d + SCR_EXP1 * (size_t)s.L_cap, *e2 = s.d + SCR_EXP2 * (size_t)s.L_cap;
      double *ks = s.d + SCR_KS * (size_t)s.L_cap, *kt = s.d + SCR_KT * (size_t)s.L_cap;
      /* Patients and family members with care ties only (nearly every agent): the kernel,
       * a block at a time; a family member's neighbours looked up first. */
      const int32_t fa0 = w->first[CLHS_FAM][lc], ca0 = w->first[CLHS_CLIN][lc];
      const int64_t p0 = w->pat_begin[lc], f0 = w->fam_begin[lc];
      const terms_par TP = {CLHS_CARETIES_W,
                            cfg->motivation.mu_patient,
                            K->autonomy_target[0],
                            K->autonomy_target[1],
                            K->autonomy_target[2],
                            I->roles,
                            -cfg->motivation.gamma_r,
                            cfg->motivation.kappa_success,
                            cfg->motivation.kappa_train,
                            I->train};
      int32_t *Ec = s.ix + 3 * (size_t)s.L_cap;
      for (int32_t k = 0; k < na; k++)
        Ec[k] = w->E[i0 + k];
      care_terms_pat(isa, &TP, fa0 - i0, i0, w->m, w->E, Ec, i0, w->succ, w->flags, w->pat_fam + p0,
                     w->pat_clin + p0, soc, sws, astar, e1, ks, kt, s.L, &visits);
      int32_t *ia = s.ix, *ic = s.ix + 2 * (size_t)s.L_cap;
      for (int32_t k = 0; k < ca0 - fa0; k++) {
        const int64_t pp = w->fam_patient[f0 + k];
        ia[k] = w->pat_agent[pp];
        ic[k] = w->pat_clin[pp];
      }
      care_terms_fam(isa, &TP, ca0 - fa0, fa0, w->m, w->E, Ec, i0, w->succ, w->flags, ia, ic,
                     soc + (fa0 - i0), sws + (fa0 - i0), astar + (fa0 - i0), e1 + (fa0 - i0),
                     ks + (fa0 - i0), kt + (fa0 - i0), s.L + (fa0 - i0), &visits);
      /* The staff's care-tie sums, all at once. */
      double *ssw = s.d + SCR_SSW * (size_t)s.L_cap, *sinfl = s.d + SCR_SINFL * (size_t)s.L_cap;
      double *slead = s.d + SCR_SLEAD * (size_t)s.L_cap;
      staff_sums(i1 - ca0, w->first[CLHS_QIS][lc] - ca0, ca0, w->first[CLHS_PAT][lc], fa0, w->m,
                 w->E, ssw, sinfl, slead);
      /* Staff, and patients and family members with dynamic ties too: one at a time. Which
       * patients and family members have some: flags (in u0's room until engage_centre draws
       * there), found eight at a time. */
      const int32_t npf = ca0 - i0;
      uint8_t *dyn = (uint8_t *)(void *)s.u0;
      const uint32_t *toff = ts->off;
      for (int32_t k = 0; k < npf; k++)
        dyn[k] = toff[k + 1] != toff[k];
      for (int32_t i = i0 + (int32_t)clhs_next_set(dyn, 0, npf); i < i1;
           i = i + 1 < ca0 ? i0 + (int32_t)clhs_next_set(dyn, i + 1 - i0, npf) : i + 1) {
        const double mi = w->m[i];
        double sw = 0, infl = 0, lead = 0;
        if (ts->off[i - i0] == ts->off[i - i0 + 1]) {
          /* Care ties only (staff: the others with none were done above): the centre's staff
           * sums, made in gid order in staff_sums. */
          sw = ssw[i - ca0];
          infl = sinfl[i - ca0];
          lead = slead[i - ca0];
          visits += clhs_careties_degree(w, lc, i);
        } else {
          /* Care and dynamic ties merged in global-id order, as clhs_neighbours lists
           * them, summed on the way (no list is built). */
          const int32_t nc = clhs_careties_neighbours(w, lc, i, s.care);
          uint32_t d = ts->off[i - i0];
          const uint32_t d1 = ts->off[i - i0 + 1];
          const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
          visits += (i < ca0 ? 0 : nc) + (int64_t)(d1 - d); /* (the kernel counted the care ties) */
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
        /* The terms that need the neighbours or the agent's kind (the rest is the
         * centre's vector pass below). */
        const int ty = w->type[i];
        const double R = w->E[i] >= 2 ? I->roles : 0.0;
        double Astar = K->autonomy_target[0] + K->autonomy_target[1] * R;
        if (ty == CLHS_PAT || ty == CLHS_FAM)
          Astar += K->autonomy_target[2] * w->m[family_clinician(w, lc, i)];
        else if (ty == CLHS_RES)
          Astar += K->autonomy_target[3] * I->research;
        soc[i - i0] = mu[ty] * infl; /* divided by sw + eps in the vector pass */
        sws[i - i0] = sw;
        astar[i - i0] = Astar;
        e1[i - i0] = -cfg->motivation.gamma_r * sw;
        const int trained = (w->flags[i] & CLHS_F_TRAINED) != 0;
        ks[i - i0] = cfg->motivation.kappa_success * (double)w->succ[i];
        kt[i - i0] = cfg->motivation.kappa_train * trained * I->train;
        s.L[i - i0] = (float)lead;
      }
      /* Relatedness, competence, autonomy, value, the target and the update, for the
       * centre's agents at once (vectors; the same bits as one agent at a time). */
      clhs_exp_batch(e1, e1, na);
      const rules_par P = {K->relatedness_rate,   cfg->motivation.k_decay, K->autonomy_rate,
                           cfg->motivation.eta_v, cfg->motivation.w_a,     cfg->motivation.w_k,
                           cfg->motivation.w_r,   cfg->motivation.w_v,     cfg->motivation.theta,
                           cfg->motivation.eta_m, K->motivation_eps};
      double *vs = s.d + SCR_VSTAR * (size_t)s.L_cap;
      vstar(isa, na, w->need + (int64_t)i0 * CLHS_NEEDS, w->cover + (int64_t)i0 * CLHS_NEEDS, vs);
      rules(isa, &P, na, w->A + i0, w->K + i0, w->Rl + i0, w->V + i0, ks, kt, vs, astar, e1, e2);
      clhs_exp_batch(e2, e2, na);
      update(isa, &P, na, w->m + i0, soc, sws, e2, w->tmp_f + i0);
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
  uint8_t *const E = w->E; /* (local pointers: the byte copy runs in vectors) */
  const uint8_t *const next = w->tmp_u8;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    E[i] = next[i];
  return CLHS_OK;
}
