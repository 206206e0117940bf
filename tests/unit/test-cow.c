/*
 * test-cow.c - the virtual disk through the public API, on real files:
 * copy-on-write at cluster granularity (spec 5 and 7), zeros, chains,
 * block status, locking, and the files an image must refuse (FIFOs, the
 * image as its own backing, loops, too deep a chain).
 *
 * Every data test keeps a model buffer of what the disk must read and
 * compares the whole disk with it, before and after a close and reopen.
 * The image file starts full of junk, so a cluster read from the wrong
 * place never passes by accident.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define CS 4096u
#define JUNK_SEED 99
#define BASE_SEED 1

static char *dir;
static char *meta, *image, *base;

static void
setup (void)
{
  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
  alarm (60);                   /* a FIFO must never hang a test */
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (dir);
}

/* ---- an overlay and its model ----------------------------------------- */

struct ov {
  uint64_t size;
  uint8_t *model;
  struct addcow *img;
};

/* base.raw of BASE_SIZE pattern bytes (none if BASE_SIZE is UINT64_MAX),
 * disk.raw of SIZE junk bytes, disk.add-cow over them, opened read-write. */
static void
ov_make (struct ov *o, uint64_t base_size, uint64_t size)
{
  bool has_base = base_size != UINT64_MAX;
  uint64_t n;

  if (has_base)
    tu_make_file (base, base_size, BASE_SEED);
  tu_make_file (image, size, JUNK_SEED);
  tu_create (meta, "disk.raw", has_base ? "base.raw" : NULL, "raw", CS, 0);
  o->size = size;
  o->model = calloc (1, size + 1);
  ck_assert_ptr_nonnull (o->model);
  if (has_base) {
    n = base_size < size ? base_size : size;
    tu_fill (o->model, n, BASE_SEED, 0);
  }
  else                          /* ALL_ALLOCATED: the image file is it */
    tu_fill (o->model, size, JUNK_SEED, 0);
  o->img = tu_open (meta, true);
  ck_assert_uint_eq (addcow_get_virtual_size (o->img), size);
}

static void
ov_write (struct ov *o, uint64_t off, size_t len, unsigned seed)
{
  uint8_t *buf = malloc (len + 1);
  int r;

  tu_fill (buf, len, seed, off);
  r = addcow_pwrite (o->img, buf, len, off);
  ck_assert_msg (r == 0, "pwrite %zu@%llu: %d %s", len,
                 (unsigned long long) off, r, addcow_get_error ());
  memcpy (o->model + off, buf, len);
  free (buf);
}

static void
ov_zero (struct ov *o, uint64_t off, size_t len)
{
  int r = addcow_pwrite_zeroes (o->img, len, off);

  ck_assert_msg (r == 0, "zeroes %zu@%llu: %d %s", len,
                 (unsigned long long) off, r, addcow_get_error ());
  memset (o->model + off, 0, len);
}

/* The whole disk, and a few reads that cross cluster edges. */
static void
verify_img (struct addcow *img, const uint8_t *model, uint64_t size)
{
  uint8_t *got = malloc (size + 1);
  uint64_t off;
  int r;

  r = addcow_pread (img, got, size, 0);
  ck_assert_msg (r == 0, "pread: %d %s", r, addcow_get_error ());
  for (off = 0; off < size; off++)
    if (got[off] != model[off])
      ck_abort_msg ("byte %llu (cluster %llu) is 0x%02x, want 0x%02x",
                    (unsigned long long) off,
                    (unsigned long long) off / CS, got[off], model[off]);
  for (off = 1; off + 2 * CS < size; off += CS + 777) {
    memset (got, 0, 2 * CS);
    ck_assert_int_eq (addcow_pread (img, got, 2 * CS - 3, off), 0);
    ck_assert_mem_eq (got, model + off, 2 * CS - 3);
  }
  free (got);
}

/* Verify, then close (flushing), reopen read-only and verify again. */
static void
ov_verify_reopen (struct ov *o)
{
  verify_img (o->img, o->model, o->size);
  ck_assert_int_eq (addcow_close (o->img), 0);
  o->img = tu_open (meta, false);
  verify_img (o->img, o->model, o->size);
  addcow_close (o->img);
  o->img = tu_open (meta, true);
}

static void
ov_free (struct ov *o)
{
  ck_assert_int_eq (addcow_close (o->img), 0);
  free (o->model);
}

static int
allocated (struct addcow *img, uint64_t off, uint64_t *len)
{
  return addcow_is_allocated (img, off, UINT64_MAX, len);
}

/* Bytes [off, off+len) of FILE equal MODEL there. */
static void
assert_file_has (const char *file, const uint8_t *model, uint64_t off,
                 size_t len)
{
  size_t flen;
  uint8_t *data = tu_read_file (file, &flen);

  ck_assert_uint_ge (flen, off + len);
  ck_assert_mem_eq (data + off, model + off, len);
  free (data);
}

/* Bytes [off, off+len) of the image file are still the junk. */
static void
assert_junk (uint64_t off, size_t len)
{
  uint8_t *junk = malloc (off + len);

  tu_fill (junk, off + len, JUNK_SEED, 0);
  assert_file_has (image, junk, off, len);
  free (junk);
}

