/*
 * qcow2-layer.c - the read-only qcow2 driver behind struct layer_ops.
 *
 * Opening: the file (read-only, OFD read lock as every layer), the header
 * (qcow2-header.c validates all of it before anything else is read), the
 * external data file if the image has one (same lock, same loop check),
 * the table cache, and last the qcow2's own backing file through
 * layer_open_backing, which owns the depth limit and the loop check of
 * the whole chain.
 *
 * block_status merges neighbouring clusters (and subclusters) of the same
 * kind into one run: data runs only while their host offsets follow each
 * other, so that a run kept verbatim is one range of one file that a bulk
 * copy can hand to copy_file_range.  Compressed clusters are data without
 * a file (fd -1): their bytes come only through read.  Holes of the qcow2
 * file inside data clusters are found by the chain walk (probe_holes) and
 * reported as qemu does, "zero": true, "data": true with their offset;
 * qemu does not look for holes in an external data file, nor do we.
 *
 * read decompresses cluster by cluster into buffers of its own (no shared
 * scratch state: the table cache is the only state threads share, behind
 * its mutex).  A long read, as bulk copies make, is cut into a few pieces
 * on cluster boundaries read on threads at once, so decompression uses
 * every core; not through a user's I/O table, which may not be
 * thread-safe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/checked.h"
#include "chain/layer.h"
#include "image/image.h"
#include "qcow2.h"

#define PARALLEL_MIN_BYTES (UINT64_C (1) << 20) /* smaller reads: serial */
#define PARALLEL_MAX_THREADS 4u

struct qcow2 {
  struct layer layer;
  struct acfile file;           /* the qcow2 file */
  struct acfile data;           /* the external data file, or fd -1 */
  struct addcow_io io;
  struct qcow2_header h;
  struct qcow2_tables t;
  bool tables_ready;
  char *backing_error;          /* ADDCOW_OPEN_TOLERATE_BACKING: why the
                                 * backing chain could not be opened */
};

static struct qcow2 *
q_of (struct layer *l)
{
  return l->priv;
}

/* Where the data of standard clusters lives. */
static const struct acfile *
data_file (const struct qcow2 *q)
{
  return q->data.fd >= 0 ? &q->data : &q->file;
}

/* ---- block status ------------------------------------------------------ */

/* The run at OFFSET, at most MAX bytes, merging neighbours that continue
 * it (compressed ones only when MERGE_COMPRESSED): one L2 table at a
 * time, the next one only when the run reaches the end of a table. */
static int
map_run (struct qcow2 *q, uint64_t offset, uint64_t max,
         bool merge_compressed, struct qcow2_map *run)
{
  uint64_t table_bytes = (uint64_t) q->t.l2_entries * q->t.cluster_size;
  struct qcow2_map next;
  int r = qcow2_lookup_run (&q->t, offset, max, merge_compressed, run);

  if (r < 0)
    return r;
  while (run->len < max && ((offset + run->len) & (table_bytes - 1)) == 0
         && (run->kind != QCOW2_COMPRESSED || merge_compressed)) {
    if ((r = qcow2_lookup_run (&q->t, offset + run->len, max - run->len,
                               merge_compressed, &next)) < 0)
      return r;
    if (!qcow2_continues (run, &next))
      break;
    run->len += next.len;
  }
  return 0;
}

static int
q_block_status (struct layer *l, uint64_t offset, uint64_t max,
                struct layer_run *run)
{
  struct qcow2 *q = q_of (l);
  struct qcow2_map m;
  int r;

  if (offset >= l->size || max == 0)
    return set_error (EINVAL, "%s: block status past the end of the disk",
                      q->file.path);
  max = min_u64 (max, l->size - offset);
  if ((r = map_run (q, offset, max, true, &m)) < 0)
    return r;
  memset (run, 0, sizeof *run);
  run->len = m.len;
  run->fd = -1;
  switch (m.kind) {
  case QCOW2_UNALLOCATED:
    if (q->backing_error)       /* a tolerated open: the backing is needed */
      return set_error (EIO, "%s", q->backing_error);
    run->kind = RUN_UNALLOCATED;
    if (m.reserved) {           /* its place, for map (layer.h) */
      run->file_offset = m.host;
      run->filename = data_file (q)->path;
    }
    break;
  case QCOW2_ZERO:
    run->kind = RUN_ZERO;
    if (m.reserved) {           /* its place, for map's offset */
      run->file_offset = m.host;
      run->filename = data_file (q)->path;
    }
    break;
  case QCOW2_DATA:
    run->kind = RUN_DATA;
    run->fd = data_file (q)->fd;
    run->file_offset = m.host;
    run->filename = data_file (q)->path;
    break;
  case QCOW2_COMPRESSED:
    run->kind = RUN_DATA;       /* no place in a file: bytes via read */
    break;
  }
  return 0;
}

