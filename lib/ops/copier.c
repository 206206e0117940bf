/*
 * copier.c - the bulk copier of commit and rebase: several copies (and
 * hole punches) in flight at once.
 *
 * One copy_file_range at a time reads a cold, fragmented source one run
 * after the other and leaves the disk idle between them; a few threads
 * each copying a piece keep its queue full (bench/commit-rebase.sh, 1 GiB
 * in 12,455 runs, cold: commit -d 1.59 s, from 1.95-2.96 s before; see
 * bench/README.md).
 *
 * Jobs are taken in order but finish in any order, so a caller must
 * copier_wait before anything that depends on them - above all before the
 * sync that makes them durable (spec 7).  The first error sticks: later
 * jobs are dropped and every later call returns it.
 *
 * Threads start at the first job, so an operation that queues nothing
 * starts none.  A copier built over a user's I/O table (tests: fault
 * injection, the crash model) has no threads: it runs the queued jobs in
 * order, in the calling thread, when its queue is full and at copier_wait.
 * Such tables need not be thread-safe, and the jobs still run late, as on
 * threads, so the crash tests catch a sync that does not wait for them.
 *
 * Data that must be read through a layer's driver (compressed qcow2
 * clusters) or from another offset of a plain file where extents cannot be
 * shared is a read job: a worker reads a piece into a buffer of its own
 * (layer->ops->read is safe on several threads at once) and writes it, so
 * several pieces decompress at once, one per core.  Its pieces stay below
 * the size at which the qcow2 driver splits a read over threads of its own
 * (lib/qcow2/qcow2-layer.c, PARALLEL_MIN_BYTES): the copier's threads are
 * the only ones, and none waits for another.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "util/checked.h"
#include "internal.h"

#define COPIER_THREADS 8
#define COPIER_QUEUE 32
#define COPIER_PIECE (UINT64_C (1) << 20)       /* bytes per copy job */
/* Bytes per read job: small enough that the qcow2 driver reads it in the
 * calling worker (below its 1 MiB), large enough to cost little per job;
 * at least one cluster of the layer (so no cluster is decompressed twice),
 * and never more than the largest qcow2 cluster. */
#define READ_PIECE (UINT64_C (512) << 10)
#define READ_PIECE_MAX (UINT64_C (2) << 20)

enum job_kind { JOB_COPY, JOB_PUNCH, JOB_READ };

struct job {
  enum job_kind kind;
  int src_fd, dst_fd;           /* JOB_PUNCH: dst_fd only; JOB_READ:
                                 * src_fd -1 when LAYER reads */
  uint64_t len, offset;         /* in DST_FD (and, JOB_READ, the disk) */
  uint64_t src_offset;          /* JOB_COPY, JOB_READ from SRC_FD */
  struct layer *layer;          /* JOB_READ through this layer, or NULL */
};

struct copier {
  struct addcow_io io;
  bool threaded;                /* the system calls: threads may run jobs */
  bool started;                 /* start_threads was called */
  unsigned nthreads;            /* 0: jobs run inline (see above) */
  pthread_t threads[COPIER_THREADS];
  pthread_mutex_t lock;
  pthread_cond_t work;          /* a job was queued, or stop */
  pthread_cond_t space;         /* the queue has room */
  pthread_cond_t idle;          /* the queue is empty, no job runs */
  struct job queue[COPIER_QUEUE];
  unsigned head, count, running;
  bool stop;
  int error;                    /* the first -errno, 0 */
  enum job_kind error_kind;     /* ... and what failed */
  uint8_t *inline_buf;          /* read jobs run inline: their buffer */
};

/* Read the piece J names into *BUF (READ_PIECE_MAX bytes, made on first
 * use, owned by the running thread) and write it out. */
static int
run_read (const struct addcow_io *io, const struct job *j, uint8_t **buf)
{
  struct source s = { .fd = j->src_fd, .len = j->len,
                      .file_offset = j->src_offset, .layer = j->layer };
  int r;

  if (!*buf && !(*buf = malloc ((size_t) READ_PIECE_MAX)))
    return -ENOMEM;
  if ((r = source_read (&s, io, *buf, (size_t) j->len, j->offset)) < 0)
    return r;
  return io_write (io, j->dst_fd, *buf, (size_t) j->len, j->offset);
}

static int
run_job (const struct addcow_io *io, const struct job *j, uint8_t **buf)
{
  switch (j->kind) {
  case JOB_PUNCH:
    return punch_if_possible (io, j->dst_fd, j->offset, j->len);
  case JOB_READ:
    return run_read (io, j, buf);
  case JOB_COPY:
    break;
  }
  return io_copy_at (io, j->src_fd, j->src_offset, j->dst_fd, j->offset,
                     j->len);
}

static void
record_error (struct copier *c, int r, enum job_kind kind)
{
  if (r < 0 && c->error == 0) {
    c->error = r;
    c->error_kind = kind;
  }
}

static void *
worker (void *arg)
{
  struct copier *c = arg;
  uint8_t *buf = NULL;          /* this worker's, for read jobs */
  struct job j;
  int r;

  pthread_mutex_lock (&c->lock);
  for (;;) {
    while (!c->stop && c->count == 0)
      pthread_cond_wait (&c->work, &c->lock);
    if (c->count == 0)
      break;                    /* stopping, and nothing left */
    j = c->queue[c->head];
    c->head = (c->head + 1) % COPIER_QUEUE;
    c->count--;
    c->running++;
    pthread_cond_signal (&c->space);
    if (c->error == 0) {        /* after an error, drop the rest */
      pthread_mutex_unlock (&c->lock);
      r = run_job (&c->io, &j, &buf);
      pthread_mutex_lock (&c->lock);
      record_error (c, r, j.kind);
    }
    if (--c->running == 0 && c->count == 0)
      pthread_cond_broadcast (&c->idle);
  }
  pthread_mutex_unlock (&c->lock);
  free (buf);
  return NULL;
}

