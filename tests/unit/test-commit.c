/*
 * test-commit.c - addcow_commit: into a raw backing file, into an add-cow
 * one, keeping the data, into a deeper layer, backing files shorter and
 * longer than the image (a shorter add-cow one grows, spec 8), every
 * refusal, progress and cancellation, and the crash and fault tests (every
 * cut point, every failing write or sync).
 *
 * The fixture: 4 KiB clusters, 37 of them (the last one cut short), data
 * written in runs, in parts of clusters (copy-on-write), as zeros over
 * backing data (a hole that must reach the backing file as zeros), over a
 * hole of the backing file and in the last partial cluster.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"

#define CS 4096u
#define NCL 37u
#define VSIZE ((uint64_t) NCL * CS - 1024)

struct fix {
  char *root, *dir, *snap;
  char *base, *mid, *low, *top;
  uint8_t *disk;                /* the top's disk before the commit */
  uint64_t size;
  uint8_t *base_before;         /* base.raw before the commit */
  size_t base_len;
  uint64_t alloc;               /* clusters the top held before */
  uint64_t batch;
  bool keep;
  const char *commit_base;
  bool mid_grows;               /* an interrupted grow may leave leaks */
};

static struct fix F;

static void
fix_paths (const char *dir)
{
  F.base = tu_join (dir, "base.raw");
  F.mid = tu_join (dir, "mid.add-cow");
  F.low = tu_join (dir, "low.add-cow");
  F.top = tu_join (dir, "top.add-cow");
}

static void
setup (void)
{
  memset (&F, 0, sizeof F);
  F.root = tu_mkdtemp ();
  chmod (F.root, 0755);
  F.snap = tu_join (F.root, "snap");
  F.dir = tu_join (F.root, "w");
  ck_assert (mkdir (F.snap, 0755) == 0 && mkdir (F.dir, 0755) == 0);
  F.batch = COPY_BATCH_BYTES;
  fix_paths (F.dir);
}

static void
teardown (void)
{
  tu_rmtree (F.root);
  free (F.root); free (F.dir); free (F.snap);
  free (F.base); free (F.mid); free (F.low); free (F.top);
  free (F.disk); free (F.base_before);
}

/* base.raw: pattern 1, with a hole over clusters 20-25. */
static void
make_base (uint64_t size)
{
  uint8_t zeros[6 * CS] = { 0 };

  tu_make_file (F.base, size, 1);
  if (size >= 26 * CS)
    tu_pwrite (F.base, zeros, sizeof zeros, 20 * CS);
  tu_truncate (F.base, size);
}

/* The writes every fixture's top layer gets. */
static void
dirty_top (const char *path)
{
  struct addcow *img;

  lt_write (path, 2, 0, CS);                    /* one cluster */
  lt_write (path, 3, 3 * CS, 4 * CS);           /* a run */
  lt_write (path, 4, 10 * CS + 100, 50);        /* part of a cluster */
  lt_write (path, 5, 21 * CS, 2 * CS);          /* over a backing hole */
  lt_write (path, 6, VSIZE - 700, 700);         /* the last, short one */
  img = tu_open (path, true);                   /* zeros over data */
  ck_assert_int_eq (addcow_pwrite_zeroes (img, CS, 30 * CS), 0);
  ck_assert_int_eq (addcow_close (img), 0);
}

static void
remember (void)
{
  free (F.disk);
  free (F.base_before);
  F.disk = lt_disk (F.top, &F.size);
  F.base_before = tu_read_file (F.base, &F.base_len);
  F.alloc = lt_allocated (F.top);
}

/* base.raw <- top.add-cow */
static void
make_raw_chain (uint64_t base_size)
{
  make_base (base_size);
  tu_create (F.top, "top.raw", "base.raw", "raw", CS, VSIZE);
  dirty_top (F.top);
  remember ();
}

/* base.raw <- mid.add-cow (64 KiB clusters, some data) <- top.add-cow */
static void
make_addcow_chain (uint32_t mid_cs)
{
  make_base (VSIZE);
  tu_create (F.mid, "mid.raw", "base.raw", "raw", mid_cs, VSIZE);
  lt_write (F.mid, 7, 2 * CS, 3 * CS);
  lt_write (F.mid, 8, 12 * CS, 20 * CS);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
}

