/*
 * The communication layer: the only compilation unit that calls MPI.
 *
 * Reductions that feed the model are integer (exact, so their result does not
 * depend on the order MPI combines ranks in); floating-point aggregates are
 * formed from per-centre values gathered in centre order.
 */
#define _POSIX_C_SOURCE 200809L
#include "clhs/comm.h"

#include <limits.h>
#include <mpi.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clhs/error.h"

/* What a clhs_comm stands for: its communicator; a private copy of it for the sparse
 * exchange (its point-to-point messages can never match anything else) with the exchange's
 * round counter; and the ranks of it on this node (shared-memory domain), for
 * clhs_comm_node_allgather. The world's is static; a group's (clhs_comm_split) is allocated. */
struct clhs_comm_impl {
  MPI_Comm comm, nbx, node;
  unsigned round;
};
static struct clhs_comm_impl world = {MPI_COMM_NULL, MPI_COMM_NULL, MPI_COMM_NULL, 0};
#define COMM(c) ((c)->impl->comm)

/* The handles of @p h from its communicator: the exchange's copy and the node's ranks. */
static void impl_fill(struct clhs_comm_impl *h, clhs_comm *c) {
  MPI_Comm_rank(h->comm, &c->rank);
  MPI_Comm_size(h->comm, &c->size);
  MPI_Comm_dup(h->comm, &h->nbx);
  h->round = 0;
  c->local_rank = 0;
  c->local_size = 1;
  if (MPI_Comm_split_type(h->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &h->node) !=
      MPI_SUCCESS)
    h->node = MPI_COMM_NULL;
  if (h->node != MPI_COMM_NULL) {
    MPI_Comm_rank(h->node, &c->local_rank);
    MPI_Comm_size(h->node, &c->local_size);
  }
  c->impl = h;
}

void clhs_comm_init(int *argc, char ***argv, clhs_comm *c) {
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "clhsim: MPI_Init_thread failed; is the MPI runtime installed and started "
                    "with mpirun/srun?\n");
    exit(1);
  }
  world.comm = MPI_COMM_WORLD;
  MPI_Comm_set_errhandler(world.comm, MPI_ERRORS_ARE_FATAL);
  impl_fill(&world, c);
  c->threads = omp_get_max_threads();
  c->stats = NULL;
  if (provided < MPI_THREAD_FUNNELED && c->rank == 0)
    fprintf(stderr, "clhsim: warning: MPI provides thread level %d < FUNNELED\n", provided);
}

void clhs_comm_finalize(void) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  if (world.nbx != MPI_COMM_NULL) MPI_Comm_free(&world.nbx);
  if (world.node != MPI_COMM_NULL) MPI_Comm_free(&world.node);
  MPI_Finalize();
}

void clhs_comm_split(const clhs_comm *parent, int color, clhs_comm *child) {
  struct clhs_comm_impl *h = calloc(1, sizeof *h);
  if (!h) clhs_comm_abort(parent, 1, "out of memory splitting the ranks into groups");
  MPI_Comm_split(COMM(parent), color, parent->rank, &h->comm);
  MPI_Comm_set_errhandler(h->comm, MPI_ERRORS_ARE_FATAL);
  impl_fill(h, child);
  child->threads = parent->threads;
  child->stats = parent->stats;
}

void clhs_comm_free(clhs_comm *c) {
  if (!c->impl || c->impl == &world) return;
  if (c->impl->nbx != MPI_COMM_NULL) MPI_Comm_free(&c->impl->nbx);
  if (c->impl->node != MPI_COMM_NULL) MPI_Comm_free(&c->impl->node);
  MPI_Comm_free(&c->impl->comm);
  free(c->impl);
  c->impl = NULL;
}

struct clhs_comm_counter {
  MPI_Win win;
  int64_t *base;
};

clhs_comm_counter *clhs_comm_counter_create(const clhs_comm *c) {
  clhs_comm_counter *k = calloc(1, sizeof *k);
  if (!k) clhs_comm_abort(c, 1, "out of memory for a shared counter");
  const MPI_Aint bytes = c->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0;
  MPI_Win_allocate(bytes, (int)sizeof(int64_t), MPI_INFO_NULL, COMM(c), &k->base, &k->win);
  if (c->rank == 0) *k->base = 0;
  MPI_Barrier(COMM(c)); /* the value is 0 before anyone takes one */
  MPI_Win_lock_all(0, k->win);
  return k;
}

int64_t clhs_comm_counter_next(clhs_comm_counter *k) {
  const int64_t one = 1;
  int64_t got = -1;
  MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, k->win);
  MPI_Win_flush(0, k->win);
  return got;
}

