/*
 * Configuration in: YAML files and -P overrides, the "did you mean" suggestions for unknown
 * keys, the defaults, and the checks of clhs_config_finalize. A file or an override is applied
 * all or nothing: on an error the configuration is unchanged.
 *
 * Everything is driven by the key table in config_table.c: a key is found there by its full
 * dotted name, and its kind decides how a YAML node is parsed and checked. The libyaml
 * document API is used (not events) because error messages need the line of the offending
 * node, and duplicate keys must be detected within a mapping.
 */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include "clhs/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "clhs/date.h"
#include "config/config_internal.h"
#include "util/text.h"

/* ------------------------------------------------------------------------------------------ */
/* Where a value came from, so that every message can name the file and line (or the -P).     */

typedef struct src {
  const char *name; /* the file path, "-P key=value", or NULL (finalize: no source) */
  int lines;        /* 1: messages say name:line (files) */
  clhs_error *err;
} src;

static int vfail(const src *s, long line, const char *key, const char *fmt, va_list ap) {
  char msg[1200];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (!key) key = "(top level)";
  if (!s->name) return clhs_error_set(s->err, CLHS_EINPUT, "%s: %s", key, msg);
  if (s->lines && line >= 0)
    return clhs_error_set(s->err, CLHS_EINPUT, "%s:%ld: %s: %s", s->name, line + 1, key, msg);
  return clhs_error_set(s->err, CLHS_EINPUT, "%s: %s: %s", s->name, key, msg);
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(const src *s, const yaml_node_t *node, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(s, node ? (long)node->start_mark.line : -1, key, fmt, ap);
  va_end(ap);
  return rc;
}

/* The same at a 0-based @p line (a YAML event rather than a node). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail_at(const src *s, long line, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(s, line, key, fmt, ap);
  va_end(ap);
  return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Table look-ups.                                                                            */

static const clhs_config_entry *find_entry(const char *key) {
  for (size_t i = 0; i < clhs_config_table_len; i++)
    if (strcmp(clhs_config_table[i].key, key) == 0) return &clhs_config_table[i];
  return NULL;
}

/* Is @p prefix a mapping level of the layout ("care", "levers", "levers.registry")? */
static int is_group(const char *prefix) {
  size_t n = strlen(prefix);
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    const char *k = clhs_config_table[i].key;
    if (strncmp(k, prefix, n) == 0 && k[n] == '.') return 1;
  }
  return 0;
}

static void *field(clhs_config *cfg, const clhs_config_entry *e) {
  return (char *)cfg + e->offset;
}

/* ------------------------------------------------------------------------------------------ */
/* Suggestions: the known name closest to an unknown one ("did you mean").                    */

/* Levenshtein distance, for "did you mean"; keys are short so two rows on the stack do. */
static size_t edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > KEY_MAX || nb > KEY_MAX) return (size_t)-1;
  size_t prev[KEY_MAX + 1], cur[KEY_MAX + 1];
  for (size_t j = 0; j <= nb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= na; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
  }
  return prev[nb];
}

/*
 * The closest known name to an unknown @p full key: by edit distance over keys (or over
 * section names when @p sections), else a key with the same last component (the key was put
 * in the wrong section). NULL when nothing is close.
 */
static const char *suggest(const char *full, int sections, char *buf, size_t bufsz) {
  size_t best = (size_t)-1;
  const char *cand = NULL;
  if (sections) {
    for (size_t i = 0; i < clhs_config_groups_len; i++) {
      const char *g = clhs_config_groups[i].prefix;
      if (strchr(g, '.')) continue;
      size_t d = edit_distance(full, g);
      if (d < best) {
        best = d;
        cand = g;
      }
    }
  } else {
    for (size_t i = 0; i < clhs_config_table_len; i++) {
      size_t d = edit_distance(full, clhs_config_table[i].key);
      if (d < best) {
        best = d;
        cand = clhs_config_table[i].key;
      }
    }
  }
  size_t limit = strlen(full) / 4;
  if (limit < 2) limit = 2;
  if (cand && best <= limit) {
    snprintf(buf, bufsz, "%s", cand);
    return buf;
  }
  if (!sections) {
    const char *leaf = strrchr(full, '.');
    leaf = leaf ? leaf + 1 : full;
    for (size_t i = 0; i < clhs_config_table_len; i++) {
      const char *k = clhs_config_table[i].key, *kl = strrchr(k, '.');
      if (kl && strcmp(kl + 1, leaf) == 0) {
        snprintf(buf, bufsz, "%s", k);
        return buf;
      }
    }
  }
  return NULL;
}

/* The key that @p full reaches below ("run.steps" for "run.steps.x"), or NULL. */
static const clhs_config_entry *leaf_above(const char *full) {
  char part[KEY_MAX];
  for (const char *dot = strchr(full, '.'); dot; dot = strchr(dot + 1, '.')) {
    snprintf(part, sizeof part, "%.*s", (int)(dot - full), full);
    const clhs_config_entry *e = find_entry(part);
    if (e) return e;
  }
  return NULL;
}

/* Report an unknown key, section or lever, with a suggestion when one is close. */
static int unknown_key(const src *s, const yaml_node_t *node, const char *prefix, const char *name,
                       const char *full) {
  char sug[KEY_MAX], hint[KEY_MAX + 32] = "";
  const clhs_config_entry *leaf = leaf_above(full);
  if (leaf) /* "run.steps.x": suggesting run.steps would name the key that was just used */
    return fail(s, node, full,
                "no such key: %s is a value (%s), not a section, so nothing lies below it; "
                "set it as a whole (%s%s%s)",
                leaf->key, clhs_config_kind_names[leaf->kind], s->name && !s->lines ? "-P " : "",
                leaf->key, s->name && !s->lines ? "=VALUE" : ": VALUE");
  if (prefix[0] == '\0' && !strchr(name, '.')) {
    if (suggest(full, 1, sug, sizeof sug)) snprintf(hint, sizeof hint, "; did you mean '%s'?", sug);
    return fail(s, node, full,
                "unknown section%s (sections: run, population, network, motivation, engagement, "
                "resources, care, centres, levers, output, checkpoint)",
                hint);
  }
  if (strcmp(prefix, "levers") == 0 && !strchr(name, '.')) {
    size_t best = (size_t)-1;
    const char *cand = NULL;
    for (int l = 0; l < CLHS_NLEVERS; l++) {
      size_t d = edit_distance(name, clhs_lever_names[l]);
      if (d < best) {
        best = d;
        cand = clhs_lever_names[l];
      }
    }
    if (cand && best <= 3) snprintf(hint, sizeof hint, "; did you mean '%s'?", cand);
    return fail(s, node, full,
                "unknown lever%s (levers: registry, qi_training, previsit, guidelines, ehr, "
                "commons, roles, engagement, outreach, research)",
                hint);
  }
  if (suggest(full, 0, sug, sizeof sug)) snprintf(hint, sizeof hint, " (did you mean '%s'?)", sug);
  return fail(s, node, full, "unknown key%s", hint);
}

