/*
 * Checkpoints (src/io/checkpoint.c), run at 1, 2 and 3 ranks.
 *
 *  - Round trip: a busy world (cross-centre ties, resources, the commons) advanced 10
 *    steps is written, a fresh world built from the same configuration reads it back:
 *    the digest and every state array are equal, and both worlds stay equal over 5
 *    more steps. PATH.tmp is gone after a successful write. A second scenario has
 *    Bass joining under way, turnover, and a configuration text longer than an
 *    attribute can hold (stored as a dataset). A third has 2 centres, so that at 3
 *    ranks one rank owns none. Writing into a missing folder fails with CLHS_EIO.
 *  - Decomposition: at 1 rank (--write FILE) a checkpoint and the digest 5 steps later
 *    are stored; at 2 and 3 ranks (--check FILE) the file is read and continued, and
 *    the digests must match.
 *  - Verified once: the metadata read twice and the state read hash an unchanged file once
 *    (a file changed moments before at every read), and a change is still refused.
 *  - Refusals, all CLHS_EINPUT on every rank, never a crash: a truncated copy, a copy
 *    with one byte flipped inside a chunk of /agents/held (Fletcher32), a copy whose
 *    format attribute was rewritten, one without the completeness marker, a file that
 *    is not HDF5, a missing file, and a world whose configuration builds other sizes.
 *
 * Failures are counted on each rank and summed over ranks before they are asserted, so
 * every rank takes the same path through the collectives. File surgery is done by
 * rank 0 with serial HDF5 calls, between barriers.
 */
#define _POSIX_C_SOURCE 200809L

#include <hdf5.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "fixture.h"
#include "clhs/checkpoint.h"
#include "io/checkpoint_int.h" /* ck_verify_count, ck_file_sum, ck_ub_write */

/* ------------------------------------------------------------ worlds */

/* Scenario 0: examples/cross_rank_ties.yml on 8 centres, every lever on from the start.
 * Scenario 1: the same with half the centres joining later (Bass) and turnover. */
static void cfg_make(clhs_config *cfg, int scenario, int64_t centres) {
  fx_config(cfg, &(fx_opts){.centres = centres,
                            .patients = 60,
                            .patients_min = 50,
                            .patients_max = 80,
                            .members = 1});
  cfg->population.researchers_min = 6;
  cfg->network.conference_every = 4;
  cfg->network.webinar_every = 2;
  cfg->network.conference_ties = 4;
  cfg->network.webinar_ties = 2;
  cfg->network.online_rate = 0.3;
  cfg->network.peer_rate = 0.05;
  const double up[4] = {0.3, 0.3, 0.1, 0.01};
  memcpy(cfg->engagement.up_family, up, sizeof up);
  memcpy(cfg->engagement.up_staff, up, sizeof up);
  /* Resources every week from the start (default rates give a handful in 10 weeks). */
  const double rate[4] = {2, 2, 2, 2};
  memcpy(cfg->resources.rate, rate, sizeof rate);
  cfg->resources.research_rate = 1;
  if (scenario == 1) {
    cfg->centres.initial_share = 0.5;
    cfg->centres.bass_p = 0.3;
    cfg->centres.bass_q = 0.2;
    cfg->care.turnover = 0.05;
  }
  fx_finalize(cfg, FX_ALL_LEVERS, 0);
}

static void advance(clhs_world *w, int steps) {
  for (int s = 0; s < steps; s++) {
    clhs_error err;
    clhs_error_clear(&err);
    CHECK(clhs_world_step(w, &err) == CLHS_OK, "step: %s", err.msg);
  }
  assert_no_failures("clhs_world_step");
}

static void meta_fill(clhs_checkpoint_meta *m, const clhs_world *w, char *yaml) {
  memset(m, 0, sizeof *m);
  m->step = w->step;
  m->output_records = 3;
  m->digest = clhs_world_digest(w);
  snprintf(m->output_snapshot, sizeof m->output_snapshot, "run.h5.step%lld", (long long)w->step);
  m->config_yaml = yaml;
}