static int
commit (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_commit_opts o = ADDCOW_COMMIT_OPTS_INIT;

  (void) arg;
  o.io = io;
  o.keep = F.keep;
  o.base = F.commit_base;
  return commit_run (path, &o, F.batch);
}

static void
assert_commit_ok (void)
{
  int r = commit (F.top, NULL, NULL);

  ck_assert_msg (r == 0, "commit: %s", addcow_get_error ());
}

static void
assert_disk_unchanged (const char *path)
{
  uint64_t size;
  uint8_t *d = lt_disk (path, &size);

  ck_assert_uint_eq (size, F.size);
  lt_assert_same (d, F.disk, size, "the disk");
  free (d);
}

static uint64_t
blocks (const char *path)
{
  struct stat st;

  ck_assert (stat (path, &st) == 0);
  return (uint64_t) st.st_blocks;
}

/* ---- into a raw backing file ------------------------------------------- */

START_TEST (test_into_raw)
{
  char *topraw = tu_join (F.dir, "top.raw");

  make_raw_chain (VSIZE);
  ck_assert_uint_eq (F.alloc, 1 + 4 + 1 + 2 + 1 + 1);
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, VSIZE);
  ck_assert_uint_eq (tu_file_size (F.base), VSIZE);
  ck_assert_uint_eq (lt_allocated (F.top), 0);
  ck_assert_uint_eq (blocks (topraw), 0);      /* freed clusters punched */
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  free (topraw);
}
END_TEST

START_TEST (test_keep)
{
  char *topraw = tu_join (F.dir, "top.raw");
  size_t len;
  uint8_t *raw_before;

  make_raw_chain (VSIZE);
  raw_before = tu_read_file (topraw, &len);
  F.keep = true;
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, VSIZE);
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  lt_assert_file (topraw, raw_before, len);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  free (raw_before);
  free (topraw);
}
END_TEST

START_TEST (test_backing_shorter)
{
  make_raw_chain (17 * CS + 512);
  assert_commit_ok ();
  ck_assert_uint_eq (tu_file_size (F.base), VSIZE);    /* grown */
  lt_assert_file (F.base, F.disk, VSIZE);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_backing_longer)
{
  uint64_t bsize = VSIZE + 10 * CS + 123;

  make_raw_chain (bsize);
  assert_commit_ok ();
  ck_assert_uint_eq (tu_file_size (F.base), bsize);    /* not cut */
  lt_assert_file (F.base, F.disk, VSIZE);
  {
    size_t len;
    uint8_t *b = tu_read_file (F.base, &len);
    lt_assert_same (b + VSIZE, F.base_before + VSIZE, bsize - VSIZE,
                    "the backing file past the image");
    free (b);
  }
  assert_disk_unchanged (F.top);
}
END_TEST

/* The punches commit makes, recorded and then made. */
struct punches {
  unsigned n;
  off_t offset[8], length[8];
};

static int
record_punch (void *opaque, int fd, off_t offset, off_t length)
{
  struct punches *p = opaque;

  if (p->n < 8) {
    p->offset[p->n] = offset;
    p->length[p->n] = length;
  }
  p->n++;
  return fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                    length);
}

/* The cleared ranges are held back and punched every 16 batches and at
 * the end: 19 one-cluster runs in batches of one cluster make two
 * punches, which together cover the whole image file. */
START_TEST (test_punches_held)
{
  struct punches p = { 0 };
  struct addcow_io io = { .version = ADDCOW_IO_VERSION, .opaque = &p,
                          .punch_hole = record_punch };
  char *topraw = tu_join (F.dir, "top.raw");
  uint64_t i;

  make_base (VSIZE);
  tu_create (F.top, "top.raw", "base.raw", "raw", CS, VSIZE);
  for (i = 0; i < NCL; i += 2)
    lt_write (F.top, 9, i * CS, i + 1 < NCL ? CS : VSIZE - i * CS);
  remember ();
  ck_assert_uint_eq (F.alloc, 19);
  F.batch = CS;
  ck_assert_int_eq (commit (F.top, &io, NULL), 0);
  ck_assert_uint_eq (p.n, 2);
  ck_assert_int_eq (p.offset[0], 0);                  /* 16 batches */
  ck_assert_int_eq (p.length[0], 31 * CS);
  ck_assert_int_eq (p.offset[1], 31 * CS);            /* the rest */
  ck_assert_int_eq (p.length[1], (NCL - 31) * CS);
  ck_assert_uint_eq (blocks (topraw), 0);
  lt_assert_file (F.base, F.disk, VSIZE);
  ck_assert_uint_eq (lt_allocated (F.top), 0);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  free (topraw);
}
END_TEST

