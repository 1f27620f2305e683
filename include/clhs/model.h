/**
 * @file model.h
 * @brief The simulated world on one rank: centres, agents (structure of arrays) and
 *        the phases of a step (MODEL.md §10a).
 *
 * Decomposition: centres are split over ranks in contiguous blocks balanced by
 * agent count (a centre is never split; a rank may own none). Agents are numbered
 * centre by centre (PAT, FAM, CLIN, QIS, RES), so each rank owns one contiguous
 * range of global ids, and local index i is global id gid_begin + i.
 *
 * Memory: every per-agent array is sized by the local agent count and uses the
 * most compact type that holds its range; the arrays are the rows of one table
 * (include/clhs/fields.h), from which clhs_world_bytes() reports the total, which the
 * run divides by the agent count and reports as bytes per agent.
 *
 * Care ties (§4: PAT-CLIN, PAT-FAM and the staff clique of a centre) are fixed
 * and follow from the structure, so they are not stored: clinician and caregiver
 * indices are kept per patient and a centre's staff are a contiguous range.
 */
#ifndef CLHS_MODEL_H
#define CLHS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"
#include "clhs/fields.h"
#include "clhs/network.h"

#define CLHS_NEEDS 4         /**< need categories κ = 0..3 */
#define CLHS_TIERS 5         /**< engagement tiers E = 0..4 */
#define CLHS_NEVER INT32_MAX /**< join step of a centre that never joins */

/** Agent flags. */
enum {
  CLHS_F_TRAINED = 1, /**< attended an event this week */
  CLHS_F_COMMONS = 2, /**< has adopted from the commons (this person) */
  /** Bits CLHS_F_HELD_SHIFT + κ: the agent holds a resource of category κ (derived from its
   *  held list, kept with it, and rebuilt from it after a checkpoint is read). */
  CLHS_F_HELD_SHIFT = 4
};

/** Patient disease state X and observed state pga. */
enum { CLHS_REM = 0, CLHS_ACT = 1 };

/** Intensities of MODEL.md §10 for one centre at the current step (0 for non-members). */
typedef struct clhs_intensity {
  double registry, train, qi, pvp, pop, guidelines, c_data;
  double commons, find, platform, tools, roles, community, outreach, beta_lead_extra, research;
} clhs_intensity;

/** Per-centre counters accumulated between output records. */
typedef struct clhs_centre_counts {
  int64_t visits, recalls, escalations, records;
  int64_t created[CLHS_NRESKINDS]; /**< resources created, by kind */
  int64_t adoptions;               /**< adoptions by the centre's agents */
  int64_t commons_adoptions;       /**< of which from the commons */
  int64_t new_commons_users;       /**< agents adopting from the commons for the first time */
  /* Outcome counters of member centres (§12 targets): true REM->ACT transitions,
   * patient-weeks in true remission, and escalations of truly active patients
   * resolved as remitted within CLHS_ESC_WINDOW weeks or not. */
  int64_t relapses, remission_weeks, esc_remitted, esc_not;
} clhs_centre_counts;

/** Weeks after an escalation within which a remission counts for escalation_outcomes. */
#define CLHS_ESC_WINDOW 12

/** Resources created by this rank's agents (sorted by id). */
typedef struct clhs_restab {
  int64_t n, cap;
  uint64_t *id;
  uint16_t *q;   /**< quality v0 */
  uint8_t *kind; /**< enum clhs_res_kind */
  uint8_t *in_commons;
  uint32_t *adoptions;
  int64_t fresh_begin; /**< resources [fresh_begin, n) were created in the latest step */
} clhs_restab;

/**
 * The commons, distributed: a posted resource stays in the table of the rank that created
 * it (res.in_commons). Each rank indexes its own posted resources by category, in
 * (creator gid, id) order -- ranks own contiguous gid blocks, so the ranks' lists in rank
 * order are one global order whatever the decomposition -- with the running sums of their
 * current quality in fixed point (CLHS_FIXED_ONE), so that N_κ and every prefix are exact
 * integers. What every rank knows of the others is P per-rank totals (commons.c).
 */
