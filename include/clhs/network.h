/**
 * @file network.h
 * @brief Dynamic ties (MODEL.md §4), the halo of remote neighbours, resource ids (§7).
 *
 * Ties are undirected and stored on both ends. Care ties are fixed and implied by the
 * structure (a patient's clinician and caregiver, a centre's staff clique), so they are
 * never stored; the dynamic ties (peer, event, online) of a centre's agents are one
 * compressed-row table per centre, each row sorted by neighbour global id. A tie end is
 * 12 bytes: an 8-byte key (neighbour gid << 2 | kind) and a 4-byte weight; a row
 * offset is 4 bytes per agent. Every change to a tie (creation, reinforcement, decay,
 * pruning, dropping on turnover) is applied identically at both ends, on whichever
 * rank each end lives, so both ends always agree (checked by clhs_ties_check).
 */
#ifndef CLHS_NETWORK_H
#define CLHS_NETWORK_H

#include <stddef.h>
#include <stdint.h>

/** Tie kinds (§4). Care ties are implicit and never stored. */
enum clhs_tie_kind {
  CLHS_TIE_CARE = 0,
  CLHS_TIE_PEER = 1,
  CLHS_TIE_EVENT = 2,
  CLHS_TIE_ONLINE = 3
};
#define CLHS_NTIEKINDS 4
#define CLHS_CARETIES_W 0.8f /**< weight of every care tie (§4) */
/** Fixed point of the event partners' type factor (§4): same type = 10^6, another type =
 *  cross_role · 10^6 rounded, so every partner weight and prefix sum is an exact integer. */
#define CLHS_EVENT_WEIGHT_ONE 1000000
/** The code's result-changing model choices, written to the output as /code@model_notes
 *  (each is explained in docs/model.md). */
#define CLHS_MODEL_NOTES                                                                           \
  "event partner weights in fixed point: cross_role used as a multiple of 1e-6 (docs/model.md, "   \
  "Ties); commons draws in fixed point: current quality on a 2^-24 grid, a position drawn "        \
  "from 64 bits of the searcher's stream (docs/model.md, Resources and the commons); evidence "    \
  "gains summed as logs on a 2^-36 grid (same section); per-centre means and SD of records on a "  \
  "2^-32 grid (docs/model.md, Records)"

/** A tie end's key: neighbour gid and kind; sorting keys sorts by gid. */
static inline uint64_t clhs_tie_key(int64_t gid, int kind) {
  return ((uint64_t)gid << 2) | (uint64_t)kind;
}
static inline int64_t clhs_tie_gid(uint64_t key) {
  return (int64_t)(key >> 2);
}
static inline int clhs_tie_kind_of(uint64_t key) {
  return (int)(key & 3u);
}

/** The dynamic ties of one centre's agents (rows in local agent order). */
typedef struct clhs_tieset {
  uint32_t *off; /**< [nagents_c + 1] row offsets */
  uint64_t *key; /**< [cap] neighbour key */
  float *w;      /**< [cap] weight in (0, 1] */
  uint32_t cap;
} clhs_tieset;

/**
 * A change to one local tie end, gathered during a phase and applied at its end
 * (synchronous update). `agent` is the local agent index, `nbr` the neighbour gid.
 */
typedef struct clhs_tie_event {
  int32_t agent;
  uint8_t kind; /**< for creations: the kind to create; otherwise ignored */
  uint8_t op;   /**< enum clhs_tie_op */
  uint16_t pad;
  int64_t nbr;
} clhs_tie_event;

/** A tie event addressed to whichever rank owns `target` (sent between ranks). */
typedef struct clhs_tie_msg {
  int64_t target; /**< gid of the end to change */
  int64_t nbr;    /**< gid of the other end */
  uint8_t op, kind;
  uint16_t pad2;
  uint32_t pad;
} clhs_tie_msg;

/** One neighbour of an agent, care or dynamic, as listed in global-id order. */
typedef struct clhs_nbr {
  int64_t gid;
  int64_t loc; /**< local agent index, or -1 - halo index for a remote neighbour */
  float w;
  uint8_t kind;
} clhs_nbr;

enum clhs_tie_op {
  CLHS_TIE_CREATE = 0,    /**< create (or, if it exists, reinforce) */
  CLHS_TIE_REINFORCE = 1, /**< an interaction over an existing tie */
  CLHS_TIE_DROP = 2       /**< remove (turnover) */
};

/* ---- resources (§7) ---- */

/**
 * A resource id is decomposition-independent: creation step (20 bits), creator gid
 * (36 bits), the creator's k-th resource of that step (6 bits), category κ (2 bits).
 * Ids therefore sort by creation step first ("most recently created" = largest id).
 */
static inline uint64_t clhs_res_id(int64_t step, int64_t creator, int k, int cat) {
  return ((uint64_t)step << 44) | ((uint64_t)creator << 8) | ((uint64_t)(k & 63) << 2) |
         (uint64_t)(cat & 3);
}
static inline int64_t clhs_res_step(uint64_t id) {
  return (int64_t)(id >> 44);
}
static inline int64_t clhs_res_creator(uint64_t id) {
  return (int64_t)((id >> 8) & ((1ULL << 36) - 1));
}
static inline int clhs_res_cat(uint64_t id) {
  return (int)(id & 3u);
}
#define CLHS_RES_NONE UINT64_MAX /**< an empty held slot */
#define CLHS_RES_MAX_PER_STEP 63 /**< resources one agent can create in one step */
#define CLHS_RES_MAX_AGENTS (1LL << 36)

/** Resource kinds (§7). */
enum clhs_res_kind { CLHS_RES_INFORMATION = 0, CLHS_RES_KNOWLEDGE = 1, CLHS_RES_TOOL = 2 };
#define CLHS_NRESKINDS 3

/** Quality is stored as a 16-bit fraction of 1 (v0 = q / 65535). */
static inline uint16_t clhs_quality_q(double v) {
  double x = v < 0 ? 0 : (v > 1 ? 1 : v);
  return (uint16_t)(x * 65535.0 + 0.5);
}
static inline double clhs_quality_v0(uint16_t q) {
  return (double)q / 65535.0;
}

#endif
