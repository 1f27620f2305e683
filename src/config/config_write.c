/*
 * Configuration out: the YAML of `clhsim config` (annotated or plain, it loads back), the
 * key/value walk of clhs_config_foreach, and the Markdown parameter tables of docs/model.md,
 * all generated from the key table in config_table.c.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include "clhs/config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* The heading of a mapping level ("levers.registry"), or NULL. */
static const char *group_heading(const char *prefix) {
  for (size_t i = 0; i < clhs_config_groups_len; i++)
    if (strcmp(clhs_config_groups[i].prefix, prefix) == 0) return clhs_config_groups[i].heading;
  return NULL;
}

static const void *cfield(const clhs_config *cfg, const clhs_config_entry *e) {
  return (const char *)cfg + e->offset;
}

/* ------------------------------------------------------------------------------------------ */
/* YAML.                                                                                      */

/* A string as a YAML double-quoted scalar (paths may hold ':', '#', quotes, anything). */
static void quote_string(clhs_strbuf *b, const char *t) {
  clhs_strbuf_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      clhs_strbuf_put(b, esc, 2);
    } else if (*p < 0x20 || *p == 0x7f) {
      clhs_strbuf_printf(b, "\\x%02x", (unsigned)*p);
    } else {
      clhs_strbuf_put(b, (const char *)p, 1);
    }
  }
  clhs_strbuf_put(b, "\"", 1);
}

/* The value of @p e as text: YAML (strings quoted) or raw (strings as they are). */
static void format_value(const clhs_config *cfg, const clhs_config_entry *e, clhs_strbuf *b,
                         int yaml) {
  char num[40];
  switch (e->kind) {
  case CLHS_CK_INT64: clhs_strbuf_printf(b, "%" PRId64, *(const int64_t *)cfield(cfg, e)); break;
  case CLHS_CK_UINT64: clhs_strbuf_printf(b, "%" PRIu64, *(const uint64_t *)cfield(cfg, e)); break;
  case CLHS_CK_DOUBLE:
    clhs_cfg_fmt_double(*(const double *)cfield(cfg, e), num, sizeof num);
    clhs_strbuf_puts(b, num);
    break;
  case CLHS_CK_STRING:
    if (yaml)
      quote_string(b, cfield(cfg, e));
    else
      clhs_strbuf_puts(b, cfield(cfg, e));
    break;
  case CLHS_CK_DATE:
  case CLHS_CK_DATE_OR_STEP: clhs_strbuf_puts(b, cfield(cfg, e)); break;
  case CLHS_CK_ENUM: {
    int v = *(const int *)cfield(cfg, e), n = 0;
    while (e->names[n])
      n++;
    clhs_strbuf_puts(b, v >= 0 && v < n ? e->names[v] : "?");
    break;
  }
  case CLHS_CK_DVEC: {
    const double *v = cfield(cfg, e);
    clhs_strbuf_puts(b, "[");
    for (size_t i = 0; i < e->aux; i++) {
      clhs_cfg_fmt_double(v[i], num, sizeof num);
      clhs_strbuf_printf(b, "%s%s", i ? ", " : "", num);
    }
    clhs_strbuf_puts(b, "]");
    break;
  }
  case CLHS_CK_SCHEDULE:
    clhs_strbuf_puts(b, "[");
    for (int32_t i = 0; i < cfg->centres.nschedule; i++) {
      clhs_cfg_fmt_double(cfg->centres.schedule_count[i], num, sizeof num);
      clhs_strbuf_printf(b, "%s[%s, %s]", i ? ", " : "", cfg->centres.schedule_date[i], num);
    }
    clhs_strbuf_puts(b, "]");
    break;
  case CLHS_CK_ILIST: {
    int32_t n = *(const int32_t *)cfield(cfg, e);
    const int32_t *v = clhs_cfg_ilist_get(cfg, e);
    clhs_strbuf_puts(b, "[");
    for (int32_t i = 0; i < n && v; i++)
      clhs_strbuf_printf(b, "%s%" PRId32, i ? ", " : "", v[i]);
    clhs_strbuf_puts(b, "]");
    break;
  }
  default: break;
  }
}

/* A comment, word-wrapped to 100 columns at @p indent. */
static void put_comment(FILE *out, int indent, const char *text) {
  const int width = 100 - indent - 2;
  const char *p = text;
  while (*p) {
    int n = (int)strlen(p);
    if (n > width) {
      n = width;
      while (n > 0 && p[n] != ' ')
        n--;
      if (n == 0) n = width; /* a single overlong word */
    }
    fprintf(out, "%*s# %.*s\n", indent, "", n, p);
    p += n;
    while (*p == ' ')
      p++;
  }
}

