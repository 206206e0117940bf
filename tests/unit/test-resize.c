/*
 * test-resize.c - addcow_resize (spec 8): growing and shrinking the disk.
 *
 * Every case resizes img.add-cow (image file img.raw, backing base.raw or
 * none) from OLD to NEW bytes and checks the disk byte for byte: the part
 * both sizes share is unchanged, a grown area reads zeros even where the
 * backing file is longer, and check is clean.  A shrink followed by a grow
 * reads zeros in the regrown area.  Then refusals (no shrink flag, not a
 * multiple of 512, preallocation on a shrink, the bitmap limit, an image
 * in use), and the crash tests: cut off after every single write,
 * truncate and sync of the I/O table (layers-io.c's cache model), reopen,
 * check; every write failing with EIO or ENOSPC, every sync with EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"

#define K4 4096u
#define K64 65536u
#define C4(n) ((uint64_t) (n) * K4)
#define C64(n) ((uint64_t) (n) * K64)

enum kind { BACKED, ALL_ALLOC };

struct rcase {
  const char *name;
  enum kind kind;
  uint32_t cs;
  uint64_t old_size, new_size;
  uint64_t backing_size;
  enum addcow_prealloc prealloc;
};

static const struct rcase cases[] = {
  { "grow, backing longer", BACKED, K4, C4 (10), C4 (20), C4 (30), 0 },
  { "grow unaligned, backing longer", BACKED, K4, C4 (10) + 512,
    C4 (20) + 1024, C4 (30), 0 },
  { "shrink into a cluster, backing longer", BACKED, K4, C4 (20),
    C4 (10) + 512, C4 (30), 0 },
  { "shrink, backing shorter", BACKED, K4, C4 (20), C4 (8), C4 (5), 0 },
  { "shrink all allocated", ALL_ALLOC, K4, C4 (20) + 512, C4 (7), 0, 0 },
  { "shrink 64k", BACKED, K64, C64 (20), C64 (3) + 4096, C64 (30), 0 },
  { "shrink to nothing", BACKED, K4, C4 (10), 0, C4 (30), 0 },
  { "grow full", BACKED, K4, C4 (10), C4 (20), C4 (30),
    ADDCOW_PREALLOC_FULL },
  { "grow falloc, all allocated", ALL_ALLOC, K4, C4 (10), C4 (20), 0,
    ADDCOW_PREALLOC_FALLOC },
  { "shrink across bitmap bytes", BACKED, K4, C4 (100), C4 (13), C4 (120),
    0 },
};
#define NCASES (sizeof cases / sizeof cases[0])

static struct {
  char *root, *dir, *snap;
  char *img, *raw, *base;
  const struct rcase *rc;
  uint64_t new_size;            /* what resize_op resizes to */
  uint8_t *disk;                /* the disk before */
  uint64_t old_size;
  bool repair;                  /* crash verify: repair the leaks found */
} G;

static void
setup (void)
{
  memset (&G, 0, sizeof G);
  G.root = tu_mkdtemp ();
  G.snap = tu_join (G.root, "snap");
  G.dir = tu_join (G.root, "w");
  ck_assert (mkdir (G.snap, 0755) == 0 && mkdir (G.dir, 0755) == 0);
  G.img = tu_join (G.dir, "img.add-cow");
  G.raw = tu_join (G.dir, "img.raw");
  G.base = tu_join (G.dir, "base.raw");
}

static void
teardown (void)
{
  tu_rmtree (G.root);
  free (G.root); free (G.dir); free (G.snap);
  free (G.img); free (G.raw); free (G.base); free (G.disk);
}

/* Data written in the image: some of it past the new end of a shrink,
 * some in the cluster a shrink cuts. */
static void
make_backed (const struct rcase *rc)
{
  uint64_t cs = rc->cs, old = rc->old_size;

  tu_make_file (G.base, rc->backing_size, 1);
  tu_create (G.img, "img.raw", "base.raw", "raw", cs, old);
  lt_write (G.img, 2, cs + 100, 50);            /* copy-on-write */
  lt_write (G.img, 3, 3 * cs, cs);              /* a whole cluster */
  lt_write (G.img, 4, old - 3000, 3000);        /* the last cluster */
  if (rc->new_size > 600 && rc->new_size < old)
    lt_write (G.img, 6, rc->new_size - 600, 1200); /* across the new end */
}

