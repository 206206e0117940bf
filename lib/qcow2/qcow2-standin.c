/*
 * qcow2-standin.c - TEMPORARY: layer_open_backing and layer_close_chain
 * until backing.c (the chain work) provides them.
 *
 * Both are weak, so the real ones win as soon as they are linked in; this
 * file then goes.  Enough for a qcow2 layer's own backing chain: raw
 * (a plain file, all data) and qcow2 backings, with the depth limit and,
 * through the drivers, the loop check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "layer.h"
#include "internal.h"

struct standin_raw {
  struct layer layer;
  struct acfile f;
  struct addcow_io io;
};

static int
raw_status (struct layer *l, uint64_t offset, uint64_t max,
            struct layer_run *run)
{
  struct standin_raw *r = l->priv;

  memset (run, 0, sizeof *run);
  run->kind = RUN_DATA;
  run->len = min_u64 (max, l->size - offset);
  run->fd = r->f.fd;
  run->file_offset = offset;
  run->filename = r->f.path;
  return 0;
}

static int
raw_read (struct layer *l, void *buf, size_t count, uint64_t offset)
{
  struct standin_raw *r = l->priv;
  int e = io_read (&r->io, r->f.fd, buf, count, offset);

  if (e < 0)
    return set_error (-e, "%s: could not read: %s", r->f.path, strerror (-e));
  return 0;
}

static int
raw_close (struct layer *l)
{
  struct standin_raw *r = l->priv;

  file_close (&r->f);
  free (r);
  return 0;
}

static const struct layer_ops standin_raw_ops = {
  "raw", raw_status, raw_read, raw_close,
};

static int
standin_raw_open (const char *from, const char *path, unsigned depth,
                  const struct layer_open *ctx, struct layer **out)
{
  struct standin_raw *r = calloc (1, sizeof *r);
  int e;

  if (!r)
    return set_error (ENOMEM, "%s: out of memory", path);
  io_init (&r->io, ctx->io);
  if ((e = file_open (&r->f, path, false, from, "backing file")) < 0) {
    free (r);
    return e;
  }
  if (ctx->seen && seen_has (ctx->seen, &r->f)) {
    file_close (&r->f);
    free (r);
    return set_error (ELOOP, "%s: backing file '%s' is already part of "
                      "this chain (a loop)", from, path);
  }
  r->layer = (struct layer) { .ops = &standin_raw_ops, .priv = r,
    .size = r->f.size, .filename = r->f.path, .depth = depth };
  *out = &r->layer;
  return 0;
}

__attribute__ ((weak)) int
layer_open_backing (const char *from, const char *name, const char *fmt,
                    unsigned depth, const struct layer_open *ctx,
                    struct layer **out)
{
  char *path;
  int r;

  if (!fmt || !fmt[0])
    return set_error (EINVAL, "%s: backing file '%s' has no format", from,
                      name);
  if (depth + 1 >= ADDCOW_MAX_CHAIN_DEPTH)
    return set_error (ELOOP, "%s: backing chain is deeper than %d layers",
                      from, ADDCOW_MAX_CHAIN_DEPTH);
  if (!(path = path_resolve (from, name)))
    return set_error (ENOMEM, "%s: out of memory", from);
  if (strcmp (fmt, "raw") == 0)
    r = standin_raw_open (from, path, depth + 1, ctx, out);
  else if (strcmp (fmt, "qcow2") == 0)
    r = qcow2_layer_open (path, depth + 1, ctx, out);
  else
    r = set_error (ENOTSUP, "%s: unsupported backing format '%s'", from,
                   fmt);
  free (path);
  return r;
}

__attribute__ ((weak)) int
layer_close_chain (struct layer *layer)
{
  int r = 0;

  while (layer) {
    struct layer *below = layer->backing;
    int e = layer->ops->close (layer);
    if (e < 0 && r == 0)
      r = e;
    layer = below;
  }
  return r;
}
