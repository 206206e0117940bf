/*
 * create.c - making a new add-cow image (addcow-img create).
 *
 * The add-cow file is written complete under a temporary name, synced, and
 * renamed into place (never over an existing file unless asked), and the
 * directory is synced: a crash leaves either no image or a whole one.  A
 * missing image file is created first and removed again if anything fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checked.h"
#include "internal.h"

/* What create learns before it writes anything. */
struct plan {
  const char *path;
  char *image_name;
  char *image_path;
  const char *backing_fmt;
  uint64_t size;
  uint32_t cluster_bits;
  bool image_exists;
  struct addcow_io io;
};

static int
cluster_bits_of (uint32_t size, const char *path, uint32_t *bits)
{
  uint32_t b;

  if (size == 0) {
    *bits = ADDCOW_DEFAULT_CLUSTER_BITS;
    return 0;
  }
  for (b = ADDCOW_MIN_CLUSTER_BITS; b <= ADDCOW_MAX_CLUSTER_BITS; b++)
    if (size == UINT32_C (1) << b) {
      *bits = b;
      return 0;
    }
  return set_error (EINVAL, "%s: cluster size must be a power of two "
                    "between 4k and 2M", path);
}

/* <path minus .add-cow>.raw, relative to the add-cow file's directory. */
static char *
default_image_name (const char *path)
{
  const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  size_t len = strlen (base), suffix = strlen (".add-cow");
  char *name;

  if (len > suffix && strcmp (base + len - suffix, ".add-cow") == 0)
    len -= suffix;
  name = malloc (len + 5);
  if (name) {
    memcpy (name, base, len);
    strcpy (name + len, ".raw");
  }
  return name;
}

/* Open the backing file once: its format (probed only if not given) and
 * its size. */
static int
inspect_backing (const struct addcow_create_opts *opts, struct plan *pl,
                 uint64_t *size, struct acfile *id)
{
  char *bpath = path_resolve (pl->path, opts->backing_name);
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *b = NULL;
  int r;

  if (!bpath)
    return set_error (ENOMEM, "%s: out of memory", pl->path);
  pl->backing_fmt = opts->backing_format ? opts->backing_format
                                         : backing_probe (bpath);
  r = file_open (id, bpath, false, pl->path, "backing file");
  if (r == 0 && (strcmp (pl->backing_fmt, "add-cow") == 0
                 || strcmp (pl->backing_fmt, "qcow2") == 0)) {
    oo.flags = ADDCOW_OPEN_FORCE_SHARE;
    oo.format = pl->backing_fmt;        /* a qcow2: its virtual size */
    r = addcow_open (bpath, &oo, &b);
    *size = b ? b->virtual_size : 0;
    addcow_close (b);
  }
  else if (r == 0)
    *size = id->size;
  if (r < 0)
    file_close (id);
  free (bpath);
  return r;
}

static int
plan_image_file (const struct addcow_create_opts *opts, struct plan *pl,
                 uint64_t backing_size, const struct acfile *backing)
{
  struct acfile img = { .fd = -1 };
  int r;

  if (access (pl->image_path, F_OK) != 0) {
    pl->size = opts->size ? opts->size : backing_size;
    if (pl->size == 0 && (!opts->backing_name || opts->no_backing_open))
      return set_error (EINVAL, "%s: Image creation needs a size parameter",
                        pl->path);
    return 0;
  }
  if ((r = file_open (&img, pl->image_path, false, pl->path,
                      "image file")) < 0)
    return r;
  pl->image_exists = true;
  pl->size = img.size;
  if (file_same (&img, backing))
    r = set_error (EINVAL, "%s: image file '%s' is the backing file",
                   pl->path, pl->image_path);
  else if (opts->size && opts->size != img.size)
    r = set_error (EINVAL, "%s: image file '%s' is %llu bytes, not the "
                   "%llu asked for", pl->path, pl->image_path,
                   (unsigned long long) img.size,
                   (unsigned long long) opts->size);
  file_close (&img);
  return r;
}

/* PATH, the file create replaces (--force), must not be the image file
 * or the backing file its header names: replacing it would destroy the
 * data the new image stands on. */