typedef struct clhs_commons {
  int64_t n;                 /**< resources in the commons, all ranks (the same on every rank) */
  int64_t total[CLHS_NEEDS]; /**< N_κ in fixed point, all ranks, at the latest index */
  int64_t len[CLHS_NEEDS];   /**< this rank's posted resources of category κ */
  int64_t cap[CLHS_NEEDS];
  int64_t *at[CLHS_NEEDS];  /**< their rows in res, in (creator, id) order */
  int64_t *cum[CLHS_NEEDS]; /**< running sums of their fixed-point current quality */
  int64_t *rank_start;      /**< [CLHS_NEEDS * (P + 1)]: prefix of the ranks' totals */
} clhs_commons;

/** Remote neighbours' state, received once a step after the ties settle (phase 3). */
typedef struct clhs_halo {
  int64_t n, cap; /**< remote neighbours (distinct gids) */
  int64_t *gid;   /**< sorted */
  float *m;
  uint8_t *E;
  uint64_t *held; /**< [n * held_max] */
  uint16_t *held_q;
  int64_t bytes_sent; /**< this rank's halo bytes in the last exchange */
} clhs_halo;

/** One centre's statistics for a record (kept on the rank that owns the centre). */
typedef struct clhs_centre_stat {
  int64_t patients, obs_rem, true_rem, steroid, steroid_free_rem;
  int64_t visits, recalls, escalations, records;
  int64_t relapses, remission_weeks, esc_remitted, esc_not;
  double reliability, completeness;
  int32_t member, established;
} clhs_centre_stat;

/** Phases of MODEL.md §10a as timed (2 includes the halo exchange; 10 = records). */
enum {
  CLHS_PH_LEVERS = 0,
  CLHS_PH_NEWTIES,
  CLHS_PH_DECAY,
  CLHS_PH_RESOURCES,
  CLHS_PH_MOTIVATION,
  CLHS_PH_ENGAGEMENT,
  CLHS_PH_CARE,
  CLHS_PH_CENTRES,
  CLHS_PH_TURNOVER,
  CLHS_PH_RECORDS,
  CLHS_NPHASES
};
extern const char *const clhs_phase_names[CLHS_NPHASES];

/** Log-spaced degree bins: 0, 1, 2-3, 4-7, ..., 512-1023, >= 1024. */
#define CLHS_DEGREE_BINS 12

/** Fixed point for network-wide sums of values in [0, 1]: exact integer reductions. */
#define CLHS_FIXED_ONE 16777216.0 /* 2^24: 10^10 agents stay below 2^63 */

/**
 * Network-wide statistics of a record, as integers so that their reduction over ranks
 * is exact (offsets into one int64 vector).
 */
enum {
  CLHS_NS_TIER = 0,                                         /* [type][tier] agents */
  CLHS_NS_COUNT = CLHS_NS_TIER + CLHS_NTYPES * CLHS_TIERS,  /* [type] agents */
  CLHS_NS_M = CLHS_NS_COUNT + CLHS_NTYPES,                  /* [type] Σ m, fixed point */
  CLHS_NS_A = CLHS_NS_M + CLHS_NTYPES,                      /* [type] Σ A */
  CLHS_NS_K = CLHS_NS_A + CLHS_NTYPES,                      /* [type] Σ K */
  CLHS_NS_RL = CLHS_NS_K + CLHS_NTYPES,                     /* [type] Σ Rl */
  CLHS_NS_V = CLHS_NS_RL + CLHS_NTYPES,                     /* [type] Σ V */
  CLHS_NS_CREATED = CLHS_NS_V + CLHS_NTYPES,                /* [kind] since last record */
  CLHS_NS_ADOPTIONS = CLHS_NS_CREATED + CLHS_NRESKINDS,     /* since last record */
  CLHS_NS_COMMONS_ADOPTIONS,                                /* since last record */
  CLHS_NS_NEW_COMMONS_USERS,                                /* since last record */
  CLHS_NS_TIE_ENDS,                                         /* [tie kind] */
  CLHS_NS_CROSS_ENDS = CLHS_NS_TIE_ENDS + CLHS_NTIEKINDS,   /* ends crossing centres */
  CLHS_NS_DEGREE,                                           /* [type] Σ degree */
  CLHS_NS_DEGREE_HIST = CLHS_NS_DEGREE + CLHS_NTYPES,       /* [bin] agents */
  CLHS_NS_ENGAGED = CLHS_NS_DEGREE_HIST + CLHS_DEGREE_BINS, /* agents with E >= 3 */
  CLHS_NS_LEN
};

