/**
 * @file restart.h
 * @brief `clhsim restart PATH`: choose a checkpoint and continue the run from it.
 */
#ifndef CLHS_RESTART_H
#define CLHS_RESTART_H

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/engine.h"
#include "clhs/error.h"

/**
 * Rank 0: the configuration for a restart from checkpoint @p ckpt, whose stored
 * configuration is @p yaml, made under model @p model_version (clhs_config_for_model; the
 * caller applies its overrides and checks the result). A failure is a bad request rather
 * than a bad checkpoint: no other checkpoint is tried.
 */
typedef int (*clhs_restart_config_fn)(const char *yaml, const char *ckpt, const char *model_version,
                                      clhs_config *cfg, void *arg, clhs_error *err);

/**
 * Collective: continue a run from @p path, a checkpoint file or folder. The candidates are
 * tried best first (for a folder: the one `latest` names, then the other checkpoints of the
 * folder's run, newest first); each is verified once, its configuration made by
 * @p make_config (rank 0) and broadcast, and the run continued by clhs_run with @p opts
 * (opts->resume set to the candidate). An unusable checkpoint is skipped with a warning
 * ("clhsim: warning: skipping checkpoint ..."); rank 0 prints the errors itself
 * ("clhsim: error: ..."). Returns the run's status, or CLHS_EINPUT when no candidate could
 * be used or the request was bad.
 */
int clhs_restart(const clhs_comm *comm, const char *path, const clhs_run_opts *opts,
                 clhs_restart_config_fn make_config, void *arg, clhs_error *err);

#endif
