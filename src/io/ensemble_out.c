/*
 * The ensemble file (include/clhs/ensemble.h): the member files' /timeseries stacked along a
 * leading `member` dimension. Each group's first rank writes its member's rows as the member
 * finishes (clhs_ensemble_put_member: serial HDF5 under an exclusive flock, the first one
 * creating the layout); rank 0 adds the rows of members done before this launch, the
 * coordinates and /members at the end (clhs_ensemble_write) and renames the file.
 *
 *   /timeseries/member            int64 [M], dimension scale
 *   /timeseries/seed              uint64 [M]   (coordinates of member, named in each variable's
 *   /timeseries/scenario          string [M]    `coordinates` attribute, so xarray shows them
 *   /timeseries/<section.key>     float64 or string [M]   as coordinates)
 *   /timeseries/<axis>            the members' axes (time, centre_time, centre, type, ...)
 *   /timeseries/<variable>        [M, <the member's dimensions>], chunked one member a chunk
 *   /members/config_yaml          string [M]: each member's effective configuration
 *   /members/run                  string [M]: each member's /run record, "key: value" lines
 *   /  @Conventions @source @model_version @design (the design file's text) @members
 */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clhs/ensemble.h"
#include "clhs/fileutil.h"
#include "h5util.h"

#define MAXDIMS 8
#define MAXVARS 256

typedef struct evar {
  char name[128];
  int ndims;
  hsize_t dims[MAXDIMS];
  char scale[MAXDIMS][64]; /* the dimension scale of each dimension ("" if none) */
  int is_scale;
  int once;    /* not a scale but the same for every member (time_bnds, <axis>_name): copied */
  hid_t ftype; /* the file type (copied) */
} evar;

typedef struct elist {
  evar v[MAXVARS];
  int n;
} elist;

static herr_t scale_name_cb(hid_t did, unsigned dim, hid_t dsid, void *data) {
  (void)did;
  (void)dim;
  char *out = data;
  char full[256] = "";
  H5Iget_name(dsid, full, sizeof full);
  const char *b = strrchr(full, '/');
  snprintf(out, 64, "%s", b ? b + 1 : full);
  return 1; /* the first scale */
}

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  elist *l = data;
  hid_t o = H5Oopen(g, name, H5P_DEFAULT);
  const int dataset = o >= 0 && H5Iget_type(o) == H5I_DATASET;
  if (o >= 0) H5Oclose(o);
  if (!dataset || l->n == MAXVARS) return 0;
  evar *v = &l->v[l->n];
  memset(v, 0, sizeof *v);
  snprintf(v->name, sizeof v->name, "%s", name);
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t s = H5Dget_space(d);
  v->ndims = H5Sget_simple_extent_ndims(s);
  if (v->ndims < 0 || v->ndims > MAXDIMS - 1) {
    H5Sclose(s);
    H5Dclose(d);
    return 0; /* scalars and deep arrays are not stacked */
  }
  H5Sget_simple_extent_dims(s, v->dims, NULL);
  H5Sclose(s);
  v->is_scale = H5DSis_scale(d) > 0;
  for (int k = 0; k < v->ndims && !v->is_scale; k++)
    if (H5DSget_num_scales(d, (unsigned)k) > 0)
      H5DSiterate_scales(d, (unsigned)k, NULL, scale_name_cb, v->scale[k]);
  /* Copied once, not stacked: the cell bounds of time, and what has no time axis (the axes'
   * label variables). */
  v->once = !v->is_scale && !strcmp(name, "time_bnds");
  for (int k = 0; k < v->ndims && !v->is_scale; k++)
    v->once |= k == 0 && strcmp(v->scale[0], "time") && strcmp(v->scale[0], "centre_time");
  v->ftype = H5Dget_type(d);
  H5Dclose(d);
  l->n++;
  return 0;
}

