/*
 * header.c - the add-cow header: decode, validate, encode.  Pure: no I/O.
 *
 * Every field is read through le32_load/le64_load and checked before use;
 * name ranges are checked with 64-bit arithmetic so offset + size cannot
 * wrap.  Problems go to a struct problems, which either refuses the image
 * (open) or collects them (check).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"
#include "util/le.h"

/* Byte offsets of the fixed fields. */
enum {
  OFF_MAGIC = 0,
  OFF_BACKING_NAME_OFFSET = 4,
  OFF_BACKING_NAME_SIZE = 8,
  OFF_IMAGE_NAME_OFFSET = 12,
  OFF_IMAGE_NAME_SIZE = 16,
  OFF_CLUSTER_BITS = 20,
  OFF_FEATURES = 24,
  OFF_COMPAT_FEATURES = 32,
  OFF_HEADER_SIZE = 40,
  OFF_BACKING_FMT = 44,
  OFF_IMAGE_FMT = 60,
};

int
header_decode_fixed (const uint8_t *buf, size_t len, uint64_t file_size,
                     struct header *h, const char *file, struct problems *p)
{
  int r;

  memset (h, 0, sizeof *h);
  if (len < ADDCOW_FIXED_HEADER_SIZE
      || memcmp (buf + OFF_MAGIC, ADDCOW_MAGIC, 4) != 0)
    return set_error (EINVAL, "%s: not an add-cow image (bad magic)", file);

  h->backing_name_offset = le32_load (buf + OFF_BACKING_NAME_OFFSET);
  h->backing_name_size = le32_load (buf + OFF_BACKING_NAME_SIZE);
  h->image_name_offset = le32_load (buf + OFF_IMAGE_NAME_OFFSET);
  h->image_name_size = le32_load (buf + OFF_IMAGE_NAME_SIZE);
  h->cluster_bits = le32_load (buf + OFF_CLUSTER_BITS);
  h->features = le64_load (buf + OFF_FEATURES);
  h->compat_features = le64_load (buf + OFF_COMPAT_FEATURES);
  h->header_size = le32_load (buf + OFF_HEADER_SIZE);
  memcpy (h->backing_fmt, buf + OFF_BACKING_FMT, ADDCOW_FMT_FIELD_SIZE);
  memcpy (h->image_fmt, buf + OFF_IMAGE_FMT, ADDCOW_FMT_FIELD_SIZE);

  if (h->features != 0)
    return set_error (ENOTSUP, "%s: unsupported incompatible features "
                      "0x%llx", file, (unsigned long long) h->features);

  if (h->header_size < ADDCOW_MIN_HEADER_SIZE
      || h->header_size > ADDCOW_MAX_HEADER_SIZE
      || h->header_size % 4096 != 0) {
    r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                 "header_size %u is not a multiple of 4096 from 4096 to "
                 "2 MiB", h->header_size);
    return r < 0 ? r : 1;
  }
  if (h->header_size > file_size) {
    r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                 "file is %llu bytes, shorter than its header_size %u",
                 (unsigned long long) file_size, h->header_size);
    return r < 0 ? r : 1;
  }
  return 0;
}

/* Check one name range; on success copy the name into *OUT. */
static int
decode_name (const uint8_t *buf, const struct header *h, uint32_t offset,
             uint32_t size, const char *what, char **out, const char *file,
             struct problems *p)
{
  uint64_t end = (uint64_t) offset + size;

  *out = NULL;
  if (size == 0)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                    "%s_name_size is 0", what);
  if (offset < ADDCOW_FIXED_HEADER_SIZE || end > h->header_size)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                    "%s name (offset %u, size %u) lies outside the name "
                    "area (76 to %u)", what, offset, size, h->header_size);
  if (memchr (buf + offset, 0, size))
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                    "%s name contains a NUL byte", what);
  *out = strndup ((const char *) buf + offset, size);
  if (!*out)
    return set_error (ENOMEM, "%s: out of memory", file);
  return 0;
}

/* A format field: NUL-terminated within 16 bytes, zero-padded. */
static int
check_fmt (const char *fmt, const char *what, const char *file,
           struct problems *p)
{
  const char *nul = memchr (fmt, 0, ADDCOW_FMT_FIELD_SIZE);
  size_t i;

