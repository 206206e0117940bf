/*
 * qcow2-prefetch.c - one table cluster read ahead on a thread of its own.
 *
 * A walk through the disk in order (map, a bulk read) needs the L2 tables
 * one after the other, and reading one (the kernel copying 64 KiB out of
 * the page cache) costs as much as everything else the walk does with
 * it.  So when the walk enters a table after the one before it, the table
 * cache asks for the next table here: a thread reads it into a buffer of
 * its own while the walk goes on, and the cache's miss on that table
 * takes the buffer (pointers exchanged, no copy) instead of reading.
 *
 * A few tables ahead (depth buffers, read in the order asked for), so
 * that the walk rarely waits for the thread; a request finding every
 * buffer taken is dropped (the cache then reads that table itself).  A
 * read that fails is forgotten; the cache's own read reports the error.
 * The thread starts on the first request and stops when the cache is
 * freed; it touches only its buffers and the state here, behind its own
 * mutex, never the cache's lock.  Memory: depth clusters, at most
 * QCOW2_PREFETCH_BYTES (one with clusters as large).
 *
 * A child of fork() has no copy of the thread, and its copy of the mutex
 * may be held for ever.  So every fork is counted (pthread_atfork), and a
 * read-ahead started before the last fork is left alone: the child reads
 * every table itself and never waits for a thread it does not have.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "qcow2.h"

/* The buffer asked for first and not yet read, or NULL.  P->lock held. */
static struct qcow2_prefetch_buf *
next_wanted (struct qcow2_prefetch *p)
{
  struct qcow2_prefetch_buf *w = NULL;
  unsigned i;

  for (i = 0; i < p->depth; i++)
    if (p->b[i].state == QCOW2_PF_WANTED && (!w || p->b[i].seq < w->seq))
      w = &p->b[i];
  return w;
}

static void *
prefetch_thread (void *arg)
{
  struct qcow2_prefetch *p = arg;
  struct qcow2_prefetch_buf *w;
  int r;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    while (!p->stop && !(w = next_wanted (p)))
      pthread_cond_wait (&p->cond, &p->lock);
    if (p->stop)
      break;
    w->state = QCOW2_PF_READING;
    if (!w->data)
      w->data = malloc (qcow2_table_buffer_bytes (p->len));
    pthread_mutex_unlock (&p->lock);
    /* Nobody else touches a buffer, or its offset, while READING. */
    r = w->data ? io_read (p->io, p->fd, w->data, p->len, w->offset) : -1;
    if (r == 0)
      qcow2_summarise (w->data, p->len);
    pthread_mutex_lock (&p->lock);
    w->state = r == 0 ? QCOW2_PF_READY : QCOW2_PF_IDLE;
    pthread_cond_broadcast (&p->cond);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

static atomic_uint forks;                /* fork()s in this process so far */
static pthread_once_t count_forks_once = PTHREAD_ONCE_INIT;

static void
count_fork (void)
{
  atomic_fetch_add_explicit (&forks, 1, memory_order_relaxed);
}

static void
count_forks (void)
{
  (void) pthread_atfork (NULL, NULL, count_fork);
}

/* P's thread was started in another process (this one is a child of a
 * fork after it started)?  Its state here is a copy no thread serves. */
static bool
started_elsewhere (const struct qcow2_prefetch *p)
{
  return p->started
    && p->fork_count != atomic_load_explicit (&forks, memory_order_relaxed);
}

/* Start the thread with every signal blocked (a handler of the program
 * runs in its own threads, libaddcow.3). */
static int
start_thread (struct qcow2_prefetch *p)
{
  sigset_t all, old;
  int r;

  pthread_once (&count_forks_once, count_forks);
  p->fork_count = atomic_load_explicit (&forks, memory_order_relaxed);
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  r = pthread_create (&p->thread, NULL, prefetch_thread, p);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r != 0)
    return -r;
  p->started = true;
  return 0;
}

