/**
 * @file fields.h
 * @brief The one table of the world's per-entity arrays: the state of agents, patients,
 *        staff and centres, and the structure built around them.
 *
 * One row per array of clhs_world (CLHS_WORLD_FIELDS): its name (the struct member and
 * the checkpoint dataset), C type, entity (what it holds one entry per), entries per
 * entity, element type, role, place in the state digest, unit and meaning. The rows drive
 *  - the members of clhs_world (include/clhs/model.h),
 *  - allocation and freeing (clhs_world_create, clhs_world_free),
 *  - clhs_world_bytes and the memory estimate (clhs_memory_world_bytes),
 *  - the state digest's folds (clhs_world_digest),
 *  - the checkpoint's datasets, written and read (src/io/checkpoint.c),
 *  - the comparison of two worlds after a checkpoint is read (tests/unit/test_checkpoint.c),
 *  - the layout tables of docs/checkpoint.md (`clhsim state`; a test fails on drift).
 *
 * Adding a state variable is one row here plus its rule: its initial value (world.c) and
 * its update (a phase). A row with role STATE is a new checkpoint dataset: bump
 * CLHS_CKPT_FORMAT. A row in the digest changes every digest.
 *
 * Row: ROW(name, C type, entity, entries per entity, element type, role, digest, digest
 * argument, unit, meaning). Entities: CLHS_E_*; entries: 1, NEEDS (CLHS_NEEDS) or HELD
 * (resources.held_max); element types: CLHS_VT_* (a struct is a whole number of them);
 * roles: CLHS_ROLE_*. Digest: NO (not folded); WORD (starts a 64-bit word with the value);
 * MASK, m (starts a word with the value's bits m); OR, s and XOR, s (or/xor the value
 * shifted left by s bits into the current word). A word is folded per entry: the rows of one
 * word follow each other among the table's digest rows and have the same entity and entries
 * per entity (clhs_fields_check; stats.c generates the folds from the rows).
 *
 * Row order matters within an entity: the digest folds the entity's rows in row order, and
 * the checkpoint's datasets are written in row order.
 *
 * Not here: clhs_world's scalars, `first` (CLHS_NTYPES + 1 arrays of centre bounds, one
 * hand-written row in src/model/fields.c), and the tables with rules of their own: the tie
 * store (src/model/ties.c), the halo, this rank's resources and the commons.
 */
#ifndef CLHS_FIELDS_H
#define CLHS_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clhs/error.h"

