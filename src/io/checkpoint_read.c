/*
 * Checkpoints: reading one (clhs_checkpoint_read_meta, clhs_checkpoint_read; the layout in
 * checkpoint.c).
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

#include "checkpoint_int.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clhs/network.h"

/** Copy @p src into the fixed buffer @p dst (cut short if needed). */
static void copy_str(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
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
  if (H5Aexists(f->file, name) > 0) return ck_get_attr_str(f, f->file, name, out, err);
  H5Eclear2(H5E_DEFAULT);
  if (H5Lexists(f->file, name, H5P_DEFAULT) <= 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /%s is missing", f->path, name);
  hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
  int st = d >= 0 ? clhs_h5_read_str(d, 0, SIZE_MAX, out) : -1;
  clhs_h5_close(&d);
  if (st < 0)
    return clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': dataset /%s is corrupted", f->path,
                        name);
  return CLHS_OK;
}

/** Rank 0, serial HDF5: the metadata. */
static int meta_local(const char *path, clhs_checkpoint_meta *m, clhs_error *err) {
  ckf f = {NULL, path, path, -1, -1, CLHS_EINPUT};
  f.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f.file < 0) {
    cant_open(path, err);
    return err->code;
  }
  int st = ck_check_header(&f, &m->format, err);
  char *s = NULL;
  if (!st) st = ck_get_attr(&f, f.file, "/", "step", H5T_NATIVE_INT64, &m->step, err);
  if (!st)
    st = ck_get_attr(&f, f.file, "/", "output_records", H5T_NATIVE_INT64, &m->output_records, err);
  if (!st) st = ck_get_attr(&f, f.file, "/", "digest", H5T_NATIVE_UINT64, &m->digest, err);
  if (!st && !(st = ck_get_attr_str(&f, f.file, "output_snapshot", &s, err)))
    copy_str(m->output_snapshot, sizeof m->output_snapshot, s);
  free(s);
  s = NULL;
  if (!st && !(st = ck_get_attr_str(&f, f.file, "parent", &s, err)))
    copy_str(m->parent, sizeof m->parent, s);
  free(s);
  s = NULL;
  if (!st && !(st = ck_get_attr_str(&f, f.file, "created_utc", &s, err)))
    copy_str(m->created_utc, sizeof m->created_utc, s);
  free(s);
  s = NULL;
  if (!st && !(st = ck_get_attr_str(&f, f.file, "run_id", &s, err)))
    copy_str(m->run_id, sizeof m->run_id, s);
  free(s);
  s = NULL;
  if (!st && !(st = ck_get_attr_str(&f, f.file, "parent_run_id", &s, err)))
    copy_str(m->parent_run_id, sizeof m->parent_run_id, s);
  free(s);
  s = NULL;
  /* Model v1.1 code wrote no model version (the checkpoint format is the same). */
  copy_str(m->model_version, sizeof m->model_version, "1.1");
  if (!st && H5Aexists(f.file, "model_version") > 0 &&
      !(st = ck_get_attr_str(&f, f.file, "model_version", &s, err)))
    copy_str(m->model_version, sizeof m->model_version, s);
  free(s);
  if (!st)
    st = ck_get_attr(&f, f.file, "/", "output_snapshot_size", H5T_NATIVE_INT64, &m->snapshot_size,
                     err);
  if (!st)
    st = ck_get_attr(&f, f.file, "/", "output_snapshot_checksum", H5T_NATIVE_UINT64,
                     &m->snapshot_sum, err);
  if (!st) st = get_root_text(&f, "config_yaml", &m->config_yaml, err);
  clhs_h5_close(&f.file);
  return st;
}

