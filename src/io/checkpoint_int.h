/*
 * Private to the checkpoint module (src/io/checkpoint*.c): the format constants and what
 * its parts share. The module: checkpoint.c (the layout, the table of per-row state, the
 * attribute and row helpers, the header check), checkpoint_write.c, checkpoint_read.c and
 * checkpoint_verify.c (the user block and the whole-file checksum).
 */
#ifndef CLHS_IO_CHECKPOINT_INT_H
#define CLHS_IO_CHECKPOINT_INT_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "clhs/checkpoint.h"
#include "clhs/comm.h"
#include "clhs/error.h"
#include "clhs/fields.h"
#include "clhs/model.h"
#include "h5util.h"

#define CK_CHUNK_BYTES (1 << 20) /* target chunk size */
#define CK_ATTR_MAX 60000        /* attribute payload limit: 64 KiB object-header messages */
#define CK_NCOUNTS 14            /* int64 fields of clhs_centre_counts */
#define CK_UB 512                /* HDF5 user block: the magic and the file checksum */
#define CK_SUM_BLOCK (1 << 22)   /* bytes per block of the file checksum (and per read) */

/* The checkpoint's short names for the element types (enum clhs_dtype, mapped to HDF5 types
 * by h5util). */
enum {
  T_U8 = CLHS_U8,
  T_U16 = CLHS_U16,
  T_U32 = CLHS_U32,
  T_U64 = CLHS_U64,
  T_I32 = CLHS_I32,
  T_I64 = CLHS_I64,
  T_F32 = CLHS_F32
};

/** The open file. */
typedef struct ckf {
  const clhs_comm *comm;
  const char *path;  /* the checkpoint's name, for messages */
  const char *fname; /* the file open: PATH.RUNID.tmp while writing */
  hid_t file, dxpl;
  int code; /* status of an HDF5 failure: CLHS_EIO writing, CLHS_EINPUT reading */
} ckf;

/* ------------------------------------------------------------------------ */
/* The per-row state: one table drives both writing and reading              */

typedef struct col {
  const char *group, *name;
  int type;
  int64_t ncols;      /* 0: one value per row */
  int64_t nrows;      /* global rows */
  int64_t row0, nloc; /* this rank's rows */
  void *data;         /* this rank's rows in memory */
  int structure;      /* read only to compare with the world's (agent types) */
} col;

#define CK_MAXCOLS CLHS_NFIELDS

/** Fill @p c (CK_MAXCOLS at most) with the stored rows of the table of fields
 * (include/clhs/fields.h), in its order; returns the count. */
int state_columns(const clhs_world *w, col *c);

/** The groups of the file, in order. */
#define CK_NGROUPS 8
extern const char *const ck_groups[CK_NGROUPS];

/** A resource's sort key: creator gid, id, row. */
typedef struct rkey {
  int64_t creator;
  uint64_t id;
  int64_t k;
} rkey;

/** Exclusive prefix of @p mine over ranks and the total (collective). */
int ck_rank_prefix(const clhs_comm *comm, int64_t mine, int64_t *before, int64_t *total);

/* ------------------------------------------------------------------------ */
/* Attributes and rows                                                       */

/** A scalar attribute (a string one) of @p obj; a failure is f->code, naming f->fname. */
int ck_put_attr(const ckf *f, hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                const void *val, clhs_error *err);
int ck_put_attr_str(const ckf *f, hid_t obj, const char *name, const char *val, clhs_error *err);

/** Read a numeric scalar attribute (converted to @p mtype); CLHS_EINPUT if missing. */
int ck_get_attr(const ckf *f, hid_t obj, const char *where, const char *name, hid_t mtype,
                void *val, clhs_error *err);
/** Read a string attribute of @p obj (malloc'd into *out); CLHS_EINPUT if missing. */
int ck_get_attr_str(const ckf *f, hid_t obj, const char *name, char **out, clhs_error *err);

/**
 * Collective: create dataset @p name in group @p g ([nrows] if ncols is 0, else [nrows,
 * ncols]), chunked with Fletcher32, and write this rank's rows [row0, row0 + nloc) from
 * @p buf (nloc 0: nothing) with one collective H5Dwrite.
 */
int ck_put_rows(const ckf *f, hid_t g, const char *gname, const char *name, int type, int64_t nrows,
                int64_t ncols, int64_t row0, int64_t nloc, const void *buf, clhs_error *err);

/** Open dataset @p dname and check its shape: rank 1 (ncols 0) or 2 with ncols columns,
 * nrows rows (nrows < 0: any; *rows_out gets the count). */
hid_t ck_open_rows(const ckf *f, const char *dname, int64_t nrows, int64_t ncols, int64_t *rows_out,
                   clhs_error *err);

/** Read rows [row0, row0 + nloc) of dataset @p dname (shape checked as in ck_open_rows). */
int ck_get_rows(const ckf *f, const char *dname, int type, int64_t nrows, int64_t ncols,
                int64_t row0, int64_t nloc, void *buf, clhs_error *err);

/** Magic, format (into *format, may be NULL) and the completeness marker of an open file. */
int ck_check_header(const ckf *f, int *format, clhs_error *err);

/* ------------------------------------------------------------------------ */
/* The whole-file checksum (checkpoint_verify.c)                             */

/**
 * Collective: the checksum of bytes [CK_UB, size) of @p fname, each rank hashing a
 * contiguous range of blocks. A read failure is reported with status @p code.
 */
int ck_file_sum(const clhs_comm *comm, const char *fname, uint64_t size, uint64_t *sum, int code,
                clhs_error *err);

/** Rank 0: write the user block of the closed file @p fname and sync the file. */
int ck_ub_write(const char *fname, uint64_t size, uint64_t sum, clhs_error *err);

/**
 * Collective: the user block (rank 0), then the whole file's checksum (every rank a
 * range), before HDF5 parses anything: HDF5 1.10 can crash on a damaged object header
 * (a flipped byte in a dataset's layout made H5Dread overrun a buffer). The checksum is
 * skipped for the file verified last if it has not changed since (checkpoint_verify.c).
 */
int ck_verify_file(const clhs_comm *comm, const char *path, clhs_error *err);

/** Whole-file verifications done so far by this process (a file verified already and not
 * changed since is not hashed again: see checkpoint_verify.c). For the tests. */
int64_t ck_verify_count(void);

#endif
