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
#include <stdio.h>
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

/* ---- cache modes (addcow_io_cache) ------------------------------------ */

static bool
direct_aligned (uint64_t v)
{
  return (v & (ADDCOW_DIRECT_ALIGN - 1)) == 0;
}

/* A new descriptor of FD's file with O_DIRECT (and O_DSYNC), or -1 when
 * its file system refuses O_DIRECT.  A new open file description per
 * request keeps FD itself buffered (unaligned I/O stays legal on it) and
 * needs no state; the kernel keeps both views coherent. */
static int
direct_fd (int fd, bool dsync)
{
  char path[64];
  int fl = fcntl (fd, F_GETFL);

  if (fl < 0)
    return -1;
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  return open (path, (fl & O_ACCMODE) | O_DIRECT | O_CLOEXEC
               | (dsync ? O_DSYNC : 0));
}

static ssize_t
direct_rw (int fd, void *buf, size_t count, off_t offset, bool write,
           bool dsync)
{
  void *p = buf, *bounce = NULL;
  ssize_t r;
  int dfd = -1, e;

  if (direct_aligned (count) && direct_aligned ((uint64_t) offset))
    dfd = direct_fd (fd, dsync);
  if (dfd < 0) {                /* unaligned, or no O_DIRECT here */
    r = write ? pwrite (fd, buf, count, offset) : pread (fd, buf, count,
                                                         offset);
    if (r > 0 && write && dsync && fdatasync (fd) < 0)
      return -1;
    return r;
  }
  if (!direct_aligned ((uintptr_t) buf)) {
    if (posix_memalign (&bounce, ADDCOW_DIRECT_ALIGN, count) != 0) {
      close (dfd);
      errno = ENOMEM;
      return -1;
    }
    if (write)
      memcpy (bounce, buf, count);
    p = bounce;
  }
  r = write ? pwrite (dfd, p, count, offset) : pread (dfd, p, count, offset);
  e = errno;
  if (r > 0 && bounce && !write)
    memcpy (buf, bounce, (size_t) r);
  free (bounce);
  close (dfd);
  errno = e;
  return r;
}

static ssize_t
none_pread (void *o, int fd, void *buf, size_t count, off_t offset)
{
  (void) o;
  return direct_rw (fd, buf, count, offset, false, false);
}

static ssize_t
none_pwrite (void *o, int fd, const void *buf, size_t count, off_t offset)
{
  (void) o;
  return direct_rw (fd, (void *) buf, count, offset, true, false);
}

static ssize_t
directsync_pwrite (void *o, int fd, const void *buf, size_t count,
                   off_t offset)
{
  (void) o;
  return direct_rw (fd, (void *) buf, count, offset, true, true);
}

static ssize_t
wt_pwrite (void *o, int fd, const void *buf, size_t count, off_t offset)
{
  ssize_t r = pwrite (fd, buf, count, offset);

  (void) o;
  return r > 0 && fdatasync (fd) < 0 ? -1 : r;
}

static int
wt_punch_hole (void *o, int fd, off_t offset, off_t length)
{
  return sys_punch_hole (o, fd, offset, length) < 0 ? -1 : fdatasync (fd);
}

static ssize_t
wt_copy_range (void *o, int fd_in, off_t off_in, int fd_out, off_t off_out,
               size_t count)
{
  ssize_t r = sys_copy_range (o, fd_in, off_in, fd_out, off_out, count);

  return r > 0 && fdatasync (fd_out) < 0 ? -1 : r;
}

static int
unsafe_sync (void *o, int fd)
{
  (void) o;
  (void) fd;
  return 0;
}

/* Copies under NONE/DIRECTSYNC go through pread/pwrite (copy_range NULL),
 * so that they are direct too. */
static const struct addcow_io cache_tables[] = {
  [ADDCOW_CACHE_WRITEBACK] = {
    .pread = sys_pread, .pwrite = sys_pwrite, .fdatasync = sys_fdatasync,
    .fsync = sys_fsync, .ftruncate = sys_ftruncate,
    .punch_hole = sys_punch_hole, .copy_range = sys_copy_range },
  [ADDCOW_CACHE_WRITETHROUGH] = {
    .pread = sys_pread, .pwrite = wt_pwrite, .fdatasync = sys_fdatasync,
    .fsync = sys_fsync, .ftruncate = sys_ftruncate,
    .punch_hole = wt_punch_hole, .copy_range = wt_copy_range },
  [ADDCOW_CACHE_NONE] = {
    .pread = none_pread, .pwrite = none_pwrite, .fdatasync = sys_fdatasync,
    .fsync = sys_fsync, .ftruncate = sys_ftruncate,
    .punch_hole = sys_punch_hole },
  [ADDCOW_CACHE_DIRECTSYNC] = {
    .pread = none_pread, .pwrite = directsync_pwrite,
    .fdatasync = sys_fdatasync, .fsync = sys_fsync,
    .ftruncate = sys_ftruncate, .punch_hole = wt_punch_hole },
  [ADDCOW_CACHE_UNSAFE] = {
    .pread = sys_pread, .pwrite = sys_pwrite, .fdatasync = unsafe_sync,
    .fsync = unsafe_sync, .ftruncate = sys_ftruncate,
    .punch_hole = sys_punch_hole, .copy_range = sys_copy_range },
};
#define N_CACHE_TABLES (sizeof cache_tables / sizeof cache_tables[0])

int
addcow_io_cache (struct addcow_io *io, enum addcow_cache mode)
{
  if (!io || (unsigned) mode >= N_CACHE_TABLES)
    return set_error (EINVAL, "addcow_io_cache: unknown cache mode %d",
                      (int) mode);
  *io = cache_tables[mode];
  return 0;
}

/* One of the library's own tables (the system calls or a cache mode):
 * stateless, so safe on the copier's threads. */
static bool
io_is_cache_table (const struct addcow_io *io)
{
  size_t i;

  for (i = 0; i < N_CACHE_TABLES; i++)
    if (memcmp (io, &cache_tables[i], sizeof *io) == 0)
      return true;
  return false;
}

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
  if (io_is_cache_table (io))
    return true;
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
