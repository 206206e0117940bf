/*
 * handle.c - the public I/O entry points of a handle, and its lock.
 *
 * Each call here is the API's door to the body of the same name in read.c,
 * write.c and status.c (image_*).  This is the one place where the
 * concurrency contract of a handle (addcow.h) is enforced, so the bodies
 * stay free of locking and the library calls them directly on layers it
 * already holds.
 *
 * One reader-writer lock per writable handle (a read-only one takes none:
 * nothing of it changes after the open).  A body run under the shared lock
 * only reads the handle's memory (bitmap, sizes, descriptors, flags) and
 * does positioned I/O on descriptors that stay open for the handle's life;
 * the caches written on the way (a backing file's extents, the last run of
 * equal bits) are per thread.  Error messages are per thread.  Shared:
 *  - pread, block_status, is_allocated (also down an add-cow backing
 *    chain: its layers are read-only and reached only through this one);
 *  - a write or zeroing whose every cluster is allocated already (or that
 *    fails before touching anything: read-only, out of range): the body
 *    then only writes the image file at the same offsets;
 *  - a flush with no bit set since the last good one: only an fdatasync
 *    (none at all when nothing was written: see addcow_flush).
 * Exclusive: a write that reaches an unallocated cluster other than as a
 * claimed write (below), and a flush with bits to write.
 *
 * Bits change only under the exclusive lock (a write sets them; a flush
 * whose data sync fails forgets the unsynced ones), or, under the shared
 * lock, from clear to set for claimed clusters (below).  So "allocated"
 * seen under the shared lock holds until that lock is dropped.
 *
 * COPY-ON-WRITE, and any write of data into wholly unallocated clusters,
 * runs under the shared lock from start to end, so that many of them
 * (reads and writes of the image file) overlap: the write is widened to
 * whole clusters, the part it does not cover read (the backing chain's
 * bytes, or zeros) and the clusters written to the image file, their bits
 * still unset -- they read as before meanwhile.  Then only the bits are
 * set, under claim_lock and bits_lock.  While that lasts, the clusters are
 * CLAIMED (a list of the writers' stack records, under claim_lock): a
 * second writer into a claimed cluster waits until the claim is dropped,
 * whether it would copy on write too or needs the exclusive lock (a
 * zeroing, a write that also reaches allocated clusters), and then starts
 * again, so no write ever merges with bytes another one is replacing.
 * Setting the bits and dropping the claim is one section of claim_lock,
 * and a claim checks under claim_lock that its clusters are still
 * unallocated, so a cluster is claimed at most once.  The bytes read are
 * still current when the bits are set: an unallocated cluster is written
 * only under a claim or by an exclusive writer (which no claim outlives).
 *
 * bits_lock: the bitmap's memory is read under the shared lock (every
 * lookup, addcow-layer.c) while claimed writes set bits: lookups of a
 * writable handle take it shared, claimed writes set bits under it
 * exclusively, for a few instructions.  Under the exclusive handle lock
 * nobody else is in.  Order: claim_lock, then bits_lock.
 *
 * A data sync of the image file that fails may have lost what a claimed
 * write wrote before it: that write sets no bits and fails with EIO
 * (write.c counts the failures; a claim compares the count with the one
 * it saw when it claimed).  A flush with no bit to write syncs under the
 * shared lock with "syncing" set (under claim_lock, at a moment without
 * dirty bits): a claimed write waits for the end of that sync before it
 * sets bits, so it sees its failure, and no bit is set while the flush
 * runs.  A flush with bits to write takes the exclusive lock: no claim is
 * in progress then.
 *
 * The buffer a claimed write widens into (one cluster, the common case of a
 * small write) comes from a free list kept under claim_lock, taken with
 * the claim and given back as it is dropped: a malloc and free of a cluster per request cost more than the
 * copy (the allocator returns the memory to the kernel, and the next
 * request faults it in again, a page at a time).
 *
 * Both reader-writer locks prefer writers, so that a stream of reads
 * cannot starve an exclusive writer, or a claimed write its bits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

int
handle_lock_init (struct addcow *img)
{
  pthread_rwlockattr_t attr;
  int r;

  if ((r = pthread_rwlockattr_init (&attr)) != 0)
    return -r;
  r = pthread_rwlockattr_setkind_np
        (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  if (r == 0)
    r = pthread_rwlock_init (&img->lock, &attr);
  if (r == 0 && (r = pthread_rwlock_init (&img->bits_lock, &attr)) != 0)
    pthread_rwlock_destroy (&img->lock);
  pthread_rwlockattr_destroy (&attr);
  if (r != 0)
    return -r;
  if ((r = pthread_mutex_init (&img->flush_lock, NULL)) != 0)
    goto no_flush_lock;
  if ((r = pthread_mutex_init (&img->claim_lock, NULL)) != 0)
    goto no_claim_lock;
  if ((r = pthread_cond_init (&img->claim_done, NULL)) != 0)
    goto no_claim_done;
  img->claims = NULL;
  img->syncing = false;
  img->cow_bufs = NULL;
  img->n_cow_bufs = 0;
  atomic_init (&img->unsynced, false);
  atomic_init (&img->sync_failures, 0);
  return 0;

 no_claim_done:
  pthread_mutex_destroy (&img->claim_lock);
 no_claim_lock:
  pthread_mutex_destroy (&img->flush_lock);
 no_flush_lock:
  pthread_rwlock_destroy (&img->bits_lock);
  pthread_rwlock_destroy (&img->lock);
  return -r;
}

struct cow_buf {
  struct cow_buf *next;
};

void
handle_lock_destroy (struct addcow *img)
{
  struct cow_buf *b;

  while ((b = img->cow_bufs)) {
    img->cow_bufs = b->next;
    free (b);
  }
  pthread_rwlock_destroy (&img->bits_lock);
  pthread_cond_destroy (&img->claim_done);
  pthread_mutex_destroy (&img->claim_lock);
  pthread_mutex_destroy (&img->flush_lock);
  pthread_rwlock_destroy (&img->lock);
}

/* A read-only handle takes no lock: nothing of it changes after the open
 * (its bits, sizes and descriptors; the caches on the way have locks of
 * their own), and its requests are most of a map's per-entry cost. */
