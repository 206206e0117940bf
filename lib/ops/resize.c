/*
 * resize.c - addcow_resize: change the virtual size of an image (spec 8).
 *
 * Growing is image_grow's (grow.c): the new area reads as zeros even where
 * the backing file is longer.  Preallocation then reserves the image
 * file's new bytes (falloc) or writes them (full); both leave them zeros,
 * so the disk does not change and a crash there is harmless.
 *
 * Shrinking, each step durable before the next one starts:
 *   1. pending bits go out (image_flush: data, then bitmap);
 *   2. the image file is cut to the new size and fdatasync'd - this one
 *      size change is the switch from the old disk to the new one.  The
 *      bits below the new end are untouched, so the clusters that remain
 *      read what they read before; the bits past it are now ignored (spec
 *      4: past nb_clusters) - leaks only;
 *   3. the add-cow file loses those bits: cut to the new bitmap's last
 *      byte, the stray bits in that byte cleared, then padded with zeros
 *      to a whole cluster again, and fdatasync'd.
 * A crash before step 2 is durable leaves the old disk; after it, the new
 * disk with at worst leaks (bits past the end, a short padding) that
 * check reports and "check -r leaks" (or a later grow) clears.
 *
 * The image is opened read-write, which takes its locks: a disk another
 * process uses is refused before anything is read.  Every limit (the
 * in-memory bitmap, the file size) is checked before anything is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

#define ZERO_CHUNK (UINT64_C (1) << 20) /* zeros written at a time (full) */

static int
check_request (const struct addcow *img, const struct addcow_resize_opts *o)
{
  uint64_t size = o->size;

  if (size % 512)
    return set_error (EINVAL, "%s: the new size %llu is not a multiple of "
                      "512", img->filename, (unsigned long long) size);
  if (size > INT64_MAX)
    return set_error (EFBIG, "%s: cannot grow the disk to %llu bytes: too "
                      "large for a file", img->filename,
                      (unsigned long long) size);
  if (size < img->virtual_size && !o->shrink)
    return set_error (EINVAL, "%s: shrinking the disk from %llu to %llu "
                      "bytes deletes the data past its new end; it is done "
                      "only when asked for (shrink)", img->filename,
                      (unsigned long long) img->virtual_size,
                      (unsigned long long) size);
  if (size < img->virtual_size && o->prealloc != ADDCOW_PREALLOC_OFF)
    return set_error (EINVAL, "%s: preallocation can only be used for "
                      "growing images", img->filename);
  if (o->prealloc != ADDCOW_PREALLOC_OFF
      && o->prealloc != ADDCOW_PREALLOC_FALLOC
      && o->prealloc != ADDCOW_PREALLOC_FULL)
    return set_error (EINVAL, "%s: unknown preallocation mode %d",
                      img->filename, (int) o->prealloc);
  return 0;
}

/* ---- growing -------------------------------------------------------------- */

