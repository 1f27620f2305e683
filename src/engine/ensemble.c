/*
 * `clhsim ensemble DESIGN.yml` (include/clhs/ensemble.h): the design read into members, the
 * ranks split into groups that take members from a shared counter, each member an ordinary
 * run on its group, the ensemble file assembled from the member files at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include "clhs/ensemble.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "clhs/engine.h"
#include "clhs/fileutil.h"
#include "clhs/hash.h"
#include "clhs/model.h"
#include "clhs/rng.h"

/* A hash of a text (a member's configuration as YAML): the key of its `done` line. */
static uint64_t text_key(const void *packed, size_t len) {
  const unsigned char *b = packed;
  uint64_t h = 0x656e73656d626c65ULL;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = 0;
    memcpy(&v, b + i, len - i < 8 ? len - i : 8);
    h = clhs_fold64(h, v);
  }
  return clhs_mix64(h ^ (uint64_t)len);
}

/* ------------------------------------------------------------------------------------------ */
/* The design file                                                                            */

typedef struct kv {
  char key[128];
  char *val; /* -P value text */
} kv;

typedef struct kvlist {
  kv *v;
  int n;
} kvlist;

typedef struct parsed {
  const char *path;
  yaml_document_t *doc;
  clhs_error *err;
} parsed;

static int dfail(const parsed *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int dfail(const parsed *p, const yaml_node_t *n, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n)
    return clhs_error_set(p->err, CLHS_EINPUT, "%s:%lu: %s", p->path,
                          (unsigned long)n->start_mark.line + 1, msg);
  return clhs_error_set(p->err, CLHS_EINPUT, "%s: %s", p->path, msg);
}

static const char *scalar(const yaml_node_t *n) {
  return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A node as the text of a -P value: a scalar as it is, a sequence as [a, b, [c, d]]. */
static int value_text(const parsed *p, const yaml_node_t *n, char *buf, size_t len) {
  if (n->type == YAML_SCALAR_NODE) {
    if ((size_t)snprintf(buf, len, "%s", scalar(n)) >= len) return dfail(p, n, "value too long");
    return CLHS_OK;
  }
  if (n->type != YAML_SEQUENCE_NODE) return dfail(p, n, "expected a value or a list of values");
  size_t at = 0;
  buf[at++] = '[';
  for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
    if (i != n->data.sequence.items.start) {
      if (at + 2 >= len) return dfail(p, n, "value too long");
      buf[at++] = ',';
      buf[at++] = ' ';
    }
    if (value_text(p, yaml_document_get_node(p->doc, *i), buf + at, len - at)) return CLHS_EINPUT;
    at += strlen(buf + at);
  }
  if (at + 2 >= len) return dfail(p, n, "value too long");
  buf[at++] = ']';
  buf[at] = '\0';
  return CLHS_OK;
}

static int kv_add(kvlist *l, const char *key, const char *val) {
  kv *v = realloc(l->v, sizeof *v * (size_t)(l->n + 1));
  if (!v) return -1;
  l->v = v;
  snprintf(v[l->n].key, sizeof v[l->n].key, "%s", key);
  v[l->n].val = strdup(val);
  if (!v[l->n].val) return -1;
  l->n++;
  return 0;
}

static void kv_free(kvlist *l) {
  for (int i = 0; i < l->n; i++)
    free(l->v[i].val);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* A mapping of section.key: value (nested mappings joined with dots) into @p out. */
static int read_set(const parsed *p, const yaml_node_t *n, const char *prefix, kvlist *out) {
  if (n->type != YAML_MAPPING_NODE) return dfail(p, n, "expected a mapping of section.key: value");
  for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
    const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    if (!scalar(k)) return dfail(p, k, "keys must be names");
    char key[128];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", scalar(k));
    if (v->type == YAML_MAPPING_NODE) {
      if (read_set(p, v, key, out)) return CLHS_EINPUT;
      continue;
    }
    char val[4096];
    if (value_text(p, v, val, sizeof val)) return CLHS_EINPUT;
    if (kv_add(out, key, val)) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  }
  return CLHS_OK;
}

/* A list of non-negative integers, N, [a, b, ...] or "a-b" (seeds, trial.centres); @p what
 * names the key in messages. */
static int read_seeds(const parsed *p, const yaml_node_t *n, const char *what, uint64_t **seeds,
                      int64_t *ns) {
  uint64_t *s = NULL;
  int64_t cnt = 0;
  if (n->type == YAML_SEQUENCE_NODE) {
    cnt = n->data.sequence.items.top - n->data.sequence.items.start;
    s = malloc(sizeof *s * (size_t)(cnt ? cnt : 1));
    if (!s) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
    for (int64_t i = 0; i < cnt; i++) {
      const yaml_node_t *e = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
      char *end = NULL;
      const char *t = scalar(e);
      errno = 0;
      s[i] = t ? strtoull(t, &end, 10) : 0;
      if (!t || !*t || *end || errno || t[0] == '-') {
        free(s);
        return dfail(p, e, "%s: expected a non-negative integer", what);
      }
    }
  } else if (scalar(n)) {
    unsigned long long a = 0, b = 0;
    char extra;
    const char *t = scalar(n);
    int k = sscanf(t, "%llu-%llu%c", &a, &b, &extra);
    if (k == 1 && strchr(t, '-') == NULL) {
      b = a;
    } else if (k != 2 || b < a) {
      return dfail(p, n, "%s: expected N, A-B (A <= B) or a list, got '%s'", what, t);
    }
    if (b - a >= 10000000ULL) return dfail(p, n, "%s: more than 10^7 values", what);
    cnt = (int64_t)(b - a + 1);
    s = malloc(sizeof *s * (size_t)cnt);
    if (!s) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
    for (int64_t i = 0; i < cnt; i++)
      s[i] = a + (uint64_t)i;
  } else {
    return dfail(p, n, "%s: expected N, A-B or a list", what);
  }
  if (cnt == 0) {
    free(s);
    return dfail(p, n, "%s: the list is empty", what);
  }
  *seeds = s;
  *ns = cnt;
  return CLHS_OK;
}