int clhs_checkpoint_read_meta(const clhs_comm *comm, const char *path, clhs_checkpoint_meta *meta,
                              clhs_error *err) {
  h5quiet q;
  clhs_h5_quiet_on(&q);
  memset(meta, 0, sizeof *meta);
  int st = CLHS_OK;
  if (!path || !path[0]) st = clhs_error_set(err, CLHS_EINPUT, "the checkpoint path is empty");
  st = clhs_h5_agree(comm, st, err);
  if (!st) st = ck_verify_file(comm, path, err);
  if (!st && comm->rank == 0) st = meta_local(path, meta, err);
  st = clhs_h5_agree(comm, st, err);
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
    const size_t bytes = clhs_h5_dtype_size(c[k].type) * (size_t)(c[k].ncols > 0 ? c[k].ncols : 1) *
                         (size_t)(c[k].nloc > 0 ? c[k].nloc : 1);
    void *dst = c[k].data, *tmp = NULL;
    if (c[k].structure) {
      dst = tmp = malloc(bytes);
      if (!tmp) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %s", dname);
    }
    if (!st)
      st = ck_get_rows(f, dname, c[k].type, c[k].nrows, c[k].ncols, c[k].row0, c[k].nloc, dst, err);
    if (!st && tmp && c[k].nloc > 0 && memcmp(tmp, c[k].data, bytes) != 0)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': dataset %s differs from the world built from the "
                          "configuration (was the checkpoint written with another one?)",
                          f->path, dname);
    free(tmp);
    st = clhs_h5_agree(f->comm, st, err);
  }
  if (st) return st;
  clhs_world_held_cats(w); /* derived from the held lists (older checkpoints lack them) */
  for (int64_t i = 0; i < w->n && !st; i++)
    if (w->E[i] >= CLHS_TIERS || w->E_wait[i] >= CLHS_TIERS)
      st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': agent %lld has tier %d/%d", f->path,
                          (long long)(w->gid_begin + i), w->E[i], w->E_wait[i]);
  return clhs_h5_agree(f->comm, st, err);
}

/** The dynamic ties: degrees of this rank's agents give its slice of key and w. */
static int read_ties(const ckf *f, clhs_world *w, clhs_error *err) {
  const int64_t n = w->n;
  uint32_t *deg = malloc(sizeof *deg * (size_t)(n ? n : 1));
  int st = deg ? CLHS_OK : clhs_error_set(err, CLHS_ENOMEM, "out of memory reading ties");
  if (!st) st = ck_get_rows(f, "/ties/degree", T_U32, w->nagents, 0, w->gid_begin, n, deg, err);
  int64_t mine = 0, before = 0, total = 0;
  for (int64_t i = 0; i < n && !st; i++)
    mine += deg[i];
  st = clhs_h5_agree(f->comm, st, err);
  ck_rank_prefix(f->comm, st ? 0 : mine, &before, &total);
  if (st) {
    free(deg);
    return st;
  }
  uint64_t *key = malloc(sizeof *key * (size_t)(mine ? mine : 1));
  float *wt = malloc(sizeof *wt * (size_t)(mine ? mine : 1));
  if (!key || !wt)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %lld tie ends", (long long)mine);
  if (!st) st = ck_get_rows(f, "/ties/key", T_U64, total, 0, before, mine, key, err);
  st = clhs_h5_agree(f->comm, st, err);
  if (!st) st = ck_get_rows(f, "/ties/w", T_F32, total, 0, before, mine, wt, err);
  st = clhs_h5_agree(f->comm, st, err);
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
  st = clhs_h5_agree(f->comm, st, err);
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
  return clhs_h5_agree(f->comm, st, err);
}

