/*
 * Every configuration key with its value in its declared type (clhs_config_foreach_typed):
 * the /parameters attributes of the output are written from these, not parsed back from
 * the text that clhs_config_foreach renders.
 */
#include <stdlib.h>
#include <string.h>

#include "clhs/config.h"
#include "config/config_table.h"

typedef struct typed_walk {
  const clhs_config *cfg;
  int (*fn)(const clhs_config_value *v, void *user);
  void *user;
  size_t next;  /* table row of the next key clhs_config_foreach visits */
  int st;       /* the first non-zero return of fn; later keys are skipped */
  int64_t *tmp; /* an integer list widened to int64 */
  size_t tmp_cap;
} typed_walk;

static void visit(const char *key, const char *text, void *user) {
  typed_walk *t = user;
  if (t->st || t->next >= clhs_config_table_len) return;
  const clhs_config_entry *e = &clhs_config_table[t->next++];
  const char *field = (const char *)t->cfg + e->offset;
  clhs_config_value v = {key, clhs_config_key_kind(key), 1, NULL, NULL, NULL, text};
  if (strcmp(e->key, key) != 0) v.kind = 's'; /* not the row expected: its text only */
  switch (v.kind) {
  case 'i': v.i = (const int64_t *)(const void *)field; break;
  case 'u': v.u = (const uint64_t *)(const void *)field; break;
  case 'd': v.d = (const double *)(const void *)field; break;
  case 'D':
    v.d = (const double *)(const void *)field;
    v.n = e->aux;
    break;
  case 'I': { /* int32_t count at offset, int32_t * at aux */
    int32_t n;
    const int32_t *list;
    memcpy(&n, field, sizeof n);
    memcpy(&list, (const char *)t->cfg + e->aux, sizeof list);
    v.n = n > 0 && list ? (size_t)n : 0;
    if (v.n > t->tmp_cap) {
      int64_t *p = realloc(t->tmp, v.n * sizeof *p);
      if (!p) {
        v.kind = 's';
        break;
      }
      t->tmp = p;
      t->tmp_cap = v.n;
    }
    for (size_t k = 0; k < v.n; k++)
      t->tmp[k] = list[k];
    v.i = t->tmp;
    break;
  }
  default: v.kind = 's'; break;
  }
  if (v.kind == 's') v.n = 1;
  t->st = t->fn(&v, t->user);
}

int clhs_config_foreach_typed(const clhs_config *cfg,
                              int (*fn)(const clhs_config_value *v, void *user), void *user) {
  typed_walk t = {cfg, fn, user, 0, 0, NULL, 0};
  clhs_config_foreach(cfg, visit, &t);
  free(t.tmp);
  return t.st;
}
