/*
 * The run loop: build the world, record the initial state, step, record every
 * `output.every` steps, print progress on rank 0, write the /run group, report.
 *
 * clhs_run, in order: identify (which run: new, continued or forked; the checkpoint's
 * metadata and snapshot checked), prepare (folders, output lock, memory, the world and its
 * records), open_output (record 0, or the checkpoint's state and output), run_steps (the
 * loop; stop_or_checkpoint after every step), then finish: reduce_timers,
 * check_invariants, end_figures, write_run (/run from the table run_attrs) and the
 * summary. Every error is agreed by all ranks where it arises (clhs_comm_agree_error),
 * so all take the same path.
 *
 * Network-wide figures are computed on rank 0 from per-centre statistics
 * gathered in centre order (fixed order, so bit-identical for any
 * decomposition); per-centre series are written by each rank for its own block.
 */
#define _POSIX_C_SOURCE 200809L
#include "util/isa.h"
#include "clhs/engine.h"

#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/date.h"
#include "clhs/memcheck.h"
#include "clhs/model.h"
#include "clhs/output.h"
#include "checkpoint_policy.h"
#include "clhs/checkpoint.h"
#include "clhs/signals.h"
#include "records.h"
#include "runfiles.h"

static double peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_maxrss * 1024.0; /* Linux: kilobytes */
}

static void format_step_date(const clhs_config *cfg, int64_t step, char *buf) {
  int64_t d0 = 0;
  clhs_date_parse(cfg->run.start_date, &d0);
  clhs_date_format(d0 + 7 * step, buf);
}

/* Fault injection for the tests (a failing rank must not hang the others):
 * CLHS_FAULT_INJECT="RANK:STEP" makes that rank report an error after that step;
 * "RANK:STEP:PHASE" makes phase PHASE (5, 6, 7 or 9) report one in the step from STEP
 * (clhs_step_inject_fault). Returns the step of a fault after a step, or -1. */
static int64_t fault_after_step(const clhs_comm *comm) {
  const char *spec = getenv("CLHS_FAULT_INJECT");
  int rank = -1, phase = -1;
  long long at = -1;
  const int n = spec ? sscanf(spec, "%d:%lld:%d", &rank, &at, &phase) : 0;
  if (n < 2 || rank != comm->rank) return -1;
  if (n == 3) {
    clhs_step_inject_fault(at, phase);
    return -1;
  }
  return at;
}

/* Rank 0 draws a run id, everyone learns it. */
static void new_run_id(const clhs_comm *comm, char *id, size_t len) {
  char buf[24] = "";
  if (comm->rank == 0) clhs_random_hex(buf, 16);
  clhs_comm_bcast(comm, buf, sizeof buf, 0);
  buf[sizeof buf - 1] = '\0';
  snprintf(id, len, "%s", buf);
}

/*
 * Collective: the output snapshot that belongs with checkpoint @p state is there, has the
 * size and checksum the checkpoint recorded, and was written by the same run. Problems are
 * CLHS_EINPUT: a checkpoint is the pair of files, and a user can copy or damage either.
 */
static int verify_snapshot(const clhs_comm *comm, const char *state,
                           const clhs_checkpoint_meta *meta, const char *snap, clhs_error *err) {
  int st = CLHS_OK;
  if (comm->rank == 0 && access(snap, F_OK) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint '%s': its output snapshot '%s' is missing; a checkpoint is "
                        "the pair of files %s and %s: copy or move both",
                        state, snap, meta->output_snapshot,
                        strrchr(state, '/') ? strrchr(state, '/') + 1 : state);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code = CLHS_EINPUT;
  int64_t size = 0;
  uint64_t sum = 0;
  st = clhs_file_checksum(comm, snap, &size, &sum, CLHS_EINPUT, err);
  if (st == CLHS_OK && (size != meta->snapshot_size || sum != meta->snapshot_sum))
    st = clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint '%s': its output snapshot '%s' is damaged or is not the one "
                        "written with it (%lld bytes, checksum %016llx; the checkpoint recorded "
                        "%lld bytes, %016llx)",
                        state, snap, (long long)size, (unsigned long long)sum,
                        (long long)meta->snapshot_size, (unsigned long long)meta->snapshot_sum);
  if (st == CLHS_OK && comm->rank == 0) {
    char id[64];
    if (clhs_h5_peek_run_id(snap, id, sizeof id) != 1 || strcmp(id, meta->run_id) != 0)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': its output snapshot '%s' was written by another run",
                          state, snap);
  }
  if (clhs_comm_agree_error(comm, st, err)) return err->code = CLHS_EINPUT;
  return CLHS_OK;
}

/* ------------------------------------------------------------------------ /run */

/* The values of /run, one field per attribute, named as the attribute. */
typedef struct run_figures {
  double ranks, threads, steps, agents, centres, wall_time_s, loop_time_s, agent_steps_per_s,
      agent_steps_per_core_s, bytes_per_agent, peak_rss_bytes_max, tie_ends, tie_ends_cross_rank,
      bytes_exchanged_per_step, bytes_per_tie_end, tie_visits, tie_visits_per_core_s,
      bytes_per_agent_end, checkpoint_write_s, restart_read_s, timed_steps, bytes_gathered_per_step,
      bytes_received_max_per_step, bytes_sent_max_per_step, messages_max_per_step,
      state_bytes_max_per_rank;
  double time_max_s[CLHS_NPHASES + 1], time_mean_s[CLHS_NPHASES + 1]; /* last: communication */
  const char *finished_utc, *seed_text, *restarted_from, *forked, *stopped_early, *last_step,
      *last_checkpoint, *run_id, *parent_run_id, *checkpoint_dir, *host, *job_id, *isa;
  uint64_t seed;
} run_figures;