/* Data in the image file behind clear bits - what a commit that crashed
 * after clearing them and before punching leaves - is freed by the next
 * commit, even one with nothing left to copy. */
START_TEST (test_frees_what_a_crash_left)
{
  char *topraw = tu_join (F.dir, "top.raw");
  uint8_t junk[2 * CS];

  make_base (VSIZE);
  tu_create (F.top, "top.raw", "base.raw", "raw", CS, VSIZE);
  tu_fill (junk, sizeof junk, 12, 0);
  tu_pwrite (topraw, junk, sizeof junk, 5 * CS);
  tu_pwrite (topraw, junk, 700, VSIZE - 700);
  remember ();
  ck_assert_uint_eq (F.alloc, 0);
  ck_assert_uint_gt (blocks (topraw), 0);
  assert_commit_ok ();
  ck_assert_uint_eq (blocks (topraw), 0);
  lt_assert_file (F.base, F.base_before, VSIZE);       /* nothing copied */
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  free (topraw);
}
END_TEST

/* ---- into an add-cow backing file -------------------------------------- */

/* More runs than commit finds ahead of the copy at once (its ring of
 * 1,024): runs of two clusters with a gap of one, small batches, so that
 * the ring wraps and batches end (and punch) between runs found early. */
START_TEST (test_many_runs)
{
  enum { N = 3300 };
  struct addcow *img;
  uint8_t buf[2 * CS];
  uint64_t i;

  make_base ((uint64_t) N * CS);
  tu_create (F.top, "top.raw", "base.raw", "raw", CS, (uint64_t) N * CS);
  img = tu_open (F.top, true);
  for (i = 0; i + 2 <= N; i += 3) {
    tu_fill (buf, sizeof buf, 9, i * CS);
    ck_assert_int_eq (addcow_pwrite (img, buf, sizeof buf, i * CS), 0);
  }
  ck_assert_int_eq (addcow_close (img), 0);
  remember ();
  ck_assert_uint_eq (F.alloc, 2 * (N / 3));
  F.batch = 64 * CS;
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, (uint64_t) N * CS);
  ck_assert_uint_eq (lt_allocated (F.top), 0);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
}
END_TEST

START_TEST (test_into_addcow)
{
  uint64_t size;
  uint8_t *mid_disk;

  make_addcow_chain (65536);
  assert_commit_ok ();
  mid_disk = lt_disk (F.mid, &size);
  ck_assert_uint_eq (size, VSIZE);
  lt_assert_same (mid_disk, F.disk, VSIZE, "mid's disk");
  lt_assert_file (F.base, F.base_before, F.base_len);  /* untouched */
  ck_assert_uint_eq (tu_file_size (F.base), F.base_len);
  ck_assert_uint_eq (lt_allocated (F.top), 0);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  lt_assert_clean (F.mid);
  free (mid_disk);
}
END_TEST

/* An add-cow backing file shorter than the image grows first (spec 8):
 * its new area must read zeros, as the image saw past its end, although
 * base.raw below it has data there; its old last cluster, cut short, must
 * not show base.raw's bytes past its old end either. */
