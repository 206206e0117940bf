/*
 * image.c - opening and closing an image, and the information getters.
 *
 * image_open runs the same steps for addcow_open and addcow_check:
 *   add-cow file -> lock -> header -> image file -> bitmap -> backing chain.
 * A struct problems decides what a problem does: addcow_open refuses the
 * first corruption; addcow_check collects them all and gets back whatever
 * could be opened, so that it can report and repair.  A step whose input
 * is missing (no image file, say) is skipped in that mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
#include "drivers/drivers.h"
#include "internal.h"

/* The ids of handles (run_id), in order of opening. */
static _Atomic uint64_t last_run_id;

static struct addcow *
image_alloc (const char *path, unsigned flags, const struct addcow_io *io)
{
  struct addcow *img = calloc (1, sizeof *img);

  if (!img)
    return NULL;
  img->meta.fd = img->image.fd = -1;
  img->filename = strdup (path);
  if (!img->filename || handle_lock_init (img) < 0) {
    free (img->filename);
    free (img);
    return NULL;
  }
  img->flags = flags;
  img->writable = img->flags & ADDCOW_OPEN_WRITE;
  img->top = &img->self;
  img->run_id = atomic_fetch_add (&last_run_id, 1) + 1;
  io_init (&img->io, io);
  return img;
}

bool
seen_has (const struct chain_seen *seen, const struct acfile *f)
{
  unsigned i;

  for (i = 0; i < seen->n; i++)
    if (seen->dev[i] == f->dev && seen->ino[i] == f->ino)
      return true;
  return false;
}

int
chain_seen_add (struct chain_seen *seen, const struct acfile *f,
                const char *owner)
{
  if (seen_has (seen, f))
    return set_error (ELOOP, "%s: '%s' is already part of this image's "
                      "backing chain (a loop)", owner, f->path);
  if (seen->n >= sizeof seen->dev / sizeof seen->dev[0])
    return set_error (ELOOP, "%s: backing chain is too deep", owner);
  seen->dev[seen->n] = f->dev;
  seen->ino[seen->n] = f->ino;
  seen->n++;
  return 0;
}

static int
open_meta (struct addcow *img, struct chain_seen *seen)
{
  int r = file_open (&img->meta, img->filename, img->writable,
                     img->filename, NULL);

  /* The loop check first: a chain that comes back to a file this open
   * holds would otherwise trip over its own lock. */
  if (r == 0)
    r = chain_seen_add (seen, &img->meta, img->filename);
  if (r == 0 && !(img->flags & ADDCOW_OPEN_FORCE_SHARE))
    r = file_lock (&img->meta, img->writable ? LOCK_META_RW : LOCK_META_RO,
                   img->filename);
  return r;
}

/* Read and validate the header.  Returns 1 when a corruption stops the
 * remaining steps (collect mode). */
static int
read_header (struct addcow *img, struct problems *p)
{
  uint8_t fixed[ADDCOW_FIXED_HEADER_SIZE];
  uint8_t *buf;
  size_t n = (size_t) min_u64 (img->meta.size, sizeof fixed);
  int r;

  if ((r = io_read (&img->io, img->meta.fd, fixed, n, 0)) < 0)
    return set_error (-r, "%s: could not read the header: %s",
                      img->filename, strerror (-r));
  r = header_decode_fixed (fixed, n, img->meta.size, &img->hdr,
                           img->filename, p);
  if (r != 0)
    return r;
  buf = malloc (img->hdr.header_size);  /* <= 2 MiB and <= file size */
  if (!buf)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  r = io_read (&img->io, img->meta.fd, buf, img->hdr.header_size, 0);
  if (r < 0)
    r = set_error (-r, "%s: could not read the header: %s", img->filename,
                   strerror (-r));
  else
    r = header_decode_names (buf, &img->hdr, img->filename, p);
  free (buf);
  if (r == 0 && (img->hdr.cluster_bits < ADDCOW_MIN_CLUSTER_BITS
                 || img->hdr.cluster_bits > ADDCOW_MAX_CLUSTER_BITS
                 || !img->hdr.image_name))
    r = 1;                      /* reported; nothing more can be checked */
  return r;
}

