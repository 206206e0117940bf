/*
 * test-header.c - header encode/decode (lib/format/header.c) against spec
 * sections 3, 4 and 9: the test vector byte for byte, a round trip, and
 * every validation rule as its own test, each asserting the exact return
 * value, error message and problem counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

#define FILE_NAME "t.add-cow"
#define BUF_SIZE (ADDCOW_MAX_HEADER_SIZE + 4096)

static uint8_t buf[BUF_SIZE];
static struct header h;
static struct problems pr;
static char reported[8][256];
static enum addcow_problem reported_kind[8];
static unsigned nreported;

static void
report (void *opaque, enum addcow_problem kind, bool fixed, const char *msg)
{
  (void) opaque;
  ck_assert (!fixed);
  if (nreported < 8) {
    reported_kind[nreported] = kind;
    snprintf (reported[nreported], sizeof reported[0], "%s", msg);
  }
  nreported++;
}

/* A valid 4096-byte header: backing "base.img" (raw), image "disk.raw". */
static void
valid (struct tu_hdr *t)
{
  tu_hdr_init (t, 12, "disk.raw", "base.img", "raw");
  t->compat = 0;
}

/* Decode BUF as image.c does, refusing the first corruption. */
static int
decode_buf (uint64_t file_size, bool collect)
{
  int r;

  header_free (&h);
  memset (&pr, 0, sizeof pr);
  pr.collect = collect;
  pr.report = report;
  nreported = 0;
  r = header_decode_fixed (buf, ADDCOW_FIXED_HEADER_SIZE, file_size, &h,
                           FILE_NAME, &pr);
  if (r == 0)
    r = header_decode_names (buf, &h, FILE_NAME, &pr);
  return r;
}

static int
decode (const struct tu_hdr *t)
{
  tu_hdr_encode (t, buf, BUF_SIZE);
  return decode_buf (BUF_SIZE, false);
}

/* The header is refused with exactly MSG (prefixed with the file name),
 * and collecting mode counts exactly one corruption with the same text. */
static void
assert_corrupt (const struct tu_hdr *t, const char *msg)
{
  char full[512];

  snprintf (full, sizeof full, FILE_NAME ": %s", msg);
  ck_assert_int_eq (decode (t), -EINVAL);
  tu_assert_error (full);
  ck_assert_uint_eq (pr.corruptions, 1);

  tu_hdr_encode (t, buf, BUF_SIZE);
  decode_buf (BUF_SIZE, true);
  ck_assert_uint_ge (pr.corruptions, 1);
  ck_assert_uint_ge (nreported, 1);
  ck_assert_int_eq (reported_kind[0], ADDCOW_PROBLEM_CORRUPTION);
  ck_assert_str_eq (reported[0], full);
}

static void
assert_ok (const struct tu_hdr *t)
{
  int r = decode (t);

  ck_assert_msg (r == 0, "decode: %d %s", r, addcow_get_error ());
  ck_assert_uint_eq (pr.corruptions, 0);
  ck_assert_uint_eq (pr.leaks, 0);
}

static void
teardown (void)
{
  header_free (&h);
}

/* ---- spec section 9 ---------------------------------------------------- */

static const uint8_t vector[0x60] = {
  0x41, 0x43, 0x4f, 0x57, 0x4c, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
  0x56, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x71, 0x63, 0x6f, 0x77,
  0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x72, 0x61, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x62, 0x61, 0x73, 0x65, 0x2e, 0x71, 0x63, 0x6f,
  0x77, 0x32, 0x64, 0x69, 0x73, 0x6b, 0x2e, 0x72, 0x61, 0x77, 0x00, 0x00,
};

START_TEST (test_vector_encode)
{
  struct header v;
  size_t i;

  ck_assert_int_eq (header_init (&v, 16, "disk.raw", "raw", "base.qcow2",
                                 "qcow2"), 0);
  ck_assert_uint_eq (v.header_size, 0x10000);
  header_encode (&v, buf);
  ck_assert_mem_eq (buf, vector, sizeof vector);
  for (i = sizeof vector; i < 0x10000; i++)
    ck_assert_msg (buf[i] == 0, "byte 0x%zx is 0x%02x", i, buf[i]);
  header_free (&v);
}
END_TEST

