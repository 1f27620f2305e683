/**
 * @file config.h
 * @brief The run configuration: one struct, one table of defaults, YAML in, YAML out.
 *
 * Every key of ../shared/MODEL.md has a field here, named `section.key` exactly as
 * in the model (so `care.h_rel` is cfg->care.h_rel). The defaults, ranges, units and
 * meanings live in one table (src/config/config_table.c); the parser, the -P
 * overrides, `clhsim config` and the /parameters group of the output are all
 * generated from that table.
 */
#ifndef CLHS_CONFIG_H
#define CLHS_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "clhs/error.h"

/**
 * The version of ../shared/MODEL.md this program implements, recorded in the output
 * (/code@model_version) and in every checkpoint (/@model_version). A checkpoint without it was
 * written by model v1.1 code.
 */
#define CLHS_MODEL_VERSION "1.2"

/** Agent types, in the order agents are numbered inside a centre. */
enum clhs_type { CLHS_PAT = 0, CLHS_FAM, CLHS_CLIN, CLHS_QIS, CLHS_RES, CLHS_NTYPES };

/** Policy levers of MODEL.md §10, in table order. */
enum clhs_lever_id {
  CLHS_LEV_REGISTRY = 0,
  CLHS_LEV_QI_TRAINING,
  CLHS_LEV_PREVISIT,
  CLHS_LEV_GUIDELINES,
  CLHS_LEV_EHR,
  CLHS_LEV_COMMONS,
  CLHS_LEV_ROLES,
  CLHS_LEV_ENGAGEMENT,
  CLHS_LEV_OUTREACH,
  CLHS_LEV_RESEARCH,
  CLHS_NLEVERS
};

enum clhs_join_mode { CLHS_JOIN_SCHEDULE = 0, CLHS_JOIN_BASS = 1 };

#define CLHS_DATE_LEN 16 /**< "YYYY-MM-DD" plus room */
#define CLHS_PATH_LEN 1024
#define CLHS_SCHEDULE_MAX 64 /**< points in centres.schedule */

/** A lever: intensity I(t) = max * clamp((t - on)/ramp, 0, 1). */
typedef struct clhs_lever_cfg {
  char on[CLHS_DATE_LEN]; /**< as given: a date "YYYY-MM-DD" or a step number */
  double on_step;         /**< `on` resolved to (fractional) steps from run.start_date */
  double ramp;            /**< weeks; 0 = a step change */
  double max;             /**< intensity at the end of the ramp */
  int32_t ncentres;       /**< 0: the lever applies to every centre */
  int32_t *centres;       /**< sorted, unique centre indices (owned; NULL if ncentres==0) */
} clhs_lever_cfg;