static int
open_image_file (struct addcow *img, struct chain_seen *seen,
                 struct problems *p)
{
  char *path = path_resolve (img->filename, img->hdr.image_name);
  int r;

  if (!path)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  r = file_open (&img->image, path, img->writable, img->filename,
                 "image file");
  free (path);
  if (r == 0)
    r = chain_seen_add (seen, &img->image, img->filename);
  if (r == 0 && !(img->flags & ADDCOW_OPEN_FORCE_SHARE))
    r = file_lock (&img->image,
                   img->writable ? LOCK_IMAGE_RW : LOCK_IMAGE_RO, img->filename);
  if (r == -EBUSY || (r < 0 && !p->collect))
    return r;                   /* keep the errno: ENOENT, ELOOP, ... */
  if (r < 0) {
    /* Not usable: closed, so that check neither reads nor "repairs" by
     * it (image.fd < 0 means no image file). */
    file_close (&img->image);
    problem_msg (p, problem_kind_of_open_error (r), addcow_get_error ());
    return 1;
  }
  img->cluster_bits = img->hdr.cluster_bits;
  img->cluster_size = UINT32_C (1) << img->cluster_bits;
  img->virtual_size = img->image.size;
  img->nb_clusters = div_round_up (img->virtual_size, img->cluster_size);
  img->all_allocated = img->hdr.compat_features & ADDCOW_COMPAT_ALL_ALLOCATED;
  img->cluster_buf = malloc (img->cluster_size);
  if (!img->cluster_buf)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  return 0;
}

/* Count non-zero bytes in [from, to) of the add-cow file, less than a
 * cluster (the bitmap's padding): one read into cluster_buf. */
static int
count_nonzero (struct addcow *img, uint64_t from, uint64_t to,
               uint64_t *count)
{
  size_t i, n = (size_t) (to - from);
  int r;

  *count = 0;
  if (from >= to)
    return 0;
  if ((r = io_read (&img->io, img->meta.fd, img->cluster_buf, n, from)) < 0)
    return set_error (-r, "%s: could not read the bitmap: %s",
                      img->filename, strerror (-r));
  for (i = 0; i < n; i++)
    *count += img->cluster_buf[i] != 0;
  return 0;
}

/* The bitmap's padding and the file's length: only leaks. */
static int
check_bitmap_tail (struct addcow *img, struct problems *p)
{
  uint64_t end = img->hdr.header_size + img->bm.nbytes;
  uint64_t padded = img->hdr.header_size
    + div_round_up (img->bm.nbytes, img->cluster_size) * img->cluster_size;
  uint64_t dirty;
  unsigned stray = bitmap_stray_bits (&img->bm);
  int r;

  if (stray && (r = problem (p, ADDCOW_PROBLEM_LEAK, img->filename,
                             "%u bits set past the last cluster", stray)) < 0)
    return r;
  if ((r = count_nonzero (img, end, min_u64 (padded, img->meta.size),
                          &dirty)) < 0)
    return r;
  img->bm_padding_dirty = dirty;
  if (dirty && (r = problem (p, ADDCOW_PROBLEM_LEAK, img->filename,
                             "%llu non-zero bytes in the bitmap padding",
                             (unsigned long long) dirty)) < 0)
    return r;
  if (img->meta.size != padded && img->meta.size >= end)
    return problem (p, ADDCOW_PROBLEM_LEAK, img->filename,
                    "file is %llu bytes, not %llu (header + bitmap padded "
                    "to a whole cluster)",
                    (unsigned long long) img->meta.size,
                    (unsigned long long) padded);
  return 0;
}

/* Read LEN bytes of FD at OFFSET into BUF, which holds zeros, skipping
 * the file's holes: an empty bitmap of an 8 TiB disk then costs neither
 * reading nor memory (BUF's untouched pages stay unallocated).  Without
 * SEEK_DATA, all of it is read. */