/* Copy the attributes of @p src to @p dst, except the dimension-scale bookkeeping. */
static herr_t copy_attr_cb(hid_t src, const char *name, const H5A_info_t *info, void *data) {
  (void)info;
  hid_t dst = *(hid_t *)data;
  static const char *const skip[] = {"DIMENSION_LIST", "REFERENCE_LIST",      "CLASS",       "NAME",
                                     "_Netcdf4Dimid",  "_Netcdf4Coordinates", "coordinates", NULL};
  for (int k = 0; skip[k]; k++)
    if (!strcmp(name, skip[k])) return 0;
  hid_t a = H5Aopen(src, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  const hssize_t n = H5Sget_simple_extent_npoints(sp);
  const size_t sz = H5Tget_size(t);
  void *buf = malloc(sz * (size_t)(n > 0 ? n : 1) + 1);
  int ok = buf && H5Aread(a, t, buf) >= 0;
  if (ok) {
    hid_t b = H5Acreate2(dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ok = b >= 0 && H5Awrite(b, t, buf) >= 0;
    if (H5Tis_variable_str(t) > 0) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    if (b >= 0) H5Aclose(b);
  }
  free(buf);
  H5Tclose(t);
  H5Sclose(sp);
  H5Aclose(a);
  return ok ? 0 : -1;
}

static int copy_attrs(hid_t src, hid_t dst) {
  hsize_t idx = 0;
  return H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, copy_attr_cb, &dst) < 0 ? -1 : 0;
}

static int put_str_attr(hid_t obj, const char *name, const char *val) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(val) + 1);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  int ok = a >= 0 && H5Awrite(a, t, val) >= 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  return ok ? 0 : -1;
}

/* A 1-D dataset of @p n variable-length UTF-8 strings. */
static hid_t put_strings(hid_t g, const char *name, char *const *vals, hsize_t n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t s = H5Screate_simple(1, &n, NULL);
  hid_t d = H5Dcreate2(g, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals) < 0) {
    H5Dclose(d);
    d = -1;
  }
  H5Sclose(s);
  H5Tclose(t);
  return d;
}

/* A member's /run attributes as "key: value" lines (malloc'd). */
static herr_t run_attr_cb(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
  (void)info;
  FILE *out = data;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  const H5T_class_t c = H5Tget_class(t);
  if (c == H5T_STRING) {
    char *s = NULL;
    if (clhs_h5_read_str(a, 1, 1 << 20, &s) == 0 && s) fprintf(out, "%s: %s\n", name, s);
    free(s);
  } else if (c == H5T_FLOAT) {
    double x = 0;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &x) >= 0) fprintf(out, "%s: %.17g\n", name, x);
  } else if (c == H5T_INTEGER) {
    if (H5Tget_sign(t) == H5T_SGN_NONE) {
      unsigned long long x = 0;
      if (H5Aread(a, H5T_NATIVE_ULLONG, &x) >= 0) fprintf(out, "%s: %llu\n", name, x);
    } else {
      long long x = 0;
      if (H5Aread(a, H5T_NATIVE_LLONG, &x) >= 0) fprintf(out, "%s: %lld\n", name, x);
    }
  }
  H5Tclose(t);
  H5Aclose(a);
  return 0;
}

static char *run_text(hid_t f) {
  char *buf = NULL;
  size_t n = 0;
  FILE *out = open_memstream(&buf, &n);
  if (!out) return NULL;
  hid_t g = H5Gopen2(f, "/run", H5P_DEFAULT);
  hsize_t idx = 0;
  if (g >= 0) H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, run_attr_cb, out);
  if (g >= 0) H5Gclose(g);
  fclose(out);
  return buf;
}

static int is_number(const char *s) {
  char *end = NULL;
  if (!s || !*s) return 0;
  strtod(s, &end);
  return *end == '\0';
}

/* A trial's allocation: trial_arm and trial_stratum [member, centre], int8, the centres'
 * sizes trial_patients (int32); the design in root attributes. */
