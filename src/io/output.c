/*
 * The HDF5 output file (layout in docs/output.md).
 *
 * Every rank opens PATH.tmp with the MPI-IO driver; all metadata operations
 * (creating groups, datasets, attributes, dimension scales, extending
 * datasets) are collective and made by every rank in the same order with the
 * same values. Values that only one rank can know for sure (the clock, the
 * configuration text, the /run figures) are taken from rank 0 and broadcast
 * first, because an attribute written with different values on different
 * ranks is undefined in parallel HDF5.
 *
 * Records are buffered and written in batches of OUT_BATCH: each batch
 * extends every dataset (collective) and writes it with one collective
 * H5Dwrite, in which a rank with nothing to write selects nothing. The batch
 * is also the time chunk, so a batch normally fills exactly one chunk row.
 * Variables with a centre axis have a time axis of their own, `centre_time`
 * (output.centre_every: a subset of the records, or none: then neither they nor
 * `centre_time` nor `centre` are created), buffered and written in batches of
 * their own; each rank writes its block of centres (a hyperslab) in the
 * collective write, so nothing per centre passes through one rank. Their
 * chunks are compressed (shuffle + deflate), which parallel HDF5 1.10 allows
 * because every write here is collective.
 *
 * Errors: every HDF5 status is checked and turned into a clhs_error naming
 * the file and the object; HDF5's own stack printing is switched off while
 * we are inside this module and the most useful lines of its stack are
 * copied into our message instead. At the end of each public call the ranks
 * agree on the status (clhs_comm_agree), so every rank returns the same code
 * and message and the caller can take collective decisions.
 */
#define _POSIX_C_SOURCE 200809L

#include "clhs/output.h"
#include "clhs/fileutil.h"
#include "clhs/network.h"
#include "clhs/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>

#include "h5util.h"
#include <hdf5_hl.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs_build_info.h"

#define OUT_BATCH 64              /* records per collective write = time chunk length */
#define OUT_CHUNK_BYTES (1 << 20) /* target chunk size for centre-distributed variables */
#define OUT_MAX_AXES 32           /* distinct extra axes over all variables */
#define OUT_ATTR_MAX 60000        /* attribute payload limit: 64 KiB object-header messages */
#define OUT_CONVENTIONS "CF-1.9"  /* int64/uint64 variables (netCDF-4 types) need CF-1.9 */
/* The NAME of a dimension scale that netCDF reads as a dimension without a variable. */
#define OUT_PURE_DIM "This is a netCDF dimension but not a netCDF variable."

/* ------------------------------------------------------------------------ */
/* Types                                                                     */

/** An extra axis (coordinate dataset in /timeseries), shared by name. */
typedef struct out_axis {
  const char *name;
  int distributed;
  int64_t len;
  const char *const *labels;
  const char *long_name;
  hid_t dset;
  hid_t names;  /* the label variable <name>_name (labelled axes only), else -1 */
  hid_t strdim; /* its character axis <name>_strlen (the longest name), else -1 */
} out_axis;

/** The state of one time-series variable. */
typedef struct out_var {
  const clhs_out_var *v;
  hid_t dset;
  hid_t memtype;
  size_t esize;                        /* bytes per element */
  int rank;                            /* 1 + ndims */
  int caxis;                           /* extra-axis index of the distributed axis, or -1 */
  int axis[CLHS_OUT_MAXDIMS];          /* index into clhs_output.axes */
  hsize_t gdims[1 + CLHS_OUT_MAXDIMS]; /* global extent; gdims[0] = records written */
  hsize_t start[1 + CLHS_OUT_MAXDIMS]; /* this rank's block; start[0] set per write */
  hsize_t count[1 + CLHS_OUT_MAXDIMS]; /* count[0] set per write */
  size_t rec_elems;                    /* elements per record this rank writes (0: none) */
  int off;                             /* a per-centre variable with output.centre_every = 0 */
  unsigned char *buf;                  /* OUT_BATCH * rec_elems * esize */
} out_var;

struct clhs_output {
  clhs_comm comm;
  clhs_out_layout layout;
  char *path, *tmp;
  char run_id[24];  /* the run writing it ("" in unit tests): tags the temporary name */
  int dest_existed; /* rank 0: PATH existed at open (a regular file, with dest_dev/ino) */
  dev_t dest_dev;
  ino_t dest_ino;
  int created; /* PATH.RUNID.tmp exists (rank 0 removes it on failure) */
  int failed;  /* an agreed failure: only clhs_output_abandon() is useful now */
  hid_t file, ts, dxpl, time, ctime; /* ctime: centre_time, -1 without per-centre series */
  hid_t bnds, nv;                    /* time_bnds and its nv axis */
  int centres_on;                    /* output.centre_every > 0 */
  out_axis axes[OUT_MAX_AXES];
  int naxes;
  out_var *vars;
  int nvars;
  double tbuf[OUT_BATCH], ctbuf[OUT_BATCH]; /* times of the buffered records (ct: centre) */
  double bbuf[OUT_BATCH][2]; /* their time_bnds: the previous record's time and their own */
  double last_time;          /* the time of the last record appended (NAN before the first) */
  int nbuf, ncbuf;
  int64_t nwritten, nrecords, ncwritten, ncrecords;
};

/* ------------------------------------------------------------------------ */
/* HDF5 error handling                                                       */

/** Add @p text to the end of the recorded message (as far as it fits). */
static void append_msg(clhs_error *err, const char *text) {
  size_t n = strlen(err->msg);
  if (n + 1 < sizeof err->msg) snprintf(err->msg + n, sizeof err->msg - n, "%s", text);
}

/* ------------------------------------------------------------------------ */
/* What rank 0 packs (clhs_strbuf), for every rank                           */

/**
 * Broadcast rank 0's packed buffer to every rank. Takes over rank 0's buffer;
 * returns a buffer owned by the caller (NULL or of size 0 if rank 0's packing
 * ran out of memory) and sets *n.
 */
static char *bcast_packed(const clhs_comm *comm, clhs_strbuf *b, size_t *n) {
  size_t len = 0;
  char dummy = '\0';
  void *p = &dummy;
  if (comm->rank == 0) {
    if (!b->oom && b->p) {
      p = b->p;
      len = b->n;
    } else {
      free(b->p);
    }
    b->p = NULL;
  }
  p = clhs_comm_bcast_alloc(comm, p, &len, 0);
  if (p == &dummy) p = NULL;
  *n = len;
  return p;
}

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

static int attr_str(hid_t obj, const char *name, const char *val, const char *where,
                    clhs_error *err) {
  return clhs_h5_put_attr_str(obj, name, val, where, CLHS_EIO, err);
}

static int attr_f64(hid_t obj, const char *name, const double *v, hsize_t n, const char *where,
                    clhs_error *err) {
  return clhs_h5_put_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n, where, CLHS_EIO, err);
}

static int attr_i64(hid_t obj, const char *name, const int64_t *v, hsize_t n, const char *where,
                    clhs_error *err) {
  return clhs_h5_put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n, where, CLHS_EIO, err);
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                     */

/** The folder part of @p path ("." if none), malloc'd. */
static char *folder_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

/* Failures are CLHS_EINPUT: output.path is a setting the user has to change
 * (clhsim exits with status 2, like any other bad input). */