/* ------------------------------------------------------------------------------------------ */
/* Scalars: strict parsing of numbers and dates.                                              */

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE: return "a scalar";
  case YAML_SEQUENCE_NODE: return "a sequence";
  case YAML_MAPPING_NODE: return "a mapping";
  default: return "nothing";
  }
}

static const char *scalar_text(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

/* A YAML null: an empty plain value, "~" or "null" (for an empty section or list). */
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *t = scalar_text(n);
  return t[0] == '\0' || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
         strcmp(t, "NULL") == 0;
}

/* Only an optional sign and decimal digits: "1.5", "1e3", "0x10" and "12abc" are rejected. */
static int parse_i64(const char *t, int64_t *v) {
  const char *p = t;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return -1;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return -1;
  errno = 0;
  char *end;
  long long x = strtoll(t, &end, 10);
  if (errno == ERANGE) return -2;
  *v = (int64_t)x;
  return 0;
}

static int parse_u64(const char *t, uint64_t *v) {
  const char *p = t;
  if (*p == '+') p++;
  if (!*p) return -1;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return -1;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(p, &end, 10);
  if (errno == ERANGE) return -2;
  *v = (uint64_t)x;
  return 0;
}

/* A finite decimal number; strtod alone would also take "nan", "inf", hex and leading blanks. */
static int parse_dbl(const char *t, double *v) {
  const char *p = t;
  if (*p == '+' || *p == '-') p++;
  if (!(isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1])))) return -1;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return -1;
  errno = 0;
  char *end;
  double x = strtod(t, &end);
  if (end == t || *end != '\0') return -1;
  if (!isfinite(x)) return -2;
  *v = x;
  return 0;
}

static int in_range(const clhs_config_entry *e, double x) {
  if (e->flags & CLHS_CF_MIN_OPEN) {
    if (!(x > e->min)) return 0;
  } else if (!(x >= e->min)) {
    return 0;
  }
  return x <= e->max;
}

/* Values quoted in messages are cut short so that a pasted blob does not drown the message. */
static const char *shorten(const char *t, char *buf, size_t n) {
  return clhs_printable(t, buf, n);
}

static int out_of_range(const src *s, const yaml_node_t *node, const clhs_config_entry *e,
                        const char *what, const char *text) {
  char range[96], sh[64];
  clhs_cfg_fmt_range(e, range, sizeof range);
  return fail(s, node, e->key, "%svalue %s is out of range %s (%s)", what,
              shorten(text, sh, sizeof sh), range, e->unit);
}

/* A bare constant of model v1 (CLHS_CF_FIXED): it has a default but no file or -P may set it. */
static int fixed_key(const src *s, const yaml_node_t *node, const clhs_config_entry *e) {
  return fail(s, node, e->key,
              "the value is fixed in model v1 (MODEL.md) and cannot be changed (it is %s)", e->def);
}

/* ------------------------------------------------------------------------------------------ */
/* Setting one key from a YAML node. Each setter checks everything before it writes, so a     */
/* rejected value leaves the configuration as it was.                                         */

static int need_scalar(const src *s, const yaml_node_t *node, const clhs_config_entry *e,
                       const char *what) {
  if (node->type == YAML_SCALAR_NODE) return CLHS_OK;
  return fail(s, node, e->key, "%sexpected %s, got %s", what, clhs_config_kind_names[e->kind],
              node_kind(node));
}

/* A number (an element of a vector when @p what is "element 2: ") in the entry's range. */
static int get_number(const src *s, const yaml_node_t *node, const clhs_config_entry *e,
                      const char *what, double *out) {
  char sh[64];
  if (node->type != YAML_SCALAR_NODE)
    return fail(s, node, e->key, "%sexpected a number, got %s", what, node_kind(node));
  const char *t = scalar_text(node);
  int rc = parse_dbl(t, out);
  if (rc == -2)
    return fail(s, node, e->key, "%svalue %s is not a finite number", what,
                shorten(t, sh, sizeof sh));
  if (rc)
    return fail(s, node, e->key, "%sexpected a number, got '%s'", what, shorten(t, sh, sizeof sh));
  if (!in_range(e, *out)) return out_of_range(s, node, e, what, t);
  return CLHS_OK;
}

static int set_int64(clhs_config *cfg, const clhs_config_entry *e, const yaml_node_t *node,
                     const src *s) {
  char sh[64];
  int rc = need_scalar(s, node, e, "");
  if (rc) return rc;
  const char *t = scalar_text(node);
  int64_t v;
  rc = parse_i64(t, &v);
  if (rc == -2) return out_of_range(s, node, e, "", t);
  if (rc) return fail(s, node, e->key, "expected an integer, got '%s'", shorten(t, sh, sizeof sh));
  if (!in_range(e, (double)v)) return out_of_range(s, node, e, "", t);
  *(int64_t *)field(cfg, e) = v;
  return CLHS_OK;
}

static int set_uint64(clhs_config *cfg, const clhs_config_entry *e, const yaml_node_t *node,
                      const src *s) {
  char sh[64];
  int rc = need_scalar(s, node, e, "");
  if (rc) return rc;
  const char *t = scalar_text(node);
  uint64_t v;
  rc = parse_u64(t, &v);
  if (rc)
    return fail(s, node, e->key, "expected an unsigned integer in [0, %" PRIu64 "], got '%s'",
                UINT64_MAX, shorten(t, sh, sizeof sh));
  *(uint64_t *)field(cfg, e) = v;
  return CLHS_OK;
}

