/*
 * test-qcow2-table.c - lib/qcow2/qcow2-table.c: qcow2_zero_prefix, the
 * fast skip over all-zero L2 entries; and lib/qcow2/qcow2-prefetch.c,
 * the tables read ahead on a thread.
 *
 * For every length up to a few 64-byte blocks, every start alignment of
 * the buffer and every place of a single non-zero byte (the first and
 * last byte of a word, of a 64-byte block, of the buffer): the answer is
 * the zero bytes before the word holding it; never a byte past LEN read
 * (the buffer ends exactly at LEN, ASan watches); all-zero: LEN.
 *
 * A table's summary (qcow2_summarise, qcow2_summary_zero_run), for a
 * small cluster (one summary word) and one with several: with one
 * non-zero byte anywhere and every range asked about, the answer is
 * qcow2_zero_prefix's on that range.
 *
 * The read-ahead, on a file of numbered clusters: a cluster asked for is
 * taken with its bytes (the caller's buffer given in exchange), once; one
 * never asked for, or whose read failed, is not taken and the caller's
 * buffer stays; a request finding every buffer busy is dropped, and one
 * finding them all read and never taken reuses the oldest.  The suite
 * also runs under ASan and LSan (every buffer freed, the thread joined).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcow2/qcow2.h"
#include "testutil.h"

#define MAX_WORDS 40            /* five 64-byte blocks */

/* qcow2_zero_prefix of LEN bytes that end exactly where a malloc'd block
 * ends, starting SHIFT bytes into it, with byte NZ (< LEN, or LEN for
 * none) non-zero. */
static size_t
prefix (size_t len, size_t shift, size_t nz)
{
  uint8_t *b = malloc (shift + len + 1), *p = b + shift;
  size_t r;

  ck_assert_ptr_nonnull (b);
  memset (b, 0xff, shift);      /* before the buffer: must not count */
  memset (p, 0, len);
  if (nz < len)
    p[nz] = 0x01;
  r = qcow2_zero_prefix (p, len);
  free (b);
  return r;
}

START_TEST (test_all_zero)
{
  size_t w, shift;

  for (w = 0; w <= MAX_WORDS; w++)
    for (shift = 0; shift < 16; shift += 8)
      ck_assert_uint_eq (prefix (w * 8, shift, w * 8), w * 8);
}
END_TEST

START_TEST (test_one_nonzero_byte)
{
  size_t w, nz, shift;

  for (w = 1; w <= MAX_WORDS; w++)
    for (shift = 0; shift < 16; shift += 8)
      for (nz = 0; nz < w * 8; nz++)
        ck_assert_msg (prefix (w * 8, shift, nz) == nz / 8 * 8,
                       "len %zu, non-zero byte %zu: %zu", w * 8, nz,
                       prefix (w * 8, shift, nz));
}
END_TEST

/* A whole table: a word at its first and at its last slot. */
START_TEST (test_table_edges)
{
  size_t len = 65536;
  uint8_t *t = calloc (1, len);

  ck_assert_ptr_nonnull (t);
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), len);
  t[len - 1] = 0x80;
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), len - 8);
  ck_assert_uint_eq (qcow2_zero_prefix (t, len - 8), len - 8);
  t[0] = 0x01;
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), 0);
  ck_assert_uint_eq (qcow2_zero_prefix (t + 8, len - 8), len - 16);
  free (t);
}
END_TEST

/* The summary's answer against the plain scan's, for a table of CS
 * bytes with byte NZ (or none: CS) non-zero, from FROM to every TO. */
static void
assert_summary_run (uint8_t *t, size_t cs, size_t nz, size_t from,
                    size_t step)
{
  size_t to;

  for (to = from; to <= cs; to += step) {
    size_t want = qcow2_zero_prefix (t + from, to - from);
    size_t got = qcow2_summary_zero_run (t, cs, from, to);
    ck_assert_msg (got == want, "cluster %zu, non-zero byte %zu, "
                   "[%zu, %zu): %zu, not %zu", cs, nz, from, to, got, want);
  }
}

static void
summary_case (size_t cs, size_t nz, size_t step)
{
  uint8_t *t = calloc (1, qcow2_table_buffer_bytes (cs));
  size_t from;

  ck_assert_ptr_nonnull (t);
  memset (t + cs, 0xff, qcow2_table_buffer_bytes (cs) - cs);  /* stale */
  if (nz < cs)
    t[nz] = 0x10;
  qcow2_summarise (t, cs);
  for (from = 0; from <= cs; from += step)
    assert_summary_run (t, cs, nz, from, step);
  if (nz < cs)                  /* right at the word that holds it */
    assert_summary_run (t, cs, nz, nz / 8 * 8, 8);
  free (t);
}

