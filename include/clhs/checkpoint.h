/**
 * @file checkpoint.h
 * @brief Checkpoints: the complete simulation state in one HDF5 file that does not depend
 *        on the decomposition that wrote it, written atomically, checked on reading.
 *
 * A checkpoint holds the dynamic state only; the structure (centre sizes, global ids,
 * caregivers, clinicians) is rebuilt from the configuration stored in it, which is
 * deterministic (MODEL.md §13). Every array is written collectively in global order
 * (agents by global id, patients/clinicians/QIS/centres in centre order, tie ends by
 * (agent gid, neighbour gid), this rank's resources by (creator gid, id)), so a file
 * written on P ranks restarts on any Q. Datasets carry HDF5's Fletcher32 checksum
 * (verified on every read) and the file carries the state digest, recomputed and compared
 * after loading: a truncated, corrupted or incompatible checkpoint is refused with
 * CLHS_EINPUT and a message, never loaded wrong.
 */
#ifndef CLHS_CHECKPOINT_H
#define CLHS_CHECKPOINT_H

#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/error.h"
#include "clhs/model.h"

#define CLHS_CKPT_FORMAT 2 /**< bump on any change of layout; older files are refused */
#define CLHS_CKPT_MAGIC "clhsim-checkpoint"

/** What a checkpoint says about itself (beyond the state). */
typedef struct clhs_ckpt_meta {
  int64_t step;               /**< steps completed */
  int64_t output_records;     /**< records in the output file at this step */
  uint64_t digest;            /**< clhs_world_digest at this step */
  char output_snapshot[1024]; /**< file name (same folder) of the output copy at this step */
  char *config_yaml;          /**< the effective configuration (malloc'd; read fills it) */
  char parent[1024]; /**< for a forked run: the checkpoint it started from ("" otherwise) */
  char created_utc[32];
  int format;
} clhs_ckpt_meta;

/**
 * Write the world's state to @p path (collective): to PATH.tmp, flush, close, barrier,
 * then rank 0 renames PATH.tmp to PATH and fsyncs the folder. Nothing is deleted.
 * Returns CLHS_EIO with a message on failure (PATH.tmp is removed).
 */
int clhs_checkpoint_write(const clhs_world *w, const char *path, const clhs_ckpt_meta *meta,
                          clhs_error *err);

/**
 * Read only the metadata (collective: rank 0 reads and broadcasts). Checks the magic,
 * format version and completeness marker; fills @p meta (caller frees meta->config_yaml).
 */
int clhs_checkpoint_read_meta(const clhs_comm *comm, const char *path, clhs_ckpt_meta *meta,
                              clhs_error *err);

/**
 * Load the state into @p w, which was created with clhs_world_create from the checkpoint's
 * configuration (any ranks, any threads). Verifies every dataset's checksum and shape.
 * Collective. CLHS_EINPUT with a message on any inconsistency.
 */
int clhs_checkpoint_read(clhs_world *w, const char *path, clhs_error *err);

#endif