START_TEST (test_addcow_backing_shorter_grows)
{
  uint64_t size;
  uint8_t *mid_disk;
  struct addcow *img;

  make_base (VSIZE);
  tu_create (F.mid, "mid.raw", "base.raw", "raw", CS, 20 * CS - 1000);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  assert_commit_ok ();
  mid_disk = lt_disk (F.mid, &size);
  ck_assert_uint_eq (size, VSIZE);
  lt_assert_same (mid_disk, F.disk, VSIZE, "mid's disk");
  ck_assert_uint_eq (tu_file_size (F.base), F.base_len);
  lt_assert_file (F.base, F.base_before, F.base_len);  /* untouched */
  ck_assert_uint_eq (lt_allocated (F.top), 0);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  lt_assert_clean (F.mid);
  img = tu_open (F.mid, false);
  ck_assert_uint_eq (addcow_get_cluster_count (img), NCL);
  addcow_close (img);
  free (mid_disk);
}
END_TEST

START_TEST (test_addcow_backing_small_no_data_past_it)
{
  uint64_t size;
  uint8_t *mid_disk;

  make_base (VSIZE);
  tu_create (F.mid, "mid.raw", "base.raw", "raw", CS, 33 * CS);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, 33 * CS + 512);
  lt_write (F.top, 2, 5 * CS, 6 * CS);
  remember ();
  assert_commit_ok ();
  mid_disk = lt_disk (F.mid, &size);
  ck_assert_uint_eq (size, F.size);
  lt_assert_same (mid_disk, F.disk, size, "mid's disk");
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  lt_assert_clean (F.mid);
  free (mid_disk);
}
END_TEST

/* The same with an ALL_ALLOCATED add-cow base (made without a backing
 * file): its image file's zeros fill the new area. */
START_TEST (test_addcow_all_allocated_base_grows)
{
  uint64_t size;
  uint8_t *mid_disk;

  make_base (17 * CS + 5);
  tu_create (F.mid, "base.raw", NULL, NULL, CS, 0);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  assert_commit_ok ();
  mid_disk = lt_disk (F.mid, &size);
  ck_assert_uint_eq (size, VSIZE);
  lt_assert_same (mid_disk, F.disk, VSIZE, "mid's disk");
  ck_assert_uint_eq (tu_file_size (F.base), VSIZE);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  lt_assert_clean (F.mid);
  free (mid_disk);
}
END_TEST

/* ---- into a deeper layer (-b) ---------------------------------------------- */

START_TEST (test_base_across_three_layers)
{
  char *topraw = tu_join (F.dir, "top.raw");
  char *midraw = tu_join (F.dir, "mid.raw");
  size_t tl, ml;
  uint8_t *top_before, *mid_before;

  make_addcow_chain (8192);
  top_before = tu_read_file (topraw, &tl);
  mid_before = tu_read_file (midraw, &ml);
  F.commit_base = "base.raw";                   /* as stored in mid */
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, VSIZE);
  /* -b implies -d: no layer above the base was emptied */
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  ck_assert_uint_gt (lt_allocated (F.mid), 0);
  lt_assert_file (topraw, top_before, tl);
  lt_assert_file (midraw, mid_before, ml);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.top);
  lt_assert_clean (F.mid);
  free (top_before); free (mid_before); free (topraw); free (midraw);
}
END_TEST

START_TEST (test_base_by_path)
{
  make_addcow_chain (65536);
  F.commit_base = F.base;                       /* resolved path */
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, VSIZE);
  assert_disk_unchanged (F.top);
}
END_TEST

START_TEST (test_base_addcow_two_down)
{
  uint64_t size;
  uint8_t *low_disk;

  make_base (VSIZE);
  tu_create (F.low, "low.raw", "base.raw", "raw", 65536, VSIZE);
  lt_write (F.low, 9, 0, 2 * CS);
  tu_create (F.mid, "mid.raw", "low.add-cow", "add-cow", 8192, VSIZE);
  lt_write (F.mid, 7, 8 * CS, 6 * CS);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  F.commit_base = "low.add-cow";
  assert_commit_ok ();
  low_disk = lt_disk (F.low, &size);
  lt_assert_same (low_disk, F.disk, VSIZE, "low's disk");
  lt_assert_file (F.base, F.base_before, F.base_len);
  assert_disk_unchanged (F.top);
  lt_assert_clean (F.low);
  free (low_disk);
}
END_TEST