int clhs_output_check_path(const char *path, clhs_error *err) {
  struct stat sb;
  if (!path || !path[0])
    return clhs_error_set(err, CLHS_EINPUT,
                          "the output path is empty: set output.path (e.g. -P output.path=run.h5)");
  if (path[strlen(path) - 1] == '/' || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
    return clhs_error_set(err, CLHS_EINPUT,
                          "output path '%s' is a directory: give a file name inside it, e.g. "
                          "output.path=%s%sclhsim.h5",
                          path, path, path[strlen(path) - 1] == '/' ? "" : "/");
  char *dir = folder_of(path);
  if (!dir) return clhs_error_set(err, CLHS_ENOMEM, "out of memory checking '%s'", path);
  int st = CLHS_OK;
  if (stat(dir, &sb) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "cannot write output '%s': its folder '%s' does not exist (%s); create it "
                        "(mkdir -p '%s') or change output.path",
                        path, dir, strerror(errno), dir);
  else if (!S_ISDIR(sb.st_mode))
    st = clhs_error_set(err, CLHS_EINPUT,
                        "cannot write output '%s': '%s' is not a folder; change output.path", path,
                        dir);
  else if (access(dir, W_OK | X_OK) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "cannot write output '%s': folder '%s' is not writable (%s); choose "
                        "another output.path or fix the folder's permissions",
                        path, dir, strerror(errno));
  free(dir);
  return st;
}

/** Rank 0: rename the temporary file to PATH and make the rename durable. PATH must be what
 * it was when the output was opened (absent, or the same regular file): anything that
 * appeared there during the run is not ours to replace. */
static int publish(const clhs_output *o, clhs_error *err) {
  struct stat sb;
  const int exists = lstat(o->path, &sb) == 0;
  if (exists != o->dest_existed ||
      (exists && (!S_ISREG(sb.st_mode) || sb.st_dev != o->dest_dev || sb.st_ino != o->dest_ino)))
    return clhs_error_set(err, CLHS_EIO,
                          "'%s' %s while the run was writing its output, and clhsim does not "
                          "replace files it did not create: the complete output is kept in "
                          "'%s': move it yourself",
                          o->path, exists ? "was created or replaced" : "was removed", o->tmp);
  if (rename(o->tmp, o->path) != 0)
    return clhs_error_set(err, CLHS_EIO,
                          "cannot rename '%s' to '%s' (%s); the complete output is kept in '%s': "
                          "move it yourself",
                          o->tmp, o->path, strerror(errno), o->tmp);
  char *dir = folder_of(o->path);
  if (dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      /* Some file systems refuse fsync on a directory (EINVAL): the rename is done anyway. */
      (void)fsync(fd);
      close(fd);
    }
    free(dir);
  }
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */

/** Close every HDF5 object (same order on every rank) and the file. */
static int close_all(clhs_output *o, clhs_error *err) {
  int st = CLHS_OK;
  for (int v = 0; v < o->nvars; v++)
    clhs_h5_close(&o->vars[v].dset);
  for (int a = 0; a < o->naxes; a++) {
    clhs_h5_close(&o->axes[a].dset);
    clhs_h5_close(&o->axes[a].names);
    clhs_h5_close(&o->axes[a].strdim);
  }
  clhs_h5_close(&o->bnds);
  clhs_h5_close(&o->nv);
  clhs_h5_close(&o->time);
  clhs_h5_close(&o->ctime);
  clhs_h5_close(&o->ts);
  clhs_h5_close(&o->dxpl);
  if (o->file >= 0) {
    if (H5Fclose(o->file) < 0 && st == CLHS_OK)
      st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot close the file", o->tmp);
    o->file = -1;
  }
  return st;
}

static void free_output(clhs_output *o) {
  if (!o) return;
  if (o->tmp) clhs_h5_tmp_unregister(o->tmp);
  for (int v = 0; v < o->nvars; v++)
    free(o->vars[v].buf);
  free(o->vars);
  free(o->path);
  free(o->tmp);
  free(o);
}

/** Collective: close, remove PATH.tmp (rank 0), wait, free. */
static void destroy(clhs_output *o) {
  clhs_error ignore;
  clhs_error_clear(&ignore);
  if (o->created && o->file >= 0) {
    /* Abandoned: empty the file first, so that closing it (HDF5 writes its metadata then)
     * cannot fail for want of space, which would leave HDF5 a file it crashes on later. */
    clhs_comm_barrier(&o->comm);
    if (o->comm.rank == 0 && truncate(o->tmp, 0) != 0) { /* nothing more to do */
    }
    clhs_comm_barrier(&o->comm);
  }
  close_all(o, &ignore);
  if (o->comm.rank == 0 && o->created && o->tmp) remove(o->tmp);
  clhs_comm_barrier(&o->comm);
  free_output(o);
}

/** Check the variables and collect their axes (same result on every rank). */
static int validate(clhs_output *o, const clhs_out_var *vars, int nvars, clhs_error *err) {
  const char *p = o->path;
  if (nvars < 0 || (nvars > 0 && !vars))
    return clhs_error_set(err, CLHS_EINPUT, "output '%s': no variables given (nvars=%d)", p, nvars);
  int need_centres = 0;
  for (int v = 0; v < nvars; v++) {
    const clhs_out_var *var = &vars[v];
    if (!var->name || !var->name[0] || strchr(var->name, '/'))
      return clhs_error_set(err, CLHS_EINPUT, "output '%s': variable %d has no valid name", p, v);
    if (strcmp(var->name, "time") == 0)
      return clhs_error_set(err, CLHS_EINPUT,
                            "output '%s': 'time' is reserved for the time coordinate", p);
    for (int w = 0; w < v; w++)
      if (strcmp(vars[w].name, var->name) == 0)
        return clhs_error_set(err, CLHS_EINPUT, "output '%s': variable '%s' is declared twice", p,
                              var->name);
    if (clhs_h5_dtype_size(var->dtype) == 0)
      return clhs_error_set(err, CLHS_EINPUT, "output '%s': variable '%s' has unknown dtype %d", p,
                            var->name, var->dtype);
    if (var->ndims < 0 || var->ndims > CLHS_OUT_MAXDIMS)
      return clhs_error_set(err, CLHS_EINPUT,
                            "output '%s': variable '%s' has %d extra axes (0..%d allowed)", p,
                            var->name, var->ndims, CLHS_OUT_MAXDIMS);
    int ndist = 0;
    for (int k = 0; k < var->ndims; k++) {
      const clhs_out_dim *dm = &var->dims[k];
      if (!dm->name || !dm->name[0] || strchr(dm->name, '/') || strcmp(dm->name, "time") == 0)
        return clhs_error_set(err, CLHS_EINPUT,
                              "output '%s': axis %d of variable '%s' has no valid name", p, k,
                              var->name);
      if (dm->distributed) {
        ndist++;
        need_centres = 1;
      }
      if (!dm->distributed && dm->len < 1)
        return clhs_error_set(err, CLHS_EINPUT,
                              "output '%s': axis '%s' of variable '%s' has length %lld (>= 1 "
                              "needed)",
                              p, dm->name, var->name, (long long)dm->len);
      int found = -1;
      for (int a = 0; a < o->naxes; a++)
        if (strcmp(o->axes[a].name, dm->name) == 0) found = a;
      if (found >= 0) {
        const out_axis *ax = &o->axes[found];
        if (ax->distributed != (dm->distributed != 0) || (!ax->distributed && ax->len != dm->len))
          return clhs_error_set(err, CLHS_EINPUT,
                                "output '%s': axis '%s' of variable '%s' differs from its earlier "
                                "declaration (length or distribution)",
                                p, dm->name, var->name);
        if (dm->labels && ax->labels)
          for (int64_t j = 0; j < ax->len; j++)
            if (strcmp(dm->labels[j], ax->labels[j]) != 0)
              return clhs_error_set(err, CLHS_EINPUT,
                                    "output '%s': axis '%s' has different labels in variable '%s'",
                                    p, dm->name, var->name);
        if (!ax->labels && dm->labels) o->axes[found].labels = dm->labels;
        if (!ax->long_name) o->axes[found].long_name = dm->long_name;
      } else {
        if (o->naxes == OUT_MAX_AXES)
          return clhs_error_set(err, CLHS_EINPUT, "output '%s': more than %d distinct axes", p,
                                OUT_MAX_AXES);
        for (int w = 0; w < nvars; w++)
          if (strcmp(vars[w].name, dm->name) == 0)
            return clhs_error_set(err, CLHS_EINPUT,
                                  "output '%s': axis '%s' has the name of a variable", p, dm->name);
        out_axis *ax = &o->axes[o->naxes++];
        ax->name = dm->name;
        ax->distributed = dm->distributed != 0;
        ax->len = dm->distributed ? o->layout.ncentres : dm->len;
        ax->labels = dm->distributed ? NULL : dm->labels;
        ax->long_name = dm->long_name;
        ax->dset = -1;
        ax->names = ax->strdim = -1;
      }
      if (dm->labels && !dm->distributed)
        for (int64_t j = 0; j < dm->len; j++)
          if (!dm->labels[j])
            return clhs_error_set(err, CLHS_EINPUT, "output '%s': label %lld of axis '%s' is NULL",
                                  p, (long long)j, dm->name);
    }
    if (ndist > 1)
      return clhs_error_set(err, CLHS_EINPUT,
                            "output '%s': variable '%s' has %d distributed axes (at most 1)", p,
                            var->name, ndist);
  }
  const clhs_out_layout *l = &o->layout;
  if (need_centres && l->ncentres < 1)
    return clhs_error_set(err, CLHS_EINPUT,
                          "output '%s': centre-distributed variables need ncentres >= 1 (got %lld)",
                          p, (long long)l->ncentres);
  if (l->ncentres < 0 || l->centre_begin < 0 || l->centre_count < 0 ||
      l->centre_begin + l->centre_count > l->ncentres)
    return clhs_error_set(err, CLHS_EINPUT,
                          "output '%s': rank %d owns centres [%lld, %lld) outside [0, %lld)", p,
                          o->comm.rank, (long long)l->centre_begin,
                          (long long)(l->centre_begin + l->centre_count), (long long)l->ncentres);
  return CLHS_OK;
}

/** Collective: the ranks' centre blocks must tile [0, ncentres) in rank order. */
static int check_tiling(clhs_output *o, clhs_error *err) {
  int64_t mine[2] = {o->layout.centre_begin, o->layout.centre_count};
  int64_t *all = malloc(sizeof(int64_t) * 2 * (size_t)o->comm.size);
  /* Failing alone here would leave the other ranks waiting in the gather. */
  if (!all) clhs_comm_abort(&o->comm, 1, "out of memory checking the output's centre layout");
  clhs_comm_allgatherv(&o->comm, mine, 1, sizeof mine, all);
  int st = CLHS_OK;
  int64_t next = 0;
  for (int r = 0; r < o->comm.size && st == CLHS_OK; r++) {
    if (all[2 * r + 1] > 0 && all[2 * r] != next)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output '%s': the centre blocks do not tile 0..%lld in rank order (rank "
                          "%d starts at %lld, expected %lld)",
                          o->path, (long long)o->layout.ncentres, r, (long long)all[2 * r],
                          (long long)next);
    next += all[2 * r + 1];
  }
  if (st == CLHS_OK && next != o->layout.ncentres)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "output '%s': the ranks own %lld centres in all, but ncentres is %lld",
                        o->path, (long long)next, (long long)o->layout.ncentres);
  free(all);
  return st;
}

