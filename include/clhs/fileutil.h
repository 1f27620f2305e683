/**
 * @file fileutil.h
 * @brief Durable file operations (POSIX): copy, write and rename atomically, fsync folders.
 * Single-process helpers: the caller decides which rank calls them.
 */
#ifndef CLHS_FILEUTIL_H
#define CLHS_FILEUTIL_H

#include "clhs/error.h"

/** fsync the folder that holds @p path (so a rename in it is durable). */
void clhs_fsync_folder_of(const char *path);

/** Copy @p src to @p dst through DST.tmp: write, fsync, close, rename, fsync the folder. */
int clhs_copy_file_atomic(const char *src, const char *dst, clhs_error *err);

/** Write @p text to @p dst the same way (e.g. the `latest` pointer). */
int clhs_write_text_atomic(const char *dst, const char *text, clhs_error *err);

/** Make a folder (and its parents) if missing. */
int clhs_mkdir_p(const char *path, clhs_error *err);

#endif