  if (!nul)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                    "%s is not NUL-terminated", what);
  for (i = (size_t) (nul - fmt); i < ADDCOW_FMT_FIELD_SIZE; i++)
    if (fmt[i] != 0)
      return problem (p, ADDCOW_PROBLEM_LEAK, file,
                      "%s has non-zero bytes after its terminator", what);
  return 0;
}

static bool
ranges_overlap (uint32_t a_off, uint32_t a_size, uint32_t b_off,
                uint32_t b_size)
{
  uint64_t a_end = (uint64_t) a_off + a_size, b_end = (uint64_t) b_off + b_size;
  return a_off < b_end && b_off < a_end;
}

static bool
in_range (uint64_t i, uint32_t off, uint32_t size)
{
  return size > 0 && i >= off && i < (uint64_t) off + size;
}

/* Count non-zero bytes of the name area that no name covers. */
static uint64_t
count_padding (const uint8_t *buf, const struct header *h)
{
  uint64_t i, n = 0;

  for (i = ADDCOW_FIXED_HEADER_SIZE; i < h->header_size; i++)
    if (buf[i] && !in_range (i, h->image_name_offset, h->image_name_size)
        && !in_range (i, h->backing_name_offset, h->backing_name_size))
      n++;
  return n;
}

static int
decode_backing (const uint8_t *buf, struct header *h, const char *file,
                struct problems *p)
{
  bool has_fmt = h->backing_fmt[0] != 0;
  int r;

  if (h->backing_name_offset == 0) {
    if (h->backing_name_size != 0)
      return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                      "backing_name_size is %u without a backing name",
                      h->backing_name_size);
    if (has_fmt)
      return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                      "backing_fmt is set without a backing file");
    return 0;
  }
  r = decode_name (buf, h, h->backing_name_offset, h->backing_name_size,
                   "backing", &h->backing_name, file, p);
  if (r < 0)
    return r;
  if (!has_fmt)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                    "backing_fmt is empty but a backing file is named");
  return 0;
}

static int set_fmt (char field[ADDCOW_FMT_FIELD_SIZE], const char *fmt);

int
header_decode_names (const uint8_t *buf, struct header *h, const char *file,
                     struct problems *p)
{
  int r;

  if (h->cluster_bits < ADDCOW_MIN_CLUSTER_BITS
      || h->cluster_bits > ADDCOW_MAX_CLUSTER_BITS)
    if ((r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                      "cluster_bits %u is outside 12..21",
                      h->cluster_bits)) < 0)
      return r;
  if ((r = check_fmt (h->backing_fmt, "backing_fmt", file, p)) < 0
      || (r = check_fmt (h->image_fmt, "image_fmt", file, p)) < 0)
    return r;
  /* From here on the format fields are strings, cleanly zero-padded (so
   * that header_encode writes them back without stray bytes). */
  h->backing_fmt[ADDCOW_FMT_FIELD_SIZE - 1] = 0;
  h->image_fmt[ADDCOW_FMT_FIELD_SIZE - 1] = 0;
  set_fmt (h->backing_fmt, h->backing_fmt);
  set_fmt (h->image_fmt, h->image_fmt);

  if (h->image_fmt[0] == 0)
    r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file, "image_fmt is empty");
  else if (strcmp (h->image_fmt, "raw") != 0)
    r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                 "unsupported image format '%s' (only raw)", h->image_fmt);
  if (r < 0)
    return r;

  if ((r = decode_name (buf, h, h->image_name_offset, h->image_name_size,
                        "image", &h->image_name, file, p)) < 0
      || (r = decode_backing (buf, h, file, p)) < 0)
    return r;

  if (h->backing_name_offset != 0
      && ranges_overlap (h->image_name_offset, h->image_name_size,
                         h->backing_name_offset, h->backing_name_size))
    if ((r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                      "the image and backing names overlap")) < 0)
      return r;
  if (h->image_name && h->backing_name
      && strcmp (h->image_name, h->backing_name) == 0)
    if ((r = problem (p, ADDCOW_PROBLEM_CORRUPTION, file,
                      "image file and backing file have the same name "
                      "'%s'", h->image_name)) < 0)
      return r;

  h->padding_dirty = count_padding (buf, h);
  if (h->padding_dirty)
    return problem (p, ADDCOW_PROBLEM_LEAK, file,
                    "%llu non-zero bytes in the header padding",
                    (unsigned long long) h->padding_dirty);
  return 0;
}

