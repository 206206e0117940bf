/*
 * backing.c - the backing chain below an image: opening it and reading it.
 *
 * The backing format comes from the header and is never probed on open
 * (probing a raw file lets a guest choose how its disk is parsed).  A raw
 * backing is a plain file; an add-cow backing is a whole image opened
 * through image_open, so chains nest to any depth up to
 * ADDCOW_MAX_CHAIN_DEPTH, and the set of (device, inode) pairs already in
 * the chain catches loops, including a backing that is the image itself.
 *
 * Which layer is opened read-write: ADDCOW_OPEN_BACKING_WRITE makes the
 * backing file writable (commit); the internal write depth (see
 * open_write_depth) reaches a layer further down (commit -b) while the
 * layers in between stay read-only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "internal.h"
#include "le.h"

unsigned
open_write_depth (unsigned flags)
{
  unsigned d = (flags & OPEN_WRITE_DEPTH_MASK) >> OPEN_WRITE_DEPTH_SHIFT;

  return d ? d : (flags & ADDCOW_OPEN_BACKING_WRITE) ? 1 : 0;
}

unsigned
open_write_depth_flags (unsigned depth)
{
  if (depth == 0)
    return 0;
  if (depth == 1)
    return ADDCOW_OPEN_BACKING_WRITE;
  return (depth << OPEN_WRITE_DEPTH_SHIFT) & OPEN_WRITE_DEPTH_MASK;
}

static int
open_raw (struct addcow *img, struct chain_seen *seen)
{
  bool writer = open_write_depth (img->flags) == 1;
  struct acfile *f = &img->backing_raw;
  int r;

  r = file_open (f, img->backing_path, writer, img->filename,
                 "backing file");
  if (r < 0)
    return r;
  if (file_same (f, &img->image))
    return set_error (EINVAL, "%s: backing file '%s' is the image file "
                      "itself", img->filename, f->path);
  if (seen_has (seen, f))
    return set_error (ELOOP, "%s: backing file '%s' is already part of "
                      "this image's chain (a loop)", img->filename, f->path);
  if (!(img->flags & ADDCOW_OPEN_FORCE_SHARE)
      && (r = file_lock (f, writer ? LOCK_COMMIT_TARGET : LOCK_BACKING,
                          img->filename)) < 0)
    return r;
  img->backing_kind = BACKING_RAW;
  img->backing_size = f->size;
  return 0;
}

static int
open_addcow (struct addcow *img, struct chain_seen *seen)
{
  struct addcow_open_opts opts = ADDCOW_OPEN_OPTS_INIT;
  unsigned wdepth = open_write_depth (img->flags);
  int r;

  if (seen->depth + 1 >= ADDCOW_MAX_CHAIN_DEPTH)
    return set_error (ELOOP, "%s: backing chain is deeper than %d layers",
                      img->filename, ADDCOW_MAX_CHAIN_DEPTH);
  opts.flags = img->flags & ADDCOW_OPEN_FORCE_SHARE;
  if (wdepth == 1)
    opts.flags |= ADDCOW_OPEN_WRITE;
  else if (wdepth > 1)
    opts.flags |= open_write_depth_flags (wdepth - 1);
  opts.io = &img->io;
  seen->depth++;
  r = image_open (img->backing_path, &opts, seen, NULL, &img->backing_img);
  seen->depth--;
  if (r < 0)
    return r;
  img->backing_kind = BACKING_ADDCOW;
  img->backing_size = img->backing_img->virtual_size;
  return 0;
}

int
backing_open (struct addcow *img, struct chain_seen *seen)
{
  const char *fmt = img->hdr.backing_fmt;
  int r;

  if (strcmp (fmt, "raw") == 0)
    r = open_raw (img, seen);
  else if (strcmp (fmt, "add-cow") == 0)
    r = open_addcow (img, seen);
  else
    return set_error (ENOTSUP, "%s: unsupported backing format '%s'",
                      img->filename, fmt);
  if (r < 0)
    (void) backing_close (img);         /* opened read-only: nothing lost */
  return r;
}

int
backing_format_check (const char *file, const char *fmt)
{
  if (strcmp (fmt, "raw") != 0 && strcmp (fmt, "add-cow") != 0)
    return set_error (ENOTSUP, "%s: unsupported backing format '%s'", file,
                      fmt);
  return 0;
}

int
backing_close (struct addcow *img)
{
  int r;

  file_close (&img->backing_raw);
  r = addcow_close (img->backing_img);  /* a writable one flushes */
  img->backing_img = NULL;
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
  if (offset < img->backing_size)
    in = (size_t) min_u64 (count, img->backing_size - offset);
  if (in && img->backing_kind == BACKING_RAW) {
    r = io_read (&img->io, img->backing_raw.fd, buf, in, offset);
    if (r < 0)
      return set_error (-r, "%s: could not read backing file '%s': %s",
                        img->filename, img->backing_raw.path, strerror (-r));
  }
  else if (in && img->backing_kind == BACKING_ADDCOW)
    r = image_pread (img->backing_img, buf, in, offset);
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
  return memcmp (magic, ADDCOW_MAGIC, 4) == 0 ? "add-cow" : "raw";
}