/* clang-format off: the table reads best as one aligned row per array. */
// clang-format off
#define CLHS_WORLD_FIELDS(ROW)                                                                     \
  /*  name         C type              entity      per    type  role       digest */               \
  /* ---- this rank's agents ---- */                                                               \
  ROW(type,         uint8_t,            AGENT,      1,     U8,   CHECKED,   WORD, 0,               \
      "", "enum clhs_type")                                                                        \
  ROW(E,            uint8_t,            AGENT,      1,     U8,   STATE,     OR,   8,               \
      "tier", "engagement tier 0..4")                                                              \
  ROW(E_wait,       uint8_t,            AGENT,      1,     U8,   STATE,     OR,   16,              \
      "tier", "initial tier, waiting for the centre to join (MODEL.md §3)")                        \
  ROW(m,            float,              AGENT,      1,     F32,  STATE,     WORD, 0,               \
      "1", "motivation")                                                                           \
  ROW(A,            float,              AGENT,      1,     F32,  STATE,     OR,   32,              \
      "1", "autonomy")                                                                             \
  ROW(K,            float,              AGENT,      1,     F32,  STATE,     WORD, 0,               \
      "1", "competence")                                                                           \
  ROW(Rl,           float,              AGENT,      1,     F32,  STATE,     OR,   32,              \
      "1", "relatedness")                                                                          \
  ROW(V,            float,              AGENT,      1,     F32,  STATE,     WORD, 0,               \
      "1", "value")                                                                                \
  ROW(need,         float,              AGENT,      NEEDS, F32,  STATE,     WORD, 0,               \
      "1", "needs n[κ], κ = 0..3")                                                                 \
  ROW(cover,        float,              AGENT,      NEEDS, F32,  STATE,     OR,   32,              \
      "1", "coverage s[κ] of the needs")                                                           \
  ROW(held,         uint64_t,           AGENT,      HELD,  U64,  STATE,     WORD, 0,               \
      "resource id", "ids of the resources held, newest first (CLHS_RES_NONE: an empty slot)")     \
  ROW(held_q,       uint16_t,           AGENT,      HELD,  U16,  STATE,     XOR,  48,              \
      "quality", "their quality v0")                                                               \
  ROW(flags,        uint8_t,            AGENT,      1,     U8,   STATE,     MASK, CLHS_F_COMMONS,  \
      "", "CLHS_F_TRAINED (attended an event this week), CLHS_F_COMMONS (has adopted from the "    \
      "commons); bits 4-7: the categories of the held list (derived, rebuilt when read back)")     \
  ROW(succ,         uint16_t,           AGENT,      1,     U16,  STATE,     NO,   0,               \
      "count", "own resources adopted by others plus own adoptions, this week")                    \
  ROW(centre,       int32_t,            AGENT,      1,     I32,  STRUCTURE, NO,   0,               \
      "centre index", "local centre index")                                                        \
  ROW(tmp_f,        float,              AGENT,      1,     F32,  SCRATCH,   NO,   0,               \
      "1", "next m (synchronous update)")                                                          \
  ROW(tmp_u8,       uint8_t,            AGENT,      1,     U8,   SCRATCH,   NO,   0,               \
      "", "next E (phase 5 fills it for phase 6; tmp_E_step says which step), renewed flags")      \
  /* ---- this rank's patients (local patient index p) ---- */                                     \
  ROW(X,            uint8_t,            PATIENT,    1,     U8,   STATE,     WORD, 0,               \
      "", "true disease state (CLHS_REM, CLHS_ACT)")                                               \
  ROW(pga,          uint8_t,            PATIENT,    1,     U8,   STATE,     OR,   8,               \
      "", "observed state: the last physician global assessment")                                  \
  ROW(ster,         uint8_t,            PATIENT,    1,     U8,   STATE,     OR,   16,              \
      "0/1", "on a steroid course")                                                                \
  ROW(ind,          uint8_t,            PATIENT,    1,     U8,   STATE,     OR,   24,              \
      "weeks", "weeks of induction left after an escalation")                                      \
  ROW(ster_weeks,   uint16_t,           PATIENT,    1,     U16,  STATE,     OR,   32,              \
      "weeks", "weeks on the current course")                                                      \
  ROW(rem_weeks,    uint16_t,           PATIENT,    1,     U16,  STATE,     OR,   40,              \
      "weeks", "consecutive weeks in remission on the current course")                             \
  ROW(esc_wait,     uint8_t,            PATIENT,    1,     U8,   STATE,     OR,   56,              \
      "weeks", "weeks left in the window after an escalation (0: no window open)")                 \
  ROW(adh,          float,              PATIENT,    1,     F32,  STATE,     WORD, 0,               \
      "1", "adherence a")                                                                          \
  ROW(T,            float,              PATIENT,    1,     F32,  STATE,     OR,   32,              \
      "1", "treatment appropriateness T")                                                          \
  ROW(next_visit,   int32_t,            PATIENT,    1,     I32,  STATE,     WORD, 0,               \
      "step", "step of the next scheduled visit")                                                  \
  ROW(last_visit,   int32_t,            PATIENT,    1,     I32,  STATE,     OR,   32,              \
      "step", "step of the last visit (-1: none)")                                                 \
  ROW(pat_agent,    int32_t,            PATIENT,    1,     I32,  STRUCTURE, NO,   0,               \
      "agent index", "local agent index of the patient")                                           \
  ROW(pat_clin,     int32_t,            PATIENT,    1,     I32,  STRUCTURE, NO,   0,               \
      "agent index", "local agent index of the patient's clinician")                               \
  ROW(pat_fam,      int32_t,            PATIENT,    1,     I32,  STRUCTURE, NO,   0,               \
      "agent index", "local agent index of the patient's caregiver (-1: none)")                    \
  /* ---- this rank's staff and caregivers ---- */                                                 \
  ROW(g,            float,              CLIN,       1,     F32,  STATE,     WORD, 0,               \
      "1", "guideline adherence of the clinician")                                                 \
  ROW(q,            float,              QIS,        1,     F32,  STATE,     WORD, 0,               \
      "1", "QI skill of the improvement specialist")                                               \
  ROW(fam_patient,  int32_t,            FAM,        1,     I32,  STRUCTURE, NO,   0,               \
      "patient index", "local patient index of each caregiver")                                    \
  /* ---- this rank's centres ---- */                                                              \
  ROW(pat_begin,    int32_t,            BOUND,      1,     I32,  STRUCTURE, NO,   0,               \
      "patient index", "local index of each centre's first patient: p of centre c is in "          \
      "[pat_begin[c], pat_begin[c+1])")                                                            \
  ROW(clin_begin,   int32_t,            BOUND,      1,     I32,  STRUCTURE, NO,   0,               \
      "clinician index", "local index of each centre's first clinician, into g")                   \
  ROW(qis_begin,    int32_t,            BOUND,      1,     I32,  STRUCTURE, NO,   0,               \
      "QIS index", "local index of each centre's first improvement specialist, into q")            \
  ROW(fam_begin,    int32_t,            BOUND,      1,     I32,  STRUCTURE, NO,   0,               \
      "caregiver index", "local index of each centre's first caregiver, into fam_patient")         \
  ROW(r,            float,              CENTRE,     1,     F32,  STATE,     WORD, 0,               \
      "1", "reliability of the centre's data")                                                     \
  ROW(d,            float,              CENTRE,     1,     F32,  STATE,     OR,   32,              \
      "1", "registry completeness")                                                                \
  ROW(member,       uint8_t,            CENTRE,     1,     U8,   STATE,     WORD, 0,               \
      "0/1", "membership flag")                                                                    \
  ROW(counts,       clhs_centre_counts, CENTRE,     1,     I64,  STATE,     NO,   0,               \
      "count", "counters since the last output record, the int64 fields of clhs_centre_counts "    \
      "in order: visits, recalls, escalations, records, created[3], adoptions, "                   \
      "commons_adoptions, new_commons_users, relapses, remission_weeks, esc_remitted, esc_not")    \
  ROW(join_step,    int32_t,            CENTRE,     1,     I32,  STATE,     NO,   0,               \
      "step", "step at which the centre joins (0: a member from the start; CLHS_NEVER: not yet "   \
      "decided)")                                                                                  \
  ROW(I,            clhs_intensity,     CENTRE,     1,     F64,  DERIVED,   NO,   0,               \
      "1", "lever intensities at this step (MODEL.md §10)")                                        \
  ROW(ties,         clhs_tieset,        CENTRE,     1,     NONE, OWNED,     NO,   0,               \
      "", "the dynamic ties of the centre's agents (src/model/ties.c; checkpoint group /ties)")    \
  /* ---- every rank, on every rank (O(ranks); not in clhs_world_bytes) ---- */                   \
  ROW(rank_gid0,    int64_t,            RANK_BOUND, 1,     I64,  STRUCTURE, NO,   0,               \
      "agent id", "global id of each rank's first agent (a rank with no centre: the next "         \
      "rank's); the last entry is nagents. The owner of a global id is a binary search in it")
