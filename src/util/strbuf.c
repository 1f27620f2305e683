/* A growable, NUL-terminated byte buffer (include/clhs/strbuf.h). */
#include "clhs/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clhs_strbuf_put(clhs_strbuf *b, const void *data, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + len + 1)
      cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  if (len) memcpy(b->p + b->n, data, len);
  b->n += len;
  b->p[b->n] = '\0';
}

void clhs_strbuf_puts(clhs_strbuf *b, const char *s) {
  clhs_strbuf_put(b, s, strlen(s));
}

void clhs_strbuf_putz(clhs_strbuf *b, const char *s) {
  if (!s) s = "";
  clhs_strbuf_put(b, s, strlen(s) + 1);
}

void clhs_strbuf_printf(clhs_strbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    clhs_strbuf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  clhs_strbuf_put(b, big, (size_t)n);
  free(big);
}

void clhs_strbuf_reset(clhs_strbuf *b) {
  b->n = 0;
  if (b->p) b->p[0] = '\0';
}

const char *clhs_strbuf_next(const char *buf, size_t n, size_t *pos) {
  if (!buf || *pos >= n) return NULL;
  const char *s = buf + *pos;
  const void *nul = memchr(s, '\0', n - *pos);
  if (!nul) return NULL;
  *pos = (size_t)((const char *)nul - buf) + 1;
  return s;
}
