/*
 * Checkpoints (include/clhs/checkpoint.h): the dynamic state of the world in one HDF5
 * file whose layout does not depend on the decomposition that wrote it.
 *
 * File layout (CLHS_CKPT_FORMAT 3). Rows are global: a file written on P ranks is read
 * on any Q. "[n]" is a 1-D dataset of n rows, "[n, k]" a 2-D one.
 *
 *   /  attributes
 *      magic           string  CLHS_CKPT_MAGIC
 *      format          int32   CLHS_CKPT_FORMAT
 *      step            int64   steps completed
 *      output_records  int64   records in the output file at this step
 *      digest          uint64  clhs_world_digest at this step (the engine compares it)
 *      output_snapshot, parent, created_utc   string
 *      run_id, parent_run_id                  string  the run that wrote it; a fork's source
 *      output_snapshot_size int64, output_snapshot_checksum uint64: the snapshot's bytes and
 *                      whole-file checksum (clhs_file_checksum), verified before a restart
 *      config_yaml     string  the effective configuration; when longer than CK_ATTR_MAX
 *                              bytes it is the scalar string dataset /config_yaml instead
 *      nagents, ncentres, npatients           int64
 *      complete        int32   1, written last, just before the file is closed: a file
 *                              without it is refused as incomplete
 *   /agents     rows = global agent id [nagents]
 *      type E E_wait flags uint8; m A K Rl V float32; need cover [nagents, 4] float32;
 *      held [nagents, held_max] uint64; held_q [nagents, held_max] uint16; succ uint16
 *      (type is structure: it is only compared with the world's)
 *   /patients   rows = network-wide patient index (centre by centre) [npatients]
 *      X pga ster ind esc_wait uint8; ster_weeks rem_weeks uint16; adh T float32;
 *      next_visit last_visit int32
 *   /staff      g float32 [clinicians] (rows from centre_clin0), q float32 [QIS] (centre_qis0)
 *   /centres    rows = centre index [ncentres]
 *      r d float32; member uint8; join_step int32;
 *      counts [ncentres, 14] int64: clhs_centre_counts flattened, its fields in order
 *      (visits, recalls, escalations, records, created[3], adoptions,
 *      commons_adoptions, new_commons_users, relapses, remission_weeks, esc_remitted,
 *      esc_not)
 *   /ties       degree uint32 [nagents]: dynamic tie ends of each agent;
 *      key uint64, w float32 [tie ends]: in (agent gid, neighbour gid) order, so the ends
 *      of agent g are rows [sum of degree[0..g), + degree[g])
 *   /resources  every rank's table of the resources its agents created, in (creator gid,
 *      id) order: id uint64, q uint16, kind uint8, in_commons uint8, adoptions uint32
 *      [resources]; centre_offset int64 [ncentres + 1]: the first row whose creator
 *      belongs to each centre (the last entry is the row count)
 *   /commons    id uint64, q uint16, kind uint8 [commons], in id order (replicated state)
 *   /network    attributes E_tx double; N_rec, commons_users, step int64
 *
 * Every dataset is chunked (dimension 0 extendible, so empty tables are valid) with
 * HDF5's Fletcher32 checksum, the only (hence last) filter of its chain; a corrupted
 * chunk makes H5Dread fail, which is reported as CLHS_EINPUT naming the dataset.
 *
 * The whole file is checksummed too: Fletcher32 covers the data only, and the HDF5-1.8
 * format's object headers, B-tree nodes and attribute heaps carry no checksum (a byte
 * flipped there can change an attribute, such as the configuration text, unnoticed).
 * The first CK_UB bytes of the file are an HDF5 user block (ignored by HDF5 and its
 * tools) holding, in ASCII,
 *
 *     clhsim-checkpoint\nformat 1\nsize <file bytes>\nchecksum <16 hex digits>\n
 *
 * then NULs: the checksum of bytes [CK_UB, size), written after HDF5 has closed the
 * file and before it is renamed. Bytes are hashed in blocks of CK_SUM_BLOCK, each by a
 * multiply-xor chain over 64-bit little-endian words that is bijective in every word
 * (so any change within one block always changes its hash), finished with a mixer;
 * the file's checksum is the sum of the block hashes modulo 2^64, so ranks hash
 * disjoint ranges of blocks in parallel and one reduction combines them. The user
 * block itself must be exactly the canonical text for its values. Any single damaged
 * byte anywhere in the file is therefore refused (and several with probability
 * 1 - 2^-64).
 *
 * Writing: every rank opens PATH.RUNID.tmp (the temporary name) with the MPI-IO driver (collective
 * metadata, HDF5-1.8-readable format); attributes carry rank 0's values (broadcast first, since an
 * attribute written with different values on different ranks is undefined); each
 * dataset is written with one collective H5Dwrite, in which every rank writes its
 * contiguous block of rows and a rank with nothing to write selects none (filters work
 * only with collective writes in parallel HDF5 1.10). Then `complete`, H5Fflush (which
 * syncs the file), close, barrier, and rank 0 renames the temporary file to PATH and fsyncs the
 * folder. Ranks agree on the status after every dataset, so all take the same path.
 *
 * After the close every rank hashes a range of the file's blocks (a read-back, in
 * parallel), rank 0 writes the user block, fsyncs the file, renames it and fsyncs the
 * folder.
 *
 * Reading (clhs_checkpoint_read_meta and clhs_checkpoint_read alike) first verifies the
 * file: rank 0 checks the user block (magic, format, size), then every rank hashes a
 * range of blocks and the sum must match. Only then does HDF5 parse the file: HDF5
 * 1.10.8 can crash on a damaged object header (a flipped byte in a dataset's layout
 * made H5Dread overrun a buffer), so a damaged file must never reach it. Then every
 * rank opens the file (MPI-IO, independent metadata and transfers, so a Fletcher32
 * failure on one rank -- a file damaged after the verification -- cannot leave the
 * others waiting inside HDF5) and reads its own rows; the ranks agree after every
 * dataset. The growing tables (ties, resources, the commons) are reallocated to the
 * sizes read. On failure the world's state is partly overwritten: the caller must free
 * it.
 */
#define _POSIX_C_SOURCE 200809L

#include "clhs/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>

#include "h5util.h"
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/fileutil.h"
#include "clhs/network.h"

#define CK_CHUNK_BYTES (1 << 20) /* target chunk size */
#define CK_ATTR_MAX 60000        /* attribute payload limit: 64 KiB object-header messages */
#define CK_NCOUNTS 14            /* int64 fields of clhs_centre_counts */
#define CK_UB 512                /* HDF5 user block: the magic and the file checksum */
#define CK_SUM_BLOCK (1 << 22)   /* bytes per block of the file checksum (and per read) */

_Static_assert(sizeof(clhs_centre_counts) == CK_NCOUNTS * sizeof(int64_t),
               "clhs_centre_counts is written as CK_NCOUNTS int64 columns");

/* ------------------------------------------------------------------------ */
/* HDF5 error handling (as in output.c)                                      */

/** Every rank returns the worst status and the first failing rank's message (which
 * replaces this rank's own, so all ranks report the same). */
static int agree(const clhs_comm *comm, int st, clhs_error *err) {
  return clhs_h5_agree(comm, st, err);
}

/* ------------------------------------------------------------------------ */
/* Element types                                                             */

enum { T_U8, T_U16, T_U32, T_U64, T_I32, T_I64, T_F32 };

static hid_t ftype_of(int t) {
  switch (t) {
  case T_U8: return H5T_STD_U8LE;
  case T_U16: return H5T_STD_U16LE;
  case T_U32: return H5T_STD_U32LE;
  case T_U64: return H5T_STD_U64LE;
  case T_I32: return H5T_STD_I32LE;
  case T_I64: return H5T_STD_I64LE;
  default: return H5T_IEEE_F32LE;
  }
}

static hid_t mtype_of(int t) {
  switch (t) {
  case T_U8: return H5T_NATIVE_UINT8;
  case T_U16: return H5T_NATIVE_UINT16;
  case T_U32: return H5T_NATIVE_UINT32;
  case T_U64: return H5T_NATIVE_UINT64;
  case T_I32: return H5T_NATIVE_INT32;
  case T_I64: return H5T_NATIVE_INT64;
  default: return H5T_NATIVE_FLOAT;
  }
}

static size_t esize_of(int t) {
  switch (t) {
  case T_U8: return 1;
  case T_U16: return 2;
  case T_U32:
  case T_I32:
  case T_F32: return 4;
  default: return 8;
  }
}

/** A fixed-length, NUL-padded ASCII string type of @p len bytes (1 at least). */
static hid_t str_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return -1;
  if (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
      H5Tset_cset(t, H5T_CSET_ASCII) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

/* ------------------------------------------------------------------------ */
/* The open file                                                             */

typedef struct ckf {
  const clhs_comm *comm;
  const char *path;  /* the checkpoint's name, for messages */
  const char *fname; /* the file open: PATH.RUNID.tmp while writing */
  hid_t file, dxpl;
  int code; /* status of an HDF5 failure: CLHS_EIO writing, CLHS_EINPUT reading */
} ckf;

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

static int put_attr(const ckf *f, hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                    const void *val, clhs_error *err) {
  hid_t s = H5Screate(H5S_SCALAR), a = -1;
  herr_t st = -1;
  if (s >= 0) a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) st = H5Awrite(a, mtype, val);
  clhs_h5_close(&a);
  clhs_h5_close(&s);
  if (st < 0)
    return clhs_h5_fail(err, f->code, "checkpoint '%s': cannot write attribute '%s'", f->fname,
                        name);
  return CLHS_OK;
}