static void write_ok(const clhs_world *w, const char *path, const clhs_checkpoint_meta *m) {
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_checkpoint_write(w, path, m, &err);
  CHECK(st == CLHS_OK, "write %s: %s", path, err.msg);
  assert_no_failures("clhs_checkpoint_write");
  if (comm.rank == 0) { /* published, and no PATH.tmp left */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size > 0, "%s was not written", path);
    CHECK(stat(tmp, &sb) != 0, "%s remains after a successful write", tmp);
  }
  assert_no_failures("published checkpoint");
}

/* Ties, resources and commons in use on all ranks together. */
static void check_busy(const clhs_world *w) {
  int64_t v[3] = {clhs_ties_count(w), w->res.n, 0};
  clhs_comm_sum_i64(&comm, v, 3);
  CHECK(v[0] > 100, "only %lld tie ends", (long long)v[0]);
  CHECK(v[1] > 10, "only %lld resources", (long long)v[1]);
  CHECK(w->commons.n > 0, "an empty commons");
  assert_no_failures("a busy world");
}

#define SAME(field, count)                                                                         \
  CHECK((count) == 0 || memcmp(a->field, b->field, sizeof *a->field * (size_t)(count)) == 0,       \
        "%s differs", #field)

/* Two worlds on the same decomposition hold the same state, array by array. */
static void check_equal(const clhs_world *a, const clhs_world *b) {
  const int64_t nc = a->c_count;
  CHECK(a->n == b->n && a->npat == b->npat && a->c_count == b->c_count, "layouts differ");
  for (int r = 0; r < CLHS_NFIELDS; r++) { /* every array the checkpoint stores */
    const clhs_field *f = &clhs_fields[r];
    if (!clhs_field_stored(f)) continue;
    const size_t bytes = f->size * (size_t)clhs_field_elems(a, f);
    CHECK(bytes == 0 || memcmp(clhs_field_array(a, f, 0), clhs_field_array(b, f, 0), bytes) == 0,
          "%s differs", f->name);
  }
  for (int64_t lc = 0; lc < nc; lc++) {
    const int32_t na = a->first[CLHS_NTYPES][lc] - a->first[0][lc];
    const clhs_tieset *x = &a->ties[lc], *y = &b->ties[lc];
    CHECK(memcmp(x->off, y->off, sizeof *x->off * (size_t)(na + 1)) == 0, "tie rows differ");
    if (x->off[na] == y->off[na] && x->off[na] > 0) {
      CHECK(memcmp(x->key, y->key, sizeof *x->key * x->off[na]) == 0, "tie keys differ");
      CHECK(memcmp(x->w, y->w, sizeof *x->w * x->off[na]) == 0, "tie weights differ");
    }
  }
  CHECK(a->res.n == b->res.n, "resources %lld vs %lld", (long long)a->res.n, (long long)b->res.n);
  CHECK(a->res.fresh_begin == b->res.fresh_begin, "fresh resources from %lld vs %lld",
        (long long)a->res.fresh_begin, (long long)b->res.fresh_begin);
  if (a->res.n == b->res.n) {
    SAME(res.id, a->res.n);
    SAME(res.q, a->res.n);
    SAME(res.kind, a->res.n);
    SAME(res.in_commons, a->res.n);
    SAME(res.adoptions, a->res.n);
  }
  CHECK(a->commons.n == b->commons.n, "commons %lld vs %lld", (long long)a->commons.n,
        (long long)b->commons.n);
  for (int k = 0; k < CLHS_NEEDS; k++) { /* this rank's index of the commons, rebuilt */
    CHECK(a->commons.len[k] == b->commons.len[k] && a->commons.total[k] == b->commons.total[k],
          "commons of category %d differs", k);
    if (a->commons.len[k] == b->commons.len[k]) {
      SAME(commons.at[k], a->commons.len[k]);
      SAME(commons.cum[k], a->commons.len[k]);
    }
  }
  CHECK(a->E_tx == b->E_tx && a->N_rec == b->N_rec && a->commons_users == b->commons_users &&
            a->step == b->step,
        "network-wide state differs");
  assert_no_failures("state read back");
}

/* Write at step 10, read into a fresh world, compare, continue both 5 steps. */
static void round_trip(int scenario, int64_t centres) {
  clhs_config cfg;
  cfg_make(&cfg, scenario, centres);
  clhs_world a, b;
  fx_world(&cfg, &a);
  advance(&a, 10);
  if (scenario == 0 && centres == 8) check_busy(&a);
  char path[256];
  snprintf(path, sizeof path, "ckpt_rt%d_%lld_np%d.h5", scenario, (long long)centres, comm.size);
  char *yaml = clhs_config_to_yaml(&cfg, 0);
  assert_non_null(yaml);
  if (scenario == 1) { /* longer than an attribute holds: stored as a dataset */
    const size_t len = strlen(yaml), pad = 100000;
    char *big = malloc(len + pad + 2);
    assert_non_null(big);
    memcpy(big, yaml, len);
    big[len] = '#';
    for (size_t k = 1; k < pad; k++)
      big[len + k] = k % 80 == 0 ? '\n' : 'x';
    big[len + pad] = '\n';
    big[len + pad + 1] = '\0';
    free(yaml);
    yaml = big;
  }
  clhs_checkpoint_meta m;
  meta_fill(&m, &a, yaml);
  write_ok(&a, path, &m);

  clhs_checkpoint_meta r;
  clhs_error err;
  clhs_error_clear(&err);
  int st = clhs_checkpoint_read_meta(&comm, path, &r, &err);
  CHECK(st == CLHS_OK, "read_meta: %s", err.msg);
  if (st == CLHS_OK) {
    CHECK(r.step == 10 && r.output_records == 3 && r.digest == m.digest, "meta values differ");
    CHECK(r.format == CLHS_CHECKPOINT_FORMAT, "format %d", r.format);
    CHECK(strcmp(r.output_snapshot, m.output_snapshot) == 0, "snapshot '%s'", r.output_snapshot);
    CHECK(r.parent[0] == '\0', "parent '%s'", r.parent);
    CHECK(strlen(r.created_utc) == 20, "created_utc '%s'", r.created_utc);
    CHECK(r.config_yaml && strcmp(r.config_yaml, yaml) == 0, "config_yaml differs");
  }
  free(r.config_yaml);
  assert_no_failures("clhs_checkpoint_read_meta");

  fx_world(&cfg, &b);
  clhs_error_clear(&err);
  st = clhs_checkpoint_read(&b, path, &err);
  CHECK(st == CLHS_OK, "read: %s", err.msg);
  assert_no_failures("clhs_checkpoint_read");
  const uint64_t db = clhs_world_digest(&b);
  CHECK(db == m.digest, "digest %016llx after reading, %016llx written", (unsigned long long)db,
        (unsigned long long)m.digest);
  check_equal(&a, &b);
  for (int s = 0; s < 5; s++) {
    advance(&a, 1);
    advance(&b, 1);
    const uint64_t da = clhs_world_digest(&a), d2 = clhs_world_digest(&b);
    CHECK(da == d2, "step %lld: digest %016llx continued, %016llx restarted", (long long)a.step,
          (unsigned long long)da, (unsigned long long)d2);
  }
  assert_no_failures("continued after restart");
  check_equal(&a, &b);
  free(yaml);
  clhs_world_free(&a);
  clhs_world_free(&b);
  clhs_config_free(&cfg);
}

static void test_round_trip(void **state) {
  (void)state;
  round_trip(0, 8);
}

/* Two centres: at 3 ranks one rank owns none and writes and reads no rows. */
static void test_round_trip_idle_rank(void **state) {
  (void)state;
  round_trip(0, 2);
}

static void test_round_trip_joining(void **state) {
  (void)state;
  round_trip(1, 8);
}

/* A folder that does not exist: CLHS_EIO on every rank, nothing left behind. */
static void test_write_fails(void **state) {
  (void)state;
  clhs_config cfg;
  cfg_make(&cfg, 0, 8);
  clhs_world w;
  fx_world(&cfg, &w);
  char *yaml = clhs_config_to_yaml(&cfg, 0);
  clhs_checkpoint_meta m;
  meta_fill(&m, &w, yaml);
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_checkpoint_write(&w, "no_such_folder/ckpt.h5", &m, &err);
  CHECK(st == CLHS_EIO, "status %d (%s), expected CLHS_EIO", st, err.msg);
  CHECK(strstr(err.msg, "no_such_folder/ckpt.h5.tmp") != NULL, "message '%s'", err.msg);
  if (comm.rank == 0) print_message("refused as expected: %s\n", err.msg);
  free(yaml);
  clhs_world_free(&w);
  clhs_config_free(&cfg);
  assert_no_failures("write into a missing folder");
}

/* ------------------------------------------------------------ decomposition */

static void test_decomposition(void **state) {
  (void)state;
  if (!fx_path) skip();
  char dpath[1100];
  snprintf(dpath, sizeof dpath, "%s.digest", fx_path);
  clhs_config cfg;
  cfg_make(&cfg, 0, 8);
  clhs_world w;
  fx_world(&cfg, &w);
  clhs_error err;
  clhs_error_clear(&err);
  if (fx_write) {
    advance(&w, 10);
    char *yaml = clhs_config_to_yaml(&cfg, 0);
    clhs_checkpoint_meta m;
    meta_fill(&m, &w, yaml);
    write_ok(&w, fx_path, &m);
    free(yaml);
    advance(&w, 5);
    fx_digest_store(dpath, clhs_world_digest(&w));
  } else {
    clhs_checkpoint_meta m;
    int st = clhs_checkpoint_read_meta(&comm, fx_path, &m, &err);
    CHECK(st == CLHS_OK, "read_meta %s: %s", fx_path, err.msg);
    assert_no_failures("read_meta of the 1-rank checkpoint");
    char *yaml = clhs_config_to_yaml(&cfg, 0);
    CHECK(strcmp(yaml, m.config_yaml) == 0, "the stored configuration differs");
    free(yaml);
    st = clhs_checkpoint_read(&w, fx_path, &err);
    CHECK(st == CLHS_OK, "read %s: %s", fx_path, err.msg);
    assert_no_failures("read of the 1-rank checkpoint");
    uint64_t d = clhs_world_digest(&w);
    CHECK(d == m.digest, "digest %016llx at %d ranks after reading, %016llx written at 1",
          (unsigned long long)d, comm.size, (unsigned long long)m.digest);
    free(m.config_yaml);
    advance(&w, 5);
    d = clhs_world_digest(&w);
    const uint64_t want = fx_digest_load(dpath);
    CHECK(d == want, "digest %016llx at %d ranks 5 steps after restart, %016llx at 1 rank",
          (unsigned long long)d, comm.size, (unsigned long long)want);
    assert_no_failures("continued on another decomposition");
  }
  clhs_world_free(&w);
  clhs_config_free(&cfg);
}

/* ------------------------------------------------------------ refusals */

/* A checkpoint of scenario 0 at step 10 to damage (written once per run). */
static const char *base_file(void) {
  static char path[256];
  if (path[0]) return path;
  snprintf(path, sizeof path, "ckpt_base_np%d.h5", comm.size);
  clhs_config cfg;
  cfg_make(&cfg, 0, 8);
  clhs_world w;
  fx_world(&cfg, &w);
  advance(&w, 10);
  char *yaml = clhs_config_to_yaml(&cfg, 0);
  clhs_checkpoint_meta m;
  meta_fill(&m, &w, yaml);
  write_ok(&w, path, &m);
  free(yaml);
  clhs_world_free(&w);
  clhs_config_free(&cfg);
  return path;
}

/* Rank 0: copy the first @p keep bytes (all if negative) of @p src to @p dst. */
static int copy_file(const char *src, const char *dst, long keep) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  if (!in || !out) {
    if (in) fclose(in);
    if (out) fclose(out);
    return -1;
  }
  fseek(in, 0, SEEK_END);
  long n = ftell(in);
  fseek(in, 0, SEEK_SET);
  if (keep >= 0 && keep < n) n = keep;
  char *buf = malloc((size_t)n + 1);
  int ok = buf && fread(buf, 1, (size_t)n, in) == (size_t)n &&
           fwrite(buf, 1, (size_t)n, out) == (size_t)n;
  free(buf);
  fclose(in);
  return fclose(out) == 0 && ok ? 0 : -1;
}

