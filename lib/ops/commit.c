/*
 * commit.c - addcow_commit: write the clusters an image holds into its
 * backing file (or into a deeper layer, BASE), then empty the image.
 *
 * What is copied: every run allocated in a layer above BASE, the top layer
 * winning, from that layer's image file to the same offset of BASE - a raw
 * BASE in place (copy_file_range, holes as holes), an add-cow BASE through
 * its own write path (its copy-on-write and bitmap rules).  A BASE shorter
 * than the image is grown to its size first, as qemu-img does: a raw one
 * by truncation, an add-cow one by image_grow (spec 8).
 *
 * Ordering (spec 7, in reverse for clearing): the work goes in batches of
 * COPY_BATCH_BYTES of data, in offset order.  For each batch:
 *   1. copy the batch's runs into BASE (into a raw BASE several at once:
 *      copier.c);
 *   2. make them durable in BASE (raw: fdatasync; add-cow: its flush, which
 *      syncs its data before its own bitmap);
 *   3. unless keeping: clear the batch's bits in memory, write the bitmap,
 *      fdatasync the add-cow file - a cleared bit now exposes BASE's copy,
 *      which is already durable;
 *   4. the batch's range of the image file (all of it unallocated now,
 *      its contents no longer matter) joins the range held back to be
 *      punched out; every PUNCH_EVERY_BATCHES batches, at the end and on a
 *      cancellation the held range is punched - queued, so that it runs
 *      while the next batch copies.  At the end that is the whole range
 *      not yet punched, to the end of the disk, even if this run copied
 *      nothing: what a crashed run had cleared but not punched is freed.
 * A bit is never cleared before its data is durable in BASE, so a crash,
 * an error or a cancellation at any point leaves the disk as it was, and
 * running commit again copies what is still allocated and finishes.  With
 * BASE given the image is kept (qemu-img's -b implies -d); the layers in
 * between stay read-only, and their own disks now see BASE's new data.
 *
 * On an error, bits set or cleared in memory but not yet durable are
 * dropped (never flushed at close after a failed sync).  On a
 * cancellation the current batch is finished first (steps 2-4; the punch
 * is queued and runs before the copier is freed).  After an error the
 * held range is not punched: it reads as unallocated either way, and the
 * next commit frees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/checked.h"
#include "drivers/drivers.h"
#include "internal.h"

/* Batches whose range is held back before one punch.  On ext4 mounted
 * with `discard`, with images like bench/commit-rebase.sh's (1 GiB in 4
 * batches, cold, 15 alternating rounds by hand), one punch at the end
 * beat one per batch: medians 2.79 against 2.92 s, means 2.78 against
 * 3.27 s, and no run over 3.6 s against five; punching each batch only
 * once the next one was copied gave 2.96 s.  In the bench itself commit
 * went from 1.13x to 1.00x its floor.  Holding 16 batches (4 GiB at
 * COPY_BATCH_BYTES) still frees the overlay's space as a long commit
 * goes, for a sparse base growing on a nearly full file system (qemu-img
 * frees it all at the end). */
#define PUNCH_EVERY_BATCHES 16

/* A run found ahead of the copy, so that the copy does not ask the
 * chain (and the files: SEEK_DATA/SEEK_HOLE) about it a second time. */
struct ahead_run {
  uint64_t offset;
  struct source s;
  bool owned;
};
#define AHEAD_RUNS 1024

struct commit {
  const char *path;
  struct addcow *top;
  unsigned depth;               /* BASE's depth below top: 1 = backing */
  struct layer *above;          /* the layer whose backing BASE is */
  struct layer *base;           /* BASE */
  struct addcow *base_img;      /* add-cow BASE, or NULL */
  struct acfile *base_raw;      /* raw BASE, or NULL */
  const char *base_name;        /* BASE's path, for messages */
  bool keep;
  struct copier *copier;        /* copies into a raw BASE, punches */
  uint64_t batch_bytes;
  uint64_t batch_start;         /* offset where the current batch began */
  uint64_t batch_data;          /* bytes copied in it */
  uint64_t punch_start;         /* the image file before it is punched */
  unsigned held_batches;        /* batches cleared since then */
  uint64_t ahead_pos;           /* runs before this offset were announced */
  uint64_t ahead_bytes;         /* ... and held this many bytes */
  int hint_fd;                  /* a read hint held back to be joined */
  uint64_t hint_offset, hint_len;       /* with the next (hint_range) */
  struct ahead_run ahead[AHEAD_RUNS]; /* runs read_ahead found, in order,
                                 * not yet copied (a ring) */
  unsigned ahead_head, ahead_count;
  int shared_fd[4];             /* image files probed by read_ahead ... */
  bool shared[4];               /* ... and whether copies from them into
                                 * BASE share extents */
  unsigned nshared;
  struct progress prog;
};