static int put_attr_str(const ckf *f, hid_t obj, const char *name, const char *val,
                        clhs_error *err) {
  size_t len = strlen(val);
  hid_t t = str_type(len);
  if (t < 0)
    return clhs_h5_fail(err, f->code, "checkpoint '%s': cannot make a string type", f->fname);
  int st = put_attr(f, obj, name, t, t, len ? val : "", err);
  H5Tclose(t);
  return st;
}

/** Read a numeric scalar attribute (converted to @p mtype); CLHS_EINPUT if missing. */
static int get_attr(const ckf *f, hid_t obj, const char *where, const char *name, hid_t mtype,
                    void *val, clhs_error *err) {
  htri_t ex = H5Aexists(obj, name);
  if (ex == 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': attribute %s%s is missing", f->path,
                          where, name);
  hid_t a = ex > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1, s = -1;
  herr_t st = -1;
  if (a >= 0) s = H5Aget_space(a);
  if (s >= 0 && H5Sget_simple_extent_npoints(s) == 1) st = H5Aread(a, mtype, val);
  clhs_h5_close(&s);
  clhs_h5_close(&a);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': cannot read attribute %s%s", f->path,
                        where, name);
  return CLHS_OK;
}

/** A fixed-length string from attribute or dataset @p id (malloc'd into *out). */
static int read_str(hid_t id, int is_attr, char **out) {
  *out = NULL;
  hid_t t = is_attr ? H5Aget_type(id) : H5Dget_type(id), mt = -1;
  herr_t st = -1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
    size_t len = H5Tget_size(t);
    char *buf = malloc(len + 1);
    mt = str_type(len);
    if (buf && mt >= 0) {
      st = is_attr ? H5Aread(id, mt, buf) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      buf[len] = '\0';
    }
    if (st >= 0)
      *out = buf;
    else
      free(buf);
  }
  clhs_h5_close(&mt);
  clhs_h5_close(&t);
  return st < 0 ? -1 : 0;
}

static int get_attr_str(const ckf *f, hid_t obj, const char *name, char **out, clhs_error *err) {
  *out = NULL;
  htri_t ex = H5Aexists(obj, name);
  if (ex == 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': attribute /%s is missing", f->path,
                          name);
  hid_t a = ex > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1;
  int st = a >= 0 ? read_str(a, 1, out) : -1;
  clhs_h5_close(&a);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': cannot read attribute /%s as a string",
                        f->path, name);
  return CLHS_OK;
}

/** Copy @p src into the fixed buffer @p dst (cut short if needed). */
static void copy_str(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
}

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */

/**
 * Collective: create dataset @p name in group @p g ([nrows] if ncols is 0, else [nrows,
 * ncols]), chunked with Fletcher32, and write this rank's rows [row0, row0 + nloc) from
 * @p buf (nloc 0: nothing) with one collective H5Dwrite.
 */
static int put_rows(const ckf *f, hid_t g, const char *gname, const char *name, int type,
                    int64_t nrows, int64_t ncols, int64_t row0, int64_t nloc, const void *buf,
                    clhs_error *err) {
  const int rank = ncols > 0 ? 2 : 1;
  const size_t rowb = esize_of(type) * (size_t)(ncols > 0 ? ncols : 1);
  hsize_t dims[2] = {(hsize_t)nrows, (hsize_t)ncols};
  hsize_t maxd[2] = {H5S_UNLIMITED, (hsize_t)ncols};
  hsize_t chunk[2] = {CK_CHUNK_BYTES / rowb, (hsize_t)ncols};
  if (chunk[0] < 1) chunk[0] = 1;
  if (nrows > 0 && chunk[0] > (hsize_t)nrows) chunk[0] = (hsize_t)nrows;
  hid_t s = H5Screate_simple(rank, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  hid_t fs = -1, ms = -1;
  const char *step = "create";
  herr_t st = -1;
  /* Fletcher32 is the only filter, hence the last of the chain. */
  if (s >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 && H5Pset_fletcher32(dcpl) >= 0)
    d = H5Dcreate2(g, name, ftype_of(type), s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0) {
    st = 0;
    step = "write";
  }
  if (st >= 0 && nrows > 0) {
    static const char dummy[8] = {0};
    fs = H5Dget_space(d);
    if (fs < 0) st = -1;
    if (st >= 0 && nloc > 0) {
      hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nloc, (hsize_t)ncols};
      if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
          (ms = H5Screate_simple(rank, count, NULL)) < 0)
        st = -1;
    } else if (st >= 0) {
      hsize_t one = 1;
      buf = dummy;
      if (H5Sselect_none(fs) < 0 || (ms = H5Screate_simple(1, &one, NULL)) < 0 ||
          H5Sselect_none(ms) < 0)
        st = -1;
    }
    if (st >= 0) st = H5Dwrite(d, mtype_of(type), ms, fs, f->dxpl, buf);
  }
  clhs_h5_close(&ms);
  clhs_h5_close(&fs);
  clhs_h5_close(&d);
  clhs_h5_close(&dcpl);
  clhs_h5_close(&s);
  if (st < 0)
    return clhs_h5_fail(err, f->code, "checkpoint '%s': cannot %s dataset /%s/%s", f->fname, step,
                        gname, name);
  return CLHS_OK;
}

/** Open dataset @p dname and check its shape: rank 1 (ncols 0) or 2 with ncols columns,
 * nrows rows (nrows < 0: any; *rows_out gets the count). */
static hid_t open_rows(const ckf *f, const char *dname, int64_t nrows, int64_t ncols,
                       int64_t *rows_out, clhs_error *err) {
  htri_t ex = H5Lexists(f->file, dname, H5P_DEFAULT);
  if (ex <= 0) {
    if (ex < 0) H5Eclear2(H5E_DEFAULT);
    clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': dataset %s is missing", f->path, dname);
    return -1;
  }
  hid_t d = H5Dopen2(f->file, dname, H5P_DEFAULT), s = -1;
  if (d < 0) {
    clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': cannot open dataset %s", f->path, dname);
    return -1;
  }
  s = H5Dget_space(d);
  hsize_t dims[3] = {0, 0, 0};
  const int want = ncols > 0 ? 2 : 1;
  const int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  if (r == want) H5Sget_simple_extent_dims(s, dims, NULL);
  clhs_h5_close(&s);
  if (r != want || (nrows >= 0 && dims[0] != (hsize_t)nrows) ||
      (want == 2 && dims[1] != (hsize_t)ncols)) {
    if (r == want && want == 2)
      clhs_error_set(err, CLHS_EINPUT,
                     "checkpoint '%s': dataset %s has shape [%llu, %llu], expected [%lld, %lld]",
                     f->path, dname, (unsigned long long)dims[0], (unsigned long long)dims[1],
                     (long long)nrows, (long long)ncols);
    else if (r == want)
      clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': dataset %s has %llu rows, expected %lld",
                     f->path, dname, (unsigned long long)dims[0], (long long)nrows);
    else
      clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': dataset %s has %d dimensions, expected %d",
                     f->path, dname, r, want);
    clhs_h5_close(&d);
    return -1;
  }
  if (rows_out) *rows_out = (int64_t)dims[0];
  return d;
}

/** Read rows [row0, row0 + nloc) of dataset @p dname (shape checked as in open_rows). */
static int get_rows(const ckf *f, const char *dname, int type, int64_t nrows, int64_t ncols,
                    int64_t row0, int64_t nloc, void *buf, clhs_error *err) {
  hid_t d = open_rows(f, dname, nrows, ncols, NULL, err);
  if (d < 0) return err->code;
  if (nloc <= 0) {
    clhs_h5_close(&d);
    return CLHS_OK;
  }
  const int rank = ncols > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nloc, (hsize_t)ncols};
  hid_t fs = H5Dget_space(d), ms = -1;
  herr_t st = -1;
  if (fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
      (ms = H5Screate_simple(rank, count, NULL)) >= 0)
    st = H5Dread(d, mtype_of(type), ms, fs, f->dxpl, buf);
  clhs_h5_close(&ms);
  clhs_h5_close(&fs);
  clhs_h5_close(&d);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': dataset %s is corrupted (checksum)",
                        f->path, dname);
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ */
/* The whole-file checksum in the user block                                 */

static uint64_t ck_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* Hash of block @p index (@p n bytes): every step of the chain is a bijection of the
 * running value and of the word folded in, so changing one word always changes it. */
