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

#include "checked.h"
#include "internal.h"

static struct addcow *
image_alloc (const char *path, const struct addcow_open_opts *opts)
{
  struct addcow *img = calloc (1, sizeof *img);

  if (!img)
    return NULL;
  img->meta.fd = img->image.fd = img->backing_raw.fd = -1;
  img->filename = strdup (path);
  if (!img->filename) {
    free (img);
    return NULL;
  }
  img->flags = opts ? opts->flags : 0;
  img->writable = img->flags & ADDCOW_OPEN_WRITE;
  io_init (&img->io, opts ? opts->io : NULL);
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

/* Remember a file of the chain; fail if it is already part of it. */
static int
seen_add (struct chain_seen *seen, const struct acfile *f, const char *owner)
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
    r = seen_add (seen, &img->meta, img->filename);
  if (r == 0 && !(img->flags & ADDCOW_OPEN_FORCE_SHARE))
    r = file_lock (&img->meta, img->writable, img->filename);
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
    r = seen_add (seen, &img->image, img->filename);
  if (r == 0 && !(img->flags & ADDCOW_OPEN_FORCE_SHARE))
    r = file_lock (&img->image, img->writable, img->filename);
  if (r == -EBUSY || (r < 0 && !p->collect))
    return r;                   /* keep the errno: ENOENT, ELOOP, ... */
  if (r < 0) {
    /* Not usable: closed, so that check neither reads nor "repairs" by
     * it (image.fd < 0 means no image file). */
    file_close (&img->image);
    problem_msg (p, ADDCOW_PROBLEM_CORRUPTION, addcow_get_error ());
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
   * it. */
  if (io_is_system (&img->io) && img->meta.size >= need
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
  r = io_read (&img->io, img->meta.fd, img->bm.bytes,
               (size_t) min_u64 (avail, img->bm.nbytes), img->hdr.header_size);
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
  if (!p->collect && (img->flags & ADDCOW_OPEN_NO_BACKING)) {
    img->backing_error = strdup (addcow_get_error ());
    return img->backing_error ? 0 : set_error (ENOMEM, "out of memory");
  }
  if (!p->collect)
    return r;                   /* keep the errno: ELOOP, ENOTSUP, ... */
  return problem_msg (p, ADDCOW_PROBLEM_CORRUPTION, addcow_get_error ());
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
    return 0;
  if ((r = load_bitmap (img, p)) < 0)
    return r;
  if (img->hdr.backing_name)
    return open_backing_chain (img, seen, p);
  return 0;
}

int
image_open (const char *path, const struct addcow_open_opts *opts,
            struct chain_seen *seen, struct problems *p,
            struct addcow **imgp)
{
  struct problems refuse = { 0 };
  struct addcow *img;
  int r;

  *imgp = NULL;
  if (!p)
    p = &refuse;
  if (opts && opts->version != ADDCOW_OPEN_OPTS_VERSION)
    return set_error (EINVAL, "%s: unknown addcow_open_opts version %u",
                      path, opts->version);
  img = image_alloc (path, opts);
  if (!img)
    return set_error (ENOMEM, "%s: out of memory", path);
  if ((img->flags & ADDCOW_OPEN_FORCE_SHARE) && img->writable) {
    r = set_error (EINVAL, "%s: force-share is for read-only opens", path);
    goto fail;
  }
  if ((r = open_meta (img, seen)) < 0 || (r = read_header (img, p)) < 0)
    goto fail;
  if (r == 0 && (r = open_rest (img, seen, p)) < 0)
    goto fail;
  *imgp = img;
  return 0;

 fail:
  addcow_close (img);
  return r;
}

int
addcow_open (const char *path, const struct addcow_open_opts *opts,
             struct addcow **imgp)
{
  struct chain_seen seen = { .n = 0 };

  if (!path || !imgp)
    return set_error (EINVAL, "addcow_open: NULL argument");
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
{ return img->hdr.image_fmt; }
const char *addcow_get_backing_name (const struct addcow *img)
{ return img->hdr.backing_name; }
const char *addcow_get_backing_path (const struct addcow *img)
{ return img->backing_path; }
const char *addcow_get_backing_error (const struct addcow *img)
{ return img->backing_error; }
struct addcow *addcow_get_backing_image (const struct addcow *img)
{ return img->backing_img; }
uint64_t addcow_get_backing_size (const struct addcow *img)
{ return img->backing_size; }

const char *
addcow_get_backing_format (const struct addcow *img)
{
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
  return allocated_bytes (img->meta.fd) + allocated_bytes (img->image.fd);
}
