/*
 * test-copier.c - lib/ops/copier.c: copies and punches in flight on threads.
 *
 * With the system I/O table the copier runs its jobs on worker threads;
 * the tests copy hundreds of runs of odd sizes (pieces, a source shorter
 * than the run) and compare the destination byte for byte with a model;
 * a failing job's error sticks and is reported by copier_wait, with what
 * failed; a user's I/O table gets every job late, in order, in the
 * calling thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"
#include "layers-io.h"
#include "testutil.h"

#define SRC_SIZE (UINT64_C (24) << 20)
#define DST_SIZE (UINT64_C (32) << 20)  /* longer: the copy reads past EOF */

static char *dir, *src_path, *dst_path;
static int src_fd, dst_fd;

static void
setup (void)
{
  dir = tu_mkdtemp ();
  src_path = tu_join (dir, "src");
  dst_path = tu_join (dir, "dst");
  tu_make_file (src_path, SRC_SIZE, 7);
  tu_make_file (dst_path, DST_SIZE, 9);
  src_fd = open (src_path, O_RDONLY);
  dst_fd = open (dst_path, O_RDWR);
  ck_assert_int_ge (src_fd, 0);
  ck_assert_int_ge (dst_fd, 0);
}

static void
teardown (void)
{
  close (src_fd);
  close (dst_fd);
  tu_rmtree (dir);
  free (src_path);
  free (dst_path);
  free (dir);
}

static struct copier *
new_copier (const struct addcow_io *user)
{
  struct addcow_io io;
  struct copier *c;

  io_init (&io, user);
  ck_assert_int_eq (copier_new (&io, &c), 0);
  return c;
}

/* What DST must hold after copying [off, off+len) of SRC into MODEL. */
static void
model_copy (uint8_t *model, uint64_t len, uint64_t off)
{
  uint64_t end = off + len;
  uint64_t in = off < SRC_SIZE ? min_u64 (end, SRC_SIZE) : off;

  if (in > off)
    tu_fill (model + off, in - off, 7, off);
  memset (model + in, 0, end - in);           /* past SRC's end: zeros */
}

START_TEST (test_many_runs_byte_exact)
{
  struct copier *c = new_copier (NULL);
  uint8_t *model = malloc (DST_SIZE), *got;
  uint64_t off = 0;
  size_t len;
  unsigned i;

  ck_assert_ptr_nonnull (model);
  tu_fill (model, DST_SIZE, 9, 0);
  srand (42);
  /* Runs of 1 byte to 3 MiB (several pieces), gaps between them, the last
   * ones reaching past the end of the source. */
  for (i = 0; off < DST_SIZE - (4u << 20); i++) {
    uint64_t run = 1 + (uint64_t) rand () % (i % 8 == 0 ? 3u << 20 : 70000);
    ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, run, off), 0);
    model_copy (model, run, off);
    off += run + (uint64_t) rand () % 20000;
  }
  ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 4u << 20,
                                 DST_SIZE - (4u << 20)), 0);
  model_copy (model, 4u << 20, DST_SIZE - (4u << 20));
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  got = tu_read_file (dst_path, &len);
  ck_assert_uint_eq (len, DST_SIZE);
  ck_assert (memcmp (got, model, DST_SIZE) == 0);
  ck_assert_int_eq (copier_wait (c, NULL), 0);  /* idle: at once */
  copier_free (c);
  free (got);
  free (model);
}
END_TEST

START_TEST (test_punch)
{
  struct copier *c = new_copier (NULL);
  bool punch_failed = true;
  uint8_t *got, zeros[65536] = { 0 };
  size_t len;

  if (fallocate (dst_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 DST_SIZE - 4096, 4096) < 0 && errno == EOPNOTSUPP) {
    copier_free (c);
    return;                     /* this filesystem cannot punch holes */
  }
  ck_assert_int_eq (copier_punch (c, dst_fd, 1u << 20, 65536), 0);
  ck_assert_int_eq (copier_punch (c, dst_fd, 0, 0), 0);      /* nothing */
  ck_assert_int_eq (copier_wait (c, &punch_failed), 0);
  ck_assert (!punch_failed);
  got = tu_read_file (dst_path, &len);
  ck_assert_uint_eq (len, DST_SIZE);                    /* size kept */
  ck_assert (memcmp (got + (1u << 20), zeros, sizeof zeros) == 0);
  ck_assert_uint_eq (got[(1u << 20) - 1], tu_pattern_byte (9, (1u << 20) - 1));
  ck_assert_uint_eq (got[(1u << 20) + 65536],
                     tu_pattern_byte (9, (1u << 20) + 65536));
  copier_free (c);
  free (got);
}
END_TEST

