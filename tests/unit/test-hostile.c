/*
 * test-hostile.c - a generator of hostile add-cow files, made at test time.
 *
 * Each case builds a small set of files (the add-cow file, disk.raw,
 * base.raw, sometimes more) from a valid image by breaking one thing:
 * every header field out of range, offset + size overflowing 32 bits, huge
 * cluster_bits and header_size, unknown feature bits, unterminated format
 * fields, NULs in names, loops, the image as its own backing through a
 * symlink, FIFOs, a truncated bitmap, an image file so large (sparse) that
 * its bitmap would be enormous...  For each:
 *   - addcow_open fails with the expected errno and a message that starts
 *     with the file it concerns and says what is wrong;
 *   - addcow_check either cannot run (the expected errno) or reports the
 *     expected number of corruptions;
 *   - repairing does not crash and does not make check worse;
 *   - no allocation is larger than the files justify: malloc/calloc/realloc
 *     are wrapped at link time and the largest request is recorded.
 * The suite runs under ASan/UBSan in CI, which catches the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

/* ---- allocation tracking (ld --wrap) ----------------------------------- */

void *__real_malloc (size_t n);
void *__real_calloc (size_t n, size_t m);
void *__real_realloc (void *p, size_t n);
void *__wrap_malloc (size_t n);
void *__wrap_calloc (size_t n, size_t m);
void *__wrap_realloc (void *p, size_t n);

static size_t largest_alloc;

static void
note (size_t n)
{
  if (n > largest_alloc)
    largest_alloc = n;
}

void *
__wrap_malloc (size_t n)
{
  note (n);
  return __real_malloc (n);
}

void *
__wrap_calloc (size_t n, size_t m)
{
  note (n * m);
  return __real_calloc (n, m);
}

void *
__wrap_realloc (void *p, size_t n)
{
  note (n);
  return __real_realloc (p, n);
}

/* ---- fixtures ---------------------------------------------------------- */

#define CS 4096u
#define NCLUSTERS 16u
#define HDR 4096u

static char *dir, *meta, *image, *base, *bmeta;

static void
setup (void)
{
  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
  bmeta = tu_join (dir, "b.add-cow");
  alarm (60);
}