static int cmp_u64_idx(const void *a, const void *b) {
  const rkey *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

/** This rank's resources: the rows of its centres, then sorted by id. */
static int read_resources(const ckf *f, clhs_world *w, clhs_error *err) {
  /* The rows of this rank's centres and the row after them (a rank with no centre reads
   * none): together, the ranks check every row and that they do not decrease. */
  const int64_t C = w->ncentres, nc = w->c_count, cb = w->c_begin;
  const int64_t non = nc > 0 ? nc + 1 : 0;
  int64_t *off = calloc((size_t)nc + 1, sizeof *off), R = 0;
  int st = off ? CLHS_OK : clhs_error_set(err, CLHS_ENOMEM, "out of memory reading resources");
  if (!st) {
    hid_t d = ck_open_rows(f, "/resources/id", -1, 0, &R, err);
    if (d < 0) st = err->code;
    clhs_h5_close(&d);
  }
  if (!st) st = ck_get_rows(f, "/resources/centre_offset", T_I64, C + 1, 0, cb, non, off, err);
  for (int64_t lc = 0; lc < nc && !st; lc++)
    if ((cb == 0 && off[0] != 0) || off[lc + 1] < off[lc] || (cb + nc == C && off[nc] != R))
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': /resources/centre_offset is inconsistent at centre "
                          "%lld",
                          f->path, (long long)(cb + lc));
  st = clhs_h5_agree(f->comm, st, err);
  if (st) {
    free(off);
    return st;
  }
  const int64_t r0 = off[0], nr = off[nc] - r0;
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
  st = clhs_h5_agree(f->comm, st, err);
  if (!st)
    st = clhs_h5_agree(f->comm, ck_get_rows(f, "/resources/id", T_U64, R, 0, r0, nr, id, err), err);
  if (!st)
    st = clhs_h5_agree(f->comm, ck_get_rows(f, "/resources/q", T_U16, R, 0, r0, nr, q, err), err);
  if (!st)
    st = clhs_h5_agree(f->comm, ck_get_rows(f, "/resources/kind", T_U8, R, 0, r0, nr, kind, err),
                       err);
  if (!st)
    st = clhs_h5_agree(f->comm,
                       ck_get_rows(f, "/resources/in_commons", T_U8, R, 0, r0, nr, ic, err), err);
  if (!st)
    st = clhs_h5_agree(f->comm,
                       ck_get_rows(f, "/resources/adoptions", T_U32, R, 0, r0, nr, ad, err), err);
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
    st = clhs_h5_agree(f->comm, st, err);
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

/* A row of /commons on its way to the rank of its creator, to be checked there. */
typedef struct com_row {
  uint64_t id;
  uint16_t q;
  uint8_t kind, pad[5];
} com_row;

/**
 * The commons: each rank's part is its resources with in_commons (read with /resources),
 * indexed here (clhs_commons_rebuild). /commons, the same resources in id order, is
 * checked against them: each rank reads a block of its rows and sends each to the rank of
 * its creator, which must hold it in the commons with the same quality and kind; with the
 * counts equal, /commons is exactly the union of the ranks' parts.
 */
static int read_commons(const ckf *f, clhs_world *w, clhs_error *err) {
  int64_t M = 0;
  hid_t d = ck_open_rows(f, "/commons/id", -1, 0, &M, err);
  int st = d < 0 ? err->code : CLHS_OK;
  clhs_h5_close(&d);
  st = clhs_h5_agree(f->comm, st, err);
  if (st) return st;
  st = clhs_commons_rebuild(w);
  if (st) return clhs_error_set(err, st, "out of memory indexing the commons");
  if (M != w->commons.n)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': /commons holds %lld resources, /resources posts %lld",
                          f->path, (long long)M, (long long)w->commons.n);
  const int P = f->comm->size, me = f->comm->rank;
  const int64_t r0 = M * me / P, nr = M * (me + 1) / P - r0, cap = nr ? nr : 1;
  uint64_t *id = malloc(sizeof *id * (size_t)(cap + 1));
  uint16_t *q = malloc(sizeof *q * (size_t)cap);
  uint8_t *kind = malloc((size_t)cap);
  com_row *rows = malloc(sizeof *rows * (size_t)cap);
  int *dest = malloc(sizeof *dest * (size_t)cap);
  if (!id || !q || !kind || !rows || !dest)
    st = clhs_error_set(err, CLHS_ENOMEM, "out of memory reading %lld commons entries",
                        (long long)nr);
  st = clhs_h5_agree(f->comm, st, err);
  /* One row more than the block (the next block's first) to check the order across. */
  const int64_t nread = nr + (r0 + nr < M);
  if (!st)
    st =
        clhs_h5_agree(f->comm, ck_get_rows(f, "/commons/id", T_U64, M, 0, r0, nread, id, err), err);
  if (!st)
    st = clhs_h5_agree(f->comm, ck_get_rows(f, "/commons/q", T_U16, M, 0, r0, nr, q, err), err);
  if (!st)
    st =
        clhs_h5_agree(f->comm, ck_get_rows(f, "/commons/kind", T_U8, M, 0, r0, nr, kind, err), err);
  int64_t nin = 0;
  int oom = 0;
  for (int64_t k = 0; k < nr && !st; k++) {
    if ((k + 1 < nread && id[k + 1] <= id[k]) || clhs_res_creator(id[k]) >= w->nagents) {
      st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /commons is inconsistent at row %lld",
                          f->path, (long long)(r0 + k));
      break;
    }
    rows[k] = (com_row){id[k], q[k], kind[k], {0}};
    dest[k] = clhs_owner_of_gid(w, clhs_res_creator(id[k]));
  }
  com_row *in = clhs_comm_route(f->comm, rows, dest, st ? 0 : nr, sizeof *rows, &nin, &oom);
  for (int64_t k = 0; k < nin && !st; k++) {
    const clhs_restab *t = &w->res;
    int64_t lo = 0, hi = t->n;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (t->id[mid] < in[k].id)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo >= t->n || t->id[lo] != in[k].id || !t->in_commons[lo] || t->q[lo] != in[k].q ||
        t->kind[lo] != in[k].kind)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': commons resource %llx does not match /resources",
                          f->path, (unsigned long long)in[k].id);
  }
  if (oom && !st) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory checking the commons");
  free(in);
  free(id);
  free(q);
  free(kind);
  free(rows);
  free(dest);
  return clhs_h5_agree(f->comm, st, err);
}

