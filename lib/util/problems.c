/*
 * problems.c - one place that decides what a problem with an image means.
 *
 * The same validation code serves addcow_open (refuse the first corruption,
 * tolerate leaks) and addcow_check (report everything, count it).
 */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

static void vreport (struct problems *p, enum addcow_problem kind,
                     bool fixed, const char *file, const char *fmt,
                     va_list ap) __attribute__ ((format (printf, 5, 0)));

static void
vreport (struct problems *p, enum addcow_problem kind, bool fixed,
         const char *file, const char *fmt, va_list ap)
{
  char msg[900], line[1024];

  if (!p->report)
    return;
  vsnprintf (msg, sizeof msg, fmt, ap);
  snprintf (line, sizeof line, "%s: %s", file, msg);
  p->report (p->opaque, kind, fixed, line);
}

int
problem (struct problems *p, enum addcow_problem kind, const char *file,
         const char *fmt, ...)
{
  va_list ap;
  char msg[900];

  if (kind == ADDCOW_PROBLEM_LEAK)
    p->leaks++;
  else
    p->corruptions++;

  va_start (ap, fmt);
  if (p->collect)
    vreport (p, kind, false, file, fmt, ap);
  else
    vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);

  if (p->collect || kind == ADDCOW_PROBLEM_LEAK)
    return 0;
  return set_error (EINVAL, "%s: %s", file, msg);
}

int
problem_msg (struct problems *p, enum addcow_problem kind,
             const char *message)
{
  if (kind == ADDCOW_PROBLEM_LEAK)
    p->leaks++;
  else if (kind == ADDCOW_PROBLEM_CHECK_ERROR)
    p->check_errors++;
  else
    p->corruptions++;
  if (p->collect && p->report)
    p->report (p->opaque, kind, false, message);
  if (p->collect || kind == ADDCOW_PROBLEM_LEAK)
    return 0;
  return set_error (EINVAL, "%s", message);
}

void
problem_fixed (struct problems *p, enum addcow_problem kind,
               const char *file, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vreport (p, kind, true, file, fmt, ap);
  va_end (ap);
}

enum addcow_problem
problem_kind_of_open_error (int r)
{
  switch (-r) {
  case ENOENT: case ENOTDIR: case EACCES: case EPERM: case EIO:
  case EROFS: case ENAMETOOLONG: case ENXIO: case ENODEV: case EBUSY:
  case EMFILE: case ENFILE: case ENOMEM:
    return ADDCOW_PROBLEM_CHECK_ERROR;
  default:
    return ADDCOW_PROBLEM_CORRUPTION;
  }
}
