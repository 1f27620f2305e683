/* Private to the engine: checkpoint naming, folder ownership, `latest`, keeping the last
 * K, choosing one to restart from (see checkpoint_policy.c). */
#ifndef CLHS_ENGINE_CHECKPOINT_POLICY_H
#define CLHS_ENGINE_CHECKPOINT_POLICY_H

#include <stddef.h>

#include "clhs/config.h"
#include "clhs/fileutil.h"
#include "clhs/model.h"
#include "clhs/output.h"

/** A run's checkpoint folder. */
typedef struct clhs_checkpoint_ctx {
  char dir[2048];         /**< the folder this run writes to (the same on every rank) */
  char moved_from[2048];  /**< the configured folder, when it was another run's ("" if not) */
  char moved_owner[64];   /**< ... that run's id ("" if unknown) */
  char run_id[24];        /**< this run */
  char parent_run_id[24]; /**< a fork: the run it came from */
  clhs_lock owner;        /**< rank 0: the lock on DIR/owner, once claimed */
  int claimed;
} clhs_checkpoint_ctx;

void clhs_checkpoint_ctx_init(clhs_checkpoint_ctx *c, const char *run_id,
                              const char *parent_run_id);

/**
 * Collective, before the first step: choose the folder for checkpoint.dir @p dir (itself if
 * missing, empty or this run's; DIR-RUNID8 if it holds another run's checkpoints) and check
 * that it can be created and written (CLHS_EINPUT with a message otherwise). Nothing is
 * created yet: a run that never checkpoints leaves no folder.
 */
int clhs_checkpoint_prepare(clhs_checkpoint_ctx *c, const clhs_comm *comm, const char *dir,
                            clhs_error *err);

/** Write a checkpoint of the world at its current step (collective); its path in @p written.
 * The first one creates and claims the folder. */
int clhs_checkpoint_save(clhs_checkpoint_ctx *c, const clhs_config *cfg, clhs_world *w,
                         clhs_output *out, const char *parent, char *written, size_t written_len,
                         clhs_error *err);

/** Release the folder's lock (rank 0; the `owner` file stays). */
void clhs_checkpoint_release(clhs_checkpoint_ctx *c);

/**
 * Rank 0: the checkpoints to try for `clhsim restart PATH`, best first: PATH itself if it
 * is a file; for a folder, the one `latest` names, then the other checkpoints of the
 * folder's run, newest first. @p note (may be NULL) says which run the folder holds.
 */
int clhs_checkpoint_candidates(const char *path, char ***list, int *n, char *note, size_t note_len,
                               clhs_error *err);

/** The output snapshot's path, beside the state file. */
void clhs_checkpoint_snapshot_path(const char *state, const char *snapshot_name, char *buf,
                                   size_t len);

#endif