/* One axis of the design's product: a list of points, each a set of key=value. */
typedef struct axis {
  int npoints;
  kvlist *point;
  char **name; /* scenario names (scenarios only) */
} axis;

static void axis_free(axis *a) {
  for (int i = 0; i < a->npoints; i++) {
    kv_free(&a->point[i]);
    if (a->name) free(a->name[i]);
  }
  free(a->point);
  free(a->name);
  memset(a, 0, sizeof *a);
}

static int axis_alloc(const parsed *p, axis *a, int n, int names) {
  a->npoints = n;
  a->point = calloc((size_t)(n ? n : 1), sizeof *a->point);
  a->name = names ? calloc((size_t)(n ? n : 1), sizeof *a->name) : NULL;
  if (!a->point || (names && !a->name)) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  return CLHS_OK;
}

/* grid: {key: [v1, v2], ...} -> the product, the first key slowest. */
static int read_grid(const parsed *p, const yaml_node_t *n, axis *a) {
  if (n->type != YAML_MAPPING_NODE) return dfail(p, n, "grid: expected key: [values]");
  int total = 1;
  for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    const int len = v->type == YAML_SEQUENCE_NODE
                        ? (int)(v->data.sequence.items.top - v->data.sequence.items.start)
                        : 0;
    if (len == 0) return dfail(p, v, "grid: each key needs a non-empty list of values");
    if ((int64_t)total * len > 10000000) return dfail(p, v, "grid: more than 10^7 points");
    total *= len;
  }
  if (axis_alloc(p, a, total, 0)) return CLHS_EINPUT;
  int stride = total;
  for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
    const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    const int len = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!scalar(k)) return dfail(p, k, "grid: keys must be section.key names");
    stride /= len;
    for (int i = 0; i < total; i++) {
      const yaml_node_t *e =
          yaml_document_get_node(p->doc, v->data.sequence.items.start[(i / stride) % len]);
      char val[4096];
      if (value_text(p, e, val, sizeof val)) return CLHS_EINPUT;
      if (kv_add(&a->point[i], scalar(k), val))
        return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
    }
  }
  return CLHS_OK;
}

/* scenarios: [{name: N, set: {...}}, ...] */
static int read_scenarios(const parsed *p, const yaml_node_t *n, axis *a) {
  if (n->type != YAML_SEQUENCE_NODE) return dfail(p, n, "scenarios: expected a list");
  const int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (len == 0) return dfail(p, n, "scenarios: the list is empty");
  if (axis_alloc(p, a, len, 1)) return CLHS_EINPUT;
  for (int i = 0; i < len; i++) {
    const yaml_node_t *s = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
    if (s->type != YAML_MAPPING_NODE) return dfail(p, s, "scenarios: expected {name, set}");
    for (yaml_node_pair_t *q = s->data.mapping.pairs.start; q < s->data.mapping.pairs.top; q++) {
      const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
      const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
      if (scalar(k) && !strcmp(scalar(k), "name") && scalar(v)) {
        a->name[i] = strdup(scalar(v));
      } else if (scalar(k) && !strcmp(scalar(k), "set")) {
        if (read_set(p, v, "", &a->point[i])) return CLHS_EINPUT;
      } else {
        return dfail(p, k, "scenarios: unknown key (expected name, set)");
      }
    }
    if (!a->name[i]) {
      char nm[32];
      snprintf(nm, sizeof nm, "scenario%d", i);
      a->name[i] = strdup(nm);
    }
    if (!a->name[i]) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  }
  return CLHS_OK;
}

/* lhs: {size: N, seed: S, ranges: {key: [lo, hi]}}: point i of dimension j lies in stratum
 * perm_j(i) of N equal strata, uniformly inside it; permutations and offsets are keyed draws
 * (seed S, id j), so the hypercube depends on nothing but the design. */
static int read_lhs(const parsed *p, const yaml_node_t *n, axis *a) {
  if (n->type != YAML_MAPPING_NODE) return dfail(p, n, "lhs: expected {size, seed, ranges}");
  long size = 0;
  uint64_t seed = 1;
  const yaml_node_t *ranges = NULL;
  for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
    const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    const char *kt = scalar(k), *vt = scalar(v);
    if (kt && !strcmp(kt, "size") && vt) {
      char *end;
      size = strtol(vt, &end, 10);
      if (*end || size < 1 || size > 1000000) return dfail(p, v, "lhs.size: 1 .. 10^6");
    } else if (kt && !strcmp(kt, "seed") && vt) {
      char *end;
      seed = strtoull(vt, &end, 10);
      if (*end || vt[0] == '-') return dfail(p, v, "lhs.seed: a non-negative integer");
    } else if (kt && !strcmp(kt, "ranges")) {
      ranges = v;
    } else {
      return dfail(p, k, "lhs: unknown key (expected size, seed, ranges)");
    }
  }
  if (!size || !ranges || ranges->type != YAML_MAPPING_NODE)
    return dfail(p, n, "lhs: needs size and ranges: {section.key: [low, high]}");
  if (axis_alloc(p, a, (int)size, 0)) return CLHS_EINPUT;
  int32_t *perm = malloc(sizeof *perm * (size_t)size);
  if (!perm) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  int j = 0;
  for (yaml_node_pair_t *q = ranges->data.mapping.pairs.start; q < ranges->data.mapping.pairs.top;
       q++, j++) {
    const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    double lo = 0, hi = 0;
    const int two = v->type == YAML_SEQUENCE_NODE &&
                    v->data.sequence.items.top - v->data.sequence.items.start == 2;
    const char *t0 =
        two ? scalar(yaml_document_get_node(p->doc, v->data.sequence.items.start[0])) : NULL;
    const char *t1 =
        two ? scalar(yaml_document_get_node(p->doc, v->data.sequence.items.start[1])) : NULL;
    if (!scalar(k) || !t0 || !t1 || sscanf(t0, "%lf", &lo) != 1 || sscanf(t1, "%lf", &hi) != 1 ||
        !(lo <= hi)) {
      free(perm);
      return dfail(p, v, "lhs.ranges: expected section.key: [low, high] with low <= high");
    }
    clhs_rng r;
    clhs_rng_init(&r, seed, 0, (uint64_t)j, CLHS_P_DESIGN);
    for (long i = 0; i < size; i++)
      perm[i] = (int32_t)i;
    for (long i = size - 1; i > 0; i--) { /* Fisher-Yates */
      const long m = (long)clhs_rng_below(&r, (uint32_t)(i + 1));
      const int32_t t = perm[i];
      perm[i] = perm[m];
      perm[m] = t;
    }
    for (long i = 0; i < size; i++) {
      const double u = (perm[i] + clhs_rng_uniform(&r)) / (double)size;
      char val[64];
      snprintf(val, sizeof val, "%.17g", lo + u * (hi - lo));
      if (kv_add(&a->point[i], scalar(k), val)) {
        free(perm);
        return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
      }
    }
  }
  free(perm);
  return CLHS_OK;
}

