/*
 * The HDF5 output module under MPI (run at 1 and 3 ranks).
 *
 * Writes an output with every dtype, a centre-distributed variable with
 * uneven blocks (at 3 ranks rank 1 owns no centre), a distributed axis in the
 * middle of a variable and a labelled axis; appends more than two batches with
 * an unaligned flush in between; closes; then rank 0 reads the file back with
 * serial HDF5 and checks every value and attribute.
 *
 * cmocka under MPI: checks count failures on each rank, the counts are summed
 * over ranks, and only then asserted, so that every rank takes the same path
 * through the collective calls.
 *
 * Usage: test_output [OUTPUT.h5] (default test_output_npN.h5 in the current
 * folder; the file is kept for tests/integration/check_xarray.py).
 */
#define _POSIX_C_SOURCE 200809L

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "clhs/output.h"

#define NREC 150     /* > 2 batches of 64 */
#define FLUSH_AT 100 /* an explicit flush that leaves the batches unaligned */
#define NCENTRES 7
#define NTIER 4
#define NTYPE 3

static char g_path[1024];

static const char *const type_labels[NTYPE] = {"PAT", "FAM", "CLIN"};

enum { V_X, V_N, V_U, V_PREV, V_BYTYPE, V_CT, V_TC, NV };

static const clhs_out_var g_vars[NV] = {
    {"x", "a scalar float", "1", CLHS_F64, 0, {{0}}, "the long description of x", 0},
    {"n", "a scalar int64", "1", CLHS_I64, 0, {{0}}, NULL, 1},
    {"u", "a scalar uint64", "1", CLHS_U64, 0, {{0}}, NULL, 0},
    {"prev",
     "a float per centre",
     "1",
     CLHS_F64,
     1,
     {{"centre", 1, 0, NULL, "centre index"}},
     NULL,
     0},
    {"by_type",
     "an int64 per agent type",
     "agents",
     CLHS_I64,
     1,
     {{"type", 0, NTYPE, type_labels, "agent type"}},
     NULL,
     1},
    {"ct",
     "int8 per centre and tier",
     "1",
     CLHS_I8,
     2,
     {{"centre", 1, 0, NULL, "centre index"}, {"tier", 0, NTIER, NULL, "engagement tier"}},
     NULL,
     0},
    {"tc",
     "uint64 per tier and centre",
     "1",
     CLHS_U64,
     2,
     {{"tier", 0, NTIER, NULL, "engagement tier"}, {"centre", 1, 0, NULL, "centre index"}},
     NULL,
     0},
};

/* Expected values, a function of (record, indices). */
static double val_x(int k) {
  return k == 5 ? NAN : 0.5 * k + 1.0 / 3.0;
}
static int64_t val_n(int k) {
  return INT64_MIN + 3 * (int64_t)k;
}
static uint64_t val_u(int k) {
  return UINT64_MAX - (uint64_t)k;
}
static double val_prev(int k, int64_t c) {
  return 100.0 * k + (double)c + 0.25;
}
static int64_t val_bytype(int k, int t) {
  return (int64_t)k * 1000 + t;
}
static int8_t val_ct(int k, int64_t c, int tier) {
  return (int8_t)((k + 5 * c + tier) % 256 - 128);
}
static uint64_t val_tc(int k, int tier, int64_t c) {
  return ((uint64_t)1 << 63) + (uint64_t)k * 100 + (uint64_t)tier * 10 + (uint64_t)c;
}

/** Uneven blocks: rank 0 owns 4 centres, rank 1 none, the last rank the rest. */
static clhs_out_layout layout_for(int rank, int size) {
  clhs_out_layout l = {NCENTRES, 0, 0};
  if (size == 1) {
    l.centre_count = NCENTRES;
    return l;
  }
  if (rank == 0) l.centre_count = 4;
  if (rank == size - 1) {
    l.centre_begin = 4;
    l.centre_count = NCENTRES - 4;
  } else if (rank > 0) {
    l.centre_begin = 4;
  }
  return l;
}

static void make_config(clhs_config *cfg) {
  clhs_config_defaults(cfg);
  snprintf(cfg->run.start_date, sizeof cfg->run.start_date, "2007-01-01");
}

static int file_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

/* --- reading back (rank 0, serial HDF5) --------------------------------- */

