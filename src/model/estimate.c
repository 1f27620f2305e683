/*
 * What clhs_world_create will allocate on this rank, from the configuration alone
 * (include/clhs/memcheck.h): this rank's block of centres and the bytes of its world, and
 * the expected sizes of what grows as the run goes (ties).
 *
 * The block follows src/model/world.c exactly: the same keyed centre sizes
 * (clhs_centre_patients, the caregivers' binomial, clinicians, improvement staff, the
 * researchers' keyed centres) and the same rule for owners (the rank whose share of agents
 * holds the centre's midpoint). world.c sizes every centre on every rank; here each rank
 * sizes an equal share of the centres (O(centres / ranks)), learns where its share starts in
 * the global ids from the shares' totals (an allgather of one integer per rank), and sends
 * each owner the counts of the centres it will own (a sparse exchange).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/memcheck.h"
#include "clhs/model.h"
#include "clhs/rng.h"

/* floor(x * r / P) without overflow (x * r may exceed 2^63 for x near 2^62 / P). */
static int64_t share_bound(int64_t x, int r, int P) {
  return (x / P) * r + (x % P) * r / P;
}

/* The rank whose share [share_bound(C, q), share_bound(C, q + 1)) holds centre c. */
static int share_owner(int64_t c, int64_t C, int P) {
  int q = (int)(((c + 1) * (int64_t)P - 1) / C);
  while (q > 0 && share_bound(C, q, P) > c) /* guards against rounding at the ends */
    q--;
  while (q + 1 < P && share_bound(C, q + 1, P) <= c)
    q++;
  return q;
}

/* Counts of one owner's centres within a share (crosses MPI: fixed layout). */
typedef struct owner_rec {
  int64_t first, centres, agents, pat, fam, clin, qis, maxpat;
} owner_rec;

