/*
 * test-check.c - addcow_check and its repairs: leaks (stray bits, header
 * and bitmap padding, a file not padded to a whole cluster) mended by
 * ADDCOW_REPAIR_LEAKS, a truncated bitmap only by ADDCOW_REPAIR_ALL; the
 * result counts exact; the reports of the first and second run (as
 * e2fsprogs' expect.1 / expect.2); data untouched by every repair.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define CS 4096u
#define NCL 20u                 /* 3 bitmap bytes, 4 spare bits */
#define PADDED (4096u + CS)

static char *dir, *meta, *image, *base;
static uint8_t model[NCL * CS];

static struct {
  char msg[16][256];
  enum addcow_problem kind[16];
  bool fixed[16];
  unsigned n;
} rep;

static void
report (void *opaque, enum addcow_problem kind, bool fixed, const char *msg)
{
  (void) opaque;
  if (rep.n < 16) {
    snprintf (rep.msg[rep.n], sizeof rep.msg[0], "%s", msg);
    rep.kind[rep.n] = kind;
    rep.fixed[rep.n] = fixed;
  }
  rep.n++;
}

/* Clusters 0, 5 and 19 written over a 20-cluster raw backing. */
static void
setup (void)
{
  static const unsigned written[] = { 0, 5, 19 };
  struct addcow *img;
  unsigned i;

  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
  tu_make_file (base, NCL * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  tu_fill (model, sizeof model, 1, 0);
  img = tu_open (meta, true);
  for (i = 0; i < 3; i++) {
    uint64_t off = (uint64_t) written[i] * CS;
    tu_fill (model + off, CS, 2, off);
    ck_assert_int_eq (addcow_pwrite (img, model + off, CS, off), 0);
  }
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_uint_eq (tu_file_size (meta), PADDED);
  memset (&rep, 0, sizeof rep);
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (dir);
}

static void
poke (uint64_t off, uint8_t v)
{
  tu_pwrite (meta, &v, 1, off);
}

static uint8_t
peek (uint64_t off)
{
  size_t len;
  uint8_t *b = tu_read_file (meta, &len), v;

  ck_assert_uint_lt (off, len);
  v = b[off];
  free (b);
  return v;
}

static void
check (enum addcow_repair mode, struct addcow_check_result *res)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  int r;

  o.repair = mode;
  o.report = report;
  memset (res, 0xee, sizeof *res);
  r = addcow_check (meta, &o, res);
  ck_assert_msg (r == 0, "check: %d %s", r, addcow_get_error ());
}

static void
assert_counts (const struct addcow_check_result *res, uint64_t corruptions,
               uint64_t leaks, uint64_t corruptions_fixed,
               uint64_t leaks_fixed)
{
  ck_assert_uint_eq (res->corruptions, corruptions);
  ck_assert_uint_eq (res->leaks, leaks);
  ck_assert_uint_eq (res->corruptions_fixed, corruptions_fixed);
  ck_assert_uint_eq (res->leaks_fixed, leaks_fixed);
  ck_assert_int_eq (res->check_errors, 0);
}

static void
assert_clean (void)
{
  struct addcow_check_result res;
  unsigned before = rep.n;

  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 0, 0, 0);
  ck_assert_uint_eq (rep.n, before);            /* expect.2: silence */
  ck_assert_uint_eq (res.total_clusters, NCL);
  ck_assert_uint_eq (res.image_end_offset, PADDED);
}

/* The disk reads what it read before the repair. */
static void
assert_data (const uint8_t *want)
{
  static uint8_t got[NCL * CS];
  struct addcow *img = tu_open (meta, false);

  ck_assert_int_eq (addcow_pread (img, got, sizeof got, 0), 0);
  ck_assert_mem_eq (got, want, sizeof got);
  addcow_close (img);
}

static void
assert_report (unsigned i, enum addcow_problem kind, bool fixed,
               const char *text)
{
  char want[512];

  ck_assert_uint_gt (rep.n, i);
  snprintf (want, sizeof want, "%s: %s", meta, text);
  ck_assert_str_eq (rep.msg[i], want);
  ck_assert_int_eq (rep.kind[i], kind);
  ck_assert_int_eq (rep.fixed[i], fixed);
}

START_TEST (test_clean)
{
  struct addcow_check_result res;

  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 0, 0, 0);
  ck_assert_uint_eq (res.total_clusters, NCL);
  ck_assert_uint_eq (res.allocated_clusters, 3);
  ck_assert_uint_eq (res.image_end_offset, PADDED);
  ck_assert_uint_eq (rep.n, 0);
  /* Repairing a clean image changes nothing. */
  check (ADDCOW_REPAIR_ALL, &res);
  assert_counts (&res, 0, 0, 0, 0);
  ck_assert_uint_eq (rep.n, 0);
}
END_TEST

