/*
 * Building the world: centre sizes, the decomposition over ranks, global ids and
 * the initial state of every agent (MODEL.md §2-§3).
 *
 * No rank sizes every centre: each sizes an equal share of them (O(centres / ranks) keyed
 * draws), learns where its share starts in the global ids from the shares' totals (an
 * allgather of four integers per rank), and sends each centre's sizes to the rank that
 * will own it (a sparse exchange); the ranks' first global ids are then allgathered (P + 1
 * integers, all that a rank knows of the other ranks' centres: the owner of a global id is
 * a binary search in them). Agent state is built only by the owner.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/date.h"
#include "clhs/rng.h"
#include "model_internal.h"

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

/* floor(x * r / P) without overflow (x * r may exceed 2^63 for x near 2^62 / P). */
static int64_t share_bound(int64_t x, int r, int P) {
  return (x / P) * r + (x % P) * r / P;
}

/* The rank whose share [share_bound(C, q), share_bound(C, q + 1)) holds centre c. */
static int share_owner(int64_t c, int64_t C, int P) {
  int q = (int)(((c + 1) * (int64_t)P - 1) / C);
  while (q > 0 && share_bound(C, q, P) > c) /* guards against rounding at the ends */
    q--;
  while (q + 1 < P && share_bound(C, q + 1, P) <= c)
    q++;
  return q;
}

/* One centre as the rank that sizes it sends it to its owner (crosses MPI: fixed layout):
 * its index, first global id, first patient, clinician and QIS, and its agents by type. */
typedef struct centre_rec {
  int64_t c, gid0, row0[3];
  int32_t cnt[CLHS_NTYPES];
  int32_t pad;
} centre_rec;

/* What each rank tells the others of its block (crosses MPI): its first centre, global id,
 * patient, clinician and QIS (-1 for a rank with no centre). */
enum { B_CENTRE, B_GID, B_PAT, B_CLIN, B_QIS, B_LEN };

