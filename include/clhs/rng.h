/**
 * @file rng.h
 * @brief Counter-based random numbers keyed by (seed, step, global id, purpose, index).
 *
 * Every draw in clhsim is a pure function of its key (MODEL.md §13), computed with
 * Random123's Philox4x32-10: key = the 64-bit seed, counter = (step, global id low
 * 32 bits, global id high 16 bits | purpose << 16, index). No generator state is
 * carried between steps or shared between agents, so no draw depends on which rank
 * or thread makes it, or on the order agents are visited.
 *
 * A clhs_rng "stream" is a convenience over one (seed, step, id, purpose) key: it
 * hands out the 32-bit words of index 0, 1, 2, ... in order, so draws that need a
 * variable number of words (Beta, Poisson) stay keyed.
 */
#ifndef CLHS_RNG_H
#define CLHS_RNG_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <Random123/philox.h>

/** What a draw is for (the `purpose` part of the key). Never renumber: outputs depend on it. */
enum clhs_purpose {
  CLHS_P_CENTRE_SIZE = 1,     /**< centre: patients per centre (id = centre) */
  CLHS_P_CAREGIVERS = 2,      /**< centre: which patients have a caregiver (id = centre) */
  CLHS_P_RES_AFFIL = 3,       /**< researcher r's centre (id = r) */
  CLHS_P_INIT = 4,            /**< agent: initial state (id = agent) */
  CLHS_P_CARE = 5,            /**< patient: visit, escalation, steroids, disease (id = agent) */
  CLHS_P_TURNOVER = 6,        /**< patient: leaves this week? (id = agent) */
  CLHS_P_RENEW = 7,           /**< agent: fresh state of a newly diagnosed patient/caregiver */
  CLHS_P_BASS = 8,            /**< centre: joins this step under the Bass rule (id = centre) */
  CLHS_P_INIT_ENGAGE = 9,     /**< agent: initial engagement tier (id = agent) */
  CLHS_P_CAREGIVER_PICK = 10, /**< centre: which patients have the caregivers (id = centre) */
  CLHS_P_DISEASE = 11,        /**< patient: relapse or remission this week (id = agent) */
  CLHS_P_PEER = 16,           /**< centre: peer ties this week (id = centre) */
  CLHS_P_ATTEND = 17,         /**< agent: attends this week's event (id = agent) */
  CLHS_P_EVENT_TIES = 18,     /**< agent: its event ties and their partners (id = agent) */
  CLHS_P_ONLINE = 19,         /**< agent: an online tie and its partner (id = agent) */
  CLHS_P_ENGAGE = 20,         /**< agent: up or down the ladder (id = agent) */
  CLHS_P_INVITE = 21,         /**< agent: invited to awareness at a visit (id = agent) */
  /* 24..31: resources (src/model/resources.c) */
  CLHS_P_CREATE = 24,   /**< agent: resources created this week, their quality */
  CLHS_P_SHARE = 25,    /**< agent: offers to each neighbour, posting (id = creator) */
  CLHS_P_SEARCH = 26,   /**< agent: search, through ties, through the commons */
  CLHS_P_ADOPT = 27,    /**< agent: adoption of each candidate, in resource-id order */
  CLHS_P_RESEARCH = 28, /**< researcher: knowledge resources this week */
  CLHS_P_DESIGN = 40,   /**< an ensemble's Latin hypercube (seed lhs.seed, id = dimension) */
  CLHS_P_TRIAL = 41, /**< a trial's allocation (seed trial.seed, step = stratum, id = run.seed) */
};

/** The step value used for draws made before step 0 (initial state). */
#define CLHS_STEP_INIT 0xFFFFFFFFu

typedef struct clhs_rng {
  philox4x32_key_t key;
  philox4x32_ctr_t ctr;
  philox4x32_ctr_t out;
  int pos; /**< next unused word of `out` (4 = exhausted) */
} clhs_rng;

/** One block of four 32-bit words for a full key. */
static inline philox4x32_ctr_t clhs_rng_block(uint64_t seed, uint32_t step, uint64_t id,
                                              uint32_t purpose, uint32_t index) {
  philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t c = {
      {step, (uint32_t)id, (uint32_t)((id >> 32) & 0xFFFFu) | (purpose << 16), index}};
  return philox4x32(c, k);
}

static inline void clhs_rng_init(clhs_rng *r, uint64_t seed, uint32_t step, uint64_t id,
                                 uint32_t purpose) {
  r->key.v[0] = (uint32_t)seed;
  r->key.v[1] = (uint32_t)(seed >> 32);
  r->ctr.v[0] = step;
  r->ctr.v[1] = (uint32_t)id;
  r->ctr.v[2] = (uint32_t)((id >> 32) & 0xFFFFu) | (purpose << 16);
  r->ctr.v[3] = 0;
  r->pos = 4;
}