START_TEST (test_summary_small_cluster)
{
  size_t nz;

  for (nz = 0; nz <= 512; nz++)
    summary_case (512, nz, 8);
}
END_TEST

/* Several summary words: the non-zero byte at the edges of blocks, of
 * summary words and of the table. */
START_TEST (test_summary_words)
{
  static const size_t at[] = {
    0, 7, 8, 63, 64, 4095, 4096, 4103, 8191, 8192, 12345, 16383,
    16384 /* none */ };
  size_t i;

  for (i = 0; i < sizeof at / sizeof at[0]; i++)
    summary_case (16384, at[i], 512);
}
END_TEST

#define PCS 4096u              /* the clusters of the read-ahead tests */
#define PCLUSTERS 12u

/* A file of PCLUSTERS clusters, cluster I all bytes I; open read-only. */
static int
numbered_file (void)
{
  char *dir = tu_mkdtemp (), *path = tu_join (dir, "tables");
  uint8_t *b = malloc (PCS * PCLUSTERS);
  unsigned i;
  int fd;

  ck_assert_ptr_nonnull (b);
  for (i = 0; i < PCLUSTERS; i++)
    memset (b + i * PCS, (int) i, PCS);
  tu_write_file (path, b, PCS * PCLUSTERS);
  fd = open (path, O_RDONLY);
  ck_assert_int_ge (fd, 0);
  free (b);
  free (path);
  free (dir);
  return fd;
}

static void
assert_cluster (const uint8_t *b, unsigned i)
{
  unsigned k;

  for (k = 0; k < PCS; k++)
    ck_assert_uint_eq (b[k], i);
}

/* Wait until every buffer of P is read (READY). */
static void
wait_all_ready (struct qcow2_prefetch *p)
{
  unsigned i, ready;

  for (;;) {
    pthread_mutex_lock (&p->lock);
    for (i = ready = 0; i < p->depth; i++)
      ready += p->b[i].state == QCOW2_PF_READY;
    pthread_mutex_unlock (&p->lock);
    if (ready == p->depth)
      return;
    usleep (1000);
  }
}

/* P reads ahead from FD through IO: clusters 1 to QCOW2_PREFETCH_MAX
 * asked for, and all of them read. */
static void
prefetch_all_read (struct qcow2_prefetch *p, struct addcow_io *io, int fd)
{
  unsigned i;

  io_init (io, NULL);
  qcow2_prefetch_init (p, io, fd, PCS);
  for (i = 1; i <= QCOW2_PREFETCH_MAX; i++)
    qcow2_prefetch_request (p, i * PCS);
  wait_all_ready (p);
}

START_TEST (test_prefetch_take)
{
  struct addcow_io io;
  struct qcow2_prefetch p;
  uint8_t *mine = malloc (qcow2_table_buffer_bytes (PCS)), *keep = mine;
  int fd = numbered_file ();
  unsigned i;

  ck_assert_ptr_nonnull (mine);
  io_init (&io, NULL);
  qcow2_prefetch_init (&p, &io, fd, PCS);
  ck_assert_uint_eq (p.depth, QCOW2_PREFETCH_MAX);
  /* Nothing asked for: no thread, nothing taken. */
  ck_assert (!qcow2_prefetch_take (&p, 0, &mine));
  ck_assert_ptr_eq (mine, keep);
  for (i = 1; i <= QCOW2_PREFETCH_MAX; i++)
    qcow2_prefetch_request (&p, i * PCS);
  qcow2_prefetch_request (&p, 2 * PCS);     /* already asked for */
  ck_assert (qcow2_prefetch_take (&p, 2 * PCS, &mine));
  ck_assert_ptr_ne (mine, keep);            /* exchanged */
  assert_cluster (mine, 2);
  ck_assert_uint_eq (qcow2_summary_zero_run (mine, PCS, 0, PCS), 0);
  ck_assert (!qcow2_prefetch_take (&p, 2 * PCS, &mine));    /* once */
  ck_assert (!qcow2_prefetch_take (&p, 9 * PCS, &mine));    /* never */
  ck_assert (qcow2_prefetch_take (&p, 4 * PCS, &mine));
  assert_cluster (mine, 4);
  ck_assert (qcow2_prefetch_take (&p, 1 * PCS, &mine));
  assert_cluster (mine, 1);
  /* A NULL buffer given in exchange: the thread makes a new one. */
  free (mine);
  mine = NULL;
  ck_assert (qcow2_prefetch_take (&p, 3 * PCS, &mine));
  assert_cluster (mine, 3);
  qcow2_prefetch_request (&p, 5 * PCS);
  ck_assert (qcow2_prefetch_take (&p, 5 * PCS, &mine));
  assert_cluster (mine, 5);
  qcow2_prefetch_free (&p);
  free (mine);
  close (fd);
}
END_TEST