/* DIR/NAME in a static buffer. */
static const char *
in_dir (const char *name)
{
  static char p[4096];

  snprintf (p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (bmeta); free (dir);
}

/* The valid starting point: backing base.raw, image disk.raw (16
 * clusters of 4 KiB), a 2-byte bitmap padded to one cluster. */
static void
valid_hdr (struct tu_hdr *t)
{
  tu_hdr_init (t, 12, "disk.raw", "base.raw", "raw");
  t->compat = 0;
}

static void
write_files (const struct tu_hdr *t, uint64_t file_size)
{
  uint8_t buf[HDR + CS];

  memset (buf, 0, sizeof buf);
  tu_hdr_encode (t, buf, HDR);
  tu_write_file (meta, buf, file_size < sizeof buf ? file_size : sizeof buf);
  if (file_size > sizeof buf)
    tu_truncate (meta, file_size);
  if (access (image, F_OK) != 0)
    tu_make_file (image, NCLUSTERS * CS, 9);
  if (access (base, F_OK) != 0)
    tu_make_file (base, NCLUSTERS * CS, 1);
}

/* A header-field case: start valid, let MUT change it. */
#define FIELD_CASE(fn, body)                                    \
  static void fn (void)                                         \
  {                                                             \
    struct tu_hdr t;                                            \
    uint64_t size = HDR + CS;                                   \
    valid_hdr (&t);                                             \
    body;                                                       \
    write_files (&t, size);                                     \
  }

FIELD_CASE (mk_empty, size = 0)
FIELD_CASE (mk_short, size = 75)
FIELD_CASE (mk_bad_magic, memcpy (t.magic, "ACOX", 4))
FIELD_CASE (mk_swapped_magic, memcpy (t.magic, "WOCA", 4))
FIELD_CASE (mk_zero_magic, memset (t.magic, 0, 4))
FIELD_CASE (mk_features_bit0, t.features = 1)
FIELD_CASE (mk_features_bit63, t.features = UINT64_C (1) << 63)
FIELD_CASE (mk_features_all, t.features = UINT64_MAX)
FIELD_CASE (mk_hsize_0, t.header_size = 0)
FIELD_CASE (mk_hsize_4095, t.header_size = 4095)
FIELD_CASE (mk_hsize_4097, t.header_size = 4097)
FIELD_CASE (mk_hsize_max, t.header_size = UINT32_MAX)
FIELD_CASE (mk_hsize_4m, t.header_size = 4u << 20)
FIELD_CASE (mk_hsize_past_file, t.header_size = 3 * 4096)
FIELD_CASE (mk_hsize_2m_small_file, t.header_size = 2u << 20)
FIELD_CASE (mk_cbits_0, t.cluster_bits = 0)
FIELD_CASE (mk_cbits_11, t.cluster_bits = 11)
FIELD_CASE (mk_cbits_22, t.cluster_bits = 22)
FIELD_CASE (mk_cbits_63, t.cluster_bits = 63)
FIELD_CASE (mk_cbits_max, t.cluster_bits = UINT32_MAX)
FIELD_CASE (mk_cbits_and_hsize, t.cluster_bits = 200;
            t.header_size = 64u << 20)
FIELD_CASE (mk_iname_size_0, t.image_name_size = 0)
FIELD_CASE (mk_iname_off_0, t.image_name_offset = 0)
FIELD_CASE (mk_iname_off_75, t.image_name_offset = 75)
FIELD_CASE (mk_iname_off_max, t.image_name_offset = UINT32_MAX)
FIELD_CASE (mk_iname_wrap, t.image_name_offset = 0xffffff00u;
            t.image_name_size = 0x200)
FIELD_CASE (mk_iname_size_max, t.image_name_size = UINT32_MAX)
FIELD_CASE (mk_iname_past_header, t.image_name_offset = 4090)
FIELD_CASE (mk_bname_size_no_off, t.backing_name_offset = 0;
            t.image_name_offset = 200)
FIELD_CASE (mk_bname_off_no_size, t.backing_name_size = 0)
FIELD_CASE (mk_bname_wrap, t.backing_name_offset = 0xfffffff0u;
            t.backing_name_size = 0x20)
FIELD_CASE (mk_bname_off_10, t.backing_name_offset = 10)
FIELD_CASE (mk_bname_size_max, t.backing_name_size = UINT32_MAX)
FIELD_CASE (mk_names_overlap, t.image_name_offset = 76 + 4;
            t.image_name_size = 4; t.image_name = NULL) /* ".raw" */
FIELD_CASE (mk_names_identical, t.image_name_offset = 76;
            t.image_name = NULL)
FIELD_CASE (mk_nul_image_name, t.image_name = "disk")
FIELD_CASE (mk_nul_backing_name, t.backing_name = "base";
            t.image_name = "disk.raw")
FIELD_CASE (mk_bfmt_unterminated, memset (t.backing_fmt, 'r', 16))
FIELD_CASE (mk_ifmt_unterminated, memset (t.image_fmt, 'r', 16))
FIELD_CASE (mk_ifmt_empty, memset (t.image_fmt, 0, 16))
FIELD_CASE (mk_ifmt_qcow2, strcpy (t.image_fmt, "qcow2"))
FIELD_CASE (mk_bfmt_no_backing, t.backing_name_offset = 0;
            t.backing_name_size = 0; t.backing_name = NULL;
            t.image_name_offset = 76)
FIELD_CASE (mk_bfmt_empty, memset (t.backing_fmt, 0, 16))
FIELD_CASE (mk_same_name, t.image_name = "base.raw")
FIELD_CASE (mk_bfmt_vmdk, strcpy (t.backing_fmt, "vmdk"))
FIELD_CASE (mk_bfmt_host_device, strcpy (t.backing_fmt, "host_device"))
FIELD_CASE (mk_truncated_bitmap, size = HDR)
FIELD_CASE (mk_truncated_bitmap_1, size = HDR + 1)

static void
mk_garbage_magic (void)
{
  uint8_t buf[HDR + CS];

  tu_fill (buf, sizeof buf, 5, 0);
  memcpy (buf, "ACOW", 4);
  tu_write_file (meta, buf, sizeof buf);
}

static void
mk_missing_image (void)
{
  struct tu_hdr t;

  valid_hdr (&t);
  tu_make_file (base, NCLUSTERS * CS, 1);
  tu_write_addcow (meta, &t, NULL, 2, 0);
}

static void
mk_missing_backing (void)
{
  struct tu_hdr t;

  valid_hdr (&t);
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
}

static void
mk_image_fifo (void)
{
  ck_assert_int_eq (mkfifo (image, 0600), 0);
  mk_missing_image ();
}

static void
mk_backing_fifo (void)
{
  ck_assert_int_eq (mkfifo (base, 0600), 0);
  mk_missing_backing ();
}

static void
mk_image_dir (void)
{
  ck_assert_int_eq (mkdir (image, 0700), 0);
  mk_missing_image ();
}

static void
mk_addcow_fifo (void)
{
  ck_assert_int_eq (mkfifo (meta, 0600), 0);
}

static void
mk_addcow_dir (void)
{
  ck_assert_int_eq (mkdir (meta, 0700), 0);
}

static void
mk_addcow_chardev (void)
{
  ck_assert_int_eq (symlink ("/dev/null", meta), 0);
}

static void
mk_backing_symlink_image (void)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.raw", "link.raw", "raw");
  t.compat = 0;
  ck_assert_int_eq (symlink ("disk.raw", in_dir ("link.raw")), 0);
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
}

