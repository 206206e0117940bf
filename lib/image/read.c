/*
 * read.c - reading the virtual disk (spec section 5).
 *
 * Runs allocated in this layer come from the image file at the same
 * offset; the others from the backing chain (zeros past its end, or with no
 * backing at all): the chain walk of chain.c, for every format.
 */
#include <errno.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

int
image_check_range (struct addcow *img, uint64_t count, uint64_t offset)
{
  uint64_t end;

  if (!checked_add (offset, count, &end) || end > img->virtual_size)
    return set_error (EINVAL, "%s: request of %llu bytes at offset %llu "
                      "goes past the end of the disk (%llu bytes)",
                      img->filename, (unsigned long long) count,
                      (unsigned long long) offset,
                      (unsigned long long) img->virtual_size);
  return 0;
}

int
image_pread (struct addcow *img, void *buf, size_t count, uint64_t offset)
{
  int r;

  if ((r = image_check_range (img, count, offset)) < 0)
    return r;
  return chain_read (img->top, buf, count, offset);
}