/* ---- reading ----------------------------------------------------------- */

/* Buffers for one compressed cluster, owned by one read call. */
struct zbuf {
  uint8_t *in, *out;
  struct qcow2_unzip unzip;
};

static int
read_compressed (struct qcow2 *q, struct zbuf *z, const struct qcow2_map *m,
                 uint64_t offset, void *buf, size_t n)
{
  uint32_t cs = q->t.cluster_size;
  uint32_t in_cluster = (uint32_t) (offset & (cs - 1));
  uint8_t *out;
  int r;

  /* csize <= 2 clusters (the sector count has cluster_bits - 8 bits). */
  if (!z->in && !(z->in = malloc (2 * (size_t) cs)))
    return set_error (ENOMEM, "%s: out of memory", q->file.path);
  out = in_cluster == 0 && n == cs ? buf : z->out;
  if (!out && !(out = z->out = malloc (cs)))
    return set_error (ENOMEM, "%s: out of memory", q->file.path);
  if ((r = io_read (&q->io, q->file.fd, z->in, m->csize, m->host)) < 0)
    return set_error (-r, "%s: could not read compressed data at 0x%llx: %s",
                      q->file.path, (unsigned long long) m->host,
                      strerror (-r));
  if ((r = qcow2_decompress (&z->unzip, q->h.compression, z->in, m->csize,
                            out, cs)) < 0)
    return set_error (-r == ENOMEM ? ENOMEM : EIO, "%s: the compressed "
                      "cluster at 0x%llx (guest offset 0x%llx) does not "
                      "decompress", q->file.path,
                      (unsigned long long) m->host,
                      (unsigned long long) (offset - in_cluster));
  if (out != buf)
    memcpy (buf, out + in_cluster, n);
  return 0;
}

/* Read [offset, offset + count) in the calling thread. */
static int
read_serial (struct qcow2 *q, uint8_t *buf, size_t count, uint64_t offset)
{
  struct zbuf z = { NULL, NULL, { NULL, NULL } };
  struct qcow2_map m;
  int r = 0;

  while (count > 0) {
    size_t n;
    if ((r = map_run (q, offset, count, false, &m)) < 0)
      break;
    n = (size_t) m.len;
    if (m.kind == QCOW2_DATA) {
      const struct acfile *f = data_file (q);
      if ((r = io_read (&q->io, f->fd, buf, n, m.host)) < 0) {
        r = set_error (-r, "%s: could not read '%s': %s", q->file.path,
                       f->path, strerror (-r));
        break;
      }
    }
    else if (m.kind == QCOW2_COMPRESSED) {
      if ((r = read_compressed (q, &z, &m, offset, buf, n)) < 0)
        break;
    }
    else
      memset (buf, 0, n);       /* zeros; unallocated is never asked for */
    buf += n;
    count -= n;
    offset += n;
  }
  free (z.in);
  free (z.out);
  qcow2_unzip_free (&z.unzip);
  return r;
}

struct piece {
  pthread_t thread;
  struct qcow2 *q;
  uint8_t *buf;
  size_t count;
  uint64_t offset;
  int r;
  char error[512];              /* the thread's message (thread-local) */
};

static void *
piece_run (void *arg)
{
  struct piece *p = arg;

  p->r = read_serial (p->q, p->buf, p->count, p->offset);
  if (p->r < 0)
    snprintf (p->error, sizeof p->error, "%s", addcow_get_error ());
  return NULL;
}

/* Four pieces whatever the number of cores: equal byte counts are not
 * equal work (random clusters are stored as they are, text decompresses
 * slowly), so more pieces than cores even the finish out, and on a busy
 * machine four runnable threads get more of it than two (measured: 11.5 s
 * instead of 19 s for 2 GiB on 2 cores under load 15). */
static unsigned
thread_count (void)
{
  return PARALLEL_MAX_THREADS;
}

/* Cut the read in NT pieces on cluster boundaries; the calling thread
 * reads the first one. */