static uint64_t block_hash(const unsigned char *p, size_t n, uint64_t index) {
  uint64_t h = ck_mix64(index ^ 0x243f6a8885a308d3ULL);
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t wd;
    memcpy(&wd, p + k, sizeof wd);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    wd = __builtin_bswap64(wd);
#endif
    h = (h ^ wd) * 0x9fb21c651e98df25ULL;
  }
  if (k < n) {
    uint64_t wd = 0;
    for (size_t b = 0; k + b < n; b++)
      wd |= (uint64_t)p[k + b] << (8 * b);
    h = (h ^ wd) * 0x9fb21c651e98df25ULL;
  }
  return ck_mix64(h ^ (uint64_t)n);
}

/**
 * Collective: the checksum of bytes [CK_UB, size) of @p fname, each rank hashing a
 * contiguous range of blocks. A read failure is reported with status @p code.
 */
static int file_sum_from(const clhs_comm *comm, const char *fname, uint64_t start, uint64_t size,
                         uint64_t *sum, int code, clhs_error *err) {
  const uint64_t data = size > start ? size - start : 0;
  const uint64_t nb = (data + CK_SUM_BLOCK - 1) / CK_SUM_BLOCK, P = (uint64_t)comm->size;
  const uint64_t b0 = nb * (uint64_t)comm->rank / P, b1 = nb * (uint64_t)(comm->rank + 1) / P;
  uint64_t local = 0;
  int st = CLHS_OK;
  if (b1 > b0) {
    unsigned char *buf = malloc(CK_SUM_BLOCK);
    int fd = open(fname, O_RDONLY);
    if (!buf)
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory checksumming '%s'", fname);
    else if (fd < 0)
      st =
          clhs_error_set(err, code, "cannot read '%s' to checksum it (%s)", fname, strerror(errno));
    for (uint64_t b = b0; b < b1 && !st; b++) {
      const uint64_t off = start + b * CK_SUM_BLOCK;
      const size_t n = (size_t)(size - off < CK_SUM_BLOCK ? size - off : CK_SUM_BLOCK);
      size_t got = 0;
      while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          st = clhs_error_set(err, code, "cannot read '%s' at byte %llu to checksum it (%s)", fname,
                              (unsigned long long)(off + got),
                              r < 0 ? strerror(errno) : "the file is shorter than it says");
          break;
        }
        got += (size_t)r;
      }
      if (!st) local += block_hash(buf, n, b);
    }
    if (fd >= 0) close(fd);
    free(buf);
  }
  clhs_comm_sum_u64(comm, &local, 1);
  *sum = local;
  return agree(comm, st, err);
}

static int file_sum(const clhs_comm *comm, const char *fname, uint64_t size, uint64_t *sum,
                    int code, clhs_error *err) {
  return file_sum_from(comm, fname, CK_UB, size, sum, code, err);
}

int clhs_file_checksum(const clhs_comm *comm, const char *path, int64_t *size, uint64_t *sum,
                       int code, clhs_error *err) {
  int64_t n = 0;
  int st = CLHS_OK;
  if (comm->rank == 0) {
    struct stat sb;
    if (stat(path, &sb) != 0)
      st = clhs_error_set(err, code, "cannot read '%s' (%s)", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
      st = clhs_error_set(err, code, "'%s' is not a regular file", path);
    else
      n = (int64_t)sb.st_size;
  }
  st = agree(comm, st, err);
  clhs_comm_bcast(comm, &n, sizeof n, 0);
  *size = n;
  *sum = 0;
  if (st) return st;
  return file_sum_from(comm, path, 0, (uint64_t)n, sum, code, err);
}

/** The canonical user block for these values. */
static void ub_make(unsigned char *ub, int format, uint64_t size, uint64_t sum) {
  memset(ub, 0, CK_UB);
  snprintf((char *)ub, CK_UB,
           "%s\nformat %d\nsize %llu\nchecksum %016llx\n"
           "(a clhsim checkpoint: HDF5 from byte %d on; this block holds the checksum of the "
           "rest of the file)\n",
           CLHS_CKPT_MAGIC, format, (unsigned long long)size, (unsigned long long)sum, CK_UB);
}

/**
 * Check the user block of @p path (any process): the magic, the format, the size of the
 * file and the canonical form; *size and *sum get the values. CLHS_EINPUT with a message.
 */
static int ub_check(const char *path, uint64_t *size, uint64_t *sum, int *resized,
                    clhs_error *err) {
  unsigned char ub[CK_UB], canon[CK_UB];
  char text[CK_UB + 1];
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s' cannot be read: %s", path,
                          strerror(errno));
  const size_t got = fread(ub, 1, CK_UB, fp);
  int fs = fseek(fp, 0, SEEK_END);
  const long actual = fs == 0 ? ftell(fp) : -1;
  fclose(fp);
  const size_t ml = strlen(CLHS_CKPT_MAGIC);
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  size_t zeros = 0;
  while (zeros < got && ub[zeros] == 0)
    zeros++;
  if (got == CK_UB && zeros == CK_UB) { /* HDF5 closed it, the checksum never came */
    unsigned char s8[8] = {0};
    fp = fopen(path, "rb");
    if (fp && fseek(fp, CK_UB, SEEK_SET) == 0 && fread(s8, 1, 8, fp) == 8 && !memcmp(s8, sig, 8)) {
      fclose(fp);
      return clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s' is incomplete: its writing was interrupted before "
                            "its checksum was written; restart from an earlier checkpoint",
                            path);
    }
    if (fp) fclose(fp);
  }
  if (got < ml + 1 || memcmp(ub, CLHS_CKPT_MAGIC, ml) != 0 || ub[ml] != '\n')
    return clhs_error_set(err, CLHS_EINPUT,
                          "'%s' is not a clhsim checkpoint (it does not begin with '%s'), or its "
                          "first bytes are damaged",
                          path, CLHS_CKPT_MAGIC);
  memcpy(text, ub, got);
  text[got] = '\0';
  int format = -1;
  unsigned long long sz = 0, cs = 0;
  if (sscanf(text + ml + 1, "format %d", &format) != 1)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': its header block is damaged", path);
  if (format != CLHS_CKPT_FORMAT)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': checkpoint format %d, this clhsim reads %d (restart "
                          "it with the clhsim version that wrote it)",
                          path, format, CLHS_CKPT_FORMAT);
  const char *p = strchr(text + ml + 1, '\n');
  if (got < CK_UB || !p || sscanf(p + 1, "size %llu\nchecksum %llx", &sz, &cs) != 2)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': its header block is damaged or was never completed",
                          path);
  ub_make(canon, format, sz, cs);
  if (memcmp(canon, ub, CK_UB) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': its header block is damaged", path);
  *resized = 1;
  if (actual < 0 || (unsigned long long)actual != sz)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s' is truncated or damaged: %ld bytes, it was written "
                          "with %llu",
                          path, actual, sz);
  *resized = 0;
  *size = sz;
  *sum = cs;
  return CLHS_OK;
}

