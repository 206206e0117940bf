/*
 * test-crash.c - crash consistency (spec section 7), SQLite style.
 *
 * An injected struct addcow_io models a write-back cache: writes are kept
 * per file descriptor and reach the real file only at fdatasync/fsync;
 * reads see them.  A "crash" after operation N (writes, syncs, truncates
 * are operations) makes every later call fail with EIO and either DROPS
 * the writes that were never synced (power loss) or KEEPS them (the
 * process was cut off but the kernel wrote everything back).
 *
 * A fixed sequence of writes, zero writes and flushes runs once per N,
 * from 0 to the total number of operations.  After each crash the files
 * are reopened with plain I/O and every cluster must show one of the
 * contents the model allows for it (its contents at the last completed
 * flush, or a later one up to the step that crashed; with DROP a crash
 * between flushes must show exactly the last flush), and addcow_check
 * must find nothing wrong.
 *
 * The second part runs create and the in-place header rewrite (rebase -u,
 * flatten) through the cache model of layers-io.c, which also tears
 * writes larger than a 512-byte sector at a power cut and undoes renames
 * that no directory sync made durable: after every cut point the image is
 * the old one, the new one, or (create --force) none, never a broken one;
 * a cut rewrite leaves at most leaks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "layers-io.h"
#include "testutil.h"

#define CS 4096u
#define BASE_SIZE (12 * CS + 100)       /* cluster 12 straddles its end */
#define SIZE (16 * CS + 1000)           /* a partial last cluster */
#define NCLUSTERS 17
#define JUNK_SEED 99

/* ---- the write-back cache ---------------------------------------------- */

struct pending {
  int fd;
  uint64_t off;
  size_t len;
  uint8_t *data;
};

static struct {
  long ops;                     /* operations so far */
  long crash_after;             /* LONG_MAX: never */
  bool keep;                    /* at the crash, keep unsynced writes */
  bool crashed;
  long fail_sync;               /* this op is a sync that fails once and
                                 * loses the fd's writes (Linux) */
  struct pending *p;
  size_t np, cap;
} cache;

static void
apply_fd (int fd, bool write_them)
{
  size_t i, j = 0;

  for (i = 0; i < cache.np; i++) {
    struct pending *w = &cache.p[i];
    if (fd >= 0 && w->fd != fd) {
      cache.p[j++] = *w;
      continue;
    }
    if (write_them)
      ck_assert (pwrite (w->fd, w->data, w->len, (off_t) w->off)
                 == (ssize_t) w->len);
    free (w->data);
  }
  cache.np = j;
}

/* Count an operation; true when it must fail (the crash has happened). */
static bool
crash_point (void)
{
  cache.ops++;
  if (!cache.crashed && cache.ops > cache.crash_after) {
    cache.crashed = true;
    apply_fd (-1, cache.keep);
  }
  if (cache.crashed)
    errno = EIO;
  return cache.crashed;
}

static ssize_t
c_pread (void *o, int fd, void *buf, size_t count, off_t off)
{
  uint8_t *b = buf;
  size_t got = 0, i;
  ssize_t r;

  (void) o;
  if (cache.crashed) {
    errno = EIO;
    return -1;
  }
  while (got < count) {
    r = pread (fd, b + got, count - got, off + (off_t) got);
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += (size_t) r;
  }
  memset (b + got, 0, count - got);
  for (i = 0; i < cache.np; i++) {      /* in order: later writes win */
    const struct pending *w = &cache.p[i];
    uint64_t s = (uint64_t) off, e = s + count;
    uint64_t ws = w->off, we = w->off + w->len;
    uint64_t lo = s > ws ? s : ws, hi = e < we ? e : we;
    if (w->fd != fd || lo >= hi)
      continue;
    memcpy (b + (lo - s), w->data + (lo - ws), hi - lo);
    if (hi - s > got)
      got = (size_t) (hi - s);
  }
  return (ssize_t) got;
}

static ssize_t
c_pwrite (void *o, int fd, const void *buf, size_t count, off_t off)
{
  struct pending *w;

  (void) o;
  if (crash_point ())
    return -1;
  if (cache.np == cache.cap) {
    cache.cap = cache.cap ? 2 * cache.cap : 64;
    cache.p = realloc (cache.p, cache.cap * sizeof *cache.p);
    ck_assert_ptr_nonnull (cache.p);
  }
  w = &cache.p[cache.np++];
  w->fd = fd;
  w->off = (uint64_t) off;
  w->len = count;
  w->data = malloc (count ? count : 1);
  memcpy (w->data, buf, count);
  return (ssize_t) count;
}

