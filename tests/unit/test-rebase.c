/*
 * test-rebase.c - addcow_rebase: safe (between raw and add-cow backing
 * files, shorter and longer ones; only clusters that differ are copied),
 * unsafe (-u: the header only, byte-exact), flatten (-b "": the image file
 * alone is the disk, stale bytes included), every refusal (checked before
 * anything is copied), progress and cancellation, and the crash and fault
 * tests (every cut point, every failing write or sync).
 *
 * The fixture: 4 KiB clusters, 37 of them (the last one cut short).  The
 * old backing file A (pattern 1, a hole over clusters 20-25, longer than
 * the image); the new one B equals A in some clusters and differs in
 * others: other data, explicit zeros over data, data over a hole, a hole
 * over data, and it ends at cluster 33.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"
#include "util/le.h"

#define CS 4096u
#define NCL 37u
#define VSIZE ((uint64_t) NCL * CS - 1024)
#define ASIZE (VSIZE + 5 * CS + 123)
#define BSIZE ((uint64_t) 33 * CS)

struct fix {
  char *root, *dir, *snap;
  char *a, *b, *mid, *top, *topraw;
  uint8_t *disk;                /* the disk before the rebase */
  uint64_t size, alloc;
  uint64_t batch;
  const char *new_name;         /* NULL or "": flatten */
  const char *new_fmt;
  bool unsafe;
};

static struct fix F;

static void
setup (void)
{
  memset (&F, 0, sizeof F);
  F.root = tu_mkdtemp ();
  F.snap = tu_join (F.root, "snap");
  F.dir = tu_join (F.root, "w");
  ck_assert (mkdir (F.snap, 0755) == 0 && mkdir (F.dir, 0755) == 0);
  F.a = tu_join (F.dir, "a.raw");
  F.b = tu_join (F.dir, "b.raw");
  F.mid = tu_join (F.dir, "mid.add-cow");
  F.top = tu_join (F.dir, "top.add-cow");
  F.topraw = tu_join (F.dir, "top.raw");
  F.batch = COPY_BATCH_BYTES;
  F.new_name = "b.raw";
  F.new_fmt = "raw";
}

static void
teardown (void)
{
  tu_rmtree (F.root);
  free (F.root); free (F.dir); free (F.snap);
  free (F.a); free (F.b); free (F.mid); free (F.top); free (F.topraw);
  free (F.disk);
}

static void
fill_clusters (const char *path, unsigned seed, unsigned first, unsigned n)
{
  uint8_t *buf = malloc ((size_t) n * CS);

  tu_fill (buf, (size_t) n * CS, seed, (uint64_t) first * CS);
  tu_pwrite (path, buf, (size_t) n * CS, (uint64_t) first * CS);
  free (buf);
}

static void
zero_clusters (const char *path, unsigned first, unsigned n)
{
  uint8_t *buf = calloc (n, CS);

  tu_pwrite (path, buf, (size_t) n * CS, (uint64_t) first * CS);
  free (buf);
}

/* Punch clusters out of a raw file: a real hole. */
static void
hole (const char *path, unsigned first, unsigned n)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);

  ck_assert (fd >= 0);
  ck_assert (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        (off_t) first * CS, (off_t) n * CS) == 0);
  close (fd);
}

static void
make_bases (void)
{
  tu_make_file (F.a, ASIZE, 1);
  hole (F.a, 20, 6);
  hole (F.a, 28, 1);
  tu_make_file (F.b, BSIZE, 1);                 /* equal to A ... */
  hole (F.b, 20, 4);                            /* ... the same hole */
  fill_clusters (F.b, 9, 10, 5);                /* other data */
  zero_clusters (F.b, 16, 1);                   /* zeros over data */
  fill_clusters (F.b, 9, 24, 2);                /* data over a hole */
  hole (F.b, 26, 1);                            /* a hole over data */
  zero_clusters (F.b, 28, 1);                   /* zeros over a hole */
}

static void
dirty_top (const char *path)
{
  lt_write (path, 2, 0, CS);
  lt_write (path, 3, 11 * CS, CS);              /* where B differs */
  lt_write (path, 4, 12 * CS + 300, 77);        /* part of a cluster */
  lt_write (path, 5, VSIZE - 500, 500);
}

