/*
 * write.c - writing the virtual disk and flushing (spec section 7).
 *
 * Copy-on-write at cluster granularity: the part of an unallocated cluster
 * that a write does not cover is first filled with the cluster's current
 * contents (from the backing chain, or zeros).  New bits go to the bitmap in
 * memory and are marked dirty; addcow_flush syncs the image file first and
 * only then writes the dirty bitmap blocks and syncs the add-cow file, so a
 * bit never reaches the disk before the data it vouches for.
 */
#include <errno.h>
#include <string.h>

#include "checked.h"
#include "internal.h"

/* Write BUF (NULL: zeros) to the image file at OFFSET. */
static int
write_run (struct addcow *img, const uint8_t *buf, uint64_t len,
           uint64_t offset)
{
  int r = buf ? io_write (&img->io, img->image.fd, buf, (size_t) len, offset)
              : io_write_zeroes (&img->io, img->image.fd, len, offset);

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

/* Write part of an unallocated cluster: fill the rest from below. */
static int
cow_cluster (struct addcow *img, const uint8_t *buf, uint64_t len,
             uint64_t offset)
{
  uint64_t cstart, cend;
  int r;

  cluster_bounds (img, offset, &cstart, &cend);
  if ((r = backing_read (img, img->cluster_buf, cend - cstart, cstart)) < 0)
    return r;
  if (buf)
    memcpy (img->cluster_buf + (offset - cstart), buf, len);
  else
    memset (img->cluster_buf + (offset - cstart), 0, len);
  return write_run (img, img->cluster_buf, cend - cstart, cstart);
}

/* Write a run of unallocated clusters, then set their bits in memory. */
static int
write_unallocated (struct addcow *img, const uint8_t *buf, uint64_t len,
                   uint64_t offset)
{
  uint64_t end = offset + len, pos = offset, cstart, cend, full_end;
  int r;

  while (pos < end) {
    const uint8_t *src = buf ? buf + (pos - offset) : NULL;
    cluster_bounds (img, pos, &cstart, &cend);
    if (pos == cstart && end >= cend) {  /* whole clusters: one write */
      full_end = end == img->virtual_size
        ? end : end & ~((uint64_t) img->cluster_size - 1);
      r = write_run (img, src, full_end - pos, pos);
      pos = full_end;
    }
    else {
      uint64_t piece = min_u64 (end, cend) - pos;
      r = cow_cluster (img, src, piece, pos);
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
write_common (struct addcow *img, const uint8_t *buf, uint64_t count,
              uint64_t offset)
{
  uint64_t len;
  int r;

  if (!img->writable)
    return set_error (EROFS, "%s: image is opened read-only", img->filename);
  if ((r = image_check_range (img, count, offset)) < 0)
    return r;
  while (count > 0) {
    if ((r = addcow_is_allocated (img, offset, count, &len)) < 0)
      return r;
    if (r)
      r = write_run (img, buf, len, offset);
    else if (!buf && reads_as_zeros (img, offset))
      r = 0;
    else
      r = write_unallocated (img, buf, len, offset);
    if (r < 0)
      return r;
    if (buf)
      buf += len;
    offset += len;
    count -= len;
  }
  return 0;
}

int
addcow_pwrite (struct addcow *img, const void *buf, size_t count,
               uint64_t offset)
{
  if (!buf && count)
    return set_error (EINVAL, "%s: NULL buffer", img->filename);
  return write_common (img, buf, count, offset);
}

int
addcow_pwrite_zeroes (struct addcow *img, uint64_t count, uint64_t offset)
{
  return write_common (img, NULL, count, offset);
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
addcow_flush (struct addcow *img)
{
  int r;

  if (!img->writable)
    return 0;
  if ((r = io_datasync (&img->io, img->image.fd)) < 0)
    return set_error (-r, "%s: could not sync image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  if (!img->bm.any_dirty)
    return 0;
  if ((r = image_write_bitmap_blocks (img)) < 0)
    return r;
  if ((r = io_datasync (&img->io, img->meta.fd)) < 0)
    return set_error (-r, "%s: could not sync the bitmap: %s",
                      img->filename, strerror (-r));
  return 0;
}