/* A copy into a read-only descriptor fails with EBADF: the error sticks,
 * the jobs queued after it are dropped, and freeing does not hang. */
START_TEST (test_error_sticks)
{
  struct copier *c = new_copier (NULL);
  int ro = open (dst_path, O_RDONLY);
  bool punch_failed = true;
  unsigned i;
  int r = 0;

  ck_assert_int_ge (ro, 0);
  for (i = 0; i < 200 && r == 0; i++)
    r = copier_copy (c, src_fd, ro, 65536, (uint64_t) i * 65536);
  ck_assert_int_eq (copier_wait (c, &punch_failed), -EBADF);
  ck_assert (!punch_failed);
  ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 4096, 0), -EBADF);
  ck_assert_int_eq (copier_wait (c, NULL), -EBADF);
  copier_free (c);
  close (ro);
}
END_TEST

START_TEST (test_punch_error_named)
{
  struct copier *c = new_copier (NULL);
  int ro = open (dst_path, O_RDONLY);
  bool punch_failed = false;

  ck_assert_int_ge (ro, 0);
  ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 65536, 0), 0);
  (void) copier_punch (c, ro, 1u << 20, 65536);
  ck_assert_int_eq (copier_wait (c, &punch_failed), -EBADF);
  ck_assert (punch_failed);
  copier_free (c);
  close (ro);
}
END_TEST

/* A user's table: no threads, every job at once, in order. */
struct log {
  pthread_t caller;
  unsigned n;
  off_t offsets[64];
  bool other_thread;
};

static ssize_t
logged_copy_range (void *opaque, int fd_in, off_t off_in, int fd_out,
                   off_t off_out, size_t count)
{
  struct log *log = opaque;
  loff_t in = off_in, out = off_out;

  if (!pthread_equal (pthread_self (), log->caller))
    log->other_thread = true;
  if (log->n < 64)
    log->offsets[log->n++] = off_out;
  return copy_file_range (fd_in, &in, fd_out, &out, count, 0);
}

/* The jobs of a user's table run late (when the queue is full, at
 * copier_wait), as on threads, so that a crash test sees a sync that
 * forgot to wait; but in order and in the calling thread. */
START_TEST (test_user_table_late_in_order)
{
  struct log log = { .caller = pthread_self () };
  struct addcow_io user = { .opaque = &log,
                            .copy_range = logged_copy_range };
  struct copier *c = new_copier (&user);
  unsigned i;

  for (i = 0; i < 10; i++)
    ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 4096,
                                   (uint64_t) (10 - i) * 8192), 0);
  ck_assert_uint_eq (log.n, 0);                 /* not yet */
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  ck_assert_uint_eq (log.n, 10);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq (log.offsets[i], (off_t) (10 - i) * 8192);
  ck_assert (!log.other_thread);
  for (i = 0; i < 40; i++)                      /* more than the queue */
    ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 4096, 0), 0);
  ck_assert_uint_gt (log.n, 10);                /* a full queue ran */
  copier_free (c);                              /* runs the rest */
  ck_assert_uint_eq (log.n, 50);
}
END_TEST

static unsigned
thread_count (void)
{
  struct stat st;

  ck_assert_int_eq (stat ("/proc/self/task", &st), 0);
  return (unsigned) st.st_nlink - 2;    /* one directory per thread */
}

/* The thread count once it has settled at WANT (up to 2 s): a joined
 * thread has finished, but the kernel may list it in /proc/self/task a
 * moment longer (the join returns when its tid is cleared, before the
 * task is reaped). */
static unsigned
settled_thread_count (unsigned want)
{
  unsigned n, i;

  for (i = 0; (n = thread_count ()) != want && i < 200; i++)
    usleep (10000);
  return n;
}