/** Rank 0: write the user block of the closed file @p fname and sync the file. */
static int ub_write(const char *fname, uint64_t size, uint64_t sum, clhs_error *err) {
  unsigned char ub[CK_UB];
  ub_make(ub, CLHS_CKPT_FORMAT, size, sum);
  int fd = open(fname, O_WRONLY);
  if (fd < 0)
    return clhs_error_set(err, CLHS_EIO, "cannot open checkpoint '%s' to complete it (%s)", fname,
                          strerror(errno));
  size_t done = 0;
  while (done < CK_UB) {
    ssize_t r = pwrite(fd, ub + done, CK_UB - done, (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  int ok = done == CK_UB && fsync(fd) == 0;
  int e = errno;
  if (close(fd) != 0) ok = 0;
  if (!ok)
    return clhs_error_set(err, CLHS_EIO, "cannot complete checkpoint '%s' (%s)", fname,
                          strerror(e));
  return CLHS_OK;
}

static int check_header(const ckf *f, int *format, clhs_error *err);

/**
 * Rank 0, a file whose checksum does not match: if its root attributes can still be
 * read, say what they show (another format, no completeness marker: the file was
 * changed by a tool), else that it is damaged. Parses only the root group's header.
 */
static int diagnose(const char *path, const char *fallback, clhs_error *err) {
  ckf f = {NULL, path, path, -1, -1, CLHS_EINPUT};
  clhs_error why;
  clhs_error_clear(&why);
  f.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  int st = f.file >= 0 ? check_header(&f, NULL, &why) : CLHS_EINPUT;
  clhs_h5_close(&f.file);
  H5Eclear2(H5E_DEFAULT);
  if (st && why.code) return clhs_error_set(err, CLHS_EINPUT, "%s", why.msg);
  return clhs_error_set(err, CLHS_EINPUT, "%s", fallback);
}

/**
 * Collective: the user block (rank 0), then the whole file's checksum (every rank a
 * range), before HDF5 parses anything: HDF5 1.10 can crash on a damaged object header
 * (a flipped byte in a dataset's layout made H5Dread overrun a buffer).
 */
static int verify_file(const clhs_comm *comm, const char *path, clhs_error *err) {
  uint64_t ub[2] = {0, 0}; /* size, checksum */
  int st = CLHS_OK, resized = 0;
  if (comm->rank == 0) {
    clhs_error why;
    clhs_error_clear(&why);
    st = ub_check(path, &ub[0], &ub[1], &resized, &why);
    if (st && resized)
      st = diagnose(path, why.msg, err); /* e.g. changed by a tool */
    else if (st)
      clhs_error_set(err, why.code, "%s", why.msg);
  }
  st = agree(comm, st, err);
  if (st) return st;
  clhs_comm_bcast(comm, ub, sizeof ub, 0);
  uint64_t sum = 0;
  st = file_sum(comm, path, ub[0], &sum, CLHS_EINPUT, err);
  if (!st && sum != ub[1] && comm->rank == 0) {
    char msg[1200];
    snprintf(msg, sizeof msg,
             "checkpoint '%s' is corrupted: its checksum does not match (the file was damaged or "
             "changed after it was written)",
             path);
    st = diagnose(path, msg, err);
  }
  return agree(comm, st, err);
}

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
  int replicated;     /* every rank holds every row: rank 0 writes them, every rank reads them */
} col;

#define CK_MAXCOLS CLHS_NFIELDS

_Static_assert((int)T_U8 == CLHS_VT_U8 && (int)T_U16 == CLHS_VT_U16 && (int)T_U32 == CLHS_VT_U32 &&
                   (int)T_U64 == CLHS_VT_U64 && (int)T_I32 == CLHS_VT_I32 &&
                   (int)T_I64 == CLHS_VT_I64 && (int)T_F32 == CLHS_VT_F32,
               "the checkpoint's element types are the table of fields' (include/clhs/fields.h)");

/* The stored rows of the table of fields (include/clhs/fields.h), in its order. */
static int state_columns(const clhs_world *w, col *c) {
  int n = 0;
  const int64_t hm = w->cfg->resources.held_max;
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (!clhs_field_stored(f)) continue;
    const clhs_entity_info *e = &clhs_entities[f->entity];
    const int64_t nv = clhs_field_values(f, hm);
    c[n] = (col){.group = e->group,
                 .name = f->name,
                 .type = f->vtype,
                 .data = clhs_field_array(w, f, 0),
                 .structure = f->role == CLHS_ROLE_CHECKED,
                 .replicated = e->replicated};
    /* One value per row is a 1-D dataset; several (or an array of held_max) a 2-D one. */
    c[n].ncols = f->per == CLHS_PER_1 && nv == 1 ? 0 : nv;
    clhs_entity_rows(w, f->entity, &c[n].nrows, &c[n].row0, &c[n].nloc);
    n++;
  }
  return n;
}

static const char *const ck_groups[] = {"agents", "patients",  "staff",   "centres",
                                        "ties",   "resources", "commons", "network"};
#define CK_NGROUPS ((int)(sizeof ck_groups / sizeof ck_groups[0]))

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

/** What rank 0 says about the checkpoint, identical on every rank. */
typedef struct wmeta {
  clhs_ckpt_meta m; /* config_yaml: the broadcast copy */
  size_t yaml_len;
} wmeta;

/** Buffers prepared before the file is touched (so that a failure is agreed first). */
typedef struct wprep {
  uint32_t *degree; /* [n] */
  uint64_t *tkey;   /* [local ends] */
  float *tw;
  int64_t tends, tie0, tie_total;
  /* resources in (creator, id) order */
  uint64_t *rid;
  uint16_t *rq;
  uint8_t *rkind, *rcom;
  uint32_t *rad;
  int64_t res0, res_total;
  int64_t *roff; /* [ncentres + 1] (every rank) */
} wprep;

static void wprep_free(wprep *p) {
  free(p->degree);
  free(p->tkey);
  free(p->tw);
  free(p->rid);
  free(p->rq);
  free(p->rkind);
  free(p->rcom);
  free(p->rad);
  free(p->roff);
  memset(p, 0, sizeof *p);
}

typedef struct rkey {
  int64_t creator;
  uint64_t id;
  int64_t k;
} rkey;

static int cmp_rkey(const void *a, const void *b) {
  const rkey *x = a, *y = b;
  if (x->creator != y->creator) return x->creator < y->creator ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/** Exclusive prefix of @p mine over ranks and the total (collective). */
static int rank_prefix(const clhs_comm *comm, int64_t mine, int64_t *before, int64_t *total) {
  int64_t *all = malloc(sizeof(int64_t) * (size_t)comm->size);
  if (!all) clhs_comm_abort(comm, 1, "out of memory gathering %d counts", comm->size);
  clhs_comm_allgatherv(comm, &mine, 1, sizeof mine, all);
  *before = *total = 0;
  for (int r = 0; r < comm->size; r++) {
    if (r < comm->rank) *before += all[r];
    *total += all[r];
  }
  free(all);
  return CLHS_OK;
}

/** Local buffers and the collective counts; a local failure is reported, not agreed. */
static int prepare(const clhs_world *w, wprep *p, clhs_error *err) {
  memset(p, 0, sizeof *p);
  const int64_t n = w->n, C = w->ncentres;
  int st = CLHS_OK;
  /* Ties: rows of every local centre, concatenated (centres follow local agent order). */
  int64_t ends = clhs_ties_count(w);
  p->degree = malloc(sizeof *p->degree * (size_t)(n ? n : 1));
  p->tkey = malloc(sizeof *p->tkey * (size_t)(ends ? ends : 1));
  p->tw = malloc(sizeof *p->tw * (size_t)(ends ? ends : 1));
  if (!p->degree || !p->tkey || !p->tw) {
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory preparing %lld tie ends for a checkpoint",
                        (long long)ends);
  } else {
    int64_t e = 0;
    for (int64_t lc = 0; lc < w->c_count; lc++) {
      const clhs_tieset *ts = &w->ties[lc];
      const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
      for (int32_t r = 0; r < na; r++)
        p->degree[a0 + r] = ts->off[r + 1] - ts->off[r];
      const uint32_t ne = ts->off[na];
      if (ne) {
        memcpy(p->tkey + e, ts->key, sizeof *p->tkey * ne);
        memcpy(p->tw + e, ts->w, sizeof *p->tw * ne);
      }
      e += ne;
    }
  }
  p->tends = ends;
  rank_prefix(w->comm, ends, &p->tie0, &p->tie_total);

  /* Resources: this rank's table in (creator gid, id) order; rows per local centre. */
  const int64_t nr = w->res.n;
  rkey *keys = malloc(sizeof *keys * (size_t)(nr ? nr : 1));
  int64_t *ccount = calloc((size_t)(w->c_count ? w->c_count : 1), sizeof *ccount);
  p->rid = malloc(sizeof *p->rid * (size_t)(nr ? nr : 1));
  p->rq = malloc(sizeof *p->rq * (size_t)(nr ? nr : 1));
  p->rkind = malloc((size_t)(nr ? nr : 1));
  p->rcom = malloc((size_t)(nr ? nr : 1));
  p->rad = malloc(sizeof *p->rad * (size_t)(nr ? nr : 1));
  p->roff = malloc(sizeof *p->roff * (size_t)(C + 1));
  if (!keys || !ccount || !p->rid || !p->rq || !p->rkind || !p->rcom || !p->rad || !p->roff) {
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory preparing %lld resources for a checkpoint",
                        (long long)nr);
  } else {
    for (int64_t k = 0; k < nr; k++) {
      keys[k].creator = clhs_res_creator(w->res.id[k]);
      keys[k].id = w->res.id[k];
      keys[k].k = k;
    }
    qsort(keys, (size_t)nr, sizeof *keys, cmp_rkey);
    for (int64_t j = 0; j < nr; j++) {
      const int64_t k = keys[j].k, i = keys[j].creator - w->gid_begin;
      p->rid[j] = w->res.id[k];
      p->rq[j] = w->res.q[k];
      p->rkind[j] = w->res.kind[k];
      p->rcom[j] = w->res.in_commons[k];
      p->rad[j] = w->res.adoptions[k];
      if (i < 0 || i >= w->n) {
        st = clhs_error_set(err, CLHS_EFAIL,
                            "resource %llx in rank %d's table has creator %lld, not one of its "
                            "agents",
                            (unsigned long long)keys[j].id, w->comm->rank,
                            (long long)keys[j].creator);
        break;
      }
      ccount[w->centre[i]]++;
    }
  }
  free(keys);
  rank_prefix(w->comm, nr, &p->res0, &p->res_total);
  /* Rows per centre, in centre order (ranks hold contiguous blocks in rank order). */
  int64_t *all = malloc(sizeof *all * (size_t)(C ? C : 1));
  if (!all) clhs_comm_abort(w->comm, 1, "out of memory gathering %lld centre counts", (long long)C);
  clhs_comm_allgatherv(w->comm, ccount, ccount ? w->c_count : 0, sizeof *ccount, all);
  if (p->roff) {
    p->roff[0] = 0;
    for (int64_t c = 0; c < C; c++)
      p->roff[c + 1] = p->roff[c] + all[c];
  }
  free(all);
  free(ccount);
  return st;
}