/** Declares the member of one row of CLHS_WORLD_FIELDS: a pointer to its array. */
#define CLHS_FIELD_MEMBER(name, ctype, ...) ctype *name;

typedef struct clhs_world {
  const clhs_config *cfg;
  const clhs_comm *comm;

  /* ---- global structure (the same on every rank; what a rank knows of the other ranks'
   * centres is rank_gid0, the ranks' first global ids) ---- */
  int64_t ncentres;
  int64_t nagents;     /**< all agents in the run */
  int64_t npatients;   /**< all patients in the run */
  int64_t nclin_total; /**< all clinicians in the run */
  int64_t nqis_total;  /**< all improvement specialists in the run */

  /* ---- this rank's centres [c_begin, c_begin + c_count) ---- */
  int64_t c_begin, c_count;
  /* Local agent index of the first agent of each type, per local centre: agents of
   * type t in local centre c are [first[t][c], first[t+1][c]); first[NTYPES][c] is
   * the end of the centre. Patients p of centre c are the local patient indices
   * [pat_begin[c], pat_begin[c+1]). */
  int32_t *first[CLHS_NTYPES + 1];

  /* ---- this rank's agents: global ids [gid_begin, gid_begin + n) ---- */
  int64_t gid_begin, n;
  int64_t tmp_E_step; /**< the step whose phase 5 filled tmp_u8 with the next E (-1: none) */
  /* ---- this rank's patients (local patient index p) and staff; the network-wide index of
   * the first of each (patients, clinicians and QIS are numbered centre by centre) ---- */
  int64_t npat, nclin, nqis;
  int64_t pat_row0, clin_row0, qis_row0;

  /* ---- the arrays of agents, patients, staff and centres: one member per row of the
   * table of fields (include/clhs/fields.h), which says what each holds ---- */
  CLHS_WORLD_FIELDS(CLHS_FIELD_MEMBER)

  /* ---- tables that grow as the run goes ---- */
  clhs_halo halo;
  clhs_restab res;
  clhs_commons commons;

  /* ---- timing (this rank; benchmarks) ---- */
  double t_phase[CLHS_NPHASES]; /**< seconds in each phase of §10a, summed over steps */
  int64_t *tie_visits; /**< [threads * 8] neighbour-list entries visited, per thread (padded) */

  /* ---- network-wide state (identical on every rank) ---- */
  int64_t commons_users; /**< distinct agents that ever adopted from the commons */
  double E_tx;           /**< evidence level */
  int64_t N_rec;         /**< registry records */
  int64_t step;          /**< steps completed */
} clhs_world;

/** Build the world for this rank: centre sizes, decomposition, initial state (collective). */
int clhs_world_create(clhs_world *w, const clhs_config *cfg, const clhs_comm *comm,
                      clhs_error *err);
void clhs_world_free(clhs_world *w);

/** Mean current quality v of the commons at the latest index (NaN when it is empty; the same
 * on every rank: an exact fixed-point sum; src/model/commons.c). */
double clhs_commons_quality_mean(const clhs_world *w);
/** Bytes of this rank's part of the commons (its index; src/model/commons.c). */
size_t clhs_commons_bytes(const clhs_world *w);
void clhs_commons_free(clhs_commons *c);
/** Rebuild the commons from res.in_commons after res was replaced (a checkpoint read), with
 * the quality of step w->step - 1 (collective; returns a status agreed on every rank). */
int clhs_commons_rebuild(clhs_world *w);

/** Bytes allocated for this rank's agents and centres (not the replicated table of the ranks'
 * first global ids). */
size_t clhs_world_bytes(const clhs_world *w);