/* A path: not empty, fits its buffer, no control characters. */
static int check_string_text(const clhs_config_entry *e, const char *t, const yaml_node_t *node,
                             const src *s) {
  size_t n = strlen(t);
  if (n == 0) return fail(s, node, e->key, "expected a non-empty %s", e->unit);
  if (n >= e->aux)
    return fail(s, node, e->key, "%s is too long (%zu characters; at most %zu)", e->unit, n,
                e->aux - 1);
  for (size_t i = 0; i < n; i++) {
    const unsigned char c = (unsigned char)t[i];
    if (c < 0x20 || c == 0x7f) {
      char sh[64];
      /* A newline in a folder name would break the one-name-a-line `latest` file, and an
       * escape sequence would drive the terminal of whoever lists the folder. */
      return fail(s, node, e->key, "%s '%s' holds a control character (byte 0x%02x at %zu)",
                  e->unit, shorten(t, sh, sizeof sh), (unsigned)c, i + 1);
    }
  }
  return CLHS_OK;
}

static int set_string_text(clhs_config *cfg, const clhs_config_entry *e, const char *t,
                           const yaml_node_t *node, const src *s) {
  int rc = check_string_text(e, t, node, s);
  if (rc == CLHS_OK) memcpy(field(cfg, e), t, strlen(t) + 1);
  return rc;
}

/* A lever's `on`: a step number (a plain integer) or a date. Stored canonically as text. */
static int set_date(clhs_config *cfg, const clhs_config_entry *e, const yaml_node_t *node,
                    const src *s) {
  char sh[64];
  int rc = need_scalar(s, node, e, "");
  if (rc) return rc;
  const char *t = scalar_text(node);
  int64_t v;
  if (e->kind == CLHS_CK_DATE_OR_STEP && (rc = parse_i64(t, &v)) != -1) {
    if (rc == -2 || !in_range(e, (double)v)) return out_of_range(s, node, e, "step ", t);
    snprintf((char *)field(cfg, e), e->aux, "%" PRId64, v);
    return CLHS_OK;
  }
  if (clhs_date_parse(t, &v) != 0)
    return fail(s, node, e->key, "expected %s, got '%s' (not a calendar date)",
                clhs_config_kind_names[e->kind], shorten(t, sh, sizeof sh));
  snprintf((char *)field(cfg, e), e->aux, "%s", t);
  return CLHS_OK;
}

static int set_enum(clhs_config *cfg, const clhs_config_entry *e, const yaml_node_t *node,
                    const src *s) {
  char sh[64];
  int rc = need_scalar(s, node, e, "");
  if (rc) return rc;
  const char *t = scalar_text(node);
  for (int i = 0; e->names[i]; i++) {
    if (strcmp(e->names[i], t) == 0) {
      *(int *)field(cfg, e) = i;
      return CLHS_OK;
    }
  }
  clhs_strbuf names = {0};
  for (int i = 0; e->names[i]; i++)
    clhs_strbuf_printf(&names, "%s%s", i ? "|" : "", e->names[i]);
  rc = fail(s, node, e->key, "expected one of %s, got '%s'", names.p ? names.p : "",
            shorten(t, sh, sizeof sh));
  free(names.p);
  return rc;
}

static yaml_node_t *seq_item(yaml_document_t *doc, const yaml_node_t *seq, size_t i) {
  return yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
}

static size_t seq_len(const yaml_node_t *seq) {
  return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static int set_dvec(clhs_config *cfg, const clhs_config_entry *e, yaml_document_t *doc,
                    const yaml_node_t *node, const src *s) {
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(s, node, e->key, "expected a sequence of %zu numbers like [%s], got %s", e->aux,
                e->def + 1 /* skip '[' */, node_kind(node));
  size_t n = seq_len(node);
  if (n != e->aux)
    return fail(s, node, e->key, "expected a sequence of %zu numbers, got %zu", e->aux, n);
  double tmp[16];
  for (size_t i = 0; i < n && i < 16; i++) {
    char what[32];
    snprintf(what, sizeof what, "element %zu: ", i + 1);
    int rc = get_number(s, seq_item(doc, node, i), e, what, &tmp[i]);
    if (rc) return rc;
  }
  memcpy(field(cfg, e), tmp, n * sizeof(double));
  return CLHS_OK;
}

/*
 * The schedule rules, shared by the parser (which can point at the offending line) and
 * finalize: returns the index of the first bad point (or -1) and why.
 */
static int check_schedule(int32_t n, const char (*dates)[CLHS_DATE_LEN], const double *counts,
                          char *why, size_t whysz) {
  if (n < 1 || n > CLHS_SCHEDULE_MAX) {
    snprintf(why, whysz, "needs 1 to %d points, got %d", CLHS_SCHEDULE_MAX, (int)n);
    return 0;
  }
  int64_t prev = 0;
  for (int32_t i = 0; i < n; i++) {
    int64_t d;
    if (clhs_date_parse(dates[i], &d) != 0) {
      snprintf(why, whysz, "point %d: '%s' is not a date YYYY-MM-DD", (int)i + 1, dates[i]);
      return (int)i;
    }
    if (!(counts[i] >= 0 && counts[i] <= 100)) {
      snprintf(why, whysz, "point %d: count %g is out of range [0, 100] (members per 100 centres)",
               (int)i + 1, counts[i]);
      return (int)i;
    }
    if (i > 0 && d <= prev) {
      snprintf(why, whysz, "point %d: date %s is not after %s (dates must increase strictly)",
               (int)i + 1, dates[i], dates[i - 1]);
      return (int)i;
    }
    if (i > 0 && counts[i] < counts[i - 1]) {
      snprintf(why, whysz, "point %d: count %g is below %g (counts must not decrease)", (int)i + 1,
               counts[i], counts[i - 1]);
      return (int)i;
    }
    prev = d;
  }
  return -1;
}

static int set_schedule(clhs_config *cfg, const clhs_config_entry *e, yaml_document_t *doc,
                        const yaml_node_t *node, const src *s) {
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(s, node, e->key,
                "expected a sequence of [date, count] pairs like [[2007-01-01, 7], "
                "[2009-06-01, 23]], got %s",
                node_kind(node));
  size_t n = seq_len(node);
  if (n < 1 || n > CLHS_SCHEDULE_MAX)
    return fail(s, node, e->key, "expected 1 to %d [date, count] pairs, got %zu", CLHS_SCHEDULE_MAX,
                n);
  char dates[CLHS_SCHEDULE_MAX][CLHS_DATE_LEN];
  double counts[CLHS_SCHEDULE_MAX];
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *pt = seq_item(doc, node, i);
    if (pt->type != YAML_SEQUENCE_NODE || seq_len(pt) != 2)
      return fail(s, pt, e->key, "point %zu: expected a pair [date, count], got %s%s", i + 1,
                  node_kind(pt), pt->type == YAML_SEQUENCE_NODE ? " of another length" : "");
    const yaml_node_t *dn = seq_item(doc, pt, 0);
    int64_t d;
    if (dn->type != YAML_SCALAR_NODE || clhs_date_parse(scalar_text(dn), &d) != 0) {
      char sh[64];
      return fail(s, dn, e->key, "point %zu: expected a date YYYY-MM-DD, got %s%s%s%s", i + 1,
                  dn->type == YAML_SCALAR_NODE ? "'" : node_kind(dn),
                  dn->type == YAML_SCALAR_NODE ? shorten(scalar_text(dn), sh, sizeof sh) : "",
                  dn->type == YAML_SCALAR_NODE ? "'" : "",
                  dn->type == YAML_SCALAR_NODE ? " (not a calendar date)" : "");
    }
    snprintf(dates[i], CLHS_DATE_LEN, "%s", scalar_text(dn));
    char what[32];
    snprintf(what, sizeof what, "point %zu: count ", i + 1);
    int rc = get_number(s, seq_item(doc, pt, 1), e, what, &counts[i]);
    if (rc) return rc;
  }
  char why[256];
  int bad =
      check_schedule((int32_t)n, (const char(*)[CLHS_DATE_LEN])dates, counts, why, sizeof why);
  if (bad >= 0) return fail(s, seq_item(doc, node, (size_t)bad), e->key, "%s", why);
  cfg->centres.nschedule = (int32_t)n;
  memcpy(cfg->centres.schedule_date, dates, n * sizeof dates[0]);
  memcpy(cfg->centres.schedule_count, counts, n * sizeof counts[0]);
  return CLHS_OK;
}