/** Root attributes (rank 0's values, so the same on every rank). */
static int write_root(const ckf *f, const clhs_world *w, const wmeta *wm, clhs_error *err) {
  hid_t root = f->file;
  const int32_t format = CLHS_CKPT_FORMAT;
  int st = put_attr_str(f, root, "magic", CLHS_CKPT_MAGIC, err);
  if (!st) st = put_attr(f, root, "format", H5T_STD_I32LE, H5T_NATIVE_INT32, &format, err);
  if (!st) st = put_attr(f, root, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &wm->m.step, err);
  if (!st)
    st = put_attr(f, root, "output_records", H5T_STD_I64LE, H5T_NATIVE_INT64, &wm->m.output_records,
                  err);
  if (!st) st = put_attr(f, root, "digest", H5T_STD_U64LE, H5T_NATIVE_UINT64, &wm->m.digest, err);
  if (!st) st = put_attr_str(f, root, "output_snapshot", wm->m.output_snapshot, err);
  if (!st) st = put_attr_str(f, root, "parent", wm->m.parent, err);
  if (!st) st = put_attr_str(f, root, "created_utc", wm->m.created_utc, err);
  if (!st) st = put_attr_str(f, root, "run_id", wm->m.run_id, err);
  if (!st) st = put_attr_str(f, root, "parent_run_id", wm->m.parent_run_id, err);
  if (!st)
    st = put_attr(f, root, "output_snapshot_size", H5T_STD_I64LE, H5T_NATIVE_INT64,
                  &wm->m.snapshot_size, err);
  if (!st)
    st = put_attr(f, root, "output_snapshot_checksum", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                  &wm->m.snapshot_sum, err);
  if (!st) st = put_attr(f, root, "nagents", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->nagents, err);
  if (!st) st = put_attr(f, root, "ncentres", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->ncentres, err);
  if (!st) st = put_attr(f, root, "npatients", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->npatients, err);
  if (st) return st;
  const char *yaml = wm->m.config_yaml ? wm->m.config_yaml : "";
  if (wm->yaml_len <= CK_ATTR_MAX) return put_attr_str(f, root, "config_yaml", yaml, err);
  /* Too long for an attribute in the HDF5-1.8 format: a scalar string dataset that
   * rank 0 writes (collectively: the others select nothing). */
  hid_t t = str_type(wm->yaml_len), s = H5Screate(H5S_SCALAR), d = -1, fs = -1, ms = -1;
  herr_t hs = -1;
  if (t >= 0 && s >= 0)
    d = H5Dcreate2(root, "config_yaml", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0 && (fs = H5Dget_space(d)) >= 0) {
    if (f->comm->rank == 0) {
      if (H5Sselect_all(fs) >= 0 && (ms = H5Scopy(fs)) >= 0)
        hs = H5Dwrite(d, t, ms, fs, f->dxpl, yaml);
    } else {
      hsize_t one = 1;
      if (H5Sselect_none(fs) >= 0 && (ms = H5Screate_simple(1, &one, NULL)) >= 0 &&
          H5Sselect_none(ms) >= 0)
        hs = H5Dwrite(d, t, ms, fs, f->dxpl, yaml);
    }
  }
  clhs_h5_close(&ms);
  clhs_h5_close(&fs);
  clhs_h5_close(&d);
  clhs_h5_close(&s);
  clhs_h5_close(&t);
  if (hs < 0)
    return clhs_h5_fail(err, f->code, "checkpoint '%s': cannot write dataset /config_yaml",
                        f->fname);
  return CLHS_OK;
}

