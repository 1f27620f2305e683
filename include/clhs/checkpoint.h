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

#define CLHS_CHECKPOINT_FORMAT 3 /**< bump on any change of layout; older files are refused */
#define CLHS_CHECKPOINT_MAGIC "clhsim-checkpoint"

/** What a checkpoint says about itself (beyond the state). */
typedef struct clhs_checkpoint_meta {
  int64_t step;               /**< steps completed */
  int64_t output_records;     /**< records in the output file at this step */
  uint64_t digest;            /**< clhs_world_digest at this step */
  char output_snapshot[1024]; /**< file name (same folder) of the output copy at this step */
  char *config_yaml;          /**< the effective configuration (malloc'd; read fills it) */
  char parent[1024]; /**< for a forked run: the checkpoint it started from ("" otherwise) */
  char created_utc[32];
  int format;
  char run_id[24];        /**< the run that wrote it (16 hex digits; a fork has its own) */
  char parent_run_id[24]; /**< a fork: the run it was forked from ("" otherwise) */
  int64_t snapshot_size;  /**< bytes of the output snapshot */
  uint64_t snapshot_sum;  /**< its whole-file checksum (clhs_file_checksum) */
  char model_version[16]; /**< read: the model the state was made under ("1.1" for a file
                               without the attribute); written: always CLHS_MODEL_VERSION */
} clhs_checkpoint_meta;

/**
 * Collective: the size of the file @p path (rank 0 looks) and the checksum of all its bytes,
 * every rank hashing a share of its blocks (the hash of the checkpoints' user block, from
 * byte 0). A missing or unreadable file gives status @p code with a message.
 */
int clhs_file_checksum(const clhs_comm *comm, const char *path, int64_t *size, uint64_t *sum,
                       int code, clhs_error *err);

/**
 * Write the world's state to @p path (collective): to PATH.RUNID.tmp (meta->run_id), flush, close,
 * barrier, then rank 0 renames it to PATH and fsyncs the folder. Nothing else is deleted. Returns
 * CLHS_EIO with a message on failure (the temporary file is removed).
 */
int clhs_checkpoint_write(const clhs_world *w, const char *path, const clhs_checkpoint_meta *meta,
                          clhs_error *err);

/**
 * Read only the metadata (collective: rank 0 reads and broadcasts). Checks the magic,
 * format version and completeness marker; fills @p meta (caller frees meta->config_yaml).
 */
int clhs_checkpoint_read_meta(const clhs_comm *comm, const char *path, clhs_checkpoint_meta *meta,
                              clhs_error *err);

/**
 * Load the state into @p w, which was created with clhs_world_create from the checkpoint's
 * configuration (any ranks, any threads). Verifies every dataset's checksum and shape.
 * Collective. CLHS_EINPUT with a message on any inconsistency.
 */
int clhs_checkpoint_read(clhs_world *w, const char *path, clhs_error *err);

#endif
