/*
 * The tie store and the halo across ranks (run at 1, 2 and 3 ranks): ties between
 * agents on different ranks created, reinforced and dropped through clhs_ties_deliver,
 * both ends checked by clhs_ties_check; then clhs_halo_exchange, after which every remote
 * neighbour's halo record (m, E, held) equals its owner's values.
 *
 * Every rank builds the same list of pairs (a function of global ids only); only the
 * rank that owns a pair's first end sends the messages for both ends. Checks count
 * failures on each rank; the counts are summed over ranks (clhs_comm_sum_i64) before
 * they are asserted, so that every rank takes the same path through the collectives.
 */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

#define NCENTRES 6

/* Six member centres of 10 patients each, one clinician per 4. */
static const fx_opts world6 = {
    .centres = NCENTRES, .patients = 10, .per_clinician = 4, .members = 1};

/* A pair of global ids, its kind, and how many times each end is told to create it. */
typedef struct pair {
  int64_t a, b;
  int kind;
  int both_initiate; /* the owners of a and b both send both messages */
} pair;

/*
 * The pairs, identical on every rank: the first PAT of centre c with the first PAT of
 * centre c + 3 (event ties); PAT 1 of each centre with PAT 2 of the next (online); PAT 3
 * and PAT 4 of each centre (peer); and PAT 5 of centre 0 with PAT 5 of centre 5, created
 * by both owners (two creates at each end: 0.5 + 0.2).
 */
static int64_t make_pairs(const int64_t *g0, pair *p) {
  int64_t n = 0;
  for (int c = 0; c < 3; c++)
    p[n++] = (pair){g0[c], g0[c + 3], CLHS_TIE_EVENT, 0};
  for (int c = 0; c < NCENTRES; c++)
    p[n++] = (pair){g0[c] + 1, g0[(c + 1) % NCENTRES] + 2, CLHS_TIE_ONLINE, 0};
  for (int c = 0; c < NCENTRES; c++)
    p[n++] = (pair){g0[c] + 3, g0[c] + 4, CLHS_TIE_PEER, 0};
  p[n++] = (pair){g0[0] + 5, g0[5] + 5, CLHS_TIE_EVENT, 1};
  return n;
}

static int owns(const clhs_world *w, int64_t g) {
  return g >= w->gid_begin && g < w->gid_begin + w->n;
}

/* The local ends of pair p hold weight wt (or no tie if wt < 0) with its kind. */
static void check_pair(const clhs_world *w, const pair *p, double wt) {
  const int64_t e[2][2] = {{p->a, p->b}, {p->b, p->a}};
  for (int k = 0; k < 2; k++) {
    if (!owns(w, e[k][0])) continue;
    int kind = -1;
    const float x = fx_tie_weight(w, e[k][0] - w->gid_begin, e[k][1], &kind);
    if (wt < 0)
      CHECK(x < 0, "end %lld-%lld should be gone, has %g", (long long)e[k][0], (long long)e[k][1],
            x);
    else
      CHECK(fabs(x - wt) < 1e-6 && kind == p->kind,
            "end %lld-%lld: %g kind %d, expected %g kind %d", (long long)e[k][0],
            (long long)e[k][1], x, kind, wt, p->kind);
  }
}

/* Deterministic state of agent gid, set by its owner before the halo exchange. */
static float f_m(int64_t g) {
  return (float)((double)(g % 1000) / 1000.0);
}
static uint8_t f_E(int64_t g) {
  return (uint8_t)(g % 5);
}
static uint64_t f_held(int64_t g, int64_t j) {
  return j == 3 ? CLHS_RES_NONE : clhs_res_id(7 + j, g, (int)j, (int)(g % 4));
}
static uint16_t f_q(int64_t g, int64_t j) {
  return (uint16_t)((g * 131 + j * 17) % 65536);
}