START_TEST (test_vector_decode)
{
  memset (buf, 0, BUF_SIZE);
  memcpy (buf, vector, sizeof vector);
  ck_assert_int_eq (decode_buf (0x20000, false), 0);
  ck_assert_uint_eq (h.backing_name_offset, 76);
  ck_assert_uint_eq (h.backing_name_size, 10);
  ck_assert_uint_eq (h.image_name_offset, 86);
  ck_assert_uint_eq (h.image_name_size, 8);
  ck_assert_uint_eq (h.cluster_bits, 16);
  ck_assert_uint_eq (h.features, 0);
  ck_assert_uint_eq (h.compat_features, 0);
  ck_assert_uint_eq (h.header_size, 65536);
  ck_assert_str_eq (h.backing_fmt, "qcow2");
  ck_assert_str_eq (h.image_fmt, "raw");
  ck_assert_str_eq (h.backing_name, "base.qcow2");
  ck_assert_str_eq (h.image_name, "disk.raw");
  ck_assert_uint_eq (h.padding_dirty, 0);
  ck_assert_uint_eq (pr.leaks, 0);
}
END_TEST

/* ---- round trips ------------------------------------------------------- */

START_TEST (test_round_trip_backing)
{
  static uint8_t again[BUF_SIZE];
  struct header v;

  ck_assert_int_eq (header_init (&v, 12, "vm.raw", "raw", "golden.img",
                                 "add-cow"), 0);
  v.compat_features = UINT64_C (0x8000000000000002);
  header_encode (&v, buf);
  header_free (&v);
  ck_assert_int_eq (decode_buf (4096, false), 0);
  ck_assert_uint_eq (h.header_size, 4096);
  ck_assert_uint_eq (h.cluster_bits, 12);
  ck_assert_uint_eq (h.compat_features, UINT64_C (0x8000000000000002));
  ck_assert_str_eq (h.backing_name, "golden.img");
  ck_assert_str_eq (h.backing_fmt, "add-cow");
  ck_assert_str_eq (h.image_name, "vm.raw");
  ck_assert_uint_eq (h.image_name_offset, 76 + 10);
  header_encode (&h, again);
  ck_assert_mem_eq (again, buf, 4096);
}
END_TEST

START_TEST (test_round_trip_no_backing)
{
  struct header v;

  ck_assert_int_eq (header_init (&v, 21, "big.raw", "raw", NULL, "raw"), 0);
  ck_assert_uint_eq (v.header_size, 2u << 20);
  ck_assert_uint_eq (v.backing_name_offset, 0);
  ck_assert_uint_eq (v.backing_name_size, 0);
  ck_assert_uint_eq (v.image_name_offset, 76);
  ck_assert_str_eq (v.backing_fmt, "");    /* no backing: no format */
  header_encode (&v, buf);
  header_free (&v);
  ck_assert_int_eq (decode_buf (2u << 20, false), 0);
  ck_assert_ptr_null (h.backing_name);
  ck_assert_str_eq (h.image_name, "big.raw");
  ck_assert_uint_eq (h.cluster_bits, 21);
}
END_TEST

/* Readers accept any placement that keeps the rules (spec section 3). */
START_TEST (test_names_anywhere)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_offset = 4096 - 8;       /* ends exactly at header_size */
  t.backing_name_offset = 1000;
  assert_ok (&t);
  ck_assert_str_eq (h.image_name, "disk.raw");
  ck_assert_str_eq (h.backing_name, "base.img");
  ck_assert_uint_eq (h.image_name_offset, 4088);
  ck_assert_uint_eq (h.backing_name_offset, 1000);
  /* Adjacent ranges touch but do not overlap. */
  t.backing_name_offset = 4088 - 8;
  assert_ok (&t);
}
END_TEST

START_TEST (test_init_limits)
{
  struct header v;
  char name[4096];

  memset (name, 'n', sizeof name - 1);
  name[sizeof name - 1] = 0;
  ck_assert_int_eq (header_init (&v, 12, name, "raw", NULL, NULL),
                    -ENAMETOOLONG);
  name[4096 - 76] = 0;                  /* exactly fills the name area */
  ck_assert_int_eq (header_init (&v, 12, name, "raw", NULL, NULL), 0);
  ck_assert_uint_eq (v.image_name_size, 4096 - 76);
  header_free (&v);
  ck_assert_int_eq (header_init (&v, 12, name, "raw", "b", "raw"),
                    -ENAMETOOLONG);
  ck_assert_int_eq (header_init (&v, 12, "", "raw", NULL, NULL),
                    -ENAMETOOLONG);
  ck_assert_int_eq (header_init (&v, 12, "i", "raw", "b",
                                 "sixteen-chars-xx"), -EINVAL);
  ck_assert_int_eq (header_init (&v, 12, "i", "raw", "b",
                                 "fifteen-chars-x"), 0);
  ck_assert_str_eq (v.backing_fmt, "fifteen-chars-x");
  header_free (&v);
}
END_TEST

