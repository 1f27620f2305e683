/*
 * The memory estimate (include/clhs/memcheck.h): this rank's block and the world's bytes
 * from the configuration alone, against worlds really built (1, 2 and 3 ranks); the
 * expected growth against a world stepped with every lever on; sizes; what is available,
 * read from fake /proc and cgroup trees (v1, v2, nested limits, a cgroup namespace);
 * the check's verdict under CLHS_MEMORY_LIMIT.
 */
#define _GNU_SOURCE /* setenv, mkdtemp */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "clhs/memcheck.h"

/* Block and bytes from the configuration equal those of the world clhs_world_create builds. */
static void check_block(const char *const *ov) {
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.set = ov});
  clhs_error err;
  clhs_error_clear(&err);
  clhs_mem_block b;
  assert_int_equal(clhs_memory_block(&cfg, &comm, &b, &err), CLHS_OK);
  clhs_world w;
  assert_int_equal(clhs_world_create(&w, &cfg, &comm, &err), CLHS_OK);
  const char *what = ov && ov[0] ? ov[0] : "defaults";
  CHECK(b.ncentres == w.ncentres, "%s: centres %lld vs %lld", what, (long long)b.ncentres,
        (long long)w.ncentres);
  CHECK(b.nagents == w.nagents, "%s: agents %lld vs %lld", what, (long long)b.nagents,
        (long long)w.nagents);
  CHECK(b.c_count == w.c_count, "%s: local centres %lld vs %lld", what, (long long)b.c_count,
        (long long)w.c_count);
  if (w.c_count > 0)
    CHECK(b.c_begin == w.c_begin, "%s: first centre %lld vs %lld", what, (long long)b.c_begin,
          (long long)w.c_begin);
  CHECK(b.n == w.n, "%s: agents here %lld vs %lld", what, (long long)b.n, (long long)w.n);
  CHECK(b.npat == w.npat, "%s: patients %lld vs %lld", what, (long long)b.npat, (long long)w.npat);
  CHECK(b.nfam == w.fam_begin[w.c_count], "%s: caregivers %lld vs %lld", what, (long long)b.nfam,
        (long long)w.fam_begin[w.c_count]);
  CHECK(b.nclin == w.nclin && b.nqis == w.nqis, "%s: staff", what);
  int64_t maxpat = 0;
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    const int64_t np = w.first[CLHS_FAM][lc] - w.first[CLHS_PAT][lc];
    if (np > maxpat) maxpat = np;
  }
  CHECK(b.max_centre_pat == maxpat, "%s: largest centre", what);
  const int64_t est = clhs_memory_world_bytes(&cfg, &b), real = (int64_t)clhs_world_bytes(&w);
  CHECK(est == real, "%s: world bytes %lld estimated, %lld built", what, (long long)est,
        (long long)real);
  fx_done(&cfg, &w);
}

static void test_block_matches_world(void **state) {
  (void)state;
  static const char *const defaults[] = {NULL};
  static const char *const small[] = {"population.centres=3", NULL};
  static const char *const one[] = {"population.centres=1", NULL};
  static const char *const many[] = {"population.centres=257", "run.seed=7", NULL};
  /* Researchers crowded into few centres (more than the centres' own share). */
  static const char *const res[] = {"population.centres=7", "population.researchers_min=40",
                                    "population.caregivers_per_patient=0.5", NULL};
  static const char *const wide[] = {"population.centres=40",     "population.patients_sigma=2",
                                     "population.patients_min=1", "population.patients_max=5000",
                                     "resources.held_max=9",      NULL};
  check_block(defaults);
  check_block(small);
  check_block(one);
  check_block(many);
  check_block(res);
  check_block(wide);
  assert_no_failures("block and world bytes");
}

static const char *const network_on[] = {"population.centres=12",
                                         "run.steps=60",
                                         "centres.join=bass",
                                         "centres.initial_share=1",
                                         "levers.registry.on=0",
                                         "levers.qi_training.on=0",
                                         "levers.qi_training.ramp=0",
                                         "levers.commons.on=0",
                                         "levers.commons.ramp=0",
                                         "levers.roles.on=0",
                                         "levers.roles.ramp=0",
                                         "levers.engagement.on=0",
                                         "levers.engagement.ramp=0",
                                         "network.conference_every=4",
                                         NULL};

/* The growth the estimate expects covers what a world stepped with every lever on holds,
 * and not by much more; the whole estimate covers the world plus what the process holds. */
