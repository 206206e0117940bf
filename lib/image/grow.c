/*
 * grow.c - growing the virtual disk of an add-cow image (spec 8).
 *
 * The virtual size is the image file's size, so growing means a longer
 * image file, bits for the new clusters, and an add-cow file long enough
 * to hold them.  The new area [old size, new size) was never part of the
 * disk and must read as zeros, even where the backing file reaches into it:
 *   - a new cluster the backing file reaches is marked allocated: it then
 *     reads the image file's new bytes, which ftruncate makes zeros.  The
 *     other new clusters stay clear and read zeros past the backing's end;
 *   - the old last cluster, when the old size was not a multiple of the
 *     cluster size, gains bytes too.  If its bit is clear and the backing
 *     file reaches past the old end, those bytes would show the backing
 *     file: the cluster is allocated first (copy-on-write, spec 7: its old
 *     bytes, which come from the backing file, go to the image file);
 *   - ALL_ALLOCATED: every cluster reads the image file already.  The new
 *     bits are written as 1, so that "every bit is 1" stays true.
 *
 * Order, each step durable before the next one starts:
 *   1. copy-on-write of the old last cluster, if needed: write its bytes
 *      to the image file, fdatasync it, set its bit in memory;
 *   2. the add-cow file: cut what lies past the old bitmap when it may
 *      hold junk (an earlier interrupted grow), then extend it with zeros
 *      to the new bitmap's padded length;
 *   3. write the bitmap blocks that hold new bits (and the bit of step 1),
 *      fdatasync the add-cow file;
 *   4. ftruncate the image file to the new size, fdatasync it.
 * Why a crash anywhere is safe: until step 4 reaches the disk, the image
 * file has its old size, so the disk has its old size and contents: every
 * bit past the old last cluster is ignored, and the one bit that matters,
 * that of step 1, reaches the disk after its data.  Such a crash leaves at
 * worst leaks (a longer add-cow file, bits set past the last cluster),
 * which check reports and "check -r leaks" clears, and which growing again
 * overwrites.  Step 4 is a single size change; by then the whole new
 * bitmap is durable in a long enough add-cow file, so every new cluster
 * reads zeros.  Growing the image file first would instead expose a
 * truncated bitmap (a corruption) and backing data in the new area.
 *
 * A failure in steps 2-4 (before the image file grew) is rolled back, best
 * effort: the add-cow file gets its old length and bits back, and the
 * handle keeps its old size.  A failed sync after the image file grew
 * leaves the handle at the new size - the size the file now has - and
 * reports the error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

#define ONES_CHUNK 65536u       /* bytes of 0xff written at a time */

struct grow {
  struct addcow *img;
  uint64_t new_size;
  uint64_t old_nb, new_nb;      /* clusters before and after */
  uint64_t old_end;             /* end of the old bitmap's bytes */
  uint64_t old_file, new_file;  /* header + bitmap padded to a cluster */
  struct bitmap bm;             /* the other bitmap: the new one until it
                                 * is swapped in, then the old one */
};

/* Length of an add-cow file whose bitmap covers NB clusters. */
static uint64_t
padded_file (const struct addcow *img, uint64_t nb)
{
  uint64_t nbytes = div_round_up (nb, 8);

  return img->hdr.header_size
    + div_round_up (nbytes, img->cluster_size) * img->cluster_size;
}

static int
refuse (const struct addcow *img, uint64_t new_size)
{
  uint64_t nbytes;

  if (!img->writable)
    return set_error (EROFS, "%s: image is opened read-only", img->filename);
  if (img->write_failed)
    return set_error (EIO, "%s: an earlier failed sync left this handle's "
                      "bitmap uncertain; reopen the image to grow it",
                      img->filename);
  if (img->backing_error)
    return set_error (EIO, "%s (needed to grow the disk)",
                      img->backing_error);
  if (new_size < img->virtual_size)
    return set_error (EINVAL, "%s: cannot shrink the disk from %llu to %llu "
                      "bytes", img->filename,
                      (unsigned long long) img->virtual_size,
                      (unsigned long long) new_size);
  if (new_size > INT64_MAX)
    return set_error (EFBIG, "%s: cannot grow the disk to %llu bytes: too "
                      "large for a file", img->filename,
                      (unsigned long long) new_size);
  /* The limit create sets: an image that loads its bitmap (or names a
   * backing file, which needs one) must stay openable. */
  nbytes = div_round_up (div_round_up (new_size, img->cluster_size), 8);
  if ((!img->all_allocated || img->hdr.backing_name)
      && nbytes > ADDCOW_MAX_BITMAP_BYTES)
    return set_error (EFBIG, "%s: cannot grow the disk to %llu bytes: with "
                      "%u-byte clusters it needs a bitmap larger than this "
                      "implementation's %u MiB", img->filename,
                      (unsigned long long) new_size, img->cluster_size,
                      ADDCOW_MAX_BITMAP_BYTES >> 20);
  return 0;
}