/* ---- magic and the fixed fields --------------------------------------- */

START_TEST (test_bad_magic)
{
  struct tu_hdr t;

  valid (&t);
  memcpy (t.magic, "ACOX", 4);
  ck_assert_int_eq (decode (&t), -EINVAL);
  tu_assert_error (FILE_NAME ": not an add-cow image (bad magic)");
  memcpy (t.magic, "WOCA", 4);
  ck_assert_int_eq (decode (&t), -EINVAL);
  tu_assert_error (FILE_NAME ": not an add-cow image (bad magic)");
}
END_TEST

START_TEST (test_short_header)
{
  struct tu_hdr t;

  valid (&t);
  tu_hdr_encode (&t, buf, BUF_SIZE);
  header_free (&h);
  memset (&pr, 0, sizeof pr);
  ck_assert_int_eq (header_decode_fixed (buf, 75, 75, &h, FILE_NAME, &pr),
                    -EINVAL);
  tu_assert_error (FILE_NAME ": not an add-cow image (bad magic)");
}
END_TEST

START_TEST (test_incompatible_features)
{
  struct tu_hdr t;

  valid (&t);
  t.features = 0x5;
  ck_assert_int_eq (decode (&t), -ENOTSUP);
  tu_assert_error (FILE_NAME ": unsupported incompatible features 0x5");
  /* Fatal in collecting mode too: check cannot run. */
  tu_hdr_encode (&t, buf, BUF_SIZE);
  ck_assert_int_eq (decode_buf (BUF_SIZE, true), -ENOTSUP);
  t.features = UINT64_C (1) << 63;
  ck_assert_int_eq (decode (&t), -ENOTSUP);
  tu_assert_error (FILE_NAME ": unsupported incompatible features "
                   "0x8000000000000000");
}
END_TEST

START_TEST (test_unknown_compat_ignored)
{
  struct tu_hdr t;
  static uint8_t again[4096];

  valid (&t);
  t.compat = ~UINT64_C (1);             /* every unknown bit */
  assert_ok (&t);
  ck_assert_uint_eq (h.compat_features, ~UINT64_C (1));
  header_encode (&h, again);            /* preserved on write */
  ck_assert_mem_eq (again, buf, 4096);
}
END_TEST

START_TEST (test_header_size_not_multiple)
{
  struct tu_hdr t;

  valid (&t);
  t.header_size = 5000;
  assert_corrupt (&t, "header_size 5000 is not a multiple of 4096 from "
                  "4096 to 2 MiB");
}
END_TEST

START_TEST (test_header_size_too_small)
{
  struct tu_hdr t;

  valid (&t);
  t.header_size = 0;
  assert_corrupt (&t, "header_size 0 is not a multiple of 4096 from "
                  "4096 to 2 MiB");
  t.header_size = 2048;
  assert_corrupt (&t, "header_size 2048 is not a multiple of 4096 from "
                  "4096 to 2 MiB");
}
END_TEST

START_TEST (test_header_size_too_large)
{
  struct tu_hdr t;

  valid (&t);
  t.header_size = ADDCOW_MAX_HEADER_SIZE + 4096;
  assert_corrupt (&t, "header_size 2101248 is not a multiple of 4096 from "
                  "4096 to 2 MiB");
  t.header_size = UINT32_MAX;
  assert_corrupt (&t, "header_size 4294967295 is not a multiple of 4096 "
                  "from 4096 to 2 MiB");
  t.header_size = ADDCOW_MAX_HEADER_SIZE;       /* the largest valid */
  assert_ok (&t);
}
END_TEST