typedef struct clhs_config {
  struct {
    int64_t steps;
    char start_date[CLHS_DATE_LEN];
    uint64_t seed;
    double max_wall_time; /**< seconds; 0 = unlimited */
  } run;
  struct {
    int64_t centres;
    double patients_median, patients_sigma;
    int64_t patients_min, patients_max;
    double caregivers_per_patient;
    int64_t patients_per_clinician;
    int64_t qis_base, qis_per_patients;
    int64_t researchers_min;
    double researchers_per_centre;
  } population;
  struct {
    double peer_rate, role_homophily;
    int64_t conference_every, webinar_every;
    double attend[3]; /**< tiers E = 2, 3, 4 */
    double conference_ties, webinar_ties, cross_role, online_rate;
    double decay, reinforce, prune_below;
  } network;
  struct {
    double gamma_r, kappa_success, kappa_train, k_decay, eta_v;
    double w_a, w_k, w_r, w_v, theta;
    double eta_m, mu_patient, mu_staff, mu_visit;
  } motivation;
  struct {
    double beta_lead;
    double up_family[4], up_staff[4]; /**< indexed by current tier 0..3 */
    double down[4];                   /**< indexed by E-1 for E = 1..4 */
    double invite;
  } engagement;
  struct {
    int64_t held_max;
    double create_cost;
    double rate[4]; /**< PAT, FAM, CLIN, QIS */
    double research_rate, evidence_gain, p_tie, p_post, need_threshold, p_search;
    double find_rate, saturation, beta_peer, coverage_gain, decay;
  } resources;
  struct clhs_care {
    double init_remission, init_steroid_active, t_drift, t_base;
    int64_t visit_rem, visit_act;
    double misread, steroid_start;
    int64_t steroid_course;
    double h_rel, rel_adherence, rel_treatment, rel_selfmgmt;
    double h_rem, rem_adherence, rem_treatment, induction_boost;
    double rem_evidence, rel_evidence; /**< M1 evidence-based therapy (v1.2) */
    double steroid_g, steroid_etx;     /**< steroid start (1 - steroid_g g)(1 - steroid_etx E_tx) */
    double turnover;
  } care;
  struct {
    int join; /**< enum clhs_join_mode */
    int32_t nschedule;
    char schedule_date[CLHS_SCHEDULE_MAX][CLHS_DATE_LEN];
    double schedule_count[CLHS_SCHEDULE_MAX]; /**< members per 100 centres */
    double initial_share, bass_p, bass_q, beta_value;
    double coaching; /**< M3 QI coaching (v1.2): weekly q gain x I_train */
  } centres;
  clhs_lever_cfg levers[CLHS_NLEVERS];
  struct {
    char path[CLHS_PATH_LEN];
    int64_t every;
    int64_t centre_every; /**< steps, a multiple of every; 0 = off; -1 = every */
    int64_t established_weeks;
  } output;
  struct {
    int64_t every; /**< steps; 0 = off */
    double wall;   /**< seconds; 0 = off */
    char dir[CLHS_PATH_LEN];
    int64_t keep;
  } checkpoint;
  /**
   * Bare constants of MODEL.md v1 (CLHS_CF_FIXED in the table): the defaults are the model's,
   * they are reported (foreach, `clhsim config` as comments, the /parameters attributes) and
   * packed, but no file or -P can set them. Vectors hold coefficients in the order of the
   * formula they belong to (see the table in src/config/config_table.c).
   */
  struct clhs_constants {
    /* §3 initial state */
    double init_m_family[2], init_m_staff[2]; /**< Beta(a, b) of initial m */
    double init_akr_family, init_akr_staff;   /**< initial A, K, Rl */
    double init_tier_family, init_tier_staff; /**< p of the higher initial tier */
    double init_need[2];                      /**< Beta(a, b) of each need n[k] */
    double init_cover;                        /**< initial coverage s[k] */
    double init_T[2], init_adherence[2];      /**< Beta(a, b) of T and a */
    int64_t init_visit_spread;                /**< next_visit uniform in 0..spread-1 */
    int64_t init_course_spread;               /**< running courses lasted 0..spread-1 weeks */
    double init_g, init_q, init_r, init_d, init_evidence;
    /* §8 care */
    double adherence_rate, adherence_target[4];
    double guideline_rate, guideline_target[5];
    int64_t recall_weeks;
    double escalate_pvp, escalate_registry, escalate_T;
    int64_t induction_weeks;
    int64_t steroid_remission_stop;
    double renew_T;
    /* §9 centres, §10 levers */
    double reliability_rate, reliability_selfmgmt, reliability_decay, reliability_usual;
    double qi_skill_gain, completeness_rate, completeness_decay, c_data[2];
    int64_t bass_every;
    double outreach_find, engagement_lead;
    /* §5 motivation, §6 engagement, §7 resources */
    double relatedness_rate, autonomy_rate, autonomy_target[4], motivation_eps;
    double outreach_aware;
    double quality_base[2], quality_beta[2], adopt_m[2];
    double research_nrec_scale;
  } constants;
} clhs_config;

/** Lever names as config keys ("registry", "qi_training", ...). */
extern const char *const clhs_lever_names[CLHS_NLEVERS];
/** Agent type names ("PAT", "FAM", "CLIN", "QIS", "RES"). */
extern const char *const clhs_type_names[CLHS_NTYPES];

/** Fill @p cfg with the built-in defaults (the ICN-sized scenario). */
void clhs_config_defaults(clhs_config *cfg);

/**
 * Read a YAML file into @p cfg (on top of what is there). Unknown keys, wrong
 * types, out-of-range values and broken YAML give CLHS_EINPUT with a message
 * naming the file, line, key and allowed range. So do hostile files: a directory,
 * more than 16 MiB, nesting deeper than 64 levels, tags other than the core
 * schema's (!!str !!int !!float !!bool !!null on scalars, !!seq, !!map), and
 * control characters in a path.
 */
int clhs_config_load_file(clhs_config *cfg, const char *path, clhs_error *err);

/** The same from YAML text (e.g. the configuration stored in a checkpoint); @p name labels errors.
 */
int clhs_config_load_text(clhs_config *cfg, const char *text, const char *name, clhs_error *err);