static void
store_name (uint8_t *buf, uint32_t offset, uint32_t size, const char *name)
{
  if (name && size)
    memcpy (buf + offset, name, size);
}

void
header_encode (const struct header *h, uint8_t *buf)
{
  memset (buf, 0, h->header_size);
  memcpy (buf + OFF_MAGIC, ADDCOW_MAGIC, 4);
  le32_store (buf + OFF_BACKING_NAME_OFFSET, h->backing_name_offset);
  le32_store (buf + OFF_BACKING_NAME_SIZE, h->backing_name_size);
  le32_store (buf + OFF_IMAGE_NAME_OFFSET, h->image_name_offset);
  le32_store (buf + OFF_IMAGE_NAME_SIZE, h->image_name_size);
  le32_store (buf + OFF_CLUSTER_BITS, h->cluster_bits);
  le64_store (buf + OFF_FEATURES, h->features);
  le64_store (buf + OFF_COMPAT_FEATURES, h->compat_features);
  le32_store (buf + OFF_HEADER_SIZE, h->header_size);
  memcpy (buf + OFF_BACKING_FMT, h->backing_fmt, ADDCOW_FMT_FIELD_SIZE);
  memcpy (buf + OFF_IMAGE_FMT, h->image_fmt, ADDCOW_FMT_FIELD_SIZE);
  store_name (buf, h->backing_name_offset, h->backing_name_size,
              h->backing_name);
  store_name (buf, h->image_name_offset, h->image_name_size, h->image_name);
}

/* FIELD = FMT, zero-padded.  FMT may be FIELD itself. */
static int
set_fmt (char field[ADDCOW_FMT_FIELD_SIZE], const char *fmt)
{
  char tmp[ADDCOW_FMT_FIELD_SIZE] = { 0 };

  if (fmt && strlen (fmt) >= ADDCOW_FMT_FIELD_SIZE)
    return -EINVAL;
  if (fmt)
    memcpy (tmp, fmt, strlen (fmt));
  memcpy (field, tmp, ADDCOW_FMT_FIELD_SIZE);
  return 0;
}

int
header_init (struct header *h, uint32_t cluster_bits, const char *image_name,
             const char *image_fmt, const char *backing_name,
             const char *backing_fmt)
{
  uint32_t cluster_size = UINT32_C (1) << cluster_bits;
  size_t blen = backing_name ? strlen (backing_name) : 0;
  size_t ilen = strlen (image_name);

  memset (h, 0, sizeof *h);
  h->cluster_bits = cluster_bits;
  h->header_size = cluster_size > 4096 ? cluster_size : 4096;
  if (ilen == 0 || blen > h->header_size || ilen > h->header_size
      || ADDCOW_FIXED_HEADER_SIZE + blen + ilen > h->header_size)
    return -ENAMETOOLONG;
  if (set_fmt (h->image_fmt, image_fmt) < 0
      || set_fmt (h->backing_fmt, backing_name ? backing_fmt : NULL) < 0)
    return -EINVAL;
  if (blen) {
    h->backing_name_offset = ADDCOW_FIXED_HEADER_SIZE;
    h->backing_name_size = (uint32_t) blen;
    h->backing_name = strdup (backing_name);
  }
  h->image_name_offset = ADDCOW_FIXED_HEADER_SIZE + (uint32_t) blen;
  h->image_name_size = (uint32_t) ilen;
  h->image_name = strdup (image_name);
  if (!h->image_name || (blen && !h->backing_name)) {
    header_free (h);
    return -ENOMEM;
  }
  return 0;
}

void
header_free (struct header *h)
{
  free (h->backing_name);
  free (h->image_name);
  h->backing_name = h->image_name = NULL;
}