int clhs_memory_block(const clhs_config *cfg, const clhs_comm *comm, clhs_mem_block *b,
                      clhs_error *err) {
  (void)err;
  memset(b, 0, sizeof *b);
  const int64_t C = cfg->population.centres;
  const int P = comm->size;
  const int64_t s0 = share_bound(C, comm->rank, P), s1 = share_bound(C, comm->rank + 1, P);
  const int64_t ns = s1 - s0;
  int32_t(*cnt)[CLHS_NTYPES] = calloc((size_t)(ns ? ns : 1), sizeof *cnt);
  if (!cnt)
    clhs_comm_abort(comm, 1, "out of memory sizing %lld centres for the memory estimate",
                    (long long)ns);
  for (int64_t c = s0; c < s1; c++) {
    int32_t *k = cnt[c - s0];
    const int32_t np = clhs_centre_patients(cfg, c);
    clhs_rng r;
    clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)c, CLHS_P_CAREGIVERS);
    k[CLHS_PAT] = np;
    k[CLHS_FAM] = (int32_t)clhs_rng_binomial(&r, np, cfg->population.caregivers_per_patient);
    k[CLHS_CLIN] = (int32_t)((np + cfg->population.patients_per_clinician - 1) /
                             cfg->population.patients_per_clinician);
    k[CLHS_QIS] = (int32_t)(cfg->population.qis_base + np / cfg->population.qis_per_patients);
  }

  /* Researchers: this rank draws an equal share of them and sends each centre index to the
   * rank whose share holds that centre. */
  int64_t R = (int64_t)floor(cfg->population.researchers_per_centre * (double)C + 0.5);
  if (R < cfg->population.researchers_min) R = cfg->population.researchers_min;
  {
    const int64_t k0 = share_bound(R, comm->rank, P), k1 = share_bound(R, comm->rank + 1, P);
    const int64_t nk = k1 - k0;
    int64_t *rc = malloc(sizeof *rc * (size_t)(nk ? nk : 1));
    int *dest = malloc(sizeof *dest * (size_t)(nk ? nk : 1));
    if (!rc || !dest) clhs_comm_abort(comm, 1, "out of memory placing researchers");
    for (int64_t k = k0; k < k1; k++) {
      clhs_rng r;
      clhs_rng_init(&r, cfg->run.seed, CLHS_STEP_INIT, (uint64_t)k, CLHS_P_RES_AFFIL);
      int64_t c = (int64_t)(clhs_rng_uniform(&r) * (double)C);
      if (c >= C) c = C - 1;
      rc[k - k0] = c;
      dest[k - k0] = share_owner(c, C, P);
    }
    int oom = 0;
    int64_t nin = 0;
    int64_t *in = clhs_comm_route(comm, rc, dest, nk, sizeof *rc, &nin, &oom);
    if (oom) clhs_comm_abort(comm, 1, "out of memory placing researchers");
    for (int64_t j = 0; j < nin; j++)
      if (in[j] >= s0 && in[j] < s1) cnt[in[j] - s0][CLHS_RES]++;
    free(in);
    free(rc);
    free(dest);
  }

  /* Where this share starts in the global ids: the shares' agent totals, in rank order. */
  int64_t mine = 0;
  for (int64_t c = 0; c < ns; c++)
    for (int t = 0; t < CLHS_NTYPES; t++)
      mine += cnt[c][t];
  int64_t *tot = malloc(sizeof *tot * (size_t)P);
  if (!tot) clhs_comm_abort(comm, 1, "out of memory gathering %d totals", P);
  clhs_comm_allgatherv(comm, &mine, 1, sizeof mine, tot);
  int64_t gid = 0, N = 0;
  for (int q = 0; q < P; q++) {
    if (q < comm->rank) gid += tot[q];
    N += tot[q];
  }
  free(tot);
  b->ncentres = C;
  b->nagents = N;

  /* Owners of this share's centres (world.c's rule, the same floating-point expression),
   * counted per owner: owners do not decrease with the centre index. */
  owner_rec *rec = malloc(sizeof *rec * (size_t)(ns ? ns : 1));
  int *dest = malloc(sizeof *dest * (size_t)(ns ? ns : 1));
  if (!rec || !dest) clhs_comm_abort(comm, 1, "out of memory for the memory estimate");
  int64_t nrec = 0;
  for (int64_t c = s0; c < s1; c++) {
    const int32_t *k = cnt[c - s0];
    int64_t size = 0;
    for (int t = 0; t < CLHS_NTYPES; t++)
      size += k[t];
    const double mid = (double)gid + 0.5 * (double)size;
    int o = N > 0 ? (int)floor(mid * P / (double)N) : 0;
    if (o >= P) o = P - 1;
    gid += size;
    if (nrec == 0 || dest[nrec - 1] != o) {
      memset(&rec[nrec], 0, sizeof rec[nrec]);
      rec[nrec].first = c;
      dest[nrec++] = o;
    }
    owner_rec *x = &rec[nrec - 1];
    x->centres++;
    x->agents += size;
    x->pat += k[CLHS_PAT];
    x->fam += k[CLHS_FAM];
    x->clin += k[CLHS_CLIN];
    x->qis += k[CLHS_QIS];
    if (k[CLHS_PAT] > x->maxpat) x->maxpat = k[CLHS_PAT];
  }
  free(cnt);
  int oom = 0;
  int64_t nin = 0;
  owner_rec *in = clhs_comm_route(comm, rec, dest, nrec, sizeof *rec, &nin, &oom);
  if (oom) clhs_comm_abort(comm, 1, "out of memory for the memory estimate");
  free(rec);
  free(dest);
  b->c_begin = -1;
  for (int64_t j = 0; j < nin; j++) { /* received in rank order = centre order */
    if (b->c_begin < 0) b->c_begin = in[j].first;
    b->c_count += in[j].centres;
    b->n += in[j].agents;
    b->npat += in[j].pat;
    b->nfam += in[j].fam;
    b->nclin += in[j].clin;
    b->nqis += in[j].qis;
    if (in[j].maxpat > b->max_centre_pat) b->max_centre_pat = in[j].maxpat;
  }
  free(in);
  return CLHS_OK;
}

