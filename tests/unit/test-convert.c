/*
 * test-convert.c - addcow_convert: the target is the disk byte for byte,
 * its zero runs are holes, and it is durable before success and never
 * looks whole before it is: cut off after every write, truncate and sync
 * (layers-io.c's cache model), a failing write, a cancellation - each
 * leaves no target (or, after the rename, the whole disk) and no
 * temporary file.
 *
 * The fixture: base.raw (256 KiB of pattern, then a hole to 1 MiB),
 * src.add-cow over it, 1 MiB, 4 KiB clusters, with data in its own image
 * file at 8k and 600k.  The third kind of target is an add-cow overlay
 * over base.raw (convert -B): only the 5 clusters that differ from it are
 * allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"

#define CS 4096u
#define MIB (UINT64_C (1) << 20)

static struct {
  char *root, *dir, *snap, *src, *dst, *dst_ac, *dst_img;
  uint8_t *disk;
  uint64_t size;
  enum addcow_convert_format format;
  bool overlay;                 /* add-cow over base.raw */
} G;

/* Loop index I: raw, add-cow, add-cow overlay over base.raw. */
static void
pick (int i)
{
  G.format = i ? ADDCOW_CONVERT_ADDCOW : ADDCOW_CONVERT_RAW;
  G.overlay = i == 2;
}

static void
setup (void)
{
  char *base;

  memset (&G, 0, sizeof G);
  G.root = tu_mkdtemp ();
  G.dir = tu_join (G.root, "w");
  G.snap = tu_join (G.root, "snap");
  ck_assert (mkdir (G.dir, 0755) == 0 && mkdir (G.snap, 0755) == 0);
  base = tu_join (G.dir, "base.raw");
  G.src = tu_join (G.dir, "src.add-cow");
  G.dst = tu_join (G.dir, "out.raw");
  G.dst_ac = tu_join (G.dir, "out.add-cow");
  G.dst_img = tu_join (G.dir, "out.raw");
  tu_make_file (base, 256 * 1024, 1);
  tu_truncate (base, MIB);
  tu_create (G.src, "src.raw", "base.raw", "raw", CS, 0);
  lt_write (G.src, 2, 8192 + 100, 5000);
  lt_write (G.src, 3, 600 * 1024, 3 * CS);
  G.disk = lt_disk (G.src, &G.size);
  free (base);
}

static void
teardown (void)
{
  tu_rmtree (G.root);
  free (G.root); free (G.dir); free (G.snap); free (G.src); free (G.dst);
  free (G.dst_ac); free (G.dst_img); free (G.disk);
}

static int
convert_op (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow_convert_opts co = ADDCOW_CONVERT_OPTS_INIT;
  struct addcow *img;
  int r;

  (void) arg;
  o.io = io;
  if ((r = addcow_open (path, &o, &img)) < 0)
    return r;
  co.format = G.format;
  if (G.overlay) {
    co.backing_name = "base.raw";
    co.backing_format = "raw";
    co.cluster_size = CS;
  }
  r = addcow_convert (img, G.format == ADDCOW_CONVERT_RAW ? G.dst : G.dst_ac,
                      &co);
  addcow_close (img);
  return r;
}

static void
assert_no_temp (void)
{
  ck_assert_msg (!lt_dir_has_suffix (G.dir, "-0"),
                 "a temporary file is left behind");
}

/* The overlay reads as the disk, with only the clusters at 8k-16k and
 * 600k-612k (the source's writes) allocated, in a sparse image file. */
static void
assert_overlay (void)
{
  uint64_t size;
  uint8_t *disk = lt_disk (G.dst_ac, &size);
  struct addcow *img = tu_open (G.dst_ac, false);
  struct addcow_extent e;
  struct stat st;

  ck_assert_uint_eq (size, G.size);
  lt_assert_same (disk, G.disk, size, "the overlay's disk");
  free (disk);
  lt_assert_clean (G.dst_ac);
  ck_assert_uint_eq (lt_allocated (G.dst_ac), 5);
  ck_assert_int_eq (addcow_block_status (img, 0, G.size, &e), 0);
  ck_assert_uint_eq (e.length, 8192);
  ck_assert_int_eq (addcow_block_status (img, 8192, G.size, &e), 0);
  ck_assert_uint_eq (e.length, 2 * CS);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_int_eq (addcow_block_status (img, 600 * 1024, G.size, &e), 0);
  ck_assert_uint_eq (e.length, 3 * CS);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_int_eq (stat (G.dst_img, &st), 0);
  ck_assert_int_le (st.st_blocks * 512, 16 * CS);
  addcow_close (img);
}