/* The geometry before and after, and the new bitmap's memory (allocated
 * before anything is written, so that running out of it changes nothing). */
static int
plan (struct grow *g)
{
  struct addcow *img = g->img;
  int r;

  g->old_nb = img->nb_clusters;
  g->new_nb = div_round_up (g->new_size, img->cluster_size);
  g->old_end = img->hdr.header_size + div_round_up (g->old_nb, 8);
  g->old_file = padded_file (img, g->old_nb);
  g->new_file = padded_file (img, g->new_nb);
  if (img->all_allocated)
    return 0;
  if ((r = bitmap_alloc (&g->bm, g->new_nb)) < 0)
    return set_error (-r, "%s: out of memory for the bitmap of %llu "
                      "clusters", img->filename,
                      (unsigned long long) g->new_nb);
  return 0;
}

/* Step 1: allocate the old last cluster when it is cut short by the old
 * size, its bit is clear and the backing file reaches past the old end
 * (else its new bytes would show the backing file). */
static int
cow_last_cluster (struct grow *g)
{
  struct addcow *img = g->img;
  uint64_t start, len;
  int r;

  if (img->all_allocated || img->virtual_size % img->cluster_size == 0
      || img->backing_size <= img->virtual_size
      || bitmap_get (&img->bm, g->old_nb - 1))
    return 0;
  start = (g->old_nb - 1) << img->cluster_bits;
  len = img->virtual_size - start;
  if ((r = backing_read (img, img->cluster_buf, (size_t) len, start)) < 0)
    return r;
  if ((r = io_write (&img->io, img->image.fd, img->cluster_buf, (size_t) len,
                     start)) < 0)
    return set_error (-r, "%s: could not write image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  if ((r = io_datasync (&img->io, img->image.fd)) < 0)
    return set_error (-r, "%s: could not sync image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  bitmap_set_range (&img->bm, g->old_nb - 1, 1);
  return 0;
}

/* The new bitmap: the old bits (without the stray ones past the old last
 * cluster), and the new clusters the backing file reaches.  Dirty: what
 * was dirty, the blocks with new bits, and the block where the old bits
 * end (stray bits on disk there are overwritten). */
static void
fill_bitmap (struct grow *g)
{
  struct addcow *img = g->img;
  const struct bitmap *old = &img->bm;
  struct bitmap *nb = &g->bm;
  uint64_t reach = div_round_up (img->backing_size, img->cluster_size);
  unsigned rem = (unsigned) (g->old_nb % 8);

  memcpy (nb->bytes, old->bytes, old->nbytes);
  if (rem)
    nb->bytes[old->nbytes - 1] &= (uint8_t) ((1u << rem) - 1);
  memcpy (nb->dirty, old->dirty, old->nblocks);
  nb->any_dirty = old->any_dirty;
  if (g->new_nb == g->old_nb)   /* grown inside the last cluster */
    return;
  nb->dirty[g->old_nb / 8 / BITMAP_BLOCK] = 1;
  nb->any_dirty = true;
  if (reach > g->old_nb)
    bitmap_set_range (nb, g->old_nb, min_u64 (reach, g->new_nb) - g->old_nb);
}

static void
swap_bitmaps (struct grow *g)
{
  struct bitmap t = g->img->bm;

  g->img->bm = g->bm;
  g->bm = t;
}

static int
truncate_meta (struct addcow *img, uint64_t length)
{
  int r = io_truncate (&img->io, img->meta.fd, length);

  if (r < 0)
    return set_error (-r, "%s: could not resize the add-cow file to %llu "
                      "bytes: %s", img->filename, (unsigned long long) length,
                      strerror (-r));
  img->meta.size = length;
  return 0;
}

/* Step 2.  Whatever lies past the old bitmap is cut when it may not be
 * zeros (junk counted at open, a longer file, or an ALL_ALLOCATED image
 * whose padding was never looked at): the new bitmap's bytes that step 3
 * does not write must read as zeros. */
static int
resize_meta (struct grow *g)
{
  struct addcow *img = g->img;
  bool junk = img->all_allocated || img->bm_padding_dirty
              || img->meta.size > g->old_file;
  int r;

  if (junk && img->meta.size > g->old_end
      && (r = truncate_meta (img, g->old_end)) < 0)
    return r;
  if (img->meta.size < g->new_file
      && (r = truncate_meta (img, g->new_file)) < 0)
    return r;
  return 0;
}

/* Step 3 for ALL_ALLOCATED: bits [old_nb, new_nb) written as 1, the bits
 * below old_nb in the first byte kept as they are. */
static int
write_ones (struct grow *g)
{
  struct addcow *img = g->img;
  uint64_t pos = g->old_nb / 8, end = div_round_up (g->new_nb, 8), n;
  unsigned lo = (unsigned) (g->old_nb % 8), hi = (unsigned) (g->new_nb % 8);
  uint8_t *buf = malloc (ONES_CHUNK), first = 0;
  int r = 0;

  if (!buf)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  if (lo && (r = io_read (&img->io, img->meta.fd, &first, 1,
                          img->hdr.header_size + pos)) < 0) {
    free (buf);
    return set_error (-r, "%s: could not read the bitmap: %s",
                      img->filename, strerror (-r));
  }
  first = (uint8_t) ((first & ((1u << lo) - 1)) | (0xffu << lo));
  for (; pos < end && r == 0; pos += n) {
    n = min_u64 (end - pos, ONES_CHUNK);
    memset (buf, 0xff, n);
    if (pos == g->old_nb / 8)
      buf[0] = first;
    if (pos + n == end && hi)
      buf[n - 1] &= (uint8_t) ((1u << hi) - 1);
    r = io_write (&img->io, img->meta.fd, buf, (size_t) n,
                  img->hdr.header_size + pos);
  }
  free (buf);
  if (r < 0)
    return set_error (-r, "%s: could not write the bitmap: %s",
                      img->filename, strerror (-r));
  return 0;
}

/* Step 3. */
static int
write_bits (struct grow *g)
{
  struct addcow *img = g->img;
  int r;

  r = img->all_allocated ? write_ones (g) : image_write_bitmap_blocks (img);
  if (r < 0)
    return r;
  if ((r = io_datasync (&img->io, img->meta.fd)) < 0)
    return set_error (-r, "%s: could not sync the bitmap: %s",
                      img->filename, strerror (-r));
  return 0;
}

/* Clear the bits past the old last cluster in the byte where the old
 * bits end (the new bits step 3 wrote there). */
static int
clear_stray_on_disk (struct grow *g)
{
  struct addcow *img = g->img;
  uint64_t at = img->hdr.header_size + g->old_nb / 8;
  unsigned rem = (unsigned) (g->old_nb % 8);
  uint8_t byte;
  int r;

  if (rem == 0)
    return 0;
  if ((r = io_read (&img->io, img->meta.fd, &byte, 1, at)) < 0)
    return r;
  byte &= (uint8_t) ((1u << rem) - 1);
  return io_write (&img->io, img->meta.fd, &byte, 1, at);
}

/* After a failure in steps 2-4, before the image file grew: the add-cow
 * file as it was (the old bits, zero padding, the old length), best
 * effort - what fails here leaves only leaks.  io_* directly, not
 * truncate_meta: the first failure's message must stay. */
static void
rollback (struct grow *g)
{
  struct addcow *img = g->img;
  bool ok;

  if (!img->all_allocated)
    swap_bitmaps (g);
  ok = clear_stray_on_disk (g) == 0
       && io_truncate (&img->io, img->meta.fd, g->old_end) == 0;
  if (ok)
    img->meta.size = g->old_end;
  ok = ok && io_truncate (&img->io, img->meta.fd, g->old_file) == 0;
  if (ok)
    img->meta.size = g->old_file;
  ok = ok && io_datasync (&img->io, img->meta.fd) == 0;
  img->bm_padding_dirty = !ok;          /* unknown: cut it next time */
}

/* Step 4, first half: the image file grows; the handle follows. */
static int
grow_image_file (struct grow *g)
{
  struct addcow *img = g->img;
  int r = io_truncate (&img->io, img->image.fd, g->new_size);

  if (r < 0)
    return set_error (-r, "%s: could not grow image file '%s' to %llu "
                      "bytes: %s", img->filename, img->image.path,
                      (unsigned long long) g->new_size, strerror (-r));
  img->virtual_size = img->image.size = g->new_size;
  img->self.size = g->new_size;         /* the image as a layer: chain.c */
  img->nb_clusters = g->new_nb;
  img->bm_padding_dirty = 0;
  return 0;
}

/* Steps 2-4. */
static int
grow_files (struct grow *g)
{
  struct addcow *img = g->img;
  int r;

  if (!img->all_allocated) {
    fill_bitmap (g);
    swap_bitmaps (g);
  }
  if ((r = resize_meta (g)) < 0 || (r = write_bits (g)) < 0
      || (r = grow_image_file (g)) < 0) {
    rollback (g);
    return r;
  }
  if ((r = io_datasync (&img->io, img->image.fd)) < 0)
    return set_error (-r, "%s: could not sync image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  return 0;
}

int
image_grow (struct addcow *img, uint64_t new_size)
{
  struct grow g = { .img = img, .new_size = new_size };
  int r;

  if (new_size == img->virtual_size)
    return 0;
  if ((r = refuse (img, new_size)) < 0 || (r = plan (&g)) < 0)
    return r;
  /* Bits still in memory go out first, after their data, as always. */
  if ((!img->bm.any_dirty || (r = image_flush (img)) == 0)
      && (r = cow_last_cluster (&g)) == 0)
    r = grow_files (&g);
  bitmap_free (&g.bm);
  return r;
}
