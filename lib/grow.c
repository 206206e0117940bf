/*
 * grow.c - growing the virtual disk of an add-cow image (spec 8).
 * Placeholder: not implemented yet.
 */
#include <errno.h>

#include "internal.h"

int
image_grow (struct addcow *img, uint64_t new_size)
{
  (void) new_size;
  return set_error (ENOTSUP, "%s: add-cow images cannot grow yet",
                    img->filename);
}