/* The system calls get worker threads, started by the first job only. */
START_TEST (test_threads_start_at_first_job)
{
  unsigned before = thread_count ();
  struct copier *c = new_copier (NULL);

  ck_assert_uint_eq (thread_count (), before);
  ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 4096, 0), 0);
  ck_assert_uint_gt (thread_count (), before);
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
  ck_assert_uint_eq (settled_thread_count (before), before);
}
END_TEST

/* Freeing runs what is still queued (the cancel path relies on it). */
START_TEST (test_free_runs_queued_jobs)
{
  struct copier *c = new_copier (NULL);
  uint8_t *got;
  size_t len;

  ck_assert_int_eq (copier_copy (c, src_fd, dst_fd, 8u << 20, 0), 0);
  copier_free (c);
  got = tu_read_file (dst_path, &len);
  ck_assert_uint_eq (got[0], tu_pattern_byte (7, 0));
  ck_assert_uint_eq (got[(8u << 20) - 1], tu_pattern_byte (7, (8u << 20) - 1));
  free (got);
}
END_TEST

START_TEST (test_free_null_and_idle)
{
  struct copier *c = new_copier (NULL);

  copier_free (NULL);
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
}
END_TEST

/* commit and flatten through the system calls, so on the copier's
 * threads (and under TSan in unit/copier-tsan), in many tiny batches:
 * the results byte for byte. */
#define LCS 65536u
#define LSIZE (UINT64_C (16) << 20)
#define LBATCH (UINT64_C (256) << 10)

/* An overlay of BASE with every third cluster written (pattern 5); the
 * disk it shows goes to *DISK. */
static char *
make_layer (const char *name, uint8_t **disk)
{
  char *path = tu_join (dir, name), *raw = tu_join (dir, "l.raw");
  char *base = tu_join (dir, "base.raw");
  struct addcow *img;
  uint8_t *buf = malloc (LCS);
  size_t len;
  uint64_t off;

  unlink (raw);
  tu_create (path, "l.raw", "base.raw", "raw", LCS, LSIZE);
  img = tu_open (path, true);
  *disk = tu_read_file (base, &len);
  for (off = 0; off < LSIZE; off += 3 * LCS) {
    tu_fill (buf, LCS, 5, off);
    ck_assert_int_eq (addcow_pwrite (img, buf, LCS, off), 0);
    memcpy (*disk + off, buf, LCS);
  }
  ck_assert_int_eq (addcow_close (img), 0);
  free (buf);
  free (raw);
  free (base);
  return path;
}

START_TEST (test_commit_and_flatten_on_threads)
{
  struct addcow_commit_opts co = ADDCOW_COMMIT_OPTS_INIT;
  struct addcow_rebase_opts ro = ADDCOW_REBASE_OPTS_INIT;
  char *base = tu_join (dir, "base.raw"), *raw = tu_join (dir, "l.raw");
  uint8_t *disk, *got;
  char *top;
  size_t len;
  struct addcow *img;

  tu_make_file (base, LSIZE, 3);
  top = make_layer ("top.add-cow", &disk);
  ck_assert_int_eq (commit_run (top, &co, LBATCH), 0);
  got = tu_read_file (base, &len);
  ck_assert_uint_eq (len, LSIZE);
  ck_assert (memcmp (got, disk, LSIZE) == 0);
  img = tu_open (top, false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 0);  /* emptied */
  addcow_close (img);
  free (got);
  free (disk);
  free (top);

  top = make_layer ("flat.add-cow", &disk);
  ck_assert_int_eq (rebase_run (top, &ro, LBATCH), 0);
  got = tu_read_file (raw, &len);                 /* alone the disk */
  ck_assert_uint_eq (len, LSIZE);
  ck_assert (memcmp (got, disk, LSIZE) == 0);
  free (got);
  free (disk);
  free (top);
  free (raw);
  free (base);
}
END_TEST

static int
failing_punch (void *opaque, int fd, off_t offset, off_t length)
{
  (void) opaque; (void) fd; (void) offset; (void) length;
  errno = EIO;
  return -1;
}

