/*
 * check.c - addcow_check: report every problem, and mend what can be
 * mended without guessing.
 *
 * The checks themselves are the validation that addcow_open runs (header,
 * image file, bitmap, backing chain), here in collecting mode.  Repairs
 * touch only metadata that no reader depends on:
 *   leaks: stray bits past the last cluster, non-zero header or bitmap
 *          padding, an add-cow file not padded to a whole cluster;
 *   all:   also a truncated bitmap, extended with zeros (those clusters
 *          then read from the backing file, as a missing bit means).
 * After repairing, the image is checked again: what is gone was fixed.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

static bool
in_name (const struct header *h, uint32_t i)
{
  return (i >= h->image_name_offset
          && i - h->image_name_offset < h->image_name_size)
    || (h->backing_name_offset && i >= h->backing_name_offset
        && i - h->backing_name_offset < h->backing_name_size);
}

/* Zero the header bytes no reader depends on: the name area outside both
 * names (only when both names decoded, so that a broken name is never
 * wiped) and what follows the terminator of each format field.  Nothing
 * else is touched, corrupted fields included, and only the bytes that
 * change are written, so that a torn write cannot hit a name.  *FIXED
 * tells whether anything changed. */
static int
repair_header (struct addcow *img, bool *fixed)
{
  const struct header *h = &img->hdr;
  uint32_t size = h->header_size, i, j;
  uint8_t *disk = malloc (size), *clean = malloc (size), *nul;
  static const uint32_t fmt_off[] = { 44, 60 };
  int r = -ENOMEM;

  *fixed = false;
  if (!disk || !clean)
    goto out;
  if ((r = io_read (&img->io, img->meta.fd, disk, size, 0)) < 0)
    goto out;
  memcpy (clean, disk, size);
  if (h->image_name && (!h->backing_name_offset || h->backing_name))
    for (i = ADDCOW_FIXED_HEADER_SIZE; i < size; i++)
      if (!in_name (h, i))
        clean[i] = 0;
  for (i = 0; i < 2; i++)
    if ((nul = memchr (clean + fmt_off[i], 0, ADDCOW_FMT_FIELD_SIZE)))
      memset (nul, 0, (size_t) (clean + fmt_off[i] + ADDCOW_FMT_FIELD_SIZE
                                - nul));
  for (i = 0; i < size && r == 0; i = j) {
    for (; i < size && disk[i] == clean[i]; i++)
      ;
    for (j = i; j < size && disk[j] != clean[j]; j++)
      ;
    if (j > i) {
      r = io_write (&img->io, img->meta.fd, clean + i, j - i, i);
      *fixed = true;
    }
  }
 out:
  free (disk);
  free (clean);
  return r;
}

/* Cut the file after the meaningful bitmap bytes and zero-pad it to a
 * whole cluster: clears junk in the padding, trailing bytes, and (repair
 * all) extends a truncated bitmap with zeros. */
static int
repair_length (struct addcow *img)
{
  uint64_t end = img->hdr.header_size + img->bm.nbytes;
  uint64_t padded = img->hdr.header_size
    + div_round_up (img->bm.nbytes, img->cluster_size) * img->cluster_size;
  int r = 0;

  if (img->meta.size > end)
    r = io_truncate (&img->io, img->meta.fd, end);
  if (r == 0)
    r = io_truncate (&img->io, img->meta.fd, padded);
  return r;
}

/* Does the file's tail need repair_length: not a whole cluster long, a
 * bitmap shorter than needed, or junk in the bitmap padding (counted when
 * the image was opened)? */
static bool
tail_needs_repair (const struct addcow *img)
{
  uint64_t padded = img->hdr.header_size
    + div_round_up (img->bm.nbytes, img->cluster_size) * img->cluster_size;

  return img->meta.size != padded || img->bm_padding_dirty != 0;
}

