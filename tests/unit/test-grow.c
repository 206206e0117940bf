/*
 * test-grow.c - image_grow (spec 8): the new area reads as zeros, the old
 * disk is unchanged byte for byte, check is clean afterwards.
 *
 * Every case grows img.add-cow (image file img.raw, backing base.raw or
 * none) from OLD to NEW bytes: backing files longer than the new size,
 * ending inside the new area, shorter than the old size, ending inside the
 * old last cluster; old sizes cut inside a cluster (whose bit may be clear,
 * over junk in the image file, or set); ALL_ALLOCATED images and a bitmap
 * image without a backing file; 4 KiB and 64 KiB clusters.  Then the crash
 * tests: cut off after every single write, truncate and sync of the I/O
 * table, reopen, check; and every write or sync failing.
 *
 * The crash and fault machinery is the one of the commit and rebase tests
 * (layers-io.c).
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

enum kind {
  BACKED,                       /* over base.raw */
  ALL_ALLOC,                    /* created without backing: ALL_ALLOCATED */
  BITMAP_ONLY,                  /* a bitmap, no backing file, no flag */
};

struct gcase {
  const char *name;
  enum kind kind;
  uint32_t cs;
  uint64_t old_size, new_size;
  uint64_t backing_size;
  bool last_written;            /* data in the old last cluster */
};

#define C4(n) ((uint64_t) (n) * K4)
#define C64(n) ((uint64_t) (n) * K64)

static const struct gcase cases[] = {
  { "aligned, backing longer", BACKED, K4, C4 (10), C4 (20), C4 (30), 0 },
  { "unaligned, backing longer", BACKED, K4, C4 (10) + 100, C4 (20) + 5,
    C4 (30), 0 },
  { "backing ends in the new area", BACKED, K4, C4 (10) + 100, C4 (20),
    C4 (14) + 7, 0 },
  { "backing shorter than the old size", BACKED, K4, C4 (10) + 100, C4 (20),
    C4 (5) + 3, 0 },
  { "backing ends in the old last cluster", BACKED, K4, C4 (10) + 100,
    C4 (20), C4 (10) + 200, 0 },
  { "backing ends at the old end", BACKED, K4, C4 (10) + 100, C4 (20),
    C4 (10) + 100, 0 },
  { "last cluster written", BACKED, K4, C4 (10) + 100, C4 (12), C4 (30), 1 },
  { "inside the last cluster", BACKED, K4, C4 (10) + 100, C4 (10) + 3000,
    C4 (30), 0 },
  { "from nothing", BACKED, K4, 0, C4 (9) + 1, C4 (30), 0 },
  { "all allocated", ALL_ALLOC, K4, C4 (10) + 100, C4 (20) + 1, 0, 0 },
  { "all allocated, aligned", ALL_ALLOC, K4, C4 (16), C4 (40), 0, 0 },
  { "bitmap, no backing", BITMAP_ONLY, K4, C4 (10) + 100, C4 (20), 0, 0 },
  { "64k unaligned, backing longer", BACKED, K64, C64 (5) + 1000,
    C64 (9) + 77, C64 (12), 0 },
  { "64k backing ends in the new area", BACKED, K64, C64 (5) + 1000,
    C64 (9), C64 (7) + 5, 0 },
  { "64k last cluster written", BACKED, K64, C64 (5) + 1000, C64 (6),
    C64 (12), 1 },
  { "64k all allocated", ALL_ALLOC, K64, C64 (5) + 1000, C64 (30), 0, 0 },
  { "64k bitmap, no backing", BITMAP_ONLY, K64, C64 (5), C64 (21) + 9, 0,
    0 },
  /* The bits end on a bitmap block boundary (4096 bytes = 32768 bits). */
  { "bitmap block boundary", BACKED, K4, C4 (32768), C4 (32771),
    C4 (40000), 0 },
  { "block boundary, same cluster count", BACKED, K4, C4 (32768) - 100,
    C4 (32768), C4 (40000), 0 },
};
#define NCASES (sizeof cases / sizeof cases[0])

