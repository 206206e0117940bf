/*
 * io.c - the I/O layer: the only code that reads, writes, syncs, truncates
 * or punches the library's files.
 *
 * Everything goes through a struct addcow_io table so that tests can inject
 * errors and cut a run off after any operation (a simulated crash).  The
 * helpers here add what the system calls lack: full transfers, EINTR
 * retries, zeros past end of file, and fallbacks for hole punching and
 * in-kernel copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked.h"
#include "internal.h"

#define BOUNCE_SIZE (1u << 20)  /* fallback copy/zero chunk */

static ssize_t
sys_pread (void *opaque, int fd, void *buf, size_t count, off_t offset)
{
  (void) opaque;
  return pread (fd, buf, count, offset);
}

static ssize_t
sys_pwrite (void *opaque, int fd, const void *buf, size_t count,
            off_t offset)
{
  (void) opaque;
  return pwrite (fd, buf, count, offset);
}

static int
sys_fdatasync (void *opaque, int fd)
{
  (void) opaque;
  return fdatasync (fd);
}

static int
sys_fsync (void *opaque, int fd)
{
  (void) opaque;
  return fsync (fd);
}

static int
sys_ftruncate (void *opaque, int fd, off_t length)
{
  (void) opaque;
  return ftruncate (fd, length);
}

static int
sys_punch_hole (void *opaque, int fd, off_t offset, off_t length)
{
  (void) opaque;
  return fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    offset, length);
}

static ssize_t
sys_copy_range (void *opaque, int fd_in, off_t off_in, int fd_out,
                off_t off_out, size_t count)
{
  loff_t in = off_in, out = off_out;
  (void) opaque;
  return copy_file_range (fd_in, &in, fd_out, &out, count, 0);
}

static const struct addcow_io sys = {
  NULL, sys_pread, sys_pwrite, sys_fdatasync, sys_fsync, sys_ftruncate,
  sys_punch_hole, sys_copy_range,
};

void
io_init (struct addcow_io *io, const struct addcow_io *user)
{
  *io = user ? *user : sys;
  if (!io->pread) io->pread = sys.pread;
  if (!io->pwrite) io->pwrite = sys.pwrite;
  if (!io->fdatasync) io->fdatasync = sys.fdatasync;
  if (!io->fsync) io->fsync = sys.fsync;
  if (!io->ftruncate) io->ftruncate = sys.ftruncate;
  /* punch_hole and copy_range stay NULL if the user's table says so:
   * a fault-injecting table must see every write. */
  if (!user) {
    io->punch_hole = sys.punch_hole;
    io->copy_range = sys.copy_range;
  }
}

bool
io_is_system (const struct addcow_io *io)
{
  return io->opaque == sys.opaque && io->pread == sys.pread
    && io->pwrite == sys.pwrite && io->fdatasync == sys.fdatasync
    && io->fsync == sys.fsync && io->ftruncate == sys.ftruncate
    && io->punch_hole == sys.punch_hole && io->copy_range == sys.copy_range;
}

int
io_read (const struct addcow_io *io, int fd, void *buf, size_t count,
         uint64_t offset)
{
  uint8_t *p = buf;

  while (count > 0) {
    ssize_t r = io->pread (io->opaque, fd, p, count, (off_t) offset);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0) {               /* end of file: the rest reads as zeros */
      memset (p, 0, count);
      break;
    }
    p += r;
    count -= (size_t) r;
    offset += (uint64_t) r;
  }
  return 0;
}

int
io_write (const struct addcow_io *io, int fd, const void *buf, size_t count,
          uint64_t offset)
{
  const uint8_t *p = buf;

  while (count > 0) {
    ssize_t r = io->pwrite (io->opaque, fd, p, count, (off_t) offset);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -ENOSPC;
    p += r;
    count -= (size_t) r;
    offset += (uint64_t) r;
  }
  return 0;
}

/* Errors that mean "this file or kernel cannot do it": fall back.  A bad
 * descriptor (EBADF) is a bug and is reported, not papered over. */
static bool
is_unsupported (int err)
{
  return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL
    || err == EXDEV || err == ENODEV;
}

int
io_write_zeroes (const struct addcow_io *io, int fd, uint64_t count,
                 uint64_t offset)
{
  uint8_t *zeros;
  int r = 0;

  if (count == 0)
    return 0;
  if (io->punch_hole) {
    if (io->punch_hole (io->opaque, fd, (off_t) offset, (off_t) count) == 0)
      return 0;
    if (!is_unsupported (errno))
      return -errno;
  }
  zeros = calloc (1, BOUNCE_SIZE);
  if (!zeros)
    return -ENOMEM;
  while (count > 0 && r == 0) {
    size_t n = (size_t) min_u64 (count, BOUNCE_SIZE);
    r = io_write (io, fd, zeros, n, offset);
    count -= n;
    offset += n;
  }
  free (zeros);
  return r;
}

int
io_copy_bounce (const struct addcow_io *io, int fd_in, uint64_t in_off,
                int fd_out, uint64_t out_off, uint64_t count)
{
  uint8_t *buf = malloc (BOUNCE_SIZE);
  int r = 0;

  if (!buf)
    return -ENOMEM;
  while (count > 0 && r == 0) {
    size_t n = (size_t) min_u64 (count, BOUNCE_SIZE);
    r = io_read (io, fd_in, buf, n, in_off);
    if (r == 0)
      r = io_write (io, fd_out, buf, n, out_off);
    count -= n;
    in_off += n;
    out_off += n;
  }
  free (buf);
  return r;
}

int
io_copy (const struct addcow_io *io, int fd_in, int fd_out, uint64_t count,
         uint64_t offset)
{
  while (count > 0 && io->copy_range) {
    ssize_t r = io->copy_range (io->opaque, fd_in, (off_t) offset, fd_out,
                                (off_t) offset, (size_t) min_u64 (count,
                                                                  1u << 30));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && is_unsupported (errno))
      break;
    if (r < 0)
      return -errno;
    if (r == 0)                 /* end of FD_IN: the rest is zeros */
      return io_write_zeroes (io, fd_out, count, offset);
    count -= (uint64_t) r;
    offset += (uint64_t) r;
  }
  return io_copy_bounce (io, fd_in, offset, fd_out, offset, count);
}

int
io_datasync (const struct addcow_io *io, int fd)
{
  return io->fdatasync (io->opaque, fd) == 0 ? 0 : -errno;
}

int
io_sync (const struct addcow_io *io, int fd)
{
  return io->fsync (io->opaque, fd) == 0 ? 0 : -errno;
}

int
io_truncate (const struct addcow_io *io, int fd, uint64_t length)
{
  return io->ftruncate (io->opaque, fd, (off_t) length) == 0 ? 0 : -errno;
}
