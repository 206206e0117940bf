/*
 * rewrite.c - changing the header of an open image in place (rebase,
 * flatten): the backing name, its format and the compat bits.
 *
 * The header is rewritten in the same file (spec 7a), so the add-cow file
 * keeps its inode, owner, mode, ACLs, xattrs and hard links, and no write
 * permission on its directory is needed.  Only a write within one 512-byte
 * sector is assumed atomic; larger ones may tear.  The names are found
 * through the offset fields of the fixed 76-byte header, so:
 *
 *   1. the new backing name goes into bytes of the name area that no
 *      current name covers; sync;
 *   2. the fixed 76 bytes (offsets, sizes, formats, compat bits) are
 *      written in one write, inside sector 0; sync;
 *   3. the name area outside the new names is zeroed: the old backing
 *      name, and leaks an earlier crashed rewrite left; sync.
 *
 * A crash before step 2 reaches the disk leaves the old header, after it
 * the new one; either way the only damage is non-zero bytes outside every
 * name, a leak that check reports and check -r leaks clears.  The image
 * name never moves; a backing name that does not change keeps its place.
 * The header size, and so the bitmap's place, never changes: where the new
 * name does not fit beside the current ones the rewrite is refused before
 * anything is written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A range of bytes of the name area. */
struct span {
  uint32_t off, len;
};

static bool
spans_overlap (uint32_t off, uint32_t len, const struct span *s)
{
  return s->len && off < s->off + s->len && s->off < off + len;
}

/* The first offset >= 76 where LEN bytes fit below HEADER_SIZE without
 * touching any of the N spans AVOID; 0 if there is none. */
static uint32_t
find_room (uint32_t header_size, const struct span *avoid, size_t n,
           uint32_t len)
{
  uint32_t off = ADDCOW_FIXED_HEADER_SIZE;
  size_t i;

  for (i = 0; i < n; i++)
    if (spans_overlap (off, len, &avoid[i])) {
      off = avoid[i].off + avoid[i].len;  /* past it, and look again */
      i = (size_t) -1;
    }
  return (uint64_t) off + len <= header_size ? off : 0;
}

/* The header IMG gets: its own with the backing name BACKING_NAME (NULL:
 * none) of format BACKING_FMT and compat | SET_COMPAT.  H is zeroed
 * first and must be freed (header_free) in every case. */
static int
plan_header (const struct addcow *img, const char *backing_name,
             const char *backing_fmt, uint64_t set_compat, struct header *h)
{
  const struct header *old = &img->hdr;
  struct span avoid[2] = {
    { old->image_name_offset, old->image_name_size },
    { old->backing_name_offset, old->backing_name_size },
  };
  size_t len = backing_name ? strlen (backing_name) : 0;

  memset (h, 0, sizeof *h);
  h->cluster_bits = old->cluster_bits;
  h->features = old->features;
  h->compat_features = old->compat_features | set_compat;
  h->header_size = old->header_size;
  h->padding_dirty = old->padding_dirty;
  memcpy (h->image_fmt, old->image_fmt, ADDCOW_FMT_FIELD_SIZE);
  h->image_name_offset = old->image_name_offset;
  h->image_name_size = old->image_name_size;
  h->image_name = strdup (old->image_name);
  if (!h->image_name)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  if (!backing_name)
    return 0;
  if (!backing_fmt || strlen (backing_fmt) >= ADDCOW_FMT_FIELD_SIZE)
    return set_error (EINVAL, "%s: bad backing format", img->filename);
  strcpy (h->backing_fmt, backing_fmt);
  h->backing_name = strdup (backing_name);
  if (!h->backing_name)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  h->backing_name_size = (uint32_t) len;
  if (old->backing_name && strcmp (old->backing_name, backing_name) == 0)
    h->backing_name_offset = old->backing_name_offset;  /* stays put */
  else if (len == 0 || len >= old->header_size
           || !(h->backing_name_offset = find_room (old->header_size, avoid,
                                                    2, (uint32_t) len)))
    return set_error (ENAMETOOLONG, "%s: the new backing name (%zu bytes) "
                      "does not fit beside the current names in the "
                      "%u-byte header", img->filename, len,
                      old->header_size);
  return 0;
}