static int
read_skipping_holes (const struct addcow_io *io, int fd, uint8_t *buf,
                     uint64_t len, uint64_t offset)
{
  uint64_t pos = 0, data_end;
  off_t d, h;
  int r;

  while (pos < len) {
    d = io_lseek (io, fd, (off_t) (offset + pos), SEEK_DATA);
    if (d < 0 && errno == ENXIO)
      return 0;                 /* holes to the end of the file */
    h = d < 0 ? -1 : io_lseek (io, fd, d, SEEK_HOLE);
    if (d < 0 || h < 0)         /* no SEEK_DATA: read the rest */
      return io_read (io, fd, buf + pos, (size_t) (len - pos), offset + pos);
    if ((uint64_t) d >= offset + len)
      return 0;
    pos = (uint64_t) d - offset;
    data_end = min_u64 ((uint64_t) h - offset, len);
    if (data_end <= pos)        /* a file changing under us: read it all */
      data_end = len;
    r = io_read (io, fd, buf + pos, (size_t) (data_end - pos), offset + pos);
    if (r < 0)
      return r;
    pos = data_end;
  }
  return 0;
}

static int
load_bitmap (struct addcow *img, struct problems *p)
{
  uint64_t nbytes = div_round_up (img->nb_clusters, 8);
  uint64_t need = img->hdr.header_size + nbytes, avail;
  int r = 0;

  /* A truncated bitmap is refused before anything is allocated: the size
   * of the image file alone must not make an open allocate more than the
   * add-cow file holds.  (check goes on and loads it, to count and mend.) */
  if (nbytes <= ADDCOW_MAX_BITMAP_BYTES && img->meta.size < need)
    r = problem (p, ADDCOW_PROBLEM_CORRUPTION, img->filename,
                 "bitmap is truncated: the file is %llu bytes, %llu "
                 "clusters need %llu", (unsigned long long) img->meta.size,
                 (unsigned long long) img->nb_clusters,
                 (unsigned long long) need);
  if (r < 0)
    return r;
  /* Mapped where the file holds it all and the system calls do the I/O:
   * untouched parts then cost nothing (bitmap-map.c).  A caller's I/O
   * table (the crash tests' model of the disk) gets a copy read through
   * it, and so does a reader that holds no lock (FORCE_SHARE): another
   * process may cut the file under it, and a mapping would then fault
   * (SIGBUS) where a copy only goes stale. */
  if (io_is_system (&img->io) && img->meta.size >= need
      && !(img->flags & ADDCOW_OPEN_FORCE_SHARE)
      && bitmap_map (&img->bm, img->nb_clusters, img->meta.fd,
                     img->hdr.header_size, img->meta.size) == 0)
    return check_bitmap_tail (img, p);
  r = bitmap_alloc (&img->bm, img->nb_clusters);
  if (r == -EFBIG)
    return set_error (EFBIG, "%s: the bitmap of %llu clusters is larger "
                      "than this implementation's limit of %u MiB",
                      img->filename, (unsigned long long) img->nb_clusters,
                      ADDCOW_MAX_BITMAP_BYTES >> 20);
  if (r < 0)
    return set_error (-r, "%s: out of memory", img->filename);

  /* Read what the file has; io_read gives zeros past its end. */
  avail = img->meta.size - img->hdr.header_size;
  r = read_skipping_holes (&img->io, img->meta.fd, img->bm.bytes,
                           min_u64 (avail, img->bm.nbytes),
                           img->hdr.header_size);
  if (r < 0)
    return set_error (-r, "%s: could not read the bitmap: %s", img->filename,
                      strerror (-r));
  return check_bitmap_tail (img, p);
}

static int
open_backing_chain (struct addcow *img, struct chain_seen *seen,
                    struct problems *p)
{
  int r = backing_open (img, seen);

  if (r == 0 || r == -ENOMEM || r == -EBUSY)
    return r;
  if (!p->collect && (img->flags & ADDCOW_OPEN_TOLERATE_BACKING)) {
    img->backing_error = strdup (addcow_get_error ());
    return img->backing_error ? 0 : set_error (ENOMEM, "out of memory");
  }
  if (!p->collect)
    return r;                   /* keep the errno: ELOOP, ENOTSUP, ... */
  return problem_msg (p, problem_kind_of_open_error (r), addcow_get_error ());
}

