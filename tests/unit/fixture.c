/* What the unit tests share: see fixture.h. */
#include "fixture.h"

#include <stdlib.h>

#include "model/model_internal.h"

clhs_comm comm;
const char *fx_path = NULL;
int fx_write = 0;
int64_t fx_failures = 0;

/* ------------------------------------------------------------ the run */

void fx_init(int *argc, char ***argv) {
  clhs_comm_init(argc, argv, &comm);
  for (int k = 1; k + 1 < *argc; k++) {
    if (!strcmp((*argv)[k], "--write") || !strcmp((*argv)[k], "--check")) {
      fx_write = !strcmp((*argv)[k], "--write");
      fx_path = (*argv)[k + 1];
    }
  }
}

int fx_finish(int rc) {
  int64_t failed = rc != 0;
  clhs_comm_sum_i64(&comm, &failed, 1);
  clhs_comm_finalize();
  return failed ? 1 : 0;
}

void assert_no_failures(const char *what) {
  int64_t f = fx_failures;
  fx_failures = 0;
  clhs_comm_sum_i64(&comm, &f, 1);
  if (f) fail_msg("%s: %lld failures over all ranks", what, (long long)f);
}

/* ------------------------------------------------------------ small worlds */

void fx_config(clhs_config *cfg, const fx_opts *o) {
  clhs_config_defaults(cfg);
  if (o->centres) cfg->population.centres = o->centres;
  if (o->patients) {
    cfg->population.patients_median = (double)o->patients;
    cfg->population.patients_min = o->patients_min ? o->patients_min : o->patients;
    cfg->population.patients_max = o->patients_max ? o->patients_max : o->patients;
  }
  if (o->per_clinician) cfg->population.patients_per_clinician = o->per_clinician;
  if (o->caregivers) cfg->population.caregivers_per_patient = o->caregivers < 0 ? 0 : o->caregivers;
  if (o->members > 0) {
    cfg->centres.join = CLHS_JOIN_BASS;
    cfg->centres.initial_share = o->members;
  }
  if (o->no_joins) {
    cfg->centres.bass_p = 0;
    cfg->centres.bass_q = 0;
  }
  for (const char *const *s = o->set; s && *s; s++) {
    clhs_error err;
    clhs_error_clear(&err);
    if (clhs_config_override(cfg, *s, &err) != CLHS_OK) fail_msg("-P %s: %s", *s, err.msg);
  }
}

void fx_finalize(clhs_config *cfg, unsigned on, unsigned off) {
  clhs_error err;
  clhs_error_clear(&err);
  if (clhs_config_finalize(cfg, &err) != CLHS_OK) fail_msg("configuration: %s", err.msg);
  for (int k = 0; k < CLHS_NLEVERS; k++) {
    if (!((on | off) & FX_LEVER(k))) continue;
    cfg->levers[k].on_step = on & FX_LEVER(k) ? -1000.0 : 1e9;
    cfg->levers[k].ramp = 0;
    if (on & FX_LEVER(k)) cfg->levers[k].max = 1;
  }
}

void fx_world(const clhs_config *cfg, clhs_world *w) {
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_world_create(w, cfg, &comm, &err);
  CHECK(st == CLHS_OK, "world: %s", err.msg);
  assert_no_failures("clhs_world_create");
}

void fx_make(clhs_config *cfg, clhs_world *w, const fx_opts *o) {
  fx_config(cfg, o);
  fx_finalize(cfg, 0, 0);
  if (!w) return;
  fx_world(cfg, w);
  int64_t centres = w->c_count;
  clhs_comm_sum_i64(&comm, &centres, 1);
  CHECK(!o->centres || centres == o->centres, "%lld centres, expected %lld", (long long)centres,
        (long long)o->centres);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int64_t np = w->first[CLHS_FAM][lc] - w->first[CLHS_PAT][lc];
    CHECK(o->members != 1 || w->member[lc], "centre %lld is not a member",
          (long long)(w->c_begin + lc));
    CHECK(!o->patients || o->patients_min || o->patients_max || np == o->patients,
          "centre %lld has %lld patients, expected %lld", (long long)(w->c_begin + lc),
          (long long)np, (long long)o->patients);
  }
  assert_no_failures("the world as asked for");
}

void fx_done(clhs_config *cfg, clhs_world *w) {
  if (w) clhs_world_free(w);
  clhs_config_free(cfg);
}

/* ------------------------------------------------------------ agents and ties */

