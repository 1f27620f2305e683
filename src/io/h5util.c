/* HDF5 helpers shared by the output and checkpoint modules (h5util.h). */
#define _POSIX_C_SOURCE 200809L
#include "h5util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void clhs_h5_quiet_on(h5quiet *q) {
  q->fn = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void clhs_h5_quiet_off(const h5quiet *q) {
  H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

typedef struct h5stack {
  char outer[384]; /* the API call's complaint */
  char inner[384]; /* the deepest one */
} h5stack;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  h5stack *s = data;
  const char *d = e->desc ? e->desc : "";
  if (n == 0) snprintf(s->outer, sizeof s->outer, "%s", d);
  if (d[0]) snprintf(s->inner, sizeof s->inner, "%s", d);
  return 0;
}

int clhs_h5_fail(clhs_error *err, int code, const char *fmt, ...) {
  char ctx[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  h5stack s;
  s.outer[0] = s.inner[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &s);
  H5Eclear2(H5E_DEFAULT);
  if (s.outer[0] && s.inner[0] && strcmp(s.outer, s.inner) != 0)
    return clhs_error_set(err, code, "%s: HDF5: %s (%s)", ctx, s.outer, s.inner);
  if (s.inner[0]) return clhs_error_set(err, code, "%s: HDF5: %s", ctx, s.inner);
  return clhs_error_set(err, code, "%s", ctx);
}

enum { NTMP = 4 };
static char *tmp_files[NTMP + 1];

void clhs_h5_tmp_register(const char *path) {
  for (int k = 0; k < NTMP; k++)
    if (!tmp_files[k]) {
      tmp_files[k] = strdup(path);
      return;
    }
}

void clhs_h5_tmp_unregister(const char *path) {
  for (int k = 0; k < NTMP; k++)
    if (tmp_files[k] && !strcmp(tmp_files[k], path)) {
      free(tmp_files[k]);
      tmp_files[k] = NULL;
    }
}

int clhs_h5_agree(const clhs_comm *comm, int st, clhs_error *err) {
  char msg[sizeof err->msg];
  snprintf(msg, sizeof msg, "%s", st != CLHS_OK ? err->msg : "");
  const char *list[NTMP + 1];
  int n = 0;
  for (int k = 0; k < NTMP; k++)
    if (tmp_files[k]) list[n++] = tmp_files[k];
  list[n] = NULL;
  int worst = clhs_comm_agree_io(comm, st, msg, sizeof msg, CLHS_IO_AGREE_TIMEOUT_S, list);
  if (worst != CLHS_OK && st == CLHS_OK) clhs_error_set(err, worst, "%s", msg);
  return worst;
}

void clhs_h5_close(hid_t *id) {
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: break;
  }
  *id = -1;
}

hid_t clhs_h5_mem_type(int dtype) {
  switch (dtype) {
  case CLHS_F64: return H5T_NATIVE_DOUBLE;
  case CLHS_I64: return H5T_NATIVE_INT64;
  case CLHS_U64: return H5T_NATIVE_UINT64;
  case CLHS_I8: return H5T_NATIVE_INT8;
  case CLHS_U8: return H5T_NATIVE_UINT8;
  case CLHS_U16: return H5T_NATIVE_UINT16;
  case CLHS_U32: return H5T_NATIVE_UINT32;
  case CLHS_I32: return H5T_NATIVE_INT32;
  case CLHS_F32: return H5T_NATIVE_FLOAT;
  default: return -1;
  }
}

hid_t clhs_h5_file_type(int dtype) {
  switch (dtype) {
  case CLHS_F64: return H5T_IEEE_F64LE;
  case CLHS_I64: return H5T_STD_I64LE;
  case CLHS_U64: return H5T_STD_U64LE;
  case CLHS_I8: return H5T_STD_I8LE;
  case CLHS_U8: return H5T_STD_U8LE;
  case CLHS_U16: return H5T_STD_U16LE;
  case CLHS_U32: return H5T_STD_U32LE;
  case CLHS_I32: return H5T_STD_I32LE;
  case CLHS_F32: return H5T_IEEE_F32LE;
  default: return -1;
  }
}

size_t clhs_h5_dtype_size(int dtype) {
  switch (dtype) {
  case CLHS_I8:
  case CLHS_U8: return 1;
  case CLHS_U16: return 2;
  case CLHS_U32:
  case CLHS_I32:
  case CLHS_F32: return 4;
  case CLHS_F64:
  case CLHS_I64:
  case CLHS_U64: return 8;
  default: return 0;
  }
}

hid_t clhs_h5_str_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return -1;
  if (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
      H5Tset_cset(t, H5T_CSET_ASCII) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

int clhs_h5_put_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *vals,
                     hsize_t n, const char *where, int code, clhs_error *err) {
  hid_t s = -1, a = -1;
  herr_t st = -1;
  htri_t exists = H5Aexists(obj, name);
  if (exists > 0 && H5Adelete(obj, name) < 0) exists = -1;
  /* An empty list is a 1-D array of length 0, not a NULL dataspace: readers such as R's
   * hdf5r fail on NULL-dataspace attributes ("H5Aread(): null attribute buffer"). */
  if (exists >= 0) s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  if (s >= 0) a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) st = n == 0 ? 0 : H5Awrite(a, mtype, vals);
  clhs_h5_close(&a);
  clhs_h5_close(&s);
  if (st < 0) return clhs_h5_fail(err, code, "%s: cannot write attribute '%s'", where, name);
  return CLHS_OK;
}

int clhs_h5_put_attr_str(hid_t obj, const char *name, const char *val, const char *where, int code,
                         clhs_error *err) {
  size_t len = strlen(val);
  hid_t t = clhs_h5_str_type(len);
  if (t < 0)
    return clhs_h5_fail(err, code, "%s: cannot make a string type for attribute '%s'", where, name);
  int st = clhs_h5_put_attr(obj, name, t, t, len ? val : "", 1, where, code, err);
  H5Tclose(t);
  return st;
}

int clhs_h5_read_str(hid_t id, int is_attr, size_t max, char **out) {
  *out = NULL;
  hid_t t = is_attr ? H5Aget_type(id) : H5Dget_type(id), mt = -1;
  herr_t st = -1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0) {
    size_t len = H5Tget_size(t);
    char *buf = len <= max ? malloc(len + 1) : NULL;
    mt = buf ? clhs_h5_str_type(len) : -1;
    /* the file's character set (HDF5 does not convert ASCII <-> UTF-8) */
    if (mt >= 0 && H5Tset_cset(mt, H5Tget_cset(t)) < 0) clhs_h5_close(&mt);
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

void clhs_io_hdf5_version(char *buf, size_t len) {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  snprintf(buf, len, "%u.%u.%u (parallel)", maj, min, rel);
}