static void
mk_image_is_addcow (void)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.add-cow", "base.raw", "raw");
  t.compat = 0;
  tu_make_file (base, NCLUSTERS * CS, 1);
  tu_write_addcow (meta, &t, NULL, 0, HDR + CS);
}

static void
mk_backing_is_addcow (void)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.raw", "disk.add-cow", "raw");
  t.compat = 0;
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
}

static void
mk_loop (void)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.raw", "b.add-cow", "add-cow");
  t.compat = 0;
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
  tu_hdr_init (&t, 12, "b.raw", "disk.add-cow", "add-cow");
  t.compat = 0;
  tu_make_file (in_dir ("b.raw"), NCLUSTERS * CS, 8);
  tu_write_addcow (bmeta, &t, NULL, 2, 0);
}

static void
mk_self_loop (void)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.raw", "disk.add-cow", "add-cow");
  t.compat = 0;
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
}

/* disk.add-cow over b.add-cow, whose header MUT breaks. */
static void
backing_addcow (void (*mut) (struct tu_hdr *t, uint64_t *size))
{
  struct tu_hdr t;
  uint64_t size = 0;

  tu_hdr_init (&t, 12, "disk.raw", "b.add-cow", "add-cow");
  t.compat = 0;
  tu_make_file (image, NCLUSTERS * CS, 9);
  tu_write_addcow (meta, &t, NULL, 2, 0);
  tu_hdr_init (&t, 12, "b.raw", "base.raw", "raw");
  t.compat = 0;
  tu_make_file (base, NCLUSTERS * CS, 1);
  tu_make_file (in_dir ("b.raw"), NCLUSTERS * CS, 8);
  mut (&t, &size);
  tu_write_addcow (bmeta, &t, NULL, 2, size);
}

static void mut_magic (struct tu_hdr *t, uint64_t *s)
{ (void) s; memcpy (t->magic, "XXXX", 4); }
static void mut_features (struct tu_hdr *t, uint64_t *s)
{ (void) s; t->features = 0x10; }
static void mut_truncated (struct tu_hdr *t, uint64_t *s)
{ (void) t; *s = HDR; }
static void mut_no_image (struct tu_hdr *t, uint64_t *s)
{ (void) s; t->image_name = "gone"; t->image_name_size = 4; }

static void mk_backing_bad_magic (void) { backing_addcow (mut_magic); }
static void mk_backing_features (void) { backing_addcow (mut_features); }
static void mk_backing_truncated (void) { backing_addcow (mut_truncated); }
static void mk_backing_no_image (void) { backing_addcow (mut_no_image); }

