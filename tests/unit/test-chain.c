/*
 * test-chain.c - the one chain walk (chain.c) and what rests on it: a
 * handle opened in another format (addcow_open_opts.format), the layer
 * getters, zeros past the end of a shorter layer, and the open flags.
 *
 * The chains are made of real files: base.raw (pattern), mid.add-cow and
 * top.add-cow over it, whose image files start full of junk so that a run
 * read from the wrong layer never passes by accident.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define CS 4096u
#define BASE_SEED 1
#define MID_SEED 2
#define TOP_SEED 3
#define JUNK_SEED 99

static char *dir;

static void
setup (void)
{
  dir = tu_mkdtemp ();
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (dir);
}

static char *
in_dir (const char *name)
{
  static char *last;

  free (last);
  last = tu_join (dir, name);
  return last;
}

static void
assert_file (const char *path, const uint8_t *want, size_t len)
{
  size_t got_len;
  uint8_t *got = tu_read_file (path, &got_len);

  ck_assert_uint_eq (got_len, len);
  ck_assert_mem_eq (got, want, len);
  free (got);
}

static int
open_fmt (const char *name, const char *format, unsigned flags,
          struct addcow **img)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;

  o.format = format;
  o.flags = flags;
  return addcow_open (in_dir (name), &o, img);
}

/* Write LEN pattern bytes of SEED at OFFSET of the disk of IMG. */
static void
put (struct addcow *img, unsigned seed, uint64_t offset, size_t len)
{
  uint8_t *buf = malloc (len);

  ck_assert_ptr_nonnull (buf);
  tu_fill (buf, len, seed, offset);
  ck_assert_int_eq (addcow_pwrite (img, buf, len, offset), 0);
  free (buf);
}

/* An add-cow image NAME (image file NAME.raw of SIZE junk bytes) over
 * BACKING of format FMT. */
static void
make_layer (const char *name, uint64_t size, const char *backing,
            const char *fmt)
{
  char raw[64];

  snprintf (raw, sizeof raw, "%s.raw", name);
  tu_make_file (in_dir (raw), size, JUNK_SEED);
  tu_create (in_dir (name), raw, backing, fmt, CS, 0);
}

/* ---- a raw file as a handle ------------------------------------------- */

START_TEST (test_open_raw)
{
  uint8_t want[3 * CS], got[3 * CS];
  struct addcow_extent e;
  struct addcow_layer_info li = ADDCOW_LAYER_INFO_INIT;
  struct addcow *img;
  uint64_t len;

  /* 16 KiB: data, a hole, data, a hole to the end. */
  tu_write_file (in_dir ("d.raw"), "", 0);
  tu_truncate (in_dir ("d.raw"), 4 * CS);
  tu_fill (want, CS, BASE_SEED, 0);
  tu_pwrite (in_dir ("d.raw"), want, CS, 0);
  tu_fill (want, CS, BASE_SEED, 2 * CS);
  tu_pwrite (in_dir ("d.raw"), want, CS, 2 * CS);
  ck_assert_int_eq (open_fmt ("d.raw", "raw", 0, &img), 0);
  ck_assert_str_eq (addcow_get_format (img), "raw");
  ck_assert_uint_eq (addcow_get_virtual_size (img), 4 * CS);
  ck_assert_ptr_null (addcow_get_backing_name (img));

  ck_assert_int_eq (addcow_pread (img, got, 3 * CS, CS), 0);
  memset (want, 0, sizeof want);
  tu_fill (want + CS, CS, BASE_SEED, 2 * CS);
  ck_assert_mem_eq (got, want, 3 * CS);

  ck_assert_int_eq (addcow_block_status (img, 0, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, CS);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_DATA
                     | ADDCOW_EXTENT_OFFSET_VALID);
  ck_assert_str_eq (e.filename, in_dir ("d.raw"));
  ck_assert_int_eq (addcow_block_status (img, CS, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, CS);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_ZERO
                     | ADDCOW_EXTENT_OFFSET_VALID);
  ck_assert_uint_eq (e.offset, CS);
  ck_assert_int_eq (addcow_is_allocated (img, CS, UINT64_MAX, &len), 1);
  ck_assert_uint_eq (len, CS);

  ck_assert_int_eq (addcow_pwrite (img, want, 1, 0), -EROFS);
  ck_assert_uint_eq (addcow_get_layer_count (img), 1);
  ck_assert_int_eq (addcow_get_layer (img, 0, &li), 0);
  ck_assert_str_eq (li.format, "raw");
  ck_assert_str_eq (li.filename, in_dir ("d.raw"));
  ck_assert_uint_eq (li.virtual_size, 4 * CS);
  ck_assert_uint_eq (li.cluster_size, 0);
  ck_assert_ptr_null (li.backing_name);
  ck_assert_ptr_null (li.image);
  ck_assert_int_eq (addcow_get_layer (img, 1, &li), -EINVAL);
  ck_assert_int_eq (addcow_close (img), 0);
}
END_TEST

