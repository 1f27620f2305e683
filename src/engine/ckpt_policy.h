/* Private to the engine: checkpoint naming, `latest`, keeping the last K, choosing one to
 * restart from (see ckpt_policy.c). */
#ifndef CLHS_ENGINE_CKPT_POLICY_H
#define CLHS_ENGINE_CKPT_POLICY_H

#include <stddef.h>

#include "clhs/config.h"
#include "clhs/model.h"
#include "clhs/output.h"

/** Write a checkpoint of the world at its current step (collective); its path in @p written. */
int clhs_ckpt_save(const clhs_config *cfg, clhs_world *w, clhs_output *out, const char *parent,
                   char *written, size_t written_len, clhs_error *err);

/**
 * Rank 0: the checkpoints to try for `clhsim restart PATH`, best first: PATH itself if it
 * is a file; for a folder, the one `latest` names, then the others newest first.
 */
int clhs_ckpt_candidates(const char *path, char ***list, int *n, clhs_error *err);

/** The output snapshot's path, beside the state file. */
void clhs_ckpt_snapshot_path(const char *state, const char *snapshot_name, char *buf, size_t len);

#endif
