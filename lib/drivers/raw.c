/*
 * raw.c - the raw driver: a plain file (or block device) as a layer.
 *
 * Every byte of a raw file is its own: data where the file has data,
 * zeros where it has holes (SEEK_DATA/SEEK_HOLE through raw_source_hinted,
 * the extent cache of copy.c: a raw layer below the top never changes
 * while open, and commit, which writes into a raw BASE, empties the cache
 * before every change).  Nothing is ever unallocated, so a raw layer ends
 * every walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drivers/drivers.h"
#include "internal.h"

struct raw_layer {
  struct layer layer;
  struct acfile file;
  struct addcow_io io;
  char *owner;                  /* the file that names it, or NULL (the
                                 * top of a handle opened as raw) */
};

static int
raw_block_status (struct layer *l, uint64_t offset, uint64_t max,
                  struct layer_run *run)
{
  struct raw_layer *rl = l->priv;
  struct source s;

  raw_source_hinted (&rl->file, l->size, offset, max, &s);
  run->kind = s.fd >= 0 ? RUN_DATA : RUN_ZERO;
  run->len = s.len;
  run->fd = s.fd;
  run->file_offset = offset;
  run->filename = rl->file.path;
  return 0;
}

static int
raw_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  struct raw_layer *rl = l->priv;
  int r = io_read (&rl->io, rl->file.fd, buf, count, offset);

  if (r < 0 && rl->owner)
    return set_error (-r, "%s: could not read backing file '%s': %s",
                      rl->owner, rl->file.path, strerror (-r));
  if (r < 0)
    return set_error (-r, "%s: could not read: %s", rl->file.path,
                      strerror (-r));
  return 0;
}

static int
raw_close (struct layer *l)
{
  struct raw_layer *rl = l->priv;

  file_close (&rl->file);
  free (rl->owner);
  free (rl);
  return 0;
}

static uint64_t
raw_actual_size (struct layer *l)
{
  struct raw_layer *rl = l->priv;
  struct stat st;

  return fstat (rl->file.fd, &st) == 0 ? (uint64_t) st.st_blocks * 512 : 0;
}

static const struct layer_ops raw_ops = {
  .format = "raw",
  .block_status = raw_block_status,
  .read = raw_read,
  .close = raw_close,
  .actual_size = raw_actual_size,
};

struct acfile *
raw_layer_file (struct layer *l)
{
  return l && l->ops == &raw_ops ? &((struct raw_layer *) l->priv)->file
                                 : NULL;
}

/* The checks before a byte is read: not the image file of the layer above,
 * not already in the chain; then the lock. */
static int
raw_admit (struct raw_layer *rl, const struct layer_open *ctx)
{
  struct acfile *f = &rl->file;
  const char *owner = rl->owner ? rl->owner : f->path;

  if (ctx->image_file && file_same (f, ctx->image_file))
    return set_error (EINVAL, "%s: backing file '%s' is the image file "
                      "itself", owner, f->path);
  if (seen_has (ctx->seen, f))
    return set_error (ELOOP, "%s: backing file '%s' is already part of "
                      "this image's chain (a loop)", owner, f->path);
  if (chain_seen_add (ctx->seen, f, owner) < 0)
    return -ELOOP;
  if (!(ctx->flags & ADDCOW_OPEN_FORCE_SHARE))
    return file_lock (f, ctx->writable, owner);
  return 0;
}

int
raw_layer_open (const char *path, unsigned depth,
                const struct layer_open *ctx, struct layer **out)
{
  struct raw_layer *rl = calloc (1, sizeof *rl);
  int r;

  *out = NULL;
  if (!rl || (ctx->owner && !(rl->owner = strdup (ctx->owner)))) {
    free (rl);
    return set_error (ENOMEM, "%s: out of memory", path);
  }
  rl->layer.priv = rl;
  rl->file.fd = -1;
  io_init (&rl->io, ctx->io);
  if (rl->owner)
    r = file_open (&rl->file, path, ctx->writable, rl->owner,
                   "backing file");
  else
    r = file_open (&rl->file, path, ctx->writable, path, NULL);
  if (r == 0)
    r = raw_admit (rl, ctx);
  if (r < 0) {
    raw_close (&rl->layer);
    return r;
  }
  rl->layer.ops = &raw_ops;
  rl->layer.size = rl->file.size;
  rl->layer.filename = rl->file.path;
  rl->layer.depth = depth;
  rl->layer.owns_all = true;
  rl->layer.dev = rl->file.dev;
  rl->layer.ino = rl->file.ino;
  *out = &rl->layer;
  return 0;
}