static int
c_sync (void *o, int fd)
{
  (void) o;
  if (crash_point ())
    return -1;
  if (cache.ops == cache.fail_sync) {   /* EIO, and the pages are gone */
    apply_fd (fd, false);
    errno = EIO;
    return -1;
  }
  apply_fd (fd, true);
  return 0;
}

static int
c_ftruncate (void *o, int fd, off_t len)
{
  (void) o;
  if (crash_point ())
    return -1;
  apply_fd (fd, true);
  return ftruncate (fd, len);
}

static const struct addcow_io cache_io = {
  .version = ADDCOW_IO_VERSION, .pread = c_pread, .pwrite = c_pwrite,
  .fdatasync = c_sync, .fsync = c_sync, .ftruncate = c_ftruncate,
};

static void
cache_reset (long crash_after, bool keep, long fail_sync)
{
  apply_fd (-1, false);
  free (cache.p);
  memset (&cache, 0, sizeof cache);
  cache.crash_after = crash_after;
  cache.keep = keep;
  cache.fail_sync = fail_sync;
}

/* ---- the sequence ------------------------------------------------------ */

enum step_kind { WRITE, ZERO, FLUSH, CLOSE };

static const struct step {
  enum step_kind kind;
  uint64_t off;
  uint32_t len;
  unsigned seed;
} steps[] = {
  { WRITE, 1 * CS + 100, 200, 2 },          /* new cluster, partial */
  { WRITE, 3 * CS, CS, 3 },                 /* new cluster, whole */
  { WRITE, 0 * CS + 500, 1000, 4 },         /* overwrite, allocated */
  { WRITE, 4 * CS + 4000, 2 * CS + 200, 5 },/* spans 4..6, partial ends */
  { FLUSH, 0, 0, 0 },
  { WRITE, 1 * CS + 3000, 500, 6 },         /* now allocated */
  { ZERO, 8 * CS + 10, 100, 0 },            /* unallocated over backing */
  { WRITE, 13 * CS + 5, 10, 7 },            /* past the backing end */
  { WRITE, 12 * CS + 50, 100, 8 },          /* straddles the backing end */
  { WRITE, 16 * CS + 990, 10, 9 },          /* the last partial cluster */
  { FLUSH, 0, 0, 0 },
  { WRITE, 2 * CS, CS, 10 },                /* overwrite a whole cluster */
  { WRITE, 10 * CS + 1, 2 * CS, 11 },       /* 10, 11 new, 12 allocated */
  { ZERO, 9 * CS, CS, 0 },                  /* allocated, whole */
  { WRITE, 2 * CS + 7, 3, 12 },             /* cluster 2 again */
  { CLOSE, 0, 0, 0 },
};
#define NSTEPS (sizeof steps / sizeof steps[0])

static char *dir, *meta, *image, *base, *meta_tpl, *image_tpl;
/* snap[t]: the disk after step t (snap[0]: before the sequence). */
static uint8_t *snap[NSTEPS + 1];

static void
apply_step (uint8_t *disk, const struct step *s)
{
  if (s->kind == WRITE)
    tu_fill (disk + s->off, s->len, s->seed, s->off);
  else if (s->kind == ZERO)
    memset (disk + s->off, 0, s->len);
}

