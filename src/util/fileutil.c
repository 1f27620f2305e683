/* Durable file operations: the redis rdbSave recipe (write a temporary file, fsync,
 * close, rename, fsync the folder); each failure names the step and the file. */
#define _DEFAULT_SOURCE
#include "clhs/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

void clhs_folder_of(const char *path, char *dir, size_t len) {
  snprintf(dir, len, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, len, ".");
}

void clhs_fsync_folder_of(const char *path) {
  char dir[4096];
  clhs_folder_of(path, dir, sizeof dir);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd); /* some file systems refuse: the rename is done anyway */
    close(fd);
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

void clhs_tmp_name(const char *dst, const char *tag, char *buf, size_t len) {
  if (tag && tag[0])
    snprintf(buf, len, "%s.%s.tmp", dst, tag);
  else
    snprintf(buf, len, "%s.tmp", dst);
}

/* Write through DST.TAG.tmp from a source fd or a buffer; then publish. The temporary
 * file is created exclusively (never a file someone else holds, never through a link). */
static int write_atomic(const char *dst, int src_fd, const char *text, const char *tag,
                        clhs_error *err) {
  char tmp[4096];
  clhs_tmp_name(dst, tag, tmp, sizeof tmp);
  if (strlen(dst) + 24 >= sizeof tmp)
    return clhs_error_set(err, CLHS_EIO, "path too long: '%s'", dst);
  const char *step = "create";
  unlink(tmp); /* this run's own leftover (the tag names the run), if any */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  int ok = fd >= 0;
  if (ok && src_fd >= 0) {
    step = "copy into";
    char *buf = malloc(1 << 20);
    ok = buf != NULL;
    while (ok) {
      ssize_t k = read(src_fd, buf, 1 << 20);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) ok = 0;
      if (k <= 0) break;
      if (write_all(fd, buf, (size_t)k) != 0) ok = 0;
    }
    free(buf);
  } else if (ok) {
    step = "write";
    ok = write_all(fd, text, strlen(text)) == 0;
  }
  if (ok) {
    step = "fsync";
    ok = fsync(fd) == 0;
  }
  if (fd >= 0 && close(fd) != 0 && ok) {
    step = "close";
    ok = 0;
  }
  if (ok) {
    step = "rename";
    ok = rename(tmp, dst) == 0;
  }
  if (!ok) {
    int e = errno;
    if (fd >= 0 || strcmp(step, "create")) unlink(tmp);
    return clhs_error_set(err, CLHS_EIO, "cannot %s '%s' (%s)", step,
                          strcmp(step, "rename") ? tmp : dst, strerror(e));
  }
  clhs_fsync_folder_of(dst);
  return CLHS_OK;
}

int clhs_copy_file_atomic(const char *src, const char *dst, const char *tag, clhs_error *err) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return clhs_error_set(err, CLHS_EIO, "cannot open '%s' to copy it (%s)", src, strerror(errno));
  int st = write_atomic(dst, in, NULL, tag, err);
  close(in);
  return st;
}

int clhs_write_text_atomic(const char *dst, const char *text, const char *tag, clhs_error *err) {
  return write_atomic(dst, -1, text, tag, err);
}

/* ------------------------------------------------------------------------ */
/* Locks: flock on a lock file, held for the life of a run (released by the kernel when the
 * process ends, however it ends), so a stale lock file never blocks anyone. A lock file that
 * is removed on release is re-checked after locking (the inode at the path must be the one
 * locked), the usual cure for the unlink race. */

void clhs_lock_init(clhs_lock *lk) {
  lk->fd = -1;
  lk->path[0] = '\0';
}