/* Read meta, then (if that passes) the state into a fresh world: the agreed status. */
static int try_load(const char *path, int64_t centres, clhs_error *err, int *at_meta) {
  clhs_error_clear(err);
  clhs_checkpoint_meta m;
  int st = clhs_checkpoint_read_meta(&comm, path, &m, err);
  *at_meta = st != CLHS_OK;
  if (st == CLHS_OK) {
    free(m.config_yaml);
    clhs_config cfg;
    cfg_make(&cfg, 0, centres);
    clhs_world w;
    fx_world(&cfg, &w);
    st = clhs_checkpoint_read(&w, path, err);
    clhs_world_free(&w);
    clhs_config_free(&cfg);
  }
  return st;
}

static void expect_refusal(const char *path, int64_t centres, int want_at_meta, const char *word) {
  clhs_error err;
  int at_meta = 0;
  const int st = try_load(path, centres, &err, &at_meta);
  CHECK(st == CLHS_EINPUT, "%s: status %d (%s), expected CLHS_EINPUT", path, st, err.msg);
  CHECK(want_at_meta < 0 || at_meta == want_at_meta, "%s refused by %s", path,
        at_meta ? "read_meta" : "read");
  CHECK(strstr(err.msg, word) != NULL, "%s: message '%s' does not say '%s'", path, err.msg, word);
  if (comm.rank == 0) print_message("refused as expected: %s\n", err.msg);
  assert_no_failures(path);
}

