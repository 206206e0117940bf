/*
 * test-threads.c - one handle used from many threads at once, as the
 * concurrency contract of addcow.h allows: block status, allocation
 * queries and reads from many threads, with writes (copy-on-write
 * included) to disjoint ranges and flushes beside them.
 *
 * The disk: 16 MiB over a raw backing file of alternating 1 MiB of data
 * and 1 MiB holes (the backing file's data/hole answers are what the
 * handle caches), with every seventh 64 KiB cluster already written in the
 * overlay, so that runs of the overlay cut the backing file's extents.
 * Every answer of block status and is_allocated must be exactly the one a
 * single thread got for the same question beforehand; every read must
 * return the bytes the layout says.  The last 4 MiB belong to four writer
 * threads (1 MiB each, unaligned writes and zeroes, so most of them copy
 * on write); after the threads join, and again after a reopen, each writer
 * range holds exactly what a model of its writes says.
 *
 * A flush with nothing written since the last one syncs nothing (an
 * fdatasync of a clean file still flushes the device's cache).
 *
 * Built twice: normally, and with ThreadSanitizer (unit/threads-tsan),
 * where a data race fails the test as well.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define MiB (UINT64_C (1) << 20)
#define CS (64u << 10)
#define DISK (16 * MiB)
#define SHARED_END (12 * MiB)   /* [0, 12M): readers; [12M, 16M): writers */
#define NWRITERS 4
#define NREADERS 6
#define NQUERIES 4096
#ifdef __SANITIZE_THREAD__      /* ten times slower: less of it */
#define ROUNDS 2                /* passes of each reader over the queries */
#define WRITES 100              /* per writer */
#else
#define ROUNDS 6
#define WRITES 300
#endif
#define READ_MAX (64u << 10)

#define BASE_SEED 1
#define TOP_SEED 2

/* What the layout says the disk holds at OFFSET (outside writer ranges). */
static uint8_t
expected_byte (uint64_t offset)
{
  if ((offset / CS) % 7 == 3)
    return tu_pattern_byte (TOP_SEED, offset);
  if ((offset / MiB) % 2 == 0)
    return tu_pattern_byte (BASE_SEED, offset);
  return 0;
}

struct query {
  uint64_t offset, max;
  struct addcow_extent ext;     /* the serial answer */
  int alloc;
  uint64_t alloc_len;
};

static struct addcow *img;
static struct query queries[NQUERIES];
static atomic_uint wrong_status, wrong_alloc, wrong_read, errors;
static atomic_bool stop_flushing;

