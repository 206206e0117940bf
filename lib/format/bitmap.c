/*
 * bitmap.c - the COW bitmap in memory.  Pure: no I/O.
 *
 * Bit n is byte n/8, bit n%8 (least significant first), as on disk, so the
 * buffer is read and written unchanged.  Scans load 64 bits at a time as a
 * little-endian word, which keeps bit n of the word equal to bit n of the
 * run whatever the host's byte order.  The buffer is padded with zero bytes
 * to a multiple of 8 so that a scan never reads past it.
 *
 * The bytes are malloc'd here, or mapped from the add-cow file by
 * bitmap-map.c; then a long scan for set bits and the count skip the
 * file's holes, and every block changed in memory is remembered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"
#include "util/le.h"

int
bitmap_alloc (struct bitmap *bm, uint64_t nbits)
{
  uint64_t padded;

  memset (bm, 0, sizeof *bm);
  bm->nbits = nbits;
  bm->nbytes = div_round_up (nbits, 8);
  if (bm->nbytes > ADDCOW_MAX_BITMAP_BYTES)
    return -EFBIG;
  padded = div_round_up (bm->nbytes, 8) * 8;
  bm->nblocks = div_round_up (bm->nbytes, BITMAP_BLOCK);
  bm->bytes = calloc (1, padded ? padded : 8);
  bm->dirty = calloc (1, bm->nblocks ? bm->nblocks : 1);
  if (!bm->bytes || !bm->dirty) {
    bitmap_free (bm);
    return -ENOMEM;
  }
  return 0;
}

void
bitmap_free (struct bitmap *bm)
{
  if (bm->map)
    bitmap_unmap (bm);
  else
    free (bm->bytes);
  free (bm->dirty);
  free (bm->changed);
  bm->bytes = bm->dirty = bm->changed = NULL;
}

bool
bitmap_get (const struct bitmap *bm, uint64_t n)
{
  return n < bm->nbits && (bm->bytes[n / 8] >> (n % 8)) & 1;
}

static void
mark_dirty (struct bitmap *bm, uint64_t start, uint64_t count)
{
  uint64_t b, first = start / 8 / BITMAP_BLOCK;
  uint64_t last = (start + count - 1) / 8 / BITMAP_BLOCK;

  for (b = first; b <= last; b++) {
    bm->dirty[b] = 1;
    if (bm->changed && !bm->changed[b]) {
      bm->changed[b] = 1;
      bm->nchanged++;
    }
  }
  bm->any_dirty = true;
}

/* Set or clear bits [start, start+count), clamped to nbits. */
static void
change_range (struct bitmap *bm, uint64_t start, uint64_t count, bool value)
{
  uint64_t n, end;

  if (start >= bm->nbits || count == 0)
    return;
  end = start + min_u64 (count, bm->nbits - start);
  n = start;
  while (n < end && n % 8)            /* leading bits */
    value ? (bm->bytes[n / 8] |= 1u << (n % 8))
          : (bm->bytes[n / 8] &= ~(1u << (n % 8))), n++;
  if (end - n >= 8) {                 /* whole bytes */
    memset (bm->bytes + n / 8, value ? 0xff : 0, (end - n) / 8);
    n += (end - n) / 8 * 8;
  }
  while (n < end)                     /* trailing bits */
    value ? (bm->bytes[n / 8] |= 1u << (n % 8))
          : (bm->bytes[n / 8] &= ~(1u << (n % 8))), n++;
  mark_dirty (bm, start, end - start);
}

void
bitmap_set_range (struct bitmap *bm, uint64_t start, uint64_t count)
{
  change_range (bm, start, count, true);
}

void
bitmap_clear_range (struct bitmap *bm, uint64_t start, uint64_t count)
{
  change_range (bm, start, count, false);
}

/* A scan this long for set bits in a mapped bitmap asks the file where
 * its holes are instead of reading them (64 KiB of bitmap). */
#define HOLE_SKIP_BITS (UINT64_C (8) << 16)

uint64_t
bitmap_find_bounded (const struct bitmap *bm, uint64_t start, uint64_t end,
                     bool value)
{
  uint64_t near, f;

  end = min_u64 (end, bm->nbits);
  if (!bm->map || !value || start >= end || end - start < HOLE_SKIP_BITS)
    return bitmap_scan (bm, start, end, value);
  /* The rest of START's block first, in memory: a set bit close by (a
   * map of many small runs) costs no system call. */
  near = min_u64 (end, (start / (BITMAP_BLOCK * 8) + 1) * BITMAP_BLOCK * 8);
  if ((f = bitmap_scan (bm, start, near, true)) < near || near == end)
    return f;
  return bitmap_map_find_set (bm, near, end);
}

uint64_t
bitmap_scan (const struct bitmap *bm, uint64_t start, uint64_t end,
             bool value)
{
  uint64_t flip = value ? 0 : ~UINT64_C (0);
  uint64_t w, last, word, found;

  end = min_u64 (end, bm->nbits);
  if (start >= end)
    return end;
  w = start / 64;
  last = (end - 1) / 64;              /* the word holding the last bit */
  /* Look for a 1 in (word ^ flip), ignoring bits below START. */
  word = (le64_load (bm->bytes + w * 8) ^ flip) & (~UINT64_C (0) << (start % 64));
  while (word == 0) {
    if (++w > last)
      return end;
    word = le64_load (bm->bytes + w * 8) ^ flip;
  }
  found = w * 64 + (uint64_t) __builtin_ctzll (word);
  return found < end ? found : end;
}

uint64_t
bitmap_find (const struct bitmap *bm, uint64_t start, bool value)
{
  return bitmap_find_bounded (bm, start, bm->nbits, value);
}

uint64_t
bitmap_count_range (const struct bitmap *bm, uint64_t start, uint64_t end)
{
  uint64_t n = 0, w, last, word;

  end = min_u64 (end, bm->nbits);
  if (start >= end)
    return 0;
  w = start / 64;
  last = (end - 1) / 64;
  for (; w <= last; w++) {
    word = le64_load (bm->bytes + w * 8);
    if (w == start / 64)
      word &= ~UINT64_C (0) << (start % 64);
    if (w == last && end % 64)
      word &= ~(~UINT64_C (0) << (end % 64));
    n += (uint64_t) __builtin_popcountll (word);
  }
  return n;
}

uint64_t
bitmap_count (const struct bitmap *bm)
{
  if (bm->map)
    return bitmap_map_count (bm);
  return bitmap_count_range (bm, 0, bm->nbits);
}

unsigned
bitmap_stray_bits (const struct bitmap *bm)
{
  unsigned rem = bm->nbits % 8;

  if (rem == 0)
    return 0;
  return (unsigned) __builtin_popcount (bm->bytes[bm->nbytes - 1] >> rem);
}

void
bitmap_clear_stray_bits (struct bitmap *bm)
{
  unsigned rem = bm->nbits % 8;

  if (rem) {
    bm->bytes[bm->nbytes - 1] &= (uint8_t) ((1u << rem) - 1);
    mark_dirty (bm, bm->nbits - 1, 1);
  }
}

void
bitmap_clear_dirty (struct bitmap *bm)
{
  if (bm->nblocks)
    memset (bm->dirty, 0, bm->nblocks);
  bm->any_dirty = false;
}