/* Sort and drop repeats, so that clhs_lever_intensity can binary-search. Returns the new n. */
static int32_t sort_unique(int32_t *v, int32_t n) {
  if (n <= 1) return n;
  qsort(v, (size_t)n, sizeof v[0], cmp_i32);
  int32_t m = 1;
  for (int32_t i = 1; i < n; i++)
    if (v[i] != v[m - 1]) v[m++] = v[i];
  return m;
}

static void ilist_set(clhs_config *cfg, const clhs_config_entry *e, int32_t *v, int32_t n) {
  free(clhs_cfg_ilist_get(cfg, e));
  memcpy((char *)cfg + e->aux, &v, sizeof v);
  *(int32_t *)field(cfg, e) = n;
}

static int set_ilist(clhs_config *cfg, const clhs_config_entry *e, yaml_document_t *doc,
                     const yaml_node_t *node, const src *s, clhs_error *err) {
  if (is_null(node)) {
    ilist_set(cfg, e, NULL, 0);
    return CLHS_OK;
  }
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(s, node, e->key, "expected a sequence of centre indices like [0, 3, 7], got %s",
                node_kind(node));
  size_t n = seq_len(node);
  if (n > (size_t)INT32_MAX) return fail(s, node, e->key, "too many centre indices");
  if (n == 0) {
    ilist_set(cfg, e, NULL, 0);
    return CLHS_OK;
  }
  int32_t *v = clhs_calloc(n, sizeof *v, err, e->key);
  if (!v) return CLHS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *it = seq_item(doc, node, i);
    char what[32], sh[64];
    snprintf(what, sizeof what, "element %zu: ", i + 1);
    int64_t x = 0;
    int rc = it->type == YAML_SCALAR_NODE ? parse_i64(scalar_text(it), &x) : -1;
    if (rc == -1) {
      free(v);
      return fail(s, it, e->key, "%sexpected a centre index (an integer), got %s%s%s", what,
                  it->type == YAML_SCALAR_NODE ? "'" : node_kind(it),
                  it->type == YAML_SCALAR_NODE ? shorten(scalar_text(it), sh, sizeof sh) : "",
                  it->type == YAML_SCALAR_NODE ? "'" : "");
    }
    if (rc == -2 || !in_range(e, (double)x)) {
      free(v);
      return out_of_range(s, it, e, what, scalar_text(it));
    }
    v[i] = (int32_t)x;
  }
  ilist_set(cfg, e, v, sort_unique(v, (int32_t)n));
  return CLHS_OK;
}

