/*
 * The run loop: build the world, record the initial state, step, record every
 * `output.every` steps, print progress on rank 0, write the /run group, report.
 *
 * Network-wide figures are computed on rank 0 from per-centre statistics
 * gathered in centre order (fixed order, so bit-identical for any
 * decomposition); per-centre series are written by each rank for its own block.
 */
#include "clhs/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clhs/date.h"
#include "clhs/model.h"
#include "clhs/output.h"

/* ---- the /timeseries variables of this issue ---- */
enum {
  V_MEMBERS,
  V_MEMBERS_EST,
  V_REM_OBS,
  V_REM_OBS_MEMBERS,
  V_REM_TRUE,
  V_STEROID,
  V_SFR,
  V_VISITS,
  V_RECALLS,
  V_ESCALATIONS,
  V_RECORDS,
  V_REL_MEAN,
  V_COMPL_MEAN,
  V_CREM_MEAN,
  V_CREM_SD,
  V_CREM_Q10,
  V_CREM_Q50,
  V_CREM_Q90,
  V_DIGEST,
  V_NSCALAR,
  /* per-centre */
  V_C_REM_OBS = V_NSCALAR,
  V_C_REM_TRUE,
  V_C_STEROID,
  V_C_REL,
  V_C_COMPL,
  V_C_MEMBER,
  V_C_EST,
  V_COUNT
};

#define CENTRE_DIM                                                                                 \
  { "centre", 1, 0, NULL, "care centre index" }
