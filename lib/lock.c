/*
 * lock.c - image locking that QEMU understands.
 *
 * QEMU takes shared OFD locks on byte 100+i ("I use permission i") and
 * 200+i ("I do not let others have permission i"), where permission 0 is
 * consistent read and 1 is write, and then tests the opposite bytes for
 * other holders.  We do the same, so that addcow-img and a running QEMU (or
 * a second addcow-img) see each other:
 *   reader: holds 100, 201; fails if anyone holds 101 (a writer);
 *   writer: holds 100, 101, 201; fails if anyone holds 101 or 201.
 * OFD locks belong to the open file description, so they are released when
 * the descriptor is closed and never conflict with themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define LOCK_USE_BASE 100
#define LOCK_DENY_BASE 200
#define PERM_READ 0
#define PERM_WRITE 1

static int
lock_byte (int fd, int byte)
{
  struct flock fl;

  memset (&fl, 0, sizeof fl);
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return fcntl (fd, F_OFD_SETLK, &fl);
}

/* 1 if another open file description holds a lock on BYTE. */
static int
byte_taken (int fd, int byte)
{
  struct flock fl;

  memset (&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (fcntl (fd, F_OFD_GETLK, &fl) < 0)
    return -1;
  return fl.l_type != F_UNLCK;
}

int
file_lock (struct acfile *f, bool writer, const char *owner)
{
  int taken;

  if (lock_byte (f->fd, LOCK_USE_BASE + PERM_READ) < 0
      || (writer && lock_byte (f->fd, LOCK_USE_BASE + PERM_WRITE) < 0)
      || lock_byte (f->fd, LOCK_DENY_BASE + PERM_WRITE) < 0) {
    if (errno == EAGAIN || errno == EACCES)
      goto in_use;
    return set_error_errno (errno, "%s: could not lock '%s'", owner,
                            f->path);
  }
  taken = byte_taken (f->fd, LOCK_USE_BASE + PERM_WRITE);
  if (taken == 0 && writer)
    taken = byte_taken (f->fd, LOCK_DENY_BASE + PERM_WRITE);
  if (taken < 0)
    return set_error_errno (errno, "%s: could not test the lock on '%s'",
                            owner, f->path);
  if (taken)
    goto in_use;
  return 0;

 in_use:
  if (strcmp (owner, f->path) == 0)
    return set_error (EBUSY, "%s: image is in use by another process "
                      "(use -U to inspect it anyway)", owner);
  return set_error (EBUSY, "%s: '%s' is in use by another process "
                    "(use -U to inspect it anyway)", owner, f->path);
}
