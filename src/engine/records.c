/*
 * The /timeseries variables (MODEL.md §11) and how a record is formed.
 *
 * Three sources, each independent of the decomposition:
 *  - per-centre statistics (integer counts and the centre's own state), written by each
 *    rank for its block and gathered to rank 0 in centre order for the network-wide
 *    outcomes and their spread across centres;
 *  - network statistics as integers (counts, and sums of values in [0, 1] in 2^-24 fixed
 *    point), reduced exactly over ranks;
 *  - state that every rank holds identically (the commons, evidence, the state digest).
 */
#include "records.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const tier_labels[CLHS_TIERS] = {"unaware", "aware", "participant",
                                                    "contributor", "leader"};
static const char *const tie_labels[CLHS_NTIEKINDS] = {"care", "peer", "event", "online"};
static const char *const res_labels[CLHS_NRESKINDS] = {"information", "knowledge", "tool"};
static const char *const deg_labels[CLHS_DEGREE_BINS] = {
    "0",     "1",      "2-3",     "4-7",     "8-15",     "16-31",
    "32-63", "64-127", "128-255", "256-511", "512-1023", ">=1024"};

#define D_CENTRE                                                                                   \
  { "centre", 1, 0, NULL, "care centre index" }
#define D_TYPE                                                                                     \
  { "type", 0, CLHS_NTYPES, clhs_type_names, "agent type" }
#define D_TIER                                                                                     \
  {                                                                                                \
    "tier", 0, CLHS_TIERS, tier_labels,                                                            \
        "engagement tier: 0 unaware, 1 aware, 2 participant, 3 contributor, 4 leader"              \
  }
#define D_TIEKIND                                                                                  \
  { "tie_kind", 0, CLHS_NTIEKINDS, tie_labels, "kind of tie" }
#define D_RESKIND                                                                                  \
  { "resource_kind", 0, CLHS_NRESKINDS, res_labels, "kind of resource" }
static const char *const esc_labels[2] = {"remitted", "not_remitted"};
#define D_ESCOUT                                                                                   \
  { "outcome", 0, 2, esc_labels, "outcome of an escalation: remission within 12 weeks or not" }
#define D_DEGBIN                                                                                   \
  { "degree_bin", 0, CLHS_DEGREE_BINS, deg_labels, "degree bin (log-spaced; ties of every kind)" }