/* ---- finding BASE ------------------------------------------------------ */

static bool
same_file (const struct stat *st, dev_t dev, ino_t ino)
{
  return st && st->st_dev == dev && st->st_ino == ino;
}

/* Is the backing of LAYER the file BASE (by name as stored, resolved path,
 * or identity)? */
static bool
backing_is (const struct layer *layer, const char *base)
{
  struct stat st;
  const struct stat *id = stat (base, &st) == 0 ? &st : NULL;
  const struct layer *b = layer->backing;

  if (!layer->backing_name || !b)
    return false;
  if (strcmp (layer->backing_name, base) == 0
      || strcmp (b->filename, base) == 0)
    return true;
  return same_file (id, b->dev, b->ino);
}

/* The depth of BASE below PATH, from a look at the chain without locks
 * (open_chain checks it again under them). */
static int
find_base_depth (const char *path, const struct addcow_commit_opts *opts,
                 unsigned *depth)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *top;
  struct layer *layer;
  bool found = false;
  int r;

  oo.flags = ADDCOW_OPEN_FORCE_SHARE;
  oo.io = opts->io;
  if ((r = addcow_open (path, &oo, &top)) < 0)
    return r;
  for (layer = top->top, *depth = 1; layer && !found;
       layer = layer->backing, ++*depth)
    found = backing_is (layer, opts->base);
  --*depth;
  addcow_close (top);
  if (!found)
    return set_error (EINVAL, "%s: '%s' is not in the backing chain of the "
                      "image", path, opts->base);
  return 0;
}

/* Open the chain with BASE writable; find BASE in it. */
static int
open_chain (struct commit *c, const struct addcow_commit_opts *opts)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  int r;

  oo.flags = c->keep ? 0 : ADDCOW_OPEN_WRITE;
  oo.io = opts->io;
  if ((r = image_open_writing (c->path, &oo, c->depth, &c->top)) < 0)
    return r;
  if (c->top->all_allocated && c->top->hdr.backing_name)
    return set_error (EINVAL, "%s: the image is all allocated and does not "
                      "use its backing file", c->path);
  c->above = chain_layer (c->top->top, c->depth - 1);
  if (!c->above || !c->above->backing)
    return set_error (EINVAL, "%s: Image does not have a backing file",
                      c->path);
  if (opts->base && !backing_is (c->above, opts->base))
    return set_error (EAGAIN, "%s: the backing chain changed while it was "
                      "being opened; run commit again", c->path);
  c->base = c->above->backing;
  c->base_raw = raw_layer_file (c->base);
  c->base_img = addcow_layer_image (c->base);
  c->base_name = c->base->filename;
  if (!c->base_raw && !c->base_img)
    return set_error (ENOTSUP, "%s: cannot commit into '%s': this library "
                      "reads the %s format but does not write it", c->path,
                      c->base_name, c->base->ops->format);
  return 0;
}

/* ---- what to copy ------------------------------------------------------ */

/* The run at OFFSET: *OWNED when a layer above BASE holds it (data, or
 * zeros: a hole under a set bit, or past the end of a shorter layer above
 * BASE), S saying where its bytes are. */
static int
owner_at (struct commit *c, uint64_t offset, uint64_t max, struct source *s,
          bool *owned)
{
  struct chain_run run;
  int r;

  if ((r = chain_resolve_above (c->top->top, c->depth, offset, max,
                                &run)) < 0)
    return r;
  *owned = run.kind != RUN_UNALLOCATED;
  s->len = run.len;
  s->fd = -1;
  s->file_offset = 0;
  s->layer = NULL;
  if (run.kind == RUN_DATA && run.fd >= 0) {
    s->fd = run.fd;
    s->file_offset = run.file_offset;
  }
  else if (run.kind == RUN_DATA)
    s->layer = run.layer;
  return 0;
}

