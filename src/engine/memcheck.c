/*
 * The memory estimate before a run (include/clhs/memcheck.h): one rank's estimated peak,
 * what a node offers the job, and the check that refuses a run that cannot fit.
 *
 * Nodes: every rank contributes one record (a hash of its host name, its estimate, what it
 * holds now and what its node offers) to one allgather at start (a few integers per rank);
 * each rank sums the records of its own host. If the host names do not separate the nodes
 * as the MPI runtime does (comm->local_size ranks per shared-memory domain), a node's sum is
 * taken as local_size times the largest estimate.
 */
#define _GNU_SOURCE /* getline, strtoll */
#include "clhs/memcheck.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clhs/model.h"
#include "records.h"

/* ------------------------------------------------------------ reading /proc and /sys */

/* The value of "Key:  1234 kB" in a /proc file, in bytes; -1 if absent. */
static int64_t proc_kb(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[512];
  const size_t kl = strlen(key);
  int64_t v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      long long x = 0;
      if (sscanf(line + kl + 1, "%lld", &x) == 1) v = (int64_t)x * 1024;
      break;
    }
  fclose(f);
  return v;
}

/* The first integer in a file ("max" and values >= 2^60 mean no limit: -1); -2 if absent. */
static int64_t file_i64(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -2;
  char buf[64] = "";
  const int ok = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  if (!ok) return -2;
  if (strncmp(buf, "max", 3) == 0) return -1;
  char *end = NULL;
  long long x = strtoll(buf, &end, 10);
  if (end == buf) return -2;
  return x >= (1LL << 60) ? -1 : (int64_t)x;
}

/* "key value" from a cgroup memory.stat; 0 if absent. */
static int64_t stat_key(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  const size_t kl = strlen(key);
  int64_t v = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
      v = (int64_t)strtoll(line + kl + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Does the comma-separated list @p list hold @p word? */
static int has_word(const char *list, const char *word) {
  const size_t wl = strlen(word);
  for (const char *p = list; p && *p;) {
    const char *e = strchr(p, ',');
    const size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == wl && strncmp(p, word, wl) == 0) return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

/*
 * The mount point and mount root of the memory cgroup hierarchy of @p version (2: cgroup2;
 * 1: a cgroup mount with the memory controller) from mountinfo; 0 if none.
 */
static int find_mount(const char *root, int version, char *mnt, size_t mlen, char *mroot,
                      size_t rlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/proc/self/mountinfo", root);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0;
  int found = 0;
  while (!found && getline(&line, &cap, f) > 0) {
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    char r[1024], m[1024], fstype[64], src[256], opts[1024] = "";
    if (sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2) continue;
    if (sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) < 2) continue;
    if ((version == 2 && strcmp(fstype, "cgroup2") == 0) ||
        (version == 1 && strcmp(fstype, "cgroup") == 0 && has_word(opts, "memory"))) {
      snprintf(mnt, mlen, "%s", m);
      snprintf(mroot, rlen, "%s", r);
      found = 1;
    }
  }
  free(line);
  fclose(f);
  return found;
}

/* This process's cgroup path in hierarchy @p version (from /proc/self/cgroup); 0 if none. */
static int find_cgroup(const char *root, int version, char *out, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0;
  int found = 0;
  while (!found && getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = '\0';
    const char *ctrl = c1 + 1;
    if ((version == 2 && strcmp(line, "0") == 0 && *ctrl == '\0') ||
        (version == 1 && has_word(ctrl, "memory"))) {
      snprintf(out, len, "%s", c2 + 1);
      found = 1;
    }
  }
  free(line);
  fclose(f);
  return found;
}

/* The tightest limit of one hierarchy: every level from the process's cgroup up to the
 * mount's root; the level that leaves the least (limit - usage) wins. */
static void cgroup_scan(const char *root, int version, clhs_mem_avail *a) {
  char mnt[1024], mroot[1024], cg[2048];
  if (!find_mount(root, version, mnt, sizeof mnt, mroot, sizeof mroot)) return;
  if (!find_cgroup(root, version, cg, sizeof cg)) return;
  const char *rel = cg;
  const size_t rl = strlen(mroot);
  if (strcmp(mroot, "/") != 0 && strncmp(cg, mroot, rl) == 0) rel = cg + rl;
  char base[4096], dir[8192];
  snprintf(base, sizeof base, "%s%s", root, mnt);
  snprintf(dir, sizeof dir, "%s%s", base, rel);
  if (!is_dir(dir)) snprintf(dir, sizeof dir, "%s", base); /* a cgroup namespace's root */
  const char *limf = version == 2 ? "memory.max" : "memory.limit_in_bytes";
  const char *usef = version == 2 ? "memory.current" : "memory.usage_in_bytes";
  const char *inact = version == 2 ? "inactive_file" : "total_inactive_file";
  const size_t bl = strlen(base);
  for (;;) {
    char p[8300];
    snprintf(p, sizeof p, "%s/%s", dir, limf);
    const int64_t lim = file_i64(p);
    if (lim >= 0) {
      snprintf(p, sizeof p, "%s/%s", dir, usef);
      int64_t use = file_i64(p);
      if (use < 0) use = 0;
      snprintf(p, sizeof p, "%s/memory.stat", dir);
      const int64_t cache = stat_key(p, inact); /* reclaimable file cache */
      use = use > cache ? use - cache : 0;
      if (a->cgroup_version == 0 || lim - use < a->cgroup_limit - a->cgroup_usage) {
        a->cgroup_limit = lim;
        a->cgroup_usage = use;
        a->cgroup_version = version;
      }
    }
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) < bl) break;
    *slash = '\0';
  }
}

