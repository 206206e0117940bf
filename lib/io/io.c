/*
 * io.c - the I/O layer: the only code that reads, writes, syncs, truncates
 * or punches the library's files.
 *
 * Everything goes through a struct addcow_io table so that tests can inject
 * errors and cut a run off after any operation (a simulated crash):
 * contents, renames and directory syncs alike.  The helpers here add what
 * the system calls lack: full transfers, EINTR retries, zeros past end of
 * file, and fallbacks for hole punching, in-kernel copies and renames
 * that must not replace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
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

static int
sys_rename (void *opaque, const char *from, const char *to, unsigned flags)
{
  (void) opaque;
  return renameat2 (AT_FDCWD, from, AT_FDCWD, to, flags);
}

static int
sys_sync_dir (void *opaque, const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r, e;

  (void) opaque;
  if (fd < 0)
    return -1;
  r = fsync (fd);
  e = errno;
  close (fd);
  errno = e;
  return r;
}

static off_t
sys_lseek (void *opaque, int fd, off_t offset, int whence)
{
  (void) opaque;
  return lseek (fd, offset, whence);
}

static const struct addcow_io sys = {
  ADDCOW_IO_VERSION, NULL, sys_pread, sys_pwrite, sys_fdatasync, sys_fsync,
  sys_ftruncate, sys_punch_hole, sys_copy_range, sys_rename, sys_sync_dir,
  sys_lseek,
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

static int
unsafe_sync_dir (void *o, const char *dir)
{
  (void) o;
  (void) dir;
  return 0;
}

/* NULL members are the system calls (io_init): rename, sync_dir, lseek.
 * Copies under NONE/DIRECTSYNC go through pread/pwrite (copy_range NULL),
 * so that they are direct too. */
#define CACHE_TABLE(rd, wr, dsync, fsync_, punch, copy, sdir) {         \
    .version = ADDCOW_IO_VERSION, .pread = rd, .pwrite = wr,            \
    .fdatasync = dsync, .fsync = fsync_, .ftruncate = sys_ftruncate,    \
    .punch_hole = punch, .copy_range = copy, .sync_dir = sdir }
static const struct addcow_io cache_tables[] = {
  [ADDCOW_CACHE_WRITEBACK] = CACHE_TABLE (sys_pread, sys_pwrite,
    sys_fdatasync, sys_fsync, sys_punch_hole, sys_copy_range, NULL),
  [ADDCOW_CACHE_WRITETHROUGH] = CACHE_TABLE (sys_pread, wt_pwrite,
    sys_fdatasync, sys_fsync, wt_punch_hole, wt_copy_range, NULL),
  [ADDCOW_CACHE_NONE] = CACHE_TABLE (none_pread, none_pwrite,
    sys_fdatasync, sys_fsync, sys_punch_hole, NULL, NULL),
  [ADDCOW_CACHE_DIRECTSYNC] = CACHE_TABLE (none_pread, directsync_pwrite,
    sys_fdatasync, sys_fsync, wt_punch_hole, NULL, NULL),
  [ADDCOW_CACHE_UNSAFE] = CACHE_TABLE (sys_pread, sys_pwrite, unsafe_sync,
    unsafe_sync, sys_punch_hole, sys_copy_range, unsafe_sync_dir),
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

void
io_init (struct addcow_io *io, const struct addcow_io *user)
{
  *io = sys;
  if (user) {
    /* The members of version 0/1; a later version's extra members are
     * not known here and are not read. */
    io->opaque = user->opaque;
    io->pread = user->pread ? user->pread : sys.pread;
    io->pwrite = user->pwrite ? user->pwrite : sys.pwrite;
    io->fdatasync = user->fdatasync ? user->fdatasync : sys.fdatasync;
    io->fsync = user->fsync ? user->fsync : sys.fsync;
    io->ftruncate = user->ftruncate ? user->ftruncate : sys.ftruncate;
    /* punch_hole and copy_range stay NULL if the user's table says so:
     * a fault-injecting table must see every write. */
    io->punch_hole = user->punch_hole;
    io->copy_range = user->copy_range;
    io->rename = user->rename ? user->rename : sys.rename;
    io->sync_dir = user->sync_dir ? user->sync_dir : sys.sync_dir;
    io->lseek = user->lseek ? user->lseek : sys.lseek;
  }
}

static bool
io_equal (const struct addcow_io *a, const struct addcow_io *b)
{
  return a->opaque == b->opaque && a->pread == b->pread
    && a->pwrite == b->pwrite && a->fdatasync == b->fdatasync
    && a->fsync == b->fsync && a->ftruncate == b->ftruncate
    && a->punch_hole == b->punch_hole && a->copy_range == b->copy_range
    && a->rename == b->rename && a->sync_dir == b->sync_dir
    && a->lseek == b->lseek;
}

/* IO (filled by io_init) is one of the library's own tables, the system
 * calls or a cache mode: stateless, so safe on the copier's threads. */
bool
io_is_system (const struct addcow_io *io)
{
  struct addcow_io t;
  size_t i;

  if (io_equal (io, &sys))
    return true;
  for (i = 0; i < N_CACHE_TABLES; i++) {
    io_init (&t, &cache_tables[i]);
    if (io_equal (io, &t))
      return true;
  }
  return false;
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
io_copy_at (const struct addcow_io *io, int fd_in, uint64_t in_off,
            int fd_out, uint64_t out_off, uint64_t count)
{
  while (count > 0 && io->copy_range) {
    ssize_t r = io->copy_range (io->opaque, fd_in, (off_t) in_off, fd_out,
                                (off_t) out_off, (size_t) min_u64 (count,
                                                                   1u << 30));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && is_unsupported (errno))
      break;
    if (r < 0)
      return -errno;
    if (r == 0)                 /* end of FD_IN: the rest is zeros */
      return io_write_zeroes (io, fd_out, count, out_off);
    count -= (uint64_t) r;
    in_off += (uint64_t) r;
    out_off += (uint64_t) r;
  }
  return io_copy_bounce (io, fd_in, in_off, fd_out, out_off, count);
}

int
io_copy (const struct addcow_io *io, int fd_in, int fd_out, uint64_t count,
         uint64_t offset)
{
  return io_copy_at (io, fd_in, offset, fd_out, offset, count);
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

int
io_rename (const struct addcow_io *io, const char *from, const char *to,
           bool replace)
{
  if (replace)
    return io->rename (io->opaque, from, to, 0) == 0 ? 0 : -errno;
  if (io->rename (io->opaque, from, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -errno;
  /* A file system without RENAME_NOREPLACE: link fails on an existing
   * name, and the second name goes away after. */
  if (link (from, to) < 0)
    return -errno;
  unlink (from);
  return 0;
}

int
io_sync_dir (const struct addcow_io *io, const char *path)
{
  char *dir = strdup (path), *slash;
  int r;

  if (!dir)
    return -ENOMEM;
  slash = strrchr (dir, '/');
  if (slash)
    slash[slash == dir ? 1 : 0] = 0;
  r = io->sync_dir (io->opaque, slash ? dir : ".") == 0 ? 0 : -errno;
  free (dir);
  return r;
}

off_t
io_lseek (const struct addcow_io *io, int fd, off_t offset, int whence)
{
  return io->lseek (io->opaque, fd, offset, whence);
}