int64_t clhs_memory_world_bytes(const clhs_config *cfg, const clhs_mem_block *b) {
  /* The table's arrays, as clhs_world_bytes() counts them at step 0 (tests/unit/test_memcheck.c
   * compares); replicated entities and centre bounds are not read. */
  int64_t count[CLHS_NENTITIES] = {0};
  count[CLHS_E_AGENT] = b->n;
  count[CLHS_E_PATIENT] = b->npat;
  count[CLHS_E_CLIN] = b->nclin;
  count[CLHS_E_QIS] = b->nqis;
  count[CLHS_E_FAM] = b->nfam;
  count[CLHS_E_CENTRE] = b->c_count;
  /* Tie rows: one offset per agent plus one per centre; no tie ends yet. */
  const int64_t tie_rows = (b->n + b->c_count) * (int64_t)sizeof(uint32_t);
  return clhs_fields_bytes(count, cfg->resources.held_max) + tie_rows;
}

/*
 * Dynamic tie ends per agent after S steps. Fitted to bench/network_on.yml (every lever at
 * full intensity from step 0; 58,140 agents; 30-2,500 steps), where peer ties saturate at
 * about 1.3 ends per agent within ~300 weeks and event and online ties keep growing,
 * 0.0016 per agent-week at first and as S^0.7 later (1.1 ends per agent at 730 weeks, 2.6
 * at 2,500). Scaled by the configuration:
 *  - peer: peer_rate (default 0.5) x the roles lever's max (I_community);
 *  - event (85 % of the cross-centre kinds at the defaults) and online (15 %): ties per
 *    attendee-week (conference_ties / conference_every + webinar_ties / webinar_every;
 *    default 0.127) x the mean attendance probability (default 0.6) x the qi_training
 *    lever's max, and online_rate (default 0.01) x the commons lever's max;
 *  - the lifetime of an unreinforced tie, ln(prune_below / 0.5) / ln(1 - decay) weeks
 *    (229 at the defaults), stretches or shortens both (never pruned: linear growth).
 * The default scenario (levers switched on over the years) reaches 1.66 ends per agent at
 * 730 weeks, examples/icn.yml 2.1, bench/network_on.yml 2.38 (2.47 at 10^6 agents): the fit
 * (2.45) is an upper estimate of all of them. *cross_part (may be NULL) receives the event
 * and online ends, those that can join centres on different ranks.
 */
double clhs_memory_tie_ends_per_agent(const clhs_config *cfg, double S, double *cross_part) {
  if (cross_part) *cross_part = 0;
  if (!(S > 0)) return 0;
  const double T0 = log(0.1) / log(0.99); /* 229.1 weeks at the defaults */
  const double decay = cfg->network.decay, prune = cfg->network.prune_below;
  double life; /* relative to T0; INFINITY: ties are never pruned */
  if (decay <= 0 || prune <= 0)
    life = INFINITY;
  else if (decay >= 1 || prune >= 0.5)
    life = 1.0 / T0; /* pruned within a week or two of forming */
  else
    life = log(prune / 0.5) / log(1.0 - decay) / T0;
  const clhs_lever_cfg *lv = cfg->levers;
  const double lev_roles = fmax(lv[CLHS_LEV_ROLES].max, 0);
  const double lev_train = fmax(lv[CLHS_LEV_QI_TRAINING].max, 0);
  const double lev_commons = fmax(lv[CLHS_LEV_COMMONS].max, 0);
  const double rho_peer = cfg->network.peer_rate / 0.5 * lev_roles;
  const double ev = cfg->network.conference_ties / (double)cfg->network.conference_every +
                    cfg->network.webinar_ties / (double)cfg->network.webinar_every;
  const double att = (cfg->network.attend[0] + cfg->network.attend[1] + cfg->network.attend[2]) / 3;
  const double rho_event = ev / (2.0 / 26 + 0.2 / 4) * (att / 0.6) * lev_train;
  const double rho_online = cfg->network.online_rate / 0.01 * lev_commons;
  const double rho_cross = 0.85 * rho_event + 0.15 * rho_online;
  double peer, cross;
  if (isinf(life)) {
    peer = 1.3 * rho_peer * S / 100.0;
    cross = rho_cross * 0.0016 * S;
  } else {
    peer = 1.3 * rho_peer * life * -expm1(-S / (100.0 * life));
    cross = rho_cross * fmin(0.0016 * S, 1.15 * pow(S / 730.0, 0.7) * pow(life, 0.7));
  }
  if (cross_part) *cross_part = cross;
  return peer + cross;
}