void clhs_world_decompose(const clhs_config *cfg, const clhs_comm *comm, clhs_decomp *d) {
  memset(d, 0, sizeof *d);
  const int64_t C = cfg->population.centres;
  const int P = comm->size;
  const int64_t s0 = share_bound(C, comm->rank, P), s1 = share_bound(C, comm->rank + 1, P);
  const int64_t ns = s1 - s0;
  int32_t(*cnt)[CLHS_NTYPES] = calloc((size_t)(ns ? ns : 1), sizeof *cnt);
  if (!cnt) clhs_comm_abort(comm, 1, "out of memory sizing %lld centres", (long long)ns);
  for (int64_t c = s0; c < s1; c++) {
    int32_t *k = cnt[c - s0];
    const int32_t np = clhs_centre_patients(cfg, c);
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)c, CLHS_P_CAREGIVERS);
    k[CLHS_PAT] = np;
    k[CLHS_FAM] = (int32_t)clhs_rng_binomial(&r, np, cfg->population.caregivers_per_patient);
    k[CLHS_CLIN] = (int32_t)((np + cfg->population.patients_per_clinician - 1) /
                             cfg->population.patients_per_clinician);
    k[CLHS_QIS] = (int32_t)(cfg->population.qis_base + np / cfg->population.qis_per_patients);
  }

  /* Researchers: this rank draws an equal share of them and sends each centre index to the
   * rank whose share holds that centre. */
  int64_t R = (int64_t)floor(cfg->population.researchers_per_centre * (double)C + 0.5);
  if (R < cfg->population.researchers_min) R = cfg->population.researchers_min;
  {
    const int64_t k0 = share_bound(R, comm->rank, P), k1 = share_bound(R, comm->rank + 1, P);
    const int64_t nk = k1 - k0;
    int64_t *rc = malloc(sizeof *rc * (size_t)(nk ? nk : 1));
    int *dest = malloc(sizeof *dest * (size_t)(nk ? nk : 1));
    if (!rc || !dest) clhs_comm_abort(comm, 1, "out of memory placing researchers");
    for (int64_t k = k0; k < k1; k++) {
      clhs_rng r;
      clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)k, CLHS_P_RES_AFFIL);
      /* C may exceed 2^32 only in theory; two words keep it uniform anyway. */
      int64_t c = (int64_t)(clhs_rng_uniform(&r) * (double)C);
      if (c >= C) c = C - 1;
      rc[k - k0] = c;
      dest[k - k0] = share_owner(c, C, P);
    }
    int oom = 0;
    int64_t nin = 0;
    int64_t *in = clhs_comm_route(comm, rc, dest, nk, sizeof *rc, &nin, &oom);
    if (oom) clhs_comm_abort(comm, 1, "out of memory placing researchers");
    for (int64_t j = 0; j < nin; j++)
      if (in[j] >= s0 && in[j] < s1) cnt[in[j] - s0][CLHS_RES]++;
    free(in);
    free(rc);
    free(dest);
  }

  /* Where this share starts in the global ids and the patients', clinicians' and QIS'
   * indices: the shares' totals, in rank order. */
  int64_t off[4] = {0, 0, 0, 0}, all[4] = {0, 0, 0, 0};
  for (int64_t c = 0; c < ns; c++) {
    for (int t = 0; t < CLHS_NTYPES; t++)
      off[0] += cnt[c][t];
    off[1] += cnt[c][CLHS_PAT];
    off[2] += cnt[c][CLHS_CLIN];
    off[3] += cnt[c][CLHS_QIS];
  }
  int64_t *tot = malloc(sizeof *tot * 4 * (size_t)P);
  if (!tot) clhs_comm_abort(comm, 1, "out of memory gathering %d totals", P);
  clhs_comm_allgatherv(comm, off, 4, sizeof *off, tot);
  memset(off, 0, sizeof off);
  for (int q = 0; q < P; q++)
    for (int k = 0; k < 4; k++) {
      if (q < comm->rank) off[k] += tot[4 * q + k];
      all[k] += tot[4 * q + k];
    }
  free(tot);
  const int64_t N = all[0];
  d->ncentres = C;
  d->nagents = N;
  d->npatients = all[1];
  d->nclin_total = all[2];
  d->nqis_total = all[3];

  /* A centre goes to the rank whose share of agents holds its midpoint: contiguous blocks,
   * balanced by agent count, never splitting a centre. */
  centre_rec *rec = calloc((size_t)(ns ? ns : 1), sizeof *rec);
  int *dest = malloc(sizeof *dest * (size_t)(ns ? ns : 1));
  if (!rec || !dest) clhs_comm_abort(comm, 1, "out of memory placing %lld centres", (long long)ns);
  for (int64_t c = s0; c < s1; c++) {
    const int32_t *k = cnt[c - s0];
    int64_t size = 0;
    for (int t = 0; t < CLHS_NTYPES; t++)
      size += k[t];
    const double mid = (double)off[0] + 0.5 * (double)size;
    int o = N > 0 ? (int)floor(mid * P / (double)N) : 0;
    if (o >= P) o = P - 1;
    centre_rec *x = &rec[c - s0];
    x->c = c;
    x->gid0 = off[0];
    for (int j = 0; j < 3; j++)
      x->row0[j] = off[1 + j];
    memcpy(x->cnt, k, sizeof x->cnt);
    dest[c - s0] = o;
    off[0] += size;
    off[1] += k[CLHS_PAT];
    off[2] += k[CLHS_CLIN];
    off[3] += k[CLHS_QIS];
  }
  free(cnt);
  int oom = 0;
  int64_t nin = 0;
  centre_rec *in = clhs_comm_route(comm, rec, dest, ns, sizeof *rec, &nin, &oom);
  if (oom) clhs_comm_abort(comm, 1, "out of memory placing centres");
  free(rec);
  free(dest);
  /* Received in rank order = centre order. */
  d->c_count = nin;
  d->cnt = malloc(sizeof *d->cnt * (size_t)(nin ? nin : 1));
  int64_t b[B_LEN] = {-1, -1, -1, -1, -1};
  if (nin > 0) {
    b[B_CENTRE] = in[0].c;
    b[B_GID] = in[0].gid0;
    for (int j = 0; j < 3; j++)
      b[B_PAT + j] = in[0].row0[j];
  }
  for (int64_t j = 0; d->cnt && j < nin; j++)
    memcpy(d->cnt[j], in[j].cnt, sizeof d->cnt[j]);
  free(in);

  /* Every rank's block; a rank with no centre sits where the next rank's block starts. */
  int64_t *ball = malloc(sizeof *ball * B_LEN * (size_t)P);
  d->rank_gid0 = malloc(sizeof *d->rank_gid0 * ((size_t)P + 1));
  if (!d->cnt || !ball || !d->rank_gid0)
    clhs_comm_abort(comm, 1, "out of memory for the decomposition");
  clhs_comm_allgatherv(comm, b, B_LEN, sizeof *b, ball);
  int64_t next[B_LEN] = {C, N, all[1], all[2], all[3]};
  d->rank_gid0[P] = N;
  for (int q = P - 1; q >= 0; q--) {
    if (ball[B_LEN * q] >= 0) memcpy(next, &ball[B_LEN * q], sizeof next);
    d->rank_gid0[q] = next[B_GID];
    if (q == comm->rank) {
      d->c_begin = next[B_CENTRE];
      d->gid_begin = next[B_GID];
      d->pat_row0 = next[B_PAT];
      d->clin_row0 = next[B_CLIN];
      d->qis_row0 = next[B_QIS];
    }
  }
  free(ball);
}

