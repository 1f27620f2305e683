/* Text quoted in messages (src/util/text.h). */
#include "util/text.h"

#include <stdio.h>
#include <string.h>

const char *clhs_printable(const char *t, char *buf, size_t n) {
  size_t need = 0;
  for (const unsigned char *p = (const unsigned char *)t; *p; p++)
    need += (*p < 0x20 || *p == 0x7f) ? 4 : 1;
  const size_t room = need < n ? n - 1 : n - 4; /* keep 3 bytes and the NUL for "..." */
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
    const int ctl = *p < 0x20 || *p == 0x7f;
    if (o + (ctl ? 4u : 1u) > room) break;
    if (ctl) {
      snprintf(buf + o, 5, "\\x%02x", (unsigned)*p);
      o += 4;
    } else {
      buf[o++] = (char)*p;
    }
  }
  if (need >= n) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}