static int write_trial(hid_t g, hid_t f, const clhs_design *d, const char *tmp, clhs_error *err) {
  const hsize_t dims[2] = {(hsize_t)d->nmembers, (hsize_t)d->ncentres};
  const char *name[2] = {"trial_arm", "trial_stratum"};
  const int8_t *data[2] = {d->arm, d->stratum};
  char ln[2][160];
  snprintf(ln[0], sizeof ln[0], "arm of the centre in the member's trial of levers.%s",
           d->trial_lever);
  snprintf(ln[1], sizeof ln[1], "size stratum of the centre in the trial (0 = smallest)");
  int st = CLHS_OK;
  hid_t sp = H5Screate_simple(2, dims, NULL);
  hid_t dm = H5Dopen2(g, "member", H5P_DEFAULT);
  hid_t dc = H5Lexists(g, "centre", H5P_DEFAULT) > 0 ? H5Dopen2(g, "centre", H5P_DEFAULT) : -1;
  for (int k = 0; k < 2 && !st; k++) {
    hid_t ds = H5Dcreate2(g, name[k], H5T_STD_I8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 &&
             H5Dwrite(ds, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data[k]) >= 0 &&
             !put_str_attr(ds, "long_name", ln[k]) && !put_str_attr(ds, "coordinates", "seed") &&
             H5DSattach_scale(ds, dm, 0) >= 0 && (dc < 0 || H5DSattach_scale(ds, dc, 1) >= 0);
    const int8_t fv[3] = {-1, 0, 1}, fill = -1;
    if (k == 0 && ok) {
      hsize_t three = 3;
      hid_t as = H5Screate_simple(1, &three, NULL);
      hid_t a = H5Acreate2(ds, "flag_values", H5T_STD_I8LE, as, H5P_DEFAULT, H5P_DEFAULT);
      ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT8, fv) >= 0 &&
           !put_str_attr(ds, "flag_meanings", "not_in_trial control intervention");
      if (a >= 0) H5Aclose(a);
      H5Sclose(as);
    }
    hid_t s1 = H5Screate(H5S_SCALAR);
    hid_t af =
        ok ? H5Acreate2(ds, "missing_value", H5T_STD_I8LE, s1, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = ok && af >= 0 && H5Awrite(af, H5T_NATIVE_INT8, &fill) >= 0;
    if (af >= 0) H5Aclose(af);
    H5Sclose(s1);
    if (!ok) st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write %s", tmp, name[k]);
    if (ds >= 0) H5Dclose(ds);
  }
  hid_t dp = st ? -1
                : H5Dcreate2(g, "trial_patients", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
  if (!st &&
      (dp < 0 || H5Dwrite(dp, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->patients) < 0 ||
       put_str_attr(dp, "long_name", "patients of the centre (the trial's size)") ||
       put_str_attr(dp, "units", "1") || put_str_attr(dp, "coordinates", "seed") ||
       H5DSattach_scale(dp, dm, 0) < 0 || (dc >= 0 && H5DSattach_scale(dp, dc, 1) < 0)))
    st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write trial_patients", tmp);
  if (dp >= 0) H5Dclose(dp);
  char seed[32], strata[16];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)d->trial_seed);
  snprintf(strata, sizeof strata, "%d", d->trial_strata);
  if (!st && (put_str_attr(f, "trial_lever", d->trial_lever) ||
              put_str_attr(f, "trial_seed", seed) || put_str_attr(f, "trial_strata", strata)))
    st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write the trial's attributes", tmp);
  if (dc >= 0) H5Dclose(dc);
  if (dm >= 0) H5Dclose(dm);
  H5Sclose(sp);
  return st;
}

void clhs_ensemble_coords(const clhs_design *d, char *buf, size_t len) {
  snprintf(buf, len, "seed");
  int any_scenario = 0;
  for (int64_t m = 0; m < d->nmembers; m++)
    any_scenario |= d->scenario[m] && d->scenario[m][0];
  if (any_scenario && strlen(buf) + 10 < len) strcat(buf, " scenario");
  for (int j = 0; j < d->nparams; j++)
    if (strlen(buf) + strlen(d->param[j]) + 2 < len) {
      strcat(buf, " ");
      strcat(buf, d->param[j]);
    }
}