/* The starting point: clusters 0, 2 and 9 allocated and flushed. */
static void
setup (void)
{
  static const uint64_t pre[] = { 0, 2, 9 };
  struct addcow *img;
  uint8_t buf[CS];
  unsigned i, t;

  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
  meta_tpl = tu_join (dir, "disk.add-cow.tpl");
  image_tpl = tu_join (dir, "disk.raw.tpl");
  tu_make_file (base, BASE_SIZE, 1);
  tu_make_file (image, SIZE, JUNK_SEED);
  tu_create (meta, "disk.raw", "base.raw", "raw", CS, 0);

  snap[0] = calloc (1, SIZE);
  tu_fill (snap[0], BASE_SIZE, 1, 0);
  img = tu_open (meta, true);
  for (i = 0; i < sizeof pre / sizeof pre[0]; i++) {
    tu_fill (buf, CS, 50, pre[i] * CS);
    ck_assert_int_eq (addcow_pwrite (img, buf, CS, pre[i] * CS), 0);
    memcpy (snap[0] + pre[i] * CS, buf, CS);
  }
  ck_assert_int_eq (addcow_close (img), 0);
  tu_copy_file (meta, meta_tpl);
  tu_copy_file (image, image_tpl);
  for (t = 1; t <= NSTEPS; t++) {
    snap[t] = malloc (SIZE);
    memcpy (snap[t], snap[t - 1], SIZE);
    apply_step (snap[t], &steps[t - 1]);
  }
}

static void
teardown (void)
{
  unsigned t;

  cache_reset (LONG_MAX, false, 0);
  for (t = 0; t <= NSTEPS; t++)
    free (snap[t]);
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (meta_tpl); free (image_tpl);
  free (dir);
}

/* Run the sequence through the cache.  Returns the index (1-based) of the
 * step that failed, or NSTEPS + 1 when every step completed. */
static unsigned
run_sequence (void)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  unsigned t;
  int r = 0;

  tu_copy_file (meta_tpl, meta);
  tu_copy_file (image_tpl, image);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &cache_io;
  ck_assert_int_eq (addcow_open (meta, &o, &img), 0);
  for (t = 0; t < NSTEPS && r == 0; t++) {
    const struct step *s = &steps[t];
    uint8_t buf[3 * CS];
    switch (s->kind) {
    case WRITE:
      tu_fill (buf, s->len, s->seed, s->off);
      r = addcow_pwrite (img, buf, s->len, s->off);
      break;
    case ZERO:
      r = addcow_pwrite_zeroes (img, s->len, s->off);
      break;
    case FLUSH:
      r = addcow_flush (img);
      break;
    case CLOSE:
      r = addcow_close (img);
      img = NULL;
      break;
    }
    if (r < 0) {
      ck_assert_msg (r == -EIO, "step %u: %d %s", t + 1, r,
                     addcow_get_error ());
      addcow_close (img);           /* its flush fails too: crashed */
      cache_reset (LONG_MAX, false, 0);
      return t + 1;
    }
  }
  cache_reset (LONG_MAX, false, 0);
  return NSTEPS + 1;
}

static const char *
describe (unsigned t)
{
  static char s[64];

  if (t == 0)
    return "the start";
  snprintf (s, sizeof s, "step %u", t);
  return s;
}

/* After a crash in step FAILED: reopen, compare every cluster with what
 * the model allows, and check. */
static void
verify_after_crash (long n, bool keep, unsigned failed)
{
  struct addcow_check_result res;
  struct addcow *img;
  uint8_t *disk = malloc (SIZE);
  unsigned last_flush = 0, t, c, lo, hi;
  int r;

  for (t = 1; t < failed; t++)
    if (steps[t - 1].kind == FLUSH || steps[t - 1].kind == CLOSE)
      last_flush = t;
  /* The states a cluster may show: snap[lo..hi]. */
  lo = last_flush;
  hi = failed <= NSTEPS ? failed : NSTEPS;
  if (failed > NSTEPS)
    lo = NSTEPS;                /* completed: exactly the end */
  img = tu_open (meta, false);
  ck_assert_int_eq (addcow_pread (img, disk, SIZE, 0), 0);
  addcow_close (img);
  for (c = 0; c < NCLUSTERS; c++) {
    uint64_t off = (uint64_t) c * CS, len = SIZE - off < CS ? SIZE - off : CS;
    bool ok = false;
    for (t = lo; t <= hi && !ok; t++) {
      /* Without KEEP, a crash between flushes loses everything since. */
      if (!keep && t > lo && failed <= NSTEPS
          && steps[failed - 1].kind != FLUSH
          && steps[failed - 1].kind != CLOSE)
        break;
      ok = memcmp (disk + off, snap[t] + off, len) == 0;
    }
    if (!ok) {
      char what[128] = "neither";
      unsigned u;
      for (u = 0; u <= NSTEPS; u++)
        if (memcmp (disk + off, snap[u] + off, len) == 0) {
          snprintf (what, sizeof what, "the state after %s", describe (u));
          break;
        }
      ck_abort_msg ("%s, crash after op %ld (in step %u): cluster %u "
                    "shows %s, allowed: %s to step %u",
                    keep ? "KEEP" : "DROP", n, failed, c, what,
                    describe (lo), hi);
    }
  }
  free (disk);
  r = addcow_check (meta, NULL, &res);
  ck_assert_msg (r == 0, "check: %s", addcow_get_error ());
  ck_assert_msg (res.corruptions == 0 && res.leaks == 0,
                 "crash after op %ld: check found %llu corruptions, %llu "
                 "leaks", n, (unsigned long long) res.corruptions,
                 (unsigned long long) res.leaks);
}

