/*
 * testutil.c - see testutil.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

char *
tu_mkdtemp (void)
{
  const char *tmp = getenv ("TMPDIR");
  char *dir;

  if (!tmp || !*tmp)
    tmp = "/tmp";
  ck_assert (asprintf (&dir, "%s/addcow-unit-XXXXXX", tmp) > 0);
  ck_assert_msg (mkdtemp (dir) != NULL, "mkdtemp: %s", strerror (errno));
  return dir;
}

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st; (void) ftw;
  return flag == FTW_DP ? rmdir (path) : unlink (path);
}

void
tu_rmtree (const char *dir)
{
  if (dir)
    nftw (dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
tu_join (const char *dir, const char *name)
{
  char *p;

  ck_assert (asprintf (&p, "%s/%s", dir, name) > 0);
  return p;
}

uint8_t
tu_pattern_byte (unsigned seed, uint64_t offset)
{
  uint64_t x = offset * UINT64_C (0x9E3779B97F4A7C15) + seed * 0x85EBCA6Bu;

  x ^= x >> 29;
  x *= UINT64_C (0xBF58476D1CE4E5B9);
  x ^= x >> 32;
  return (uint8_t) (x | 1);     /* never 0: zeros are always visible */
}

void
tu_fill (void *buf, size_t len, unsigned seed, uint64_t offset)
{
  uint8_t *p = buf;
  size_t i;

  for (i = 0; i < len; i++)
    p[i] = tu_pattern_byte (seed, offset + i);
}

void
tu_pwrite (const char *path, const void *buf, size_t len, uint64_t off)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

  ck_assert_msg (fd >= 0, "open %s: %s", path, strerror (errno));
  ck_assert_msg (pwrite (fd, buf, len, (off_t) off) == (ssize_t) len,
                 "pwrite %s: %s", path, strerror (errno));
  close (fd);
}

void
tu_write_file (const char *path, const void *buf, size_t len)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  ck_assert_msg (fd >= 0, "open %s: %s", path, strerror (errno));
  ck_assert_msg (len == 0 || write (fd, buf, len) == (ssize_t) len,
                 "write %s: %s", path, strerror (errno));
  close (fd);
}

void
tu_truncate (const char *path, uint64_t size)
{
  ck_assert_msg (truncate (path, (off_t) size) == 0, "truncate %s: %s",
                 path, strerror (errno));
}

void
tu_make_file (const char *path, uint64_t size, unsigned seed)
{
  uint8_t buf[65536];
  uint64_t off;

  tu_write_file (path, NULL, 0);
  tu_truncate (path, size);
  if (seed == 0)
    return;
  for (off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? (size_t) (size - off) : sizeof buf;
    tu_fill (buf, n, seed, off);
    tu_pwrite (path, buf, n, off);
  }
}

uint8_t *
tu_read_file (const char *path, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  uint8_t *buf;

  ck_assert_msg (fd >= 0, "open %s: %s", path, strerror (errno));
  ck_assert (fstat (fd, &st) == 0);
  buf = malloc ((size_t) st.st_size + 1);
  ck_assert (buf != NULL);
  ck_assert (pread (fd, buf, (size_t) st.st_size, 0) == st.st_size);
  close (fd);
  *len = (size_t) st.st_size;
  return buf;
}

uint64_t
tu_file_size (const char *path)
{
  struct stat st;

  ck_assert_msg (stat (path, &st) == 0, "stat %s: %s", path,
                 strerror (errno));
  return (uint64_t) st.st_size;
}

void
tu_copy_file (const char *from, const char *to)
{
  size_t len;
  uint8_t *buf = tu_read_file (from, &len);

  tu_write_file (to, buf, len);
  free (buf);
}

/* ---- raw headers ------------------------------------------------------ */

static void
st32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8);
  p[2] = (uint8_t) (v >> 16); p[3] = (uint8_t) (v >> 24);
}

static void
st64 (uint8_t *p, uint64_t v)
{
  st32 (p, (uint32_t) v);
  st32 (p + 4, (uint32_t) (v >> 32));
}

