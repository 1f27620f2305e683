/**
 * @file output.h
 * @brief The HDF5 output file: time series written collectively with parallel HDF5.
 *
 * Layout (see docs/output.md):
 *   /timeseries   one dataset per variable, first axis `time` (unlimited),
 *                 dimension scales on every axis, CF `units` and `long_name`;
 *                 opens with xarray.open_dataset(path, group="timeseries").
 *   /parameters   the effective configuration: attribute `yaml` (full text) and
 *                 one attribute per key.
 *   /code         version, git revision, compiler, flags, MPI and HDF5 versions.
 *   /run          ranks, threads, seed, wall time, throughput (written at close).
 *
 * The file is written as PATH.RUNID.tmp (PATH.tmp without a run id) and renamed to PATH
 * by clhs_output_close(), which never replaces anything that appeared at PATH during the
 * run; clhs_output_abandon() removes the temporary file. Every function here is
 * collective over all ranks and must be called outside OpenMP regions
 * (Debian's HDF5 is not thread-safe).
 */
#ifndef CLHS_OUTPUT_H
#define CLHS_OUTPUT_H

#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"

/** Element types of stored arrays: output variables use the first four, checkpoints the
 * others too (one mapping to HDF5 types for both). */
enum clhs_dtype {
  CLHS_F64 = 0,
  CLHS_I64,
  CLHS_U64,
  CLHS_I8,
  CLHS_U8,
  CLHS_U16,
  CLHS_U32,
  CLHS_I32,
  CLHS_F32,
  CLHS_NDTYPES
};

#define CLHS_OUT_MAXDIMS 3 /**< extra axes after `time` */

/**
 * An extra axis of a variable. If @p distributed, the axis is `centre`: each
 * rank supplies the values of its own contiguous block of centres. Otherwise
 * it is a small fixed axis (e.g. `type`, `tier`) whose values are identical on
 * every rank and written by rank 0.
 */
typedef struct clhs_out_dim {
  const char *name; /**< axis / dimension-scale name, e.g. "centre", "type" */
  int distributed;  /**< 1 for the centre axis */
  int64_t len;      /**< length (global length for the centre axis; ignored then) */
  const char *const
      *labels; /**< optional string coordinate values (len of them), or NULL for 0..len-1 */
  const char *long_name; /**< long_name of the coordinate */
} clhs_out_dim;

/** One time-series variable. */
typedef struct clhs_out_var {
  const char *name;
  const char *long_name; /**< a short label (a few words: plotting tools use it on axes) */
  const char *units;     /**< CF units; "1" for fractions and counts */
  int dtype;             /**< enum clhs_dtype */
  int ndims;             /**< extra axes after time: 0..CLHS_OUT_MAXDIMS */
  clhs_out_dim dims[CLHS_OUT_MAXDIMS];
  const char *comment; /**< the full description (CF `comment`), or NULL */
  int interval_sum;    /**< 1: counts events over the interval since the previous record (CF
                          `cell_methods = "time: sum"`, the interval in `time_bnds`) */
} clhs_out_var;

typedef struct clhs_output clhs_output; /* opaque */

/** Decomposition of the centre axis as seen by this rank. */
typedef struct clhs_out_layout {
  int64_t ncentres;     /**< global number of centres */
  int64_t centre_begin; /**< first centre this rank owns */
  int64_t centre_count; /**< centres this rank owns (may be 0) */
} clhs_out_layout;

/**
 * Create PATH.tmp (collective), write /parameters and /code, create the
 * /timeseries datasets for @p vars (the array must outlive the output) with the
 * `time` coordinate (units "days since <run.start_date>") and the `centre`
 * coordinate. An unwritable path gives CLHS_EIO with a message naming it.
 */
int clhs_output_open(clhs_output **out, const char *path, const clhs_config *cfg,
                     const clhs_comm *comm, const clhs_out_layout *layout, const clhs_out_var *vars,
                     int nvars, clhs_error *err);