// clang-format on

/** What a row holds one entry per. */
typedef enum clhs_entity {
  CLHS_E_AGENT = 0,  /**< this rank's agents (n) */
  CLHS_E_PATIENT,    /**< this rank's patients (npat) */
  CLHS_E_CLIN,       /**< this rank's clinicians (nclin) */
  CLHS_E_QIS,        /**< this rank's improvement specialists (nqis) */
  CLHS_E_FAM,        /**< this rank's caregivers (fam_begin[c_count]) */
  CLHS_E_CENTRE,     /**< this rank's centres (c_count) */
  CLHS_E_BOUND,      /**< this rank's centres and the end (c_count + 1) */
  CLHS_E_RANK_BOUND, /**< every rank and the end, on every rank (ranks + 1) */
  CLHS_NENTITIES
} clhs_entity;

/** Entries per entity. */
enum { CLHS_PER_1 = 0, CLHS_PER_NEEDS, CLHS_PER_HELD };

/** Element types (the checkpoint's and the digest's view; the order of checkpoint.c's). */
enum {
  CLHS_VT_U8 = 0,
  CLHS_VT_U16,
  CLHS_VT_U32,
  CLHS_VT_U64,
  CLHS_VT_I32,
  CLHS_VT_I64,
  CLHS_VT_F32,
  CLHS_VT_F64,
  CLHS_VT_NONE, /**< opaque (no checkpoint, no digest) */
  CLHS_NVTYPES
};

/** What a row is to the run. */
enum {
  CLHS_ROLE_STATE = 0, /**< state: checkpointed and loaded on restart */
  CLHS_ROLE_CHECKED,   /**< structure that is checkpointed too, to be compared on restart */
  CLHS_ROLE_STRUCTURE, /**< built from the configuration by clhs_world_create; not stored */
  CLHS_ROLE_DERIVED,   /**< recomputed from the state every step; not stored */
  CLHS_ROLE_SCRATCH,   /**< scratch within a step; not stored */
  CLHS_ROLE_OWNED,     /**< allocated, freed and stored by its own module; counted here */
  CLHS_NROLES
};

