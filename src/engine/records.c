/*
 * The /timeseries variables (MODEL.md §11) and how a record is formed.
 *
 * Three sources, each independent of the decomposition:
 *  - per-centre statistics (integer counts and the centre's own state), written by each
 *    rank for its block; the network-wide outcomes are exact integer sums of them (ratios
 *    per centre in 2^-32 fixed point), reduced over ranks, and the quantiles across centres
 *    an exact distributed selection (a few reductions of a fixed-size histogram): nothing
 *    per centre goes to one rank;
 *  - network statistics as integers (counts, and sums of values in [0, 1] in 2^-24 fixed
 *    point), reduced exactly over ranks;
 *  - network-wide scalars that every rank holds identically (the commons' count and totals,
 *    evidence, the state digest).
 */
#include "records.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const tier_labels[CLHS_TIERS] = {"unaware", "aware", "participant",
                                                    "contributor", "leader"};
static const char *const tie_labels[CLHS_NTIEKINDS] = {"care", "peer", "event", "online"};
static const char *const res_labels[CLHS_NRESKINDS] = {"information", "knowledge", "tool"};
/* CF flag_meanings words: letters, digits and '_' only. */
static const char *const deg_labels[CLHS_DEGREE_BINS] = {
    "0",        "1",         "2_to_3",     "4_to_7",     "8_to_15",     "16_to_31",
    "32_to_63", "64_to_127", "128_to_255", "256_to_511", "512_to_1023", "ge_1024"};

#define D_CENTRE                                                                                   \
  { "centre", 1, 0, NULL, "care centre index" }
#define D_TYPE                                                                                     \
  { "type", 0, CLHS_NTYPES, clhs_type_names, "agent type" }
#define D_TIER                                                                                     \
  { "tier", 0, CLHS_TIERS, tier_labels, "engagement tier" }
#define D_TIEKIND                                                                                  \
  { "tie_kind", 0, CLHS_NTIEKINDS, tie_labels, "kind of tie" }
#define D_RESKIND                                                                                  \
  { "resource_kind", 0, CLHS_NRESKINDS, res_labels, "kind of resource" }
static const char *const esc_labels[2] = {"remitted", "not_remitted"};
#define D_ESCOUT                                                                                   \
  { "outcome", 0, 2, esc_labels, "escalation outcome (12 weeks)" }
#define D_DEGBIN                                                                                   \
  { "degree_bin", 0, CLHS_DEGREE_BINS, deg_labels, "degree bin" }
/* V<ndims>(name, long_name, comment, units, dtype, sum, axes...): long_name is a short label
 * (plots use it on their axes), comment the full description (NULL: the long_name says it
 * all); sum: 1 for counts of events over the interval since the previous record (CF
 * cell_methods "time: sum"). */
#define V0(nm, ln, cm, un, ty, sum)                                                                \
  { nm, ln, un, ty, 0, {{0}}, cm, sum }
#define V1(nm, ln, cm, un, ty, sum, d0)                                                            \
  { nm, ln, un, ty, 1, {d0}, cm, sum }
#define V2(nm, ln, cm, un, ty, sum, d0, d1)                                                        \
  { nm, ln, un, ty, 2, {d0, d1}, cm, sum }