static long
count_ops (void)
{
  long total;

  cache_reset (LONG_MAX, false, 0);
  cache.crash_after = LONG_MAX;
  /* run_sequence resets the cache at the end: count through a copy. */
  {
    struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
    struct addcow *img;
    unsigned t;
    uint8_t buf[3 * CS];

    tu_copy_file (meta_tpl, meta);
    tu_copy_file (image_tpl, image);
    o.flags = ADDCOW_OPEN_WRITE;
    o.io = &cache_io;
    ck_assert_int_eq (addcow_open (meta, &o, &img), 0);
    for (t = 0; t < NSTEPS; t++) {
      const struct step *s = &steps[t];
      if (s->kind == WRITE) {
        tu_fill (buf, s->len, s->seed, s->off);
        ck_assert_int_eq (addcow_pwrite (img, buf, s->len, s->off), 0);
      }
      else if (s->kind == ZERO)
        ck_assert_int_eq (addcow_pwrite_zeroes (img, s->len, s->off), 0);
      else if (s->kind == FLUSH)
        ck_assert_int_eq (addcow_flush (img), 0);
      else
        ck_assert_int_eq (addcow_close (img), 0);
    }
  }
  total = cache.ops;
  cache_reset (LONG_MAX, false, 0);
  return total;
}

static void
crash_everywhere (bool keep)
{
  long total = count_ops (), n;
  unsigned failed;

  ck_assert_int_gt (total, 20);     /* the sequence really does I/O */
  for (n = 0; n <= total; n++) {
    cache_reset (n, keep, 0);
    failed = run_sequence ();
    if (n < total)
      ck_assert_msg (failed <= NSTEPS, "crash after op %ld of %ld: no step "
                     "failed", n, total);
    else
      ck_assert_uint_eq (failed, NSTEPS + 1);
    verify_after_crash (n, keep, failed);
  }
}

START_TEST (test_crash_drop)
{
  crash_everywhere (false);
}
END_TEST

START_TEST (test_crash_keep)
{
  crash_everywhere (true);
}
END_TEST

/* The model itself: with no crash the end state is exact, and a crash
 * right away leaves the start. */
START_TEST (test_model_sanity)
{
  cache_reset (LONG_MAX, false, 0);
  ck_assert_uint_eq (run_sequence (), NSTEPS + 1);
  verify_after_crash (-1, false, NSTEPS + 1);
  cache_reset (0, false, 0);
  ck_assert_uint_eq (run_sequence (), 1);
  verify_after_crash (0, false, 1);
  ck_assert (memcmp (snap[0], snap[NSTEPS], SIZE) != 0);
}
END_TEST

/* A data sync that fails loses the unsynced pages (Linux marks them clean
 * and reports EIO once).  A later flush must not write bits vouching for
 * that lost data: the clusters must still read their old contents. */
START_TEST (test_failed_sync_then_flush)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  uint8_t buf[CS], *disk = malloc (SIZE);
  int r;

  tu_copy_file (meta_tpl, meta);
  tu_copy_file (image_tpl, image);
  /* Op 1: the COW write of cluster 5; op 2: the flush's data sync. */
  cache_reset (LONG_MAX, false, 2);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &cache_io;
  ck_assert_int_eq (addcow_open (meta, &o, &img), 0);
  tu_fill (buf, 100, 7, 5 * CS + 10);
  ck_assert_int_eq (addcow_pwrite (img, buf, 100, 5 * CS + 10), 0);
  ck_assert_int_eq (cache.ops, 1);
  ck_assert_int_eq (addcow_flush (img), -EIO);
  r = addcow_close (img);           /* flushes again: the sync succeeds */
  (void) r;
  cache_reset (LONG_MAX, false, 0);
  img = tu_open (meta, false);
  ck_assert_int_eq (addcow_pread (img, disk, SIZE, 0), 0);
  addcow_close (img);
  ck_assert_msg (memcmp (disk + 5 * CS, snap[0] + 5 * CS, CS) == 0,
                 "cluster 5 reads neither its old contents nor the new: "
                 "its bit reached the disk after the data was lost");
  free (disk);
}
END_TEST

