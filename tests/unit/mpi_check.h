/*
 * Failure checks for MPI unit tests: a failing rank reports and counts; every rank then
 * sums the counts before asserting, so no rank returns early and leaves the others in a
 * collective (HPC-NOTES: cmocka under MPI). Include after cmocka.h and after the test's
 * `static clhs_comm comm;`.
 */
#ifndef CLHS_TESTS_MPI_CHECK_H
#define CLHS_TESTS_MPI_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "clhs/comm.h"

static int64_t g_fail;

/* Report a local failure (the first few, with the rank) and count it. */
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (g_fail++ < 10) {                                                                         \
        fprintf(stderr, "rank %d: %s:%d: ", comm.rank, __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* Sum the failures of all ranks and assert none (every rank reaches this). */
static void assert_no_failures(const char *what) {
  int64_t f = g_fail;
  g_fail = 0;
  clhs_comm_sum_i64(&comm, &f, 1);
  if (f) fail_msg("%s: %lld failures over all ranks", what, (long long)f);
}

#endif
