/*
 * Checkpoints: the user block and the whole-file checksum (include/clhs/checkpoint.h,
 * the layout in checkpoint.c).
 *
 * The whole file is checksummed: Fletcher32 covers the data only, and the HDF5-1.8
 * format's object headers, B-tree nodes and attribute heaps carry no checksum (a byte
 * flipped there can change an attribute, such as the configuration text, unnoticed).
 * The first CK_UB bytes of the file are an HDF5 user block (ignored by HDF5 and its
 * tools) holding, in ASCII,
 *
 *     clhsim-checkpoint\nformat <CLHS_CHECKPOINT_FORMAT>\nsize <file bytes>\nchecksum <16 hex
 * digits>\n
 *
 * then NULs: the checksum of bytes [CK_UB, size), written after HDF5 has closed the
 * file and before it is renamed. Bytes are hashed in blocks of CK_SUM_BLOCK, each by a
 * multiply-xor chain over 64-bit little-endian words that is bijective in every word
 * (so any change within one block always changes its hash), finished with a mixer;
 * the file's checksum is the sum of the block hashes modulo 2^64, so ranks hash
 * disjoint ranges of blocks in parallel and one reduction combines them. The user
 * block itself must be exactly the canonical text for its values. Any single damaged
 * byte anywhere in the file is therefore refused (and several with probability
 * 1 - 2^-64).
 */
#define _POSIX_C_SOURCE 200809L

#include "checkpoint_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/hash.h"

/* Hash of block @p index (@p n bytes): every step of the chain is a bijection of the
 * running value and of the word folded in, so changing one word always changes it. */
static uint64_t block_hash(const unsigned char *p, size_t n, uint64_t index) {
  uint64_t h = clhs_mix64(index ^ 0x243f6a8885a308d3ULL);
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t wd;
    memcpy(&wd, p + k, sizeof wd);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    wd = __builtin_bswap64(wd);
#endif
    h = clhs_fold64(h, wd);
  }
  if (k < n) {
    uint64_t wd = 0;
    for (size_t b = 0; k + b < n; b++)
      wd |= (uint64_t)p[k + b] << (8 * b);
    h = clhs_fold64(h, wd);
  }
  return clhs_mix64(h ^ (uint64_t)n);
}

/**
 * Collective: the checksum of bytes [CK_UB, size) of @p fname, each rank hashing a
 * contiguous range of blocks. A read failure is reported with status @p code.
 */
static int file_sum_from(const clhs_comm *comm, const char *fname, uint64_t start, uint64_t size,
                         uint64_t *sum, int code, clhs_error *err) {
  const uint64_t data = size > start ? size - start : 0;
  const uint64_t nb = (data + CK_SUM_BLOCK - 1) / CK_SUM_BLOCK, P = (uint64_t)comm->size;
  const uint64_t b0 = nb * (uint64_t)comm->rank / P, b1 = nb * (uint64_t)(comm->rank + 1) / P;
  uint64_t local = 0;
  int st = CLHS_OK;
  if (b1 > b0) {
    unsigned char *buf = malloc(CK_SUM_BLOCK);
    int fd = open(fname, O_RDONLY);
    if (!buf)
      st = clhs_error_set(err, CLHS_ENOMEM, "out of memory checksumming '%s'", fname);
    else if (fd < 0)
      st =
          clhs_error_set(err, code, "cannot read '%s' to checksum it (%s)", fname, strerror(errno));
    for (uint64_t b = b0; b < b1 && !st; b++) {
      const uint64_t off = start + b * CK_SUM_BLOCK;
      const size_t n = (size_t)(size - off < CK_SUM_BLOCK ? size - off : CK_SUM_BLOCK);
      size_t got = 0;
      while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          st = clhs_error_set(err, code, "cannot read '%s' at byte %llu to checksum it (%s)", fname,
                              (unsigned long long)(off + got),
                              r < 0 ? strerror(errno) : "the file is shorter than it says");
          break;
        }
        got += (size_t)r;
      }
      if (!st) local += block_hash(buf, n, b);
    }
    if (fd >= 0) close(fd);
    free(buf);
  }
  clhs_comm_sum_u64(comm, &local, 1);
  *sum = local;
  return clhs_h5_agree(comm, st, err);
}

int ck_file_sum(const clhs_comm *comm, const char *fname, uint64_t size, uint64_t *sum, int code,
                clhs_error *err) {
  return file_sum_from(comm, fname, CK_UB, size, sum, code, err);
}

