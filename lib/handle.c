/*
 * handle.c - the public I/O entry points of a handle.
 *
 * Each call here is the API's door to the body of the same name in read.c,
 * write.c and status.c (image_*).  This is the one place where the
 * concurrency contract of a handle (addcow.h) is enforced, so the bodies
 * stay free of locking and the library calls them directly on layers it
 * already holds.
 */
#include "internal.h"

int
addcow_pread (struct addcow *img, void *buf, size_t count, uint64_t offset)
{
  return image_pread (img, buf, count, offset);
}

int
addcow_pwrite (struct addcow *img, const void *buf, size_t count,
               uint64_t offset)
{
  return image_pwrite (img, buf, count, offset);
}

int
addcow_pwrite_zeroes (struct addcow *img, uint64_t count, uint64_t offset)
{
  return image_pwrite_zeroes (img, count, offset);
}

int
addcow_flush (struct addcow *img)
{
  return image_flush (img);
}

int
addcow_block_status (struct addcow *img, uint64_t offset,
                     uint64_t max_length, struct addcow_extent *ext)
{
  return image_block_status (img, offset, max_length, ext);
}

int
addcow_is_allocated (struct addcow *img, uint64_t offset,
                     uint64_t max_length, uint64_t *length)
{
  return image_is_allocated (img, offset, max_length, length);
}