static void test_truncated(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256];
  snprintf(path, sizeof path, "ckpt_truncated_np%d.h5", comm.size);
  if (comm.rank == 0) {
    struct stat sb;
    CHECK(stat(base, &sb) == 0, "no %s", base);
    CHECK(copy_file(base, path, (long)sb.st_size / 2) == 0, "cannot copy %s", base);
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("truncated copy");
  expect_refusal(path, 8, 1, path);
}

/* Collective: the size of @p path as rank 0 sees it (a missing file is a failure). */
static int64_t file_size(const char *path) {
  int64_t size = 0;
  if (comm.rank == 0) {
    struct stat sb;
    CHECK(stat(path, &sb) == 0, "no %s", path);
    size = (int64_t)sb.st_size;
  }
  clhs_comm_bcast(&comm, &size, sizeof size, 0);
  return size;
}

/* Collective: rewrite the user block of @p path so that it matches the file as it is now,
 * with the checkpoints' own checksum (checkpoint_verify.c): a forged file. */
static void forge_user_block(const char *path) {
  const int64_t size = file_size(path);
  clhs_error err;
  clhs_error_clear(&err);
  uint64_t sum = 0;
  CHECK(ck_file_sum(&comm, path, (uint64_t)size, &sum, CLHS_EINPUT, &err) == CLHS_OK,
        "checksum of %s: %s", path, err.msg);
  if (comm.rank == 0)
    CHECK(ck_ub_write(path, (uint64_t)size, sum, &err) == CLHS_OK, "user block of %s: %s", path,
          err.msg);
  assert_no_failures("the user block forged");
}