enum {
  /* network-wide scalars */
  R_MEMBERS,
  R_MEMBERS_EST,
  R_REM_OBS,
  R_REM_OBS_MEMBERS,
  R_REM_TRUE,
  R_REM_OBS_ALL,
  R_REM_TRUE_ALL,
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
    V0("members", "member centres", NULL, "1", CLHS_I64, 0),
    V0("members_established", "established members",
       "member centres that joined at least output.established_weeks ago", "1", CLHS_I64, 0),
    V0("remission_observed", "observed remission",
       "share of patients whose last physician global assessment is remission, established member "
       "centres",
       "1", CLHS_F64, 0),
    V0("remission_observed_members", "observed remission, members",
       "share of patients whose last physician global assessment is remission, all member centres",
       "1", CLHS_F64, 0),
    V0("remission_true", "true remission", "share of patients in true remission, member centres",
       "1", CLHS_F64, 0),
    V0("remission_observed_all", "observed remission, all centres",
       "share of patients whose last physician global assessment is remission, all centres "
       "(members or not)",
       "1", CLHS_F64, 0),
    V0("remission_true_all", "true remission, all centres",
       "share of patients in true remission, all centres (members or not)", "1", CLHS_F64, 0),
    V0("steroid_use", "steroid use", "share of patients on a steroid course, member centres", "1",
       CLHS_F64, 0),
    V0("steroid_free_remission", "steroid-free remission",
       "share of patients in true remission and not on steroids, member centres", "1", CLHS_F64, 0),
    V0("visits", "clinic visits", "clinic visits since the previous record, all centres", "1",
       CLHS_I64, 1),
    V0("recalls", "recalls", "population-management recalls since the previous record", "1",
       CLHS_I64, 1),
    V0("escalations", "escalations", "treatment escalations since the previous record", "1",
       CLHS_I64, 1),
    V0("relapses", "relapses",
       "relapses (true remission to active) since the previous record, member centres", "1",
       CLHS_I64, 1),
    V0("remission_weeks", "patient-weeks in remission",
       "patient-weeks in true remission since the previous record, member centres (annual relapse "
       "probability = 1 - exp(-52 relapses / remission_weeks))",
       "1", CLHS_I64, 1),
    V1("escalation_outcomes", "escalation outcomes",
       "escalations of truly active patients in member centres whose 12-week window closed since "
       "the previous record, by outcome",
       "1", CLHS_I64, 1, D_ESCOUT),
    V0("registry_records", "registry records", "registry records written since the start (N_rec)",
       "1", CLHS_I64, 0),
    V0("reliability_mean", "mean reliability",
       "mean process reliability r_c over member centres (each r_c on a 2^-32 grid, summed "
       "exactly)",
       "1", CLHS_F64, 0),
    V0("completeness_mean", "mean completeness",
       "mean registry completeness d_c over member centres (each d_c on a 2^-32 grid, summed "
       "exactly)",
       "1", CLHS_F64, 0),
    V0("centre_remission_mean", "centre remission, mean",
       "mean over member centres with patients of the centre's observed remission (each on a 2^-32 "
       "grid, summed exactly)",
       "1", CLHS_F64, 0),
    V0("centre_remission_sd", "centre remission, SD",
       "standard deviation over member centres with patients of observed remission (each on a "
       "2^-32 grid, exact integer sums)",
       "1", CLHS_F64, 0),
    V0("centre_remission_q10", "centre remission, 10th pct",
       "10th percentile over member centres of observed remission", "1", CLHS_F64, 0),
    V0("centre_remission_q50", "centre remission, median",
       "median over member centres of observed remission", "1", CLHS_F64, 0),
    V0("centre_remission_q90", "centre remission, 90th pct",
       "90th percentile over member centres of observed remission", "1", CLHS_F64, 0),
    V0("state_digest", "state digest", "64-bit digest of the whole simulation state", "1", CLHS_U64,
       0),
    V1("centre_remission_observed", "observed remission",
       "share of the centre's patients whose last PGA is remission", "1", CLHS_F64, 0, D_CENTRE),
    V1("centre_remission_true", "true remission",
       "share of the centre's patients in true remission", "1", CLHS_F64, 0, D_CENTRE),
    V1("centre_steroid_use", "steroid use", "share of the centre's patients on steroids", "1",
       CLHS_F64, 0, D_CENTRE),
    V1("centre_reliability", "process reliability", "process reliability r_c", "1", CLHS_F64, 0,
       D_CENTRE),
    V1("centre_completeness", "registry completeness", "registry completeness d_c", "1", CLHS_F64,
       0, D_CENTRE),
    V1("centre_member", "member", "1 if the centre is a network member", "1", CLHS_I8, 0, D_CENTRE),
    V1("centre_established", "established member", "1 if the centre is an established member", "1",
       CLHS_I8, 0, D_CENTRE),
    V2("agents_by_tier", "agents", "agents by type and engagement tier", "1", CLHS_I64, 0, D_TYPE,
       D_TIER),
    V0("engaged_core", "engaged core",
       "agents with engagement tier E >= 3 (contributors and leaders)", "1", CLHS_I64, 0),
    V1("motivation_mean", "mean motivation", "mean motivation m by agent type", "1", CLHS_F64, 0,
       D_TYPE),
    V1("autonomy_mean", "mean autonomy", "mean autonomy satisfaction A by agent type", "1",
       CLHS_F64, 0, D_TYPE),
    V1("competence_mean", "mean competence", "mean competence satisfaction K by agent type", "1",
       CLHS_F64, 0, D_TYPE),
    V1("relatedness_mean", "mean relatedness", "mean relatedness satisfaction Rl by agent type",
       "1", CLHS_F64, 0, D_TYPE),
    V1("value_mean", "mean perceived value", "mean perceived value V by agent type", "1", CLHS_F64,
       0, D_TYPE),
    V1("resources_created", "resources created",
       "resources created since the previous record, by kind", "1", CLHS_I64, 1, D_RESKIND),
    V0("resources_in_commons", "resources in the commons",
       "resources posted to the commons since the start", "1", CLHS_I64, 0),
    V0("adoptions", "adoptions", "resource adoptions since the previous record", "1", CLHS_I64, 1),
    V0("commons_adoptions", "commons adoptions",
       "adoptions of resources found in the commons since the previous record", "1", CLHS_I64, 1),
    V0("commons_users", "commons users",
       "distinct agents that have adopted from the commons since the start", "1", CLHS_I64, 0),
    V0("resource_quality_mean", "mean resource quality",
       "mean current quality v of the resources in the commons", "1", CLHS_F64, 0),
    V1("ties", "ties", "ties by kind (undirected; care ties included)", "1", CLHS_I64, 0,
       D_TIEKIND),
    V0("cross_centre_share", "cross-centre ties",
       "share of all ties (care included) that join two centres", "1", CLHS_F64, 0),
    V1("mean_degree", "mean degree", "mean number of ties of an agent (every kind), by type", "1",
       CLHS_F64, 0, D_TYPE),
    V1("degree_hist", "agents by degree", "agents by degree (every kind of tie), log-spaced bins",
       "1", CLHS_I64, 0, D_DEGBIN),
    V0("evidence", "evidence level", "network-wide evidence level E_tx", "1", CLHS_F64, 0),
};