int clhs_lock_try(clhs_lock *lk, const char *path, const char *info, char *holder,
                  size_t holder_len, clhs_error *err) {
  if (holder && holder_len) holder[0] = '\0';
  if (strlen(path) >= sizeof lk->path)
    return clhs_error_set(err, CLHS_EINPUT, "path too long: '%s'", path);
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
      return clhs_error_set(err, CLHS_EINPUT, "cannot create the lock file '%s' (%s)", path,
                            strerror(errno));
    struct stat a, b;
    if (fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
      close(fd);
      return clhs_error_set(err, CLHS_EINPUT, "the lock file '%s' is not a regular file", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (holder && holder_len) {
        ssize_t k = pread(fd, holder, holder_len - 1, 0);
        holder[k > 0 ? k : 0] = '\0';
        for (char *p = holder; *p; p++) /* one printable line */
          if ((unsigned char)*p < 32 || (unsigned char)*p > 126) *p = ' ';
      }
      close(fd);
      if (e == EWOULDBLOCK) return CLHS_EINPUT; /* held: the caller words the message */
      return clhs_error_set(err, CLHS_EINPUT, "cannot lock '%s' (%s)", path, strerror(e));
    }
    if (stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
      close(fd); /* removed or replaced by its previous holder in between: try again */
      continue;
    }
    if (info && ftruncate(fd, 0) == 0) {
      ssize_t w = pwrite(fd, info, strlen(info), 0);
      (void)w;
    }
    lk->fd = fd;
    snprintf(lk->path, sizeof lk->path, "%s", path);
    return CLHS_OK;
  }
  return clhs_error_set(err, CLHS_EINPUT, "cannot lock '%s': it keeps being replaced", path);
}

void clhs_lock_release(clhs_lock *lk, int remove_file) {
  if (lk->fd < 0) return;
  if (remove_file) unlink(lk->path); /* still locked: a waiter re-checks the inode */
  close(lk->fd);
  lk->fd = -1;
}

int clhs_random_hex(char *out, int ndigits) {
  unsigned char raw[32];
  int n = (ndigits + 1) / 2, got = 0;
  if (n > (int)sizeof raw) n = (int)sizeof raw;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    got = (int)read(fd, raw, (size_t)n) == n;
    close(fd);
  }
  if (!got) { /* no /dev/urandom: time, pid and an address */
    uint64_t x = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 20 ^
                 (uint64_t)(uintptr_t)&x;
    for (int i = 0; i < n; i++) {
      x ^= x >> 29;
      x *= 0xBF58476D1CE4E5B9ull;
      raw[i] = (unsigned char)(x >> 56);
    }
  }
  for (int i = 0; i < ndigits && i / 2 < n; i++)
    out[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
  out[ndigits] = '\0';
  return got ? 0 : 1;
}

int clhs_mkdir_p(const char *path, clhs_error *err) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return clhs_error_set(err, CLHS_EIO, "cannot create folder '%s' (%s)", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST)
    return clhs_error_set(err, CLHS_EIO, "cannot create folder '%s' (%s)", buf, strerror(errno));
  struct stat sb;
  if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return clhs_error_set(err, CLHS_EIO, "'%s' exists and is not a folder", buf);
  return CLHS_OK;
}

int clhs_check_space(const char *path, uint64_t need, const char *what, clhs_error *err) {
  char dir[4096];
  clhs_folder_of(path, dir, sizeof dir);
  struct statvfs v;
  if (statvfs(dir, &v) != 0) return CLHS_OK; /* cannot tell: let the write find out */
  /* For the tests: a disk that fills between this check and the write. */
  if (getenv("CLHS_FAULT_NO_SPACE_CHECK")) return CLHS_OK;
  const uint64_t blocks = geteuid() == 0 ? (uint64_t)v.f_bfree : (uint64_t)v.f_bavail;
  const uint64_t avail = blocks * (uint64_t)(v.f_frsize ? v.f_frsize : v.f_bsize);
  if (avail >= need) return CLHS_OK;
  return clhs_error_set(err, CLHS_EIO,
                        "the disk is full: writing %s '%s' needs about %.1f MB and its file "
                        "system has %.1f MB free; free space there or write elsewhere",
                        what, path, (double)need / 1e6, (double)avail / 1e6);
}