/* A sparse image file of SIZE bytes behind a header-only add-cow file. */
static void
huge_image (uint64_t size)
{
  struct tu_hdr t;

  valid_hdr (&t);
  tu_make_file (base, CS, 1);
  tu_make_file (image, 0, 0);
  if (truncate (image, (off_t) size) != 0)
    ck_abort_msg ("this file system cannot hold a sparse file of %llu "
                  "bytes", (unsigned long long) size);
  tu_write_addcow (meta, &t, NULL, 0, HDR + CS);
}

/* 1 TiB of 4 KiB clusters: a 32 MiB bitmap that the file does not have. */
static void mk_huge_image (void) { huge_image (UINT64_C (1) << 40); }
/* 16 TiB - 4 KiB (ext4's limit): a 512 MiB bitmap, over the 256 MiB cap. */
static void mk_enormous_image (void)
{ huge_image ((UINT64_C (16) << 40) - 4096); }

/* ---- the table --------------------------------------------------------- */

enum who { META, BACKING };

static const struct hcase {
  const char *name;
  void (*make) (void);
  int open_err;
  enum who who;                 /* the file the message starts with */
  const char *msg, *msg2;       /* fragments of the message */
  int check_err;                /* addcow_check's result: <0, or 0 ... */
  int corruptions;              /* ... with this many corruptions */
} cases[] = {
#define BAD_MAGIC "not an add-cow image (bad magic)"
#define HSIZE(n) "header_size " #n " is not a multiple of 4096 from 4096 to 2 MiB"
#define CBITS(n) "cluster_bits " #n " is outside 12..21"
#define OUTSIDE "lies outside the name area (76 to 4096)"
  { "empty file", mk_empty, -EINVAL, META, BAD_MAGIC, NULL, -EINVAL, 0 },
  { "75 bytes", mk_short, -EINVAL, META, BAD_MAGIC, NULL, -EINVAL, 0 },
  { "magic ACOX", mk_bad_magic, -EINVAL, META, BAD_MAGIC, NULL, -EINVAL, 0 },
  { "magic WOCA", mk_swapped_magic, -EINVAL, META, BAD_MAGIC, NULL,
    -EINVAL, 0 },
  { "magic zero", mk_zero_magic, -EINVAL, META, BAD_MAGIC, NULL, -EINVAL, 0 },
  { "features bit 0", mk_features_bit0, -ENOTSUP, META,
    "unsupported incompatible features 0x1", NULL, -ENOTSUP, 0 },
  { "features bit 63", mk_features_bit63, -ENOTSUP, META,
    "unsupported incompatible features 0x8000000000000000", NULL,
    -ENOTSUP, 0 },
  { "features all", mk_features_all, -ENOTSUP, META,
    "unsupported incompatible features 0xffffffffffffffff", NULL,
    -ENOTSUP, 0 },
  { "garbage after the magic", mk_garbage_magic, -ENOTSUP, META,
    "unsupported incompatible features 0x", NULL, -ENOTSUP, 0 },
  { "header_size 0", mk_hsize_0, -EINVAL, META, HSIZE (0), NULL, 0, 1 },
  { "header_size 4095", mk_hsize_4095, -EINVAL, META, HSIZE (4095), NULL,
    0, 1 },
  { "header_size 4097", mk_hsize_4097, -EINVAL, META, HSIZE (4097), NULL,
    0, 1 },
  { "header_size u32 max", mk_hsize_max, -EINVAL, META, HSIZE (4294967295),
    NULL, 0, 1 },
  { "header_size 4 MiB", mk_hsize_4m, -EINVAL, META, HSIZE (4194304), NULL,
    0, 1 },
  { "header_size past the file", mk_hsize_past_file, -EINVAL, META,
    "file is 8192 bytes, shorter than its header_size 12288", NULL, 0, 1 },
  { "header_size 2 MiB, 8 KiB file", mk_hsize_2m_small_file, -EINVAL, META,
    "file is 8192 bytes, shorter than its header_size 2097152", NULL, 0, 1 },
  { "cluster_bits 0", mk_cbits_0, -EINVAL, META, CBITS (0), NULL, 0, 1 },
  { "cluster_bits 11", mk_cbits_11, -EINVAL, META, CBITS (11), NULL, 0, 1 },
  { "cluster_bits 22", mk_cbits_22, -EINVAL, META, CBITS (22), NULL, 0, 1 },
  { "cluster_bits 63", mk_cbits_63, -EINVAL, META, CBITS (63), NULL, 0, 1 },
  { "cluster_bits u32 max", mk_cbits_max, -EINVAL, META, CBITS (4294967295),
    NULL, 0, 1 },
  { "cluster_bits 200, header_size 64 MiB", mk_cbits_and_hsize, -EINVAL,
    META, HSIZE (67108864), NULL, 0, 1 },
  { "image_name_size 0", mk_iname_size_0, -EINVAL, META,
    "image_name_size is 0", NULL, 0, 1 },
  { "image_name_offset 0", mk_iname_off_0, -EINVAL, META,
    "image name (offset 0, size 8) " OUTSIDE, NULL, 0, 1 },
  { "image_name_offset 75", mk_iname_off_75, -EINVAL, META,
    "image name (offset 75, size 8) " OUTSIDE, NULL, 0, 2 },  /* +overlap */
  { "image_name_offset u32 max", mk_iname_off_max, -EINVAL, META,
    "image name (offset 4294967295, size 8) " OUTSIDE, NULL, 0, 1 },
  { "image name offset+size wraps", mk_iname_wrap, -EINVAL, META,
    "image name (offset 4294967040, size 512) " OUTSIDE, NULL, 0, 1 },
  { "image_name_size u32 max", mk_iname_size_max, -EINVAL, META,
    "image name (offset 84, size 4294967295) " OUTSIDE, NULL, 0, 1 },
  { "image name past the header", mk_iname_past_header, -EINVAL, META,
    "image name (offset 4090, size 8) " OUTSIDE, NULL, 0, 1 },
  { "backing size without offset", mk_bname_size_no_off, -EINVAL, META,
    "backing_name_size is 8 without a backing name", NULL, 0, 1 },
  { "backing offset without size", mk_bname_off_no_size, -EINVAL, META,
    "backing_name_size is 0", NULL, 0, 1 },
  { "backing name offset+size wraps", mk_bname_wrap, -EINVAL, META,
    "backing name (offset 4294967280, size 32) " OUTSIDE, NULL, 0, 1 },
  { "backing_name_offset 10", mk_bname_off_10, -EINVAL, META,
    "backing name (offset 10, size 8) " OUTSIDE, NULL, 0, 1 },
  { "backing_name_size u32 max", mk_bname_size_max, -EINVAL, META,
    "backing name (offset 76, size 4294967295) " OUTSIDE, NULL, 0, 2 },
  { "names overlap", mk_names_overlap, -EINVAL, META,
    "the image and backing names overlap", NULL, 0, 1 }, /* + no ".raw":
                                                          * a check error */
  { "names identical", mk_names_identical, -EINVAL, META,
    "the image and backing names overlap", NULL, 0, 3 },
  { "NUL in image name", mk_nul_image_name, -EINVAL, META,
    "image name contains a NUL byte", NULL, 0, 1 },
  { "NUL in backing name", mk_nul_backing_name, -EINVAL, META,
    "backing name contains a NUL byte", NULL, 0, 1 },
  { "backing_fmt unterminated", mk_bfmt_unterminated, -EINVAL, META,
    "backing_fmt is not NUL-terminated", NULL, 0, 2 },
  { "image_fmt unterminated", mk_ifmt_unterminated, -EINVAL, META,
    "image_fmt is not NUL-terminated", NULL, 0, 2 },
  { "image_fmt empty", mk_ifmt_empty, -EINVAL, META, "image_fmt is empty",
    NULL, 0, 1 },
  { "image_fmt qcow2", mk_ifmt_qcow2, -EINVAL, META,
    "unsupported image format 'qcow2' (only raw)", NULL, 0, 1 },
  { "backing_fmt without backing", mk_bfmt_no_backing, -EINVAL, META,
    "backing_fmt is set without a backing file", NULL, 0, 1 },
  { "backing_fmt empty", mk_bfmt_empty, -EINVAL, META,
    "backing_fmt is empty but a backing file is named", NULL, 0, 2 },
  { "same image and backing name", mk_same_name, -EINVAL, META,
    "image file and backing file have the same name 'base.raw'", NULL, 0, 2 },
  { "backing_fmt vmdk", mk_bfmt_vmdk, -ENOTSUP, META,
    "unsupported backing format 'vmdk'", NULL, 0, 1 },
  { "backing_fmt host_device", mk_bfmt_host_device, -ENOTSUP, META,
    "unsupported backing format 'host_device'", NULL, 0, 1 },
  { "bitmap missing", mk_truncated_bitmap, -EINVAL, META,
    "bitmap is truncated: the file is 4096 bytes, 16 clusters need 4098",
    NULL, 0, 1 },
  { "bitmap one byte short", mk_truncated_bitmap_1, -EINVAL, META,
    "bitmap is truncated: the file is 4097 bytes, 16 clusters need 4098",
    NULL, 0, 1 },
  { "1 TiB sparse image, no bitmap", mk_huge_image, -EINVAL, META,
    "bitmap is truncated: the file is 8192 bytes, 268435456 clusters need "
    "33558528", NULL, 0, 1 },
  { "16 TiB sparse image", mk_enormous_image, -EFBIG, META,
    "the bitmap of 4294967295 clusters is larger than this implementation's "
    "limit of 256 MiB", NULL, -EFBIG, 0 },
  { "image file missing", mk_missing_image, -ENOENT, META,
    "could not open image file '", "disk.raw': No such file or directory",
    0, 0 },                     /* missing files are check errors */
  { "backing file missing", mk_missing_backing, -ENOENT, META,
    "could not open backing file '", "base.raw': No such file or directory",
    0, 0 },
  { "image file is a FIFO", mk_image_fifo, -EINVAL, META,
    "image file '", "disk.raw' is a FIFO", 0, 1 },
  { "backing file is a FIFO", mk_backing_fifo, -EINVAL, META,
    "backing file '", "base.raw' is a FIFO", 0, 1 },
  { "image file is a directory", mk_image_dir, -EINVAL, META,
    "image file '", "disk.raw' is a directory", 0, 1 },
  { "add-cow file is a FIFO", mk_addcow_fifo, -EINVAL, META,
    "disk.add-cow' is a FIFO", NULL, -EINVAL, 0 },
  { "add-cow file is a directory", mk_addcow_dir, -EINVAL, META,
    "disk.add-cow' is a directory", NULL, -EINVAL, 0 },
  { "add-cow file is /dev/null", mk_addcow_chardev, -EINVAL, META,
    "disk.add-cow' is a character device", NULL, -EINVAL, 0 },
  { "backing is the image (symlink)", mk_backing_symlink_image, -EINVAL,
    META, "link.raw' is the image file itself", NULL, 0, 1 },
  { "image file is the add-cow file", mk_image_is_addcow, -ELOOP, META,
    "disk.add-cow' is already part of this image's backing chain (a loop)",
    NULL, 0, 1 },
  { "raw backing is the add-cow file", mk_backing_is_addcow, -ELOOP, META,
    "disk.add-cow' is already part of this image's chain (a loop)", NULL,
    0, 1 },
  { "loop of two add-cow files", mk_loop, -ELOOP, META,
    "disk.add-cow' is already part of this image's backing chain (a loop)",
    NULL, 0, 1 },
  { "add-cow backing is itself", mk_self_loop, -ELOOP, META,
    "disk.add-cow' is already part of this image's backing chain (a loop)",
    NULL, 0, 1 },
  { "add-cow backing: bad magic", mk_backing_bad_magic, -EINVAL, BACKING,
    BAD_MAGIC, NULL, 0, 1 },
  { "add-cow backing: unknown features", mk_backing_features, -ENOTSUP,
    BACKING, "unsupported incompatible features 0x10", NULL, 0, 1 },
  { "add-cow backing: bitmap missing", mk_backing_truncated, -EINVAL,
    BACKING, "bitmap is truncated", NULL, 0, 1 },
  { "add-cow backing: image file missing", mk_backing_no_image, -ENOENT,
    BACKING, "could not open image file '", "gone': No such file", 0, 0 },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* What the files of the case justify allocating: the add-cow file, or a
 * header/cluster buffer of at most 2 MiB. */
static size_t
justified (void)
{
  struct stat st;
  size_t j = ADDCOW_MAX_HEADER_SIZE;

  if (stat (meta, &st) == 0 && S_ISREG (st.st_mode)
      && (size_t) st.st_size > j)
    j = (size_t) st.st_size;
  return j;
}

static void
run_case (const struct hcase *c, bool write)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img = (struct addcow *) 1;
  const char *who = c->who == META ? meta : bmeta;
  const char *e;
  size_t wlen = strlen (who);
  int r;

  o.flags = write ? ADDCOW_OPEN_WRITE : 0;
  largest_alloc = 0;
  r = addcow_open (meta, &o, &img);
  e = addcow_get_error ();
  if (write && (c->make == mk_addcow_dir || c->make == mk_image_dir)) {
    ck_assert_int_eq (r, -EISDIR);      /* open(O_RDWR) refuses it */
    ck_assert_msg (strncmp (e, meta, strlen (meta)) == 0
                   && strstr (e, "Is a directory"), "%s", e);
    return;
  }
  ck_assert_msg (r == c->open_err, "%s: open returned %d (%s), want %d",
                 c->name, r, e, c->open_err);
  ck_assert_msg (img == NULL, "%s: a handle after a failed open", c->name);
  ck_assert_msg (strncmp (e, who, wlen) == 0 && strncmp (e + wlen, ": ", 2)
                 == 0, "%s: '%s' does not start with '%s: '", c->name, e,
                 who);
  ck_assert_msg (strstr (e, c->msg), "%s: '%s' lacks '%s'", c->name, e,
                 c->msg);
  ck_assert_msg (!c->msg2 || strstr (e, c->msg2), "%s: '%s' lacks '%s'",
                 c->name, e, c->msg2);
  ck_assert_msg (largest_alloc <= justified (), "%s: open allocated %zu "
                 "bytes for files of %zu", c->name, largest_alloc,
                 justified ());
}