static int
read_parallel (struct qcow2 *q, uint8_t *buf, size_t count, uint64_t offset,
               unsigned nt)
{
  /* Initialised: -O3 cannot see that count > 0 always fills p[0]. */
  struct piece p[PARALLEL_MAX_THREADS] = { { .q = q } };
  uint64_t cs = q->t.cluster_size, end = offset + count, at = offset;
  uint64_t share = div_round_up (count, nt);
  unsigned i, started = 0;
  int r = 0;

  for (i = 0; i < nt && at < end; i++) {
    uint64_t stop = at + share;
    if (!round_up_pow2 (stop, cs, &stop) || stop > end || i == nt - 1)
      stop = end;
    p[i] = (struct piece) { .q = q, .buf = buf + (at - offset),
      .count = (size_t) (stop - at), .offset = at };
    at = stop;
  }
  nt = i;
  for (i = 1; i < nt; i++) {
    if (pthread_create (&p[i].thread, NULL, piece_run, &p[i]) != 0)
      break;
    started = i;
  }
  for (i = started + 1; i < nt; i++)    /* threads that did not start */
    piece_run (&p[i]);
  piece_run (&p[0]);
  for (i = 1; i <= started; i++)
    pthread_join (p[i].thread, NULL);
  for (i = 0; i < nt; i++)
    if (p[i].r < 0) {
      r = set_error (-p[i].r, "%s", p[i].error);
      break;
    }
  return r;
}

static int
q_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  struct qcow2 *q = q_of (l);
  unsigned nt = 1;

  if (offset > l->size || count > l->size - offset)
    return set_error (EINVAL, "%s: read past the end of the disk",
                      q->file.path);
  if (count >= PARALLEL_MIN_BYTES && count >= 4 * (uint64_t) q->t.cluster_size
      && io_is_system (&q->io))
    nt = thread_count ();
  if (nt > 1)
    return read_parallel (q, buf, count, offset, nt);
  return read_serial (q, buf, count, offset);
}

/* ---- open and close ---------------------------------------------------- */

static void
q_free (struct qcow2 *q)
{
  if (q->tables_ready)
    qcow2_tables_free (&q->t);
  qcow2_header_free (&q->h);
  free (q->backing_error);
  file_close (&q->data);
  file_close (&q->file);
  free (q);
}

static int
q_close (struct layer *l)
{
  q_free (q_of (l));            /* the struct layer is part of it */
  return 0;
}

static uint64_t
q_actual_size (struct layer *l)
{
  struct qcow2 *q = q_of (l);
  struct stat st;
  uint64_t n = 0;

  if (fstat (q->file.fd, &st) == 0)
    n = (uint64_t) st.st_blocks * 512;
  if (q->data.fd >= 0 && fstat (q->data.fd, &st) == 0)
    n += (uint64_t) st.st_blocks * 512;
  return n;
}

static const struct layer_ops qcow2_ops = {
  .format = "qcow2",
  .block_status = q_block_status,
  .read = q_read,
  .close = q_close,
  .actual_size = q_actual_size,
};

/* Open PATH (the qcow2 file or its data file) read-only; refuse the image
 * file of the add-cow layer above and any file already in the chain; take
 * the read lock.  OWNER names the file in messages. */
static int
open_file (struct acfile *f, const char *path, const char *owner,
           const char *what, const struct layer_open *ctx)
{
  int r = file_open (f, path, false, owner, what);

  if (r < 0)
    return r;
  if (ctx->image_file && file_same (f, ctx->image_file))
    return set_error (EINVAL, "%s: %s '%s' is the image file itself", owner,
                      what ? what : "backing file", f->path);
  if (ctx->seen && seen_has (ctx->seen, f) && strcmp (owner, f->path) == 0)
    return set_error (ELOOP, "%s: already part of this backing chain (a "
                      "loop)", owner);
  if (ctx->seen && seen_has (ctx->seen, f))
    return set_error (ELOOP, "%s: '%s' is already part of this backing "
                      "chain (a loop)", owner, f->path);
  if (ctx->seen && (r = chain_seen_add (ctx->seen, f, owner)) < 0)
    return r;
  if (!(ctx->flags & ADDCOW_OPEN_FORCE_SHARE))
    return file_lock (f, false, owner);
  return 0;
}

static int
read_header (struct qcow2 *q)
{
  const char *file = q->file.path;
  size_t len = (size_t) min_u64 (q->file.size, QCOW2_V3_HEADER_LENGTH);
  uint8_t first[QCOW2_V3_HEADER_LENGTH];
  uint32_t cluster_bits;
  uint8_t *buf;
  int r;

  if ((r = io_read (&q->io, q->file.fd, first, len, 0)) < 0)
    return set_error (-r, "%s: could not read the header: %s", file,
                      strerror (-r));
  if ((r = qcow2_header_peek (first, len, file, &cluster_bits)) < 0)
    return r;
  len = (size_t) min_u64 (q->file.size, UINT64_C (1) << cluster_bits);
  if (!(buf = malloc (len)))
    return set_error (ENOMEM, "%s: out of memory", file);
  if ((r = io_read (&q->io, q->file.fd, buf, len, 0)) < 0)
    r = set_error (-r, "%s: could not read the header: %s", file,
                   strerror (-r));
  else
    r = qcow2_header_decode (buf, len, q->file.size, file, &q->h);
  free (buf);
  return r;
}