void clhs_comm_counter_free(clhs_comm_counter **k) {
  if (!*k) return;
  MPI_Win_unlock_all((*k)->win);
  MPI_Win_free(&(*k)->win);
  free(*k);
  *k = NULL;
}

_Noreturn void clhs_comm_abort(const clhs_comm *c, int status, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "clhsim: error on rank %d: %s\n", c ? c->rank : -1, msg);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
  exit(status ? status : 1); /* not reached */
}

/* Count traffic in the stats (the convention of clhs_comm_stats in comm.h). A run of one
 * rank has no traffic. */
static void tally(const clhs_comm *c, int64_t sent, int64_t received, int64_t messages) {
  if (!c || !c->stats || c->size == 1) return;
  c->stats->sent += sent;
  c->stats->received += received;
  c->stats->messages += messages;
}

/* The message of rank @p first (the lowest that failed) to every rank, naming that rank
 * when it is not rank 0 (whose errors are usually input). */
static void share_msg(const clhs_comm *c, int first, char *msg, size_t msglen) {
  if (!msg || msglen == 0) return;
  if (c->rank == first && first != 0 && strncmp(msg, "rank ", 5) != 0) {
    char *copy = malloc(msglen);
    if (copy) {
      memcpy(copy, msg, msglen);
      snprintf(msg, msglen, "rank %d: %s", first, copy);
      free(copy);
    }
  }
  MPI_Bcast(msg, (int)msglen, MPI_CHAR, first, COMM(c));
  tally(c, c->rank == first ? (int64_t)msglen : 0, c->rank == first ? 0 : (int64_t)msglen, 1);
  msg[msglen - 1] = '\0';
}

int clhs_comm_agree(const clhs_comm *c, int status, char *msg, size_t msglen) {
  int in[2] = {status, status != CLHS_OK ? c->rank : INT_MAX}, worst = 0, first = INT_MAX;
  MPI_Allreduce(&in[0], &worst, 1, MPI_INT, MPI_MAX, COMM(c));
  tally(c, sizeof(int), sizeof(int), 1);
  if (worst == CLHS_OK) return CLHS_OK;
  MPI_Allreduce(&in[1], &first, 1, MPI_INT, MPI_MIN, COMM(c));
  tally(c, sizeof(int), sizeof(int), 1);
  share_msg(c, first, msg, msglen);
  return worst;
}

int clhs_comm_agree_error(const clhs_comm *c, int status, clhs_error *err) {
  if (status != CLHS_OK && err->code == CLHS_OK)
    clhs_error_set(err, status, "%s", clhs_status_text(status));
  const int worst = clhs_comm_agree(c, status, err->msg, sizeof err->msg);
  if (worst != CLHS_OK) err->code = worst;
  return worst;
}

void clhs_comm_bcast(const clhs_comm *c, void *buf, size_t nbytes, int root) {
  char *p = buf;
  while (nbytes > 0) { /* MPI counts are int */
    int chunk = nbytes > (size_t)INT_MAX ? INT_MAX : (int)nbytes;
    MPI_Bcast(p, chunk, MPI_BYTE, root, COMM(c));
    tally(c, c->rank == root ? chunk : 0, c->rank == root ? 0 : chunk, 1);
    p += chunk;
    nbytes -= (size_t)chunk;
  }
}

void *clhs_comm_bcast_alloc(const clhs_comm *c, void *buf, size_t *nbytes, int root) {
  uint64_t n = (uint64_t)*nbytes;
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, COMM(c));
  tally(c, c->rank == root ? (int64_t)sizeof n : 0, c->rank == root ? 0 : (int64_t)sizeof n, 1);
  if (c->rank != root) {
    buf = malloc(n ? (size_t)n : 1);
    if (!buf) clhs_comm_abort(c, 1, "out of memory receiving %llu bytes", (unsigned long long)n);
  }
  clhs_comm_bcast(c, buf, (size_t)n, root);
  *nbytes = (size_t)n;
  return buf;
}

void clhs_comm_sum_i64(const clhs_comm *c, int64_t *vals, int n) {
  const double t0 = MPI_Wtime();
  MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_INT64_T, MPI_SUM, COMM(c));
  tally(c, 8 * (int64_t)n, 8 * (int64_t)n, 1);
  if (c->stats) {
    c->stats->seconds += MPI_Wtime() - t0;
    c->stats->calls++;
  }
}