/** Advance one step (collective: joins and network-wide counters are reduced). Returns
 * CLHS_OK or an error agreed by every rank (the policy: the top of src/model/step.c). */
int clhs_world_step(clhs_world *w, clhs_error *err);

/** For the tests (the engine's CLHS_FAULT_INJECT=RANK:STEP:PHASE, on that rank): phase
 * @p phase (5, 6, 7 or 9: those that report this rank's own status) fails in the step
 * from step @p step. */
void clhs_step_inject_fault(int64_t step, int phase);

/**
 * Collect this rank's per-centre statistics into @p stat[c_count] (counters since the
 * last call are reset).
 */
void clhs_world_centre_stats(clhs_world *w, clhs_centre_stat *stat);

/**
 * This rank's part of the network-wide statistics (CLHS_NS_*) into @p v[CLHS_NS_LEN];
 * the caller sums them over ranks. Counters since the last record are read, not reset
 * (clhs_world_centre_stats resets them).
 */
void clhs_world_network_stats(const clhs_world *w, int64_t *v);

/** 64-bit digest of the whole state, identical for any decomposition (collective). */
uint64_t clhs_world_digest(const clhs_world *w);

/* ---- the rules: one function per phase of MODEL.md §10a, each in the file named for its
 * phase; clhs_world_step (src/model/step.c) calls them in order. docs/model.md maps every
 * section of MODEL.md to its file and function. A phase that can fail records the error in
 * @p err and returns its status: phases 2-4 a status agreed on every rank, phases 5-7 and
 * 9 this rank's own (clhs_world_step agrees them at the end of the step). ---- */
/** Phase 1 (src/model/levers.c): joins, membership and the lever intensities. */
void clhs_phase_levers_joins(clhs_world *w, int64_t t);
/** Phase 2 (src/model/newties.c): peer, event and online ties (collective). Sets
 * CLHS_F_TRAINED on attendees. */
int clhs_phase_new_ties(clhs_world *w, int64_t t, clhs_error *err);
/** Phase 3 (src/model/decay.c): decay and pruning, then the halo exchange (collective). */
int clhs_phase_decay(clhs_world *w, int64_t t, clhs_error *err);
/** Phase 4 (src/model/resources.c, the commons in commons.c): creation, sharing,
 * discovery, adoption, research, obsolescence (collective). */
int clhs_phase_resources(clhs_world *w, int64_t t, clhs_error *err);
/** Phase 5: motivation; phase 6: engagement (src/model/motivation.c). */
int clhs_phase_motivation(clhs_world *w, int64_t t, clhs_error *err);
int clhs_phase_engagement(clhs_world *w, int64_t t, clhs_error *err);
/** Phase 7 (src/model/care.c): care and outcomes. */
int clhs_phase_care(clhs_world *w, int64_t t, clhs_error *err);
/** Phase 8 (src/model/centres.c): reliability, QI skill, registry completeness. */
void clhs_phase_centres(clhs_world *w, int64_t t);
/** Phase 9 (src/model/turnover.c): patient turnover (collective: drops ties). */
int clhs_phase_turnover(clhs_world *w, int64_t t, clhs_error *err);

/* ---- the tie store and the care ties (src/model/ties.c) ---- */
/** The rank that owns global id @p gid: a binary search in rank_gid0 (O(log ranks)). */
int clhs_owner_of_gid(const clhs_world *w, int64_t gid);
int clhs_ties_init(clhs_world *w, clhs_error *err);
void clhs_ties_free(clhs_world *w);
int64_t clhs_ties_count(const clhs_world *w);      /**< dynamic tie ends on this rank */
int64_t clhs_ties_cross_rank(const clhs_world *w); /**< ... whose other end is on another rank */
int64_t clhs_tie_visits(const clhs_world *w);      /**< neighbour entries visited so far */
size_t clhs_ties_bytes(const clhs_world *w);
/** The care-tie neighbours of local agent i of centre lc (local indices, gid order). */
int32_t clhs_careties_neighbours(const clhs_world *w, int64_t lc, int32_t i, int32_t *out);
int32_t clhs_careties_degree(const clhs_world *w, int64_t lc, int32_t i);
/** Scratch entries enough for any agent's care-tie neighbours in centre lc. */
int32_t clhs_careties_max(const clhs_world *w, int64_t lc);
int32_t clhs_degree(const clhs_world *w, int64_t lc, int32_t i);
int32_t clhs_neighbours(const clhs_world *w, int64_t lc, int32_t i, int32_t *care, clhs_nbr *nb);
/** Apply events on local tie ends (sorted here; any order in). */
int clhs_ties_apply_local(clhs_world *w, clhs_tie_event *ev, int64_t nev, clhs_error *err);
/** Deliver events to the owners of their targets and apply them there (collective; a rank
 * that fails still takes part). Returns this rank's status (not agreed). */
