/*
 * The run loop: build the world, record the initial state, step, record every
 * `output.every` steps, print progress on rank 0, write the /run group, report.
 *
 * Network-wide figures are computed on rank 0 from per-centre statistics
 * gathered in centre order (fixed order, so bit-identical for any
 * decomposition); per-centre series are written by each rank for its own block.
 */
#define _POSIX_C_SOURCE 200809L
#include "clhs/engine.h"

#include <math.h>
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
#include "ckpt_policy.h"
#include "clhs/checkpoint.h"
#include "clhs/signals.h"
#include "records.h"
#include "runfiles.h"

void clhs_write_variables_markdown(FILE *out) {
  clhs_records_write_markdown(out);
}

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
 * CLHS_FAULT_INJECT="RANK:STEP" makes that rank report an error after that step. */
static void inject_fault(const clhs_comm *comm, int64_t step, clhs_error *err) {
  const char *spec = getenv("CLHS_FAULT_INJECT");
  int rank = -1;
  long long at = -1;
  if (spec && sscanf(spec, "%d:%lld", &rank, &at) == 2 && rank == comm->rank && at == step)
    clhs_error_set(err, CLHS_EFAIL, "fault injected by CLHS_FAULT_INJECT=%s on rank %d", spec,
                   rank);
}

/* Agree on a status after a collective operation: every rank gets the worst
 * status and the message of the lowest failing rank. */
static int agree(const clhs_comm *comm, clhs_error *err) {
  int st = clhs_comm_agree(comm, err->code, err->msg, sizeof err->msg);
  if (st != CLHS_OK) err->code = st;
  return st;
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
static int verify_snapshot(const clhs_comm *comm, const char *state, const clhs_ckpt_meta *meta,
                           const char *snap, clhs_error *err) {
  int st = CLHS_OK;
  if (comm->rank == 0 && access(snap, F_OK) != 0)
    st = clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint '%s': its output snapshot '%s' is missing; a checkpoint is "
                        "the pair of files %s and %s: copy or move both",
                        state, snap, meta->output_snapshot,
                        strrchr(state, '/') ? strrchr(state, '/') + 1 : state);
  if (agree(comm, err)) return err->code = CLHS_EINPUT;
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
  err->code = st;
  if (agree(comm, err)) return err->code = CLHS_EINPUT;
  return CLHS_OK;
}