/* ---- copy-on-write ----------------------------------------------------- */

START_TEST (test_partial_cluster)
{
  struct ov o;
  uint64_t len;

  ov_make (&o, 8 * CS, 8 * CS);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 0);
  ov_write (&o, CS + 10, 100, 2);
  ck_assert_int_eq (allocated (o.img, 0, &len), 0);
  ck_assert_uint_eq (len, CS);
  ck_assert_int_eq (allocated (o.img, CS + 5, &len), 1);
  ck_assert_uint_eq (len, CS - 5);
  ck_assert_int_eq (allocated (o.img, 2 * CS, &len), 0);
  ck_assert_uint_eq (len, 6 * CS);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 1);
  verify_img (o.img, o.model, o.size);
  /* The image file got the whole cluster: backing data around the write. */
  ck_assert_int_eq (addcow_flush (o.img), 0);
  assert_file_has (image, o.model, CS, CS);
  assert_junk (0, CS);
  assert_junk (2 * CS, 6 * CS);
  ov_verify_reopen (&o);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 1);
  ov_free (&o);
}
END_TEST

START_TEST (test_span_clusters)
{
  struct ov o;
  uint64_t len;

  ov_make (&o, 8 * CS, 8 * CS);
  ov_write (&o, 4000, 2 * CS + 50, 3);      /* clusters 0, 1, 2 */
  ck_assert_int_eq (allocated (o.img, 0, &len), 1);
  ck_assert_uint_eq (len, 3 * CS);
  ck_assert_int_eq (allocated (o.img, 3 * CS, &len), 0);
  ck_assert_uint_eq (len, 5 * CS);
  ov_write (&o, 5 * CS, 2 * CS, 4);         /* whole clusters 5, 6 */
  ov_write (&o, 4 * CS - 1, 2, 5);          /* 1 byte in 3, 1 in 4 */
  ck_assert_int_eq (allocated (o.img, 0, &len), 1);
  ck_assert_uint_eq (len, 7 * CS);
  ov_write (&o, 100, 7 * CS, 6);            /* over allocated and not */
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 8);
  ov_verify_reopen (&o);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 8);
  assert_file_has (image, o.model, 0, 8 * CS);
  ov_free (&o);
}
END_TEST

/* The virtual size is not a multiple of the cluster size. */
START_TEST (test_last_partial_cluster)
{
  const uint64_t size = 3 * CS + 1000;
  struct ov o;
  uint8_t b = 0;
  uint64_t len;

  ov_make (&o, size, size);
  ck_assert_uint_eq (addcow_get_cluster_count (o.img), 4);
  ov_write (&o, size - 5, 5, 2);
  ck_assert_int_eq (allocated (o.img, 3 * CS, &len), 1);
  ck_assert_uint_eq (len, 1000);
  ck_assert_int_eq (addcow_pwrite (o.img, &b, 1, size), -EINVAL);
  ck_assert_int_eq (addcow_pwrite (o.img, &b, 2, size - 1), -EINVAL);
  ck_assert_int_eq (addcow_pread (o.img, &b, 1, size), -EINVAL);
  ck_assert_int_eq (addcow_pwrite_zeroes (o.img, 2, size - 1), -EINVAL);
  ov_write (&o, 2 * CS + 7, CS + 993 - 7, 3); /* from cluster 2 to the end */
  ov_verify_reopen (&o);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 2);
  ck_assert_uint_eq (tu_file_size (image), size);     /* never grown */
  ov_free (&o);

  /* A whole last cluster written in one go. */
  teardown ();
  setup ();
  ov_make (&o, size, size);
  ov_write (&o, 3 * CS, 1000, 4);
  ov_verify_reopen (&o);
  ck_assert_uint_eq (tu_file_size (image), size);
  ov_free (&o);
}
END_TEST

START_TEST (test_backing_shorter)
{
  const uint64_t bsize = 2 * CS + 100;
  struct ov o;
  uint8_t buf[CS];

  ov_make (&o, bsize, 5 * CS);
  ck_assert_uint_eq (addcow_get_backing_size (o.img), bsize);
  verify_img (o.img, o.model, o.size);      /* zeros after 2*CS+100 */
  ck_assert_int_eq (addcow_pread (o.img, buf, CS, 4 * CS), 0);
  memset (o.model + 4 * CS, 0, 0);
  ck_assert_mem_eq (buf, o.model + 4 * CS, CS);
  ov_write (&o, 2 * CS + 2000, 50, 2);      /* cluster straddling the end */
  ov_write (&o, 4 * CS + 10, 10, 3);        /* wholly past the end */
  ov_write (&o, 3 * CS, CS, 4);             /* a whole one past the end */
  ov_verify_reopen (&o);
  ck_assert_int_eq (addcow_flush (o.img), 0);
  assert_file_has (image, o.model, 2 * CS, 3 * CS);   /* no junk left */
  ov_free (&o);
}
END_TEST

