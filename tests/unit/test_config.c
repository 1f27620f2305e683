/*
 * Unit tests of the configuration module: defaults, YAML round trip, error messages for every
 * kind of bad input, -P overrides, finalize checks, lever intensity, pack/unpack.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "clhs/config.h"
#include "clhs/date.h"
#include "clhs/model.h" /* clhs_lever_intensity */

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct fixture {
  char dir[256];
  int nfiles;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/clhs_test_config_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char path[512];
  for (int i = 0; i < f->nfiles; i++) {
    snprintf(path, sizeof path, "%s/cfg%d.yml", f->dir, i);
    remove(path);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

/* Write @p text to a fresh file in the fixture folder; returns its path (static per call). */
static const char *write_file(fixture *f, const char *text, char *path, size_t n) {
  snprintf(path, n, "%s/cfg%d.yml", f->dir, f->nfiles++);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  return path;
}

/* Load @p text into defaults and expect a CLHS_EINPUT naming the file, line and key. */
static void expect_file_error(fixture *f, const char *text, int line, const char *key,
                              const char *also) {
  char path[512], want[64];
  clhs_config cfg;
  clhs_error err;
  clhs_config_defaults(&cfg);
  char *before = clhs_config_to_yaml(&cfg, 0);
  clhs_error_clear(&err);
  write_file(f, text, path, sizeof path);
  int rc = clhs_config_load_file(&cfg, path, &err);
  if (rc != CLHS_EINPUT || !strstr(err.msg, path) || !strstr(err.msg, key) ||
      (also && !strstr(err.msg, also)))
    print_error("input:\n%s\nmessage: %s\n", text, err.msg);
  assert_int_equal(rc, CLHS_EINPUT);
  assert_int_equal(err.code, CLHS_EINPUT);
  assert_non_null(strstr(err.msg, path));
  snprintf(want, sizeof want, ".yml:%d: ", line);
  if (!strstr(err.msg, want)) print_error("want line %d in: %s\n", line, err.msg);
  assert_non_null(strstr(err.msg, want));
  assert_non_null(strstr(err.msg, key));
  if (also) assert_non_null(strstr(err.msg, also));
  /* A rejected file leaves the configuration untouched (all or nothing). */
  char *after = clhs_config_to_yaml(&cfg, 0);
  assert_string_equal(before, after);
  free(before);
  free(after);
  clhs_config_free(&cfg);
}

static void expect_override_error(const char *assignment, const char *also) {
  clhs_config cfg;
  clhs_error err;
  clhs_config_defaults(&cfg);
  char *before = clhs_config_to_yaml(&cfg, 0);
  clhs_error_clear(&err);
  int rc = clhs_config_override(&cfg, assignment, &err);
  char prefix[300];
  snprintf(prefix, sizeof prefix, "-P %s: ", assignment);
  if (rc != CLHS_EINPUT || strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
      (also && !strstr(err.msg, also)))
    print_error("override %s\nmessage: %s\n", assignment, err.msg);
  assert_int_equal(rc, CLHS_EINPUT);
  assert_memory_equal(err.msg, prefix, strlen(prefix));
  if (also) assert_non_null(strstr(err.msg, also));
  /* A rejected override leaves the configuration untouched. */
  char *after = clhs_config_to_yaml(&cfg, 0);
  assert_string_equal(before, after);
  free(before);
  free(after);
  clhs_config_free(&cfg);
}

static void override_ok(clhs_config *cfg, const char *assignment) {
  clhs_error err;
  clhs_error_clear(&err);
  int rc = clhs_config_override(cfg, assignment, &err);
  if (rc != CLHS_OK) print_error("override %s: %s\n", assignment, err.msg);
  assert_int_equal(rc, CLHS_OK);
}

static void finalize_ok(clhs_config *cfg) {
  clhs_error err;
  clhs_error_clear(&err);
  int rc = clhs_config_finalize(cfg, &err);
  if (rc != CLHS_OK) print_error("finalize: %s\n", err.msg);
  assert_int_equal(rc, CLHS_OK);
}

static double weeks_between(const char *from, const char *to) {
  int64_t a, b;
  assert_int_equal(clhs_date_parse(from, &a), 0);
  assert_int_equal(clhs_date_parse(to, &b), 0);
  return (double)(b - a) / 7.0;
}

/* ---- defaults ------------------------------------------------------------------------- */

/* Model versions (MODEL.md §14): 1.2 changes nothing; 1.1 sets exactly the keys v1.2 added to
 * their v1.1 values (a v1.1 configuration names every other key); any other version is refused
 * with a message naming both versions and the state. */
static void test_model_versions(void **state) {
  (void)state;
  clhs_config c, d;
  clhs_error err;
  clhs_config_defaults(&c);
  clhs_config_defaults(&d);
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_for_model(&c, CLHS_MODEL_VERSION, "x", &err), CLHS_OK);
  char *a = clhs_config_to_yaml(&c, 0), *b = clhs_config_to_yaml(&d, 0);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a, b);
  free(a);
  free(b);
  assert_int_equal(clhs_config_for_model(&c, "1.1", "x", &err), CLHS_OK);
  assert_true(c.care.rem_evidence == 0 && c.care.rel_evidence == 0);
  assert_true(c.care.steroid_g == 0.6 && c.care.steroid_etx == 0.5);
  assert_true(c.centres.coaching == 0);
  /* nothing else moved: put the five back and compare */
  c.care.rem_evidence = d.care.rem_evidence;
  c.care.rel_evidence = d.care.rel_evidence;
  c.care.steroid_g = d.care.steroid_g;
  c.care.steroid_etx = d.care.steroid_etx;
  c.centres.coaching = d.centres.coaching;
  a = clhs_config_to_yaml(&c, 0);
  b = clhs_config_to_yaml(&d, 0);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a, b);
  free(a);
  free(b);
  assert_int_equal(clhs_config_for_model(&c, "2.0", "checkpoint 'k.h5'", &err), CLHS_EINPUT);
  assert_non_null(strstr(err.msg, "checkpoint 'k.h5'"));
  assert_non_null(strstr(err.msg, "v2.0"));
  assert_non_null(strstr(err.msg, "v" CLHS_MODEL_VERSION));
  clhs_config_free(&c);
  clhs_config_free(&d);
}