int64_t clhs_memory_parse_size(const char *s) {
  if (!s) return -1;
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s) && *s != '.') return -1;
  char *end = NULL;
  const double x = strtod(s, &end);
  if (end == s || !(x >= 0)) return -1;
  double mult = 1;
  switch (toupper((unsigned char)*end)) {
  case 'K': mult = 1024.0; break;
  case 'M': mult = 1024.0 * 1024; break;
  case 'G': mult = 1024.0 * 1024 * 1024; break;
  case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
  default: mult = 0;
  }
  if (mult > 0) {
    end++;
    if (toupper((unsigned char)*end) == 'I') end++; /* KiB, MiB, ... */
    if (toupper((unsigned char)*end) == 'B') end++;
  } else {
    mult = 1;
    if (toupper((unsigned char)*end) == 'B') end++;
  }
  while (isspace((unsigned char)*end))
    end++;
  if (*end != '\0') return -1;
  const double v = x * mult;
  if (!(v < 9.0e18)) return -1;
  return (int64_t)v;
}

int clhs_memory_available(const char *root, clhs_mem_avail *a, clhs_error *err) {
  memset(a, 0, sizeof *a);
  a->mem_available = a->cgroup_limit = a->cgroup_usage = -1;
  a->rlimit_as = a->rlimit_data = a->env_limit = -1;
  if (!root) root = "";
  char path[4096];
  snprintf(path, sizeof path, "%s/proc/meminfo", root);
  a->mem_available = proc_kb(path, "MemAvailable");
  snprintf(path, sizeof path, "%s/proc/self/status", root);
  a->vm_size = proc_kb(path, "VmSize");
  a->vm_data = proc_kb(path, "VmData");
  a->vm_rss = proc_kb(path, "VmRSS");
  a->cgroup_limit = a->cgroup_usage = 0;
  cgroup_scan(root, 2, a);
  cgroup_scan(root, 1, a);
  if (a->cgroup_version == 0) a->cgroup_limit = a->cgroup_usage = -1;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    a->rlimit_as = (int64_t)rl.rlim_cur;
  if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    a->rlimit_data = (int64_t)rl.rlim_cur;
  const char *env = getenv("CLHS_MEMORY_LIMIT");
  if (env && *env) {
    a->env_limit = clhs_memory_parse_size(env);
    if (a->env_limit < 0)
      return clhs_error_set(err, CLHS_EINPUT,
                            "CLHS_MEMORY_LIMIT='%s' is not a size: give bytes, or a number with "
                            "K, M, G or T (powers of 1024), e.g. 8G",
                            env);
  }
  return CLHS_OK;
}

/* ------------------------------------------------------------ the estimate */

static int64_t self_rss(void) {
  const int64_t r = proc_kb("/proc/self/status", "VmRSS");
  return r > 0 ? r : 0;
}

static int checkpoints_configured(const clhs_config *cfg) {
  return cfg->checkpoint.every > 0 || cfg->checkpoint.wall > 0 || cfg->run.max_wall_time > 0;
}