/* Reserve or write [from, to) of the image file, which reads zeros. */
static int
preallocate (struct addcow *img, enum addcow_prealloc mode, uint64_t from,
             uint64_t to)
{
  uint8_t *zeros = NULL;
  uint64_t pos, n;
  int r = 0;

  if (mode == ADDCOW_PREALLOC_FALLOC)
    /* Space only: the bytes stay zeros, so this is not part of the I/O
     * table (as create's preallocation). */
    r = -posix_fallocate (img->image.fd, (off_t) from, (off_t) (to - from));
  else {
    if (!(zeros = calloc (1, ZERO_CHUNK)))
      return set_error (ENOMEM, "%s: out of memory", img->filename);
    for (pos = from; pos < to && r == 0; pos += n) {
      n = min_u64 (to - pos, ZERO_CHUNK);
      r = io_write (&img->io, img->image.fd, zeros, (size_t) n, pos);
    }
    free (zeros);
  }
  if (r == 0)
    r = io_datasync (&img->io, img->image.fd);
  if (r < 0)
    return set_error (-r, "%s: could not preallocate image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  return 0;
}

static int
grow (struct addcow *img, const struct addcow_resize_opts *o)
{
  uint64_t old = img->virtual_size;
  int r = image_grow (img, o->size);

  if (r < 0 || o->prealloc == ADDCOW_PREALLOC_OFF)
    return r;
  return preallocate (img, o->prealloc, old, o->size);
}

/* ---- shrinking ------------------------------------------------------------ */

/* The bitmap of the first NB clusters, to swap in once they are all the
 * disk has (allocated before anything is written). */
static int
smaller_bitmap (struct addcow *img, uint64_t nb, struct bitmap *bm)
{
  int r;

  memset (bm, 0, sizeof *bm);
  if (img->all_allocated)
    return 0;
  if ((r = bitmap_alloc (bm, nb)) < 0)
    return set_error (-r, "%s: out of memory for the bitmap of %llu "
                      "clusters", img->filename, (unsigned long long) nb);
  memcpy (bm->bytes, img->bm.bytes, bm->nbytes);
  bitmap_clear_stray_bits (bm);
  bitmap_clear_dirty (bm);              /* cut_bitmap writes that byte */
  return 0;
}

/* Step 2. */
static int
cut_image_file (struct addcow *img, uint64_t size)
{
  int r = io_truncate (&img->io, img->image.fd, size);

  if (r < 0)
    return set_error (-r, "%s: could not shrink image file '%s' to %llu "
                      "bytes: %s", img->filename, img->image.path,
                      (unsigned long long) size, strerror (-r));
  img->virtual_size = img->image.size = size;
  img->nb_clusters = div_round_up (size, img->cluster_size);
  if ((r = io_datasync (&img->io, img->image.fd)) < 0)
    return set_error (-r, "%s: could not sync image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  return 0;
}

/* Step 3, after the cut: the add-cow file holds the bits of NB clusters,
 * zero-padded to a whole cluster. */
static int
cut_bitmap (struct addcow *img, uint64_t nb)
{
  uint64_t end = img->hdr.header_size + div_round_up (nb, 8);
  uint64_t padded = img->hdr.header_size
    + div_round_up (div_round_up (nb, 8), img->cluster_size)
      * img->cluster_size;
  unsigned rem = (unsigned) (nb % 8);
  uint8_t byte;
  int r;

  if ((r = io_truncate (&img->io, img->meta.fd, end)) < 0)
    goto fail;
  img->meta.size = end;
  if (rem) {
    if ((r = io_read (&img->io, img->meta.fd, &byte, 1, end - 1)) < 0)
      goto fail;
    byte &= (uint8_t) ((1u << rem) - 1);
    if ((r = io_write (&img->io, img->meta.fd, &byte, 1, end - 1)) < 0)
      goto fail;
  }
  if ((r = io_truncate (&img->io, img->meta.fd, padded)) < 0)
    goto fail;
  img->meta.size = padded;
  if ((r = io_datasync (&img->io, img->meta.fd)) < 0)
    goto fail;
  img->bm_padding_dirty = 0;
  return 0;
 fail:
  img->bm_padding_dirty = 1;            /* unknown: cut it next time */
  return set_error (-r, "%s: could not clear the bitmap past the new end: "
                    "%s", img->filename, strerror (-r));
}

static int
shrink (struct addcow *img, uint64_t size)
{
  uint64_t nb = div_round_up (size, img->cluster_size);
  struct bitmap bm, old;
  int r;

  if ((r = smaller_bitmap (img, nb, &bm)) < 0)
    return r;
  if (img->bm.any_dirty && (r = image_flush (img)) < 0)
    goto out;
  if ((r = cut_image_file (img, size)) < 0)
    goto out;
  if (!img->all_allocated) {            /* the handle follows the disk */
    old = img->bm;
    img->bm = bm;
    bm = old;
  }
  r = cut_bitmap (img, nb);
 out:
  bitmap_free (&bm);
  return r;
}

/* The size asked for is the size the disk has: finish a shrink that was
 * cut off after step 2, if its leaks past the end are still there (so
 * that running the same resize again leaves a clean image). */
static int
finish_shrink (struct addcow *img)
{
  uint64_t nb = img->nb_clusters;
  uint64_t padded = img->hdr.header_size
    + div_round_up (div_round_up (nb, 8), img->cluster_size)
      * img->cluster_size;
  bool stray = !img->all_allocated && bitmap_stray_bits (&img->bm);

  if (img->meta.size == padded && !img->bm_padding_dirty && !stray)
    return 0;
  if (stray) {                          /* a fresh handle: nothing else */
    bitmap_clear_stray_bits (&img->bm); /* is dirty, and cut_bitmap */
    bitmap_clear_dirty (&img->bm);      /* writes this byte itself */
  }
  return cut_bitmap (img, nb);
}

/* ---- the call ------------------------------------------------------------- */

static int
resize_open (struct addcow *img, const struct addcow_resize_opts *o)
{
  int r;

  if (img->backing_error)
    return set_error (EIO, "%s (needed to resize the disk)",
                      img->backing_error);
  if ((r = check_request (img, o)) < 0)
    return r;
  if (o->size > img->virtual_size)
    return grow (img, o);
  if (o->size < img->virtual_size)
    return shrink (img, o->size);
  return finish_shrink (img);
}

int
addcow_resize (const char *path, const struct addcow_resize_opts *opts)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow_resize_opts o = ADDCOW_RESIZE_OPTS_INIT;
  struct addcow *img;
  char *msg = NULL;
  int r, e;

  if (!opts || opts->version < 1 || opts->version > ADDCOW_RESIZE_OPTS_VERSION)
    return set_error (EINVAL, "%s: addcow_resize needs options of version "
                      "%u", path, (unsigned) ADDCOW_RESIZE_OPTS_VERSION);
  o = *opts;
  oo.flags = ADDCOW_OPEN_WRITE;
  oo.io = o.io;
  if ((r = addcow_open (path, &oo, &img)) < 0)
    return r;
  r = resize_open (img, &o);
  if (r < 0)                            /* close must not replace it */
    msg = strdup (addcow_get_error ());
  e = addcow_close (img);
  if (r < 0) {
    set_error (-r, "%s", msg ? msg : "resize failed");
    free (msg);
    return r;
  }
  return e;
}