const clhs_out_var *clhs_records_vars(int *nvars) {
  *nvars = R_COUNT;
  return vars;
}

void clhs_records_write_markdown(FILE *out) {
  static const char *const tn[] = {"float64", "int64", "uint64", "int8"};
  fprintf(out, "| variable | axes | type | units | long_name | meaning |\n"
               "|---|---|---|---|---|---|\n");
  fprintf(out, "| `time` | time | float64 | days since `run.start_date` | simulated time | "
               "simulated date of the record (the end of its step); `bounds = \"time_bnds\"` |\n");
  fprintf(out,
          "| `time_bnds` | time, nv | float64 | (those of `time`) | | the interval each record "
          "covers: the previous record's time and its own (the first record: its own time "
          "twice) |\n");
  fprintf(out, "| `centre_time` | centre_time | float64 | days since `run.start_date` | simulated "
               "time of the per-centre records | simulated date of a record of the per-centre "
               "series (every `output.centre_every` steps from step 0; absent when it is 0) |\n");
  for (int v = 0; v < R_COUNT; v++) {
    int per_centre = 0;
    for (int d = 0; d < vars[v].ndims; d++)
      per_centre |= vars[v].dims[d].distributed;
    fprintf(out, "| `%s` | %s", vars[v].name, per_centre ? "centre_time" : "time");
    for (int d = 0; d < vars[v].ndims; d++)
      fprintf(out, ", %s", vars[v].dims[d].name);
    fprintf(out, " | %s | %s | %s | %s%s |\n", tn[vars[v].dtype], vars[v].units, vars[v].long_name,
            vars[v].comment ? vars[v].comment : vars[v].long_name,
            vars[v].interval_sum ? " (`cell_methods = \"time: sum\"`)" : "");
  }
  fprintf(out, "\nCoordinates of the other axes (a labelled one also has the label variable "
               "`<axis>_name`, its names as text):\n\n| axis | values |\n|---|---|\n");
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
  clhs_centre_stat *local;
  double *crem;       /* this rank's member centres' observed remission (quantiles) */
  int64_t *red;       /* network statistics, then the outcome sums (one exact reduction) */
  int64_t *hist;      /* the selection's histogram: SEL_TARGETS x SEL_BINS */
  void *buf[R_COUNT]; /* one record of each variable (this rank's block for centre axes) */
  int64_t *ns;        /* = red: the network statistics, CLHS_NS_LEN */
};

