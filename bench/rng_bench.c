/* Micro-benchmark of the batched Philox (clhs_rng_batch01) against the scalar stream.
 *
 *     cmake --build BUILD --target rng_bench && BUILD/bench/rng_bench [-n IDS] [-r REPEATS]
 *
 * For each batch length (IDS, default 1000 and 1000000) it times words 0 and 1 of block 0
 * for ids 0..IDS-1, as the model draws them: "stream" is clhs_rng_init + two clhs_rng_u32 per
 * id (the scalar code the model runs today), then clhs_rng_batch01 with each implementation
 * this CPU can run and the dispatched one. Times are CPU time of the process
 * (CLOCK_PROCESS_CPUTIME_ID: the machine may be shared), each repeat running enough batches
 * for about 2^24 blocks; the output is the minimum and median ns per block over the repeats.
 * Exit status 1 if any implementation's words differ from the stream's. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clhs/rng.h"
#include "util/rng_batch.h"

enum { STREAM = -2, DISPATCHED = -1 };

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill(int how, uint32_t step, int64_t n, uint32_t *w0, uint32_t *w1) {
  const uint64_t seed = 20240611;
  if (how == STREAM) {
    for (int64_t j = 0; j < n; j++) {
      clhs_rng r;
      clhs_rng_init(&r, seed, step, (uint64_t)j, CLHS_P_CARE);
      w0[j] = clhs_rng_u32(&r);
      w1[j] = clhs_rng_u32(&r);
    }
  } else if (how == DISPATCHED) {
    clhs_rng_batch01(seed, step, 0, CLHS_P_CARE, n, w0, w1);
  } else {
    clhs_rng_batch01_isa(how, seed, step, 0, CLHS_P_CARE, n, w0, w1);
  }
}

static int cmp_double(const void *x, const void *y) {
  const double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  int64_t sizes[8] = {1000, 1000000};
  int nsizes = 2, given = 0, repeats = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-n") && given < 8) {
      sizes[given++] = atoll(argv[i + 1]); /* the first -n replaces the defaults */
      nsizes = given;
    } else if (!strcmp(argv[i], "-r")) {
      repeats = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "usage: %s [-n IDS]... [-r REPEATS]\n", argv[0]);
      return 2;
    }
  }
  if (repeats < 1) repeats = 1;
  static const char *const isa_name[] = {"scalar", "avx2", "avx512"};
  int hows[6], nhow = 0;
  hows[nhow++] = STREAM;
  for (int i = CLHS_ISA_SCALAR; i <= CLHS_ISA_AVX512; i++)
    if (clhs_isa_supported(i)) hows[nhow++] = i;
  hows[nhow++] = DISPATCHED;
  printf("dispatched implementation: %s\n", clhs_rng_batch_isa());
  int bad = 0;
  for (int s = 0; s < nsizes; s++) {
    const int64_t n = sizes[s] > 0 ? sizes[s] : 1;
    uint32_t *w0 = malloc((size_t)n * 4), *w1 = malloc((size_t)n * 4);
    uint32_t *r0 = malloc((size_t)n * 4), *r1 = malloc((size_t)n * 4);
    double *t = malloc((size_t)repeats * sizeof *t);
    if (!w0 || !w1 || !r0 || !r1 || !t) return 2;
    fill(STREAM, 3, n, r0, r1);
    const int64_t batches = ((int64_t)1 << 24) / n > 0 ? ((int64_t)1 << 24) / n : 1;
    for (int h = 0; h < nhow; h++) {
      const int how = hows[h];
      const char *name = how == STREAM       ? "stream (init+2xu32)"
                         : how == DISPATCHED ? "batch dispatched"
                                             : isa_name[how];
      fill(how, 3, n, w0, w1); /* warm up, and check against the stream */
      if (memcmp(w0, r0, (size_t)n * 4) || memcmp(w1, r1, (size_t)n * 4)) {
        printf("%s: words differ from the stream\n", name);
        bad = 1;
      }
      uint32_t sink = 0;
      for (int r = 0; r < repeats; r++) {
        double t0 = cpu_seconds();
        for (int64_t b = 0; b < batches; b++) {
          fill(how, (uint32_t)b, n, w0, w1); /* a different step each batch */
          sink ^= w0[b % n] ^ w1[n - 1];
        }
        t[r] = (cpu_seconds() - t0) * 1e9 / ((double)batches * (double)n);
      }
      qsort(t, (size_t)repeats, sizeof *t, cmp_double);
      printf("n=%-8lld %-20s min %6.3f ns/block  median %6.3f ns/block  (%d x %lld blocks; "
             "sink %08x)\n",
             (long long)n, name, t[0], t[repeats / 2], repeats, (long long)(batches * n), sink);
    }
    free(w0);
    free(w1);
    free(r0);
    free(r1);
    free(t);
  }
  return bad;
}
