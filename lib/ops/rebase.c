/*
 * rebase.c - addcow_rebase: give an image another backing file without
 * changing its disk (safe), only rename it in the header (unsafe), or
 * remove it after copying everything in (flatten).
 *
 * Safe: the new backing file is opened and checked (exists, is a regular
 * file or block device, is readable, has a format we read, is not part of
 * the image) before anything is copied.  Then, for every run the image
 * does not hold, the old chain and the new backing file are compared a
 * whole cluster at a time; runs that read as zeros on both sides (holes,
 * past an end, nothing allocated) are skipped without being read.  Where a
 * cluster differs, the old contents are written into the image file and
 * its bit is set in memory.
 *
 * Flatten: every run the image does not hold is copied from the chain into
 * the image file (copy_file_range from the layer that holds it; a run that
 * reads as zeros is written only where the image file is not a hole
 * already, since unallocated clusters may hold stale bytes), and its bits
 * are set in memory.
 *
 * Ordering (spec 7): after every COPY_BATCH_BYTES of data, and at the end,
 * image_flush: fdatasync the image file, then write the dirty bitmap
 * blocks, then fdatasync the add-cow file.  Only then is the header
 * replaced, atomically (image_rewrite_header): with the new backing name,
 * or, for flatten, with no backing and ALL_ALLOCATED, over a bitmap that is
 * all ones.  Setting a bit to the contents it already shows keeps the disk
 * the same at every moment, so a crash, error or cancellation anywhere
 * leaves a valid image with the same disk, and running the same rebase
 * again skips what is already allocated and finishes.  On an error, bits
 * not yet flushed are dropped; on a cancellation they are flushed first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

#define CMP_BUF (UINT64_C (4) << 20)   /* per side; a multiple of clusters */

struct rebase {
  const char *path;
  const struct addcow_rebase_opts *opts;
  struct addcow *top;
  char *new_path;               /* the new backing file, resolved */
  const char *new_fmt;
  struct layer *new_layer;      /* the new backing chain (any format) */
  uint64_t new_size;
  uint8_t *old_buf, *new_buf;
  struct copier *copier;        /* flatten's copies into the image file */
  uint64_t batch_bytes, batch_data;
  struct progress prog;
};

static bool
is_flatten (const struct addcow_rebase_opts *opts)
{
  return !opts->backing_name || !opts->backing_name[0];
}

/* ---- the new backing file ---------------------------------------------- */

/* The name and format to store; the name must differ from the image's. */
static int
new_name_and_format (struct rebase *rb)
{
  const char *name = rb->opts->backing_name;

  if (strcmp (name, rb->top->hdr.image_name) == 0)
    return set_error (EINVAL, "%s: image file and backing file have the "
                      "same name '%s'", rb->path, name);
  rb->new_path = path_resolve (rb->path, name);
  if (!rb->new_path)
    return set_error (ENOMEM, "%s: out of memory", rb->path);
  rb->new_fmt = rb->opts->backing_format ? rb->opts->backing_format
                                         : backing_probe (rb->new_path);
  return backing_format_check (rb->path, rb->new_fmt);
}

/* Refuse a new backing file that is this image's own file. */
static int
not_the_image (struct rebase *rb, const struct acfile *f)
{
  if (file_same (f, &rb->top->image) || file_same (f, &rb->top->meta))
    return set_error (EINVAL, "%s: backing file '%s' is the image itself",
                      rb->path, f->path);
  return 0;
}

/* Open and lock the new backing chain (read-only, through its format's
 * driver), before any data moves. */
