/*
 * test-flush.c - the order of writes and syncs (spec section 7), seen
 * through an injected struct addcow_io that logs every operation:
 *   - a bitmap write to the add-cow file comes after an fdatasync of the
 *     image file that follows every data write before it;
 *   - the add-cow file is synced after the bitmap write, before the flush
 *     (or close) returns;
 *   - bits are batched: writes do not touch the add-cow file, a flush
 *     writes each dirty bitmap block once;
 *   - overwriting allocated clusters needs no metadata at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"
#include "testutil.h"

#define CS 4096u

enum kind { OP_READ, OP_WRITE, OP_DATASYNC, OP_FSYNC, OP_TRUNCATE, OP_MARK };

struct op {
  enum kind kind;
  int fd;
  uint64_t off, len;
};

static struct {
  struct op ops[8192];
  unsigned n;
  int fail_sync_fd;             /* >= 0: the next fdatasync of it fails */
} lg;

static void
log_op (enum kind kind, int fd, uint64_t off, uint64_t len)
{
  ck_assert_uint_lt (lg.n, sizeof lg.ops / sizeof lg.ops[0]);
  lg.ops[lg.n++] = (struct op) { kind, fd, off, len };
}

static ssize_t
l_pread (void *o, int fd, void *buf, size_t count, off_t off)
{
  (void) o;
  log_op (OP_READ, fd, (uint64_t) off, count);
  return pread (fd, buf, count, off);
}

static ssize_t
l_pwrite (void *o, int fd, const void *buf, size_t count, off_t off)
{
  (void) o;
  log_op (OP_WRITE, fd, (uint64_t) off, count);
  return pwrite (fd, buf, count, off);
}

static int
l_fdatasync (void *o, int fd)
{
  (void) o;
  log_op (OP_DATASYNC, fd, 0, 0);
  if (fd == lg.fail_sync_fd) {
    lg.fail_sync_fd = -1;
    errno = EIO;
    return -1;
  }
  return 0;                     /* the order is what is tested */
}

static int
l_fsync (void *o, int fd)
{
  (void) o;
  log_op (OP_FSYNC, fd, 0, 0);
  return 0;
}

static int
l_ftruncate (void *o, int fd, off_t len)
{
  (void) o;
  log_op (OP_TRUNCATE, fd, (uint64_t) len, 0);
  return ftruncate (fd, len);
}

static const struct addcow_io logging_io = {
  .version = ADDCOW_IO_VERSION, .pread = l_pread, .pwrite = l_pwrite,
  .fdatasync = l_fdatasync, .fsync = l_fsync, .ftruncate = l_ftruncate,
};

static char *dir, *meta, *image, *base;

static void
setup (void)
{
  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
  lg.n = 0;
  lg.fail_sync_fd = -1;
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (dir);
}

static struct addcow *
open_logged (const char *path)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  int r;

  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &logging_io;
  r = addcow_open (path, &o, &img);
  ck_assert_msg (r == 0, "open: %s", addcow_get_error ());
  return img;
}

static bool
is_sync (const struct op *op, int fd)
{
  return (op->kind == OP_DATASYNC || op->kind == OP_FSYNC) && op->fd == fd;
}

/* Check the rules on log entries [from, to).  Returns the number of bitmap
 * writes seen. */
static unsigned
assert_ordering (unsigned from, unsigned to, int meta_fd, int image_fd,
                 uint32_t header_size)
{
  unsigned i, j, bitmap_writes = 0;

  for (i = from; i < to; i++) {
    const struct op *op = &lg.ops[i];
    int last_data = -1, synced_after = -1;

    if (op->kind == OP_WRITE && op->fd == meta_fd)
      ck_assert_msg (op->off >= header_size,
                     "op %u: a flush rewrote the header", i);
    if (op->kind != OP_WRITE || op->fd != meta_fd)
      continue;
    bitmap_writes++;
    for (j = from; j < i; j++)
      if (lg.ops[j].kind == OP_WRITE && lg.ops[j].fd == image_fd)
        last_data = (int) j;
    for (j = (unsigned) (last_data + 1); j < i; j++)
      if (is_sync (&lg.ops[j], image_fd))
        synced_after = (int) j;
    ck_assert_msg (synced_after >= 0, "op %u: bitmap write at %llu without "
                   "an image sync after the data write (op %d)", i,
                   (unsigned long long) op->off, last_data);
    for (j = i + 1; j < to; j++)
      if (is_sync (&lg.ops[j], meta_fd))
        break;
    ck_assert_msg (j < to, "op %u: bitmap write never synced", i);
  }
  return bitmap_writes;
}