START_TEST (test_open_format_refused)
{
  /* A caller built against version 1 of the struct (no format). */
  struct { unsigned version, flags; const struct addcow_io *io; } v1
    = { 1, 0, NULL };
  struct addcow *img;

  tu_make_file (in_dir ("d.raw"), CS, BASE_SEED);
  ck_assert_int_eq (open_fmt ("d.raw", "raw", ADDCOW_OPEN_WRITE, &img),
                    -EINVAL);
  tu_assert_error_has ("d.raw: a file of format 'raw' is opened read-only",
                       NULL, NULL);
  ck_assert_int_eq (open_fmt ("d.raw", "vmdk", 0, &img), -ENOTSUP);
  tu_assert_error_has ("d.raw: unsupported format 'vmdk'", NULL, NULL);
  ck_assert_ptr_null (img);
  ck_assert (addcow_format_supported ("raw"));
  ck_assert (addcow_format_supported ("add-cow"));
  ck_assert (!addcow_format_supported ("vmdk"));
  /* "add-cow" is today's open; version 1 of the struct still works. */
  make_layer ("top.add-cow", 2 * CS, NULL, NULL);
  ck_assert_int_eq (open_fmt ("top.add-cow", "add-cow", 0, &img), 0);
  ck_assert_str_eq (addcow_get_format (img), "add-cow");
  addcow_close (img);
  ck_assert_int_eq (addcow_open (in_dir ("top.add-cow"),
                                 (const struct addcow_open_opts *) &v1,
                                 &img), 0);
  addcow_close (img);
  /* An add-cow file opened as raw is its bytes, never parsed. */
  ck_assert_int_eq (open_fmt ("top.add-cow", "raw", 0, &img), 0);
  ck_assert_uint_eq (addcow_get_virtual_size (img),
                     tu_file_size (in_dir ("top.add-cow")));
  addcow_close (img);
}
END_TEST

/* Undefined bits are refused; the private write switch of commit -b
 * (once bits 24-29) cannot be reached from the public flags. */
START_TEST (test_open_flags)
{
  struct addcow *img;
  unsigned bit;

  tu_make_file (in_dir ("base.raw"), 2 * CS, BASE_SEED);
  make_layer ("top.add-cow", 2 * CS, "base.raw", "raw");
  for (bit = 4; bit < 32; bit++) {
    struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
    o.flags = 1u << bit;
    ck_assert_int_eq (addcow_open (in_dir ("top.add-cow"), &o, &img),
                      -EINVAL);
    ck_assert_ptr_null (img);
    tu_assert_error_has ("unknown open flags", NULL, NULL);
  }
  /* The old name of TOLERATE_BACKING still builds and means the same. */
  ck_assert_uint_eq (ADDCOW_OPEN_NO_BACKING, ADDCOW_OPEN_TOLERATE_BACKING);
}
END_TEST