static void
remember (void)
{
  free (F.disk);
  F.disk = lt_disk (F.top, &F.size);
  F.alloc = lt_allocated (F.top);
}

/* a.raw <- top.add-cow, b.raw beside them. */
static void
make_chain (void)
{
  make_bases ();
  tu_create (F.top, "top.raw", "a.raw", "raw", CS, VSIZE);
  dirty_top (F.top);
  remember ();
}

static int
rebase (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_rebase_opts o = ADDCOW_REBASE_OPTS_INIT;

  (void) arg;
  o.io = io;
  o.backing_name = F.new_name;
  o.backing_format = F.new_fmt;
  o.unsafe = F.unsafe;
  return rebase_run (path, &o, F.batch);
}

static void
assert_rebase_ok (void)
{
  int r = rebase (F.top, NULL, NULL);

  ck_assert_msg (r == 0, "rebase: %s", addcow_get_error ());
}

static void
assert_disk_unchanged (void)
{
  uint64_t size;
  uint8_t *d = lt_disk (F.top, &size);

  ck_assert_uint_eq (size, F.size);
  lt_assert_same (d, F.disk, size, "the disk");
  free (d);
}

/* What the file PATH (raw) reads at [off, off+len), zeros past its end. */
static void
raw_view (const char *path, uint8_t *buf, uint64_t off, uint64_t len)
{
  size_t n;
  uint8_t *all = tu_read_file (path, &n);

  memset (buf, 0, len);
  if (off < n)
    memcpy (buf, all + off, n - off < len ? n - off : len);
  free (all);
}

/* Clusters not allocated in the top layer where A and B differ. */
static uint64_t
differing_clusters (void)
{
  struct addcow *img = tu_open (F.top, false);
  uint8_t x[CS], y[CS];
  uint64_t c, n = 0, len;

  for (c = 0; c < NCL; c++) {
    uint64_t off = c * CS, l = off + CS > VSIZE ? VSIZE - off : CS;
    if (addcow_is_allocated (img, off, l, &len) == 1)
      continue;
    raw_view (F.a, x, off, l);
    raw_view (F.b, y, off, l);
    n += memcmp (x, y, l) != 0;
  }
  addcow_close (img);
  return n;
}

/* The header: the names where their offsets say (a rewrite in place may
 * move them, spec 7a), every other byte of the name area zero. */
static void
assert_header (const char *backing, const char *fmt, uint64_t compat,
               uint32_t header_size)
{
  size_t len;
  uint8_t *h = tu_read_file (F.top, &len);
  uint32_t blen = backing ? (uint32_t) strlen (backing) : 0;
  uint32_t boff = le32_load (h + 4), ioff = le32_load (h + 12), i;

  ck_assert_uint_eq (le32_load (h + 40), header_size);
  ck_assert (backing ? boff >= 76 : boff == 0);
  ck_assert_uint_eq (le32_load (h + 8), blen);
  ck_assert_uint_ge (ioff, 76);
  ck_assert_uint_eq (le32_load (h + 16), strlen ("top.raw"));
  ck_assert_uint_eq (le64_load (h + 32), compat);
  ck_assert_str_eq ((const char *) h + 44, fmt ? fmt : "");
  if (backing)
    ck_assert (memcmp (h + boff, backing, blen) == 0);
  ck_assert (memcmp (h + ioff, "top.raw", 7) == 0);
  for (i = 76; i < header_size; i++)
    if ((i < boff || i >= boff + blen) && (i < ioff || i >= ioff + 7))
      ck_assert_msg (h[i] == 0, "header byte %u is %#x", i, h[i]);
  ck_assert_uint_eq (len % header_size, 0);
  free (h);
}

/* ---- safe --------------------------------------------------------------- */

START_TEST (test_safe_raw_to_raw)
{
  uint64_t diff;

  make_chain ();
  diff = differing_clusters ();
  ck_assert_uint_ge (diff, 5);
  assert_rebase_ok ();
  assert_disk_unchanged ();
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc + diff);
  assert_header ("b.raw", "raw", 0, 4096);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_safe_same_backing_copies_nothing)
{
  size_t l1, l2;
  uint8_t *before, *after;

  make_chain ();
  before = tu_read_file (F.topraw, &l1);
  F.new_name = "a.raw";
  assert_rebase_ok ();
  after = tu_read_file (F.topraw, &l2);
  ck_assert_uint_eq (l1, l2);
  lt_assert_same (after, before, l1, "the image file");
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  free (before);
  free (after);
}
END_TEST

