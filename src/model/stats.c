/*
 * What a rank contributes to the records (MODEL.md §11) and the state digest.
 *
 * Per-centre statistics are integer counts plus the centre's own state, so the
 * network-wide figures formed from them in centre order on rank 0 do not depend
 * on the decomposition. The digest is a sum modulo 2^64 of one 64-bit hash per
 * agent, per centre and for the network-wide state: addition commutes, so the
 * grouping of agents over ranks and threads cannot change it.
 */
#include <math.h>

#include "clhs/hash.h"
#include "clhs/model.h"
#include "util/bits.h"

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
    s->relapses = w->counts[lc].relapses;
    s->remission_weeks = w->counts[lc].remission_weeks;
    s->esc_remitted = w->counts[lc].esc_remitted;
    s->esc_not = w->counts[lc].esc_not;
    memset(&w->counts[lc], 0, sizeof w->counts[lc]);
    s->reliability = w->r[lc];
    s->completeness = w->d[lc];
    s->member = w->member[lc];
    const int32_t js = w->join_step[lc];
    /* Established: joined at least `established_weeks` ago, or a member from step 0. */
    s->established = w->member[lc] && (js <= 0 || t - js >= est);
  }
}

static int degree_bin(int32_t d) {
  int b = 0;
  while (d > 0 && b < CLHS_DEGREE_BINS - 1) { /* 0 | 1 | 2-3 | 4-7 | ... */
    d >>= 1;
    b++;
  }
  return b;
}

static int64_t fixed(float x) {
  return (int64_t)llround((double)x * CLHS_FIXED_ONE);
}

void clhs_world_network_stats(const clhs_world *w, int64_t *v) {
  memset(v, 0, sizeof(int64_t) * CLHS_NS_LEN);
  const int64_t lo = w->gid_begin, hi = w->gid_begin + w->n;
  /* Integers: any grouping over threads gives the same sums. */
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : v[:CLHS_NS_LEN])
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int64_t g0 = w->gid_begin + w->first[0][lc];
    const int64_t g1 = w->gid_begin + w->first[CLHS_NTYPES][lc];
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      const int ty = w->type[i];
      v[CLHS_NS_TIER + ty * CLHS_TIERS + w->E[i]]++;
      v[CLHS_NS_COUNT + ty]++;
      v[CLHS_NS_M + ty] += fixed(w->m[i]);
      v[CLHS_NS_A + ty] += fixed(w->A[i]);
      v[CLHS_NS_K + ty] += fixed(w->K[i]);
      v[CLHS_NS_RL + ty] += fixed(w->Rl[i]);
      v[CLHS_NS_V + ty] += fixed(w->V[i]);
      v[CLHS_NS_ENGAGED] += w->E[i] >= 3;
      const int32_t care = clhs_careties_degree(w, lc, i);
      const int32_t r = i - w->first[0][lc];
      const int32_t dyn = (int32_t)(ts->off[r + 1] - ts->off[r]);
      v[CLHS_NS_TIE_ENDS + CLHS_TIE_CARE] += care;
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        const int64_t g = clhs_tie_gid(ts->key[d]);
        v[CLHS_NS_TIE_ENDS + clhs_tie_kind_of(ts->key[d])]++;
        v[CLHS_NS_CROSS_ENDS] += g < g0 || g >= g1;
      }
      v[CLHS_NS_DEGREE + ty] += care + dyn;
      v[CLHS_NS_DEGREE_HIST + degree_bin(care + dyn)]++;
    }
    for (int k = 0; k < CLHS_NRESKINDS; k++)
      v[CLHS_NS_CREATED + k] += w->counts[lc].created[k];
    v[CLHS_NS_ADOPTIONS] += w->counts[lc].adoptions;
    v[CLHS_NS_COMMONS_ADOPTIONS] += w->counts[lc].commons_adoptions;
    v[CLHS_NS_NEW_COMMONS_USERS] += w->counts[lc].new_commons_users;
  }
  (void)lo;
  (void)hi;
}

/* Fold one 64-bit field into a running hash (clhs_fold64: one multiply per field); each
 * record's hash is finished with clhs_mix64 so that the per-record hashes summed below are
 * well spread (include/clhs/hash.h). */
#define FOLD(h, v) ((h) = clhs_fold64((h), (uint64_t)(v)))

/* Bits of one value as folded: a float's bits, an int32 as its uint32, others widened. */
// clang-format off
#define BITS(x)                                                                                    \
  _Generic((x), float: (uint64_t)clhs_f32_bits(x), double: clhs_f64_bits(x),                       \
           int32_t: (uint64_t)(uint32_t)(x), default: (uint64_t)(x))
// clang-format on

/* The words of one entity's record, generated from the table of fields (fields.h, digest
 * column). Each word is a loop over the row's entries per entity (one iteration for most)
 * that folds one value per entry: a WORD or MASK row closes the loop of the word before it
 * (folding that word) and opens its own; OR and XOR rows, which follow their word's first
 * row directly (clhs_fields_check), combine into it. Rows of other entities get loops of
 * no iteration, which the compiler removes (entity_ is a constant); so does the empty loop
 * that the first row closes. */