/* ---- the layers of a chain --------------------------------------------- */

START_TEST (test_layer_info)
{
  struct addcow_layer_info li = ADDCOW_LAYER_INFO_INIT;
  struct addcow_layer_info bad = { .version = 99 };
  struct addcow *img;

  tu_make_file (in_dir ("base.raw"), 5 * CS, BASE_SEED);
  make_layer ("mid.add-cow", 4 * CS, "base.raw", "raw");
  make_layer ("top.add-cow", 6 * CS, "mid.add-cow", "add-cow");
  img = tu_open (in_dir ("top.add-cow"), false);
  ck_assert_uint_eq (addcow_get_layer_count (img), 3);
  ck_assert_int_eq (addcow_get_layer (img, 0, &bad), -EINVAL);

  ck_assert_int_eq (addcow_get_layer (img, 0, &li), 0);
  ck_assert_str_eq (li.format, "add-cow");
  ck_assert_str_eq (li.filename, in_dir ("top.add-cow"));
  ck_assert_uint_eq (li.virtual_size, 6 * CS);
  ck_assert_uint_eq (li.cluster_size, CS);
  ck_assert_str_eq (li.backing_name, "mid.add-cow");
  ck_assert_str_eq (li.backing_format, "add-cow");
  ck_assert_ptr_eq (li.image, img);
  ck_assert_uint_gt (li.actual_size, 0);

  ck_assert_int_eq (addcow_get_layer (img, 1, &li), 0);
  ck_assert_uint_eq (li.depth, 1);
  ck_assert_str_eq (li.format, "add-cow");
  ck_assert_str_eq (li.filename, in_dir ("mid.add-cow"));
  ck_assert_uint_eq (li.virtual_size, 4 * CS);
  ck_assert_str_eq (li.backing_name, "base.raw");
  ck_assert_str_eq (li.backing_format, "raw");
  ck_assert_ptr_eq (li.image, addcow_get_backing_image (img));

  ck_assert_int_eq (addcow_get_layer (img, 2, &li), 0);
  ck_assert_str_eq (li.format, "raw");
  ck_assert_str_eq (li.filename, in_dir ("base.raw"));
  ck_assert_uint_eq (li.virtual_size, 5 * CS);
  ck_assert_uint_eq (li.cluster_size, 0);
  ck_assert_ptr_null (li.backing_name);
  ck_assert_ptr_null (li.backing_format);
  ck_assert_ptr_null (li.image);
  ck_assert_int_eq (addcow_get_layer (img, 3, &li), -EINVAL);
  addcow_close (img);
}
END_TEST

/* ---- zeros past the end of a shorter layer ------------------------------ */

/* base.raw 8 clusters of pattern; mid 4 clusters over it (cluster 1
 * written); top 8 clusters over mid (cluster 6 written). */
static struct addcow *
short_mid_chain (void)
{
  struct addcow *img;

  tu_make_file (in_dir ("base.raw"), 8 * CS, BASE_SEED);
  make_layer ("mid.add-cow", 4 * CS, "base.raw", "raw");
  make_layer ("top.add-cow", 8 * CS, "mid.add-cow", "add-cow");
  img = tu_open (in_dir ("mid.add-cow"), true);
  put (img, MID_SEED, CS, CS);
  ck_assert_int_eq (addcow_close (img), 0);
  img = tu_open (in_dir ("top.add-cow"), true);
  put (img, TOP_SEED, 6 * CS, CS);
  return img;
}

