/*
 * handle.c - the public I/O entry points of a handle, and its lock.
 *
 * Each call here is the API's door to the body of the same name in read.c,
 * write.c and status.c (image_*).  This is the one place where the
 * concurrency contract of a handle (addcow.h) is enforced, so the bodies
 * stay free of locking and the library calls them directly on layers it
 * already holds.
 *
 * One reader-writer lock per handle.  A body run under the shared lock
 * only reads the handle's memory (bitmap, sizes, descriptors, flags) and
 * does positioned I/O on descriptors that stay open for the handle's life;
 * the one cache written on the way, a raw backing file's extent hint, has
 * a mutex of its own (copy.c).  Error messages are per thread.  Shared:
 *  - pread, block_status, is_allocated (also down an add-cow backing
 *    chain: its layers are read-only and reached only through this one);
 *  - a write or zeroing whose every cluster is allocated already (or that
 *    fails before touching anything: read-only, out of range): the body
 *    then only writes the image file at the same offsets;
 *  - a flush with no bit set since the last good one: only an fdatasync
 *    (none at all when nothing was written: see addcow_flush).
 * Exclusive: whatever sets bits or clears dirty flags -- a write that
 * reaches an unallocated cluster, and a flush with bits to write.
 *
 * Only exclusive calls change bits (a write sets them; a flush whose data
 * sync fails forgets the unsynced ones), so "allocated" seen under the
 * shared lock holds until that lock is dropped.
 *
 * COPY-ON-WRITE in two steps, so that the reads of many writers overlap:
 * under the shared lock, a write into wholly unallocated clusters is
 * widened to them, and what it does not cover is read (the backing chain's
 * bytes, or zeros); under the exclusive lock, if those clusters are still
 * all unallocated, the whole clusters are written at once (no read inside
 * the exclusive section).  The bytes read are still current then: an
 * unallocated cluster is only written under the exclusive lock, by a write
 * that allocates it in the same section, so "still unallocated" means
 * "nobody wrote it since" (or a failed flush forgot that write, and the
 * cluster again reads what we read).  Otherwise the write is done as asked,
 * under the exclusive lock.
 *
 * The lock prefers writers, so that a stream of reads cannot starve a
 * copy-on-write.
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
  pthread_rwlockattr_destroy (&attr);
  if (r != 0)
    return -r;
  if ((r = pthread_mutex_init (&img->flush_lock, NULL)) != 0) {
    pthread_rwlock_destroy (&img->lock);
    return -r;
  }
  atomic_init (&img->unsynced, false);
  return 0;
}

void
handle_lock_destroy (struct addcow *img)
{
  pthread_mutex_destroy (&img->flush_lock);
  pthread_rwlock_destroy (&img->lock);
}

static void
rdlock (struct addcow *img)
{
  pthread_rwlock_rdlock (&img->lock);
}

static void
wrlock (struct addcow *img)
{
  pthread_rwlock_wrlock (&img->lock);
}

static void
unlock (struct addcow *img)
{
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

/* The first step of copy-on-write (shared lock): when the clusters BUF
 * touches are all unallocated and BUF does not cover them exactly, return
 * those whole clusters [*start, *end) with BUF merged into what they read
 * now (malloc'd).  NULL when that does not apply or fails: the write then
 * goes to the body as it is. */
static uint8_t *
cow_prepare (struct addcow *img, const void *buf, uint64_t count,
             uint64_t offset, uint64_t *start, uint64_t *end)
{
  uint64_t cs = img->cluster_size, s = offset & ~(cs - 1);
  uint64_t e = min_u64 ((offset + count + cs - 1) & ~(cs - 1),
                        img->virtual_size);
  uint8_t *wide;

  if ((s == offset && e == offset + count) || !range_is (img, false, e - s, s)
      || !(wide = malloc (e - s)))
    return NULL;
  if (image_pread (img, wide, offset - s, s) < 0
      || image_pread (img, wide + (offset - s) + count, e - (offset + count),
                      offset + count) < 0) {
    free (wide);
    return NULL;
  }
  memcpy (wide + (offset - s), buf, count);
  *start = s;
  *end = e;
  return wide;
}

/* A write (BUF) or zeroing (BUF NULL) under the lock it needs. */
static int
write_locked (struct addcow *img, const void *buf, uint64_t count,
              uint64_t offset)
{
  uint8_t *wide = NULL;
  uint64_t start = 0, end = 0;
  int r;

  rdlock (img);
  if (write_is_shared (img, count, offset)) {
    r = write_body (img, buf, count, offset);
    unlock (img);
    atomic_store (&img->unsynced, true);  /* once the write is done */
    return r;
  }
  if (buf)
    wide = cow_prepare (img, buf, count, offset, &start, &end);
  unlock (img);

  wrlock (img);
  if (wide && range_is (img, false, end - start, start))
    r = image_pwrite (img, wide, (size_t) (end - start), start);
  else
    r = write_body (img, buf, count, offset);
  unlock (img);
  free (wide);
  atomic_store (&img->unsynced, true);
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
  bool data;
  int r = 0;

  pthread_mutex_lock (&img->flush_lock);
  data = atomic_exchange (&img->unsynced, false);
  rdlock (img);
  if (!img->bm.any_dirty) {             /* at most the data sync */
    if (data)
      r = image_flush (img);
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