static int set_entry(clhs_config *cfg, const clhs_config_entry *e, yaml_document_t *doc,
                     const yaml_node_t *node, const src *s) {
  switch (e->kind) {
  case CLHS_CK_INT64: return set_int64(cfg, e, node, s);
  case CLHS_CK_UINT64: return set_uint64(cfg, e, node, s);
  case CLHS_CK_DOUBLE: {
    double x;
    int rc = get_number(s, node, e, "", &x);
    if (rc == CLHS_OK) *(double *)field(cfg, e) = x;
    return rc;
  }
  case CLHS_CK_STRING: {
    int rc = need_scalar(s, node, e, "");
    return rc ? rc : set_string_text(cfg, e, scalar_text(node), node, s);
  }
  case CLHS_CK_DATE:
  case CLHS_CK_DATE_OR_STEP: return set_date(cfg, e, node, s);
  case CLHS_CK_ENUM: return set_enum(cfg, e, node, s);
  case CLHS_CK_DVEC: return set_dvec(cfg, e, doc, node, s);
  case CLHS_CK_SCHEDULE: return set_schedule(cfg, e, doc, node, s);
  case CLHS_CK_ILIST: return set_ilist(cfg, e, doc, node, s, s->err);
  default: return clhs_error_set(s->err, CLHS_EFAIL, "%s: internal: unknown kind", e->key);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Walking a document: nested mappings are sections (and levers); leaves are table keys.      */

static int apply_mapping(clhs_config *cfg, yaml_document_t *doc, const yaml_node_t *map,
                         const char *prefix, const src *s) {
  if (is_null(map)) return CLHS_OK; /* "care:" with nothing under it */
  if (map->type != YAML_MAPPING_NODE)
    return fail(s, map, prefix[0] ? prefix : NULL, "expected a mapping of %s, got %s",
                prefix[0] ? "keys" : "sections", node_kind(map));
  for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = yaml_document_get_node(doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(doc, p->value);
    if (k->type != YAML_SCALAR_NODE)
      return fail(s, k, prefix[0] ? prefix : NULL, "keys must be names, got %s", node_kind(k));
    const char *name = scalar_text(k);
    char full[KEY_MAX];
    int len = snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", name);
    if (len < 0 || (size_t)len >= sizeof full) return fail(s, k, prefix, "key is too long");
    for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
      const yaml_node_t *kq = yaml_document_get_node(doc, q->key);
      if (kq->type == YAML_SCALAR_NODE && strcmp(scalar_text(kq), name) == 0)
        return fail(s, k, full, "duplicate key (first given on line %lu)",
                    (unsigned long)kq->start_mark.line + 1);
    }
    const clhs_config_entry *e = find_entry(full);
    int rc;
    if (e && (e->flags & CLHS_CF_FIXED))
      rc = fixed_key(s, k, e);
    else if (e)
      rc = set_entry(cfg, e, doc, v, s);
    else if (is_group(full))
      rc = apply_mapping(cfg, doc, v, full, s);
    else
      rc = unknown_key(s, k, prefix, name, full);
    if (rc) return rc;
  }
  return CLHS_OK;
}

/* A libyaml failure as "where: invalid YAML: problem". */
static int parser_error(const yaml_parser_t *parser, const src *s) {
  if (parser->error == YAML_MEMORY_ERROR)
    return clhs_error_set(s->err, CLHS_ENOMEM, "%s: out of memory while reading YAML", s->name);
  const char *problem = parser->problem ? parser->problem : "unknown problem";
  yaml_mark_t m = parser->problem_mark;
  if (parser->error == YAML_READER_ERROR)
    return clhs_error_set(s->err, CLHS_EINPUT, "%s: invalid YAML: %s (at byte %lu)", s->name,
                          problem, (unsigned long)parser->problem_offset);
  char ctx[256] = "";
  if (parser->context)
    snprintf(ctx, sizeof ctx, " (%s, which began on line %lu)", parser->context,
             (unsigned long)parser->context_mark.line + 1);
  if (s->lines)
    return clhs_error_set(s->err, CLHS_EINPUT, "%s:%lu: invalid YAML: %s at column %lu%s", s->name,
                          (unsigned long)m.line + 1, problem, (unsigned long)m.column + 1, ctx);
  return clhs_error_set(s->err, CLHS_EINPUT, "%s: invalid YAML: %s at column %lu", s->name, problem,
                        (unsigned long)m.column + 1);
}

/* Load the next document, turning a libyaml failure into "where: invalid YAML: problem". */
static int load_document(yaml_parser_t *parser, yaml_document_t *doc, const src *s) {
  if (yaml_parser_load(parser, doc)) return CLHS_OK;
  return parser_error(parser, s);
}

/*
 * Nesting deeper than this is refused before the document is built. A configuration needs 5
 * levels (levers.NAME.key, then a schedule's [date, count] pairs); libyaml takes time
 * quadratic in the depth (100,000 levels: half a minute), so a hostile file must stop early.
 */
#define DEPTH_MAX 64

/* One open collection while scanning: the key path of messages is built from these. */
typedef struct scan_level {
  int map;      /* 1: a mapping, 0: a sequence */
  int want_key; /* mapping: the next node is a key */
  char key[48]; /* mapping: the current key (cut short) */
} scan_level;

/* The key path of the node being scanned: @p prefix, then the key at each mapping level. */
static const char *scan_path(const char *prefix, const scan_level *lv, int depth, char *buf,
                             size_t n) {
  clhs_strbuf b = {0};
  clhs_strbuf_puts(&b, prefix);
  for (int i = 0; i < depth; i++) {
    if (!lv[i].map || !lv[i].key[0]) continue;
    if (b.n) clhs_strbuf_puts(&b, ".");
    clhs_strbuf_puts(&b, lv[i].key);
  }
  snprintf(buf, n, "%s", b.p && !b.oom && b.n ? b.p : "(top level)");
  free(b.p);
  return buf;
}

/*
 * The tags of the YAML core schema, each on the kind of node it describes; every other tag
 * (!foo, !!binary, !!set, a %TAG-shorthand) is refused: nothing in a configuration is typed
 * by a tag, and a tag that the reader ignored would silently change the meaning of a value.
 */
static int tag_allowed(const char *tag, yaml_event_type_t type) {
  static const char core[] = "tag:yaml.org,2002:";
  if (!tag) return 1;
  if (strncmp(tag, core, sizeof core - 1) != 0) return 0;
  const char *t = tag + sizeof core - 1;
  switch (type) {
  case YAML_SCALAR_EVENT:
    return !strcmp(t, "str") || !strcmp(t, "int") || !strcmp(t, "float") || !strcmp(t, "bool") ||
           !strcmp(t, "null");
  case YAML_SEQUENCE_START_EVENT: return !strcmp(t, "seq");
  case YAML_MAPPING_START_EVENT: return !strcmp(t, "map");
  default: return 0;
  }
}

/*
 * First pass over the events of @p text (every document): refuse nesting deeper than
 * DEPTH_MAX and tags outside the core schema, naming the line and key. Parse errors are
 * reported as the loader would report them. @p prefix is the key the text is the value of
 * ("" for a file).
 */
static int prescan(const char *text, size_t n, const char *prefix, const src *s) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return clhs_error_set(s->err, CLHS_ENOMEM, "%s: out of memory starting the YAML parser",
                          s->name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
  scan_level lv[DEPTH_MAX];
  int depth = 0, rc = CLHS_OK, done = 0;
  char path[KEY_MAX + 64];
  while (!done && rc == CLHS_OK) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = parser_error(&parser, s);
      break;
    }
    const long line = (long)ev.start_mark.line;
    const char *tag = NULL;
    switch (ev.type) {
    case YAML_SCALAR_EVENT: tag = (const char *)ev.data.scalar.tag; break;
    case YAML_SEQUENCE_START_EVENT: tag = (const char *)ev.data.sequence_start.tag; break;
    case YAML_MAPPING_START_EVENT: tag = (const char *)ev.data.mapping_start.tag; break;
    case YAML_STREAM_END_EVENT: done = 1; break;
    default: break;
    }
    const int node = ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
                     ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT;
    /* A node in a mapping is a key or a value, in turn; a key names what follows. */
    if (node && depth > 0 && lv[depth - 1].map) {
      scan_level *m = &lv[depth - 1];
      if (m->want_key)
        snprintf(m->key, sizeof m->key, "%s",
                 ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : "?");
      m->want_key = !m->want_key;
    }
    if (node && !tag_allowed(tag, ev.type)) {
      char shown[96], sh[64];
      const char *core = "tag:yaml.org,2002:";
      if (!strncmp(tag, core, strlen(core)))
        snprintf(shown, sizeof shown, "!!%s", shorten(tag + strlen(core), sh, sizeof sh));
      else
        snprintf(shown, sizeof shown, "%s", shorten(tag, sh, sizeof sh));
      rc = fail_at(s, line, scan_path(prefix, lv, depth, path, sizeof path),
                   "YAML tag '%s' is not allowed here: only the core tags !!str, !!int, "
                   "!!float, !!bool and !!null (on a scalar), !!seq (on a sequence) and !!map (on "
                   "a mapping) are; remove the tag",
                   shown);
    } else if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (depth == DEPTH_MAX) {
        rc = fail_at(s, line, scan_path(prefix, lv, depth, path, sizeof path),
                     "YAML nesting deeper than %d levels (a configuration needs at most 5)",
                     DEPTH_MAX);
      } else {
        lv[depth].map = ev.type == YAML_MAPPING_START_EVENT;
        lv[depth].want_key = 1;
        lv[depth].key[0] = '\0';
        depth++;
      }
    } else if ((ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) &&
               depth > 0) {
      depth--;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

/* A deep copy, so that a file or override is applied all or nothing. */
static int copy_config(clhs_config *dst, const clhs_config *from, clhs_error *err) {
  *dst = *from;
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    int32_t n = from->levers[l].ncentres;
    dst->levers[l].centres = NULL;
    if (n <= 0) continue;
    dst->levers[l].centres = clhs_calloc((size_t)n, sizeof(int32_t), err, "lever centre list");
    if (!dst->levers[l].centres) {
      clhs_config_free(dst);
      return CLHS_ENOMEM;
    }
    memcpy(dst->levers[l].centres, from->levers[l].centres, (size_t)n * sizeof(int32_t));
  }
  return CLHS_OK;
}