/** Collective: every group and dataset, agreeing after each. */
static int write_body(const ckf *f, const clhs_world *w, const wmeta *wm, const wprep *p,
                      clhs_error *err) {
  const clhs_comm *comm = f->comm;
  hid_t g[CK_NGROUPS];
  for (int k = 0; k < CK_NGROUPS; k++)
    g[k] = -1;
  int st = agree(comm, write_root(f, w, wm, err), err);
  for (int k = 0; k < CK_NGROUPS && !st; k++) {
    g[k] = H5Gcreate2(f->file, ck_groups[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g[k] < 0)
      st = clhs_h5_fail(err, f->code, "checkpoint '%s': cannot create group /%s", f->fname,
                        ck_groups[k]);
    st = agree(comm, st, err);
  }
  col c[CK_MAXCOLS];
  const int nc = state_columns(w, c);
  for (int k = 0; k < nc && !st; k++) {
    int gi = 0;
    while (strcmp(ck_groups[gi], c[k].group) != 0)
      gi++;
    const int64_t nloc = c[k].replicated && comm->rank != 0 ? 0 : c[k].nloc;
    st = agree(comm,
               put_rows(f, g[gi], c[k].group, c[k].name, c[k].type, c[k].nrows, c[k].ncols,
                        c[k].row0, nloc, c[k].data, err),
               err);
  }
  const int64_t C = w->ncentres;
  const int one0 = comm->rank == 0;
  hid_t gt = g[4], gr = g[5], gm = g[6], gn = g[7];
  /* Ties. */
  if (!st)
    st = agree(
        comm,
        put_rows(f, gt, "ties", "degree", T_U32, w->nagents, 0, w->gid_begin, w->n, p->degree, err),
        err);
  if (!st)
    st = agree(
        comm,
        put_rows(f, gt, "ties", "key", T_U64, p->tie_total, 0, p->tie0, p->tends, p->tkey, err),
        err);
  if (!st)
    st = agree(comm,
               put_rows(f, gt, "ties", "w", T_F32, p->tie_total, 0, p->tie0, p->tends, p->tw, err),
               err);
  /* Resources. */
  const int64_t R = p->res_total, r0 = p->res0, rn = w->res.n;
  if (!st)
    st = agree(comm, put_rows(f, gr, "resources", "id", T_U64, R, 0, r0, rn, p->rid, err), err);
  if (!st)
    st = agree(comm, put_rows(f, gr, "resources", "q", T_U16, R, 0, r0, rn, p->rq, err), err);
  if (!st)
    st = agree(comm, put_rows(f, gr, "resources", "kind", T_U8, R, 0, r0, rn, p->rkind, err), err);
  if (!st)
    st = agree(comm, put_rows(f, gr, "resources", "in_commons", T_U8, R, 0, r0, rn, p->rcom, err),
               err);
  if (!st)
    st = agree(comm, put_rows(f, gr, "resources", "adoptions", T_U32, R, 0, r0, rn, p->rad, err),
               err);
  if (!st)
    st = agree(comm,
               put_rows(f, gr, "resources", "centre_offset", T_I64, C + 1, 0, 0, one0 ? C + 1 : 0,
                        p->roff, err),
               err);
  /* The commons (identical everywhere): rank 0 writes it. */
  const int64_t M = w->commons.n, mn = one0 ? M : 0;
  if (!st)
    st = agree(comm, put_rows(f, gm, "commons", "id", T_U64, M, 0, 0, mn, w->commons.id, err), err);
  if (!st)
    st = agree(comm, put_rows(f, gm, "commons", "q", T_U16, M, 0, 0, mn, w->commons.q, err), err);
  if (!st)
    st = agree(comm, put_rows(f, gm, "commons", "kind", T_U8, M, 0, 0, mn, w->commons.kind, err),
               err);
  /* Network-wide scalars (identical everywhere). */
  if (!st) {
    int s2 = put_attr(f, gn, "E_tx", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &w->E_tx, err);
    if (!s2) s2 = put_attr(f, gn, "N_rec", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->N_rec, err);
    if (!s2)
      s2 =
          put_attr(f, gn, "commons_users", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->commons_users, err);
    if (!s2) s2 = put_attr(f, gn, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->step, err);
    st = agree(comm, s2, err);
  }
  for (int k = 0; k < CK_NGROUPS; k++)
    clhs_h5_close(&g[k]);
  /* Last: the completeness marker, then everything reaches the disk. */
  if (!st) {
    const int32_t one = 1;
    int s2 = put_attr(f, f->file, "complete", H5T_STD_I32LE, H5T_NATIVE_INT32, &one, err);
    if (!s2 && H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0)
      s2 = clhs_h5_fail(err, f->code, "checkpoint '%s': cannot flush", f->fname);
    st = agree(comm, s2, err);
  }
  return st;
}

/** Rank 0's metadata, broadcast (created_utc filled in if empty). */
static void share_meta(const clhs_comm *comm, const clhs_ckpt_meta *meta, wmeta *wm) {
  memset(wm, 0, sizeof *wm);
  if (comm->rank == 0 && meta) {
    wm->m = *meta;
    if (!wm->m.created_utc[0]) {
      time_t now = time(NULL);
      struct tm tmv;
      if (gmtime_r(&now, &tmv))
        strftime(wm->m.created_utc, sizeof wm->m.created_utc, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    }
  }
  const char *yaml = comm->rank == 0 && meta && meta->config_yaml ? meta->config_yaml : "";
  wm->m.config_yaml = NULL;
  clhs_comm_bcast(comm, &wm->m, sizeof wm->m, 0);
  wm->m.output_snapshot[sizeof wm->m.output_snapshot - 1] = '\0';
  wm->m.parent[sizeof wm->m.parent - 1] = '\0';
  wm->m.created_utc[sizeof wm->m.created_utc - 1] = '\0';
  wm->m.run_id[sizeof wm->m.run_id - 1] = '\0';
  wm->m.parent_run_id[sizeof wm->m.parent_run_id - 1] = '\0';
  wm->m.config_yaml = NULL;
  size_t len = strlen(yaml) + 1;
  char *copy = NULL;
  if (comm->rank == 0) {
    copy = malloc(len);
    if (!copy) clhs_comm_abort(comm, 1, "out of memory copying the configuration");
    memcpy(copy, yaml, len);
  }
  copy = clhs_comm_bcast_alloc(comm, copy, &len, 0);
  copy[len ? len - 1 : 0] = '\0';
  wm->m.config_yaml = copy;
  wm->yaml_len = strlen(copy);
}

int clhs_checkpoint_write(const clhs_world *w, const char *path, const clhs_ckpt_meta *meta,
                          clhs_error *err) {
  const clhs_comm *comm = w->comm;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  wmeta wm;
  share_meta(comm, meta, &wm);
  const size_t plen = (path ? strlen(path) : 0) + sizeof wm.m.run_id + 8;
  char *tmp = malloc(plen);
  if (!tmp) clhs_comm_abort(comm, 1, "out of memory");
  clhs_tmp_name(path ? path : "", wm.m.run_id, tmp, plen); /* PATH.RUNID.tmp: this run's */
  ckf f = {comm, path ? path : "", tmp, -1, -1, CLHS_EIO};
  int st = CLHS_OK;
  if (!path || !path[0]) st = clhs_error_set(err, CLHS_EINPUT, "the checkpoint path is empty");
  wprep p;
  int pst = prepare(w, &p, err); /* collective counts inside: every rank calls it */
  if (!st) st = pst;
  st = agree(comm, st, err);

  /* Room for it (about the world's bytes), agreed before any collective HDF5 call. */
  int64_t need = (int64_t)clhs_world_bytes(w);
  clhs_comm_sum_i64(comm, &need, 1);
  if (!st && comm->rank == 0)
    st = clhs_check_space(tmp, (uint64_t)need + (1u << 20), "the checkpoint", err);
  st = agree(comm, st, err);

  int tried = 0; /* the temporary file may exist (the same on every rank: agreed) */
  if (!st) {
    tried = 1;
    clhs_h5_tmp_register(tmp);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    MPI_Comm mc = *(const MPI_Comm *)clhs_comm_mpi_handle(comm);
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, mc, MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot set up parallel HDF5 file access",
                        tmp);
    if (!st) {
      hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
      if (fcpl >= 0 && H5Pset_userblock(fcpl, CK_UB) >= 0)
        f.file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
      if (f.file < 0) {
        st = clhs_h5_fail(err, CLHS_EIO, "cannot create checkpoint file '%s'", tmp);
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 "; check that its folder exists and is writable, and set "
                 "HDF5_USE_FILE_LOCKING=FALSE if the file system does not support locking");
      }
      clhs_h5_close(&fcpl); /* after h5fail: a successful HDF5 call clears the error stack */
    }
    clhs_h5_close(&fapl);
    st = agree(comm, st, err);
  }
  if (!st) {
    f.dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (f.dxpl < 0 || H5Pset_dxpl_mpio(f.dxpl, H5FD_MPIO_COLLECTIVE) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot set up collective transfers", tmp);
    st = agree(comm, st, err);
  }
  if (!st) st = write_body(&f, w, &wm, &p, err);
  clhs_h5_close(&f.dxpl);
  if (st && f.file >= 0) {
    /* Failed (a full disk, say): empty the file before closing it, so that HDF5's closing
     * writes cannot fail too and leave it a half-closed file to crash on at exit. */
    clhs_comm_barrier(comm);
    if (comm->rank == 0 && truncate(tmp, 0) != 0) { /* removed below anyway */
    }
    clhs_comm_barrier(comm);
  }
  if (f.file >= 0) {
    int cst = CLHS_OK;
    if (H5Fclose(f.file) < 0)
      cst = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot close", tmp);
    f.file = -1;
    if (!st) st = cst;
  }
  st = agree(comm, st, err);
  clhs_comm_barrier(comm);
  /* Every rank has closed the file: the checksum (read back in parallel), then rank 0
   * writes the user block, syncs and publishes the file. */
  if (!st) {
    int64_t size = 0;
    struct stat sb;
    if (comm->rank == 0) {
      if (stat(tmp, &sb) == 0)
        size = (int64_t)sb.st_size;
      else
        st = clhs_error_set(err, CLHS_EIO, "checkpoint '%s' vanished (%s)", tmp, strerror(errno));
    }
    st = agree(comm, st, err);
    clhs_comm_bcast(comm, &size, sizeof size, 0);
    uint64_t sum = 0;
    if (!st) st = file_sum(comm, tmp, (uint64_t)size, &sum, CLHS_EIO, err);
    if (!st && comm->rank == 0) st = ub_write(tmp, (uint64_t)size, sum, err);
    st = agree(comm, st, err);
  }
  if (!st && comm->rank == 0) {
    if (rename(tmp, path) != 0)
      st = clhs_error_set(err, CLHS_EIO, "cannot rename checkpoint '%s' to '%s' (%s)", tmp, path,
                          strerror(errno));
    else
      clhs_fsync_folder_of(path);
  }
  st = agree(comm, st, err);
  if (st && tried && comm->rank == 0) {
    struct stat sb;
    if (stat(tmp, &sb) == 0 && S_ISREG(sb.st_mode)) remove(tmp);
  }
  if (st) clhs_comm_barrier(comm);
  clhs_h5_tmp_unregister(tmp);
  wprep_free(&p);
  free(wm.m.config_yaml);
  free(tmp);
  clhs_h5_quiet_off(&q);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

/** Magic, format and the completeness marker of an open file. */
static int check_header(const ckf *f, int *format, clhs_error *err) {
  char *magic = NULL;
  int st = CLHS_OK;
  if (H5Aexists(f->file, "magic") <= 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "'%s' is an HDF5 file but not a clhsim checkpoint (no attribute 'magic')",
                        f->path);
  if (!st) st = get_attr_str(f, f->file, "magic", &magic, err);
  if (!st && strcmp(magic, CLHS_CKPT_MAGIC) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "'%s' is not a clhsim checkpoint (magic '%.64s', expected '%s')", f->path,
                        magic, CLHS_CKPT_MAGIC);
  free(magic);
  int32_t fmt = -1, complete = 0;
  if (!st) st = get_attr(f, f->file, "/", "format", H5T_NATIVE_INT32, &fmt, err);
  if (!st && fmt != CLHS_CKPT_FORMAT)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint '%s': checkpoint format %d, this clhsim reads %d (restart it "
                        "with the clhsim version that wrote it)",
                        f->path, (int)fmt, CLHS_CKPT_FORMAT);
  if (!st) {
    htri_t ex = H5Aexists(f->file, "complete");
    if (ex > 0) st = get_attr(f, f->file, "/", "complete", H5T_NATIVE_INT32, &complete, err);
    if (!st && complete != 1)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s' is incomplete (no 'complete' marker): its writing was "
                          "interrupted; restart from an earlier checkpoint",
                          f->path);
  }
  if (format) *format = fmt;
  return st;
}

static void cant_open(const char *path, clhs_error *err) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    H5Eclear2(H5E_DEFAULT);
    clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s' cannot be read: %s", path, strerror(errno));
  } else {
    clhs_h5_fail(err, CLHS_EINPUT,
                 "checkpoint '%s' cannot be opened: not an HDF5 file, or truncated or damaged",
                 path);
  }
}

/** Read a string that is an attribute, or failing that a dataset, of the root group. */
static int get_root_text(const ckf *f, const char *name, char **out, clhs_error *err) {
  if (H5Aexists(f->file, name) > 0) return get_attr_str(f, f->file, name, out, err);
  H5Eclear2(H5E_DEFAULT);
  if (H5Lexists(f->file, name, H5P_DEFAULT) <= 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /%s is missing", f->path, name);
  hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
  int st = d >= 0 ? read_str(d, 0, out) : -1;
  clhs_h5_close(&d);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': dataset /%s is corrupted", f->path,
                        name);
  return CLHS_OK;
}