START_TEST (test_header_size_past_file)
{
  struct tu_hdr t;

  valid (&t);
  t.header_size = 8192;
  tu_hdr_encode (&t, buf, BUF_SIZE);
  ck_assert_int_eq (decode_buf (8191, false), -EINVAL);
  tu_assert_error (FILE_NAME ": file is 8191 bytes, shorter than its "
                   "header_size 8192");
  ck_assert_int_eq (decode_buf (8192, false), 0);
  /* Collecting mode: reported, and decoding stops there (returns 1). */
  ck_assert_int_eq (decode_buf (4096, true), 1);
  ck_assert_uint_eq (pr.corruptions, 1);
  ck_assert_str_eq (reported[0], FILE_NAME ": file is 4096 bytes, shorter "
                    "than its header_size 8192");
}
END_TEST

START_TEST (test_cluster_bits)
{
  struct tu_hdr t;
  static const uint32_t bad[] = { 0, 11, 22, 32, 64, UINT32_MAX };
  unsigned i;
  char msg[128];

  valid (&t);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    t.cluster_bits = bad[i];
    snprintf (msg, sizeof msg, "cluster_bits %u is outside 12..21", bad[i]);
    assert_corrupt (&t, msg);
  }
  t.cluster_bits = 12;
  assert_ok (&t);
  t.cluster_bits = 21;          /* readers take any header_size for it */
  assert_ok (&t);
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST (test_image_name_size_zero)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_size = 0;
  assert_corrupt (&t, "image_name_size is 0");
}
END_TEST

START_TEST (test_image_name_offset_low)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_offset = 0;
  assert_corrupt (&t, "image name (offset 0, size 8) lies outside the name "
                  "area (76 to 4096)");
  t.image_name_offset = 75;
  assert_corrupt (&t, "image name (offset 75, size 8) lies outside the name "
                  "area (76 to 4096)");
}
END_TEST

START_TEST (test_image_name_past_header)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_offset = 4089;           /* one byte too far */
  assert_corrupt (&t, "image name (offset 4089, size 8) lies outside the "
                  "name area (76 to 4096)");
}
END_TEST

START_TEST (test_image_name_overflow)
{
  struct tu_hdr t;

  valid (&t);
  /* 0xffffff00 + 0x200 wraps to 0x100 in 32 bits. */
  t.image_name_offset = 0xffffff00u;
  t.image_name_size = 0x200;
  assert_corrupt (&t, "image name (offset 4294967040, size 512) lies "
                  "outside the name area (76 to 4096)");
  t.image_name_offset = 100;
  t.image_name_size = UINT32_MAX;
  assert_corrupt (&t, "image name (offset 100, size 4294967295) lies "
                  "outside the name area (76 to 4096)");
}
END_TEST

START_TEST (test_backing_size_without_offset)
{
  struct tu_hdr t;

  valid (&t);
  t.backing_name_offset = 0;
  t.image_name_offset = 200;
  assert_corrupt (&t, "backing_name_size is 8 without a backing name");
}
END_TEST

START_TEST (test_backing_offset_without_size)
{
  struct tu_hdr t;

  valid (&t);
  t.backing_name_size = 0;
  assert_corrupt (&t, "backing_name_size is 0");
}
END_TEST

START_TEST (test_backing_name_offset_low)
{
  struct tu_hdr t;

  valid (&t);
  t.backing_name_offset = 40;           /* inside the fixed header */
  assert_corrupt (&t, "backing name (offset 40, size 8) lies outside the "
                  "name area (76 to 4096)");
}
END_TEST

START_TEST (test_backing_name_past_header)
{
  struct tu_hdr t;

  valid (&t);
  t.backing_name_offset = 4090;
  assert_corrupt (&t, "backing name (offset 4090, size 8) lies outside the "
                  "name area (76 to 4096)");
  t.backing_name_offset = 0xfffffff0u;  /* wraps in 32 bits */
  t.backing_name_size = 0x20;
  assert_corrupt (&t, "backing name (offset 4294967280, size 32) lies "
                  "outside the name area (76 to 4096)");
}
END_TEST

START_TEST (test_names_overlap)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_offset = 76 + 7;         /* last byte of the backing name */
  /* Write the names so that both read back without NULs. */
  tu_hdr_encode (&t, buf, BUF_SIZE);
  memcpy (buf + 76, "base.imgdisk.raw", 16);
  ck_assert_int_eq (decode_buf (BUF_SIZE, false), -EINVAL);
  tu_assert_error (FILE_NAME ": the image and backing names overlap");
  ck_assert_int_eq (decode_buf (BUF_SIZE, true), 0);
  ck_assert_uint_eq (pr.corruptions, 1);
}
END_TEST