/** Read a whole dataset into a malloc'd buffer of @p memtype; dims into @p dims. */
static void *read_all(hid_t f, const char *name, hid_t memtype, int *rank, hsize_t *dims) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  CHECK(d >= 0, "cannot open %s", name);
  if (d < 0) return NULL;
  hid_t s = H5Dget_space(d);
  *rank = H5Sget_simple_extent_dims(s, dims, NULL);
  hssize_t n = H5Sget_simple_extent_npoints(s);
  void *buf = calloc((size_t)(n > 0 ? n : 1), H5Tget_size(memtype));
  CHECK(H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "cannot read %s", name);
  H5Sclose(s);
  H5Dclose(d);
  return buf;
}

/** A fixed-length string attribute as a C string (@p out, size @p len). */
static void read_str_attr(hid_t f, const char *obj, const char *name, char *out, size_t len) {
  out[0] = '\0';
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(a >= 0, "no attribute %s on %s", name, obj);
  if (a < 0) return;
  hid_t t = H5Aget_type(a);
  CHECK(H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t),
        "attribute %s on %s is not a fixed-length string", name, obj);
  size_t n = H5Tget_size(t);
  char *buf = calloc(n + 1, 1);
  hid_t mt = H5Tcopy(t);
  CHECK(H5Aread(a, mt, buf) >= 0, "cannot read attribute %s on %s", name, obj);
  snprintf(out, len, "%s", buf);
  free(buf);
  H5Tclose(mt);
  H5Tclose(t);
  H5Aclose(a);
}

static int is_scale_attached(hid_t f, const char *var, const char *scale, unsigned idx) {
  hid_t d = H5Dopen2(f, var, H5P_DEFAULT), s = H5Dopen2(f, scale, H5P_DEFAULT);
  int r = d >= 0 && s >= 0 && H5DSis_attached(d, s, idx) > 0;
  if (d >= 0) H5Dclose(d);
  if (s >= 0) H5Dclose(s);
  return r;
}

