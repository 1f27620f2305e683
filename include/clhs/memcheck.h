/**
 * @file memcheck.h
 * @brief The memory a run will need, estimated from the configuration before the world is
 *        built, against what the job may use (src/engine/memcheck.c).
 */
#ifndef CLHS_MEMCHECK_H
#define CLHS_MEMCHECK_H

#include <stdint.h>

#include "clhs/comm.h"
#include "clhs/config.h"
#include "clhs/error.h"

/**
 * Collective: estimate the peak bytes each rank will hold for @p cfg on this
 * decomposition, sum them over the ranks of each node, compare with the memory available
 * to the job on that node; CLHS_EINPUT with a message naming the estimate and what is
 * available when it cannot fit. Every rank returns the same status. @p estimate (may be
 * NULL) receives this rank's estimate in bytes.
 */
int clhs_memory_check(const clhs_config *cfg, const clhs_comm *comm, int64_t *estimate,
                      clhs_error *err);

#endif
