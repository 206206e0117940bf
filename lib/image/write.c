/*
 * write.c - writing the virtual disk and flushing (spec section 7).
 *
 * Copy-on-write at cluster granularity: the part of an unallocated cluster
 * that a write does not cover is first filled with the cluster's current
 * contents (from the backing chain, or zeros).  New bits go to the bitmap in
 * memory and are marked dirty; image_flush syncs the image file first and
 * only then writes the dirty bitmap blocks and syncs the add-cow file, so a
 * bit never reaches the disk before the data it vouches for.
 *
 * The data of a write comes from a buffer (image_pwrite), from zeros
 * (image_pwrite_zeroes), or from another file at the same offsets
 * (image_copy_from, which commit uses so that whole clusters move with
 * copy_file_range instead of through a buffer).
 *
 * A failed data sync forgets the bits it would have vouched for (see
 * forget_unsynced_bits): they never reach the disk.
 */
#include <errno.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

/* Where the bytes of a write come from: a buffer, a file that holds them at
 * the same offsets (commit copies an image file into its backing file this
 * way), or zeros. */
struct wsrc {
  const uint8_t *buf;           /* the bytes for the current offset */
  int fd;                       /* >= 0: a file, at the same offsets */
};

static bool
src_is_zero (struct wsrc src)
{
  return !src.buf && src.fd < 0;
}

/* SRC moved on by N bytes. */
static struct wsrc
src_skip (struct wsrc src, uint64_t n)
{
  if (src.buf)
    src.buf += n;
  return src;
}