static void
make_case (const struct rcase *rc)
{
  G.rc = rc;
  G.new_size = rc->new_size;
  if (rc->kind == BACKED)
    make_backed (rc);
  else {
    tu_make_file (G.raw, rc->old_size, 5);
    tu_create (G.img, "img.raw", NULL, NULL, rc->cs, 0);
  }
  free (G.disk);
  G.disk = lt_disk (G.img, &G.old_size);
  ck_assert_uint_eq (G.old_size, rc->old_size);
  lt_assert_clean (G.img);
}

static int
resize_to (const char *path, const struct addcow_io *io, uint64_t size,
           bool shrink, enum addcow_prealloc prealloc)
{
  struct addcow_resize_opts o = ADDCOW_RESIZE_OPTS_INIT;

  o.size = size;
  o.shrink = shrink;
  o.prealloc = prealloc;
  o.io = io;
  return addcow_resize (path, &o);
}

static int
resize_op (const char *path, const struct addcow_io *io, void *arg)
{
  (void) arg;
  return resize_to (path, io, G.new_size, true, G.rc->prealloc);
}

static void
assert_resize_ok (uint64_t size)
{
  int r = resize_to (G.img, NULL, size, true, ADDCOW_PREALLOC_OFF);

  ck_assert_msg (r == 0, "resize: %s", addcow_get_error ());
}

/* The disk has SIZE bytes: the old disk where both reach, zeros after. */
static void
assert_disk (uint64_t size)
{
  uint64_t got, i, keep = size < G.old_size ? size : G.old_size;
  uint8_t *d = lt_disk (G.img, &got);

  ck_assert_uint_eq (got, size);
  lt_assert_same (d, G.disk, keep, "the part both sizes share");
  for (i = keep; i < size && d[i] == 0; i++)
    ;
  ck_assert_msg (i == size, "the new area reads 0x%02x at %llu", d[i],
                 (unsigned long long) i);
  free (d);
}

static void
assert_resized (uint64_t size)
{
  assert_disk (size);
  lt_assert_clean (G.img);
  ck_assert_uint_eq (tu_file_size (G.raw), size);
}

static void
check_result (struct addcow_check_result *res, enum addcow_repair mode)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  int r;

  o.repair = mode;
  r = addcow_check (G.img, &o, res);
  ck_assert_msg (r == 0, "check: %s", addcow_get_error ());
}

/* ---- every case ---------------------------------------------------------- */

START_TEST (test_resize)
{
  const struct rcase *rc = &cases[_i];
  struct stat st;
  int r;

  fprintf (stderr, "resize: %s\n", rc->name);
  make_case (rc);
  r = resize_op (G.img, NULL, NULL);
  ck_assert_msg (r == 0, "resize: %s", addcow_get_error ());
  assert_resized (rc->new_size);
  if (rc->prealloc != ADDCOW_PREALLOC_OFF) {    /* the new bytes reserved */
    ck_assert (stat (G.raw, &st) == 0);
    ck_assert_uint_ge ((uint64_t) st.st_blocks * 512,
                       rc->new_size - rc->old_size);
  }
  assert_resize_ok (rc->new_size);              /* again: nothing to do */
  assert_resized (rc->new_size);
}
END_TEST

/* A grown overlay whose backing file is longer than the old size: the
 * backing file's bytes past the old end never show. */
START_TEST (test_grow_backing_longer)
{
  uint64_t i;
  size_t len;
  uint8_t *b;

  make_case (&cases[1]);
  b = tu_read_file (G.base, &len);      /* it has data past the old end */
  for (i = cases[1].old_size; i < len && b[i] == 0; i++)
    ;
  ck_assert_uint_lt (i, cases[1].new_size);
  free (b);
  assert_resize_ok (cases[1].new_size);
  assert_resized (cases[1].new_size);
}
END_TEST

/* Shrink, then grow back: the regrown area reads zeros, though the
 * backing file and the old image file both had data there. */
