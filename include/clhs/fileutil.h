/**
 * @file fileutil.h
 * @brief Durable file operations (POSIX): copy, write and rename atomically, fsync folders.
 * Single-process helpers: the caller decides which rank calls them.
 */
#ifndef CLHS_FILEUTIL_H
#define CLHS_FILEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "clhs/error.h"

/** The folder part of @p path into @p dir: "." if it has none, "/" for "/name". */
void clhs_folder_of(const char *path, char *dir, size_t len);

/** fsync the folder that holds @p path (so a rename in it is durable). */
void clhs_fsync_folder_of(const char *path);

/** The temporary name of @p dst: DST.TAG.tmp (DST.tmp without a tag). A run tags its
 * temporary files with its run id, so two runs never share one. */
void clhs_tmp_name(const char *dst, const char *tag, char *buf, size_t len);

/** Copy @p src to @p dst through DST.TAG.tmp (created exclusively, never through a link):
 * write, fsync, close, rename, fsync the folder. */
int clhs_copy_file_atomic(const char *src, const char *dst, const char *tag, clhs_error *err);

/** Write @p text to @p dst the same way (e.g. the `latest` pointer). */
int clhs_write_text_atomic(const char *dst, const char *text, const char *tag, clhs_error *err);

/** An exclusive lock on a lock file (flock), held until released or the process ends. */
typedef struct clhs_lock {
  int fd;
  char path[4096];
} clhs_lock;

void clhs_lock_init(clhs_lock *lk);

/**
 * Take the lock on @p path (created if missing; never through a symbolic link) without
 * waiting, and write @p info (who holds it) into the file. CLHS_OK when taken; CLHS_EINPUT
 * when another process holds it (its @p info, one printable line, in @p holder, and
 * @p err untouched) or the file cannot be used (message in @p err).
 */
int clhs_lock_try(clhs_lock *lk, const char *path, const char *info, char *holder,
                  size_t holder_len, clhs_error *err);

/** Release the lock (removing the lock file first if @p remove_file). Safe if not held. */
void clhs_lock_release(clhs_lock *lk, int remove_file);

/** @p ndigits random lowercase hex digits and a NUL (from /dev/urandom; returns 1 if it
 * had to fall back to the clock and pid). */
int clhs_random_hex(char *out, int ndigits);

/** CLHS_EIO "the disk is full ..." when the file system that holds @p path has less than
 * @p need bytes free (for this process: root may use the reserved blocks); CLHS_OK when it
 * has enough or cannot tell. Checked before collective writes, so that a full disk is
 * agreed by every rank before any of them enters a collective HDF5 call that would fail
 * on some ranks only. */
int clhs_check_space(const char *path, uint64_t need, const char *what, clhs_error *err);

/** Make a folder (and its parents) if missing. */
int clhs_mkdir_p(const char *path, clhs_error *err);

#endif