static struct {
  char *root, *dir, *snap;
  char *img, *raw, *base;
  const struct gcase *gc;
  uint64_t new_size;            /* what grow_op grows to */
  uint8_t *disk;                /* the disk before */
  uint64_t alloc_before;
  bool last_bit_before;         /* the old last cluster was allocated */
  bool repair;                  /* crash verify: repair leaks it finds */
  bool must_be_clean;           /* verify: not even leaks after a failure */
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

static unsigned
bits_of (uint32_t cs)
{
  return (unsigned) __builtin_ctz (cs);
}

/* A bitmap image without a backing file and without ALL_ALLOCATED: only
 * the clusters whose bit is set read the image file. */
static void
make_bitmap_only (const struct gcase *gc)
{
  struct tu_hdr h;
  uint64_t nb = (gc->old_size + gc->cs - 1) / gc->cs;
  size_t nbytes = (size_t) (nb + 7) / 8;
  uint8_t *bm = calloc (1, nbytes + 1);

  ck_assert (bm != NULL);
  bm[0] = 0x05;                         /* clusters 0 and 2 */
  tu_make_file (G.raw, gc->old_size, 3);
  tu_hdr_init (&h, bits_of (gc->cs), "img.raw", NULL, NULL);
  h.compat = 0;
  tu_write_addcow (G.img, &h, bm, nbytes, 0);
  free (bm);
}

/* Junk in the image file under clusters that are not allocated: it must
 * never show. */
static void
junk_under (const struct gcase *gc, uint64_t off, uint64_t len)
{
  uint8_t *b;

  if (off >= gc->old_size)
    return;
  len = len < gc->old_size - off ? len : gc->old_size - off;
  b = malloc (len);
  ck_assert (b != NULL);
  tu_fill (b, len, 9, off);
  tu_pwrite (G.raw, b, len, off);
  free (b);
}

static void
make_backed (const struct gcase *gc)
{
  uint64_t cs = gc->cs;

  /* A big backing file is sparse, with data around the old end. */
  if (gc->backing_size > (64u << 20)) {
    uint8_t b[2 * K4];
    tu_make_file (G.base, gc->backing_size, 0);
    tu_fill (b, sizeof b, 1, gc->old_size - K4);
    tu_pwrite (G.base, b, sizeof b, gc->old_size - K4);
  }
  else
    tu_make_file (G.base, gc->backing_size, 1);
  if (gc->old_size == 0)
    tu_write_file (G.raw, NULL, 0);     /* an existing, empty image file */
  tu_create (G.img, "img.raw", "base.raw", "raw", gc->cs, gc->old_size);
  if (gc->old_size >= 4 * cs) {
    lt_write (G.img, 2, cs + 100, 50);              /* copy-on-write */
    lt_write (G.img, 3, 3 * cs, cs);                /* a whole cluster */
  }
  if (gc->last_written)
    lt_write (G.img, 4, gc->old_size - 10, 10);
  junk_under (gc, 2 * cs, cs);
  if (gc->old_size % cs && !gc->last_written)
    junk_under (gc, gc->old_size / cs * cs, cs);
}

static void
make_all_alloc (const struct gcase *gc)
{
  tu_make_file (G.raw, gc->old_size, 5);
  tu_create (G.img, "img.raw", NULL, NULL, gc->cs, 0);
}

/* Build the case's files in G.dir and remember the disk. */
static void
make_case (const struct gcase *gc)
{
  struct addcow *img;
  uint64_t len, size;

  G.gc = gc;
  G.new_size = gc->new_size;
  if (gc->kind == BACKED)
    make_backed (gc);
  else if (gc->kind == ALL_ALLOC)
    make_all_alloc (gc);
  else
    make_bitmap_only (gc);
  free (G.disk);
  G.disk = lt_disk (G.img, &size);
  ck_assert_uint_eq (size, gc->old_size);
  img = tu_open (G.img, false);
  G.alloc_before = addcow_get_allocated_clusters (img);
  G.last_bit_before = gc->old_size > 0
    && addcow_is_allocated (img, gc->old_size - 1, 1, &len) == 1;
  addcow_close (img);
  lt_assert_clean (G.img);
}

/* ---- the operation and what must hold ---------------------------------- */

static int
grow_op (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  char msg[1024];
  int r, e;

  (void) arg;
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = io;
  if ((r = addcow_open (path, &o, &img)) < 0)
    return r;
  r = image_grow (img, G.new_size);
  snprintf (msg, sizeof msg, "%s", addcow_get_error ());
  e = addcow_close (img);
  if (r < 0)                            /* the grow's message, not close's */
    set_error (-r, "%s", msg);
  return r < 0 ? r : e;
}

static void
assert_grow_ok (void)
{
  int r = grow_op (G.img, NULL, NULL);

  ck_assert_msg (r == 0, "grow: %s", addcow_get_error ());
}

/* Is the old last cluster allocated by the grow (its new bytes would show
 * the backing file)? */
static bool
last_cluster_copied (void)
{
  const struct gcase *gc = G.gc;

  return gc->old_size % gc->cs && gc->backing_size > gc->old_size
    && !G.last_bit_before;
}

/* Clusters the grow must allocate: the new ones the backing reaches, and
 * the old last one (last_cluster_copied). */
static uint64_t
expected_allocated (void)
{
  const struct gcase *gc = G.gc;
  uint64_t old_nb = (gc->old_size + gc->cs - 1) / gc->cs;
  uint64_t new_nb = (G.new_size + gc->cs - 1) / gc->cs;
  uint64_t reach = (gc->backing_size + gc->cs - 1) / gc->cs, n = 0;

  if (gc->kind == ALL_ALLOC)
    return new_nb;
  if (reach > old_nb)
    n = (reach < new_nb ? reach : new_nb) - old_nb;
  if (last_cluster_copied ())
    n++;
  return G.alloc_before + n;
}

/* The disk is the old one, grown with zeros to SIZE. */
static void
assert_disk (uint64_t size)
{
  uint64_t got, i;
  uint8_t *d = lt_disk (G.img, &got);

  ck_assert_uint_eq (got, size);
  lt_assert_same (d, G.disk, G.gc->old_size, "the old part of the disk");
  /* (one assertion, not one per byte: each is a write to Check's pipe) */
  for (i = G.gc->old_size; i < size && d[i] == 0; i++)
    ;
  ck_assert_msg (i == size, "the new area reads 0x%02x at %llu", d[i],
                 (unsigned long long) i);
  free (d);
}

/* On disk, for ALL_ALLOCATED: every bit below new_nb is 1, every bit
 * after it 0, the file padded to a whole cluster. */
static void
assert_ones_bitmap (void)
{
  const struct gcase *gc = G.gc;
  uint64_t nb = (G.new_size + gc->cs - 1) / gc->cs, n;
  uint64_t hs = gc->cs > K4 ? gc->cs : K4;
  uint64_t padded = ((nb + 7) / 8 + gc->cs - 1) / gc->cs * gc->cs;
  size_t len;
  uint8_t *f = tu_read_file (G.img, &len);

  ck_assert_uint_eq (len, hs + padded);
  for (n = 0; n < padded * 8; n++)
    if (((f[hs + n / 8] >> (n % 8)) & 1) != (n < nb))
      break;
  ck_assert_msg (n == padded * 8, "bit %llu is wrong (%llu clusters)",
                 (unsigned long long) n, (unsigned long long) nb);
  free (f);
}

static void
assert_grown (void)
{
  struct addcow *img;
  struct stat st;

  assert_disk (G.new_size);
  lt_assert_clean (G.img);
  ck_assert (stat (G.raw, &st) == 0);
  ck_assert_uint_eq ((uint64_t) st.st_size, G.new_size);
  img = tu_open (G.img, false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img),
                     expected_allocated ());
  ck_assert_uint_eq (addcow_get_compat_features (img) != 0,
                     G.gc->kind == ALL_ALLOC);
  addcow_close (img);
  if (G.gc->kind == ALL_ALLOC)
    assert_ones_bitmap ();
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

/* After an interruption: the old disk or the grown one, never anything
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
    assert_grown ();
    return;
  }
  img = tu_open (G.img, false);
  size = addcow_get_virtual_size (img);
  addcow_close (img);
  ck_assert (size == G.gc->old_size || size == G.new_size);
  assert_disk (size);
  check_result (&res, ADDCOW_REPAIR_NONE);
  ck_assert_uint_eq (res.corruptions, 0);
  if (G.must_be_clean)
    ck_assert_uint_eq (res.leaks, 0);
  if (res.leaks && G.repair) {
    check_result (&res, ADDCOW_REPAIR_ALL);
    ck_assert_uint_eq (res.leaks, 0);
    ck_assert_uint_eq (res.corruptions, 0);
    assert_disk (size);
  }
}

static struct lt_case
crash_case (const struct gcase *gc)
{
  struct lt_case c = { .dir = G.dir, .snap = G.snap, .path = G.img,
                       .op = grow_op, .verify = verify };

  make_case (gc);
  lt_copy_dir (G.dir, G.snap);
  return c;
}

/* ---- every case ---------------------------------------------------------- */

START_TEST (test_grow)
{
  const struct gcase *gc = &cases[_i];

  fprintf (stderr, "grow: %s\n", gc->name);
  make_case (gc);
  assert_grow_ok ();
  assert_grown ();
  assert_grow_ok ();                    /* again: nothing to do */
  assert_grown ();
}
END_TEST

/* Growing twice in one handle, then writing into the new area. */
START_TEST (test_grow_twice_then_write)
{
  const struct gcase *gc = &cases[1];
  struct addcow *img;
  uint8_t buf[300], back[300];
  uint64_t mid = C4 (15) + 10;
  int r;

  make_case (gc);
  img = tu_open (G.img, true);
  r = image_grow (img, mid);
  ck_assert_msg (r == 0, "grow: %s", addcow_get_error ());
  r = image_grow (img, gc->new_size);
  ck_assert_msg (r == 0, "grow: %s", addcow_get_error ());
  ck_assert_uint_eq (addcow_get_virtual_size (img), gc->new_size);
  ck_assert_uint_eq (addcow_get_cluster_count (img), 21);
  tu_fill (buf, sizeof buf, 7, C4 (18) + 5);
  ck_assert_int_eq (addcow_pwrite (img, buf, sizeof buf, C4 (18) + 5), 0);
  ck_assert_int_eq (addcow_pread (img, back, sizeof back, C4 (18) + 5), 0);
  ck_assert_mem_eq (back, buf, sizeof buf);
  ck_assert_int_eq (addcow_close (img), 0);
  img = tu_open (G.img, false);
  ck_assert_int_eq (addcow_pread (img, back, sizeof back, C4 (18) + 5), 0);
  ck_assert_mem_eq (back, buf, sizeof buf);
  ck_assert_int_eq (addcow_pread (img, back, sizeof back, C4 (18) - 300),
                    0);
  ck_assert (back[0] == 0 && !memcmp (back, back + 1, sizeof back - 1));
  addcow_close (img);
  lt_assert_clean (G.img);
}
END_TEST

/* Leaks found at open (bits past the last cluster, junk in the padding, a
 * longer file) must not become bits of the new clusters. */
START_TEST (test_grow_over_leaks)
{
  const struct gcase *gc = &cases[3];   /* the backing reaches no new one */
  uint8_t junk[3] = { 0xf8, 0x5a, 0xff };
  struct addcow_check_result res;
  uint64_t hs = K4, size;

  make_case (gc);
  size = tu_file_size (G.img);
  tu_pwrite (G.img, junk, 1, hs + 1);           /* bits 11-15 (nb is 11) */
  tu_pwrite (G.img, junk + 1, 2, hs + 100);     /* padding */
  tu_truncate (G.img, size + 4096 + 17);        /* a longer file */
  check_result (&res, ADDCOW_REPAIR_NONE);
  ck_assert_uint_eq (res.corruptions, 0);
  ck_assert_uint_ge (res.leaks, 3);
  assert_grow_ok ();
  assert_grown ();
}
END_TEST

/* A grow cut off after its bitmap is on disk, then a grow to a smaller
 * size: the bits of the first attempt past the new end are not left
 * behind. */
START_TEST (test_smaller_after_interrupted)
{
  struct addcow_check_result res;
  struct tio t;

  make_case (&cases[0]);
  G.new_size = C4 (30);
  tio_init (&t, true);
  t.cut_after = 2;                      /* bitmap written and synced */
  grow_op (G.img, &t.io, NULL);
  tio_free (&t);
  ck_assert (t.crashed);
  assert_disk (G.gc->old_size);
  check_result (&res, ADDCOW_REPAIR_NONE);      /* the bits are there */
  ck_assert_uint_eq (res.corruptions, 0);
  ck_assert_uint_gt (res.leaks, 0);
  G.new_size = C4 (13) + 5;
  assert_grow_ok ();
  assert_grown ();
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

START_TEST (test_refusals)
{
  struct addcow *img;
  size_t l1, l2;
  uint8_t *before, *after;

  make_case (&cases[1]);
  before = tu_read_file (G.img, &l1);
  img = tu_open (G.img, false);
  ck_assert_int_eq (image_grow (img, C4 (30)), -EROFS);
  tu_assert_error_has ("img.add-cow", "read-only", NULL);
  addcow_close (img);

  img = tu_open (G.img, true);
  ck_assert_int_eq (image_grow (img, C4 (2)), -EINVAL);
  tu_assert_error_has ("img.add-cow", "cannot shrink", NULL);
  ck_assert_int_eq (image_grow (img, UINT64_MAX), -EFBIG);
  tu_assert_error_has ("img.add-cow", "too large", NULL);
  /* 4 KiB clusters: a 256 MiB bitmap covers 8 TiB */
  ck_assert_int_eq (image_grow (img, (UINT64_C (8) << 40) + 1), -EFBIG);
  tu_assert_error_has ("img.add-cow", "bitmap larger than", "256 MiB");
  ck_assert_int_eq (image_grow (img, G.gc->old_size), 0);
  ck_assert_uint_eq (addcow_get_virtual_size (img), G.gc->old_size);
  ck_assert_int_eq (addcow_close (img), 0);

  after = tu_read_file (G.img, &l2);
  ck_assert_uint_eq (l1, l2);
  ck_assert_mem_eq (before, after, l1);
  ck_assert_uint_eq (tu_file_size (G.raw), G.gc->old_size);
  free (before);
  free (after);
}
END_TEST

/* The largest size the bitmap limit allows is fine (sparse files). */
START_TEST (test_bitmap_limit_edge)
{
  uint64_t max = (uint64_t) ADDCOW_MAX_BITMAP_BYTES * 8 * K4;
  struct addcow *img;
  int r;

  make_case (&cases[0]);
  img = tu_open (G.img, true);
  r = image_grow (img, max);
  if (r == -EFBIG && strstr (addcow_get_error (), "img.raw")) {
    addcow_close (img);                 /* the file system's own limit */
    lt_assert_clean (G.img);
    assert_disk (G.gc->old_size);
    return;
  }
  ck_assert_msg (r == 0, "grow: %s", addcow_get_error ());
  ck_assert_uint_eq (addcow_get_cluster_count (img),
                     (uint64_t) ADDCOW_MAX_BITMAP_BYTES * 8);
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_uint_eq (tu_file_size (G.raw), max);
}
END_TEST

/* ---- crashes and faults ------------------------------------------------- */

/* The cases the crash tests run: copy-on-write of the last cluster, a
 * backing that ends in the new area, ALL_ALLOCATED, 64 KiB clusters. */
static const unsigned crash_cases[] = { 1, 2, 6, 7, 9, 11, 12, 15 };
#define NCRASH (sizeof crash_cases / sizeof crash_cases[0])

START_TEST (test_crash)
{
  const struct gcase *gc = &cases[crash_cases[_i / 2]];
  struct lt_case c;
  long n;

  G.repair = _i % 2;
  c = crash_case (gc);
  n = lt_crash_every_op (&c);
  fprintf (stderr, "grow crash (%s%s): %ld cut points\n", gc->name,
           G.repair ? ", repaired" : "", n);
  ck_assert_int_ge (n, 3);
}
END_TEST

/* A write that fails once is rolled back: not even a leak is left. */
START_TEST (test_eio_every_write)
{
  struct lt_case c = crash_case (&cases[crash_cases[_i]]);

  G.must_be_clean = true;
  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 0);
}
END_TEST

START_TEST (test_enospc_every_write)
{
  struct lt_case c = crash_case (&cases[crash_cases[_i]]);

  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 0);
}
END_TEST