/* The target holds the disk; [256k, 600k) is a hole in it. */
static void
assert_target (void)
{
  int fd;
  off_t d;

  if (G.overlay) {
    assert_overlay ();
    return;
  }
  fd = open (G.dst_img, O_RDONLY);

  lt_assert_file (G.dst_img, G.disk, G.size);
  ck_assert_uint_eq (tu_file_size (G.dst_img), G.size);
  ck_assert (fd >= 0);
  d = lseek (fd, 256 * 1024, SEEK_DATA);
  close (fd);
  ck_assert_int_eq (d, 600 * 1024);
  if (G.format == ADDCOW_CONVERT_ADDCOW) {
    uint64_t size;
    uint8_t *disk = lt_disk (G.dst_ac, &size);
    ck_assert_uint_eq (size, G.size);
    lt_assert_same (disk, G.disk, size, "the new image's disk");
    free (disk);
    lt_assert_clean (G.dst_ac);
  }
}

START_TEST (test_convert)
{
  int r;

  pick (_i);
  r = convert_op (G.src, NULL, NULL);
  ck_assert_msg (r == 0, "convert: %s", addcow_get_error ());
  assert_target ();
  assert_no_temp ();
  r = convert_op (G.src, NULL, NULL);   /* over the old target */
  ck_assert_msg (r == 0, "convert: %s", addcow_get_error ());
  assert_target ();
  assert_no_temp ();
}
END_TEST

/* After a cut: no target, or (the rename done) the whole disk. */
static void
verify (const char *dir, void *arg, bool finished)
{
  const char *top = G.format == ADDCOW_CONVERT_RAW ? G.dst : G.dst_ac;

  (void) dir; (void) arg;
  if (finished || access (top, F_OK) == 0)
    assert_target ();
  /* (a crash may leave the temporary file: the next run takes another
   * name, and a finished run leaves none of its own) */
}

START_TEST (test_crash)
{
  struct lt_case c = { .dir = G.dir, .snap = G.snap, .path = G.src,
                       .op = convert_op, .verify = verify };
  long n;

  pick (_i);
  lt_copy_dir (G.dir, G.snap);
  n = lt_crash_every_op (&c);
  fprintf (stderr, "convert crash (%s): %ld cut points\n",
           _i == 2 ? "overlay" : _i ? "add-cow" : "raw", n);
  ck_assert_int_ge (n, 3);
}
END_TEST

static void
verify_failed (const char *dir, void *arg, bool finished)
{
  const char *top = G.format == ADDCOW_CONVERT_RAW ? G.dst : G.dst_ac;

  (void) dir; (void) arg;
  if (finished) {
    assert_target ();
    assert_no_temp ();
    return;
  }
  ck_assert_msg (access (top, F_OK) != 0, "a failed convert left %s", top);
  assert_no_temp ();
}

START_TEST (test_eio_every_write)
{
  struct lt_case c = { .dir = G.dir, .snap = G.snap, .path = G.src,
                       .op = convert_op, .verify = verify_failed };

  pick (_i);
  lt_copy_dir (G.dir, G.snap);
  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 0);
  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 0);
}
END_TEST

static int
stop_half_way (void *opaque, uint64_t done, uint64_t total)
{
  (void) opaque;
  return done >= total / 2;
}

