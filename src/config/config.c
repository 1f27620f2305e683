/*
 * Configuration: what the reader (config_read.c: YAML files, -P overrides, suggestions, checks)
 * and the writer (config_write.c: YAML, the Markdown parameter tables) share, and the flat
 * buffer that carries a configuration between ranks.
 *
 * Everything is driven by the key table in config_table.c: a key is found there by its full
 * dotted name, and its kind decides how a value is parsed, checked and printed.
 */
#include "clhs/config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Numbers as text, for messages and for the writer.                                        */

/* Shortest text that reads back to the same double ("0.1", not "0.10000000000000001"). */
void clhs_cfg_fmt_double(double x, char *buf, size_t n) {
  if (x == floor(x) && fabs(x) < 1e15) { /* 250, not 2.5e+02 */
    snprintf(buf, n, "%.0f", x);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) return;
  }
}

/* A bound for messages: integers without exponent, infinities as "inf". */
static void fmt_bound(double x, char *buf, size_t n) {
  if (isinf(x))
    snprintf(buf, n, "%sinf", x < 0 ? "-" : "");
  else if (x == floor(x) && fabs(x) < 1e15)
    snprintf(buf, n, "%.0f", x);
  else
    clhs_cfg_fmt_double(x, buf, n);
}

void clhs_cfg_fmt_range(const clhs_config_entry *e, char *buf, size_t n) {
  char lo[40], hi[40];
  fmt_bound(e->min, lo, sizeof lo);
  fmt_bound(e->max, hi, sizeof hi);
  snprintf(buf, n, "%c%s, %s%c", (e->flags & CLHS_CF_MIN_OPEN) ? '(' : '[', lo, hi,
           isinf(e->max) ? ')' : ']');
}

/* The centre list of an ILIST entry: the pointer stored at offset aux. */
int32_t *clhs_cfg_ilist_get(const clhs_config *cfg, const clhs_config_entry *e) {
  int32_t *p;
  memcpy(&p, (const char *)cfg + e->aux, sizeof p);
  return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Flat buffer for MPI_Bcast: header, the struct (pointers zeroed), then each lever's list.   */
/* All ranks run the same binary, so the struct's bytes are a valid wire format.            */

static const char pack_magic[8] = {'C', 'L', 'H', 'S', 'C', 'F', 'G', '1'};

typedef struct pack_header {
  char magic[8];
  uint64_t struct_size;
  uint64_t total_size;
} pack_header;

void *clhs_config_pack(const clhs_config *cfg, size_t *nbytes) {
  size_t total = sizeof(pack_header) + sizeof(clhs_config);
  for (int l = 0; l < CLHS_NLEVERS; l++)
    total += (size_t)(cfg->levers[l].ncentres > 0 ? cfg->levers[l].ncentres : 0) * sizeof(int32_t);
  unsigned char *buf = malloc(total);
  if (!buf) return NULL;
  pack_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, pack_magic, sizeof h.magic);
  h.struct_size = sizeof(clhs_config);
  h.total_size = total;
  memcpy(buf, &h, sizeof h);
  clhs_config copy = *cfg;
  for (int l = 0; l < CLHS_NLEVERS; l++)
    copy.levers[l].centres = NULL;
  memcpy(buf + sizeof h, &copy, sizeof copy);
  size_t off = sizeof h + sizeof copy;
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    if (cfg->levers[l].ncentres <= 0) continue;
    size_t n = (size_t)cfg->levers[l].ncentres * sizeof(int32_t);
    memcpy(buf + off, cfg->levers[l].centres, n);
    off += n;
  }
  if (nbytes) *nbytes = total;
  return buf;
}

int clhs_config_unpack(clhs_config *cfg, const void *buf, size_t nbytes, clhs_error *err) {
  const unsigned char *p = buf;
  pack_header h;
  if (!buf || nbytes < sizeof h + sizeof(clhs_config))
    return clhs_error_set(err, CLHS_EFAIL, "config unpack: buffer of %zu bytes is too short",
                          nbytes);
  memcpy(&h, p, sizeof h);
  if (memcmp(h.magic, pack_magic, sizeof h.magic) != 0 || h.struct_size != sizeof(clhs_config) ||
      h.total_size != nbytes)
    return clhs_error_set(err, CLHS_EFAIL,
                          "config unpack: not a configuration packed by this build of clhsim");
  clhs_config tmp;
  memcpy(&tmp, p + sizeof h, sizeof tmp);
  size_t need = sizeof h + sizeof tmp;
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    if (tmp.levers[l].ncentres < 0)
      return clhs_error_set(err, CLHS_EFAIL, "config unpack: corrupt centre list");
    need += (size_t)tmp.levers[l].ncentres * sizeof(int32_t);
  }
  if (need != nbytes)
    return clhs_error_set(err, CLHS_EFAIL, "config unpack: size %zu does not match %zu", nbytes,
                          need);
  size_t off = sizeof h + sizeof tmp;
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    tmp.levers[l].centres = NULL;
    int32_t n = tmp.levers[l].ncentres;
    if (n == 0) continue;
    tmp.levers[l].centres = clhs_calloc((size_t)n, sizeof(int32_t), err, "lever centre list");
    if (!tmp.levers[l].centres) {
      for (int j = 0; j < l; j++)
        free(tmp.levers[j].centres);
      return CLHS_ENOMEM;
    }
    memcpy(tmp.levers[l].centres, p + off, (size_t)n * sizeof(int32_t));
    off += (size_t)n * sizeof(int32_t);
  }
  *cfg = tmp; /* cfg's previous lists (if any) are not freed: it may be uninitialised */
  return CLHS_OK;
}

void clhs_config_free(clhs_config *cfg) {
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    free(cfg->levers[l].centres);
    cfg->levers[l].centres = NULL;
    cfg->levers[l].ncentres = 0;
  }
}

int clhs_config_key_kind(const char *key) {
  for (size_t i = 0; i < clhs_config_table_len; i++) {
    if (strcmp(clhs_config_table[i].key, key) != 0) continue;
    switch (clhs_config_table[i].kind) {
    case CLHS_CK_INT64: return 'i';
    case CLHS_CK_UINT64: return 'u';
    case CLHS_CK_DOUBLE: return 'd';
    case CLHS_CK_DVEC: return 'D';
    case CLHS_CK_ILIST: return 'I';
    default: return 's';
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Model versions (MODEL.md §14).                                                             */

/* The keys model v1.2 added, at the values that make the model v1.1 exactly. The keys whose
 * defaults v1.2 changed (care.h_rem, ...) are not here: a v1.1 configuration names them. */
static const char *const v11_added[] = {"care.rem_evidence=0", "care.rel_evidence=0",
                                        "care.steroid_g=0.6", "care.steroid_etx=0.5",
                                        "centres.coaching=0"};

int clhs_config_for_model(clhs_config *cfg, const char *version, const char *what,
                          clhs_error *err) {
  if (!strcmp(version, CLHS_MODEL_VERSION)) return CLHS_OK;
  if (strcmp(version, "1.1") != 0)
    return clhs_error_set(err, CLHS_EINPUT,
                          "%s was made under model v%.16s, but this clhsim runs model v%s (and "
                          "continues v1.1 states as v1.1): continue it with the clhsim that "
                          "wrote it",
                          what, version, CLHS_MODEL_VERSION);
  for (size_t i = 0; i < sizeof v11_added / sizeof v11_added[0]; i++)
    if (clhs_config_override(cfg, v11_added[i], err)) return err->code;
  return CLHS_OK;
}
