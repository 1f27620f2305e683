/*
 * Text quoted in messages (src/util/text.c): values, paths and file names that came from
 * outside, shown so that they cannot drive the terminal and do not drown the message.
 */
#ifndef CLHS_UTIL_TEXT_H
#define CLHS_UTIL_TEXT_H

#include <stddef.h>

/**
 * @p t for a message, into @p buf of @p n bytes (n >= 4): control characters (below 0x20,
 * 0x7f) as \xNN, other bytes as they are (UTF-8 stays readable), cut to fit with "..." when
 * longer. Returns @p buf.
 */
const char *clhs_printable(const char *t, char *buf, size_t n);

#endif