/* With ALL_ALLOCATED the backing file is not opened, but an image whose
 * backing name leads to its own image file or add-cow file is still
 * invalid (spec 3): checked by identity when the file exists. */
static int
check_unused_backing (struct addcow *img, struct problems *p)
{
  struct stat st;

  if (!img->backing_path || stat (img->backing_path, &st) != 0)
    return 0;
  if (st.st_dev == img->image.dev && st.st_ino == img->image.ino)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, img->filename,
                    "backing file '%s' is the image file itself",
                    img->backing_path);
  if (st.st_dev == img->meta.dev && st.st_ino == img->meta.ino)
    return problem (p, ADDCOW_PROBLEM_CORRUPTION, img->filename,
                    "backing file '%s' is the add-cow file itself",
                    img->backing_path);
  return 0;
}

/* The steps after the header.  Returns 1 to stop (collect mode). */
static int
open_rest (struct addcow *img, struct chain_seen *seen, struct problems *p)
{
  int r = open_image_file (img, seen, p);

  if (r != 0)
    return r;
  if (img->hdr.backing_name
      && !(img->backing_path = path_resolve (img->filename,
                                             img->hdr.backing_name)))
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  if (img->all_allocated)       /* bitmap and backing are not used */
    return check_unused_backing (img, p);
  if ((r = load_bitmap (img, p)) < 0)
    return r;
  if (img->hdr.backing_name)
    return open_backing_chain (img, seen, p);
  return 0;
}

/* Open the add-cow image PATH as the layer at DEPTH.  The flags are
 * public bits only; WRITE_DEPTH is the private write switch. */
static int
open_addcow (const char *path, unsigned flags, const struct addcow_io *io,
             unsigned depth, unsigned write_depth, struct chain_seen *seen,
             struct problems *p, struct addcow **imgp)
{
  struct problems refuse = { 0 };
  struct addcow *img;
  int r;

  *imgp = NULL;
  if (!p)
    p = &refuse;
  img = image_alloc (path, flags, io);
  if (!img)
    return set_error (ENOMEM, "%s: out of memory", path);
  img->write_depth = write_depth;
  img->self.depth = depth;      /* backing_open needs it */
  if ((img->flags & ADDCOW_OPEN_FORCE_SHARE) && img->writable) {
    r = set_error (EINVAL, "%s: force-share is for read-only opens", path);
    goto fail;
  }
  if ((r = open_meta (img, seen)) < 0 || (r = read_header (img, p)) < 0)
    goto fail;
  if (r == 0 && (r = open_rest (img, seen, p)) < 0)
    goto fail;
  addcow_layer_init (img, depth);
  *imgp = img;
  return 0;

 fail:
  addcow_close (img);
  return r;
}

/* A read-only handle over a file of another format: its layer is the
 * top; nothing of the add-cow part of the handle is used. */
static int
open_other (const char *path, const char *format, unsigned flags,
            const struct addcow_io *io, struct addcow **imgp)
{
  struct chain_seen seen = { .n = 0 };
  struct layer_open ctx = { .seen = &seen };
  struct addcow *img;
  int r;

  *imgp = NULL;
  if (flags & (ADDCOW_OPEN_WRITE | ADDCOW_OPEN_BACKING_WRITE))
    return set_error (EINVAL, "%s: a file of format '%s' is opened "
                      "read-only", path, format);
  if (!(img = image_alloc (path, flags, io)))
    return set_error (ENOMEM, "%s: out of memory", path);
  ctx.flags = flags & (ADDCOW_OPEN_FORCE_SHARE
                       | ADDCOW_OPEN_TOLERATE_BACKING);
  ctx.io = &img->io;
  if ((r = layer_open_format (format, path, 0, &ctx, &img->top)) < 0) {
    img->top = &img->self;
    addcow_close (img);
    return r;
  }
  img->virtual_size = img->top->size;
  img->cluster_size = img->top->cluster_size;
  if (img->top->backing) {
    img->backing_size = img->top->backing->size;
    img->backing_kind = BACKING_OTHER;
  }
  *imgp = img;
  return 0;
}