/* trial: {lever: NAME, seed: S, strata: K, centres: [..] | "a-b"} (include/clhs/ensemble.h) */
typedef struct trial_spec {
  char lever[32];
  uint64_t seed;
  int strata;
  uint64_t *eligible; /* NULL: every centre */
  int64_t neligible;
  const yaml_node_t *node;
} trial_spec;

static int read_trial(const parsed *p, const yaml_node_t *n, trial_spec *t) {
  if (n->type != YAML_MAPPING_NODE)
    return dfail(p, n, "trial: expected {lever, seed, strata, centres}");
  t->seed = 1;
  t->strata = 4;
  t->node = n;
  for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
    const yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
    const char *kt = scalar(k), *vt = scalar(v);
    char *end = NULL;
    if (kt && !strcmp(kt, "lever") && vt) {
      int found = 0;
      for (int i = 0; i < CLHS_NLEVERS; i++)
        found |= !strcmp(vt, clhs_lever_names[i]);
      if (!found || strlen(vt) >= sizeof t->lever) {
        char names[512] = "";
        for (int i = 0; i < CLHS_NLEVERS; i++)
          snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                   clhs_lever_names[i]);
        return dfail(p, v, "trial.lever: unknown lever '%s' (one of %s)", vt, names);
      }
      snprintf(t->lever, sizeof t->lever, "%s", vt);
    } else if (kt && !strcmp(kt, "seed") && vt) {
      errno = 0;
      t->seed = strtoull(vt, &end, 10);
      if (!*vt || *end || errno || vt[0] == '-')
        return dfail(p, v, "trial.seed: a non-negative integer");
    } else if (kt && !strcmp(kt, "strata") && vt) {
      const long s = strtol(vt, &end, 10);
      if (!*vt || *end || s < 1 || s > 100) return dfail(p, v, "trial.strata: 1 .. 100");
      t->strata = (int)s;
    } else if (kt && !strcmp(kt, "centres")) {
      if (read_seeds(p, v, "trial.centres", &t->eligible, &t->neligible)) return CLHS_EINPUT;
    } else {
      return dfail(p, k, "trial: unknown key (expected lever, seed, strata, centres)");
    }
  }
  if (!t->lever[0]) return dfail(p, n, "trial: needs `lever` (the lever the arms differ in)");
  return CLHS_OK;
}

typedef struct sized {
  int32_t patients;
  int64_t centre;
} sized;

static int cmp_sized(const void *a, const void *b) {
  const sized *x = a, *y = b;
  if (x->patients != y->patients) return (x->patients > y->patients) - (x->patients < y->patients);
  return (x->centre > y->centre) - (x->centre < y->centre);
}

/* The allocation of one member (its configuration @p cfg: centre sizes and run.seed) into
 * @p arm and @p stratum ([ncentres] each), then levers.LEVER.centres = the intervention arm. */
static int trial_allocate(const parsed *p, const trial_spec *t, clhs_config *cfg, int64_t m,
                          int8_t *arm, int8_t *stratum, int32_t *patients) {
  const int64_t C = cfg->population.centres;
  int64_t n = t->eligible ? t->neligible : C;
  sized *s = malloc(sizeof *s * (size_t)(n ? n : 1));
  if (!s) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  for (int64_t c = 0; c < C; c++) {
    arm[c] = stratum[c] = -1;
    patients[c] = clhs_centre_patients(cfg, c);
  }
  for (int64_t i = 0; i < n; i++) {
    const int64_t c = t->eligible ? (int64_t)t->eligible[i] : i;
    if (t->eligible && (t->eligible[i] >= (uint64_t)C || arm[c] == 0)) {
      free(s);
      return dfail(p, t->node,
                   "trial.centres: centre %llu is %s (there are %lld centres, numbered from 0)",
                   (unsigned long long)t->eligible[i],
                   t->eligible[i] >= (uint64_t)C ? "not a centre" : "listed twice", (long long)C);
    }
    arm[c] = 0;
    s[i].centre = c;
    s[i].patients = patients[c];
  }
  if (n < 2) {
    free(s);
    return dfail(p, t->node, "trial: needs at least 2 centres (has %lld)", (long long)n);
  }
  qsort(s, (size_t)n, sizeof *s, cmp_sized);
  int K = t->strata;
  if (K > n / 2) K = (int)(n / 2); /* at least two centres a stratum */
  for (int k = 0; k < K; k++) {
    const int64_t lo = n * k / K, hi = n * (k + 1) / K, len = hi - lo;
    clhs_rng r;
    clhs_rng_init(&r, t->seed, (uint32_t)k, cfg->run.seed, CLHS_P_TRIAL);
    for (int64_t i = len - 1; i > 0; i--) { /* Fisher-Yates within the stratum */
      const int64_t j = (int64_t)clhs_rng_below(&r, (uint32_t)(i + 1));
      const sized x = s[lo + i];
      s[lo + i] = s[lo + j];
      s[lo + j] = x;
    }
    const int odd_in = (len & 1) && clhs_rng_bernoulli(&r, 0.5);
    for (int64_t i = 0; i < len; i++) {
      const int64_t c = s[lo + i].centre;
      arm[c] = (int8_t)(i < len / 2 || (i == len - 1 && odd_in));
      stratum[c] = (int8_t)k;
    }
  }
  free(s);
  /* levers.LEVER.centres = the intervention arm, in centre order */
  const size_t cap = 64 + (size_t)C * 12;
  char *a = malloc(cap);
  if (!a) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
  size_t at = (size_t)snprintf(a, cap, "levers.%s.centres=[", t->lever);
  for (int64_t c = 0, first = 1; c < C; c++)
    if (arm[c] == 1) {
      at += (size_t)snprintf(a + at, cap - at, "%s%lld", first ? "" : ",", (long long)c);
      first = 0;
    }
  snprintf(a + at, cap - at, "]");
  const int st = clhs_config_override(cfg, a, p->err);
  free(a);
  if (st) {
    char msg[sizeof p->err->msg];
    snprintf(msg, sizeof msg, "%s", p->err->msg);
    return clhs_error_set(p->err, CLHS_EINPUT, "%s: member %lld: trial: %s", p->path, (long long)m,
                          msg);
  }
  return CLHS_OK;
}