void
qcow2_prefetch_init (struct qcow2_prefetch *p, const struct addcow_io *io,
                     int fd, size_t len)
{
  memset (p, 0, sizeof *p);
  p->io = io;
  p->fd = fd;
  p->len = len;
  p->depth = (unsigned) (QCOW2_PREFETCH_BYTES / len);
  if (p->depth > QCOW2_PREFETCH_MAX)
    p->depth = QCOW2_PREFETCH_MAX;
  if (p->depth == 0)
    p->depth = 1;
  /* A user's I/O table may not be thread-safe: no thread then. */
  p->disabled = !io_is_system (io);
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->cond, NULL);
}

void
qcow2_prefetch_free (struct qcow2_prefetch *p)
{
  bool here = !started_elsewhere (p);
  unsigned i;

  if (p->started && here) {
    pthread_mutex_lock (&p->lock);
    p->stop = true;
    pthread_cond_broadcast (&p->cond);
    pthread_mutex_unlock (&p->lock);
    pthread_join (p->thread, NULL);
    p->started = false;
  }
  for (i = 0; i < QCOW2_PREFETCH_MAX; i++) {
    free (p->b[i].data);
    p->b[i].data = NULL;
  }
  if (here) {                   /* else they may be held: leave them */
    pthread_cond_destroy (&p->cond);
    pthread_mutex_destroy (&p->lock);
  }
}

/* The buffer that holds or will hold the cluster at OFFSET, or NULL.
 * P->lock held. */
static struct qcow2_prefetch_buf *
find (struct qcow2_prefetch *p, uint64_t offset)
{
  unsigned i;

  for (i = 0; i < p->depth; i++)
    if (p->b[i].state != QCOW2_PF_IDLE && p->b[i].offset == offset)
      return &p->b[i];
  return NULL;
}

/* A buffer for a new request: an idle one, else the oldest read and never
 * taken (the walk went elsewhere); never one being read or waited for.
 * NULL: none.  P->lock held. */
static struct qcow2_prefetch_buf *
free_buffer (struct qcow2_prefetch *p)
{
  struct qcow2_prefetch_buf *w = NULL;
  unsigned i;

  for (i = 0; i < p->depth; i++)
    if (p->b[i].state == QCOW2_PF_IDLE)
      return &p->b[i];
  for (i = 0; i < p->depth; i++)
    if (p->b[i].state == QCOW2_PF_READY && (!w || p->b[i].seq < w->seq))
      w = &p->b[i];
  return w;
}

void
qcow2_prefetch_request (struct qcow2_prefetch *p, uint64_t offset)
{
  struct qcow2_prefetch_buf *w;

  if (p->disabled || started_elsewhere (p))
    return;
  pthread_mutex_lock (&p->lock);
  if (!p->started && start_thread (p) < 0) {
    p->disabled = true;
    pthread_mutex_unlock (&p->lock);
    return;
  }
  if (!find (p, offset)) {
    if ((w = free_buffer (p))) {
      w->offset = offset;
      w->seq = ++p->seq;
      w->state = QCOW2_PF_WANTED;
      pthread_cond_broadcast (&p->cond);
    }
  }
  pthread_mutex_unlock (&p->lock);
}

bool
qcow2_prefetch_take (struct qcow2_prefetch *p, uint64_t offset,
                     uint8_t **buf)
{
  struct qcow2_prefetch_buf *w;
  bool taken = false;
  uint8_t *d;

  if (!p->started || started_elsewhere (p))
    return false;
  pthread_mutex_lock (&p->lock);
  while ((w = find (p, offset)) && w->state != QCOW2_PF_READY)
    pthread_cond_wait (&p->cond, &p->lock);
  if (w) {
    d = *buf;                   /* the slot's old buffer (or NULL) */
    *buf = w->data;
    w->data = d;
    w->state = QCOW2_PF_IDLE;
    taken = true;
  }
  pthread_mutex_unlock (&p->lock);
  return taken;
}