static void verify_file(const char *path, const clhs_config *cfg) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0, "cannot open %s", path);
  if (f < 0) return;
  int rank;
  hsize_t dims[4];
  char s[4096], want[128];

  double *t = read_all(f, "/timeseries/time", H5T_NATIVE_DOUBLE, &rank, dims);
  CHECK(rank == 1 && dims[0] == NREC, "time has %d dims, %llu records", rank,
        (unsigned long long)dims[0]);
  for (int k = 0; t && k < NREC; k++)
    CHECK(t[k] == 7.0 * k, "time[%d] = %g", k, t[k]);
  free(t);
  read_str_attr(f, "/timeseries/time", "units", s, sizeof s);
  snprintf(want, sizeof want, "days since %s", cfg->run.start_date);
  CHECK(strcmp(s, want) == 0, "time units '%s'", s);
  read_str_attr(f, "/timeseries/time", "calendar", s, sizeof s);
  CHECK(strcmp(s, "proleptic_gregorian") == 0, "time calendar '%s'", s);
  /* CF cell boundaries: record k covers (time[k-1], time[k]]; the first, [time[0], time[0]]. */
  read_str_attr(f, "/timeseries/time", "bounds", s, sizeof s);
  CHECK(strcmp(s, "time_bnds") == 0, "time bounds '%s'", s);
  double *tb = read_all(f, "/timeseries/time_bnds", H5T_NATIVE_DOUBLE, &rank, dims);
  CHECK(tb && rank == 2 && dims[0] == NREC && dims[1] == 2, "time_bnds shape");
  for (int k = 0; tb && k < NREC; k++)
    CHECK(tb[2 * k] == 7.0 * (k ? k - 1 : 0) && tb[2 * k + 1] == 7.0 * k, "time_bnds[%d] = %g %g",
          k, tb[2 * k], tb[2 * k + 1]);
  free(tb);
  CHECK(is_scale_attached(f, "/timeseries/time_bnds", "/timeseries/time", 0),
        "time not attached to time_bnds");
  CHECK(is_scale_attached(f, "/timeseries/time_bnds", "/timeseries/nv", 1),
        "nv not attached to time_bnds");
  read_str_attr(f, "/timeseries/nv", "NAME", s, sizeof s);
  CHECK(strncmp(s, "This is a netCDF dimension but not a netCDF variable.", 53) == 0,
        "nv is not a netCDF dimension without a variable: NAME '%s'", s);
  read_str_attr(f, "/timeseries/n", "cell_methods", s, sizeof s);
  CHECK(strcmp(s, "time: sum") == 0, "n cell_methods '%s'", s);
  CHECK(H5Aexists_by_name(f, "/timeseries/x", "cell_methods", H5P_DEFAULT) == 0,
        "x has cell_methods");
  read_str_attr(f, "/timeseries/x", "comment", s, sizeof s);
  CHECK(strcmp(s, "the long description of x") == 0, "x comment '%s'", s);
  CHECK(H5Aexists_by_name(f, "/timeseries/n", "comment", H5P_DEFAULT) == 0, "n has a comment");
  /* /timeseries is the same for two identical runs: no time of writing there. */
  CHECK(H5Aexists_by_name(f, "/timeseries", "date_created", H5P_DEFAULT) == 0 &&
            H5Aexists_by_name(f, "/timeseries", "history", H5P_DEFAULT) == 0,
        "/timeseries has date_created or history");
  CHECK(H5Aexists_by_name(f, "/", "date_created", H5P_DEFAULT) > 0 &&
            H5Aexists_by_name(f, "/", "history", H5P_DEFAULT) > 0,
        "/ lacks date_created or history");

  double *x = read_all(f, "/timeseries/x", H5T_NATIVE_DOUBLE, &rank, dims);
  CHECK(rank == 1 && dims[0] == NREC, "x shape");
  for (int k = 0; x && k < NREC; k++)
    CHECK(k == 5 ? isnan(x[k]) : x[k] == val_x(k), "x[%d] = %.17g", k, x[k]);
  free(x);
  read_str_attr(f, "/timeseries/x", "long_name", s, sizeof s);
  CHECK(strcmp(s, "a scalar float") == 0, "x long_name '%s'", s);
  read_str_attr(f, "/timeseries/x", "units", s, sizeof s);
  CHECK(strcmp(s, "1") == 0, "x units '%s'", s);

  int64_t *n = read_all(f, "/timeseries/n", H5T_NATIVE_INT64, &rank, dims);
  CHECK(rank == 1 && dims[0] == NREC, "n shape");
  for (int k = 0; n && k < NREC; k++)
    CHECK(n[k] == val_n(k), "n[%d]", k);
  free(n);

  uint64_t *u = read_all(f, "/timeseries/u", H5T_NATIVE_UINT64, &rank, dims);
  CHECK(rank == 1 && dims[0] == NREC, "u shape");
  for (int k = 0; u && k < NREC; k++)
    CHECK(u[k] == val_u(k), "u[%d]", k);
  free(u);

  double *p = read_all(f, "/timeseries/prev", H5T_NATIVE_DOUBLE, &rank, dims);
  CHECK(rank == 2 && dims[0] == NREC && dims[1] == NCENTRES, "prev shape");
  for (int k = 0; p && k < NREC; k++)
    for (int c = 0; c < NCENTRES; c++)
      CHECK(p[k * NCENTRES + c] == val_prev(k, c), "prev[%d][%d] = %g", k, c, p[k * NCENTRES + c]);
  free(p);

  int64_t *bt = read_all(f, "/timeseries/by_type", H5T_NATIVE_INT64, &rank, dims);
  CHECK(rank == 2 && dims[0] == NREC && dims[1] == NTYPE, "by_type shape");
  for (int k = 0; bt && k < NREC; k++)
    for (int ty = 0; ty < NTYPE; ty++)
      CHECK(bt[k * NTYPE + ty] == val_bytype(k, ty), "by_type[%d][%d]", k, ty);
  free(bt);

  int8_t *ct = read_all(f, "/timeseries/ct", H5T_NATIVE_INT8, &rank, dims);
  CHECK(rank == 3 && dims[0] == NREC && dims[1] == NCENTRES && dims[2] == NTIER, "ct shape");
  for (int k = 0; ct && k < NREC; k++)
    for (int c = 0; c < NCENTRES; c++)
      for (int r = 0; r < NTIER; r++)
        CHECK(ct[(k * NCENTRES + c) * NTIER + r] == val_ct(k, c, r), "ct[%d][%d][%d]", k, c, r);
  free(ct);

  uint64_t *tc = read_all(f, "/timeseries/tc", H5T_NATIVE_UINT64, &rank, dims);
  CHECK(rank == 3 && dims[0] == NREC && dims[1] == NTIER && dims[2] == NCENTRES, "tc shape");
  for (int k = 0; tc && k < NREC; k++)
    for (int r = 0; r < NTIER; r++)
      for (int c = 0; c < NCENTRES; c++)
        CHECK(tc[(k * NTIER + r) * NCENTRES + c] == val_tc(k, r, c), "tc[%d][%d][%d]", k, r, c);
  free(tc);

  /* Coordinates and dimension scales. */
  int64_t *cen = read_all(f, "/timeseries/centre", H5T_NATIVE_INT64, &rank, dims);
  CHECK(rank == 1 && dims[0] == NCENTRES, "centre shape");
  for (int c = 0; cen && c < NCENTRES; c++)
    CHECK(cen[c] == c, "centre[%d] = %lld", c, (long long)cen[c]);
  free(cen);
  int64_t *tier = read_all(f, "/timeseries/tier", H5T_NATIVE_INT64, &rank, dims);
  CHECK(rank == 1 && dims[0] == NTIER, "tier shape");
  for (int r = 0; tier && r < NTIER; r++)
    CHECK(tier[r] == r, "tier[%d]", r);
  free(tier);
  /* Labels: an integer coordinate with CF flag_values / flag_meanings (netCDF-C 4.9.0
   * crashes on arrays of fixed-length strings). */
  int64_t *tyc = read_all(f, "/timeseries/type", H5T_NATIVE_INT64, &rank, dims);
  CHECK(rank == 1 && dims[0] == NTYPE, "type shape");
  for (int i = 0; tyc && i < NTYPE; i++)
    CHECK(tyc[i] == i, "type[%d]", i);
  free(tyc);
  read_str_attr(f, "/timeseries/type", "flag_meanings", s, sizeof s);
  CHECK(strcmp(s, "PAT FAM CLIN") == 0, "type flag_meanings '%s'", s);
  int64_t fv[NTYPE] = {-1, -1, -1};
  hid_t a_fv = H5Aopen_by_name(f, "/timeseries/type", "flag_values", H5P_DEFAULT, H5P_DEFAULT);
  CHECK(a_fv >= 0 && H5Aread(a_fv, H5T_NATIVE_INT64, fv) >= 0, "no type flag_values");
  if (a_fv >= 0) H5Aclose(a_fv);
  for (int i = 0; i < NTYPE; i++)
    CHECK(fv[i] == i, "type flag_values[%d] = %lld", i, (long long)fv[i]);
  CHECK(H5Aexists_by_name(f, "/timeseries/tier", "flag_meanings", H5P_DEFAULT) == 0,
        "tier has labels");
  /* The CF label variable type_name(type, name_strlen), named in by_type's coordinates. */
  hid_t dn = H5Dopen2(f, "/timeseries/type_name", H5P_DEFAULT);
  hid_t sn = dn >= 0 ? H5Dget_space(dn) : -1;
  hsize_t nd[2] = {0, 0};
  CHECK(sn >= 0 && H5Sget_simple_extent_ndims(sn) == 2 &&
            H5Sget_simple_extent_dims(sn, nd, NULL) == 2 && nd[0] == NTYPE && nd[1] == 4,
        "type_name is not a %d x 4 character array", NTYPE);
  CHECK(is_scale_attached(f, "/timeseries/type_name", "/timeseries/type_strlen", 1),
        "type_strlen not attached to type_name");
  char names[NTYPE * 4 + 1] = "";
  hid_t t1 = H5Tcopy(H5T_C_S1);
  H5Tset_size(t1, 1);
  H5Tset_strpad(t1, H5T_STR_NULLPAD);
  CHECK(dn >= 0 && nd[0] == NTYPE && nd[1] == 4 &&
            H5Dread(dn, t1, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0 &&
            !memcmp(names, "PAT\0FAM\0CLIN", 12),
        "type_name holds '%.12s'", names);
  H5Tclose(t1);
  if (sn >= 0) H5Sclose(sn);
  if (dn >= 0) H5Dclose(dn);
  CHECK(H5Lexists(f, "/timeseries/tier_name", H5P_DEFAULT) == 0, "tier (no labels) has names");
  read_str_attr(f, "/timeseries/by_type", "coordinates", s, sizeof s);
  CHECK(strcmp(s, "type_name") == 0, "by_type coordinates '%s'", s);
  CHECK(is_scale_attached(f, "/timeseries/x", "/timeseries/time", 0), "time not attached to x");
  CHECK(is_scale_attached(f, "/timeseries/prev", "/timeseries/centre", 1), "centre not on prev");
  CHECK(is_scale_attached(f, "/timeseries/by_type", "/timeseries/type", 1), "type not on by_type");
  CHECK(is_scale_attached(f, "/timeseries/ct", "/timeseries/tier", 2), "tier not on ct");
  CHECK(is_scale_attached(f, "/timeseries/tc", "/timeseries/tier", 1), "tier not on tc");
  CHECK(is_scale_attached(f, "/timeseries/tc", "/timeseries/centre", 2), "centre not on tc");

  /* Global attributes, /code, /parameters, /run. */
  read_str_attr(f, "/", "Conventions", s, sizeof s);
  CHECK(strcmp(s, "CF-1.9") == 0, "Conventions '%s'", s);
  read_str_attr(f, "/", "title", s, sizeof s);
  CHECK(strcmp(s, "clhsim output") == 0, "title '%s'", s);
  read_str_attr(f, "/code", "hdf5_version", s, sizeof s);
  CHECK(strncmp(s, "1.", 2) == 0, "hdf5_version '%s'", s);
  read_str_attr(f, "/code", "git_revision", s, sizeof s);
  CHECK(s[0] != '\0', "git_revision empty");
  read_str_attr(f, "/code", "mpi_version", s, sizeof s);
  CHECK(s[0] != '\0', "mpi_version empty");
  read_str_attr(f, "/code", "model_notes", s, sizeof s);
  CHECK(strstr(s, "fixed point") != NULL, "model_notes '%s'", s);
  read_str_attr(f, "/parameters", "yaml", s, sizeof s);
  CHECK(strstr(s, "start_date") != NULL, "yaml lacks start_date");
  /* One attribute per key, typed by the key's declaration (not by how its value looks). */
  static const struct {
    const char *key;
    H5T_class_t cls;
    H5T_sign_t sign;
  } typed[] = {{"run.seed", H5T_INTEGER, H5T_SGN_NONE},
               {"run.steps", H5T_INTEGER, H5T_SGN_2},
               {"run.max_wall_time", H5T_FLOAT, H5T_SGN_ERROR},
               {"run.start_date", H5T_STRING, H5T_SGN_ERROR},
               {"network.attend", H5T_FLOAT, H5T_SGN_ERROR},
               {"levers.registry.centres", H5T_INTEGER, H5T_SGN_2},
               {"centres.join", H5T_STRING, H5T_SGN_ERROR}};
  for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
    hid_t at = H5Aopen_by_name(f, "/parameters", typed[i].key, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(at >= 0, "no /parameters attribute %s", typed[i].key);
    if (at < 0) continue;
    hid_t ty = H5Aget_type(at);
    CHECK(H5Tget_class(ty) == typed[i].cls, "/parameters %s has class %d", typed[i].key,
          (int)H5Tget_class(ty));
    if (typed[i].cls == H5T_INTEGER)
      CHECK(H5Tget_sign(ty) == typed[i].sign && H5Tget_size(ty) == 8,
            "/parameters %s: wrong integer type", typed[i].key);
    H5Tclose(ty);
    H5Aclose(at);
  }
  read_str_attr(f, "/parameters", "run.start_date", s, sizeof s);
  CHECK(strcmp(s, cfg->run.start_date) == 0, "run.start_date '%s'", s);
  /* A vector is an array of its values; an empty list an empty attribute. */
  double attend[3] = {-1, -1, -1};
  hid_t va = H5Aopen_by_name(f, "/parameters", "network.attend", H5P_DEFAULT, H5P_DEFAULT);
  hid_t vs = va >= 0 ? H5Aget_space(va) : -1;
  CHECK(vs >= 0 && H5Sget_simple_extent_npoints(vs) == 3 &&
            H5Aread(va, H5T_NATIVE_DOUBLE, attend) >= 0 &&
            !memcmp(attend, cfg->network.attend, sizeof attend),
        "/parameters network.attend is not the configuration's three values");
  if (vs >= 0) H5Sclose(vs);
  if (va >= 0) H5Aclose(va);
  va = H5Aopen_by_name(f, "/parameters", "levers.registry.centres", H5P_DEFAULT, H5P_DEFAULT);
  vs = va >= 0 ? H5Aget_space(va) : -1;
  /* A 1-D array of length 0, not a NULL dataspace (R's hdf5r cannot read those). */
  CHECK(cfg->levers[CLHS_LEV_REGISTRY].ncentres != 0 ||
            (vs >= 0 && H5Sget_simple_extent_type(vs) == H5S_SIMPLE &&
             H5Sget_simple_extent_ndims(vs) == 1 && H5Sget_simple_extent_npoints(vs) == 0),
        "/parameters levers.registry.centres: an empty list is not a zero-length array");
  if (vs >= 0) H5Sclose(vs);
  if (va >= 0) H5Aclose(va);
  hid_t a = H5Aopen_by_name(f, "/run", "ranks", H5P_DEFAULT, H5P_DEFAULT);
  double ranks = -1;
  CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &ranks) >= 0, "no /run ranks");
  CHECK(ranks == comm.size, "/run ranks = %g", ranks);
  if (a >= 0) H5Aclose(a);
  read_str_attr(f, "/run", "status", s, sizeof s);
  CHECK(strcmp(s, "completed") == 0, "/run status '%s'", s);
  H5Fclose(f);
}