/**
 * Collective: extend @p dset to @p newdims (unless NULL) and write this rank's
 * block [start, start+count) (@p active; start NULL: the whole dataset) or
 * nothing, with one collective H5Dwrite. @p name is the dataset's path.
 */
static int write_block(clhs_output *o, hid_t dset, const char *name, int rank,
                       const hsize_t *newdims, const hsize_t *start, const hsize_t *count,
                       int active, hid_t memtype, const void *buf, clhs_error *err) {
  hid_t fs = -1, ms = -1;
  herr_t st = 0;
  const char *step = "extend";
  /* Fault injection for the tests: CLHS_FAULT_IO="RANK:N" makes that rank's N-th block
   * write fail without entering HDF5, while the other ranks wait inside the collective
   * call (what a disk that fills during a write does): the job must end, not hang. */
  static long calls = 0;
  const char *fault = getenv("CLHS_FAULT_IO");
  int frank = -1;
  long fn = -1;
  calls++;
  if (fault && sscanf(fault, "%d:%ld", &frank, &fn) == 2 && frank == o->comm.rank && fn == calls)
    return clhs_error_set(err, CLHS_EIO,
                          "output '%s': write of %s failed (injected by "
                          "CLHS_FAULT_IO=%s)",
                          o->tmp, name, fault);
  if (newdims && H5Dset_extent(dset, newdims) < 0) st = -1;
  if (st >= 0) {
    step = "select";
    fs = H5Dget_space(dset);
    if (fs < 0) st = -1;
  }
  static const char dummy[8] = {0};
  if (st >= 0 && active && !start) { /* the whole (e.g. scalar) dataset */
    if (H5Sselect_all(fs) < 0 || (ms = H5Scopy(fs)) < 0) st = -1;
  } else if (st >= 0 && active) {
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0) st = -1;
    if (st >= 0 && (ms = H5Screate_simple(rank, count, NULL)) < 0) st = -1;
  } else if (st >= 0) {
    hsize_t one = 1;
    buf = dummy;
    if (H5Sselect_none(fs) < 0) st = -1;
    if (st >= 0 && (ms = H5Screate_simple(1, &one, NULL)) < 0) st = -1;
    if (st >= 0 && H5Sselect_none(ms) < 0) st = -1;
  }
  if (st >= 0) {
    step = "write";
    st = H5Dwrite(dset, memtype, ms, fs, o->dxpl, buf);
  }
  clhs_h5_close(&ms);
  clhs_h5_close(&fs);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot %s dataset %s%s", o->tmp, step, name,
                        newdims ? " (appending records)" : "");
  return CLHS_OK;
}

/** Collective: write the buffered records. */
/* Rank 0: is there room for a batch (a whole chunk row of every variable, with room for
 * the metadata)? */
static int check_batch_space(const clhs_output *o, clhs_error *err) {
  uint64_t bytes = OUT_BATCH * sizeof(double);
  for (int v = 0; v < o->nvars; v++) {
    uint64_t rec = o->vars[v].esize;
    for (int d = 1; d < o->vars[v].rank; d++)
      rec *= (uint64_t)o->vars[v].gdims[d];
    bytes += OUT_BATCH * rec;
  }
  return clhs_check_space(o->tmp, bytes + bytes / 8 + (1u << 20), "the output", err);
}

/* Collective: every variable's block of the batch (@p force: also a part-filled one; else
 * only a full batch of the network-wide or of the per-centre records); the ranks agree after
 * each write (and before the first, on the free space), so none enters a collective call
 * alone. */
static int write_batch(clhs_output *o, int force, clhs_error *err) {
  const int main = o->nbuf > 0 && (force || o->nbuf == OUT_BATCH);
  const int cent = o->ncbuf > 0 && (force || o->ncbuf == OUT_BATCH);
  if (!main && !cent) return CLHS_OK;
  hsize_t n = (hsize_t)o->nbuf, off = (hsize_t)o->nwritten, newlen = off + n;
  hsize_t cn = (hsize_t)o->ncbuf, coff = (hsize_t)o->ncwritten, cnewlen = coff + cn;
  int st = o->comm.rank == 0 ? check_batch_space(o, err) : CLHS_OK;
  st = clhs_h5_agree(&o->comm, st, err);
  if (st == CLHS_OK && main)
    st = write_block(o, o->time, "/timeseries/time", 1, &newlen, &off, &n, o->comm.rank == 0,
                     H5T_NATIVE_DOUBLE, o->tbuf, err);
  st = clhs_h5_agree(&o->comm, st, err);
  if (st == CLHS_OK && main) {
    hsize_t bdims[2] = {newlen, 2}, bstart[2] = {off, 0}, bcount[2] = {n, 2};
    st = write_block(o, o->bnds, "/timeseries/time_bnds", 2, bdims, bstart, bcount,
                     o->comm.rank == 0, H5T_NATIVE_DOUBLE, o->bbuf, err);
  }
  st = clhs_h5_agree(&o->comm, st, err);
  if (st == CLHS_OK && cent)
    st = write_block(o, o->ctime, "/timeseries/centre_time", 1, &cnewlen, &coff, &cn,
                     o->comm.rank == 0, H5T_NATIVE_DOUBLE, o->ctbuf, err);
  st = clhs_h5_agree(&o->comm, st, err);
  for (int v = 0; v < o->nvars && st == CLHS_OK; v++) {
    out_var *ov = &o->vars[v];
    const int c = ov->caxis >= 0;
    if (ov->off || !(c ? cent : main)) continue;
    ov->gdims[0] = c ? cnewlen : newlen;
    ov->start[0] = c ? coff : off;
    ov->count[0] = c ? cn : n;
    char where[300];
    snprintf(where, sizeof where, "/timeseries/%s", ov->v->name);
    st = write_block(o, ov->dset, where, ov->rank, ov->gdims, ov->start, ov->count,
                     ov->rec_elems > 0, ov->memtype, ov->buf, err);
    st = clhs_h5_agree(&o->comm, st, err);
  }
  if (st == CLHS_OK && main) {
    o->nwritten = (int64_t)newlen;
    o->nbuf = 0;
  }
  if (st == CLHS_OK && cent) {
    o->ncwritten = (int64_t)cnewlen;
    o->ncbuf = 0;
  }
  return st;
}

/** Create a dataset in /timeseries from a ready dataspace and creation list. */
static hid_t make_dset(clhs_output *o, const char *name, hid_t ftype, hid_t space, hid_t dcpl,
                       clhs_error *err) {
  hid_t d = H5Dcreate2(o->ts, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0)
    clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create dataset /timeseries/%s", o->tmp, name);
  return d;
}

