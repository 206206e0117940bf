/*
 * file.c - opening the files an image is made of.
 *
 * Only regular files and block devices are accepted, and the check happens
 * on the open descriptor (O_NONBLOCK, so that a FIFO never hangs us) before
 * anything is read from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The ids of open files (hint_id), in order of opening. */
static _Atomic uint64_t last_hint_id;

void
file_forget_extents (struct acfile *f)
{
  atomic_store (&f->hint_id, atomic_fetch_add (&last_hint_id, 1) + 1);
}

static const char *
kind_of (mode_t mode)
{
  if (S_ISDIR (mode)) return "a directory";
  if (S_ISFIFO (mode)) return "a FIFO";
  if (S_ISSOCK (mode)) return "a socket";
  if (S_ISCHR (mode)) return "a character device";
  return "not a regular file";
}

int
file_open (struct acfile *f, const char *path, bool writable,
           const char *owner, const char *what)
{
  struct stat st;
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK;
  off_t end;

  f->fd = -1;
  f->path = NULL;
  file_forget_extents (f);
  f->fd = open (path, flags);
  if (f->fd < 0 && !what)
    return set_error_errno (errno, "%s: could not open", owner);
  if (f->fd < 0)
    return set_error_errno (errno, "%s: could not open %s '%s'",
                            owner, what, path);
  if (!what)
    what = "file";
  if (fstat (f->fd, &st) < 0) {
    int e = errno;
    file_close (f);
    return set_error_errno (e, "%s: could not stat %s '%s'",
                            owner, what, path);
  }
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode)) {
    file_close (f);
    return set_error (EINVAL, "%s: %s '%s' is %s", owner, what, path,
                      kind_of (st.st_mode));
  }
  /* Back to blocking I/O now that we know it is a file. */
  if (fcntl (f->fd, F_SETFL, 0) < 0
      || (end = lseek (f->fd, 0, SEEK_END)) < 0) {
    int e = errno;
    file_close (f);
    return set_error_errno (e, "%s: %s '%s'", owner, what, path);
  }
  f->path = strdup (path);
  if (!f->path) {
    file_close (f);
    return set_error (ENOMEM, "%s: out of memory", owner);
  }
  f->size = (uint64_t) end;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  return 0;
}

void
file_close (struct acfile *f)
{
  if (f->fd >= 0)
    close (f->fd);
  f->fd = -1;
  free (f->path);
  f->path = NULL;
}

bool
file_same (const struct acfile *a, const struct acfile *b)
{
  return a->fd >= 0 && b->fd >= 0 && a->dev == b->dev && a->ino == b->ino;
}