/* --- tests -------------------------------------------------------------- */

static void fill_record(int k, const clhs_out_layout *l, double *x, int64_t *n, uint64_t *u,
                        double *prev, int64_t *bytype, int8_t *ct, uint64_t *tc) {
  *x = val_x(k);
  *n = val_n(k);
  *u = val_u(k);
  for (int64_t j = 0; j < l->centre_count; j++)
    prev[j] = val_prev(k, l->centre_begin + j);
  for (int ty = 0; ty < NTYPE; ty++)
    bytype[ty] = val_bytype(k, ty);
  for (int64_t j = 0; j < l->centre_count; j++)
    for (int r = 0; r < NTIER; r++)
      ct[j * NTIER + r] = val_ct(k, l->centre_begin + j, r);
  for (int r = 0; r < NTIER; r++)
    for (int64_t j = 0; j < l->centre_count; j++)
      tc[r * l->centre_count + j] = val_tc(k, r, l->centre_begin + j);
}

static void test_roundtrip(void **state) {
  (void)state;
  clhs_config cfg;
  make_config(&cfg);
  clhs_out_layout l = layout_for(comm.rank, comm.size);
  clhs_error err;
  clhs_error_clear(&err);
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", g_path);
  if (comm.rank == 0) {
    remove(g_path);
    remove(tmp);
  }
  clhs_comm_barrier(&comm);

  clhs_output *out = NULL;
  int st = clhs_output_open(&out, g_path, &cfg, &comm, &l, g_vars, NV, &err);
  if (st != CLHS_OK) fprintf(stderr, "rank %d: %s\n", comm.rank, err.msg);
  assert_int_equal(st, CLHS_OK);
  CHECK(comm.rank != 0 || file_exists(tmp), "%s missing while the output is open", tmp);

  double x, prev[NCENTRES];
  int64_t n, bytype[NTYPE];
  uint64_t u, tc[NTIER * NCENTRES];
  int8_t ct[NCENTRES * NTIER];
  for (int k = 0; k < NREC && st == CLHS_OK; k++) {
    fill_record(k, &l, &x, &n, &u, prev, bytype, ct, tc);
    /* Non-distributed data may be NULL off rank 0; a rank without centres passes NULL. */
    const void *data[NV] = {&x,
                            &n,
                            &u,
                            l.centre_count ? prev : NULL,
                            bytype,
                            l.centre_count ? (void *)ct : NULL,
                            l.centre_count ? (void *)tc : NULL};
    if (comm.rank != 0) data[V_X] = data[V_N] = data[V_U] = data[V_BYTYPE] = NULL;
    st = clhs_output_append(out, 7.0 * k, data, &err);
    if (st == CLHS_OK && k + 1 == FLUSH_AT) st = clhs_output_flush(out, &err);
  }
  if (st != CLHS_OK) fprintf(stderr, "rank %d: %s\n", comm.rank, err.msg);
  assert_int_equal(st, CLHS_OK);
  assert_int_equal(clhs_output_records(out), NREC);

  const char *nk[] = {"ranks", "wall_time"};
  double nv[] = {(double)comm.size, 1.5 + comm.rank}; /* rank 0's values win */
  const char *sk[] = {"status"};
  const char *sv[] = {"completed"};
  st = clhs_output_write_run(out, nk, nv, 2, sk, sv, 1, &err);
  assert_int_equal(st, CLHS_OK);
  st = clhs_output_close(out, &err);
  if (st != CLHS_OK) fprintf(stderr, "rank %d: %s\n", comm.rank, err.msg);
  assert_int_equal(st, CLHS_OK);

  if (comm.rank == 0) {
    CHECK(file_exists(g_path), "%s missing after close", g_path);
    CHECK(!file_exists(tmp), "%s still there after close", tmp);
    verify_file(g_path, &cfg);
  }
  assert_no_failures("the output read back");
  clhs_config_free(&cfg);
}