static int
open_new_backing (struct rebase *rb)
{
  struct chain_seen seen = { .n = 0 };
  struct layer_open ctx = { .seen = &seen, .io = &rb->top->io,
                            .owner = rb->path,
                            .image_file = &rb->top->image };
  struct acfile f = { .fd = -1 };
  int r;

  if ((r = new_name_and_format (rb)) < 0
      || (r = file_open (&f, rb->new_path, false, rb->path,
                         "backing file")) < 0
      || (r = not_the_image (rb, &f)) < 0) {
    file_close (&f);
    return r;
  }
  file_close (&f);
  if ((r = chain_seen_add (&seen, &rb->top->meta, rb->path)) < 0
      || (r = chain_seen_add (&seen, &rb->top->image, rb->path)) < 0)
    return r;
  /* As a chain of its own (depth 0), so that one too deep for the top
   * is refused by name, as create -b refuses it. */
  if ((r = layer_open_format (rb->new_fmt, rb->new_path, 0, &ctx,
                              &rb->new_layer)) < 0
      || (r = chain_depth_check (rb->path, rb->new_layer,
                                 rb->opts->backing_name)) < 0)
    return r;
  rb->new_size = rb->new_layer->size;
  return 0;
}

static int
new_source (struct rebase *rb, uint64_t offset, uint64_t max,
            struct source *s)
{
  return layer_source (rb->new_layer, offset, max, s);
}

/* Read the new backing file's view of [offset, offset+len). */
static int
new_read (struct rebase *rb, uint8_t *buf, uint64_t len, uint64_t offset)
{
  uint64_t in = offset < rb->new_size ? min_u64 (len, rb->new_size - offset)
                                      : 0;
  int r = 0;

  if (in)
    r = chain_read (rb->new_layer, buf, (size_t) in, offset);
  memset (buf + in, 0, len - in);
  return r;
}

/* ---- setting bits over data in the image file --------------------------- */

static int
copy_failed (struct rebase *rb, int r)
{
  return set_error (-r, "%s: could not copy into image file '%s': %s",
                    rb->path, rb->top->image.path, strerror (-r));
}

/* The copies queued so far finish before the sync that vouches for them. */
static int
flush_batch (struct rebase *rb)
{
  int r = rb->copier ? copier_wait (rb->copier, NULL) : 0;

  if (r < 0)
    return copy_failed (rb, r);
  r = image_flush (rb->top);
  rb->batch_data = 0;
  return r;
}

/* The image file now holds [offset, offset+len) as the disk shows it. */
static int
allocated (struct rebase *rb, uint64_t offset, uint64_t len)
{
  struct addcow *top = rb->top;
  uint64_t first = offset >> top->cluster_bits;

  bitmap_set_range (&top->bm, first,
                    div_round_up (offset + len, top->cluster_size) - first);
  rb->batch_data += len;
  if (rb->batch_data >= rb->batch_bytes)
    return flush_batch (rb);
  return 0;
}

static bool
all_zero (const uint8_t *p, uint64_t len)
{
  return len == 0 || (p[0] == 0 && memcmp (p, p + 1, len - 1) == 0);
}

/* Write the old contents BUF of [offset, offset+len) into the image file. */
static int
store_old (struct rebase *rb, const uint8_t *buf, uint64_t len,
           uint64_t offset)
{
  struct addcow *top = rb->top;
  int r = all_zero (buf, len)
    ? io_write_zeroes (&top->io, top->image.fd, len, offset)
    : io_write (&top->io, top->image.fd, buf, (size_t) len, offset);

  if (r < 0)
    return set_error (-r, "%s: could not write image file '%s': %s",
                      rb->path, top->image.path, strerror (-r));
  return allocated (rb, offset, len);
}

/* Compare [offset, offset+len) cluster by cluster; keep what differs. */
static int
compare_chunk (struct rebase *rb, uint64_t offset, uint64_t len)
{
  uint64_t c, csize = rb->top->cluster_size, diff = 0, diff_len = 0;
  int r;

  if ((r = backing_read (rb->top, rb->old_buf, (size_t) len, offset)) < 0
      || (r = new_read (rb, rb->new_buf, len, offset)) < 0)
    return r;
  for (c = 0; c < len; c += csize) {
    uint64_t n = min_u64 (csize, len - c);
    if (memcmp (rb->old_buf + c, rb->new_buf + c, n) != 0) {
      if (diff_len == 0)
        diff = c;
      diff_len += n;
      continue;
    }
    if (diff_len && (r = store_old (rb, rb->old_buf + diff, diff_len,
                                    offset + diff)) < 0)
      return r;
    diff_len = 0;
  }
  if (diff_len)
    return store_old (rb, rb->old_buf + diff, diff_len, offset + diff);
  return 0;
}