START_TEST (test_backing_longer)
{
  const uint64_t size = 3 * CS + 7;
  struct ov o;

  ov_make (&o, 10 * CS, size);
  ck_assert_uint_eq (addcow_get_backing_size (o.img), 10 * CS);
  verify_img (o.img, o.model, o.size);
  ov_write (&o, 3 * CS + 1, 2, 2);          /* COW of a 7-byte cluster */
  ov_write (&o, CS + 1, 2, 3);
  ov_verify_reopen (&o);
  ck_assert_uint_eq (tu_file_size (image), size);
  ov_free (&o);
}
END_TEST

/* No backing: ALL_ALLOCATED, the image file's contents are the disk. */
START_TEST (test_no_backing)
{
  struct ov o;
  struct addcow_extent e;
  uint64_t len;

  ov_make (&o, UINT64_MAX, 5 * CS + 3);
  ck_assert_uint_eq (addcow_get_compat_features (o.img),
                     ADDCOW_COMPAT_ALL_ALLOCATED);
  ck_assert_ptr_null (addcow_get_backing_name (o.img));
  ck_assert_ptr_null (addcow_get_backing_format (o.img));
  ck_assert_uint_eq (addcow_get_backing_size (o.img), 0);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 6);
  ck_assert_int_eq (allocated (o.img, 7, &len), 1);
  ck_assert_uint_eq (len, 5 * CS + 3 - 7);
  verify_img (o.img, o.model, o.size);      /* the junk is the disk */
  ov_write (&o, CS - 3, 10, 2);
  ov_zero (&o, 3 * CS, CS + 1);
  ov_verify_reopen (&o);
  ck_assert_int_eq (addcow_flush (o.img), 0);
  assert_file_has (image, o.model, 0, o.size);
  /* Data up to the hole the zeroing punched, then that hole as zeros. */
  ck_assert_int_eq (addcow_block_status (o.img, 0, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, 3 * CS);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_DATA
                     | ADDCOW_EXTENT_OFFSET_VALID);
  ck_assert_str_eq (e.filename, image);
  ck_assert_int_eq (addcow_block_status (o.img, 3 * CS, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, CS);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_ZERO
                     | ADDCOW_EXTENT_OFFSET_VALID);
  ck_assert_uint_eq (e.offset, 3 * CS);
  ck_assert_str_eq (e.filename, image);
  ov_free (&o);
}
END_TEST

/* ---- zeros ------------------------------------------------------------- */

START_TEST (test_zeroes_allocated)
{
  struct ov o;

  ov_make (&o, 8 * CS, 8 * CS);
  ov_write (&o, 0, 4 * CS, 2);
  ov_zero (&o, 100, 50);                    /* part of a cluster */
  ov_zero (&o, CS, 2 * CS);                 /* whole clusters */
  ov_zero (&o, 4 * CS - 1, 1);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 4);
  ov_verify_reopen (&o);
  ov_free (&o);
}
END_TEST

START_TEST (test_zeroes_over_backing)
{
  struct ov o;
  uint64_t len;

  ov_make (&o, 8 * CS, 8 * CS);
  ov_zero (&o, CS + 100, 200);              /* COW: the rest from backing */
  ck_assert_int_eq (allocated (o.img, CS, &len), 1);
  ck_assert_uint_eq (len, CS);
  ov_zero (&o, 3 * CS, 2 * CS);             /* whole: zeros, not backing */
  ck_assert_int_eq (allocated (o.img, 3 * CS, &len), 1);
  ck_assert_uint_eq (len, 2 * CS);
  ov_zero (&o, 6 * CS + 5, CS);             /* straddles 6 and 7 */
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 5);
  ov_verify_reopen (&o);
  ov_free (&o);
}
END_TEST

/* Zeros past the backing end need no allocation: they already read so. */
START_TEST (test_zeroes_past_backing)
{
  struct ov o;

  ov_make (&o, 2 * CS, 6 * CS);
  ov_zero (&o, 3 * CS + 7, 2 * CS);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 0);
  ov_zero (&o, 2 * CS - 10, 20);            /* touches backing data */
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 2);
  ov_verify_reopen (&o);
  ov_free (&o);
}
END_TEST

/* An image with no backing file but without ALL_ALLOCATED: unallocated
 * clusters read as zeros whatever the image file holds there. */
START_TEST (test_zeroes_no_backing_unallocated)
{
  struct tu_hdr t;
  struct ov o;
  uint8_t bits = 0x01;                      /* cluster 0 allocated */
  uint64_t len;

  tu_make_file (image, 4 * CS, JUNK_SEED);
  tu_hdr_init (&t, 12, "disk.raw", NULL, NULL);
  t.compat = 0;
  tu_write_addcow (meta, &t, &bits, 1, 0);
  o.size = 4 * CS;
  o.model = calloc (1, o.size);
  tu_fill (o.model, CS, JUNK_SEED, 0);
  o.img = tu_open (meta, true);
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 1);
  verify_img (o.img, o.model, o.size);
  ov_zero (&o, CS + 1, 2 * CS);             /* nothing to do */
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 1);
  ck_assert_int_eq (allocated (o.img, CS, &len), 0);
  ck_assert_uint_eq (len, 3 * CS);
  ov_write (&o, 2 * CS + 5, 5, 2);          /* COW fills with zeros */
  ck_assert_uint_eq (addcow_get_allocated_clusters (o.img), 2);
  ov_verify_reopen (&o);
  ck_assert_int_eq (addcow_flush (o.img), 0);
  assert_file_has (image, o.model, 2 * CS, CS);
  assert_junk (CS, CS);
  ov_free (&o);
}
END_TEST

