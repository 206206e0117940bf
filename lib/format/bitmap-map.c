/*
 * bitmap-map.c - the COW bitmap mapped from the add-cow file, so that an
 * open costs what is asked of it, not the size of the disk.
 *
 * An 8 TiB disk of 4 KiB clusters has a 256 MiB bitmap.  Read up front it
 * costs 256 MiB of memory and of reading before the first request; mapped
 * MAP_PRIVATE, a request touches the page it needs and the rest costs
 * nothing.  Changes stay in this process (copy-on-write pages) until the
 * dirty blocks are written back with pwrite, as for a malloc'd bitmap
 * (write.c), so the ordering of spec 7 is unchanged.
 *
 * Invariants:
 *  - The mapping covers the bitmap padded to 8 bytes (scans read whole
 *    words) and is backed by the file only over pages inside the file at
 *    open, by anonymous zero pages past it: no access can fault past the
 *    end of the file.
 *  - A block never changed in memory (changed[b] == 0) reads what the
 *    mapped file holds; so where the file has a hole, such a block is all
 *    zeros and a count or a search for set bits need not read it.  The
 *    file is a dup of the add-cow file at the time of the mapping (after a
 *    header rewrite, the old file, which no one changes any more).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"

static uint64_t
max_u64 (uint64_t a, uint64_t b)
{
  return a > b ? a : b;
}

int
bitmap_map (struct bitmap *bm, uint64_t nbits, int fd, uint64_t offset,
            uint64_t file_size)
{
  uint64_t page = (uint64_t) sysconf (_SC_PAGESIZE);
  uint64_t start = offset / page * page, delta = offset - start;
  uint64_t padded, total, infile;
  uint8_t *base;

  memset (bm, 0, sizeof *bm);
  bm->nbits = nbits;
  bm->nbytes = div_round_up (nbits, 8);
  if (bm->nbytes > ADDCOW_MAX_BITMAP_BYTES)
    return -EFBIG;
  if (offset > file_size || file_size - offset < bm->nbytes)
    return -EINVAL;             /* the caller reads what there is */
  padded = bm->nbytes ? div_round_up (bm->nbytes, 8) * 8 : 8;
  total = div_round_up (delta + padded, page) * page;
  infile = min_u64 (total, div_round_up (file_size - start, page) * page);
  bm->nblocks = div_round_up (bm->nbytes, BITMAP_BLOCK);
  bm->dirty = calloc (1, bm->nblocks ? bm->nblocks : 1);
  bm->changed = calloc (1, bm->nblocks ? bm->nblocks : 1);
  base = mmap (NULL, (size_t) total, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    base = NULL;
  if (base && infile
      && mmap (base, (size_t) infile, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_FIXED, fd, (off_t) start) == MAP_FAILED) {
    munmap (base, (size_t) total);
    base = NULL;
  }
  bm->map_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (!base || !bm->dirty || !bm->changed || bm->map_fd < 0) {
    int e = !base || bm->map_fd < 0 ? errno : ENOMEM;
    if (base)
      munmap (base, (size_t) total);
    if (bm->map_fd >= 0)
      close (bm->map_fd);
    free (bm->dirty);
    free (bm->changed);
    memset (bm, 0, sizeof *bm);
    return -(e ? e : ENOMEM);
  }
  /* A request touches one page: no read-around (which would read 32
   * pages of zeros for each 4 KiB read of an empty disk); long walks ask
   * for their data extents themselves (walk_maybe_set). */
  (void) madvise (base, (size_t) total, MADV_RANDOM);
  bm->map = base;
  bm->map_len = (size_t) total;
  bm->map_offset = offset;
  bm->bytes = base + delta;
  return 0;
}

void
bitmap_unmap (struct bitmap *bm)
{
  munmap (bm->map, bm->map_len);
  close (bm->map_fd);
  bm->map = NULL;
  bm->bytes = NULL;
}

/* The region of the mapped file holding bitmap byte POS: [pos, *end) is
 * data or a hole (*end > pos, at most nbytes).  When the file cannot tell,
 * all of it is data. */