int clhs_file_checksum(const clhs_comm *comm, const char *path, int64_t *size, uint64_t *sum,
                       int code, clhs_error *err) {
  int64_t n = 0;
  int st = CLHS_OK;
  if (comm->rank == 0) {
    struct stat sb;
    if (stat(path, &sb) != 0)
      st = clhs_error_set(err, code, "cannot read '%s' (%s)", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
      st = clhs_error_set(err, code, "'%s' is not a regular file", path);
    else
      n = (int64_t)sb.st_size;
  }
  st = clhs_h5_agree(comm, st, err);
  clhs_comm_bcast(comm, &n, sizeof n, 0);
  *size = n;
  *sum = 0;
  if (st) return st;
  return file_sum_from(comm, path, 0, (uint64_t)n, sum, code, err);
}

/** The canonical user block for these values. */
static void ub_make(unsigned char *ub, int format, uint64_t size, uint64_t sum) {
  memset(ub, 0, CK_UB);
  snprintf((char *)ub, CK_UB,
           "%s\nformat %d\nsize %llu\nchecksum %016llx\n"
           "(a clhsim checkpoint: HDF5 from byte %d on; this block holds the checksum of the "
           "rest of the file)\n",
           CLHS_CHECKPOINT_MAGIC, format, (unsigned long long)size, (unsigned long long)sum, CK_UB);
}

/**
 * Check the user block of @p path (any process): the magic, the format, the size of the
 * file and the canonical form; *size and *sum get the values. CLHS_EINPUT with a message.
 */
static int ub_check(const char *path, uint64_t *size, uint64_t *sum, int *resized,
                    clhs_error *err) {
  unsigned char ub[CK_UB], canon[CK_UB];
  char text[CK_UB + 1];
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s' cannot be read: %s", path,
                          strerror(errno));
  const size_t got = fread(ub, 1, CK_UB, fp);
  int fs = fseek(fp, 0, SEEK_END);
  const long actual = fs == 0 ? ftell(fp) : -1;
  fclose(fp);
  const size_t ml = strlen(CLHS_CHECKPOINT_MAGIC);
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  size_t zeros = 0;
  while (zeros < got && ub[zeros] == 0)
    zeros++;
  if (got == CK_UB && zeros == CK_UB) { /* HDF5 closed it, the checksum never came */
    unsigned char s8[8] = {0};
    fp = fopen(path, "rb");
    if (fp && fseek(fp, CK_UB, SEEK_SET) == 0 && fread(s8, 1, 8, fp) == 8 && !memcmp(s8, sig, 8)) {
      fclose(fp);
      return clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint '%s' is incomplete: its writing was interrupted before "
                            "its checksum was written; restart from an earlier checkpoint",
                            path);
    }
    if (fp) fclose(fp);
  }
  if (got < ml + 1 || memcmp(ub, CLHS_CHECKPOINT_MAGIC, ml) != 0 || ub[ml] != '\n')
    return clhs_error_set(err, CLHS_EINPUT,
                          "'%s' is not a clhsim checkpoint (it does not begin with '%s'), or its "
                          "first bytes are damaged",
                          path, CLHS_CHECKPOINT_MAGIC);
  memcpy(text, ub, got);
  text[got] = '\0';
  int format = -1;
  unsigned long long sz = 0, cs = 0;
  if (sscanf(text + ml + 1, "format %d", &format) != 1)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': its header block is damaged", path);
  if (format != CLHS_CHECKPOINT_FORMAT)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': checkpoint format %d, this clhsim reads %d (restart "
                          "it with the clhsim version that wrote it)",
                          path, format, CLHS_CHECKPOINT_FORMAT);
  const char *p = strchr(text + ml + 1, '\n');
  if (got < CK_UB || !p || sscanf(p + 1, "size %llu\nchecksum %llx", &sz, &cs) != 2)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s': its header block is damaged or was never completed",
                          path);
  ub_make(canon, format, sz, cs);
  if (memcmp(canon, ub, CK_UB) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint '%s': its header block is damaged", path);
  *resized = 1;
  if (actual < 0 || (unsigned long long)actual != sz)
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint '%s' is truncated or damaged: %ld bytes, it was written "
                          "with %llu",
                          path, actual, sz);
  *resized = 0;
  *size = sz;
  *sum = cs;
  return CLHS_OK;
}