static inline uint32_t clhs_rng_u32(clhs_rng *r) {
  if (r->pos == 4) {
    r->out = philox4x32(r->ctr, r->key);
    r->ctr.v[3]++;
    r->pos = 0;
  }
  return r->out.v[r->pos++];
}

/** Words 0 and 1 of block 0 of the streams (seed, step, id0 + j, purpose), j = 0..n-1:
 *  w0[j] is what the first clhs_rng_u32() of clhs_rng_init(seed, step, id0 + j, purpose)
 *  returns, w1[j] the second. w1 may be NULL. Bit-identical to the scalar path on every CPU.
 *  Computes several ids at once in SIMD vectors where the CPU has them (src/util/rng_batch.c).
 *  n <= 0 writes nothing. */
void clhs_rng_batch01(uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose, int64_t n,
                      uint32_t *w0, uint32_t *w1);
/** As clhs_rng_batch01 for the ids id0 + off[j], j = 0..n-1, only: w0[j] (and w1[j]) are the
 *  first two words of the stream (seed, step, id0 + off[j], purpose). The offsets must be
 *  non-negative and ascending (e.g. the agents of a centre that need a draw). */
void clhs_rng_batch01_at(uint64_t seed, uint32_t step, uint64_t id0, uint32_t purpose, int64_t n,
                         const int32_t *off, uint32_t *w0, uint32_t *w1);
/** Which implementation clhs_rng_batch01 uses on this CPU: "avx512", "avx2" or "scalar". */
const char *clhs_rng_batch_isa(void);

/** Scratch for one centre's batched draws (one per thread; free(v) when done). */
typedef struct clhs_u32buf {
  uint32_t *v;
  int64_t cap;
} clhs_u32buf;

/** Room for @p n words in @p b (its contents are not kept); 0 when out of memory. */
static inline int clhs_u32buf_fit(clhs_u32buf *b, int64_t n) {
  if (n <= b->cap) return 1;
  free(b->v);
  b->v = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(n > 0 ? n : 1));
  b->cap = b->v ? n : 0;
  return b->v != NULL;
}

/** A 32-bit word as a uniform in the open interval (0,1). */
static inline double clhs_u01_from32(uint32_t u) {
  return ((double)u + 0.5) * 0x1p-32;
}

/** The uniform clhs_rng_uniform() makes from a stream's next two words @p hi, @p lo
 * (e.g. words 0 and 1 from clhs_rng_batch01). */
static inline double clhs_u01_from64(uint32_t hi, uint32_t lo) {
  const uint64_t x = (((uint64_t)hi << 32) | lo) >> 11;
  const double u = ((double)x + 0.5) * 0x1p-53;
  return u < 1.0 ? u : 0x1.fffffffffffffp-1; /* x = 2^53 - 1 rounds to 1: keep u < 1 */
}

/** Uniform in (0,1) with 53 random bits. */
static inline double clhs_rng_uniform(clhs_rng *r) {
  const uint32_t hi = clhs_rng_u32(r), lo = clhs_rng_u32(r);
  return clhs_u01_from64(hi, lo);
}

/** True with probability p (p outside [0,1] is clamped). */
static inline int clhs_rng_bernoulli(clhs_rng *r, double p) {
  return clhs_u01_from32(clhs_rng_u32(r)) < p;
}

/** Uniform integer in [0, n) (n >= 1), by the multiply-shift method on 32 bits. */
static inline uint32_t clhs_rng_below(clhs_rng *r, uint32_t n) {
  return (uint32_t)(((uint64_t)clhs_rng_u32(r) * n) >> 32);
}

double clhs_rng_normal(clhs_rng *r);
double clhs_rng_gamma(clhs_rng *r, double shape);
double clhs_rng_beta(clhs_rng *r, double a, double b);
int64_t clhs_rng_poisson(clhs_rng *r, double lambda);
int64_t clhs_rng_binomial(clhs_rng *r, int64_t n, double p);

/** Per-step probability from a weekly hazard: 1 - exp(-h). */
static inline double clhs_hazard_p(double h) {
  return h > 0 ? -expm1(-h) : 0.0;
}

/**
 * Whether u < clhs_hazard_p(h) is possible at all: the probability 1 - exp(-h) is below h,
 * and an expm1 within a few ulp cannot round it above h (1 + 2^-50), so a u at or above that
 * never gives the event. (Branch-free, for vector passes over many draws.)
 */
static inline int clhs_hazard_may(double u, double h) {
  return u < h * (1 + 0x1p-50);
}

/**
 * u < clhs_hazard_p(h), the same for every u, but without the expm1 when u is clearly
 * above h (clhs_hazard_may). Most weekly hazards are small, so most draws stop there.
 */
static inline int clhs_hazard_event(double u, double h) {
  return clhs_hazard_may(u, h) && u < clhs_hazard_p(h);
}

#endif