/* The file of @p rel relative to the design's folder (absolute paths as they are). */
static void beside(const char *design, const char *rel, char *buf, size_t len) {
  if (rel[0] == '/') {
    snprintf(buf, len, "%s", rel);
    return;
  }
  char dir[CLHS_PATH_LEN];
  clhs_folder_of(design, dir, sizeof dir);
  if (snprintf(buf, len, "%s/%s", dir, rel) >= (int)len) buf[0] = '\0'; /* checked later */
}

static int make_member(const parsed *p, const clhs_design *d, char files[][CLHS_PATH_LEN],
                       int nfiles, const kvlist *set, const kvlist *const *parts, int nparts,
                       uint64_t seed, int seeded, const trial_spec *trial, int8_t **arm, int64_t m,
                       clhs_config *cfg) {
  clhs_config_defaults(cfg);
  for (int f = 0; f < nfiles; f++)
    if (clhs_config_load_file(cfg, files[f], p->err)) return CLHS_EINPUT;
  char a[4300];
  for (int i = 0; i < set->n; i++) {
    snprintf(a, sizeof a, "%s=%s", set->v[i].key, set->v[i].val);
    if (clhs_config_override(cfg, a, p->err)) goto bad;
  }
  for (int k = 0; k < nparts; k++)
    for (int i = 0; parts[k] && i < parts[k]->n; i++) {
      snprintf(a, sizeof a, "%s=%s", parts[k]->v[i].key, parts[k]->v[i].val);
      if (clhs_config_override(cfg, a, p->err)) goto bad;
    }
  if (seeded) {
    snprintf(a, sizeof a, "run.seed=%" PRIu64, seed);
    if (clhs_config_override(cfg, a, p->err)) goto bad;
  }
  if (trial->lever[0]) { /* arm[0..C), the strata at arm[C..2C), the sizes after them */
    const int64_t C = cfg->population.centres;
    free(*arm);
    *arm = malloc((size_t)C * (2 + sizeof(int32_t)));
    if (!*arm) return clhs_error_set(p->err, CLHS_ENOMEM, "out of memory");
    if (trial_allocate(p, trial, cfg, m, *arm, *arm + C, (int32_t *)(void *)(*arm + 2 * C)))
      return CLHS_EINPUT;
  }
  /* The member's own file and no checkpoints: a member in flight when the ensemble stops
   * starts again from scratch. */
  if (snprintf(cfg->output.path, sizeof cfg->output.path, "%s.members/member_%06lld.h5", d->output,
               (long long)m) >= (int)sizeof cfg->output.path ||
      snprintf(cfg->checkpoint.dir, sizeof cfg->checkpoint.dir, "%s.members/member_%06lld.ckpt",
               d->output, (long long)m) >= (int)sizeof cfg->checkpoint.dir)
    return clhs_error_set(p->err, CLHS_EINPUT, "%s: the output path '%s' is too long", p->path,
                          d->output);
  cfg->checkpoint.every = 0;
  cfg->checkpoint.wall = 0;
  if (clhs_config_finalize(cfg, p->err)) goto bad;
  return CLHS_OK;
bad:;
  char msg[sizeof p->err->msg];
  snprintf(msg, sizeof msg, "%s", p->err->msg);
  return clhs_error_set(p->err, CLHS_EINPUT, "%s: member %lld: %s", p->path, (long long)m, msg);
}