int64_t *fx_centre_gid0(const clhs_world *w) {
  int64_t *mine = malloc(sizeof *mine * (size_t)(w->c_count ? w->c_count : 1));
  int64_t *g0 = malloc(sizeof *g0 * (size_t)(w->ncentres + 1));
  assert_non_null(mine);
  assert_non_null(g0);
  for (int64_t lc = 0; lc < w->c_count; lc++)
    mine[lc] = w->gid_begin + w->first[0][lc];
  clhs_comm_allgatherv(&comm, mine, w->c_count, sizeof *mine, g0); /* rank order: centre order */
  g0[w->ncentres] = w->nagents;
  free(mine);
  return g0;
}

int64_t fx_centre_of(const clhs_world *w, const int64_t *g0, int64_t g) {
  return clhs_range_of(g0, w->ncentres, g);
}

int32_t fx_agent(const clhs_world *w, int64_t lc, int t, int32_t k) {
  const int32_t i = w->first[t][lc] + k;
  assert_true(i < w->first[t + 1][lc]);
  return i;
}

float fx_tie_weight(const clhs_world *w, int64_t i, int64_t nbr, int *kind) {
  const int64_t lc = w->centre[i];
  const clhs_tieset *ts = &w->ties[lc];
  const int32_t r = (int32_t)i - w->first[0][lc];
  for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++)
    if (clhs_tie_gid(ts->key[d]) == nbr) {
      if (kind) *kind = clhs_tie_kind_of(ts->key[d]);
      return ts->w[d];
    }
  return -1.0f;
}

void fx_event_pair(clhs_tie_event *ev, int64_t *n, const clhs_world *w, int32_t a, int32_t b,
                   int op, int kind) {
  clhs_tie_event e = {0};
  e.op = (uint8_t)op;
  e.kind = (uint8_t)kind;
  e.agent = a;
  e.nbr = fx_gid(w, b);
  ev[(*n)++] = e;
  e.agent = b;
  e.nbr = fx_gid(w, a);
  ev[(*n)++] = e;
}

void fx_apply(clhs_world *w, clhs_tie_event *ev, int64_t n) {
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_ties_apply_local(w, ev, n, &err);
  if (st != CLHS_OK) fail_msg("clhs_ties_apply_local: %s", err.msg);
}

void fx_msg_pair(clhs_tie_msg *m, int64_t *n, int64_t a, int64_t b, int op, int kind) {
  clhs_tie_msg x;
  memset(&x, 0, sizeof x);
  x.op = (uint8_t)op;
  x.kind = (uint8_t)kind;
  x.target = a;
  x.nbr = b;
  m[(*n)++] = x;
  x.target = b;
  x.nbr = a;
  m[(*n)++] = x;
}

void fx_deliver(clhs_world *w, const clhs_tie_msg *m, int64_t n) {
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_ties_deliver(w, m, n, &err);
  CHECK(st == CLHS_OK, "deliver: %s", err.msg);
  assert_no_failures("clhs_ties_deliver");
}

void fx_ties_ok(clhs_world *w, const char *what) {
  clhs_error err;
  clhs_error_clear(&err);
  const int64_t bad = clhs_ties_check(w, &err);
  CHECK(bad == 0, "%s: clhs_ties_check %lld: %s", what, (long long)bad, err.msg);
  assert_no_failures(what);
}

/* ------------------------------------------------------------ digests */

uint64_t fx_ties_digest(const clhs_world *w, uint64_t *by_kind) {
  uint64_t sum = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    for (int32_t r = 0; r < na; r++)
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        uint64_t h = fx_mix64((uint64_t)fx_gid(w, a0 + r) + 77);
        FX_FOLD(h, ts->key[d]);
        FX_FOLD(h, fx_fbits(ts->w[d]));
        sum += h;
        if (by_kind) by_kind[1 + clhs_tie_kind_of(ts->key[d])]++;
      }
  }
  return sum;
}

void fx_digest_store(const char *path, uint64_t d) {
  if (comm.rank != 0) return;
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "%016llx\n", (unsigned long long)d);
  assert_int_equal(fclose(f), 0);
}

uint64_t fx_digest_load(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  unsigned long long d = 0;
  assert_int_equal(fscanf(f, "%llx", &d), 1);
  fclose(f);
  return d;
}

void fx_digest_settle(uint64_t d) {
  if (!fx_path) return;
  if (fx_write) {
    fx_digest_store(fx_path, d);
    return;
  }
  const uint64_t want = fx_digest_load(fx_path);
  if (want != d)
    print_message("rank %d: digest %016llx at %d ranks, %016llx in %s\n", comm.rank,
                  (unsigned long long)d, comm.size, (unsigned long long)want, fx_path);
  assert_true(want == d);
}
