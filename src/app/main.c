/*
 * clhsim: the command-line program over libclhs.
 *
 *   clhsim run     [CONFIG.yml ...] [-P section.key=value ...] [-o OUT.h5] [--quiet]
 *   clhsim config  [CONFIG.yml ...] [-P section.key=value ...]
 *   clhsim version
 *
 * The configuration is read and checked on rank 0 and broadcast; a bad input
 * ends every rank with status 2 and a message naming the file, line and key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/isa.h"
#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/engine.h"
#include "clhs/fields.h"
#include "clhs/error.h"
#include "clhs/ensemble.h"
#include "clhs/fileutil.h"
#include "clhs/launch.h"
#include "clhs/output.h"
#include "clhs/restart.h"
#include "clhs/signals.h"
#include "clhs_build_info.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: clhsim COMMAND [options]\n"
      "\n"
      "commands:\n"
      "  run [CONFIG.yml ...]     run a simulation (no file: the built-in ICN-sized scenario)\n"
      "  restart CKPT             continue from a checkpoint file, or from the newest valid\n"
      "                           one in a checkpoint folder; with -P: a fork (only\n"
      "                           parameters that may change after the start)\n"
      "  ensemble DESIGN.yml      many runs (seeds, grids, hypercubes, scenarios) under one\n"
      "                           launch, in groups of ranks, into one file with a member\n"
      "                           dimension (-o OUT.h5; run it again to finish a stopped one)\n"
      "  config [CONFIG.yml ...]  print the effective configuration as annotated YAML\n"
      "  version                  print version and build information\n"
      "  variables                list the /timeseries variables and /run attributes (Markdown)\n"
      "  state                    list the world's arrays and the checkpoint layout (Markdown)\n"
      "\n"
      "options:\n"
      "  -P section.key=value     override one configuration key (repeatable)\n"
      "  -o PATH                  output file (default: output.path, clhsim.h5)\n"
      "  --overwrite              replace an existing output file that another run wrote\n"
      "                           (never a link, a device, a folder or the run's inputs)\n"
      "  -q, --quiet              no progress lines (the final summary is still printed)\n"
      "  --markdown               with config: print every key as Markdown tables (docs)\n"
      "  --warmup N               with run/restart: time only the steps after the first N\n"
      "  --group-ranks K          with ensemble: ranks per member (default: from its size)\n"
      "  -h, --help, help         this help\n"
      "  -V, --version            the same as the command version\n"
      "\n"
      "exit status: 0 success; 2 bad input (config, command line, unwritable output,\n"
      "invalid checkpoint); 3 stopped early after writing a checkpoint (SIGUSR1, SIGTERM, SIGINT,\n"
      "the stop file clhsim.stop in the run folder, or run.max_wall_time): continue with\n"
      "'clhsim restart CHECKPOINT_DIR'; 1 other failure.\n"
      "\n"
      "files: an existing output file is never replaced unless the same run wrote it (a\n"
      "restart) or --overwrite is given; a run's checkpoints go to checkpoint.dir unless it\n"
      "holds another run's, then to DIR-RUNID (printed); a restart continues in the folder\n"
      "of its checkpoint, a fork (a restart with model -P) in a folder of its own.\n");
}

typedef struct cli {
  const char *command;
  const char *files[64];
  int nfiles;
  const char *overrides[256];
  int noverrides;
  const char *output;
  int quiet;
  int help;
  int markdown;
  int overwrite;
  long long warmup;
  int group_ranks;
} cli;

static int parse_cli(int argc, char **argv, cli *c, clhs_error *err) {
  memset(c, 0, sizeof *c);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      c->help = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      c->quiet = 1;
    } else if (!strcmp(a, "--markdown")) {
      c->markdown = 1;
    } else if (!strcmp(a, "--overwrite")) {
      c->overwrite = 1;
    } else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
      if (!c->command) c->command = "version";
    } else if (!strcmp(a, "--warmup")) {
      char *end = NULL;
      if (i + 1 >= argc || (c->warmup = strtoll(argv[++i], &end, 10)) < 0 || *end)
        return clhs_error_set(err, CLHS_EINPUT, "--warmup needs a number of steps >= 0");
    } else if (!strcmp(a, "--group-ranks")) {
      char *end = NULL;
      long k = i + 1 < argc ? strtol(argv[++i], &end, 10) : 0;
      if (k < 1 || k > 1000000 || !end || *end)
        return clhs_error_set(err, CLHS_EINPUT, "--group-ranks needs a number of ranks >= 1");
      c->group_ranks = (int)k;
    } else if (!strcmp(a, "-P") || !strcmp(a, "-o")) {
      /* A value that looks like an option is a missing value (write ./-name for a file
       * whose name starts with '-'). */
      if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1]))
        return clhs_error_set(err, CLHS_EINPUT, "option %s needs a value%s%s%s (see clhsim --help)",
                              a, i + 1 < argc ? " (got the option '" : "",
                              i + 1 < argc ? argv[i + 1] : "", i + 1 < argc ? "')" : "");
      if (a[1] == 'P') {
        if (c->noverrides >= 256)
          return clhs_error_set(err, CLHS_EINPUT, "too many -P overrides (at most 256)");
        c->overrides[c->noverrides++] = argv[++i];
      } else {
        c->output = argv[++i];
      }
    } else if (!strncmp(a, "-P", 2) && a[2]) {
      if (c->noverrides >= 256)
        return clhs_error_set(err, CLHS_EINPUT, "too many -P overrides (at most 256)");
      c->overrides[c->noverrides++] = a + 2;
    } else if (a[0] == '-' && a[1]) {
      return clhs_error_set(err, CLHS_EINPUT, "unknown option '%s' (see clhsim --help)", a);
    } else if (!c->command) {
      c->command = !strcmp(a, "help") ? (c->help = 1, "help") : a;
    } else {
      if (c->nfiles >= 64) return clhs_error_set(err, CLHS_EINPUT, "too many config files");
      c->files[c->nfiles++] = a;
    }
  }
  if (!c->command && !c->help)
    return clhs_error_set(err, CLHS_EINPUT,
                          "no command given: try 'clhsim run' or 'clhsim --help'");
  if (c->command && strcmp(c->command, "run") && strcmp(c->command, "config") &&
      strcmp(c->command, "help") && strcmp(c->command, "version") &&
      strcmp(c->command, "variables") && strcmp(c->command, "state") &&
      strcmp(c->command, "restart") && strcmp(c->command, "ensemble"))
    return clhs_error_set(err, CLHS_EINPUT,
                          "unknown command '%s': the commands are run, restart, ensemble, "
                          "config, variables, state and version",
                          c->command);
  if (c->command && !strcmp(c->command, "ensemble") && (c->nfiles != 1 || c->noverrides))
    return clhs_error_set(err, CLHS_EINPUT,
                          "ensemble needs exactly one design file and no -P (put overrides "
                          "under `set` in the design): clhsim ensemble DESIGN.yml [-o OUT.h5] "
                          "[--group-ranks K]");
  if (c->command && !strcmp(c->command, "restart") && c->nfiles != 1)
    return clhs_error_set(err, CLHS_EINPUT,
                          "restart needs exactly one checkpoint file or folder (got %d): "
                          "clhsim restart checkpoints/ [-P key=value ...] [-o OUT.h5]",
                          c->nfiles);
  if (clhs_isa_env_check() < 0)
    return clhs_error_set(err, CLHS_EINPUT,
                          "environment variable CLHS_ISA=%s: not an instruction set clhsim "
                          "knows; use scalar, avx2 or avx512, or unset it (the widest one the "
                          "CPU runs; every one gives the same results)",
                          getenv("CLHS_ISA"));
  return CLHS_OK;
}