START_TEST (test_shrink_then_grow)
{
  static const unsigned which[] = { 2, 4, 5, 9 };
  const struct rcase *rc = &cases[which[_i]];

  make_case (rc);
  assert_resize_ok (rc->new_size);
  assert_resized (rc->new_size);
  G.old_size = rc->new_size;            /* all that is left of the disk */
  assert_resize_ok (rc->old_size);
  assert_resized (rc->old_size);
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

static void
assert_unchanged (const uint8_t *before, size_t len)
{
  size_t l2;
  uint8_t *after = tu_read_file (G.img, &l2);

  ck_assert_uint_eq (len, l2);
  ck_assert_mem_eq (before, after, len);
  ck_assert_uint_eq (tu_file_size (G.raw), G.old_size);
  free (after);
}

START_TEST (test_refusals)
{
  struct addcow_resize_opts o = ADDCOW_RESIZE_OPTS_INIT;
  struct addcow *img;
  uint8_t *before;
  size_t len;

  make_case (&cases[2]);
  before = tu_read_file (G.img, &len);
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (10), false, 0), -EINVAL);
  tu_assert_error_has ("img.add-cow: shrinking the disk from 81920 to "
                       "40960 bytes", "(shrink)", NULL);
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (30) + 100, false, 0),
                    -EINVAL);
  tu_assert_error_has ("img.add-cow: the new size 122980 is not a multiple "
                       "of 512", NULL, NULL);
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (10), true,
                               ADDCOW_PREALLOC_FULL), -EINVAL);
  tu_assert_error_has ("preallocation can only be used for growing", NULL,
                       NULL);
  /* the same size: nothing to preallocate, nothing done */
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (20), true,
                               ADDCOW_PREALLOC_FALLOC), 0);
  /* 4 KiB clusters: a 256 MiB bitmap covers 8 TiB */
  ck_assert_int_eq (resize_to (G.img, NULL, (UINT64_C (8) << 40) + 4096,
                               false, 0), -EFBIG);
  tu_assert_error_has ("img.add-cow", "bitmap larger than", "256 MiB");
  ck_assert_int_eq (resize_to (G.img, NULL, UINT64_MAX - 511, false, 0),
                    -EFBIG);
  tu_assert_error_has ("img.add-cow", "too large", NULL);
  o.version = 0;
  ck_assert_int_eq (addcow_resize (G.img, &o), -EINVAL);
  ck_assert_int_eq (addcow_resize (G.img, NULL), -EINVAL);
  assert_unchanged (before, len);

  /* An image in use is refused under the lock, before anything changes. */
  img = tu_open (G.img, true);
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (30), false, 0), -EBUSY);
  tu_assert_error_has ("img.add-cow", "in use by another process", NULL);
  addcow_close (img);
  img = tu_open (G.img, false);
  ck_assert_int_eq (resize_to (G.img, NULL, C4 (30), false, 0), -EBUSY);
  addcow_close (img);
  assert_unchanged (before, len);
  free (before);
}
END_TEST

/* A backing file that cannot be opened: refused, nothing changes. */
START_TEST (test_missing_backing)
{
  uint8_t *before;
  size_t len;

  make_case (&cases[2]);
  before = tu_read_file (G.img, &len);
  ck_assert (unlink (G.base) == 0);
  ck_assert_int_lt (resize_to (G.img, NULL, C4 (10), true, 0), 0);
  tu_assert_error_has ("base.raw", NULL, NULL);
  ck_assert_int_lt (resize_to (G.img, NULL, C4 (30), true, 0), 0);
  assert_unchanged (before, len);
  free (before);
}
END_TEST

/* A shrink cut off after the image file was cut, then the same resize
 * again: it finishes (the leaks past the end go), the disk is the same. */
START_TEST (test_rerun_finishes_shrink)
{
  struct addcow_check_result res;
  struct tio t;

  make_case (&cases[2]);
  tio_init (&t, true);
  t.cut_after = 2;                      /* image file cut and synced */
  resize_op (G.img, &t.io, NULL);
  tio_free (&t);
  ck_assert (t.crashed);
  assert_disk (G.new_size);
  check_result (&res, ADDCOW_REPAIR_NONE);
  ck_assert_uint_eq (res.corruptions, 0);
  ck_assert_uint_gt (res.leaks, 0);
  assert_resize_ok (G.new_size);
  assert_resized (G.new_size);
}
END_TEST