int clhs_design_load(const char *path, const char *output, clhs_design *d, clhs_error *err) {
  memset(d, 0, sizeof *d);
  snprintf(d->path, sizeof d->path, "%s", path);
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return clhs_error_set(err, CLHS_EINPUT, "cannot read the design '%s': %s", path,
                          strerror(errno));
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_file(&parser, fp);
  int st = CLHS_OK;
  if (!yaml_parser_load(&parser, &doc)) {
    st = clhs_error_set(err, CLHS_EINPUT, "%s:%lu: invalid YAML: %s", path,
                        (unsigned long)parser.problem_mark.line + 1,
                        parser.problem ? parser.problem : "unknown problem");
    yaml_parser_delete(&parser);
    fclose(fp);
    return st;
  }
  yaml_parser_delete(&parser);
  fclose(fp);
  parsed p = {path, &doc, err};
  kvlist set = {0};
  axis scen = {0}, grid = {0}, lhs = {0};
  uint64_t *seeds = NULL;
  int64_t nseeds = 0;
  trial_spec trial;
  memset(&trial, 0, sizeof trial);
  int8_t *arm = NULL;
  char(*files)[CLHS_PATH_LEN] = calloc(16, CLHS_PATH_LEN);
  int nfiles = 0;
  snprintf(d->output, sizeof d->output, "%s", output && output[0] ? output : "ensemble.h5");
  const yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!files) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  if (!st && (!root || root->type != YAML_MAPPING_NODE))
    st = dfail(&p, root, "expected a mapping (config, set, seeds, grid, scenarios, lhs, output)");
  for (yaml_node_pair_t *q = st ? NULL : root->data.mapping.pairs.start;
       !st && q < root->data.mapping.pairs.top; q++) {
    const yaml_node_t *k = yaml_document_get_node(&doc, q->key);
    const yaml_node_t *v = yaml_document_get_node(&doc, q->value);
    const char *kt = scalar(k) ? scalar(k) : "";
    if (!strcmp(kt, "config")) {
      const int seq = v->type == YAML_SEQUENCE_NODE;
      const int n = seq ? (int)(v->data.sequence.items.top - v->data.sequence.items.start) : 1;
      for (int i = 0; !st && i < n; i++) {
        const yaml_node_t *e =
            seq ? yaml_document_get_node(&doc, v->data.sequence.items.start[i]) : v;
        if (!scalar(e) || nfiles == 16)
          st = dfail(&p, e, "config: expected a file name or a list of up to 16");
        else
          beside(path, scalar(e), files[nfiles++], CLHS_PATH_LEN);
      }
    } else if (!strcmp(kt, "set")) {
      st = read_set(&p, v, "", &set);
    } else if (!strcmp(kt, "seeds")) {
      st = read_seeds(&p, v, "seeds", &seeds, &nseeds);
    } else if (!strcmp(kt, "grid")) {
      st = read_grid(&p, v, &grid);
    } else if (!strcmp(kt, "scenarios")) {
      st = read_scenarios(&p, v, &scen);
    } else if (!strcmp(kt, "lhs")) {
      st = read_lhs(&p, v, &lhs);
    } else if (!strcmp(kt, "trial")) {
      st = read_trial(&p, v, &trial);
    } else if (!strcmp(kt, "output")) {
      if (!scalar(v))
        st = dfail(&p, v, "output: expected a file name");
      else if (!(output && output[0]))
        beside(path, scalar(v), d->output, sizeof d->output);
    } else {
      st = dfail(&p, k,
                 "unknown key '%s' (expected config, set, seeds, grid, scenarios, lhs, trial, "
                 "output)",
                 kt);
    }
  }
  const int seeded = nseeds > 0;
  if (!st && !seeded) { /* the base's seed */
    seeds = malloc(sizeof *seeds);
    nseeds = 1;
    if (!seeds) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  }
  const int ns = scen.npoints ? scen.npoints : 1, ng = grid.npoints ? grid.npoints : 1,
            nl = lhs.npoints ? lhs.npoints : 1;
  if (!st && (double)ns * ng * nl * (double)nseeds > 1e7)
    st = dfail(&p, root, "more than 10^7 members");
  if (!st) {
    d->nmembers = (int64_t)ns * ng * nl * nseeds;
    /* the varied keys: the union of the scenario, grid and hypercube keys, in that order */
    const axis *ax[3] = {&scen, &grid, &lhs};
    for (int a = 0; a < 3 && !st; a++)
      for (int i = 0; i < ax[a]->npoints && !st; i++)
        for (int k = 0; k < ax[a]->point[i].n && !st; k++) {
          int have = 0;
          for (int j = 0; j < d->nparams; j++)
            have |= !strcmp(d->param[j], ax[a]->point[i].v[k].key);
          if (have) continue;
          if (d->nparams == CLHS_ENSEMBLE_MAX_PARAMS)
            st = dfail(&p, root, "more than %d varied parameters", CLHS_ENSEMBLE_MAX_PARAMS);
          else
            snprintf(d->param[d->nparams++], sizeof d->param[0], "%s", ax[a]->point[i].v[k].key);
        }
  }
  if (!st) {
    const size_t M = (size_t)d->nmembers;
    d->value = calloc(M * (size_t)(d->nparams ? d->nparams : 1), sizeof *d->value);
    d->seed = calloc(M, sizeof *d->seed);
    d->scenario = calloc(M, sizeof *d->scenario);
    d->config = calloc(M, sizeof *d->config);
    d->config_len = calloc(M, sizeof *d->config_len);
    d->key = calloc(M, sizeof *d->key);
    if (!d->value || !d->seed || !d->scenario || !d->config || !d->config_len || !d->key)
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for %lld members",
                          (long long)d->nmembers);
  }
  clhs_config cfg;
  memset(&cfg, 0, sizeof cfg);
  int64_t shape0[4] = {0};
  char date0[CLHS_DATE_LEN] = "";
  for (int64_t m = 0; !st && m < d->nmembers; m++) {
    int64_t r = m;
    const int64_t is = r % nseeds;
    r /= nseeds;
    const int il = (int)(r % nl);
    r /= nl;
    const int ig = (int)(r % ng);
    const int isc = (int)(r / ng);
    const kvlist *parts[3] = {scen.npoints ? &scen.point[isc] : NULL,
                              grid.npoints ? &grid.point[ig] : NULL,
                              lhs.npoints ? &lhs.point[il] : NULL};
    st =
        make_member(&p, d, files, nfiles, &set, parts, 3, seeds[is], seeded, &trial, &arm, m, &cfg);
    if (st) break;
    /* Keys a member may not vary: they shape the ensemble file's axes. */
    const int64_t shape[4] = {cfg.run.steps, cfg.output.every, clhs_config_centre_every(&cfg),
                              cfg.population.centres};
    static const char *const shape_key[4] = {"run.steps", "output.every", "output.centre_every",
                                             "population.centres"};
    const char *varies = NULL;
    if (m == 0) {
      memcpy(shape0, shape, sizeof shape0);
      memcpy(date0, cfg.run.start_date, sizeof date0);
    }
    for (int k = 3; k >= 0; k--)
      if (shape[k] != shape0[k]) varies = shape_key[k];
    if (!varies && strcmp(cfg.run.start_date, date0)) varies = "run.start_date";
    if (varies) {
      st = clhs_error_set(err, CLHS_EINPUT,
                          "%s: %s varies between members (member %lld differs from member 0); "
                          "every member of an ensemble shares run.steps, run.start_date, "
                          "output.every, output.centre_every and population.centres (set it "
                          "under `set`, or run separate ensembles)",
                          path, varies, (long long)m);
      clhs_config_free(&cfg);
      break;
    }
    if (trial.lever[0]) {
      const int64_t C = cfg.population.centres;
      if (m == 0) {
        snprintf(d->trial_lever, sizeof d->trial_lever, "%s", trial.lever);
        d->trial_seed = trial.seed;
        d->trial_strata = trial.strata;
        d->ncentres = C;
        d->arm = malloc((size_t)d->nmembers * (size_t)C);
        d->stratum = malloc((size_t)d->nmembers * (size_t)C);
        d->patients = malloc(sizeof *d->patients * (size_t)d->nmembers * (size_t)C);
        if (!d->arm || !d->stratum || !d->patients) {
          st = clhs_error_set(err, CLHS_ENOMEM, "out of memory for the trial's allocation");
          clhs_config_free(&cfg);
          break;
        }
      }
      memcpy(d->arm + m * C, arm, (size_t)C);
      memcpy(d->stratum + m * C, arm + C, (size_t)C);
      memcpy(d->patients + m * C, arm + 2 * C, sizeof *d->patients * (size_t)C);
    }
    d->seed[m] = cfg.run.seed;
    d->scenario[m] = strdup(scen.npoints ? scen.name[isc] : "");
    /* each varied key's value for this member: the last part that sets it, else the value
     * the member's configuration has (its base or default) as `clhsim config` writes it */
    for (int j = 0; j < d->nparams; j++) {
      const char *val = NULL;
      for (int k = 0; k < 3; k++)
        for (int i = 0; parts[k] && i < parts[k]->n; i++)
          if (!strcmp(parts[k]->v[i].key, d->param[j])) val = parts[k]->v[i].val;
      d->value[m * d->nparams + j] = strdup(val ? val : "");
    }
    d->config[m] = clhs_config_pack(&cfg, &d->config_len[m]);
    /* the key leaves out where the member's files go, so that the same design run with
     * the output spelt another way (a relative or an absolute path) finds its members */
    char opath[sizeof cfg.output.path], cdir[sizeof cfg.checkpoint.dir];
    memcpy(opath, cfg.output.path, sizeof opath);
    memcpy(cdir, cfg.checkpoint.dir, sizeof cdir);
    snprintf(cfg.output.path, sizeof cfg.output.path, "member.h5");
    snprintf(cfg.checkpoint.dir, sizeof cfg.checkpoint.dir, "member.ckpt");
    char *yaml = clhs_config_to_yaml(&cfg, 0);
    if (yaml) d->key[m] = text_key(yaml, strlen(yaml));
    free(yaml);
    memcpy(cfg.output.path, opath, sizeof opath);
    memcpy(cfg.checkpoint.dir, cdir, sizeof cdir);
    clhs_config_free(&cfg);
    if (!d->config[m] || !d->scenario[m]) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  }
  free(files);
  free(seeds);
  free(arm);
  free(trial.eligible);
  kv_free(&set);
  axis_free(&scen);
  axis_free(&grid);
  axis_free(&lhs);
  yaml_document_delete(&doc);
  if (st) clhs_design_free(d);
  return st;
}