int clhs_ensemble_check_existing(const char *out, const char *design_text, clhs_error *err) {
  struct stat sb;
  if (lstat(out, &sb) != 0) return CLHS_OK;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  hid_t f = S_ISREG(sb.st_mode) ? H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  char *prev = NULL;
  if (f >= 0 && H5Aexists(f, "design") > 0) {
    hid_t a = H5Aopen(f, "design", H5P_DEFAULT);
    clhs_h5_read_str(a, 1, 1 << 24, &prev);
    H5Aclose(a);
  }
  if (f >= 0) H5Fclose(f);
  clhs_h5_quiet_off(&q);
  const int same = prev && !strcmp(prev, design_text);
  free(prev);
  if (same) return CLHS_OK;
  return clhs_error_set(err, CLHS_EINPUT,
                        "'%s' exists and is not this ensemble's output (another design, or not "
                        "an ensemble file): remove it or give another -o",
                        out);
}

/* The variables and axes of a member file's /timeseries (malloc'd; NULL on failure). */
static elist *list_member(hid_t g) {
  elist *L = calloc(1, sizeof *L);
  hsize_t idx = 0;
  if (L && H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, list_cb, L) < 0) {
    for (int i = 0; i < L->n; i++)
      H5Tclose(L->v[i].ftype);
    free(L);
    L = NULL;
  }
  return L;
}

static void free_list(elist *L) {
  for (int i = 0; L && i < L->n; i++)
    H5Tclose(L->v[i].ftype);
  free(L);
}

/* A new ensemble file @p tmp with the layout of the member file @p g0 (/timeseries): the
 * member axis, the members' axes and what is the same for every member (copied), every
 * variable [M, ...] (empty), and /members/written [M] (0: the member's rows are not yet in). */