static void test_abandon(void **state) {
  (void)state;
  clhs_config cfg;
  make_config(&cfg);
  clhs_out_layout l = layout_for(comm.rank, comm.size);
  clhs_error err;
  clhs_error_clear(&err);
  char path[1100], tmp[1110];
  snprintf(path, sizeof path, "%s.abandoned", g_path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  clhs_output *out = NULL;
  int st = clhs_output_open(&out, path, &cfg, &comm, &l, g_vars, 1, &err);
  assert_int_equal(st, CLHS_OK);
  double x = 1.0;
  const void *data[1] = {&x};
  for (int k = 0; k < 70 && st == CLHS_OK; k++)
    st = clhs_output_append(out, k, data, &err);
  assert_int_equal(st, CLHS_OK);
  CHECK(comm.rank != 0 || file_exists(tmp), "%s missing while the output is open", tmp);
  clhs_output_abandon(out);
  clhs_output_abandon(NULL);
  CHECK(comm.rank != 0 || (!file_exists(tmp) && !file_exists(path)), "%s left after abandon", path);
  assert_no_failures("an abandoned output");
  clhs_config_free(&cfg);
}

static void test_bad_path(void **state) {
  (void)state;
  clhs_config cfg;
  make_config(&cfg);
  clhs_out_layout l = layout_for(comm.rank, comm.size);
  clhs_error err;
  clhs_error_clear(&err);
  const char *path = "/nonexistent-clhs-folder/sub/out.h5";
  clhs_output *out = NULL;
  int st = clhs_output_open(&out, path, &cfg, &comm, &l, g_vars, NV, &err);
  /* Every rank gets the same status and a message naming the path. */
  if (comm.rank == 0) printf("expected error: %s\n", err.msg);
  assert_int_equal(st, CLHS_EIO);
  assert_null(out);
  assert_non_null(strstr(err.msg, "/nonexistent-clhs-folder/sub"));
  if (comm.rank == 0) {
    clhs_error e2;
    clhs_error_clear(&e2);
    assert_int_equal(clhs_output_check_path(path, &e2), CLHS_EINPUT);
    assert_non_null(strstr(e2.msg, "does not exist"));
    clhs_error_clear(&e2);
    assert_int_equal(clhs_output_check_path(".", &e2), CLHS_EINPUT);
    assert_non_null(strstr(e2.msg, "directory"));
    clhs_error_clear(&e2);
    assert_int_equal(clhs_output_check_path("", &e2), CLHS_EINPUT);
    clhs_error_clear(&e2);
    assert_int_equal(clhs_output_check_path("fine.h5", &e2), CLHS_OK);
  }
  clhs_config_free(&cfg);
}

static void test_bad_layout(void **state) {
  (void)state;
  clhs_config cfg;
  make_config(&cfg);
  clhs_out_layout l = layout_for(comm.rank, comm.size);
  if (comm.rank == comm.size - 1) l.centre_count--; /* a gap: centre 6 owned by nobody */
  clhs_error err;
  clhs_error_clear(&err);
  char path[1100];
  snprintf(path, sizeof path, "%s.badlayout", g_path);
  clhs_output *out = NULL;
  int st = clhs_output_open(&out, path, &cfg, &comm, &l, g_vars, NV, &err);
  if (comm.rank == 0) printf("expected error: %s\n", err.msg);
  assert_int_equal(st, CLHS_EINPUT);
  assert_null(out);
  assert_non_null(strstr(err.msg, "centres"));
  if (comm.rank == 0) {
    char tmp[1110];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!file_exists(tmp) && !file_exists(path), "%s left after a refused layout", path);
  }
  assert_no_failures("a refused layout");
  clhs_config_free(&cfg);
}

int main(int argc, char **argv) {
  fx_init(&argc, &argv);
  if (argc > 1)
    snprintf(g_path, sizeof g_path, "%s", argv[1]);
  else
    snprintf(g_path, sizeof g_path, "test_output_np%d.h5", comm.size);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_abandon),
      cmocka_unit_test(test_bad_path),
      cmocka_unit_test(test_bad_layout),
  };
  return fx_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
