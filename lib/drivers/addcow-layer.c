/*
 * addcow-layer.c - the add-cow driver: an open add-cow image as a layer.
 *
 * A cluster whose bit is set (every cluster, with ALL_ALLOCATED) is data
 * of this layer, kept verbatim in the image file at the same offset; its
 * holes are found by the chain walk (probe_holes; with a cached hint only
 * for a read-only handle, as a writable one writes the file): zeros, with
 * their offset in
 * the file when the image is ALL_ALLOCATED (the file is the disk, as a
 * raw file), else without one (a zero cluster, as qcow2 reports it).  A clear bit is "not here".
 * Every lookup scans the bitmap no further than the request
 * (bitmap_find_bounded), so its cost follows the request, not the disk.
 *
 * The layer is the image's own struct layer (img->self): the top image of
 * a handle and an add-cow backing file are the same thing, and the image's
 * backing chain is self.backing.
 */
#include <errno.h>
#include <string.h>

#include "util/checked.h"
#include "drivers/drivers.h"
#include "internal.h"

/* A read-only handle's bits never change, so each thread keeps the last
 * run of equal bits it found, naming the handle by its run_id (an address
 * can be reused by the next handle, an id cannot): a walk that asks again
 * inside it (map, over the many runs of a backing file under an empty
 * overlay) neither scans the same bits again nor takes a lock, as a hint
 * shared by the threads would (two mutex sections an entry were a tenth
 * of such a map). */
static _Thread_local struct {
  uint64_t run_id;              /* the handle's, or 0: nothing known */
  uint64_t start, end;          /* clusters [start, end) hold 'bit' ... */
  bool bit;
  bool end_is_change;           /* ... and cluster 'end' does not */
} last_run;

#define LOOK_AHEAD_BITS (UINT64_C (1) << 26)

/* The end of the run of clusters equal to cluster N, at most END; *BIT
 * their value.  A writable handle searches no further than END. */
static uint64_t
bit_run (struct addcow *img, uint64_t n, uint64_t end, bool *bit)
{
  uint64_t from = n + 1, next, far;

  if (img->writable) {         /* claimed writes set bits meanwhile */
    pthread_rwlock_rdlock (&img->bits_lock);
    *bit = bitmap_get (&img->bm, n);
    next = bitmap_find_bounded (&img->bm, n + 1, end, !*bit);
    pthread_rwlock_unlock (&img->bits_lock);
    return next;
  }
  if (last_run.run_id == img->run_id && n >= last_run.start
      && n < last_run.end) {
    *bit = last_run.bit;
    if (last_run.end >= end || last_run.end_is_change)
      return min_u64 (last_run.end, end);
    from = last_run.end;        /* known so far: search on from there */
  }
  else {
    *bit = bitmap_get (&img->bm, n);
    last_run.run_id = img->run_id;
    last_run.start = n;
  }
  /* A search for a set bit looks far ahead (8 MiB of bitmap), so that a
   * mapped bitmap's holes are skipped, not read, and few of its pages are
   * touched: map asks 1 GiB at a time, 256 Ki clusters of 4 KiB, and
   * reading an empty 8 TiB overlay's bitmap that way made all 256 MiB of
   * it resident.  The run found is kept for the next request. */
  far = end;
  if (!*bit && far - from < LOOK_AHEAD_BITS)
    far = min_u64 (img->bm.nbits, from + LOOK_AHEAD_BITS);
  next = bitmap_find_bounded (&img->bm, from, far, !*bit);
  last_run.end = next;
  last_run.bit = *bit;
  last_run.end_is_change = next < far;
  return min_u64 (next, end);
}

uint64_t
addcow_run (struct addcow *img, uint64_t offset, uint64_t max,
            bool *allocated)
{
  uint64_t n = offset >> img->cluster_bits, end, next;

  *allocated = true;
  if (img->all_allocated)
    return max;
  /* [n, end) are the clusters the request touches. */
  end = div_round_up (offset + max, img->cluster_size);
  next = bit_run (img, n, end, allocated);
  return min_u64 (max, (next << img->cluster_bits) - offset);
}

static int
cow_block_status (struct layer *l, uint64_t offset, uint64_t max,
                     struct layer_run *run)
{
  struct addcow *img = l->priv;
  bool bit;

  max = addcow_run (img, offset, max, &bit);
  run->len = max;
  run->fd = -1;
  run->file_offset = offset;
  run->filename = NULL;
  if (!bit) {
    if (img->backing_error)     /* a tolerated open: the backing is needed */
      return set_error (EIO, "%s", img->backing_error);
    run->kind = RUN_UNALLOCATED;
    return 0;
  }
  run->kind = RUN_DATA;
  run->fd = img->image.fd;
  run->filename = img->image.path;
  return 0;
}

static int
cow_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  struct addcow *img = l->priv;
  int r = io_read (&img->io, img->image.fd, buf, count, offset);

  if (r < 0)
    return set_error (-r, "%s: could not read image file '%s': %s",
                      img->filename, img->image.path, strerror (-r));
  return 0;
}

static int
addcow_layer_close (struct layer *l)
{
  struct addcow *img = l->priv;

  l->backing = NULL;            /* closed already by layer_close_chain */
  return addcow_close (img);
}

static uint64_t
addcow_layer_actual_size (struct layer *l)
{
  return addcow_get_actual_size (l->priv);
}

static const struct layer_ops addcow_ops = {
  .format = "add-cow",
  .block_status = cow_block_status,
  .read = cow_read,
  .close = addcow_layer_close,
  .actual_size = addcow_layer_actual_size,
};

struct addcow *
addcow_layer_image (const struct layer *l)
{
  return l && l->ops == &addcow_ops ? l->priv : NULL;
}

void
addcow_layer_init (struct addcow *img, unsigned depth)
{
  struct layer *l = &img->self;

  l->ops = &addcow_ops;
  l->priv = img;
  l->size = img->virtual_size;
  l->filename = img->filename;
  l->depth = depth;
  l->probe_holes = true;
  l->stable_file = img->writable ? NULL : &img->image;
  /* With ALL_ALLOCATED the image file is the disk: its holes map as a
   * raw file's (qemu-img map -f raw).  Under set bits, a hole is what a
   * zero write left: a zero cluster, as qcow2 reports it. */
  l->hole_offsets = img->all_allocated;
  l->cluster_size = img->cluster_size;
  l->backing_name = img->hdr.backing_name;
  l->backing_format = img->hdr.backing_name ? img->hdr.backing_fmt : NULL;
  l->dev = img->meta.dev;
  l->ino = img->meta.ino;
}

int
addcow_layer_open (const char *path, unsigned depth,
                   const struct layer_open *ctx, struct layer **out)
{
  struct addcow *img;
  int r;

  *out = NULL;
  if ((r = image_open_layer (path, depth, ctx, &img)) < 0)
    return r;
  *out = &img->self;
  return 0;
}
