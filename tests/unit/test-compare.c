/*
 * test-compare.c - addcow_compare: qemu-img compare's rules (the common
 * part, then the rest of the larger disk must read zeros; strict: sizes
 * and block status), the first differing 512-byte sector, and the fast
 * path: runs that both disks read from the same file at the same offset,
 * and zeros against zeros, are not read (result.bytes_read).
 *
 * The fixture: base.raw (1 MiB of pattern, then 1 MiB of hole), a.add-cow
 * and b.add-cow over it, 2 MiB, 4 KiB clusters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"

#define CS 4096u
#define MIB (UINT64_C (1) << 20)

static struct {
  char *dir, *base, *a, *b;
} G;

static void
setup (void)
{
  G.dir = tu_mkdtemp ();
  G.base = tu_join (G.dir, "base.raw");
  G.a = tu_join (G.dir, "a.add-cow");
  G.b = tu_join (G.dir, "b.add-cow");
  tu_make_file (G.base, MIB, 1);
  tu_truncate (G.base, 2 * MIB);
  tu_create (G.a, "a.raw", "base.raw", "raw", CS, 0);
  tu_create (G.b, "b.raw", "base.raw", "raw", CS, 0);
}

static void
teardown (void)
{
  tu_rmtree (G.dir);
  free (G.dir); free (G.base); free (G.a); free (G.b);
}

/* Compare the disks of A and B. */
static int
cmp (const char *a, const char *b, bool strict,
     struct addcow_compare_result *res)
{
  struct addcow_compare_opts o = ADDCOW_COMPARE_OPTS_INIT;
  struct addcow *ia = tu_open (a, false), *ib = tu_open (b, false);
  int r;

  o.strict = strict;
  r = addcow_compare (ia, ib, &o, res);
  addcow_close (ia);
  addcow_close (ib);
  return r;
}

static void
assert_outcome (bool strict, enum addcow_compare_outcome outcome,
                uint64_t offset, uint64_t bytes_read)
{
  struct addcow_compare_result res;
  int r = cmp (G.a, G.b, strict, &res);

  ck_assert_msg (r == 0, "compare: %s", addcow_get_error ());
  ck_assert_int_eq (res.outcome, outcome);
  if (outcome != ADDCOW_COMPARE_IDENTICAL)
    ck_assert_uint_eq (res.offset, offset);
  ck_assert_uint_eq (res.bytes_read, bytes_read);
  /* the other way round: the same answer */
  r = cmp (G.b, G.a, strict, &res);
  ck_assert_msg (r == 0, "compare: %s", addcow_get_error ());
  ck_assert_int_eq (res.outcome, outcome);
  if (outcome != ADDCOW_COMPARE_IDENTICAL)
    ck_assert_uint_eq (res.offset, offset);
}

/* Write the backing file's own bytes at OFF of PATH (allocates the
 * clusters without changing the disk). */
static void
write_same (const char *path, uint64_t off, uint64_t len)
{
  uint8_t *b = malloc (len);
  struct addcow *img = tu_open (path, true);

  ck_assert (b != NULL);
  ck_assert_int_eq (addcow_pread (img, b, len, off), 0);
  ck_assert_int_eq (addcow_pwrite (img, b, len, off), 0);
  ck_assert_int_eq (addcow_close (img), 0);
  free (b);
}

START_TEST (test_shared_backing_not_read)
{
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, 0);
  assert_outcome (true, ADDCOW_COMPARE_IDENTICAL, 0, 0);
}
END_TEST

/* Only the clusters one image holds are read (from both sides). */
START_TEST (test_only_owned_clusters_read)
{
  write_same (G.a, 10 * CS, 2 * CS);
  write_same (G.b, 100 * CS, CS);
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, 2 * 3 * CS);
  assert_outcome (true, ADDCOW_COMPARE_IDENTICAL, 0, 2 * 3 * CS);
}
END_TEST

/* The first differing sector, not the first byte, as qemu-img. */
START_TEST (test_content_mismatch_sector)
{
  lt_write (G.b, 7, 100007, 1000);
  assert_outcome (false, ADDCOW_COMPARE_CONTENT, 99840, 2 * CS);
  lt_write (G.a, 7, 100007, 1000);      /* the same bytes: identical */
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, 2 * CS);
  lt_write (G.a, 8, 1500000, 1);        /* over the backing's hole */
  assert_outcome (false, ADDCOW_COMPARE_CONTENT, 1499648, 2 * CS + CS);
}
END_TEST