/* The care outcomes' sums, reduced exactly after the network statistics (O_ offsets). */
enum {
  O_VIS,
  O_RCL,
  O_ESC,
  O_RELAPSES,
  O_REMW,
  O_ESC_REM,
  O_ESC_NOT,
  O_MEMBERS,
  O_EST,
  O_PAT_M,
  O_PAT_E,
  O_OBS_M,
  O_OBS_E,
  O_TRUE,
  O_STEROID,
  O_SFR,
  O_PAT_ALL, /* every centre, member or not */
  O_OBS_ALL,
  O_TRUE_ALL,
  O_NM,       /* member centres with patients: the centres of the spread */
  O_REL,      /* sum of r_c in CLHS_OUT_FIX fixed point */
  O_COMPL,    /* sum of d_c, fixed point */
  O_CREM_S1,  /* sum of the observed remission X_c (fixed point) */
  O_CREM_S2L, /* sum of X_c^2, low 32 bits of each term */
  O_CREM_S2H, /* sum of X_c^2, the rest of each term (>> 32) */
  O_LEN
};

/* Per-centre ratios in [0, 1] are summed as integers on a 2^-32 grid: with at most
 * 2^31 - 1 centres (population.centres) a sum of them stays below 2^63, and the squares are
 * summed in two 32-bit limbs, so the sums are exact and independent of the order. */
#define CLHS_OUT_FIX_BITS 32

/* Exact distributed selection of the quantiles (SEL_BITS bits of the key per round). 4 bits:
 * 16 reductions of 6 x 16 int64 (768 bytes) per record, 12 KiB in all; 8 bits took 8
 * reductions but 96 KiB per record, 30 times the rest of a step's traffic at 2 ranks. */
#define SEL_BITS 4
#define SEL_BINS (1 << SEL_BITS)
#define SEL_TARGETS 6 /* q10, q50, q90: the order statistics lo and lo + 1 of each */

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
  rc->crem = clhs_calloc((size_t)w->c_count, sizeof(double), err, "centre statistics");
  rc->red = clhs_calloc(CLHS_NS_LEN + O_LEN, sizeof(int64_t), err, "the record's sums");
  rc->hist = clhs_calloc(SEL_TARGETS * SEL_BINS, sizeof(int64_t), err, "the quantiles");
  rc->ns = rc->red;
  for (int v = 0; v < R_COUNT; v++)
    rc->buf[v] =
        clhs_calloc((size_t)record_len(&vars[v], w), dtype_size(vars[v].dtype), err, "a record");
  return err->code;
}