void clhs_design_free(clhs_design *d) {
  const size_t M = (size_t)d->nmembers;
  for (size_t m = 0; m < M; m++) {
    for (int j = 0; d->value && j < d->nparams; j++)
      free(d->value[m * (size_t)d->nparams + (size_t)j]);
    if (d->scenario) free(d->scenario[m]);
    if (d->config) free(d->config[m]);
  }
  free(d->value);
  free(d->seed);
  free(d->scenario);
  free(d->config);
  free(d->config_len);
  free(d->key);
  free(d->arm);
  free(d->stratum);
  free(d->patients);
  d->arm = d->stratum = NULL;
  d->patients = NULL;
  d->trial_lever[0] = '\0';
  d->key = NULL;
  d->value = NULL;
  d->seed = NULL;
  d->scenario = NULL;
  d->config = NULL;
  d->config_len = NULL;
  d->nmembers = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Running                                                                                    */

/* The members folder's `done` file: one line per finished member, "member KEY", KEY the hash
 * of its configuration; a member is done when its line is there with the same key and its
 * file exists. */

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = (cap ? cap * 2 : 8192);
      char *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = b;
    }
    const size_t k = fread(buf + n, 1, 4096, f);
    n += k;
    if (k < 4096) break;
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* Rank 0: which members are done (1) according to DIR/done and the files in DIR. */
static void members_done(const clhs_design *d, const char *dir, unsigned char *done) {
  char path[CLHS_PATH_LEN + 64];
  char *text =
      snprintf(path, sizeof path, "%s/done", dir) < (int)sizeof path ? read_text(path) : NULL;
  for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
    long long m = -1;
    unsigned long long key = 0;
    if (sscanf(line, "%lld %llx", &m, &key) != 2 || m < 0 || m >= d->nmembers) continue;
    if (key != d->key[m]) continue;
    char file[CLHS_PATH_LEN + 64];
    struct stat sb;
    if (snprintf(file, sizeof file, "%s/member_%06lld.h5", dir, m) < (int)sizeof file &&
        stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
      done[m] = 1;
  }
  free(text);
}