/* ---- chains ------------------------------------------------------------ */

START_TEST (test_chain_three_layers)
{
  char *mid = tu_join (dir, "mid.add-cow"), *top = tu_join (dir, "top.add-cow");
  char *mid_raw = tu_join (dir, "mid.raw"), *top_raw = tu_join (dir, "top.raw");
  const uint64_t size = 8 * CS;
  uint8_t *model = malloc (size), buf[CS];
  struct addcow *m, *t, *below;
  struct addcow_extent e;
  static const struct { uint64_t start, len; uint32_t depth; } want[] = {
    { 0, CS, 2 }, { CS, CS, 1 }, { 2 * CS, CS, 0 }, { 3 * CS, 2 * CS, 2 },
    { 5 * CS, CS, 0 }, { 6 * CS, 2 * CS, 2 },
  };
  uint64_t off;
  unsigned i;

  tu_make_file (base, size, BASE_SEED);
  tu_make_file (mid_raw, size, JUNK_SEED);
  tu_make_file (top_raw, size, JUNK_SEED + 1);
  tu_create (mid, "mid.raw", "base.raw", "raw", CS, 0);
  tu_create (top, "top.raw", "mid.add-cow", NULL, CS, 0);   /* probed */
  tu_fill (model, size, BASE_SEED, 0);

  m = tu_open (mid, true);
  tu_fill (buf, CS, 2, 0);
  ck_assert_int_eq (addcow_pwrite (m, buf, CS, CS), 0);
  memcpy (model + CS, buf, CS);
  ck_assert_int_eq (addcow_pwrite (m, buf, 100, 2 * CS + 50), 0);
  memcpy (model + 2 * CS + 50, buf, 100);
  ck_assert_int_eq (addcow_close (m), 0);

  t = tu_open (top, true);
  ck_assert_str_eq (addcow_get_backing_format (t), "add-cow");
  below = addcow_get_backing_image (t);
  ck_assert_ptr_nonnull (below);
  ck_assert_str_eq (addcow_get_filename (below), mid);
  ck_assert_ptr_null (addcow_get_backing_image (below));    /* raw below */
  ck_assert_uint_eq (addcow_get_backing_size (t), size);
  tu_fill (buf, 10, 3, 0);
  ck_assert_int_eq (addcow_pwrite (t, buf, 10, 2 * CS + 4000), 0);
  memcpy (model + 2 * CS + 4000, buf, 10);  /* the rest comes from mid */
  ck_assert_int_eq (addcow_pwrite (t, buf, 10, 5 * CS), 0);
  memcpy (model + 5 * CS, buf, 10);
  verify_img (t, model, size);
  ck_assert_int_eq (addcow_close (t), 0);

  t = tu_open (top, false);
  verify_img (t, model, size);
  for (i = 0, off = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert_int_eq (addcow_block_status (t, off, size - off, &e), 0);
    ck_assert_uint_eq (e.start, want[i].start);
    ck_assert_uint_eq (e.length, want[i].len);
    ck_assert_uint_eq (e.depth, want[i].depth);
    ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_DATA
                       | ADDCOW_EXTENT_OFFSET_VALID);
    ck_assert_uint_eq (e.offset, off);
    ck_assert_str_eq (e.filename, want[i].depth == 0 ? top_raw
                      : want[i].depth == 1 ? mid_raw : base);
    off += e.length;
  }
  ck_assert_uint_eq (off, size);
  addcow_close (t);
  free (model); free (mid); free (top); free (mid_raw); free (top_raw);
}
END_TEST