START_TEST (test_cancel_and_refusals)
{
  struct addcow_convert_opts co = ADDCOW_CONVERT_OPTS_INIT;
  struct addcow *img = tu_open (G.src, false);
  char *small = tu_join (G.dir, "small.raw");

  co.progress = stop_half_way;
  ck_assert_int_eq (addcow_convert (img, G.dst, &co), -ECANCELED);
  ck_assert (access (G.dst, F_OK) != 0);
  assert_no_temp ();
  co.progress = NULL;
  tu_make_file (small, G.size - 512, 4);
  co.existing = true;
  ck_assert_int_eq (addcow_convert (img, small, &co), -EINVAL);
  tu_assert_error_has ("small.raw: output file is smaller than input file",
                       NULL, NULL);
  tu_truncate (small, G.size + 4096);
  ck_assert_int_eq (addcow_convert (img, small, &co), 0);
  lt_assert_file (small, G.disk, G.size);
  ck_assert_uint_eq (tu_file_size (small), G.size + 4096);
  co.format = ADDCOW_CONVERT_ADDCOW;
  ck_assert_int_eq (addcow_convert (img, G.dst_ac, &co), -ENOTSUP);
  /* -B: cancelled, it leaves no overlay nor image file; refusals */
  co.existing = false;
  co.backing_name = "base.raw";
  co.backing_format = "raw";
  co.progress = stop_half_way;
  ck_assert_int_eq (addcow_convert (img, G.dst_ac, &co), -ECANCELED);
  ck_assert (access (G.dst_ac, F_OK) != 0 && access (G.dst_img, F_OK) != 0);
  assert_no_temp ();
  co.progress = NULL;
  co.backing_format = NULL;
  ck_assert_int_eq (addcow_convert (img, G.dst_ac, &co), -EINVAL);
  tu_assert_error_has ("Use of backing file requires explicit backing "
                       "format", NULL, NULL);
  co.backing_format = "raw";
  co.format = ADDCOW_CONVERT_RAW;
  ck_assert_int_eq (addcow_convert (img, G.dst, &co), -EINVAL);
  tu_assert_error_has ("Backing file not supported for file format 'raw'",
                       NULL, NULL);
  co.format = ADDCOW_CONVERT_ADDCOW;
  co.image_name = "base.raw";
  ck_assert_int_eq (addcow_convert (img, G.dst_ac, &co), -EINVAL);
  tu_assert_error_has ("out.add-cow: image file 'base.raw' is the backing "
                       "file", NULL, NULL);
  co.image_name = NULL;
  co.backing_name = "nosuch.raw";
  ck_assert_int_lt (addcow_convert (img, G.dst_ac, &co), 0);
  tu_assert_error_has ("out.add-cow: ", "nosuch.raw", NULL);
  ck_assert (access (G.dst_ac, F_OK) != 0 && access (G.dst_img, F_OK) != 0);
  assert_no_temp ();
  co.version = 0;
  ck_assert_int_eq (addcow_convert (img, G.dst, &co), -EINVAL);
  ck_assert_int_eq (addcow_convert (img, NULL, &co), -EINVAL);
  addcow_close (img);
  free (small);
}
END_TEST

/* A disk longer than two writeback batches (convert.c starts the
 * target's writeback 64 MiB at a time, behind the copy): the target is
 * still the disk byte for byte, and its holes stay holes. */
START_TEST (test_long_disk)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow_convert_opts co = ADDCOW_CONVERT_OPTS_INIT;
  char *src = tu_join (G.dir, "long.add-cow"), *dst = tu_join (G.dir,
                                                               "long.raw");
  uint64_t size;
  uint8_t *disk;
  struct addcow *img;
  int fd, r;

  tu_create (src, "long-img.raw", NULL, NULL, 65536, 320 * MIB);
  lt_write (src, 4, MIB, 3 * MIB);
  lt_write (src, 5, 130 * MIB, 70 * MIB);
  lt_write (src, 6, 300 * MIB, 65536);
  disk = lt_disk (src, &size);
  ck_assert_int_eq (addcow_open (src, &o, &img), 0);
  r = addcow_convert (img, dst, &co);
  ck_assert_msg (r == 0, "convert: %s", addcow_get_error ());
  addcow_close (img);
  lt_assert_file (dst, disk, size);
  ck_assert_uint_eq (tu_file_size (dst), 320 * MIB);
  fd = open (dst, O_RDONLY);
  ck_assert (fd >= 0);
  ck_assert_int_eq (lseek (fd, 4 * MIB, SEEK_DATA), 130 * MIB);
  ck_assert_int_eq (lseek (fd, 201 * MIB, SEEK_DATA), 300 * MIB);
  close (fd);
  free (disk);
  free (src);
  free (dst);
}
END_TEST

static Suite *
convert_suite (void)
{
  Suite *s = suite_create ("convert");
  TCase *t = tcase_create ("convert");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_set_timeout (t, 240);
  tcase_add_loop_test (t, test_convert, 0, 3);
  tcase_add_loop_test (t, test_crash, 0, 3);
  tcase_add_loop_test (t, test_eio_every_write, 0, 3);
  tcase_add_test (t, test_cancel_and_refusals);
  tcase_add_test (t, test_long_disk);
  suite_add_tcase (s, t);
  return s;
}

int
main (void)
{
  return tu_run (convert_suite ());
}
