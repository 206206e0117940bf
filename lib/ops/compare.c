/*
 * compare.c - addcow_compare: do two virtual disks hold the same bytes?
 *
 * qemu-img compare's rules.  The part both disks have is compared; then,
 * when the sizes differ, the rest of the larger disk must read as zeros.
 * Strict mode instead fails on a size difference, and on the first offset
 * where the block status (present, zero, data: what addcow_block_status
 * says, without the depth) differs.  A content mismatch is reported at the
 * first differing 512-byte sector, as qemu-img does.
 *
 * Where the bytes of a run come from is copy.c's layer_source: a file and
 * the offset in it, a layer to read through, or zeros.  Two runs read from
 * the same file (same device and inode) at the same offset - a shared
 * backing file - are equal without being read, and so are zeros against
 * zeros; only the rest is read, from where it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/checked.h"
#include "internal.h"

#define CMP_CHUNK (UINT64_C (1) << 20)  /* bytes read at a time per disk */
#define SECTOR 512u
#define STATUS_MASK \
  (ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_ZERO | ADDCOW_EXTENT_DATA)

struct cmp {
  struct addcow *img[2];
  uint8_t *buf[2];
  bool strict;
  struct progress prog;
  struct addcow_compare_result *res;
};

/* First sector of BUF (LEN bytes, at OFFSET of the disk) that is not all
 * zeros, or UINT64_MAX. */
static uint64_t
first_nonzero (const uint8_t *buf, uint64_t len, uint64_t offset)
{
  uint64_t i;

  if (len == 0 || (buf[0] == 0 && memcmp (buf, buf + 1, len - 1) == 0))
    return UINT64_MAX;
  for (i = 0; i < len; i++)
    if (buf[i])
      return (offset + i) / SECTOR * SECTOR;
  return UINT64_MAX;
}

static uint64_t
first_difference (const uint8_t *a, const uint8_t *b, uint64_t len,
                  uint64_t offset)
{
  uint64_t i;

  if (memcmp (a, b, len) == 0)
    return UINT64_MAX;
  for (i = 0; a[i] == b[i]; i++)
    ;
  return (offset + i) / SECTOR * SECTOR;
}

static int
read_source (struct cmp *c, int k, const struct source *s, uint64_t len,
             uint64_t offset)
{
  struct addcow *img = c->img[k];
  int r = source_read (s, &img->io, c->buf[k], (size_t) len, offset);

  if (r < 0)
    return set_error (-r, "%s: could not read at %llu: %s", img->filename,
                      (unsigned long long) offset, strerror (-r));
  c->res->bytes_read += len;
  return 0;
}

/* Compare [offset, offset+len) (len <= CMP_CHUNK) given its sources.
 * Sets the result on a mismatch. */
static int
compare_run (struct cmp *c, const struct source s[2], uint64_t len,
             uint64_t offset)
{
  bool zero[2] = { source_is_zero (&s[0]), source_is_zero (&s[1]) };
  uint64_t at;
  int r, k;

  if ((zero[0] && zero[1]) || sources_same_bytes (&s[0], &s[1]))
    return 0;                   /* zeros against zeros; one file's bytes */
  for (k = 0; k < 2; k++)
    if (!zero[k] && (r = read_source (c, k, &s[k], len, offset)) < 0)
      return r;
  if (!zero[0] && !zero[1])
    at = first_difference (c->buf[0], c->buf[1], len, offset);
  else
    at = first_nonzero (c->buf[zero[0] ? 1 : 0], len, offset);
  if (at != UINT64_MAX) {
    c->res->outcome = ADDCOW_COMPARE_CONTENT;
    c->res->offset = at;
  }
  return 0;
}

/* The length from OFFSET over which both block statuses stay the same
 * (strict mode), or a mismatch. */
static int
status_run (struct cmp *c, uint64_t offset, uint64_t max, uint64_t *len)
{
  struct addcow_extent e[2];
  int r, k;

  for (k = 0; k < 2; k++)
    if ((r = image_block_status (c->img[k], offset, max, &e[k])) < 0)
      return r;
  if ((e[0].flags & STATUS_MASK) != (e[1].flags & STATUS_MASK)) {
    c->res->outcome = ADDCOW_COMPARE_STATUS;
    c->res->offset = offset;
  }
  *len = min_u64 (e[0].length, e[1].length);
  return 0;
}

/* Compare [start, end) of both disks (a disk shorter than END reads
 * zeros past its end). */
static int
compare_range (struct cmp *c, uint64_t start, uint64_t end)
{
  struct source s[2];
  uint64_t pos = start, n, len;
  int r, k;

  while (pos < end && c->res->outcome == ADDCOW_COMPARE_IDENTICAL) {
    n = min_u64 (end - pos, CMP_CHUNK);
    if (c->strict && (r = status_run (c, pos, n, &n)) < 0)
      return r;
    if (c->res->outcome != ADDCOW_COMPARE_IDENTICAL)
      break;
    for (k = 0; k < 2; k++) {
      if ((r = layer_source (c->img[k]->top, pos, n, &s[k])) < 0)
        return r;
      n = min_u64 (n, s[k].len);
    }
    len = n;
    if ((r = compare_run (c, s, len, pos)) < 0)
      return r;
    pos += len;
    if ((r = progress_add (&c->prog, len, c->img[0]->filename)) < 0)
      return r;
  }
  return 0;
}

static int
check_opts (const struct addcow_compare_opts *o, struct addcow *a,
            struct addcow *b, struct addcow_compare_result *res)
{
  if (!a || !b || !res)
    return set_error (EINVAL, "addcow_compare: an image or the result is "
                      "NULL");
  if (o && (o->version < 1 || o->version > ADDCOW_COMPARE_OPTS_VERSION))
    return set_error (EINVAL, "addcow_compare: options of version %u "
                      "expected", (unsigned) ADDCOW_COMPARE_OPTS_VERSION);
  if (a->backing_error || b->backing_error)
    return set_error (EIO, "%s", a->backing_error ? a->backing_error
                      : b->backing_error);
  return 0;
}

int
addcow_compare (struct addcow *a, struct addcow *b,
                const struct addcow_compare_opts *opts,
                struct addcow_compare_result *res)
{
  struct addcow_compare_opts o = ADDCOW_COMPARE_OPTS_INIT;
  struct cmp c = { .img = { a, b }, .res = res };
  uint64_t common, larger;
  int r;

  if ((r = check_opts (opts, a, b, res)) < 0)
    return r;
  if (opts)
    o = *opts;
  memset (res, 0, sizeof *res);
  res->size_differs = a->virtual_size != b->virtual_size;
  if (o.strict && res->size_differs) {
    res->outcome = ADDCOW_COMPARE_SIZE;
    return 0;
  }
  common = min_u64 (a->virtual_size, b->virtual_size);
  larger = a->virtual_size > b->virtual_size ? a->virtual_size
                                             : b->virtual_size;
  c.strict = o.strict;
  progress_start (&c.prog, o.progress, o.progress_opaque, larger);
  c.buf[0] = malloc (CMP_CHUNK);
  c.buf[1] = malloc (CMP_CHUNK);
  if (!c.buf[0] || !c.buf[1])
    r = set_error (ENOMEM, "%s: out of memory", a->filename);
  else if ((r = compare_range (&c, 0, common)) == 0)
    r = compare_range (&c, common, larger);     /* the rest must be zeros */
  free (c.buf[0]);
  free (c.buf[1]);
  return r;
}