static int cmp_i64(const void *x, const void *y) {
  const int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

static void check_halo(clhs_world *w, int64_t expect_remote_ends) {
  const int64_t hm = w->cfg->resources.held_max;
  const clhs_halo *h = &w->halo;
  /* The distinct remote neighbours of this rank's agents. */
  int64_t *rem = malloc(sizeof(int64_t) * (size_t)(expect_remote_ends + 1));
  int64_t nr = 0;
  int64_t *senders = malloc(sizeof(int64_t) * (size_t)(expect_remote_ends + 1));
  int64_t ns = 0;
  assert_non_null(rem);
  assert_non_null(senders);
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const clhs_tieset *ts = &w->ties[lc];
    const int32_t a0 = w->first[0][lc], na = w->first[CLHS_NTYPES][lc] - a0;
    for (int32_t r = 0; r < na; r++)
      for (uint32_t d = ts->off[r]; d < ts->off[r + 1]; d++) {
        const int64_t g = clhs_tie_gid(ts->key[d]);
        if (owns(w, g)) continue;
        CHECK(nr < expect_remote_ends, "more remote ends than expected");
        if (nr >= expect_remote_ends) continue;
        rem[nr++] = g;
        /* (owner rank of g, local agent): one record sent per distinct pair */
        senders[ns++] = (int64_t)clhs_owner_of_gid(w, g) * ((int64_t)1 << 40) + (a0 + r);
      }
  }
  CHECK(nr == expect_remote_ends, "%lld remote ends, expected %lld", (long long)nr,
        (long long)expect_remote_ends);
  qsort(rem, (size_t)nr, sizeof *rem, cmp_i64);
  qsort(senders, (size_t)ns, sizeof *senders, cmp_i64);
  int64_t nd = 0, nsd = 0;
  for (int64_t k = 0; k < nr; k++)
    if (k == 0 || rem[k] != rem[k - 1]) rem[nd++] = rem[k];
  for (int64_t k = 0; k < ns; k++)
    if (k == 0 || senders[k] != senders[k - 1]) nsd++;
  CHECK(h->n == nd, "halo has %lld entries, expected %lld", (long long)h->n, (long long)nd);
  for (int64_t j = 0; j < h->n && j < nd; j++) {
    const int64_t g = h->gid[j];
    CHECK(g == rem[j], "halo gid %lld at %lld, expected %lld", (long long)g, (long long)j,
          (long long)rem[j]);
    CHECK(!owns(w, g), "halo holds a local agent %lld", (long long)g);
    CHECK(h->m[j] == f_m(g), "halo m of %lld: %g, expected %g", (long long)g, h->m[j], f_m(g));
    CHECK(h->E[j] == f_E(g), "halo E of %lld: %d, expected %d", (long long)g, h->E[j], f_E(g));
    for (int64_t q = 0; q < hm; q++) {
      CHECK(h->held[j * hm + q] == f_held(g, q), "halo held[%lld] of %lld", (long long)q,
            (long long)g);
      CHECK(h->held_q[j * hm + q] == f_q(g, q), "halo held_q[%lld] of %lld", (long long)q,
            (long long)g);
    }
    CHECK(clhs_halo_find(h, g) == j, "clhs_halo_find(%lld) != %lld", (long long)g, (long long)j);
  }
  CHECK(clhs_halo_find(h, w->gid_begin) == -1 || w->n == 0, "clhs_halo_find of a local agent");
  /* Bytes: > 0 exactly when this rank has cross-rank ends, one record per distinct
   * (neighbour rank, local agent). */
  if (nr > 0)
    CHECK(h->bytes_sent > 0 && h->bytes_sent % nsd == 0, "bytes_sent %lld for %lld records",
          (long long)h->bytes_sent, (long long)nsd);
  else
    CHECK(h->bytes_sent == 0, "bytes_sent %lld without cross-rank ties", (long long)h->bytes_sent);
  /* clhs_neighbours points remote neighbours at their halo entries. */
  for (int64_t lc = 0; lc < w->c_count; lc++) {
    const int32_t cap = clhs_careties_max(w, lc) + 16;
    int32_t *care = malloc(sizeof(int32_t) * (size_t)cap);
    clhs_nbr *nb = malloc(sizeof(clhs_nbr) * (size_t)cap);
    assert_non_null(care);
    assert_non_null(nb);
    for (int32_t i = w->first[0][lc]; i < w->first[CLHS_NTYPES][lc]; i++) {
      const int32_t nn = clhs_neighbours(w, lc, i, care, nb);
      for (int32_t k = 0; k < nn; k++) {
        if (k) CHECK(nb[k - 1].gid < nb[k].gid, "neighbours of %d out of order", i);
        if (owns(w, nb[k].gid)) {
          CHECK(nb[k].loc == nb[k].gid - w->gid_begin, "local neighbour loc");
        } else {
          const int64_t hj = -1 - nb[k].loc;
          CHECK(nb[k].loc < 0 && hj < h->n && h->gid[hj] == nb[k].gid,
                "remote neighbour %lld: loc %lld", (long long)nb[k].gid, (long long)nb[k].loc);
        }
      }
    }
    free(care);
    free(nb);
  }
  free(rem);
  free(senders);
}

