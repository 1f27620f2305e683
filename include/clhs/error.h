/**
 * @file error.h
 * @brief Status codes and the error record that functions fill and propagate.
 *
 * Functions return an int status (CLHS_OK or one of the codes below) and, on
 * failure, fill a clhs_error with a message that names what is wrong and what
 * to do. Only main() and the communication layer decide to exit or abort
 * (PETSc's rule: propagate, do not abort deep inside the library).
 */
#ifndef CLHS_ERROR_H
#define CLHS_ERROR_H

#include <stddef.h>

enum clhs_status {
  CLHS_OK = 0,
  CLHS_EFAIL = 1,  /**< internal or runtime failure (exit status 1) */
  CLHS_EINPUT = 2, /**< bad input: config, command line, file (exit status 2) */
  CLHS_EIO = 3,    /**< a file could not be read or written */
  CLHS_ENOMEM = 4, /**< out of memory */
  CLHS_STOPPED = 5 /**< stopped early on request after writing a checkpoint (exit status 3) */
};

/** An error record: the first error wins, later ones are ignored. */
typedef struct clhs_error {
  int code;
  char msg[2048];
} clhs_error;

/** Clear an error record. */
void clhs_error_clear(clhs_error *e);

/**
 * Record an error (printf-style) unless one is already recorded; returns @p code
 * so a caller can write `return clhs_error_set(e, CLHS_EINPUT, "...")`.
 */
int clhs_error_set(clhs_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * Put context in front of a recorded error's message (printf-style; e.g. the step and phase
 * it happened in). Does nothing if @p e holds no error.
 */
void clhs_error_prefix(clhs_error *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** What a status code means, in a few words ("out of memory", "bad input", ...). */
const char *clhs_status_text(int code);

/** The exit status of the process for a status code (2 for bad input). */
int clhs_exit_status(int code);

/** malloc/calloc that record CLHS_ENOMEM with the byte count on failure. */
void *clhs_calloc(size_t n, size_t size, clhs_error *e, const char *what);

#endif