/* Keep @p work (on success) or @p cfg (on failure); free the other. */
static int commit(clhs_config *cfg, clhs_config *work, int rc) {
  if (rc == CLHS_OK) {
    clhs_config_free(cfg);
    *cfg = *work;
  } else {
    clhs_config_free(work);
  }
  return rc;
}

/* Configuration files are a few kB; a bigger one is a mistake (or /dev/zero). */
#define FILE_MAX ((size_t)16 << 20)

/* Read one YAML document from @p text into @p cfg, all or nothing; @p name labels errors. */
static int load_buffer(clhs_config *cfg, const char *text, size_t n, const char *name,
                       clhs_error *err) {
  src s = {name, 1, err};
  int rc = prescan(text, n, "", &s);
  if (rc != CLHS_OK) return rc;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return clhs_error_set(err, CLHS_ENOMEM, "%s: out of memory starting the YAML parser", name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
  clhs_config work;
  rc = copy_config(&work, cfg, err);
  if (rc != CLHS_OK) {
    yaml_parser_delete(&parser);
    return rc;
  }
  yaml_document_t doc;
  rc = load_document(&parser, &doc, &s);
  if (rc == CLHS_OK) {
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) rc = apply_mapping(&work, &doc, root, "", &s);
    yaml_document_delete(&doc);
    /* A second document would be silently ignored otherwise: refuse it. */
    if (rc == CLHS_OK && root && (rc = load_document(&parser, &doc, &s)) == CLHS_OK) {
      yaml_node_t *r2 = yaml_document_get_root_node(&doc);
      if (r2) rc = fail(&s, r2, NULL, "a configuration file holds one YAML document, not more");
      yaml_document_delete(&doc);
    }
  }
  yaml_parser_delete(&parser);
  return commit(cfg, &work, rc);
}

int clhs_config_load_file(clhs_config *cfg, const char *path, clhs_error *err) {
  char name[600];
  clhs_printable(path, name, sizeof name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return clhs_error_set(err, CLHS_EINPUT, "%s: cannot open the configuration file: %s", name,
                          strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return clhs_error_set(err, CLHS_EINPUT,
                          "%s: is a directory, not a configuration file (give the YAML file in "
                          "it, e.g. %s/run.yml)",
                          name, name);
  }
  /* Read it whole (it is small), so that the YAML is parsed twice: checked, then loaded. */
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 && (size_t)st.st_size <= FILE_MAX
                   ? (size_t)st.st_size + 1
                   : 4096,
         n = 0;
  char *buf = malloc(cap);
  int rc = buf ? CLHS_OK : clhs_error_set(err, CLHS_ENOMEM, "%s: out of memory", name);
  while (rc == CLHS_OK) {
    if (n == cap) {
      size_t ncap = cap * 2 > FILE_MAX + 1 ? FILE_MAX + 1 : cap * 2;
      char *q = ncap > cap ? realloc(buf, ncap) : NULL;
      if (!q) {
        rc = ncap > cap ? clhs_error_set(err, CLHS_ENOMEM, "%s: out of memory", name)
                        : clhs_error_set(err, CLHS_EINPUT,
                                         "%s: the configuration file is larger than %zu MiB; a "
                                         "configuration is a few kB of YAML",
                                         name, FILE_MAX >> 20);
        break;
      }
      buf = q;
      cap = ncap;
    }
    errno = 0;
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f))
        rc = clhs_error_set(err, CLHS_EINPUT, "%s: cannot read the configuration file: %s", name,
                            strerror(errno ? errno : EIO));
      break;
    }
  }
  fclose(f);
  if (rc == CLHS_OK) rc = load_buffer(cfg, buf, n, name, err);
  free(buf);
  return rc;
}

int clhs_config_load_text(clhs_config *cfg, const char *text, const char *name, clhs_error *err) {
  char label[600];
  return load_buffer(cfg, text, strlen(text), clhs_printable(name, label, sizeof label), err);
}