START_TEST (test_prefetch_full)
{
  struct addcow_io io;
  struct qcow2_prefetch p;
  uint8_t *mine = NULL;
  int fd = numbered_file ();

  prefetch_all_read (&p, &io, fd);
  /* All read, none taken: the oldest (cluster 1) gives way. */
  qcow2_prefetch_request (&p, 10 * PCS);
  ck_assert (!qcow2_prefetch_take (&p, 1 * PCS, &mine));
  ck_assert_ptr_null (mine);
  ck_assert (qcow2_prefetch_take (&p, 10 * PCS, &mine));
  assert_cluster (mine, 10);
  ck_assert (qcow2_prefetch_take (&p, 2 * PCS, &mine));
  assert_cluster (mine, 2);
  qcow2_prefetch_free (&p);     /* with clusters 3 and 4 never taken */
  free (mine);
  close (fd);
}
END_TEST

START_TEST (test_prefetch_failed_read)
{
  struct addcow_io io;
  struct qcow2_prefetch p;
  uint8_t *mine = malloc (qcow2_table_buffer_bytes (PCS)), *keep = mine;

  ck_assert_ptr_nonnull (mine);
  io_init (&io, NULL);
  qcow2_prefetch_init (&p, &io, -1, PCS);   /* every read fails */
  qcow2_prefetch_request (&p, PCS);
  ck_assert (!qcow2_prefetch_take (&p, PCS, &mine));
  ck_assert_ptr_eq (mine, keep);
  qcow2_prefetch_free (&p);
  free (mine);
}
END_TEST

/* The child of a fork has no read-ahead thread, and its copy of the lock
 * is held for ever here (the parent held it at the fork): the child must
 * read without waiting for either.  Its checks exit with a code (Check's
 * own asserts belong to the parent); a hang ends with SIGALRM. */
static int
child_after_fork (struct qcow2_prefetch *p)
{
  uint8_t *mine = NULL;

  alarm (10);
  qcow2_prefetch_request (p, 6 * PCS);      /* dropped, no thread here */
  if (qcow2_prefetch_take (p, 6 * PCS, &mine))
    return 2;
  if (qcow2_prefetch_take (p, 3 * PCS, &mine))  /* read in the parent */
    return 3;
  qcow2_prefetch_free (p);
  return mine ? 4 : 0;
}

START_TEST (test_prefetch_after_fork)
{
  struct addcow_io io;
  struct qcow2_prefetch p;
  uint8_t *mine = NULL;
  int fd = numbered_file (), status;
  pid_t pid;

  prefetch_all_read (&p, &io, fd);
  pthread_mutex_lock (&p.lock);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    _exit (child_after_fork (&p));
  pthread_mutex_unlock (&p.lock);
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                 "child: status %#x", (unsigned) status);
  /* The parent's thread goes on serving it. */
  ck_assert (qcow2_prefetch_take (&p, 3 * PCS, &mine));
  assert_cluster (mine, 3);
  qcow2_prefetch_request (&p, 7 * PCS);
  ck_assert (qcow2_prefetch_take (&p, 7 * PCS, &mine));
  assert_cluster (mine, 7);
  qcow2_prefetch_free (&p);
  free (mine);
  close (fd);
}
END_TEST

/* Large clusters: one buffer, at most QCOW2_PREFETCH_BYTES or one
 * cluster. */
START_TEST (test_prefetch_depth)
{
  struct addcow_io io;
  struct qcow2_prefetch p;

  io_init (&io, NULL);
  qcow2_prefetch_init (&p, &io, -1, UINT32_C (2) << 20);
  ck_assert_uint_eq (p.depth, 1);
  qcow2_prefetch_free (&p);
  qcow2_prefetch_init (&p, &io, -1, UINT32_C (64) << 10);
  ck_assert_uint_eq (p.depth, 4);
  qcow2_prefetch_free (&p);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("qcow2-table");
  TCase *tc = tcase_create ("zero-prefix");

  tcase_add_test (tc, test_all_zero);
  tcase_add_test (tc, test_one_nonzero_byte);
  tcase_add_test (tc, test_table_edges);
  tcase_add_test (tc, test_summary_small_cluster);
  tcase_add_test (tc, test_summary_words);
  suite_add_tcase (s, tc);
  tc = tcase_create ("prefetch");
  tcase_add_test (tc, test_prefetch_take);
  tcase_add_test (tc, test_prefetch_full);
  tcase_add_test (tc, test_prefetch_failed_read);
  tcase_add_test (tc, test_prefetch_depth);
  tcase_add_test (tc, test_prefetch_after_fork);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
