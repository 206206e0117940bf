/*
 * status.c - which layer answers for a range: allocation and block status.
 *
 * image_block_status is the chain walk (chain.c) put in the terms of
 * qemu-img map: a run some layer owns is "present" at that layer's depth,
 * data or zeros (a hole of a raw file, or of an add-cow image file under a
 * set bit, is zeros); a run nobody holds, or one past the end of a shorter
 * layer, reads as zeros, not present, at the depth of the last layer
 * whose status was asked.  An offset is valid whenever the run has a place
 * in a file.
 */
#include <errno.h>

#include "util/checked.h"
#include "drivers/drivers.h"
#include "internal.h"

int
image_is_allocated (struct addcow *img, uint64_t offset,
                    uint64_t max_length, uint64_t *length)
{
  struct layer_run run;
  bool bit;
  int r;

  if (offset >= img->virtual_size)
    return set_error (EINVAL, "%s: offset %llu is past the end of the disk",
                      img->filename, (unsigned long long) offset);
  max_length = min_u64 (max_length, img->virtual_size - offset);
  if (img->top == &img->self) {
    *length = addcow_run (img, offset, max_length, &bit);
    return bit;
  }
  if (max_length == 0)
    return set_error (EINVAL, "%s: allocation status of an empty range",
                      img->filename);
  if ((r = img->top->ops->block_status (img->top, offset, max_length,
                                        &run)) < 0)
    return r;
  *length = min_u64 (run.len, max_length);
  return run.kind != RUN_UNALLOCATED;
}

int
image_block_status (struct addcow *img, uint64_t offset,
                    uint64_t max_length, struct addcow_extent *ext)
{
  struct chain_run run;
  int r;

  if (max_length == 0)
    return set_error (EINVAL, "%s: block status of an empty range",
                      img->filename);
  if (offset >= img->virtual_size)
    return set_error (EINVAL, "%s: offset %llu is past the end of the disk",
                      img->filename, (unsigned long long) offset);
  if ((r = chain_resolve (img->top, offset, max_length, &run)) < 0)
    return r;
  ext->start = offset;
  ext->length = run.len;
  ext->depth = run.depth;
  ext->flags = (run.present ? ADDCOW_EXTENT_PRESENT : 0)
               | (run.kind == RUN_DATA ? ADDCOW_EXTENT_DATA
                                       : ADDCOW_EXTENT_ZERO)
               | (run.zero_data ? ADDCOW_EXTENT_DATA : 0)
               | (run.filename ? ADDCOW_EXTENT_OFFSET_VALID : 0);
  ext->offset = run.filename ? run.file_offset : 0;
  ext->filename = run.filename;
  return 0;
}