/**
 * Apply one override "section.key=value" (value is YAML: a scalar or a flow
 * sequence like [0.3,0.6,0.9]). Errors name the override ("-P ...").
 */
int clhs_config_override(clhs_config *cfg, const char *assignment, clhs_error *err);

/**
 * Check cross-key constraints (e.g. patients_min <= patients_max, schedule
 * dates increasing, lever centres < population.centres) and resolve derived
 * values (lever on_step). Call once after all files and overrides (rank 0).
 * Prints a warning on stderr ("clhsim: warning: ...") for a lever whose `on`
 * was set (differs from its default) to after the run's last date,
 * run.start_date + 7 x run.steps days: such a lever never acts.
 */
int clhs_config_finalize(clhs_config *cfg, clhs_error *err);

/**
 * Prepare @p cfg (defaults, before a stored configuration is loaded over it) for a state made
 * under model @p version: CLHS_MODEL_VERSION changes nothing; "1.1" sets the keys that v1.2
 * added (care.rem_evidence, care.rel_evidence, care.steroid_g, care.steroid_etx,
 * centres.coaching) to their v1.1 values, so that a v1.1 configuration, which names every
 * other key, runs as v1.1 (MODEL.md §14); any other version is CLHS_EINPUT naming both.
 * @p what names the state in the message (e.g. "checkpoint 'x.h5'").
 */
int clhs_config_for_model(clhs_config *cfg, const char *version, const char *what, clhs_error *err);

/** Steps between records of the per-centre series: output.centre_every (-1: output.every;
 * 0: none). */
int64_t clhs_config_centre_every(const clhs_config *cfg);

/**
 * Write the configuration as YAML. With @p annotate, every key is preceded by a
 * comment with its unit, allowed range and meaning (`clhsim config`).
 */
int clhs_config_write_yaml(const clhs_config *cfg, FILE *out, int annotate);

/** The same YAML as a malloc'd string (for the /parameters group). */
char *clhs_config_to_yaml(const clhs_config *cfg, int annotate);

/**
 * Visit every key with its value rendered as text (for attributes):
 * fn(key "section.key", value text, user).
 */
void clhs_config_foreach(const clhs_config *cfg,
                         void (*fn)(const char *key, const char *value, void *user), void *user);

/**
 * The declared kind of a key: 'i' int64, 'u' uint64, 'd' double, 'D' list of doubles,
 * 'I' list of integers, 's' text (dates, paths, names); 0 for an unknown key. Lets a
 * writer type each value by its declaration rather than its text (a double that
 * happens to be 1 stays a double).
 */
int clhs_config_key_kind(const char *key);

/** One key's value in its declared type (clhs_config_foreach_typed). */
typedef struct clhs_config_value {
  const char *key;   /**< "section.key" */
  int kind;          /**< as clhs_config_key_kind: 'i', 'u', 'd', 'D', 'I' or 's' */
  size_t n;          /**< values: the list's length for 'D' and 'I' (may be 0), else 1 */
  const int64_t *i;  /**< 'i', 'I' (an integer list widened to int64) */
  const uint64_t *u; /**< 'u' */
  const double *d;   /**< 'd', 'D' */
  const char *text;  /**< every kind: the value as clhs_config_foreach renders it */
} clhs_config_value;

/**
 * Visit every key, in table order, with its value in its declared type (for typed
 * attributes: a double that happens to be 1 stays a double). Stops at the first non-zero
 * return of @p fn and returns it (0 if none). The pointers are valid during the call only.
 */
int clhs_config_foreach_typed(const clhs_config *cfg,
                              int (*fn)(const clhs_config_value *v, void *user), void *user);

/** Serialise/deserialise (for broadcast): a malloc'd flat buffer. */
void *clhs_config_pack(const clhs_config *cfg, size_t *nbytes);
int clhs_config_unpack(clhs_config *cfg, const void *buf, size_t nbytes, clhs_error *err);

/**
 * Write the whole key table (levers and fixed constants included) as Markdown: one table per
 * section, headed by the MODEL.md section it belongs to, with the columns
 * key | default | range | unit | meaning (the parameter table of docs/model.md).
 * Returns CLHS_OK, CLHS_EIO if writing failed, or CLHS_ENOMEM.
 */
int clhs_config_write_markdown(FILE *out);

/** Free owned arrays (lever centre lists). */
void clhs_config_free(clhs_config *cfg);

#endif
