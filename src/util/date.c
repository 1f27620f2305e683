#include "clhs/date.h"

#include <stdio.h>

int64_t clhs_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int clhs_date_parse(const char *s, int64_t *days) {
  int y, m, d;
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7) {
      if (s[i] != '-') return -1;
    } else if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
  }
  if (s[10] != '\0') return -1;
  if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3) return -1;
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  int64_t z = clhs_days_from_civil(y, (unsigned)m, (unsigned)d);
  int64_t yy;
  unsigned mm, dd;
  civil_from_days(z, &yy, &mm, &dd);
  if (yy != y || (int)mm != m || (int)dd != d) return -1; /* e.g. 2019-02-30 */
  *days = z;
  return 0;
}

void clhs_date_format(int64_t days, char *buf) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  /* Years outside 0..9999 are not produced by any valid configuration; clamp so the
   * text always fits 10 characters. */
  int yy = y < 0 ? 0 : (y > 9999 ? 9999 : (int)y);
  snprintf(buf, 11, "%04d-%02u-%02u", yy, m % 100u, d % 100u);
}