START_TEST (test_names_identical_range)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name_offset = 76;             /* both names are "base.img" */
  t.image_name = NULL;
  ck_assert_int_eq (decode (&t), -EINVAL);
  tu_assert_error (FILE_NAME ": the image and backing names overlap");
}
END_TEST

START_TEST (test_nul_in_image_name)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name = "disk";                /* 4 of 8 bytes: the rest are NUL */
  assert_corrupt (&t, "image name contains a NUL byte");
}
END_TEST

START_TEST (test_nul_in_backing_name)
{
  struct tu_hdr t;

  valid (&t);
  tu_hdr_encode (&t, buf, BUF_SIZE);
  buf[76] = 0;                          /* "\0ase.img" */
  ck_assert_int_eq (decode_buf (BUF_SIZE, false), -EINVAL);
  tu_assert_error (FILE_NAME ": backing name contains a NUL byte");
}
END_TEST

START_TEST (test_same_name)
{
  struct tu_hdr t;

  valid (&t);
  t.image_name = "base.img";
  assert_corrupt (&t, "image file and backing file have the same name "
                  "'base.img'");
}
END_TEST

/* ---- format fields ----------------------------------------------------- */

START_TEST (test_backing_fmt_unterminated)
{
  struct tu_hdr t;

  valid (&t);
  memset (t.backing_fmt, 'x', 16);
  assert_corrupt (&t, "backing_fmt is not NUL-terminated");
}
END_TEST

START_TEST (test_image_fmt_unterminated)
{
  struct tu_hdr t;

  valid (&t);
  memset (t.image_fmt, 'r', 16);
  assert_corrupt (&t, "image_fmt is not NUL-terminated");
}
END_TEST

START_TEST (test_image_fmt_empty)
{
  struct tu_hdr t;

  valid (&t);
  memset (t.image_fmt, 0, 16);
  assert_corrupt (&t, "image_fmt is empty");
}
END_TEST

START_TEST (test_image_fmt_not_raw)
{
  struct tu_hdr t;

  valid (&t);
  strcpy (t.image_fmt, "qcow2");
  assert_corrupt (&t, "unsupported image format 'qcow2' (only raw)");
  memset (t.image_fmt, 0, 16);
  strcpy (t.image_fmt, "RAW");          /* names are case-sensitive */
  assert_corrupt (&t, "unsupported image format 'RAW' (only raw)");
}
END_TEST

START_TEST (test_backing_fmt_without_backing)
{
  struct tu_hdr t;

  tu_hdr_init (&t, 12, "disk.raw", NULL, NULL);
  strcpy (t.backing_fmt, "raw");
  assert_corrupt (&t, "backing_fmt is set without a backing file");
}
END_TEST

START_TEST (test_backing_fmt_empty)
{
  struct tu_hdr t;

  valid (&t);
  memset (t.backing_fmt, 0, 16);
  assert_corrupt (&t, "backing_fmt is empty but a backing file is named");
}
END_TEST

/* A backing format this project does not read is not a header error: open
 * refuses it later (backing.c) while info can still show the header. */
START_TEST (test_backing_fmt_unknown_decodes)
{
  struct tu_hdr t;

  valid (&t);
  strcpy (t.backing_fmt, "qcow2");
  assert_ok (&t);
  ck_assert_str_eq (h.backing_fmt, "qcow2");
}
END_TEST

/* ---- leaks ------------------------------------------------------------- */

START_TEST (test_padding_leak)
{
  struct tu_hdr t;

  valid (&t);
  tu_hdr_encode (&t, buf, BUF_SIZE);
  buf[76 + 16] = 0xaa;                  /* right after the image name */
  buf[4095] = 1;
  ck_assert_int_eq (decode_buf (BUF_SIZE, false), 0);   /* opens */
  ck_assert_uint_eq (pr.leaks, 1);
  ck_assert_uint_eq (pr.corruptions, 0);
  ck_assert_uint_eq (h.padding_dirty, 2);
  ck_assert_str_eq (h.image_name, "disk.raw");
  ck_assert_int_eq (decode_buf (BUF_SIZE, true), 0);
  ck_assert_uint_eq (nreported, 1);
  ck_assert_int_eq (reported_kind[0], ADDCOW_PROBLEM_LEAK);
  ck_assert_str_eq (reported[0], FILE_NAME ": 2 non-zero bytes in the "
                    "header padding");
  /* The bytes between the fixed header and a name placed further on are
   * padding too. */
  valid (&t);
  t.backing_name_offset = 500;
  t.image_name_offset = 600;
  tu_hdr_encode (&t, buf, BUF_SIZE);
  buf[76] = 'x';
  ck_assert_int_eq (decode_buf (BUF_SIZE, false), 0);
  ck_assert_uint_eq (h.padding_dirty, 1);
}
END_TEST