int clhs_run(const clhs_config *cfg, const clhs_comm *comm, const clhs_run_opts *opts,
             clhs_run_result *res, clhs_error *err) {
  clhs_world w;
  clhs_records *rc = NULL;
  clhs_output *out = NULL;
  clhs_lock out_lock;
  clhs_ckpt_ctx ck;
  clhs_lock_init(&out_lock);
  memset(res, 0, sizeof *res);
  memset(&w, 0, sizeof w);
  memset(&ck, 0, sizeof ck);
  clhs_lock_init(&ck.owner);
  const double t0 = clhs_comm_wtime();
  const int root = comm->rank == 0;
  clhs_ckpt_meta meta;
  memset(&meta, 0, sizeof meta);
  char snap[4200] = "";

  /* Which run this is: a continued run keeps the checkpoint's id, a fork or a new run gets
   * its own. The checkpoint's metadata (and its snapshot) are checked before any work. */
  char parent_run_id[24] = "";
  if (opts->resume) {
    if (clhs_checkpoint_read_meta(comm, opts->resume, &meta, err) != CLHS_OK) {
      agree(comm, err);
      res->bad_checkpoint = 1;
      return err->code;
    }
    clhs_ckpt_snapshot_path(opts->resume, meta.output_snapshot, snap, sizeof snap);
    if (verify_snapshot(comm, opts->resume, &meta, snap, err) != CLHS_OK) {
      free(meta.config_yaml);
      res->bad_checkpoint = 1;
      return err->code;
    }
    free(meta.config_yaml);
    meta.config_yaml = NULL;
    if (meta.step >= cfg->run.steps)
      clhs_error_set(err, CLHS_EINPUT,
                     "checkpoint '%s' is at step %lld and run.steps is %lld: nothing to run; "
                     "extend the run with -P run.steps=N (N > %lld)",
                     opts->resume, (long long)meta.step, (long long)cfg->run.steps,
                     (long long)meta.step);
    if (agree(comm, err)) return err->code;
  }
  if (opts->resume && !opts->forked && meta.run_id[0]) {
    snprintf(res->run_id, sizeof res->run_id, "%s", meta.run_id);
    snprintf(parent_run_id, sizeof parent_run_id, "%s", meta.parent_run_id);
  } else {
    new_run_id(comm, res->run_id, sizeof res->run_id);
    if (opts->resume) snprintf(parent_run_id, sizeof parent_run_id, "%s", meta.run_id);
  }

  /* Where the checkpoints go, and the output: both checked (and the output locked) before
   * any work; problems are bad input (status 2). */
  clhs_ckpt_ctx_init(&ck, res->run_id, parent_run_id);
  if (clhs_ckpt_prepare(&ck, comm, cfg->checkpoint.dir, err) != CLHS_OK) return err->code;
  snprintf(res->checkpoint_dir, sizeof res->checkpoint_dir, "%s", ck.dir);
  if (root) {
    const char *inputs[80];
    int nin = 0;
    for (int i = 0; i < opts->ninputs && nin < 76; i++)
      inputs[nin++] = opts->inputs[i];
    if (opts->resume) {
      inputs[nin++] = opts->resume;
      inputs[nin++] = snap;
    }
    clhs_output_claim(cfg->output.path, res->run_id, inputs, nin, ck.dir, opts->overwrite,
                      &out_lock, err);
    if (err->code == CLHS_OK && ck.moved_from[0])
      printf("clhsim: checkpoint folder '%s' holds the checkpoints of %s%s; this run's go to "
             "'%s'\n",
             ck.moved_from, ck.moved_owner[0] ? "run " : "another run", ck.moved_owner, ck.dir);
  }
  if (agree(comm, err)) goto done;
  /* A population that cannot fit is refused before anything is allocated. */
  clhs_memory_check(cfg, comm, NULL, err);
  if (agree(comm, err)) goto done;

  clhs_world_create(&w, cfg, comm, err);
  if (agree(comm, err)) goto done;
  clhs_records_create(&rc, &w, err);
  if (agree(comm, err)) goto done;

  int64_t bytes_loc = (int64_t)clhs_world_bytes(&w);
  clhs_comm_sum_i64(comm, &bytes_loc, 1);
  res->agents = w.nagents;
  res->centres = w.ncentres;
  res->bytes_per_agent = w.nagents ? (double)bytes_loc / (double)w.nagents : 0;
  if (root && !opts->quiet)
    printf("clhsim: %lld centres, %lld agents (%lld patients) on %d rank(s) x %d thread(s); "
           "%.1f bytes of state per agent; %lld steps from %s\n",
           (long long)w.ncentres, (long long)w.nagents, (long long)w.npatients, comm->size,
           comm->threads, res->bytes_per_agent, (long long)cfg->run.steps, cfg->run.start_date);

  clhs_out_layout layout = {w.ncentres, w.c_begin, w.c_count};
  int nvars = 0;
  const clhs_out_var *vars = clhs_records_vars(&nvars);
  if (opts->resume) {
    /* Continue from a checkpoint: its state, then the output up to its step. */
    const double tr0 = clhs_comm_wtime();
    if (clhs_checkpoint_read(&w, opts->resume, err) == CLHS_OK) {
      const uint64_t dg = clhs_world_digest(&w);
      if (dg != meta.digest)
        clhs_error_set(err, CLHS_EINPUT,
                       "checkpoint '%s': the loaded state's digest %016llx differs from the "
                       "one recorded at writing, %016llx: the file is damaged or from an "
                       "incompatible build",
                       opts->resume, (unsigned long long)dg, (unsigned long long)meta.digest);
    }
    if (agree(comm, err)) {
      res->bad_checkpoint = 1;
      goto done;
    }
    clhs_output_open_run(&out, cfg->output.path, res->run_id, cfg, comm, &layout, vars, nvars, err);
    if (agree(comm, err)) goto done;
    clhs_output_restore(out, snap, meta.output_records, err);
    if (agree(comm, err)) {
      res->bad_checkpoint = 1;
      goto done;
    }
    res->restart_read_s = clhs_comm_wtime() - tr0;
    res->remission_start = NAN;
    if (root && !opts->quiet) {
      if (opts->forked)
        printf("clhsim: run %s forked from run %s at '%s', step %lld (%s, %.2f s to load)\n",
               res->run_id, parent_run_id, opts->resume, (long long)w.step, meta.created_utc,
               res->restart_read_s);
      else
        printf("clhsim: continuing run %s from '%s' at step %lld (%s, %.2f s to load)\n",
               res->run_id, opts->resume, (long long)w.step, meta.created_utc, res->restart_read_s);
    }
  } else {
    clhs_output_open_run(&out, cfg->output.path, res->run_id, cfg, comm, &layout, vars, nvars, err);
    if (agree(comm, err)) goto done;
    /* Record 0: the initial state. */
    clhs_records_compute(rc, &w);
    res->remission_start = clhs_records_remission_observed(rc);
    clhs_records_write(rc, out, &w, err);
    if (agree(comm, err)) goto done;
  }

  for (int ph = 0; ph < CLHS_NPHASES; ph++)
    w.t_phase[ph] = 0;
  if (comm->stats) memset(comm->stats, 0, sizeof *comm->stats);
  int64_t visits0 = clhs_tie_visits(&w);
  double t_loop = clhs_comm_wtime();
  double last_print = t_loop;
  const double pe = opts->progress_every_s > 0 ? opts->progress_every_s : 5.0;
  const int64_t step0 = w.step;
  int64_t tstep0 = step0; /* the first timed step: after opts->warmup untimed ones */
  double last_ckpt = t_loop, ckpt_cost = 0;
  const char *parent = opts->resume ? opts->resume : "";
  while (w.step < cfg->run.steps) {
    clhs_world_step(&w, err);
#ifndef NDEBUG
    /* Debug builds check the network's invariants after every step (§ issue 3.6). */
    clhs_ties_check(&w, err);
#endif
    inject_fault(comm, w.step, err);
    if (opts->warmup > 0 && w.step - step0 == opts->warmup) {
      /* Warm-up over: the timers, counters and throughput start from here. */
      for (int ph = 0; ph < CLHS_NPHASES; ph++)
        w.t_phase[ph] = 0;
      if (comm->stats) memset(comm->stats, 0, sizeof *comm->stats);
      visits0 = clhs_tie_visits(&w);
      t_loop = clhs_comm_wtime();
      tstep0 = w.step;
    }
    /* One small reduction a step: an error on any rank ends every rank at the same
     * step, with that rank's message, instead of leaving the others in a collective. */
    if (agree(comm, err)) goto done;
    if (w.step % cfg->output.every == 0 || w.step == cfg->run.steps) {
      const double tr = clhs_comm_wtime();
      clhs_records_compute(rc, &w);
      clhs_records_write(rc, out, &w, err);
      w.t_phase[CLHS_PH_RECORDS] += clhs_comm_wtime() - tr;
      if (agree(comm, err)) goto done;
    }
    /* Checkpoint and stop requests, agreed by every rank (no rank checkpoints alone). */
    {
      const double now = clhs_comm_wtime();
      int64_t req[4] = {clhs_signal_pending(), 0, 0, 0};
      if (root) {
        struct stat sb; /* the stop file: a regular file (a folder of that name is not one) */
        if (lstat("clhsim.stop", &sb) == 0 && S_ISREG(sb.st_mode)) req[1] = 1;
        const double per_step = (now - t_loop) / (double)(w.step > tstep0 ? w.step - tstep0 : 1);
        const double margin = 2 * per_step + 1.5 * ckpt_cost + 1.0;
        if (cfg->run.max_wall_time > 0 && now - t0 + margin >= cfg->run.max_wall_time) req[2] = 1;
        if (cfg->checkpoint.wall > 0 && now - last_ckpt >= cfg->checkpoint.wall) req[3] = 1;
      }
      clhs_comm_max_i64(comm, req, 4);
      const int stop = (req[0] || req[1] || req[2]) && w.step < cfg->run.steps;
      const int every = cfg->checkpoint.every > 0 && w.step % cfg->checkpoint.every == 0;
      if (stop || every || req[3]) {
        const double tc = clhs_comm_wtime();
        if (clhs_ckpt_save(&ck, cfg, &w, out, parent, res->checkpoint, sizeof res->checkpoint, err))
          goto done;
        snprintf(res->checkpoint_dir, sizeof res->checkpoint_dir, "%s", ck.dir);
        ckpt_cost = clhs_comm_wtime() - tc;
        res->checkpoint_write_s = ckpt_cost;
        last_ckpt = clhs_comm_wtime();
        if (root && !opts->quiet) printf("  checkpoint %s (%.2f s)\n", res->checkpoint, ckpt_cost);
      }
      if (stop) {
        res->stopped = 1;
        if (root) {
          if (req[1]) remove("clhsim.stop"); /* acted on: a restart must not stop at once */
          printf("clhsim: stopping at step %lld on %s; resume with: clhsim restart %s\n",
                 (long long)w.step,
                 req[0]   ? clhs_signal_name((int)req[0])
                 : req[1] ? "the stop file clhsim.stop"
                          : "the wall-time limit run.max_wall_time",
                 ck.dir);
          fflush(stdout);
        }
        break;
      }
    }
    if (root && !opts->quiet) {
      double now = clhs_comm_wtime();
      if (now - last_print >= pe) {
        double rate = (double)(w.step - tstep0) / (now - t_loop);
        char date[16];
        format_step_date(cfg, w.step, date);
        printf("  step %lld/%lld  %s  %.1f steps/s  %.3g agent-steps/s  ETA %.0f s\n",
               (long long)w.step, (long long)cfg->run.steps, date, rate, rate * (double)w.nagents,
               (double)(cfg->run.steps - w.step) / rate);
        fflush(stdout);
        last_print = now;
      }
    }
  }
  const double t_end = clhs_comm_wtime();
  {
    double tmax[CLHS_NPHASES + 1], tsum[CLHS_NPHASES + 1];
    for (int ph = 0; ph < CLHS_NPHASES; ph++)
      tmax[ph] = w.t_phase[ph];
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
    res->bytes_exchanged_per_step =
        w.step > tstep0 ? (double)us[CLHS_NPHASES + 1] / (double)(w.step - tstep0) : 0;
    res->bytes_gathered_per_step =
        w.step > tstep0 ? (double)us[CLHS_NPHASES + 2] / (double)(w.step - tstep0) : 0;
    int64_t ends[3] = {clhs_ties_count(&w), clhs_ties_cross_rank(&w),
                       clhs_tie_visits(&w) - visits0};
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
    int64_t bytes_end = (int64_t)clhs_world_bytes(&w);
    clhs_comm_sum_i64(comm, &bytes_end, 1);
    res->bytes_per_agent_end = w.nagents ? (double)bytes_end / (double)w.nagents : 0;
  }
  /* Release builds check the invariants once, at the end, and report. */
  {
    clhs_error ierr;
    clhs_error_clear(&ierr);
    const int64_t bad = clhs_ties_check(&w, &ierr);
    clhs_comm_agree(comm, ierr.code, ierr.msg, sizeof ierr.msg);
    if (bad) {
      clhs_error_set(err, CLHS_EFAIL,
                     "%lld network invariant violations at the end of the run; first: %s",
                     (long long)bad, ierr.msg);
      goto done;
    }
    res->invariants_checked = 1;
  }
  res->steps = w.step - step0;
  res->timed_steps = w.step - tstep0;
  res->wall_s = t_end - t0;
  const double loop_s = t_end - t_loop;
  res->agent_steps_per_s = loop_s > 0 ? (double)w.nagents * (double)res->timed_steps / loop_s : 0;
  res->final_digest = clhs_records_digest(rc);
  res->remission_end = clhs_records_remission_observed(rc);
  double rss = peak_rss_bytes();
  clhs_comm_max_f64(comm, &rss, 1);
  res->peak_rss_bytes = rss;
  clhs_comm_bcast(comm, &res->remission_start, sizeof(double), 0);
  clhs_comm_bcast(comm, &res->remission_end, sizeof(double), 0);
  int64_t end_figures[3] = {clhs_records_members(rc), clhs_records_engaged(rc),
                            clhs_records_commons_users(rc)};
  clhs_comm_bcast(comm, end_figures, sizeof end_figures, 0);
  const int64_t members_end = end_figures[0];

  {
    char started[64];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const double cores = (double)comm->size * (double)comm->threads;
    enum { NBASE = 22, NRUN = NBASE + 2 * (CLHS_NPHASES + 1) };
    const char *nk[NRUN] = {"ranks",
                            "threads",
                            "steps",
                            "agents",
                            "centres",
                            "wall_time_s",
                            "loop_time_s",
                            "agent_steps_per_s",
                            "agent_steps_per_core_s",
                            "bytes_per_agent",
                            "peak_rss_bytes_max",
                            "tie_ends",
                            "tie_ends_cross_rank",
                            "bytes_exchanged_per_step",
                            "bytes_per_tie_end",
                            "tie_visits",
                            "tie_visits_per_core_s",
                            "bytes_per_agent_end",
                            "checkpoint_write_s",
                            "restart_read_s",
                            "timed_steps",
                            "bytes_gathered_per_step"};
    double nv[NRUN] = {comm->size,
                       comm->threads,
                       (double)res->steps,
                       (double)w.nagents,
                       (double)w.ncentres,
                       res->wall_s,
                       loop_s,
                       res->agent_steps_per_s,
                       res->agent_steps_per_s / cores,
                       res->bytes_per_agent,
                       res->peak_rss_bytes,
                       (double)res->tie_ends,
                       (double)res->tie_ends_cross_rank,
                       res->bytes_exchanged_per_step,
                       (double)(sizeof(uint64_t) + sizeof(float)),
                       (double)res->tie_visits,
                       res->tie_visits_per_core_s,
                       res->bytes_per_agent_end,
                       res->checkpoint_write_s,
                       res->restart_read_s,
                       (double)res->timed_steps,
                       res->bytes_gathered_per_step};
    /* Per-phase (and communication) seconds: max and mean over ranks. */
    char keybuf[2 * (CLHS_NPHASES + 1)][48];
    for (int ph = 0; ph <= CLHS_NPHASES; ph++) {
      const char *name = ph < CLHS_NPHASES ? clhs_phase_names[ph] : "communication";
      snprintf(keybuf[2 * ph], sizeof keybuf[0], "time_%s_max_s", name);
      snprintf(keybuf[2 * ph + 1], sizeof keybuf[0], "time_%s_mean_s", name);
      nk[NBASE + 2 * ph] = keybuf[2 * ph];
      nk[NBASE + 2 * ph + 1] = keybuf[2 * ph + 1];
      nv[NBASE + 2 * ph] = res->phase_max_s[ph];
      nv[NBASE + 2 * ph + 1] = res->phase_mean_s[ph];
    }
    char seed_txt[32];
    snprintf(seed_txt, sizeof seed_txt, "%llu", (unsigned long long)cfg->run.seed);
    char stopped_txt[32], step_txt[32];
    snprintf(stopped_txt, sizeof stopped_txt, "%s", res->stopped ? "yes" : "no");
    snprintf(step_txt, sizeof step_txt, "%lld", (long long)w.step);
    /* A restarted or forked run records where it came from (and a fork says so). */
    const char *sk[] = {"finished_utc",  "seed_text",     "restarted_from",  "forked",
                        "stopped_early", "last_step",     "last_checkpoint", "run_id",
                        "parent_run_id", "checkpoint_dir"};
    const char *sv[] = {started,         seed_txt,
                        parent,          opts->forked ? "yes" : "no",
                        stopped_txt,     step_txt,
                        res->checkpoint, res->run_id,
                        parent_run_id,   ck.claimed ? ck.dir : ""};
    clhs_output_write_run(out, nk, nv, NRUN, sk, sv, 10, err);
    if (agree(comm, err)) goto done;
    clhs_output_write_run_u64(out, "seed", cfg->run.seed, err); /* exact, not a float */
    if (agree(comm, err)) goto done;
  }
  clhs_output_close(out, err);
  out = NULL;
  if (agree(comm, err)) goto done;

  if (root) {
    printf("clhsim: %s. %lld steps, %lld agents, %d rank(s) x %d thread(s)\n",
           res->stopped ? "stopped early" : "done", (long long)res->steps, (long long)w.nagents,
           comm->size, comm->threads);
    if (opts->resume)
      printf("  observed remission (established members): %.1f %% at step %lld\n",
             100 * res->remission_end, (long long)w.step);
    else
      printf("  observed remission (established members): %.1f %% at start -> %.1f %% at end\n",
             100 * res->remission_start, 100 * res->remission_end);
    printf("  member centres at end: %lld of %lld; engaged core (E >= 3) %lld; commons users "
           "%lld\n",
           (long long)members_end, (long long)w.ncentres, (long long)end_figures[1],
           (long long)end_figures[2]);
    printf("  wall time %.2f s; %.3g agent-steps/s (%.3g per core); state %.1f bytes/agent "
           "at the end (%.1f at the start); peak RSS %.1f MiB/rank\n",
           res->wall_s, res->agent_steps_per_s,
           res->agent_steps_per_s / ((double)comm->size * comm->threads), res->bytes_per_agent_end,
           res->bytes_per_agent, res->peak_rss_bytes / 1048576.0);
    printf("  final state digest %016llx; network invariants checked: ok\n",
           (unsigned long long)res->final_digest);
    printf("  output: %s%s\n", cfg->output.path,
           res->stopped ? " (records up to the stop; a restart rewrites it in full)" : "");
    fflush(stdout);
  }
  if (res->stopped)
    clhs_error_set(err, CLHS_STOPPED, "stopped at step %lld after writing checkpoint %s",
                   (long long)w.step, res->checkpoint);

done:
  if (out) clhs_output_abandon(out);
  if (root) clhs_output_unclaim(&out_lock);
  clhs_ckpt_release(&ck);
  clhs_records_free(rc);
  clhs_world_free(&w);
  return err->code;
}
