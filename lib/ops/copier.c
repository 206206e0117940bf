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

enum job_kind { JOB_COPY, JOB_PUNCH };

struct job {
  enum job_kind kind;
  int src_fd, dst_fd;           /* JOB_PUNCH: dst_fd only */
  uint64_t len, offset;
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
};

static int
run_job (const struct addcow_io *io, const struct job *j)
{
  if (j->kind == JOB_PUNCH)
    return punch_if_possible (io, j->dst_fd, j->offset, j->len);
  return io_copy (io, j->src_fd, j->dst_fd, j->len, j->offset);
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
      r = run_job (&c->io, &j);
      pthread_mutex_lock (&c->lock);
      record_error (c, r, j.kind);
    }
    if (--c->running == 0 && c->count == 0)
      pthread_cond_broadcast (&c->idle);
  }
  pthread_mutex_unlock (&c->lock);
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
      record_error (c, run_job (&c->io, &j), j.kind);
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

int
copier_copy (struct copier *c, int src_fd, int dst_fd, uint64_t len,
             uint64_t offset)
{
  struct job j = { .kind = JOB_COPY, .src_fd = src_fd, .dst_fd = dst_fd };
  int r;

  while (len > 0) {
    j.offset = offset;
    j.len = min_u64 (len, COPIER_PIECE);
    if ((r = submit (c, &j)) < 0)
      return r;
    offset += j.len;
    len -= j.len;
  }
  return 0;
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
  free (c);
}