/* Keys a fork may not change: they fixed the population's structure (and so the global
 * ids and the state's meaning) when the run started. */
static const char *const fixed_after_start[] = {"population.",        "run.seed",
                                                "run.start_date",     "centres.join",
                                                "centres.schedule",   "centres.initial_share",
                                                "resources.held_max", NULL};

static int check_fork_override(const char *assignment, clhs_error *err) {
  for (int k = 0; fixed_after_start[k]; k++)
    if (!strncmp(assignment, fixed_after_start[k], strlen(fixed_after_start[k])))
      return clhs_error_set(err, CLHS_EINPUT,
                            "-P %s: this parameter fixed the population's structure when the "
                            "run started and cannot change in a restart or fork; start a new "
                            "run instead (allowed: levers, rates, care, network, motivation, "
                            "engagement, resources except held_max, run.steps, output, "
                            "checkpoint)",
                            assignment);
  return CLHS_OK;
}

/* A restart whose overrides change the model (not just how long it runs, what it writes,
 * or its checkpoints) is a fork. */
static int is_fork(const cli *c) {
  static const char *const bookkeeping[] = {"run.steps=", "run.max_wall_time=", "output.",
                                            "checkpoint.", NULL};
  for (int i = 0; i < c->noverrides; i++) {
    int book = 0;
    for (int k = 0; bookkeeping[k]; k++)
      book |= !strncmp(c->overrides[i], bookkeeping[k], strlen(bookkeeping[k]));
    if (!book) return 1;
  }
  return 0;
}