START_TEST (test_base_not_in_chain)
{
  make_raw_chain (VSIZE);
  F.commit_base = "other.raw";
  ck_assert_int_eq (commit (F.top, NULL, NULL), -EINVAL);
  tu_assert_error_has ("top.add-cow", "'other.raw' is not in the backing "
                       "chain", NULL);
  F.commit_base = F.top;                        /* the image itself */
  ck_assert_int_eq (commit (F.top, NULL, NULL), -EINVAL);
  lt_assert_file (F.base, F.base_before, F.base_len);
}
END_TEST

/* ---- refusals -------------------------------------------------------------- */

START_TEST (test_no_backing)
{
  char *msg;

  tu_create (F.top, "top.raw", NULL, NULL, CS, VSIZE);
  ck_assert_int_eq (commit (F.top, NULL, NULL), -EINVAL);
  ck_assert (asprintf (&msg, "%s: Image does not have a backing file",
                       F.top) > 0);
  tu_assert_error (msg);
  free (msg);
}
END_TEST

static void
commit_as_nobody (void)
{
  int r;

  if (geteuid () == 0 && (setgid (65534) < 0 || setuid (65534) < 0))
    _exit (2);
  r = commit (F.top, NULL, NULL);
  if (r != -EACCES || !strstr (addcow_get_error (), "base.raw")
      || !strstr (addcow_get_error (), "Permission denied")) {
    fprintf (stderr, "commit as nobody: %d %s\n", r, addcow_get_error ());
    _exit (1);
  }
  _exit (0);
}

START_TEST (test_read_only_backing)
{
  char *topraw = tu_join (F.dir, "top.raw");
  pid_t pid;
  int status;

  make_raw_chain (VSIZE);
  /* The top layer is writable by anyone, the backing file by nobody (as
   * root, the check runs as user nobody: root ignores file modes). */
  ck_assert (chmod (F.top, 0666) == 0 && chmod (topraw, 0666) == 0);
  ck_assert (chmod (F.base, 0444) == 0);
  pid = fork ();
  ck_assert (pid >= 0);
  if (pid == 0)
    commit_as_nobody ();
  ck_assert (waitpid (pid, &status, 0) == pid);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                 "status %d", status);
  lt_assert_file (F.base, F.base_before, F.base_len);
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  free (topraw);
}
END_TEST

/* Another overlay reading base.raw shares it with writers, as qemu does;
 * a process that does not share write (qemu's byte 201, e.g. a VM's
 * read-only disk) stops the commit before anything is written. */
START_TEST (test_backing_locked)
{
  char *other = tu_join (F.dir, "other.add-cow");
  struct addcow *holder;
  struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
                      .l_start = 201, .l_len = 1 };
  int fd;

  make_raw_chain (VSIZE);
  tu_create (other, "other.raw", "base.raw", "raw", CS, VSIZE);
  fd = open (F.base, O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (fcntl (fd, F_OFD_SETLK, &fl), 0);
  ck_assert_int_eq (commit (F.top, NULL, NULL), -EBUSY);
  tu_assert_error_has ("Failed to get \"write\" lock", "base.raw]?", NULL);
  close (fd);
  lt_assert_file (F.base, F.base_before, F.base_len);
  ck_assert_uint_eq (lt_allocated (F.top), F.alloc);
  holder = tu_open (other, false);      /* reads base.raw: shared */
  assert_commit_ok ();                  /* and once it is free, it works */
  addcow_close (holder);
  free (other);
}
END_TEST

START_TEST (test_unsupported_backing_format)
{
  struct tu_hdr h;
  uint8_t bitmap[5] = { 0xff };

  make_base (VSIZE);
  char *topraw = tu_join (F.dir, "top.raw");

  tu_make_file (topraw, VSIZE, 0);
  free (topraw);
  tu_hdr_init (&h, 12, "top.raw", "base.raw", "vmdk");
  tu_write_addcow (F.top, &h, bitmap, sizeof bitmap, 0);
  ck_assert_int_eq (commit (F.top, NULL, NULL), -ENOTSUP);
  tu_assert_error_has ("unsupported backing format 'vmdk'", NULL, NULL);
}
END_TEST

/* ---- progress and cancellation ---------------------------------------- */