/* The options every open accepts: a known version, public flags only. */
static int
check_opts (const char *path, const struct addcow_open_opts *opts)
{
  if (!opts)
    return 0;
  if (opts->version < 1 || opts->version > ADDCOW_OPEN_OPTS_VERSION)
    return set_error (EINVAL, "%s: unknown addcow_open_opts version %u",
                      path, opts->version);
  if (opts->flags & ~OPEN_PUBLIC_FLAGS)
    return set_error (EINVAL, "%s: unknown open flags 0x%x", path,
                      opts->flags & ~OPEN_PUBLIC_FLAGS);
  return 0;
}

static const char *
opts_format (const struct addcow_open_opts *opts)
{
  if (!opts || opts->version < 2 || !opts->format
      || strcmp (opts->format, "add-cow") == 0)
    return NULL;
  return opts->format;
}

/* The write depth the public flags ask for. */
static unsigned
public_write_depth (unsigned flags)
{
  return (flags & ADDCOW_OPEN_BACKING_WRITE) ? 1 : 0;
}

int
image_open (const char *path, const struct addcow_open_opts *opts,
            struct chain_seen *seen, struct problems *p,
            struct addcow **imgp)
{
  unsigned flags = opts ? opts->flags : 0;
  int r;

  *imgp = NULL;
  if ((r = check_opts (path, opts)) < 0)
    return r;
  return open_addcow (path, flags, opts ? opts->io : NULL, 0,
                      public_write_depth (flags), seen, p, imgp);
}

int
image_open_layer (const char *path, unsigned depth,
                  const struct layer_open *ctx, struct addcow **imgp)
{
  unsigned flags = (ctx->flags & ADDCOW_OPEN_FORCE_SHARE)
                   | (ctx->writable ? ADDCOW_OPEN_WRITE : 0);

  return open_addcow (path, flags, ctx->io, depth, ctx->write_depth,
                      ctx->seen, NULL, imgp);
}

int
image_open_writing (const char *path, const struct addcow_open_opts *opts,
                    unsigned write_depth, struct addcow **imgp)
{
  struct chain_seen seen = { .n = 0 };
  int r;

  *imgp = NULL;
  if ((r = check_opts (path, opts)) < 0)
    return r;
  return open_addcow (path, opts ? opts->flags : 0, opts ? opts->io : NULL,
                      0, write_depth, &seen, NULL, imgp);
}

int
addcow_open (const char *path, const struct addcow_open_opts *opts,
             struct addcow **imgp)
{
  struct chain_seen seen = { .n = 0 };
  const char *format;
  int r;

  if (!path || !imgp)
    return set_error (EINVAL, "addcow_open: NULL argument");
  *imgp = NULL;
  if ((r = check_opts (path, opts)) < 0)
    return r;
  if ((format = opts_format (opts)))
    return open_other (path, format, opts->flags, opts->io, imgp);
  return image_open (path, opts, &seen, NULL, imgp);
}

int
addcow_close (struct addcow *img)
{
  int r, e = 0;

  if (!img)
    return 0;
  /* Like qemu's close: what was written is durable once close returns 0 -
   * in this image and in a backing file opened for writing (commit).  The
   * backing goes first, so that this image's own error is the message. */
  if (img->top != &img->self) {  /* a handle of another format */
    r = layer_close_chain (img->top);
    img->top = &img->self;
  }
  else
    r = backing_close (img);
  if (img->writable && img->image.fd >= 0 && img->meta.fd >= 0)
    e = image_flush (img);
  if (e < 0)
    r = e;
  file_close (&img->image);
  file_close (&img->meta);
  header_free (&img->hdr);
  bitmap_free (&img->bm);
  free (img->cluster_buf);
  free (img->backing_error);
  free (img->backing_path);
  free (img->filename);
  handle_lock_destroy (img);
  free (img);
  return r;
}