START_TEST (test_stray_bits)
{
  struct addcow_check_result res;
  struct addcow *img;

  ck_assert_uint_eq (peek (4096 + 2), 0x08);     /* cluster 19 */
  poke (4096 + 2, 0xf8);
  img = tu_open (meta, false);                   /* a leak: opens */
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 3);
  addcow_close (img);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 1, 0, 0);
  ck_assert_uint_eq (res.allocated_clusters, 3);
  ck_assert_uint_eq (rep.n, 1);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false,
                 "4 bits set past the last cluster");
  ck_assert_uint_eq (peek (4096 + 2), 0xf8);     /* check alone: no write */

  rep.n = 0;
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 1);
  ck_assert_uint_eq (res.allocated_clusters, 3);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false,
                 "4 bits set past the last cluster");
  assert_report (1, ADDCOW_PROBLEM_LEAK, true,
                 "bits past the last cluster cleared");
  ck_assert_uint_eq (rep.n, 2);         /* nothing else claimed fixed */
  ck_assert_uint_eq (peek (4096 + 2), 0x08);
  assert_clean ();
  assert_data (model);
}
END_TEST

START_TEST (test_header_padding)
{
  struct addcow_check_result res;
  size_t len1, len2;
  uint8_t *before, *after;
  struct addcow *img;

  poke (4000, 0x5a);
  poke (200, 0x01);
  before = tu_read_file (meta, &len1);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 1, 0, 0);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false,
                 "2 non-zero bytes in the header padding");
  rep.n = 0;
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 1);
  assert_report (1, ADDCOW_PROBLEM_LEAK, true, "header padding cleared");
  ck_assert_uint_eq (rep.n, 2);
  after = tu_read_file (meta, &len2);
  ck_assert_uint_eq (len1, len2);
  before[4000] = before[200] = 0;               /* only those changed */
  ck_assert_mem_eq (before, after, len1);
  img = tu_open (meta, false);
  ck_assert_str_eq (addcow_get_image_name (img), "disk.raw");
  ck_assert_str_eq (addcow_get_backing_name (img), "base.raw");
  addcow_close (img);
  assert_clean ();
  assert_data (model);
  free (before);
  free (after);
}
END_TEST

START_TEST (test_bitmap_padding)
{
  struct addcow_check_result res;

  poke (4096 + 3, 0xff);                        /* first padding byte */
  poke (PADDED - 1, 0x01);                      /* last one */
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 1, 0, 0);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false,
                 "2 non-zero bytes in the bitmap padding");
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 1);
  ck_assert_uint_eq (peek (4096 + 3), 0);
  ck_assert_uint_eq (peek (PADDED - 1), 0);
  ck_assert_uint_eq (tu_file_size (meta), PADDED);
  assert_clean ();
  assert_data (model);
}
END_TEST

START_TEST (test_unpadded_short)
{
  struct addcow_check_result res;
  char msg[128];

  tu_truncate (meta, 4096 + 3);                 /* bitmap, no padding */
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 1, 0, 0);
  ck_assert_uint_eq (res.image_end_offset, 4099);
  snprintf (msg, sizeof msg, "file is 4099 bytes, not %u (header + bitmap "
            "padded to a whole cluster)", PADDED);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false, msg);
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 1);
  ck_assert_uint_eq (tu_file_size (meta), PADDED);
  assert_clean ();
  assert_data (model);
}
END_TEST

START_TEST (test_unpadded_long)
{
  struct addcow_check_result res;
  uint8_t junk[100];

  memset (junk, 0x77, sizeof junk);
  tu_pwrite (meta, junk, sizeof junk, PADDED + 4096);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 1, 0, 0);
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 1);
  ck_assert_uint_eq (tu_file_size (meta), PADDED);
  assert_clean ();
  assert_data (model);
}
END_TEST

START_TEST (test_all_leaks)
{
  struct addcow_check_result res;
  uint8_t junk[10];

  poke (4096 + 2, 0x18);                        /* 1 stray bit */
  poke (3000, 9);                               /* header padding */
  poke (4096 + 50, 9);                          /* bitmap padding */
  memset (junk, 1, sizeof junk);
  tu_pwrite (meta, junk, sizeof junk, PADDED);  /* too long */
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 4, 0, 0);
  ck_assert_uint_eq (rep.n, 4);
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 4);
  assert_clean ();
  assert_data (model);
}
END_TEST

/* Leaks in the format fields: junk after the terminator. */
START_TEST (test_fmt_junk)
{
  struct addcow_check_result res;
  struct addcow *img;

  poke (60 + 6, 'j');                           /* image_fmt "raw\0\0\0j" */
  poke (44 + 15, 'k');                          /* backing_fmt's last byte */
  img = tu_open (meta, false);
  ck_assert_str_eq (addcow_get_image_format (img), "raw");
  addcow_close (img);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 0, 2, 0, 0);
  assert_report (0, ADDCOW_PROBLEM_LEAK, false,
                 "backing_fmt has non-zero bytes after its terminator");
  assert_report (1, ADDCOW_PROBLEM_LEAK, false,
                 "image_fmt has non-zero bytes after its terminator");
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 0, 0, 0, 2);
  ck_assert_uint_eq (peek (66), 0);
  ck_assert_uint_eq (peek (59), 0);
  ck_assert_uint_eq (peek (60), 'r');
  ck_assert_uint_eq (peek (44), 'r');
  assert_clean ();
}
END_TEST