/* top -> mid -> a: move top onto a, dropping mid from the chain. */
START_TEST (test_safe_drop_middle_layer)
{
  make_bases ();
  tu_create (F.mid, "mid.raw", "a.raw", "raw", 65536, VSIZE);
  lt_write (F.mid, 7, 2 * CS, 9 * CS);
  lt_write (F.mid, 8, 30 * CS + 5, 100);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  F.new_name = "a.raw";
  F.new_fmt = NULL;                     /* probed once: raw */
  assert_rebase_ok ();
  assert_disk_unchanged ();
  assert_header ("a.raw", "raw", 0, 4096);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_safe_onto_addcow)
{
  make_chain ();
  tu_create (F.mid, "mid.raw", "b.raw", "raw", 65536, BSIZE);
  lt_write (F.mid, 1, 0, 12 * CS);      /* A's bytes over part of B */
  F.new_name = "mid.add-cow";
  F.new_fmt = NULL;                     /* probed: add-cow */
  assert_rebase_ok ();
  assert_disk_unchanged ();
  assert_header ("mid.add-cow", "add-cow", 0, 4096);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_header_size_follows_cluster_size)
{
  make_bases ();
  tu_create (F.top, "top.raw", "a.raw", "raw", 65536, VSIZE);
  lt_write (F.top, 2, 70000, 10);
  remember ();
  assert_rebase_ok ();
  assert_disk_unchanged ();
  assert_header ("b.raw", "raw", 0, 65536);
  ck_assert_uint_eq (tu_file_size (F.top), 2 * 65536);
}
END_TEST

/* ---- unsafe --------------------------------------------------------------- */

START_TEST (test_unsafe_header_only)
{
  size_t l1, l2, m1, m2;
  uint8_t *raw_before, *raw_after, *meta_before, *meta_after;

  make_chain ();
  raw_before = tu_read_file (F.topraw, &l1);
  meta_before = tu_read_file (F.top, &m1);
  F.unsafe = true;
  F.new_name = "elsewhere/nosuch.raw";  /* need not exist */
  F.new_fmt = "raw";
  assert_rebase_ok ();
  raw_after = tu_read_file (F.topraw, &l2);
  meta_after = tu_read_file (F.top, &m2);
  ck_assert_uint_eq (l1, l2);
  lt_assert_same (raw_after, raw_before, l1, "the image file");
  ck_assert_uint_eq (m1, m2);
  lt_assert_same (meta_after + 4096, meta_before + 4096, m1 - 4096,
                  "the bitmap");
  assert_header ("elsewhere/nosuch.raw", "raw", 0, 4096);
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  free (raw_before); free (raw_after); free (meta_before); free (meta_after);
}
END_TEST

START_TEST (test_unsafe_keeps_unknown_compat_bits)
{
  uint8_t bits[8] = { 0x04 };

  make_chain ();
  tu_pwrite (F.top, bits, sizeof bits, 32);
  F.unsafe = true;
  assert_rebase_ok ();
  assert_header ("b.raw", "raw", 0x04, 4096);
}
END_TEST

START_TEST (test_unsafe_drop_backing)
{
  make_chain ();
  F.unsafe = true;
  F.new_name = "";
  assert_rebase_ok ();
  assert_header (NULL, NULL, 0, 4096);  /* not all allocated */
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_unsafe_old_backing_missing)
{
  make_chain ();
  ck_assert (unlink (F.a) == 0);
  F.new_name = "b.raw";
  ck_assert_int_eq (rebase (F.top, NULL, NULL), -ENOENT);   /* safe: no */
  tu_assert_error_has ("a.raw", "No such file", NULL);
  F.unsafe = true;
  assert_rebase_ok ();
  assert_header ("b.raw", "raw", 0, 4096);
}
END_TEST

/* ---- flatten ---------------------------------------------------------------- */

static void
assert_flat (void)
{
  struct addcow *img;

  lt_assert_file (F.topraw, F.disk, F.size);
  ck_assert_uint_eq (tu_file_size (F.topraw), F.size);
  assert_header (NULL, NULL, ADDCOW_COMPAT_ALL_ALLOCATED, 4096);
  img = tu_open (F.top, false);
  ck_assert_ptr_null (addcow_get_backing_name (img));
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), NCL);
  addcow_close (img);
  lt_assert_clean (F.top);
}