static unsigned
count (unsigned from, unsigned to, enum kind kind, int fd)
{
  unsigned i, n = 0;

  for (i = from; i < to; i++)
    n += lg.ops[i].kind == kind && lg.ops[i].fd == fd;
  return n;
}

static void
write_pattern (struct addcow *img, uint64_t off, size_t len, unsigned seed)
{
  uint8_t *buf = malloc (len);

  tu_fill (buf, len, seed, off);
  ck_assert_msg (addcow_pwrite (img, buf, len, off) == 0, "pwrite: %s",
                 addcow_get_error ());
  free (buf);
}

START_TEST (test_flush_order)
{
  struct addcow *img;
  int mfd, ifd;
  unsigned w0, w1, f1;

  tu_make_file (base, 16 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = open_logged (meta);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  w0 = lg.n;
  write_pattern (img, CS + 5, 10, 2);           /* partial, new */
  write_pattern (img, 3 * CS, 2 * CS, 3);       /* whole, new */
  write_pattern (img, 7 * CS - 1, 2, 4);        /* spans 6 and 7 */
  w1 = lg.n;
  /* Writes only touch the image file; bits wait for the flush. */
  ck_assert_uint_eq (count (w0, w1, OP_WRITE, mfd), 0);
  ck_assert_uint_gt (count (w0, w1, OP_WRITE, ifd), 0);
  ck_assert_uint_eq (count (w0, w1, OP_DATASYNC, ifd)
                     + count (w0, w1, OP_FSYNC, ifd), 0);
  log_op (OP_MARK, -1, 0, 0);
  f1 = lg.n;
  ck_assert_int_eq (addcow_flush (img), 0);
  ck_assert_uint_eq (assert_ordering (w0, lg.n, mfd, ifd, 4096), 1);
  ck_assert_uint_eq (count (f1, lg.n, OP_WRITE, mfd), 1);
  ck_assert_uint_eq (lg.ops[f1].kind, OP_DATASYNC);   /* data first */
  ck_assert_int_eq (lg.ops[f1].fd, ifd);
  ck_assert_uint_eq (count (f1, lg.n, OP_WRITE, ifd), 0);
  ck_assert_uint_ge (count (f1, lg.n, OP_DATASYNC, mfd)
                     + count (f1, lg.n, OP_FSYNC, mfd), 1);
  ck_assert_int_eq (addcow_close (img), 0);
  img = tu_open (meta, false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 1 + 2 + 2);
  addcow_close (img);
}
END_TEST

/* Close flushes pending bits with the same ordering. */
START_TEST (test_close_flushes)
{
  struct addcow *img;
  int mfd, ifd;

  tu_make_file (base, 16 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = open_logged (meta);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  write_pattern (img, 9 * CS + 1, 100, 2);
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_uint_eq (assert_ordering (0, lg.n, mfd, ifd, 4096), 1);
  img = tu_open (meta, false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 1);
  addcow_close (img);
}
END_TEST

/* A failed sync of the add-cow file leaves it unknown whether the bitmap
 * blocks reached the disk: the next flush writes and syncs them again
 * instead of calling the image clean. */
START_TEST (test_failed_bitmap_sync_is_retried)
{
  struct addcow *img;
  unsigned mark;
  int mfd, ifd;

  tu_make_file (base, 16 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = open_logged (meta);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  write_pattern (img, 3 * CS, 100, 2);
  lg.fail_sync_fd = mfd;
  ck_assert_int_eq (addcow_flush (img), -EIO);
  tu_assert_error_has ("could not sync the bitmap", NULL, NULL);
  mark = lg.n;
  ck_assert_int_eq (addcow_flush (img), 0);
  ck_assert_uint_eq (count (mark, lg.n, OP_WRITE, mfd), 1);
  ck_assert_uint_eq (count (mark, lg.n, OP_DATASYNC, mfd), 1);
  ck_assert_uint_eq (assert_ordering (mark, lg.n, mfd, ifd, 4096), 1);
  mark = lg.n;
  ck_assert_int_eq (addcow_flush (img), 0);     /* now clean */
  ck_assert_uint_eq (count (mark, lg.n, OP_WRITE, mfd), 0);
  ck_assert_int_eq (addcow_close (img), 0);
}
END_TEST

/* Overwriting allocated clusters needs no metadata and no metadata sync. */
START_TEST (test_allocated_no_metadata)
{
  struct addcow *img;
  int mfd, ifd;
  unsigned f;

  tu_make_file (base, 16 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = open_logged (meta);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  write_pattern (img, 0, 4 * CS, 2);
  ck_assert_int_eq (addcow_flush (img), 0);
  f = lg.n;
  write_pattern (img, 100, 3 * CS, 3);
  ck_assert_int_eq (addcow_pwrite_zeroes (img, CS, 2 * CS), 0);
  ck_assert_int_eq (addcow_flush (img), 0);
  ck_assert_uint_eq (count (f, lg.n, OP_WRITE, mfd), 0);
  ck_assert_uint_eq (count (f, lg.n, OP_DATASYNC, mfd)
                     + count (f, lg.n, OP_FSYNC, mfd), 0);
  ck_assert_uint_ge (count (f, lg.n, OP_DATASYNC, ifd), 1);
  ck_assert_uint_eq (count (f, lg.n, OP_READ, mfd), 0);
  f = lg.n;
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_uint_eq (count (f, lg.n, OP_WRITE, mfd), 0);
}
END_TEST

/* Bits in two bitmap blocks: one write per dirty block, at its offset,
 * after one data sync. */
START_TEST (test_batched_blocks)
{
  const uint64_t clusters = 2 * BITMAP_BLOCK * 8 + 100;
  struct addcow *img;
  int mfd, ifd;
  unsigned i, f, seen = 0;

  tu_make_file (base, clusters * CS, 0);        /* sparse */
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = open_logged (meta);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  write_pattern (img, 5 * CS, 10, 2);                        /* block 0 */
  write_pattern (img, 2 * BITMAP_BLOCK * 8 * CS + 7, 10, 3); /* block 2 */
  write_pattern (img, 6 * CS, 10, 4);                        /* block 0 */
  f = lg.n;
  ck_assert_int_eq (addcow_flush (img), 0);
  ck_assert_uint_eq (assert_ordering (0, lg.n, mfd, ifd, 4096), 2);
  ck_assert_uint_eq (count (f, lg.n, OP_DATASYNC, ifd), 1);
  for (i = f; i < lg.n; i++)
    if (lg.ops[i].kind == OP_WRITE && lg.ops[i].fd == mfd) {
      uint64_t want = seen++ == 0 ? 4096 : 4096 + 2 * BITMAP_BLOCK;
      ck_assert_uint_eq (lg.ops[i].off, want);
      ck_assert_uint_eq (lg.ops[i].len, want == 4096 ? BITMAP_BLOCK
                         : div_round_up (clusters, 8) - 2 * BITMAP_BLOCK);
    }
  ck_assert_uint_eq (seen, 2);
  ck_assert_int_eq (addcow_close (img), 0);
  img = tu_open (meta, false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 3);
  addcow_close (img);
}
END_TEST

/* Writing the top of a chain never writes a lower layer. */
START_TEST (test_chain_writes_top_only)
{
  char *mid = tu_join (dir, "mid.add-cow");
  struct addcow *img, *below;
  int mfd, ifd;
  unsigned i;

  tu_make_file (base, 8 * CS, 1);
  tu_create (mid, "mid.raw", "base.raw", "raw", CS, 0);
  tu_create (meta, "disk.raw", "mid.add-cow", "add-cow", CS, 0);
  img = open_logged (meta);
  below = addcow_get_backing_image (img);
  ck_assert_ptr_nonnull (below);
  mfd = img->meta.fd;
  ifd = img->image.fd;
  write_pattern (img, 2 * CS + 3, 10, 2);       /* COW reads below */
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_uint_eq (assert_ordering (0, lg.n, mfd, ifd, 4096), 1);
  for (i = 0; i < lg.n; i++)
    if (lg.ops[i].kind == OP_WRITE || lg.ops[i].kind == OP_TRUNCATE)
      ck_assert_msg (lg.ops[i].fd == mfd || lg.ops[i].fd == ifd,
                     "op %u writes fd %d", i, lg.ops[i].fd);
  free (mid);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("flush");
  TCase *tc = tcase_create ("flush");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_flush_order);
  tcase_add_test (tc, test_close_flushes);
  tcase_add_test (tc, test_failed_bitmap_sync_is_retried);
  tcase_add_test (tc, test_allocated_no_metadata);
  tcase_add_test (tc, test_batched_blocks);
  tcase_add_test (tc, test_chain_writes_top_only);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
