#include "clhs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void clhs_error_clear(clhs_error *e) {
  e->code = CLHS_OK;
  e->msg[0] = '\0';
}

int clhs_error_set(clhs_error *e, int code, const char *fmt, ...) {
  if (e && e->code == CLHS_OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
  }
  return code;
}

int clhs_exit_status(int code) {
  switch (code) {
  case CLHS_OK: return 0;
  case CLHS_EINPUT: return 2;
  case CLHS_STOPPED: return 3;
  default: return 1;
  }
}

void *clhs_calloc(size_t n, size_t size, clhs_error *e, const char *what) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    clhs_error_set(e, CLHS_ENOMEM, "out of memory allocating %zu x %zu bytes for %s", n, size,
                   what);
  return p;
}