START_TEST (test_short_layer_resolve)
{
  struct addcow *img = short_mid_chain ();
  struct chain_run run;

  /* [0, CS): base, through both add-cow layers. */
  ck_assert_int_eq (chain_resolve (img->top, 0, 8 * CS, &run), 0);
  ck_assert_int_eq (run.kind, RUN_DATA);
  ck_assert (run.present);
  ck_assert_uint_eq (run.depth, 2);
  ck_assert_uint_eq (run.len, CS);
  ck_assert_str_eq (run.layer->ops->format, "raw");
  /* [2CS, 4CS): base again, cut at mid's end. */
  ck_assert_int_eq (chain_resolve (img->top, 2 * CS, 8 * CS, &run), 0);
  ck_assert_uint_eq (run.depth, 2);
  ck_assert_uint_eq (run.len, 2 * CS);
  /* [4CS, 6CS): past mid's end: zeros owned by mid, reported at top. */
  ck_assert_int_eq (chain_resolve (img->top, 4 * CS, 8 * CS, &run), 0);
  ck_assert_int_eq (run.kind, RUN_ZERO);
  ck_assert (!run.present);
  ck_assert_uint_eq (run.depth, 0);
  ck_assert_uint_eq (run.len, 2 * CS);
  ck_assert_ptr_nonnull (run.layer);
  ck_assert_uint_eq (run.layer->depth, 1);
  ck_assert_ptr_null (run.filename);
  /* Commit's view above base: that run is owned (by mid) ... */
  ck_assert_int_eq (chain_resolve_above (img->top, 2, 4 * CS, 8 * CS,
                                         &run), 0);
  ck_assert_int_eq (run.kind, RUN_ZERO);
  ck_assert_uint_eq (run.layer->depth, 1);
  /* ... and base's own runs are not. */
  ck_assert_int_eq (chain_resolve_above (img->top, 2, 0, 8 * CS, &run), 0);
  ck_assert_int_eq (run.kind, RUN_UNALLOCATED);
  ck_assert_uint_eq (run.len, CS);
  ck_assert_int_eq (chain_resolve_above (img->top, 2, CS, 8 * CS, &run), 0);
  ck_assert_int_eq (run.kind, RUN_DATA);
  ck_assert_uint_eq (run.layer->depth, 1);
  ck_assert_int_eq (chain_resolve (img->top, 8 * CS, 1, &run), -EINVAL);
  addcow_close (img);
}
END_TEST

START_TEST (test_short_layer_read)
{
  struct addcow *img = short_mid_chain ();
  uint8_t got[8 * CS], want[8 * CS];

  memset (want, 0, sizeof want);
  tu_fill (want, CS, BASE_SEED, 0);
  tu_fill (want + CS, CS, MID_SEED, CS);
  tu_fill (want + 2 * CS, 2 * CS, BASE_SEED, 2 * CS);
  tu_fill (want + 6 * CS, CS, TOP_SEED, 6 * CS);
  ck_assert_int_eq (addcow_pread (img, got, sizeof got, 0), 0);
  ck_assert_mem_eq (got, want, sizeof got);
  ck_assert_int_eq (chain_read (img->top, got, 3 * CS, 3 * CS), 0);
  ck_assert_mem_eq (got, want + 3 * CS, 3 * CS);
  addcow_close (img);
}
END_TEST

/* ---- a layer whose data is not in place (as compressed qcow2 data) ---- */

/* Data everywhere, read only through the driver (fd -1): pattern SEED. */
static int
fake_status (struct layer *l, uint64_t offset, uint64_t max,
             struct layer_run *run)
{
  (void) l;
  run->kind = RUN_DATA;
  run->len = max < 3 * CS ? max : 3 * CS;   /* runs of 3 clusters */
  run->fd = -1;
  run->file_offset = offset;
  run->filename = NULL;
  return 0;
}

static int
fake_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  (void) l;
  tu_fill (buf, count, MID_SEED, offset);
  return 0;
}

static int
fake_close (struct layer *l)
{
  (void) l;
  return 0;
}

static const struct layer_ops fake_ops = {
  .format = "fake", .block_status = fake_status, .read = fake_read,
  .close = fake_close,
};