struct prog {
  uint64_t last, total;
  int calls;
  int cancel_at;                /* cancel on this call (0: never) */
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

START_TEST (test_progress)
{
  struct addcow_commit_opts o = ADDCOW_COMMIT_OPTS_INIT;
  struct prog p = { 0 };

  make_raw_chain (VSIZE);
  o.progress = on_progress;
  o.progress_opaque = &p;
  ck_assert_int_eq (addcow_commit (F.top, &o), 0);
  ck_assert_uint_eq (p.total, 10 * CS - 1024);  /* the bytes held */
  ck_assert_uint_eq (p.last, p.total);
  ck_assert_int_ge (p.calls, 2);
}
END_TEST

START_TEST (test_cancel)
{
  struct addcow_commit_opts o = ADDCOW_COMMIT_OPTS_INIT;
  struct prog p = { .cancel_at = 3 };
  uint64_t left;

  make_raw_chain (VSIZE);
  o.progress = on_progress;
  o.progress_opaque = &p;
  ck_assert_int_eq (commit_run (F.top, &o, CS), -ECANCELED);
  tu_assert_error_has ("top.add-cow", "cancelled", NULL);
  lt_assert_clean (F.top);
  assert_disk_unchanged (F.top);
  left = lt_allocated (F.top);
  ck_assert_uint_lt (left, F.alloc);         /* the batches done were kept */
  ck_assert_uint_gt (left, 0);
  assert_commit_ok ();
  lt_assert_file (F.base, F.disk, VSIZE);
  ck_assert_uint_eq (lt_allocated (F.top), 0);
}
END_TEST

/* ---- crashes and faults ------------------------------------------------ */

/* No corruption in PATH; leaks only if an interrupted grow of it may have
 * left them (they are cleared when it grows again). */
static void
assert_no_corruption (const char *path, bool leaks_allowed)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  int r;

  if (!leaks_allowed) {
    lt_assert_clean (path);
    return;
  }
  r = addcow_check (path, &o, &res);
  ck_assert_msg (r == 0, "check %s: %s", path, addcow_get_error ());
  ck_assert_uint_eq (res.corruptions, 0);
}

/* After an interruption: the disk is as it was and, where the top layer
 * no longer holds a cluster, the layer below has its data. */
static void
verify (const char *dir, void *arg, bool finished)
{
  bool into_addcow = arg != NULL;
  uint64_t size;
  uint8_t *below;

  (void) dir;
  lt_assert_clean (F.top);
  assert_disk_unchanged (F.top);
  if (into_addcow)
    assert_no_corruption (F.mid, F.mid_grows && !finished);
  if (!finished)
    return;
  if (into_addcow)
    below = lt_disk (F.mid, &size);
  else {
    size_t len;
    below = tu_read_file (F.base, &len);
    size = len;
  }
  ck_assert_uint_ge (size, VSIZE);
  lt_assert_same (below, F.disk, VSIZE, "the backing file");
  free (below);
  ck_assert_uint_eq (lt_allocated (F.top), F.keep ? F.alloc : 0);
  if (into_addcow)
    lt_assert_file (F.base, F.base_before, F.base_len);
}

static struct lt_case
crash_case (bool into_addcow)
{
  struct lt_case c = { .dir = F.dir, .snap = F.snap, .path = F.top,
                       .op = commit, .verify = verify,
                       .arg = into_addcow ? &F : NULL };

  if (into_addcow)
    make_addcow_chain (8192);
  else
    make_raw_chain (20 * CS);          /* shorter: it grows, too */
  lt_copy_dir (F.dir, F.snap);
  F.batch = 3 * CS;                     /* several batches */
  return c;
}

/* base.raw <- mid.add-cow (shorter: it grows) <- top.add-cow */
static struct lt_case
grow_case (void)
{
  struct lt_case c = { .dir = F.dir, .snap = F.snap, .path = F.top,
                       .op = commit, .verify = verify, .arg = &F };

  make_base (VSIZE);
  tu_create (F.mid, "mid.raw", "base.raw", "raw", CS, 20 * CS - 1000);
  lt_write (F.mid, 7, 2 * CS, 3 * CS);
  tu_create (F.top, "top.raw", "mid.add-cow", "add-cow", CS, VSIZE);
  dirty_top (F.top);
  remember ();
  lt_copy_dir (F.dir, F.snap);
  F.batch = 3 * CS;
  F.mid_grows = true;
  return c;
}