/* Rank 0 (clhs_restart's callback, @p arg the command line): a restart's configuration: the
 * checkpoint's, then allowed overrides, then -o. */
static int restart_config(const char *yaml, const char *ckpt, const char *model_version,
                          clhs_config *cfg, void *arg, clhs_error *err) {
  const cli *c = arg;
  clhs_config_defaults(cfg);
  char what[1100];
  snprintf(what, sizeof what, "checkpoint '%s'", ckpt);
  if (clhs_config_for_model(cfg, model_version, what, err)) return err->code;
  if (strcmp(model_version, CLHS_MODEL_VERSION) != 0 && !c->quiet)
    printf("clhsim: %s was written under model v%s: it continues as v%s (the keys v%s added "
           "at their v%s values, as in examples/model-v1.1.yml)\n",
           what, model_version, model_version, CLHS_MODEL_VERSION, model_version);
  if (clhs_config_load_text(cfg, yaml, ckpt, err)) return err->code;
  for (int i = 0; i < c->noverrides; i++)
    if (check_fork_override(c->overrides[i], err) ||
        clhs_config_override(cfg, c->overrides[i], err))
      return err->code;
  if (c->output) {
    if (strlen(c->output) >= sizeof cfg->output.path)
      return clhs_error_set(err, CLHS_EINPUT, "-o %s: path longer than %zu characters", c->output,
                            sizeof cfg->output.path - 1);
    snprintf(cfg->output.path, sizeof cfg->output.path, "%s", c->output);
  }
  /* A continued run writes its checkpoints beside the one it continues (a copied folder
   * continues in the copy), unless told otherwise; a fork keeps the stored folder, which
   * belongs to the run it forks from, so it gets a folder of its own (checkpoint_policy.c). */
  int dir_given = 0;
  for (int i = 0; i < c->noverrides; i++)
    dir_given |= !strncmp(c->overrides[i], "checkpoint.dir=", 15);
  if (!dir_given && !is_fork(c)) {
    char dir[sizeof cfg->checkpoint.dir];
    clhs_folder_of(ckpt, dir, sizeof dir);
    memcpy(cfg->checkpoint.dir, dir, sizeof dir);
  }
  return clhs_config_finalize(cfg, err);
}

/* Rank 0: files, then overrides, then -o, then the cross-key checks. */
static int build_config(const cli *c, clhs_config *cfg, clhs_error *err) {
  clhs_config_defaults(cfg);
  for (int i = 0; i < c->nfiles; i++)
    if (clhs_config_load_file(cfg, c->files[i], err)) return err->code;
  for (int i = 0; i < c->noverrides; i++)
    if (clhs_config_override(cfg, c->overrides[i], err)) return err->code;
  if (c->output) {
    if (strlen(c->output) >= sizeof cfg->output.path)
      return clhs_error_set(err, CLHS_EINPUT, "-o %s: path longer than %zu characters", c->output,
                            sizeof cfg->output.path - 1);
    snprintf(cfg->output.path, sizeof cfg->output.path, "%s", c->output);
  }
  return clhs_config_finalize(cfg, err);
}

static void print_version(const clhs_comm *comm) {
  char mpi[256], hdf5[64];
  clhs_comm_mpi_version(mpi, sizeof mpi);
  clhs_io_hdf5_version(hdf5, sizeof hdf5);
  printf("clhsim %s (git %s, %s build)\n  model: MODEL.md v%s\n  compiler: %s\n  flags: %s\n"
         "  MPI: %s\n  HDF5: %s\n  ranks: %d, threads per rank: %d\n",
         CLHS_VERSION, CLHS_GIT_REVISION, CLHS_BUILD_TYPE, CLHS_MODEL_VERSION, CLHS_COMPILER,
         CLHS_COMPILE_FLAGS, mpi, hdf5, comm->size, comm->threads);
}

/* HDF5's leftovers closed, then MPI finalised. */
static void finish(void) {
  clhs_io_shutdown();
  clhs_comm_finalize();
}

