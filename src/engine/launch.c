/*
 * Launch checks (include/clhs/launch.h): the environment the MPI and OpenMP runtimes are
 * started with, checked before they can misbehave.
 *
 * - Open MPI 4.1's shared-file-pointer component sharedfp/lockedfile tests every file that
 *   MPI-IO (OMPIO) opens by writing "NAME.locktest.RANK" into a 256-byte buffer with
 *   sprintf: a name of 245 - digits(rank) characters or more aborts the process (glibc's
 *   fortify check, SIGABRT) inside MPI_File_open, so inside H5Fcreate. HDF5 never uses a
 *   shared file pointer, so clhs_launch_preinit leaves that component out
 *   (OMPI_MCA_sharedfp=^lockedfile, unless the user set OMPI_MCA_sharedfp); where it is
 *   still selected, clhs_launch_check_io_path refuses the names it would abort on.
 * - libgomp builds a thread-start array on the stack in GOMP_parallel: OMP_NUM_THREADS of
 *   about 100,000 overflows it (SIGSEGV); tens of thousands run for minutes. Values above 8
 *   threads per core this process may run on (at most 1024) are refused.
 * - With libgomp's default wait policy, idle threads spin for ~300,000 iterations (about
 *   3 ms) before sleeping; when ranks x threads exceed the cores, the spinning threads take
 *   the cores that the working threads and MPI need (20-30x slower here). libgomp reads
 *   OMP_WAIT_POLICY when it is loaded, before main, so clhs_launch_preinit re-executes the
 *   program once with OMP_WAIT_POLICY=passive when the launcher's environment says the
 *   node will be oversubscribed; clhs_launch_check then checks the node exactly.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "clhs/launch.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Set in the re-executed process: what clhs_launch_preinit changed ("passive"). */
#define REEXEC_MARK "CLHS_LAUNCH_REEXEC"
/* Most threads per core accepted, and most threads per rank in any case. */
#define THREADS_PER_CORE_MAX 8
#define THREADS_MAX 1024
/* Spin counts up to this are treated as a passive wait (about 0.1 ms of spinning). */
#define SPIN_PASSIVE_MAX 10000ULL
/* sharedfp/lockedfile's buffer, and what it appends to a name (".locktest." RANK NUL). */
#define LOCKEDFILE_BUF 256
#define LOCKEDFILE_SUFFIX 10

static int passive_set_here; /* this process was re-executed with OMP_WAIT_POLICY=passive */
static int world_size;       /* known once clhs_launch_check ran */

/* ---- the environment ---- */

/* A positive decimal integer, optionally surrounded by blanks; 0 when absent or invalid. */
static unsigned long long parse_positive(const char *s, const char **end) {
  if (!s) return 0;
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s)) return 0;
  errno = 0;
  char *e = NULL;
  unsigned long long v = strtoull(s, &e, 10);
  if (errno == ERANGE) return 0;
  while (isspace((unsigned char)*e))
    e++;
  if (end) *end = e;
  return v;
}

/* The first value of an OpenMP list variable such as OMP_NUM_THREADS="4,2" as libgomp
 * reads it: 0 when unset or invalid (libgomp then ignores it with a message). */
static unsigned long long env_first_value(const char *name) {
  const char *s = getenv(name), *end = NULL;
  unsigned long long v = parse_positive(s, &end);
  if (v == 0 || (*end != '\0' && *end != ',')) return 0;
  return v;
}

static int env_is(const char *name, const char *value) {
  const char *s = getenv(name);
  return s && strcasecmp(s, value) == 0;
}

/* CPUs this process may run on (its affinity mask), at least 1. */
static int affinity_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n > INT_MAX ? INT_MAX : n) : 1;
}

static int online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n > INT_MAX ? INT_MAX : n) : 1;
}

/* OpenMP threads a parallel region of this process will use: OMP_NUM_THREADS (its first
 * level) or libgomp's default, the CPUs of the affinity mask; capped by OMP_THREAD_LIMIT.
 * Unlike omp_get_max_threads() this does not wrap for values beyond INT_MAX. */
static unsigned long long openmp_threads(void) {
  unsigned long long t = env_first_value("OMP_NUM_THREADS");
  if (t == 0) t = (unsigned long long)affinity_cpus();
  unsigned long long lim = env_first_value("OMP_THREAD_LIMIT");
  if (lim > 0 && lim < t) t = lim;
  return t;
}

