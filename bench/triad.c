/* STREAM-like triad, a[i] = b[i] + s * c[i], for 1..N OpenMP threads.
 *
 *     cc -O3 -fopenmp -o triad bench/triad.c
 *     ./triad [-n ELEMENTS] [-t TRIALS] [-T MAX_THREADS]
 *
 * Three arrays of doubles (default 2^25 elements each: 768 MiB in all, far above any cache).
 * For each thread count the arrays are allocated and first touched by the threads that
 * will use them (static schedule, so pages land on the right NUMA node), then the triad
 * runs TRIALS times; the best trial is reported, as STREAM does. Bytes counted per element:
 * 24 (read b and c, write a; the write-allocate read of a is not counted, as in STREAM).
 *
 * Output, one line per thread count (the harness bench/collect.py parses it):
 *     triad threads=T elements=N bytes=B trials=K best_s=S best_GBps=G median_GBps=M
 * Exit status 1 if the result is wrong (the loop was not executed as written).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  long n = 1L << 25;
  int trials = 10, maxt = omp_get_num_procs();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-n")) n = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "-t")) trials = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-T")) maxt = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [-n ELEMENTS] [-t TRIALS] [-T MAX_THREADS]\n", argv[0]);
      return 2;
    }
  }
  if (n < 1000 || trials < 1 || maxt < 1) {
    fprintf(stderr, "triad: bad arguments\n");
    return 2;
  }
  const double s = 3.0;
  const double bytes = 3.0 * sizeof(double) * (double)n;
  double *times = malloc(sizeof(double) * (size_t)trials);
  for (int t = 1; t <= maxt; t++) {
    double *a = malloc(sizeof(double) * (size_t)n), *b = malloc(sizeof(double) * (size_t)n),
           *c = malloc(sizeof(double) * (size_t)n);
    if (!a || !b || !c || !times) {
      fprintf(stderr, "triad: out of memory\n");
      return 1;
    }
#pragma omp parallel for schedule(static) num_threads(t)
    for (long i = 0; i < n; i++) {
      a[i] = 0.0;
      b[i] = 1.0;
      c[i] = 2.0;
    }
    for (int k = 0; k < trials; k++) {
      const double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static) num_threads(t)
      for (long i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
      times[k] = omp_get_wtime() - t0;
    }
    /* Check every element's value (and so use the result). */
    long bad = 0;
#pragma omp parallel for schedule(static) num_threads(t) reduction(+ : bad)
    for (long i = 0; i < n; i++)
      bad += a[i] != 7.0;
    if (bad) {
      fprintf(stderr, "triad: %ld wrong elements\n", bad);
      return 1;
    }
    qsort(times, (size_t)trials, sizeof(double), cmp_double);
    /* The first trial may include page-fault warm-up; it rarely is the best one anyway. */
    const double best = times[0], median = times[trials / 2];
    printf("triad threads=%d elements=%ld bytes=%.0f trials=%d best_s=%.6f best_GBps=%.3f "
           "median_GBps=%.3f\n",
           t, n, bytes, trials, best, bytes / best / 1e9, bytes / median / 1e9);
    fflush(stdout);
    free(a);
    free(b);
    free(c);
  }
  free(times);
  return 0;
}