START_TEST (test_flatten)
{
  make_chain ();
  F.new_name = "";
  assert_rebase_ok ();
  assert_flat ();
  ck_assert (unlink (F.a) == 0 && unlink (F.b) == 0);   /* not needed */
  assert_disk_unchanged ();
  {                                     /* the bitmap on disk is all ones */
    size_t len;
    uint8_t *m = tu_read_file (F.top, &len);
    ck_assert_uint_eq (m[4096], 0xff);
    ck_assert_uint_eq (m[4096 + 4], 0x1f);
    free (m);
  }
}
END_TEST

START_TEST (test_flatten_over_stale_bytes)
{
  make_bases ();
  tu_truncate (F.a, 30 * CS);           /* shorter than the image */
  tu_make_file (F.topraw, VSIZE, 13);   /* junk in every cluster */
  tu_create (F.top, "top.raw", "a.raw", "raw", CS, 0);
  dirty_top (F.top);
  remember ();
  F.new_name = NULL;
  assert_rebase_ok ();
  assert_flat ();                       /* zeros over the junk */
}
END_TEST

START_TEST (test_flatten_three_layers)
{
  make_bases ();
  tu_create (F.mid, "mid.raw", "a.raw", "raw", 8192, VSIZE - 5 * CS);
  lt_write (F.mid, 7, 2 * CS, 9 * CS);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  F.new_name = "";
  assert_rebase_ok ();
  assert_flat ();
}
END_TEST

START_TEST (test_flatten_twice)
{
  size_t l1, l2;
  uint8_t *m1, *m2;

  make_chain ();
  F.new_name = "";
  assert_rebase_ok ();
  m1 = tu_read_file (F.top, &l1);
  assert_rebase_ok ();                  /* nothing left to do */
  m2 = tu_read_file (F.top, &l2);
  ck_assert_uint_eq (l1, l2);
  lt_assert_same (m2, m1, l1, "the add-cow file");
  free (m1);
  free (m2);
}
END_TEST

/* ---- refusals: checked before anything moves ----------------------------- */

struct snapshot {
  uint8_t *meta, *raw;
  size_t ml, rl;
};

static void
snap_take (struct snapshot *s)
{
  s->meta = tu_read_file (F.top, &s->ml);
  s->raw = tu_read_file (F.topraw, &s->rl);
}

static void
snap_same (struct snapshot *s)
{
  lt_assert_file (F.top, s->meta, s->ml);
  ck_assert_uint_eq (tu_file_size (F.top), s->ml);
  lt_assert_file (F.topraw, s->raw, s->rl);
  free (s->meta);
  free (s->raw);
  ck_assert (!lt_dir_has_suffix (F.dir, ".rewrite"));
}

static void
assert_refused (const char *name, const char *fmt, int err, const char *a,
                const char *b)
{
  struct snapshot s;

  snap_take (&s);
  F.new_name = name;
  F.new_fmt = fmt;
  ck_assert_int_eq (rebase (F.top, NULL, NULL), err);
  tu_assert_error_has (a, b, NULL);
  snap_same (&s);
}

START_TEST (test_missing_new_backing)
{
  char *msg, *p = tu_join (F.dir, "nosuch.raw");

  make_chain ();
  ck_assert (asprintf (&msg, "%s: could not open backing file '%s': No such "
                       "file or directory", F.top, p) > 0);
  assert_refused ("nosuch.raw", "raw", -ENOENT, msg, NULL);
  tu_assert_error (msg);
  assert_refused ("nosuch.raw", NULL, -ENOENT, msg, NULL);
  free (msg);
  free (p);
}
END_TEST

/* A new name that opens but does not fit in the header is refused before
 * a single cluster is copied (not after the copy, wasting it). */