void clhs_decomp_free(clhs_decomp *d) {
  free(d->cnt);
  free(d->rank_gid0);
  memset(d, 0, sizeof *d);
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

void clhs_world_held_cats(clhs_world *w) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w->n; i++)
    held_cats_set(w, i);
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
  clhs_decomp dec;
  uint8_t *has_fam = NULL;

  /* --- sizes of this rank's centres, global ids and the decomposition --- */
  clhs_world_decompose(cfg, comm, &dec);
  int32_t(*cnt)[CLHS_NTYPES] = dec.cnt; /* cnt[lc][t]: agents of type t in local centre lc */
  w->ncentres = C;
  w->nagents = dec.nagents;
  w->npatients = dec.npatients;
  w->nclin_total = dec.nclin_total;
  w->nqis_total = dec.nqis_total;
  w->c_begin = dec.c_begin;
  w->c_count = dec.c_count;
  w->gid_begin = dec.gid_begin;
  w->pat_row0 = dec.pat_row0;
  w->clin_row0 = dec.clin_row0;
  w->qis_row0 = dec.qis_row0;
  if (clhs_fields_alloc(w, CLHS_E_RANK_BOUND, err)) goto fail;
  memcpy(w->rank_gid0, dec.rank_gid0, sizeof *w->rank_gid0 * ((size_t)comm->size + 1));
  w->n = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++)
    for (int t = 0; t < CLHS_NTYPES; t++)
      w->n += cnt[lc][t];
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

  /* --- local centres --- */ /* --- local centres --- */
  const int64_t nc = w->c_count;
  if (clhs_fields_alloc(w, CLHS_E_BOUND, err) || clhs_fields_alloc(w, CLHS_E_CENTRE, err))
    goto fail;

  /* --- joining (§9) of this rank's centres: the schedule fixes every join step now; Bass
   * starts with the initial share and decides the rest as the run goes --- */
  {
    const int64_t c0 = w->c_begin, c1 = w->c_begin + nc;
    for (int64_t lc = 0; lc < nc; lc++)
      w->join_step[lc] = CLHS_NEVER;
    if (cfg->centres.join == CLHS_JOIN_SCHEDULE) {
      /* Join steps follow from the curve alone (not from run.steps, so a restart that
       * extends a run rebuilds the same ones): it is flat after its last point. Centres
       * [joined, m) join at step t. */
      int64_t joined = 0, d0 = 0, dl = 0;
      clhs_date_parse(cfg->run.start_date, &d0);
      if (cfg->centres.nschedule > 0)
        clhs_date_parse(cfg->centres.schedule_date[cfg->centres.nschedule - 1], &dl);
      const int64_t t_last = dl > d0 ? (dl - d0) / 7 + 2 : 1;
      for (int64_t t = 0; t <= t_last && joined < C; t++) {
        const int64_t m = clhs_schedule_members(cfg, t);
        for (int64_t c = joined > c0 ? joined : c0; c < m && c < c1; c++)
          w->join_step[c - c0] = (int32_t)t;
        if (m > joined) joined = m;
      }
    } else {
      const int64_t m0 = (int64_t)floor(cfg->centres.initial_share * (double)C + 0.5);
      for (int64_t c = c0; c < m0 && c < c1; c++)
        w->join_step[c - c0] = 0;
    }
  }
  {
    int32_t off = 0, pat = 0, clin = 0, qis = 0;
    for (int64_t lc = 0; lc < nc; lc++) {
      for (int t = 0; t < CLHS_NTYPES; t++) {
        w->first[t][lc] = off;
        off += cnt[lc][t];
      }
      w->first[CLHS_NTYPES][lc] = off;
      w->pat_begin[lc] = pat;
      w->clin_begin[lc] = clin;
      w->qis_begin[lc] = qis;
      pat += cnt[lc][CLHS_PAT];
      clin += cnt[lc][CLHS_CLIN];
      qis += cnt[lc][CLHS_QIS];
      w->r[lc] = (float)cfg->constants.init_r;
      w->d[lc] = (float)cfg->constants.init_d;
      w->member[lc] = w->join_step[lc] <= 0;
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
      if (cnt[lc][CLHS_PAT] > maxpat) maxpat = cnt[lc][CLHS_PAT];
    ALLOC(has_fam, maxpat, "caregiver flags");
  }
  {
    int32_t nf = 0;
    for (int64_t lc = 0; lc < nc; lc++) {
      w->fam_begin[lc] = nf;
      nf += cnt[lc][CLHS_FAM];
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
    const int32_t npc = cnt[lc][CLHS_PAT], nfam = cnt[lc][CLHS_FAM];
    const int32_t nclin = cnt[lc][CLHS_CLIN];
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

  clhs_decomp_free(&dec);
  free(has_fam);
  return CLHS_OK;
fail:
  clhs_decomp_free(&dec);
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
