/*
 * What the unit tests share (tests/unit/fixture.c, linked into every one): the communicator
 * and the --write FILE / --check FILE arguments; failure checks that are safe under MPI; one
 * builder of small worlds; global ids, tie events and tie look-ups; the digests that a 1-rank
 * run stores and the runs on more ranks check.
 *
 * A test includes this header (it brings cmocka.h) instead of defining its own communicator,
 * and ends with FX_MAIN(cmocka_unit_test(test_a), cmocka_unit_test(test_b), ...), or with a
 * main of its own that calls fx_init first and returns through fx_finish.
 */
#ifndef CLHS_TESTS_FIXTURE_H
#define CLHS_TESTS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/hash.h"
#include "clhs/model.h"
#include "clhs/network.h"

/* ------------------------------------------------------------ the run */

/** The test's communicator (set by fx_init). */
extern clhs_comm comm;

/** The FILE of `--write FILE` or `--check FILE` (NULL: neither), and which of the two. */
extern const char *fx_path;
extern int fx_write;

/** Start MPI (clhs_comm_init) and read --write FILE / --check FILE. */
void fx_init(int *argc, char ***argv);

/** Collective: end MPI; every rank returns 1 if a test failed on any rank (@p rc: cmocka's
 * count of failed tests), else 0. */
int fx_finish(int rc);

/** The test program's main: MPI, the cmocka tests listed, the end of MPI. */
#define FX_MAIN(...)                                                                               \
  int main(int argc, char **argv) {                                                                \
    fx_init(&argc, &argv);                                                                         \
    const struct CMUnitTest tests[] = {__VA_ARGS__};                                               \
    return fx_finish(cmocka_run_group_tests(tests, NULL, NULL));                                   \
  }

/* ------------------------------------------------------------ failures under MPI */

/* A failing rank reports and counts; every rank then sums the counts before asserting
 * (assert_no_failures), so no rank returns early and leaves the others in a collective
 * (HPC-NOTES: cmocka under MPI). */
extern int64_t fx_failures;

/** Report a local failure (the first few, with the rank) and count it. */
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (fx_failures++ < 10) {                                                                    \
        fprintf(stderr, "rank %d: %s:%d: ", comm.rank, __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/** Collective: sum the failures of all ranks and assert none (every rank reaches this). */
void assert_no_failures(const char *what);

/* ------------------------------------------------------------ small worlds */

/** fx_opts.caregivers: no caregiver at all (0 leaves the default, one per patient). */
#define FX_NONE (-1.0)

/** Every lever (a mask for fx_finalize). */
#define FX_ALL_LEVERS ((1u << CLHS_NLEVERS) - 1u)
#define FX_LEVER(k) (1u << (k))

/** A small world: what differs from clhs_config_defaults (a zero field leaves the default). */
typedef struct fx_opts {
  int64_t centres;        /**< population.centres */
  int64_t patients;       /**< patients_median; also min and max where those are 0 */
  int64_t patients_min;   /**< population.patients_min (with patients) */
  int64_t patients_max;   /**< population.patients_max (with patients) */
  int64_t per_clinician;  /**< population.patients_per_clinician */
  double caregivers;      /**< population.caregivers_per_patient; FX_NONE: 0 */
  double members;         /**< Bass joining, this share of the centres members at step 0 */
  int no_joins;           /**< with members: bass_p = bass_q = 0, nobody joins later */
  const char *const *set; /**< NULL-terminated "key=value" overrides (as -P), applied last */
} fx_opts;

/** Defaults and the options, not finalized: adjust @p cfg, then fx_finalize and fx_world. */
void fx_config(clhs_config *cfg, const fx_opts *o);

/** Finalize @p cfg, then the levers in @p on fully on at every step (on_step -1000, no ramp,
 * intensity 1) and those in @p off never on; the others as configured. */
void fx_finalize(clhs_config *cfg, unsigned on, unsigned off);

/** Collective: build @p w from @p cfg; a failure on any rank fails the test on every rank. */
void fx_world(const clhs_config *cfg, clhs_world *w);

/**
 * fx_config, fx_finalize (levers as configured) and fx_world (@p w NULL: the configuration
 * only). The world is checked against the options: the centres over all ranks; with
 * members 1 every centre a member; with patients alone every centre of that many.
 */
void fx_make(clhs_config *cfg, clhs_world *w, const fx_opts *o);

/** Free both. */
void fx_done(clhs_config *cfg, clhs_world *w);

/* ------------------------------------------------------------ agents and ties */

static inline int64_t fx_gid(const clhs_world *w, int64_t i) {
  return w->gid_begin + i;
}

/**
 * Collective: every centre's first global id [ncentres + 1] (the last: nagents), gathered
 * from the centres' owners. A test's table: the model keeps none (free it).
 */
int64_t *fx_centre_gid0(const clhs_world *w);

/** The centre of global id @p g, from @p g0 of fx_centre_gid0. */
int64_t fx_centre_of(const clhs_world *w, const int64_t *g0, int64_t g);

/** Local index of the k-th agent of type @p t in local centre @p lc (asserted to exist). */
int32_t fx_agent(const clhs_world *w, int64_t lc, int t, int32_t k);

/** Weight of the stored tie end of local agent @p i to gid @p nbr (its kind into *kind if not
 * NULL), or -1 if there is none. */
float fx_tie_weight(const clhs_world *w, int64_t i, int64_t nbr, int *kind);

/** Append the events of both ends of the pair of local agents (a, b) to ev[*n]. */
void fx_event_pair(clhs_tie_event *ev, int64_t *n, const clhs_world *w, int32_t a, int32_t b,
                   int op, int kind);

/** clhs_ties_apply_local, asserted to succeed. */
void fx_apply(clhs_world *w, clhs_tie_event *ev, int64_t n);

/** Append the messages of both ends of the pair of gids (a, b) to m[*n]: a's end first. */
void fx_msg_pair(clhs_tie_msg *m, int64_t *n, int64_t a, int64_t b, int op, int kind);

/** Collective: clhs_ties_deliver, checked on every rank. */
void fx_deliver(clhs_world *w, const clhs_tie_msg *m, int64_t n);

/** Collective: clhs_ties_check finds nothing (@p what names the moment in a failure). */
void fx_ties_ok(clhs_world *w, const char *what);

/* ------------------------------------------------------------ digests */

/** A mixer for the tests' own digests and pseudo-random states (splitmix64). */
static inline uint64_t fx_mix64(uint64_t x) {
  return clhs_mix64(x + 0x9e3779b97f4a7c15ULL);
}

#define FX_FOLD(h, v) ((h) = fx_mix64((h) ^ (uint64_t)(v)))

static inline uint32_t fx_fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/** This rank's tie ends hashed one by one (agent gid, key, weight) and summed: summed over
 * ranks, a digest that does not depend on the decomposition. With @p by_kind, the ends are
 * counted by kind (by_kind[1 + kind], CLHS_NTIEKINDS + 1 entries, added to). */
uint64_t fx_ties_digest(const clhs_world *w, uint64_t *by_kind);

/** Rank 0 writes @p d to @p path. */
void fx_digest_store(const char *path, uint64_t d);

/** The digest stored in @p path (read by every rank). */
uint64_t fx_digest_load(const char *path);

/** With --write FILE, rank 0 stores @p d in FILE; with --check FILE, @p d must equal the digest
 * stored there (on every rank); with neither, nothing. */
void fx_digest_settle(uint64_t d);

#endif
