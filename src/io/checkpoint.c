/*
 * Checkpoints (include/clhs/checkpoint.h): the dynamic state of the world in one HDF5
 * file whose layout does not depend on the decomposition that wrote it.
 *
 * File layout (CLHS_CHECKPOINT_FORMAT 3). Rows are global: a file written on P ranks is read
 * on any Q. "[n]" is a 1-D dataset of n rows, "[n, k]" a 2-D one.
 *
 *   /  attributes
 *      magic           string  CLHS_CHECKPOINT_MAGIC
 *      format          int32   CLHS_CHECKPOINT_FORMAT
 *      step            int64   steps completed
 *      output_records  int64   records in the output file at this step
 *      digest          uint64  clhs_world_digest at this step (the engine compares it)
 *      output_snapshot, parent, created_utc   string
 *      run_id, parent_run_id                  string  the run that wrote it; a fork's source
 *      model_version   string  CLHS_MODEL_VERSION ("1.2"); absent in files of model v1.1
 *                              code, which restart as v1.1 (clhs_config_for_model)
 *      output_snapshot_size int64, output_snapshot_checksum uint64: the snapshot's bytes and
 *                      whole-file checksum (clhs_file_checksum), verified before a restart
 *      config_yaml     string  the effective configuration; when longer than CK_ATTR_MAX
 *                              bytes it is the scalar string dataset /config_yaml instead
 *      nagents, ncentres, npatients           int64
 *      complete        int32   1, written last, just before the file is closed: a file
 *                              without it is refused as incomplete
 *   /agents, /patients, /staff, /centres: one dataset per stored row of the table of fields
 *      (include/clhs/fields.h, in its order; rows = global agent id, network-wide patient,
 *      clinician, QIS or centre index); the generated list with types and shapes is
 *      docs/checkpoint.md "State datasets" (`clhsim state`, test docs_state_current)
 *   /ties       degree uint32 [nagents]: dynamic tie ends of each agent;
 *      key uint64, w float32 [tie ends]: in (agent gid, neighbour gid) order, so the ends
 *      of agent g are rows [sum of degree[0..g), + degree[g])
 *   /resources  every rank's table of the resources its agents created, in (creator gid,
 *      id) order: id uint64, q uint16, kind uint8, in_commons uint8, adoptions uint32
 *      [resources]; centre_offset int64 [ncentres + 1]: the first row whose creator
 *      belongs to each centre (the last entry is the row count)
 *   /commons    id uint64, q uint16, kind uint8 [commons], in id order: the resources of
 *      /resources with in_commons (each rank writes a range of creation steps; a reader
 *      rebuilds the commons from /resources and checks /commons against it)
 *   /network    attributes E_tx double; N_rec, commons_users, step int64
 *
 * Every dataset is chunked (dimension 0 extendible, so empty tables are valid) with
 * HDF5's Fletcher32 checksum, the only (hence last) filter of its chain; a corrupted
 * chunk makes H5Dread fail, which is reported as CLHS_EINPUT naming the dataset.
 *
 * The module: this file holds the layout above, the table of per-row state (state_columns)
 * and the helpers for attributes and rows; checkpoint_write.c writes a file,
 * checkpoint_read.c reads one, checkpoint_verify.c keeps the user block and the whole-file
 * checksum; checkpoint_int.h is what they share.
 */
#define _POSIX_C_SOURCE 200809L

#include "checkpoint_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(clhs_centre_counts) == CK_NCOUNTS * sizeof(int64_t),
               "clhs_centre_counts is written as CK_NCOUNTS int64 columns");

/* ------------------------------------------------------------------------ */
/* The per-row state: one table drives both writing and reading             */

/* The table of fields' element types as the checkpoint's (enum clhs_dtype). */
static int dtype_of_vtype(int vt) {
  switch (vt) {
  case CLHS_VT_U8: return T_U8;
  case CLHS_VT_U16: return T_U16;
  case CLHS_VT_U32: return T_U32;
  case CLHS_VT_U64: return T_U64;
  case CLHS_VT_I32: return T_I32;
  case CLHS_VT_I64: return T_I64;
  case CLHS_VT_F32: return T_F32;
  default: return CLHS_F64;
  }
}

int state_columns(const clhs_world *w, col *c) {
  int n = 0;
  const int64_t hm = w->cfg->resources.held_max;
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (!clhs_field_stored(f)) continue;
    const clhs_entity_info *e = &clhs_entities[f->entity];
    const int64_t nv = clhs_field_values(f, hm);
    c[n] = (col){.group = e->group,
                 .name = f->name,
                 .type = dtype_of_vtype(f->vtype),
                 .data = clhs_field_array(w, f, 0),
                 .structure = f->role == CLHS_ROLE_CHECKED};
    /* One value per row is a 1-D dataset; several (or an array of held_max) a 2-D one. */
    c[n].ncols = f->per == CLHS_PER_1 && nv == 1 ? 0 : nv;
    clhs_entity_rows(w, f->entity, &c[n].nrows, &c[n].row0, &c[n].nloc);
    n++;
  }
  return n;
}

