/*
 * copy.c - the bulk copy engine of commit and rebase: where the bytes of a
 * run come from, moving them between files, and progress.
 *
 * A "source" names the file and offset that hold a run (raw and add-cow
 * layers keep data at its guest offset, so most copies in a chain are
 * offset-preserving), or the layer to read it through (compressed data),
 * or says the run reads as zeros.  Resolving a run is the chain walk
 * (chain_resolve, chain.c), which uses the bitmaps' own runs and asks
 * files for their data and holes (SEEK_DATA/SEEK_HOLE), so a copy moves
 * large runs (copy_file_range, several in flight: copier.c) and never
 * reads a hole.
 *
 * Invariants: a source never extends past the run asked for, never past
 * the end of the layer that answers, and is never empty.  Nothing here
 * syncs or touches a bitmap: ordering is the callers' (commit.c,
 * rebase.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
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

/* Each thread keeps the last extent it learnt of a few files, named by
 * their hint_id: a walk in several threads (the plugin's block status,
 * map's layers) then shares no lock.  An id is never reused, so a slot of
 * a closed or forgotten file is never taken for another's. */
enum { EXTENT_SLOTS = 4 };
static _Thread_local struct {
  uint64_t id;
  struct extent_hint h;
} extents[EXTENT_SLOTS];
static _Thread_local unsigned extent_next;

static struct extent_hint *
extent_slot (uint64_t id)
{
  unsigned i;

  for (i = 0; i < EXTENT_SLOTS; i++)
    if (extents[i].id == id)
      return &extents[i].h;
  i = extent_next++ % EXTENT_SLOTS;
  extents[i].id = id;
  extents[i].h.start = extents[i].h.end = 0;
  return &extents[i].h;
}

void
raw_source_hinted (struct acfile *f, uint64_t size, uint64_t offset,
                   uint64_t max, struct source *s)
{
  uint64_t id = atomic_load_explicit (&f->hint_id, memory_order_relaxed);
  struct extent_hint none = { 0, 0, false };
  struct extent_hint *h = id ? extent_slot (id) : &none;

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
  struct acfile f = { .fd = fd };    /* hint_id 0: ask the kernel */

  raw_source_hinted (&f, size, offset, max, s);
  s->file_offset = offset;
  s->layer = NULL;
}

/* The source a chain run describes. */
static void
run_source (const struct chain_run *run, struct source *s)
{
  s->len = run->len;
  s->fd = -1;
  s->file_offset = 0;
  s->layer = NULL;
  if (run->kind != RUN_DATA)
    return;
  if (run->fd >= 0) {
    s->fd = run->fd;
    s->file_offset = run->file_offset;
  }
  else
    s->layer = run->layer;
}

int
layer_source (struct layer *top, uint64_t offset, uint64_t max,
              struct source *s)
{
  struct chain_run run;
  int r;

  if (offset >= top->size) {
    s->fd = -1;
    s->len = max;
    s->file_offset = 0;
    s->layer = NULL;
    return 0;
  }
  if ((r = chain_resolve (top, offset, max, &run)) < 0)
    return r;
  run_source (&run, s);
  return 0;
}

int
chain_source (struct addcow *img, uint64_t offset, uint64_t max,
              struct source *s)
{
  if (img->backing_error)
    return set_error (EIO, "%s", img->backing_error);
  if (!img->self.backing)
    return layer_source (&img->self, img->virtual_size, max, s); /* zeros */
  return layer_source (img->self.backing, offset, max, s);
}

int
source_read (const struct source *s, const struct addcow_io *io, void *buf,
             size_t len, uint64_t offset)
{
  int r;

  if (s->layer)
    return s->layer->ops->read (s->layer, buf, len, offset);
  if (s->fd < 0) {
    memset (buf, 0, len);
    return 0;
  }
  if ((r = io_read (io, s->fd, buf, len, s->file_offset)) < 0)
    return set_error (-r, "could not read: %s", strerror (-r));
  return 0;
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

/* Can a copy from FILE_OFFSET to OFFSET of DST_FD share extents?  Only
 * where both are on a block boundary of its file system; elsewhere
 * copy_file_range copies bytes in the kernel, and a read job, on the
 * copier's threads, does as well. */
static bool
blocks_line_up (int dst_fd, uint64_t file_offset, uint64_t offset)
{
  struct stat st;

  if (fstat (dst_fd, &st) < 0 || st.st_blksize <= 0)
    return false;
  return file_offset % (uint64_t) st.st_blksize == 0
    && offset % (uint64_t) st.st_blksize == 0;
}

int
copy_source (struct copier *c, const struct source *s, int dst_fd,
             uint64_t dst_size, uint64_t offset)
{
  if (source_is_zero (s))
    return copy_to_file (c, -1, dst_fd, dst_size, s->len, offset);
  if (s->fd >= 0 && s->file_offset == offset)
    return copier_copy (c, s->fd, dst_fd, s->len, offset);
  if (s->fd >= 0 && blocks_line_up (dst_fd, s->file_offset, offset))
    return copier_copy_at (c, s->fd, s->file_offset, dst_fd, s->len,
                           offset);
  return copier_read (c, s, dst_fd, offset);
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

bool
sources_same_bytes (const struct source *a, const struct source *b)
{
  struct stat sa, sb;

  if (a->fd < 0 || b->fd < 0 || a->layer || b->layer
      || a->file_offset != b->file_offset)
    return false;
  return a->fd == b->fd
    || (fstat (a->fd, &sa) == 0 && fstat (b->fd, &sb) == 0
        && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}