static void test_estimate_covers_stepped_world(void **state) {
  (void)state;
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.set = network_on});
  clhs_error err;
  clhs_error_clear(&err);
  clhs_mem_block b;
  assert_int_equal(clhs_memory_block(&cfg, &comm, &b, &err), CLHS_OK);
  clhs_mem_estimate e;
  clhs_memory_estimate(&cfg, &comm, &b, 0, &e);
  clhs_world w;
  assert_int_equal(clhs_world_create(&w, &cfg, &comm, &err), CLHS_OK);
  for (int64_t t = 0; t < cfg.run.steps; t++)
    assert_int_equal(clhs_world_step(&w, &err), CLHS_OK);
  const double real = (double)clhs_world_bytes(&w);
  const double grown = (double)(e.world + e.ties + e.halo + e.resources + e.commons);
  int64_t ends = clhs_ties_count(&w);
  clhs_comm_sum_i64(&comm, &ends, 1);
  if (comm.rank == 0)
    printf("  %lld agents, %lld steps: world %.0f bytes, estimated %.0f (%.3f); %.2f tie ends "
           "per agent, estimated %.2f\n",
           (long long)b.nagents, (long long)cfg.run.steps, real, grown, grown / real,
           (double)ends / (double)b.nagents,
           clhs_memory_tie_ends_per_agent(&cfg, (double)cfg.run.steps, NULL));
  CHECK(w.n == 0 || (grown >= real && grown <= 1.3 * real),
        "rank %d: world %.0f bytes after %lld steps, estimated %.0f", comm.rank, real,
        (long long)cfg.run.steps, grown);
  CHECK(e.total > e.process + e.world && e.process > 0, "the parts add up");
  CHECK(e.total == e.process + e.world + e.replicated + e.ties + e.halo + e.resources + e.commons +
                       e.output + e.transient,
        "total is the sum of the parts");
  fx_done(&cfg, &w);
  assert_no_failures("estimate against a stepped world");
}

static void test_tie_ends(void **state) {
  (void)state;
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){0});
  assert_true(clhs_memory_tie_ends_per_agent(&cfg, 0, NULL) == 0);
  const double e30 = clhs_memory_tie_ends_per_agent(&cfg, 30, NULL);
  const double e730 = clhs_memory_tie_ends_per_agent(&cfg, 730, NULL);
  const double e2500 = clhs_memory_tie_ends_per_agent(&cfg, 2500, NULL);
  assert_true(e30 > 0 && e30 < e730 && e730 < e2500);
  /* bench/network_on.yml measured 2.38 ends per agent at 730 weeks, 3.90 at 2,500. */
  assert_true(e730 > 2.38 && e730 < 2.38 * 1.2);
  assert_true(e2500 > 3.9 && e2500 < 3.9 * 1.3);
  cfg.network.peer_rate *= 2;
  assert_true(clhs_memory_tie_ends_per_agent(&cfg, 730, NULL) > e730);
  cfg.network.peer_rate = 0;
  cfg.network.conference_ties = cfg.network.webinar_ties = cfg.network.online_rate = 0;
  assert_true(clhs_memory_tie_ends_per_agent(&cfg, 730, NULL) == 0);
  fx_make(&cfg, NULL, &(fx_opts){0});
  cfg.network.decay = 0; /* never pruned: grows without bound */
  assert_true(clhs_memory_tie_ends_per_agent(&cfg, 5000, NULL) >
              clhs_memory_tie_ends_per_agent(&cfg, 2500, NULL));
  assert_true(clhs_memory_tie_ends_per_agent(&cfg, 730, NULL) > e730);
  clhs_config_free(&cfg);
}

static void test_parse_size(void **state) {
  (void)state;
  assert_int_equal(clhs_memory_parse_size("123"), 123);
  assert_int_equal(clhs_memory_parse_size("64k"), 64 * 1024);
  assert_int_equal(clhs_memory_parse_size("800M"), 800LL << 20);
  assert_int_equal(clhs_memory_parse_size("1.5G"), 3LL << 29);
  assert_int_equal(clhs_memory_parse_size("2GiB"), 2LL << 30);
  assert_int_equal(clhs_memory_parse_size("1T"), 1LL << 40);
  assert_int_equal(clhs_memory_parse_size(" 7 "), 7);
  assert_int_equal(clhs_memory_parse_size("100B"), 100);
  assert_int_equal(clhs_memory_parse_size(""), -1);
  assert_int_equal(clhs_memory_parse_size("abc"), -1);
  assert_int_equal(clhs_memory_parse_size("-5"), -1);
  assert_int_equal(clhs_memory_parse_size("5X"), -1);
  assert_int_equal(clhs_memory_parse_size("1e30"), -1);
  assert_int_equal(clhs_memory_parse_size(NULL), -1);
}

/* ---- fake /proc and /sys trees ---- */

