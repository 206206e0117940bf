/*
 * backing.c - the backing chain below an image: opening it layer by layer
 * through the table of drivers, and reading it.
 *
 * The backing format comes from the header (or from the qcow2 file's own
 * header extension) and is never probed on open: probing a raw file lets
 * a guest choose how its disk is parsed.  Every layer of every format is
 * opened by layer_open_backing, which holds the one depth limit
 * (ADDCOW_MAX_CHAIN_DEPTH layers, the top included) and passes down the
 * one set of (device, inode) pairs already in the chain, against which
 * each driver checks its files: loops, including a backing that is the
 * image itself, are caught for every format.
 *
 * Which layer is opened read-write: the open context's write_depth (the
 * public ADDCOW_OPEN_BACKING_WRITE is depth 1; commit -b reaches deeper
 * through image_open_writing); every other layer below the top is
 * read-only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "drivers/drivers.h"
#include "internal.h"

typedef int layer_open_fn (const char *path, unsigned depth,
                           const struct layer_open *ctx, struct layer **out);

static layer_open_fn *
format_driver (const char *fmt)
{
  if (strcmp (fmt, "raw") == 0)
    return raw_layer_open;
  if (strcmp (fmt, "add-cow") == 0)
    return addcow_layer_open;
  if (strcmp (fmt, "qcow2") == 0)
    return qcow2_layer_open;    /* lib/qcow2/, read-only */
  return NULL;
}

bool
layer_format_known (const char *fmt)
{
  return fmt && format_driver (fmt) != NULL;
}

bool
addcow_format_supported (const char *format)
{
  return layer_format_known (format);
}

int
layer_open_format (const char *fmt, const char *path, unsigned depth,
                   const struct layer_open *ctx, struct layer **out)
{
  layer_open_fn *open_fn = fmt ? format_driver (fmt) : NULL;

  *out = NULL;
  if (!open_fn && ctx->owner)
    return set_error (ENOTSUP, "%s: unsupported backing format '%s'",
                      ctx->owner, fmt ? fmt : "");
  if (!open_fn)
    return set_error (ENOTSUP, "%s: unsupported format '%s'", path,
                      fmt ? fmt : "");
  return open_fn (path, depth, ctx, out);
}

int
layer_open_backing (const char *from, const char *name, const char *fmt,
                    unsigned depth, const struct layer_open *ctx,
                    struct layer **out)
{
  struct layer_open sub = *ctx;
  unsigned saved = ctx->seen->depth;
  char *path;
  int r;

  *out = NULL;
  if (!fmt || !fmt[0])
    return set_error (ENOTSUP, "%s: backing file '%s' has no backing "
                      "format (it is never probed)", from, name);
  if (depth + 1 >= ADDCOW_MAX_CHAIN_DEPTH)
    return set_error (ELOOP, "%s: backing chain is deeper than %d layers",
                      from, ADDCOW_MAX_CHAIN_DEPTH);
  if (!(path = path_resolve (from, name)))
    return set_error (ENOMEM, "%s: out of memory", from);
  sub.owner = from;
  sub.writable = ctx->write_depth == depth + 1;
  ctx->seen->depth = depth + 1;
  r = layer_open_format (fmt, path, depth + 1, &sub, out);
  ctx->seen->depth = saved;
  free (path);
  return r;
}

int
layer_close_chain (struct layer *layer)
{
  int r, e;

  if (!layer)
    return 0;
  r = layer_close_chain (layer->backing);   /* the lowest first */
  layer->backing = NULL;
  e = layer->ops->close (layer);
  return e < 0 ? e : r;
}

static enum backing_kind
kind_of (const struct layer *l)
{
  if (raw_layer_file ((struct layer *) l))
    return BACKING_RAW;
  return addcow_layer_image (l) ? BACKING_ADDCOW : BACKING_OTHER;
}

int
backing_open (struct addcow *img, struct chain_seen *seen)
{
  struct layer_open ctx = {
    .seen = seen,
    .flags = img->flags & ADDCOW_OPEN_FORCE_SHARE,
    .write_depth = img->write_depth,
    .io = &img->io,
    .owner = img->filename,
    .image_file = &img->image,
  };
  struct layer *l;
  int r;

  r = layer_open_backing (img->filename, img->hdr.backing_name,
                          img->hdr.backing_fmt, img->self.depth, &ctx, &l);
  if (r < 0)
    return r;
  img->self.backing = l;
  img->backing_kind = kind_of (l);
  img->backing_size = l->size;
  return 0;
}

int
backing_format_check (const char *file, const char *fmt)
{
  if (!layer_format_known (fmt))
    return set_error (ENOTSUP, "%s: unsupported backing format '%s'", file,
                      fmt);
  return 0;
}

int
backing_close (struct addcow *img)
{
  int r = layer_close_chain (img->self.backing);   /* a writable one
                                                     * flushes */

  img->self.backing = NULL;
  img->backing_kind = BACKING_NONE;
  return r;
}

int
backing_read (struct addcow *img, void *buf, size_t count, uint64_t offset)
{
  size_t in = 0;
  int r = 0;

  if (img->backing_error)
    return set_error (EIO, "%s", img->backing_error);
  if (img->self.backing && offset < img->self.backing->size)
    in = (size_t) min_u64 (count, img->self.backing->size - offset);
  if (in)
    r = chain_read (img->self.backing, buf, in, offset);
  if (r == 0)
    memset ((uint8_t *) buf + in, 0, count - in);
  return r;
}

const char *
backing_probe (const char *path)
{
  struct acfile f;
  uint8_t magic[4] = { 0 };
  struct addcow_io io;

  io_init (&io, NULL);
  if (file_open (&f, path, false, path, NULL) < 0)
    return "raw";
  if (io_read (&io, f.fd, magic, sizeof magic, 0) < 0)
    memset (magic, 0, sizeof magic);
  file_close (&f);
  if (memcmp (magic, "QFI\xfb", 4) == 0)
    return "qcow2";
  return memcmp (magic, ADDCOW_MAGIC, 4) == 0 ? "add-cow" : "raw";
}