static void test_defaults(void **state) {
  (void)state;
  clhs_config c;
  clhs_config_defaults(&c);
  assert_int_equal(c.run.steps, 730);
  assert_string_equal(c.run.start_date, "2007-01-01");
  assert_true(c.run.seed == 1);
  assert_true(c.run.max_wall_time == 0.0);
  assert_int_equal(c.population.centres, 100);
  assert_true(c.population.patients_median == 250.0);
  assert_true(c.population.patients_sigma == 0.6);
  assert_int_equal(c.population.patients_min, 50);
  assert_int_equal(c.population.patients_max, 1000);
  assert_true(c.population.caregivers_per_patient == 1.0);
  assert_int_equal(c.population.patients_per_clinician, 32);
  assert_int_equal(c.population.qis_base, 3);
  assert_int_equal(c.population.qis_per_patients, 300);
  assert_int_equal(c.population.researchers_min, 5);
  assert_true(c.population.researchers_per_centre == 0.2);
  assert_true(c.network.peer_rate == 0.5);
  assert_int_equal(c.network.conference_every, 26);
  assert_int_equal(c.network.webinar_every, 4);
  assert_true(c.network.attend[0] == 0.3 && c.network.attend[1] == 0.6 &&
              c.network.attend[2] == 0.9);
  assert_true(c.network.decay == 0.01);
  assert_true(c.network.prune_below == 0.05);
  assert_true(c.motivation.gamma_r == 0.5);
  assert_true(c.motivation.w_a == 2 && c.motivation.w_k == 2 && c.motivation.w_r == 2 &&
              c.motivation.w_v == 3 && c.motivation.theta == 3.5);
  assert_true(c.motivation.mu_patient == 0.05 && c.motivation.mu_staff == 0.03);
  assert_true(c.engagement.up_family[0] == 0.02 && c.engagement.up_family[3] == 0.0001);
  assert_true(c.engagement.up_staff[1] == 0.01 && c.engagement.up_staff[2] == 0.008);
  assert_true(c.engagement.up_family[1] == 0.0015 && c.engagement.up_family[2] == 0.004);
  assert_true(c.engagement.down[0] == 0 && c.engagement.down[1] == 0.005 &&
              c.engagement.down[3] == 0.01);
  assert_true(c.engagement.invite == 0.1);
  assert_int_equal(c.resources.held_max, 4);
  assert_true(c.resources.rate[0] == 0.02 && c.resources.rate[3] == 0.05);
  assert_true(c.resources.saturation == 40);
  assert_true(c.resources.decay == 0.005);
  assert_true(c.care.init_remission == 0.57);
  assert_int_equal(c.care.visit_rem, 13);
  assert_int_equal(c.care.visit_act, 6);
  assert_int_equal(c.care.steroid_course, 26);
  assert_true(c.care.h_rel == 0.016 && c.care.h_rem == 0.0125);
  assert_true(c.care.induction_boost == 1.45 && c.care.rem_evidence == 6.75);
  assert_true(c.care.rel_evidence == 0 && c.care.steroid_start == 0.55);
  assert_true(c.care.steroid_g == 0.3 && c.care.steroid_etx == 0);
  assert_true(c.centres.coaching == 0.1);
  assert_true(c.care.turnover == 0.003);
  assert_int_equal(c.centres.join, CLHS_JOIN_SCHEDULE);
  assert_int_equal(c.centres.nschedule, 7);
  assert_string_equal(c.centres.schedule_date[0], "2007-01-01");
  assert_string_equal(c.centres.schedule_date[3], "2015-05-01");
  assert_true(c.centres.schedule_count[0] == 7 && c.centres.schedule_count[3] == 75 &&
              c.centres.schedule_count[6] == 96);
  assert_true(c.centres.initial_share == 0.07 && c.centres.bass_q == 0.08);
  assert_string_equal(c.levers[CLHS_LEV_REGISTRY].on, "2007-01-01");
  assert_true(c.levers[CLHS_LEV_REGISTRY].ramp == 26);
  assert_string_equal(c.levers[CLHS_LEV_PREVISIT].on, "2008-03-01");
  assert_string_equal(c.levers[CLHS_LEV_EHR].on, "2011-01-01");
  assert_true(c.levers[CLHS_LEV_EHR].ramp == 208);
  assert_true(c.levers[CLHS_LEV_ROLES].ramp == 156);
  assert_string_equal(c.levers[CLHS_LEV_OUTREACH].on, "2017-08-01");
  assert_string_equal(c.levers[CLHS_LEV_RESEARCH].on, "2010-01-01");
  for (int l = 0; l < CLHS_NLEVERS; l++) {
    assert_true(c.levers[l].max == 1.0);
    assert_int_equal(c.levers[l].ncentres, 0);
    assert_null(c.levers[l].centres);
  }
  assert_string_equal(c.output.path, "clhsim.h5");
  assert_int_equal(c.output.every, 1);
  assert_int_equal(c.output.established_weeks, 52);
  assert_int_equal(c.checkpoint.every, 0);
  assert_string_equal(c.checkpoint.dir, "checkpoints");
  assert_int_equal(c.checkpoint.keep, 2);
  assert_string_equal(clhs_lever_names[CLHS_LEV_QI_TRAINING], "qi_training");
  assert_string_equal(clhs_type_names[CLHS_QIS], "QIS");

  finalize_ok(&c);
  assert_true(c.levers[CLHS_LEV_REGISTRY].on_step == 0.0);
  assert_true(c.levers[CLHS_LEV_PREVISIT].on_step == weeks_between("2007-01-01", "2008-03-01"));
  clhs_config_free(&c);
}

/* Every parameter key named in MODEL.md is a key of the table (visited by foreach). */
static const char *const model_keys[] = {"run.steps",
                                         "run.start_date",
                                         "population.centres",
                                         "population.patients_median",
                                         "population.patients_sigma",
                                         "population.patients_min",
                                         "population.patients_max",
                                         "population.caregivers_per_patient",
                                         "population.patients_per_clinician",
                                         "population.qis_base",
                                         "population.qis_per_patients",
                                         "population.researchers_min",
                                         "population.researchers_per_centre",
                                         "resources.held_max",
                                         "care.init_remission",
                                         "care.init_steroid_active",
                                         "network.peer_rate",
                                         "network.role_homophily",
                                         "network.conference_every",
                                         "network.webinar_every",
                                         "network.attend",
                                         "network.conference_ties",
                                         "network.webinar_ties",
                                         "network.cross_role",
                                         "network.online_rate",
                                         "network.decay",
                                         "network.reinforce",
                                         "network.prune_below",
                                         "motivation.gamma_r",
                                         "motivation.kappa_success",
                                         "motivation.kappa_train",
                                         "motivation.k_decay",
                                         "motivation.eta_v",
                                         "motivation.w_a",
                                         "motivation.w_k",
                                         "motivation.w_r",
                                         "motivation.w_v",
                                         "motivation.theta",
                                         "motivation.eta_m",
                                         "motivation.mu_patient",
                                         "motivation.mu_staff",
                                         "motivation.mu_visit",
                                         "engagement.beta_lead",
                                         "engagement.up_family",
                                         "engagement.up_staff",
                                         "engagement.down",
                                         "engagement.invite",
                                         "resources.create_cost",
                                         "resources.rate",
                                         "resources.research_rate",
                                         "resources.evidence_gain",
                                         "resources.p_tie",
                                         "resources.p_post",
                                         "resources.need_threshold",
                                         "resources.p_search",
                                         "resources.find_rate",
                                         "resources.saturation",
                                         "resources.beta_peer",
                                         "resources.coverage_gain",
                                         "resources.decay",
                                         "care.t_drift",
                                         "care.t_base",
                                         "care.visit_rem",
                                         "care.visit_act",
                                         "care.misread",
                                         "care.steroid_start",
                                         "care.steroid_course",
                                         "care.h_rel",
                                         "care.rel_adherence",
                                         "care.rel_treatment",
                                         "care.rel_selfmgmt",
                                         "care.h_rem",
                                         "care.rem_adherence",
                                         "care.rem_treatment",
                                         "care.induction_boost",
                                         "care.rem_evidence",
                                         "care.rel_evidence",
                                         "care.steroid_g",
                                         "care.steroid_etx",
                                         "care.turnover",
                                         "centres.join",
                                         "centres.schedule",
                                         "centres.initial_share",
                                         "centres.bass_p",
                                         "centres.bass_q",
                                         "centres.beta_value",
                                         "centres.coaching",
                                         "output.every",
                                         "output.established_weeks",
                                         "run.seed",
                                         "run.max_wall_time",
                                         "output.path",
                                         "checkpoint.every",
                                         "checkpoint.wall",
                                         "checkpoint.dir",
                                         "checkpoint.keep",
                                         "levers.commons.on",
                                         "levers.research.ramp",
                                         "levers.ehr.max",
                                         "levers.outreach.centres"};

/* Keys of the constants section: one per field of cfg->constants (a vector is one key). */
#define N_CONSTANTS 48

typedef struct seen {
  int found[sizeof model_keys / sizeof model_keys[0]];
  int count;
  char h_rel[64], registry_centres[64], schedule[256], path[64];
} seen;

static void visit(const char *key, const char *value, void *user) {
  seen *s = user;
  s->count++;
  for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++)
    if (strcmp(model_keys[i], key) == 0) s->found[i]++;
  if (strcmp(key, "care.h_rel") == 0) snprintf(s->h_rel, sizeof s->h_rel, "%s", value);
  if (strcmp(key, "levers.registry.centres") == 0)
    snprintf(s->registry_centres, sizeof s->registry_centres, "%s", value);
  if (strcmp(key, "centres.schedule") == 0) snprintf(s->schedule, sizeof s->schedule, "%s", value);
  if (strcmp(key, "output.path") == 0) snprintf(s->path, sizeof s->path, "%s", value);
}