void
tu_hdr_init (struct tu_hdr *h, uint32_t cluster_bits, const char *image_name,
             const char *backing_name, const char *backing_fmt)
{
  uint32_t blen = backing_name ? (uint32_t) strlen (backing_name) : 0;

  memset (h, 0, sizeof *h);
  memcpy (h->magic, "ACOW", 4);
  h->cluster_bits = cluster_bits;
  h->header_size = cluster_bits > 12 ? UINT32_C (1) << cluster_bits : 4096;
  if (backing_name) {
    h->backing_name_offset = 76;
    h->backing_name_size = blen;
    h->backing_name = backing_name;
    strncpy (h->backing_fmt, backing_fmt ? backing_fmt : "raw", 15);
  }
  h->image_name_offset = 76 + blen;
  h->image_name_size = (uint32_t) strlen (image_name);
  h->image_name = image_name;
  strcpy (h->image_fmt, "raw");
  if (!backing_name)
    h->compat = ADDCOW_COMPAT_ALL_ALLOCATED;
}

static void
put_name (uint8_t *buf, size_t len, uint32_t off, uint32_t size,
          const char *name)
{
  size_t n;

  if (!name || off < 76 || off >= len)  /* never over the fixed fields */
    return;
  n = strlen (name);
  if (n > size)
    n = size;
  if (n > len - off)
    n = len - off;
  memcpy (buf + off, name, n);
}

void
tu_hdr_encode (const struct tu_hdr *h, uint8_t *buf, size_t len)
{
  uint8_t fixed[76];

  memset (buf, 0, len);
  memcpy (fixed, h->magic, 4);
  st32 (fixed + 4, h->backing_name_offset);
  st32 (fixed + 8, h->backing_name_size);
  st32 (fixed + 12, h->image_name_offset);
  st32 (fixed + 16, h->image_name_size);
  st32 (fixed + 20, h->cluster_bits);
  st64 (fixed + 24, h->features);
  st64 (fixed + 32, h->compat);
  st32 (fixed + 40, h->header_size);
  memcpy (fixed + 44, h->backing_fmt, 16);
  memcpy (fixed + 60, h->image_fmt, 16);
  memcpy (buf, fixed, len < 76 ? len : 76);
  put_name (buf, len, h->backing_name_offset, h->backing_name_size,
            h->backing_name);
  put_name (buf, len, h->image_name_offset, h->image_name_size,
            h->image_name);
}

void
tu_write_addcow (const char *path, const struct tu_hdr *h,
                 const uint8_t *bitmap, size_t nbytes, uint64_t file_size)
{
  size_t hlen = h->header_size;
  uint64_t cs;
  uint8_t *buf;

  if (hlen == 0 || hlen > (8u << 20))
    hlen = 4096;
  buf = malloc (hlen);
  ck_assert (buf != NULL);
  tu_hdr_encode (h, buf, hlen);
  tu_write_file (path, buf, hlen);
  free (buf);
  if (nbytes && bitmap)
    tu_pwrite (path, bitmap, nbytes, hlen);
  else if (nbytes)                      /* an all-zero bitmap */
    tu_truncate (path, hlen + nbytes);
  if (file_size == 0 && h->cluster_bits >= 12 && h->cluster_bits <= 21) {
    cs = UINT64_C (1) << h->cluster_bits;
    file_size = hlen + (nbytes + cs - 1) / cs * cs;
  }
  if (file_size)
    tu_truncate (path, file_size);
}

struct addcow *
tu_open (const char *path, bool write)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img = NULL;
  int r;

  o.flags = write ? ADDCOW_OPEN_WRITE : 0;
  r = addcow_open (path, &o, &img);
  ck_assert_msg (r == 0, "addcow_open %s: %d %s", path, r,
                 addcow_get_error ());
  ck_assert (img != NULL);
  return img;
}

void
tu_create (const char *path, const char *image_name, const char *backing_name,
           const char *backing_fmt, uint32_t cluster_size, uint64_t size)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  int r;

  o.image_name = image_name;
  o.backing_name = backing_name;
  o.backing_format = backing_name ? backing_fmt : NULL;
  o.cluster_size = cluster_size;
  o.size = size;
  r = addcow_create (path, &o);
  ck_assert_msg (r == 0, "addcow_create %s: %d %s", path, r,
                 addcow_get_error ());
}

void
tu_assert_error_has (const char *a, const char *b, const char *c)
{
  const char *e = addcow_get_error ();

  ck_assert_msg (!a || strstr (e, a), "error '%s' lacks '%s'", e, a);
  ck_assert_msg (!b || strstr (e, b), "error '%s' lacks '%s'", e, b);
  ck_assert_msg (!c || strstr (e, c), "error '%s' lacks '%s'", e, c);
}

int
tu_run (Suite *s)
{
  SRunner *sr = srunner_create (s);
  int failed;

  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