/* Write LEN bytes of SRC to the image file at OFFSET. */
static int
write_run (struct addcow *img, struct wsrc src, uint64_t len,
           uint64_t offset)
{
  int r;

  if (src.buf)
    r = io_write (&img->io, img->image.fd, src.buf, (size_t) len, offset);
  else if (src.fd >= 0)
    r = io_copy (&img->io, src.fd, img->image.fd, len, offset);
  else
    r = io_write_zeroes (&img->io, img->image.fd, len, offset);
  if (r < 0)
    return set_error (-r, "%s: could not write image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  return 0;
}

/* One cluster's bounds, the last one cut at the end of the disk. */
static void
cluster_bounds (const struct addcow *img, uint64_t offset, uint64_t *start,
                uint64_t *end)
{
  *start = offset & ~((uint64_t) img->cluster_size - 1);
  *end = min_u64 (*start + img->cluster_size, img->virtual_size);
}

/* Put LEN bytes of SRC at DST (a part of the COW cluster buffer). */
static int
src_read (struct addcow *img, struct wsrc src, uint8_t *dst, uint64_t len,
          uint64_t offset)
{
  int r;

  if (src.buf)
    memcpy (dst, src.buf, len);
  else if (src.fd < 0)
    memset (dst, 0, len);
  else if ((r = io_read (&img->io, src.fd, dst, (size_t) len, offset)) < 0)
    return set_error (-r, "%s: could not read the data to write: %s",
                      img->filename, strerror (-r));
  return 0;
}

/* Write part of an unallocated cluster: fill the rest from below. */
static int
cow_cluster (struct addcow *img, struct wsrc src, uint64_t len,
             uint64_t offset)
{
  uint64_t cstart, cend;
  int r;

  cluster_bounds (img, offset, &cstart, &cend);
  if ((r = backing_read (img, img->cluster_buf, cend - cstart, cstart)) < 0
      || (r = src_read (img, src, img->cluster_buf + (offset - cstart), len,
                        offset)) < 0)
    return r;
  return write_run (img, (struct wsrc) { img->cluster_buf, -1 },
                    cend - cstart, cstart);
}

/* Write a run of unallocated clusters, then set their bits in memory. */
static int
write_unallocated (struct addcow *img, struct wsrc src, uint64_t len,
                   uint64_t offset)
{
  uint64_t end = offset + len, pos = offset, cstart, cend, full_end;
  int r;

  while (pos < end) {
    struct wsrc here = src_skip (src, pos - offset);
    cluster_bounds (img, pos, &cstart, &cend);
    if (pos == cstart && end >= cend) {  /* whole clusters: one write */
      full_end = end == img->virtual_size
        ? end : end & ~((uint64_t) img->cluster_size - 1);
      r = write_run (img, here, full_end - pos, pos);
      pos = full_end;
    }
    else {
      uint64_t piece = min_u64 (end, cend) - pos;
      r = cow_cluster (img, here, piece, pos);
      pos += piece;
    }
    if (r < 0)
      return r;
  }
  bitmap_set_range (&img->bm, offset >> img->cluster_bits,
                    ((end - 1) >> img->cluster_bits)
                    - (offset >> img->cluster_bits) + 1);
  return 0;
}

/* Does an unallocated run already read as zeros? */
static bool
reads_as_zeros (const struct addcow *img, uint64_t offset)
{
  return !img->backing_error
    && (img->backing_kind == BACKING_NONE || offset >= img->backing_size);
}

static int
write_common (struct addcow *img, struct wsrc src, uint64_t count,
              uint64_t offset)
{
  uint64_t len;
  int r;

  if (!img->writable)
    return set_error (EROFS, "%s: image is opened read-only", img->filename);
  if (img->write_failed)
    return set_error (EIO, "%s: an earlier failed sync left this handle's "
                      "bitmap uncertain; reopen the image to write again",
                      img->filename);
  if ((r = image_check_range (img, count, offset)) < 0)
    return r;
  while (count > 0) {
    if ((r = image_is_allocated (img, offset, count, &len)) < 0)
      return r;
    if (r)
      r = write_run (img, src, len, offset);
    else if (src_is_zero (src) && reads_as_zeros (img, offset))
      r = 0;
    else
      r = write_unallocated (img, src, len, offset);
    if (r < 0)
      return r;
    src = src_skip (src, len);
    offset += len;
    count -= len;
  }
  return 0;
}

int
image_pwrite (struct addcow *img, const void *buf, size_t count,
               uint64_t offset)
{
  if (!buf && count)
    return set_error (EINVAL, "%s: NULL buffer", img->filename);
  return write_common (img, (struct wsrc) { buf, -1 }, count, offset);
}

int
image_pwrite_zeroes (struct addcow *img, uint64_t count, uint64_t offset)
{
  return write_common (img, (struct wsrc) { NULL, -1 }, count, offset);
}

int
image_copy_from (struct addcow *img, int fd, uint64_t count, uint64_t offset)
{
  return write_common (img, (struct wsrc) { NULL, fd }, count, offset);
}

int
image_write_unmarked (struct addcow *img, const void *buf, size_t count,
                      uint64_t offset)
{
  return write_run (img, (struct wsrc) { buf, -1 }, count, offset);
}

void
image_mark_allocated (struct addcow *img, uint64_t count, uint64_t offset)
{
  bitmap_set_range (&img->bm, offset >> img->cluster_bits,
                    ((offset + count - 1) >> img->cluster_bits)
                    - (offset >> img->cluster_bits) + 1);
}

int
image_write_bitmap_blocks (struct addcow *img)
{
  uint64_t b;
  int r;

  for (b = 0; b < img->bm.nblocks; b++) {
    uint64_t off = b * BITMAP_BLOCK;
    if (!img->bm.dirty[b])
      continue;
    r = io_write (&img->io, img->meta.fd, img->bm.bytes + off,
                  (size_t) min_u64 (BITMAP_BLOCK, img->bm.nbytes - off),
                  img->hdr.header_size + off);
    if (r < 0)
      return set_error (-r, "%s: could not write the bitmap: %s",
                        img->filename, strerror (-r));
    img->bm.dirty[b] = 0;
  }
  img->bm.any_dirty = false;
  return 0;
}

int
image_sync_bitmap (struct addcow *img)
{
  int r;

  if ((r = image_write_bitmap_blocks (img)) < 0)
    return r;
  if ((r = io_datasync (&img->io, img->meta.fd)) < 0) {
    /* Whether the blocks reached the disk is unknown: write them all
     * again at the next flush rather than report it clean. */
    memset (img->bm.dirty, 1, img->bm.nblocks);
    img->bm.any_dirty = img->bm.nblocks > 0;
    return set_error (-r, "%s: could not sync the bitmap: %s",
                      img->filename, strerror (-r));
  }
  return 0;
}

/* After a failed data sync the kernel may have dropped the unsynced pages
 * and reported it once: a second sync can succeed over lost data.  So the
 * bits set since the last good sync must never reach the disk: reload the
 * dirty bitmap blocks from the add-cow file (the clusters read what they
 * read before); if even that fails, the handle stops writing. */
static void
forget_unsynced_bits (struct addcow *img)
{
  uint64_t b;

  for (b = 0; b < img->bm.nblocks; b++) {
    uint64_t off = b * BITMAP_BLOCK;
    if (!img->bm.dirty[b])
      continue;
    if (io_read (&img->io, img->meta.fd, img->bm.bytes + off,
                 (size_t) min_u64 (BITMAP_BLOCK, img->bm.nbytes - off),
                 img->hdr.header_size + off) < 0)
      img->write_failed = true;
    img->bm.dirty[b] = 0;
  }
  img->bm.any_dirty = false;
}

int
image_flush (struct addcow *img)
{
  int r;

  if (!img->writable)
    return 0;
  if ((r = io_datasync (&img->io, img->image.fd)) < 0) {
    atomic_fetch_add (&img->sync_failures, 1);  /* see handle.c */
    if (img->bm.bytes && img->bm.any_dirty)
      forget_unsynced_bits (img);
    return set_error (-r, "%s: could not sync image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  }
  if (!img->bm.any_dirty)
    return 0;
  return image_sync_bitmap (img);
}