/* A punch that fails is found late - here at the end of a later batch
 * (batches of one cluster, a punch every 16 of them) - and is reported as
 * what it is; the disk is what it was, BASE holds the batches that were
 * committed, and the rest of the image was not committed. */
START_TEST (test_commit_punch_failure_named)
{
  struct addcow_io user = { .punch_hole = failing_punch };
  struct addcow_commit_opts co = ADDCOW_COMMIT_OPTS_INIT;
  char *base = tu_join (dir, "base.raw"), *top;
  uint8_t *disk, *after;
  uint64_t size;
  struct addcow *img;

  tu_make_file (base, LSIZE, 3);
  top = make_layer ("top.add-cow", &disk);
  co.io = &user;
  ck_assert_int_eq (commit_run (top, &co, LCS), -EIO);
  tu_assert_error_has ("top.add-cow", "could not free the committed "
                       "clusters of image file", "Input/output error");
  after = lt_disk (top, &size);
  ck_assert_uint_eq (size, LSIZE);
  ck_assert (memcmp (after, disk, LSIZE) == 0);
  img = tu_open (top, false);
  ck_assert_uint_gt (addcow_get_allocated_clusters (img), 0);  /* not all */
  ck_assert_uint_lt (addcow_get_allocated_clusters (img),
                     div_round_up (LSIZE / LCS, 3));
  addcow_close (img);
  lt_assert_clean (top);
  free (after);
  free (disk);
  free (top);
  free (base);
}
END_TEST

/* ---- read jobs: data through a layer's driver ------------------------- */

/* A layer whose bytes are pattern 11 at their disk offsets, read on any
 * thread; it fails with -EIO at FAIL_AT (if set) and counts the reads
 * made by the calling thread and the largest one. */
struct fake {
  struct layer layer;
  pthread_t caller;
  uint64_t fail_at;             /* UINT64_MAX: never */
  unsigned in_caller;           /* atomic */
  size_t largest;               /* atomic */
};

