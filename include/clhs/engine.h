/**
 * @file engine.h
 * @brief Running a simulation: build the world, step it, record, report.
 */
#ifndef CLHS_ENGINE_H
#define CLHS_ENGINE_H

#include <stdint.h>
#include <stdio.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"
#include "clhs/model.h"

typedef struct clhs_run_opts {
  int quiet;                 /**< no progress lines (the summary is still printed) */
  double progress_every_s;   /**< seconds between progress lines (clhsim uses 2) */
  const char *resume;        /**< checkpoint file to continue from, or NULL */
  int forked;                /**< the configuration differs from the checkpoint's (a fork) */
  int64_t warmup;            /**< steps run before timing starts (benchmarks) */
  int overwrite;             /**< may replace an existing output that another run wrote */
  const char *const *inputs; /**< files the run reads (configuration): never written over */
  int ninputs;
  int silent; /**< no summary either (ensemble members: the ensemble reports them) */
} clhs_run_opts;

/** What a finished run reports (identical on every rank). */
typedef struct clhs_run_result {
  int64_t agents, steps, centres;
  int64_t timed_steps; /**< steps after the warm-up: the throughput figures cover these */
  double wall_s, agent_steps_per_s;
  double bytes_per_agent;     /**< allocated model state / agents, all ranks, at the start */
  double bytes_per_agent_end; /**< ... at the end (ties, resources, commons, halo included) */
  int stopped;               /**< stopped early (signal, stop file, wall time) after a checkpoint */
  int bad_checkpoint;        /**< opts->resume could not be loaded (try another) */
  char checkpoint[4200];     /**< the last checkpoint written */
  char checkpoint_dir[2048]; /**< the folder this run's checkpoints go to */
  char run_id[24];           /**< this run (a continued run keeps its id; a fork has its own) */
  double checkpoint_write_s; /**< time of the last checkpoint write */
  double restart_read_s;     /**< time to load the checkpoint and restore the output */
  double peak_rss_bytes;     /**< max over ranks */
  uint64_t final_digest;
  int invariants_checked;                /**< the network invariants held at the end */
  double phase_max_s[CLHS_NPHASES + 1];  /**< per phase (last: communication), max over ranks */
  double phase_mean_s[CLHS_NPHASES + 1]; /**< ... mean over ranks */
  int64_t tie_ends, tie_ends_cross_rank; /**< dynamic tie ends at the end (two per tie) */
  double bytes_exchanged_per_step;       /**< sent between ranks, all ranks, per step */
  double bytes_gathered_per_step;        /**< received by (all)gathers, all ranks, per step */
  int64_t tie_visits;                    /**< neighbour entries visited by the rules */
  double tie_visits_per_core_s;          /**< ... per core-second of the network phases */
  double remission_start, remission_end; /**< observed remission, established members */
} clhs_run_result;

/** Write the /timeseries variables (and their axes) and the /run attributes as Markdown
 * tables (`clhsim variables`; docs/output.md's tables are generated from them). */
void clhs_write_variables_markdown(FILE *out);

/**
 * Run the configured simulation and write cfg->output.path (collective).
 * Returns CLHS_OK or an error status agreed by every rank.
 */
int clhs_run(const clhs_config *cfg, const clhs_comm *comm, const clhs_run_opts *opts,
             clhs_run_result *res, clhs_error *err);

#endif