static int
repair (struct addcow *img, enum addcow_repair mode, struct problems *p)
{
  uint64_t need = img->hdr.header_size + img->bm.nbytes;
  bool fixed;
  int r = 0;

  if (p->leaks && img->hdr.header_size >= ADDCOW_MIN_HEADER_SIZE
      && img->hdr.header_size <= min_u64 (img->meta.size,
                                          ADDCOW_MAX_HEADER_SIZE)
      && (r = repair_header (img, &fixed)) == 0 && fixed)
    problem_fixed (p, ADDCOW_PROBLEM_LEAK, img->filename,
                   "header padding cleared");
  if (r < 0 || img->image.fd < 0 || img->all_allocated)
    goto sync;
  if (bitmap_stray_bits (&img->bm)) {
    bitmap_clear_stray_bits (&img->bm);
    if ((r = image_write_bitmap_blocks (img)) == 0)
      problem_fixed (p, ADDCOW_PROBLEM_LEAK, img->filename,
                     "bits past the last cluster cleared");
  }
  if (r == 0 && (img->meta.size >= need || mode == ADDCOW_REPAIR_ALL)
      && tail_needs_repair (img) && (r = repair_length (img)) == 0)
    problem_fixed (p, img->meta.size >= need ? ADDCOW_PROBLEM_LEAK
                   : ADDCOW_PROBLEM_CORRUPTION, img->filename,
                   "bitmap padded with zeros to a whole cluster");
 sync:
  if (r == 0)
    r = io_sync (&img->io, img->meta.fd);
  if (r < 0)
    return set_error (-r, "%s: repair failed: %s", img->filename,
                      strerror (-r));
  return 0;
}

/* One pass: open in collecting mode, fill RESULT, repair if asked. */
static int
check_pass (const char *path, const struct addcow_check_opts *opts,
            enum addcow_repair mode, bool quiet,
            struct addcow_check_result *result)
{
  struct problems p = { .collect = true };
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct chain_seen seen = { .n = 0 };
  struct addcow *img;
  int r;

  if (!quiet) {
    p.report = opts->report;
    p.opaque = opts->report_opaque;
  }
  oo.io = opts->io;
  oo.flags = mode != ADDCOW_REPAIR_NONE ? ADDCOW_OPEN_WRITE
             : opts->force_share ? ADDCOW_OPEN_FORCE_SHARE : 0;
  if ((r = image_open (path, &oo, &seen, &p, &img)) < 0)
    return r;
  memset (result, 0, sizeof *result);
  result->corruptions = p.corruptions;
  result->leaks = p.leaks;
  result->check_errors = (int) min_u64 (p.check_errors, INT_MAX);
  result->image_end_offset = img->meta.size;
  result->total_clusters = img->nb_clusters;
  if (img->image.fd >= 0)
    result->allocated_clusters = img->all_allocated ? img->nb_clusters
                                 : bitmap_count (&img->bm);
  if (mode != ADDCOW_REPAIR_NONE && (p.corruptions || p.leaks))
    r = repair (img, mode, &p);
  img->bm.any_dirty = false;    /* repair wrote what it changed */
  addcow_close (img);
  return r;
}

int
addcow_check (const char *path, const struct addcow_check_opts *opts,
              struct addcow_check_result *result)
{
  struct addcow_check_opts defaults = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result before;
  int r;

  if (!opts)
    opts = &defaults;
  if (!path || !result || opts->version != ADDCOW_CHECK_OPTS_VERSION)
    return set_error (EINVAL, "addcow_check: bad arguments");
  if ((r = check_pass (path, opts, opts->repair, false, &before)) < 0)
    return r;
  if (opts->repair == ADDCOW_REPAIR_NONE
      || (before.corruptions == 0 && before.leaks == 0)) {
    *result = before;
    return 0;
  }
  if ((r = check_pass (path, opts, ADDCOW_REPAIR_NONE, true, result)) < 0)
    return r;
  result->corruptions_fixed = before.corruptions > result->corruptions
                              ? before.corruptions - result->corruptions : 0;
  result->leaks_fixed = before.leaks > result->leaks
                        ? before.leaks - result->leaks : 0;
  return 0;
}
