/*
 * read.c - reading the virtual disk (spec section 5).
 *
 * Runs allocated in this layer come from the image file at the same
 * offset; the others from the backing chain (zeros past its end, or with no
 * backing at all).
 */
#include <errno.h>
#include <string.h>

#include "checked.h"
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
  uint8_t *p = buf;
  uint64_t len;
  int r;

  if ((r = image_check_range (img, count, offset)) < 0)
    return r;
  while (count > 0) {
    if ((r = image_is_allocated (img, offset, count, &len)) < 0)
      return r;
    if (r) {
      r = io_read (&img->io, img->image.fd, p, (size_t) len, offset);
      if (r < 0)
        return set_error (-r, "%s: could not read image file '%s': %s",
                          img->filename, img->image.path, strerror (-r));
    }
    else if ((r = backing_read (img, p, (size_t) len, offset)) < 0)
      return r;
    p += len;
    offset += len;
    count -= (size_t) len;
  }
  return 0;
}