static void
rdlock (struct addcow *img)
{
  if (img->writable)
    pthread_rwlock_rdlock (&img->lock);
}

static void
wrlock (struct addcow *img)
{
  if (img->writable)
    pthread_rwlock_wrlock (&img->lock);
}

static void
unlock (struct addcow *img)
{
  if (img->writable)
    pthread_rwlock_unlock (&img->lock);
}

int
addcow_pread (struct addcow *img, void *buf, size_t count, uint64_t offset)
{
  int r;

  rdlock (img);
  r = image_pread (img, buf, count, offset);
  unlock (img);
  return r;
}

int
addcow_block_status (struct addcow *img, uint64_t offset,
                     uint64_t max_length, struct addcow_extent *ext)
{
  int r;

  rdlock (img);
  r = image_block_status (img, offset, max_length, ext);
  unlock (img);
  return r;
}

int
addcow_is_allocated (struct addcow *img, uint64_t offset,
                     uint64_t max_length, uint64_t *length)
{
  int r;

  rdlock (img);
  r = image_is_allocated (img, offset, max_length, length);
  unlock (img);
  return r;
}

/* Is all of [offset, offset+count) allocated (ALLOCATED) or unallocated
 * in the top layer?  Under either lock; COUNT > 0, in range. */
static bool
range_is (struct addcow *img, bool allocated, uint64_t count,
          uint64_t offset)
{
  uint64_t len;

  return image_is_allocated (img, offset, count, &len) == allocated
    && len >= count;
}

/* Can the write of [offset, offset+count) run under the shared lock: it
 * changes no memory of the handle (see the top of the file)? */
static bool
write_is_shared (struct addcow *img, uint64_t count, uint64_t offset)
{
  uint64_t end;

  if (!img->writable || img->write_failed || count == 0
      || !checked_add (offset, count, &end) || end > img->virtual_size)
    return true;                        /* the body fails, or does nothing */
  return range_is (img, true, count, offset);
}

static int
write_body (struct addcow *img, const void *buf, uint64_t count,
            uint64_t offset)
{
  return buf ? image_pwrite (img, buf, (size_t) count, offset)
             : image_pwrite_zeroes (img, count, offset);
}

/* ---- claims (see the top of the file) ---- */

struct cow_claim {
  uint64_t start, end;          /* whole clusters */
  unsigned sync_failures;       /* img->sync_failures when claimed */
  uint8_t *buf;                 /* one cluster from the free list, or NULL */
  struct cow_claim *next;
};