/* Bytes held above BASE in [from, top's end).  Into the backing file
 * (depth 1) the top's allocation alone says it: no file is asked for its
 * holes, which cost two lseeks a run. */
static int
owned_bytes (struct commit *c, uint64_t from, uint64_t *total)
{
  struct source s;
  bool owned;
  uint64_t len;
  int r;

  *total = 0;
  for (; c->depth == 1 && from < c->top->virtual_size; from += len) {
    if ((r = image_is_allocated (c->top, from, c->top->virtual_size - from,
                                 &len)) < 0)
      return r;
    if (r)
      *total += len;
  }
  for (; from < c->top->virtual_size; from += s.len) {
    if ((r = owner_at (c, from, c->top->virtual_size - from, &s,
                       &owned)) < 0)
      return r;
    if (owned)
      *total += s.len;
  }
  return 0;
}

/* BASE grows to the image's size first, as qemu-img does: a raw one by
 * truncation, an add-cow one by its own resize (spec 8). */
static int
fit_base (struct commit *c)
{
  uint64_t size = c->top->virtual_size;
  struct addcow *above = addcow_layer_image (c->above);
  int r;

  if (c->base->size >= size)
    return 0;
  if (c->base_raw) {
    if ((r = io_truncate (&c->top->io, c->base_raw->fd, size)) < 0)
      return set_error (-r, "%s: could not grow backing file '%s' to %llu "
                        "bytes: %s", c->path, c->base_name,
                        (unsigned long long) size, strerror (-r));
    c->base_raw->size = size;
  }
  else if ((r = image_grow (c->base_img, size)) < 0)
    return r;
  c->base->size = size;         /* the chain walk sees the new end */
  if (above)
    above->backing_size = size;
  return 0;
}

/* ---- copying ----------------------------------------------------------- */

/* Copy the source run S at OFFSET into an add-cow BASE, through its
 * write path: data in place with copy_file_range, zeros as zeros, other
 * data through a buffer. */
static int
copy_into_addcow (struct commit *c, const struct source *s, uint64_t offset)
{
  uint64_t done, n;
  uint8_t *buf;
  int r = 0;

  if (source_is_zero (s))
    return image_pwrite_zeroes (c->base_img, s->len, offset);
  if (s->fd >= 0 && s->file_offset == offset)
    return image_copy_from (c->base_img, s->fd, s->len, offset);
  if (!(buf = malloc ((size_t) min_u64 (s->len, COPY_BOUNCE_BYTES))))
    return set_error (ENOMEM, "%s: out of memory", c->path);
  for (done = 0; done < s->len && r == 0; done += n) {
    struct source piece = *s;
    n = min_u64 (s->len - done, COPY_BOUNCE_BYTES);
    piece.file_offset += done;
    if ((r = source_read (&piece, &c->top->io, buf, (size_t) n,
                          offset + done)) == 0)
      r = image_pwrite (c->base_img, buf, (size_t) n, offset + done);
  }
  free (buf);
  return r;
}

/* The message for a failed copy or punch (queued work fails late). */
static int
copy_failed (struct commit *c, int r, bool punch)
{
  if (punch)
    return set_error (-r, "%s: could not free the committed clusters of "
                      "image file '%s': %s", c->path, c->top->image.path,
                      strerror (-r));
  return set_error (-r, "%s: could not copy to backing file '%s': %s",
                    c->path, c->base_name, strerror (-r));
}

/* Wait for the queued copies (and punches) to be done. */
static int
wait_copies (struct commit *c)
{
  bool punch;
  int r = copier_wait (c->copier, &punch);

  return r < 0 ? copy_failed (c, r, punch) : 0;
}

/* A raw BASE's extents change under the copies: drop what was learnt. */
static void
forget_base_extents (struct commit *c)
{
  file_forget_extents (c->base_raw);
}

static int
copy_piece (struct commit *c, const struct source *s, uint64_t offset)
{
  int r;

  if (c->base_img)
    return copy_into_addcow (c, s, offset);
  forget_base_extents (c);      /* they change now */
  r = copy_source (c->copier, s, c->base_raw->fd, c->base_raw->size, offset);
  if (r < 0) {                  /* maybe queued work that failed earlier */
    int w = wait_copies (c);
    return w < 0 ? w : copy_failed (c, r, false);
  }
  return 0;
}