/* Reads fail once set: the bitmap reload after a failed sync fails too. */
static bool reads_fail;

static ssize_t
failing_pread (void *o, int fd, void *buf, size_t count, off_t off)
{
  if (reads_fail) {
    errno = EIO;
    return -1;
  }
  return c_pread (o, fd, buf, count, off);
}

/* When even the bitmap cannot be reloaded after a failed sync, the handle
 * refuses further writes with a message that says why, and the disk on
 * the files keeps the old contents. */
START_TEST (test_failed_sync_and_reload)
{
  static const struct addcow_io io = {
    .version = ADDCOW_IO_VERSION, .pread = failing_pread, .pwrite = c_pwrite,
    .fdatasync = c_sync, .fsync = c_sync, .ftruncate = c_ftruncate,
  };
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  uint8_t buf[CS], *disk = malloc (SIZE);
  char msg[512];

  tu_copy_file (meta_tpl, meta);
  tu_copy_file (image_tpl, image);
  cache_reset (LONG_MAX, false, 2);
  reads_fail = false;
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &io;
  ck_assert_int_eq (addcow_open (meta, &o, &img), 0);
  tu_fill (buf, 100, 7, 5 * CS + 10);
  ck_assert_int_eq (addcow_pwrite (img, buf, 100, 5 * CS + 10), 0);
  reads_fail = true;
  ck_assert_int_eq (addcow_flush (img), -EIO);
  ck_assert_int_eq (addcow_pwrite (img, buf, 100, 7 * CS), -EIO);
  snprintf (msg, sizeof msg, "%s: an earlier failed sync left this "
            "handle's bitmap uncertain; reopen the image to write again",
            meta);
  tu_assert_error (msg);
  reads_fail = false;
  (void) addcow_close (img);
  cache_reset (LONG_MAX, false, 0);
  img = tu_open (meta, false);
  ck_assert_int_eq (addcow_pread (img, disk, SIZE, 0), 0);
  addcow_close (img);
  ck_assert (memcmp (disk + 5 * CS, snap[0] + 5 * CS, CS) == 0);
  ck_assert (memcmp (disk + 7 * CS, snap[0] + 7 * CS, CS) == 0);
  free (disk);
}
END_TEST

/* ---- create and the header rewrite, cut at every operation ----------- */

static struct {
  char *dir, *snap, *meta, *raw;
  uint64_t size;                /* the size create asks for */
  uint64_t old_size;            /* an image create --force replaces; 0 */
  uint8_t *disk;                /* rewrite: the disk, which must not move */
} L;

#define L_SIZE (5 * CS + 300)

static void
l_setup (void)
{
  L.dir = tu_mkdtemp ();
  L.snap = tu_mkdtemp ();
  L.meta = tu_join (L.dir, "disk.add-cow");
  L.raw = tu_join (L.dir, "disk.raw");
  L.size = L_SIZE;
  L.old_size = 0;
  L.disk = NULL;
}

static void
l_teardown (void)
{
  tu_rmtree (L.dir);
  tu_rmtree (L.snap);
  free (L.dir); free (L.snap); free (L.meta); free (L.raw); free (L.disk);
}

/* No file the model keeps aside, and nothing but the image files and our
 * own temporaries (which a crash may leave) in DIR. */
static void
assert_no_strangers (const char *d)
{
  ck_assert (!lt_dir_has_suffix (d, ".tio-saved"));
}

static int
op_create (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;

  (void) arg;
  o.backing_name = "base.raw";
  o.backing_format = "raw";
  o.size = L.size;
  o.cluster_size = CS;
  o.overwrite = true;
  o.io = io;
  return addcow_create (path, &o);
}

