/*
 * What clhs_world_create will allocate on this rank, from the configuration alone
 * (include/clhs/memcheck.h): this rank's block of centres and the bytes of its world, and
 * the expected sizes of what grows as the run goes (ties).
 *
 * The block is the one clhs_world_create builds: the same decomposition
 * (clhs_world_decompose, src/model/world.c), in which each rank sizes an equal share of the
 * centres (O(centres / ranks)), learns where its share starts in the global ids from the
 * shares' totals (an allgather of four integers per rank), and sends each owner the sizes
 * of the centres it will own (a sparse exchange).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clhs/memcheck.h"
#include "model_internal.h"

int clhs_memory_block(const clhs_config *cfg, const clhs_comm *comm, clhs_mem_block *b,
                      clhs_error *err) {
  (void)err;
  memset(b, 0, sizeof *b);
  clhs_decomp d;
  clhs_world_decompose(cfg, comm, &d);
  b->ncentres = d.ncentres;
  b->nagents = d.nagents;
  b->c_begin = d.c_begin;
  b->c_count = d.c_count;
  for (int64_t lc = 0; lc < d.c_count; lc++) {
    const int32_t *k = d.cnt[lc];
    for (int t = 0; t < CLHS_NTYPES; t++)
      b->n += k[t];
    b->npat += k[CLHS_PAT];
    b->nfam += k[CLHS_FAM];
    b->nclin += k[CLHS_CLIN];
    b->nqis += k[CLHS_QIS];
    if (k[CLHS_PAT] > b->max_centre_pat) b->max_centre_pat = k[CLHS_PAT];
  }
  clhs_decomp_free(&d);
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
 * The default scenario (levers switched on over the years) reaches 1.94 ends per agent at
 * 730 weeks under model v1.2 (1.66 under v1.1, 2.1 with v1.1's calibrated examples/icn.yml),
 * bench/network_on.yml 2.38 (2.47 at 10^6 agents): the fit (2.45) is an upper estimate of
 * all of them. *cross_part (may be NULL) receives the event
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
