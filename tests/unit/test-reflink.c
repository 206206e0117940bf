/*
 * test-reflink.c - copies_share_extents (lib/ops/copy.c), the probe that
 * tells commit whether copy_file_range into BASE clones (then it reads
 * nothing ahead): it never changes a byte of either file, whatever the
 * file system answers, and it is never asked of a caller's I/O table
 * (whose copy_range may not be copy_file_range).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define LEN (64 * 1024)

static int
no_sync (void *o, int fd)
{
  (void) o;
  (void) fd;
  return 0;
}

static void
assert_file (const char *path, unsigned seed)
{
  uint8_t *want = malloc (LEN), *got;
  size_t len;

  ck_assert_ptr_nonnull (want);
  tu_fill (want, LEN, seed, 0);
  got = tu_read_file (path, &len);
  ck_assert_uint_eq (len, LEN);
  ck_assert_int_eq (memcmp (got, want, LEN), 0);
  free (got);
  free (want);
}

START_TEST (test_probe_changes_nothing)
{
  struct addcow_io sys, user;
  struct addcow_io table = { .fdatasync = no_sync };
  int src, dst, null;

  tu_make_file ("src", LEN, 1);
  tu_make_file ("dst", LEN, 2);
  src = open ("src", O_RDONLY);
  dst = open ("dst", O_RDWR);
  null = open ("/dev/null", O_RDWR);
  ck_assert_int_ge (src, 0);
  ck_assert_int_ge (dst, 0);
  ck_assert_int_ge (null, 0);
  io_init (&sys, NULL);
  io_init (&user, &table);
  /* Whatever this file system says (true on XFS with reflink and btrfs),
   * neither file changes: dedupe shares only equal blocks. */
  (void) copies_share_extents (&sys, src, dst);
  (void) copies_share_extents (&sys, dst, src);
  ck_assert (!copies_share_extents (&user, src, dst));
  /* Files shorter than a block are never probed. */
  ck_assert (!copies_share_extents (&sys, src, null));
  close (null);
  close (src);
  close (dst);
  assert_file ("src", 1);
  assert_file ("dst", 2);
}
END_TEST

/* On ext4 and tmpfs, which cannot share extents, the answer is no. */
START_TEST (test_no_reflink_here)
{
  struct addcow_io sys;
  struct statfs fs;
  int src, dst;

  tu_make_file ("src", LEN, 1);
  tu_make_file ("dst", LEN, 2);
  ck_assert_int_eq (statfs ("src", &fs), 0);
  if (fs.f_type != 0xEF53 && fs.f_type != 0x01021994)   /* ext2-4, tmpfs */
    return;
  src = open ("src", O_RDONLY);
  dst = open ("dst", O_RDWR);
  io_init (&sys, NULL);
  ck_assert (!copies_share_extents (&sys, src, dst));
  close (src);
  close (dst);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("reflink");
  TCase *tc = tcase_create ("reflink");

  tcase_add_test (tc, test_probe_changes_nothing);
  tcase_add_test (tc, test_no_reflink_here);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
