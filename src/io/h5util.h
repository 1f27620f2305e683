/*
 * Private to the I/O modules (the output and the checkpoints): HDF5 error handling, element
 * types, string types and attributes, one copy of each for both.
 */
#ifndef CLHS_IO_H5UTIL_H
#define CLHS_IO_H5UTIL_H

#include <hdf5.h>

#include "clhs/comm.h"
#include "clhs/error.h"
#include "clhs/output.h"

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

/** An element type (enum clhs_dtype) in memory (native), in the file (little-endian, the
 * same width) and its bytes. */
hid_t clhs_h5_mem_type(int dtype);
hid_t clhs_h5_file_type(int dtype);
size_t clhs_h5_dtype_size(int dtype);

/** A fixed-length, NUL-padded ASCII string type of @p len bytes (1 at least); -1 on failure. */
hid_t clhs_h5_str_type(size_t len);

/**
 * Create attribute @p name of @p obj holding @p n values of @p mtype stored as @p ftype (0:
 * an empty attribute with a null dataspace; 1: a scalar; more: a 1-D array), replacing an
 * attribute of that name. A failure is status @p code: "WHERE: cannot write attribute 'NAME'".
 */
int clhs_h5_put_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *vals,
                     hsize_t n, const char *where, int code, clhs_error *err);

/** The same for a string (a fixed-length string attribute of its length). */
int clhs_h5_put_attr_str(hid_t obj, const char *name, const char *val, const char *where, int code,
                         clhs_error *err);

/**
 * Read the fixed-length string attribute (@p is_attr) or scalar string dataset @p id of at
 * most @p max bytes into a malloc'd, NUL-terminated *out. Returns 0, or -1 (*out NULL) if it
 * is not such a string or cannot be read.
 */
int clhs_h5_read_str(hid_t id, int is_attr, size_t max, char **out);

#endif
