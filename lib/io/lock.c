/*
 * lock.c - image locking that QEMU understands.
 *
 * QEMU's file-posix driver takes shared OFD locks on byte 100+i ("I use
 * permission i") and 200+i ("I do not let others have permission i"),
 * and then tests the opposite bytes for other holders: for each
 * permission it uses, byte 200+i must be free; for each one it refuses
 * to share, byte 100+i must be free.  The permissions are
 *   0 consistent read, 1 write, 2 write unchanged, 3 resize, 4 graph-mod.
 *
 * Each file an image is made of plays a role, and each role takes the
 * bytes qemu 7.2 takes for the same role on the qcow2 twin (qcow2 file,
 * its external data file, a raw backing file; read from /proc/locks while
 * qemu-io and qemu-img held them):
 *   meta, read-only:    use 0;      deny 1, 3  (100, 201, 203)
 *   meta, read-write:   use 0,1,3;  deny 1, 3  (100, 101, 103, 201, 203)
 *   image, read-only:   use 0;      deny 3     (100, 203)
 *   image, read-write:  use 0,1,3;  deny 3     (100, 101, 103, 203)
 *   raw backing:        use 0;      deny none  (100): a backing file read
 *                       by a tool is shared with writers, as in qemu
 *   commit target:      use 1;      deny 3     (101, 203)
 * OFD locks belong to the open file description, so they are released
 * when the descriptor is closed and never conflict with themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define LOCK_USE_BASE 100
#define LOCK_DENY_BASE 200
#define NPERMS 5

#define P(i) (1u << (i))
enum { PERM_READ, PERM_WRITE, PERM_WRITE_UNCHANGED, PERM_RESIZE,
       PERM_GRAPH_MOD };

static const char *const perm_names[NPERMS] = {
  "consistent read", "write", "write unchanged", "resize", "change children",
};

struct lock_role {
  unsigned use, deny;
};

static const struct lock_role roles[] = {
  [LOCK_META_RO] = { P (PERM_READ), P (PERM_WRITE) | P (PERM_RESIZE) },
  [LOCK_META_RW] = { P (PERM_READ) | P (PERM_WRITE) | P (PERM_RESIZE),
                     P (PERM_WRITE) | P (PERM_RESIZE) },
  [LOCK_IMAGE_RO] = { P (PERM_READ), P (PERM_RESIZE) },
  [LOCK_IMAGE_RW] = { P (PERM_READ) | P (PERM_WRITE) | P (PERM_RESIZE),
                      P (PERM_RESIZE) },
  [LOCK_BACKING] = { P (PERM_READ), 0 },
  [LOCK_COMMIT_TARGET] = { P (PERM_WRITE), P (PERM_RESIZE) },
};

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

/* qemu's two lines, after our "OWNER:" prefix. */
static int
in_use (const struct acfile *f, const char *owner, bool shared, int perm)
{
  return set_error (EBUSY, "%s: Failed to get %s\"%s\" lock\n"
                    "Is another process using the image [%s]?", owner,
                    shared ? "shared " : "", perm_names[perm], f->path);
}

int
file_lock (struct acfile *f, enum lock_role_id id, const char *owner)
{
  const struct lock_role *role = &roles[id];
  int i, taken;

  for (i = 0; i < NPERMS; i++)
    if (((role->use & P (i)) && lock_byte (f->fd, LOCK_USE_BASE + i) < 0)
        || ((role->deny & P (i))
            && lock_byte (f->fd, LOCK_DENY_BASE + i) < 0)) {
      if (errno == EAGAIN || errno == EACCES)
        return set_error (EBUSY, "%s: Failed to lock byte %d\n"
                          "Is another process using the image [%s]?", owner,
                          (role->use & P (i) ? LOCK_USE_BASE : LOCK_DENY_BASE)
                          + i, f->path);
      return set_error_errno (errno, "%s: could not lock '%s'", owner,
                              f->path);
    }
  /* In qemu's order: what we use first, then what we do not share. */
  for (i = 0; i < NPERMS; i++) {
    if (!(role->use & P (i)))
      continue;
    if ((taken = byte_taken (f->fd, LOCK_DENY_BASE + i)) < 0)
      goto test_failed;
    if (taken)
      return in_use (f, owner, false, i);
  }
  for (i = 0; i < NPERMS; i++) {
    if (!(role->deny & P (i)))
      continue;
    if ((taken = byte_taken (f->fd, LOCK_USE_BASE + i)) < 0)
      goto test_failed;
    if (taken)
      return in_use (f, owner, true, i);
  }
  return 0;

 test_failed:
  return set_error_errno (errno, "%s: could not test the lock on '%s'",
                          owner, f->path);
}
