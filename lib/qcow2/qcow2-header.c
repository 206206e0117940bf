/*
 * qcow2-header.c - the qcow2 header and its extensions: decode and
 * validate.  Pure: no I/O.
 *
 * What is checked is what the read-only driver relies on: the version,
 * the cluster size, the features it must understand (refusing encryption,
 * the corrupt bit and unknown incompatible bits), the L1 table (aligned,
 * inside the file, covering the virtual size, at most qemu's 32 MiB), the
 * extensions (each inside the header cluster) and the backing file name.
 * Refcounts, snapshots and bitmaps are never used, so their fields are
 * not looked at: a read-only reader does not need them to be sound; the
 * refcount width is only copied, for info to show (unchecked: qemu
 * refuses a width above 64 bits, a reader does not need it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "qcow2.h"

/* Byte offsets of the header fields. */
enum {
  OFF_VERSION = 4,
  OFF_BACKING_OFFSET = 8,
  OFF_BACKING_SIZE = 16,
  OFF_CLUSTER_BITS = 20,
  OFF_SIZE = 24,
  OFF_CRYPT = 32,
  OFF_L1_SIZE = 36,
  OFF_L1_OFFSET = 40,
  OFF_INCOMPAT = 72,
  OFF_COMPAT = 80,
  OFF_AUTOCLEAR = 88,
  OFF_REFCOUNT_ORDER = 96,
  OFF_HEADER_LENGTH = 100,
  OFF_COMPRESSION = 104,
};

/* Header extension types. */
#define EXT_END 0x00000000u
#define EXT_BACKING_FMT 0xe2792acau
#define EXT_DATA_FILE 0x44415441u

