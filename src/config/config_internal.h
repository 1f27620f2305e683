/**
 * @file config_internal.h
 * @brief Private: what the configuration reader (config_read.c) and writer (config_write.c)
 * share; defined in config.c.
 */
#ifndef CLHS_CONFIG_INTERNAL_H
#define CLHS_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clhs/strbuf.h"
#include "config/config_table.h"

#define KEY_MAX 256 /* longest dotted key we accept; real keys are < 40 characters */

/** Shortest text that reads back to the same double ("0.1", not "0.10000000000000001"). */
void clhs_cfg_fmt_double(double x, char *buf, size_t n);
/** The allowed range of @p e as "[0, 1]", "(0, inf)". */
void clhs_cfg_fmt_range(const clhs_config_entry *e, char *buf, size_t n);
/** The centre list of an ILIST entry (its count is the int32_t at the entry's offset). */
int32_t *clhs_cfg_ilist_get(const clhs_config *cfg, const clhs_config_entry *e);

/** qsort/bsearch order of int32_t (lever centre lists are kept sorted and unique). */
static inline int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

#endif