/* Unless keeping, punch [punch_start, END) out of the image file: every
 * bit there is durably clear.  At the end of the disk, punch the whole
 * last cluster: a partial block at the end of the file is only freed when
 * the range covers it (the file keeps its size). */
static int
punch_held (struct commit *c, uint64_t end)
{
  struct addcow *top = c->top;
  uint64_t to = div_round_up (end, top->cluster_size) * top->cluster_size;
  int r;

  if (c->keep)
    return 0;
  r = copier_punch (c->copier, top->image.fd, c->punch_start,
                    to - c->punch_start);
  c->punch_start = to;
  c->held_batches = 0;
  return r < 0 ? wait_copies (c) : 0;
}

/* Steps 2-4 for the batch [batch_start, end). */
static int
end_batch (struct commit *c, uint64_t end)
{
  struct addcow *top = c->top;
  uint64_t first = c->batch_start >> top->cluster_bits;
  int r;

  if (c->batch_data == 0)
    goto done;
  if ((r = wait_copies (c)) < 0)
    return r;
  if (c->base_img && (r = image_flush (c->base_img)) < 0)
    return r;
  if (c->base_raw && (r = io_datasync (&top->io, c->base_raw->fd)) < 0)
    return set_error (-r, "%s: could not sync backing file '%s': %s",
                      c->path, c->base_name, strerror (-r));
  if (c->keep)
    goto done;
  bitmap_clear_range (&top->bm, first,
                      div_round_up (end, top->cluster_size) - first);
  if ((r = image_sync_bitmap (top)) < 0)
    return r;
  if (++c->held_batches >= PUNCH_EVERY_BATCHES
      && (r = punch_held (c, end)) < 0)
    return r;
 done:
  c->batch_start = end;
  c->batch_data = 0;
  return 0;
}

/* Do copies from the image file FD into BASE share extents (reflink),
 * moving no bytes?  Probed once per file (a chain has few layers). */
static bool
shares_with_base (struct commit *c, int fd)
{
  int dst = c->base_raw ? c->base_raw->fd : c->base_img->image.fd;
  unsigned i;
  bool v;

  for (i = 0; i < c->nshared; i++)
    if (c->shared_fd[i] == fd)
      return c->shared[i];
  v = copies_share_extents (&c->top->io, fd, dst);
  if (c->nshared < sizeof c->shared / sizeof c->shared[0]) {
    c->shared_fd[c->nshared] = fd;
    c->shared[c->nshared++] = v;
  }
  return v;
}

/* The run at OFFSET, the next one the copy needs: from the ring when
 * read_ahead found it already. */
static int
next_run (struct commit *c, uint64_t offset, struct source *s, bool *owned)
{
  uint64_t size = c->top->virtual_size;
  struct ahead_run *a = &c->ahead[c->ahead_head];

  if (c->ahead_count > 0 && a->offset == offset) {
    *s = a->s;
    *owned = a->owned;
    c->ahead_head = (c->ahead_head + 1) % AHEAD_RUNS;
    c->ahead_count--;
    return 0;
  }
  c->ahead_count = 0;           /* out of step (cannot happen): forget */
  return owner_at (c, offset, min_u64 (size - offset, COPY_CHUNK_BYTES), s,
                   owned);
}

/* Announce [offset, offset+len) of FD to the kernel, joined to the range
 * held back when it continues it: one hint for adjacent runs. */
static void
hint_range (struct commit *c, int fd, uint64_t offset, uint64_t len)
{
  if (c->hint_len && c->hint_fd == fd
      && c->hint_offset + c->hint_len == offset) {
    c->hint_len += len;
    return;
  }
  if (c->hint_len)
    read_hint (c->hint_fd, c->hint_offset, c->hint_len);
  c->hint_fd = fd;
  c->hint_offset = offset;
  c->hint_len = len;
}

/* Keep PREFETCH_BYTES of the runs still to copy announced to the kernel,
 * so that a cold cache reads them many at a time instead of one 64 KiB
 * cluster after the other.  Not where the copy shares extents: it reads
 * nothing, and the hint would read all of it (on XFS, 1,052,196 blocks
 * read for 3,562 needed).  A one-layer commit then stops at once.  The
 * runs found are kept for the copy (next_run). */