static bool
extent_at (const struct bitmap *bm, uint64_t pos, uint64_t *end)
{
  off_t at = (off_t) (bm->map_offset + pos), d, h;

  *end = bm->nbytes;
  d = lseek (bm->map_fd, at, SEEK_DATA);
  if (d < 0)
    return errno != ENXIO;      /* ENXIO: a hole to the end of the file */
  if (d > at) {
    *end = min_u64 (bm->nbytes, (uint64_t) d - bm->map_offset);
    return false;
  }
  h = lseek (bm->map_fd, at, SEEK_HOLE);
  if (h > at)
    *end = min_u64 (bm->nbytes, (uint64_t) h - bm->map_offset);
  return true;
}

/* Start reading the bitmap bytes [from, to) of the file (a hint). */
static void
will_need (const struct bitmap *bm, uint64_t from, uint64_t to)
{
  uint64_t page = (uint64_t) sysconf (_SC_PAGESIZE);
  uint8_t *a = bm->bytes + from, *b = bm->bytes + to;
  uintptr_t lo = (uintptr_t) a / page * page;

  if (to - from >= page)
    (void) madvise ((void *) lo, (size_t) ((uintptr_t) b - lo),
                    MADV_WILLNEED);
}

/* The first block >= B and < END whose bits changed in memory, or END. */
static uint64_t
next_changed (const struct bitmap *bm, uint64_t b, uint64_t end)
{
  const uint8_t *p;

  if (b >= end || bm->nchanged == 0)    /* a read-only open: none */
    return end;
  p = memchr (bm->changed + b, 1, (size_t) (end - b));
  return p ? (uint64_t) (p - bm->changed) : end;
}

/* What to do with the bits [start, end) of memory: count or find set. */
typedef uint64_t (*range_fn) (const struct bitmap *bm, uint64_t start,
                              uint64_t end, bool *stop);

/* Apply FN to the bits of [start, end) that may be set: the file's data,
 * and the blocks in its holes changed in memory.  The sum of FN's results;
 * stops at the first whose *STOP it sets. */
static uint64_t
walk_maybe_set (const struct bitmap *bm, uint64_t start, uint64_t end,
                range_fn fn, bool *stop)
{
  const uint64_t bbits = (uint64_t) BITMAP_BLOCK * 8;
  uint64_t pos = start, ext, stop_at, b, last, sum = 0;

  *stop = false;
  while (pos < end && !*stop) {
    bool data = extent_at (bm, pos / 8, &ext);
    stop_at = min_u64 (end, ext * 8);
    if (data) {
      will_need (bm, pos / 8, div_round_up (stop_at, 8));
      sum += fn (bm, pos, stop_at, stop);
    }
    last = div_round_up (stop_at, bbits);
    for (b = next_changed (bm, pos / bbits, last); !data && !*stop && b < last;
         b = next_changed (bm, b + 1, last))
      sum += fn (bm, max_u64 (pos, b * bbits),
                 min_u64 (stop_at, (b + 1) * bbits), stop);
    pos = stop_at;
  }
  return sum;
}

static uint64_t
count_fn (const struct bitmap *bm, uint64_t start, uint64_t end, bool *stop)
{
  (void) stop;
  return bitmap_count_range (bm, start, end);
}

/* Returns the first set bit in [start, end) (stopping), else 0. */
static uint64_t
find_fn (const struct bitmap *bm, uint64_t start, uint64_t end, bool *stop)
{
  uint64_t f = bitmap_scan (bm, start, end, true);

  *stop = f < end;
  return *stop ? f : 0;
}

uint64_t
bitmap_map_find_set (const struct bitmap *bm, uint64_t start, uint64_t end)
{
  bool found;
  uint64_t f;

  end = min_u64 (end, bm->nbits);
  f = walk_maybe_set (bm, start, end, find_fn, &found);
  return found ? f : end;
}

uint64_t
bitmap_map_count (const struct bitmap *bm)
{
  bool stop;

  return walk_maybe_set (bm, 0, bm->nbits, count_fn, &stop);
}