static unsigned long long threads_max(int cpus) {
  unsigned long long m = (unsigned long long)THREADS_PER_CORE_MAX * (unsigned long long)cpus;
  return m < THREADS_MAX ? m : THREADS_MAX;
}

/* How long an idle libgomp thread spins before it sleeps, as libgomp decides it from
 * GOMP_SPINCOUNT (wins when set) and OMP_WAIT_POLICY: 0 passive, 3e10 active, 3e5 unset. */
static unsigned long long spin_count(void) {
  const char *s = getenv("GOMP_SPINCOUNT");
  if (s) {
    while (isspace((unsigned char)*s))
      s++;
    if (!strncasecmp(s, "infinit", 7)) return ULLONG_MAX;
    char *e = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (e != s && errno != ERANGE) {
      unsigned long long mult = 1;
      switch (*e) {
      case 'k':
      case 'K': mult = 1000ULL; break;
      case 'M': mult = 1000000ULL; break;
      case 'G': mult = 1000000000ULL; break;
      case 'T': mult = 1000000000000ULL; break;
      default: break;
      }
      return v > ULLONG_MAX / mult ? ULLONG_MAX : v * mult;
    }
  }
  if (env_is("OMP_WAIT_POLICY", "passive")) return 0;
  if (env_is("OMP_WAIT_POLICY", "active")) return 30000000000ULL;
  return 300000ULL;
}

/* Tasks of this Slurm step on this node, from SLURM_STEP_TASKS_PER_NODE ("2(x3),1") and
 * SLURM_NODEID; 0 when unknown. */
static int slurm_tasks_here(void) {
  const char *s = getenv("SLURM_STEP_TASKS_PER_NODE");
  const char *id = getenv("SLURM_NODEID");
  if (!s || !id || !getenv("SLURM_PROCID")) return 0;
  long node = strtol(id, NULL, 10), first = 0;
  while (*s) {
    char *e = NULL;
    long n = strtol(s, &e, 10), reps = 1;
    if (e == s || n < 0) return 0;
    if (e[0] == '(' && e[1] == 'x') {
      reps = strtol(e + 2, &e, 10);
      if (reps < 1 || *e != ')') return 0;
      e++;
    }
    if (node >= first && node < first + reps) return n > INT_MAX ? INT_MAX : (int)n;
    first += reps;
    if (*e != ',') return 0;
    s = e + 1;
  }
  return 0;
}

/* Ranks of this job on this node as the launcher tells them before MPI starts: Open MPI's
 * mpiexec, MPICH's Hydra, Slurm's srun; 1 when none says (a singleton, or unknown). */
static int launcher_local_ranks(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
  for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
    unsigned long long n = parse_positive(getenv(vars[k]), NULL);
    if (n > 0) return n > INT_MAX ? INT_MAX : (int)n;
  }
  int n = slurm_tasks_here();
  return n > 0 ? n : 1;
}

/* The launcher bound each rank to its own cores (so a narrow mask is this rank's share). */
static int launcher_bound(void) {
  if (env_is("OMPI_MCA_orte_bound_at_launch", "1")) return 1;
  const char *s = getenv("SLURM_CPU_BIND_TYPE");
  return s && *s && strncasecmp(s, "none", 4) != 0;
}

/* ---- before MPI_Init ---- */

void clhs_launch_preinit(int argc, char **argv) {
  (void)argc;
  /* HDF5 never uses a shared file pointer: leave out the component that aborts on long
   * names (a user's own OMPI_MCA_sharedfp wins). */
  setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);

  const char *mark = getenv(REEXEC_MARK);
  if (mark) { /* the second start: note what was changed, and never re-execute again */
    passive_set_here = strcmp(mark, "passive") == 0 && env_is("OMP_WAIT_POLICY", "passive");
    unsetenv(REEXEC_MARK);
    return;
  }
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return; /* the user chose */
  const int cpus = affinity_cpus();
  const unsigned long long threads = openmp_threads();
  if (threads <= 1 || threads > threads_max(cpus)) return; /* nothing spins / refused later */
  /* Threads competing for this rank's cores: its own when the launcher bound it to cores of
   * its own; otherwise every rank on the node shares the cores it sees. */
  const int bound = cpus < online_cpus() && launcher_bound();
  const unsigned long long demand =
      bound ? threads : threads * (unsigned long long)launcher_local_ranks();
  if (demand <= (unsigned long long)cpus) return;
  if (!argv || !argv[0] || access("/proc/self/exe", X_OK) != 0) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  setenv(REEXEC_MARK, "passive", 1);
  fflush(NULL);
  execv("/proc/self/exe", argv);
  /* Not re-executed: libgomp keeps its policy; say so later (clhs_launch_check). */
  unsetenv("OMP_WAIT_POLICY");
  unsetenv(REEXEC_MARK);
}