void clhs_comm_sum_u64(const clhs_comm *c, uint64_t *vals, int n) {
  MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_UINT64_T, MPI_SUM, COMM(c));
  tally(c, 8 * (int64_t)n, 8 * (int64_t)n, 1);
}

void clhs_comm_max_i64(const clhs_comm *c, int64_t *vals, int n) {
  MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_INT64_T, MPI_MAX, COMM(c));
  tally(c, 8 * (int64_t)n, 8 * (int64_t)n, 1);
}

void clhs_comm_max_f64(const clhs_comm *c, double *vals, int n) {
  MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, MPI_MAX, COMM(c));
  tally(c, 8 * (int64_t)n, 8 * (int64_t)n, 1);
}

/* Counts and displacements in bytes; a contiguous derived type keeps the
 * counts inside int range for large blocks. With @p alloc, the result goes to a buffer
 * allocated here once the total is known (returned; its item count in *@p ntotal). */
static void *gather_common(const clhs_comm *c, const void *local, int64_t nlocal, size_t itemsize,
                           void *out, int root, int all, int alloc, int64_t *ntotal) {
  const double t0 = MPI_Wtime();
  int64_t *counts = malloc(sizeof(int64_t) * (size_t)c->size);
  int *icounts = malloc(sizeof(int) * (size_t)c->size);
  int *idispl = malloc(sizeof(int) * (size_t)c->size);
  if (!counts || !icounts || !idispl) clhs_comm_abort(c, 1, "out of memory in gather");
  MPI_Allgather(&nlocal, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, COMM(c));
  tally(c, sizeof(int64_t), (int64_t)sizeof(int64_t) * (c->size - 1), 1);
  int64_t total = 0;
  for (int r = 0; r < c->size; r++) {
    if (counts[r] > INT_MAX || total > INT_MAX)
      clhs_comm_abort(c, 1, "gather of %lld items exceeds MPI's int counts", (long long)total);
    icounts[r] = (int)counts[r];
    idispl[r] = (int)total;
    total += counts[r];
  }
  if (alloc) { /* inside the collective: a rank that cannot receive cannot leave alone */
    out = malloc(itemsize * (size_t)(total ? total : 1));
    if (!out)
      clhs_comm_abort(c, 1, "out of memory receiving %lld gathered items of %zu bytes",
                      (long long)total, itemsize);
  }
  if (ntotal) *ntotal = total;
  MPI_Datatype item;
  MPI_Type_contiguous((int)itemsize, MPI_BYTE, &item);
  MPI_Type_commit(&item);
  if (all)
    MPI_Allgatherv(local, (int)nlocal, item, out, icounts, idispl, item, COMM(c));
  else
    MPI_Gatherv(local, (int)nlocal, item, out, icounts, idispl, item, root, COMM(c));
  MPI_Type_free(&item);
  const int64_t mine = nlocal * (int64_t)itemsize, others = (total - nlocal) * (int64_t)itemsize;
  if (all)
    tally(c, mine, others, 1);
  else
    tally(c, c->rank == root ? 0 : mine, c->rank == root ? others : 0, 1);
  if (c->stats) {
    c->stats->seconds += MPI_Wtime() - t0;
    if (all || c->rank == root) c->stats->bytes_gathered += others;
    c->stats->calls++;
  }
  free(counts);
  free(icounts);
  free(idispl);
  return out;
}

void clhs_comm_allgatherv(const clhs_comm *c, const void *local, int64_t nlocal, size_t itemsize,
                          void *out) {
  gather_common(c, local, nlocal, itemsize, out, 0, 1, 0, NULL);
}

void *clhs_comm_allgatherv_alloc(const clhs_comm *c, const void *local, int64_t nlocal,
                                 size_t itemsize, int64_t *ntotal) {
  return gather_common(c, local, nlocal, itemsize, NULL, 0, 1, 1, ntotal);
}

void clhs_comm_gatherv(const clhs_comm *c, const void *local, int64_t nlocal, size_t itemsize,
                       void *out, int root) {
  gather_common(c, local, nlocal, itemsize, out, root, 0, 0, NULL);
}

/* One message received by the sparse exchange. */
typedef struct nbx_msg {
  int src;
  int len;
  char *buf;
} nbx_msg;

static int cmp_nbx(const void *a, const void *b) {
  const nbx_msg *x = a, *y = b;
  return (x->src > y->src) - (x->src < y->src);
}