static void test_foreach_covers_model_keys(void **state) {
  (void)state;
  clhs_config c;
  clhs_config_defaults(&c);
  seen s;
  memset(&s, 0, sizeof s);
  clhs_config_foreach(&c, visit, &s);
  for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++) {
    if (s.found[i] != 1) print_error("key %s seen %d times\n", model_keys[i], s.found[i]);
    assert_int_equal(s.found[i], 1);
  }
  /* 97 section keys + 4 per lever + the fixed constants */
  assert_int_equal(s.count, 97 + 4 * CLHS_NLEVERS + N_CONSTANTS);
  assert_string_equal(s.h_rel, "0.016");
  assert_string_equal(s.registry_centres, "[]");
  assert_string_equal(s.path, "clhsim.h5"); /* raw, not quoted */
  assert_non_null(strstr(s.schedule, "[2015-05-01, 75]"));
  clhs_config_free(&c);
}

/* ---- round trip ----------------------------------------------------------------------- */

static void load_ok(clhs_config *cfg, const char *path) {
  clhs_error err;
  clhs_error_clear(&err);
  int rc = clhs_config_load_file(cfg, path, &err);
  if (rc != CLHS_OK) print_error("load %s: %s\n", path, err.msg);
  assert_int_equal(rc, CLHS_OK);
}

static void round_trip(fixture *f, clhs_config *a, int annotate) {
  char path[512];
  char *text = clhs_config_to_yaml(a, annotate);
  assert_non_null(text);
  write_file(f, text, path, sizeof path);
  clhs_config b;
  clhs_config_defaults(&b);
  load_ok(&b, path);
  finalize_ok(&b);
  char *plain_a = clhs_config_to_yaml(a, 0), *plain_b = clhs_config_to_yaml(&b, 0);
  assert_string_equal(plain_a, plain_b);
  for (int l = 0; l < CLHS_NLEVERS; l++)
    assert_true(a->levers[l].on_step == b.levers[l].on_step);
  assert_memory_equal(&a->care, &b.care, sizeof a->care);
  assert_memory_equal(&a->network, &b.network, sizeof a->network);
  free(text);
  free(plain_a);
  free(plain_b);
  clhs_config_free(&b);
}