/** Rank 0, serial HDF5: the metadata. */
static int meta_local(const char *path, clhs_ckpt_meta *m, clhs_error *err) {
  ckf f = {NULL, path, path, -1, -1, CLHS_EINPUT};
  f.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f.file < 0) {
    cant_open(path, err);
    return err->code;
  }
  int st = check_header(&f, &m->format, err);
  char *s = NULL;
  if (!st) st = get_attr(&f, f.file, "/", "step", H5T_NATIVE_INT64, &m->step, err);
  if (!st)
    st = get_attr(&f, f.file, "/", "output_records", H5T_NATIVE_INT64, &m->output_records, err);
  if (!st) st = get_attr(&f, f.file, "/", "digest", H5T_NATIVE_UINT64, &m->digest, err);
  if (!st && !(st = get_attr_str(&f, f.file, "output_snapshot", &s, err)))
    copy_str(m->output_snapshot, sizeof m->output_snapshot, s);
  free(s);
  s = NULL;
  if (!st && !(st = get_attr_str(&f, f.file, "parent", &s, err)))
    copy_str(m->parent, sizeof m->parent, s);
  free(s);
  s = NULL;
  if (!st && !(st = get_attr_str(&f, f.file, "created_utc", &s, err)))
    copy_str(m->created_utc, sizeof m->created_utc, s);
  free(s);
  s = NULL;
  if (!st && !(st = get_attr_str(&f, f.file, "run_id", &s, err)))
    copy_str(m->run_id, sizeof m->run_id, s);
  free(s);
  s = NULL;
  if (!st && !(st = get_attr_str(&f, f.file, "parent_run_id", &s, err)))
    copy_str(m->parent_run_id, sizeof m->parent_run_id, s);
  free(s);
  if (!st)
    st =
        get_attr(&f, f.file, "/", "output_snapshot_size", H5T_NATIVE_INT64, &m->snapshot_size, err);
  if (!st)
    st = get_attr(&f, f.file, "/", "output_snapshot_checksum", H5T_NATIVE_UINT64, &m->snapshot_sum,
                  err);
  if (!st) st = get_root_text(&f, "config_yaml", &m->config_yaml, err);
  clhs_h5_close(&f.file);
  return st;
}

int clhs_checkpoint_read_meta(const clhs_comm *comm, const char *path, clhs_ckpt_meta *meta,
                              clhs_error *err) {
  h5quiet q;
  clhs_h5_quiet_on(&q);
  memset(meta, 0, sizeof *meta);
  int st = CLHS_OK;
  if (!path || !path[0]) st = clhs_error_set(err, CLHS_EINPUT, "the checkpoint path is empty");
  st = agree(comm, st, err);
  if (!st) st = verify_file(comm, path, err);
  if (!st && comm->rank == 0) st = meta_local(path, meta, err);
  st = agree(comm, st, err);
  if (st) {
    free(meta->config_yaml);
    memset(meta, 0, sizeof *meta);
    clhs_h5_quiet_off(&q);
    return st;
  }
  char *yaml = meta->config_yaml;
  size_t len = yaml ? strlen(yaml) + 1 : 1;
  if (comm->rank == 0 && !yaml) {
    yaml = calloc(1, 1);
    if (!yaml) clhs_comm_abort(comm, 1, "out of memory");
  }
  meta->config_yaml = NULL;
  clhs_comm_bcast(comm, meta, sizeof *meta, 0);
  yaml = clhs_comm_bcast_alloc(comm, yaml, &len, 0);
  yaml[len ? len - 1 : 0] = '\0';
  meta->config_yaml = yaml;
  clhs_h5_quiet_off(&q);
  return CLHS_OK;
}

/** The world's columns: rows of this rank, checked values. */
static int read_state(const ckf *f, clhs_world *w, clhs_error *err) {
  col c[CK_MAXCOLS];
  const int nc = state_columns(w, c);
  int st = CLHS_OK;
  for (int k = 0; k < nc && !st; k++) {
    char dname[128];
    snprintf(dname, sizeof dname, "/%s/%s", c[k].group, c[k].name);
    const size_t bytes = esize_of(c[k].type) * (size_t)(c[k].ncols > 0 ? c[k].ncols : 1) *
                         (size_t)(c[k].nloc > 0 ? c[k].nloc : 1);
    void *dst = c[k].data, *tmp = NULL;
    if (c[k].structure) {
      dst = tmp = malloc(bytes);
      if (!tmp) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %s", dname);
    }
    if (!st)
      st = get_rows(f, dname, c[k].type, c[k].nrows, c[k].ncols, c[k].row0, c[k].nloc, dst, err);
    if (!st && tmp && c[k].nloc > 0 && memcmp(tmp, c[k].data, bytes) != 0)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': dataset %s differs from the world built from the "
                          "configuration (was the checkpoint written with another one?)",
                          f->path, dname);
    free(tmp);
    st = agree(f->comm, st, err);
  }
  if (st) return st;
  for (int64_t i = 0; i < w->n && !st; i++)
    if (w->E[i] >= CLHS_TIERS || w->E_wait[i] >= CLHS_TIERS)
      st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': agent %lld has tier %d/%d", f->path,
                          (long long)(w->gid_begin + i), w->E[i], w->E_wait[i]);
  return agree(f->comm, st, err);
}

/** The dynamic ties: degrees of this rank's agents give its slice of key and w. */
static int read_ties(const ckf *f, clhs_world *w, clhs_error *err) {
  const int64_t n = w->n;
  uint32_t *deg = malloc(sizeof *deg * (size_t)(n ? n : 1));
  int st = deg ? CLHS_OK : clhs_error_set(err, CLHS_ENOMEM, "out of memory reading ties");
  if (!st) st = get_rows(f, "/ties/degree", T_U32, w->nagents, 0, w->gid_begin, n, deg, err);
  int64_t mine = 0, before = 0, total = 0;
  for (int64_t i = 0; i < n && !st; i++)
    mine += deg[i];
  st = agree(f->comm, st, err);
  rank_prefix(f->comm, st ? 0 : mine, &before, &total);
  if (st) {
    free(deg);
    return st;
  }
  uint64_t *key = malloc(sizeof *key * (size_t)(mine ? mine : 1));
  float *wt = malloc(sizeof *wt * (size_t)(mine ? mine : 1));
  if (!key || !wt)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %lld tie ends", (long long)mine);
  if (!st) st = get_rows(f, "/ties/key", T_U64, total, 0, before, mine, key, err);
  st = agree(f->comm, st, err);
  if (!st) st = get_rows(f, "/ties/w", T_F32, total, 0, before, mine, wt, err);
  st = agree(f->comm, st, err);
  /* Rows must be what the tie store keeps: strictly increasing neighbour gids of other
   * agents, kinds peer/event/online, weights in (0, 1]. */
  int64_t e = 0;
  for (int64_t i = 0; i < n && !st; i++) {
    const int64_t gi = w->gid_begin + i;
    for (uint32_t d = 0; d < deg[i] && !st; d++, e++) {
      const int64_t g = clhs_tie_gid(key[e]);
      const int kind = clhs_tie_kind_of(key[e]);
      if (g < 0 || g >= w->nagents || g == gi || kind == CLHS_TIE_CARE || !(wt[e] > 0) ||
          !(wt[e] <= 1) || (d > 0 && clhs_tie_gid(key[e - 1]) >= g))
        st = clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s': /ties is inconsistent at agent %lld (tie end %lld)",
                            f->path, (long long)gi, (long long)(before + e));
    }
  }
  st = agree(f->comm, st, err);
  for (int64_t lc = 0, e0 = 0; lc < w->c_count && !st; lc++) {
    clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    int64_t cnt = 0;
    for (int32_t r = 0; r < na; r++)
      cnt += deg[a0 + r];
    if (cnt > (int64_t)UINT32_MAX) {
      st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': centre %lld has %lld tie ends",
                          f->path, (long long)(w->c_begin + lc), (long long)cnt);
      break;
    }
    uint64_t *k2 = malloc(sizeof *k2 * (size_t)(cnt ? cnt : 1));
    float *w2 = malloc(sizeof *w2 * (size_t)(cnt ? cnt : 1));
    if (!k2 || !w2) {
      free(k2);
      free(w2);
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading ties");
      break;
    }
    if (cnt) {
      memcpy(k2, key + e0, sizeof *k2 * (size_t)cnt);
      memcpy(w2, wt + e0, sizeof *w2 * (size_t)cnt);
    }
    uint32_t o = 0;
    for (int32_t r = 0; r < na; r++) {
      ts->off[r] = o;
      o += deg[a0 + r];
    }
    ts->off[na] = o;
    free(ts->key);
    free(ts->w);
    ts->key = k2;
    ts->w = w2;
    ts->cap = (uint32_t)cnt;
    e0 += cnt;
  }
  free(deg);
  free(key);
  free(wt);
  return agree(f->comm, st, err);
}