/* Flip one byte in the middle of the middle chunk of /agents/held. */
static void test_flipped_byte(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256];
  snprintf(path, sizeof path, "ckpt_flipped_np%d.h5", comm.size);
  if (comm.rank == 0) {
    CHECK(copy_file(base, path, -1) == 0, "cannot copy %s", base);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/agents/held", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t nchunks = 0, off[2];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    CHECK(H5Dget_num_chunks(d, sp, &nchunks) >= 0 && nchunks > 0, "no chunks");
    CHECK(H5Dget_chunk_info(d, sp, nchunks / 2, off, &mask, &addr, &size) >= 0, "no chunk info");
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL, "cannot open %s", path);
    if (fp && addr != HADDR_UNDEF && size > 0) {
      const long at = (long)(addr + size / 2);
      fseek(fp, at, SEEK_SET);
      int c = fgetc(fp);
      fseek(fp, at, SEEK_SET);
      fputc(c ^ 0x5a, fp);
      print_message("flipped byte %ld (chunk %llu of %llu, %llu bytes at %llu)\n", at,
                    (unsigned long long)(nchunks / 2), (unsigned long long)nchunks,
                    (unsigned long long)size, (unsigned long long)addr);
    }
    if (fp) fclose(fp);
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("flipped copy");
  /* The file's checksum refuses it before HDF5 parses anything. */
  expect_refusal(path, 8, 1, "its checksum does not match");
  /* With the user block forged to match, Fletcher32 still refuses the data. */
  char forged[256];
  snprintf(forged, sizeof forged, "ckpt_forged_np%d.h5", comm.size);
  if (comm.rank == 0) CHECK(copy_file(path, forged, -1) == 0, "cannot copy %s", path);
  clhs_comm_barrier(&comm);
  assert_no_failures("forged copy");
  forge_user_block(forged);
  expect_refusal(forged, 8, 0, "dataset /agents/held is corrupted (checksum)");
}