static void test_round_trip(void **state) {
  fixture *f = *state;
  clhs_config c;
  clhs_config_defaults(&c);
  finalize_ok(&c);
  round_trip(f, &c, 0);
  round_trip(f, &c, 1);

  /* Values that are awkward to print: non-short doubles, big seed, odd path, lists. */
  override_ok(&c, "care.h_rel=0.1234567890123456789");
  override_ok(&c, "care.h_rem=1e-300");
  override_ok(&c, "motivation.theta=-0.3333333333333333");
  override_ok(&c, "run.seed=18446744073709551615");
  override_ok(&c, "output.path=/tmp/a b: #c \"d\" \\e.h5");
  override_ok(&c, "network.attend=[0.1, 0.2, 0.30000000000000004]");
  override_ok(&c, "centres.schedule=[[2007-01-01, 7.5], [2010-01-01, 50]]");
  override_ok(&c, "centres.join=bass");
  override_ok(&c, "levers.roles.on=52");
  override_ok(&c, "levers.roles.centres=[9, 3, 3, 0]");
  override_ok(&c, "levers.ehr.ramp=0");
  finalize_ok(&c);
  assert_string_equal(c.output.path, "/tmp/a b: #c \"d\" \\e.h5");
  round_trip(f, &c, 0);
  round_trip(f, &c, 1);

  /* write_yaml and to_yaml agree; the annotated form carries comments. */
  char path[512];
  snprintf(path, sizeof path, "%s/cfg%d.yml", f->dir, f->nfiles++);
  FILE *fp = fopen(path, "w+");
  assert_non_null(fp);
  assert_int_equal(clhs_config_write_yaml(&c, fp, 1), CLHS_OK);
  long n = ftell(fp);
  rewind(fp);
  char *text = calloc((size_t)n + 1, 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  char *mem = clhs_config_to_yaml(&c, 1);
  assert_string_equal(text, mem);
  assert_non_null(strstr(
      mem, "  # base relapse hazard\n  # a number in [0, 1] (weekly hazard); default 0.016\n"));
  assert_non_null(strstr(mem, "MODEL.md §3 State, §8 Care and outcomes"));
  assert_non_null(strstr(mem, "\n  h_rel: 0.12345678901234568\n"));
  assert_non_null(strstr(mem, "\n    \"on\": 52\n"));
  assert_non_null(strstr(mem, "\n    centres: [0, 3, 9]\n"));
  free(text);
  free(mem);
  clhs_config_free(&c);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void test_file_errors(void **state) {
  fixture *f = *state;
  expect_file_error(f, "care:\n  h_rle: 0.1\n", 2, "care.h_rle", "did you mean 'care.h_rel'");
  expect_file_error(f, "care:\n  turnover: 0.1\n  prune_below: 0.1\n", 3, "care.prune_below",
                    "network.prune_below");
  expect_file_error(f, "run:\n  steps: 10\ncaer:\n  h_rel: 0.1\n", 3, "caer", "unknown section");
  expect_file_error(f, "levers:\n  regstry:\n    on: 0\n", 2, "levers.regstry", "registry");
  expect_file_error(f, "levers:\n  registry:\n    of: 0\n", 3, "levers.registry.of", "unknown key");
  expect_file_error(f, "care:\n  h_rel: abc\n", 2, "care.h_rel", "expected a number");
  expect_file_error(f, "care:\n  h_rel: nan\n", 2, "care.h_rel", "number");
  expect_file_error(f, "care:\n  h_rel: .inf\n", 2, "care.h_rel", "number");
  expect_file_error(f, "care:\n  h_rel: inf\n", 2, "care.h_rel", "number");
  expect_file_error(f, "care:\n  h_rel: 1e999\n", 2, "care.h_rel", "finite");
  expect_file_error(f, "care:\n  h_rel: 0.1x\n", 2, "care.h_rel", "expected a number");
  expect_file_error(f, "care:\n  h_rel: \"\"\n", 2, "care.h_rel", "expected a number");
  expect_file_error(f, "run:\n  steps: 1.5\n", 2, "run.steps", "expected an integer");
  expect_file_error(f, "run:\n  steps: 10x\n", 2, "run.steps", "expected an integer");
  expect_file_error(f, "run:\n  steps: 1e3\n", 2, "run.steps", "expected an integer");
  expect_file_error(f, "run:\n  steps: 99999999999999999999\n", 2, "run.steps", "out of range");
  expect_file_error(f, "run:\n  seed: -1\n", 2, "run.seed", "unsigned integer");
  expect_file_error(f, "\n\ncare:\n  misread: 0.1\n  h_rel: -3\n", 5, "care.h_rel",
                    "value -3 is out of range [0, 1] (weekly hazard)");
  expect_file_error(f, "run:\n  steps: 0\n", 2, "run.steps", "[1, 1000000000]");
  expect_file_error(f, "resources:\n  saturation: 0\n", 2, "resources.saturation", "(0, ");
  expect_file_error(f, "run:\n  start_date: 2019-02-30\n", 2, "run.start_date", "date");
  expect_file_error(f, "run:\n  start_date: 2019-1-3\n", 2, "run.start_date", "YYYY-MM-DD");
  expect_file_error(f, "levers:\n  ehr:\n    on: 2011-13-01\n", 3, "levers.ehr.on", "date");
  expect_file_error(f, "levers:\n  ehr:\n    on: -4\n", 3, "levers.ehr.on", "out of range");
  expect_file_error(f, "levers:\n  ehr:\n    ramp: [1]\n", 3, "levers.ehr.ramp", "a sequence");
  expect_file_error(f, "levers:\n  ehr:\n    centres: [1, x]\n", 3, "levers.ehr.centres",
                    "element 2");
  expect_file_error(f, "levers:\n  ehr:\n    centres: [1, -2]\n", 3, "levers.ehr.centres",
                    "out of range");
  expect_file_error(f, "levers:\n  ehr:\n    centres: 4\n", 3, "levers.ehr.centres",
                    "expected a sequence");
  expect_file_error(f, "levers:\n  ehr: 4\n", 2, "levers.ehr", "expected a mapping");
  expect_file_error(f, "network:\n  attend: [0.3, 0.6]\n", 2, "network.attend",
                    "expected a sequence of 3 numbers, got 2");
  expect_file_error(f, "network:\n  attend: 0.3\n", 2, "network.attend", "sequence of 3");
  expect_file_error(f, "network:\n  attend:\n    - 0.3\n    - 1.6\n    - 0.9\n", 4,
                    "network.attend", "element 2: value 1.6 is out of range [0, 1]");
  expect_file_error(f, "engagement:\n  down: [0, 0, 0, 0, 0]\n", 2, "engagement.down", "got 5");
  expect_file_error(f, "care: 5\n", 1, "care", "expected a mapping");
  expect_file_error(f, "care:\n  - h_rel\n", 2, "care", "expected a mapping");
  expect_file_error(f, "care:\n  h_rel:\n    x: 1\n", 3, "care.h_rel", "got a mapping");
  expect_file_error(f, "care:\n  h_rel: 0.1\n  h_rel: 0.2\n", 3, "care.h_rel", "duplicate");
  expect_file_error(f, "centres:\n  join: diffusion\n", 2, "centres.join", "schedule|bass");
  expect_file_error(f, "centres:\n  schedule:\n    - [2010-01-01, 7]\n    - [2009-01-01, 8]\n", 4,
                    "centres.schedule", "increase");
  expect_file_error(f, "centres:\n  schedule: [[2009-01-01, 9], [2010-01-01, 8]]\n", 2,
                    "centres.schedule", "decrease");
  expect_file_error(f, "centres:\n  schedule: [[2009-01-01, 101]]\n", 2, "centres.schedule",
                    "[0, 100]");
  expect_file_error(f, "centres:\n  schedule: [[2009-02-29, 1]]\n", 2, "centres.schedule", "date");
  expect_file_error(f, "centres:\n  schedule: [[2009-01-01, 1, 2]]\n", 2, "centres.schedule",
                    "pair");
  expect_file_error(f, "output:\n  path: \"\"\n", 2, "output.path", "non-empty");
  /* Broken YAML: libyaml's problem, at the line where it noticed it. */
  expect_file_error(f, "care:\n  h_rel: [0.1, 0.2\n  h_rem: 0.1\n", 3, "invalid YAML", NULL);
  expect_file_error(f, "care:\n  h_rel: 0.1\n h_rem: 0.1\n", 3, "invalid YAML", NULL);
  expect_file_error(f, "care:\n\th_rel: 0.1\n", 2, "invalid YAML", NULL);
  expect_file_error(f, "run:\n  steps: 5\n---\nrun:\n  steps: 6\n", 4, "one YAML document", NULL);
  expect_file_error(f, "just a scalar\n", 1, "(top level)", "expected a mapping of sections");

  /* A missing file is bad input too. */
  clhs_config c;
  clhs_error err;
  clhs_config_defaults(&c);
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_load_file(&c, "/nonexistent/clhs.yml", &err), CLHS_EINPUT);
  assert_non_null(strstr(err.msg, "/nonexistent/clhs.yml"));
}

static void test_file_ok(void **state) {
  fixture *f = *state;
  char path[512];
  write_file(f,
             "# a comment\n"
             "run:\n  steps: 52\n  start_date: 2010-01-01\n"
             "care: {h_rel: 0.02, turnover: 0}\n"
             "network:\n  attend:\n    - 0.1\n    - 0.2\n    - 0.3\n"
             "centres:\n  join: bass\n"
             "levers:\n  registry:\n    on: 2010-01-15\n    ramp: 0\n    centres: [5, 1]\n"
             "  ehr: {on: 10}\n"
             "output:\n",
             path, sizeof path);
  clhs_config c;
  clhs_config_defaults(&c);
  load_ok(&c, path);
  finalize_ok(&c);
  assert_int_equal(c.run.steps, 52);
  assert_true(c.care.h_rel == 0.02 && c.care.turnover == 0 && c.care.h_rem == 0.0125);
  assert_true(c.network.attend[2] == 0.3);
  assert_int_equal(c.centres.join, CLHS_JOIN_BASS);
  assert_true(c.levers[CLHS_LEV_REGISTRY].on_step == 2.0);
  assert_true(c.levers[CLHS_LEV_EHR].on_step == 10.0);
  assert_true(c.levers[CLHS_LEV_PREVISIT].on_step == weeks_between("2010-01-01", "2008-03-01"));
  assert_int_equal(c.levers[CLHS_LEV_REGISTRY].ncentres, 2);
  assert_int_equal(c.levers[CLHS_LEV_REGISTRY].centres[0], 1);
  /* An empty file changes nothing. */
  write_file(f, "", path, sizeof path);
  load_ok(&c, path);
  assert_int_equal(c.run.steps, 52);
  clhs_config_free(&c);
}

/* ---- overrides ------------------------------------------------------------------------ */

static void test_overrides(void **state) {
  (void)state;
  clhs_config c;
  clhs_config_defaults(&c);
  override_ok(&c, "care.h_rel=0.02");
  assert_true(c.care.h_rel == 0.02);
  override_ok(&c, " run.steps = 100 ");
  assert_int_equal(c.run.steps, 100);
  override_ok(&c, "network.attend=[0.3,0.6,0.95]");
  assert_true(c.network.attend[2] == 0.95);
  override_ok(&c, "engagement.down=[0, 0.1, 0.2, 0.3]");
  assert_true(c.engagement.down[3] == 0.3);
  override_ok(&c, "centres.schedule=[[2007-01-01, 7], [2010-01-01, 50]]");
  assert_int_equal(c.centres.nschedule, 2);
  assert_string_equal(c.centres.schedule_date[1], "2010-01-01");
  assert_true(c.centres.schedule_count[1] == 50);
  override_ok(&c, "levers.commons.on=2013-01-01");
  override_ok(&c, "levers.commons.centres=[3,1,2]");
  assert_int_equal(c.levers[CLHS_LEV_COMMONS].ncentres, 3);
  override_ok(&c, "levers.commons.centres=[]");
  assert_int_equal(c.levers[CLHS_LEV_COMMONS].ncentres, 0);
  override_ok(&c, "levers.research={on: 20, ramp: 0}");
  assert_string_equal(c.levers[CLHS_LEV_RESEARCH].on, "20");
  assert_true(c.levers[CLHS_LEV_RESEARCH].ramp == 0);
  override_ok(&c, "output.path=out dir/run #3.h5");
  assert_string_equal(c.output.path, "out dir/run #3.h5");
  override_ok(&c, "output.path=\"quoted.h5\"");
  assert_string_equal(c.output.path, "quoted.h5");
  override_ok(&c, "run.start_date=2008-01-01");
  finalize_ok(&c);
  assert_true(c.levers[CLHS_LEV_COMMONS].on_step == weeks_between("2008-01-01", "2013-01-01"));
  assert_true(c.levers[CLHS_LEV_RESEARCH].on_step == 20.0);
  clhs_config_free(&c);

  expect_override_error("care.h_rel=-3", "care.h_rel: value -3 is out of range [0, 1]");
  expect_override_error("care.h_rle=0.1", "did you mean 'care.h_rel'");
  expect_override_error("caer.h_rel=0.1", "unknown");
  expect_override_error("care.h_rel", "section.key=value");
  expect_override_error("=3", "section.key=value");
  expect_override_error("care.h_rel=", "no value");
  expect_override_error("care.h_rel=abc", "expected a number");
  expect_override_error("run.steps=1.5", "expected an integer");
  expect_override_error("network.attend=[0.3,0.6]", "expected a sequence of 3 numbers");
  expect_override_error("network.attend=[0.3,0.6,2]", "element 3");
  expect_override_error("centres.schedule=[[2010-01-01, 7], [2009-01-01, 50]]", "increase");
  expect_override_error("centres.schedule=[2010-01-01, 7]", "pair");
  expect_override_error("levers.ehr.on=yesterday", "date");
  expect_override_error("levers.foo.on=3", "unknown lever");
  expect_override_error("network.attend=[0.3, 0.6", "invalid YAML");
  expect_override_error("levers.research={on: 20, ramp: -1}", "levers.research.ramp");
}

/* ---- finalize ------------------------------------------------------------------------- */

static void expect_finalize_error(clhs_config *c, const char *key, const char *also) {
  clhs_error err;
  clhs_error_clear(&err);
  int rc = clhs_config_finalize(c, &err);
  if (rc != CLHS_EINPUT || !strstr(err.msg, key) || (also && !strstr(err.msg, also)))
    print_error("finalize message: %s\n", err.msg);
  assert_int_equal(rc, CLHS_EINPUT);
  assert_non_null(strstr(err.msg, key));
  if (also) assert_non_null(strstr(err.msg, also));
}

static void test_finalize(void **state) {
  (void)state;
  clhs_config c;
  clhs_config_defaults(&c);
  c.population.patients_min = 2000;
  expect_finalize_error(&c, "population.patients_min", "patients_max");
  clhs_config_defaults(&c);
  c.output.every = 0;
  expect_finalize_error(&c, "output.every", NULL);
  clhs_config_defaults(&c);
  c.care.h_rel = 2;
  expect_finalize_error(&c, "care.h_rel", "out of range");
  clhs_config_defaults(&c);
  c.centres.schedule_count[2] = 5;
  expect_finalize_error(&c, "centres.schedule", "decrease");

  clhs_config_defaults(&c);
  override_ok(&c, "population.centres=10");
  override_ok(&c, "levers.roles.centres=[9, 10]");
  expect_finalize_error(&c, "levers.roles.centres", "10");
  override_ok(&c, "levers.roles.centres=[9, 0, 9, 4, 0]");
  finalize_ok(&c);
  const clhs_lever_cfg *lv = &c.levers[CLHS_LEV_ROLES];
  assert_int_equal(lv->ncentres, 3);
  assert_int_equal(lv->centres[0], 0);
  assert_int_equal(lv->centres[1], 4);
  assert_int_equal(lv->centres[2], 9);
  clhs_config_free(&c);
}

/* ---- lever intensity ------------------------------------------------------------------ */

static void test_intensity(void **state) {
  (void)state;
  clhs_lever_cfg lv;
  memset(&lv, 0, sizeof lv);
  lv.on_step = 10;
  lv.ramp = 26;
  lv.max = 1;
  assert_true(clhs_lever_intensity(&lv, 0, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 9, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 10, 0) == 0.0); /* at on: 0 */
  assert_true(clhs_lever_intensity(&lv, 23, 0) == 0.5);
  assert_true(clhs_lever_intensity(&lv, 36, 0) == 1.0);
  assert_true(clhs_lever_intensity(&lv, 1000, 0) == 1.0);
  lv.max = 0.5;
  assert_true(clhs_lever_intensity(&lv, 23, 7) == 0.25);
  assert_true(clhs_lever_intensity(&lv, 100, 7) == 0.5);

  /* ramp 0: a step change, still 0 at on */
  lv.ramp = 0;
  lv.max = 1;
  assert_true(clhs_lever_intensity(&lv, 9, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 10, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 10.5, 0) == 1.0);
  assert_true(clhs_lever_intensity(&lv, 11, 0) == 1.0);

  /* fractional on (a date inside a week) */
  lv.on_step = 2.5;
  lv.ramp = 2;
  assert_true(clhs_lever_intensity(&lv, 2, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 3, 0) == 0.25);
  assert_true(clhs_lever_intensity(&lv, 5, 0) == 1.0);

  /* targeted centres */
  int32_t centres[] = {2, 5, 9};
  lv.on_step = 0;
  lv.ramp = 10;
  lv.ncentres = 3;
  lv.centres = centres;
  assert_true(clhs_lever_intensity(&lv, 5, 5) == 0.5);
  assert_true(clhs_lever_intensity(&lv, 5, 2) == 0.5);
  assert_true(clhs_lever_intensity(&lv, 5, 9) == 0.5);
  assert_true(clhs_lever_intensity(&lv, 5, 4) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 5, 0) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 5, 10) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 5, (int64_t)1 << 40) == 0.0);
  assert_true(clhs_lever_intensity(&lv, 5, -1) == 0.5); /* untargeted view */

  /* end to end: the default registry lever, from the config */
  clhs_config c;
  clhs_config_defaults(&c);
  override_ok(&c, "levers.previsit.centres=[1]");
  finalize_ok(&c);
  assert_true(clhs_lever_intensity(&c.levers[CLHS_LEV_REGISTRY], 0, 3) == 0.0);
  assert_true(clhs_lever_intensity(&c.levers[CLHS_LEV_REGISTRY], 13, 3) == 0.5);
  assert_true(clhs_lever_intensity(&c.levers[CLHS_LEV_REGISTRY], 26, 3) == 1.0);
  double on = weeks_between("2007-01-01", "2008-03-01");
  assert_true(fabs(clhs_lever_intensity(&c.levers[CLHS_LEV_PREVISIT], on + 13, 1) - 0.5) < 1e-12);
  assert_true(clhs_lever_intensity(&c.levers[CLHS_LEV_PREVISIT], on + 13, 0) == 0.0);
  clhs_config_free(&c);
}