/* "a number in [0, 1]" etc., for the annotation of a key. */
static void describe(const clhs_config_entry *e, clhs_strbuf *b) {
  char range[96];
  clhs_cfg_fmt_range(e, range, sizeof range);
  switch (e->kind) {
  case CLHS_CK_INT64:
  case CLHS_CK_DOUBLE:
    clhs_strbuf_printf(b, "%s in %s", clhs_config_kind_names[e->kind], range);
    break;
  case CLHS_CK_UINT64:
    clhs_strbuf_printf(b, "an unsigned integer in [0, %" PRIu64 "]", UINT64_MAX);
    break;
  case CLHS_CK_STRING:
    clhs_strbuf_printf(b, "a string of at most %zu characters", e->aux - 1);
    break;
  case CLHS_CK_DATE: clhs_strbuf_puts(b, "a date YYYY-MM-DD"); break;
  case CLHS_CK_DATE_OR_STEP:
    clhs_strbuf_printf(b, "a date YYYY-MM-DD or a step number in %s", range);
    break;
  case CLHS_CK_ENUM:
    clhs_strbuf_puts(b, "one of ");
    for (int i = 0; e->names[i]; i++)
      clhs_strbuf_printf(b, "%s%s", i ? "|" : "", e->names[i]);
    break;
  case CLHS_CK_DVEC:
    clhs_strbuf_printf(b, "a sequence of %zu numbers, each in %s", e->aux, range);
    break;
  case CLHS_CK_SCHEDULE:
    clhs_strbuf_printf(b, "a sequence of 1 to %d [date, count] pairs, counts in %s",
                       CLHS_SCHEDULE_MAX, range);
    break;
  case CLHS_CK_ILIST:
    clhs_strbuf_puts(b, "a sequence of centre indices in [0, population.centres - 1]; [] = all");
    break;
  default: break;
  }
}

/* YAML 1.1 readers (PyYAML) turn a bare `on:` key into the boolean true: quote it. */
static const char *yaml_key(const char *name) {
  return strcmp(name, "on") == 0 ? "\"on\"" : name;
}

int clhs_config_write_yaml(const clhs_config *cfg, FILE *out, int annotate) {
  clhs_strbuf b = {0};
  if (annotate) {
    put_comment(out, 0,
                "clhsim configuration (MODEL.md v1.1). Every key is optional: a key left out "
                "keeps its built-in default. Override any key on the command line with "
                "-P section.key=value. Rates are per week; a weekly hazard h gives the per-step "
                "probability 1 - exp(-h). The constants at the end are fixed in model v1 and "
                "shown for reference only.");
  }
  char prev[KEY_MAX] = "", fixed_prev[KEY_MAX] = "";
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    const clhs_config_entry *e = &clhs_config_table[i];
    if (e->flags & CLHS_CF_FIXED) {
      /* Fixed constants are comments only, in both modes, so that the output loads back
       * (setting one is an error). They are expected to form sections of their own. */
      const char *dot = strrchr(e->key, '.');
      size_t n = (size_t)(dot - e->key);
      if (strncmp(fixed_prev, e->key, n) != 0 || fixed_prev[n] != '.') {
        if (annotate) {
          char group[KEY_MAX];
          snprintf(group, sizeof group, "%.*s", (int)n, e->key);
          const char *h = group_heading(group);
          fputs("\n", out);
          if (h) put_comment(out, 0, h);
        }
        fprintf(out, "# %.*s: fixed in model v1 (MODEL.md); shown for reference, cannot be set\n",
                (int)n, e->key);
      }
      clhs_strbuf_reset(&b);
      format_value(cfg, e, &b, 1);
      fprintf(out, "#   %s: %s   # %s (%s)\n", dot + 1, b.p ? b.p : "", e->meaning, e->unit);
      snprintf(fixed_prev, sizeof fixed_prev, "%s", e->key);
      prev[0] = '\0';
      continue;
    }
    /* Open every mapping level of this key that the previous key did not share. */
    const char *k = e->key;
    int depth = 0;
    for (const char *dot = strchr(k, '.'); dot; dot = strchr(dot + 1, '.'), depth++) {
      size_t n = (size_t)(dot - k);
      if (strncmp(prev, k, n) == 0 && prev[n] == '.') continue;
      char group[KEY_MAX];
      snprintf(group, sizeof group, "%.*s", (int)n, k);
      const char *name = strrchr(group, '.');
      name = name ? name + 1 : group;
      if (annotate) {
        const char *h = group_heading(group);
        if (depth == 0) fputs("\n", out);
        if (h) put_comment(out, depth * 2, h);
      }
      fprintf(out, "%*s%s:\n", depth * 2, "", name);
    }
    const char *leaf = strrchr(k, '.') + 1;
    if (annotate) {
      put_comment(out, depth * 2, e->meaning);
      clhs_strbuf_reset(&b);
      describe(e, &b);
      clhs_strbuf_printf(&b, " (%s); default %s", e->unit, e->def);
      if (!b.oom) put_comment(out, depth * 2, b.p);
    }
    clhs_strbuf_reset(&b);
    if (e->kind == CLHS_CK_SCHEDULE) {
      /* One point per line: the default curve does not fit in 100 columns. */
      char num[40];
      fprintf(out, "%*s%s:\n", depth * 2, "", leaf);
      for (int32_t j = 0; j < cfg->centres.nschedule; j++) {
        clhs_cfg_fmt_double(cfg->centres.schedule_count[j], num, sizeof num);
        fprintf(out, "%*s- [%s, %s]\n", depth * 2 + 2, "", cfg->centres.schedule_date[j], num);
      }
    } else {
      format_value(cfg, e, &b, 1);
      fprintf(out, "%*s%s: %s\n", depth * 2, "", yaml_key(leaf), b.p ? b.p : "");
    }
    snprintf(prev, sizeof prev, "%s", k);
  }
  int oom = b.oom;
  free(b.p);
  if (oom) return CLHS_ENOMEM;
  return ferror(out) ? CLHS_EIO : CLHS_OK;
}