START_TEST (test_layer_not_in_place)
{
  struct layer fake = { .ops = &fake_ops, .size = 6 * CS, .filename = "fake",
                        .depth = 1 };
  uint8_t got[8 * CS], want[8 * CS];
  struct addcow_extent e;
  struct copier *c;
  struct source s;
  struct addcow *img;
  int fd;

  /* top.add-cow (8 clusters, cluster 7 written) over the fake layer. */
  tu_make_file (in_dir ("base.raw"), 6 * CS, BASE_SEED);
  make_layer ("top.add-cow", 8 * CS, "base.raw", "raw");
  img = tu_open (in_dir ("top.add-cow"), true);
  put (img, TOP_SEED, 7 * CS, CS);
  ck_assert_int_eq (layer_close_chain (img->self.backing), 0);
  img->self.backing = &fake;
  img->backing_size = fake.size;

  memset (want, 0, sizeof want);
  tu_fill (want, 6 * CS, MID_SEED, 0);
  tu_fill (want + 7 * CS, CS, TOP_SEED, 7 * CS);
  ck_assert_int_eq (addcow_pread (img, got, sizeof got, 0), 0);
  ck_assert_mem_eq (got, want, sizeof got);
  /* Data with no place in a file: no offset. */
  ck_assert_int_eq (addcow_block_status (img, CS, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, 3 * CS);
  ck_assert_uint_eq (e.depth, 1);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_PRESENT | ADDCOW_EXTENT_DATA);
  ck_assert_ptr_null (e.filename);

  /* A copy source that must be read through the layer ... */
  ck_assert_int_eq (chain_source (img, CS, 8 * CS, &s), 0);
  ck_assert_int_eq (s.fd, -1);
  ck_assert_ptr_eq (s.layer, &fake);
  ck_assert_uint_eq (s.len, 3 * CS);
  ck_assert (!source_is_zero (&s));
  /* ... is copied through a buffer to the same offset of a file. */
  tu_write_file (in_dir ("out.raw"), "", 0);
  tu_truncate (in_dir ("out.raw"), 8 * CS);
  fd = open (in_dir ("out.raw"), O_RDWR);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (copier_new (&img->io, &c), 0);
  ck_assert_int_eq (copy_source (c, &s, fd, 8 * CS, CS), 0);
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
  close (fd);
  memset (want, 0, sizeof want);
  tu_fill (want + CS, 3 * CS, MID_SEED, CS);
  assert_file (in_dir ("out.raw"), want, 8 * CS);
  /* Past the fake layer's end: zeros owned by it, not present. */
  ck_assert_int_eq (addcow_block_status (img, 6 * CS, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, CS);
  ck_assert_uint_eq (e.depth, 0);
  ck_assert_uint_eq (e.flags, ADDCOW_EXTENT_ZERO);

  img->self.backing = NULL;     /* not the chain's to close */
  ck_assert_int_eq (addcow_close (img), 0);
}
END_TEST

/* ---- ALL_ALLOCATED and a backing name that is the image itself ---------- */

START_TEST (test_all_allocated_backing_is_image)
{
  struct addcow_check_opts co = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  struct addcow *img;
  struct tu_hdr t;

  tu_make_file (in_dir ("disk.raw"), 2 * CS, JUNK_SEED);
  ck_assert_int_eq (symlink ("disk.raw", in_dir ("link.raw")), 0);
  tu_hdr_init (&t, 12, "disk.raw", "link.raw", "raw");
  t.compat = ADDCOW_COMPAT_ALL_ALLOCATED;
  tu_write_addcow (in_dir ("disk.add-cow"), &t, NULL, 1, 0);
  ck_assert_int_eq (addcow_open (in_dir ("disk.add-cow"), NULL, &img),
                    -EINVAL);
  tu_assert_error_has ("disk.add-cow: backing file '",
                       "link.raw' is the image file itself", NULL);
  ck_assert_int_eq (addcow_check (in_dir ("disk.add-cow"), &co, &res), 0);
  ck_assert_uint_eq (res.corruptions, 1);
  /* A backing name leading to the add-cow file itself, likewise. */
  unlink (in_dir ("link.raw"));
  ck_assert_int_eq (symlink ("disk.add-cow", in_dir ("link.raw")), 0);
  ck_assert_int_eq (addcow_open (in_dir ("disk.add-cow"), NULL, &img),
                    -EINVAL);
  tu_assert_error_has ("link.raw' is the add-cow file itself", NULL, NULL);
  /* A missing backing file is fine: it is not used. */
  unlink (in_dir ("link.raw"));
  ck_assert_int_eq (addcow_open (in_dir ("disk.add-cow"), NULL, &img), 0);
  addcow_close (img);
}
END_TEST

/* ---- read-only handles: each thread's last run names its handle ------- */

/* The depth of the run at OFFSET of IMG, and that it runs to END. */
static void
assert_run (struct addcow *img, uint64_t offset, uint64_t end,
            uint32_t depth)
{
  struct addcow_extent e;

  ck_assert_int_eq (addcow_block_status (img, offset, 16 * CS - offset, &e),
                    0);
  ck_assert_uint_eq (e.depth, depth);
  ck_assert_uint_eq (e.start + e.length, end);
}

/* full.add-cow owns clusters [0, 8), empty.add-cow none, both over
 * base.raw: the same cluster asked of each, one after the other, in one
 * thread, and of a handle opened where a closed one was, must give each
 * image's own answer, never the run another handle found. */
START_TEST (test_read_only_runs_per_handle)
{
  struct addcow *full, *empty, *again;
  int i;

  tu_make_file (in_dir ("base.raw"), 16 * CS, BASE_SEED);
  make_layer ("full.add-cow", 16 * CS, "base.raw", "raw");
  make_layer ("empty.add-cow", 16 * CS, "base.raw", "raw");
  ck_assert_int_eq (open_fmt ("full.add-cow", NULL, ADDCOW_OPEN_WRITE,
                              &full), 0);
  put (full, TOP_SEED, 0, 8 * CS);
  ck_assert_int_eq (addcow_close (full), 0);

  ck_assert_int_eq (open_fmt ("full.add-cow", NULL, 0, &full), 0);
  ck_assert_int_eq (open_fmt ("empty.add-cow", NULL, 0, &empty), 0);
  for (i = 0; i < 3; i++) {
    assert_run (full, 2 * CS, 8 * CS, 0);
    assert_run (empty, 3 * CS, 16 * CS, 1);
    assert_run (full, 4 * CS, 8 * CS, 0);
    assert_run (full, 9 * CS, 16 * CS, 1);
    assert_run (empty, 1 * CS, 16 * CS, 1);
  }
  /* The next handle is likely to get the closed one's memory. */
  assert_run (full, 2 * CS, 8 * CS, 0);
  ck_assert_int_eq (addcow_close (full), 0);
  ck_assert_int_eq (open_fmt ("empty.add-cow", NULL, 0, &again), 0);
  assert_run (again, 3 * CS, 16 * CS, 1);
  ck_assert_int_eq (addcow_close (again), 0);
  ck_assert_int_eq (addcow_close (empty), 0);
}
END_TEST

/* NAME: 4 clusters, cluster DATA written, the rest holes. */
static void
holey_file (const char *name, unsigned data)
{
  uint8_t b[CS];

  tu_write_file (in_dir (name), "", 0);
  tu_truncate (in_dir (name), 4 * CS);
  tu_fill (b, CS, BASE_SEED, data * CS);
  tu_pwrite (in_dir (name), b, CS, data * CS);
}

/* The run at OFFSET of raw IMG: LEN bytes of data, or of a hole. */
static void
assert_extent (struct addcow *img, uint64_t offset, uint64_t len, bool data)
{
  struct addcow_extent e;

  ck_assert_int_eq (addcow_block_status (img, offset, UINT64_MAX, &e), 0);
  ck_assert_uint_eq (e.length, len);
  ck_assert_uint_eq (e.flags & (ADDCOW_EXTENT_DATA | ADDCOW_EXTENT_ZERO),
                     data ? ADDCOW_EXTENT_DATA : ADDCOW_EXTENT_ZERO);
}

/* Raw files of different extents asked about in turns in one thread,
 * and one opened where a closed one was (its descriptor, likely its
 * memory): each answer is the file's own, never an extent learnt of
 * another (copy.c keeps them per thread, by the file's id). */
START_TEST (test_extents_per_file)
{
  struct addcow *a, *b, *c;
  int i;

  holey_file ("a.raw", 0);
  holey_file ("b.raw", 2);
  holey_file ("c.raw", 1);
  ck_assert_int_eq (open_fmt ("a.raw", "raw", 0, &a), 0);
  ck_assert_int_eq (open_fmt ("b.raw", "raw", 0, &b), 0);
  for (i = 0; i < 3; i++) {
    assert_extent (a, 0, CS, true);
    assert_extent (b, 0, 2 * CS, false);
    assert_extent (a, CS, 3 * CS, false);
    assert_extent (b, 2 * CS, CS, true);
    assert_extent (b, 3 * CS, CS, false);
  }
  assert_extent (a, 0, CS, true);
  ck_assert_int_eq (addcow_close (a), 0);
  ck_assert_int_eq (open_fmt ("c.raw", "raw", 0, &c), 0);
  assert_extent (c, 0, CS, false);
  assert_extent (c, CS, CS, true);
  ck_assert_int_eq (addcow_close (c), 0);
  ck_assert_int_eq (addcow_close (b), 0);
}
END_TEST

/* Resident file-backed memory of this process, KiB (/proc/self/status). */
static uint64_t
rss_file_kib (void)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  unsigned long long k = 0;

  ck_assert_ptr_nonnull (f);
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "RssFile: %llu kB", &k) == 1)
      break;
  fclose (f);
  return k;
}

