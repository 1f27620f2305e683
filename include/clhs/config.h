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

#define CLHS_DATE_LEN 16       /**< "YYYY-MM-DD" plus room */
#define CLHS_PATH_LEN 1024
#define CLHS_SCHEDULE_MAX 64   /**< points in centres.schedule */

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
  struct {
    double init_remission, init_steroid_active, t_drift, t_base;
    int64_t visit_rem, visit_act;
    double misread, steroid_start;
    int64_t steroid_course;
    double h_rel, rel_adherence, rel_treatment, rel_selfmgmt;
    double h_rem, rem_adherence, rem_treatment, induction_boost;
    double turnover;
  } care;
  struct {
    int join; /**< enum clhs_join_mode */
    int32_t nschedule;
    char schedule_date[CLHS_SCHEDULE_MAX][CLHS_DATE_LEN];
    double schedule_count[CLHS_SCHEDULE_MAX]; /**< members per 100 centres */
    double initial_share, bass_p, bass_q, beta_value;
  } centres;
  clhs_lever_cfg levers[CLHS_NLEVERS];
  struct {
    char path[CLHS_PATH_LEN];
    int64_t every;
    int64_t established_weeks;
  } output;
  struct {
    int64_t every;  /**< steps; 0 = off */
    double wall;    /**< seconds; 0 = off */
    char dir[CLHS_PATH_LEN];
    int64_t keep;
  } checkpoint;
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
 * naming the file, line, key and allowed range.
 */
int clhs_config_load_file(clhs_config *cfg, const char *path, clhs_error *err);

/**
 * Apply one override "section.key=value" (value is YAML: a scalar or a flow
 * sequence like [0.3,0.6,0.9]). Errors name the override ("-P ...").
 */
int clhs_config_override(clhs_config *cfg, const char *assignment, clhs_error *err);

/**
 * Check cross-key constraints (e.g. patients_min <= patients_max, schedule
 * dates increasing, lever centres < population.centres) and resolve derived
 * values (lever on_step). Call once after all files and overrides.
 */
int clhs_config_finalize(clhs_config *cfg, clhs_error *err);

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
                         void (*fn)(const char *key, const char *value, void *user),
                         void *user);

/** Serialise/deserialise (for broadcast): a malloc'd flat buffer. */
void *clhs_config_pack(const clhs_config *cfg, size_t *nbytes);
int clhs_config_unpack(clhs_config *cfg, const void *buf, size_t nbytes, clhs_error *err);

/** Free owned arrays (lever centre lists). */
void clhs_config_free(clhs_config *cfg);

/** Lever intensity at step @p t for centre @p c (0 for a centre not targeted). */
double clhs_lever_intensity(const clhs_lever_cfg *lv, double t, int64_t centre);

#endif