static int create_layout(const char *tmp, hsize_t M, const char *coords, hid_t g0,
                         const char *file0, clhs_error *err) {
  int st = CLHS_OK;
  elist *L = list_member(g0);
  if (!L) return clhs_h5_fail(err, CLHS_EIO, "member file '%s': cannot list /timeseries", file0);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = f >= 0 ? H5Gcreate2(f, "timeseries", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  hid_t gm = f >= 0 ? H5Gcreate2(f, "members", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  if (g < 0 || gm < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot create '%s'", tmp);
  if (!st) {
    int64_t *mi = malloc(sizeof *mi * M);
    unsigned char *zero = calloc(M, 1);
    hid_t s = H5Screate_simple(1, &M, NULL);
    hid_t dm = H5Dcreate2(g, "member", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dw = H5Dcreate2(gm, "written", H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (hsize_t m = 0; mi && m < M; m++)
      mi[m] = (int64_t)m;
    if (!mi || !zero || dm < 0 || dw < 0 ||
        H5Dwrite(dm, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, mi) < 0 ||
        H5Dwrite(dw, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, zero) < 0 ||
        H5DSset_scale(dm, "member") < 0 || put_str_attr(dm, "long_name", "ensemble member"))
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write the member axis", tmp);
    free(mi);
    free(zero);
    if (dm >= 0) H5Dclose(dm);
    if (dw >= 0) H5Dclose(dw);
    H5Sclose(s);
  }
  /* the axes (copied), what is the same for every member (copied), then the variables (created
   * with the member dimension first) */
  for (int pass = 0; pass < 3 && !st; pass++)
    for (int i = 0; i < L->n && !st; i++) {
      evar *v = &L->v[i];
      if ((pass == 0 && !v->is_scale) || (pass == 1 && !v->once) ||
          (pass == 2 && (v->is_scale || v->once)))
        continue;
      hid_t src = H5Dopen2(g0, v->name, H5P_DEFAULT);
      if (pass < 2) {
        hid_t sp = H5Screate_simple(v->ndims, v->dims, NULL); /* fixed: not extendible */
        const hssize_t n = H5Sget_simple_extent_npoints(sp);
        void *buf = malloc(H5Tget_size(v->ftype) * (size_t)(n > 0 ? n : 1));
        hid_t dst = H5Dcreate2(g, v->name, v->ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        /* a netCDF dimension without a variable (nv) keeps its NAME, which says so */
        char *sname = NULL;
        if (H5Aexists(src, "NAME") > 0) {
          hid_t a = H5Aopen(src, "NAME", H5P_DEFAULT);
          clhs_h5_read_str(a, 1, 256, &sname);
          H5Aclose(a);
        }
        const char *pure = "This is a netCDF dimension but not a netCDF variable.";
        int ok = buf && dst >= 0 &&
                 H5Dread(src, v->ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0 &&
                 H5Dwrite(dst, v->ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0 &&
                 !copy_attrs(src, dst);
        if (ok && pass == 0)
          ok = H5DSset_scale(dst, sname && !strncmp(sname, pure, strlen(pure)) ? sname : v->name) >=
               0;
        for (int k = 0; ok && pass == 1 && k < v->ndims; k++) {
          hid_t sc = v->scale[k][0] ? H5Dopen2(g, v->scale[k], H5P_DEFAULT) : -1;
          ok = sc < 0 || H5DSattach_scale(dst, sc, (unsigned)k) >= 0;
          if (sc >= 0) H5Dclose(sc);
        }
        free(sname);
        if (!ok) st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot copy the axis %s", tmp, v->name);
        free(buf);
        if (dst >= 0) H5Dclose(dst);
        H5Sclose(sp);
      } else {
        hsize_t dims[MAXDIMS], chunk[MAXDIMS];
        dims[0] = M;
        chunk[0] = 1;
        for (int k = 0; k < v->ndims; k++)
          dims[k + 1] = chunk[k + 1] = v->dims[k];
        int empty = 0;
        for (int k = 0; k < v->ndims; k++)
          empty |= v->dims[k] == 0;
        hid_t sp = H5Screate_simple(v->ndims + 1, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        if (!empty) {
          H5Pset_chunk(pl, v->ndims + 1, chunk);
          H5Pset_shuffle(pl);
          H5Pset_deflate(pl, 1);
        }
        hid_t dst = H5Dcreate2(g, v->name, v->ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        hid_t dm = H5Dopen2(g, "member", H5P_DEFAULT);
        /* the member's coordinates (its axes' label variables) after the ensemble's */
        char vcoords[4096 + 512], *own = NULL;
        if (H5Aexists(src, "coordinates") > 0) {
          hid_t a = H5Aopen(src, "coordinates", H5P_DEFAULT);
          clhs_h5_read_str(a, 1, 500, &own);
          H5Aclose(a);
        }
        snprintf(vcoords, sizeof vcoords, "%s%s%s", coords, own ? " " : "", own ? own : "");
        free(own);
        int ok = dst >= 0 && dm >= 0 && !copy_attrs(src, dst) &&
                 !put_str_attr(dst, "coordinates", vcoords) && H5DSattach_scale(dst, dm, 0) >= 0;
        for (int k = 0; ok && k < v->ndims; k++) {
          if (!v->scale[k][0]) continue;
          hid_t sc = H5Dopen2(g, v->scale[k], H5P_DEFAULT);
          ok = sc >= 0 && H5DSattach_scale(dst, sc, (unsigned)k + 1) >= 0;
          if (sc >= 0) H5Dclose(sc);
        }
        if (!ok) st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot create %s", tmp, v->name);
        if (dm >= 0) H5Dclose(dm);
        if (dst >= 0) H5Dclose(dst);
        H5Pclose(pl);
        H5Sclose(sp);
      }
      H5Dclose(src);
    }
  free_list(L);
  if (gm >= 0) H5Gclose(gm);
  if (g >= 0) H5Gclose(g);
  if (f >= 0 && H5Fclose(f) < 0 && !st) st = clhs_h5_fail(err, CLHS_EIO, "cannot close '%s'", tmp);
  return st;
}

/* Member @p m's rows of every stacked variable, from its file's /timeseries @p gmm, into the
 * ensemble file @p f; then /members/written[m] = 1. */
static int put_rows(hid_t f, hsize_t m, hid_t gmm, const char *file, const char *tmp,
                    clhs_error *err) {
  hid_t g = H5Gopen2(f, "/timeseries", H5P_DEFAULT);
  elist *L = list_member(gmm);
  int st =
      g < 0 || !L ? clhs_h5_fail(err, CLHS_EIO, "'%s' or '%s': cannot list", tmp, file) : CLHS_OK;
  for (int i = 0; L && i < L->n && !st; i++) {
    evar *v = &L->v[i];
    if (v->is_scale || v->once) continue;
    hid_t dst = H5Dopen2(g, v->name, H5P_DEFAULT);
    hid_t fs = dst >= 0 ? H5Dget_space(dst) : -1;
    hsize_t fd[MAXDIMS] = {0};
    int same = fs >= 0 && H5Sget_simple_extent_ndims(fs) == v->ndims + 1;
    if (same) H5Sget_simple_extent_dims(fs, fd, NULL);
    for (int k = 0; same && k < v->ndims; k++)
      same = fd[k + 1] == v->dims[k];
    same = same && m < fd[0];
    hsize_t n = 1;
    for (int k = 0; k < v->ndims; k++)
      n *= v->dims[k];
    void *buf = malloc(H5Tget_size(v->ftype) * (size_t)(n ? n : 1));
    if (!same || !buf) {
      st = clhs_error_set(err, CLHS_EIO,
                          "member file '%s': /timeseries/%s has another shape than the "
                          "ensemble's (or is not in it)",
                          file, v->name);
    } else if (n > 0) {
      hid_t src = H5Dopen2(gmm, v->name, H5P_DEFAULT);
      hsize_t start[MAXDIMS] = {m}, count[MAXDIMS];
      count[0] = 1;
      for (int k = 0; k < v->ndims; k++)
        count[k + 1] = v->dims[k];
      hid_t ms = H5Screate_simple(v->ndims, v->dims, NULL);
      if (src < 0 || H5Dread(src, v->ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ||
          H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
          H5Dwrite(dst, v->ftype, ms, fs, H5P_DEFAULT, buf) < 0)
        st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write member %llu of %s", tmp,
                          (unsigned long long)m, v->name);
      H5Sclose(ms);
      if (src >= 0) H5Dclose(src);
    }
    free(buf);
    if (fs >= 0) H5Sclose(fs);
    if (dst >= 0) H5Dclose(dst);
  }
  free_list(L);
  if (g >= 0) H5Gclose(g);
  if (!st) {
    hid_t dw = H5Dopen2(f, "/members/written", H5P_DEFAULT);
    hid_t fs = dw >= 0 ? H5Dget_space(dw) : -1;
    const hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    const unsigned char yes = 1;
    if (fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &m, NULL, &one, NULL) < 0 ||
        H5Dwrite(dw, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, &yes) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot mark member %llu written", tmp,
                        (unsigned long long)m);
    H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (dw >= 0) H5Dclose(dw);
  }
  return st;
}

int clhs_ensemble_put_member(const char *tmp, const char *lock, int64_t nmembers,
                             const char *coords, int64_t m, const char *member_file,
                             clhs_error *err) {
  const int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    const int e = errno;
    if (fd >= 0) close(fd);
    return clhs_error_set(err, CLHS_EIO, "cannot lock '%s': %s", lock, strerror(e));
  }
  h5quiet q;
  clhs_h5_quiet_on(&q);
  int st = CLHS_OK;
  hid_t fm = H5Fopen(member_file, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t gmm = fm >= 0 ? H5Gopen2(fm, "/timeseries", H5P_DEFAULT) : -1;
  if (gmm < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot open member file '%s'", member_file);
  struct stat sb;
  if (!st && lstat(tmp, &sb) != 0) /* the first member written: the layout */
    st = create_layout(tmp, (hsize_t)nmembers, coords, gmm, member_file, err);
  hid_t f = st ? -1 : H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
  if (!st && f < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot open '%s'", tmp);
  if (!st) st = put_rows(f, (hsize_t)m, gmm, member_file, tmp, err);
  if (f >= 0 && H5Fclose(f) < 0 && !st) st = clhs_h5_fail(err, CLHS_EIO, "cannot close '%s'", tmp);
  if (gmm >= 0) H5Gclose(gmm);
  if (fm >= 0) H5Fclose(fm);
  clhs_h5_quiet_off(&q);
  flock(fd, LOCK_UN);
  close(fd);
  return st;
}

/* The member coordinates (seed, scenario, the varied parameters), attached to `member`. */
static int write_coords(hid_t g, const clhs_design *d, const char *tmp, clhs_error *err) {
  const hsize_t M = (hsize_t)d->nmembers;
  int st = CLHS_OK;
  hid_t s = H5Screate_simple(1, &M, NULL);
  hid_t dm = H5Dopen2(g, "member", H5P_DEFAULT);
  hid_t ds = H5Dcreate2(g, "seed", H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (dm < 0 || ds < 0 ||
      H5Dwrite(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->seed) < 0 ||
      put_str_attr(ds, "long_name", "run.seed of the member") || H5DSattach_scale(ds, dm, 0) < 0)
    st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write the seeds", tmp);
  int any_scenario = 0;
  for (hsize_t m = 0; m < M; m++)
    any_scenario |= d->scenario[m] && d->scenario[m][0];
  if (!st && any_scenario) {
    hid_t dsc = put_strings(g, "scenario", d->scenario, M);
    if (dsc < 0 || H5DSattach_scale(dsc, dm, 0) < 0 ||
        put_str_attr(dsc, "long_name", "scenario of the member"))
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write the scenarios", tmp);
    if (dsc >= 0) H5Dclose(dsc);
  }
  char **col = malloc(sizeof *col * M);
  double *x = malloc(sizeof *x * M);
  if (!st && (!col || !x)) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  for (int j = 0; !st && j < d->nparams; j++) {
    int numeric = 1;
    for (hsize_t m = 0; m < M; m++) {
      col[m] = d->value[m * (hsize_t)d->nparams + (hsize_t)j];
      numeric &= is_number(col[m]);
      x[m] = numeric ? strtod(col[m], NULL) : 0;
    }
    hid_t dp;
    if (numeric) {
      dp = H5Dcreate2(g, d->param[j], H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (dp >= 0 && H5Dwrite(dp, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0) {
        H5Dclose(dp);
        dp = -1;
      }
    } else {
      dp = put_strings(g, d->param[j], col, M);
    }
    char ln[256];
    snprintf(ln, sizeof ln, "%s of the member (the design varies it)", d->param[j]);
    if (dp < 0 || H5DSattach_scale(dp, dm, 0) < 0 || put_str_attr(dp, "long_name", ln))
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write the parameter %s", tmp, d->param[j]);
    if (dp >= 0) H5Dclose(dp);
  }
  free(col);
  free(x);
  if (ds >= 0) H5Dclose(ds);
  if (dm >= 0) H5Dclose(dm);
  H5Sclose(s);
  return st;
}

int clhs_ensemble_write(const char *out, const char *tmp, const clhs_design *d, char *const *files,
                        const char *design_text, clhs_error *err) {
  const hsize_t M = (hsize_t)d->nmembers;
  int st = clhs_ensemble_check_existing(out, design_text, err);
  if (st) return st;
  h5quiet q;
  clhs_h5_quiet_on(&q);
  char coords[4096];
  clhs_ensemble_coords(d, coords, sizeof coords);
  struct stat sb;
  if (lstat(tmp, &sb) != 0) { /* no member written this launch: the layout from member 0 */
    hid_t f0 = H5Fopen(files[0], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g0 = f0 >= 0 ? H5Gopen2(f0, "/timeseries", H5P_DEFAULT) : -1;
    st = g0 < 0 ? clhs_h5_fail(err, CLHS_EIO, "cannot open member file '%s'", files[0])
                : create_layout(tmp, M, coords, g0, files[0], err);
    if (g0 >= 0) H5Gclose(g0);
    if (f0 >= 0) H5Fclose(f0);
  }
  hid_t f = st ? -1 : H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
  if (!st && f < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot open '%s'", tmp);
  unsigned char *written = calloc(M, 1);
  if (!st && !written) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  if (!st) {
    hid_t dw = H5Dopen2(f, "/members/written", H5P_DEFAULT);
    if (dw < 0 || H5Dread(dw, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, written) < 0)
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot read /members/written", tmp);
    if (dw >= 0) H5Dclose(dw);
  }
  hid_t g = st ? -1 : H5Gopen2(f, "/timeseries", H5P_DEFAULT);
  hid_t gm = st ? -1 : H5Gopen2(f, "/members", H5P_DEFAULT);
  /* the rows not written as members finished (members done before this launch), each
   * member's configuration and /run record */
  char **yaml = calloc(M, sizeof *yaml), **run = calloc(M, sizeof *run);
  if (!st && (!yaml || !run)) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  for (hsize_t m = 0; m < M && !st; m++) {
    hid_t fm = H5Fopen(files[m], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t gmm = fm >= 0 ? H5Gopen2(fm, "/timeseries", H5P_DEFAULT) : -1;
    if (gmm < 0) st = clhs_h5_fail(err, CLHS_EIO, "cannot open member file '%s'", files[m]);
    if (!st && !written[m]) st = put_rows(f, m, gmm, files[m], tmp, err);
    if (!st) {
      hid_t gp = H5Gopen2(fm, "/parameters", H5P_DEFAULT);
      hid_t a = gp >= 0 ? H5Aopen(gp, "yaml", H5P_DEFAULT) : -1;
      if (a < 0 || clhs_h5_read_str(a, 1, 1 << 24, &yaml[m]) != 0)
        st =
            clhs_h5_fail(err, CLHS_EIO, "member file '%s': cannot read /parameters@yaml", files[m]);
      if (a >= 0) H5Aclose(a);
      if (gp >= 0) H5Gclose(gp);
      run[m] = run_text(fm);
      if (!run[m]) run[m] = strdup("");
    }
    if (gmm >= 0) H5Gclose(gmm);
    if (fm >= 0) H5Fclose(fm);
  }
  if (!st) st = write_coords(g, d, tmp, err);
  if (!st && d->arm) st = write_trial(g, f, d, tmp, err);
  if (!st) {
    hid_t a = put_strings(gm, "config_yaml", yaml, M), b = put_strings(gm, "run", run, M);
    char members[32];
    snprintf(members, sizeof members, "%llu", (unsigned long long)M);
    if (a < 0 || b < 0 || H5Ldelete(gm, "written", H5P_DEFAULT) < 0 ||
        put_str_attr(f, "Conventions", "CF-1.9") || put_str_attr(f, "source", "clhsim ensemble") ||
        put_str_attr(f, "model_version", CLHS_MODEL_VERSION) ||
        put_str_attr(f, "design", design_text) || put_str_attr(f, "members", members) ||
        put_str_attr(g, "Conventions", "CF-1.9"))
      st = clhs_h5_fail(err, CLHS_EIO, "'%s': cannot write /members", tmp);
    if (a >= 0) H5Dclose(a);
    if (b >= 0) H5Dclose(b);
  }
  for (hsize_t m = 0; yaml && run && m < M; m++) {
    free(yaml[m]);
    free(run[m]);
  }
  free(yaml);
  free(run);
  free(written);
  if (gm >= 0) H5Gclose(gm);
  if (g >= 0) H5Gclose(g);
  if (f >= 0 && H5Fclose(f) < 0 && !st) st = clhs_h5_fail(err, CLHS_EIO, "cannot close '%s'", tmp);
  if (!st && rename(tmp, out) != 0)
    st = clhs_error_set(err, CLHS_EIO, "cannot rename '%s' to '%s': %s", tmp, out, strerror(errno));
  if (st)
    remove(tmp);
  else
    clhs_fsync_folder_of(out);
  clhs_h5_quiet_off(&q);
  return st;
}