/* ---- after MPI_Init ---- */

/* What each rank tells the others on its node. */
typedef struct node_info {
  cpu_set_t cpus;
  int threads;
  int spin_active;
  int passive_set_here;
} node_info;

static int check_threads(const clhs_comm *comm, clhs_error *err) {
  const int cpus = affinity_cpus();
  const unsigned long long t = openmp_threads(), max = threads_max(cpus);
  if (comm->threads >= 1 && t <= max && (unsigned long long)comm->threads <= max) return CLHS_OK;
  const char *env = getenv("OMP_NUM_THREADS");
  char value[64];
  if (env)
    snprintf(value, sizeof value, "OMP_NUM_THREADS=%.40s%s", env, strlen(env) > 40 ? "..." : "");
  else
    snprintf(value, sizeof value, "%llu OpenMP threads", t);
  return clhs_error_set(err, CLHS_EINPUT,
                        "%s is more threads than a rank can use: at most %llu (%d per core on "
                        "the %d core(s) this process may run on, and never more than %d); set "
                        "OMP_NUM_THREADS to the number of cores each rank may use",
                        value, max, THREADS_PER_CORE_MAX, cpus, THREADS_MAX);
}

static void check_node(const clhs_comm *comm) {
  node_info me;
  memset(&me, 0, sizeof me);
  CPU_ZERO(&me.cpus);
  if (sched_getaffinity(0, sizeof me.cpus, &me.cpus) != 0 || CPU_COUNT(&me.cpus) == 0) {
    const int n = online_cpus();
    for (int k = 0; k < n && k < CPU_SETSIZE; k++)
      CPU_SET(k, &me.cpus);
  }
  me.threads = comm->threads > 0 ? comm->threads : 1;
  me.spin_active = spin_count() > SPIN_PASSIVE_MAX;
  me.passive_set_here = passive_set_here;
  const int n = comm->local_size > 0 ? comm->local_size : 1;
  node_info *all = malloc(sizeof *all * (size_t)n);
  char msg[512] = "";
  int status = CLHS_OK;
  if (all) {
    clhs_comm_node_allgather(comm, &me, sizeof me, all);
    cpu_set_t any;
    CPU_ZERO(&any);
    long long threads = 0;
    int most = 0, active = 0, set_here = 0;
    for (int r = 0; r < n; r++) {
      CPU_OR(&any, &any, &all[r].cpus);
      threads += all[r].threads;
      most = all[r].threads > most ? all[r].threads : most;
      active |= all[r].spin_active;
      set_here |= all[r].passive_set_here;
    }
    const int cores = CPU_COUNT(&any);
    /* Only OpenMP's idle threads spin: ranks alone beyond the cores are fine. */
    if (comm->local_rank == 0 && most > 1 && threads > cores) {
      if (active) {
        status = CLHS_EFAIL; /* only to pick this message in clhs_comm_agree */
        snprintf(msg, sizeof msg,
                 "warning: %d rank(s) x %d thread(s) on a node with %d core(s) for them, and "
                 "OpenMP threads that wait actively: idle threads spin on the cores the "
                 "others need, which can make a run 10-30x slower. Use fewer threads "
                 "(OMP_NUM_THREADS), or let them wait passively: OMP_WAIT_POLICY=passive",
                 n, most, cores);
      } else if (set_here) {
        status = CLHS_EFAIL;
        snprintf(msg, sizeof msg,
                 "note: %d rank(s) x %d thread(s) on a node with %d core(s) for them: OpenMP "
                 "threads wait passively (clhsim set OMP_WAIT_POLICY=passive; set "
                 "OMP_WAIT_POLICY or GOMP_SPINCOUNT to choose)",
                 n, most, cores);
      }
    }
  }
  free(all);
  if (clhs_comm_agree(comm, status, msg, sizeof msg) != CLHS_OK && comm->rank == 0) {
    fprintf(stderr, "clhsim: %s\n", msg);
    fflush(stderr);
  }
}