/* Parse @p text as a YAML value and set @p e (or, for a group, apply it as a mapping). */
static int apply_text(clhs_config *cfg, const clhs_config_entry *e, const char *group,
                      const char *text, const src *s) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return clhs_error_set(s->err, CLHS_ENOMEM, "%s: out of memory starting the YAML parser",
                          s->name);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
  yaml_document_t doc;
  int rc = prescan(text, strlen(text), e ? e->key : group, s);
  if (rc == CLHS_OK) rc = load_document(&parser, &doc, s);
  if (rc == CLHS_OK) {
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
      rc = fail(s, NULL, e ? e->key : group, "no value given");
    else if (e)
      rc = set_entry(cfg, e, &doc, root, s);
    else
      rc = apply_mapping(cfg, &doc, root, group, s);
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  return rc;
}

int clhs_config_override(clhs_config *cfg, const char *assignment, clhs_error *err) {
  char label[600];
  memcpy(label, "-P ", 3);
  clhs_printable(assignment, label + 3, sizeof label - 3);
  src s = {label, 0, err};
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return clhs_error_set(err, CLHS_EINPUT, "%s: expected section.key=value (e.g. care.h_rel=0.02)",
                          label);
  const char *a = assignment, *b = eq;
  while (a < b && isspace((unsigned char)*a))
    a++;
  while (b > a && isspace((unsigned char)b[-1]))
    b--;
  char key[KEY_MAX];
  if (b == a || (size_t)(b - a) >= sizeof key)
    return clhs_error_set(err, CLHS_EINPUT, "%s: expected section.key=value (e.g. care.h_rel=0.02)",
                          label);
  memcpy(key, a, (size_t)(b - a));
  key[b - a] = '\0';
  const char *value = eq + 1;
  while (isspace((unsigned char)*value))
    value++;

  const clhs_config_entry *e = find_entry(key);
  if (!e && !is_group(key) && leaf_above(key)) return unknown_key(&s, NULL, "", key, key);
  if (!e && !is_group(key)) {
    /* Name the first unknown level: "levers.foo.on" is an unknown lever, not an unknown key. */
    char part[KEY_MAX], prefix[KEY_MAX] = "";
    const char *name = key;
    for (const char *dot = strchr(key, '.');; dot = strchr(dot + 1, '.')) {
      size_t n = dot ? (size_t)(dot - key) : strlen(key);
      snprintf(part, sizeof part, "%.*s", (int)n, key);
      if (!dot || !is_group(part)) break;
      snprintf(prefix, sizeof prefix, "%s", part);
      name = dot + 1;
    }
    char leaf[KEY_MAX];
    snprintf(leaf, sizeof leaf, "%s", name);
    char *cut = strchr(leaf, '.');
    if (cut) *cut = '\0';
    return unknown_key(&s, NULL, prefix, leaf, part);
  }
  if (e && (e->flags & CLHS_CF_FIXED)) return fixed_key(&s, NULL, e);
  /* A path is taken verbatim unless quoted, so "out dir/run #3.h5" needs no YAML quoting. */
  if (e && e->kind == CLHS_CK_STRING && value[0] != '"' && value[0] != '\'') {
    size_t n = strlen(value);
    while (n > 0 && isspace((unsigned char)value[n - 1]))
      n--;
    char buf[CLHS_PATH_LEN + 1];
    if (n > CLHS_PATH_LEN) n = CLHS_PATH_LEN; /* still too long: set_string_text says so */
    memcpy(buf, value, n);
    buf[n] = '\0';
    return set_string_text(cfg, e, buf, NULL, &s);
  }
  if (e) return apply_text(cfg, e, key, value, &s); /* one key: the setters are all or nothing */
  /* A whole group ("levers.research={on: 20, ramp: 0}") may fail half way: work on a copy. */
  clhs_config work;
  int rc = copy_config(&work, cfg, err);
  if (rc != CLHS_OK) return rc;
  return commit(cfg, &work, apply_text(&work, NULL, key, value, &s));
}

/* ------------------------------------------------------------------------------------------ */
/* Defaults, checks and derived values.                                                       */

/* Lever `on` in (fractional) steps from run.start_date; an integer `on` is a step already. */
static int resolve_on(const clhs_config *cfg, const clhs_lever_cfg *lv, double *on_step) {
  int64_t v, d0;
  if (parse_i64(lv->on, &v) == 0) {
    *on_step = (double)v;
    return 0;
  }
  if (clhs_date_parse(lv->on, &v) != 0 || clhs_date_parse(cfg->run.start_date, &d0) != 0) return -1;
  *on_step = (double)(v - d0) / 7.0;
  return 0;
}

void clhs_config_defaults(clhs_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  clhs_error err;
  clhs_error_clear(&err);
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    const clhs_config_entry *e = &clhs_config_table[i];
    src s = {"built-in default", 0, &err};
    if (apply_text(cfg, e, NULL, e->def, &s) != CLHS_OK) {
      /* A bad default is a bug in config_table.c, caught by the unit tests. */
      fprintf(stderr, "clhsim: internal error: %s\n", err.msg);
      abort();
    }
  }
  for (int l = 0; l < CLHS_NLEVERS; l++)
    resolve_on(cfg, &cfg->levers[l], &cfg->levers[l].on_step);
}