enum { RUN_F64, RUN_PHASES, RUN_TEXT, RUN_U64 };
static const char *const run_type_names[] = {"float64", "float64", "text", "uint64"};

/* One attribute of /run: name, type, where its value is in run_figures, unit, meaning. A
 * RUN_PHASES row is one attribute per phase and one for `communication` (<phase> in its
 * name is the phase's name). Written by type: the float64 rows in this order, the phase
 * rows phase by phase, the text, then the exact seed. docs/output.md's /run table is
 * generated from this one (`clhsim variables`; test docs_parameters_current). */
typedef struct run_attr {
  const char *name;
  int type;
  size_t off;
  const char *unit, *meaning;
} run_attr;

#define RUN_ATTR(field, type, unit, meaning)                                                       \
  { #field, type, offsetof(run_figures, field), unit, meaning }
static const run_attr run_attrs[] = {
    RUN_ATTR(ranks, RUN_F64, "1", "MPI ranks"),
    RUN_ATTR(threads, RUN_F64, "1", "OpenMP threads per rank"),
    RUN_ATTR(steps, RUN_F64, "1", "steps this run made (a continued run: since its checkpoint)"),
    RUN_ATTR(agents, RUN_F64, "1", "agents, all ranks"),
    RUN_ATTR(centres, RUN_F64, "1", "centres"),
    RUN_ATTR(wall_time_s, RUN_F64, "s", "wall time from the start of the run to its last step"),
    RUN_ATTR(loop_time_s, RUN_F64, "s", "wall time of the timed steps (`timed_steps`)"),
    RUN_ATTR(agent_steps_per_s, RUN_F64, "1/s", "agents x timed steps / `loop_time_s`"),
    RUN_ATTR(agent_steps_per_core_s, RUN_F64, "1/s",
             "`agent_steps_per_s` per core (ranks x threads)"),
    RUN_ATTR(bytes_per_agent, RUN_F64, "bytes",
             "model state allocated per agent at the start, all ranks"),
    RUN_ATTR(peak_rss_bytes_max, RUN_F64, "bytes",
             "peak resident memory of a rank, the largest over ranks"),
    RUN_ATTR(tie_ends, RUN_F64, "1", "dynamic tie ends at the end (two per tie)"),
    RUN_ATTR(tie_ends_cross_rank, RUN_F64, "1", "... of them whose other end is on another rank"),
    RUN_ATTR(bytes_exchanged_per_step, RUN_F64, "bytes",
             "bytes sent between ranks in personalised exchanges per timed step, all ranks"),
    RUN_ATTR(bytes_per_tie_end, RUN_F64, "bytes", "bytes of one stored tie end (key and weight)"),
    RUN_ATTR(tie_visits, RUN_F64, "1", "neighbour entries visited by the rules in the timed steps"),
    RUN_ATTR(tie_visits_per_core_s, RUN_F64, "1/s",
             "`tie_visits` per core-second of the network phases (2-6, mean over ranks)"),
    RUN_ATTR(bytes_per_agent_end, RUN_F64, "bytes",
             "model state per agent at the end (ties, resources, commons and halo included)"),
    RUN_ATTR(checkpoint_write_s, RUN_F64, "s", "time of the last checkpoint write (0: none)"),
    RUN_ATTR(restart_read_s, RUN_F64, "s",
             "time to load the checkpoint and restore the output (0: not a restart)"),
    RUN_ATTR(timed_steps, RUN_F64, "1",
             "steps after the warm-up (`--warmup`): the throughput figures cover these"),
    RUN_ATTR(bytes_gathered_per_step, RUN_F64, "bytes",
             "bytes received by (all)gathers per timed step, all ranks"),
    RUN_ATTR(bytes_received_max_per_step, RUN_F64, "bytes",
             "bytes a rank received per timed step (exchanges, gathers, reductions, broadcasts: "
             "the convention of `clhs_comm_stats` in include/clhs/comm.h; HDF5's own traffic "
             "not counted), the largest over ranks of each rank's mean"),
    RUN_ATTR(bytes_sent_max_per_step, RUN_F64, "bytes", "... bytes a rank sent"),
    RUN_ATTR(messages_max_per_step, RUN_F64, "1",
             "... messages a rank sent and received (a collective call counts one)"),
    RUN_ATTR(state_bytes_max_per_rank, RUN_F64, "bytes",
             "bytes of model state a rank holds at the end: its agents, centres, ties, "
             "resources, the commons, the halo and the ranks' first global ids (the one table "
             "every rank holds, P + 1 integers); the largest over ranks"),
    {"time_<phase>_max_s", RUN_PHASES, offsetof(run_figures, time_max_s), "s",
     "seconds in the phase in the timed steps, the largest over ranks"},
    {"time_<phase>_mean_s", RUN_PHASES, offsetof(run_figures, time_mean_s), "s",
     "... the mean over ranks"},
    RUN_ATTR(finished_utc, RUN_TEXT, "", "when the run finished (UTC, ISO 8601)"),
    RUN_ATTR(seed_text, RUN_TEXT, "", "`run.seed` as text"),
    RUN_ATTR(restarted_from, RUN_TEXT, "",
             "the checkpoint this run continued or forked from (empty: a new run)"),
    RUN_ATTR(forked, RUN_TEXT, "",
             "`yes` for a fork (a restart with another configuration), else `no`"),
    RUN_ATTR(stopped_early, RUN_TEXT, "",
             "`yes` if it stopped early (signal, stop file, wall-time limit) after a checkpoint, "
             "else `no`"),
    RUN_ATTR(last_step, RUN_TEXT, "", "the step the run ended at"),
    RUN_ATTR(last_checkpoint, RUN_TEXT, "", "the last checkpoint written (empty: none)"),
    RUN_ATTR(run_id, RUN_TEXT, "",
             "this run (16 hex digits; also the root's `run_id`; a restart keeps it, a fork has "
             "its own)"),
    RUN_ATTR(parent_run_id, RUN_TEXT, "", "a fork: the run it came from"),
    RUN_ATTR(checkpoint_dir, RUN_TEXT, "",
             "where this run's checkpoints went (empty if it wrote none)"),
    RUN_ATTR(host, RUN_TEXT, "", "host name of rank 0"),
    RUN_ATTR(job_id, RUN_TEXT, "",
             "the batch job: `SLURM_JOB_ID`, else `PBS_JOBID`; empty outside a batch job"),
    RUN_ATTR(seed, RUN_U64, "", "`run.seed`, exact"),
    RUN_ATTR(isa, RUN_TEXT, "",
             "the vector instructions of the kernels on rank 0: `avx512`, `avx2` or `scalar` "
             "(the widest the CPU runs, or the environment's `CLHS_ISA`; results are the same)"),
};
#undef RUN_ATTR
enum { NRUN_ATTRS = sizeof run_attrs / sizeof run_attrs[0] };

/* The name of phase @p ph's attribute of RUN_PHASES row @p a. */
static void phase_key(const run_attr *a, int ph, char *buf, size_t len) {
  const char *at = strstr(a->name, "<phase>");
  snprintf(buf, len, "%.*s%s%s", (int)(at - a->name), a->name,
           ph < CLHS_NPHASES ? clhs_phase_names[ph] : "communication", at + strlen("<phase>"));
}

/* Write /run: every attribute of run_attrs from @p f (rank 0's values; collective). */
static int write_run_attrs(const run_figures *f, clhs_output *out, const clhs_comm *comm,
                           clhs_error *err) {
  enum { NMAX = NRUN_ATTRS * (CLHS_NPHASES + 1) };
  const char *nk[NMAX], *sk[NMAX], *sv[NMAX];
  double nv[NMAX];
  char keys[NMAX][64];
  int nn = 0, ns = 0, nkeys = 0;
  for (int k = 0; k < NRUN_ATTRS; k++) {
    const run_attr *a = &run_attrs[k];
    const char *p = (const char *)f + a->off;
    if (a->type == RUN_F64) {
      nk[nn] = a->name;
      memcpy(&nv[nn++], p, sizeof(double));
    } else if (a->type == RUN_TEXT) {
      sk[ns] = a->name;
      memcpy(&sv[ns++], p, sizeof(const char *));
    }
  }
  for (int ph = 0; ph <= CLHS_NPHASES; ph++) /* phase by phase: max, mean */
    for (int k = 0; k < NRUN_ATTRS; k++) {
      const run_attr *a = &run_attrs[k];
      if (a->type != RUN_PHASES) continue;
      phase_key(a, ph, keys[nkeys], sizeof keys[0]);
      nk[nn] = keys[nkeys++];
      memcpy(&nv[nn++], (const char *)f + a->off + sizeof(double) * (size_t)ph, sizeof(double));
    }
  clhs_output_write_run(out, nk, nv, nn, sk, sv, ns, err);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
  for (int k = 0; k < NRUN_ATTRS; k++) {
    const run_attr *a = &run_attrs[k];
    if (a->type != RUN_U64) continue;
    uint64_t v;
    memcpy(&v, (const char *)f + a->off, sizeof v);
    clhs_output_write_run_u64(out, a->name, v, err); /* exact, not a float */
    if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
  }
  return CLHS_OK;
}

/* The /run table of docs/output.md. */
static void write_run_markdown(FILE *out) {
  fprintf(out, "| attribute | type | unit | meaning |\n|---|---|---|---|\n");
  int phases_named = 0;
  for (int k = 0; k < NRUN_ATTRS; k++) {
    const run_attr *a = &run_attrs[k];
    fprintf(out, "| `%s` | %s | %s | %s", a->name, run_type_names[a->type], a->unit, a->meaning);
    if (a->type == RUN_PHASES && !phases_named++) { /* the phases, once */
      fprintf(out, "; `<phase>`:");
      for (int ph = 0; ph < CLHS_NPHASES; ph++)
        fprintf(out, " `%s`%s", clhs_phase_names[ph], ph + 1 < CLHS_NPHASES ? "," : "");
      fprintf(out, " (the phases of a step), or `communication` (the time inside exchanges and "
                   "reductions, all phases)");
    }
    fprintf(out, " |\n");
  }
}

void clhs_write_variables_markdown(FILE *out) {
  clhs_records_write_markdown(out);
  fprintf(out, "\nThe attributes of `/run`, written at the end of the run (rank 0's values; "
               "floating-point figures as `float64`):\n\n");
  write_run_markdown(out);
}

/* The batch job this run belongs to: SLURM_JOB_ID, else PBS_JOBID (PBS Pro, Torque); "" if
 * neither is set. */
static const char *batch_job_id(void) {
  const char *id = getenv("SLURM_JOB_ID");
  if (!id || !id[0]) id = getenv("PBS_JOBID");
  return id ? id : "";
}

/* ------------------------------------------------------------------------ the run */

/* What one run carries from its start to its report. */
typedef struct run_state {
  const clhs_config *cfg;
  const clhs_comm *comm;
  const clhs_run_opts *opts;
  clhs_run_result *res;
  int root;
  double t0; /* the start of the run */
  clhs_world w;
  clhs_records *rec;
  clhs_output *out;
  clhs_lock out_lock;
  clhs_checkpoint_ctx ck;
  clhs_checkpoint_meta meta; /* of opts->resume */
  char snap[4200];           /* its output snapshot */
  char parent_run_id[24];    /* the run this one forked from (a continued run: its parent's) */
  const char *parent;        /* the checkpoint this run continues from, or "" */
  /* The loop: the steps from step0 are this run's, those from tstep0 are timed (after the
   * warm-up) from t_loop to t_end. */
  int64_t step0, tstep0, visits0, fault_step;
  double t_loop, t_end, last_ckpt, ckpt_cost;
  /* The largest over ranks: bytes sent, received and messages per timed step, state bytes. */
  double sent_max, received_max, messages_max, state_bytes_max;
} run_state;

/* Which run this is: a continued run keeps the checkpoint's id, a fork or a new run gets
 * its own. The checkpoint's metadata (and its snapshot) are checked before any work. */
static int identify(run_state *s, clhs_error *err) {
  const clhs_run_opts *opts = s->opts;
  clhs_run_result *res = s->res;
  if (opts->resume) {
    if (clhs_checkpoint_read_meta(s->comm, opts->resume, &s->meta, err) != CLHS_OK) {
      clhs_comm_agree_error(s->comm, err->code, err);
      res->bad_checkpoint = 1;
      return err->code;
    }
    clhs_checkpoint_snapshot_path(opts->resume, s->meta.output_snapshot, s->snap, sizeof s->snap);
    const int st = verify_snapshot(s->comm, opts->resume, &s->meta, s->snap, err);
    free(s->meta.config_yaml);
    s->meta.config_yaml = NULL;
    if (st != CLHS_OK) {
      res->bad_checkpoint = 1;
      return err->code;
    }
    if (s->meta.step >= s->cfg->run.steps)
      clhs_error_set(err, CLHS_EINPUT,
                     "checkpoint '%s' is at step %lld and run.steps is %lld: nothing to run; "
                     "extend the run with -P run.steps=N (N > %lld)",
                     opts->resume, (long long)s->meta.step, (long long)s->cfg->run.steps,
                     (long long)s->meta.step);
    if (clhs_comm_agree_error(s->comm, err->code, err)) return err->code;
  }
  if (opts->resume && !opts->forked && s->meta.run_id[0]) {
    snprintf(res->run_id, sizeof res->run_id, "%s", s->meta.run_id);
    snprintf(s->parent_run_id, sizeof s->parent_run_id, "%s", s->meta.parent_run_id);
  } else {
    new_run_id(s->comm, res->run_id, sizeof res->run_id);
    if (opts->resume) snprintf(s->parent_run_id, sizeof s->parent_run_id, "%s", s->meta.run_id);
  }
  return CLHS_OK;
}

/* Where the checkpoints go, and the output: both checked (and the output locked) before
 * any work; problems are bad input (status 2). Then the memory check, the world and its
 * records. */
static int prepare(run_state *s, clhs_error *err) {
  const clhs_config *cfg = s->cfg;
  const clhs_comm *comm = s->comm;
  const clhs_run_opts *opts = s->opts;
  clhs_run_result *res = s->res;
  clhs_checkpoint_ctx_init(&s->ck, res->run_id, s->parent_run_id);
  if (clhs_checkpoint_prepare(&s->ck, comm, cfg->checkpoint.dir, err) != CLHS_OK) return err->code;
  snprintf(res->checkpoint_dir, sizeof res->checkpoint_dir, "%s", s->ck.dir);
  if (s->root) {
    const char *inputs[80];
    int nin = 0;
    for (int i = 0; i < opts->ninputs && nin < 76; i++)
      inputs[nin++] = opts->inputs[i];
    if (opts->resume) {
      inputs[nin++] = opts->resume;
      inputs[nin++] = s->snap;
    }
    clhs_output_claim(cfg->output.path, res->run_id, inputs, nin, s->ck.dir, opts->overwrite,
                      &s->out_lock, err);
    if (err->code == CLHS_OK && s->ck.moved_from[0])
      printf("clhsim: checkpoint folder '%s' holds the checkpoints of %s%s; this run's go to "
             "'%s'\n",
             s->ck.moved_from, s->ck.moved_owner[0] ? "run " : "another run", s->ck.moved_owner,
             s->ck.dir);
  }
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
  /* A population that cannot fit is refused before anything is allocated. */
  clhs_memory_check(cfg, comm, NULL, err);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;

  clhs_world_create(&s->w, cfg, comm, err);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
  clhs_records_create(&s->rec, &s->w, err);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;

  int64_t bytes_loc = (int64_t)clhs_world_bytes(&s->w);
  clhs_comm_sum_i64(comm, &bytes_loc, 1);
  res->agents = s->w.nagents;
  res->centres = s->w.ncentres;
  res->bytes_per_agent = s->w.nagents ? (double)bytes_loc / (double)s->w.nagents : 0;
  if (s->root && !opts->quiet)
    printf("clhsim: %lld centres, %lld agents (%lld patients) on %d rank(s) x %d thread(s); "
           "%.1f bytes of state per agent; %lld steps from %s\n",
           (long long)s->w.ncentres, (long long)s->w.nagents, (long long)s->w.npatients, comm->size,
           comm->threads, res->bytes_per_agent, (long long)cfg->run.steps, cfg->run.start_date);
  return CLHS_OK;
}

/* A new run opens its output and writes record 0 (the initial state); a continued or
 * forked one loads the checkpoint's state, then the output up to its step. */
static int open_output(run_state *s, clhs_error *err) {
  const clhs_config *cfg = s->cfg;
  const clhs_comm *comm = s->comm;
  const clhs_run_opts *opts = s->opts;
  clhs_run_result *res = s->res;
  clhs_world *w = &s->w;
  clhs_out_layout layout = {w->ncentres, w->c_begin, w->c_count};
  int nvars = 0;
  const clhs_out_var *vars = clhs_records_vars(&nvars);
  if (!opts->resume) {
    clhs_output_open_run(&s->out, cfg->output.path, res->run_id, cfg, comm, &layout, vars, nvars,
                         err);
    if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
    clhs_records_compute(s->rec, w);
    res->remission_start = clhs_records_remission_observed(s->rec);
    clhs_records_write(s->rec, s->out, w, err);
    return clhs_comm_agree_error(comm, err->code, err);
  }
  const double tr0 = clhs_comm_wtime();
  if (clhs_checkpoint_read(w, opts->resume, err) == CLHS_OK) {
    const uint64_t dg = clhs_world_digest(w);
    if (dg != s->meta.digest)
      clhs_error_set(err, CLHS_EINPUT,
                     "checkpoint '%s': the loaded state's digest %016llx differs from the "
                     "one recorded at writing, %016llx: the file is damaged or from an "
                     "incompatible build",
                     opts->resume, (unsigned long long)dg, (unsigned long long)s->meta.digest);
  }
  if (clhs_comm_agree_error(comm, err->code, err)) {
    res->bad_checkpoint = 1;
    return err->code;
  }
  clhs_output_open_run(&s->out, cfg->output.path, res->run_id, cfg, comm, &layout, vars, nvars,
                       err);
  if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
  clhs_output_restore(s->out, s->snap, s->meta.output_records, err);
  if (clhs_comm_agree_error(comm, err->code, err)) {
    res->bad_checkpoint = 1;
    return err->code;
  }
  res->restart_read_s = clhs_comm_wtime() - tr0;
  res->remission_start = NAN;
  if (s->root && !opts->quiet) {
    if (opts->forked)
      printf("clhsim: run %s forked from run %s at '%s', step %lld (%s, %.2f s to load)\n",
             res->run_id, s->parent_run_id, opts->resume, (long long)w->step, s->meta.created_utc,
             res->restart_read_s);
    else
      printf("clhsim: continuing run %s from '%s' at step %lld (%s, %.2f s to load)\n", res->run_id,
             opts->resume, (long long)w->step, s->meta.created_utc, res->restart_read_s);
  }
  return CLHS_OK;
}

/* The timers, the counters and the throughput start from here: at the loop's start, and
 * again at the end of a warm-up. */
static void start_clocks(run_state *s) {
  for (int ph = 0; ph < CLHS_NPHASES; ph++)
    s->w.t_phase[ph] = 0;
  if (s->comm->stats) memset(s->comm->stats, 0, sizeof *s->comm->stats);
  s->visits0 = clhs_tie_visits(&s->w);
  s->t_loop = clhs_comm_wtime();
  s->tstep0 = s->w.step;
}

/*
 * After a step: checkpoint and stop requests, agreed by every rank (no rank checkpoints
 * alone): a signal, the stop file clhsim.stop, the wall-time limit (with a margin of two
 * steps and a checkpoint and a half), checkpoint.every and checkpoint.wall. Writes the
 * checkpoint they ask for; *stop: the run ends at this step.
 */
static int stop_or_checkpoint(run_state *s, int *stop, clhs_error *err) {
  const clhs_config *cfg = s->cfg;
  clhs_run_result *res = s->res;
  const clhs_world *w = &s->w;
  const double now = clhs_comm_wtime();
  int64_t req[4] = {clhs_signal_pending(), 0, 0, 0};
  if (s->root) {
    struct stat sb; /* the stop file: a regular file (a folder of that name is not one) */
    if (lstat("clhsim.stop", &sb) == 0 && S_ISREG(sb.st_mode)) req[1] = 1;
    const double per_step =
        (now - s->t_loop) / (double)(w->step > s->tstep0 ? w->step - s->tstep0 : 1);
    const double margin = 2 * per_step + 1.5 * s->ckpt_cost + 1.0;
    if (cfg->run.max_wall_time > 0 && now - s->t0 + margin >= cfg->run.max_wall_time) req[2] = 1;
    if (cfg->checkpoint.wall > 0 && now - s->last_ckpt >= cfg->checkpoint.wall) req[3] = 1;
  }
  clhs_comm_max_i64(s->comm, req, 4);
  *stop = (req[0] || req[1] || req[2]) && w->step < cfg->run.steps;
  const int every = cfg->checkpoint.every > 0 && w->step % cfg->checkpoint.every == 0;
  if (*stop || every || req[3]) {
    const double tc = clhs_comm_wtime();
    if (clhs_checkpoint_save(&s->ck, cfg, &s->w, s->out, s->parent, res->checkpoint,
                             sizeof res->checkpoint, err))
      return err->code;
    snprintf(res->checkpoint_dir, sizeof res->checkpoint_dir, "%s", s->ck.dir);
    s->ckpt_cost = clhs_comm_wtime() - tc;
    res->checkpoint_write_s = s->ckpt_cost;
    s->last_ckpt = clhs_comm_wtime();
    if (s->root && !s->opts->quiet)
      printf("  checkpoint %s (%.2f s)\n", res->checkpoint, s->ckpt_cost);
  }
  if (*stop) {
    res->stopped = 1;
    if (s->root) {
      if (req[1]) remove("clhsim.stop"); /* acted on: a restart must not stop at once */
      const char *why = req[0]   ? clhs_signal_name((int)req[0])
                        : req[1] ? "the stop file clhsim.stop"
                                 : "the wall-time limit run.max_wall_time";
      if (s->opts->silent) /* an ensemble member: the ensemble runs it again from the start */
        printf("clhsim ensemble: %s stopped at step %lld on %s; it runs again from the start "
               "when the ensemble is run again\n",
               w->cfg->output.path, (long long)w->step, why);
      else
        printf("clhsim: stopping at step %lld on %s; resume with: clhsim restart %s\n",
               (long long)w->step, why, s->ck.dir);
      fflush(stdout);
    }
  }
  return CLHS_OK;
}

/* Rank 0's progress line, at most every @p every_s seconds. */
static void progress(const run_state *s, double *last_print, double every_s) {
  const double now = clhs_comm_wtime();
  if (now - *last_print < every_s) return;
  const clhs_config *cfg = s->cfg;
  const double rate = (double)(s->w.step - s->tstep0) / (now - s->t_loop);
  char date[16];
  format_step_date(cfg, s->w.step, date);
  printf("  step %lld/%lld  %s  %.1f steps/s  %.3g agent-steps/s  ETA %.0f s\n",
         (long long)s->w.step, (long long)cfg->run.steps, date, rate, rate * (double)s->w.nagents,
         (double)(cfg->run.steps - s->w.step) / rate);
  fflush(stdout);
  *last_print = now;
}

/* The steps: step, record every output.every steps, checkpoint or stop on request. */
static int run_steps(run_state *s, clhs_error *err) {
  const clhs_config *cfg = s->cfg;
  const clhs_comm *comm = s->comm;
  const clhs_run_opts *opts = s->opts;
  clhs_world *w = &s->w;
  s->step0 = w->step;
  start_clocks(s);
  double last_print = s->t_loop;
  const double pe = opts->progress_every_s > 0 ? opts->progress_every_s : 5.0;
  s->last_ckpt = s->t_loop;
  s->ckpt_cost = 0;
  while (w->step < cfg->run.steps) {
    clhs_world_step(w, err);
#ifndef NDEBUG
    /* Debug builds check the network's invariants after every step (§ issue 3.6). */
    clhs_ties_check(w, err);
#endif
    if (w->step == s->fault_step)
      clhs_error_set(err, CLHS_EFAIL, "fault injected by CLHS_FAULT_INJECT=%s on rank %d",
                     getenv("CLHS_FAULT_INJECT"), comm->rank);
    if (opts->warmup > 0 && w->step - s->step0 == opts->warmup) start_clocks(s);
    /* One small reduction a step: an error on any rank ends every rank at the same
     * step, with that rank's message, instead of leaving the others in a collective. */
    if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
    if (w->step % cfg->output.every == 0 || w->step == cfg->run.steps) {
      const double tr = clhs_comm_wtime();
      clhs_records_compute(s->rec, w);
      clhs_records_write(s->rec, s->out, w, err);
      w->t_phase[CLHS_PH_RECORDS] += clhs_comm_wtime() - tr;
      if (clhs_comm_agree_error(comm, err->code, err)) return err->code;
    }
    int stop = 0;
    if (stop_or_checkpoint(s, &stop, err)) return err->code;
    if (stop) break;
    if (s->root && !opts->quiet) progress(s, &last_print, pe);
  }
  s->t_end = clhs_comm_wtime();
  return CLHS_OK;
}

/* The timers and counters over ranks: per-phase seconds (max, and the mean from an exact
 * fixed-point sum), bytes exchanged and gathered, each rank's traffic and state (the
 * largest), tie ends and visits, state per agent. */
static void reduce_timers(run_state *s) {
  const clhs_comm *comm = s->comm;
  clhs_run_result *res = s->res;
  clhs_world *w = &s->w;
  const int64_t timed = w->step - s->tstep0;
  /* The traffic of the timed steps (read before the reductions below add to it) and the
   * state held now, each rank's, then the largest over ranks. */
  int64_t most[4] = {0, 0, 0, (int64_t)clhs_world_bytes(w)};
  if (comm->stats) {
    most[0] = comm->stats->sent;
    most[1] = comm->stats->received;
    most[2] = comm->stats->messages;
  }
  for (int r = 0; r < CLHS_NFIELDS; r++) { /* the replicated tables (the ranks' bounds) */
    const clhs_field *f = &clhs_fields[r];
    if (clhs_entities[f->entity].replicated)
      most[3] += clhs_field_elems(w, f) * (int64_t)f->size * f->narrays;
  }
  clhs_comm_max_i64(comm, most, 4);
  s->sent_max = timed > 0 ? (double)most[0] / (double)timed : 0;
  s->received_max = timed > 0 ? (double)most[1] / (double)timed : 0;
  s->messages_max = timed > 0 ? (double)most[2] / (double)timed : 0;
  s->state_bytes_max = (double)most[3];
  double tmax[CLHS_NPHASES + 1], tsum[CLHS_NPHASES + 1];
  for (int ph = 0; ph < CLHS_NPHASES; ph++)
    tmax[ph] = w->t_phase[ph];
  tmax[CLHS_NPHASES] = comm->stats ? comm->stats->seconds : 0;
  memcpy(tsum, tmax, sizeof tsum);
  clhs_comm_max_f64(comm, tmax, CLHS_NPHASES + 1);
  /* The mean: a sum in fixed point (microseconds) keeps the reduction exact. */
  int64_t us[CLHS_NPHASES + 3];
  for (int ph = 0; ph <= CLHS_NPHASES; ph++)
    us[ph] = (int64_t)(tsum[ph] * 1e6);
  us[CLHS_NPHASES + 1] = comm->stats ? comm->stats->bytes_sent : 0;
  us[CLHS_NPHASES + 2] = comm->stats ? comm->stats->bytes_gathered : 0;
  clhs_comm_sum_i64(comm, us, CLHS_NPHASES + 3);
  for (int ph = 0; ph <= CLHS_NPHASES; ph++) {
    res->phase_max_s[ph] = tmax[ph];
    res->phase_mean_s[ph] = (double)us[ph] * 1e-6 / comm->size;
  }
  res->bytes_exchanged_per_step = timed > 0 ? (double)us[CLHS_NPHASES + 1] / (double)timed : 0;
  res->bytes_gathered_per_step = timed > 0 ? (double)us[CLHS_NPHASES + 2] / (double)timed : 0;
  int64_t ends[3] = {clhs_ties_count(w), clhs_ties_cross_rank(w), clhs_tie_visits(w) - s->visits0};
  clhs_comm_sum_i64(comm, ends, 3);
  res->tie_ends = ends[0];
  res->tie_ends_cross_rank = ends[1];
  res->tie_visits = ends[2];
  /* The network phases (2-6), mean over ranks, times the cores that ran them. */
  double tnet = 0;
  for (int ph = CLHS_PH_NEWTIES; ph <= CLHS_PH_ENGAGEMENT; ph++)
    tnet += res->phase_mean_s[ph];
  const double cores = (double)comm->size * (double)comm->threads;
  res->tie_visits_per_core_s = tnet > 0 ? (double)ends[2] / (tnet * cores) : 0;
  int64_t bytes_end = (int64_t)clhs_world_bytes(w);
  clhs_comm_sum_i64(comm, &bytes_end, 1);
  res->bytes_per_agent_end = w->nagents ? (double)bytes_end / (double)w->nagents : 0;
}

/* Release builds check the network's invariants once, at the end, and report. */
static int check_invariants(run_state *s, clhs_error *err) {
  clhs_error ierr;
  clhs_error_clear(&ierr);
  const int64_t bad = clhs_ties_check(&s->w, &ierr);
  clhs_comm_agree_error(s->comm, ierr.code, &ierr);
  if (bad < 0) return clhs_error_set(err, ierr.code, "%s", ierr.msg); /* could not check */
  if (bad)
    return clhs_error_set(err, CLHS_EFAIL,
                          "%lld network invariant violations at the end of the run; first: %s",
                          (long long)bad, ierr.msg);
  s->res->invariants_checked = 1;
  return CLHS_OK;
}

/* The figures of the end of the run, the same on every rank: members, engaged core and
 * commons users into @p figures. */
static void end_figures(run_state *s, int64_t figures[3]) {
  clhs_run_result *res = s->res;
  const clhs_world *w = &s->w;
  res->steps = w->step - s->step0;
  res->timed_steps = w->step - s->tstep0;
  res->wall_s = s->t_end - s->t0;
  const double loop_s = s->t_end - s->t_loop;
  res->agent_steps_per_s = loop_s > 0 ? (double)w->nagents * (double)res->timed_steps / loop_s : 0;
  res->final_digest = clhs_records_digest(s->rec);
  res->remission_end = clhs_records_remission_observed(s->rec);
  double rss = peak_rss_bytes();
  clhs_comm_max_f64(s->comm, &rss, 1);
  res->peak_rss_bytes = rss;
  clhs_comm_bcast(s->comm, &res->remission_start, sizeof(double), 0);
  clhs_comm_bcast(s->comm, &res->remission_end, sizeof(double), 0);
  figures[0] = clhs_records_members(s->rec);
  figures[1] = clhs_records_engaged(s->rec);
  figures[2] = clhs_records_commons_users(s->rec);
  clhs_comm_bcast(s->comm, figures, 3 * sizeof(int64_t), 0);
}

/* The /run group (run_attrs). */
static int write_run(const run_state *s, clhs_error *err) {
  const clhs_comm *comm = s->comm;
  const clhs_run_result *res = s->res;
  const clhs_world *w = &s->w;
  const double cores = (double)comm->size * (double)comm->threads;
  char finished[64], seed_txt[32], step_txt[32], host[256] = "";
  const time_t now = time(NULL);
  strftime(finished, sizeof finished, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  snprintf(seed_txt, sizeof seed_txt, "%llu", (unsigned long long)s->cfg->run.seed);
  snprintf(step_txt, sizeof step_txt, "%lld", (long long)w->step);
  if (gethostname(host, sizeof host) != 0) host[0] = '\0';
  host[sizeof host - 1] = '\0';
  run_figures f = {
      .ranks = comm->size,
      .threads = comm->threads,
      .steps = (double)res->steps,
      .agents = (double)w->nagents,
      .centres = (double)w->ncentres,
      .wall_time_s = res->wall_s,
      .loop_time_s = s->t_end - s->t_loop,
      .agent_steps_per_s = res->agent_steps_per_s,
      .agent_steps_per_core_s = res->agent_steps_per_s / cores,
      .bytes_per_agent = res->bytes_per_agent,
      .peak_rss_bytes_max = res->peak_rss_bytes,
      .tie_ends = (double)res->tie_ends,
      .tie_ends_cross_rank = (double)res->tie_ends_cross_rank,
      .bytes_exchanged_per_step = res->bytes_exchanged_per_step,
      .bytes_per_tie_end = (double)(sizeof(uint64_t) + sizeof(float)),
      .tie_visits = (double)res->tie_visits,
      .tie_visits_per_core_s = res->tie_visits_per_core_s,
      .bytes_per_agent_end = res->bytes_per_agent_end,
      .checkpoint_write_s = res->checkpoint_write_s,
      .restart_read_s = res->restart_read_s,
      .timed_steps = (double)res->timed_steps,
      .bytes_gathered_per_step = res->bytes_gathered_per_step,
      .bytes_received_max_per_step = s->received_max,
      .bytes_sent_max_per_step = s->sent_max,
      .messages_max_per_step = s->messages_max,
      .state_bytes_max_per_rank = s->state_bytes_max,
      .finished_utc = finished,
      .seed_text = seed_txt,
      .restarted_from = s->parent, /* a restarted or forked run records where it came from */
      .forked = s->opts->forked ? "yes" : "no",
      .stopped_early = res->stopped ? "yes" : "no",
      .last_step = step_txt,
      .last_checkpoint = res->checkpoint,
      .run_id = res->run_id,
      .parent_run_id = s->parent_run_id,
      .checkpoint_dir = s->ck.claimed ? s->ck.dir : "",
      .host = host,
      .job_id = batch_job_id(),
      .isa = clhs_isa_name(clhs_isa_choice()),
      .seed = s->cfg->run.seed,
  };
  memcpy(f.time_max_s, res->phase_max_s, sizeof f.time_max_s);
  memcpy(f.time_mean_s, res->phase_mean_s, sizeof f.time_mean_s);
  return write_run_attrs(&f, s->out, comm, err);
}

/* Rank 0's report of the run. */
static void print_summary(const run_state *s, const int64_t figures[3]) {
  const clhs_run_result *res = s->res;
  const clhs_comm *comm = s->comm;
  const clhs_world *w = &s->w;
  printf("clhsim: %s. %lld steps, %lld agents, %d rank(s) x %d thread(s)\n",
         res->stopped ? "stopped early" : "done", (long long)res->steps, (long long)w->nagents,
         comm->size, comm->threads);
  if (s->opts->resume)
    printf("  observed remission (established members): %.1f %% at step %lld\n",
           100 * res->remission_end, (long long)w->step);
  else
    printf("  observed remission (established members): %.1f %% at start -> %.1f %% at end\n",
           100 * res->remission_start, 100 * res->remission_end);
  printf("  member centres at end: %lld of %lld; engaged core (E >= 3) %lld; commons users "
         "%lld\n",
         (long long)figures[0], (long long)w->ncentres, (long long)figures[1],
         (long long)figures[2]);
  printf("  wall time %.2f s; %.3g agent-steps/s (%.3g per core); state %.1f bytes/agent "
         "at the end (%.1f at the start); peak RSS %.1f MiB/rank\n",
         res->wall_s, res->agent_steps_per_s,
         res->agent_steps_per_s / ((double)comm->size * comm->threads), res->bytes_per_agent_end,
         res->bytes_per_agent, res->peak_rss_bytes / 1048576.0);
  printf("  final state digest %016llx; network invariants checked: ok\n",
         (unsigned long long)res->final_digest);
  printf("  output: %s%s\n", s->cfg->output.path,
         res->stopped ? " (records up to the stop; a restart rewrites it in full)" : "");
  fflush(stdout);
}

/* After the steps: the figures, the invariants, /run, the output closed, the report. */
static int finish(run_state *s, clhs_error *err) {
  reduce_timers(s);
  if (check_invariants(s, err)) return err->code;
  int64_t figures[3];
  end_figures(s, figures);
  if (write_run(s, err)) return err->code;
  clhs_output_close(s->out, err);
  s->out = NULL;
  if (clhs_comm_agree_error(s->comm, err->code, err)) return err->code;
  if (s->root && !s->opts->silent) print_summary(s, figures);
  if (s->res->stopped)
    clhs_error_set(err, CLHS_STOPPED, "stopped at step %lld after writing checkpoint %s",
                   (long long)s->w.step, s->res->checkpoint);
  return err->code;
}

int clhs_run(const clhs_config *cfg, const clhs_comm *comm, const clhs_run_opts *opts,
             clhs_run_result *res, clhs_error *err) {
  run_state s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cfg = cfg;
  s.comm = comm;
  s.opts = opts;
  s.res = res;
  s.root = comm->rank == 0;
  s.t0 = clhs_comm_wtime();
  s.parent = opts->resume ? opts->resume : "";
  s.fault_step = fault_after_step(comm);
  clhs_lock_init(&s.out_lock);
  clhs_lock_init(&s.ck.owner);
  /* (a checkpoint that cannot be used ends the run before anything is taken or allocated) */
  if (identify(&s, err)) return err->code;
  if (prepare(&s, err) == CLHS_OK && open_output(&s, err) == CLHS_OK &&
      run_steps(&s, err) == CLHS_OK)
    finish(&s, err);
  if (s.out) clhs_output_abandon(s.out);
  if (s.root) clhs_output_unclaim(&s.out_lock);
  clhs_checkpoint_release(&s.ck);
  clhs_records_free(s.rec);
  clhs_world_free(&s.w);
  return err->code;
}
