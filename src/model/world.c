/*
 * Building the world: centre sizes, the decomposition over ranks, global ids and
 * the initial state of every agent (MODEL.md §2-§3).
 *
 * Every rank computes the sizes of *all* centres (O(centres) keyed draws), so
 * global ids and the owner of each centre are known everywhere without
 * communication; agent state is then built only by the owner.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/date.h"
#include "clhs/model.h"
#include "clhs/rng.h"

int32_t clhs_centre_patients(const clhs_config *cfg, int64_t c) {
  clhs_rng r;
  clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)c, CLHS_P_CENTRE_SIZE);
  const double mu = log(cfg->population.patients_median);
  for (int tries = 0; tries < 100000; tries++) {
    double x = exp(mu + cfg->population.patients_sigma * clhs_rng_normal(&r));
    double n = floor(x + 0.5); /* rounded half-up */
    if (n >= (double)cfg->population.patients_min && n <= (double)cfg->population.patients_max)
      return (int32_t)n;
  }
  /* Only reachable with a range far in the tail; finalize() rejects empty ranges. */
  return (int32_t)cfg->population.patients_min;
}

/* Members at step t under the schedule: the piecewise-linear curve of
 * (date, members per 100 centres), flat before the first and after the last
 * point, scaled by centres/100 and rounded half-up. */
int64_t clhs_schedule_members(const clhs_config *cfg, int64_t t) {
  int64_t start = 0, day;
  clhs_date_parse(cfg->run.start_date, &start);
  const double now = (double)(start + 7 * t);
  const int np = cfg->centres.nschedule;
  double count = 0;
  if (np > 0) {
    int64_t d0;
    clhs_date_parse(cfg->centres.schedule_date[0], &d0);
    count = cfg->centres.schedule_count[0];
    if (now > (double)d0) {
      count = cfg->centres.schedule_count[np - 1];
      for (int i = 1; i < np; i++) {
        clhs_date_parse(cfg->centres.schedule_date[i], &day);
        if (now <= (double)day) {
          int64_t dp;
          clhs_date_parse(cfg->centres.schedule_date[i - 1], &dp);
          double f = (now - (double)dp) / (double)(day - dp);
          count = cfg->centres.schedule_count[i - 1] +
                  f * (cfg->centres.schedule_count[i] - cfg->centres.schedule_count[i - 1]);
          break;
        }
      }
    }
  }
  int64_t m = (int64_t)floor(count * (double)cfg->population.centres / 100.0 + 0.5);
  if (m > cfg->population.centres) m = cfg->population.centres;
  return m < 0 ? 0 : m;
}

/* Fresh draws for agent i: the initial state (step = CLHS_STEP_INIT, purpose
 * CLHS_P_INIT) or a renewal on turnover (step t, CLHS_P_RENEW). Engagement is
 * drawn separately (initial) or set to 0 (renewal) by the caller. */
void clhs_agent_fresh(clhs_world *w, int64_t i, uint32_t step, uint32_t purpose) {
  clhs_rng r;
  clhs_rng_init(&r, w->cfg->run.seed, step, (uint64_t)(w->gid_begin + i), purpose);
  const int ty = w->type[i];
  const int family = ty == CLHS_PAT || ty == CLHS_FAM;
  const struct clhs_constants *K = &w->cfg->constants;
  const double *mb = family ? K->init_m_family : K->init_m_staff;
  w->m[i] = (float)clhs_rng_beta(&r, mb[0], mb[1]);
  const float base = (float)(family ? K->init_akr_family : K->init_akr_staff);
  w->A[i] = w->K[i] = w->Rl[i] = base;
  w->V[i] = 0.0f;
  for (int k = 0; k < CLHS_NEEDS; k++) {
    w->need[i * CLHS_NEEDS + k] = (float)clhs_rng_beta(&r, K->init_need[0], K->init_need[1]);
    w->cover[i * CLHS_NEEDS + k] = (float)K->init_cover;
  }
  const int64_t hm = w->cfg->resources.held_max;
  for (int64_t k = 0; k < hm; k++) {
    w->held[i * hm + k] = CLHS_RES_NONE;
    w->held_q[i * hm + k] = 0;
  }
  w->succ[i] = 0;
  w->flags[i] = 0;
}