void clhs_records_free(clhs_records *rc) {
  if (!rc) return;
  free(rc->local);
  free(rc->crem);
  free(rc->red);
  free(rc->hist);
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

/* x in [0, 1] on the 2^-32 grid (exact for a float >= 2^-9). */
static int64_t fixed32(double x) {
  return (int64_t)llround(ldexp(x, CLHS_OUT_FIX_BITS));
}

/* Order-preserving key of a value >= 0 (the ratios here): its bits. */
static uint64_t key_of(double x) {
  uint64_t k;
  memcpy(&k, &x, sizeof k);
  return k;
}

/*
 * The values of rank targets[t] (0-based, ascending order) among the n values of every
 * rank's crem[] (collective): SEL_BITS bits of the key per round, one reduction of a
 * SEL_TARGETS x SEL_BINS histogram per round (64 / SEL_BITS rounds), whatever the number of
 * ranks and centres. Exact: the result is the value the sorted array holds at that rank.
 */
static void select_ranks(clhs_records *rc, const clhs_world *w, const int64_t *targets, int nt,
                         double *values) {
  uint64_t prefix[SEL_TARGETS] = {0};
  int64_t below[SEL_TARGETS] = {0}; /* values whose key is below the prefix's range */
  for (int known = 0; known < 64; known += SEL_BITS) {
    const int shift = 64 - known - SEL_BITS;
    memset(rc->hist, 0, sizeof(int64_t) * SEL_TARGETS * SEL_BINS);
    for (int64_t k = 0; k < w->c_count; k++) {
      if (!(rc->crem[k] >= 0)) continue; /* not a member centre with patients */
      const uint64_t key = key_of(rc->crem[k]);
      for (int t = 0; t < nt; t++)
        if (known == 0 || (key >> (64 - known)) == (prefix[t] >> (64 - known)))
          rc->hist[t * SEL_BINS + (int)((key >> shift) & (SEL_BINS - 1))]++;
    }
    clhs_comm_sum_i64(w->comm, rc->hist, nt * SEL_BINS);
    for (int t = 0; t < nt; t++) {
      int64_t cum = below[t];
      int b = 0;
      while (b < SEL_BINS - 1 && cum + rc->hist[t * SEL_BINS + b] <= targets[t])
        cum += rc->hist[t * SEL_BINS + b++];
      below[t] = cum;
      prefix[t] |= (uint64_t)b << shift;
    }
  }
  for (int t = 0; t < nt; t++)
    memcpy(&values[t], &prefix[t], sizeof(double));
}

/* Quantile with linear interpolation between order statistics (R's type 7), as
 * quantile_sorted over the sorted values would give it: the order statistics lo and lo + 1
 * of the three quantiles found together by one selection. */
static void quantiles(clhs_records *rc, const clhs_world *w, int64_t n, const double *q,
                      double *out) {
  int64_t targets[SEL_TARGETS];
  double h[3], v[SEL_TARGETS];
  int64_t lo[3];
  for (int j = 0; j < 3; j++) {
    h[j] = (double)(n - 1) * q[j];
    lo[j] = (int64_t)floor(h[j]);
    targets[2 * j] = lo[j] < n - 1 ? lo[j] : n - 1;
    targets[2 * j + 1] = lo[j] + 1 < n - 1 ? lo[j] + 1 : n - 1;
  }
  select_ranks(rc, w, targets, SEL_TARGETS, v);
  for (int j = 0; j < 3; j++)
    out[j] =
        lo[j] >= n - 1 ? v[2 * j] : v[2 * j] + (h[j] - (double)lo[j]) * (v[2 * j + 1] - v[2 * j]);
}

__extension__ typedef unsigned __int128 clhs_u128;

/* This rank's part of the care outcomes' sums (its block of centres). */
static void outcome_sums(clhs_records *rc, const clhs_world *w) {
  int64_t *o = rc->red + CLHS_NS_LEN;
  memset(o, 0, sizeof(int64_t) * O_LEN);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_centre_stat *s = &rc->local[lc];
    rc->crem[lc] = -1; /* not in the spread */
    o[O_VIS] += s->visits;
    o[O_RCL] += s->recalls;
    o[O_ESC] += s->escalations;
    o[O_RELAPSES] += s->relapses; /* counted in member centres only (src/model/care.c) */
    o[O_REMW] += s->remission_weeks;
    o[O_ESC_REM] += s->esc_remitted;
    o[O_ESC_NOT] += s->esc_not;
    o[O_PAT_ALL] += s->patients;
    o[O_OBS_ALL] += s->obs_rem;
    o[O_TRUE_ALL] += s->true_rem;
    if (!s->member) continue;
    o[O_MEMBERS]++;
    o[O_PAT_M] += s->patients;
    o[O_OBS_M] += s->obs_rem;
    o[O_TRUE] += s->true_rem;
    o[O_STEROID] += s->steroid;
    o[O_SFR] += s->steroid_free_rem;
    o[O_REL] += fixed32(s->reliability);
    o[O_COMPL] += fixed32(s->completeness);
    if (s->patients > 0) {
      const double x = (double)s->obs_rem / (double)s->patients;
      const int64_t X = fixed32(x);
      const clhs_u128 sq = (clhs_u128)X * (clhs_u128)X; /* <= 2^64: two 32-bit limbs */
      o[O_NM]++;
      o[O_CREM_S1] += X;
      o[O_CREM_S2L] += (int64_t)(sq & 0xffffffffu);
      o[O_CREM_S2H] += (int64_t)(sq >> 32);
      rc->crem[lc] = x;
    }
    if (s->established) {
      o[O_EST]++;
      o[O_PAT_E] += s->patients;
      o[O_OBS_E] += s->obs_rem;
    }
  }
}