static int cmp_u64_idx(const void *a, const void *b) {
  const rkey *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

/** This rank's resources: the rows of its centres, then sorted by id. */
static int read_resources(const ckf *f, clhs_world *w, clhs_error *err) {
  const int64_t C = w->ncentres;
  int64_t *off = malloc(sizeof *off * (size_t)(C + 1)), R = 0;
  int st = off ? CLHS_OK : clhs_error_set(err, CLHS_ENOMEM, "out of memory reading resources");
  if (!st) {
    hid_t d = open_rows(f, "/resources/id", -1, 0, &R, err);
    if (d < 0) st = err->code;
    clhs_h5_close(&d);
  }
  if (!st) st = get_rows(f, "/resources/centre_offset", T_I64, C + 1, 0, 0, C + 1, off, err);
  for (int64_t c = 0; c < C && !st; c++)
    if (off[0] != 0 || off[c + 1] < off[c] || off[C] != R)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': /resources/centre_offset is inconsistent at centre "
                          "%lld",
                          f->path, (long long)c);
  st = agree(f->comm, st, err);
  if (st) {
    free(off);
    return st;
  }
  const int64_t r0 = off[w->c_begin], nr = off[w->c_begin + w->c_count] - r0;
  free(off);
  const size_t cap = (size_t)(nr ? nr : 1);
  clhs_restab t;
  memset(&t, 0, sizeof t);
  t.id = malloc(sizeof *t.id * cap);
  t.q = malloc(sizeof *t.q * cap);
  t.kind = malloc(cap);
  t.in_commons = malloc(cap);
  t.adoptions = malloc(sizeof *t.adoptions * cap);
  uint64_t *id = malloc(sizeof *id * cap);
  uint16_t *q = malloc(sizeof *q * cap);
  uint8_t *kind = malloc(cap), *ic = malloc(cap);
  uint32_t *ad = malloc(sizeof *ad * cap);
  rkey *keys = malloc(sizeof *keys * cap);
  if (!t.id || !t.q || !t.kind || !t.in_commons || !t.adoptions || !id || !q || !kind || !ic ||
      !ad || !keys)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %lld resources", (long long)nr);
  st = agree(f->comm, st, err);
  if (!st) st = agree(f->comm, get_rows(f, "/resources/id", T_U64, R, 0, r0, nr, id, err), err);
  if (!st) st = agree(f->comm, get_rows(f, "/resources/q", T_U16, R, 0, r0, nr, q, err), err);
  if (!st) st = agree(f->comm, get_rows(f, "/resources/kind", T_U8, R, 0, r0, nr, kind, err), err);
  if (!st)
    st = agree(f->comm, get_rows(f, "/resources/in_commons", T_U8, R, 0, r0, nr, ic, err), err);
  if (!st)
    st = agree(f->comm, get_rows(f, "/resources/adoptions", T_U32, R, 0, r0, nr, ad, err), err);
  if (!st) {
    for (int64_t k = 0; k < nr; k++) {
      keys[k].id = id[k];
      keys[k].k = k;
      const int64_t g = clhs_res_creator(id[k]);
      if (g < w->gid_begin || g >= w->gid_begin + w->n || kind[k] >= CLHS_NRESKINDS) {
        st = clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s': resource row %lld (creator %lld) is not where "
                            "/resources/centre_offset puts it",
                            f->path, (long long)(r0 + k), (long long)g);
        break;
      }
    }
    if (!st) qsort(keys, (size_t)nr, sizeof *keys, cmp_u64_idx);
    for (int64_t j = 0; j < nr && !st; j++) {
      const int64_t k = keys[j].k;
      if (j > 0 && keys[j].id == keys[j - 1].id) {
        st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': resource %llx appears twice",
                            f->path, (unsigned long long)keys[j].id);
        break;
      }
      t.id[j] = id[k];
      t.q[j] = q[k];
      t.kind[j] = kind[k];
      t.in_commons[j] = ic[k];
      t.adoptions[j] = ad[k];
    }
    st = agree(f->comm, st, err);
  }
  free(id);
  free(q);
  free(kind);
  free(ic);
  free(ad);
  free(keys);
  if (st) {
    free(t.id);
    free(t.q);
    free(t.kind);
    free(t.in_commons);
    free(t.adoptions);
    return st;
  }
  t.n = nr;
  t.cap = nr;
  /* [fresh_begin, n): created in the latest step (ids begin with their creation step). */
  t.fresh_begin = t.n;
  if (w->step > 0) {
    const uint64_t first = clhs_res_id(w->step - 1, 0, 0, 0);
    int64_t lo = 0, hi = t.n;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (t.id[mid] < first)
        lo = mid + 1;
      else
        hi = mid;
    }
    t.fresh_begin = lo;
  }
  free(w->res.id);
  free(w->res.q);
  free(w->res.kind);
  free(w->res.in_commons);
  free(w->res.adoptions);
  w->res = t;
  return CLHS_OK;
}

/** The commons, whole, on every rank. */
static int read_commons(const ckf *f, clhs_world *w, clhs_error *err) {
  int64_t M = 0;
  hid_t d = open_rows(f, "/commons/id", -1, 0, &M, err);
  int st = d < 0 ? err->code : CLHS_OK;
  clhs_h5_close(&d);
  st = agree(f->comm, st, err);
  if (st) return st;
  const size_t cap = (size_t)(M ? M : 1);
  clhs_commons c;
  memset(&c, 0, sizeof c);
  c.id = malloc(sizeof *c.id * cap);
  c.q = malloc(sizeof *c.q * cap);
  c.kind = malloc(cap);
  if (!c.id || !c.q || !c.kind)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %lld commons entries",
                        (long long)M);
  st = agree(f->comm, st, err);
  if (!st) st = agree(f->comm, get_rows(f, "/commons/id", T_U64, M, 0, 0, M, c.id, err), err);
  if (!st) st = agree(f->comm, get_rows(f, "/commons/q", T_U16, M, 0, 0, M, c.q, err), err);
  if (!st) st = agree(f->comm, get_rows(f, "/commons/kind", T_U8, M, 0, 0, M, c.kind, err), err);
  for (int64_t k = 0; k < M && !st; k++)
    if ((k > 0 && c.id[k] <= c.id[k - 1]) || c.kind[k] >= CLHS_NRESKINDS)
      st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /commons is inconsistent at row %lld",
                          f->path, (long long)k);
  st = agree(f->comm, st, err);
  if (st) {
    free(c.id);
    free(c.q);
    free(c.kind);
    return st;
  }
  c.n = c.cap = M;
  free(w->commons.id);
  free(w->commons.q);
  free(w->commons.kind);
  w->commons = c;
  return CLHS_OK;
}

static int read_network(const ckf *f, clhs_world *w, clhs_error *err) {
  hid_t g = H5Gopen2(f->file, "network", H5P_DEFAULT);
  int st = CLHS_OK;
  if (g < 0)
    st = clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': group /network is missing", f->path);
  double E_tx = 0;
  int64_t N_rec = 0, users = 0, step = 0;
  if (!st) st = get_attr(f, g, "/network/", "E_tx", H5T_NATIVE_DOUBLE, &E_tx, err);
  if (!st) st = get_attr(f, g, "/network/", "N_rec", H5T_NATIVE_INT64, &N_rec, err);
  if (!st) st = get_attr(f, g, "/network/", "commons_users", H5T_NATIVE_INT64, &users, err);
  if (!st) st = get_attr(f, g, "/network/", "step", H5T_NATIVE_INT64, &step, err);
  if (!st && (step < 0 || N_rec < 0 || users < 0))
    st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /network holds negative counts",
                        f->path);
  clhs_h5_close(&g);
  st = agree(f->comm, st, err);
  if (!st) {
    w->E_tx = E_tx;
    w->N_rec = N_rec;
    w->commons_users = users;
    w->step = step;
  }
  return st;
}

int clhs_checkpoint_read(clhs_world *w, const char *path, clhs_error *err) {
  const clhs_comm *comm = w->comm;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  ckf f = {comm, path ? path : "", path ? path : "", -1, -1, CLHS_EINPUT};
  int st = CLHS_OK;
  if (!path || !path[0]) st = clhs_error_set(err, CLHS_EINPUT, "the checkpoint path is empty");
  st = agree(comm, st, err);
  if (!st) st = verify_file(comm, path, err);
  if (!st) {
    /* Independent metadata and transfers: a rank that meets a bad chunk reports it at
     * the next agreement instead of stopping inside a collective HDF5 call. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    MPI_Comm mc = *(const MPI_Comm *)clhs_comm_mpi_handle(comm);
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, mc, MPI_INFO_NULL) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot set up parallel HDF5 file access",
                        path);
    if (!st) {
      f.file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
      if (f.file < 0) {
        cant_open(path, err);
        st = err->code;
      }
    }
    clhs_h5_close(&fapl);
    if (!st) {
      f.dxpl = H5Pcreate(H5P_DATASET_XFER);
      if (f.dxpl < 0 || H5Pset_dxpl_mpio(f.dxpl, H5FD_MPIO_INDEPENDENT) < 0)
        st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot set up transfers", path);
    }
  }
  st = agree(comm, st, err);
  if (!st) st = agree(comm, check_header(&f, NULL, err), err);
  if (!st) {
    int64_t v[3] = {-1, -1, -1};
    static const char *const names[3] = {"nagents", "ncentres", "npatients"};
    const int64_t want[3] = {w->nagents, w->ncentres, w->npatients};
    for (int k = 0; k < 3 && !st; k++) {
      st = get_attr(&f, f.file, "/", names[k], H5T_NATIVE_INT64, &v[k], err);
      if (!st && v[k] != want[k])
        st = clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s' holds %lld %s, but its configuration builds %lld: "
                            "was the configuration changed?",
                            path, (long long)v[k], names[k] + 1, (long long)want[k]);
    }
    st = agree(comm, st, err);
  }
  if (!st) st = read_network(&f, w, err); /* first: the step places the fresh resources */
  if (!st) st = read_state(&f, w, err);
  if (!st) st = read_ties(&f, w, err);
  if (!st) st = read_resources(&f, w, err);
  if (!st) st = read_commons(&f, w, err);
  clhs_h5_close(&f.dxpl);
  if (f.file >= 0 && H5Fclose(f.file) < 0 && !st)
    st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot close", path);
  st = agree(comm, st, err);
  clhs_h5_quiet_off(&q);
  return st;
}