void clhs_memory_estimate(const clhs_config *cfg, const clhs_comm *comm, const clhs_mem_block *b,
                          int64_t rss_now, clhs_mem_estimate *e) {
  memset(e, 0, sizeof *e);
  if (rss_now <= 0) rss_now = self_rss();
  const double n = (double)b->n, N = (double)b->nagents, C = (double)b->ncentres;
  const double nc = (double)b->c_count, hm = (double)cfg->resources.held_max;
  const double S = (double)cfg->run.steps;
  const int P = comm->size;

  e->process = rss_now + CLHS_MEM_LIBS + CLHS_MEM_PER_PEER * (P - 1);
  e->world =
      clhs_memory_world_bytes(cfg, b) + (int64_t)comm->threads * 8 * (int64_t)sizeof(int64_t);
  /* The ranks' first global ids [P + 1]: nothing per centre (src/model/world.c). The
   * records gather nothing per centre either: sums are reduced and the quantiles selected
   * with fixed-size histograms (src/engine/records.c). */
  e->replicated = 8 * ((int64_t)P + 1);

  /* Ties: 12 bytes an end; tables keep up to an eighth (+ 8 ends) of slack per centre. */
  double cross_pa = 0;
  const double ends = clhs_memory_tie_ends_per_agent(cfg, S, &cross_pa) * n;
  e->ties = (int64_t)(12 * (1.05 * ends + 8 * nc));
  /* Tie ends whose other end is on another rank: event and online ties join centres (about
   * half of their ends join different centres) and, from 2 ranks on, nearly all of those
   * cross ranks (2 ranks, 10^6 agents, network_on, 730 weeks: 596,914 of 2.51 million ends,
   * for 1.19 million event and online ends). The halo holds the distinct remote neighbours,
   * about a sixth of them (event partners are drawn in proportion to degree: hubs): m, E,
   * the held list and its qualities, with a quarter of slack. */
  const double remote = P > 1 && N > n ? 0.55 * cross_pa * n : 0;
  const double nh = 0.2 * remote;
  const double halo_rec = 4 + 1 + hm * 10;
  e->halo = (int64_t)(1.25 * nh * (8 + halo_rec));
  /* Resources: network_on creates about 6e-4 per agent-week late in a run (13,036 by week
   * 730, 77,386 by week 2,500 for 58,140 agents), 16 bytes each with half again of slack;
   * about half of them are posted to the commons, which stays on the creator's rank: its
   * index lists each of this rank's posted resources (row and running sum: 16 bytes, half
   * again of slack), plus the ranks' prefix of totals (4 (P + 1) integers). Scaled by the
   * creation rates and the posting probability. */
  const double *rt = cfg->resources.rate;
  double sigma = fmax(fmax(rt[0] / 0.02, rt[1] / 0.02), fmax(rt[2] / 0.02, rt[3] / 0.05));
  sigma = fmax(sigma, cfg->resources.research_rate / 0.01);
  const double post = cfg->resources.p_post / 0.6 * fmax(cfg->levers[CLHS_LEV_COMMONS].max, 0);
  const double nres = 6e-4 * sigma * S * n;
  e->resources = (int64_t)(24 * nres);
  const double ncom = 3e-4 * sigma * post * S * n;
  e->commons = (int64_t)(ncom * 16 * 1.5 + 32.0 * (P + 1));

  /* Output: the records' one record and the output's batch of 64 records of every
   * variable (centre-distributed ones for this rank's block on every rank, in their own
   * batch of per-centre records; the others on rank 0), and the per-centre statistics of
   * this rank's block. */
  {
    int nv = 0;
    const clhs_out_var *vars = clhs_records_vars(&nv);
    double out = nc * ((double)sizeof(clhs_centre_stat) + 8); /* + the block's ratios */
    /* A batch's pages are touched as records fill it: a run of fewer records than a
     * batch touches that many. */
    const int64_t every = cfg->output.every > 0 ? cfg->output.every : 1;
    const int64_t nrec = 1 + cfg->run.steps / every + (cfg->run.steps % every != 0);
    const double batch = nrec < 64 ? (double)nrec : 64;
    /* The per-centre variables' own batch (output.centre_every; none when it is 0). */
    const int64_t ce = clhs_config_centre_every(cfg);
    const int64_t ncrec = ce > 0 ? 1 + cfg->run.steps / ce : 0;
    const double cbatch = ncrec < 64 ? (double)ncrec : 64;
    for (int v = 0; v < nv; v++) {
      double elems = 1;
      int distributed = 0;
      for (int d = 0; d < vars[v].ndims; d++) {
        if (vars[v].dims[d].distributed) {
          elems *= nc;
          distributed = 1;
        } else {
          elems *= (double)vars[v].dims[d].len;
        }
      }
      const double es = vars[v].dtype == CLHS_I8 ? 1 : 8;
      out += elems * es;
      if (distributed)
        out += cbatch * elems * es;
      else if (comm->rank == 0)
        out += batch * elems * es;
    }
    e->output = (int64_t)out;
  }

  /* Transients: the largest of
   *  - a step's buffers: tie events and messages, resource candidates (~6 bytes per agent
   *    measured); the halo exchange's keys (24 bytes per remote end) and its send and
   *    receive buffers; the event and online partners' candidate totals and prefix sums of
   *    this rank's centres (224 bytes a centre on event weeks) and the ranks' totals (96 bytes
   *    a rank);
   *  - the network check at the end of a run (every step in debug builds): a 24-byte
   *    message per remote end in a doubling array, routed (sorted copy, received copy,
   *    destinations): 76 bytes touched per remote end, 84 measured (+25 MB at 298,000);
   *  - building the world: the sizes of an equal share of the centres (20 bytes a centre)
   *    and their records to their owners (64 bytes, sent and received) and destinations;
   *  - writing a checkpoint, when checkpoints are configured: tie rows, resources, degrees,
   *    this rank's centres' resource counts and offsets, and parallel HDF5's filtered
   *    chunks (about 1.25 times the largest dataset, the held lists). */
  const double step = 6 * n + 24 * remote + 2 * nh * halo_rec + 224 * nc + 96.0 * P;
  const double check = 80 * remote;
  const double create = (20 + 64 + 4) * ceil(C / P) + 64 * nc;
  double ckpt = 0;
  if (checkpoints_configured(cfg))
    ckpt = 4 * n + 12 * ends + 40 * nres + 16 * nc + 1.25 * 8 * hm * n + (double)(4 << 20);
  e->transient = (int64_t)fmax(fmax(step, check), fmax(create, ckpt));

  e->total = e->process + e->world + e->replicated + e->ties + e->halo + e->resources + e->commons +
             e->output + e->transient;
}