/* Re-check one key as stored (a program may have set fields directly). */
static int check_entry(clhs_config *cfg, const clhs_config_entry *e, const src *s) {
  char buf[64];
  switch (e->kind) {
  case CLHS_CK_INT64: {
    int64_t v = *(const int64_t *)field(cfg, e);
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return in_range(e, (double)v) ? CLHS_OK : out_of_range(s, NULL, e, "", buf);
  }
  case CLHS_CK_DOUBLE:
  case CLHS_CK_DVEC: {
    size_t n = e->kind == CLHS_CK_DVEC ? e->aux : 1;
    const double *v = field(cfg, e);
    for (size_t i = 0; i < n; i++) {
      char what[32] = "";
      if (e->kind == CLHS_CK_DVEC) snprintf(what, sizeof what, "element %zu: ", i + 1);
      clhs_cfg_fmt_double(v[i], buf, sizeof buf);
      if (!isfinite(v[i]) || !in_range(e, v[i])) return out_of_range(s, NULL, e, what, buf);
    }
    return CLHS_OK;
  }
  case CLHS_CK_UINT64: return CLHS_OK;
  case CLHS_CK_STRING: {
    const char *t = field(cfg, e);
    if (!memchr(t, '\0', e->aux) || !t[0])
      return fail(s, NULL, e->key, "expected a non-empty %s of at most %zu characters", e->unit,
                  e->aux - 1);
    return check_string_text(e, t, NULL, s); /* the same checks, e.g. of -o PATH */
  }
  case CLHS_CK_DATE:
  case CLHS_CK_DATE_OR_STEP: {
    char *t = field(cfg, e);
    if (!memchr(t, '\0', e->aux)) t[e->aux - 1] = '\0';
    int64_t v = 0;
    int rc = e->kind == CLHS_CK_DATE_OR_STEP ? parse_i64(t, &v) : -1;
    if (rc == 0) return in_range(e, (double)v) ? CLHS_OK : out_of_range(s, NULL, e, "step ", t);
    if (clhs_date_parse(t, &v) != 0)
      return fail(s, NULL, e->key, "expected %s, got '%s'", clhs_config_kind_names[e->kind], t);
    return CLHS_OK;
  }
  case CLHS_CK_ENUM: {
    int v = *(const int *)field(cfg, e), n = 0;
    while (e->names[n])
      n++;
    if (v < 0 || v >= n) return fail(s, NULL, e->key, "invalid value %d", v);
    return CLHS_OK;
  }
  case CLHS_CK_SCHEDULE: {
    char why[256];
    if (check_schedule(cfg->centres.nschedule,
                       (const char(*)[CLHS_DATE_LEN])cfg->centres.schedule_date,
                       cfg->centres.schedule_count, why, sizeof why) != -1 ||
        (cfg->centres.nschedule < 1 || cfg->centres.nschedule > CLHS_SCHEDULE_MAX))
      return fail(s, NULL, e->key, "%s", why);
    return CLHS_OK;
  }
  case CLHS_CK_ILIST: {
    int32_t n = *(int32_t *)field(cfg, e);
    int32_t *v = clhs_cfg_ilist_get(cfg, e);
    if (n < 0 || (n > 0 && !v)) return fail(s, NULL, e->key, "inconsistent centre list");
    for (int32_t i = 0; i < n; i++) {
      snprintf(buf, sizeof buf, "%" PRId32, v[i]);
      if (!in_range(e, (double)v[i])) return out_of_range(s, NULL, e, "element ", buf);
    }
    *(int32_t *)field(cfg, e) = sort_unique(v, n);
    return CLHS_OK;
  }
  default: return clhs_error_set(s->err, CLHS_EFAIL, "%s: internal: unknown kind", e->key);
  }
}

/*
 * A lever whose `on` was set (it differs from the built-in default) to a date or step after
 * the run's last date, run.start_date + 7 x run.steps days, never acts: most likely a typo in
 * a year or a forgotten run.steps. Not an error (a long scenario may be cut short on purpose),
 * so a warning on stderr. Defaults are not reported: a short run leaves most of the
 * ImproveCareNow levers after its end, and nobody asked for them.
 */
static void warn_late_levers(const clhs_config *cfg) {
  int64_t d0;
  if (clhs_date_parse(cfg->run.start_date, &d0) != 0) return;
  char last[16];
  clhs_date_format(d0 + 7 * cfg->run.steps, last);
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    const clhs_lever_cfg *lv = &cfg->levers[l];
    char key[64];
    snprintf(key, sizeof key, "levers.%s.on", clhs_lever_names[l]);
    const clhs_config_entry *e = find_entry(key);
    if (!e || strcmp(lv->on, e->def) == 0 || !(lv->on_step > (double)cfg->run.steps)) continue;
    int64_t v;
    const int step = parse_i64(lv->on, &v) == 0;
    fprintf(stderr,
            "clhsim: warning: %s = %s%s is after the run's last date %s (run.start_date %s + 7 x "
            "run.steps %" PRId64 " days): the %s lever never acts in this run\n",
            key, lv->on, step ? " (a step number)" : "", last, cfg->run.start_date, cfg->run.steps,
            clhs_lever_names[l]);
  }
}

int64_t clhs_config_centre_every(const clhs_config *cfg) {
  return cfg->output.centre_every < 0 ? cfg->output.every : cfg->output.centre_every;
}

int clhs_config_finalize(clhs_config *cfg, clhs_error *err) {
  src s = {NULL, 0, err};
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    int rc = check_entry(cfg, &clhs_config_table[i], &s);
    if (rc) return rc;
  }
  if (cfg->population.patients_min > cfg->population.patients_max)
    return fail(&s, NULL, "population.patients_min",
                "%" PRId64 " is above population.patients_max = %" PRId64,
                cfg->population.patients_min, cfg->population.patients_max);
  if (cfg->output.every < 1)
    return fail(&s, NULL, "output.every", "must be at least 1, got %" PRId64, cfg->output.every);
  if (clhs_config_centre_every(cfg) % cfg->output.every != 0)
    return fail(&s, NULL, "output.centre_every",
                "must be 0 (off) or a multiple of output.every = %" PRId64 ", got %" PRId64,
                cfg->output.every, cfg->output.centre_every);
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    clhs_lever_cfg *lv = &cfg->levers[l];
    /* Sorted and unique after check_entry; the largest index is the last. */
    if (lv->ncentres > 0 && lv->centres[lv->ncentres - 1] >= cfg->population.centres) {
      char key[64];
      snprintf(key, sizeof key, "levers.%s.centres", clhs_lever_names[l]);
      return fail(&s, NULL, key,
                  "centre %" PRId32 " does not exist: population.centres = %" PRId64
                  " (indices run from 0 to %" PRId64 ")",
                  lv->centres[lv->ncentres - 1], cfg->population.centres,
                  cfg->population.centres - 1);
    }
    if (resolve_on(cfg, lv, &lv->on_step) != 0) {
      char key[64];
      snprintf(key, sizeof key, "levers.%s.on", clhs_lever_names[l]);
      return fail(&s, NULL, key, "cannot resolve '%s' against run.start_date '%s'", lv->on,
                  cfg->run.start_date);
    }
  }
  warn_late_levers(cfg);
  return CLHS_OK;
}