static void put(const char *root, const char *rel, const char *text) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) { /* mkdir -p */
    *s = '\0';
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void rm_tree(const char *root) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

static void proc_common(const char *root) {
  put(root, "proc/meminfo",
      "MemTotal:       24683784 kB\nMemFree:        23000000 kB\n"
      "MemAvailable:    4000000 kB\nBuffers:            6060 kB\n");
  put(root, "proc/self/status",
      "Name:\tclhsim\nVmPeak:\t  500000 kB\nVmSize:\t  400000 kB\nVmHWM:\t   30000 kB\n"
      "VmRSS:\t   20000 kB\nVmData:\t  100000 kB\n");
}

static void test_available_cgroup_v2(void **state) {
  (void)state;
  char root[] = "/tmp/clhs_memcheck_v2_XXXXXX";
  assert_non_null(mkdtemp(root));
  proc_common(root);
  put(root, "proc/self/cgroup", "0::/job.slice/step_0\n");
  put(root, "proc/self/mountinfo",
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate\n");
  /* The job's limit is on the parent; the step itself is unlimited. */
  put(root, "sys/fs/cgroup/job.slice/memory.max", "1073741824\n");
  put(root, "sys/fs/cgroup/job.slice/memory.current", "209715200\n");
  put(root, "sys/fs/cgroup/job.slice/memory.stat", "anon 100\nfile 5\ninactive_file 104857600\n");
  put(root, "sys/fs/cgroup/job.slice/step_0/memory.max", "max\n");
  put(root, "sys/fs/cgroup/job.slice/step_0/memory.current", "104857600\n");
  put(root, "sys/fs/cgroup/memory.max", "max\n");
  unsetenv("CLHS_MEMORY_LIMIT");
  clhs_mem_avail a;
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_memory_available(root, &a, &err), CLHS_OK);
  assert_int_equal(a.mem_available, 4000000LL * 1024);
  assert_int_equal(a.vm_rss, 20000LL * 1024);
  assert_int_equal(a.vm_size, 400000LL * 1024);
  assert_int_equal(a.vm_data, 100000LL * 1024);
  assert_int_equal(a.cgroup_version, 2);
  assert_int_equal(a.cgroup_limit, 1073741824LL);
  assert_int_equal(a.cgroup_usage, 209715200LL - 104857600LL); /* less inactive file cache */
  assert_int_equal(a.env_limit, -1);
  rm_tree(root);
}

static void test_available_cgroup_v1(void **state) {
  (void)state;
  char root[] = "/tmp/clhs_memcheck_v1_XXXXXX";
  assert_non_null(mkdtemp(root));
  proc_common(root);
  put(root, "proc/self/cgroup",
      "9:name=systemd:/\n5:cpu,cpuacct:/\n4:memory:/slurm/uid_0/job_42/step_0\n0::/\n");
  put(root, "proc/self/mountinfo",
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  const char *job = "sys/fs/cgroup/memory/slurm/uid_0/job_42";
  char p[512];
  snprintf(p, sizeof p, "%s/memory.limit_in_bytes", job);
  put(root, p, "2147483648\n");
  snprintf(p, sizeof p, "%s/memory.usage_in_bytes", job);
  put(root, p, "536870912\n");
  snprintf(p, sizeof p, "%s/memory.stat", job);
  put(root, p, "cache 5\ninactive_file 7\ntotal_inactive_file 268435456\n");
  snprintf(p, sizeof p, "%s/step_0/memory.limit_in_bytes", job);
  put(root, p, "9223372036854771712\n");
  put(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  setenv("CLHS_MEMORY_LIMIT", "3G", 1);
  clhs_mem_avail a;
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_memory_available(root, &a, &err), CLHS_OK);
  assert_int_equal(a.cgroup_version, 1);
  assert_int_equal(a.cgroup_limit, 2147483648LL);
  assert_int_equal(a.cgroup_usage, 536870912LL - 268435456LL);
  assert_int_equal(a.env_limit, 3LL << 30);
  setenv("CLHS_MEMORY_LIMIT", "lots", 1);
  clhs_error_clear(&err);
  assert_int_equal(clhs_memory_available(root, &a, &err), CLHS_EINPUT);
  assert_non_null(strstr(err.msg, "CLHS_MEMORY_LIMIT='lots'"));
  unsetenv("CLHS_MEMORY_LIMIT");
  rm_tree(root);
}

/* A cgroup namespace: /proc/self/cgroup names a path that the mount does not show (the
 * mount is the namespace's root); no /proc/meminfo: unknown. */
static void test_available_namespace(void **state) {
  (void)state;
  char root[] = "/tmp/clhs_memcheck_ns_XXXXXX";
  assert_non_null(mkdtemp(root));
  put(root, "proc/self/cgroup", "0::/kubepods/pod1/c1\n");
  put(root, "proc/self/mountinfo", "30 22 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n");
  put(root, "sys/fs/cgroup/memory.max", "536870912\n");
  put(root, "sys/fs/cgroup/memory.current", "1000\n");
  clhs_mem_avail a;
  clhs_error err;
  clhs_error_clear(&err);
  assert_int_equal(clhs_memory_available(root, &a, &err), CLHS_OK);
  assert_int_equal(a.mem_available, -1);
  assert_int_equal(a.cgroup_version, 2);
  assert_int_equal(a.cgroup_limit, 536870912LL);
  assert_int_equal(a.cgroup_usage, 1000);
  rm_tree(root);
  /* Nothing at all. */
  char none[] = "/tmp/clhs_memcheck_none_XXXXXX";
  assert_non_null(mkdtemp(none));
  assert_int_equal(clhs_memory_available(none, &a, &err), CLHS_OK);
  assert_int_equal(a.mem_available, -1);
  assert_int_equal(a.cgroup_version, 0);
  assert_int_equal(a.cgroup_limit, -1);
  rm_tree(none);
}

/* The check: a small run passes; under a tiny CLHS_MEMORY_LIMIT every rank refuses with
 * the same message naming the estimate and the limit; CLHS_SKIP_MEMORY_CHECK runs anyway. */
static void test_check_verdict(void **state) {
  (void)state;
  static const char *const small[] = {"population.centres=20", NULL};
  clhs_config cfg;
  fx_make(&cfg, NULL, &(fx_opts){.set = small});
  clhs_error err;
  clhs_error_clear(&err);
  unsetenv("CLHS_MEMORY_LIMIT");
  unsetenv("CLHS_SKIP_MEMORY_CHECK");
  int64_t est = 0;
  int st = clhs_memory_check(&cfg, &comm, &est, &err);
  CHECK(st == CLHS_OK, "a small run is refused: %s", err.msg);
  CHECK(est > 0, "no estimate");
  setenv("CLHS_MEMORY_LIMIT", "10M", 1);
  clhs_error_clear(&err);
  st = clhs_memory_check(&cfg, &comm, &est, &err);
  CHECK(st == CLHS_EINPUT && err.code == CLHS_EINPUT, "not refused under 10 MiB (%d)", st);
  CHECK((strstr(err.msg, "needs an estimated") || strstr(err.msg, "needs at least")) &&
            strstr(err.msg, "CLHS_MEMORY_LIMIT 10.0 MiB") &&
            strstr(err.msg, "CLHS_SKIP_MEMORY_CHECK=1"),
        "message: %s", err.msg);
  /* The same message on every rank. */
  uint64_t hu = 0;
  for (const char *p = err.msg; *p; p++)
    hu = hu * 31 + (unsigned char)*p;
  const int64_t h = (int64_t)(hu >> 2);
  int64_t hmax = h, hmin = -h;
  clhs_comm_max_i64(&comm, &hmax, 1);
  clhs_comm_max_i64(&comm, &hmin, 1);
  CHECK(hmax == h && -hmin == h, "ranks disagree on the message");
  setenv("CLHS_SKIP_MEMORY_CHECK", "1", 1);
  clhs_error_clear(&err);
  st = clhs_memory_check(&cfg, &comm, &est, &err);
  CHECK(st == CLHS_OK, "CLHS_SKIP_MEMORY_CHECK=1 still refuses");
  unsetenv("CLHS_SKIP_MEMORY_CHECK");
  /* Only the estimate depends on the configuration: a huge population is refused too. */
  unsetenv("CLHS_MEMORY_LIMIT");
  cfg.population.centres = 200000;
  cfg.population.patients_median = 1000;
  cfg.population.patients_sigma = 0;
  cfg.population.patients_min = 1000;
  cfg.population.patients_max = 1000;
  clhs_error_clear(&err);
  st = clhs_memory_check(&cfg, &comm, &est, &err);
  clhs_mem_avail a;
  clhs_memory_available("", &a, &err);
  if (a.mem_available > 0 && a.mem_available < (64LL << 30)) {
    CHECK(st == CLHS_EINPUT, "200,000 centres x 1,000 patients not refused");
    CHECK(strstr(err.msg, "MemAvailable") != NULL, "message: %s", err.msg);
    /* 2^31 - 1 centres: refused on the lower bound, before any centre is sized. */
    cfg.population.centres = 2147483647;
    clhs_error_clear(&err);
    st = clhs_memory_check(&cfg, &comm, &est, &err);
    CHECK(st == CLHS_EINPUT && strstr(err.msg, "needs at least") != NULL, "message: %s", err.msg);
  }
  clhs_config_free(&cfg);
  assert_no_failures("the check");
}

FX_MAIN(cmocka_unit_test(test_block_matches_world),
        cmocka_unit_test(test_estimate_covers_stepped_world), cmocka_unit_test(test_tie_ends),
        cmocka_unit_test(test_parse_size), cmocka_unit_test(test_available_cgroup_v2),
        cmocka_unit_test(test_available_cgroup_v1), cmocka_unit_test(test_available_namespace),
        cmocka_unit_test(test_check_verdict))