static void
verify_create (const char *d, void *arg, bool finished)
{
  struct addcow *img;
  uint64_t size = 0;
  uint8_t *disk, *expect;

  (void) arg;
  assert_no_strangers (d);
  if (!finished && access (L.meta, F_OK) != 0)
    return;                     /* no image at all: allowed */
  lt_assert_clean (L.meta);
  img = tu_open (L.meta, false);
  size = addcow_get_virtual_size (img);
  ck_assert_str_eq (addcow_get_backing_name (img), "base.raw");
  addcow_close (img);
  (void) size;
  disk = lt_disk (L.meta, &size);
  if (finished || !L.old_size || size != L.old_size) {
    ck_assert_uint_eq (size, L.size);          /* the new image */
    expect = calloc (1, size);
    ck_assert_ptr_nonnull (expect);
    tu_fill (expect, 3 * CS, 1, 0);             /* base.raw, then zeros */
    lt_assert_same (disk, expect, size, "the new disk");
    free (expect);
  }
  else                                          /* the old one, whole */
    lt_assert_same (disk, L.disk, size, "the old disk");
  free (disk);
}

static long
create_cut_everywhere (enum tio_cut cut)
{
  struct lt_case c = { .dir = L.dir, .snap = L.snap, .path = L.meta,
                       .op = op_create, .verify = verify_create,
                       .cut = cut };

  return lt_crash_every_op (&c);
}

static void
snap_base (void)
{
  char *b = tu_join (L.snap, "base.raw");

  tu_make_file (b, 3 * CS, 1);
  free (b);
}

/* A new image: nothing, or the whole of it, at every cut point; the
 * renames and the directory sync are cut points too. */
START_TEST (test_create_cut_everywhere)
{
  long n;

  snap_base ();
  n = create_cut_everywhere (TIO_DROP);
  ck_assert_int_ge (n, 6);
  ck_assert_int_eq (create_cut_everywhere (TIO_TEAR_EVEN), n);
  ck_assert_int_eq (create_cut_everywhere (TIO_TEAR_ODD), n);
}
END_TEST

/* --force over an image whose default-named image file is re-created
 * with a new size: the old image, no image, or the new one. */
START_TEST (test_create_force_cut_everywhere)
{
  char *m = tu_join (L.snap, "disk.add-cow");
  long n;

  snap_base ();
  tu_create (m, "disk.raw", "base.raw", "raw", CS, 2 * CS);
  L.old_size = 2 * CS;
  lt_write (m, 7, 100, 2 * CS - 200);
  L.disk = lt_disk (m, &L.old_size);
  n = create_cut_everywhere (TIO_DROP);
  ck_assert_int_ge (n, 8);
  create_cut_everywhere (TIO_TEAR_EVEN);
  create_cut_everywhere (TIO_TEAR_ODD);
  free (m);
}
END_TEST

struct rw_arg {
  const char *name;             /* new backing name; "" flatten */
  bool unsafe;
};

static int
op_rebase (const char *path, const struct addcow_io *io, void *arg)
{
  struct addcow_rebase_opts o = ADDCOW_REBASE_OPTS_INIT;
  struct rw_arg *a = arg;

  o.backing_name = a->name;
  o.backing_format = a->name[0] ? "raw" : NULL;
  o.unsafe = a->unsafe;
  o.io = io;
  return addcow_rebase (path, &o);
}

static void
verify_rewrite (const char *d, void *arg, bool finished)
{
  struct rw_arg *a = arg;
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  const char *b;
  uint64_t size;
  uint8_t *disk;

  assert_no_strangers (d);
  if (finished)
    lt_assert_clean (L.meta);
  else
    lt_assert_no_corruption (L.meta);    /* leaks allowed (spec 7a) */
  oo.flags = ADDCOW_OPEN_NO_BACKING;
  ck_assert_int_eq (addcow_open (L.meta, &oo, &img), 0);
  b = addcow_get_backing_name (img);
  if (finished && a->name[0])
    ck_assert_str_eq (b, a->name);
  else if (finished)
    ck_assert_ptr_null (b);
  else if (b && strcmp (b, "base.raw") != 0)
    ck_assert_str_eq (b, a->name);
  else if (!b)
    ck_assert_str_eq ("", a->name);
  addcow_close (img);
  disk = lt_disk (L.meta, &size);
  ck_assert_uint_eq (size, L_SIZE);
  lt_assert_same (disk, L.disk, size, "the disk");
  free (disk);
}