/* An add-cow middle layer shorter than the top: past its end, zeros. */
START_TEST (test_chain_short_middle)
{
  char *mid = tu_join (dir, "mid.add-cow"), *top = tu_join (dir, "top.add-cow");
  char *mid_raw = tu_join (dir, "mid.raw"), *top_raw = tu_join (dir, "top.raw");
  uint8_t *model = calloc (1, 6 * CS), buf[CS];
  struct addcow *t;
  struct addcow_extent e;

  tu_make_file (base, 8 * CS, BASE_SEED);
  tu_make_file (mid_raw, 2 * CS + 9, JUNK_SEED);
  tu_make_file (top_raw, 6 * CS, JUNK_SEED + 1);
  tu_create (mid, "mid.raw", "base.raw", "raw", CS, 0);
  tu_create (top, "top.raw", "mid.add-cow", "add-cow", CS, 0);
  tu_fill (model, 2 * CS + 9, BASE_SEED, 0);
  t = tu_open (top, true);
  ck_assert_uint_eq (addcow_get_backing_size (t), 2 * CS + 9);
  verify_img (t, model, 6 * CS);
  tu_fill (buf, 20, 5, 0);
  ck_assert_int_eq (addcow_pwrite (t, buf, 20, 2 * CS), 0);
  memcpy (model + 2 * CS, buf, 20);         /* then 9 - 20 < 0: all new */
  ck_assert_int_eq (addcow_pwrite (t, buf, 5, 2 * CS + 100), 0);
  memcpy (model + 2 * CS + 100, buf, 5);
  verify_img (t, model, 6 * CS);
  ck_assert_int_eq (addcow_block_status (t, 3 * CS, 3 * CS, &e), 0);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_ZERO);
  ck_assert_uint_eq (e.length, 3 * CS);
  ck_assert_ptr_null (e.filename);
  ck_assert_int_eq (addcow_close (t), 0);
  t = tu_open (top, false);
  verify_img (t, model, 6 * CS);
  addcow_close (t);
  free (model); free (mid); free (top); free (mid_raw); free (top_raw);
}
END_TEST

/* ---- block status ------------------------------------------------------ */

START_TEST (test_block_status_sparse_backing)
{
  const uint64_t size = 20 * CS;
  struct addcow *img;
  struct addcow_extent e;
  uint8_t buf[CS];
  static const struct {
    uint64_t start, len;
    uint32_t depth, flags;
  } want[] = {
#define P ADDCOW_EXTENT_PRESENT
#define Z ADDCOW_EXTENT_ZERO
#define D ADDCOW_EXTENT_DATA
#define O ADDCOW_EXTENT_OFFSET_VALID
    { 0, 2 * CS, 1, P | Z | O },            /* hole in base */
    { 2 * CS, CS, 1, P | D | O },           /* base data */
    { 3 * CS, CS, 0, P | D | O },           /* written in the overlay */
    { 4 * CS, CS, 1, P | Z | O },
    { 5 * CS, CS, 1, P | D | O },
    { 6 * CS, 4 * CS, 1, P | Z | O },
    { 10 * CS, CS, 0, P | D | O },
    { 11 * CS, 5 * CS, 1, P | Z | O },      /* up to the end of base */
    { 16 * CS, 4 * CS, 0, Z },              /* past it: nothing, zeros */
  };
  uint64_t off;
  unsigned i;

  tu_make_file (base, 16 * CS, 0);          /* sparse */
  tu_fill (buf, CS, BASE_SEED, 2 * CS);
  tu_pwrite (base, buf, CS, 2 * CS);
  tu_fill (buf, CS, BASE_SEED, 5 * CS);
  tu_pwrite (base, buf, CS, 5 * CS);
  tu_make_file (image, size, JUNK_SEED);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = tu_open (meta, true);
  ck_assert_int_eq (addcow_pwrite (img, buf, CS, 3 * CS), 0);
  ck_assert_int_eq (addcow_pwrite (img, buf, 1, 10 * CS + 9), 0);
  for (i = 0, off = 0; i < sizeof want / sizeof want[0]; i++) {
    ck_assert_int_eq (addcow_block_status (img, off, size - off, &e), 0);
    ck_assert_uint_eq (e.start, want[i].start);
    ck_assert_uint_eq (e.length, want[i].len);
    ck_assert_uint_eq (e.depth, want[i].depth);
    ck_assert_uint_eq (e.flags, want[i].flags);
    if (e.flags & O) {
      ck_assert_uint_eq (e.offset, off);
      ck_assert_str_eq (e.filename, e.depth ? base : image);
    }
    else
      ck_assert_ptr_null (e.filename);
    off += e.length;
  }
  ck_assert_uint_eq (off, size);
  /* max_length cuts every kind of run. */
  ck_assert_int_eq (addcow_block_status (img, 100, 50, &e), 0);
  ck_assert_uint_eq (e.length, 50);
  ck_assert_uint_eq (e.flags, P | Z | O);
  ck_assert_int_eq (addcow_block_status (img, 3 * CS + 1, 7, &e), 0);
  ck_assert_uint_eq (e.length, 7);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_int_eq (addcow_block_status (img, 17 * CS, 1, &e), 0);
  ck_assert_uint_eq (e.length, 1);
  ck_assert_uint_eq (e.flags, Z);
  ck_assert_int_eq (addcow_block_status (img, size - 1, 100, &e), 0);
  ck_assert_uint_eq (e.length, 1);
  /* Bad requests. */
  ck_assert_int_eq (addcow_block_status (img, size, 1, &e), -EINVAL);
  ck_assert_int_eq (addcow_block_status (img, 0, 0, &e), -EINVAL);
  addcow_close (img);
#undef P
#undef Z
#undef D
#undef O
}
END_TEST

/* The raw backing's extents are remembered between calls (one lseek pair
 * per extent): answers must not depend on the order of the questions. */
