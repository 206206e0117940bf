/*
 * error.c - the per-thread error message behind addcow_get_error().
 *
 * Each failing library call formats its message here (the file it concerns
 * first) and returns a negative errno.  Thread-local, so two threads using
 * two handles do not see each other's errors.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[1024];

const char *
addcow_get_error (void)
{
  return last_error[0] ? last_error : "no error";
}

static int vset_error (int err, const char *fmt, va_list ap, bool with_errno)
  __attribute__ ((format (printf, 2, 0)));

static int
vset_error (int err, const char *fmt, va_list ap, bool with_errno)
{
  char msg[sizeof last_error - 128];

  vsnprintf (msg, sizeof msg, fmt, ap);
  if (with_errno)
    snprintf (last_error, sizeof last_error, "%s: %s", msg, strerror (err));
  else
    snprintf (last_error, sizeof last_error, "%s", msg);
  return -err;
}

int
set_error (int err, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vset_error (err, fmt, ap, false);
  va_end (ap);
  return r;
}

int
set_error_errno (int err, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vset_error (err, fmt, ap, true);
  va_end (ap);
  return r;
}