/** The same, for run @p run_id (16 hex digits): the temporary file is PATH.RUNID.tmp and
 * the root group records `run_id`. */
int clhs_output_open_run(clhs_output **out, const char *path, const char *run_id,
                         const clhs_config *cfg, const clhs_comm *comm,
                         const clhs_out_layout *layout, const clhs_out_var *vars, int nvars,
                         clhs_error *err);

/**
 * Append one record at simulated day @p time_days. @p data[v] points to the
 * values of variable v in row-major order over its extra axes: for a
 * variable with a `centre` axis, this rank's block only (centre_count *
 * product of the other axes); otherwise the full record (read on rank 0, may
 * be NULL on the others). Records are buffered and written collectively in
 * batches; clhs_output_flush() forces a write.
 */
int clhs_output_append(clhs_output *out, double time_days, const void *const *data,
                       clhs_error *err);
/** The same, with the variables that have a `centre` axis only if @p centres (the same on
 * every rank; without it their data[v] may be NULL): those have their own time axis,
 * `centre_time`, and are not written at all when output.centre_every is 0 (they are not
 * even created then). clhs_output_append is this with @p centres = 1. */
int clhs_output_append_record(clhs_output *out, double time_days, const void *const *data,
                              int centres, clhs_error *err);
int clhs_output_flush(clhs_output *out, clhs_error *err);

/**
 * Make a consistent copy of the output as it is now at @p dest (collective): flush the
 * buffered records, H5Fflush, then rank 0 copies the file atomically (checkpoints).
 */
int clhs_output_snapshot(clhs_output *out, const char *dest, clhs_error *err);

/**
 * Append the first @p nrecords records of every variable from an earlier output file
 * (a snapshot taken at a checkpoint) to this freshly opened output (collective): a
 * restarted run's file then holds exactly what the uninterrupted run's would. The
 * snapshot may have been written on any number of ranks; its variables must match.
 */
int clhs_output_restore(clhs_output *out, const char *snapshot, int64_t nrecords, clhs_error *err);

/** Number of records appended so far. */
int64_t clhs_output_records(const clhs_output *out);

/**
 * Write the /run group from (key, value) pairs: numeric attributes for
 * @p num_keys / @p num_vals and string attributes for @p str_keys / @p str_vals.
 */
int clhs_output_write_run(clhs_output *out, const char *const *num_keys, const double *num_vals,
                          int nnum, const char *const *str_keys, const char *const *str_vals,
                          int nstr, clhs_error *err);

/** Write one unsigned 64-bit attribute of /run (rank 0's value; collective). */
int clhs_output_write_run_u64(clhs_output *out, const char *key, uint64_t value, clhs_error *err);

/** Flush, close and rename PATH.tmp to PATH (rank 0 renames, then fsyncs the folder). */
int clhs_output_close(clhs_output *out, clhs_error *err);

/** Close without publishing: PATH.tmp is removed. Safe to call with NULL. */
void clhs_output_abandon(clhs_output *out);

/**
 * Check before a run that PATH can be created (its folder exists and is
 * writable). Called on rank 0 only; no MPI, no HDF5.
 */
int clhs_output_check_path(const char *path, clhs_error *err);

/** Before MPI_Finalize: close every HDF5 object (dataset, group, type, attribute) still open,
 * so that HDF5's own shutdown does not report an "infinite loop closing library" after an
 * error path left one. Not collective; files are left to HDF5. */
void clhs_io_shutdown(void);

/**
 * Any process, serial HDF5, no MPI: the `run_id` attribute of the root group of a file
 * clhsim wrote (an output, a snapshot, a checkpoint) into @p buf. Returns 1 if found, 0 if
 * the file is HDF5 without one, -1 if it cannot be opened as HDF5.
 */
int clhs_h5_peek_run_id(const char *path, char *buf, size_t len);

/** The HDF5 library's version as "MAJOR.MINOR.RELEASE (parallel)" (clhsim version, /code). */
void clhs_io_hdf5_version(char *buf, size_t len);

#endif