const char *const ck_groups[CK_NGROUPS] = {"agents", "patients",  "staff",   "centres",
                                           "ties",   "resources", "commons", "network"};

int ck_rank_prefix(const clhs_comm *comm, int64_t mine, int64_t *before, int64_t *total) {
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

/* ------------------------------------------------------------------------ */
/* Attributes                                                               */

/** "checkpoint 'FILE'", the context of a writing message. */
static void ck_where(const ckf *f, char *buf, size_t len) {
  snprintf(buf, len, "checkpoint '%s'", f->fname);
}

int ck_put_attr(const ckf *f, hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                const void *val, clhs_error *err) {
  char where[sizeof err->msg];
  ck_where(f, where, sizeof where);
  return clhs_h5_put_attr(obj, name, ftype, mtype, val, 1, where, f->code, err);
}

int ck_put_attr_str(const ckf *f, hid_t obj, const char *name, const char *val, clhs_error *err) {
  char where[sizeof err->msg];
  ck_where(f, where, sizeof where);
  return clhs_h5_put_attr_str(obj, name, val, where, f->code, err);
}

int ck_get_attr(const ckf *f, hid_t obj, const char *where, const char *name, hid_t mtype,
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

int ck_get_attr_str(const ckf *f, hid_t obj, const char *name, char **out, clhs_error *err) {
  *out = NULL;
  htri_t ex = H5Aexists(obj, name);
  if (ex == 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': attribute /%s is missing", f->path,
                          name);
  hid_t a = ex > 0 ? H5Aopen(obj, name, H5P_DEFAULT) : -1;
  int st = a >= 0 ? clhs_h5_read_str(a, 1, SIZE_MAX, out) : -1;
  clhs_h5_close(&a);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': cannot read attribute /%s as a string",
                        f->path, name);
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ */
/* Datasets                                                                 */

int ck_put_rows(const ckf *f, hid_t g, const char *gname, const char *name, int type, int64_t nrows,
                int64_t ncols, int64_t row0, int64_t nloc, const void *buf, clhs_error *err) {
  const int rank = ncols > 0 ? 2 : 1;
  const size_t rowb = clhs_h5_dtype_size(type) * (size_t)(ncols > 0 ? ncols : 1);
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
    d = H5Dcreate2(g, name, clhs_h5_file_type(type), s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
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
    if (st >= 0) st = H5Dwrite(d, clhs_h5_mem_type(type), ms, fs, f->dxpl, buf);
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

hid_t ck_open_rows(const ckf *f, const char *dname, int64_t nrows, int64_t ncols, int64_t *rows_out,
                   clhs_error *err) {
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

int ck_get_rows(const ckf *f, const char *dname, int type, int64_t nrows, int64_t ncols,
                int64_t row0, int64_t nloc, void *buf, clhs_error *err) {
  hid_t d = ck_open_rows(f, dname, nrows, ncols, NULL, err);
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
    st = H5Dread(d, clhs_h5_mem_type(type), ms, fs, f->dxpl, buf);
  clhs_h5_close(&ms);
  clhs_h5_close(&fs);
  clhs_h5_close(&d);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': dataset %s is corrupted (checksum)",
                        f->path, dname);
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ */
/* The header                                                               */

int ck_check_header(const ckf *f, int *format, clhs_error *err) {
  char *magic = NULL;
  int st = CLHS_OK;
  if (H5Aexists(f->file, "magic") <= 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "'%s' is an HDF5 file but not a clhsim checkpoint (no attribute 'magic')",
                        f->path);
  if (!st) st = ck_get_attr_str(f, f->file, "magic", &magic, err);
  if (!st && strcmp(magic, CLHS_CHECKPOINT_MAGIC) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "'%s' is not a clhsim checkpoint (magic '%.64s', expected '%s')", f->path,
                        magic, CLHS_CHECKPOINT_MAGIC);
  free(magic);
  int32_t fmt = -1, complete = 0;
  if (!st) st = ck_get_attr(f, f->file, "/", "format", H5T_NATIVE_INT32, &fmt, err);
  if (!st && fmt != CLHS_CHECKPOINT_FORMAT)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint '%s': checkpoint format %d, this clhsim reads %d (restart it "
                        "with the clhsim version that wrote it)",
                        f->path, (int)fmt, CLHS_CHECKPOINT_FORMAT);
  if (!st) {
    htri_t ex = H5Aexists(f->file, "complete");
    if (ex > 0) st = ck_get_attr(f, f->file, "/", "complete", H5T_NATIVE_INT32, &complete, err);
    if (!st && complete != 1)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s' is incomplete (no 'complete' marker): its writing was "
                          "interrupted; restart from an earlier checkpoint",
                          f->path);
  }
  if (format) *format = fmt;
  return st;
}
