/**
 * @file config_table.h
 * @brief Private: the one table of configuration keys (defaults, ranges, units, meanings).
 *
 * The parser, the -P overrides, the YAML writer (`clhsim config`), clhs_config_foreach and
 * clhs_config_defaults are all driven by this table, so a key exists in exactly one place.
 */
#ifndef CLHS_CONFIG_TABLE_H
#define CLHS_CONFIG_TABLE_H

#include <stddef.h>

#include "clhs/config.h"

/** The kind of value a key holds (decides parsing, checking and printing). */
enum clhs_ckind {
  CLHS_CK_INT64 = 0,    /**< int64_t */
  CLHS_CK_DOUBLE,       /**< double, finite */
  CLHS_CK_UINT64,       /**< uint64_t (the seed) */
  CLHS_CK_STRING,       /**< char[aux] (paths) */
  CLHS_CK_DATE,         /**< char[aux] holding "YYYY-MM-DD" */
  CLHS_CK_DATE_OR_STEP, /**< char[aux] holding "YYYY-MM-DD" or a step number (lever `on`) */
  CLHS_CK_ENUM,         /**< int, one of names[] */
  CLHS_CK_DVEC,         /**< double[aux] */
  CLHS_CK_SCHEDULE,     /**< cfg->centres.schedule_* (list of [date, count]) */
  CLHS_CK_ILIST,        /**< int32_t count at offset, int32_t * at aux (lever centres) */
  CLHS_CK_NKINDS
};

/** Flags of an entry. */
enum {
  CLHS_CF_MIN_OPEN = 1, /**< the lower bound is excluded: (min, max] */
  CLHS_CF_FIXED = 2     /**< a bare constant of model v1: has a default, cannot be set */
};

typedef struct clhs_config_entry {
  const char *key;     /**< "section.key" or "levers.NAME.key" */
  int kind;            /**< enum clhs_ckind */
  size_t offset;       /**< offsetof the field in clhs_config */
  size_t aux;          /**< DVEC: length; STRING/DATE*: buffer size; ILIST: offset of pointer */
  const char *def;     /**< the default, as YAML text (parsed by clhs_config_defaults) */
  double min, max;     /**< allowed range of numbers / vector elements / list items */
  int flags;           /**< CLHS_CF_* */
  const char *unit;    /**< unit or kind of quantity, shown in errors: "(weekly hazard)" */
  const char *meaning; /**< one-line meaning, shown by `clhsim config` */
  const char *const *names; /**< ENUM: NULL-terminated allowed names */
} clhs_config_entry;

/** A mapping level of the YAML layout ("run", "levers", "levers.registry") and its heading. */
typedef struct clhs_config_group {
  const char *prefix;
  const char *heading;
} clhs_config_group;

extern const clhs_config_entry clhs_config_table[];
extern const size_t clhs_config_table_len;
extern const clhs_config_group clhs_config_groups[];
extern const size_t clhs_config_groups_len;
/** Human names of the kinds, for messages ("a number", "an integer", ...). */
extern const char *const clhs_config_kind_names[CLHS_CK_NKINDS];

#endif
