/*
 * How fast the neighbour sweeps themselves are, apart from the model's rules.
 *
 * Builds the benchmark world (bench/network_on.yml and any -P overrides, one rank),
 * runs STEPS steps so that ties form, then times three sweeps over every agent, each
 * summing w x m over the agent's neighbours in global-id order (what phase 5 sums):
 *   stored   the stored dynamic ties alone (a locality-ordered CSR sweep);
 *   merged   care and dynamic ties merged in global-id order (clhs_neighbours, the list
 *            phases 4 and 6 build);
 *   phase5   the whole of phase 5 (motivation and the engagement moves), for comparison.
 * Prints neighbour entries ("tie visits") per core-second of each, CPU time, best of 5.
 *
 *   cmake --build build/release --target sweep_bench
 *   OMP_NUM_THREADS=1 build/release/bench/sweep_bench bench/network_on.yml 30 \
 *       -P population.centres=1724
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"
#include "clhs/model.h"

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Stored dynamic ties only: the CSR rows of every centre in order. */
static double sweep_stored(const clhs_world *w, int64_t *visits) {
  double acc = 0;
  int64_t n = 0;
  const int64_t lo = w->gid_begin;
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    for (int32_t r = 0; r < na; r++) {
      double s = 0;
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++)
        s += ts->w[d] * (double)w->m[clhs_tie_gid(ts->key[d]) - lo];
      acc += s;
      n += ts->off[r + 1] - ts->off[r];
    }
  }
  *visits = n;
  return acc;
}

/* Care and dynamic ties merged in gid order, as the model lists them. */
static double sweep_merged(const clhs_world *w, int32_t *care, clhs_nbr *nb, int64_t *visits) {
  double acc = 0;
  int64_t n = 0;
  for (int64_t lc = 0; lc < w->c_count; lc++)
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      const int32_t nn = clhs_neighbours(w, lc, i, care, nb);
      double s = 0;
      for (int32_t k = 0; k < nn; k++)
        s += nb[k].w * (double)w->m[nb[k].loc];
      acc += s;
      n += nn;
    }
  *visits = n;
  return acc;
}

int main(int argc, char **argv) {
  clhs_comm comm;
  clhs_comm_init(&argc, &argv, &comm);
  if (comm.size != 1) {
    fprintf(stderr, "sweep_bench: run it on one rank\n");
    clhs_comm_finalize();
    return 2;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: sweep_bench CONFIG.yml STEPS [-P section.key=value ...]\n");
    clhs_comm_finalize();
    return 2;
  }
  clhs_error err;
  clhs_error_clear(&err);
  clhs_config cfg;
  clhs_config_defaults(&cfg);
  int st = clhs_config_load_file(&cfg, argv[1], &err);
  for (int a = 3; !st && a < argc; a++)
    if (!strcmp(argv[a], "-P") && a + 1 < argc) st = clhs_config_override(&cfg, argv[++a], &err);
  if (!st) st = clhs_config_finalize(&cfg, &err);
  clhs_world w;
  if (!st) st = clhs_world_create(&w, &cfg, &comm, &err);
  const int64_t steps = atoll(argv[2]);
  for (int64_t s = 0; !st && s < steps; s++)
    st = clhs_world_step(&w, &err);
  if (st) {
    fprintf(stderr, "sweep_bench: %s\n", err.msg);
    clhs_comm_finalize();
    return 2;
  }
  int32_t cmax = 0, dmax = 0;
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    if (clhs_careties_max(&w, lc) > cmax) cmax = clhs_careties_max(&w, lc);
    for (int32_t i = w.first[0][lc]; i < w.first[CLHS_NTYPES][lc]; i++)
      if (clhs_degree(&w, lc, i) > dmax) dmax = clhs_degree(&w, lc, i);
  }
  int32_t *care = malloc(sizeof *care * (size_t)cmax);
  clhs_nbr *nb = malloc(sizeof *nb * (size_t)(dmax + 1));
  if (!care || !nb) return 1;
  double best[3] = {1e30, 1e30, 1e30}, sink = 0;
  int64_t visits[3] = {0, 0, 0};
  for (int rep = 0; rep < 5; rep++) {
    double t0 = cpu_s();
    sink += sweep_stored(&w, &visits[0]);
    double t1 = cpu_s();
    sink += sweep_merged(&w, care, nb, &visits[1]);
    double t2 = cpu_s();
    const int64_t v0 = clhs_tie_visits(&w);
    clhs_phase_motivation(&w, w.step); /* phase 5 (and the moves of phase 6) once more */
    double t3 = cpu_s();
    visits[2] = clhs_tie_visits(&w) - v0;
    const double dt[3] = {t1 - t0, t2 - t1, t3 - t2};
    for (int k = 0; k < 3; k++)
      if (dt[k] < best[k]) best[k] = dt[k];
  }
  printf("%lld agents after %lld steps: %.2f stored tie ends and %.2f neighbour entries per agent "
         "(checksum %g)\n",
         (long long)w.n, (long long)steps, (double)visits[0] / (double)w.n,
         (double)visits[1] / (double)w.n, sink);
  const char *name[3] = {"stored ties only (CSR)", "care + dynamic, merged", "phase 5 (rules)"};
  for (int k = 0; k < 3; k++)
    printf("  %-24s %6.2f ms  %.3g tie-visits per core-second  %.1f ns per agent\n", name[k],
           1e3 * best[k], (double)visits[k] / best[k], 1e9 * best[k] / (double)w.n);
  free(care);
  free(nb);
  clhs_world_free(&w);
  clhs_config_free(&cfg);
  clhs_comm_finalize();
  return 0;
}
