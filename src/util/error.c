#include "clhs/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void clhs_error_prefix(clhs_error *e, const char *fmt, ...) {
  if (!e || e->code == CLHS_OK) return;
  char head[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  const size_t cap = sizeof e->msg - 1, h = strlen(head);
  size_t n = strlen(e->msg);    /* (always terminated) */
  if (n > cap - h) n = cap - h; /* the end of a long message gives way */
  memmove(e->msg + h, e->msg, n);
  memcpy(e->msg, head, h);
  e->msg[h + n] = '\0';
}

const char *clhs_status_text(int code) {
  switch (code) {
  case CLHS_OK: return "no error";
  case CLHS_EINPUT: return "bad input";
  case CLHS_EIO: return "a file could not be read or written";
  case CLHS_ENOMEM: return "out of memory";
  case CLHS_STOPPED: return "stopped early";
  default: return "internal error";
  }
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
