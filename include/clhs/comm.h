/**
 * @file comm.h
 * @brief The communication layer: the only module that calls MPI (CoMD's rule).
 *
 * No other module calls MPI: the model's phases (src/model), the engine, the I/O module
 * and the launcher call the functions declared here. The model calls them directly
 * wherever a rule needs other ranks (exact integer sums, the routing of tie events,
 * partner requests, offers and adoption notices, the halo exchange, the ranks' totals of
 * partner weights and of the commons with the requests they resolve, agreeing on an error).
 * Everything here is collective over the ranks of its clhs_comm (the world, or a group of an
 * ensemble: clhs_comm_split) unless said otherwise. The I/O module receives the
 * raw communicator through clhs_comm_mpi_handle() only to hand it to HDF5's MPI-IO driver.
 */
#ifndef CLHS_COMM_H
#define CLHS_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "clhs/error.h"

/**
 * What this rank spent in communication (for benchmarks and /run). Counted by every function
 * of this layer while clhs_comm.stats is set (a few integer additions per call; nothing when
 * it is NULL). `sent`, `received` and `messages` count all of this rank's traffic by one
 * convention:
 *  - point to point (the sparse exchange, clhs_comm_alltoallv and clhs_comm_route): the
 *    bytes of each message to or from another rank, and one message per send and per
 *    receive; what a rank sends itself is neither sent nor received;
 *  - a collective: one message per call on every rank that takes part (whatever algorithm
 *    MPI runs underneath); `sent` the bytes this rank contributes, `received` the bytes of
 *    the result that come from the other ranks. An allreduce of n bytes: n sent, n
 *    received. A broadcast of n bytes: n sent by the root, n received by every other rank.
 *    An (all)gather: this rank's block sent (the root of a gather sends nothing), the other
 *    ranks' blocks received (by every rank, or by the root), plus the gather of the block
 *    sizes that precedes it (a second call: 8 bytes sent, 8 x (ranks - 1) received). A
 *    barrier (the sparse exchange ends with a non-blocking one): one message, no bytes;
 *  - the agreement on an error: its reductions and broadcast, as above.
 * HDF5's own MPI-IO traffic (collective writes of the output) is not counted: it does not
 * pass through this layer.
 */
typedef struct clhs_comm_stats {
  double seconds;         /**< wall time inside exchanges, gathers and integer sums */
  int64_t bytes_sent;     /**< bytes this rank sent to other ranks in personalised exchanges */
  int64_t bytes_gathered; /**< bytes this rank received from other ranks in (all)gathers */
  int64_t calls;          /**< exchanges, gathers and integer sums */
  int64_t sent;           /**< all bytes this rank sent (the convention above) */
  int64_t received;       /**< all bytes this rank received */
  int64_t messages;       /**< messages sent and received, collectives counted once per call */
} clhs_comm_stats;

struct clhs_comm_impl; /* the MPI handles (src/comm/comm.c) */

typedef struct clhs_comm {
  struct clhs_comm_impl *impl; /**< the world's (clhs_comm_init) or a group's (clhs_comm_split) */
  int rank;
  int size;
  int threads;            /**< OpenMP threads per rank */
  int local_rank;         /**< rank among the ranks on this node (shared-memory domain) */
  int local_size;         /**< ranks on this node */
  clhs_comm_stats *stats; /**< owned by the caller of clhs_comm_init; may be NULL */
} clhs_comm;

/** Initialise MPI (MPI_THREAD_FUNNELED) and fill @p c. Aborts with a message if MPI fails. */
void clhs_comm_init(int *argc, char ***argv, clhs_comm *c);
void clhs_comm_finalize(void);

/**
 * Collective over @p parent: split its ranks into groups by @p color (ranks keep their
 * order), @p child the group of this rank, with every function of this layer working inside
 * it (its own exchange copy and node ranks). Free with clhs_comm_free (collective over the
 * group). Ensembles run one member per group.
 */
void clhs_comm_split(const clhs_comm *parent, int color, clhs_comm *child);
void clhs_comm_free(clhs_comm *c);

/** A counter shared by the ranks of a communicator (one-sided, held by its rank 0): a queue
 * of work that any rank takes from without the others taking part. */
typedef struct clhs_comm_counter clhs_comm_counter;
/** Collective: a counter at 0. */
clhs_comm_counter *clhs_comm_counter_create(const clhs_comm *c);
/** Not collective: the counter's value, and add 1 to it (atomically). */
int64_t clhs_comm_counter_next(clhs_comm_counter *k);
/** Collective: free the counter. */
void clhs_comm_counter_free(clhs_comm_counter **k);

/**
 * End every rank now with @p status, after printing a message that names the rank. For a
 * rank that can neither go on nor return alone: this layer uses it when it cannot finish a
 * collective it is inside (a receive buffer it cannot allocate). The model's phases and the
 * engine never call it: they return a status and the ranks agree it
 * (clhs_comm_agree_error; the policy of a step is at the top of src/model/step.c).
 */
