/*
 * util.h - helpers every layer of the library uses: the per-thread error
 * message, paths, and collecting what is wrong with an image.
 */
#ifndef ADDCOW_UTIL_UTIL_H
#define ADDCOW_UTIL_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addcow.h"

/* ---- error.c: the per-thread error message ---------------------------- */

/* Record "fmt..." as the error message and return -ERR (ERR > 0). */
int set_error (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Same, appending ": strerror(ERR)". */
int set_error_errno (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* ---- path.c ------------------------------------------------------------ */

/* NAME resolved against the directory of BASE_FILE (malloc'd, or NULL). */
char *path_resolve (const char *base_file, const char *name);
/* Do A and B name the same file: the same device and inode when both
 * exist, else the same path once their directories are resolved (so a
 * file create is about to make compares right)? */
bool path_same_file (const char *a, const char *b);

/* ---- problems.c: collecting or refusing what is wrong with an image ---- */

struct problems {
  bool collect;                 /* check: report all; open: stop at first */
  uint64_t corruptions;
  uint64_t leaks;
  uint64_t check_errors;        /* ADDCOW_PROBLEM_CHECK_ERROR */
  void (*report) (void *opaque, enum addcow_problem kind, bool fixed,
                  const char *message);
  void *opaque;
};

/* Report a problem with FILE.  When not collecting, a corruption becomes
 * the error (returns -EINVAL) and a leak is only counted (returns 0). */
int problem (struct problems *p, enum addcow_problem kind, const char *file,
             const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
/* Report MESSAGE, which already names its file. */
int problem_msg (struct problems *p, enum addcow_problem kind,
                 const char *message);
/* The kind of problem a failure R (negative errno) to open a file the
 * image needs is: a check error when the file is missing or unusable
 * (ENOENT, EACCES, EIO, ...), a corruption otherwise (a loop, a bad
 * format, the image file as its own backing). */
enum addcow_problem problem_kind_of_open_error (int r);
void problem_fixed (struct problems *p, enum addcow_problem kind,
                    const char *file, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

#endif /* ADDCOW_UTIL_UTIL_H */