START_TEST (test_truncated_bitmap)
{
  static uint8_t want[NCL * CS];
  struct addcow_check_result res;
  struct addcow *img;
  char msg[256];

  tu_truncate (meta, 4096 + 1);                 /* byte 0 of 3 kept */
  ck_assert_int_eq (addcow_open (meta, NULL, &img), -EINVAL);
  snprintf (msg, sizeof msg, "%s: bitmap is truncated: the file is 4097 "
            "bytes, 20 clusters need 4099", meta);
  tu_assert_error (msg);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 1, 0, 0, 0);
  ck_assert_uint_eq (res.allocated_clusters, 2);        /* 0 and 5 */
  assert_report (0, ADDCOW_PROBLEM_CORRUPTION, false,
                 "bitmap is truncated: the file is 4097 bytes, 20 clusters "
                 "need 4099");
  /* Leaks mode does not touch it. */
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 1, 0, 0, 0);
  ck_assert_uint_eq (tu_file_size (meta), 4097);
  /* All: extended with zeros; cluster 19 reads from the backing again. */
  rep.n = 0;
  check (ADDCOW_REPAIR_ALL, &res);
  assert_counts (&res, 0, 0, 1, 0);
  assert_report (1, ADDCOW_PROBLEM_CORRUPTION, true,
                 "bitmap padded with zeros to a whole cluster");
  ck_assert_uint_eq (rep.n, 2);
  ck_assert_uint_eq (tu_file_size (meta), PADDED);
  ck_assert_uint_eq (peek (4096), 0x21);
  assert_clean ();
  memcpy (want, model, sizeof want);
  tu_fill (want + 19 * CS, CS, 1, 19 * CS);
  assert_data (want);
}
END_TEST

/* A corruption that stays does not keep the leaks from being mended. */
START_TEST (test_leak_beside_corruption)
{
  struct addcow_check_result res;

  tu_truncate (meta, 4096 + 2);
  poke (1000, 3);
  check (ADDCOW_REPAIR_NONE, &res);
  assert_counts (&res, 1, 1, 0, 0);
  check (ADDCOW_REPAIR_LEAKS, &res);
  assert_counts (&res, 1, 0, 0, 1);
  ck_assert_uint_eq (peek (1000), 0);
  ck_assert_uint_eq (tu_file_size (meta), 4098);
  check (ADDCOW_REPAIR_ALL, &res);
  assert_counts (&res, 0, 0, 1, 0);
  assert_clean ();
}
END_TEST

START_TEST (test_locked)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  struct addcow *w = tu_open (meta, true);

  ck_assert_int_eq (addcow_check (meta, &o, &res), -EBUSY);
  o.repair = ADDCOW_REPAIR_LEAKS;
  ck_assert_int_eq (addcow_check (meta, &o, &res), -EBUSY);
  o.repair = ADDCOW_REPAIR_NONE;
  o.force_share = true;
  ck_assert_int_eq (addcow_check (meta, &o, &res), 0);
  assert_counts (&res, 0, 0, 0, 0);
  ck_assert_uint_eq (res.allocated_clusters, 3);
  addcow_close (w);
}
END_TEST

START_TEST (test_all_allocated)
{
  char *solo = tu_join (dir, "solo.add-cow");
  struct addcow_check_result res;
  int r;

  tu_create (solo, "solo.raw", NULL, NULL, CS, 10 * CS + 1);
  r = addcow_check (solo, NULL, &res);
  ck_assert_int_eq (r, 0);
  assert_counts (&res, 0, 0, 0, 0);
  ck_assert_uint_eq (res.total_clusters, 11);
  ck_assert_uint_eq (res.allocated_clusters, 11);
  free (solo);
}
END_TEST

START_TEST (test_cannot_check)
{
  struct addcow_check_result res;
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  char *gone = tu_join (dir, "gone.add-cow");

  ck_assert_int_eq (addcow_check (gone, NULL, &res), -ENOENT);
  ck_assert_int_eq (addcow_check (NULL, NULL, &res), -EINVAL);
  ck_assert_int_eq (addcow_check (meta, NULL, NULL), -EINVAL);
  o.version = 99;
  ck_assert_int_eq (addcow_check (meta, &o, &res), -EINVAL);
  free (gone);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("check");
  TCase *tc = tcase_create ("check");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_clean);
  tcase_add_test (tc, test_stray_bits);
  tcase_add_test (tc, test_header_padding);
  tcase_add_test (tc, test_bitmap_padding);
  tcase_add_test (tc, test_unpadded_short);
  tcase_add_test (tc, test_unpadded_long);
  tcase_add_test (tc, test_all_leaks);
  tcase_add_test (tc, test_fmt_junk);
  tcase_add_test (tc, test_truncated_bitmap);
  tcase_add_test (tc, test_leak_beside_corruption);
  tcase_add_test (tc, test_locked);
  tcase_add_test (tc, test_all_allocated);
  tcase_add_test (tc, test_cannot_check);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