/* The free list keeps at most this many bytes of buffers (and at least
 * one): enough for every request in flight of a few busy connections. */
#define COW_BUFS_MAX_BYTES (8u << 20)

/* A buffer from the free list, or NULL.  Under claim_lock. */
static uint8_t *
cow_buf_pop (struct addcow *img)
{
  struct cow_buf *b = img->cow_bufs;

  if (b) {
    img->cow_bufs = b->next;
    img->n_cow_bufs--;
  }
  return (uint8_t *) b;
}

/* Give BUF (one cluster) back to the free list; false if it is full.
 * Under claim_lock. */
static bool
cow_buf_push (struct addcow *img, uint8_t *buf)
{
  unsigned max = COW_BUFS_MAX_BYTES / img->cluster_size;
  struct cow_buf *b = (struct cow_buf *) buf;

  if (img->n_cow_bufs >= (max > 0 ? max : 1))
    return false;
  b->next = img->cow_bufs;
  img->cow_bufs = b;
  img->n_cow_bufs++;
  return true;
}

/* Whole clusters around [offset, offset+count), the last one cut at the
 * end of the disk.  COUNT > 0, in range. */
static void
widen (const struct addcow *img, uint64_t count, uint64_t offset,
       uint64_t *start, uint64_t *end)
{
  uint64_t cs = img->cluster_size;

  *start = offset & ~(cs - 1);
  *end = min_u64 ((offset + count + cs - 1) & ~(cs - 1), img->virtual_size);
}

/* Does a claim overlap [start, end)?  Under claim_lock. */
static bool
claimed (const struct addcow *img, uint64_t start, uint64_t end)
{
  const struct cow_claim *c;

  for (c = img->claims; c; c = c->next)
    if (c->start < end && start < c->end)
      return true;
  return false;
}

/* Claim [start, end) as C, unless part of it is claimed already, or no
 * longer unallocated (a claimed write set its bits since the caller
 * looked), with a buffer from the free list when [start, end) is one
 * cluster.  Under the shared lock. */
static bool
claim (struct addcow *img, struct cow_claim *c, uint64_t start, uint64_t end)
{
  bool ok;

  pthread_mutex_lock (&img->claim_lock);
  ok = !claimed (img, start, end) && range_is (img, false, end - start, start);
  if (ok) {
    *c = (struct cow_claim) {
      start, end, atomic_load (&img->sync_failures),
      end - start <= img->cluster_size ? cow_buf_pop (img) : NULL,
      img->claims };
    img->claims = c;
  }
  pthread_mutex_unlock (&img->claim_lock);
  return ok;
}

/* Set the bits of claim C unless R (the write's result so far) is an
 * error, or a sync failed since C was claimed (EIO), and drop C, giving
 * C's buffer back (C->buf: NULL if the free list took it).  Under the
 * shared lock.  Returns R, or -EIO. */
static int
mark_and_unclaim (struct addcow *img, struct cow_claim *c, int r)
{
  struct cow_claim **p;

  pthread_mutex_lock (&img->claim_lock);
  while (img->syncing)
    pthread_cond_wait (&img->claim_done, &img->claim_lock);
  if (r == 0 && atomic_load (&img->sync_failures) != c->sync_failures)
    r = set_error (EIO, "%s: a sync of image file '%s' failed while "
                   "this write was in progress", img->filename,
                   img->image.path);
  if (r == 0) {
    pthread_rwlock_wrlock (&img->bits_lock);
    image_mark_allocated (img, c->end - c->start, c->start);
    pthread_rwlock_unlock (&img->bits_lock);
  }
  for (p = &img->claims; *p != c; p = &(*p)->next)
    ;
  *p = c->next;
  if (c->buf && cow_buf_push (img, c->buf))
    c->buf = NULL;
  pthread_cond_broadcast (&img->claim_done);
  pthread_mutex_unlock (&img->claim_lock);
  return r;
}

/* Wait, holding no lock of the handle, until nothing of [start, end) is
 * claimed. */
static void
wait_unclaimed (struct addcow *img, uint64_t start, uint64_t end)
{
  pthread_mutex_lock (&img->claim_lock);
  while (claimed (img, start, end))
    pthread_cond_wait (&img->claim_done, &img->claim_lock);
  pthread_mutex_unlock (&img->claim_lock);
}