/* ---- fixed constants (MODEL.md v1) ---------------------------------------------------- */

#define DV2(v, a, b) ((v)[0] == (a) && (v)[1] == (b))

static void test_constants_defaults(void **state) {
  (void)state;
  clhs_config c;
  clhs_config_defaults(&c);
  /* §3 initial state */
  assert_true(DV2(c.constants.init_m_family, 2, 3));
  assert_true(DV2(c.constants.init_m_staff, 3, 2));
  assert_true(c.constants.init_akr_family == 0.3 && c.constants.init_akr_staff == 0.5);
  assert_true(c.constants.init_tier_family == 0.2 && c.constants.init_tier_staff == 0.3);
  assert_true(DV2(c.constants.init_need, 2, 2));
  assert_true(c.constants.init_cover == 0.1);
  assert_true(DV2(c.constants.init_T, 2, 3));
  assert_true(DV2(c.constants.init_adherence, 6, 4));
  assert_int_equal(c.constants.init_visit_spread, 13);
  assert_int_equal(c.constants.init_course_spread, 26);
  assert_true(c.constants.init_g == 0.5 && c.constants.init_q == 0.2);
  assert_true(c.constants.init_r == 0.21 && c.constants.init_d == 0.5);
  assert_true(c.constants.init_evidence == 0.1);
  /* §8 care */
  assert_true(c.constants.adherence_rate == 0.05);
  assert_true(c.constants.adherence_target[0] == 0.4 && c.constants.adherence_target[1] == 0.2 &&
              c.constants.adherence_target[2] == 0.3 && c.constants.adherence_target[3] == 0.1);
  assert_true(c.constants.guideline_rate == 0.03);
  assert_true(c.constants.guideline_target[0] == 0.3 && c.constants.guideline_target[1] == 0.4 &&
              c.constants.guideline_target[2] == 0.1 && c.constants.guideline_target[3] == 0.1 &&
              c.constants.guideline_target[4] == 0.1);
  assert_int_equal(c.constants.recall_weeks, 6);
  assert_true(c.constants.escalate_pvp == 0.5 && c.constants.escalate_registry == 0.2 &&
              c.constants.escalate_T == 0.3);
  assert_int_equal(c.constants.induction_weeks, 12);
  assert_int_equal(c.constants.steroid_remission_stop, 12);
  assert_true(c.constants.renew_T == 0.2);
  /* §9 centres, §10 levers */
  assert_true(c.constants.reliability_rate == 0.04 && c.constants.reliability_selfmgmt == 0.5 &&
              c.constants.reliability_decay == 0.001 && c.constants.reliability_usual == 0.21);
  assert_true(c.constants.qi_skill_gain == 0.1);
  assert_true(c.constants.completeness_rate == 0.02 && c.constants.completeness_decay == 0.002);
  assert_true(DV2(c.constants.c_data, 0.6, 0.2));
  assert_int_equal(c.constants.bass_every, 13);
  assert_true(c.constants.outreach_find == 0.5 && c.constants.engagement_lead == 0.5);
  /* §5 motivation, §6 engagement, §7 resources */
  assert_true(c.constants.relatedness_rate == 0.05 && c.constants.autonomy_rate == 0.05);
  assert_true(c.constants.autonomy_target[0] == 0.3 && c.constants.autonomy_target[1] == 0.4 &&
              c.constants.autonomy_target[2] == 0.3 && c.constants.autonomy_target[3] == 0.3);
  assert_true(c.constants.motivation_eps == 1e-9);
  assert_true(c.constants.outreach_aware == 1.5);
  assert_true(DV2(c.constants.quality_base, 0.5, 0.5));
  assert_true(DV2(c.constants.quality_beta, 2, 2));
  assert_true(DV2(c.constants.adopt_m, 0.5, 0.5));
  assert_true(c.constants.research_nrec_scale == 1000);
  finalize_ok(&c); /* the defaults are inside their ranges */

  /* The constants are the last member of the struct. */
  assert_true(offsetof(clhs_config, constants) + sizeof c.constants <= sizeof c);
  assert_true(offsetof(clhs_config, constants) > offsetof(clhs_config, checkpoint));

  /* They travel with pack/unpack. */
  c.constants.adherence_rate = 0.125; /* a program may set a field directly; pack carries it */
  size_t n = 0;
  void *buf = clhs_config_pack(&c, &n);
  assert_non_null(buf);
  clhs_config d;
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_unpack(&d, buf, n, &err), CLHS_OK);
  assert_memory_equal(&c.constants, &d.constants, sizeof c.constants);
  assert_true(d.constants.adherence_rate == 0.125);
  free(buf);
  clhs_config_free(&d);
  clhs_config_free(&c);
}