static int
fake_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  struct fake *f = l->priv;
  size_t big = __atomic_load_n (&f->largest, __ATOMIC_RELAXED);

  while (count > big
         && !__atomic_compare_exchange_n (&f->largest, &big, count, false,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  if (pthread_equal (pthread_self (), f->caller))
    __atomic_add_fetch (&f->in_caller, 1, __ATOMIC_RELAXED);
  if (f->fail_at >= offset && f->fail_at < offset + count)
    return -EIO;
  tu_fill (buf, count, 11, offset);
  return 0;
}

static const struct layer_ops fake_ops = { .format = "fake",
                                           .read = fake_read };

static void
fake_init (struct fake *f, uint32_t cluster_size)
{
  memset (f, 0, sizeof *f);
  f->layer = (struct layer) { .ops = &fake_ops, .priv = f,
    .size = DST_SIZE, .filename = "fake", .cluster_size = cluster_size };
  f->caller = pthread_self ();
  f->fail_at = UINT64_MAX;
}

static struct source
layer_run (struct fake *f, uint64_t len)
{
  return (struct source) { .fd = -1, .len = len, .layer = &f->layer };
}

/* Hundreds of runs of odd sizes and places through copy_source: every
 * byte lands where it belongs, every read runs on a worker thread, in
 * pieces of at most a cluster or 512 KiB (below the size the qcow2 driver
 * splits over threads of its own). */
START_TEST (test_read_jobs_byte_exact)
{
  struct copier *c = new_copier (NULL);
  struct fake f;
  struct source s;
  uint8_t *model, *got;
  uint64_t off = 0, run;
  size_t len;
  unsigned i;

  fake_init (&f, 65536);
  model = tu_read_file (dst_path, &len);
  for (i = 0; off < DST_SIZE; i++) {
    run = min_u64 (DST_SIZE - off, 4096 + (uint64_t) (i * 7919) % 1800000);
    s = layer_run (&f, run);
    ck_assert_int_eq (copy_source (c, &s, dst_fd, DST_SIZE, off), 0);
    tu_fill (model + off, run, 11, off);
    off += run;
  }
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
  got = tu_read_file (dst_path, &len);
  ck_assert_uint_eq (len, DST_SIZE);
  ck_assert (memcmp (got, model, DST_SIZE) == 0);
  ck_assert_uint_eq (f.in_caller, 0);
  ck_assert_uint_eq (f.largest, 512u << 10);
  free (got);
  free (model);
}
END_TEST

/* A layer with 2 MiB clusters is read a whole cluster at a time. */
START_TEST (test_read_piece_covers_a_cluster)
{
  struct copier *c = new_copier (NULL);
  struct fake f;
  struct source s;

  fake_init (&f, 2u << 20);
  s = layer_run (&f, 8u << 20);
  ck_assert_int_eq (copier_read (c, &s, dst_fd, 0), 0);
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
  ck_assert_uint_eq (f.largest, 2u << 20);
}
END_TEST

/* A read that fails sticks as any job's error: copier_wait reports it,
 * later jobs are refused with it, and nothing past it is written. */
START_TEST (test_read_job_error_sticks)
{
  struct copier *c = new_copier (NULL);
  struct fake f;
  struct source s;
  bool punch_failed = true;

  fake_init (&f, 65536);
  f.fail_at = 3u << 20;
  s = layer_run (&f, 4u << 20);
  ck_assert_int_eq (copier_read (c, &s, dst_fd, 0), 0);
  ck_assert_int_eq (copier_wait (c, &punch_failed), -EIO);
  ck_assert (!punch_failed);
  s = layer_run (&f, 4096);
  ck_assert_int_eq (copy_source (c, &s, dst_fd, DST_SIZE, 0), -EIO);
  copier_free (c);
}
END_TEST

/* A user's table: read jobs too run late, in order, in the calling
 * thread, each write seen by the table in turn. */
static ssize_t
logged_pwrite (void *opaque, int fd, const void *buf, size_t count,
               off_t offset)
{
  struct log *log = opaque;

  if (!pthread_equal (pthread_self (), log->caller))
    log->other_thread = true;
  if (log->n < 64)
    log->offsets[log->n++] = offset;
  return pwrite (fd, buf, count, offset);
}

START_TEST (test_read_jobs_user_table_in_order)
{
  struct log log = { .caller = pthread_self () };
  struct addcow_io user = { .opaque = &log, .pwrite = logged_pwrite };
  struct copier *c = new_copier (&user);
  struct fake f;
  struct source s;
  uint8_t *got, *want = malloc (1u << 20);
  size_t len;
  unsigned i;

  fake_init (&f, 65536);
  for (i = 0; i < 4; i++) {
    s = layer_run (&f, 256u << 10);
    ck_assert_int_eq (copier_read (c, &s, dst_fd,
                                   (uint64_t) (3 - i) * (256u << 10)), 0);
  }
  ck_assert_uint_eq (log.n, 0);                 /* not yet */
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  ck_assert_uint_eq (log.n, 4);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq (log.offsets[i], (off_t) (3 - i) * (256 << 10));
  ck_assert (!log.other_thread);
  ck_assert_uint_eq (f.in_caller, 4);
  copier_free (c);
  got = tu_read_file (dst_path, &len);
  tu_fill (want, 1u << 20, 11, 0);
  ck_assert (memcmp (got, want, 1u << 20) == 0);
  free (got);
  free (want);
}
END_TEST

/* ---- data of a file at another offset --------------------------------- */

/* A run of SRC at another offset of DST, on a block boundary or off one
 * (then through a read job), and one past SRC's end (zeros): the bytes. */
START_TEST (test_copy_between_offsets)
{
  static const struct { uint64_t from, to, len; } runs[] = {
    { 65536, 8u << 20, 3u << 20 },              /* blocks line up */
    { 4096, 0, 1u << 20 },
    { 1000, 12u << 20, (1u << 20) + 333 },      /* they do not */
    { 7, (16u << 20) + 5, 70000 },
    { SRC_SIZE - 4096, 20u << 20, 12288 },      /* past SRC's end */
  };
  struct copier *c = new_copier (NULL);
  struct source s;
  uint8_t *model, *got;
  size_t len;
  unsigned i;

  model = tu_read_file (dst_path, &len);
  for (i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    uint64_t in = min_u64 (runs[i].len, SRC_SIZE - runs[i].from);
    s = (struct source) { .fd = src_fd, .len = runs[i].len,
                          .file_offset = runs[i].from };
    ck_assert_int_eq (copy_source (c, &s, dst_fd, DST_SIZE, runs[i].to), 0);
    tu_fill (model + runs[i].to, in, 7, runs[i].from);
    memset (model + runs[i].to + in, 0, runs[i].len - in);
  }
  ck_assert_int_eq (copier_wait (c, NULL), 0);
  copier_free (c);
  got = tu_read_file (dst_path, &len);
  ck_assert_uint_eq (len, DST_SIZE);
  ck_assert (memcmp (got, model, DST_SIZE) == 0);
  free (got);
  free (model);
}
END_TEST

/* Flatten an overlay over a compressed qcow2 (qemu-img convert -c: text
 * clusters compressed, the pattern's stored as they are) in tiny batches:
 * the qcow2 driver's reads run on several worker threads at once (under
 * TSan in unit/copier-tsan), and the image file is the disk byte for
 * byte. */
#define QSIZE (UINT64_C (12) << 20)

START_TEST (test_flatten_over_compressed_qcow2)
{
  struct addcow_rebase_opts ro = ADDCOW_REBASE_OPTS_INIT;
  char *golden = tu_join (dir, "golden.raw"), *raw = tu_join (dir, "q.raw");
  char *top = tu_join (dir, "q.add-cow"), *cmd;
  uint8_t *disk = malloc (QSIZE), *got;
  struct addcow *img;
  uint64_t off;
  size_t len;
  FILE *f;

  for (off = 0; off < QSIZE; off += 64) {      /* lines of text */
    char line[65];
    snprintf (line, sizeof line, "%-63llu\n",
              (unsigned long long) (off * 2654435761u % 1000003));
    memcpy (disk + off, line, 64);
  }
  tu_fill (disk + (4u << 20), 2u << 20, 7, 0);  /* incompressible */
  memset (disk + (8u << 20), 0, 1u << 20);      /* zeros */
  ck_assert ((f = fopen (golden, "wb")) != NULL);
  ck_assert_uint_eq (fwrite (disk, 1, QSIZE, f), QSIZE);
  ck_assert_int_eq (fclose (f), 0);
  ck_assert_int_ge (asprintf (&cmd, "qemu-img convert -c -O qcow2 %s "
                              "%s/golden.qcow2", golden, dir), 0);
  ck_assert_int_eq (system (cmd), 0);
  free (cmd);
  tu_create (top, "q.raw", "golden.qcow2", "qcow2", LCS, QSIZE);
  img = tu_open (top, true);
  tu_fill (disk + 3 * LCS, LCS, 5, 0);          /* one cluster of its own */
  ck_assert_int_eq (addcow_pwrite (img, disk + 3 * LCS, LCS, 3 * LCS), 0);
  ck_assert_int_eq (addcow_close (img), 0);
  ck_assert_int_eq (rebase_run (top, &ro, 4 * LCS), 0);
  got = tu_read_file (raw, &len);
  ck_assert_uint_eq (len, QSIZE);
  ck_assert (memcmp (got, disk, QSIZE) == 0);
  free (got);
  free (disk);
  free (top);
  free (raw);
  free (golden);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("copier");
  TCase *tc = tcase_create ("copier");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_many_runs_byte_exact);
  tcase_add_test (tc, test_punch);
  tcase_add_test (tc, test_error_sticks);
  tcase_add_test (tc, test_punch_error_named);
  tcase_add_test (tc, test_user_table_late_in_order);
  tcase_add_test (tc, test_threads_start_at_first_job);
  tcase_add_test (tc, test_free_runs_queued_jobs);
  tcase_add_test (tc, test_free_null_and_idle);
  tcase_add_test (tc, test_commit_and_flatten_on_threads);
  tcase_add_test (tc, test_commit_punch_failure_named);
  tcase_add_test (tc, test_read_jobs_byte_exact);
  tcase_add_test (tc, test_read_piece_covers_a_cluster);
  tcase_add_test (tc, test_read_job_error_sticks);
  tcase_add_test (tc, test_read_jobs_user_table_in_order);
  tcase_add_test (tc, test_copy_between_offsets);
  tcase_add_test (tc, test_flatten_over_compressed_qcow2);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