/* A time coordinate: `time` (every record) or `centre_time` (the per-centre records). */
static int make_time(clhs_output *o, const clhs_config *cfg, const char *name, hid_t *dset,
                     const char *long_name, clhs_error *err) {
  char units[64], where[64];
  if (!cfg->run.start_date[0])
    return clhs_error_set(err, CLHS_EINPUT, "output '%s': run.start_date is empty", o->path);
  snprintf(units, sizeof units, "days since %s", cfg->run.start_date);
  snprintf(where, sizeof where, "/timeseries/%s", name);
  hsize_t dims = 0, maxd = H5S_UNLIMITED, chunk = OUT_BATCH;
  hid_t s = H5Screate_simple(1, &dims, &maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  int st = CLHS_OK;
  if (s < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot prepare the time coordinate", o->tmp);
  if (st == CLHS_OK && (*dset = make_dset(o, name, H5T_IEEE_F64LE, s, dcpl, err)) < 0)
    st = CLHS_EIO;
  clhs_h5_close(&s);
  clhs_h5_close(&dcpl);
  if (st == CLHS_OK) st = attr_str(*dset, "units", units, where, err);
  if (st == CLHS_OK) st = attr_str(*dset, "long_name", long_name, where, err);
  if (st == CLHS_OK) st = attr_str(*dset, "standard_name", "time", where, err);
  if (st == CLHS_OK) st = attr_str(*dset, "calendar", "proleptic_gregorian", where, err);
  if (st == CLHS_OK && *dset == o->time) st = attr_str(*dset, "axis", "T", where, err);
  if (st == CLHS_OK && *dset == o->time) st = attr_str(*dset, "bounds", "time_bnds", where, err);
  if (st == CLHS_OK && H5DSset_scale(*dset, name) < 0)
    st =
        clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot make %s a dimension scale", o->tmp, where);
  return st;
}

/**
 * A netCDF dimension without a variable (`nv`, the label variables' character axis): a
 * dimension scale whose NAME netCDF-C and h5netcdf read as "no coordinate variable". It holds
 * no data.
 */
static int make_pure_dim(clhs_output *o, const char *name, hsize_t len, hid_t *dset,
                         clhs_error *err) {
  char where[64], scale[128];
  snprintf(where, sizeof where, "/timeseries/%s", name);
  snprintf(scale, sizeof scale, "%s%10llu", OUT_PURE_DIM, (unsigned long long)len);
  hid_t s = H5Screate_simple(1, &len, NULL);
  int st = CLHS_OK;
  if (s < 0 || (*dset = make_dset(o, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, err)) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create dimension %s", o->tmp, where);
  clhs_h5_close(&s);
  if (st == CLHS_OK && H5DSset_scale(*dset, scale) < 0)
    st =
        clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot make %s a dimension scale", o->tmp, where);
  return st;
}

/**
 * `time_bnds (time, nv)`, CF cell boundaries of `time`: record k covers (time[k-1], time[k]],
 * the interval over which the counters marked `cell_methods = "time: sum"` count events; the
 * first record, the state at its own time, the empty interval [time[0], time[0]].
 */
static int make_bounds(clhs_output *o, clhs_error *err) {
  int st = make_pure_dim(o, "nv", 2, &o->nv, err);
  hsize_t dims[2] = {0, 2}, maxd[2] = {H5S_UNLIMITED, 2}, chunk[2] = {OUT_BATCH, 2};
  hid_t s = -1, dcpl = -1;
  if (st == CLHS_OK) {
    s = H5Screate_simple(2, dims, maxd);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (s < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 2, chunk) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot prepare /timeseries/time_bnds", o->tmp);
  }
  if (st == CLHS_OK && (o->bnds = make_dset(o, "time_bnds", H5T_IEEE_F64LE, s, dcpl, err)) < 0)
    st = CLHS_EIO;
  clhs_h5_close(&s);
  clhs_h5_close(&dcpl);
  if (st == CLHS_OK &&
      (H5DSattach_scale(o->bnds, o->time, 0) < 0 || H5DSattach_scale(o->bnds, o->nv, 1) < 0))
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot attach the axes of time_bnds", o->tmp);
  return st;
}

/**
 * The CF label variable of a labelled axis, `<axis>_name (<axis>, <axis>_strlen)`: its names
 * as a character array (netCDF's NC_CHAR, which every reader takes; an array of fixed-length
 * strings would crash netCDF-C 4.9.0, below). Named in the `coordinates` of the variables on
 * the axis, so xarray shows it as a coordinate. The character axis is the axis's own, as long
 * as its longest name: xarray writes the names back (to_netcdf) that way.
 */
static int make_labels(clhs_output *o, out_axis *ax, clhs_error *err) {
  char name[128], where[160], ln[160];
  size_t longest = 1;
  for (int64_t j = 0; j < ax->len; j++)
    if (strlen(ax->labels[j]) > longest) longest = strlen(ax->labels[j]);
  snprintf(name, sizeof name, "%s_strlen", ax->name);
  int st = make_pure_dim(o, name, (hsize_t)longest, &ax->strdim, err);
  if (st != CLHS_OK) return st;
  snprintf(name, sizeof name, "%s_name", ax->name);
  snprintf(where, sizeof where, "/timeseries/%s", name);
  hsize_t dims[2] = {(hsize_t)ax->len, (hsize_t)longest};
  hid_t s = H5Screate_simple(2, dims, NULL), t = clhs_h5_str_type(1);
  if (s < 0 || t < 0 || (ax->names = make_dset(o, name, t, s, H5P_DEFAULT, err)) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create %s", o->tmp, where);
  clhs_h5_close(&s);
  char *buf = st == CLHS_OK ? calloc((size_t)(dims[0] * dims[1]) + 1, 1) : NULL;
  if (st == CLHS_OK && !buf) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for %s", where);
  for (int64_t j = 0; buf && j < ax->len; j++)
    for (size_t c = 0; ax->labels[j][c] && c < dims[1]; c++) /* blanks as in flag_meanings */
      buf[(size_t)j * dims[1] + c] =
          ax->labels[j][c] == ' ' || ax->labels[j][c] == '\t' ? '_' : ax->labels[j][c];
  if (st == CLHS_OK)
    st = write_block(o, ax->names, where, 2, NULL, NULL, NULL, o->comm.rank == 0, t, buf, err);
  free(buf);
  clhs_h5_close(&t);
  snprintf(ln, sizeof ln, "%s (name)", ax->long_name ? ax->long_name : ax->name);
  if (st == CLHS_OK) st = attr_str(ax->names, "long_name", ln, where, err);
  /* xarray then decodes the characters to str, not bytes */
  if (st == CLHS_OK) st = attr_str(ax->names, "_Encoding", "utf-8", where, err);
  if (st == CLHS_OK && (H5DSattach_scale(ax->names, ax->dset, 0) < 0 ||
                        H5DSattach_scale(ax->names, ax->strdim, 1) < 0))
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot attach the axes of %s", o->tmp, where);
  return st;
}

/**
 * The coordinate dataset of an extra axis: int64 indices (centre numbers, or
 * 0..len-1). Labels go into CF `flag_values` / `flag_meanings` attributes, not
 * into a string coordinate: netCDF-C 4.9.0 (Debian bookworm, under
 * xarray's netcdf4 engine) crashes reading an HDF5 array of fixed-length
 * strings (Unidata/netcdf-c#2159, fixed in 4.9.1), and variable-length strings
 * cannot be written by parallel HDF5.
 */
static int make_axis(clhs_output *o, out_axis *ax, clhs_error *err) {
  char where[256];
  snprintf(where, sizeof where, "/timeseries/%s", ax->name);
  hsize_t len = (hsize_t)ax->len;
  hid_t s = H5Screate_simple(1, &len, NULL);
  int st = CLHS_OK;
  if (s < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot prepare coordinate %s", o->tmp, where);
  if (st == CLHS_OK && (ax->dset = make_dset(o, ax->name, H5T_STD_I64LE, s, H5P_DEFAULT, err)) < 0)
    st = CLHS_EIO;
  clhs_h5_close(&s);
  hsize_t start = 0, count = len;
  int active = o->comm.rank == 0;
  if (ax->distributed) {
    start = (hsize_t)o->layout.centre_begin;
    count = (hsize_t)o->layout.centre_count;
    active = count > 0;
  }
  /* Indices 0..len-1 on every rank: they are also the flag values. */
  int64_t *idx = malloc(sizeof(int64_t) * (len > count ? len : count) + 1);
  if (!idx) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for %s", where);
  for (hsize_t j = 0; idx && j < count; j++)
    idx[j] = (int64_t)(start + j);
  if (st == CLHS_OK)
    st = write_block(o, ax->dset, where, 1, NULL, &start, &count, active, H5T_NATIVE_INT64, idx,
                     err);
  if (st == CLHS_OK) {
    const char *ln = ax->long_name;
    char deflt[256];
    if (!ln) {
      snprintf(deflt, sizeof deflt, "%s index", ax->name);
      ln = deflt;
    }
    st = attr_str(ax->dset, "long_name", ln, where, err);
  }
  if (st == CLHS_OK && ax->labels) {
    size_t total = 1;
    for (int64_t j = 0; j < ax->len; j++)
      total += strlen(ax->labels[j]) + 1;
    char *m = malloc(total);
    if (!m) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for the labels of %s", where);
    size_t pos = 0;
    for (int64_t j = 0; m && j < ax->len; j++) {
      if (j > 0) m[pos++] = ' ';
      /* flag_meanings is a blank-separated list: blanks inside a label become '_'. */
      for (const char *c = ax->labels[j]; *c; c++)
        m[pos++] = (*c == ' ' || *c == '\t') ? '_' : *c;
    }
    if (m) m[pos] = '\0';
    for (hsize_t j = 0; idx && j < len; j++)
      idx[j] = (int64_t)j;
    if (st == CLHS_OK) st = attr_i64(ax->dset, "flag_values", idx, len, where, err);
    if (st == CLHS_OK) st = attr_str(ax->dset, "flag_meanings", m, where, err);
    free(m);
  }
  free(idx);
  if (st == CLHS_OK && H5DSset_scale(ax->dset, ax->name) < 0)
    st =
        clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot make %s a dimension scale", o->tmp, where);
  if (st == CLHS_OK && ax->labels) st = make_labels(o, ax, err);
  return st;
}

static int make_var(clhs_output *o, out_var *ov, clhs_error *err) {
  const clhs_out_var *v = ov->v;
  char where[256];
  snprintf(where, sizeof where, "/timeseries/%s", v->name);
  hsize_t dims[1 + CLHS_OUT_MAXDIMS], maxd[1 + CLHS_OUT_MAXDIMS], chunk[1 + CLHS_OUT_MAXDIMS];
  dims[0] = 0;
  maxd[0] = H5S_UNLIMITED;
  chunk[0] = OUT_BATCH;
  size_t other = ov->esize * OUT_BATCH; /* bytes of a chunk without the distributed axis */
  for (int k = 0; k < v->ndims; k++) {
    const out_axis *ax = &o->axes[ov->axis[k]];
    dims[k + 1] = maxd[k + 1] = chunk[k + 1] = (hsize_t)ax->len;
    if (!ax->distributed) other *= (size_t)ax->len;
  }
  if (ov->caxis >= 0) {
    hsize_t c = (hsize_t)(OUT_CHUNK_BYTES / (other ? other : 1));
    if (c < 1) c = 1;
    if (c < chunk[ov->caxis + 1]) chunk[ov->caxis + 1] = c;
  }
  hid_t s = H5Screate_simple(ov->rank, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  int st = CLHS_OK;
  const double fillnan = NAN;
  if (s < 0 || dcpl < 0 || H5Pset_chunk(dcpl, ov->rank, chunk) < 0 ||
      (v->dtype == CLHS_F64 && H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &fillnan) < 0) ||
      (ov->caxis >= 0 && (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, 1) < 0)))
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot prepare dataset %s", o->tmp, where);
  if (st == CLHS_OK &&
      (ov->dset = make_dset(o, v->name, clhs_h5_file_type(v->dtype), s, dcpl, err)) < 0)
    st = CLHS_EIO;
  clhs_h5_close(&s);
  clhs_h5_close(&dcpl);
  if (st == CLHS_OK) st = attr_str(ov->dset, "units", v->units ? v->units : "1", where, err);
  if (st == CLHS_OK)
    st = attr_str(ov->dset, "long_name", v->long_name ? v->long_name : v->name, where, err);
  if (st == CLHS_OK && v->comment) st = attr_str(ov->dset, "comment", v->comment, where, err);
  if (st == CLHS_OK && v->interval_sum)
    st = attr_str(ov->dset, "cell_methods", "time: sum", where, err);
  if (st == CLHS_OK && v->dtype == CLHS_F64)
    st = attr_f64(ov->dset, "_FillValue", &fillnan, 1, where, err);
  char coords[512] = ""; /* the label variables of its labelled axes */
  for (int k = 0; k < v->ndims; k++) {
    const out_axis *ax = &o->axes[ov->axis[k]];
    size_t n = strlen(coords);
    if (ax->names >= 0)
      snprintf(coords + n, sizeof coords - n, "%s%s_name", n ? " " : "", ax->name);
  }
  if (st == CLHS_OK && coords[0]) st = attr_str(ov->dset, "coordinates", coords, where, err);
  if (st == CLHS_OK && H5DSattach_scale(ov->dset, ov->caxis >= 0 ? o->ctime : o->time, 0) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot attach the time axis to %s", o->tmp,
                      where);
  for (int k = 0; k < v->ndims && st == CLHS_OK; k++)
    if (H5DSattach_scale(ov->dset, o->axes[ov->axis[k]].dset, (unsigned)(k + 1)) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot attach axis '%s' to %s", o->tmp,
                        v->dims[k].name, where);
  return st;
}

/** Set up the in-memory state of the variables (no HDF5). */
static int prepare_vars(clhs_output *o, const clhs_out_var *vars, clhs_error *err) {
  for (int v = 0; v < o->nvars; v++) {
    out_var *ov = &o->vars[v];
    ov->v = &vars[v];
    ov->dset = -1;
    ov->esize = clhs_h5_dtype_size(vars[v].dtype);
    ov->memtype = clhs_h5_mem_type(vars[v].dtype);
    ov->rank = 1 + vars[v].ndims;
    ov->caxis = -1;
    size_t elems = 1;
    for (int k = 0; k < vars[v].ndims; k++) {
      for (int a = 0; a < o->naxes; a++)
        if (strcmp(o->axes[a].name, vars[v].dims[k].name) == 0) ov->axis[k] = a;
      const out_axis *ax = &o->axes[ov->axis[k]];
      ov->gdims[k + 1] = (hsize_t)ax->len;
      ov->start[k + 1] = 0;
      ov->count[k + 1] = (hsize_t)ax->len;
      if (ax->distributed) {
        ov->caxis = k;
        ov->start[k + 1] = (hsize_t)o->layout.centre_begin;
        ov->count[k + 1] = (hsize_t)o->layout.centre_count;
      }
      elems *= (size_t)ov->count[k + 1];
    }
    ov->off = ov->caxis >= 0 && !o->centres_on;
    int writes = ov->off ? 0 : ov->caxis >= 0 ? 1 : o->comm.rank == 0;
    ov->rec_elems = writes ? elems : 0;
    if (ov->rec_elems > 0) {
      ov->buf = malloc(OUT_BATCH * ov->rec_elems * ov->esize);
      if (!ov->buf)
        return clhs_error_set(err, CLHS_ENOMEM,
                              "out of memory buffering output variable '%s' (%zu bytes)",
                              vars[v].name, OUT_BATCH * ov->rec_elems * ov->esize);
    }
  }
  return CLHS_OK;
}

typedef struct param_sink {
  hid_t group;
  clhs_error *err;
} param_sink;

/** One /parameters attribute in the key's declared type: numbers and numeric lists as numbers
 * (a one-element list as a scalar, an empty one as an empty attribute), the rest as text. Text
 * too long for an attribute (a list too) is cut short with a note: the full text is in `yaml`. */
static int put_parameter(const clhs_config_value *v, void *user) {
  const param_sink *ps = user;
  const hid_t g = ps->group;
  const char *where = "/parameters";
  switch (v->kind) {
  case 'i': return attr_i64(g, v->key, v->i, 1, where, ps->err);
  case 'u':
    return clhs_h5_put_attr(g, v->key, H5T_STD_U64LE, H5T_NATIVE_UINT64, v->u, 1, where, CLHS_EIO,
                            ps->err);
  case 'd': return attr_f64(g, v->key, v->d, 1, where, ps->err);
  case 'D':
    if (v->n * sizeof(double) <= OUT_ATTR_MAX)
      return attr_f64(g, v->key, v->d, (hsize_t)v->n, where, ps->err);
    break;
  case 'I':
    if (v->n * sizeof(int64_t) <= OUT_ATTR_MAX)
      return attr_i64(g, v->key, v->i, (hsize_t)v->n, where, ps->err);
    break;
  default: break;
  }
  if (strlen(v->text) <= OUT_ATTR_MAX) return attr_str(g, v->key, v->text, where, ps->err);
  char *cut = malloc(OUT_ATTR_MAX + 64);
  if (!cut)
    return clhs_error_set(ps->err, CLHS_ENOMEM, "%s: out of memory for '%s'", where, v->key);
  snprintf(cut, OUT_ATTR_MAX + 64, "%.*s ... (cut short; the full value is in attribute yaml)",
           OUT_ATTR_MAX - 100, v->text);
  int st = attr_str(g, v->key, cut, where, ps->err);
  free(cut);
  return st;
}

/** /parameters: the configuration's YAML and one attribute per key, written by every rank
 * from its own copy of the configuration (the same bytes everywhere: rank 0's, unpacked). */
static int write_parameters(clhs_output *o, hid_t file, const clhs_config *cfg, clhs_error *err) {
  char *yaml = clhs_config_to_yaml(cfg, 0);
  int st = yaml ? CLHS_OK
                : clhs_error_set(err, CLHS_ENOMEM,
                                 "output '%s': could not render the configuration for /parameters",
                                 o->path);
  st = clhs_h5_agree(&o->comm, st, err);
  if (st != CLHS_OK) {
    free(yaml);
    return st;
  }
  hid_t g = H5Gcreate2(file, "parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create group /parameters", o->tmp);
  if (st == CLHS_OK && strlen(yaml) <= OUT_ATTR_MAX) {
    st = attr_str(g, "yaml", yaml, "/parameters", err);
  } else if (st == CLHS_OK) {
    /* Too long for an attribute in the HDF5-1.8 format: a scalar string dataset. */
    hid_t t = clhs_h5_str_type(strlen(yaml)), s = H5Screate(H5S_SCALAR), d = -1;
    if (t >= 0 && s >= 0) d = H5Dcreate2(g, "yaml", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create dataset /parameters/yaml",
                        o->tmp);
    else
      st = write_block(o, d, "/parameters/yaml", 0, NULL, NULL, NULL, o->comm.rank == 0, t, yaml,
                       err);
    clhs_h5_close(&d);
    clhs_h5_close(&s);
    clhs_h5_close(&t);
  }
  param_sink ps = {g, err};
  if (st == CLHS_OK) st = clhs_config_foreach_typed(cfg, put_parameter, &ps);
  clhs_h5_close(&g);
  free(yaml);
  return st;
}

static int write_code(clhs_output *o, hid_t file, clhs_error *err) {
  char mpi[512] = "", hdf5[64];
  if (o->comm.rank == 0) clhs_comm_mpi_version(mpi, sizeof mpi);
  clhs_comm_bcast(&o->comm, mpi, sizeof mpi, 0);
  mpi[sizeof mpi - 1] = '\0';
  clhs_io_hdf5_version(hdf5, sizeof hdf5);
  static const char *const keys[] = {"version",      "git_revision",  "build_type",
                                     "compiler",     "compile_flags", "mpi_version",
                                     "hdf5_version", "model_version", "model_notes"};
  const char *vals[] = {CLHS_VERSION,  CLHS_GIT_REVISION,  CLHS_BUILD_TYPE,
                        CLHS_COMPILER, CLHS_COMPILE_FLAGS, mpi,
                        hdf5,          CLHS_MODEL_VERSION, CLHS_MODEL_NOTES};
  int st = CLHS_OK;
  hid_t g = H5Gcreate2(file, "code", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create group /code", o->tmp);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0] && st == CLHS_OK; i++) {
    char v[1024]; /* trimmed: CMake's flags often start with a blank */
    const char *t = vals[i];
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
      t++;
    snprintf(v, sizeof v, "%s", t);
    for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\n'); n--)
      v[n - 1] = '\0';
    st = attr_str(g, keys[i], v, "/code", err);
  }
  clhs_h5_close(&g);
  return st;
}

/** Global attributes, on / and on /timeseries (xarray shows a group's own). The time of
 * writing (`date_created`, `history`) only on /: /timeseries of two identical runs is then
 * identical, attributes included (h5diff). */
static int write_global_attrs(clhs_output *o, hid_t obj, const char *where, const char *created,
                              clhs_error *err) {
  char history[256], source[128];
  snprintf(history, sizeof history, "%s: created by clhsim %s (git %s)", created, CLHS_VERSION,
           CLHS_GIT_REVISION);
  snprintf(source, sizeof source, "clhsim %s", CLHS_VERSION);
  int st = attr_str(obj, "title", "clhsim output", where, err);
  /* The run that wrote the file: a later run replaces it only if it is the same run. */
  if (st == CLHS_OK && o->run_id[0] && !strcmp(where, "/"))
    st = attr_str(obj, "run_id", o->run_id, where, err);
  if (st == CLHS_OK) st = attr_str(obj, "Conventions", OUT_CONVENTIONS, where, err);
  if (st == CLHS_OK) st = attr_str(obj, "source", source, where, err);
  if (st == CLHS_OK && !strcmp(where, "/")) st = attr_str(obj, "history", history, where, err);
  if (st == CLHS_OK && !strcmp(where, "/")) st = attr_str(obj, "date_created", created, where, err);
  return st;
}

static int open_body(clhs_output *o, const clhs_config *cfg, clhs_error *err) {
  /* File access: MPI-IO, collective metadata, HDF5-1.8-readable format. */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  MPI_Comm mc = *(const MPI_Comm *)clhs_comm_mpi_handle(&o->comm);
  int st = CLHS_OK;
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, mc, MPI_INFO_NULL) < 0 ||
      H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0 ||
      H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18) < 0)
    st =
        clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot set up parallel HDF5 file access", o->tmp);
  if (st == CLHS_OK && o->comm.rank == 0)
    st = clhs_check_space(o->tmp, 1u << 20, "the output", err);
  st = clhs_h5_agree(&o->comm, st, err);
  if (st == CLHS_OK) {
    clhs_h5_tmp_register(o->tmp);
    o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (o->file < 0) {
      st = clhs_h5_fail(err, CLHS_EIO, "cannot create output file '%s'", o->tmp);
      append_msg(err, "; check that its folder exists and is writable (output.path), and set "
                      "HDF5_USE_FILE_LOCKING=FALSE if the file system does not support locking");
    } else {
      o->created = 1;
    }
  }
  clhs_h5_close(&fapl);
  /* The file must exist on every rank's view before anything else is attempted. */
  st = clhs_h5_agree(&o->comm, st, err);
  if (st != CLHS_OK) return st;

  o->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (o->dxpl < 0 || H5Pset_dxpl_mpio(o->dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    return clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot set up collective transfers", o->tmp);

  char created[32] = "";
  if (o->comm.rank == 0) {
    time_t now = time(NULL);
    struct tm tmv;
    if (gmtime_r(&now, &tmv)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  }
  clhs_comm_bcast(&o->comm, created, sizeof created, 0);
  created[sizeof created - 1] = '\0';

  st = write_global_attrs(o, o->file, "/", created, err);
  if (st == CLHS_OK) st = write_code(o, o->file, err);
  if (st == CLHS_OK) st = write_parameters(o, o->file, cfg, err);
  if (st != CLHS_OK) return st;

  o->ts = H5Gcreate2(o->file, "timeseries", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (o->ts < 0)
    return clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create group /timeseries", o->tmp);
  st = write_global_attrs(o, o->ts, "/timeseries", created, err);
  if (st == CLHS_OK) st = make_time(o, cfg, "time", &o->time, "simulated time", err);
  if (st == CLHS_OK) st = make_bounds(o, err);
  const int cvars = o->centres_on;
  if (st == CLHS_OK && cvars)
    st = make_time(o, cfg, "centre_time", &o->ctime,
                   "simulated time of the per-centre records (output.centre_every)", err);
  for (int a = 0; a < o->naxes && st == CLHS_OK; a++)
    if (!o->axes[a].distributed || cvars) st = make_axis(o, &o->axes[a], err);
  for (int v = 0; v < o->nvars && st == CLHS_OK; v++)
    if (!o->vars[v].off) st = make_var(o, &o->vars[v], err);
  if (st == CLHS_OK && H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot flush the new file", o->tmp);
  return st;
}

int clhs_output_open(clhs_output **out, const char *path, const clhs_config *cfg,
                     const clhs_comm *comm, const clhs_out_layout *layout, const clhs_out_var *vars,
                     int nvars, clhs_error *err) {
  return clhs_output_open_run(out, path, NULL, cfg, comm, layout, vars, nvars, err);
}

int clhs_output_open_run(clhs_output **out, const char *path, const char *run_id,
                         const clhs_config *cfg, const clhs_comm *comm,
                         const clhs_out_layout *layout, const clhs_out_var *vars, int nvars,
                         clhs_error *err) {
  *out = NULL;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st = CLHS_OK;
  clhs_output *o = calloc(1, sizeof *o);
  if (o) {
    o->comm = *comm;
    o->file = o->ts = o->dxpl = o->time = o->ctime = -1;
    o->bnds = o->nv = -1;
    o->last_time = NAN;
    o->centres_on = cfg && clhs_config_centre_every(cfg) > 0;
    static const clhs_out_layout none = {0, 0, 0};
    o->layout = layout ? *layout : none;
    o->nvars = nvars > 0 ? nvars : 0;
    size_t n = path ? strlen(path) : 0;
    snprintf(o->run_id, sizeof o->run_id, "%s", run_id ? run_id : "");
    o->path = malloc(n + 1);
    o->tmp = malloc(n + sizeof o->run_id + 8);
    o->vars = calloc(o->nvars ? (size_t)o->nvars : 1, sizeof *o->vars);
    if (o->path && o->tmp) {
      snprintf(o->path, n + 1, "%s", path ? path : "");
      clhs_tmp_name(path ? path : "", o->run_id, o->tmp, n + sizeof o->run_id + 8);
    }
    if (!o->path || !o->tmp || !o->vars)
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory opening output '%s'", path);
  } else {
    clhs_comm_abort(comm, 1, "out of memory opening output '%s'", path ? path : "");
  }
  if (st == CLHS_OK && (!path || !path[0]))
    st = clhs_error_set(err, CLHS_EINPUT, "the output path is empty: set output.path");
  if (st == CLHS_OK && !cfg)
    st = clhs_error_set(err, CLHS_EINPUT, "output '%s': no configuration given", path);
  if (st == CLHS_OK && comm->rank == 0) {
    /* The same checks as before a run (a folder that is missing, a PATH that is a
     * directory and would fail the final rename), reported here as I/O errors. */
    clhs_error why;
    clhs_error_clear(&why);
    if (clhs_output_check_path(path, &why) != CLHS_OK)
      st = clhs_error_set(err, CLHS_EIO, "%s", why.msg);
    struct stat sb;
    if (st == CLHS_OK && lstat(path, &sb) == 0) {
      o->dest_existed = 1;
      o->dest_dev = sb.st_dev;
      o->dest_ino = sb.st_ino;
    }
  }
  if (st == CLHS_OK) st = validate(o, vars, nvars, err);
  for (int a = 0; a < o->naxes; a++)
    o->axes[a].dset = o->axes[a].names = o->axes[a].strdim = -1; /* none: no centre series */
  if (st == CLHS_OK) st = prepare_vars(o, vars, err);
  int cvars = 0; /* per-centre records only where there are per-centre variables */
  for (int v = 0; v < o->nvars; v++)
    cvars |= o->vars[v].caxis >= 0;
  o->centres_on = o->centres_on && cvars;
  /* Collective check of the layout, joined even by a rank that already failed. */
  clhs_error tiling;
  clhs_error_clear(&tiling);
  int t = check_tiling(o, &tiling);
  if (st == CLHS_OK && t != CLHS_OK) st = clhs_error_set(err, t, "%s", tiling.msg);
  st = clhs_h5_agree(comm, st, err);
  if (st == CLHS_OK) st = clhs_h5_agree(comm, open_body(o, cfg, err), err);
  if (st != CLHS_OK) {
    destroy(o);
    clhs_h5_quiet_off(&q);
    return st;
  }
  *out = o;
  clhs_h5_quiet_off(&q);
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */

static int failed_error(const clhs_output *o, clhs_error *err) {
  return clhs_error_set(err, CLHS_EFAIL,
                        "output '%s': an earlier write failed; the output can only be abandoned",
                        o->path);
}

/** Collective: write the full batches (with @p sync: every batch, then H5Fflush); a failure
 * is final. */
static int do_flush(clhs_output *o, int sync, clhs_error *err) {
  int st = write_batch(o, sync, err);
  if (st == CLHS_OK && sync && H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot flush", o->tmp);
  st = clhs_h5_agree(&o->comm, st, err);
  if (st != CLHS_OK) o->failed = 1;
  return st;
}

int clhs_output_append(clhs_output *o, double time_days, const void *const *data, clhs_error *err) {
  return clhs_output_append_record(o, time_days, data, 1, err);
}

int clhs_output_append_record(clhs_output *o, double time_days, const void *const *data,
                              int centres, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_append: no output");
  if (o->failed) return failed_error(o, err);
  int st = CLHS_OK;
  centres = centres && o->centres_on;
  for (int v = 0; v < o->nvars; v++) {
    out_var *ov = &o->vars[v];
    if (ov->rec_elems == 0 || (ov->caxis >= 0 && !centres)) continue;
    size_t bytes = ov->rec_elems * ov->esize;
    if (!data || !data[v]) {
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output '%s': record %lld of variable '%s' has no data on rank %d",
                          o->path, (long long)o->nrecords, ov->v->name, o->comm.rank);
      break;
    }
    memcpy(ov->buf + (size_t)(ov->caxis >= 0 ? o->ncbuf : o->nbuf) * bytes, data[v], bytes);
  }
  o->tbuf[o->nbuf] = time_days;
  o->bbuf[o->nbuf][0] = isnan(o->last_time) ? time_days : o->last_time;
  o->bbuf[o->nbuf][1] = time_days;
  if (centres) o->ctbuf[o->ncbuf] = time_days;
  /* One small reduction per record keeps every rank's status identical. */
  st = clhs_h5_agree(&o->comm, st, err);
  if (st != CLHS_OK) return st;
  o->nbuf++;
  o->nrecords++;
  o->last_time = time_days;
  if (centres) {
    o->ncbuf++;
    o->ncrecords++;
  }
  if (o->nbuf == OUT_BATCH || o->ncbuf == OUT_BATCH) {
    h5quiet q;
    clhs_h5_quiet_on(&q);
    st = do_flush(o, 0, err);
    clhs_h5_quiet_off(&q);
  }
  return st;
}

int clhs_output_flush(clhs_output *o, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_flush: no output");
  if (o->failed) return failed_error(o, err);
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st = do_flush(o, 1, err);
  clhs_h5_quiet_off(&q);
  return st;
}

int clhs_output_snapshot(clhs_output *o, const char *dest, clhs_error *err) {
  int st = clhs_output_flush(o, err);
  if (st != CLHS_OK) return st;
  clhs_comm_barrier(&o->comm); /* nobody writes while rank 0 copies the flushed file */
  if (o->comm.rank == 0) st = clhs_copy_file_atomic(o->tmp, dest, o->run_id, err);
  return clhs_h5_agree(&o->comm, st, err);
}

/* Read rows [r0, r0+n) of one variable's block for this rank from an open snapshot. */
static int restore_read(hid_t f, const out_var *ov, hsize_t r0, hsize_t n, void *buf) {
  char where[300];
  snprintf(where, sizeof where, "/timeseries/%s", ov->v->name);
  hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
  if (d < 0) return -1;
  hsize_t start[1 + CLHS_OUT_MAXDIMS], count[1 + CLHS_OUT_MAXDIMS];
  memcpy(start, ov->start, sizeof start);
  memcpy(count, ov->count, sizeof count);
  start[0] = r0;
  count[0] = n;
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(ov->rank, count, NULL);
  int ok = fs >= 0 && ms >= 0 && H5Sget_simple_extent_ndims(fs) == ov->rank &&
           H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
           H5Dread(d, ov->memtype, ms, fs, H5P_DEFAULT, buf) >= 0;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  H5Dclose(d);
  return ok ? 0 : -1;
}

int clhs_output_restore(clhs_output *o, const char *snapshot, int64_t nrecords, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_restore: no output");
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st = CLHS_OK;
  /* Every rank reads its own blocks with serial HDF5 (read-only, independent). */
  hid_t f = H5Fopen(snapshot, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot open the output snapshot '%s'", snapshot);
  double *times = NULL;
  unsigned char **bufs = calloc((size_t)o->nvars, sizeof *bufs);
  const void **data = calloc((size_t)o->nvars, sizeof *data);
  if (st == CLHS_OK && (!bufs || !data))
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory restoring the output");
  if (st == CLHS_OK) {
    hid_t d = H5Dopen2(f, "/timeseries/time", H5P_DEFAULT);
    hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t have = 0;
    if (fs >= 0) H5Sget_simple_extent_dims(fs, &have, NULL);
    times = malloc(sizeof(double) * (size_t)(nrecords ? nrecords : 1));
    if (d < 0 || fs < 0 || !times || (int64_t)have < nrecords ||
        (nrecords > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, NULL) < -1))
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output snapshot '%s' holds %llu records, the checkpoint needs %lld",
                          snapshot, (unsigned long long)have, (long long)nrecords);
    if (st == CLHS_OK && nrecords > 0) {
      hsize_t r0 = 0, n = (hsize_t)nrecords;
      hid_t ms = H5Screate_simple(1, &n, NULL);
      if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &r0, NULL, &n, NULL) < 0 ||
          H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, times) < 0)
        st = clhs_h5_fail(err, CLHS_EIO, "output snapshot '%s': cannot read /timeseries/time",
                          snapshot);
      H5Sclose(ms);
    }
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
  }
  /* The per-centre records among them: those whose time is the next of centre_time. */
  double *ctimes = NULL;
  hsize_t chave = 0;
  if (st == CLHS_OK && o->centres_on && nrecords > 0) {
    hid_t d = H5Dopen2(f, "/timeseries/centre_time", H5P_DEFAULT);
    hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
    if (fs >= 0) H5Sget_simple_extent_dims(fs, &chave, NULL);
    ctimes = malloc(sizeof(double) * (size_t)(chave ? chave : 1));
    if (d < 0 || fs < 0 || !ctimes ||
        (chave > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ctimes) < 0))
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output snapshot '%s': cannot read /timeseries/centre_time (is it "
                          "from this configuration?)",
                          snapshot);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
  }
  st = clhs_h5_agree(&o->comm, st, err);
  /* A floating-point variable that the snapshot lacks was added to the program after the
   * snapshot was written (e.g. remission_observed_all, new with model v1.2, in a v1.1 run's
   * snapshot): its restored records are NaN, its fill value. Anything else missing is an
   * error below. */
  unsigned char *absent = calloc((size_t)o->nvars, 1);
  if (st == CLHS_OK && !absent)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory restoring the output");
  for (int v = 0; st == CLHS_OK && v < o->nvars; v++) {
    char path[160];
    snprintf(path, sizeof path, "/timeseries/%s", o->vars[v].v->name);
    if (o->vars[v].v->dtype == CLHS_F64 && H5Lexists(f, path, H5P_DEFAULT) == 0) {
      absent[v] = 1;
      if (o->comm.rank == 0 && nrecords > 0)
        fprintf(stderr,
                "clhsim: note: output snapshot '%s' has no %s (written before the program "
                "recorded it): its %lld restored records are NaN\n",
                snapshot, path, (long long)nrecords);
    }
  }
  /* Batch by OUT_BATCH records: read each variable's block, then append record by record. */
  hsize_t c0 = 0; /* the first per-centre record of the batch */
  for (int64_t r0 = 0; st == CLHS_OK && r0 < nrecords; r0 += OUT_BATCH) {
    const hsize_t n = (hsize_t)(nrecords - r0 < OUT_BATCH ? nrecords - r0 : OUT_BATCH);
    hsize_t cn = 0;
    for (hsize_t k = 0; k < n; k++)
      cn += c0 + cn < chave && ctimes[c0 + cn] == times[r0 + (int64_t)k];
    for (int v = 0; v < o->nvars && st == CLHS_OK; v++) {
      out_var *ov = &o->vars[v];
      const int c = ov->caxis >= 0;
      if (ov->rec_elems == 0 || (c && cn == 0)) continue;
      if (!bufs[v]) bufs[v] = malloc((size_t)OUT_BATCH * ov->rec_elems * ov->esize);
      if (!bufs[v]) {
        st = clhs_error_set(err, CLHS_ENOMEM, "out of memory restoring the output");
      } else if (absent[v]) {
        double *x = (double *)(void *)bufs[v];
        for (size_t e = 0; e < (size_t)(c ? cn : n) * ov->rec_elems; e++)
          x[e] = NAN;
      } else if (restore_read(f, ov, c ? c0 : (hsize_t)r0, c ? cn : n, bufs[v]) < 0)
        st = clhs_h5_fail(err, CLHS_EIO,
                          "output snapshot '%s': cannot read /timeseries/%s (is it from this "
                          "configuration?)",
                          snapshot, ov->v->name);
    }
    st = clhs_h5_agree(&o->comm, st, err);
    hsize_t ck = 0; /* the per-centre records of the batch appended so far */
    for (hsize_t k = 0; st == CLHS_OK && k < n; k++) {
      const int centres = c0 + ck < chave && ctimes[c0 + ck] == times[r0 + (int64_t)k];
      for (int v = 0; v < o->nvars; v++) {
        out_var *ov = &o->vars[v];
        const hsize_t row = ov->caxis >= 0 ? ck : k;
        data[v] = ov->rec_elems && (centres || ov->caxis < 0)
                      ? bufs[v] + row * ov->rec_elems * ov->esize
                      : NULL;
      }
      clhs_h5_quiet_off(&q);
      st = clhs_output_append_record(o, times[r0 + (int64_t)k], data, centres, err);
      clhs_h5_quiet_on(&q);
      ck += (hsize_t)centres;
    }
    c0 += cn;
  }
  free(ctimes);
  free(absent);
  if (f >= 0) H5Fclose(f);
  for (int v = 0; bufs && v < o->nvars; v++)
    free(bufs[v]);
  free(bufs);
  free((void *)data);
  free(times);
  clhs_h5_quiet_off(&q);
  return st;
}

int64_t clhs_output_records(const clhs_output *o) {
  return o ? o->nrecords : 0;
}

/** The /run group (made at its first use); -1 and a message in @p err if it cannot be. */
static hid_t open_run_group(clhs_output *o, int *st, clhs_error *err) {
  htri_t exists = H5Lexists(o->file, "run", H5P_DEFAULT);
  hid_t g = exists > 0    ? H5Gopen2(o->file, "run", H5P_DEFAULT)
            : exists == 0 ? H5Gcreate2(o->file, "run", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                          : -1;
  if (g < 0) *st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot create group /run", o->tmp);
  return g;
}

int clhs_output_write_run(clhs_output *o, const char *const *num_keys, const double *num_vals,
                          int nnum, const char *const *str_keys, const char *const *str_vals,
                          int nstr, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_write_run: no output");
  if (o->failed) return failed_error(o, err);
  /* Rank 0's keys and values for everyone: wall times differ between ranks. */
  clhs_strbuf b = {0};
  if (o->comm.rank == 0) {
    uint64_t counts[2] = {(uint64_t)(nnum > 0 ? nnum : 0), (uint64_t)(nstr > 0 ? nstr : 0)};
    clhs_strbuf_put(&b, counts, sizeof counts);
    for (int i = 0; i < nnum; i++) {
      clhs_strbuf_put(&b, &num_vals[i], sizeof(double));
      clhs_strbuf_putz(&b, num_keys[i]);
    }
    for (int i = 0; i < nstr; i++) {
      clhs_strbuf_putz(&b, str_keys[i]);
      clhs_strbuf_putz(&b, str_vals[i]);
    }
  }
  size_t n = 0;
  char *buf = bcast_packed(&o->comm, &b, &n);
  if (n < 2 * sizeof(uint64_t)) {
    free(buf);
    return clhs_error_set(err, CLHS_ENOMEM, "output '%s': out of memory packing /run", o->path);
  }
  h5quiet q;
  clhs_h5_quiet_on(&q);
  uint64_t counts[2];
  memcpy(counts, buf, sizeof counts);
  size_t pos = sizeof counts;
  int st = CLHS_OK;
  hid_t g = open_run_group(o, &st, err);
  for (uint64_t i = 0; i < counts[0] && st == CLHS_OK; i++) {
    double val;
    if (pos + sizeof val > n) break;
    memcpy(&val, buf + pos, sizeof val);
    pos += sizeof val;
    const char *key = clhs_strbuf_next(buf, n, &pos);
    if (!key) break;
    st = attr_f64(g, key, &val, 1, "/run", err);
  }
  for (uint64_t i = 0; i < counts[1] && st == CLHS_OK; i++) {
    const char *key = clhs_strbuf_next(buf, n, &pos);
    const char *val = key ? clhs_strbuf_next(buf, n, &pos) : NULL;
    if (!val) break;
    st = attr_str(g, key, val, "/run", err);
  }
  clhs_h5_close(&g);
  free(buf);
  st = clhs_h5_agree(&o->comm, st, err);
  clhs_h5_quiet_off(&q);
  return st;
}

int clhs_output_close(clhs_output *o, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_close: no output");
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st;
  if (o->failed) {
    st = clhs_error_set(err, CLHS_EFAIL,
                        "output '%s' was not completed because an earlier write failed; the "
                        "partial file '%s' was removed",
                        o->path, o->tmp);
    destroy(o);
    clhs_h5_quiet_off(&q);
    return st;
  }
  st = write_batch(o, 1, err);
  if (st == CLHS_OK && H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "output '%s': cannot flush", o->tmp);
  int cst = close_all(o, err);
  if (st == CLHS_OK) st = cst;
  st = clhs_h5_agree(&o->comm, st, err);
  if (st != CLHS_OK) {
    append_msg(err, "; the incomplete file was removed");
    destroy(o);
    clhs_h5_quiet_off(&q);
    return st;
  }
  /* Every rank has closed the file: rank 0 publishes it, the others wait. */
  st = CLHS_OK;
  if (o->comm.rank == 0) st = publish(o, err);
  st = clhs_h5_agree(&o->comm, st, err);
  free_output(o);
  clhs_h5_quiet_off(&q);
  return st;
}

void clhs_output_abandon(clhs_output *o) {
  if (!o) return;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  destroy(o);
  clhs_h5_quiet_off(&q);
}

int clhs_h5_peek_run_id(const char *path, char *buf, size_t len) {
  h5quiet q;
  clhs_h5_quiet_on(&q);
  if (len) buf[0] = '\0';
  int found = -1;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    found = 0;
    if (H5Aexists(f, "run_id") > 0) {
      hid_t a = H5Aopen(f, "run_id", H5P_DEFAULT);
      char *id = NULL;
      if (a >= 0 && clhs_h5_read_str(a, 1, 4095, &id) == 0) {
        snprintf(buf, len, "%s", id);
        found = 1;
      }
      free(id);
      clhs_h5_close(&a);
    }
    H5Fclose(f);
  }
  H5Eclear2(H5E_DEFAULT);
  clhs_h5_quiet_off(&q);
  return found;
}

int clhs_output_write_run_u64(clhs_output *o, const char *key, uint64_t value, clhs_error *err) {
  if (!o) return clhs_error_set(err, CLHS_EINPUT, "clhs_output_write_run_u64: no output");
  if (o->failed) return failed_error(o, err);
  clhs_comm_bcast(&o->comm, &value, sizeof value, 0);
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st = CLHS_OK;
  hid_t g = open_run_group(o, &st, err);
  if (st == CLHS_OK)
    st = clhs_h5_put_attr(g, key, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value, 1, "/run", CLHS_EIO,
                          err);
  clhs_h5_close(&g);
  st = clhs_h5_agree(&o->comm, st, err);
  clhs_h5_quiet_off(&q);
  return st;
}

void clhs_io_shutdown(void) {
  h5quiet q;
  clhs_h5_quiet_on(&q);
  /* Objects only (datasets, groups, types, attributes): closing a file opened with MPI-IO is
   * collective, and a rank alone here must not wait for the others. */
  const unsigned kinds[1] = {H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR};
  for (int k = 0; k < 1; k++) {
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, kinds[k]);
    if (n <= 0) continue;
    hid_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) continue;
    n = H5Fget_obj_ids(H5F_OBJ_ALL, kinds[k], (size_t)n, ids);
    for (ssize_t i = 0; i < n; i++) {
      hid_t id = ids[i];
      clhs_h5_close(&id);
    }
    free(ids);
  }
  H5Eclear2(H5E_DEFAULT);
  clhs_h5_quiet_off(&q);
}