int main(int argc, char **argv) {
  clhs_comm comm;
  clhs_comm_stats stats = {0};
  clhs_launch_preinit(argc, argv); /* before MPI and OpenMP start: may re-execute */
  clhs_signals_install();          /* a stop request during MPI's start-up must not kill a rank */
  clhs_comm_init(&argc, &argv, &comm);
  comm.stats = &stats;
  clhs_error err;
  clhs_error_clear(&err);
  cli c;
  clhs_config cfg;
  memset(&cfg, 0, sizeof cfg);

  /* Rank 0 reads the command line and the configuration; everyone learns the outcome. */
  void *packed = NULL;
  size_t nbytes = 0;
  if (comm.rank == 0) {
    if (parse_cli(argc, argv, &c, &err) == CLHS_OK && !c.help && strcmp(c.command, "version") &&
        strcmp(c.command, "variables") && strcmp(c.command, "state") &&
        strcmp(c.command, "restart") && strcmp(c.command, "ensemble"))
      build_config(&c, &cfg, &err);
    if (err.code == CLHS_OK) packed = clhs_config_pack(&cfg, &nbytes);
  } else {
    parse_cli(argc, argv, &c, &err); /* same argv everywhere: only flags are used below */
    clhs_error_clear(&err);
  }
  int st = clhs_comm_agree(&comm, err.code, err.msg, sizeof err.msg);
  if (st == CLHS_OK) st = clhs_launch_check(&comm, &err);
  if (st != CLHS_OK) {
    if (comm.rank == 0) fprintf(stderr, "clhsim: error: %s\n", err.msg);
    clhs_config_free(&cfg);
    finish();
    return clhs_exit_status(st);
  }
  if (c.help) {
    if (comm.rank == 0) usage(stdout);
    finish();
    return 0;
  }
  if (!strcmp(c.command, "variables") || !strcmp(c.command, "state")) {
    if (comm.rank == 0) {
      if (!strcmp(c.command, "state"))
        clhs_fields_write_markdown(stdout);
      else
        clhs_write_variables_markdown(stdout);
    }
    finish();
    return 0;
  }
  if (!strcmp(c.command, "version")) {
    if (comm.rank == 0) print_version(&comm);
    finish();
    return 0;
  }
  clhs_signals_install();
  if (!strcmp(c.command, "ensemble")) {
    clhs_ensemble_opts eo = {c.group_ranks, c.quiet};
    st = clhs_ensemble_run(&comm, c.files[0], c.output, &eo, &err);
    if (st != CLHS_OK && comm.rank == 0)
      fprintf(stderr, "clhsim: %s%s\n", st == CLHS_STOPPED ? "" : "error: ", err.msg);
    finish();
    return clhs_exit_status(st);
  }
  if (!strcmp(c.command, "restart")) {
    /* The candidates best first (a folder's `latest`, then older ones), invalid ones
     * skipped with a warning; the run continues from the first that loads. */
    clhs_run_opts opts = {c.quiet, 2.0, NULL, is_fork(&c), c.warmup, c.overwrite, NULL, 0, 0};
    st = clhs_restart(&comm, c.files[0], &opts, restart_config, &c, &err);
    finish();
    return clhs_exit_status(st);
  }
  packed = clhs_comm_bcast_alloc(&comm, packed, &nbytes, 0);
  if (comm.rank != 0) {
    clhs_config_defaults(&cfg);
    clhs_config_unpack(&cfg, packed, nbytes, &err);
  }
  free(packed);
  st = clhs_comm_agree(&comm, err.code, err.msg, sizeof err.msg);
  if (st != CLHS_OK) {
    if (comm.rank == 0) fprintf(stderr, "clhsim: error: %s\n", err.msg);
    finish();
    return clhs_exit_status(st);
  }

  if (!strcmp(c.command, "config")) {
    if (comm.rank == 0) {
      if (c.markdown)
        clhs_config_write_markdown(stdout);
      else
        clhs_config_write_yaml(&cfg, stdout, 1);
    }
    clhs_config_free(&cfg);
    finish();
    return 0;
  }

  clhs_run_opts opts = {c.quiet, 2.0, NULL, 0, c.warmup, c.overwrite, c.files, c.nfiles, 0};
  clhs_run_result res;
  st = clhs_run(&cfg, &comm, &opts, &res, &err);
  if (st != CLHS_OK && st != CLHS_STOPPED && comm.rank == 0)
    fprintf(stderr, "clhsim: error: %s\n", err.msg);
  clhs_config_free(&cfg);
  finish();
  return clhs_exit_status(st);
}