typedef struct kv_find {
  const char *key;
  char value[128];
  int n;
} kv_find;

static void find_kv(const char *key, const char *value, void *user) {
  kv_find *f = user;
  if (strcmp(key, f->key) == 0) {
    snprintf(f->value, sizeof f->value, "%s", value);
    f->n++;
  }
}

static void test_constants_fixed(void **state) {
  fixture *f = *state;
  /* foreach visits them (they land in /parameters). */
  clhs_config c;
  clhs_config_defaults(&c);
  kv_find kf = {"constants.guideline_target", "", 0};
  clhs_config_foreach(&c, find_kv, &kf);
  assert_int_equal(kf.n, 1);
  assert_string_equal(kf.value, "[0.3, 0.4, 0.1, 0.1, 0.1]");
  kv_find ki = {"constants.recall_weeks", "", 0};
  clhs_config_foreach(&c, find_kv, &ki);
  assert_int_equal(ki.n, 1);
  assert_string_equal(ki.value, "6");

  /* Not settable from a file (even to the same value) ... */
  expect_file_error(f, "constants:\n  adherence_rate: 0.1\n", 2, "constants.adherence_rate",
                    "fixed in model v1");
  expect_file_error(f, "care:\n  h_rel: 0.02\nconstants:\n  recall_weeks: 6\n", 4,
                    "constants.recall_weeks", "cannot be changed");
  expect_file_error(f, "constants: {c_data: [0.5, 0.1]}\n", 1, "constants.c_data", "fixed");
  expect_file_error(f, "constants:\n  no_such: 1\n", 2, "constants.no_such", "unknown key");
  /* ... nor from -P, one key or the whole section. */
  expect_override_error("constants.adherence_rate=0.1",
                        "constants.adherence_rate: the value is fixed in model v1 (MODEL.md)");
  expect_override_error("constants.init_visit_spread=13", "fixed");
  expect_override_error("constants.c_data=[0.6, 0.2]", "fixed");
  expect_override_error("constants={guideline_rate: 0.1}", "fixed");
  /* An empty section sets nothing and is harmless. */
  char path[512];
  write_file(f, "constants:\n", path, sizeof path);
  load_ok(&c, path);

  /* The YAML shows them as comments only, in both modes. */
  for (int annotate = 0; annotate <= 1; annotate++) {
    char *y = clhs_config_to_yaml(&c, annotate);
    assert_non_null(y);
    assert_non_null(strstr(
        y, "\n# constants: fixed in model v1 (MODEL.md); shown for reference, cannot be set\n"));
    assert_non_null(strstr(y, "\n#   adherence_rate: 0.05   # §8: "));
    assert_non_null(strstr(y, "\n#   c_data: [0.6, 0.2]   # "));
    assert_non_null(strstr(y, "\n#   motivation_eps: 1e-09   # ") ||
                    strstr(y, "\n#   motivation_eps: 1e-9   # "));
    assert_null(strstr(y, "\nconstants:"));
    assert_null(strstr(y, "\n  adherence_rate:"));
    free(y);
  }
  clhs_config_free(&c);
}

typedef struct count_keys {
  int n;
} count_keys;

static void count_key(const char *key, const char *value, void *user) {
  (void)key;
  (void)value;
  ((count_keys *)user)->n++;
}