static void set_state(clhs_world *w) {
  const int64_t hm = w->cfg->resources.held_max;
  for (int64_t i = 0; i < w->n; i++) {
    const int64_t g = w->gid_begin + i;
    w->m[i] = f_m(g);
    w->E[i] = f_E(g);
    for (int64_t q = 0; q < hm; q++) {
      w->held[i * hm + q] = f_held(g, q);
      w->held_q[i * hm + q] = f_q(g, q);
    }
  }
  clhs_world_held_cats(w); /* the flags' held categories, derived from the lists */
}

/* Cross-rank tie ends held by this rank, as the pair list says. */
static int64_t remote_ends(const clhs_world *w, const pair *p, int64_t np, const int *alive) {
  int64_t n = 0;
  for (int64_t k = 0; k < np; k++) {
    if (!alive[k]) continue;
    n += owns(w, p[k].a) && !owns(w, p[k].b);
    n += owns(w, p[k].b) && !owns(w, p[k].a);
  }
  return n;
}

static void test_cross_rank(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, &world6);
  clhs_error err;

  /* The decomposition: contiguous blocks of whole centres, in rank order. */
  int64_t *g0 = fx_centre_gid0(&w);
  CHECK(w.rank_gid0[0] == 0 && w.rank_gid0[comm.size] == w.nagents, "the ranks' bounds");
  CHECK(w.rank_gid0[comm.rank] == w.gid_begin && w.rank_gid0[comm.rank + 1] == w.gid_begin + w.n,
        "this rank's bounds");
  for (int64_t c = 0; c < NCENTRES; c++) {
    const int o = clhs_owner_of_gid(&w, g0[c]);
    CHECK(o >= 0 && o < comm.size, "owner of centre %lld", (long long)c);
    if (c) CHECK(clhs_owner_of_gid(&w, g0[c - 1]) <= o, "owners not in rank order");
    const int mine = c >= w.c_begin && c < w.c_begin + w.c_count;
    CHECK(mine == (o == comm.rank), "centre %lld ownership", (long long)c);
  }
  for (int64_t g = 0; g < w.nagents; g += 7) {
    const int o = clhs_owner_of_gid(&w, g);
    CHECK(o == clhs_owner_of_gid(&w, g0[fx_centre_of(&w, g0, g)]) && w.rank_gid0[o] <= g &&
              g < w.rank_gid0[o + 1],
          "owner of gid %lld", (long long)g);
  }
  assert_no_failures("decomposition");

  pair p[32];
  const int64_t np = make_pairs(g0, p);
  free(g0);
  int alive[32];
  int64_t cross = 0;
  for (int64_t k = 0; k < np; k++) {
    alive[k] = 1;
    cross += clhs_owner_of_gid(&w, p[k].a) != clhs_owner_of_gid(&w, p[k].b);
  }
  if (comm.size > 1) assert_true(cross >= 3); /* the decomposition splits some pairs */

  /* 1. Create: the owner of a sends both ends (and, for the doubled pair, so does the
   *    owner of b). */
  clhs_tie_msg m[128];
  int64_t nm = 0;
  for (int64_t k = 0; k < np; k++) {
    const int senders = owns(&w, p[k].a) + (p[k].both_initiate && owns(&w, p[k].b));
    for (int j = 0; j < senders; j++) {
      fx_msg_pair(m, &nm, p[k].a, p[k].b, CLHS_TIE_CREATE, p[k].kind);
    }
  }
  fx_deliver(&w, m, nm);
  for (int64_t k = 0; k < np; k++) {
    const double w0 = p[k].kind == CLHS_TIE_ONLINE ? 0.3 : 0.5;
    check_pair(&w, &p[k], p[k].both_initiate ? w0 + 0.2 : w0);
  }
  int64_t ends = clhs_ties_count(&w);
  clhs_comm_sum_i64(&comm, &ends, 1);
  CHECK(ends == 2 * np, "%lld tie ends in all, expected %lld", (long long)ends,
        (long long)(2 * np));
  assert_no_failures("creation across ranks");
  fx_ties_ok(&w, "after creation");

  /* 2. The halo. */
  set_state(&w);
  clhs_error_clear(&err);
  int st = clhs_halo_exchange(&w, &err);
  CHECK(st == CLHS_OK, "halo: %s", err.msg);
  assert_no_failures("clhs_halo_exchange");
  check_halo(&w, remote_ends(&w, p, np, alive));
  assert_no_failures("halo contents");

  /* 3. Reinforce the online pairs twice (0.3 + 0.4), then decay: both ends agree. */
  nm = 0;
  for (int64_t k = 0; k < np; k++)
    if (p[k].kind == CLHS_TIE_ONLINE && owns(&w, p[k].a))
      for (int j = 0; j < 2; j++) {
        fx_msg_pair(m, &nm, p[k].a, p[k].b, CLHS_TIE_REINFORCE, 0);
      }
  fx_deliver(&w, m, nm);
  for (int64_t k = 0; k < np; k++)
    if (p[k].kind == CLHS_TIE_ONLINE) check_pair(&w, &p[k], 0.7);
  assert_no_failures("reinforcement across ranks");
  for (int s = 0; s < 5; s++)
    clhs_ties_decay(&w);
  for (int64_t k = 0; k < np; k++)
    if (p[k].kind == CLHS_TIE_ONLINE) check_pair(&w, &p[k], 0.7 * pow(0.99, 5));
  assert_no_failures("decay across ranks");
  fx_ties_ok(&w, "after reinforcement and decay");

  /* 4. Drop the event pairs c - c+3 at both ends (messages from the owner of a). */
  nm = 0;
  for (int64_t k = 0; k < 3; k++) {
    alive[k] = 0;
    if (owns(&w, p[k].a)) {
      fx_msg_pair(m, &nm, p[k].a, p[k].b, CLHS_TIE_DROP, 0);
    }
  }
  fx_deliver(&w, m, nm);
  for (int64_t k = 0; k < 3; k++)
    check_pair(&w, &p[k], -1);
  ends = clhs_ties_count(&w);
  clhs_comm_sum_i64(&comm, &ends, 1);
  CHECK(ends == 2 * (np - 3), "%lld tie ends after drops", (long long)ends);
  assert_no_failures("drops across ranks");
  fx_ties_ok(&w, "after drops");
  set_state(&w);
  clhs_error_clear(&err);
  st = clhs_halo_exchange(&w, &err);
  CHECK(st == CLHS_OK, "halo after drops: %s", err.msg);
  assert_no_failures("clhs_halo_exchange after drops");
  check_halo(&w, remote_ends(&w, p, np, alive));
  assert_no_failures("halo contents after drops");

  /* 5. A drop delivered to one end only: the check sees it on every rank (the count is
   *    global), and names the pair; dropping the other end repairs it. */
  int64_t kq = 3; /* an online pair, split over two ranks if any is */
  for (int64_t k = 3; k < 3 + NCENTRES; k++)
    if (clhs_owner_of_gid(&w, p[k].a) != clhs_owner_of_gid(&w, p[k].b)) {
      kq = k;
      break;
    }
  const pair *q = &p[kq];
  nm = 0;
  if (owns(&w, q->a)) m[nm++] = (clhs_tie_msg){.target = q->b, .nbr = q->a, .op = CLHS_TIE_DROP};
  fx_deliver(&w, m, nm);
  clhs_error_clear(&err);
  const int64_t bad = clhs_ties_check(&w, &err);
  CHECK(bad > 0, "a one-sided tie %lld-%lld not seen", (long long)q->a, (long long)q->b);
  if (err.code != CLHS_OK) {
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%lld-%lld", (long long)q->a, (long long)q->b);
    snprintf(p2, sizeof p2, "%lld-%lld", (long long)q->b, (long long)q->a);
    CHECK(strstr(err.msg, p1) || strstr(err.msg, p2) || strstr(err.msg, "partner ends"),
          "message: %s", err.msg);
  }
  assert_no_failures("one-sided drop detected");
  nm = 0;
  if (owns(&w, q->a)) m[nm++] = (clhs_tie_msg){.target = q->a, .nbr = q->b, .op = CLHS_TIE_DROP};
  fx_deliver(&w, m, nm);
  alive[kq] = 0;
  fx_ties_ok(&w, "after the other end is dropped too");
  set_state(&w);
  clhs_error_clear(&err);
  st = clhs_halo_exchange(&w, &err);
  CHECK(st == CLHS_OK, "halo: %s", err.msg);
  assert_no_failures("clhs_halo_exchange at the end");
  check_halo(&w, remote_ends(&w, p, np, alive));
  assert_no_failures("halo contents at the end");

  fx_done(&cfg, &w);
}