static int read_network(const ckf *f, clhs_world *w, clhs_error *err) {
  hid_t g = H5Gopen2(f->file, "network", H5P_DEFAULT);
  int st = CLHS_OK;
  if (g < 0)
    st = clhs_h5_fail(err, CLHS_EINPUT, "checkpoint '%s': group /network is missing", f->path);
  double E_tx = 0;
  int64_t N_rec = 0, users = 0, step = 0;
  if (!st) st = ck_get_attr(f, g, "/network/", "E_tx", H5T_NATIVE_DOUBLE, &E_tx, err);
  if (!st) st = ck_get_attr(f, g, "/network/", "N_rec", H5T_NATIVE_INT64, &N_rec, err);
  if (!st) st = ck_get_attr(f, g, "/network/", "commons_users", H5T_NATIVE_INT64, &users, err);
  if (!st) st = ck_get_attr(f, g, "/network/", "step", H5T_NATIVE_INT64, &step, err);
  if (!st && (step < 0 || N_rec < 0 || users < 0))
    st = clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': /network holds negative counts",
                        f->path);
  clhs_h5_close(&g);
  st = clhs_h5_agree(f->comm, st, err);
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
  st = clhs_h5_agree(comm, st, err);
  if (!st) st = ck_verify_file(comm, path, err);
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
  st = clhs_h5_agree(comm, st, err);
  if (!st) st = clhs_h5_agree(comm, ck_check_header(&f, NULL, err), err);
  if (!st) {
    int64_t v[3] = {-1, -1, -1};
    static const char *const names[3] = {"nagents", "ncentres", "npatients"};
    const int64_t want[3] = {w->nagents, w->ncentres, w->npatients};
    for (int k = 0; k < 3 && !st; k++) {
      st = ck_get_attr(&f, f.file, "/", names[k], H5T_NATIVE_INT64, &v[k], err);
      if (!st && v[k] != want[k])
        st = clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s' holds %lld %s, but its configuration builds %lld: "
                            "was the configuration changed?",
                            path, (long long)v[k], names[k] + 1, (long long)want[k]);
    }
    st = clhs_h5_agree(comm, st, err);
  }
  if (!st) st = read_network(&f, w, err); /* first: the step places the fresh resources */
  if (!st) st = read_state(&f, w, err);
  if (!st) st = read_ties(&f, w, err);
  if (!st) st = read_resources(&f, w, err);
  if (!st) st = read_commons(&f, w, err);
  clhs_h5_close(&f.dxpl);
  if (f.file >= 0 && H5Fclose(f.file) < 0 && !st)
    st = clhs_h5_fail(err, CLHS_EIO, "checkpoint '%s': cannot close", path);
  st = clhs_h5_agree(comm, st, err);
  clhs_h5_quiet_off(&q);
  return st;
}
