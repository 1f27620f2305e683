/**
 * @file ensemble.h
 * @brief `clhsim ensemble DESIGN.yml`: many runs (seeds, sweeps, Latin hypercubes, scenarios)
 * under one launch, in groups of ranks that take members from a shared queue, into one file
 * with a `member` dimension.
 *
 * A design (YAML) names a base configuration and how members differ:
 *
 *     config: [base.yml]            # files, relative to the design (optional)
 *     set: {run.steps: 104}         # overrides for every member (optional)
 *     seeds: 1-10                   # a range, a list or one number (default: run.seed)
 *     grid: {care.rem_evidence: [0, 6.75]}          # the product of these lists (optional)
 *     scenarios:                    # named override sets (optional)
 *       - {name: no_commons, set: {levers.commons.max: 0}}
 *     lhs: {size: 20, seed: 7, ranges: {care.h_rem: [0.011, 0.014]}}   # optional
 *     trial: {lever: previsit, seed: 11, strata: 4, centres: 0-49}      # optional
 *     output: ensemble.h5
 *
 * Members are the product scenarios x grid points x hypercube points x seeds, seed fastest.
 * Each member is an ordinary run (clhs_run) of its configuration on its group's ranks, so its
 * /timeseries is bit-identical to `clhsim run` of the same configuration on any ranks x
 * threads. Member files go to OUTPUT.members/ as they finish (a line in its `done` file per
 * finished member) and each group writes its member's rows into the ensemble file then; rank 0
 * completes and publishes it when every member is done. A
 * stopped or killed ensemble is continued by running it again: members already done are not
 * run again; members in flight start from scratch.
 */
#ifndef CLHS_ENSEMBLE_H
#define CLHS_ENSEMBLE_H

#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"

#define CLHS_ENSEMBLE_MAX_PARAMS 64 /**< varied parameters (grid + hypercube + scenario) */

/** What the members of a design are: the base configuration and each member's overrides. */
typedef struct clhs_design {
  char path[CLHS_PATH_LEN];
  char output[CLHS_PATH_LEN];
  int64_t nmembers;
  int nparams;                               /**< varied keys (coordinates of `member`) */
  char param[CLHS_ENSEMBLE_MAX_PARAMS][128]; /**< their names (section.key) */
  char **value;    /**< [nmembers * nparams]: the -P value text of each varied key */
  uint64_t *seed;  /**< [nmembers] */
  char **scenario; /**< [nmembers]: scenario name ("" without scenarios) */
  char **config;   /**< [nmembers]: the member's effective configuration, packed */
  uint64_t *key;   /**< [nmembers]: a hash of its configuration as YAML (the `done` file) */
  size_t *config_len;
  /* A cluster-randomised trial (`trial:`), or trial_lever[0] == '\0'. Each member's eligible
   * centres are ranked by size (patients), cut into trial_strata strata of near-equal count,
   * and shuffled within each stratum by keyed draws (trial_seed, stratum, the member's
   * run.seed): the first half of a stratum gets the lever (levers.LEVER.centres), the second
   * half not, an odd one out either way by a draw. Members sharing a seed share the
   * allocation. */
  char trial_lever[32];
  uint64_t trial_seed;
  int trial_strata;
  int64_t ncentres;  /**< population.centres (the same for every member) */
  int8_t *arm;       /**< [nmembers * ncentres]: 1 intervention, 0 control, -1 not in the trial */
  int8_t *stratum;   /**< [nmembers * ncentres]: the size stratum (0 = smallest), -1 outside */
  int32_t *patients; /**< [nmembers * ncentres]: patients of each centre (the size ranked) */
} clhs_design;

/**
 * Rank 0: read @p path into @p d and make every member's configuration (checked; an error
 * names the design, the line and the member). @p output overrides the design's output.
 */
int clhs_design_load(const char *path, const char *output, clhs_design *d, clhs_error *err);
void clhs_design_free(clhs_design *d);

/** Options of `clhsim ensemble`. */
typedef struct clhs_ensemble_opts {
  int group_ranks; /**< ranks per group (0: chosen from the member size) */
  int quiet;
} clhs_ensemble_opts;

/**
 * Collective: run the design at @p path (`clhsim ensemble`). Returns CLHS_OK, CLHS_STOPPED (a
 * signal or the stop file: run it again to finish) or an error, agreed on every rank.
 */
int clhs_ensemble_run(const clhs_comm *world, const char *path, const char *output,
                      const clhs_ensemble_opts *opts, clhs_error *err);

/** The `coordinates` of the stacked variables: "seed[ scenario][ each varied key]". */
void clhs_ensemble_coords(const clhs_design *d, char *buf, size_t len);

/** CLHS_OK if @p out does not exist or is an ensemble file of the design @p design_text;
 * else an error (CLHS_EINPUT) saying so: an ensemble replaces only its own output. */
int clhs_ensemble_check_existing(const char *out, const char *design_text, clhs_error *err);

/**
 * A group's first rank, as its member @p m finishes: the member's rows (every stacked
 * /timeseries variable) from @p member_file into the ensemble file being written, @p tmp, under
 * an exclusive flock on @p lock (serial HDF5, one writer at a time); the first member written
 * creates @p tmp with the layout (the member axis, the axes, every variable [nmembers, ...],
 * @p coords as their `coordinates`). /members/written records which rows are in.
 */
int clhs_ensemble_put_member(const char *tmp, const char *lock, int64_t nmembers,
                             const char *coords, int64_t m, const char *member_file,
                             clhs_error *err);

/**
 * Rank 0, once every member is done: the rows not yet in @p tmp (members done before this
 * launch; @p tmp is created from member 0's file if no member was written), the coordinates
 * `seed`, `scenario` and each varied parameter, the trial's allocation, /members (each
 * member's configuration and /run record as text), then @p tmp renamed to @p out (replacing
 * only this design's earlier output).
 */
int clhs_ensemble_write(const char *out, const char *tmp, const clhs_design *d, char *const *files,
                        const char *design_text, clhs_error *err);

#endif