START_TEST (test_name_too_long_refused_first)
{
  char name[4100] = "";
  char *msg;
  int i;

  make_chain ();
  for (i = 0; i < 2004; i++)
    strcat (name, "./");
  /* 4014 bytes: more than fits beside "a.raw" and "top.raw", which stay
   * until the new name is in place (4096 - 76 - 5 - 7). */
  strcat (name, "/b.raw");
  ck_assert_uint_eq (strlen (name), 4096 - 76 - 7 + 1);
  ck_assert_msg (strlen (F.dir) + 1 + strlen (name) < PATH_MAX,
                 "scratch directory too deep for this test");
  ck_assert (asprintf (&msg, "%s: the new backing name (4014 bytes) does "
                       "not fit beside the current names in the 4096-byte "
                       "header", F.top) > 0);
  assert_refused (name, "raw", -ENAMETOOLONG, msg, NULL);
  tu_assert_error (msg);
  free (msg);
}
END_TEST

START_TEST (test_refused_backings)
{
  char *dir = tu_join (F.dir, "adir"), *fifo = tu_join (F.dir, "fifo");
  char *loop = tu_join (F.dir, "loop.add-cow");

  make_chain ();
  ck_assert (mkdir (dir, 0755) == 0);
  ck_assert (mkfifo (fifo, 0644) == 0);
  assert_refused ("adir", "raw", -EINVAL, "adir' is a directory", NULL);
  assert_refused ("adir", NULL, -EINVAL, "adir' is a directory", NULL);
  assert_refused ("fifo", "raw", -EINVAL, "fifo' is a FIFO", NULL);
  assert_refused ("fifo", NULL, -EINVAL, "fifo' is a FIFO", NULL);
  assert_refused ("b.raw", "vmdk", -ENOTSUP,
                  "unsupported backing format 'vmdk'", NULL);
  assert_refused ("top.raw", "raw", -EINVAL, "same name 'top.raw'", NULL);
  assert_refused ("./top.raw", "raw", -EINVAL, "is the image itself", NULL);
  tu_create (loop, "loop.raw", "top.add-cow", "add-cow", CS, VSIZE);
  assert_refused ("loop.add-cow", "add-cow", -ELOOP, "loop", NULL);
  free (dir); free (fifo); free (loop);
}
END_TEST

/* ---- progress and cancellation ---------------------------------------- */

struct prog {
  uint64_t last, total;
  int calls, cancel_at;
};

static int
on_progress (void *opaque, uint64_t done, uint64_t total)
{
  struct prog *p = opaque;

  ck_assert_uint_ge (done, p->last);
  ck_assert_uint_le (done, total);
  p->last = done;
  p->total = total;
  return ++p->calls == p->cancel_at;
}

static int
run_with_progress (struct prog *p)
{
  struct addcow_rebase_opts o = ADDCOW_REBASE_OPTS_INIT;

  o.backing_name = F.new_name;
  o.backing_format = F.new_fmt;
  o.progress = on_progress;
  o.progress_opaque = p;
  return rebase_run (F.top, &o, 2 * CS);
}

START_TEST (test_progress)
{
  struct prog p = { 0 };

  make_chain ();
  ck_assert_int_eq (run_with_progress (&p), 0);
  ck_assert_uint_eq (p.total, VSIZE - (F.alloc - 1) * CS - (CS - 1024));
  ck_assert_uint_eq (p.last, p.total);
}
END_TEST

START_TEST (test_cancel_flatten)
{
  struct prog p = { .cancel_at = 3 };   /* after two batches */
  uint64_t now;

  make_chain ();
  F.new_name = "";
  ck_assert_int_eq (run_with_progress (&p), -ECANCELED);
  tu_assert_error_has ("top.add-cow", "cancelled", NULL);
  lt_assert_clean (F.top);
  assert_disk_unchanged ();
  assert_header ("a.raw", "raw", 0, 4096);      /* still on its backing */
  now = lt_allocated (F.top);
  ck_assert_uint_gt (now, F.alloc);             /* the work done is kept */
  ck_assert_uint_lt (now, NCL);
  assert_rebase_ok ();
  assert_flat ();
}
END_TEST

START_TEST (test_cancel_safe)
{
  struct prog p = { .cancel_at = 4 };

  make_chain ();
  ck_assert_int_eq (run_with_progress (&p), -ECANCELED);
  lt_assert_clean (F.top);
  assert_disk_unchanged ();
  assert_header ("a.raw", "raw", 0, 4096);
  assert_rebase_ok ();
  assert_disk_unchanged ();
  assert_header ("b.raw", "raw", 0, 4096);
}
END_TEST

/* ---- crashes and faults ------------------------------------------------- */

