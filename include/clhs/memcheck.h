/**
 * @file memcheck.h
 * @brief The memory a run will need, estimated from the configuration before the world is
 *        built, against what the job may use (src/model/estimate.c: this rank's block and
 *        the world's arrays; src/engine/memcheck.c: the whole estimate, what is available,
 *        the check).
 *
 * The estimate of one rank's peak resident memory is the sum of
 *  - process: what the process holds when the check runs (MPI, the libraries, the
 *    configuration), read from /proc/self/status, plus CLHS_MEM_LIBS (HDF5 and the output
 *    file, measured) and CLHS_MEM_PER_PEER per other rank (MPI connections);
 *  - world: the arrays clhs_world_create allocates for this rank's block of centres, exactly
 *    what clhs_world_bytes() reports at step 0 (per agent, per patient, per centre, the empty
 *    tie rows);
 *  - replicated: what every rank holds of every rank, the ranks' first global ids (P + 1;
 *    nothing per centre);
 *  - ties, halo, resources, commons: what grows over run.steps, at expected sizes fitted to
 *    bench/network_on.yml (every lever on from step 0) over 30-2,500 steps and scaled by the
 *    tie-formation and resource-creation rates and the tie lifetime of the configuration;
 *  - output: the record and output buffers (a batch of 64 records of this rank's block);
 *  - transient: the largest short-lived buffers: those of a step (tie events, candidates,
 *    the halo exchange, the event partners' per-centre totals), of the network check at the
 *    end of a run (a message per tie end that crosses ranks), of building the world, or of
 *    writing a checkpoint (counted when checkpoints are configured: checkpoint.every,
 *    checkpoint.wall or run.max_wall_time; a checkpoint forced by a signal in a run without
 *    them may exceed the estimate by about 45 bytes per agent).
 *
 * Measured against peak RSS: -6 % .. +18 % from 58,140 to 1.04 x 10^8 agents, 1 and 2 ranks,
 * 5 to 730 steps (the v1.1 default scenario and its examples/icn.yml, bench/network_on.yml;
 * the upper end is the default scenario at 10^6 agents over 730 weeks on 2 ranks: fewer ties
 * than fitted).
 */
#ifndef CLHS_MEMCHECK_H
#define CLHS_MEMCHECK_H

#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"

/** HDF5, the output file and its MPI-IO buffers: resident bytes beyond what the process holds
 * at the check (measured: 27.8 MiB peak for a 1-centre run that held 20.9 MiB then). */
#define CLHS_MEM_LIBS ((int64_t)7 << 20)
/** Per other rank of the run (MPI connection state, eager buffers): an allowance, not
 * measured beyond 2 ranks. */
#define CLHS_MEM_PER_PEER ((int64_t)32 << 10)
/** A run is refused when its estimate exceeds this share of what is available. */
#define CLHS_MEM_MARGIN 0.9

/** This rank's block of centres as clhs_world_create will build it (from the configuration). */
typedef struct clhs_mem_block {
  int64_t ncentres, nagents; /**< the whole run */
  int64_t c_begin, c_count;  /**< this rank's centres (none: where its block would start) */
  int64_t n, npat, nfam;     /**< this rank's agents, patients, caregivers */
  int64_t nclin, nqis;       /**< ... clinicians, improvement staff */
  int64_t max_centre_pat;    /**< most patients in one of this rank's centres */
} clhs_mem_block;

/**
 * Collective: this rank's block of centres, agents and patients as clhs_world_create will
 * build it (its decomposition, clhs_world_decompose), computed without building the world
 * in O(centres / ranks + researchers / ranks + ranks) time: each rank sizes an equal share
 * of the centres, the shares' totals are gathered (four integers per rank) for the global
 * ids, and each centre's sizes are sent to the rank that will own it.
 */
int clhs_memory_block(const clhs_config *cfg, const clhs_comm *comm, clhs_mem_block *b,
                      clhs_error *err);

/** The bytes clhs_world_bytes() reports for the world of block @p b right after creation. */
int64_t clhs_memory_world_bytes(const clhs_config *cfg, const clhs_mem_block *b);

/**
 * Expected dynamic tie ends per agent after @p steps steps (fitted; see estimate.c);
 * @p cross_part (may be NULL) receives the event and online part (ties across centres).
 */
double clhs_memory_tie_ends_per_agent(const clhs_config *cfg, double steps, double *cross_part);

/** The parts of one rank's estimate, in bytes (see the file comment). */
typedef struct clhs_mem_estimate {
  int64_t process, world, replicated, ties, halo, resources, commons, output, transient;
  int64_t total;
} clhs_mem_estimate;

/**
 * One rank's estimated peak resident bytes for @p cfg on block @p b, given @p rss_now (what
 * the process holds now; 0: read /proc/self/status). Local (no communication).
 */
void clhs_memory_estimate(const clhs_config *cfg, const clhs_comm *comm, const clhs_mem_block *b,
                          int64_t rss_now, clhs_mem_estimate *e);

/** What one node offers the job, in bytes (-1 where a source is absent or unlimited). */
typedef struct clhs_mem_avail {
  int64_t mem_available; /**< MemAvailable of /proc/meminfo */
  int64_t cgroup_limit;  /**< the tightest cgroup limit (v2 memory.max, v1 limit_in_bytes) */
  int64_t cgroup_usage;  /**< that cgroup's usage less its inactive file cache */
  int cgroup_version;    /**< 1 or 2; 0 if no limit was found */
  int64_t rlimit_as;     /**< RLIMIT_AS (per process) */
  int64_t rlimit_data;   /**< RLIMIT_DATA (per process) */
  int64_t vm_size, vm_data, vm_rss; /**< this process now (/proc/self/status) */
  int64_t env_limit;                /**< CLHS_MEMORY_LIMIT */
} clhs_mem_avail;

/**
 * Read what is available: /proc/meminfo, /proc/self/cgroup with /proc/self/mountinfo and
 * the cgroup files (every level up to the mount's root: the tightest limit), the resource
 * limits, /proc/self/status, and CLHS_MEMORY_LIMIT (bytes, or a number with K, M, G or T:
 * powers of 1024). @p root prefixes every path ("" for the real ones; tests give a fake
 * tree). CLHS_EINPUT if CLHS_MEMORY_LIMIT is not a size.
 */
int clhs_memory_available(const char *root, clhs_mem_avail *a, clhs_error *err);

/** Parse a size ("123", "1.5G", "800M", "64k"); -1 if it is not one. */
int64_t clhs_memory_parse_size(const char *s);

/**
 * Collective: estimate the peak bytes each rank will hold for @p cfg on this
 * decomposition, sum them over the ranks of each node, compare with the memory available
 * to the job on that node; CLHS_EINPUT with a message naming the estimate and what is
 * available when it cannot fit. Every rank returns the same status. @p estimate (may be
 * NULL) receives this rank's estimate in bytes. CLHS_SKIP_MEMORY_CHECK=1 turns the refusal
 * into a warning; CLHS_MEMORY_REPORT=1 prints rank 0's estimate, part by part.
 */
int clhs_memory_check(const clhs_config *cfg, const clhs_comm *comm, int64_t *estimate,
                      clhs_error *err);

#endif