/* Rank 0, holding the launch lock: remove member_*.h5.*.tmp (a killed member's output). */
static void remove_stale_member_tmp(const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return;
  for (struct dirent *e; (e = readdir(dp));) {
    const size_t n = strlen(e->d_name);
    if (strncmp(e->d_name, "member_", 7) || n < 12 || strcmp(e->d_name + n - 4, ".tmp") ||
        !strstr(e->d_name, ".h5."))
      continue;
    char p[CLHS_PATH_LEN + 300];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && lstat(p, &sb) == 0 &&
        S_ISREG(sb.st_mode))
      remove(p);
  }
  closedir(dp);
}

static int pick_group_ranks(const clhs_comm *world, const clhs_config *cfg, int asked,
                            clhs_error *err) {
  if (asked > 0) {
    if (world->size % asked != 0)
      return -clhs_error_set(err, CLHS_EINPUT,
                             "--group-ranks %d does not divide the %d ranks into equal groups",
                             asked, world->size);
    return asked;
  }
  /* about 2 x 10^6 agents per rank at most (a few hundred MB); else one rank per member */
  const double agents = (double)cfg->population.centres * cfg->population.patients_median * 2.1;
  int k = (int)ceil(agents / 2e6);
  if (k < 1) k = 1;
  while (k < world->size && world->size % k != 0)
    k++;
  return k > world->size ? world->size : k;
}