static void test_markdown(void **state) {
  fixture *f = *state;
  char path[512];
  snprintf(path, sizeof path, "%s/cfg%d.yml", f->dir, f->nfiles++);
  FILE *fp = fopen(path, "w+");
  assert_non_null(fp);
  assert_int_equal(clhs_config_write_markdown(fp), CLHS_OK);
  long n = ftell(fp);
  assert_true(n > 0);
  rewind(fp);
  char *md = calloc((size_t)n + 1, 1);
  assert_non_null(md);
  assert_int_equal(fread(md, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);

  /* One row per table entry (= per key foreach visits), one table per section. */
  clhs_config c;
  clhs_config_defaults(&c);
  count_keys ck = {0};
  clhs_config_foreach(&c, count_key, &ck);
  int rows = 0, tables = 0, headings = 0;
  for (const char *line = md; *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (len > 3 && strncmp(line, "| `", 3) == 0) {
      rows++;
      /* five cells: six unescaped bars */
      int bars = 0;
      for (size_t i = 0; i < len; i++)
        bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
      if (bars != 6) print_error("row with %d bars: %.*s\n", bars, (int)len, line);
      assert_int_equal(bars, 6);
    }
    static const char header[] = "| key | default | range | unit | meaning |";
    if (len == sizeof header - 1 && strncmp(line, header, len) == 0) tables++;
    if (strncmp(line, "### ", 4) == 0) headings++;
    line += len + (eol != NULL);
  }
  assert_int_equal(rows, ck.n);
  assert_int_equal(rows, 97 + 4 * CLHS_NLEVERS + N_CONSTANTS);
  /* run population network motivation engagement resources care centres levers output
   * checkpoint constants */
  assert_int_equal(tables, 12);
  assert_int_equal(headings, 12);

  /* A few keys of each kind, with their default, range and unit. */
  assert_non_null(strstr(md, "| `care.h_rel` | `0.016` | [0, 1] | weekly hazard | base relapse "));
  assert_non_null(strstr(md, "| `run.start_date` | `2007-01-01` | YYYY-MM-DD | date |"));
  assert_non_null(
      strstr(md, "| `network.attend` | `[0.3, 0.6, 0.9]` | 3 numbers, each in [0, 1] |"));
  assert_non_null(strstr(md, "| `centres.join` | `schedule` | `schedule` or `bass` | mode |"));
  assert_non_null(strstr(md, "| `levers.ehr.ramp` | `208` | [0, 1000000] | weeks |"));
  assert_non_null(strstr(md, "| `levers.outreach.centres` | `[]` |"));
  assert_non_null(strstr(md, "| `resources.saturation` | `40` | (0, "));
  assert_non_null(strstr(md, "| `constants.adherence_rate` | `0.05` | [0, 1] | fraction per week | "
                             "§8: "));
  assert_non_null(strstr(md, "| `constants.guideline_target` | `[0.3, 0.4, 0.1, 0.1, 0.1]` |"));
  assert_non_null(strstr(md, "| `constants.bass_every` | `13` | [1, 1000] | weeks | §9: "));
  assert_non_null(strstr(md, "| `constants.init_m_family` | `[2, 3]` | 2 numbers, each in (0, 100] "
                             "| Beta shapes a, b |"));
  /* Headings name the MODEL.md sections. */
  assert_non_null(strstr(md, "### `care`: Care and outcomes (MODEL.md §3 State, §8 Care and "
                             "outcomes)\n"));
  assert_non_null(strstr(md, "### `constants`: Fixed constants of model v1"));
  assert_non_null(strstr(md, "### `levers`: Policy levers"));
  free(md);
  clhs_config_free(&c);
}

/* ---- pack/unpack ---------------------------------------------------------------------- */

static void test_pack(void **state) {
  (void)state;
  clhs_config a, b;
  clhs_config_defaults(&a);
  override_ok(&a, "levers.roles.centres=[1, 2, 3]");
  override_ok(&a, "levers.research.centres=[7]");
  override_ok(&a, "care.h_rel=0.03");
  finalize_ok(&a);
  size_t n = 0;
  void *buf = clhs_config_pack(&a, &n);
  assert_non_null(buf);
  assert_true(n > sizeof a);
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_unpack(&b, buf, n, &err), CLHS_OK);
  char *ya = clhs_config_to_yaml(&a, 0), *yb = clhs_config_to_yaml(&b, 0);
  assert_string_equal(ya, yb);
  assert_int_equal(b.levers[CLHS_LEV_ROLES].ncentres, 3);
  assert_ptr_not_equal(b.levers[CLHS_LEV_ROLES].centres, a.levers[CLHS_LEV_ROLES].centres);
  assert_true(b.levers[CLHS_LEV_PREVISIT].on_step == a.levers[CLHS_LEV_PREVISIT].on_step);
  free(ya);
  free(yb);
  clhs_config_free(&b);

  clhs_error_clear(&err);
  assert_int_not_equal(clhs_config_unpack(&b, buf, n - 1, &err), CLHS_OK);
  ((unsigned char *)buf)[0] ^= 1;
  clhs_error_clear(&err);
  assert_int_not_equal(clhs_config_unpack(&b, buf, n, &err), CLHS_OK);
  free(buf);
  clhs_config_free(&a);
}

/* ---- hostile input (issue 10) ------------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* @p head, then @p unit @p n times, then @p tail: a malloc'd string. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
  size_t lh = strlen(head), lu = strlen(unit), lt = strlen(tail);
  char *t = malloc(lh + lu * n + lt + 1);
  assert_non_null(t);
  memcpy(t, head, lh);
  for (size_t i = 0; i < n; i++)
    memcpy(t + lh + i * lu, unit, lu);
  memcpy(t + lh + lu * n, tail, lt + 1);
  return t;
}

/*
 * 100,000 levels of nesting took libyaml over 30 s (its time is quadratic in the depth):
 * anything deeper than 64 levels is refused at once, naming the file, line, key and limit.
 */
static void test_deep_nesting(void **state) {
  fixture *f = *state;
  const size_t deep = 100000;
  char *text = repeat("run:\n  steps: ", "[", deep, "\n");
  double t0 = now_s();
  expect_file_error(f, text, 2, "run.steps", "nesting deeper than 64 levels");
  free(text);
  text = repeat("care:\n  h_rel: ", "{a: ", deep, "\n");
  expect_file_error(f, text, 2, "care.h_rel.a.a.a", "nesting deeper than 64 levels");
  free(text);
  text = repeat("", "- ", deep, "x\n"); /* block sequences, all on line 1 */
  expect_file_error(f, text, 1, "(top level)", "nesting deeper than 64 levels");
  free(text);
  /* Block mappings, one level a line: the 65th level is on line 65. */
  text = malloc(2 * 1000 * 1000 + 16 * 1000);
  assert_non_null(text);
  size_t o = 0;
  for (int i = 0; i < 1000; i++)
    o += (size_t)sprintf(text + o, "%*sk%d:\n", 2 * i, "", i);
  expect_file_error(f, text, 65, "k0.k1.k2", "nesting deeper than 64 levels");
  free(text);
  /* The same through -P and through the text stored in a checkpoint. */
  text = repeat("network.attend=", "[", deep, "");
  expect_override_error(text, "network.attend: YAML nesting deeper than 64 levels");
  free(text);
  text = repeat("care: {h_rel: 0.1}\nrun: ", "[", deep, "");
  clhs_config c;
  clhs_error err;
  clhs_config_defaults(&c);
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_load_text(&c, text, "ckpt.h5", &err), CLHS_EINPUT);
  if (!strstr(err.msg, "ckpt.h5:2: run: YAML nesting deeper than 64")) print_error("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "ckpt.h5:2: run: YAML nesting deeper than 64"));
  free(text);
  double dt = now_s() - t0;
  if (dt > 5) print_error("refusing six deep documents took %.1f s\n", dt);
  assert_true(dt < 5); /* before the limit: minutes */

  /* 64 levels (two mappings, 62 sequences) are still read, then judged as values; 65 not. */
  text = repeat("run:\n  steps: ", "[", 62, "");
  char *closed = repeat(text, "]", 62, "\n");
  expect_file_error(f, closed, 2, "run.steps", "expected an integer, got a sequence");
  free(text);
  free(closed);
  text = repeat("run:\n  steps: ", "[", 63, "");
  closed = repeat(text, "]", 63, "\n");
  expect_file_error(f, closed, 2, "run.steps", "nesting deeper than 64 levels");
  free(text);
  free(closed);
  clhs_config_free(&c);
}

/* Only the core-schema tags, each on its kind of node; everything else names file, line, key. */
static void test_tags(void **state) {
  fixture *f = *state;
  expect_file_error(f, "run:\n  steps: !foo 5\n", 2, "run.steps", "tag '!foo'");
  expect_file_error(f, "run:\n  steps: !!binary aGVsbG8=\n", 2, "run.steps", "'!!binary'");
  expect_file_error(f, "run:\n  seed: ! 5\n", 2, "run.seed", "tag '!'");
  expect_file_error(f, "care:\n  h_rel: 0.1\n  h_rem: !<tag:example.com,2024:x> 0.1\n", 3,
                    "care.h_rem", "tag:example.com,2024:x");
  expect_file_error(f, "%TAG !! tag:example.com,2024:\n---\nrun:\n  steps: !!int 5\n", 4,
                    "run.steps", "tag:example.com,2024:int");
  expect_file_error(f, "network:\n  attend: !!set [0.1, 0.2, 0.3]\n", 2, "network.attend",
                    "'!!set'");
  expect_file_error(f, "network:\n  attend: [0.1, !!python/object 0.2, 0.3]\n", 2, "network.attend",
                    "'!!python/object'");
  expect_file_error(f, "levers:\n  ehr: !lever\n    on: 5\n", 2, "levers.ehr", "'!lever'");
  expect_file_error(f, "run:\n  !key steps: 5\n", 2, "run.steps", "'!key'");
  expect_file_error(f, "run:\n  steps: !!map 5\n", 2, "run.steps", "'!!map'");
  expect_file_error(f, "run: !!seq\n  steps: 5\n", 1, "run", "'!!seq'");
  expect_file_error(f, "run:\n  steps: 5\n---\nrun: !x {}\n", 4, "run", "'!x'");
  expect_override_error("run.steps=!foo 5", "run.steps: YAML tag '!foo'");
  expect_override_error("levers.ehr={on: !!timestamp 2011-01-01}", "levers.ehr.on: YAML tag");

  /* The core tags are accepted where they fit. */
  char path[512];
  write_file(f,
             "!!map\nrun: !!map\n  steps: !!int 52\n  seed: !!str 7\n"
             "network:\n  attend: !!seq [!!float 0.1, 0.2, !!float 0.3]\n"
             "levers:\n  ehr:\n    centres: !!null\n",
             path, sizeof path);
  clhs_config c;
  clhs_config_defaults(&c);
  load_ok(&c, path);
  assert_int_equal(c.run.steps, 52);
  assert_true(c.run.seed == 7 && c.network.attend[2] == 0.3);
  override_ok(&c, "run.steps=!!int 60");
  assert_int_equal(c.run.steps, 60);
  clhs_config_free(&c);
}

