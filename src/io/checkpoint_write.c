/*
 * Checkpoints: writing one (clhs_checkpoint_write; the layout in checkpoint.c).
 *
 * Every rank opens PATH.RUNID.tmp (the temporary name) with the MPI-IO driver (collective
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
 */
#define _POSIX_C_SOURCE 200809L

#include "checkpoint_int.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/fileutil.h"
#include "clhs/network.h"

/** What rank 0 says about the checkpoint, identical on every rank. */
typedef struct wmeta {
  clhs_checkpoint_meta m; /* config_yaml: the broadcast copy */
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
  int64_t *roff; /* [c_count + 1]: this rank's rows of /resources/centre_offset, and the end */
  /* this rank's block of the commons in id order */
  uint64_t *cid;
  uint16_t *cq;
  uint8_t *ckind;
  int64_t com_n, com0, com_total;
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
  free(p->cid);
  free(p->cq);
  free(p->ckind);
  memset(p, 0, sizeof *p);
}

static int cmp_rkey(const void *a, const void *b) {
  const rkey *x = a, *y = b;
  if (x->creator != y->creator) return x->creator < y->creator ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/* A resource of the commons on its way to the rank that writes its rows (crosses MPI). */
typedef struct com_row {
  uint64_t id;
  uint16_t q;
  uint8_t kind, pad[5];
} com_row;

static int cmp_com_row(const void *a, const void *b) {
  const com_row *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

/**
 * The commons in id order without gathering it: ids sort by creation step first, so each
 * rank takes a contiguous range of creation steps (step s goes to rank s P / steps), and
 * the ranks' blocks, sorted by id, are consecutive in rank order. Collective.
 */
static int prepare_commons(const clhs_world *w, wprep *p, clhs_error *err) {
  const int P = w->comm->size;
  const int64_t T = w->step > 0 ? w->step : 1;
  int64_t n = 0;
  for (int64_t k = 0; k < w->res.n; k++)
    n += w->res.in_commons[k];
  com_row *rows = malloc(sizeof *rows * (size_t)(n ? n : 1));
  int *dest = malloc(sizeof *dest * (size_t)(n ? n : 1));
  int oom = !rows || !dest;
  for (int64_t k = 0, j = 0; !oom && k < w->res.n; k++) {
    if (!w->res.in_commons[k]) continue;
    int64_t s = clhs_res_step(w->res.id[k]);
    if (s >= T) s = T - 1;
    rows[j] = (com_row){w->res.id[k], w->res.q[k], w->res.kind[k], {0}};
    dest[j++] = (int)(s * P / T);
  }
  int64_t nin = 0;
  com_row *in = clhs_comm_route(w->comm, rows, dest, oom ? 0 : n, sizeof *rows, &nin, &oom);
  free(rows);
  free(dest);
  if (in) qsort(in, (size_t)nin, sizeof *in, cmp_com_row);
  p->cid = malloc(sizeof *p->cid * (size_t)(nin ? nin : 1));
  p->cq = malloc(sizeof *p->cq * (size_t)(nin ? nin : 1));
  p->ckind = malloc((size_t)(nin ? nin : 1));
  if (!in || !p->cid || !p->cq || !p->ckind) oom = 1;
  for (int64_t k = 0; !oom && k < nin; k++) {
    p->cid[k] = in[k].id;
    p->cq[k] = in[k].q;
    p->ckind[k] = in[k].kind;
  }
  free(in);
  p->com_n = oom ? 0 : nin;
  ck_rank_prefix(w->comm, p->com_n, &p->com0, &p->com_total);
  return oom ? clhs_error_set(err, CLHS_ENOMEM,
                              "out of memory preparing the commons for a "
                              "checkpoint")
             : CLHS_OK;
}

/** Local buffers and the collective counts; a local failure is reported, not agreed. */
static int prepare(const clhs_world *w, wprep *p, clhs_error *err) {
  memset(p, 0, sizeof *p);
  const int64_t n = w->n;
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
  ck_rank_prefix(w->comm, ends, &p->tie0, &p->tie_total);

  /* Resources: this rank's table in (creator gid, id) order; rows per local centre. */
  const int64_t nr = w->res.n;
  rkey *keys = malloc(sizeof *keys * (size_t)(nr ? nr : 1));
  int64_t *ccount = calloc((size_t)(w->c_count ? w->c_count : 1), sizeof *ccount);
  p->rid = malloc(sizeof *p->rid * (size_t)(nr ? nr : 1));
  p->rq = malloc(sizeof *p->rq * (size_t)(nr ? nr : 1));
  p->rkind = malloc((size_t)(nr ? nr : 1));
  p->rcom = malloc((size_t)(nr ? nr : 1));
  p->rad = malloc(sizeof *p->rad * (size_t)(nr ? nr : 1));
  p->roff = malloc(sizeof *p->roff * (size_t)(w->c_count + 1));
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
  ck_rank_prefix(w->comm, nr, &p->res0, &p->res_total);
  /* The first row of each of this rank's centres (ranks hold contiguous blocks of centres
   * in rank order, and their resources follow in the same order), then the end. */
  if (p->roff && ccount) {
    p->roff[0] = p->res0;
    for (int64_t lc = 0; lc < w->c_count; lc++)
      p->roff[lc + 1] = p->roff[lc] + ccount[lc];
  }
  free(ccount);
  clhs_error cerr; /* collective: every rank prepares its block of the commons */
  clhs_error_clear(&cerr);
  if (prepare_commons(w, p, &cerr) && !st) st = clhs_error_set(err, cerr.code, "%s", cerr.msg);
  return st;
}

/** Root attributes (rank 0's values, so the same on every rank). */
static int write_root(const ckf *f, const clhs_world *w, const wmeta *wm, clhs_error *err) {
  hid_t root = f->file;
  const int32_t format = CLHS_CHECKPOINT_FORMAT;
  int st = ck_put_attr_str(f, root, "magic", CLHS_CHECKPOINT_MAGIC, err);
  if (!st) st = ck_put_attr(f, root, "format", H5T_STD_I32LE, H5T_NATIVE_INT32, &format, err);
  if (!st) st = ck_put_attr(f, root, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &wm->m.step, err);
  if (!st)
    st = ck_put_attr(f, root, "output_records", H5T_STD_I64LE, H5T_NATIVE_INT64,
                     &wm->m.output_records, err);
  if (!st)
    st = ck_put_attr(f, root, "digest", H5T_STD_U64LE, H5T_NATIVE_UINT64, &wm->m.digest, err);
  if (!st) st = ck_put_attr_str(f, root, "output_snapshot", wm->m.output_snapshot, err);
  if (!st) st = ck_put_attr_str(f, root, "parent", wm->m.parent, err);
  if (!st) st = ck_put_attr_str(f, root, "created_utc", wm->m.created_utc, err);
  if (!st) st = ck_put_attr_str(f, root, "run_id", wm->m.run_id, err);
  if (!st) st = ck_put_attr_str(f, root, "parent_run_id", wm->m.parent_run_id, err);
  if (!st) st = ck_put_attr_str(f, root, "model_version", CLHS_MODEL_VERSION, err);
  if (!st)
    st = ck_put_attr(f, root, "output_snapshot_size", H5T_STD_I64LE, H5T_NATIVE_INT64,
                     &wm->m.snapshot_size, err);
  if (!st)
    st = ck_put_attr(f, root, "output_snapshot_checksum", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                     &wm->m.snapshot_sum, err);
  if (!st) st = ck_put_attr(f, root, "nagents", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->nagents, err);
  if (!st)
    st = ck_put_attr(f, root, "ncentres", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->ncentres, err);
  if (!st)
    st = ck_put_attr(f, root, "npatients", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->npatients, err);
  if (st) return st;
  const char *yaml = wm->m.config_yaml ? wm->m.config_yaml : "";
  if (wm->yaml_len <= CK_ATTR_MAX) return ck_put_attr_str(f, root, "config_yaml", yaml, err);
  /* Too long for an attribute in the HDF5-1.8 format: a scalar string dataset that
   * rank 0 writes (collectively: the others select nothing). */
  hid_t t = clhs_h5_str_type(wm->yaml_len), s = H5Screate(H5S_SCALAR), d = -1, fs = -1, ms = -1;
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
  int st = clhs_h5_agree(comm, write_root(f, w, wm, err), err);
  for (int k = 0; k < CK_NGROUPS && !st; k++) {
    g[k] = H5Gcreate2(f->file, ck_groups[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g[k] < 0)
      st = clhs_h5_fail(err, f->code, "checkpoint '%s': cannot create group /%s", f->fname,
                        ck_groups[k]);
    st = clhs_h5_agree(comm, st, err);
  }
  col c[CK_MAXCOLS];
  const int nc = state_columns(w, c);
  for (int k = 0; k < nc && !st; k++) {
    int gi = 0;
    while (strcmp(ck_groups[gi], c[k].group) != 0)
      gi++;
    st = clhs_h5_agree(comm,
                       ck_put_rows(f, g[gi], c[k].group, c[k].name, c[k].type, c[k].nrows,
                                   c[k].ncols, c[k].row0, c[k].nloc, c[k].data, err),
                       err);
  }
  const int64_t C = w->ncentres;
  hid_t gt = g[4], gr = g[5], gm = g[6], gn = g[7];
  /* Ties. */
  if (!st)
    st = clhs_h5_agree(comm,
                       ck_put_rows(f, gt, "ties", "degree", T_U32, w->nagents, 0, w->gid_begin,
                                   w->n, p->degree, err),
                       err);
  if (!st)
    st = clhs_h5_agree(
        comm,
        ck_put_rows(f, gt, "ties", "key", T_U64, p->tie_total, 0, p->tie0, p->tends, p->tkey, err),
        err);
  if (!st)
    st = clhs_h5_agree(
        comm,
        ck_put_rows(f, gt, "ties", "w", T_F32, p->tie_total, 0, p->tie0, p->tends, p->tw, err),
        err);
  /* Resources. */
  const int64_t R = p->res_total, r0 = p->res0, rn = w->res.n;
  if (!st)
    st = clhs_h5_agree(
        comm, ck_put_rows(f, gr, "resources", "id", T_U64, R, 0, r0, rn, p->rid, err), err);
  if (!st)
    st = clhs_h5_agree(comm, ck_put_rows(f, gr, "resources", "q", T_U16, R, 0, r0, rn, p->rq, err),
                       err);
  if (!st)
    st = clhs_h5_agree(
        comm, ck_put_rows(f, gr, "resources", "kind", T_U8, R, 0, r0, rn, p->rkind, err), err);
  if (!st)
    st = clhs_h5_agree(
        comm, ck_put_rows(f, gr, "resources", "in_commons", T_U8, R, 0, r0, rn, p->rcom, err), err);
  if (!st)
    st = clhs_h5_agree(
        comm, ck_put_rows(f, gr, "resources", "adoptions", T_U32, R, 0, r0, rn, p->rad, err), err);
  /* Each rank the rows of its centres; the rank of the last centre the end row too. */
  const int64_t cn = w->c_count + (w->c_count > 0 && w->c_begin + w->c_count == C);
  if (!st)
    st = clhs_h5_agree(comm,
                       ck_put_rows(f, gr, "resources", "centre_offset", T_I64, C + 1, 0, w->c_begin,
                                   cn, p->roff, err),
                       err);
  /* The commons, in id order: each rank its block (prepare_commons). */
  const int64_t M = p->com_total, m0 = p->com0, mn = p->com_n;
  if (!st)
    st = clhs_h5_agree(comm, ck_put_rows(f, gm, "commons", "id", T_U64, M, 0, m0, mn, p->cid, err),
                       err);
  if (!st)
    st = clhs_h5_agree(comm, ck_put_rows(f, gm, "commons", "q", T_U16, M, 0, m0, mn, p->cq, err),
                       err);
  if (!st)
    st = clhs_h5_agree(
        comm, ck_put_rows(f, gm, "commons", "kind", T_U8, M, 0, m0, mn, p->ckind, err), err);
  /* Network-wide scalars (identical everywhere). */
  if (!st) {
    int s2 = ck_put_attr(f, gn, "E_tx", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &w->E_tx, err);
    if (!s2) s2 = ck_put_attr(f, gn, "N_rec", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->N_rec, err);
    if (!s2)
      s2 = ck_put_attr(f, gn, "commons_users", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->commons_users,
                       err);
    if (!s2) s2 = ck_put_attr(f, gn, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->step, err);
    st = clhs_h5_agree(comm, s2, err);
  }
  for (int k = 0; k < CK_NGROUPS; k++)
    clhs_h5_close(&g[k]);
  /* Last: the completeness marker, then everything reaches the disk. */
  if (!st) {
    const int32_t one = 1;
    int s2 = ck_put_attr(f, f->file, "complete", H5T_STD_I32LE, H5T_NATIVE_INT32, &one, err);
    if (!s2 && H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0)
      s2 = clhs_h5_fail(err, f->code, "checkpoint '%s': cannot flush", f->fname);
    st = clhs_h5_agree(comm, s2, err);
  }
  return st;
}

/** Rank 0's metadata, broadcast (created_utc filled in if empty). */
static void share_meta(const clhs_comm *comm, const clhs_checkpoint_meta *meta, wmeta *wm) {
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

int clhs_checkpoint_write(const clhs_world *w, const char *path, const clhs_checkpoint_meta *meta,
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
  st = clhs_h5_agree(comm, st, err);

  /* Room for it (about the world's bytes), agreed before any collective HDF5 call. */
  int64_t need = (int64_t)clhs_world_bytes(w);
  clhs_comm_sum_i64(comm, &need, 1);
  if (!st && comm->rank == 0)
    st = clhs_check_space(tmp, (uint64_t)need + (1u << 20), "the checkpoint", err);
  st = clhs_h5_agree(comm, st, err);

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
    st = clhs_h5_agree(comm, st, err);
  }
  if (!st) {
    f.dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (f.dxpl < 0 || H5Pset_dxpl_mpio(f.dxpl, H5FD_MPIO_COLLECTIVE) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot set up collective transfers", tmp);
    st = clhs_h5_agree(comm, st, err);
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
  st = clhs_h5_agree(comm, st, err);
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
    st = clhs_h5_agree(comm, st, err);
    clhs_comm_bcast(comm, &size, sizeof size, 0);
    uint64_t sum = 0;
    if (!st) st = ck_file_sum(comm, tmp, (uint64_t)size, &sum, CLHS_EIO, err);
    if (!st && comm->rank == 0) st = ck_ub_write(tmp, (uint64_t)size, sum, err);
    st = clhs_h5_agree(comm, st, err);
  }
  if (!st && comm->rank == 0) {
    if (rename(tmp, path) != 0)
      st = clhs_error_set(err, CLHS_EIO, "cannot rename checkpoint '%s' to '%s' (%s)", tmp, path,
                          strerror(errno));
    else
      clhs_fsync_folder_of(path);
  }
  st = clhs_h5_agree(comm, st, err);
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