int
image_header_fits (const struct addcow *img, const char *backing_name,
                   const char *backing_fmt)
{
  struct header h;
  int r = plan_header (img, backing_name, backing_fmt, 0, &h);

  header_free (&h);
  return r;
}

/* Write COUNT bytes at OFFSET of the add-cow file and sync it. */
static int
write_synced (struct addcow *img, const void *buf, size_t count,
              uint64_t offset)
{
  int r = io_write (&img->io, img->meta.fd, buf, count, offset);

  return r < 0 ? r : io_sync (&img->io, img->meta.fd);
}

/* Step 3: zero the name area outside the new names (BUF reads as zeros
 * there): the old name's bytes, and leaks a crashed rewrite left. */
static int
zero_gaps (struct addcow *img, const struct header *h, uint8_t *buf)
{
  struct span names[2] = {
    { h->image_name_offset, h->image_name_size },
    { h->backing_name_offset, h->backing_name_size },
  };
  uint32_t off = ADDCOW_FIXED_HEADER_SIZE, end;
  size_t i;
  int r;

  if (names[1].len && names[1].off < names[0].off) {
    struct span t = names[0];
    names[0] = names[1];
    names[1] = t;
  }
  for (i = 0; i < 3; i++) {           /* before, between, after them */
    if (i < 2 && !names[i].len)
      continue;
    end = i < 2 ? names[i].off : h->header_size;
    if (end > off
        && (r = io_write (&img->io, img->meta.fd, buf + off, end - off,
                          off)) < 0)
      return r;
    if (i < 2)
      off = names[i].off + names[i].len;
  }
  return io_sync (&img->io, img->meta.fd);
}

/* Steps 1-3 of the top comment.  BUF holds the new header encoded. */
static int
write_steps (struct addcow *img, const struct header *h, uint8_t *buf)
{
  const struct header *old = &img->hdr;
  bool moved = h->backing_name_size
               && h->backing_name_offset != old->backing_name_offset;
  bool dropped = old->backing_name_size
                 && h->backing_name_offset != old->backing_name_offset;
  int r;

  if (moved
      && (r = write_synced (img, buf + h->backing_name_offset,
                            h->backing_name_size,
                            h->backing_name_offset)) < 0)
    return r;
  if ((r = write_synced (img, buf, ADDCOW_FIXED_HEADER_SIZE, 0)) < 0)
    return r;
  if (dropped || old->padding_dirty)
    return zero_gaps (img, h, buf);
  return 0;
}

/* The handle now describes the new header. */
static int
adopt (struct addcow *img, struct header *h)
{
  header_free (&img->hdr);
  img->hdr = *h;
  memset (h, 0, sizeof *h);
  /* The handle's layer points into the header. */
  img->self.backing_name = img->hdr.backing_name;
  img->self.backing_format = img->hdr.backing_name ? img->hdr.backing_fmt
                                                   : NULL;
  if (img->hdr.compat_features & ADDCOW_COMPAT_ALL_ALLOCATED)
    img->all_allocated = true;
  if (img->bm.bytes)
    bitmap_clear_dirty (&img->bm);
  free (img->backing_path);
  img->backing_path = NULL;
  if (img->hdr.backing_name
      && !(img->backing_path = path_resolve (img->filename,
                                             img->hdr.backing_name)))
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  return 0;
}

int
image_rewrite_header (struct addcow *img, const char *backing_name,
                      const char *backing_fmt, uint64_t set_compat)
{
  struct header h;
  uint8_t *buf = NULL;
  int r;

  if ((r = plan_header (img, backing_name, backing_fmt, set_compat, &h)) < 0)
    goto out;
  buf = malloc (h.header_size);
  if (!buf) {
    r = set_error (ENOMEM, "%s: out of memory", img->filename);
    goto out;
  }
  header_encode (&h, buf);
  if ((r = write_steps (img, &h, buf)) < 0) {
    r = set_error (-r, "%s: could not rewrite the header: %s",
                   img->filename, strerror (-r));
    goto out;
  }
  h.padding_dirty = 0;
  r = adopt (img, &h);
 out:
  free (buf);
  header_free (&h);
  return r;
}