START_TEST (test_crash_into_raw)
{
  struct lt_case c = crash_case (false);
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "commit into raw: %ld cut points\n", n);
  ck_assert_int_ge (n, 15);
}
END_TEST

START_TEST (test_crash_into_addcow)
{
  struct lt_case c = crash_case (true);
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "commit into add-cow: %ld cut points\n", n);
  ck_assert_int_ge (n, 20);
}
END_TEST

START_TEST (test_crash_into_growing_addcow)
{
  struct lt_case c = grow_case ();
  long n = lt_crash_every_op (&c);

  fprintf (stderr, "commit into a growing add-cow: %ld cut points\n", n);
  ck_assert_int_ge (n, 25);
}
END_TEST

START_TEST (test_faults_into_growing_addcow)
{
  struct lt_case c = grow_case ();

  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 5);
  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 5);
  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 3);
}
END_TEST

START_TEST (test_crash_keep)
{
  struct lt_case c;

  F.keep = true;
  c = crash_case (false);
  ck_assert_int_ge (lt_crash_every_op (&c), 5);
}
END_TEST

START_TEST (test_enospc_every_write)
{
  struct lt_case c = crash_case (false);

  ck_assert_int_gt (lt_fail_every_write (&c, ENOSPC, false), 5);
}
END_TEST

START_TEST (test_eio_every_write)
{
  struct lt_case c = crash_case (true);

  ck_assert_int_gt (lt_fail_every_write (&c, EIO, true), 5);
}
END_TEST

START_TEST (test_eio_every_sync)
{
  struct lt_case c = crash_case (false);

  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 3);
}
END_TEST

START_TEST (test_eio_every_sync_into_addcow)
{
  struct lt_case c = crash_case (true);

  ck_assert_int_gt (lt_fail_every_sync (&c, EIO), 3);
}
END_TEST

static Suite *
commit_suite (void)
{
  Suite *s = suite_create ("commit");
  TCase *t = tcase_create ("commit");
  TCase *k = tcase_create ("crash");

  tcase_add_checked_fixture (t, setup, teardown);
  tcase_add_test (t, test_into_raw);
  tcase_add_test (t, test_keep);
  tcase_add_test (t, test_many_runs);
  tcase_add_test (t, test_punches_held);
  tcase_add_test (t, test_frees_what_a_crash_left);
  tcase_add_test (t, test_backing_shorter);
  tcase_add_test (t, test_backing_longer);
  tcase_add_test (t, test_into_addcow);
  tcase_add_test (t, test_addcow_backing_shorter_grows);
  tcase_add_test (t, test_addcow_backing_small_no_data_past_it);
  tcase_add_test (t, test_addcow_all_allocated_base_grows);
  tcase_add_test (t, test_base_across_three_layers);
  tcase_add_test (t, test_base_by_path);
  tcase_add_test (t, test_base_addcow_two_down);
  tcase_add_test (t, test_base_not_in_chain);
  tcase_add_test (t, test_no_backing);
  tcase_add_test (t, test_read_only_backing);
  tcase_add_test (t, test_backing_locked);
  tcase_add_test (t, test_unsupported_backing_format);
  tcase_add_test (t, test_progress);
  tcase_add_test (t, test_cancel);
  suite_add_tcase (s, t);

  tcase_add_checked_fixture (k, setup, teardown);
  tcase_set_timeout (k, 240);
  tcase_add_test (k, test_crash_into_raw);
  tcase_add_test (k, test_crash_into_addcow);
  tcase_add_test (k, test_crash_into_growing_addcow);
  tcase_add_test (k, test_faults_into_growing_addcow);
  tcase_add_test (k, test_crash_keep);
  tcase_add_test (k, test_enospc_every_write);
  tcase_add_test (k, test_eio_every_write);
  tcase_add_test (k, test_eio_every_sync);
  tcase_add_test (k, test_eio_every_sync_into_addcow);
  suite_add_tcase (s, k);
  return s;
}

int
main (void)
{
  return tu_run (commit_suite ());
}