/* An image over base.raw with two clusters of its own, and a copy of
 * base.raw under a longer name (the same disk over either). */
static void
snap_overlay (void)
{
  char *m = tu_join (L.snap, "disk.add-cow");
  char *b2 = tu_join (L.snap, "a-longer-backing-name.raw");
  char *b = tu_join (L.snap, "base.raw");
  uint64_t size;

  snap_base ();
  tu_copy_file (b, b2);
  free (b);
  tu_create (m, "disk.raw", "base.raw", "raw", CS, L_SIZE);
  lt_write (m, 7, CS + 10, CS);
  L.disk = lt_disk (m, &size);
  free (m);
  free (b2);
}

static void
rewrite_cut_everywhere (struct rw_arg *a, long min)
{
  struct lt_case c = { .dir = L.dir, .snap = L.snap, .path = L.meta,
                       .op = op_rebase, .verify = verify_rewrite, .arg = a };
  long n;

  c.cut = TIO_DROP;
  n = lt_crash_every_op (&c);
  ck_assert_int_ge (n, min);
  c.cut = TIO_TEAR_EVEN;
  ck_assert_int_eq (lt_crash_every_op (&c), n);
  c.cut = TIO_TEAR_ODD;
  ck_assert_int_eq (lt_crash_every_op (&c), n);
}

/* rebase -u: new name into free bytes, the fixed header, the old name
 * zeroed, each synced: 6 cut points, the old or the new header at each. */
START_TEST (test_rewrite_cut_everywhere)
{
  struct rw_arg a = { "a-longer-backing-name.raw", true };
  char name[700] = "";
  int i;

  snap_overlay ();
  rewrite_cut_everywhere (&a, 6);
  /* A name across the end of sector 0 (a torn write of it would show). */
  for (i = 0; i < 300; i++)
    strcat (name, "./");
  strcat (name, "a-longer-backing-name.raw");
  a.name = name;
  rewrite_cut_everywhere (&a, 6);
}
END_TEST

START_TEST (test_flatten_cut_everywhere)
{
  struct rw_arg a = { "", false };

  snap_overlay ();
  rewrite_cut_everywhere (&a, 8);
}
END_TEST

/* The rewrite keeps the file: same inode, and a hard link sees it. */
START_TEST (test_rewrite_same_inode)
{
  struct rw_arg a = { "a-longer-backing-name.raw", true };
  char *link_path = tu_join (L.dir, "link.add-cow");
  struct stat before, after;
  uint8_t *x, *y;
  size_t lx, ly;

  snap_overlay ();
  lt_copy_dir (L.snap, L.dir);
  ck_assert_int_eq (link (L.meta, link_path), 0);
  ck_assert_int_eq (stat (L.meta, &before), 0);
  ck_assert_msg (op_rebase (L.meta, NULL, &a) == 0, "%s",
                 addcow_get_error ());
  ck_assert_int_eq (stat (L.meta, &after), 0);
  ck_assert_uint_eq (after.st_ino, before.st_ino);
  ck_assert_uint_eq (after.st_nlink, 2);
  x = tu_read_file (L.meta, &lx);
  y = tu_read_file (link_path, &ly);
  ck_assert_uint_eq (lx, ly);
  ck_assert_mem_eq (x, y, lx);
  free (x);
  free (y);
  free (link_path);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("crash");
  TCase *tc = tcase_create ("crash");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 240);
  tcase_add_test (tc, test_model_sanity);
  tcase_add_test (tc, test_crash_drop);
  tcase_add_test (tc, test_crash_keep);
  tcase_add_test (tc, test_failed_sync_then_flush);
  tcase_add_test (tc, test_failed_sync_and_reload);
  suite_add_tcase (s, tc);

  tc = tcase_create ("create-rewrite");
  tcase_add_checked_fixture (tc, l_setup, l_teardown);
  tcase_set_timeout (tc, 240);
  tcase_add_test (tc, test_create_cut_everywhere);
  tcase_add_test (tc, test_create_force_cut_everywhere);
  tcase_add_test (tc, test_rewrite_cut_everywhere);
  tcase_add_test (tc, test_flatten_cut_everywhere);
  tcase_add_test (tc, test_rewrite_same_inode);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