static int
read_ahead (struct commit *c)
{
  uint64_t size = c->top->virtual_size;
  struct ahead_run *a;
  int r;

  if (c->ahead_bytes > c->prog.done + PREFETCH_BYTES / 2)
    return 0;
  if (c->depth == 1 && shares_with_base (c, c->top->image.fd))
    c->ahead_pos = size;
  while (c->ahead_pos < size && c->ahead_count < AHEAD_RUNS
         && c->ahead_bytes < c->prog.done + PREFETCH_BYTES) {
    a = &c->ahead[(c->ahead_head + c->ahead_count) % AHEAD_RUNS];
    a->offset = c->ahead_pos;
    if ((r = owner_at (c, c->ahead_pos,
                       min_u64 (size - c->ahead_pos, COPY_CHUNK_BYTES),
                       &a->s, &a->owned)) < 0)
      return r;
    c->ahead_count++;
    if (a->s.fd >= 0) {
      if (!shares_with_base (c, a->s.fd))
        hint_range (c, a->s.fd, a->s.file_offset, a->s.len);
      c->ahead_bytes += a->s.len;
    }
    c->ahead_pos += a->s.len;
  }
  hint_range (c, -1, 0, 0);     /* the last range held back */
  return 0;
}

static int
copy_all (struct commit *c)
{
  uint64_t size = c->top->virtual_size, pos = 0;
  struct source s;
  bool owned;
  int r;

  while (pos < size) {
    if ((r = read_ahead (c)) < 0 || (r = next_run (c, pos, &s, &owned)) < 0)
      return r;
    if (owned && (r = copy_piece (c, &s, pos)) < 0)
      return r;
    pos += s.len;
    if (!owned)
      continue;
    c->batch_data += s.len;
    if (c->batch_data >= c->batch_bytes && (r = end_batch (c, pos)) < 0)
      return r;
    if ((r = progress_add (&c->prog, s.len, c->path)) < 0) {
      int e = end_batch (c, pos);
      if (e == 0)
        e = punch_held (c, pos);
      return e < 0 ? e : r;
    }
  }
  if ((r = end_batch (c, size)) < 0
      || (r = punch_held (c, size)) < 0)
    return r;
  return wait_copies (c);       /* the last punch */
}

/* After a failure: nothing that is not durable may reach the disk. */
static void
drop_unsynced (struct commit *c)
{
  if (c->base_img && c->base_img->bm.bytes)
    bitmap_clear_dirty (&c->base_img->bm);
  if (c->top && c->top->bm.bytes)
    bitmap_clear_dirty (&c->top->bm);
}

static int
start_copier (struct commit *c)
{
  if (copier_new (&c->top->io, &c->copier) < 0)
    return set_error (ENOMEM, "%s: out of memory", c->path);
  return 0;
}

int
commit_run (const char *path, const struct addcow_commit_opts *opts,
            uint64_t batch_bytes)
{
  struct commit c = { .path = path, .depth = 1, .batch_bytes = batch_bytes };
  uint64_t total = 0;
  int r, e;

  if (!path || !opts || opts->version != ADDCOW_COMMIT_OPTS_VERSION)
    return set_error (EINVAL, "addcow_commit: bad arguments");
  c.keep = opts->keep || opts->base;
  if (opts->base && (r = find_base_depth (path, opts, &c.depth)) < 0)
    return r;
  if ((r = open_chain (&c, opts)) == 0
      && (r = start_copier (&c)) == 0
      && (r = owned_bytes (&c, 0, &total)) == 0
      && (r = fit_base (&c)) == 0) {
    progress_start (&c.prog, opts->progress, opts->progress_opaque, total);
    if ((r = progress_add (&c.prog, 0, path)) == 0)
      r = copy_all (&c);
  }
  copier_free (c.copier);       /* waits for what is in flight */
  if (r < 0 && r != -ECANCELED)
    drop_unsynced (&c);
  if ((e = addcow_close (c.top)) < 0 && r == 0)  /* and BASE's last flush */
    r = e;
  return r;
}

int
addcow_commit (const char *path, const struct addcow_commit_opts *opts)
{
  return commit_run (path, opts, COPY_BATCH_BYTES);
}