/* Many cross-rank ties in one delivery from every rank at once, with creates of the same
 * pair sent by both owners, random kinds, and a full check. */
static void test_many_cross_rank(void **state) {
  (void)state;
  clhs_config cfg;
  clhs_world w;
  fx_make(&cfg, &w, &world6);
  const int64_t N = w.nagents;
  /* Pair k: a = (37 k) mod N, b = (101 k + 13) mod N, kept if not a care tie. */
  enum { NP = 400 };
  clhs_tie_msg *m = malloc(sizeof *m * 4 * NP);
  assert_non_null(m);
  int64_t nm = 0;
  int64_t *g0 = fx_centre_gid0(&w);
  for (int64_t k = 0; k < NP; k++) {
    const int64_t a = (37 * k) % N, b = (101 * k + 13) % N;
    const int64_t ca = fx_centre_of(&w, g0, a), cb = fx_centre_of(&w, g0, b);
    if (a == b || ca == cb) continue; /* only cross-centre: never a care tie */
    const int kind = 1 + (int)(k % 3);
    if (owns(&w, a)) {
      fx_msg_pair(m, &nm, a, b, CLHS_TIE_CREATE, kind);
    }
  }
  free(g0);
  fx_deliver(&w, m, nm);
  fx_ties_ok(&w, "many cross-rank ties");
  int64_t ends = clhs_ties_count(&w);
  clhs_comm_sum_i64(&comm, &ends, 1);
  CHECK(ends > 100, "only %lld tie ends", (long long)ends);
  assert_no_failures("tie count");
  for (int s = 0; s < 100; s++)
    clhs_ties_decay(&w);
  fx_ties_ok(&w, "after 100 weeks of decay");
  set_state(&w);
  clhs_error err;
  clhs_error_clear(&err);
  const int st = clhs_halo_exchange(&w, &err);
  CHECK(st == CLHS_OK, "halo: %s", err.msg);
  assert_no_failures("halo");
  int64_t nrem = 0;
  for (int64_t lc = 0; lc < w.c_count; lc++) {
    const clhs_tieset *ts = &w.ties[lc];
    const int32_t na = w.first[CLHS_NTYPES][lc] - w.first[0][lc];
    for (uint32_t d = 0; d < ts->off[na]; d++)
      nrem += !owns(&w, clhs_tie_gid(ts->key[d]));
  }
  check_halo(&w, nrem);
  assert_no_failures("halo contents");
  free(m);
  fx_done(&cfg, &w);
}