int ck_ub_write(const char *fname, uint64_t size, uint64_t sum, clhs_error *err) {
  unsigned char ub[CK_UB];
  ub_make(ub, CLHS_CHECKPOINT_FORMAT, size, sum);
  int fd = open(fname, O_WRONLY);
  if (fd < 0)
    return clhs_error_set(err, CLHS_EIO, "cannot open checkpoint '%s' to complete it (%s)", fname,
                          strerror(errno));
  size_t done = 0;
  while (done < CK_UB) {
    ssize_t r = pwrite(fd, ub + done, CK_UB - done, (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  int ok = done == CK_UB && fsync(fd) == 0;
  int e = errno;
  if (close(fd) != 0) ok = 0;
  if (!ok)
    return clhs_error_set(err, CLHS_EIO, "cannot complete checkpoint '%s' (%s)", fname,
                          strerror(e));
  return CLHS_OK;
}

/**
 * Rank 0, a file whose checksum does not match: if its root attributes can still be
 * read, say what they show (another format, no completeness marker: the file was
 * changed by a tool), else that it is damaged. Parses only the root group's header.
 */
static int diagnose(const char *path, const char *fallback, clhs_error *err) {
  ckf f = {NULL, path, path, -1, -1, CLHS_EINPUT};
  clhs_error why;
  clhs_error_clear(&why);
  f.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  int st = f.file >= 0 ? ck_check_header(&f, NULL, &why) : CLHS_EINPUT;
  clhs_h5_close(&f.file);
  H5Eclear2(H5E_DEFAULT);
  if (st && why.code) return clhs_error_set(err, CLHS_EINPUT, "%s", why.msg);
  return clhs_error_set(err, CLHS_EINPUT, "%s", fallback);
}

/*
 * The last file this process verified, so that a restart hashes its checkpoint once: it
 * reads the metadata to choose a checkpoint, again in clhs_run, then the state. Rank 0
 * keeps it and decides for every rank. A file counts as the same if its path, device,
 * inode, size, user block checksum, modification and change times are; and it is
 * remembered only if it last changed at least CK_RECENT_S before its verification began,
 * so that a change after the verification cannot share a timestamp with the one before
 * (coarse or one-second file system clocks): a file written moments ago is verified again
 * at every read, as before.
 */
#define CK_RECENT_S 2

typedef struct ck_verified {
  char *path; /* NULL: nothing remembered */
  struct stat sb;
  uint64_t sum;
} ck_verified;

static ck_verified last_verified;
static int64_t verifications; /* whole-file hashes done by ck_verify_file */

static void forget_verified(void) {
  free(last_verified.path);
  memset(&last_verified, 0, sizeof last_verified);
}

static int same_time(struct timespec a, struct timespec b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/** Rank 0: @p sb (taken before the file was read) and @p sum describe the file verified last. */
static int is_verified(const char *path, const struct stat *sb, uint64_t sum) {
  const ck_verified *v = &last_verified;
  return v->path && !strcmp(v->path, path) && v->sb.st_dev == sb->st_dev &&
         v->sb.st_ino == sb->st_ino && v->sb.st_size == sb->st_size && v->sum == sum &&
         same_time(v->sb.st_mtim, sb->st_mtim) && same_time(v->sb.st_ctim, sb->st_ctim);
}

/** Rank 0, after a successful verification that began at @p t0 with the file as @p sb. */
static void remember_verified(const char *path, const struct stat *sb, uint64_t sum,
                              struct timespec t0) {
  forget_verified();
  const time_t changed =
      sb->st_mtim.tv_sec > sb->st_ctim.tv_sec ? sb->st_mtim.tv_sec : sb->st_ctim.tv_sec;
  if (changed + 1 + CK_RECENT_S > t0.tv_sec) return; /* too recent to tell a later change */
  last_verified.path = strdup(path);
  last_verified.sb = *sb;
  last_verified.sum = sum;
}

int64_t ck_verify_count(void) {
  return verifications;
}

int ck_verify_file(const clhs_comm *comm, const char *path, clhs_error *err) {
  uint64_t ub[3] = {0, 0, 0}; /* size, checksum, 1: verified already */
  int st = CLHS_OK, resized = 0;
  struct stat sb;
  struct timespec t0 = {0, 0};
  if (comm->rank == 0) {
    clhs_error why;
    clhs_error_clear(&why);
    clock_gettime(CLOCK_REALTIME, &t0);
    const int have_sb = stat(path, &sb) == 0; /* before reading: a later change shows */
    st = ub_check(path, &ub[0], &ub[1], &resized, &why);
    if (st && resized)
      st = diagnose(path, why.msg, err); /* e.g. changed by a tool */
    else if (st)
      clhs_error_set(err, why.code, "%s", why.msg);
    if (st || !have_sb) forget_verified();
    ub[2] = !st && have_sb && is_verified(path, &sb, ub[1]);
  }
  st = clhs_h5_agree(comm, st, err);
  if (st) return st;
  clhs_comm_bcast(comm, ub, sizeof ub, 0);
  if (ub[2]) return CLHS_OK;
  verifications++;
  uint64_t sum = 0;
  st = ck_file_sum(comm, path, ub[0], &sum, CLHS_EINPUT, err);
  if (!st && sum != ub[1] && comm->rank == 0) {
    char msg[1200];
    snprintf(msg, sizeof msg,
             "checkpoint '%s' is corrupted: its checksum does not match (the file was damaged or "
             "changed after it was written)",
             path);
    st = diagnose(path, msg, err);
  }
  st = clhs_h5_agree(comm, st, err);
  if (comm->rank == 0) {
    if (st)
      forget_verified();
    else
      remember_verified(path, &sb, sum, t0);
  }
  return st;
}