START_TEST (test_hostile_open)
{
  const struct hcase *c = &cases[_i];

  c->make ();
  run_case (c, false);
  run_case (c, true);
}
END_TEST

START_TEST (test_hostile_check)
{
  const struct hcase *c = &cases[_i];
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res, again;
  int r;

  c->make ();
  memset (&res, 0xee, sizeof res);
  r = addcow_check (meta, &o, &res);
  ck_assert_msg (r == c->check_err, "%s: check returned %d (%s), want %d",
                 c->name, r, addcow_get_error (), c->check_err);
  if (r < 0) {
    ck_assert_msg (strstr (addcow_get_error (), c->msg), "%s: check says "
                   "'%s'", c->name, addcow_get_error ());
    return;
  }
  /* A file that cannot be opened (ENOENT) is a check error instead. */
  ck_assert_int_eq (res.check_errors, c->open_err == -ENOENT
                    || strcmp (c->name, "names overlap") == 0);
  ck_assert_msg (res.corruptions == (uint64_t) c->corruptions,
                 "%s: check found %llu corruptions, want %d", c->name,
                 (unsigned long long) res.corruptions, c->corruptions);
  ck_assert_uint_eq (res.corruptions_fixed, 0);
  ck_assert_uint_eq (res.leaks_fixed, 0);

  /* Repairing what can be repaired never makes it worse. */
  o.repair = ADDCOW_REPAIR_ALL;
  r = addcow_check (meta, &o, &again);
  ck_assert_msg (r == 0, "%s: repair: %s", c->name, addcow_get_error ());
  ck_assert_uint_le (again.corruptions, res.corruptions);
  ck_assert_uint_eq (again.corruptions + again.corruptions_fixed,
                     res.corruptions);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("hostile");
  TCase *tc = tcase_create ("hostile");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_loop_test (tc, test_hostile_open, 0, NCASES);
  tcase_add_loop_test (tc, test_hostile_check, 0, NCASES);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  if (NCASES < 40) {
    fprintf (stderr, "only %zu hostile cases\n", NCASES);
    return EXIT_FAILURE;
  }
  return tu_run (suite ());
}