/** A row's place in the digest (the digest column of a row: NO, WORD, MASK, OR, XOR). */
enum { CLHS_DIG_NO = 0, CLHS_DIG_WORD, CLHS_DIG_MASK, CLHS_DIG_OR, CLHS_DIG_XOR };

/** One row of the table. */
typedef struct clhs_field {
  const char *name;  /**< the member of clhs_world and the checkpoint dataset */
  const char *ctype; /**< C type of an element, as text */
  size_t offset;     /**< offsetof(clhs_world, name): the array pointer */
  size_t size;       /**< bytes per element */
  int narrays;       /**< consecutive array pointers at offset (1, or CLHS_NTYPES + 1) */
  int entity;        /**< clhs_entity */
  int per;           /**< CLHS_PER_* */
  int vtype;         /**< CLHS_VT_*: an element is size / clhs_vtype_size(vtype) of them */
  int role;          /**< CLHS_ROLE_* */
  int dig;           /**< CLHS_DIG_* */
  uint64_t dig_arg;  /**< MASK: the bits folded; OR, XOR: the shift in bits */
  const char *unit;
  const char *meaning;
} clhs_field;

/** What an entity is, for the checkpoint and the documentation. */
typedef struct clhs_entity_info {
  const char *name;  /**< "agent" */
  const char *count; /**< how many this rank holds, as text */
  const char *group; /**< checkpoint group, NULL if none of its rows is stored */
  const char *rows;  /**< what a checkpoint row is */
  int replicated;    /**< every rank holds every entry (never stored: no group) */
} clhs_entity_info;

#define CLHS_FIELD_COUNT_ONE(...) +1
/** Rows of the table (CLHS_WORLD_FIELDS and `first`). */
#define CLHS_NFIELDS (1 CLHS_WORLD_FIELDS(CLHS_FIELD_COUNT_ONE))

extern const clhs_field clhs_fields[CLHS_NFIELDS];
extern const clhs_entity_info clhs_entities[CLHS_NENTITIES];

typedef struct clhs_world clhs_world;

/** Bytes of one value of an element type. */
size_t clhs_vtype_size(int vtype);
/** Entries of a row per entity (held_max: resources.held_max). */
int64_t clhs_field_per(const clhs_field *f, int64_t held_max);
/** Values of a row's element type per entity (clhs_field_per times the values of a struct). */
int64_t clhs_field_values(const clhs_field *f, int64_t held_max);
/** Whether a row is a checkpoint dataset (roles STATE and CHECKED). */
int clhs_field_stored(const clhs_field *f);

/** The entities this rank holds, from the world's sizes. */
int64_t clhs_entity_count(const clhs_world *w, int entity);
/**
 * An entity's rows in the checkpoint: the global rows, this rank's first row and its count
 * (none for an entity that is not stored).
 */
void clhs_entity_rows(const clhs_world *w, int entity, int64_t *rows, int64_t *row0, int64_t *nloc);
/** Array @p k (< narrays) of a row in world @p w. */
void *clhs_field_array(const clhs_world *w, const clhs_field *f, int k);
/** Entries of array of row @p f this rank holds (entity count times entries per entity). */
int64_t clhs_field_elems(const clhs_world *w, const clhs_field *f);

/** Allocate (zeroed) the arrays of one entity, from the sizes already in @p w. */
int clhs_fields_alloc(clhs_world *w, int entity, clhs_error *err);
/** Free every array of the table (OWNED rows are left to their module); NULL-safe. */
void clhs_fields_free(clhs_world *w);
/**
 * Bytes of the table's arrays for @p count[e] entities of each kind, replicated entities
 * left out and centre bounds counted per centre (count[CLHS_E_BOUND] is not read; the end
 * entry is left out): clhs_world_bytes and the memory estimate both use it.
 */
int64_t clhs_fields_bytes(const int64_t count[CLHS_NENTITIES], int64_t held_max);

/** NULL if the table keeps its rules (see above), else what is wrong. */
const char *clhs_fields_check(void);

/** The checkpoint layout and the other arrays as Markdown (docs/checkpoint.md). */
void clhs_fields_write_markdown(FILE *out);

#endif