static void
verify (const char *dir, void *arg, bool finished)
{
  (void) dir; (void) arg;
  if (finished)
    lt_assert_clean (F.top);
  else                          /* a cut header rewrite may leak (7a) */
    lt_assert_no_corruption (F.top);
  assert_disk_unchanged ();
  if (!finished)
    return;
  if (!F.new_name || !F.new_name[0])
    assert_flat ();
  else
    assert_header (F.new_name, F.new_fmt, 0, 4096);
}

static struct lt_case
crash_case (const char *new_name, bool unsafe)
{
  struct lt_case c = { .dir = F.dir, .snap = F.snap, .path = F.top,
                       .op = rebase, .verify = verify };

  make_chain ();
  lt_copy_dir (F.dir, F.snap);
  F.new_name = new_name;
  F.unsafe = unsafe;
  F.batch = 3 * CS;
  return c;
}

START_TEST (test_crash_safe)
{
  struct lt_case c = crash_case ("b.raw", false);
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "safe rebase: %ld cut points\n", n);
  ck_assert_int_ge (n, 10);
}
END_TEST

START_TEST (test_crash_flatten)
{
  struct lt_case c = crash_case ("", false);
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "flatten: %ld cut points\n", n);
  ck_assert_int_ge (n, 20);
}
END_TEST

START_TEST (test_crash_unsafe)
{
  struct lt_case c = crash_case ("a.raw", true);   /* same disk */
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "unsafe rebase: %ld cut points\n", n);
  ck_assert_int_ge (n, 3);
}
END_TEST

START_TEST (test_enospc_every_write_safe)
{
  struct lt_case c = crash_case ("b.raw", false);

  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 5);
}
END_TEST

START_TEST (test_enospc_every_write_flatten)
{
  struct lt_case c = crash_case ("", false);

  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 5);
}
END_TEST

START_TEST (test_eio_every_write_flatten)
{
  struct lt_case c = crash_case ("", false);

  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 5);
}
END_TEST

START_TEST (test_eio_every_sync_safe)
{
  struct lt_case c = crash_case ("b.raw", false);

  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 3);
}
END_TEST

START_TEST (test_eio_every_sync_flatten)
{
  struct lt_case c = crash_case ("", false);

  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 3);
}
END_TEST

static Suite *
rebase_suite (void)
{
  Suite *s = suite_create ("rebase");
  TCase *t = tcase_create ("rebase");
  TCase *k = tcase_create ("crash");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_add_test (t, test_safe_raw_to_raw);
  tcase_add_test (t, test_safe_same_backing_copies_nothing);
  tcase_add_test (t, test_safe_drop_middle_layer);
  tcase_add_test (t, test_safe_onto_addcow);
  tcase_add_test (t, test_header_size_follows_cluster_size);
  tcase_add_test (t, test_unsafe_header_only);
  tcase_add_test (t, test_unsafe_keeps_unknown_compat_bits);
  tcase_add_test (t, test_unsafe_drop_backing);
  tcase_add_test (t, test_unsafe_old_backing_missing);
  tcase_add_test (t, test_flatten);
  tcase_add_test (t, test_flatten_over_stale_bytes);
  tcase_add_test (t, test_flatten_three_layers);
  tcase_add_test (t, test_flatten_twice);
  tcase_add_test (t, test_missing_new_backing);
  tcase_add_test (t, test_refused_backings);
  tcase_add_test (t, test_name_too_long_refused_first);
  tcase_add_test (t, test_progress);
  tcase_add_test (t, test_cancel_flatten);
  tcase_add_test (t, test_cancel_safe);
  suite_add_tcase (s, t);

  tcase_add_checked_fixture (k, setup, teardown);
  tcase_set_timeout (k, 240);
  tcase_add_test (k, test_crash_safe);
  tcase_add_test (k, test_crash_flatten);
  tcase_add_test (k, test_crash_unsafe);
  tcase_add_test (k, test_enospc_every_write_safe);
  tcase_add_test (k, test_enospc_every_write_flatten);
  tcase_add_test (k, test_eio_every_write_flatten);
  tcase_add_test (k, test_eio_every_sync_safe);
  tcase_add_test (k, test_eio_every_sync_flatten);
  suite_add_tcase (s, k);
  return s;
}

int
main (void)
{
  return tu_run (rebase_suite ());
}