/*
 * The sparse exchange is NBX (Hoefler, Siebert and Lumsdaine, PPoPP 2010): synchronous
 * sends to the ranks that get data, receives of whatever arrives, and a non-blocking
 * barrier entered once this rank's sends have all been matched; when the barrier
 * completes every message has been received. No rank learns counts from every other
 * rank (no MPI_Alltoall: O(neighbours) messages, not O(P)). Two tags alternate between
 * calls: a rank leaves call k only after every rank has entered its barrier, so it is at
 * most one call ahead of any other.
 */
void clhs_comm_alltoallv(const clhs_comm *c, const void *send, const int64_t *sendbytes,
                         void **recv, int64_t *recvbytes) {
  const double t0 = MPI_Wtime();
  const int P = c->size, me = c->rank, tag = 1000 + (int)(c->impl->round++ & 1u);
  const char *sb = send;
  int64_t tot = 0, self_off = 0, nsend = 0;
  for (int r = 0; r < P; r++) {
    if (sendbytes[r] > INT_MAX)
      clhs_comm_abort(c, 1,
                      "exchange of %lld bytes to one rank exceeds MPI's int counts; use "
                      "more ranks",
                      (long long)sendbytes[r]);
    if (r == me) self_off = tot;
    if (r != me && sendbytes[r] > 0) nsend++;
    tot += sendbytes[r];
  }
  MPI_Request *req = malloc(sizeof *req * (size_t)(nsend ? nsend : 1));
  if (!req) clhs_comm_abort(c, 1, "out of memory in the exchange");
  int64_t k = 0, off = 0;
  for (int r = 0; r < P; r++) {
    if (r != me && sendbytes[r] > 0)
      MPI_Issend(sb + off, (int)sendbytes[r], MPI_BYTE, r, tag, c->impl->nbx, &req[k++]);
    off += sendbytes[r];
  }
  nbx_msg *msg = NULL;
  int64_t nmsg = 0, cap = 0, rtot = sendbytes[me];
  int in_barrier = 0;
  MPI_Request bar = MPI_REQUEST_NULL;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, tag, c->impl->nbx, &flag, &st);
    if (flag) {
      int len = 0;
      MPI_Get_count(&st, MPI_BYTE, &len);
      if (nmsg == cap) {
        cap = cap ? 2 * cap : 16;
        nbx_msg *m2 = realloc(msg, sizeof *msg * (size_t)cap);
        if (!m2) clhs_comm_abort(c, 1, "out of memory in the exchange");
        msg = m2;
      }
      char *buf = malloc(len ? (size_t)len : 1);
      if (!buf) clhs_comm_abort(c, 1, "out of memory receiving %d bytes", len);
      MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, tag, c->impl->nbx, MPI_STATUS_IGNORE);
      msg[nmsg++] = (nbx_msg){st.MPI_SOURCE, len, buf};
      rtot += len;
      continue;
    }
    int done = 0;
    if (in_barrier) {
      MPI_Test(&bar, &done, MPI_STATUS_IGNORE);
      if (done) break;
    } else {
      MPI_Testall((int)nsend, req, &done, MPI_STATUSES_IGNORE);
      if (done) {
        MPI_Ibarrier(c->impl->nbx, &bar);
        in_barrier = 1;
      }
    }
  }
  free(req);
  /* The bytes received, in rank order (this rank's own part in its place). */
  if (nmsg > 1) qsort(msg, (size_t)nmsg, sizeof *msg, cmp_nbx);
  char *buf = malloc(rtot ? (size_t)rtot : 1);
  if (!buf) clhs_comm_abort(c, 1, "out of memory receiving %lld bytes", (long long)rtot);
  int64_t pos = 0, m = 0;
  for (; m < nmsg && msg[m].src < me; m++) {
    memcpy(buf + pos, msg[m].buf, (size_t)msg[m].len);
    pos += msg[m].len;
  }
  if (sendbytes[me] > 0) memcpy(buf + pos, sb + self_off, (size_t)sendbytes[me]);
  pos += sendbytes[me];
  for (; m < nmsg; m++) {
    memcpy(buf + pos, msg[m].buf, (size_t)msg[m].len);
    pos += msg[m].len;
  }
  for (m = 0; m < nmsg; m++)
    free(msg[m].buf);
  free(msg);
  *recv = buf;
  *recvbytes = rtot;
  /* Each send and each receive a message, and the barrier a collective call. */
  tally(c, tot - sendbytes[me], rtot - sendbytes[me], nsend + nmsg + 1);
  if (c->stats) {
    c->stats->seconds += MPI_Wtime() - t0;
    c->stats->bytes_sent += tot - sendbytes[me]; /* what stays on this rank is not sent */
    c->stats->calls++;
  }
}