/* The decomposition with fewer centres than ranks (ranks with no centre) and with many: the
 * ranks' first global ids cover [0, nagents) in order, each rank's block is where they say,
 * a rank with no centre sits where the next rank's block starts, and the owner of every
 * global id is the rank whose block holds it. */
static void test_rank_bounds(void **state) {
  (void)state;
  const int64_t centres[2] = {1, 37};
  for (int k = 0; k < 2; k++) {
    clhs_config cfg;
    clhs_world w;
    fx_make(&cfg, &w, &(fx_opts){.centres = centres[k], .patients = 20});
    const int64_t *b = w.rank_gid0;
    CHECK(b[0] == 0 && b[comm.size] == w.nagents, "ends of the ranks' bounds");
    for (int q = 0; q < comm.size; q++)
      CHECK(b[q] <= b[q + 1], "bounds of ranks %d and %d out of order", q, q + 1);
    CHECK(b[comm.rank] == w.gid_begin && b[comm.rank + 1] == w.gid_begin + w.n,
          "rank %d's block [%lld, %lld) vs its bounds", comm.rank, (long long)w.gid_begin,
          (long long)(w.gid_begin + w.n));
    /* The first centre of the next rank: c_begin + c_count of this one, even if empty. */
    int64_t next = w.c_begin + w.c_count, prev = -1;
    int64_t *nexts = malloc(sizeof *nexts * (size_t)comm.size);
    assert_non_null(nexts);
    clhs_comm_allgatherv(&comm, &next, 1, sizeof next, nexts);
    if (comm.rank > 0) prev = nexts[comm.rank - 1];
    free(nexts);
    CHECK(comm.rank == 0 ? w.c_begin == 0 : w.c_begin == prev, "rank %d starts at centre %lld",
          comm.rank, (long long)w.c_begin);
    CHECK(w.c_count > 0 || w.n == 0, "an empty rank holds agents");
    for (int64_t g = 0; g < w.nagents; g++) {
      const int o = clhs_owner_of_gid(&w, g);
      CHECK(o >= 0 && o < comm.size && b[o] <= g && g < b[o + 1], "owner %d of gid %lld", o,
            (long long)g);
    }
    assert_no_failures("the ranks' bounds");
    fx_done(&cfg, &w);
  }
}

FX_MAIN(cmocka_unit_test(test_cross_rank), cmocka_unit_test(test_many_cross_rank),
        cmocka_unit_test(test_rank_bounds))