/* Start up to WANT threads, with every signal blocked in them: SIGINT and
 * SIGTERM must reach the thread that checks for cancellation. */
static void
start_threads (struct copier *c, unsigned want)
{
  sigset_t all, old;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  while (c->nthreads < want
         && pthread_create (&c->threads[c->nthreads], NULL, worker, c) == 0)
    c->nthreads++;
  pthread_sigmask (SIG_SETMASK, &old, NULL);
}

int
copier_new (const struct addcow_io *io, struct copier **cp)
{
  struct copier *c = calloc (1, sizeof *c);

  if (!c)
    return -ENOMEM;
  c->io = *io;
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->work, NULL);
  pthread_cond_init (&c->space, NULL);
  pthread_cond_init (&c->idle, NULL);
  c->threaded = io_is_system (io);
  *cp = c;
  return 0;
}

/* Without threads: run what is queued, in order, in this thread. */
static void
run_queued (struct copier *c)
{
  struct job j;

  while (c->count > 0) {
    j = c->queue[c->head];
    c->head = (c->head + 1) % COPIER_QUEUE;
    c->count--;
    if (c->error == 0)
      record_error (c, run_job (&c->io, &j, &c->inline_buf), j.kind);
  }
}

static int
submit (struct copier *c, const struct job *j)
{
  int r;

  if (c->threaded && !c->started) {
    c->started = true;
    start_threads (c, COPIER_THREADS);  /* none started: run inline */
  }
  pthread_mutex_lock (&c->lock);
  if (c->nthreads == 0 && c->count == COPIER_QUEUE)
    run_queued (c);
  while (c->error == 0 && c->count == COPIER_QUEUE)
    pthread_cond_wait (&c->space, &c->lock);
  if (c->error == 0) {
    c->queue[(c->head + c->count) % COPIER_QUEUE] = *j;
    c->count++;
    pthread_cond_signal (&c->work);
  }
  r = c->error;
  pthread_mutex_unlock (&c->lock);
  return r;
}

/* Queue J for [offset, offset+len) in pieces of at most PIECE bytes (a
 * power of two) that end on its multiples, J's source moving along. */
static int
submit_pieces (struct copier *c, struct job *j, uint64_t len,
               uint64_t offset, uint64_t piece)
{
  int r;

  while (len > 0) {
    j->offset = offset;
    j->len = min_u64 (len, piece - (offset & (piece - 1)));
    if ((r = submit (c, j)) < 0)
      return r;
    offset += j->len;
    j->src_offset += j->len;
    len -= j->len;
  }
  return 0;
}

int
copier_copy (struct copier *c, int src_fd, int dst_fd, uint64_t len,
             uint64_t offset)
{
  return copier_copy_at (c, src_fd, offset, dst_fd, len, offset);
}

int
copier_copy_at (struct copier *c, int src_fd, uint64_t src_offset,
                int dst_fd, uint64_t len, uint64_t offset)
{
  struct job j = { .kind = JOB_COPY, .src_fd = src_fd, .dst_fd = dst_fd,
                   .src_offset = src_offset };

  return submit_pieces (c, &j, len, offset, COPIER_PIECE);
}

int
copier_read (struct copier *c, const struct source *s, int dst_fd,
             uint64_t offset)
{
  struct job j = { .kind = JOB_READ, .src_fd = s->layer ? -1 : s->fd,
                   .dst_fd = dst_fd, .src_offset = s->file_offset,
                   .layer = s->layer };
  uint64_t piece = READ_PIECE;

  while (s->layer && piece < s->layer->cluster_size && piece < READ_PIECE_MAX)
    piece <<= 1;
  return submit_pieces (c, &j, s->len, offset, piece);
}

int
copier_punch (struct copier *c, int fd, uint64_t offset, uint64_t len)
{
  struct job j = { .kind = JOB_PUNCH, .src_fd = -1, .dst_fd = fd,
                   .len = len, .offset = offset };

  return len ? submit (c, &j) : 0;
}

int
copier_wait (struct copier *c, bool *punch_failed)
{
  int r;

  pthread_mutex_lock (&c->lock);
  if (c->nthreads == 0)
    run_queued (c);
  while (c->count > 0 || c->running > 0)
    pthread_cond_wait (&c->idle, &c->lock);
  r = c->error;
  if (punch_failed)
    *punch_failed = r < 0 && c->error_kind == JOB_PUNCH;
  pthread_mutex_unlock (&c->lock);
  return r;
}

const struct addcow_io *
copier_io (const struct copier *c)
{
  return &c->io;
}

void
copier_free (struct copier *c)
{
  unsigned i;

  if (!c)
    return;
  pthread_mutex_lock (&c->lock);
  if (c->nthreads == 0)
    run_queued (c);
  c->stop = true;
  pthread_cond_broadcast (&c->work);
  pthread_mutex_unlock (&c->lock);
  for (i = 0; i < c->nthreads; i++)
    pthread_join (c->threads[i], NULL);
  pthread_cond_destroy (&c->idle);
  pthread_cond_destroy (&c->space);
  pthread_cond_destroy (&c->work);
  pthread_mutex_destroy (&c->lock);
  free (c->inline_buf);
  free (c);
}
