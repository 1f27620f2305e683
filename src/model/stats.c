/*
 * What a rank contributes to the records (MODEL.md §11) and the state digest.
 *
 * Per-centre statistics are integer counts plus the centre's own state, so the
 * network-wide figures formed from them in centre order on rank 0 do not depend
 * on the decomposition. The digest is a sum modulo 2^64 of one 64-bit hash per
 * agent, per centre and for the network-wide state: addition commutes, so the
 * grouping of agents over ranks and threads cannot change it.
 */
#include <string.h>

#include "clhs/model.h"

void clhs_world_centre_stats(clhs_world *w, clhs_centre_stat *stat) {
  const int64_t t = w->step; /* the record describes the state after `t` steps */
  const int64_t est = w->cfg->output.established_weeks;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    clhs_centre_stat *s = &stat[lc];
    memset(s, 0, sizeof *s);
    for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++) {
      s->patients++;
      s->obs_rem += w->pga[p] == CLHS_REM;
      s->true_rem += w->X[p] == CLHS_REM;
      s->steroid += w->ster[p];
      s->steroid_free_rem += w->X[p] == CLHS_REM && !w->ster[p];
    }
    s->visits = w->counts[lc].visits;
    s->recalls = w->counts[lc].recalls;
    s->escalations = w->counts[lc].escalations;
    s->records = w->counts[lc].records;
    memset(&w->counts[lc], 0, sizeof w->counts[lc]);
    s->reliability = w->r[lc];
    s->completeness = w->d[lc];
    s->member = w->member[lc];
    const int32_t js = w->join_step[w->c_begin + lc];
    /* Established: joined at least `established_weeks` ago, or a member from step 0. */
    s->established = w->member[lc] && (js <= 0 || t - js >= est);
  }
}

/* splitmix64's finaliser: a bijective 64-bit mixer. */
static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static inline uint64_t fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline uint64_t dbits(double f) {
  uint64_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* Fold one 64-bit field into a running hash: a multiply-xor chain (one multiply per
 * field); each record's hash is finished with mix64 so that the per-record hashes
 * summed below are well spread. Not cryptographic: it detects differences, it does
 * not resist forgery. */
#define FOLD(h, v) ((h) = ((h) ^ (uint64_t)(v)) * 0x9fb21c651e98df25ULL)

uint64_t clhs_world_digest(const clhs_world *w) {
  uint64_t total = 0;
  const int64_t hm = w->cfg->resources.held_max;
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : total)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    uint64_t acc = 0;
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      uint64_t h = mix64((uint64_t)(w->gid_begin + i) + 0x9e3779b97f4a7c15ULL);
      FOLD(h, w->type[i] | (uint64_t)w->E[i] << 8 | (uint64_t)w->E_wait[i] << 16);
      FOLD(h, fbits(w->m[i]) | fbits(w->A[i]) << 32);
      FOLD(h, fbits(w->K[i]) | fbits(w->Rl[i]) << 32);
      FOLD(h, fbits(w->V[i]));
      for (int k = 0; k < CLHS_NEEDS; k++)
        FOLD(h, fbits(w->need[(int64_t)i * CLHS_NEEDS + k]) |
                    fbits(w->cover[(int64_t)i * CLHS_NEEDS + k]) << 32);
      for (int64_t k = 0; k < hm; k++)
        FOLD(h, (uint64_t)w->held[i * hm + k]);
      acc += mix64(h);
    }
    for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++) {
      uint64_t h = mix64((uint64_t)(w->gid_begin + w->pat_agent[p]) ^ 0x5851f42d4c957f2dULL);
      FOLD(h, w->X[p] | (uint64_t)w->pga[p] << 8 | (uint64_t)w->ster[p] << 16 |
                  (uint64_t)w->ind[p] << 24 | (uint64_t)w->ster_weeks[p] << 32 |
                  (uint64_t)w->rem_weeks[p] << 40);
      FOLD(h, fbits(w->adh[p]) | fbits(w->T[p]) << 32);
      FOLD(h, (uint64_t)(uint32_t)w->next_visit[p] | (uint64_t)(uint32_t)w->last_visit[p] << 32);
      acc += mix64(h);
    }
    const int64_t c = w->c_begin + lc;
    uint64_t h = mix64((uint64_t)c ^ 0x2545f4914f6cdd1dULL);
    FOLD(h, fbits(w->r[lc]) | fbits(w->d[lc]) << 32);
    FOLD(h, w->member[lc]);
    for (int32_t k = w->clin_begin[lc]; k < w->clin_begin[lc + 1]; k++)
      FOLD(h, fbits(w->g[k]));
    for (int32_t k = w->qis_begin[lc]; k < w->qis_begin[lc + 1]; k++)
      FOLD(h, fbits(w->q[k]));
    acc += mix64(h);
    total += acc;
  }
  clhs_comm_sum_u64(w->comm, &total, 1);
  /* Network-wide state, identical on every rank: folded in once, after the sum. */
  uint64_t h = mix64(total);
  FOLD(h, dbits(w->E_tx));
  FOLD(h, (uint64_t)w->N_rec);
  FOLD(h, (uint64_t)w->step);
  return mix64(h);
}