/* Rank 0, serial HDF5: rewrite the format attribute, or delete the marker. */
static void test_format(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256];
  snprintf(path, sizeof path, "ckpt_format_np%d.h5", comm.size);
  if (comm.rank == 0) {
    CHECK(copy_file(base, path, -1) == 0, "cannot copy %s", base);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format", H5P_DEFAULT);
    const int32_t v = 99;
    CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT32, &v) >= 0, "cannot rewrite format");
    H5Aclose(a);
    H5Fclose(f);
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("format rewritten");
  char want[64];
  snprintf(want, sizeof want, "checkpoint format 99, this clhsim reads %d", CLHS_CHECKPOINT_FORMAT);
  expect_refusal(path, 8, 1, want);
  /* The same check guards clhs_checkpoint_read on its own. */
  clhs_config cfg;
  cfg_make(&cfg, 0, 8);
  clhs_world w;
  fx_world(&cfg, &w);
  clhs_error err;
  clhs_error_clear(&err);
  CHECK(clhs_checkpoint_read(&w, path, &err) == CLHS_EINPUT, "read accepted format 99");
  clhs_world_free(&w);
  clhs_config_free(&cfg);
  assert_no_failures("read of format 99");
}

/* Without the `complete` marker (deleting it changes the file: refused as damaged or as
 * incomplete), and without the user block's checksum (the state of PATH.tmp between the
 * HDF5 close and the checksum: refused as incomplete). */
static void test_incomplete(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256], path2[256];
  snprintf(path, sizeof path, "ckpt_nomarker_np%d.h5", comm.size);
  snprintf(path2, sizeof path2, "ckpt_nosum_np%d.h5", comm.size);
  if (comm.rank == 0) {
    CHECK(copy_file(base, path, -1) == 0, "cannot copy %s", base);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(H5Adelete(f, "complete") >= 0, "cannot delete the marker");
    H5Fclose(f);
    CHECK(copy_file(base, path2, -1) == 0, "cannot copy %s", base);
    FILE *fp = fopen(path2, "r+b");
    CHECK(fp != NULL, "cannot open %s", path2);
    if (fp) {
      static const char zeros[512] = {0};
      fwrite(zeros, 1, sizeof zeros, fp);
      fclose(fp);
    }
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("marker or checksum removed");
  expect_refusal(path, 8, 1, "incomplete (no 'complete' marker)");
  expect_refusal(path2, 8, 1, "is incomplete");
}

/* One byte flipped at positions spread over the whole file (the user block, object
 * headers, B-tree nodes, attribute heaps, unused space, data): every copy is refused. */
static void test_flip_anywhere(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256];
  snprintf(path, sizeof path, "ckpt_flipany_np%d.h5", comm.size);
  const int64_t size = file_size(base);
  assert_no_failures("base file");
  enum { NPOS = 43 };
  int64_t pos[NPOS];
  pos[0] = 3;   /* the magic */
  pos[1] = 200; /* the user block's padding */
  pos[2] = 511;
  for (int k = 3; k < NPOS; k++)
    pos[k] = 512 + (size - 512) * (k - 3) / (NPOS - 3) + 13;
  int accepted = 0;
  for (int k = 0; k < NPOS; k++) {
    if (comm.rank == 0) {
      CHECK(copy_file(base, path, -1) == 0, "cannot copy %s", base);
      FILE *fp = fopen(path, "r+b");
      if (fp) {
        fseek(fp, (long)pos[k], SEEK_SET);
        const int c = fgetc(fp);
        fseek(fp, (long)pos[k], SEEK_SET);
        fputc(c ^ 0x5a, fp);
        fclose(fp);
      }
    }
    clhs_comm_barrier(&comm);
    clhs_error err;
    int at_meta = 0;
    const int st = try_load(path, 8, &err, &at_meta);
    if (st != CLHS_EINPUT) {
      accepted++;
      CHECK(0, "byte %lld of %lld flipped: status %d (%s)", (long long)pos[k], (long long)size, st,
            err.msg);
    }
  }
  if (comm.rank == 0) print_message("%d of %d flipped copies refused\n", NPOS - accepted, NPOS);
  assert_no_failures("flipped anywhere");
}