static int
open_data_file (struct qcow2 *q, const struct layer_open *ctx)
{
  char *path;
  int r;

  if (!q->h.data_file)
    return 0;
  if (!(path = path_resolve (q->file.path, q->h.data_file)))
    return set_error (ENOMEM, "%s: out of memory", q->file.path);
  r = open_file (&q->data, path, q->file.path, "data file", ctx);
  free (path);
  return r;
}

/* The qcow2's own backing chain.  With ADDCOW_OPEN_TOLERATE_BACKING (a
 * top opened for info) a chain that cannot be opened is remembered, not
 * fatal, as an add-cow image does it: block status and reads that need
 * the backing then fail with -EIO.  The layers below are opened without
 * the flag: the failure anywhere in the chain is this layer's. */
static int
open_backing (struct qcow2 *q, unsigned depth, const struct layer_open *ctx)
{
  struct layer_open sub = *ctx;
  int r;

  sub.flags &= ~ADDCOW_OPEN_TOLERATE_BACKING;
  r = layer_open_backing (q->file.path, q->h.backing_name, q->h.backing_fmt,
                          depth, &sub, &q->layer.backing);
  if (r == 0 || r == -ENOMEM || r == -EBUSY
      || !(ctx->flags & ADDCOW_OPEN_TOLERATE_BACKING))
    return r;
  if (!(q->backing_error = strdup (addcow_get_error ())))
    return set_error (ENOMEM, "%s: out of memory", q->file.path);
  q->layer.backing_error = q->backing_error;
  return 0;
}

int
qcow2_layer_open (const char *path, unsigned depth,
                  const struct layer_open *ctx, struct layer **out)
{
  struct qcow2 *q = calloc (1, sizeof *q);
  int r;

  *out = NULL;
  if (!q)
    return set_error (ENOMEM, "%s: out of memory", path);
  q->file.fd = q->data.fd = -1;
  io_init (&q->io, ctx->io);
  if (ctx->writable) {
    r = set_error (EROFS, "%s: qcow2 images are read-only here (this "
                   "library does not write qcow2)", path);
    goto fail;
  }
  if (ctx->owner)
    r = open_file (&q->file, path, ctx->owner, "backing file", ctx);
  else
    r = open_file (&q->file, path, path, NULL, ctx);
  if (r < 0 || (r = read_header (q)) < 0
      || (r = open_data_file (q, ctx)) < 0)
    goto fail;
  if ((r = qcow2_tables_init (&q->t, &q->io, q->file.fd, q->file.size,
                              data_file (q)->size, q->data.fd >= 0,
                              q->file.path, &q->h)) < 0)
    goto fail;
  q->tables_ready = true;
  q->layer = (struct layer) { .ops = &qcow2_ops, .priv = q,
    .size = q->h.size, .filename = q->file.path, .depth = depth,
    .probe_holes = q->data.fd < 0, .stable_file = &q->file,
    .hole_offsets = true,
    .holes_are_data = true,
    .cluster_size = q->t.cluster_size, .backing_name = q->h.backing_name,
    .backing_format = q->h.backing_name ? q->h.backing_fmt : NULL,
    .dev = q->file.dev, .ino = q->file.ino };
  if (q->h.backing_name && (r = open_backing (q, depth, ctx)) < 0)
    goto fail;
  *out = &q->layer;
  return 0;

 fail:
  q_free (q);
  return r;
}

/* ---- the header, for info --------------------------------------------- */

int
addcow_get_qcow2_info (const struct addcow *img, unsigned depth,
                       struct addcow_qcow2_info *info)
{
  const struct qcow2_header *h;
  struct layer *l;

  if (!img || !info || info->version != ADDCOW_QCOW2_INFO_VERSION)
    return set_error (EINVAL, "addcow_get_qcow2_info: bad arguments");
  if (!(l = chain_layer (img->top, depth)))
    return set_error (EINVAL, "%s: the chain has no layer at depth %u",
                      img->filename, depth);
  if (l->ops != &qcow2_ops)
    return set_error (ENOTSUP, "%s: not a qcow2 layer", l->filename);
  h = &q_of (l)->h;
  info->qcow2_version = h->version;
  info->compat = h->version == 2 ? "0.10" : "1.1";
  info->compression_type = h->compression == QCOW2_ZSTD ? "zstd" : "zlib";
  info->lazy_refcounts = h->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS;
  info->refcount_bits = h->refcount_order <= QCOW2_MAX_REFCOUNT_ORDER
                        ? 1u << h->refcount_order : 0;
  info->data_file = h->data_file;
  info->data_file_raw = h->data_file_raw;
  info->corrupt = false;
  info->extended_l2 = h->extended_l2;
  info->dirty = h->incompatible & QCOW2_INCOMPAT_DIRTY;
  return 0;
}
