/*
 * Private to the I/O modules (output.c, checkpoint.c): HDF5 error handling shared by both.
 */
#ifndef CLHS_IO_H5UTIL_H
#define CLHS_IO_H5UTIL_H

#include <hdf5.h>

#include "clhs/comm.h"
#include "clhs/error.h"

/** HDF5's automatic stack printing, saved while a module runs (restored by quiet_off). */
typedef struct h5quiet {
  H5E_auto2_t fn;
  void *data;
} h5quiet;

void clhs_h5_quiet_on(h5quiet *q);
void clhs_h5_quiet_off(const h5quiet *q);

/** Record an HDF5 failure with status @p code: our context, then HDF5's outermost and
 * innermost messages (the innermost often names the system error). */
int clhs_h5_fail(clhs_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** Every rank returns the worst status and the first failing rank's message. A rank that
 * failed while the others stay inside a collective HDF5 call ends the job after a bounded
 * wait, removing the registered temporary files (clhs_comm_agree_io). */
int clhs_h5_agree(const clhs_comm *comm, int st, clhs_error *err);

/** The temporary files being written (removed by a rank that has to end the job). */
void clhs_h5_tmp_register(const char *path);
void clhs_h5_tmp_unregister(const char *path);

/** Seconds a failing rank waits for the others before ending the job. */
#define CLHS_IO_AGREE_TIMEOUT_S 120.0

/** Close any HDF5 identifier (file, group, dataset, space, type, attribute, list); set -1. */
void clhs_h5_close(hid_t *id);

#endif
