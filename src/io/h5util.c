/* HDF5 error handling shared by the output and checkpoint modules. */
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
