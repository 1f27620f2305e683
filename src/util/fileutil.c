/* Durable file operations: the redis rdbSave recipe (write a temporary file, fsync,
 * close, rename, fsync the folder); each failure names the step and the file. */
#define _POSIX_C_SOURCE 200809L
#include "clhs/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void clhs_fsync_folder_of(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
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

/* Write through DST.tmp from a source fd or a buffer; then publish. */
static int write_atomic(const char *dst, int src_fd, const char *text, clhs_error *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", dst);
  const char *step = "create";
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    unlink(tmp);
    return clhs_error_set(err, CLHS_EIO, "cannot %s '%s' (%s)", step,
                          strcmp(step, "rename") ? tmp : dst, strerror(e));
  }
  clhs_fsync_folder_of(dst);
  return CLHS_OK;
}

int clhs_copy_file_atomic(const char *src, const char *dst, clhs_error *err) {
  int in = open(src, O_RDONLY);
  if (in < 0)
    return clhs_error_set(err, CLHS_EIO, "cannot open '%s' to copy it (%s)", src, strerror(errno));
  int st = write_atomic(dst, in, NULL, err);
  close(in);
  return st;
}

int clhs_write_text_atomic(const char *dst, const char *text, clhs_error *err) {
  return write_atomic(dst, -1, text, err);
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