/* One step over the unallocated run [pos, end): skip whole clusters that
 * read as zeros on both sides, else compare up to CMP_BUF.  *STEP gets the
 * bytes dealt with. */
static int
compare_step (struct rebase *rb, uint64_t pos, uint64_t end, uint64_t *step)
{
  uint64_t csize = rb->top->cluster_size, n;
  struct source o, w;
  int r;

  if ((r = chain_source (rb->top, pos, end - pos, &o)) < 0
      || (r = new_source (rb, pos, end - pos, &w)) < 0)
    return r;
  n = min_u64 (o.len, w.len);
  if (source_is_zero (&o) && source_is_zero (&w)) {
    *step = pos + n >= end ? end - pos : n & ~(csize - 1);
    if (*step)
      return 0;
  }
  if (!round_up_pow2 (n, csize, &n))
    n = end - pos;
  *step = min_u64 (min_u64 (n, CMP_BUF), end - pos);
  return compare_chunk (rb, pos, *step);
}

/* ---- walking the runs the image does not hold -------------------------- */

typedef int (*run_fn) (struct rebase *rb, uint64_t pos, uint64_t end,
                       uint64_t *step);

static int
unallocated_bytes (struct addcow *top, uint64_t *total)
{
  uint64_t pos, len;
  int r;

  *total = 0;
  for (pos = 0; pos < top->virtual_size; pos += len) {
    if ((r = image_is_allocated (top, pos, top->virtual_size - pos,
                                  &len)) < 0)
      return r;
    if (r == 0)
      *total += len;
  }
  return 0;
}

/* Call STEP over every unallocated run, with progress and cancellation;
 * flush at the end (and on cancellation). */
static int
walk_unallocated (struct rebase *rb, run_fn step)
{
  struct addcow *top = rb->top;
  uint64_t pos = 0, len, total, done;
  int r;

  if ((r = unallocated_bytes (top, &total)) < 0)
    return r;
  progress_start (&rb->prog, rb->opts->progress, rb->opts->progress_opaque,
                  total);
  if ((r = progress_add (&rb->prog, 0, rb->path)) < 0)
    return r;
  for (; pos < top->virtual_size; pos += len) {
    if ((r = image_is_allocated (top, pos, top->virtual_size - pos,
                                  &len)) < 0)
      return r;
    if (r)
      continue;
    if ((r = step (rb, pos, pos + len, &done)) < 0)
      return r;
    len = done;
    if ((r = progress_add (&rb->prog, done, rb->path)) < 0) {
      int e = flush_batch (rb);
      return e < 0 ? e : r;
    }
  }
  return flush_batch (rb);
}

/* Flatten one chunk of an unallocated run: copy the chain's contents in. */
static int
flatten_step (struct rebase *rb, uint64_t pos, uint64_t end, uint64_t *step)
{
  struct addcow *top = rb->top;
  uint64_t off, chunk = min_u64 (COPY_CHUNK_BYTES, rb->batch_bytes);
  struct source s;
  int r;

  /* Whole clusters (or up to the end), at most one batch at a time. */
  chunk = div_round_up (chunk, top->cluster_size) * top->cluster_size;
  *step = min_u64 (end - pos, chunk);
  for (off = pos; off < pos + *step; off += s.len) {
    if ((r = chain_source (top, off, pos + *step - off, &s)) < 0)
      return r;
    /* A source run is all data already: no second look for holes. */
    r = copy_source (rb->copier, &s, top->image.fd, top->virtual_size, off);
    if (r < 0)
      return copy_failed (rb, r);
  }
  return allocated (rb, pos, *step);
}

/* ---- the three modes ----------------------------------------------------- */