#define PER_1 1
#define PER_NEEDS CLHS_NEEDS
#define PER_HELD hm
#define DG_OPEN(entity, n, val)                                                                    \
  FOLD(h, v);                                                                                      \
  }                                                                                                \
  for (int64_t k = 0; k < (CLHS_E_##entity == entity_ ? (n) : 0); k++) {                           \
    uint64_t v = (val);
#define DG_NO(entity, name, n, arg)
#define DG_WORD(entity, name, n, arg) DG_OPEN(entity, n, BITS(w->name[i * (n) + k]))
#define DG_MASK(entity, name, n, arg)                                                              \
  DG_OPEN(entity, n, BITS(w->name[i * (n) + k]) & (uint64_t)(arg))
#define DG_OR(entity, name, n, arg) v |= BITS(w->name[i * (n) + k]) << (arg);
#define DG_XOR(entity, name, n, arg) v ^= BITS(w->name[i * (n) + k]) << (arg);
#define FOLD_ROW(name, ctype, entity, per, vtype, role, dig, arg, unit, meaning)                   \
  DG_##dig(entity, name, PER_##per, arg)
#define DEFINE_FOLD(fn, entity)                                                                    \
  static uint64_t fn(const clhs_world *w, int64_t i, uint64_t h) {                                 \
    const int entity_ = (entity);                                                                  \
    const int64_t hm = w->cfg->resources.held_max;                                                 \
    (void)hm;                                                                                      \
    for (int64_t k = 0; k < 0; k++) {                                                              \
      uint64_t v = 0;                                                                              \
      CLHS_WORLD_FIELDS(FOLD_ROW)                                                                  \
      FOLD(h, v);                                                                                  \
    }                                                                                              \
    return h;                                                                                      \
  }
DEFINE_FOLD(fold_agent, CLHS_E_AGENT)
DEFINE_FOLD(fold_patient, CLHS_E_PATIENT)
DEFINE_FOLD(fold_centre, CLHS_E_CENTRE)
DEFINE_FOLD(fold_clin, CLHS_E_CLIN)
DEFINE_FOLD(fold_qis, CLHS_E_QIS)

uint64_t clhs_world_digest(const clhs_world *w) {
  uint64_t total = 0;
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : total)
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    uint64_t acc = 0;
    /* An agent's record: its arrays, then its dynamic tie ends. */
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      uint64_t h = clhs_mix64((uint64_t)(w->gid_begin + i) + 0x9e3779b97f4a7c15ULL);
      h = fold_agent(w, i, h);
      const clhs_tieset *ts = &w->ties[lc];
      const int32_t r = i - w->first[0][lc];
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++)
        FOLD(h, ts->key[d] ^ (uint64_t)clhs_f32_bits(ts->w[d]) << 50);
      acc += clhs_mix64(h);
    }
    for (int64_t p = w->pat_begin[lc]; p < w->pat_begin[lc + 1]; p++) {
      uint64_t h = clhs_mix64((uint64_t)(w->gid_begin + w->pat_agent[p]) ^ 0x5851f42d4c957f2dULL);
      acc += clhs_mix64(fold_patient(w, p, h));
    }
    /* A centre's record: its arrays, then its clinicians', then its QIS's. */
    const int64_t c = w->c_begin + lc;
    uint64_t h = fold_centre(w, lc, clhs_mix64((uint64_t)c ^ 0x2545f4914f6cdd1dULL));
    for (int32_t k = w->clin_begin[lc]; k < w->clin_begin[lc + 1]; k++)
      h = fold_clin(w, k, h);
    for (int32_t k = w->qis_begin[lc]; k < w->qis_begin[lc + 1]; k++)
      h = fold_qis(w, k, h);
    acc += clhs_mix64(h);
    total += acc;
  }
  /* Resources created here: one hash each (ids are unique network-wide). */
  for (int64_t k = 0; k < w->res.n; k++) {
    uint64_t h = clhs_mix64(w->res.id[k]);
    FOLD(h, w->res.q[k] | (uint64_t)w->res.kind[k] << 16 | (uint64_t)w->res.in_commons[k] << 24 |
                (uint64_t)w->res.adoptions[k] << 32);
    total += clhs_mix64(h);
  }
  clhs_comm_sum_u64(w->comm, &total, 1);
  /* Network-wide state, identical on every rank: folded in once, after the sum. */
  uint64_t h = clhs_mix64(total);
  FOLD(h, clhs_f64_bits(w->E_tx));
  FOLD(h, (uint64_t)w->N_rec);
  FOLD(h, (uint64_t)w->step);
  FOLD(h, (uint64_t)w->commons_users);
  FOLD(h, (uint64_t)w->commons.n); /* the commons: the resources' in_commons, above */
  return clhs_mix64(h);
}