START_TEST (test_fmt_junk_leak)
{
  struct tu_hdr t;

  valid (&t);
  t.image_fmt[5] = 'z';                 /* "raw\0\0z..." */
  ck_assert_int_eq (decode (&t), 0);
  ck_assert_uint_eq (pr.leaks, 1);
  ck_assert_uint_eq (pr.corruptions, 0);
  ck_assert_str_eq (h.image_fmt, "raw");
  /* Decoded fields are clean: encoding them drops the junk. */
  header_encode (&h, buf);
  ck_assert_uint_eq (buf[60 + 5], 0);
}
END_TEST

/* Collecting mode reports every problem, not only the first. */
START_TEST (test_collect_all)
{
  struct tu_hdr t;

  valid (&t);
  t.cluster_bits = 40;
  memset (t.image_fmt, 0, 16);
  t.image_name = "base.img";
  tu_hdr_encode (&t, buf, BUF_SIZE);
  buf[3000] = 7;
  ck_assert_int_eq (decode_buf (BUF_SIZE, true), 0);
  ck_assert_uint_eq (pr.corruptions, 3);
  ck_assert_uint_eq (pr.leaks, 1);
  ck_assert_uint_eq (nreported, 4);
  ck_assert_str_eq (reported[0], FILE_NAME ": cluster_bits 40 is outside "
                    "12..21");
  ck_assert_str_eq (reported[1], FILE_NAME ": image_fmt is empty");
  ck_assert_str_eq (reported[2], FILE_NAME ": image file and backing file "
                    "have the same name 'base.img'");
  ck_assert_str_eq (reported[3], FILE_NAME ": 1 non-zero bytes in the "
                    "header padding");
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("header");
  TCase *tc = tcase_create ("header");

  tcase_add_checked_fixture (tc, NULL, teardown);
  tcase_add_test (tc, test_vector_encode);
  tcase_add_test (tc, test_vector_decode);
  tcase_add_test (tc, test_round_trip_backing);
  tcase_add_test (tc, test_round_trip_no_backing);
  tcase_add_test (tc, test_names_anywhere);
  tcase_add_test (tc, test_init_limits);
  tcase_add_test (tc, test_bad_magic);
  tcase_add_test (tc, test_short_header);
  tcase_add_test (tc, test_incompatible_features);
  tcase_add_test (tc, test_unknown_compat_ignored);
  tcase_add_test (tc, test_header_size_not_multiple);
  tcase_add_test (tc, test_header_size_too_small);
  tcase_add_test (tc, test_header_size_too_large);
  tcase_add_test (tc, test_header_size_past_file);
  tcase_add_test (tc, test_cluster_bits);
  tcase_add_test (tc, test_image_name_size_zero);
  tcase_add_test (tc, test_image_name_offset_low);
  tcase_add_test (tc, test_image_name_past_header);
  tcase_add_test (tc, test_image_name_overflow);
  tcase_add_test (tc, test_backing_size_without_offset);
  tcase_add_test (tc, test_backing_offset_without_size);
  tcase_add_test (tc, test_backing_name_offset_low);
  tcase_add_test (tc, test_backing_name_past_header);
  tcase_add_test (tc, test_names_overlap);
  tcase_add_test (tc, test_names_identical_range);
  tcase_add_test (tc, test_nul_in_image_name);
  tcase_add_test (tc, test_nul_in_backing_name);
  tcase_add_test (tc, test_same_name);
  tcase_add_test (tc, test_backing_fmt_unterminated);
  tcase_add_test (tc, test_image_fmt_unterminated);
  tcase_add_test (tc, test_image_fmt_empty);
  tcase_add_test (tc, test_image_fmt_not_raw);
  tcase_add_test (tc, test_backing_fmt_without_backing);
  tcase_add_test (tc, test_backing_fmt_empty);
  tcase_add_test (tc, test_backing_fmt_unknown_decodes);
  tcase_add_test (tc, test_padding_leak);
  tcase_add_test (tc, test_fmt_junk_leak);
  tcase_add_test (tc, test_collect_all);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