static int
open_top (struct rebase *rb, unsigned flags)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;

  oo.flags = ADDCOW_OPEN_WRITE | flags;
  oo.io = rb->opts->io;
  return addcow_open (rb->path, &oo, &rb->top);
}

static int
rebase_unsafe (struct rebase *rb)
{
  struct acfile f = { .fd = -1 };
  int r;

  if ((r = open_top (rb, ADDCOW_OPEN_TOLERATE_BACKING)) < 0)
    return r;
  if (is_flatten (rb->opts))
    return image_rewrite_header (rb->top, NULL, NULL, 0);
  if ((r = new_name_and_format (rb)) < 0)
    return r;
  if (file_open (&f, rb->new_path, false, rb->path, "backing file") == 0)
    r = not_the_image (rb, &f);
  file_close (&f);
  if (r < 0)
    return r;
  return image_rewrite_header (rb->top, rb->opts->backing_name, rb->new_fmt,
                               0);
}

static int
rebase_flatten (struct rebase *rb)
{
  struct addcow *top;
  int r;

  if ((r = open_top (rb, 0)) < 0)
    return r;
  top = rb->top;
  if (top->all_allocated && !top->hdr.backing_name
      && !top->hdr.padding_dirty)
    return 0;                   /* nothing to copy, drop or mend */
  if (!top->all_allocated) {
    if (copier_new (&top->io, &rb->copier) < 0)
      return set_error (ENOMEM, "%s: out of memory", rb->path);
    if ((r = walk_unallocated (rb, flatten_step)) < 0)
      return r;
    if (bitmap_count (&top->bm) != top->nb_clusters)
      return set_error (EIO, "%s: clusters are still unallocated after the "
                        "copy", rb->path);
  }
  return image_rewrite_header (top, NULL, NULL, ADDCOW_COMPAT_ALL_ALLOCATED);
}

static int
rebase_safe (struct rebase *rb)
{
  int r;

  if ((r = open_top (rb, 0)) < 0 || (r = open_new_backing (rb)) < 0
      || (r = image_header_fits (rb->top, rb->opts->backing_name,
                                 rb->new_fmt)) < 0)
    return r;
  rb->old_buf = malloc (CMP_BUF);
  rb->new_buf = malloc (CMP_BUF);
  if (!rb->old_buf || !rb->new_buf)
    return set_error (ENOMEM, "%s: out of memory", rb->path);
  if (!rb->top->all_allocated
      && (r = walk_unallocated (rb, compare_step)) < 0)
    return r;
  return image_rewrite_header (rb->top, rb->opts->backing_name, rb->new_fmt,
                               0);
}

int
rebase_run (const char *path, const struct addcow_rebase_opts *opts,
            uint64_t batch_bytes)
{
  struct rebase rb = { .path = path, .opts = opts, .batch_bytes = batch_bytes };
  int r, e;

  if (!path || !opts || opts->version != ADDCOW_REBASE_OPTS_VERSION)
    return set_error (EINVAL, "addcow_rebase: bad arguments");
  if (opts->backing_format && !is_flatten (opts)
      && (r = backing_format_check (path, opts->backing_format)) < 0)
    return r;
  if (opts->unsafe)
    r = rebase_unsafe (&rb);
  else if (is_flatten (opts))
    r = rebase_flatten (&rb);
  else
    r = rebase_safe (&rb);
  copier_free (rb.copier);      /* waits for what is in flight */
  if (r < 0 && r != -ECANCELED && rb.top && rb.top->bm.bytes)
    bitmap_clear_dirty (&rb.top->bm);   /* never flush unsynced bits */
  layer_close_chain (rb.new_layer);
  if ((e = addcow_close (rb.top)) < 0 && r == 0)
    r = e;
  free (rb.old_buf);
  free (rb.new_buf);
  free (rb.new_path);
  return r;
}

int
addcow_rebase (const char *path, const struct addcow_rebase_opts *opts)
{
  return rebase_run (path, opts, COPY_BATCH_BYTES);
}
