/*
 * status.c - which layer answers for a range: allocation and block status.
 *
 * image_block_status follows qemu-img map's walk exactly: a run allocated
 * in a layer is that layer's data; an unallocated run falls through to the
 * backing file unless there is none or the run starts at or past its end
 * (then it reads as zeros at this depth, "present": false); a raw backing
 * reports its own data and holes (SEEK_DATA / SEEK_HOLE, through
 * raw_source, the same walk the bulk copies use).
 */
#include <errno.h>

#include "checked.h"
#include "internal.h"

int
image_is_allocated (struct addcow *img, uint64_t offset,
                     uint64_t max_length, uint64_t *length)
{
  uint64_t n, next, end;
  bool bit;

  if (offset >= img->virtual_size)
    return set_error (EINVAL, "%s: offset %llu is past the end of the disk",
                      img->filename, (unsigned long long) offset);
  max_length = min_u64 (max_length, img->virtual_size - offset);
  if (img->all_allocated) {
    *length = max_length;
    return 1;
  }
  n = offset >> img->cluster_bits;
  bit = bitmap_get (&img->bm, n);
  next = bitmap_find (&img->bm, n + 1, !bit);
  /* next <= nb_clusters, so next << bits <= virtual_size + cluster_size. */
  end = min_u64 (next << img->cluster_bits, img->virtual_size);
  *length = min_u64 (end - offset, max_length);
  return bit;
}

static void
set_extent (struct addcow_extent *ext, uint64_t start, uint64_t length,
            uint32_t depth, uint32_t flags, const char *filename)
{
  ext->start = start;
  ext->length = length;
  ext->depth = depth;
  ext->flags = flags;
  ext->offset = (flags & ADDCOW_EXTENT_OFFSET_VALID) ? start : 0;
  ext->filename = filename;
}

int
image_block_status (struct addcow *img, uint64_t offset,
                     uint64_t max_length, struct addcow_extent *ext)
{
  uint32_t depth = 0;
  uint64_t len;
  struct source s;
  int r;

  if (max_length == 0)
    return set_error (EINVAL, "%s: block status of an empty range",
                      img->filename);
  for (;;) {
    if ((r = image_is_allocated (img, offset, max_length, &len)) < 0)
      return r;
    if (r) {
      set_extent (ext, offset, len, depth, ADDCOW_EXTENT_PRESENT
                  | ADDCOW_EXTENT_DATA | ADDCOW_EXTENT_OFFSET_VALID,
                  img->image.path);
      return 0;
    }
    if (img->backing_error)
      return set_error (EIO, "%s", img->backing_error);
    if (img->backing_kind == BACKING_NONE || offset >= img->backing_size) {
      set_extent (ext, offset, len, depth, ADDCOW_EXTENT_ZERO, NULL);
      return 0;
    }
    max_length = min_u64 (len, img->backing_size - offset);
    depth++;
    if (img->backing_kind == BACKING_RAW) {
      raw_source_hinted (&img->backing_raw, img->backing_size, offset,
                         max_length, &s);
      set_extent (ext, offset, s.len, depth, ADDCOW_EXTENT_PRESENT
                  | ADDCOW_EXTENT_OFFSET_VALID
                  | (s.fd >= 0 ? ADDCOW_EXTENT_DATA : ADDCOW_EXTENT_ZERO),
                  img->backing_raw.path);
      return 0;
    }
    img = img->backing_img;
  }
}