int clhs_ties_deliver(clhs_world *w, const clhs_tie_msg *msg, int64_t nmsg, clhs_error *err);
/** The network's invariants (collective): violations on all ranks, 0 if none, -1 if the
 * check could not be made (@p err says why on every rank); ties.c lists them. */
int64_t clhs_ties_check(clhs_world *w, clhs_error *err);
/** Decay and pruning of every dynamic tie (phase 3; src/model/decay.c). */
void clhs_ties_decay(clhs_world *w);

/* ---- the halo of remote neighbours (src/model/halo.c) ---- */
/** Index of remote gid @p gid in the halo, or -1. */
int64_t clhs_halo_find(const clhs_halo *h, int64_t gid);
/** Halo index of remote neighbour @p gid of agent @p of; aborts every rank if missing. */
int64_t clhs_halo_index(const clhs_world *w, int64_t gid, int64_t of);
/** Receive m, E and held resources of every remote neighbour (collective; returns a status
 * agreed on every rank). */
int clhs_halo_exchange(clhs_world *w, clhs_error *err);
void clhs_halo_free(clhs_halo *h);

/* ---- rules on single agents, exposed for unit tests ---- */
/** Weekly relapse and remission hazards of MODEL.md §8 (src/model/care.c); @p dE is the
 * patient's evidence gain (clhs_care_evidence_gain for a member centre's patient, else 0). */
double clhs_care_h_rel(const clhs_config *cfg, double a, double T, double S, double dE);
double clhs_care_h_rem(const clhs_config *cfg, double a, double T, int ind, double dE);
/** M1 (v1.2): dE = max(0, E_tx - the initial evidence level 0.1). */
double clhs_care_evidence_gain(const clhs_config *cfg, double E_tx);
/** Chance that steroids start at an active visit: steroid_start (1 - steroid_g g)(1 -
 * steroid_etx E_tx) (MODEL.md §8). */
double clhs_care_p_steroid(const clhs_config *cfg, double g, double E_tx);
/** Escalation probability at a visit with pga = ACT (src/model/care.c). */
double clhs_care_p_escalate(const clhs_config *cfg, double g, double r, double I_pvp, double d);
/** Number of members at step t under the schedule rule (src/model/world.c). */
int64_t clhs_schedule_members(const clhs_config *cfg, int64_t t);
/** Patients of centre c (LogNormal, redrawn into range; keyed by centre; src/model/world.c). */
int32_t clhs_centre_patients(const clhs_config *cfg, int64_t c);
/** Lever intensity at step @p t for centre @p centre (0 for a centre not targeted; centre < 0:
 * the untargeted intensity) (MODEL.md §10; src/model/levers.c). */
double clhs_lever_intensity(const clhs_lever_cfg *lv, double t, int64_t centre);
/** Intensities for a centre at step t (all zero for a non-member; src/model/levers.c). */
void clhs_intensity_compute(const clhs_config *cfg, double t, int64_t centre, int member,
                            clhs_intensity *I);

/** Initialise (or renew, on turnover) the state of one agent from a keyed stream
 * (src/model/world.c). */
void clhs_agent_fresh(clhs_world *w, int64_t i, uint32_t step, uint32_t purpose);

/** Sets every local agent's held-category bits of flags (CLHS_F_HELD_SHIFT) from its held
 *  list: after the held lists were read from a checkpoint. */
void clhs_world_held_cats(clhs_world *w);

#endif
