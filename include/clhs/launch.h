/**
 * @file launch.h
 * @brief Checks of how the program was launched: thread counts, oversubscription, and
 *        path lengths the MPI-IO layer accepts (src/engine/launch.c).
 */
#ifndef CLHS_LAUNCH_H
#define CLHS_LAUNCH_H

#include "clhs/comm.h"
#include "clhs/error.h"

/**
 * Called first in main(), before MPI is initialised (no MPI, no OpenMP region). May set
 * environment variables for the MPI and OpenMP runtimes, or re-execute the program with
 * them set (at most once). Never exits on its own.
 */
void clhs_launch_preinit(int argc, char **argv);

/**
 * Collective, after clhs_comm_init: refuse absurd thread counts (CLHS_EINPUT with a
 * message), warn on rank 0 when ranks x threads on a node exceed its cores. Every rank
 * returns the same status.
 */
int clhs_launch_check(const clhs_comm *comm, clhs_error *err);

/**
 * Any rank, no MPI: CLHS_EINPUT with a message when @p path cannot be opened through the
 * MPI-IO layer (e.g. too long for it); @p what names the setting ("output.path").
 */
int clhs_launch_check_io_path(const char *path, const char *what, clhs_error *err);

#endif