/* ---- getters ---------------------------------------------------------- */

const char *addcow_get_filename (const struct addcow *img)
{ return img->filename; }
uint64_t addcow_get_virtual_size (const struct addcow *img)
{ return img->virtual_size; }
uint32_t addcow_get_cluster_size (const struct addcow *img)
{ return img->cluster_size; }
uint64_t addcow_get_cluster_count (const struct addcow *img)
{ return img->nb_clusters; }
uint32_t addcow_get_header_size (const struct addcow *img)
{ return img->hdr.header_size; }
uint64_t addcow_get_features (const struct addcow *img)
{ return img->hdr.features; }
uint64_t addcow_get_compat_features (const struct addcow *img)
{ return img->hdr.compat_features; }
const char *addcow_get_image_name (const struct addcow *img)
{ return img->hdr.image_name; }
const char *addcow_get_image_path (const struct addcow *img)
{ return img->image.path; }
const char *addcow_get_image_format (const struct addcow *img)
{ return img->top == &img->self ? img->hdr.image_fmt : NULL; }
/* The layer of another format a handle was opened as, or NULL. */
static const struct layer *
other_top (const struct addcow *img)
{
  return img->top != &img->self ? img->top : NULL;
}

const char *
addcow_get_backing_name (const struct addcow *img)
{
  return other_top (img) ? img->top->backing_name : img->hdr.backing_name;
}

const char *
addcow_get_backing_path (const struct addcow *img)
{
  if (other_top (img))
    return img->top->backing ? img->top->backing->filename : NULL;
  return img->backing_path;
}

const char *addcow_get_backing_error (const struct addcow *img)
{ return other_top (img) ? img->top->backing_error : img->backing_error; }
uint64_t addcow_get_backing_size (const struct addcow *img)
{ return img->backing_size; }

struct addcow *
addcow_get_backing_image (const struct addcow *img)
{
  return addcow_layer_image (img->top->backing);
}

const char *
addcow_get_backing_format (const struct addcow *img)
{
  if (other_top (img))
    return img->top->backing_format;
  return img->hdr.backing_name ? img->hdr.backing_fmt : NULL;
}

uint64_t
addcow_get_allocated_clusters (const struct addcow *img)
{
  return img->all_allocated ? img->nb_clusters : bitmap_count (&img->bm);
}

static uint64_t
allocated_bytes (int fd)
{
  struct stat st;

  return fd >= 0 && fstat (fd, &st) == 0 ? (uint64_t) st.st_blocks * 512 : 0;
}

uint64_t
addcow_get_actual_size (const struct addcow *img)
{
  if (other_top (img))
    return img->top->ops->actual_size
      ? img->top->ops->actual_size (img->top) : 0;
  return allocated_bytes (img->meta.fd) + allocated_bytes (img->image.fd);
}

const char *
addcow_get_format (const struct addcow *img)
{
  return img->top->ops ? img->top->ops->format : "add-cow";
}

/* ---- the layers of the chain ------------------------------------------ */

unsigned
addcow_get_layer_count (const struct addcow *img)
{
  const struct layer *l;
  unsigned n = 0;

  for (l = img->top; l; l = l->backing)
    n++;
  return n;
}

int
addcow_get_layer (const struct addcow *img, unsigned depth,
                  struct addcow_layer_info *info)
{
  struct layer *l;

  if (!img || !info || info->version != ADDCOW_LAYER_INFO_VERSION)
    return set_error (EINVAL, "addcow_get_layer: bad arguments");
  if (!(l = chain_layer (img->top, depth)))
    return set_error (EINVAL, "%s: the chain has no layer at depth %u",
                      img->filename, depth);
  info->depth = depth;
  info->format = l->ops->format;
  info->filename = l->filename;
  info->virtual_size = l->size;
  info->actual_size = l->ops->actual_size ? l->ops->actual_size (l) : 0;
  info->cluster_size = l->cluster_size;
  info->backing_name = l->backing_name;
  info->backing_format = l->backing_name ? l->backing_format : NULL;
  info->image = addcow_layer_image (l);
  return 0;
}
