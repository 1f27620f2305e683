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

#include <hdf5.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/engine.h"
#include "clhs/error.h"
#include "clhs_build_info.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: clhsim COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  run [CONFIG.yml ...]     run a simulation (no file: the built-in ICN-sized scenario)\n"
          "  config [CONFIG.yml ...]  print the effective configuration as annotated YAML\n"
          "  version                  print version and build information\n"
          "  variables                list the output's /timeseries variables (Markdown)\n"
          "\n"
          "options:\n"
          "  -P section.key=value     override one configuration key (repeatable)\n"
          "  -o PATH                  output file (default: output.path, clhsim.h5)\n"
          "  -q, --quiet              no progress lines (the final summary is still printed)\n"
          "  --markdown               with config: print every key as Markdown tables (docs)\n"
          "  -h, --help               this help\n"
          "\n"
          "exit status: 0 success, 2 bad input (config, command line, unwritable output),\n"
          "1 other failure.\n");
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
    } else if (!strcmp(a, "-P") || !strcmp(a, "-o")) {
      if (i + 1 >= argc)
        return clhs_error_set(err, CLHS_EINPUT, "option %s needs a value (see clhsim --help)", a);
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
      c->command = a;
    } else {
      if (c->nfiles >= 64) return clhs_error_set(err, CLHS_EINPUT, "too many config files");
      c->files[c->nfiles++] = a;
    }
  }
  if (!c->command && !c->help)
    return clhs_error_set(err, CLHS_EINPUT,
                          "no command given: try 'clhsim run' or 'clhsim --help'");
  if (c->command && strcmp(c->command, "run") && strcmp(c->command, "config") &&
      strcmp(c->command, "version") && strcmp(c->command, "variables"))
    return clhs_error_set(err, CLHS_EINPUT,
                          "unknown command '%s': the commands are run, config, variables and "
                          "version",
                          c->command);
  return CLHS_OK;
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
  char mpi[256];
  unsigned maj, min, rel;
  clhs_comm_mpi_version(mpi, sizeof mpi);
  H5get_libversion(&maj, &min, &rel);
  printf("clhsim %s (git %s, %s build)\n  compiler: %s\n  flags: %s\n  MPI: %s\n  HDF5: %u.%u.%u "
         "(parallel)\n  ranks: %d, threads per rank: %d\n",
         CLHS_VERSION, CLHS_GIT_REVISION, CLHS_BUILD_TYPE, CLHS_COMPILER, CLHS_COMPILE_FLAGS, mpi,
         maj, min, rel, comm->size, comm->threads);
}

int main(int argc, char **argv) {
  clhs_comm comm;
  clhs_comm_stats stats = {0, 0, 0};
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
        strcmp(c.command, "variables"))
      build_config(&c, &cfg, &err);
    if (err.code == CLHS_OK) packed = clhs_config_pack(&cfg, &nbytes);
  } else {
    parse_cli(argc, argv, &c, &err); /* same argv everywhere: only flags are used below */
    clhs_error_clear(&err);
  }
  int st = clhs_comm_agree(&comm, err.code, err.msg, sizeof err.msg);
  if (st != CLHS_OK) {
    if (comm.rank == 0) fprintf(stderr, "clhsim: error: %s\n", err.msg);
    clhs_config_free(&cfg);
    clhs_comm_finalize();
    return clhs_exit_status(st);
  }
  if (c.help) {
    if (comm.rank == 0) usage(stdout);
    clhs_comm_finalize();
    return 0;
  }
  if (!strcmp(c.command, "variables")) {
    if (comm.rank == 0) clhs_write_variables_markdown(stdout);
    clhs_comm_finalize();
    return 0;
  }
  if (!strcmp(c.command, "version")) {
    if (comm.rank == 0) print_version(&comm);
    clhs_comm_finalize();
    return 0;
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
    clhs_comm_finalize();
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
    clhs_comm_finalize();
    return 0;
  }

  clhs_run_opts opts = {c.quiet, 5.0};
  clhs_run_result res;
  st = clhs_run(&cfg, &comm, &opts, &res, &err);
  if (st != CLHS_OK && comm.rank == 0) fprintf(stderr, "clhsim: error: %s\n", err.msg);
  clhs_config_free(&cfg);
  clhs_comm_finalize();
  return clhs_exit_status(st);
}