int clhs_ensemble_run(const clhs_comm *world, const char *path, const char *output,
                      const clhs_ensemble_opts *opts, clhs_error *err) {
  clhs_design d;
  memset(&d, 0, sizeof d);
  int st = CLHS_OK;
  if (world->rank == 0) st = clhs_design_load(path, output, &d, err);
  st = clhs_comm_agree_error(world, st, err);
  if (st) return st;
  /* every rank: the members' packed configurations and the output's name */
  int64_t M = d.nmembers;
  clhs_comm_bcast(world, &M, sizeof M, 0);
  clhs_comm_bcast(world, d.output, sizeof d.output, 0);
  if (world->rank != 0) {
    d.nmembers = M;
    d.config = calloc((size_t)M, sizeof *d.config);
    d.config_len = calloc((size_t)M, sizeof *d.config_len);
    d.key = calloc((size_t)M, sizeof *d.key);
    if (!d.config || !d.config_len || !d.key) clhs_comm_abort(world, 1, "out of memory");
  }
  clhs_comm_bcast(world, d.key, sizeof *d.key * (size_t)M, 0);
  for (int64_t m = 0; m < M; m++) {
    size_t n = d.config_len[m];
    d.config[m] = clhs_comm_bcast_alloc(world, world->rank == 0 ? d.config[m] : NULL, &n, 0);
    d.config_len[m] = n;
  }
  char dir[CLHS_PATH_LEN + 16];
  snprintf(dir, sizeof dir, "%s.members", d.output);
  /* rank 0: the members folder (made if missing) and which members are done */
  unsigned char *done = calloc((size_t)M, 1);
  if (!done) clhs_comm_abort(world, 1, "out of memory");
  /* the ensemble file being written (rows added as members finish), its writers' lock, this
   * launch's lock, and the coordinates every variable names */
  char tmp[CLHS_PATH_LEN + 64], rowlock[CLHS_PATH_LEN + 64], lockpath[CLHS_PATH_LEN + 64];
  snprintf(tmp, sizeof tmp, "%s/ensemble.tmp.h5", dir);
  snprintf(rowlock, sizeof rowlock, "%s/ensemble.rows.lock", dir);
  snprintf(lockpath, sizeof lockpath, "%s/ensemble.lock", dir);
  char coords[4096] = "";
  char *design_text = NULL;
  clhs_lock launch;
  clhs_lock_init(&launch);
  if (world->rank == 0) {
    design_text = read_text(path);
    st = clhs_mkdir_p(dir, err);
    char holder[256] = "", info[128];
    snprintf(info, sizeof info, "clhsim ensemble, pid %ld", (long)getpid());
    clhs_error lerr;
    clhs_error_clear(&lerr);
    const int lk =
        st ? CLHS_OK : clhs_lock_try(&launch, lockpath, info, holder, sizeof holder, &lerr);
    if (lk && lerr.code) { /* the lock file cannot be used */
      *err = lerr;
      st = lk;
    } else if (lk) { /* another process holds it */
      st = clhs_error_set(err, CLHS_EINPUT,
                          "%s: another launch of this ensemble is running (%s); wait for it, "
                          "or give another -o",
                          dir, holder[0] ? holder : "its lock is held");
    }
    /* an ensemble replaces only its own output: say so now, not after the members */
    if (!st) st = clhs_ensemble_check_existing(d.output, design_text ? design_text : "", err);
    if (!st) members_done(&d, dir, done);
    /* member outputs a killed launch left under temporary names: this launch holds the
     * folder's lock, so no run of this ensemble is writing them */
    if (!st) remove_stale_member_tmp(dir);
    /* rows left by a stopped or killed launch are not trusted: the done members' rows are
     * added again from their files at the end */
    if (!st && remove(tmp) != 0 && errno != ENOENT)
      st = clhs_error_set(err, CLHS_EIO, "cannot remove the stale '%s': %s", tmp, strerror(errno));
    clhs_ensemble_coords(&d, coords, sizeof coords);
  }
  st = clhs_comm_agree_error(world, st, err);
  clhs_comm_bcast(world, coords, sizeof coords, 0);
  clhs_comm_bcast(world, done, (size_t)M, 0);
  int64_t npend = 0;
  for (int64_t m = 0; m < M; m++)
    npend += !done[m];
  int64_t *pending = malloc(sizeof *pending * (size_t)(npend ? npend : 1));
  if (!pending) clhs_comm_abort(world, 1, "out of memory");
  for (int64_t m = 0, k = 0; m < M; m++)
    if (!done[m]) pending[k++] = m;
  /* groups */
  clhs_config cfg0;
  clhs_config_defaults(&cfg0);
  if (!st) st = clhs_config_unpack(&cfg0, d.config[0], d.config_len[0], err);
  int K = st ? 1 : pick_group_ranks(world, &cfg0, opts->group_ranks, err);
  if (K < 0) st = -K;
  clhs_config_free(&cfg0);
  st = clhs_comm_agree_error(world, st, err);
  if (st) {
    free(done);
    free(pending);
    free(design_text);
    clhs_lock_release(&launch, 0);
    clhs_design_free(&d);
    return st;
  }
  const int ngroups = world->size / K;
  if (world->rank == 0 && !opts->quiet)
    printf("clhsim ensemble: %lld members (%lld to run, %lld done before) on %d group(s) of %d "
           "rank(s) x %d thread(s); member files in %s/\n",
           (long long)M, (long long)npend, (long long)(M - npend), ngroups, K, world->threads, dir);
  fflush(stdout);
  clhs_comm group;
  clhs_comm_split(world, world->rank / K, &group);
  clhs_comm_counter *queue = clhs_comm_counter_create(world);
  clhs_comm_counter *finished = clhs_comm_counter_create(world);
  const double t0 = clhs_comm_wtime();
  int gst = CLHS_OK;
  clhs_error gerr;
  clhs_error_clear(&gerr);
  for (;;) {
    int64_t k = 0;
    if (group.rank == 0) k = gst ? npend : clhs_comm_counter_next(queue);
    clhs_comm_bcast(&group, &k, sizeof k, 0);
    if (k >= npend) break;
    const int64_t m = pending[k];
    clhs_config cfg;
    clhs_config_defaults(&cfg);
    clhs_config_unpack(&cfg, d.config[m], d.config_len[m], &gerr);
    clhs_run_opts ro = {1, 1e9, NULL, 0, 0, 1, NULL, 0, 1};
    clhs_run_result res;
    const double tm = clhs_comm_wtime();
    gst = clhs_run(&cfg, &group, &ro, &res, &gerr);
    clhs_config_free(&cfg);
    if (gst == CLHS_OK && group.rank == 0) {
      /* the member's rows into the ensemble file now, then its line in `done` */
      char mfile[CLHS_PATH_LEN + 64];
      snprintf(mfile, sizeof mfile, "%s/member_%06lld.h5", dir, (long long)m);
      gst = clhs_ensemble_put_member(tmp, rowlock, M, coords, m, mfile, &gerr);
    }
    if (gst == CLHS_OK && group.rank == 0) {
      char line[96], dpath[CLHS_PATH_LEN + 16];
      snprintf(line, sizeof line, "%lld %016llx\n", (long long)m, (unsigned long long)d.key[m]);
      const int fd = snprintf(dpath, sizeof dpath, "%s/done", dir) < (int)sizeof dpath
                         ? open(dpath, O_WRONLY | O_CREAT | O_APPEND, 0644)
                         : -1;
      if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0)
        gst = clhs_error_set(&gerr, CLHS_EIO, "cannot record member %lld in %s: %s", (long long)m,
                             dpath, strerror(errno));
      if (fd >= 0) close(fd);
      const int64_t nd = clhs_comm_counter_next(finished) + 1;
      const double el = clhs_comm_wtime() - t0;
      if (!opts->quiet && gst == CLHS_OK)
        printf("clhsim ensemble: member %lld done in %.1f s (group %d); %lld of %lld done, "
               "ETA %.0f s\n",
               (long long)m, clhs_comm_wtime() - tm, world->rank / K, (long long)(M - npend + nd),
               (long long)M, el / (double)nd * (double)(npend - nd));
      fflush(stdout);
    }
    clhs_comm_bcast(&group, &gst, sizeof gst, 0);
    if (gst != CLHS_OK) break;
  }
  clhs_comm_counter_free(&finished);
  clhs_comm_counter_free(&queue);
  clhs_comm_free(&group);
  /* A stop (signal, stop file) or a failure anywhere: agreed, reported by the lowest rank. */
  int stopped = gst == CLHS_STOPPED;
  int64_t flags[1] = {stopped};
  clhs_comm_max_i64(world, flags, 1);
  if (gst == CLHS_STOPPED) gst = CLHS_OK;
  if (clhs_comm_agree_error(world, gst, &gerr)) {
    *err = gerr;
    st = gerr.code;
  } else if (flags[0]) {
    st = clhs_error_set(err, CLHS_STOPPED,
                        "ensemble stopped: run `clhsim ensemble %s` again to run the members "
                        "that are missing",
                        path);
  } else if (world->rank == 0) {
    /* every member done: assemble */
    memset(done, 0, (size_t)M);
    members_done(&d, dir, done);
    char **files = calloc((size_t)M, sizeof *files);
    for (int64_t m = 0; files && m < M; m++) {
      files[m] = malloc(CLHS_PATH_LEN + 32);
      if (files[m] && snprintf(files[m], CLHS_PATH_LEN + 32, "%s/member_%06lld.h5", dir,
                               (long long)m) >= CLHS_PATH_LEN + 32)
        files[m][0] = '\0';
      if (!done[m] && !st)
        st = clhs_error_set(err, CLHS_EIO, "member %lld is not recorded as done in %s/done",
                            (long long)m, dir);
    }
    if (!files) st = clhs_error_set(err, CLHS_ENOMEM, "out of memory");
    if (!st)
      st = clhs_ensemble_write(d.output, tmp, &d, files, design_text ? design_text : "", err);
    if (!st && !opts->quiet)
      printf("clhsim ensemble: %lld members in %s (%.1f s)\n", (long long)M, d.output,
             clhs_comm_wtime() - t0);
    for (int64_t m = 0; files && m < M; m++)
      free(files[m]);
    free(files);
  }
  free(design_text);
  clhs_lock_release(&launch, 0);
  st = clhs_comm_agree_error(world, st, err);
  free(done);
  free(pending);
  clhs_design_free(&d);
  return st;
}