/* Every sync from the N-th on fails.  Writes are real in this model, so
 * the rollback's own writes and truncates land: the add-cow file is clean
 * again even though its final sync fails. */
START_TEST (test_eio_every_sync)
{
  struct lt_case c = crash_case (&cases[crash_cases[_i]]);

  G.must_be_clean = true;
  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 0);
}
END_TEST

/* An image file that cannot grow (a file system's size limit): the grow
 * fails before the disk changes, and the add-cow file is rolled back. */
static int
no_grow_ftruncate (void *opaque, int fd, off_t length)
{
  struct stat a, b;

  (void) opaque;
  if (fstat (fd, &a) == 0 && stat (G.raw, &b) == 0 && a.st_ino == b.st_ino) {
    errno = EFBIG;
    return -1;
  }
  return ftruncate (fd, length);
}

START_TEST (test_image_file_cannot_grow)
{
  static const unsigned which[] = { 1, 9, 17 };
  struct addcow_io io = { .ftruncate = no_grow_ftruncate };
  size_t l1, l2;
  uint8_t *before, *after;

  make_case (&cases[which[_i]]);
  before = tu_read_file (G.img, &l1);
  ck_assert_int_eq (grow_op (G.img, &io, NULL), -EFBIG);
  tu_assert_error_has ("img.add-cow: could not grow image file",
                       "img.raw", strerror (EFBIG));
  after = tu_read_file (G.img, &l2);
  if (last_cluster_copied ()) {         /* a durable allocation stays */
    uint64_t k = G.gc->old_size / G.gc->cs;
    before[K4 + k / 8] |= (uint8_t) (1u << (k % 8));
  }
  ck_assert_uint_eq (l1, l2);           /* the add-cow file as it was */
  ck_assert_mem_eq (before, after, l1);
  assert_disk (G.gc->old_size);
  lt_assert_clean (G.img);
  assert_grow_ok ();                    /* and with a file that can */
  assert_grown ();
  free (before);
  free (after);
}
END_TEST

static Suite *
grow_suite (void)
{
  Suite *s = suite_create ("grow");
  TCase *t = tcase_create ("grow");
  TCase *k = tcase_create ("crash");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_add_loop_test (t, test_grow, 0, NCASES);
  tcase_add_test (t, test_grow_twice_then_write);
  tcase_add_test (t, test_grow_over_leaks);
  tcase_add_test (t, test_smaller_after_interrupted);
  tcase_add_test (t, test_refusals);
  tcase_add_test (t, test_bitmap_limit_edge);
  tcase_add_loop_test (t, test_image_file_cannot_grow, 0, 3);
  suite_add_tcase (s, t);

  tcase_add_checked_fixture (k, setup, teardown);
  tcase_set_timeout (k, 240);
  tcase_add_loop_test (k, test_crash, 0, 2 * NCRASH);
  tcase_add_loop_test (k, test_eio_every_write, 0, NCRASH);
  tcase_add_loop_test (k, test_enospc_every_write, 0, NCRASH);
  tcase_add_loop_test (k, test_eio_every_sync, 0, NCRASH);
  suite_add_tcase (s, k);
  return s;
}

int
main (void)
{
  return tu_run (grow_suite ());
}