START_TEST (test_block_status_any_order)
{
  const uint64_t size = 24 * CS;
  static const unsigned data[] = { 1, 2, 5, 9, 10, 11, 17, 23 };
  bool is_data[24] = { false };
  struct addcow *img;
  struct addcow_extent e;
  uint8_t buf[CS];
  uint64_t off, end;
  unsigned i, pass;

  tu_make_file (base, size, 0);             /* sparse */
  for (i = 0; i < sizeof data / sizeof data[0]; i++) {
    tu_fill (buf, CS, BASE_SEED, (uint64_t) data[i] * CS);
    tu_pwrite (base, buf, CS, (uint64_t) data[i] * CS);
    is_data[data[i]] = true;
  }
  tu_make_file (image, size, JUNK_SEED);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  img = tu_open (meta, false);
  /* Pass 0 walks backwards, pass 1 forwards, pass 2 hops about. */
  for (pass = 0; pass < 3; pass++)
    for (i = 0; i < 48; i++) {
      unsigned k = pass == 0 ? 47 - i : pass == 1 ? i : (i * 29) % 48;
      off = (uint64_t) k * CS / 2;
      ck_assert_int_eq (addcow_block_status (img, off, size - off, &e), 0);
      for (end = off / CS + 1; end < 24 && is_data[end] == is_data[off / CS];
           end++)
        ;
      ck_assert_uint_eq (e.length, end * CS - off);
      ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT
                         | ADDCOW_EXTENT_OFFSET_VALID
                         | (is_data[off / CS] ? ADDCOW_EXTENT_DATA
                                              : ADDCOW_EXTENT_ZERO));
    }
  addcow_close (img);
}
END_TEST

START_TEST (test_request_errors)
{
  struct ov o;
  struct addcow *ro;
  uint8_t b[16] = { 0 };
  char msg[512];

  ov_make (&o, 4 * CS, 4 * CS);
  ck_assert_int_eq (addcow_pread (o.img, b, 16, 4 * CS - 8), -EINVAL);
  snprintf (msg, sizeof msg, "%s: request of 16 bytes at offset 16376 goes "
            "past the end of the disk (16384 bytes)", meta);
  tu_assert_error (msg);
  ck_assert_int_eq (addcow_pread (o.img, b, 16, UINT64_MAX - 4), -EINVAL);
  ck_assert_int_eq (addcow_pwrite (o.img, b, 16, UINT64_MAX - 4), -EINVAL);
  ck_assert_int_eq (addcow_pwrite_zeroes (o.img, UINT64_MAX, 1), -EINVAL);
  ck_assert_int_eq (addcow_pwrite (o.img, NULL, 1, 0), -EINVAL);
  ck_assert_int_eq (addcow_pread (o.img, b, 0, 4 * CS), 0);  /* empty */
  ck_assert_int_eq (addcow_close (o.img), 0);
  ro = tu_open (meta, false);
  ck_assert_int_eq (addcow_pwrite (ro, b, 1, 0), -EROFS);
  snprintf (msg, sizeof msg, "%s: image is opened read-only", meta);
  tu_assert_error (msg);
  ck_assert_int_eq (addcow_pwrite_zeroes (ro, 1, 0), -EROFS);
  ck_assert_int_eq (addcow_flush (ro), 0);
  addcow_close (ro);
  free (o.model);
}
END_TEST

/* ---- locking ----------------------------------------------------------- */

static int
try_open (const char *path, unsigned flags, struct addcow **img)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;

  o.flags = flags;
  *img = NULL;
  return addcow_open (path, &o, img);
}

static void
assert_busy (const char *path, unsigned flags)
{
  struct addcow *img;
  char msg[512];

  ck_assert_int_eq (try_open (path, flags, &img), -EBUSY);
  ck_assert_ptr_null (img);
  snprintf (msg, sizeof msg, "%s: image is in use by another process "
            "(use -U to inspect it anyway)", path);
  tu_assert_error (msg);
}