static void test_not_a_checkpoint(void **state) {
  (void)state;
  char path[256], missing[256];
  snprintf(path, sizeof path, "ckpt_text_np%d.h5", comm.size);
  snprintf(missing, sizeof missing, "ckpt_missing_np%d.h5", comm.size);
  if (comm.rank == 0) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
      fputs("run:\n  steps: 10\n", f);
      fclose(f);
    }
    remove(missing);
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("text file");
  expect_refusal(path, 8, 1, path);
  expect_refusal(missing, 8, 1, missing);
}

/* A world of 9 centres cannot take a checkpoint of 8. */
static void test_other_configuration(void **state) {
  (void)state;
  expect_refusal(base_file(), 9, 0, "configuration builds");
}

/* A restart reads a checkpoint's metadata twice (to choose it, then in clhs_run) and then its
 * state: the whole file is hashed once if it has not changed. A file that changed moments
 * before it was verified is verified at every read; a damaged one is still refused. */
static void test_verified_once(void **state) {
  (void)state;
  const char *base = base_file();
  char path[256];
  snprintf(path, sizeof path, "ckpt_once_np%d.h5", comm.size);
  if (comm.rank == 0) CHECK(copy_file(base, path, -1) == 0, "cannot copy %s", base);
  clhs_comm_barrier(&comm);
  assert_no_failures("copy");
  clhs_error err;
  int at_meta = 0;
  int64_t n0 = ck_verify_count();
  CHECK(try_load(path, 8, &err, &at_meta) == CLHS_OK, "%s: %s", path, err.msg);
  CHECK(ck_verify_count() == n0 + 2, "a file written moments ago: %lld verifications, not 2",
        (long long)(ck_verify_count() - n0));
  /* Older than the file system clock can confuse (checkpoint_verify.c: CK_RECENT_S). */
  const struct timespec wait = {3, 200000000};
  nanosleep(&wait, NULL);
  n0 = ck_verify_count();
  clhs_checkpoint_meta m;
  CHECK(clhs_checkpoint_read_meta(&comm, path, &m, &err) == CLHS_OK, "%s: %s", path, err.msg);
  free(m.config_yaml);
  CHECK(try_load(path, 8, &err, &at_meta) == CLHS_OK, "%s: %s", path, err.msg);
  CHECK(ck_verify_count() == n0 + 1, "an unchanged file: %lld verifications, not 1",
        (long long)(ck_verify_count() - n0));
  assert_no_failures("verified once");
  if (comm.rank == 0) { /* one byte in the middle: only the whole-file checksum sees it */
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL, "cannot open %s", path);
    if (fp) {
      fseek(fp, 0, SEEK_END);
      const long mid = ftell(fp) / 2;
      fseek(fp, mid, SEEK_SET);
      const int c = fgetc(fp);
      fseek(fp, mid, SEEK_SET);
      fputc(c ^ 0x5a, fp);
      fclose(fp);
    }
  }
  clhs_comm_barrier(&comm);
  assert_no_failures("damaged");
  expect_refusal(path, 8, 1, path);
}

FX_MAIN(cmocka_unit_test(test_round_trip), cmocka_unit_test(test_round_trip_joining),
        cmocka_unit_test(test_round_trip_idle_rank), cmocka_unit_test(test_write_fails),
        cmocka_unit_test(test_decomposition), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_byte), cmocka_unit_test(test_format),
        cmocka_unit_test(test_incomplete), cmocka_unit_test(test_flip_anywhere),
        cmocka_unit_test(test_not_a_checkpoint), cmocka_unit_test(test_other_configuration),
        cmocka_unit_test(test_verified_once))