/* ---- crashes and faults ------------------------------------------------- */

/* After an interruption: the old disk or the new one, never anything
 * else; at worst leaks, which repair clears without changing the disk. */
static void
verify (const char *dir, void *arg, bool finished)
{
  struct addcow_check_result res;
  struct addcow *img;
  uint64_t size;

  (void) dir;
  (void) arg;
  if (finished) {
    assert_resized (G.new_size);
    return;
  }
  img = tu_open (G.img, false);
  size = addcow_get_virtual_size (img);
  addcow_close (img);
  ck_assert (size == G.old_size || size == G.new_size);
  assert_disk (size);
  check_result (&res, ADDCOW_REPAIR_NONE);
  ck_assert_uint_eq (res.corruptions, 0);
  if (res.leaks && G.repair) {
    check_result (&res, ADDCOW_REPAIR_ALL);
    ck_assert_uint_eq (res.leaks, 0);
    ck_assert_uint_eq (res.corruptions, 0);
    assert_disk (size);
  }
}

static struct lt_case
crash_case (const struct rcase *rc)
{
  struct lt_case c = { .dir = G.dir, .snap = G.snap, .path = G.img,
                       .op = resize_op, .verify = verify };

  make_case (rc);
  lt_copy_dir (G.dir, G.snap);
  return c;
}

/* Every shrink, a grow over a longer backing, preallocation. */
static const unsigned crash_cases[] = { 1, 2, 3, 4, 5, 6, 7, 9 };
#define NCRASH (sizeof crash_cases / sizeof crash_cases[0])

START_TEST (test_crash)
{
  const struct rcase *rc = &cases[crash_cases[_i / 2]];
  struct lt_case c;
  long n;

  G.repair = _i % 2;
  c = crash_case (rc);
  n = lt_crash_every_op (&c);
  fprintf (stderr, "resize crash (%s%s): %ld cut points\n", rc->name,
           G.repair ? ", repaired" : "", n);
  ck_assert_int_ge (n, 3);
}
END_TEST

/* The cases that write (a shrink to a whole number of bitmap bytes only
 * truncates and syncs). */
static const unsigned write_cases[] = { 1, 2, 4, 5, 7, 9 };
#define NWRITE (sizeof write_cases / sizeof write_cases[0])

START_TEST (test_eio_every_write)
{
  struct lt_case c = crash_case (&cases[write_cases[_i]]);

  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 0);
}
END_TEST

START_TEST (test_enospc_every_write)
{
  struct lt_case c = crash_case (&cases[write_cases[_i]]);

  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 0);
}
END_TEST

START_TEST (test_eio_every_sync)
{
  struct lt_case c = crash_case (&cases[crash_cases[_i]]);

  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 0);
}
END_TEST

static Suite *
resize_suite (void)
{
  Suite *s = suite_create ("resize");
  TCase *t = tcase_create ("resize");
  TCase *k = tcase_create ("crash");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_add_loop_test (t, test_resize, 0, NCASES);
  tcase_add_test (t, test_grow_backing_longer);
  tcase_add_loop_test (t, test_shrink_then_grow, 0, 4);
  tcase_add_test (t, test_refusals);
  tcase_add_test (t, test_missing_backing);
  tcase_add_test (t, test_rerun_finishes_shrink);
  suite_add_tcase (s, t);

  tcase_add_checked_fixture (k, setup, teardown);
  tcase_set_timeout (k, 240);
  tcase_add_loop_test (k, test_crash, 0, 2 * NCRASH);
  tcase_add_loop_test (k, test_eio_every_write, 0, NWRITE);
  tcase_add_loop_test (k, test_enospc_every_write, 0, NWRITE);
  tcase_add_loop_test (k, test_eio_every_sync, 0, NCRASH);
  suite_add_tcase (s, k);
  return s;
}

int
main (void)
{
  return tu_run (resize_suite ());
}