/* ------------------------------------------------------------ the check */

static void fmt_bytes(double b, char *buf, size_t len) {
  const double Ki = 1024.0, Mi = Ki * Ki, Gi = Mi * Ki, Ti = Gi * Ki;
  if (b >= Ti)
    snprintf(buf, len, "%.1f TiB", b / Ti);
  else if (b >= Gi)
    snprintf(buf, len, "%.1f GiB", b / Gi);
  else if (b >= Mi)
    snprintf(buf, len, "%.1f MiB", b / Mi);
  else if (b >= Ki)
    snprintf(buf, len, "%.0f KiB", b / Ki);
  else
    snprintf(buf, len, "%.0f bytes", b);
}

static uint64_t host_hash(char *name, size_t len) {
  if (gethostname(name, len) != 0) snprintf(name, len, "unknown");
  name[len - 1] = '\0';
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (const char *p = name; *p; p++)
    h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
  return h;
}

static int env_flag(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

/* What one node offers the job: the least of the sources present, described. */
typedef struct node_offer {
  double avail;     /* -1: unknown */
  char src[192];    /* the source that limits */
  char others[448]; /* the other sources */
} node_offer;

static void offer_of(double memavail, double node_rss, int cg_version, double cg_limit,
                     double cg_usage, double env_limit, node_offer *o) {
  char sb[3][192] = {"", "", ""};
  double v[3] = {-1, -1, -1};
  char x[32], y[32], z[32];
  /* The ranks' own resident memory counts as available: it is in the estimate, and in the
   * usage (not in MemAvailable). */
  fmt_bytes(node_rss, z, sizeof z);
  if (memavail >= 0) {
    v[0] = memavail + node_rss;
    fmt_bytes(memavail, x, sizeof x);
    snprintf(sb[0], sizeof sb[0], "MemAvailable %s + %s its ranks hold", x, z);
  }
  if (cg_version > 0) {
    v[1] = cg_limit - cg_usage + node_rss;
    fmt_bytes(cg_limit, x, sizeof x);
    fmt_bytes(cg_usage, y, sizeof y);
    snprintf(sb[1], sizeof sb[1], "cgroup v%d %s %s less %s in use + %s its ranks hold", cg_version,
             cg_version == 2 ? "memory.max" : "memory.limit_in_bytes", x, y, z);
  }
  if (env_limit >= 0) {
    v[2] = env_limit;
    fmt_bytes(env_limit, x, sizeof x);
    snprintf(sb[2], sizeof sb[2], "CLHS_MEMORY_LIMIT %s", x);
  }
  int best = -1;
  for (int k = 0; k < 3; k++)
    if (v[k] >= 0 && (best < 0 || v[k] < v[best])) best = k;
  o->avail = best >= 0 ? v[best] : -1;
  snprintf(o->src, sizeof o->src, "%s", best >= 0 ? sb[best] : "");
  o->others[0] = '\0';
  size_t ol = 0;
  for (int k = 0; k < 3; k++)
    if (v[k] >= 0 && k != best && ol < sizeof o->others)
      ol += (size_t)snprintf(o->others + ol, sizeof o->others - ol, "%s%s", ol ? "; " : "", sb[k]);
}

static const char *const advice =
    "use more nodes (or ranks on other nodes), or a smaller population (population.centres, "
    "population.patients_median) or a shorter run (run.steps); CLHS_SKIP_MEMORY_CHECK=1 runs "
    "anyway, CLHS_MEMORY_REPORT=1 itemises the estimate";

/* The refusal for a node: @p what ("an estimated" or "at least"), @p need on the node. */
static int refuse_node(clhs_error *err, const char *what, double need, const char *host,
                       const char *ranks, const char *run, const node_offer *o) {
  char nd[32], av[32];
  fmt_bytes(need, nd, sizeof nd);
  fmt_bytes(o->avail, av, sizeof av);
  return clhs_error_set(err, CLHS_EINPUT,
                        "the run needs %s %s of memory on node %s (%s; %s) but %s is available "
                        "to the job there (%s%s%s), and a run may use at most %.0f %% of it: %s",
                        what, nd, host, ranks, run, av, o->src, *o->others ? "; also " : "",
                        o->others, 100 * CLHS_MEM_MARGIN, advice);
}

/*
 * A lower bound of each rank's need from the sizes of the configuration alone (no centre
 * sized): every rank holds 88 bytes per centre of its equal share of the centres while the
 * world is built (sizes, records to their owners), and the busiest rank at least its share
 * of the smallest possible population (patients_min patients, their clinicians, qis_base
 * staff per centre, and the researchers) at the world's bytes per agent and patient.
 * Refusing on it first keeps an absurd population (2^31 centres, 10^9 researchers) from
 * being sized for minutes.
 */
static double lower_bound(const clhs_config *cfg, const clhs_comm *comm, double rss,
                          double *nagents) {
  const double C = (double)cfg->population.centres, P = comm->size;
  const double pmin = (double)cfg->population.patients_min;
  const double ppc = (double)cfg->population.patients_per_clinician;
  double R = floor(cfg->population.researchers_per_centre * C + 0.5);
  if (R < (double)cfg->population.researchers_min) R = (double)cfg->population.researchers_min;
  const double agents = C * (pmin + ceil(pmin / ppc) + (double)cfg->population.qis_base) + R;
  *nagents = agents;
  const double patients = C * pmin;
  const double hm = (double)cfg->resources.held_max;
  const double per_agent = 5 + 4 + 24 + 32 + hm * 10 + 2 + 4, per_patient = 37;
  return rss + (double)CLHS_MEM_LIBS + (88 * C + agents * per_agent + patients * per_patient) / P;
}

/* One rank's contribution to the allgather (integers only: it crosses MPI). */
enum {
  NR_HOST = 0,
  NR_EST,
  NR_RSS,
  NR_MEMAVAIL,
  NR_CG_LIMIT,
  NR_CG_USAGE,
  NR_CG_VERSION,
  NR_ENV_LIMIT,
  NR_SKIP,
  NR_LEN
};

int clhs_memory_check(const clhs_config *cfg, const clhs_comm *comm, int64_t *estimate,
                      clhs_error *err) {
  if (estimate) *estimate = 0;
  const int skip_here = env_flag("CLHS_SKIP_MEMORY_CHECK");
  char host[256];
  const uint64_t hh = host_hash(host, sizeof host);
  clhs_mem_avail a;
  int st = clhs_memory_available("", &a, err); /* fills every field anyway */
  const int64_t rss = a.vm_rss > 0 ? a.vm_rss : self_rss();
  char run[128];

  /* 1. The lower bound against what this rank's node offers (local view: the node's ranks
   * are taken to hold what this one holds); one agreement. */
  if (st == CLHS_OK && !skip_here) {
    double lba = 0;
    const double lb = lower_bound(cfg, comm, (double)rss, &lba);
    const double ls = comm->local_size;
    node_offer o;
    offer_of((double)a.mem_available, ls * (double)rss, a.cgroup_version, (double)a.cgroup_limit,
             (double)a.cgroup_usage, (double)a.env_limit, &o);
    if (env_flag("CLHS_MEMORY_REPORT") && comm->rank == 0) {
      char x[32];
      fmt_bytes(ls * lb, x, sizeof x);
      fprintf(stderr, "clhsim: memory lower bound on node %s: %s for %d rank(s)\n", host, x,
              comm->local_size);
    }
    if (o.avail >= 0 && ls * lb > CLHS_MEM_MARGIN * o.avail) {
      char ranks[64];
      snprintf(ranks, sizeof ranks, "%d rank%s", comm->local_size, comm->local_size > 1 ? "s" : "");
      snprintf(run, sizeof run, "at least %.0f agents in %lld centres", lba,
               (long long)cfg->population.centres);
      st = refuse_node(err, "at least", ls * lb, host, ranks, run, &o);
    }
  }
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st != CLHS_OK) {
    err->code = st;
    return st;
  }

  /* 2. The estimate on every rank, gathered with what each node offers. */
  clhs_mem_block b;
  st = clhs_memory_block(cfg, comm, &b, err);
  clhs_mem_estimate e;
  memset(&e, 0, sizeof e);
  if (st == CLHS_OK) clhs_memory_estimate(cfg, comm, &b, rss, &e);
  if (estimate) *estimate = e.total;
  int64_t mine[NR_LEN] = {(int64_t)hh,      e.total,        rss,
                          a.mem_available,  a.cgroup_limit, a.cgroup_usage,
                          a.cgroup_version, a.env_limit,    skip_here};
  const int P = comm->size;
  int64_t *all = malloc(sizeof *all * NR_LEN * (size_t)P);
  if (!all) clhs_comm_abort(comm, 1, "out of memory gathering %d memory estimates", P);
  clhs_comm_allgatherv(comm, mine, NR_LEN, sizeof(int64_t), all);

  /* This node: the ranks with this host name (or local_size x the largest estimate). */
  int nranks = 0, skip = 0;
  double node_est = 0, node_rss = 0, est_max = 0, max_all = 0;
  double memavail = -1, cg_free = -1, cg_limit = -1, cg_usage = -1, env_limit = -1;
  int cg_version = 0;
  for (int q = 0; q < P; q++) {
    const int64_t *r = all + (size_t)q * NR_LEN;
    if (r[NR_SKIP]) skip = 1;
    if ((double)r[NR_EST] > max_all) max_all = (double)r[NR_EST];
    if ((uint64_t)r[NR_HOST] != hh) continue;
    nranks++;
    node_est += (double)r[NR_EST];
    node_rss += (double)r[NR_RSS];
    if ((double)r[NR_EST] > est_max) est_max = (double)r[NR_EST];
    if (r[NR_MEMAVAIL] >= 0 && (memavail < 0 || (double)r[NR_MEMAVAIL] < memavail))
      memavail = (double)r[NR_MEMAVAIL];
    if (r[NR_CG_VERSION] > 0 &&
        (cg_free < 0 || (double)(r[NR_CG_LIMIT] - r[NR_CG_USAGE]) < cg_free)) {
      cg_free = (double)(r[NR_CG_LIMIT] - r[NR_CG_USAGE]);
      cg_limit = (double)r[NR_CG_LIMIT];
      cg_usage = (double)r[NR_CG_USAGE];
      cg_version = (int)r[NR_CG_VERSION];
    }
    if (r[NR_ENV_LIMIT] >= 0 && (env_limit < 0 || (double)r[NR_ENV_LIMIT] < env_limit))
      env_limit = (double)r[NR_ENV_LIMIT];
  }
  free(all);
  if (nranks != comm->local_size) { /* host names do not tell the nodes apart */
    nranks = comm->local_size;
    node_est = (double)comm->local_size * max_all;
    node_rss = (double)comm->local_size * (double)rss;
    est_max = max_all;
  }
  node_offer o;
  offer_of(memavail, node_rss, cg_version, cg_limit, cg_usage, env_limit, &o);
  snprintf(run, sizeof run, "%lld agents in %lld centres, %lld steps", (long long)b.nagents,
           (long long)b.ncentres, (long long)cfg->run.steps);
  int mystatus = st;
  if (mystatus == CLHS_OK && o.avail >= 0 && node_est > CLHS_MEM_MARGIN * o.avail) {
    char ranks[96], em[32];
    fmt_bytes(est_max, em, sizeof em);
    if (nranks > 1)
      snprintf(ranks, sizeof ranks, "%d ranks, the largest %s", nranks, em);
    else
      snprintf(ranks, sizeof ranks, "1 rank");
    mystatus = refuse_node(err, "an estimated", node_est, host, ranks, run, &o);
  }
  /* Per-process limits: the address space (data) the rank will map, from what it maps
   * now plus what the estimate adds, and a stack and a malloc arena for each extra
   * thread. */
  const double grow = (double)e.total - (double)rss;
  const double per_thread = (double)(comm->threads > 1 ? comm->threads - 1 : 0) * (72 << 20);
  const struct {
    int64_t lim, now;
    const char *name;
  } rl[2] = {{a.rlimit_as, a.vm_size, "RLIMIT_AS (ulimit -v)"},
             {a.rlimit_data, a.vm_data, "RLIMIT_DATA (ulimit -d)"}};
  for (int k = 0; k < 2 && mystatus == CLHS_OK; k++) {
    if (rl[k].lim < 0 || rl[k].now < 0) continue;
    const double need = (double)rl[k].now + grow + per_thread;
    if (need > CLHS_MEM_MARGIN * (double)rl[k].lim) {
      char nd[32], lm[32], em[32];
      fmt_bytes(need, nd, sizeof nd);
      fmt_bytes((double)rl[k].lim, lm, sizeof lm);
      fmt_bytes((double)e.total, em, sizeof em);
      mystatus = clhs_error_set(
          err, CLHS_EINPUT,
          "rank %d on node %s needs an estimated %s of memory (%s), %s of address space, but "
          "its %s is %s, and a run may use at most %.0f %% of it: raise the limit, %s",
          comm->rank, host, em, run, nd, rl[k].name, lm, 100 * CLHS_MEM_MARGIN, advice);
    }
  }
  st = clhs_comm_agree(comm, mystatus, err->msg, sizeof err->msg);

  if (env_flag("CLHS_MEMORY_REPORT") && comm->rank == 0) {
    const char *names[] = {"process",   "world",   "replicated", "ties",      "halo",
                           "resources", "commons", "output",     "transient", "total"};
    const int64_t vals[] = {e.process,   e.world,   e.replicated, e.ties,      e.halo,
                            e.resources, e.commons, e.output,     e.transient, e.total};
    const size_t nv = sizeof vals / sizeof vals[0];
    fprintf(stderr, "clhsim: memory estimate, rank 0 (%lld agents, %lld patients, %lld centres):",
            (long long)b.n, (long long)b.npat, (long long)b.c_count);
    for (size_t k = 0; k < nv; k++) {
      char x[32];
      fmt_bytes((double)vals[k], x, sizeof x);
      fprintf(stderr, " %s %s%s", names[k], x, k + 1 < nv ? ";" : "");
    }
    char es[32], av[32];
    fmt_bytes(node_est, es, sizeof es);
    fmt_bytes(o.avail, av, sizeof av);
    fprintf(stderr,
            "\nclhsim: memory estimate on node %s: %s for %d rank(s) (%lld bytes on rank 0, "
            "%lld on the largest rank); available %s (%s%s%s)\n",
            host, es, nranks, (long long)e.total, (long long)max_all, o.avail >= 0 ? av : "unknown",
            *o.src ? o.src : "no source", *o.others ? "; also " : "", o.others);
  }
  if (st == CLHS_EINPUT && skip) {
    if (comm->rank == 0)
      fprintf(stderr, "clhsim: warning: %s (CLHS_SKIP_MEMORY_CHECK is set: running anyway)\n",
              err->msg);
    clhs_error_clear(err);
    return CLHS_OK;
  }
  if (st != CLHS_OK) err->code = st;
  return st;
}