/* A small deterministic generator per thread. */
static uint64_t
next_rand (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static bool
same_extent (const struct addcow_extent *a, const struct addcow_extent *b)
{
  return a->start == b->start && a->length == b->length
    && a->depth == b->depth && a->flags == b->flags && a->offset == b->offset
    && (a->filename == b->filename
        || (a->filename && b->filename
            && strcmp (a->filename, b->filename) == 0));
}

/* Questions at offsets near extent and cluster boundaries and anywhere,
 * answered once by this thread alone. */
static void
make_queries (void)
{
  uint64_t s = 0x1234567;
  unsigned i;

  for (i = 0; i < NQUERIES; i++) {
    struct query *q = &queries[i];
    uint64_t r = next_rand (&s);
    switch (r % 3) {
    case 0: q->offset = (r >> 8) % SHARED_END; break;
    case 1: q->offset = ((r >> 8) % (SHARED_END / CS)) * CS; break;
    default: q->offset = ((r >> 8) % (SHARED_END / MiB)) * MiB
        + (r >> 40) % 8192; break;
    }
    if (q->offset >= SHARED_END)
      q->offset = SHARED_END - 1;
    q->max = 1 + (next_rand (&s) % (SHARED_END - q->offset));
    ck_assert_int_eq (addcow_block_status (img, q->offset, q->max, &q->ext),
                      0);
    q->alloc = addcow_is_allocated (img, q->offset, q->max, &q->alloc_len);
    ck_assert_int_ge (q->alloc, 0);
  }
}

static void *
reader (void *arg)
{
  uint64_t s = 0x9e3779b9u * (uintptr_t) arg + 1, len;
  uint8_t *buf = malloc (READ_MAX);
  struct addcow_extent ext;
  unsigned round, i, k;
  int a;

  for (round = 0; round < ROUNDS; round++) {
    for (k = 0; k < NQUERIES; k++) {
      const struct query *q = &queries[(k * 7 + (uintptr_t) arg * 613
                                        + round * 31) % NQUERIES];
      if (addcow_block_status (img, q->offset, q->max, &ext) < 0)
        errors++;
      else if (!same_extent (&ext, &q->ext))
        wrong_status++;
      a = addcow_is_allocated (img, q->offset, q->max, &len);
      if (a != q->alloc || len != q->alloc_len)
        wrong_alloc++;
      if (k % 16 == 0) {        /* a read now and then */
        uint64_t off = next_rand (&s) % (SHARED_END - 1);
        size_t n = 1 + next_rand (&s) % READ_MAX;
        if (n > SHARED_END - off)
          n = SHARED_END - off;
        if (addcow_pread (img, buf, n, off) < 0)
          errors++;
        else
          for (i = 0; i < n; i++)
            if (buf[i] != expected_byte (off + i)) {
              wrong_read++;
              break;
            }
      }
    }
  }
  free (buf);
  return NULL;
}

/* Writer W owns [SHARED_END + W MiB, + 1 MiB); MODEL is what it must hold
 * (starting with the layout's bytes). */
struct writer {
  unsigned w;
  uint8_t model[MiB];
  uint8_t buf[40000];
};

static void *
writer (void *arg)
{
  struct writer *wr = arg;
  uint64_t base = SHARED_END + wr->w * MiB, s = 77 + wr->w;
  unsigned i;

  for (i = 0; i < WRITES; i++) {
    uint64_t off = next_rand (&s) % MiB;
    size_t n = 1 + next_rand (&s) % sizeof wr->buf;
    bool zero = next_rand (&s) % 5 == 0;
    if (n > MiB - off)
      n = MiB - off;
    if (zero) {
      memset (wr->model + off, 0, n);
      if (addcow_pwrite_zeroes (img, n, base + off) < 0)
        errors++;
    }
    else {
      tu_fill (wr->buf, n, 100 + wr->w * 1000 + i, base + off);
      memcpy (wr->model + off, wr->buf, n);
      if (addcow_pwrite (img, wr->buf, n, base + off) < 0)
        errors++;
    }
  }
  return NULL;
}

static void *
flusher (void *arg)
{
  (void) arg;
  while (!atomic_load (&stop_flushing))
    if (addcow_flush (img) < 0)
      errors++;
  return NULL;
}

static void
check_writers (struct writer *wr)
{
  uint8_t *buf = malloc (MiB);
  unsigned w;

  for (w = 0; w < NWRITERS; w++) {
    ck_assert_int_eq (addcow_pread (img, buf, MiB, SHARED_END + w * MiB), 0);
    ck_assert_msg (memcmp (buf, wr[w].model, MiB) == 0,
                   "writer %u's range differs from its model", w);
  }
  free (buf);
}

START_TEST (test_many_threads)
{
  char *dir = tu_mkdtemp ();
  char *base = tu_join (dir, "base.raw"), *top = tu_join (dir, "vm.add-cow");
  pthread_t rt[NREADERS], wt[NWRITERS], ft;
  struct writer *wr = calloc (NWRITERS, sizeof *wr);
  uint8_t *buf = malloc (MiB);
  uint64_t off;
  unsigned t, i;

  /* The backing file: data in even MiBs, holes in odd ones. */
  tu_make_file (base, DISK, 0);
  for (off = 0; off < DISK; off += 2 * MiB) {
    tu_fill (buf, MiB, BASE_SEED, off);
    tu_pwrite (base, buf, MiB, off);
  }
  tu_create (top, NULL, "base.raw", "raw", CS, 0);
  img = tu_open (top, true);
  for (off = 3 * CS; off < DISK; off += 7 * CS) {
    tu_fill (buf, CS, TOP_SEED, off);
    ck_assert_int_eq (addcow_pwrite (img, buf, CS, off), 0);
  }
  ck_assert_int_eq (addcow_flush (img), 0);
  make_queries ();

  for (t = 0; t < NWRITERS; t++) {
    wr[t].w = t;
    for (i = 0; i < MiB; i++)
      wr[t].model[i] = expected_byte (SHARED_END + t * MiB + i);
    ck_assert_int_eq (pthread_create (&wt[t], NULL, writer, &wr[t]), 0);
  }
  for (t = 0; t < NREADERS; t++)
    ck_assert_int_eq (pthread_create (&rt[t], NULL, reader,
                                      (void *) (uintptr_t) t), 0);
  ck_assert_int_eq (pthread_create (&ft, NULL, flusher, NULL), 0);
  for (t = 0; t < NREADERS; t++)
    pthread_join (rt[t], NULL);
  for (t = 0; t < NWRITERS; t++)
    pthread_join (wt[t], NULL);
  atomic_store (&stop_flushing, true);
  pthread_join (ft, NULL);

  ck_assert_uint_eq (errors, 0);
  ck_assert_msg (wrong_status == 0, "%u wrong block status answers",
                 (unsigned) wrong_status);
  ck_assert_msg (wrong_alloc == 0, "%u wrong allocation answers",
                 (unsigned) wrong_alloc);
  ck_assert_msg (wrong_read == 0, "%u wrong reads", (unsigned) wrong_read);
  check_writers (wr);

  ck_assert_int_eq (addcow_close (img), 0);
  img = tu_open (top, false);
  check_writers (wr);
  ck_assert_int_eq (addcow_close (img), 0);

  free (buf);
  free (wr);
  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

/* Writers sharing clusters: writer W owns the W-th quarter of every
 * cluster of [0, SAME_LEN) and writes pieces of it in its own order, so
 * that copies-on-write of one cluster race each other (and a flusher). */
#define SAME_LEN (2 * MiB)
#define SAME_WRITERS 4

struct same_writer {
  unsigned w;
  uint8_t *model;               /* shared: each writer touches its bytes */
};

static void *
same_writer (void *arg)
{
  struct same_writer *sw = arg;
  uint64_t s = 991 + sw->w, q = CS / SAME_WRITERS;
  uint8_t buf[CS / SAME_WRITERS];
  unsigned i;

  for (i = 0; i < 3 * SAME_LEN / CS; i++) {
    uint64_t c = next_rand (&s) % (SAME_LEN / CS);
    uint64_t lo = next_rand (&s) % q, n = 1 + next_rand (&s) % (q - lo);
    uint64_t off = c * CS + sw->w * q + lo;
    tu_fill (buf, n, 7 + sw->w * 100 + i, off);
    memcpy (sw->model + off, buf, n);
    if (addcow_pwrite (img, buf, n, off) < 0)
      errors++;
  }
  return NULL;
}

/* Run SAME_WRITERS threads of FN over the image (img, open read-write on
 * TOP; closed here) beside a flusher, then check that the disk reads MODEL, before
 * and after reopening; LOST says what went wrong if not. */
static void
run_writers (const char *top, void *(*fn) (void *),
             uint8_t *model, const char *lost)
{
  struct same_writer sw[SAME_WRITERS];
  pthread_t t[SAME_WRITERS], ft;
  uint8_t *back = malloc (SAME_LEN);
  unsigned w, pass;

  ck_assert_ptr_nonnull (back);
  errors = 0;
  atomic_store (&stop_flushing, false);
  for (w = 0; w < SAME_WRITERS; w++) {
    sw[w] = (struct same_writer) { w, model };
    ck_assert_int_eq (pthread_create (&t[w], NULL, fn, &sw[w]), 0);
  }
  ck_assert_int_eq (pthread_create (&ft, NULL, flusher, NULL), 0);
  for (w = 0; w < SAME_WRITERS; w++)
    pthread_join (t[w], NULL);
  atomic_store (&stop_flushing, true);
  pthread_join (ft, NULL);
  ck_assert_uint_eq (errors, 0);
  for (pass = 0; pass < 2; pass++) {
    if (pass == 1)
      img = tu_open (top, false);
    ck_assert_int_eq (addcow_pread (img, back, SAME_LEN, 0), 0);
    ck_assert_msg (memcmp (back, model, SAME_LEN) == 0, "%s%s", lost,
                   pass ? " (after reopening)" : "");
    ck_assert_int_eq (addcow_close (img), 0);
  }
  free (back);
}

START_TEST (test_writers_share_clusters)
{
  char *dir = tu_mkdtemp ();
  char *base = tu_join (dir, "base.raw"), *top = tu_join (dir, "vm.add-cow");
  uint8_t *model = malloc (SAME_LEN);

  tu_make_file (base, SAME_LEN, BASE_SEED);
  tu_fill (model, SAME_LEN, BASE_SEED, 0);
  tu_create (top, NULL, "base.raw", "raw", CS, 0);
  img = tu_open (top, true);
  run_writers (top, same_writer, model,
               "a write into a shared cluster was lost");

  free (model);
  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

/* Writers whose pieces straddle cluster boundaries, over clusters of which
 * every third is allocated: many of the writes copy on write under a claim
 * (the clusters they touch are all unallocated), the others (and the
 * zeroings) reach an allocated cluster as well and so take the exclusive
 * lock -- into clusters another writer may hold a claim on.  Writer W owns
 * [c CS + W q + q/2, + q) of each cluster c but the last (q = CS/4), so
 * writer 3's bytes run into the next cluster. */
#define STRADDLE_CLUSTERS (SAME_LEN / CS)

/* A whole-cluster write that takes its time, so that others queue up for
 * the exclusive lock while a claim is held. */
static ssize_t
slow_pwrite (void *opaque, int fd, const void *buf, size_t count,
             off_t offset)
{
  (void) opaque;
  if (count == CS)
    usleep (200);
  return pwrite (fd, buf, count, offset);
}

static void *
straddling_writer (void *arg)
{
  struct same_writer *sw = arg;
  uint64_t s = 4711 + sw->w, q = CS / SAME_WRITERS;
  uint8_t buf[CS / SAME_WRITERS];
  unsigned i;

  for (i = 0; i < 4 * STRADDLE_CLUSTERS; i++) {
    uint64_t c = next_rand (&s) % (STRADDLE_CLUSTERS - 1);
    uint64_t lo = next_rand (&s) % q, n = 1 + next_rand (&s) % (q - lo);
    uint64_t off = c * CS + sw->w * q + q / 2 + lo;
    if (next_rand (&s) % 4 == 0) {
      memset (sw->model + off, 0, n);
      if (addcow_pwrite_zeroes (img, n, off) < 0)
        errors++;
    }
    else {
      tu_fill (buf, n, 9 + sw->w * 100 + i, off);
      memcpy (sw->model + off, buf, n);
      if (addcow_pwrite (img, buf, n, off) < 0)
        errors++;
    }
  }
  return NULL;
}

START_TEST (test_claims_and_exclusive_writers)
{
  char *dir = tu_mkdtemp ();
  char *base = tu_join (dir, "base.raw"), *top = tu_join (dir, "vm.add-cow");
  uint8_t *model = malloc (SAME_LEN);
  struct addcow_io io = { .pwrite = slow_pwrite };
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  uint64_t c;

  tu_make_file (base, SAME_LEN, BASE_SEED);
  tu_fill (model, SAME_LEN, BASE_SEED, 0);
  tu_create (top, NULL, "base.raw", "raw", CS, 0);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &io;
  ck_assert_int_eq (addcow_open (top, &o, &img), 0);
  for (c = 0; c < STRADDLE_CLUSTERS; c += 3) {
    tu_fill (model + c * CS, CS, TOP_SEED, c * CS);
    ck_assert_int_eq (addcow_pwrite (img, model + c * CS, CS, c * CS), 0);
  }
  run_writers (top, straddling_writer, model,
               "a write was lost between copy-on-write and an exclusive "
               "writer");

  free (model);
  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

/* A data sync of the image file that fails while a copy-on-write has
 * written its cluster but not yet set its bit: the write fails and the
 * cluster stays unallocated (its data may be lost with the failed
 * writeback).  The flush runs while the image file's pwrite returns, when
 * the write holds its claim (and the shared lock). */
static struct addcow *sync_fail_h;
static atomic_bool sync_fail_armed, syncs_fail;
static int sync_fail_flush_r;

static void *
flush_thread (void *arg)
{
  (void) arg;
  sync_fail_flush_r = addcow_flush (sync_fail_h);
  return NULL;
}

/* A flush from another thread, waited for (as a connection beside the
 * writer's would), holding no lock of the writer's thread. */
static ssize_t
flush_in_pwrite (void *opaque, int fd, const void *buf, size_t count,
                 off_t offset)
{
  ssize_t r = pwrite (fd, buf, count, offset);
  pthread_t t;

  (void) opaque;
  if (atomic_exchange (&sync_fail_armed, false)
      && pthread_create (&t, NULL, flush_thread, NULL) == 0)
    pthread_join (t, NULL);
  return r;
}

static int
failing_fdatasync (void *opaque, int fd)
{
  (void) opaque;
  if (!atomic_load (&syncs_fail))
    return fdatasync (fd);
  errno = EIO;
  return -1;
}

START_TEST (test_sync_failure_during_claim)
{
  char *dir = tu_mkdtemp ();
  char *top = tu_join (dir, "vm.add-cow"), *base = tu_join (dir, "b.raw");
  struct addcow_io io = { .pwrite = flush_in_pwrite,
                          .fdatasync = failing_fdatasync };
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  uint8_t buf[4096], back[CS], want[CS];
  uint64_t len;

  tu_make_file (base, MiB, 3);
  tu_fill (want, CS, 3, CS);
  tu_create (top, NULL, "b.raw", "raw", CS, 0);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &io;
  ck_assert_int_eq (addcow_open (top, &o, &sync_fail_h), 0);
  memset (buf, 0x5a, sizeof buf);
  /* Cluster 0 allocated and flushed, then written again: a flush has
   * data to sync but no bit to write, so it syncs under the shared lock. */
  ck_assert_int_eq (addcow_pwrite (sync_fail_h, buf, sizeof buf, 0), 0);
  ck_assert_int_eq (addcow_flush (sync_fail_h), 0);
  ck_assert_int_eq (addcow_pwrite (sync_fail_h, buf, 1, 0), 0);
  atomic_store (&syncs_fail, true);
  atomic_store (&sync_fail_armed, true);
  ck_assert_int_eq (addcow_pwrite (sync_fail_h, buf, sizeof buf, CS + 100),
                    -EIO);
  ck_assert_int_eq (sync_fail_flush_r, -EIO);
  ck_assert_int_eq (addcow_is_allocated (sync_fail_h, CS, CS, &len), 0);
  ck_assert_int_eq (addcow_pread (sync_fail_h, back, CS, CS), 0);
  ck_assert_msg (memcmp (back, want, CS) == 0,
                 "the cluster no longer reads the backing file's bytes");
  atomic_store (&syncs_fail, false);
  ck_assert_int_eq (addcow_close (sync_fail_h), 0);

  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

/* A copy-on-write sets its bits beside a read in progress: it does not
 * wait for every request under the shared lock to end (with many in
 * flight, waiting for all of them to drain before each copy-on-write, and
 * holding back new ones meanwhile, made 4 connections slower than one).
 * The read blocks in the image file's pread until the write is done; a
 * write that waited for it would never end, so after 30 s the read is let
 * go and the test fails. */
static atomic_bool read_armed;
static sem_t read_blocked, read_release, cow_done;

static ssize_t
blocking_pread (void *opaque, int fd, void *buf, size_t count, off_t offset)
{
  (void) opaque;
  if (atomic_exchange (&read_armed, false)) {
    sem_post (&read_blocked);
    sem_wait (&read_release);
  }
  return pread (fd, buf, count, offset);
}

static void *
blocked_reader (void *arg)
{
  uint8_t buf[4096];

  if (addcow_pread (arg, buf, sizeof buf, 0) != 0)
    errors++;
  return NULL;
}

static int cow_r = 1;

static void *
cow_writer (void *arg)
{
  uint8_t buf[4096];

  memset (buf, 0x77, sizeof buf);
  cow_r = addcow_pwrite (arg, buf, sizeof buf, CS + 100);
  sem_post (&cow_done);
  return NULL;
}

START_TEST (test_cow_beside_read_in_progress)
{
  char *dir = tu_mkdtemp ();
  char *top = tu_join (dir, "vm.add-cow"), *base = tu_join (dir, "b.raw");
  struct addcow_io io = { .pread = blocking_pread };
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  uint8_t buf[4096], back[CS], want[CS];
  struct timespec deadline;
  pthread_t rt, wt;
  struct addcow *h;
  bool done;
  int r;

  tu_make_file (base, MiB, 3);
  tu_fill (want, CS, 3, CS);
  memset (want + 100, 0x77, sizeof buf);
  tu_create (top, NULL, "b.raw", "raw", CS, 0);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &io;
  ck_assert_int_eq (addcow_open (top, &o, &h), 0);
  memset (buf, 0x5a, sizeof buf);
  ck_assert_int_eq (addcow_pwrite (h, buf, sizeof buf, 0), 0);
  sem_init (&read_blocked, 0, 0);
  sem_init (&read_release, 0, 0);
  sem_init (&cow_done, 0, 0);
  errors = 0;
  atomic_store (&read_armed, true);
  ck_assert_int_eq (pthread_create (&rt, NULL, blocked_reader, h), 0);
  sem_wait (&read_blocked);     /* the read holds the shared lock */
  ck_assert_int_eq (pthread_create (&wt, NULL, cow_writer, h), 0);
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 30;
  do
    r = sem_timedwait (&cow_done, &deadline);
  while (r < 0 && errno == EINTR);
  done = r == 0;
  sem_post (&read_release);
  pthread_join (rt, NULL);
  pthread_join (wt, NULL);
  ck_assert_msg (done, "a copy-on-write waited for a read in progress");
  ck_assert_int_eq (cow_r, 0);
  ck_assert_uint_eq (errors, 0);
  ck_assert_int_eq (addcow_pread (h, back, CS, CS), 0);
  ck_assert_msg (memcmp (back, want, CS) == 0,
                 "the copied cluster does not hold the backing bytes "
                 "around the write");
  ck_assert_int_eq (addcow_close (h), 0);
  sem_destroy (&read_blocked);
  sem_destroy (&read_release);
  sem_destroy (&cow_done);

  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

/* Count the fdatasyncs of each descriptor. */
static atomic_uint datasyncs;

static int
count_fdatasync (void *opaque, int fd)
{
  (void) opaque;
  datasyncs++;
  return fdatasync (fd);
}

START_TEST (test_flush_only_what_was_written)
{
  char *dir = tu_mkdtemp ();
  char *top = tu_join (dir, "vm.add-cow"), *base = tu_join (dir, "b.raw");
  struct addcow_io io = { .fdatasync = count_fdatasync };
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  uint8_t buf[4096];
  struct addcow *h;

  tu_make_file (base, MiB, 3);  /* a backing file: bits to write */
  tu_create (top, NULL, "b.raw", "raw", CS, 0);
  o.flags = ADDCOW_OPEN_WRITE;
  o.io = &io;
  ck_assert_int_eq (addcow_open (top, &o, &h), 0);
  memset (buf, 0x5a, sizeof buf);

  datasyncs = 0;
  ck_assert_int_eq (addcow_flush (h), 0);       /* nothing written yet */
  ck_assert_uint_eq (datasyncs, 0);
  ck_assert_int_eq (addcow_pwrite (h, buf, sizeof buf, 0), 0);
  ck_assert_int_eq (addcow_flush (h), 0);       /* data, then bitmap */
  ck_assert_uint_eq (datasyncs, 2);
  ck_assert_int_eq (addcow_flush (h), 0);
  ck_assert_int_eq (addcow_flush (h), 0);
  ck_assert_uint_eq (datasyncs, 2);
  ck_assert_int_eq (addcow_pwrite (h, buf, sizeof buf, 4096), 0);
  ck_assert_int_eq (addcow_flush (h), 0);       /* allocated: data only */
  ck_assert_uint_eq (datasyncs, 3);
  ck_assert_int_eq (addcow_pwrite_zeroes (h, 100, 8192), 0);
  ck_assert_int_eq (addcow_flush (h), 0);
  ck_assert_uint_eq (datasyncs, 4);
  ck_assert_int_eq (addcow_close (h), 0);

  free (base);
  free (top);
  tu_rmtree (dir);
  free (dir);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("threads");
  TCase *tc = tcase_create ("threads");

  tcase_set_timeout (tc, 240);
  tcase_add_test (tc, test_many_threads);
  tcase_add_test (tc, test_writers_share_clusters);
  tcase_add_test (tc, test_flush_only_what_was_written);
  tcase_add_test (tc, test_claims_and_exclusive_writers);
  tcase_add_test (tc, test_sync_failure_during_claim);
  tcase_add_test (tc, test_cow_beside_read_in_progress);
  suite_add_tcase (s, tc);
  return tu_run (s);
}