/* An empty 8 TiB overlay of 4 KiB clusters (a 256 MiB bitmap, all holes),
 * walked as map does, 1 GiB a request: the answer is one unallocated run,
 * and the mapped bitmap's holes are skipped, not read (it once made all
 * 256 MiB of it resident). */
START_TEST (test_empty_huge_overlay_walk)
{
  uint64_t size = UINT64_C (8) << 40, off, before;
  struct addcow_extent e;
  struct addcow *img;

  tu_write_file (in_dir ("huge.raw"), "", 0);
  tu_truncate (in_dir ("huge.raw"), size);
  tu_create (in_dir ("huge.add-cow"), "huge.img", "huge.raw", "raw", CS,
             size);
  ck_assert_int_eq (open_fmt ("huge.add-cow", NULL, 0, &img), 0);
  before = rss_file_kib ();
  for (off = 0; off < size; off += e.length) {
    ck_assert_int_eq (addcow_block_status (img, off, UINT64_C (1) << 30,
                                           &e), 0);
    ck_assert_uint_eq (e.depth, 1);
    ck_assert_uint_eq (e.flags & ADDCOW_EXTENT_DATA, 0);
  }
  ck_assert_msg (rss_file_kib () - before < 16 * 1024,
                 "%llu KiB of the bitmap resident",
                 (unsigned long long) (rss_file_kib () - before));
  ck_assert_int_eq (addcow_close (img), 0);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("chain");
  TCase *tc = tcase_create ("chain");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_open_raw);
  tcase_add_test (tc, test_open_format_refused);
  tcase_add_test (tc, test_open_flags);
  tcase_add_test (tc, test_layer_info);
  tcase_add_test (tc, test_short_layer_resolve);
  tcase_add_test (tc, test_short_layer_read);
  tcase_add_test (tc, test_layer_not_in_place);
  tcase_add_test (tc, test_all_allocated_backing_is_image);
  tcase_add_test (tc, test_read_only_runs_per_handle);
  tcase_add_test (tc, test_extents_per_file);
  tcase_add_test (tc, test_empty_huge_overlay_walk);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