/* Zeros against zeros, whatever holds them, are not read. */
START_TEST (test_zeros_not_read)
{
  static const uint8_t zeros[CS];
  struct addcow *img = tu_open (G.a, true);

  /* a: zeros written over the hole of the backing file (allocated, a
   * hole in the image file: zero, as the backing file's hole) */
  ck_assert_int_eq (addcow_pwrite_zeroes (img, 64 * 1024, MIB + 8192), 0);
  ck_assert_int_eq (addcow_close (img), 0);
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, 0);
  assert_outcome (true, ADDCOW_COMPARE_IDENTICAL, 0, 0);
  /* zeros written as data: read on that side only; strict, data against
   * the backing file's hole is a block status difference */
  img = tu_open (G.a, true);
  ck_assert_int_eq (addcow_pwrite (img, zeros, CS, MIB + 32 * CS), 0);
  ck_assert_int_eq (addcow_close (img), 0);
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, CS);
  assert_outcome (true, ADDCOW_COMPARE_STATUS, MIB + 32 * CS, 0);
}
END_TEST

/* Images without a backing file: ALL_ALLOCATED, sparse image files. */
START_TEST (test_standalone_images)
{
  char *c = tu_join (G.dir, "c.add-cow"), *d = tu_join (G.dir, "d.add-cow");
  struct addcow_compare_result res;

  tu_create (c, "c.raw", NULL, NULL, CS, 4 * MIB);
  tu_create (d, "d.raw", NULL, NULL, 65536, 4 * MIB);
  ck_assert_int_eq (cmp (c, d, true, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_IDENTICAL);
  ck_assert_uint_eq (res.bytes_read, 0);
  lt_write (d, 3, 3 * MIB + 1, 1);
  ck_assert_int_eq (cmp (c, d, false, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_CONTENT);
  ck_assert_uint_eq (res.offset, 3 * MIB);
  free (c);
  free (d);
}
END_TEST

/* One file under two names (a hard link): the same file, not read. */
START_TEST (test_same_file_two_names)
{
  char *lnk = tu_join (G.dir, "link.raw");

  ck_assert (link (G.base, lnk) == 0);
  unlink (G.b);
  tu_create (G.b, "b.raw", "link.raw", "raw", CS, 0);
  assert_outcome (false, ADDCOW_COMPARE_IDENTICAL, 0, 0);
  free (lnk);
}
END_TEST

/* Sizes: non-strict, the rest of the larger disk must read zeros;
 * strict, any difference is a mismatch. */
START_TEST (test_sizes)
{
  char *c = tu_join (G.dir, "c.add-cow");
  struct addcow_compare_result res;

  tu_create (c, "c.raw", "base.raw", "raw", CS, 3 * MIB);
  ck_assert_int_eq (cmp (G.a, c, false, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_IDENTICAL);
  ck_assert (res.size_differs);
  ck_assert_uint_eq (res.bytes_read, 0);
  ck_assert_int_eq (cmp (G.a, c, true, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_SIZE);
  lt_write (c, 4, 2 * MIB + 5000, 10);
  ck_assert_int_eq (cmp (c, G.a, false, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_CONTENT);
  ck_assert_uint_eq (res.offset, 2 * MIB + 4608);
  ck_assert_int_eq (cmp (G.a, c, false, &res), 0);
  ck_assert_uint_eq (res.offset, 2 * MIB + 4608);
  free (c);
}
END_TEST

static int
stop_at_once (void *opaque, uint64_t done, uint64_t total)
{
  (void) opaque; (void) done; (void) total;
  return 1;
}

START_TEST (test_cancel_and_bad_calls)
{
  struct addcow_compare_opts o = ADDCOW_COMPARE_OPTS_INIT;
  struct addcow_compare_result res;
  struct addcow *a = tu_open (G.a, false), *b = tu_open (G.b, false);

  o.progress = stop_at_once;
  ck_assert_int_eq (addcow_compare (a, b, &o, &res), -ECANCELED);
  tu_assert_error_has ("a.add-cow: cancelled", NULL, NULL);
  ck_assert_int_eq (addcow_compare (a, NULL, NULL, &res), -EINVAL);
  ck_assert_int_eq (addcow_compare (a, b, NULL, NULL), -EINVAL);
  o.version = 99;
  ck_assert_int_eq (addcow_compare (a, b, &o, &res), -EINVAL);
  ck_assert_int_eq (addcow_compare (a, a, NULL, &res), 0);
  ck_assert_int_eq (res.outcome, ADDCOW_COMPARE_IDENTICAL);
  addcow_close (a);
  addcow_close (b);
}
END_TEST

static Suite *
compare_suite (void)
{
  Suite *s = suite_create ("compare");
  TCase *t = tcase_create ("compare");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_add_test (t, test_shared_backing_not_read);
  tcase_add_test (t, test_only_owned_clusters_read);
  tcase_add_test (t, test_content_mismatch_sector);
  tcase_add_test (t, test_zeros_not_read);
  tcase_add_test (t, test_standalone_images);
  tcase_add_test (t, test_same_file_two_names);
  tcase_add_test (t, test_sizes);
  tcase_add_test (t, test_cancel_and_bad_calls);
  suite_add_tcase (s, t);
  return s;
}

int
main (void)
{
  return tu_run (compare_suite ());
}
