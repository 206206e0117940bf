/*
 * copy.c - the bulk copy engine of commit and rebase: where the bytes of a
 * run come from, moving them between files, and progress.
 *
 * A "source" names the file that holds a run at the same offset (image
 * files hold data at its guest offset, so every copy in a chain is
 * offset-preserving), or says the run reads as zeros.  Resolving a run
 * walks the layers with the bitmaps' own runs (image_is_allocated) and
 * asks a raw file for its data and holes (SEEK_DATA/SEEK_HOLE), so a copy
 * moves large runs (copy_file_range, several in flight: copier.c) and
 * never reads a hole.
 *
 * Invariants: a source never extends past the run asked for, never past
 * the end of the layer that answers, and is never empty.  Nothing here
 * syncs or touches a bitmap: ordering is the callers' (commit.c,
 * rebase.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checked.h"
#include "internal.h"

/* Ask the kernel about the extent holding OFFSET: [offset, end) is all
 * data or all hole (end may lie past SIZE). */
static void
find_extent (int fd, uint64_t offset, uint64_t size, struct extent_hint *h)
{
  off_t d = lseek (fd, (off_t) offset, SEEK_DATA), e;

  h->start = offset;
  h->end = size;
  h->data = false;
  if (d < 0 && errno == ENXIO)          /* a hole up to the end of file */
    return;
  h->data = d < 0 || (uint64_t) d == offset;
  if (d < 0)                            /* no SEEK_DATA here: all data */
    return;
  if (!h->data) {                       /* a hole, then data at d */
    h->end = (uint64_t) d;
    return;
  }
  e = lseek (fd, (off_t) offset, SEEK_HOLE);
  if (e > d)
    h->end = (uint64_t) e;
}

void
raw_source_hinted (struct acfile *f, uint64_t size, uint64_t offset,
                   uint64_t max, struct source *s)
{
  struct extent_hint *h = &f->hint;

  s->fd = -1;
  s->len = max;
  if (offset >= size)                   /* past the end: zeros */
    return;
  if (offset < h->start || offset >= h->end)
    find_extent (f->fd, offset, size, h);
  s->fd = h->data ? f->fd : -1;
  s->len = min_u64 (min_u64 (max, size - offset), h->end - offset);
}

void
raw_source (int fd, uint64_t size, uint64_t offset, uint64_t max,
            struct source *s)
{
  struct acfile f = { .fd = fd };     /* an empty hint: ask the kernel */

  raw_source_hinted (&f, size, offset, max, s);
}

int
disk_source (struct addcow *img, uint64_t offset, uint64_t max,
             struct source *s)
{
  uint64_t len;
  int r;

  if (offset >= img->virtual_size) {
    s->fd = -1;
    s->len = max;
    return 0;
  }
  if ((r = image_is_allocated (img, offset, max, &len)) < 0)
    return r;
  if (r) {
    raw_source (img->image.fd, img->virtual_size, offset, len, s);
    return 0;
  }
  return chain_source (img, offset, len, s);
}

int
chain_source (struct addcow *img, uint64_t offset, uint64_t max,
              struct source *s)
{
  if (img->backing_error)
    return set_error (EIO, "%s", img->backing_error);
  if (img->backing_kind == BACKING_NONE || offset >= img->backing_size) {
    s->fd = -1;
    s->len = max;
    return 0;
  }
  max = min_u64 (max, img->backing_size - offset);
  if (img->backing_kind == BACKING_RAW) {
    raw_source_hinted (&img->backing_raw, img->backing_size, offset, max,
                       s);
    return 0;
  }
  return disk_source (img->backing_img, offset, max, s);
}

/* Make [offset, offset+len) of FD (SIZE bytes) read as zeros, leaving the
 * parts that are holes (or past its end) alone. */
static int
zero_unless_hole (const struct addcow_io *io, int fd, uint64_t size,
                  uint64_t len, uint64_t offset)
{
  uint64_t end = offset + len;
  struct source here;
  int r;

  while (offset < end) {
    raw_source (fd, size, offset, end - offset, &here);
    if (here.fd >= 0 && (r = io_write_zeroes (io, fd, here.len, offset)) < 0)
      return r;
    offset += here.len;
  }
  return 0;
}

int
copy_to_file (struct copier *c, int src_fd, int dst_fd, uint64_t dst_size,
              uint64_t len, uint64_t offset)
{
  const struct addcow_io *io = copier_io (c);
  uint64_t end = offset + len;
  struct source here;
  int r;

  while (offset < end) {
    if (src_fd < 0) {
      here.fd = -1;
      here.len = end - offset;
    }
    else                        /* its size is not needed: EOF is a hole */
      raw_source (src_fd, UINT64_MAX, offset, end - offset, &here);
    if (here.fd >= 0)
      r = copier_copy (c, here.fd, dst_fd, here.len, offset);
    else
      r = zero_unless_hole (io, dst_fd, dst_size, here.len, offset);
    if (r < 0)
      return r;
    offset += here.len;
  }
  return 0;
}

void
read_hint (int fd, uint64_t offset, uint64_t len)
{
  (void) posix_fadvise (fd, (off_t) offset, (off_t) len,
                        POSIX_FADV_WILLNEED);
}

/* Ask the file system to deduplicate the first block of SRC_FD into
 * DST_FD: it compares the two blocks and shares them only if they are
 * equal, so no byte of either file changes, but it answers "same" or
 * "differs" only where the two files can share extents - where
 * copy_file_range clones instead of copying (XFS with reflink, btrfs; not
 * ext4, not XFS without reflink, not across file systems). */
bool
copies_share_extents (const struct addcow_io *io, int src_fd, int dst_fd)
{
  struct {
    struct file_dedupe_range range;
    struct file_dedupe_range_info dst;
  } q;
  struct stat ss, ds;

  if (!io_is_system (io) || fstat (src_fd, &ss) < 0
      || fstat (dst_fd, &ds) < 0 || ds.st_blksize <= 0
      || ss.st_size < ds.st_blksize || ds.st_size < ds.st_blksize)
    return false;
  memset (&q, 0, sizeof q);
  q.range.src_length = (uint64_t) ds.st_blksize;
  q.range.dest_count = 1;
  q.dst.dest_fd = dst_fd;
  if (ioctl (src_fd, FIDEDUPERANGE, &q) < 0)
    return false;
  return q.dst.status == FILE_DEDUPE_RANGE_SAME
    || q.dst.status == FILE_DEDUPE_RANGE_DIFFERS;
}

int
punch_if_possible (const struct addcow_io *io, int fd, uint64_t offset,
                   uint64_t len)
{
  if (!io->punch_hole || len == 0)
    return 0;
  if (io->punch_hole (io->opaque, fd, (off_t) offset, (off_t) len) == 0)
    return 0;
  if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL
      || errno == ENODEV)
    return 0;
  return -errno;
}

void
progress_start (struct progress *p, addcow_progress_fn fn, void *opaque,
                uint64_t total)
{
  p->fn = fn;
  p->opaque = opaque;
  p->done = 0;
  p->total = total;
}

int
progress_add (struct progress *p, uint64_t n, const char *file)
{
  p->done = min_u64 (p->done + n, p->total);
  if (p->fn && p->fn (p->opaque, p->done, p->total) != 0)
    return set_error (ECANCELED, "%s: cancelled", file);
  return 0;
}