/* Patient-specific initial state (§3). */
static void patient_init(clhs_world *w, int64_t p) {
  const clhs_config *cfg = w->cfg;
  const struct clhs_constants *K = &cfg->constants;
  const int32_t i = w->pat_agent[p];
  clhs_rng r;
  clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)(w->gid_begin + i), CLHS_P_CARE);
  w->X[p] = clhs_rng_bernoulli(&r, cfg->care.init_remission) ? CLHS_REM : CLHS_ACT;
  w->pga[p] = w->X[p];
  w->T[p] = (float)clhs_rng_beta(&r, K->init_T[0], K->init_T[1]);
  w->adh[p] = (float)clhs_rng_beta(&r, K->init_adherence[0], K->init_adherence[1]);
  w->ind[p] = 0;
  w->ster[p] = w->X[p] == CLHS_ACT && clhs_rng_bernoulli(&r, cfg->care.init_steroid_active);
  /* A course running at step 0 has already lasted a uniform 0-25 weeks. */
  w->ster_weeks[p] = w->ster[p] ? (uint16_t)clhs_rng_below(&r, (uint32_t)K->init_course_spread) : 0;
  w->rem_weeks[p] = 0;
  w->esc_wait[p] = 0;
  w->next_visit[p] = (int32_t)clhs_rng_below(&r, (uint32_t)K->init_visit_spread);
  w->last_visit[p] = -1;
}

/* Initial tier (§3): PAT/FAM 1 with p 0.2 else 0; CLIN/QIS 2 with p 0.3 else 1; RES 1. */
static uint8_t initial_tier(const clhs_world *w, int64_t i) {
  clhs_rng r;
  clhs_rng_init(&r, w->cfg->run.seed, CLHS_STEP_INIT, (uint64_t)(w->gid_begin + i),
                CLHS_P_INIT_ENGAGE);
  switch (w->type[i]) {
  case CLHS_PAT:
  case CLHS_FAM: return clhs_rng_bernoulli(&r, w->cfg->constants.init_tier_family) ? 1 : 0;
  case CLHS_CLIN:
  case CLHS_QIS: return clhs_rng_bernoulli(&r, w->cfg->constants.init_tier_staff) ? 2 : 1;
  default: return 1;
  }
}

#define ALLOC(ptr, count, what)                                                                    \
  do {                                                                                             \
    (ptr) = clhs_calloc((size_t)(count), sizeof *(ptr), err, what);                                \
    if (!(ptr)) goto fail;                                                                         \
  } while (0)