int
qcow2_header_peek (const uint8_t *buf, size_t len, const char *file,
                   uint32_t *cluster_bits)
{
  uint32_t version;

  if (len < 4 || memcmp (buf, QCOW2_MAGIC, 4) != 0)
    return set_error (EINVAL, "%s: not a qcow2 image (bad magic)", file);
  if (len < QCOW2_V2_HEADER_LENGTH)
    return set_error (EINVAL, "%s: the file is too short for a qcow2 "
                      "header", file);
  version = be32_load (buf + OFF_VERSION);
  if (version != 2 && version != 3)
    return set_error (ENOTSUP, "%s: unsupported qcow2 version %u", file,
                      version);
  *cluster_bits = be32_load (buf + OFF_CLUSTER_BITS);
  if (*cluster_bits < QCOW2_MIN_CLUSTER_BITS
      || *cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return set_error (EINVAL, "%s: invalid cluster_bits %u (must be %d to "
                      "%d)", file, *cluster_bits, QCOW2_MIN_CLUSTER_BITS,
                      QCOW2_MAX_CLUSTER_BITS);
  return 0;
}

static int
decode_features (const uint8_t *buf, const char *file, struct qcow2_header *h)
{
  uint64_t unknown;

  if (h->version == 2)
    return 0;
  h->incompatible = be64_load (buf + OFF_INCOMPAT);
  h->compatible = be64_load (buf + OFF_COMPAT);
  h->autoclear = be64_load (buf + OFF_AUTOCLEAR);
  if (h->incompatible & QCOW2_INCOMPAT_CORRUPT)
    return set_error (EINVAL, "%s: the image is marked corrupt (repair it "
                      "with 'qemu-img check -r all')", file);
  unknown = h->incompatible & ~QCOW2_INCOMPAT_KNOWN;
  if (unknown)
    return set_error (ENOTSUP, "%s: unsupported qcow2 incompatible "
                      "features 0x%llx", file, (unsigned long long) unknown);
  h->extended_l2 = h->incompatible & QCOW2_INCOMPAT_EXTL2;
  if (h->extended_l2 && h->cluster_bits < 14)
    return set_error (EINVAL, "%s: extended L2 entries need clusters of at "
                      "least 16 KiB (cluster_bits %u)", file,
                      h->cluster_bits);
  h->data_file_raw = h->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW;
  if (h->data_file_raw && !(h->incompatible & QCOW2_INCOMPAT_DATA_FILE))
    return set_error (EINVAL, "%s: data_file_raw is set without an external "
                      "data file", file);
  return 0;
}

static int
decode_lengths (const uint8_t *buf, size_t len, const char *file,
                struct qcow2_header *h)
{
  uint32_t cluster_size = UINT32_C (1) << h->cluster_bits;
  uint32_t type;

  if (h->version == 2) {
    h->header_length = QCOW2_V2_HEADER_LENGTH;
    h->refcount_order = 4;
    return 0;
  }
  h->refcount_order = be32_load (buf + OFF_REFCOUNT_ORDER); /* any */
  h->header_length = be32_load (buf + OFF_HEADER_LENGTH);
  if (h->header_length < QCOW2_V3_HEADER_LENGTH
      || h->header_length % 8 != 0 || h->header_length > cluster_size
      || h->header_length > len)
    return set_error (EINVAL, "%s: invalid header_length %u", file,
                      h->header_length);
  type = h->header_length > OFF_COMPRESSION ? buf[OFF_COMPRESSION] : 0;
  if (h->incompatible & QCOW2_INCOMPAT_COMPRESSION) {
    if (type == 0)
      return set_error (EINVAL, "%s: the compression type bit is set but "
                        "compression_type is zlib", file);
    if (type != QCOW2_ZSTD)
      return set_error (ENOTSUP, "%s: unsupported compression_type %u",
                        file, type);
  }
  else if (type != 0)
    return set_error (EINVAL, "%s: compression_type %u without the "
                      "compression type bit", file, type);
  h->compression = type;
  return 0;
}

/* The L1 table must cover the virtual size and lie inside the file. */
static int
decode_l1 (const uint8_t *buf, uint64_t file_size, const char *file,
           struct qcow2_header *h)
{
  uint64_t cluster_size = UINT64_C (1) << h->cluster_bits;
  uint64_t l2_entries = cluster_size / (h->extended_l2 ? 16 : 8);
  uint64_t per_l1 = l2_entries * cluster_size;  /* <= 2^39 */
  uint64_t needed, end;

  h->size = be64_load (buf + OFF_SIZE);
  h->l1_size = be32_load (buf + OFF_L1_SIZE);
  h->l1_table_offset = be64_load (buf + OFF_L1_OFFSET);
  if (h->size > INT64_MAX)
    return set_error (EINVAL, "%s: invalid virtual size %llu", file,
                      (unsigned long long) h->size);
  needed = div_round_up (h->size, per_l1);
  if (h->l1_size > QCOW2_MAX_L1_ENTRIES)
    return set_error (EINVAL, "%s: the L1 table is too large (%u entries)",
                      file, h->l1_size);
  if (h->l1_size < needed)
    return set_error (EINVAL, "%s: the L1 table (%u entries) is too small "
                      "for the virtual size %llu", file, h->l1_size,
                      (unsigned long long) h->size);
  if (h->l1_size == 0)
    return 0;
  if (h->l1_table_offset % cluster_size != 0 || h->l1_table_offset == 0)
    return set_error (EINVAL, "%s: invalid L1 table offset 0x%llx", file,
                      (unsigned long long) h->l1_table_offset);
  if (!checked_add (h->l1_table_offset, (uint64_t) h->l1_size * 8, &end)
      || end > file_size)
    return set_error (EINVAL, "%s: the L1 table (%u entries at 0x%llx) "
                      "lies past the end of the file", file, h->l1_size,
                      (unsigned long long) h->l1_table_offset);
  return 0;
}

/* A string extension: LEN bytes of DATA, no NUL inside. */
static int
ext_string (const uint8_t *data, uint32_t len, size_t max, const char *file,
            const char *what, char **out)
{
  if (*out)
    return set_error (EINVAL, "%s: the %s extension appears twice", file,
                      what);
  if (len == 0 || len > max || memchr (data, 0, len))
    return set_error (EINVAL, "%s: invalid %s extension (length %u)", file,
                      what, len);
  *out = malloc (len + 1);
  if (!*out)
    return set_error (ENOMEM, "%s: out of memory", file);
  memcpy (*out, data, len);
  (*out)[len] = 0;
  return 0;
}

/* Walk the extensions in [header_length, end). */
static int
decode_extensions (const uint8_t *buf, uint32_t end, const char *file,
                   struct qcow2_header *h)
{
  uint32_t pos = h->header_length;
  char *fmt = NULL;
  int r = 0;

  while (r == 0 && end - pos >= 8) {
    uint32_t type = be32_load (buf + pos);
    uint32_t len = be32_load (buf + pos + 4);
    uint32_t padded = (uint32_t) (((uint64_t) len + 7) & ~UINT64_C (7));

    if (type == EXT_END)
      break;
    pos += 8;
    if (len > end - pos || padded > end - pos) {
      r = set_error (EINVAL, "%s: header extension 0x%08x (length %u) runs "
                     "past the header", file, type, len);
      break;
    }
    if (type == EXT_BACKING_FMT)
      r = ext_string (buf + pos, len, QCOW2_FMT_MAX, file,
                      "backing format", &fmt);
    else if (type == EXT_DATA_FILE)
      r = ext_string (buf + pos, len, 4095, file, "data file name",
                      &h->data_file);
    pos += padded;
  }
  if (r == 0 && fmt)
    strcpy (h->backing_fmt, fmt);       /* <= QCOW2_FMT_MAX */
  free (fmt);
  if (!(h->incompatible & QCOW2_INCOMPAT_DATA_FILE)) {
    free (h->data_file);                /* named but not used */
    h->data_file = NULL;
  }
  return r;
}

static int
decode_backing (const uint8_t *buf, uint32_t cluster_size, uint64_t file_size,
                const char *file, struct qcow2_header *h, uint32_t *ext_end)
{
  uint64_t offset = be64_load (buf + OFF_BACKING_OFFSET);
  uint32_t size = be32_load (buf + OFF_BACKING_SIZE);

  *ext_end = cluster_size;
  if (offset == 0 || size == 0)
    return 0;
  if (size > QCOW2_MAX_NAME)
    return set_error (EINVAL, "%s: the backing file name is too long (%u "
                      "bytes)", file, size);
  if (offset < h->header_length || offset > cluster_size - size
      || offset + size > file_size)
    return set_error (EINVAL, "%s: the backing file name (%u bytes at "
                      "0x%llx) lies outside the header cluster", file, size,
                      (unsigned long long) offset);
  if (memchr (buf + offset, 0, size))
    return set_error (EINVAL, "%s: the backing file name contains a NUL "
                      "byte", file);
  h->backing_name = malloc (size + 1);
  if (!h->backing_name)
    return set_error (ENOMEM, "%s: out of memory", file);
  memcpy (h->backing_name, buf + offset, size);
  h->backing_name[size] = 0;
  *ext_end = (uint32_t) offset;         /* the name follows the extensions */
  return 0;
}

/* The rules that tie fields of different places together. */
static int
check_consistency (const char *file, const struct qcow2_header *h)
{
  bool data_file = h->incompatible & QCOW2_INCOMPAT_DATA_FILE;

  if (data_file && !h->data_file)
    return set_error (EINVAL, "%s: the image uses an external data file but "
                      "does not name it", file);
  if (h->data_file_raw && h->backing_name)
    return set_error (EINVAL, "%s: a raw external data file cannot have a "
                      "backing file", file);
  if (h->backing_name && !h->backing_fmt[0])
    return set_error (EINVAL, "%s: backing file '%s' has no backing format "
                      "(probing it is unsafe); record it with 'qemu-img "
                      "rebase -u -b '%s' -F FMT %s'", file, h->backing_name,
                      h->backing_name, file);
  return 0;
}

int
qcow2_header_decode (const uint8_t *buf, size_t len, uint64_t file_size,
                     const char *file, struct qcow2_header *h)
{
  uint32_t cluster_size, crypt, ext_end, limit;
  int r;

  memset (h, 0, sizeof *h);
  if ((r = qcow2_header_peek (buf, len, file, &h->cluster_bits)) < 0)
    return r;
  h->version = be32_load (buf + OFF_VERSION);
  cluster_size = UINT32_C (1) << h->cluster_bits;
  if (h->version == 3 && len < QCOW2_V3_HEADER_LENGTH)
    return set_error (EINVAL, "%s: the file is too short for a qcow2 "
                      "version 3 header", file);
  crypt = be32_load (buf + OFF_CRYPT);
  if (crypt != 0)
    return set_error (ENOTSUP, "%s: encrypted qcow2 images are not "
                      "supported (crypt_method %u)", file, crypt);
  if ((r = decode_features (buf, file, h)) < 0
      || (r = decode_lengths (buf, len, file, h)) < 0
      || (r = decode_l1 (buf, file_size, file, h)) < 0)
    return r;
  limit = (uint32_t) min_u64 (len, cluster_size);
  if ((r = decode_backing (buf, limit, file_size, file, h, &ext_end)) < 0
      || (r = decode_extensions (buf, ext_end, file, h)) < 0
      || (r = check_consistency (file, h)) < 0)
    qcow2_header_free (h);
  return r;
}

void
qcow2_header_free (struct qcow2_header *h)
{
  free (h->backing_name);
  free (h->data_file);
  h->backing_name = h->data_file = NULL;
}
