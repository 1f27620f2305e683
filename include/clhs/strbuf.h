/**
 * @file strbuf.h
 * @brief A growable byte buffer, always NUL-terminated after its bytes: text built piece by
 *        piece (the YAML writer) and packed records that rank 0 broadcasts (the output).
 *
 * Out of memory is sticky: the first failed growth sets `oom` and later appends do nothing,
 * so a caller checks once at the end. Start from {0}; free `p` when done.
 */
#ifndef CLHS_STRBUF_H
#define CLHS_STRBUF_H

#include <stddef.h>

typedef struct clhs_strbuf {
  char *p;    /**< the bytes, NUL-terminated after the first n (NULL while empty) */
  size_t n;   /**< bytes held, the terminating NUL not counted */
  size_t cap; /**< bytes allocated */
  int oom;    /**< an append ran out of memory */
} clhs_strbuf;

/** Append @p len bytes of @p data (any bytes, NULs included). */
void clhs_strbuf_put(clhs_strbuf *b, const void *data, size_t len);

/** Append the text @p s (without its NUL). */
void clhs_strbuf_puts(clhs_strbuf *b, const char *s);

/** Append the text @p s (NULL: "") and its NUL, so that packed strings can be read back in
 * turn (clhs_strbuf_next). */
void clhs_strbuf_putz(clhs_strbuf *b, const char *s);

/** Append printf-style text. */
void clhs_strbuf_printf(clhs_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** Empty the buffer, keeping its memory. */
void clhs_strbuf_reset(clhs_strbuf *b);

/** The NUL-terminated string at *pos of the packed bytes [buf, buf + n), moving *pos past
 * it; NULL when the bytes are exhausted or hold no further NUL. */
const char *clhs_strbuf_next(const char *buf, size_t n, size_t *pos);

#endif