int clhs_world_create(clhs_world *w, const clhs_config *cfg, const clhs_comm *comm,
                      clhs_error *err) {
  memset(w, 0, sizeof *w);
  w->cfg = cfg;
  w->comm = comm;
  const char *bad = clhs_fields_check();
  if (bad) return clhs_error_set(err, CLHS_EFAIL, "%s", bad);
  const int64_t C = cfg->population.centres;
  w->ncentres = C;
  int32_t *cnt[CLHS_NTYPES] = {0};
  uint8_t *has_fam = NULL;

  /* --- sizes of all centres (replicated) --- */
  for (int t = 0; t < CLHS_NTYPES; t++)
    ALLOC(cnt[t], C, "centre sizes");
  for (int64_t c = 0; c < C; c++) {
    const int32_t np = clhs_centre_patients(cfg, c);
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)c, CLHS_P_CAREGIVERS);
    cnt[CLHS_PAT][c] = np;
    cnt[CLHS_FAM][c] = (int32_t)clhs_rng_binomial(&r, np, cfg->population.caregivers_per_patient);
    cnt[CLHS_CLIN][c] = (int32_t)((np + cfg->population.patients_per_clinician - 1) /
                                  cfg->population.patients_per_clinician);
    cnt[CLHS_QIS][c] = (int32_t)(cfg->population.qis_base + np / cfg->population.qis_per_patients);
  }
  int64_t R = (int64_t)floor(cfg->population.researchers_per_centre * (double)C + 0.5);
  if (R < cfg->population.researchers_min) R = cfg->population.researchers_min;
  for (int64_t k = 0; k < R; k++) {
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)k, CLHS_P_RES_AFFIL);
    /* C may exceed 2^32 only in theory; two words keep it uniform anyway. */
    int64_t c = (int64_t)(clhs_rng_uniform(&r) * (double)C);
    if (c >= C) c = C - 1;
    cnt[CLHS_RES][c]++;
  }

  /* --- global ids and the decomposition --- */
  if (clhs_fields_alloc(w, CLHS_E_ALL_BOUND, err) || clhs_fields_alloc(w, CLHS_E_ALL_CENTRE, err))
    goto fail;
  for (int64_t c = 0; c < C; c++) {
    int64_t size = 0;
    for (int t = 0; t < CLHS_NTYPES; t++)
      size += cnt[t][c];
    w->centre_gid0[c + 1] = w->centre_gid0[c] + size;
    w->npatients += cnt[CLHS_PAT][c];
    w->centre_pat0[c + 1] = w->centre_pat0[c] + cnt[CLHS_PAT][c];
    w->centre_clin0[c + 1] = w->centre_clin0[c] + cnt[CLHS_CLIN][c];
    w->centre_qis0[c + 1] = w->centre_qis0[c] + cnt[CLHS_QIS][c];
  }
  w->nagents = w->centre_gid0[C];
  /* A centre goes to the rank whose share of agents holds its midpoint: contiguous
   * blocks, balanced by agent count, never splitting a centre. */
  const int P = comm->size;
  w->c_begin = -1;
  for (int64_t c = 0; c < C; c++) {
    double mid =
        (double)w->centre_gid0[c] + 0.5 * (double)(w->centre_gid0[c + 1] - w->centre_gid0[c]);
    int o = (int)floor(mid * P / (double)w->nagents);
    if (o >= P) o = P - 1;
    w->owner[c] = o;
    if (o == comm->rank) {
      if (w->c_begin < 0) w->c_begin = c;
      w->c_count++;
    }
  }
  if (w->c_begin < 0) { /* a rank with no centre sits where its block would start */
    int64_t c = 0;
    while (c < C && w->owner[c] < comm->rank)
      c++;
    w->c_begin = c;
  }
  w->gid_begin = w->centre_gid0[w->c_begin];
  w->n = w->centre_gid0[w->c_begin + w->c_count] - w->gid_begin;
  /* Local indices are 32-bit (compact neighbour and patient tables): a rank holds
   * at most 2^31 - 1 agents, far beyond what fits in one node's memory. */
  if (w->n > INT32_MAX) {
    clhs_error_set(err, CLHS_EINPUT,
                   "rank %d would hold %lld agents, more than 2^31-1: run on more ranks",
                   comm->rank, (long long)w->n);
    goto fail;
  }
  /* Global ids are keyed in 48 bits of the random counter (MODEL.md §13). */
  if (w->nagents >= (int64_t)1 << 48) {
    clhs_error_set(err, CLHS_EINPUT, "%lld agents exceed the 2^48 global ids the RNG keys hold",
                   (long long)w->nagents);
    goto fail;
  }

  /* --- joining (§9): schedule fixes every join step now; Bass starts with the
   * initial share and decides the rest as the run goes --- */
  for (int64_t c = 0; c < C; c++)
    w->join_step[c] = CLHS_NEVER;
  if (cfg->centres.join == CLHS_JOIN_SCHEDULE) {
    /* Join steps follow from the curve alone (not from run.steps, so a restart that
     * extends a run rebuilds the same ones): it is flat after its last point. */
    int64_t joined = 0, d0 = 0, dl = 0;
    clhs_date_parse(cfg->run.start_date, &d0);
    if (cfg->centres.nschedule > 0)
      clhs_date_parse(cfg->centres.schedule_date[cfg->centres.nschedule - 1], &dl);
    const int64_t t_last = dl > d0 ? (dl - d0) / 7 + 2 : 1;
    for (int64_t t = 0; t <= t_last && joined < C; t++) {
      int64_t m = clhs_schedule_members(cfg, t);
      for (; joined < m; joined++)
        w->join_step[joined] = (int32_t)t;
    }
  } else {
    int64_t m0 = (int64_t)floor(cfg->centres.initial_share * (double)C + 0.5);
    for (int64_t c = 0; c < m0 && c < C; c++)
      w->join_step[c] = 0;
  }

  /* --- local centres --- */
  const int64_t nc = w->c_count;
  if (clhs_fields_alloc(w, CLHS_E_BOUND, err) || clhs_fields_alloc(w, CLHS_E_CENTRE, err))
    goto fail;
  {
    int32_t off = 0, pat = 0, clin = 0, qis = 0;
    for (int64_t lc = 0; lc < nc; lc++) {
      const int64_t c = w->c_begin + lc;
      for (int t = 0; t < CLHS_NTYPES; t++) {
        w->first[t][lc] = off;
        off += cnt[t][c];
      }
      w->first[CLHS_NTYPES][lc] = off;
      w->pat_begin[lc] = pat;
      w->clin_begin[lc] = clin;
      w->qis_begin[lc] = qis;
      pat += cnt[CLHS_PAT][c];
      clin += cnt[CLHS_CLIN][c];
      qis += cnt[CLHS_QIS][c];
      w->r[lc] = (float)cfg->constants.init_r;
      w->d[lc] = (float)cfg->constants.init_d;
      w->member[lc] = w->join_step[c] <= 0;
    }
    for (int t = 0; t <= CLHS_NTYPES; t++)
      w->first[t][nc] = off;
    w->pat_begin[nc] = pat;
    w->clin_begin[nc] = clin;
    w->qis_begin[nc] = qis;
    w->npat = pat;
    w->nclin = clin;
    w->nqis = qis;
  }

  /* --- agents --- */
  const int64_t n = w->n, np = w->npat;
  if (clhs_fields_alloc(w, CLHS_E_AGENT, err) || clhs_fields_alloc(w, CLHS_E_PATIENT, err) ||
      clhs_fields_alloc(w, CLHS_E_CLIN, err) || clhs_fields_alloc(w, CLHS_E_QIS, err))
    goto fail;
  w->tmp_E_step = -1;
  {
    int32_t maxpat = 1;
    for (int64_t lc = 0; lc < nc; lc++)
      if (cnt[CLHS_PAT][w->c_begin + lc] > maxpat) maxpat = cnt[CLHS_PAT][w->c_begin + lc];
    ALLOC(has_fam, maxpat, "caregiver flags");
  }
  {
    int32_t nf = 0;
    for (int64_t lc = 0; lc < nc; lc++) {
      w->fam_begin[lc] = nf;
      nf += cnt[CLHS_FAM][w->c_begin + lc];
    }
    w->fam_begin[nc] = nf;
    if (clhs_fields_alloc(w, CLHS_E_FAM, err)) goto fail;
  }
  for (int64_t lc = 0; lc < nc; lc++) {
    const int64_t c = w->c_begin + lc;
    for (int t = 0; t < CLHS_NTYPES; t++)
      for (int32_t i = w->first[t][lc]; i < w->first[t + 1][lc]; i++) {
        w->type[i] = (uint8_t)t;
        w->centre[i] = (int32_t)lc;
      }
    /* Which patients have a caregiver: selection sampling (Knuth's Algorithm S)
     * of nfam out of npat, keyed by centre; caregivers follow their patients' order. */
    const int32_t npc = cnt[CLHS_PAT][c], nfam = cnt[CLHS_FAM][c];
    const int32_t nclin = cnt[CLHS_CLIN][c];
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)c, CLHS_P_CAREGIVER_PICK);
    int32_t chosen = 0;
    for (int32_t k = 0; k < npc; k++) {
      int32_t left = npc - k, need = nfam - chosen;
      has_fam[k] = (uint8_t)(need > 0 &&
                             (need >= left || clhs_rng_below(&r, (uint32_t)left) < (uint32_t)need));
      chosen += has_fam[k];
    }
    int32_t fam = w->first[CLHS_FAM][lc];
    for (int32_t k = 0; k < npc; k++) {
      const int64_t p = w->pat_begin[lc] + k;
      w->pat_agent[p] = w->first[CLHS_PAT][lc] + k;
      w->pat_clin[p] = w->first[CLHS_CLIN][lc] + k % nclin; /* round-robin */
      w->pat_fam[p] = -1;
      if (has_fam[k]) {
        w->fam_patient[w->fam_begin[lc] + (fam - w->first[CLHS_FAM][lc])] = (int32_t)p;
        w->pat_fam[p] = fam++;
      }
    }
  }
  for (int64_t i = 0; i < n; i++) {
    clhs_agent_fresh(w, i, CLHS_STEP_INIT, CLHS_P_INIT);
    w->E_wait[i] = initial_tier(w, i);
    const int member = w->member[w->centre[i]];
    w->E[i] = member ? w->E_wait[i] : (w->E_wait[i] > 1 ? 1 : w->E_wait[i]);
  }
  for (int64_t p = 0; p < np; p++)
    patient_init(w, p);
  for (int64_t k = 0; k < w->nclin; k++)
    w->g[k] = (float)cfg->constants.init_g;
  for (int64_t k = 0; k < w->nqis; k++)
    w->q[k] = (float)cfg->constants.init_q;
  if (clhs_ties_init(w, err)) goto fail;
  w->E_tx = cfg->constants.init_evidence;
  w->N_rec = 0;
  w->step = 0;

  for (int t = 0; t < CLHS_NTYPES; t++)
    free(cnt[t]);
  free(has_fam);
  return CLHS_OK;