#define SCALAR(nm, ln, un, ty)                                                                     \
  {                                                                                                \
    nm, ln, un, ty, 0, {                                                                           \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define PERCENTRE(nm, ln, un, ty)                                                                  \
  {                                                                                                \
    nm, ln, un, ty, 1, {                                                                           \
      CENTRE_DIM                                                                                   \
    }                                                                                              \
  }

static const clhs_out_var out_vars[V_COUNT] = {
    SCALAR("members", "member centres", "1", CLHS_I64),
    SCALAR("members_established",
           "member centres that joined at least output.established_weeks ago", "1", CLHS_I64),
    SCALAR("remission_observed",
           "share of patients whose last physician global assessment is remission, established "
           "member centres",
           "1", CLHS_F64),
    SCALAR("remission_observed_members",
           "share of patients whose last physician global assessment is remission, all member "
           "centres",
           "1", CLHS_F64),
    SCALAR("remission_true", "share of patients in true remission, member centres", "1", CLHS_F64),
    SCALAR("steroid_use", "share of patients on a steroid course, member centres", "1", CLHS_F64),
    SCALAR("steroid_free_remission",
           "share of patients in true remission and not on steroids, member centres", "1",
           CLHS_F64),
    SCALAR("visits", "clinic visits since the previous record, all centres", "1", CLHS_I64),
    SCALAR("recalls", "population-management recalls since the previous record", "1", CLHS_I64),
    SCALAR("escalations", "treatment escalations since the previous record", "1", CLHS_I64),
    SCALAR("registry_records", "registry records written since the start (N_rec)", "1", CLHS_I64),
    SCALAR("reliability_mean", "mean process reliability r_c over member centres", "1", CLHS_F64),
    SCALAR("completeness_mean", "mean registry completeness d_c over member centres", "1",
           CLHS_F64),
    SCALAR("centre_remission_mean", "mean over member centres of the centre's observed remission",
           "1", CLHS_F64),
    SCALAR("centre_remission_sd", "standard deviation over member centres of observed remission",
           "1", CLHS_F64),
    SCALAR("centre_remission_q10", "10th percentile over member centres of observed remission", "1",
           CLHS_F64),
    SCALAR("centre_remission_q50", "median over member centres of observed remission", "1",
           CLHS_F64),
    SCALAR("centre_remission_q90", "90th percentile over member centres of observed remission", "1",
           CLHS_F64),
    SCALAR("state_digest", "64-bit digest of the whole simulation state", "1", CLHS_U64),
    PERCENTRE("centre_remission_observed",
              "share of the centre's patients whose last PGA is remission", "1", CLHS_F64),
    PERCENTRE("centre_remission_true", "share of the centre's patients in true remission", "1",
              CLHS_F64),
    PERCENTRE("centre_steroid_use", "share of the centre's patients on steroids", "1", CLHS_F64),
    PERCENTRE("centre_reliability", "process reliability r_c", "1", CLHS_F64),
    PERCENTRE("centre_completeness", "registry completeness d_c", "1", CLHS_F64),
    PERCENTRE("centre_member", "1 if the centre is a network member", "1", CLHS_I8),
    PERCENTRE("centre_established", "1 if the centre is an established member", "1", CLHS_I8),
};

static double ratio(int64_t num, int64_t den) {
  return den > 0 ? (double)num / (double)den : NAN;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Quantile with linear interpolation between order statistics (R's type 7). */
static double quantile_sorted(const double *v, int64_t n, double q) {
  if (n <= 0) return NAN;
  double h = (double)(n - 1) * q;
  int64_t lo = (int64_t)floor(h);
  if (lo >= n - 1) return v[n - 1];
  return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

typedef struct recorder {
  clhs_centre_stat *local, *all; /* all: rank 0 only */
  double *sorted;
  double f64[V_COUNT];
  int64_t i64[V_COUNT];
  uint64_t u64;
  double *c_f64[V_COUNT];
  int8_t *c_i8[V_COUNT];
} recorder;

/* Form one record: per-centre series locally, network-wide figures on rank 0. */
static void record_compute(clhs_world *w, recorder *rc) {
  clhs_world_centre_stats(w, rc->local);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_centre_stat *s = &rc->local[lc];
    rc->c_f64[V_C_REM_OBS][lc] = ratio(s->obs_rem, s->patients);
    rc->c_f64[V_C_REM_TRUE][lc] = ratio(s->true_rem, s->patients);
    rc->c_f64[V_C_STEROID][lc] = ratio(s->steroid, s->patients);
    rc->c_f64[V_C_REL][lc] = s->reliability;
    rc->c_f64[V_C_COMPL][lc] = s->completeness;
    rc->c_i8[V_C_MEMBER][lc] = (int8_t)s->member;
    rc->c_i8[V_C_EST][lc] = (int8_t)s->established;
  }
  clhs_comm_gatherv(w->comm, rc->local, w->c_count, sizeof(clhs_centre_stat), rc->all, 0);
  rc->u64 = clhs_world_digest(w);
  if (w->comm->rank != 0) return;
  int64_t members = 0, est = 0, pat_m = 0, pat_e = 0, obs_e = 0, obs_m = 0, tr = 0, st = 0, sfr = 0,
          vis = 0, rcl = 0, esc = 0, nm = 0;
  double rel = 0, compl = 0;
  for (int64_t c = 0; c < w->ncentres; c++) { /* centre order: a fixed order of summation */
    const clhs_centre_stat *s = &rc->all[c];
    vis += s->visits;
    rcl += s->recalls;
    esc += s->escalations;
    if (!s->member) continue;
    members++;
    pat_m += s->patients;
    obs_m += s->obs_rem;
    tr += s->true_rem;
    st += s->steroid;
    sfr += s->steroid_free_rem;
    rel += s->reliability;
    compl += s->completeness;
    if (s->patients > 0) rc->sorted[nm++] = (double)s->obs_rem / (double)s->patients;
    if (s->established) {
      est++;
      pat_e += s->patients;
      obs_e += s->obs_rem;
    }
  }
  double mean = NAN, sd = NAN;
  if (nm > 0) {
    double sum = 0, ss = 0;
    for (int64_t k = 0; k < nm; k++)
      sum += rc->sorted[k];
    mean = sum / (double)nm;
    for (int64_t k = 0; k < nm; k++)
      ss += (rc->sorted[k] - mean) * (rc->sorted[k] - mean);
    sd = nm > 1 ? sqrt(ss / (double)(nm - 1)) : 0.0;
    qsort(rc->sorted, (size_t)nm, sizeof(double), cmp_double);
  }
  rc->i64[V_MEMBERS] = members;
  rc->i64[V_MEMBERS_EST] = est;
  rc->f64[V_REM_OBS] = ratio(obs_e, pat_e);
  rc->f64[V_REM_OBS_MEMBERS] = ratio(obs_m, pat_m);
  rc->f64[V_REM_TRUE] = ratio(tr, pat_m);
  rc->f64[V_STEROID] = ratio(st, pat_m);
  rc->f64[V_SFR] = ratio(sfr, pat_m);
  rc->i64[V_VISITS] = vis;
  rc->i64[V_RECALLS] = rcl;
  rc->i64[V_ESCALATIONS] = esc;
  rc->i64[V_RECORDS] = w->N_rec;
  rc->f64[V_REL_MEAN] = members ? rel / (double)members : NAN;
  rc->f64[V_COMPL_MEAN] = members ? compl / (double)members : NAN;
  rc->f64[V_CREM_MEAN] = mean;
  rc->f64[V_CREM_SD] = sd;
  rc->f64[V_CREM_Q10] = quantile_sorted(rc->sorted, nm, 0.1);
  rc->f64[V_CREM_Q50] = quantile_sorted(rc->sorted, nm, 0.5);
  rc->f64[V_CREM_Q90] = quantile_sorted(rc->sorted, nm, 0.9);
}

static int record_write(clhs_output *out, const clhs_world *w, recorder *rc, clhs_error *err) {
  const void *data[V_COUNT];
  for (int v = 0; v < V_COUNT; v++) {
    if (v >= V_NSCALAR)
      data[v] =
          out_vars[v].dtype == CLHS_I8 ? (const void *)rc->c_i8[v] : (const void *)rc->c_f64[v];
    else if (v == V_DIGEST)
      data[v] = &rc->u64;
    else
      data[v] =
          out_vars[v].dtype == CLHS_I64 ? (const void *)&rc->i64[v] : (const void *)&rc->f64[v];
  }
  return clhs_output_append(out, 7.0 * (double)w->step, data, err);
}

static void recorder_free(recorder *rc) {
  free(rc->local);
  free(rc->all);
  free(rc->sorted);
  for (int v = 0; v < V_COUNT; v++) {
    free(rc->c_f64[v]);
    free(rc->c_i8[v]);
  }
}

static int recorder_init(recorder *rc, const clhs_world *w, clhs_error *err) {
  memset(rc, 0, sizeof *rc);
  const int64_t nc = w->c_count, C = w->ncentres;
  rc->local = clhs_calloc((size_t)nc, sizeof *rc->local, err, "centre statistics");
  if (w->comm->rank == 0) {
    rc->all = clhs_calloc((size_t)C, sizeof *rc->all, err, "centre statistics");
    rc->sorted = clhs_calloc((size_t)C, sizeof(double), err, "centre statistics");
  }
  for (int v = V_NSCALAR; v < V_COUNT; v++) {
    if (out_vars[v].dtype == CLHS_I8)
      rc->c_i8[v] = clhs_calloc((size_t)nc, 1, err, "centre series");
    else
      rc->c_f64[v] = clhs_calloc((size_t)nc, sizeof(double), err, "centre series");
  }
  return err->code;
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

int clhs_run(const clhs_config *cfg, const clhs_comm *comm, const clhs_run_opts *opts,
             clhs_run_result *res, clhs_error *err) {
  clhs_world w;
  recorder rc;
  clhs_output *out = NULL;
  memset(res, 0, sizeof *res);
  memset(&rc, 0, sizeof rc);
  memset(&w, 0, sizeof w);
  const double t0 = clhs_comm_wtime();
  const int root = comm->rank == 0;

  /* Report an unwritable output path before any work. */
  /* An unwritable output path is bad input (status 2), found before any work. */
  if (root && clhs_output_check_path(cfg->output.path, err) != CLHS_OK) err->code = CLHS_EINPUT;
  if (agree(comm, err)) return err->code;

  clhs_world_create(&w, cfg, comm, err);
  if (agree(comm, err)) goto done;
  recorder_init(&rc, &w, err);
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
  clhs_output_open(&out, cfg->output.path, cfg, comm, &layout, out_vars, V_COUNT, err);
  if (agree(comm, err)) goto done;

  /* Record 0: the initial state. */
  record_compute(&w, &rc);
  res->remission_start = rc.f64[V_REM_OBS];
  record_write(out, &w, &rc, err);
  if (agree(comm, err)) goto done;

  const double t_loop = clhs_comm_wtime();
  double last_print = t_loop;
  const double pe = opts->progress_every_s > 0 ? opts->progress_every_s : 5.0;
  for (int64_t s = 0; s < cfg->run.steps; s++) {
    clhs_world_step(&w, err);
    inject_fault(comm, w.step, err);
    /* One small reduction a step: an error on any rank ends every rank at the same
     * step, with that rank's message, instead of leaving the others in a collective. */
    if (agree(comm, err)) goto done;
    if (w.step % cfg->output.every == 0 || w.step == cfg->run.steps) {
      record_compute(&w, &rc);
      record_write(out, &w, &rc, err);
      if (agree(comm, err)) goto done;
    }
    if (root && !opts->quiet) {
      double now = clhs_comm_wtime();
      if (now - last_print >= pe) {
        double rate = (double)w.step / (now - t_loop);
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
  res->steps = cfg->run.steps;
  res->wall_s = t_end - t0;
  const double loop_s = t_end - t_loop;
  res->agent_steps_per_s = loop_s > 0 ? (double)w.nagents * (double)res->steps / loop_s : 0;
  res->final_digest = rc.u64;
  res->remission_end = rc.f64[V_REM_OBS];
  double rss = peak_rss_bytes();
  clhs_comm_max_f64(comm, &rss, 1);
  res->peak_rss_bytes = rss;
  clhs_comm_bcast(comm, &res->remission_start, sizeof(double), 0);
  clhs_comm_bcast(comm, &res->remission_end, sizeof(double), 0);
  int64_t members_end = rc.i64[V_MEMBERS];
  clhs_comm_bcast(comm, &members_end, sizeof members_end, 0);

  {
    char started[64];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *nk[] = {"ranks",
                        "threads",
                        "seed",
                        "steps",
                        "agents",
                        "centres",
                        "wall_time_s",
                        "loop_time_s",
                        "agent_steps_per_s",
                        "agent_steps_per_core_s",
                        "bytes_per_agent",
                        "peak_rss_bytes_max"};
    const double cores = (double)comm->size * (double)comm->threads;
    const double nv[] = {comm->size,
                         comm->threads,
                         (double)cfg->run.seed,
                         (double)res->steps,
                         (double)w.nagents,
                         (double)w.ncentres,
                         res->wall_s,
                         loop_s,
                         res->agent_steps_per_s,
                         res->agent_steps_per_s / cores,
                         res->bytes_per_agent,
                         res->peak_rss_bytes};
    char seed_txt[32];
    snprintf(seed_txt, sizeof seed_txt, "%llu", (unsigned long long)cfg->run.seed);
    const char *sk[] = {"finished_utc", "seed_text"};
    const char *sv[] = {started, seed_txt};
    clhs_output_write_run(out, nk, nv, (int)(sizeof nv / sizeof nv[0]), sk, sv, 2, err);
    if (agree(comm, err)) goto done;
  }
  clhs_output_close(out, err);
  out = NULL;
  if (agree(comm, err)) goto done;

  if (root) {
    printf("clhsim: done. %lld steps, %lld agents, %d rank(s) x %d thread(s)\n",
           (long long)res->steps, (long long)w.nagents, comm->size, comm->threads);
    printf("  observed remission (established members): %.1f %% at start -> %.1f %% at end\n",
           100 * res->remission_start, 100 * res->remission_end);
    printf("  member centres at end: %lld of %lld\n", (long long)members_end,
           (long long)w.ncentres);
    printf("  wall time %.2f s; %.3g agent-steps/s (%.3g per core); state %.1f bytes/agent; "
           "peak RSS %.1f MiB/rank\n",
           res->wall_s, res->agent_steps_per_s,
           res->agent_steps_per_s / ((double)comm->size * comm->threads), res->bytes_per_agent,
           res->peak_rss_bytes / 1048576.0);
    printf("  final state digest %016llx\n", (unsigned long long)res->final_digest);
    printf("  output: %s\n", cfg->output.path);
    fflush(stdout);
  }

done:
  if (out) clhs_output_abandon(out);
  recorder_free(&rc);
  clhs_world_free(&w);
  return err->code;
}