/* Write BUF into the wholly unallocated clusters [start, end) claimed as
 * C, set their bits and drop the claim: under the shared lock, which it
 * drops at the end. */
static int
claimed_write (struct addcow *img, struct cow_claim *c, const void *buf,
               uint64_t count, uint64_t offset)
{
  uint64_t start = c->start, end = c->end;
  uint8_t *wide = NULL;
  const void *data = buf;
  int r = 0;

  if (start != offset || end != offset + count) {
    if (!c->buf && end - start <= img->cluster_size)
      c->buf = malloc (img->cluster_size);   /* kept by the free list */
    wide = c->buf ? c->buf : malloc (end - start);
    if (!wide)
      r = set_error (ENOMEM, "%s: out of memory", img->filename);
    else if ((r = image_pread (img, wide, offset - start, start)) == 0
             && (r = image_pread (img, wide + (offset - start) + count,
                                  end - (offset + count),
                                  offset + count)) == 0)
      memcpy (wide + (offset - start), buf, count);
    data = wide;
  }
  if (r == 0)
    r = image_write_unmarked (img, data, (size_t) (end - start), start);
  if (wide == c->buf)
    wide = NULL;                /* C's: the free list may take it back */
  r = mark_and_unclaim (img, c, r);
  unlock (img);
  free (wide);
  free (c->buf);                /* NULL when the free list took it */
  return r;
}

/* A write (BUF) or zeroing (BUF NULL) under the lock it needs. */
static int
write_locked (struct addcow *img, const void *buf, uint64_t count,
              uint64_t offset)
{
  struct cow_claim c;
  uint64_t start, end;
  int r;

  for (;;) {
    rdlock (img);
    if (write_is_shared (img, count, offset)) {
      r = write_body (img, buf, count, offset);
      unlock (img);
      break;
    }
    widen (img, count, offset, &start, &end);
    if (buf && range_is (img, false, end - start, start)) {
      if (claim (img, &c, start, end)) {
        r = claimed_write (img, &c, buf, count, offset);
        break;
      }
      unlock (img);
    }
    else {
      unlock (img);
      wrlock (img);             /* no claim is held meanwhile */
      r = write_body (img, buf, count, offset);
      unlock (img);
      break;
    }
    wait_unclaimed (img, start, end);
  }
  atomic_store (&img->unsynced, true);  /* once the write is done */
  return r;
}

int
addcow_pwrite (struct addcow *img, const void *buf, size_t count,
               uint64_t offset)
{
  if (!buf && count)
    return set_error (EINVAL, "%s: NULL buffer", img->filename);
  return write_locked (img, buf, count, offset);
}

int
addcow_pwrite_zeroes (struct addcow *img, uint64_t count, uint64_t offset)
{
  return write_locked (img, NULL, count, offset);
}

/* FLUSH.  Nothing written through the handle since the last good flush
 * and no bit to write: nothing to sync (as qemu, which counts writes
 * against flushes); an fdatasync of a clean file still costs a device
 * cache flush, hundreds of microseconds.  Flushes run one at a time, so
 * that one that finds nothing new returns only after the sync in progress
 * (which covers the writes it would have synced) is done.  A write marks
 * the handle unsynced after its data is written, so a flush that misses
 * the mark started before that write completed. */
int
addcow_flush (struct addcow *img)
{
  bool data, dirty;
  int r = 0;

  pthread_mutex_lock (&img->flush_lock);
  data = atomic_exchange (&img->unsynced, false);
  rdlock (img);
  pthread_mutex_lock (&img->claim_lock);
  dirty = img->bm.any_dirty;
  img->syncing = !dirty;                /* no bit is set until it ends */
  pthread_mutex_unlock (&img->claim_lock);
  if (!dirty) {                         /* at most the data sync */
    if (data)
      r = image_flush (img);
    pthread_mutex_lock (&img->claim_lock);
    img->syncing = false;
    pthread_cond_broadcast (&img->claim_done);
    pthread_mutex_unlock (&img->claim_lock);
    unlock (img);
  }
  else {
    unlock (img);
    wrlock (img);
    r = image_flush (img);
    unlock (img);
  }
  if (r < 0)
    atomic_store (&img->unsynced, true);
  pthread_mutex_unlock (&img->flush_lock);
  return r;
}