fail:
  for (int t = 0; t < CLHS_NTYPES; t++)
    free(cnt[t]);
  free(has_fam);
  clhs_world_free(w);
  return err->code;
}

void clhs_world_free(clhs_world *w) {
  clhs_ties_free(w);
  clhs_halo_free(&w->halo);
  clhs_fields_free(w);
  clhs_commons_free(&w->commons);
  void *ptrs[] = {w->res.id, w->res.q, w->res.kind, w->res.in_commons, w->res.adoptions};
  for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++)
    free(ptrs[k]);
  memset(w, 0, sizeof *w);
}

size_t clhs_world_bytes(const clhs_world *w) {
  const size_t hm = (size_t)w->cfg->resources.held_max;
  /* The table's arrays (include/clhs/fields.h), then the tie store. */
  int64_t count[CLHS_NENTITIES];
  for (int e = 0; e < CLHS_NENTITIES; e++)
    count[e] = clhs_entity_count(w, e);
  const size_t table = (size_t)clhs_fields_bytes(count, (int64_t)hm);
  /* Tables that grow as the run goes: this rank's resources, the commons, the halo. */
  const size_t res =
      (size_t)w->res.cap * (sizeof(uint64_t) + sizeof(uint16_t) + 2 + sizeof(uint32_t));
  const size_t com = clhs_commons_bytes(w);
  const size_t halo = (size_t)w->halo.cap * (sizeof(int64_t) + sizeof(float) + 1 +
                                             hm * (sizeof(uint64_t) + sizeof(uint16_t)));
  return table + clhs_ties_bytes(w) + res + com + halo;
}