static int
not_replacing (const char *path, const char *other, const char *what)
{
  struct stat a, b;

  if (stat (path, &a) == 0 && stat (other, &b) == 0
      && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    return set_error (EINVAL, "%s: it is the %s '%s' of the new image",
                      path, what, other);
  return 0;
}

/* An image with a backing file loads its bitmap at open: refuse to make
 * one that could never be opened. */
static bool
bitmap_too_large (const struct plan *pl)
{
  uint64_t nb = div_round_up (pl->size, UINT64_C (1) << pl->cluster_bits);

  return div_round_up (nb, 8) > ADDCOW_MAX_BITMAP_BYTES;
}

static int
make_plan (const struct addcow_create_opts *opts, struct plan *pl)
{
  struct acfile backing = { .fd = -1 };
  uint64_t backing_size = 0;
  int r;

  if ((r = cluster_bits_of (opts->cluster_size, pl->path,
                            &pl->cluster_bits)) < 0)
    return r;
  if (opts->image_format && strcmp (opts->image_format, "raw") != 0)
    return set_error (EINVAL, "%s: unsupported image format '%s' (only raw)",
                      pl->path, opts->image_format);
  if (opts->backing_format
      && (r = backing_format_check (pl->path, opts->backing_format)) < 0)
    return r;
  if (!opts->overwrite && access (pl->path, F_OK) == 0)
    return set_error (EEXIST, "%s: file exists (use --force to overwrite "
                      "it)", pl->path);
  pl->image_name = opts->image_name ? strdup (opts->image_name)
                                    : default_image_name (pl->path);
  if (!pl->image_name
      || !(pl->image_path = path_resolve (pl->path, pl->image_name)))
    return set_error (ENOMEM, "%s: out of memory", pl->path);
  if (opts->backing_name && strcmp (opts->backing_name, pl->image_name) == 0)
    return set_error (EINVAL, "%s: image file and backing file have the "
                      "same name '%s'", pl->path, pl->image_name);
  if ((r = not_replacing (pl->path, pl->image_path, "image file")) < 0)
    return r;
  if (opts->backing_name) {
    char *bpath = path_resolve (pl->path, opts->backing_name);
    if (!bpath)
      return set_error (ENOMEM, "%s: out of memory", pl->path);
    r = not_replacing (pl->path, bpath, "backing file");
    free (bpath);
    if (r < 0)
      return r;
  }
  if (opts->backing_name && opts->no_backing_open) {
    if (!opts->backing_format)
      return set_error (EINVAL, "%s: a backing format is needed when the "
                        "backing file is not opened", pl->path);
    pl->backing_fmt = opts->backing_format;
  }
  else if (opts->backing_name
           && (r = inspect_backing (opts, pl, &backing_size, &backing)) < 0)
    return r;
  r = plan_image_file (opts, pl, backing_size, &backing);
  file_close (&backing);
  if (r == 0 && opts->backing_name && bitmap_too_large (pl))
    r = set_error (EFBIG, "%s: a %llu-byte disk with %u-byte clusters needs "
                   "a bitmap larger than this implementation's %u MiB; use "
                   "a larger cluster_size", pl->path,
                   (unsigned long long) pl->size, 1u << pl->cluster_bits,
                   ADDCOW_MAX_BITMAP_BYTES >> 20);
  return r;
}

static int
write_pattern (const struct addcow_io *io, int fd, int byte, uint64_t count,
               uint64_t offset)
{
  uint8_t buf[65536];
  int r = 0;

  memset (buf, byte, sizeof buf);
  while (count > 0 && r == 0) {
    size_t n = (size_t) min_u64 (count, sizeof buf);
    r = io_write (io, fd, buf, n, offset);
    count -= n;
    offset += n;
  }
  return r;
}

static int
create_image_file (const struct addcow_create_opts *opts, struct plan *pl)
{
  int fd = open (pl->image_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  int r = 0;

  if (fd < 0)
    return set_error_errno (errno, "%s: could not create image file '%s'",
                            pl->path, pl->image_path);
  if (opts->prealloc == ADDCOW_PREALLOC_FULL)
    r = write_pattern (&pl->io, fd, 0, pl->size, 0);
  else if (opts->prealloc == ADDCOW_PREALLOC_FALLOC && pl->size)
    r = -posix_fallocate (fd, 0, (off_t) pl->size);
  if (r == 0)
    r = io_truncate (&pl->io, fd, pl->size);
  if (r == 0)
    r = io_sync (&pl->io, fd);
  if (r == 0)                   /* its directory entry must last too */
    r = file_sync_dir (pl->image_path);
  close (fd);
  if (r < 0) {
    unlink (pl->image_path);
    return set_error (-r, "%s: could not create image file '%s': %s",
                      pl->path, pl->image_path, strerror (-r));
  }
  return 0;
}

/* Header, then the bitmap: all ones for ALL_ALLOCATED, else zeros. */
static int
write_metadata (int fd, const struct header *h, struct plan *pl)
{
  uint64_t nb = div_round_up (pl->size, UINT64_C (1) << pl->cluster_bits);
  uint64_t nbytes = div_round_up (nb, 8);
  uint64_t padded = div_round_up (nbytes, UINT64_C (1) << pl->cluster_bits)
                    << pl->cluster_bits;
  uint8_t *buf = malloc (h->header_size), last;
  int r;

  if (!buf)
    return -ENOMEM;
  header_encode (h, buf);
  r = io_write (&pl->io, fd, buf, h->header_size, 0);
  free (buf);
  if (r == 0 && (h->compat_features & ADDCOW_COMPAT_ALL_ALLOCATED) && nb) {
    r = write_pattern (&pl->io, fd, 0xff, nb / 8, h->header_size);
    last = (uint8_t) ((1u << (nb % 8)) - 1);
    if (r == 0 && nb % 8)
      r = io_write (&pl->io, fd, &last, 1, h->header_size + nb / 8);
  }
  if (r == 0)
    r = io_truncate (&pl->io, fd, h->header_size + padded);
  if (r == 0)
    r = io_sync (&pl->io, fd);
  return r;
}

/* Move TMP to PATH; without OVERWRITE, never replace an existing file. */
static int
install_file (const char *tmp, const char *path, bool overwrite)
{
  if (overwrite)
    return rename (tmp, path) == 0 ? 0 : -errno;
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -errno;
  if (link (tmp, path) < 0)     /* file system without RENAME_NOREPLACE */
    return -errno;
  unlink (tmp);
  return 0;
}

/* 0644 less the process's umask, as open (..., 0644) would give the image
 * file: mkstemp makes the add-cow file 0600 whatever the umask.  The umask
 * is read from /proc, since umask(2) cannot read it without changing it
 * (under the feet of the caller's other threads). */
static mode_t
new_file_mode (void)
{
  FILE *f = fopen ("/proc/self/status", "re");
  char line[128];
  unsigned mask = 077;                  /* unreadable: the safe side */

  if (f) {
    while (fgets (line, sizeof line, f))
      if (sscanf (line, "Umask: %o", &mask) == 1)
        break;
    fclose (f);
  }
  return (mode_t) (0644 & ~mask);
}

static int
write_addcow_file (const struct addcow_create_opts *opts, struct plan *pl)
{
  struct header h;
  char *tmp = malloc (strlen (pl->path) + 8);
  int fd = -1, r;

  if (!tmp)
    return set_error (ENOMEM, "%s: out of memory", pl->path);
  r = header_init (&h, pl->cluster_bits, pl->image_name, "raw",
                   opts->backing_name, pl->backing_fmt);
  if (r < 0) {
    free (tmp);
    return set_error (-r, "%s: the file names do not fit in the header",
                      pl->path);
  }
  if (!opts->backing_name)
    h.compat_features = ADDCOW_COMPAT_ALL_ALLOCATED;
  sprintf (tmp, "%s.XXXXXX", pl->path);
  fd = mkstemp (tmp);
  if (fd < 0)
    r = -errno;
  else if (fchmod (fd, new_file_mode ()) < 0)
    r = -errno;
  else if ((r = write_metadata (fd, &h, pl)) == 0
           && (r = install_file (tmp, pl->path, opts->overwrite)) == 0
           && (r = file_sync_dir (pl->path)) < 0)
    unlink (pl->path);  /* the caller removes the image file it names */
  if (fd >= 0)
    close (fd);
  if (r < 0 && fd >= 0)
    unlink (tmp);
  if (r < 0)
    set_error (-r, "%s: could not create: %s", pl->path, strerror (-r));
  header_free (&h);
  free (tmp);
  return r;
}

int
addcow_create (const char *path, const struct addcow_create_opts *opts)
{
  struct addcow_create_opts copy;
  struct plan pl = { .path = path };
  int r;

  if (!path || !opts || opts->version != ADDCOW_CREATE_OPTS_VERSION)
    return set_error (EINVAL, "addcow_create: bad arguments");
  if (opts->backing_name && !opts->backing_name[0]) {
    copy = *opts;               /* "": no backing file, as in rebase */
    copy.backing_name = NULL;
    opts = &copy;
  }
  io_init (&pl.io, NULL);
  r = make_plan (opts, &pl);
  if (r == 0 && !pl.image_exists)
    r = create_image_file (opts, &pl);
  if (r == 0 && (r = write_addcow_file (opts, &pl)) < 0 && !pl.image_exists)
    unlink (pl.image_path);
  free (pl.image_name);
  free (pl.image_path);
  return r;
}