_Noreturn void clhs_comm_abort(const clhs_comm *c, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * Agree on an error across ranks -- the one way the engine and the model do it. Every rank
 * passes its own @p status (CLHS_OK or an error) and its error record; returns the worst
 * (largest) status over ranks. If that is an error, every rank's @p err holds it, with the
 * message of the lowest rank that failed ("rank N: " in front when N is not 0). A rank
 * that fails without having recorded a message reports what its status means ("out of
 * memory", ...). Costs one small reduction when every rank is fine.
 */
int clhs_comm_agree_error(const clhs_comm *c, int status, clhs_error *err);

/**
 * The same on a bare message buffer (the primitive under clhs_comm_agree_error): returns
 * the worst status over ranks, and if it is not CLHS_OK copies the message of the lowest
 * rank that failed into every rank's @p msg (size @p msglen; may be NULL).
 */
int clhs_comm_agree(const clhs_comm *c, int status, char *msg, size_t msglen);

void clhs_comm_bcast(const clhs_comm *c, void *buf, size_t nbytes, int root);
/** Broadcast a malloc'd buffer whose size only @p root knows; others get a new malloc'd buffer. */
void *clhs_comm_bcast_alloc(const clhs_comm *c, void *buf, size_t *nbytes, int root);

/** Exact integer reductions (order-independent, hence deterministic). */
void clhs_comm_sum_i64(const clhs_comm *c, int64_t *vals, int n);
void clhs_comm_sum_u64(const clhs_comm *c, uint64_t *vals, int n); /* modulo 2^64 */
void clhs_comm_max_i64(const clhs_comm *c, int64_t *vals, int n);
void clhs_comm_max_f64(const clhs_comm *c, double *vals, int n);

/**
 * Gather each rank's block (@p nlocal items of @p itemsize bytes) onto every
 * rank in rank order into @p out (which holds the total). Ranks own contiguous
 * blocks in global order, so rank order is global order.
 */
void clhs_comm_allgatherv(const clhs_comm *c, const void *local, int64_t nlocal, size_t itemsize,
                          void *out);
/**
 * The same into a buffer allocated for the result (malloc'd, returned; the caller frees it),
 * with the number of items gathered in *@p ntotal. A rank that cannot allocate it ends every
 * rank (it is inside the collective and cannot return alone), as the exchanges below do.
 */
void *clhs_comm_allgatherv_alloc(const clhs_comm *c, const void *local, int64_t nlocal,
                                 size_t itemsize, int64_t *ntotal);
/** Same as clhs_comm_allgatherv, onto @p root only (@p out ignored elsewhere). */
void clhs_comm_gatherv(const clhs_comm *c, const void *local, int64_t nlocal, size_t itemsize,
                       void *out, int root);

/**
 * Sparse personalised exchange: @p send holds, in rank order, sendbytes[r] bytes for
 * each rank r (0 for most ranks: only ranks with something to say carry data). On
 * return *recv is a malloc'd buffer of the bytes received, in rank order, and
 * *recvbytes their total. Aborts every rank on failure.
 */
void clhs_comm_alltoallv(const clhs_comm *c, const void *send, const int64_t *sendbytes,
                         void **recv, int64_t *recvbytes);

/**
 * Send item k (@p size bytes, items[k]) to rank dest[k], k < n, through
 * clhs_comm_alltoallv; returns the items received (malloc'd, in rank order) and their
 * number in *nrecv. Collective. If this rank cannot allocate its send buffer it sets
 * *oom = 1 and still takes part, sending nothing, so no rank is left in the exchange.
 */
void *clhs_comm_route(const clhs_comm *c, const void *items, const int *dest, int64_t n,
                      size_t size, int64_t *nrecv, int *oom);

/**
 * Gather @p nbytes from every rank on this node (the local_size ranks of the shared-memory
 * domain) into @p out (local_size * nbytes bytes), in local_rank order, on each of them.
 * Collective: every rank calls it (each with its own node's ranks).
 */
void clhs_comm_node_allgather(const clhs_comm *c, const void *local, size_t nbytes, void *out);

void clhs_comm_barrier(const clhs_comm *c);
double clhs_comm_wtime(void);

/** The MPI communicator as an opaque pointer to an MPI_Comm (for HDF5's MPI-IO driver). */
const void *clhs_comm_mpi_handle(const clhs_comm *c);

/** Library versions as text (for /code). */
void clhs_comm_mpi_version(char *buf, size_t len);

/**
 * clhs_comm_agree after a collective I/O call, which a failing rank may have left while the
 * others still wait inside it (parallel HDF5 does not promise that every rank fails the
 * same way). A rank that failed waits at most @p timeout_s seconds (the environment
 * variable CLHS_IO_AGREE_TIMEOUT overrides it) for the others to reach the agreement; if
 * they do not, it prints its message, removes the files in @p cleanup (a NULL-terminated
 * list of its temporary files; may be NULL) and ends the job with MPI_Abort (status 1)
 * instead of waiting forever. Ranks that did not fail wait as clhs_comm_agree does.
 */
int clhs_comm_agree_io(const clhs_comm *c, int status, char *msg, size_t msglen, double timeout_s,
                       const char *const *cleanup);

#endif