int clhs_launch_check(const clhs_comm *comm, clhs_error *err) {
  world_size = comm->size;
  clhs_error mine;
  clhs_error_clear(&mine);
  int st = check_threads(comm, &mine);
  st = clhs_comm_agree(comm, st, mine.msg, sizeof mine.msg);
  if (st != CLHS_OK) return clhs_error_set(err, st, "%s", mine.msg);
  check_node(comm);
  return CLHS_OK;
}

/* ---- file names ---- */

/* Whether Open MPI's sharedfp/lockedfile component is queried when MPI-IO opens a file:
 * OMPIO is the io component (the default) and OMPI_MCA_sharedfp does not exclude it. */
static int lockedfile_queried(void) {
  const char *io = getenv("OMPI_MCA_io");
  if (io && *io) {
    int excl = io[0] == '^';
    int named = strstr(io, "ompio") != NULL;
    if (excl ? named : !named) return 0;
  }
  const char *fp = getenv("OMPI_MCA_sharedfp");
  if (!fp || !*fp) return 1;
  int excl = fp[0] == '^';
  int named = strstr(fp, "lockedfile") != NULL;
  return excl ? !named : named;
}

static int decimal_digits(long long v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    d++;
  }
  return d;
}

/* @p path for a message: whole when short, else its start and end ("/tmp/aaa...b.h5"). */
static void elide(const char *path, char *out, size_t outlen) {
  const size_t len = strlen(path);
  if (len <= 90)
    snprintf(out, outlen, "%s", path);
  else
    snprintf(out, outlen, "%.40s...%s", path, path + len - 45);
}

int clhs_launch_check_io_path(const char *path, const char *what, clhs_error *err) {
  if (!path) return CLHS_OK;
  const size_t len = strlen(path);
#ifdef PATH_MAX
  const size_t path_max = PATH_MAX;
#else
  const size_t path_max = 4096;
#endif
#ifdef NAME_MAX
  const size_t name_max = NAME_MAX;
#else
  const size_t name_max = 255;
#endif
  char shown[128];
  elide(path, shown, sizeof shown);
  if (len >= path_max)
    return clhs_error_set(err, CLHS_EINPUT,
                          "%s: the file clhsim opens for it, '%s', is %zu characters long; the "
                          "system accepts at most %zu: use a shorter path",
                          what, shown, len, path_max - 1);
  for (const char *p = path; *p;) {
    const char *slash = strchr(p, '/');
    const size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n > name_max)
      return clhs_error_set(err, CLHS_EINPUT,
                            "%s: the file clhsim opens for it, '%s', has a folder or file name "
                            "('%.20s...') of %zu characters; file systems accept at most %zu "
                            "per name: use a shorter name",
                            what, shown, p, n, name_max);
    p += n;
    while (*p == '/')
      p++;
  }
  if (lockedfile_queried()) {
    long long ranks = world_size;
    if (ranks <= 0) {
      unsigned long long n = parse_positive(getenv("OMPI_COMM_WORLD_SIZE"), NULL);
      ranks = n > 0 && n < (unsigned long long)INT_MAX ? (long long)n : 1;
    }
    const size_t limit = LOCKEDFILE_BUF - LOCKEDFILE_SUFFIX - 1 - decimal_digits(ranks - 1);
    const char *fp = getenv("OMPI_MCA_sharedfp");
    if (len > limit)
      return clhs_error_set(err, CLHS_EINPUT,
                            "%s: the file clhsim opens for it, '%s', is %zu characters long; "
                            "Open MPI's MPI-IO accepts at most %zu while its shared-file-pointer "
                            "component 'lockedfile' is selected (OMPI_MCA_sharedfp=%s): use a "
                            "shorter path, or leave OMPI_MCA_sharedfp unset (clhsim then sets "
                            "^lockedfile)",
                            what, shown, len, limit, fp ? fp : "");
  }
  return CLHS_OK;
}