#define V0(nm, ln, un, ty)                                                                         \
  {                                                                                                \
    nm, ln, un, ty, 0, {                                                                           \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define V1(nm, ln, un, ty, d0)                                                                     \
  {                                                                                                \
    nm, ln, un, ty, 1, {                                                                           \
      d0                                                                                           \
    }                                                                                              \
  }
#define V2(nm, ln, un, ty, d0, d1)                                                                 \
  {                                                                                                \
    nm, ln, un, ty, 2, {                                                                           \
      d0, d1                                                                                       \
    }                                                                                              \
  }

enum {
  /* network-wide scalars */
  R_MEMBERS,
  R_MEMBERS_EST,
  R_REM_OBS,
  R_REM_OBS_MEMBERS,
  R_REM_TRUE,
  R_STEROID,
  R_SFR,
  R_VISITS,
  R_RECALLS,
  R_ESCALATIONS,
  R_RELAPSES,
  R_REM_WEEKS,
  R_ESC_OUT,
  R_RECORDS,
  R_REL_MEAN,
  R_COMPL_MEAN,
  R_CREM_MEAN,
  R_CREM_SD,
  R_CREM_Q10,
  R_CREM_Q50,
  R_CREM_Q90,
  R_DIGEST,
  /* per centre */
  R_C_REM_OBS,
  R_C_REM_TRUE,
  R_C_STEROID,
  R_C_REL,
  R_C_COMPL,
  R_C_MEMBER,
  R_C_EST,
  /* the network (MODEL.md §4-§7) */
  R_BY_TIER,
  R_ENGAGED,
  R_M_MEAN,
  R_A_MEAN,
  R_K_MEAN,
  R_RL_MEAN,
  R_V_MEAN,
  R_CREATED,
  R_IN_COMMONS,
  R_ADOPTIONS,
  R_COMMONS_ADOPTIONS,
  R_COMMONS_USERS,
  R_QUALITY,
  R_TIES,
  R_CROSS,
  R_DEGREE,
  R_DEGREE_HIST,
  R_EVIDENCE,
  R_COUNT
};

static const clhs_out_var vars[R_COUNT] = {
    V0("members", "member centres", "1", CLHS_I64),
    V0("members_established", "member centres that joined at least output.established_weeks ago",
       "1", CLHS_I64),
    V0("remission_observed",
       "share of patients whose last physician global assessment is remission, established "
       "member centres",
       "1", CLHS_F64),
    V0("remission_observed_members",
       "share of patients whose last physician global assessment is remission, all member "
       "centres",
       "1", CLHS_F64),
    V0("remission_true", "share of patients in true remission, member centres", "1", CLHS_F64),
    V0("steroid_use", "share of patients on a steroid course, member centres", "1", CLHS_F64),
    V0("steroid_free_remission",
       "share of patients in true remission and not on steroids, member centres", "1", CLHS_F64),
    V0("visits", "clinic visits since the previous record, all centres", "1", CLHS_I64),
    V0("recalls", "population-management recalls since the previous record", "1", CLHS_I64),
    V0("escalations", "treatment escalations since the previous record", "1", CLHS_I64),
    V0("relapses", "relapses (true remission to active) since the previous record, member centres",
       "1", CLHS_I64),
    V0("remission_weeks",
       "patient-weeks in true remission since the previous record, member centres (annual "
       "relapse probability = 1 - exp(-52 relapses / remission_weeks))",
       "1", CLHS_I64),
    V1("escalation_outcomes",
       "escalations of truly active patients in member centres whose 12-week window closed "
       "since the previous record, by outcome",
       "1", CLHS_I64, D_ESCOUT),
    V0("registry_records", "registry records written since the start (N_rec)", "1", CLHS_I64),
    V0("reliability_mean", "mean process reliability r_c over member centres", "1", CLHS_F64),
    V0("completeness_mean", "mean registry completeness d_c over member centres", "1", CLHS_F64),
    V0("centre_remission_mean", "mean over member centres of the centre's observed remission", "1",
       CLHS_F64),
    V0("centre_remission_sd", "standard deviation over member centres of observed remission", "1",
       CLHS_F64),
    V0("centre_remission_q10", "10th percentile over member centres of observed remission", "1",
       CLHS_F64),
    V0("centre_remission_q50", "median over member centres of observed remission", "1", CLHS_F64),
    V0("centre_remission_q90", "90th percentile over member centres of observed remission", "1",
       CLHS_F64),
    V0("state_digest", "64-bit digest of the whole simulation state", "1", CLHS_U64),
    V1("centre_remission_observed", "share of the centre's patients whose last PGA is remission",
       "1", CLHS_F64, D_CENTRE),
    V1("centre_remission_true", "share of the centre's patients in true remission", "1", CLHS_F64,
       D_CENTRE),
    V1("centre_steroid_use", "share of the centre's patients on steroids", "1", CLHS_F64, D_CENTRE),
    V1("centre_reliability", "process reliability r_c", "1", CLHS_F64, D_CENTRE),
    V1("centre_completeness", "registry completeness d_c", "1", CLHS_F64, D_CENTRE),
    V1("centre_member", "1 if the centre is a network member", "1", CLHS_I8, D_CENTRE),
    V1("centre_established", "1 if the centre is an established member", "1", CLHS_I8, D_CENTRE),
    V2("agents_by_tier", "agents by type and engagement tier", "1", CLHS_I64, D_TYPE, D_TIER),
    V0("engaged_core", "agents with engagement tier E >= 3 (contributors and leaders)", "1",
       CLHS_I64),
    V1("motivation_mean", "mean motivation m by agent type", "1", CLHS_F64, D_TYPE),
    V1("autonomy_mean", "mean autonomy satisfaction A by agent type", "1", CLHS_F64, D_TYPE),
    V1("competence_mean", "mean competence satisfaction K by agent type", "1", CLHS_F64, D_TYPE),
    V1("relatedness_mean", "mean relatedness satisfaction Rl by agent type", "1", CLHS_F64, D_TYPE),
    V1("value_mean", "mean perceived value V by agent type", "1", CLHS_F64, D_TYPE),
    V1("resources_created", "resources created since the previous record, by kind", "1", CLHS_I64,
       D_RESKIND),
    V0("resources_in_commons", "resources posted to the commons since the start", "1", CLHS_I64),
    V0("adoptions", "resource adoptions since the previous record", "1", CLHS_I64),
    V0("commons_adoptions", "adoptions of resources found in the commons since the previous record",
       "1", CLHS_I64),
    V0("commons_users", "distinct agents that have adopted from the commons since the start", "1",
       CLHS_I64),
    V0("resource_quality_mean", "mean current quality v of the resources in the commons", "1",
       CLHS_F64),
    V1("ties", "ties by kind (undirected; care ties included)", "1", CLHS_I64, D_TIEKIND),
    V0("cross_centre_share", "share of all ties (care included) that join two centres", "1",
       CLHS_F64),
    V1("mean_degree", "mean number of ties of an agent (every kind), by type", "1", CLHS_F64,
       D_TYPE),
    V1("degree_hist", "agents by degree (every kind of tie), log-spaced bins", "1", CLHS_I64,
       D_DEGBIN),
    V0("evidence", "network-wide evidence level E_tx", "1", CLHS_F64),
};

const clhs_out_var *clhs_records_vars(int *nvars) {
  *nvars = R_COUNT;
  return vars;
}

void clhs_records_write_markdown(FILE *out) {
  static const char *const tn[] = {"float64", "int64", "uint64", "int8"};
  fprintf(out, "| variable | axes | type | units | meaning |\n|---|---|---|---|---|\n");
  fprintf(out,
          "| `time` | time | float64 | days since `run.start_date` | simulated date of the record "
          "(the end of its step) |\n");
  for (int v = 0; v < R_COUNT; v++) {
    fprintf(out, "| `%s` | time", vars[v].name);
    for (int d = 0; d < vars[v].ndims; d++)
      fprintf(out, ", %s", vars[v].dims[d].name);
    fprintf(out, " | %s | %s | %s |\n", tn[vars[v].dtype], vars[v].units, vars[v].long_name);
  }
  fprintf(out, "\nCoordinates of the other axes:\n\n| axis | values |\n|---|---|\n");
  fprintf(out, "| `centre` | centre index 0 .. centres-1 |\n");
  const clhs_out_dim dims[] = {D_TYPE, D_TIER, D_TIEKIND, D_RESKIND, D_ESCOUT, D_DEGBIN};
  for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
    fprintf(out, "| `%s` | ", dims[k].name);
    for (int64_t j = 0; j < dims[k].len; j++)
      fprintf(out, j ? ", %lld" : "%lld", (long long)j);
    if (dims[k].labels) {
      fprintf(out, " (");
      for (int64_t j = 0; j < dims[k].len; j++)
        fprintf(out, j ? ", %s" : "%s", dims[k].labels[j]);
      fprintf(out, ")");
    }
    fprintf(out, ": %s |\n", dims[k].long_name);
  }
}

static size_t dtype_size(int dt) {
  return dt == CLHS_I8 ? 1 : 8;
}

struct clhs_records {
  clhs_centre_stat *local, *all; /* all: rank 0 only */
  double *sorted;
  void *buf[R_COUNT]; /* one record of each variable (this rank's block for centre axes) */
  int64_t ns[CLHS_NS_LEN];
};

/* Elements of one record of variable v on this rank. */
static int64_t record_len(const clhs_out_var *v, const clhs_world *w) {
  int64_t n = 1;
  for (int d = 0; d < v->ndims; d++)
    n *= v->dims[d].distributed ? w->c_count : v->dims[d].len;
  return n;
}

int clhs_records_create(clhs_records **out, const clhs_world *w, clhs_error *err) {
  clhs_records *rc = clhs_calloc(1, sizeof *rc, err, "the records");
  if (!rc) return err->code;
  *out = rc;
  rc->local = clhs_calloc((size_t)w->c_count, sizeof *rc->local, err, "centre statistics");
  if (w->comm->rank == 0) {
    rc->all = clhs_calloc((size_t)w->ncentres, sizeof *rc->all, err, "centre statistics");
    rc->sorted = clhs_calloc((size_t)w->ncentres, sizeof(double), err, "centre statistics");
  }
  for (int v = 0; v < R_COUNT; v++)
    rc->buf[v] =
        clhs_calloc((size_t)record_len(&vars[v], w), dtype_size(vars[v].dtype), err, "a record");
  return err->code;
}

void clhs_records_free(clhs_records *rc) {
  if (!rc) return;
  free(rc->local);
  free(rc->all);
  free(rc->sorted);
  for (int v = 0; v < R_COUNT; v++)
    free(rc->buf[v]);
  free(rc);
}

#define F64(rc, v) ((double *)(rc)->buf[v])
#define I64(rc, v) ((int64_t *)(rc)->buf[v])
#define I8(rc, v) ((int8_t *)(rc)->buf[v])

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

/* Care outcomes from the per-centre statistics (rank 0, centre order). */
static void outcomes(clhs_records *rc, const clhs_world *w) {
  int64_t members = 0, est = 0, pat_m = 0, pat_e = 0, obs_e = 0, obs_m = 0, tr = 0, st = 0, sfr = 0,
          vis = 0, rcl = 0, esc = 0, nm = 0, relapses = 0, remw = 0, esc_rem = 0, esc_not = 0;
  double rel = 0, compl = 0;
  for (int64_t c = 0; c < w->ncentres; c++) { /* centre order: a fixed order of summation */
    const clhs_centre_stat *s = &rc->all[c];
    vis += s->visits;
    rcl += s->recalls;
    esc += s->escalations;
    relapses += s->relapses; /* counted in member centres only (src/model/care.c) */
    remw += s->remission_weeks;
    esc_rem += s->esc_remitted;
    esc_not += s->esc_not;
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
  I64(rc, R_MEMBERS)[0] = members;
  I64(rc, R_MEMBERS_EST)[0] = est;
  F64(rc, R_REM_OBS)[0] = ratio(obs_e, pat_e);
  F64(rc, R_REM_OBS_MEMBERS)[0] = ratio(obs_m, pat_m);
  F64(rc, R_REM_TRUE)[0] = ratio(tr, pat_m);
  F64(rc, R_STEROID)[0] = ratio(st, pat_m);
  F64(rc, R_SFR)[0] = ratio(sfr, pat_m);
  I64(rc, R_VISITS)[0] = vis;
  I64(rc, R_RECALLS)[0] = rcl;
  I64(rc, R_ESCALATIONS)[0] = esc;
  I64(rc, R_RELAPSES)[0] = relapses;
  I64(rc, R_REM_WEEKS)[0] = remw;
  I64(rc, R_ESC_OUT)[0] = esc_rem;
  I64(rc, R_ESC_OUT)[1] = esc_not;
  I64(rc, R_RECORDS)[0] = w->N_rec;
  F64(rc, R_REL_MEAN)[0] = members ? rel / (double)members : NAN;
  F64(rc, R_COMPL_MEAN)[0] = members ? compl / (double)members : NAN;
  F64(rc, R_CREM_MEAN)[0] = mean;
  F64(rc, R_CREM_SD)[0] = sd;
  F64(rc, R_CREM_Q10)[0] = quantile_sorted(rc->sorted, nm, 0.1);
  F64(rc, R_CREM_Q50)[0] = quantile_sorted(rc->sorted, nm, 0.5);
  F64(rc, R_CREM_Q90)[0] = quantile_sorted(rc->sorted, nm, 0.9);
}

/* The network figures from the exactly reduced integer statistics (any rank). */
static void network(clhs_records *rc, const clhs_world *w) {
  const int64_t *v = rc->ns;
  for (int ty = 0; ty < CLHS_NTYPES; ty++) {
    const int64_t n = v[CLHS_NS_COUNT + ty];
    for (int e = 0; e < CLHS_TIERS; e++)
      I64(rc, R_BY_TIER)[ty * CLHS_TIERS + e] = v[CLHS_NS_TIER + ty * CLHS_TIERS + e];
    const double scale = n > 0 ? 1.0 / (CLHS_FIXED_ONE * (double)n) : NAN;
    F64(rc, R_M_MEAN)[ty] = (double)v[CLHS_NS_M + ty] * scale;
    F64(rc, R_A_MEAN)[ty] = (double)v[CLHS_NS_A + ty] * scale;
    F64(rc, R_K_MEAN)[ty] = (double)v[CLHS_NS_K + ty] * scale;
    F64(rc, R_RL_MEAN)[ty] = (double)v[CLHS_NS_RL + ty] * scale;
    F64(rc, R_V_MEAN)[ty] = (double)v[CLHS_NS_V + ty] * scale;
    F64(rc, R_DEGREE)[ty] = ratio(v[CLHS_NS_DEGREE + ty], n);
  }
  I64(rc, R_ENGAGED)[0] = v[CLHS_NS_ENGAGED];
  for (int k = 0; k < CLHS_NRESKINDS; k++)
    I64(rc, R_CREATED)[k] = v[CLHS_NS_CREATED + k];
  I64(rc, R_IN_COMMONS)[0] = w->commons.n;
  I64(rc, R_ADOPTIONS)[0] = v[CLHS_NS_ADOPTIONS];
  I64(rc, R_COMMONS_ADOPTIONS)[0] = v[CLHS_NS_COMMONS_ADOPTIONS];
  I64(rc, R_COMMONS_USERS)[0] = w->commons_users;
  F64(rc, R_QUALITY)[0] = clhs_commons_quality_mean(w); /* an exact sum (commons.c) */
  int64_t ends = 0;
  for (int k = 0; k < CLHS_NTIEKINDS; k++) {
    I64(rc, R_TIES)[k] = v[CLHS_NS_TIE_ENDS + k] / 2; /* each tie has two ends */
    ends += v[CLHS_NS_TIE_ENDS + k];
  }
  F64(rc, R_CROSS)[0] = ratio(v[CLHS_NS_CROSS_ENDS], ends);
  for (int b = 0; b < CLHS_DEGREE_BINS; b++)
    I64(rc, R_DEGREE_HIST)[b] = v[CLHS_NS_DEGREE_HIST + b];
  F64(rc, R_EVIDENCE)[0] = w->E_tx;
}

void clhs_records_compute(clhs_records *rc, clhs_world *w) {
  clhs_world_network_stats(w, rc->ns); /* before centre_stats resets the counters */
  clhs_comm_sum_i64(w->comm, rc->ns, CLHS_NS_LEN);
  w->commons_users += rc->ns[CLHS_NS_NEW_COMMONS_USERS]; /* identical on every rank */
  clhs_world_centre_stats(w, rc->local);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_centre_stat *s = &rc->local[lc];
    F64(rc, R_C_REM_OBS)[lc] = ratio(s->obs_rem, s->patients);
    F64(rc, R_C_REM_TRUE)[lc] = ratio(s->true_rem, s->patients);
    F64(rc, R_C_STEROID)[lc] = ratio(s->steroid, s->patients);
    F64(rc, R_C_REL)[lc] = s->reliability;
    F64(rc, R_C_COMPL)[lc] = s->completeness;
    I8(rc, R_C_MEMBER)[lc] = (int8_t)s->member;
    I8(rc, R_C_EST)[lc] = (int8_t)s->established;
  }
  clhs_comm_gatherv(w->comm, rc->local, w->c_count, sizeof(clhs_centre_stat), rc->all, 0);
  ((uint64_t *)rc->buf[R_DIGEST])[0] = clhs_world_digest(w);
  if (w->comm->rank != 0) return;
  outcomes(rc, w);
  network(rc, w);
}

int clhs_records_write(clhs_records *rc, clhs_output *out, const clhs_world *w, clhs_error *err) {
  return clhs_output_append(out, 7.0 * (double)w->step, (const void *const *)rc->buf, err);
}

double clhs_records_remission_observed(const clhs_records *rc) {
  return F64(rc, R_REM_OBS)[0];
}
int64_t clhs_records_members(const clhs_records *rc) {
  return I64(rc, R_MEMBERS)[0];
}
int64_t clhs_records_engaged(const clhs_records *rc) {
  return I64(rc, R_ENGAGED)[0];
}
int64_t clhs_records_commons_users(const clhs_records *rc) {
  return I64(rc, R_COMMONS_USERS)[0];
}
uint64_t clhs_records_digest(const clhs_records *rc) {
  return ((const uint64_t *)rc->buf[R_DIGEST])[0];
}