/* Care outcomes from the reduced sums (every rank; collective for the quantiles). */
static void outcomes(clhs_records *rc, const clhs_world *w) {
  const int64_t *o = rc->red + CLHS_NS_LEN;
  const int64_t members = o[O_MEMBERS], nm = o[O_NM];
  const double one = ldexp(1.0, CLHS_OUT_FIX_BITS);
  double mean = NAN, sd = NAN, q[3] = {NAN, NAN, NAN};
  if (nm > 0) {
    /* Exact integers: S1 = sum X, S2 = sum X^2, n S2 - S1^2 = n (n - 1) var 2^64. */
    const clhs_u128 s1 = (clhs_u128)o[O_CREM_S1];
    const clhs_u128 s2 = ((clhs_u128)o[O_CREM_S2H] << 32) + (clhs_u128)o[O_CREM_S2L];
    mean = (double)o[O_CREM_S1] / (double)nm / one;
    if (nm > 1) {
      const clhs_u128 num = (clhs_u128)nm * s2 - s1 * s1;
      sd = sqrt((double)num / ((double)nm * (double)(nm - 1)) / one / one);
    } else {
      sd = 0.0;
    }
    static const double qs[3] = {0.1, 0.5, 0.9};
    quantiles(rc, w, nm, qs, q);
  }
  I64(rc, R_MEMBERS)[0] = members;
  I64(rc, R_MEMBERS_EST)[0] = o[O_EST];
  F64(rc, R_REM_OBS)[0] = ratio(o[O_OBS_E], o[O_PAT_E]);
  F64(rc, R_REM_OBS_MEMBERS)[0] = ratio(o[O_OBS_M], o[O_PAT_M]);
  F64(rc, R_REM_TRUE)[0] = ratio(o[O_TRUE], o[O_PAT_M]);
  F64(rc, R_REM_OBS_ALL)[0] = ratio(o[O_OBS_ALL], o[O_PAT_ALL]);
  F64(rc, R_REM_TRUE_ALL)[0] = ratio(o[O_TRUE_ALL], o[O_PAT_ALL]);
  F64(rc, R_STEROID)[0] = ratio(o[O_STEROID], o[O_PAT_M]);
  F64(rc, R_SFR)[0] = ratio(o[O_SFR], o[O_PAT_M]);
  I64(rc, R_VISITS)[0] = o[O_VIS];
  I64(rc, R_RECALLS)[0] = o[O_RCL];
  I64(rc, R_ESCALATIONS)[0] = o[O_ESC];
  I64(rc, R_RELAPSES)[0] = o[O_RELAPSES];
  I64(rc, R_REM_WEEKS)[0] = o[O_REMW];
  I64(rc, R_ESC_OUT)[0] = o[O_ESC_REM];
  I64(rc, R_ESC_OUT)[1] = o[O_ESC_NOT];
  I64(rc, R_RECORDS)[0] = w->N_rec;
  F64(rc, R_REL_MEAN)[0] = members ? (double)o[O_REL] / (double)members / one : NAN;
  F64(rc, R_COMPL_MEAN)[0] = members ? (double)o[O_COMPL] / (double)members / one : NAN;
  F64(rc, R_CREM_MEAN)[0] = mean;
  F64(rc, R_CREM_SD)[0] = sd;
  F64(rc, R_CREM_Q10)[0] = q[0];
  F64(rc, R_CREM_Q50)[0] = q[1];
  F64(rc, R_CREM_Q90)[0] = q[2];
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
  outcome_sums(rc, w);
  clhs_comm_sum_i64(w->comm, rc->red, CLHS_NS_LEN + O_LEN); /* one exact reduction */
  w->commons_users += rc->ns[CLHS_NS_NEW_COMMONS_USERS];    /* identical on every rank */
  outcomes(rc, w); /* every rank: the quantiles' selection is collective */
  ((uint64_t *)rc->buf[R_DIGEST])[0] = clhs_world_digest(w);
  if (w->comm->rank != 0) return;
  network(rc, w);
}

int clhs_records_write(clhs_records *rc, clhs_output *out, const clhs_world *w, clhs_error *err) {
  /* The per-centre series every output.centre_every steps (a multiple of output.every: a
   * subset of the records), step 0 included; not at a last step that is not a multiple (a
   * run continued to more steps from its checkpoint there would not have it). */
  const int64_t ce = clhs_config_centre_every(w->cfg);
  const int centres = ce > 0 && w->step % ce == 0;
  return clhs_output_append_record(out, 7.0 * (double)w->step, (const void *const *)rc->buf,
                                   centres, err);
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