START_TEST (test_lock_two_writers)
{
  struct addcow *w, *r1;

  tu_make_file (base, 4 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  w = tu_open (meta, true);
  assert_busy (meta, ADDCOW_OPEN_WRITE);
  assert_busy (meta, 0);                    /* no reader under a writer */
  ck_assert_int_eq (try_open (meta, ADDCOW_OPEN_FORCE_SHARE, &r1), 0);
  addcow_close (r1);
  ck_assert_int_eq (addcow_close (w), 0);
  w = tu_open (meta, true);                 /* released at close */
  addcow_close (w);
}
END_TEST

START_TEST (test_lock_readers)
{
  struct addcow *r1, *r2;

  tu_make_file (base, 4 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  r1 = tu_open (meta, false);
  r2 = tu_open (meta, false);               /* two readers are fine */
  assert_busy (meta, ADDCOW_OPEN_WRITE);    /* but no writer */
  addcow_close (r1);
  assert_busy (meta, ADDCOW_OPEN_WRITE);
  addcow_close (r2);
  r1 = tu_open (meta, true);
  addcow_close (r1);
}
END_TEST

START_TEST (test_lock_force_share_write)
{
  struct addcow *img;
  char msg[512];

  tu_make_file (base, 4 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  ck_assert_int_eq (try_open (meta, ADDCOW_OPEN_FORCE_SHARE
                              | ADDCOW_OPEN_WRITE, &img), -EINVAL);
  snprintf (msg, sizeof msg, "%s: force-share is for read-only opens", meta);
  tu_assert_error (msg);
}
END_TEST

/* The image file is locked too: a second add-cow file naming it. */
START_TEST (test_lock_image_file)
{
  char *meta2 = tu_join (dir, "other.add-cow");
  struct addcow *w, *w2;
  char msg[512];

  tu_make_file (base, 4 * CS, 1);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);
  tu_create (meta2, "disk.raw", "base.raw", "raw", CS, 0);
  w = tu_open (meta, true);
  ck_assert_int_eq (try_open (meta2, ADDCOW_OPEN_WRITE, &w2), -EBUSY);
  snprintf (msg, sizeof msg, "%s: '%s' is in use by another process (use -U "
            "to inspect it anyway)", meta2, image);
  tu_assert_error (msg);
  addcow_close (w);
  free (meta2);
}
END_TEST

/* ---- files that are refused -------------------------------------------- */

static void
assert_open_fails (const char *path, unsigned flags, int err,
                   const char *msg)
{
  struct addcow *img;

  ck_assert_int_eq (try_open (path, flags, &img), err);
  ck_assert_ptr_null (img);
  tu_assert_error (msg);
}

/* create -u: write the header without opening the backing file. */
static void
create_unopened (const char *path, const char *image_name,
                 const char *backing_name, const char *fmt)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  int r;

  o.image_name = image_name;
  o.backing_name = backing_name;
  o.backing_format = fmt;
  o.no_backing_open = true;
  o.size = 4 * CS;
  o.cluster_size = CS;
  r = addcow_create (path, &o);
  ck_assert_msg (r == 0, "create %s: %s", path, addcow_get_error ());
}

START_TEST (test_fifo_image)
{
  char *fifo = tu_join (dir, "fifo"), msg[512];
  struct tu_hdr t;

  ck_assert_int_eq (mkfifo (fifo, 0600), 0);
  tu_hdr_init (&t, 12, "fifo", NULL, NULL);
  tu_write_addcow (meta, &t, NULL, 0, 4096);
  snprintf (msg, sizeof msg, "%s: image file '%s' is a FIFO", meta, fifo);
  assert_open_fails (meta, 0, -EINVAL, msg);
  assert_open_fails (meta, ADDCOW_OPEN_WRITE, -EINVAL, msg);
  free (fifo);
}
END_TEST

START_TEST (test_fifo_backing)
{
  char *fifo = tu_join (dir, "fifo"), msg[512];

  ck_assert_int_eq (mkfifo (fifo, 0600), 0);
  tu_make_file (image, 4 * CS, JUNK_SEED);
  create_unopened (meta, "disk.raw", "fifo", "raw");
  snprintf (msg, sizeof msg, "%s: backing file '%s' is a FIFO", meta, fifo);
  assert_open_fails (meta, 0, -EINVAL, msg);
  assert_open_fails (meta, ADDCOW_OPEN_WRITE, -EINVAL, msg);
  free (fifo);
}
END_TEST

START_TEST (test_fifo_addcow_file)
{
  char *fifo = tu_join (dir, "fifo.add-cow"), msg[512];

  ck_assert_int_eq (mkfifo (fifo, 0600), 0);
  snprintf (msg, sizeof msg, "%s: file '%s' is a FIFO", fifo, fifo);
  assert_open_fails (fifo, 0, -EINVAL, msg);
  assert_open_fails (fifo, ADDCOW_OPEN_WRITE, -EINVAL, msg);
  free (fifo);
}
END_TEST

START_TEST (test_directory_image)
{
  char *d = tu_join (dir, "d"), msg[512];
  struct tu_hdr t;

  ck_assert_int_eq (mkdir (d, 0700), 0);
  tu_hdr_init (&t, 12, "d", NULL, NULL);
  tu_write_addcow (meta, &t, NULL, 0, 4096);
  snprintf (msg, sizeof msg, "%s: image file '%s' is a directory", meta, d);
  assert_open_fails (meta, 0, -EINVAL, msg);
  free (d);
}
END_TEST

START_TEST (test_backing_is_image_symlink)
{
  char *link = tu_join (dir, "link.raw"), msg[512];

  tu_make_file (image, 4 * CS, JUNK_SEED);
  ck_assert_int_eq (symlink ("disk.raw", link), 0);
  create_unopened (meta, "disk.raw", "link.raw", "raw");
  snprintf (msg, sizeof msg, "%s: backing file '%s' is the image file "
            "itself", meta, link);
  assert_open_fails (meta, 0, -EINVAL, msg);
  assert_open_fails (meta, ADDCOW_OPEN_WRITE, -EINVAL, msg);
  free (link);
}
END_TEST

START_TEST (test_chain_loop)
{
  char *a = tu_join (dir, "a.add-cow"), *b = tu_join (dir, "b.add-cow");
  struct addcow *img;

  create_unopened (a, "a.raw", "b.add-cow", "add-cow");
  create_unopened (b, "b.raw", "a.add-cow", "add-cow");
  ck_assert_int_eq (try_open (a, 0, &img), -ELOOP);
  tu_assert_error_has (a, "(a loop)", NULL);
  ck_assert_int_eq (try_open (b, ADDCOW_OPEN_FORCE_SHARE, &img), -ELOOP);
  tu_assert_error_has (b, "(a loop)", NULL);
  /* A writer sees the loop too, not its own lock. */
  ck_assert_int_eq (try_open (a, ADDCOW_OPEN_WRITE, &img), -ELOOP);
  tu_assert_error_has (a, "(a loop)", NULL);
  free (a); free (b);
}
END_TEST

START_TEST (test_chain_self_loop)
{
  struct addcow *img;

  create_unopened (meta, "disk.raw", "disk.add-cow", "add-cow");
  ck_assert_int_eq (try_open (meta, 0, &img), -ELOOP);
  tu_assert_error_has (meta, "(a loop)", NULL);
  ck_assert_int_eq (try_open (meta, ADDCOW_OPEN_WRITE, &img), -ELOOP);
  tu_assert_error_has (meta, "(a loop)", NULL);
}
END_TEST

/* The image file named as a raw backing of a layer further down. */
START_TEST (test_chain_loop_through_raw)
{
  char *top = tu_join (dir, "top.add-cow");
  struct addcow *img;

  tu_make_file (image, 4 * CS, JUNK_SEED);
  create_unopened (meta, "disk.raw", "top.raw", "raw");
  create_unopened (top, "top.raw", "disk.add-cow", "add-cow");
  /* top -> disk.add-cow -> raw backing top.raw = top's image file. */
  ck_assert_int_eq (try_open (top, 0, &img), -ELOOP);
  tu_assert_error_has (meta, "top.raw", "(a loop)");
  free (top);
}
END_TEST

START_TEST (test_chain_depth_limit)
{
  char name[64], prev[64], raw[64];
  uint8_t buf[CS], want[CS];
  struct addcow *img;
  char *path = NULL;
  unsigned i;

  tu_make_file (base, 4 * CS, BASE_SEED);
  strcpy (prev, "base.raw");
  /* i add-cow layers over base.raw: i + 1 layers, every format counted. */
  for (i = 1; i <= ADDCOW_MAX_CHAIN_DEPTH; i++) {
    snprintf (name, sizeof name, "l%u.add-cow", i);
    snprintf (raw, sizeof raw, "l%u.raw", i);
    free (path);
    path = tu_join (dir, name);
    tu_create (path, raw, prev, i == 1 ? "raw" : "add-cow", CS, 0);
    strcpy (prev, name);
    if (i == ADDCOW_MAX_CHAIN_DEPTH - 1) {  /* the deepest allowed */
      img = tu_open (path, false);
      ck_assert_int_eq (addcow_pread (img, buf, CS, CS), 0);
      tu_fill (want, CS, BASE_SEED, CS);
      ck_assert_mem_eq (buf, want, CS);
      addcow_close (img);
    }
  }
  ck_assert_int_eq (try_open (path, 0, &img), -ELOOP);
  tu_assert_error_has ("backing chain is deeper than 32 layers", NULL, NULL);
  free (path);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("cow");
  TCase *tc = tcase_create ("data");
  TCase *tl = tcase_create ("files");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_partial_cluster);
  tcase_add_test (tc, test_span_clusters);
  tcase_add_test (tc, test_last_partial_cluster);
  tcase_add_test (tc, test_backing_shorter);
  tcase_add_test (tc, test_backing_longer);
  tcase_add_test (tc, test_no_backing);
  tcase_add_test (tc, test_zeroes_allocated);
  tcase_add_test (tc, test_zeroes_over_backing);
  tcase_add_test (tc, test_zeroes_past_backing);
  tcase_add_test (tc, test_zeroes_no_backing_unallocated);
  tcase_add_test (tc, test_chain_three_layers);
  tcase_add_test (tc, test_chain_short_middle);
  tcase_add_test (tc, test_block_status_sparse_backing);
  tcase_add_test (tc, test_block_status_any_order);
  tcase_add_test (tc, test_request_errors);
  suite_add_tcase (s, tc);

  tcase_add_checked_fixture (tl, setup, teardown);
  tcase_add_test (tl, test_lock_two_writers);
  tcase_add_test (tl, test_lock_readers);
  tcase_add_test (tl, test_lock_force_share_write);
  tcase_add_test (tl, test_lock_image_file);
  tcase_add_test (tl, test_fifo_image);
  tcase_add_test (tl, test_fifo_backing);
  tcase_add_test (tl, test_fifo_addcow_file);
  tcase_add_test (tl, test_directory_image);
  tcase_add_test (tl, test_backing_is_image_symlink);
  tcase_add_test (tl, test_chain_loop);
  tcase_add_test (tl, test_chain_self_loop);
  tcase_add_test (tl, test_chain_loop_through_raw);
  tcase_add_test (tl, test_chain_depth_limit);
  suite_add_tcase (s, tl);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
