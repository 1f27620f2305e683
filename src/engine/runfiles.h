/* Private to the engine: which output file a run may write (see runfiles.c). */
#ifndef CLHS_ENGINE_RUNFILES_H
#define CLHS_ENGINE_RUNFILES_H

#include "clhs/error.h"
#include "clhs/fileutil.h"

/**
 * Rank 0, before any work: may run @p run_id write its output to @p path? The folder must
 * exist and be writable; PATH must be absent or a regular file (never a link, a device, a
 * folder); it must not be one of the run's @p inputs (configuration files, the checkpoint
 * and its snapshot) nor lie in the checkpoint folder @p ckpt_dir; an existing file is
 * replaced only if the same run wrote it (a continued run) or @p overwrite. Takes the lock
 * PATH.lock for the life of the run (@p lk), so two live runs never share an output.
 * CLHS_EINPUT with a message otherwise (nothing is left behind).
 */
int clhs_output_claim(const char *path, const char *run_id, const char *const *inputs, int ninputs,
                      const char *ckpt_dir, int overwrite, clhs_lock *lk, clhs_error *err);

/** Release the output lock (and remove PATH.lock). Safe if not held. */
void clhs_output_unclaim(clhs_lock *lk);

#endif