void *clhs_comm_route(const clhs_comm *c, const void *items, const int *dest, int64_t n,
                      size_t size, int64_t *nrecv, int *oom) {
  const int P = c->size;
  int64_t *counts = calloc((size_t)P + 1, sizeof *counts); /* then: where each rank's go */
  char *sorted = malloc(size * (size_t)(n ? n : 1));
  if (!counts) clhs_comm_abort(c, 1, "out of memory routing %lld items", (long long)n);
  if (!sorted) {
    *oom = 1;
    n = 0; /* still take part in the exchange, sending nothing */
  }
  for (int64_t k = 0; k < n; k++)
    counts[dest[k] + 1]++;
  for (int r = 0; r < P; r++)
    counts[r + 1] += counts[r];
  for (int64_t k = 0; k < n; k++)
    memcpy(sorted + size * (size_t)counts[dest[k]]++, (const char *)items + size * (size_t)k, size);
  /* counts[r] is now the end of rank r's block: bytes per rank from the block sizes. */
  for (int r = P; r > 0; r--)
    counts[r] = (counts[r - 1] - (r > 1 ? counts[r - 2] : 0)) * (int64_t)size;
  void *recv = NULL;
  int64_t nbytes = 0;
  clhs_comm_alltoallv(c, sorted ? (const void *)sorted : (const void *)counts, counts + 1, &recv,
                      &nbytes);
  free(counts);
  free(sorted);
  *nrecv = nbytes / (int64_t)size;
  return recv;
}

void clhs_comm_node_allgather(const clhs_comm *c, const void *local, size_t nbytes, void *out) {
  if (c->impl->node == MPI_COMM_NULL || c->local_size <= 1) {
    if (nbytes > 0) memcpy(out, local, nbytes);
    return;
  }
  if (nbytes > (size_t)INT_MAX)
    clhs_comm_abort(c, 1, "node gather of %zu bytes is too large", nbytes);
  MPI_Allgather(local, (int)nbytes, MPI_BYTE, out, (int)nbytes, MPI_BYTE, c->impl->node);
  tally(c, (int64_t)nbytes, (int64_t)nbytes * (c->local_size - 1), 1);
}

void clhs_comm_barrier(const clhs_comm *c) {
  MPI_Barrier(COMM(c));
  tally(c, 0, 0, 1);
}

double clhs_comm_wtime(void) {
  return MPI_Wtime();
}

const void *clhs_comm_mpi_handle(const clhs_comm *c) {
  return &c->impl->comm;
}

void clhs_comm_mpi_version(char *buf, size_t len) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int n = 0;
  MPI_Get_library_version(lib, &n);
  /* Keep the first line only (Open MPI appends repository details). */
  char *nl = strchr(lib, '\n');
  if (nl) *nl = '\0';
  snprintf(buf, len, "%s", lib);
}

int clhs_comm_agree_io(const clhs_comm *c, int status, char *msg, size_t msglen, double timeout_s,
                       const char *const *cleanup) {
  /* Non-blocking on every rank (a blocking collective may not match a non-blocking one). */
  int in = status, worst = 0;
  MPI_Request rq;
  MPI_Iallreduce(&in, &worst, 1, MPI_INT, MPI_MAX, COMM(c), &rq);
  tally(c, sizeof(int), sizeof(int), 1);
  if (status == CLHS_OK) {
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
  } else {
    const char *env = getenv("CLHS_IO_AGREE_TIMEOUT");
    if (env && atof(env) > 0) timeout_s = atof(env);
    const double t0 = MPI_Wtime();
    int done = 0;
    while (!done) {
      MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
      if (done) break;
      if (MPI_Wtime() - t0 > timeout_s) {
        fprintf(stderr,
                "clhsim: error on rank %d: %s\nclhsim: the other ranks did not reach the error "
                "check within %.0f s (they are still inside a collective I/O call that failed "
                "on this rank): ending the job%s%s\n",
                c->rank, msg ? msg : "", timeout_s,
                cleanup && cleanup[0] ? "; removing its temporary files" : "", "");
        fflush(stderr);
        for (int k = 0; cleanup && cleanup[k]; k++)
          remove(cleanup[k]);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
  }
  if (worst == CLHS_OK) return CLHS_OK;
  /* Every rank is here: the rest of the agreement (who failed first, the message) as usual. */
  int first = INT_MAX, me = status != CLHS_OK ? c->rank : INT_MAX;
  MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, COMM(c));
  tally(c, sizeof(int), sizeof(int), 1);
  share_msg(c, first, msg, msglen);
  return worst;
}
