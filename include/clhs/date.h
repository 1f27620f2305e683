/**
 * @file date.h
 * @brief Proleptic Gregorian calendar dates <-> day numbers (days since 1970-01-01).
 */
#ifndef CLHS_DATE_H
#define CLHS_DATE_H

#include <stdint.h>

/** Parse "YYYY-MM-DD" (strict: ten characters, a real calendar day). 0 on success, -1 otherwise. */
int clhs_date_parse(const char *text, int64_t *days);

/** Format a day number as "YYYY-MM-DD" into @p buf (at least 11 bytes). */
void clhs_date_format(int64_t days, char *buf);

/** Day number of a civil date (Howard Hinnant's algorithm). */
int64_t clhs_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