char *clhs_config_to_yaml(const clhs_config *cfg, int annotate) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return NULL;
  int rc = clhs_config_write_yaml(cfg, f, annotate);
  if (fclose(f) != 0 || rc != CLHS_OK) {
    free(buf);
    return NULL;
  }
  return buf;
}

void clhs_config_foreach(const clhs_config *cfg,
                         void (*fn)(const char *key, const char *value, void *user), void *user) {
  clhs_strbuf b = {0};
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    clhs_strbuf_reset(&b);
    format_value(cfg, &clhs_config_table[i], &b, 0);
    fn(clhs_config_table[i].key, b.p && !b.oom ? b.p : "", user);
  }
  free(b.p);
}

/* ------------------------------------------------------------------------------------------ */
/* Markdown: the parameter table of docs/model.md, generated from the key table.             */

/* A table cell: '|' would end the cell and a newline the row, so escape or drop them. */
static void md_cell(FILE *out, const char *t) {
  for (; *t; t++) {
    if (*t == '|')
      fputs("\\|", out);
    else if (*t == '\n' || *t == '\r')
      fputc(' ', out);
    else
      fputc(*t, out);
  }
}

/* The range column: the allowed values, shorter than describe()'s sentence. */
static void md_range(const clhs_config_entry *e, clhs_strbuf *b) {
  char range[96];
  clhs_cfg_fmt_range(e, range, sizeof range);
  switch (e->kind) {
  case CLHS_CK_INT64:
  case CLHS_CK_DOUBLE: clhs_strbuf_puts(b, range); break;
  case CLHS_CK_UINT64: clhs_strbuf_printf(b, "[0, %" PRIu64 "]", UINT64_MAX); break;
  case CLHS_CK_STRING: clhs_strbuf_printf(b, "at most %zu characters", e->aux - 1); break;
  case CLHS_CK_DATE: clhs_strbuf_puts(b, "YYYY-MM-DD"); break;
  case CLHS_CK_DATE_OR_STEP: clhs_strbuf_printf(b, "YYYY-MM-DD or a step in %s", range); break;
  case CLHS_CK_ENUM:
    for (int i = 0; e->names[i]; i++)
      clhs_strbuf_printf(b, "%s`%s`", i ? " or " : "", e->names[i]);
    break;
  case CLHS_CK_DVEC: clhs_strbuf_printf(b, "%zu numbers, each in %s", e->aux, range); break;
  case CLHS_CK_SCHEDULE:
    clhs_strbuf_printf(b, "1 to %d [date, count] pairs, counts in %s", CLHS_SCHEDULE_MAX, range);
    break;
  case CLHS_CK_ILIST:
    clhs_strbuf_puts(b, "centre indices in [0, population.centres - 1]; [] = all");
    break;
  default: break;
  }
}

int clhs_config_write_markdown(FILE *out) {
  clhs_strbuf b = {0};
  char section[KEY_MAX] = "";
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    const clhs_config_entry *e = &clhs_config_table[i];
    size_t n = strcspn(e->key, ".");
    if (strncmp(section, e->key, n) != 0 || section[n] != '\0') {
      snprintf(section, sizeof section, "%.*s", (int)n, e->key);
      const char *h = group_heading(section);
      fprintf(out, "%s### `%s`: ", i ? "\n" : "", section);
      md_cell(out, h ? h : section);
      fputs("\n\n", out);
      if (e->flags & CLHS_CF_FIXED)
        fputs("Fixed in model v1: a configuration file or -P that sets one of these keys is an "
              "error.\n\n",
              out);
      fputs("| key | default | range | unit | meaning |\n|---|---|---|---|---|\n", out);
    }
    fputs("| `", out);
    md_cell(out, e->key);
    fputs("` | `", out);
    md_cell(out, e->def);
    fputs("` | ", out);
    clhs_strbuf_reset(&b);
    md_range(e, &b);
    md_cell(out, b.p ? b.p : "");
    fputs(" | ", out);
    md_cell(out, e->unit);
    fputs(" | ", out);
    md_cell(out, e->meaning);
    fputs(" |\n", out);
  }
  int oom = b.oom;
  free(b.p);
  if (oom) return CLHS_ENOMEM;
  return ferror(out) ? CLHS_EIO : CLHS_OK;
}