/* A key below a value says that the value is a value, and does not suggest itself. */
static void test_key_below_value(void **state) {
  fixture *f = *state;
  const char *cases[] = {"run.steps.x=5", "levers.ehr.on.date=2011-01-01", "network.attend.0=0.3"};
  const char *leaf[] = {"run.steps is a value", "levers.ehr.on is a value",
                        "network.attend is a value"};
  for (int i = 0; i < 3; i++) {
    clhs_config c;
    clhs_error err;
    clhs_config_defaults(&c);
    clhs_error_clear(&err);
    assert_int_equal(clhs_config_override(&c, cases[i], &err), CLHS_EINPUT);
    if (!strstr(err.msg, leaf[i]) || strstr(err.msg, "did you mean"))
      print_error("-P %s: %s\n", cases[i], err.msg);
    assert_non_null(strstr(err.msg, leaf[i]));
    assert_non_null(strstr(err.msg, "not a section"));
    assert_null(strstr(err.msg, "did you mean"));
    clhs_config_free(&c);
  }
  expect_override_error("run.steps.x=5", "run.steps.x: no such key: run.steps is a value");
  expect_file_error(f, "run:\n  steps.x: 5\n", 2, "run.steps.x", "run.steps is a value");
  expect_file_error(f, "levers:\n  ehr:\n    on.x: 1\n", 3, "levers.ehr.on.x",
                    "levers.ehr.on is a value");
  /* Unknown keys that are not below a value keep their suggestion. */
  expect_override_error("run.stesp=5", "did you mean 'run.steps'");
}

/* A directory, a device that never ends, an unreadable file: each a clear refusal. */
static void test_bad_files(void **state) {
  fixture *f = *state;
  clhs_config c;
  clhs_error err;
  clhs_config_defaults(&c);
  char *before = clhs_config_to_yaml(&c, 0);
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_load_file(&c, f->dir, &err), CLHS_EINPUT);
  if (!strstr(err.msg, "is a directory")) print_error("directory: %s\n", err.msg);
  assert_non_null(strstr(err.msg, f->dir));
  assert_non_null(strstr(err.msg, "is a directory"));
  assert_null(strstr(err.msg, "invalid YAML"));
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_load_file(&c, "/dev/zero", &err), CLHS_EINPUT);
  assert_non_null(strstr(err.msg, "larger than 16 MiB"));
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_load_file(&c, "/dev/null", &err), CLHS_OK); /* empty: no change */
  char *after = clhs_config_to_yaml(&c, 0);
  assert_string_equal(before, after);
  free(before);
  free(after);
  clhs_config_free(&c);
}

/* Paths with control characters are refused; values are quoted without raw control bytes. */
static void test_control_characters(void **state) {
  (void)state;
  clhs_config c;
  clhs_error err;
  clhs_config_defaults(&c);
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_override(&c, "output.path=a\nb.h5", &err), CLHS_EINPUT);
  assert_non_null(strstr(err.msg, "-P output.path=a\\x0ab.h5: output.path: path 'a\\x0ab.h5' "
                                  "holds a control character"));
  assert_string_equal(c.output.path, "clhsim.h5");
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_override(&c, "checkpoint.dir=ck\x1b[31m", &err), CLHS_EINPUT);
  assert_null(strchr(err.msg, '\x1b'));
  assert_non_null(strstr(err.msg, "'ck\\x1b[31m'"));
  clhs_error_clear(&err);
  assert_int_equal(clhs_config_override(&c, "care.h_rel=\"\x1b[2J\"", &err), CLHS_EINPUT);
  assert_null(strchr(err.msg, '\x1b'));
  assert_non_null(strstr(err.msg, "\\x1b[2J"));
  /* A program (-o) that sets the path directly is checked by finalize. */
  snprintf(c.output.path, sizeof c.output.path, "out\tput.h5");
  expect_finalize_error(&c, "output.path", "control character");
  clhs_config_free(&c);
}

/* Run finalize with stderr sent to a file; returns what it wrote (malloc'd). */
static char *finalize_stderr(fixture *f, clhs_config *c, int *rc) {
  char path[512];
  snprintf(path, sizeof path, "%s/stderr.txt", f->dir);
  fflush(stderr);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(2);
  assert_true(fd >= 0 && saved >= 0);
  assert_true(dup2(fd, 2) == 2);
  clhs_error err;
  clhs_error_clear(&err);
  *rc = clhs_config_finalize(c, &err);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char *text = calloc(1, 8192);
  assert_non_null(text);
  assert_true(lseek(fd, 0, SEEK_SET) == 0);
  assert_true(read(fd, text, 8191) >= 0);
  close(fd);
  remove(path);
  return text;
}

/* A lever set to start after the run's last date never acts: a warning, not an error. */
static void test_late_lever_warning(void **state) {
  fixture *f = *state;
  clhs_config c;
  int rc;
  clhs_config_defaults(&c);
  override_ok(&c, "levers.ehr.on=2030-01-01");
  override_ok(&c, "levers.commons.on=800");
  char *w = finalize_stderr(f, &c, &rc);
  assert_int_equal(rc, CLHS_OK);
  /* 2007-01-01 + 7 x 730 days = 2020-12-28 */
  if (!strstr(w, "clhsim: warning: levers.ehr.on = 2030-01-01") || !strstr(w, "2020-12-28"))
    print_error("stderr: %s\n", w);
  assert_non_null(strstr(w, "clhsim: warning: levers.ehr.on = 2030-01-01 is after the run's "
                            "last date 2020-12-28"));
  assert_non_null(strstr(w, "clhsim: warning: levers.commons.on = 800 (a step number)"));
  assert_null(strstr(w, "levers.registry")); /* defaults inside the run: nothing */
  free(w);
  /* Within the run (or exactly at its end): silent; short runs say nothing of the defaults. */
  override_ok(&c, "levers.ehr.on=2020-12-28");
  override_ok(&c, "levers.commons.on=730");
  w = finalize_stderr(f, &c, &rc);
  assert_int_equal(rc, CLHS_OK);
  assert_string_equal(w, "");
  free(w);
  override_ok(&c, "run.steps=10");
  w = finalize_stderr(f, &c, &rc);
  assert_int_equal(rc, CLHS_OK);
  assert_non_null(strstr(w, "levers.ehr.on = 2020-12-28 is after the run's last date 2007-03-12"));
  assert_non_null(strstr(w, "levers.commons.on = 730"));
  assert_null(strstr(w, "levers.roles")); /* a default: not reported */
  free(w);
  clhs_config_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_model_versions),
      cmocka_unit_test(test_foreach_covers_model_keys),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_ok, setup, teardown),
      cmocka_unit_test(test_overrides),
      cmocka_unit_test(test_finalize),
      cmocka_unit_test(test_intensity),
      cmocka_unit_test(test_pack),
      cmocka_unit_test(test_constants_defaults),
      cmocka_unit_test_setup_teardown(test_constants_fixed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_markdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_below_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
      cmocka_unit_test(test_control_characters),
      cmocka_unit_test_setup_teardown(test_late_lever_warning, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
