/*
 * create.c - making a new add-cow image (addcow-img create).
 *
 * Everything is checked before anything is written: the options, that the
 * new image names neither itself nor its own add-cow file as image or
 * backing file, the backing chain (its format, size and depth), and the
 * image file.  An image file create names by default (<name>.raw) that
 * exists already is refused, since reusing it would silently turn old data
 * into the new disk: it is adopted only when named (image_file=), and
 * re-created with --force.
 *
 * Locks: what create replaces (--force: the add-cow file and its image
 * file) and the image file it adopts are write-locked first, as any
 * writer would, and held until the new files are in place; a file another
 * process uses is refused with qemu's words.
 *
 * The add-cow file is written complete under a short temporary name in
 * its directory (so that names of up to NAME_MAX bytes work), synced, and
 * renamed into place (never over an existing file unless asked); then the
 * directory is synced: a crash leaves either no image or a whole one.  A
 * new image file is created first (removed again if anything fails); one
 * that --force re-creates is written under a temporary name and renamed
 * over the old one just before the add-cow file, after the old add-cow
 * file is removed (see install).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"

#define TMP_SUFFIX ".addcow-XXXXXX"     /* a file name, for mkstemp */

/* What create learns before it writes anything. */
struct plan {
  const char *path;
  char *image_name;
  char *image_path;
  char *backing_path;           /* resolved, or NULL */
  const char *backing_fmt;
  uint64_t size;
  uint32_t cluster_bits;
  bool image_exists;            /* adopt the existing image file */
  bool image_replace;           /* --force: re-create the default one */
  struct acfile old_meta;       /* write-locked: what --force replaces */
  struct acfile old_image;      /* write-locked: its image file */
  struct acfile image;          /* write-locked: the image file adopted or
                                 * re-created */
  char *tmp_image;              /* the re-created image file, until renamed */
  bool image_created;           /* image_path is ours to remove on failure */
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

/* "DIR/.addcow-XXXXXX" in the directory of PATH: short, whatever the
 * length of PATH's own name. */
static char *
tmp_template (const char *path)
{
  const char *slash = strrchr (path, '/');
  size_t dirlen = slash ? (size_t) (slash - path) + 1 : 0;
  char *t = malloc (dirlen + sizeof TMP_SUFFIX);

  if (t) {
    memcpy (t, path, dirlen);
    strcpy (t + dirlen, TMP_SUFFIX);
  }
  return t;
}

/* Open PATH (read-only is enough for the lock) and lock it in ROLE, as a
 * writer of it would: another process's use is refused with qemu's
 * words (lock.c). */
static int
open_locked (struct acfile *f, const char *path, enum lock_role_id role,
             const char *owner, const char *what)
{
  int r = file_open (f, path, false, owner, what);

  if (r == 0 && (r = file_lock (f, role, owner)) < 0)
    file_close (f);
  return r;
}

/* --force over an existing add-cow file: lock it, and the image file it
 * names, as a writer would.  A file that is not a usable add-cow image is
 * replaced all the same (that is what --force is for). */
static int
lock_replaced (struct plan *pl)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *old = NULL;
  int r;

  if ((r = open_locked (&pl->old_meta, pl->path, LOCK_META_RW, pl->path,
                          NULL)) < 0)
    return r;
  oo.flags = ADDCOW_OPEN_FORCE_SHARE | ADDCOW_OPEN_NO_BACKING;
  if (addcow_open (pl->path, &oo, &old) < 0)
    return 0;
  if (!path_same_file (addcow_get_image_path (old), pl->image_path))
    r = open_locked (&pl->old_image, addcow_get_image_path (old),
                     LOCK_IMAGE_RW, pl->path, "image file");
  addcow_close (old);
  return r;
}

int
chain_depth_check (const char *file, const struct layer *backing,
                   const char *given)
{
  const struct layer *l;
  unsigned n = 0;

  for (l = backing; l; l = l->backing)
    n++;
  if (n + 1 > ADDCOW_MAX_CHAIN_DEPTH)
    return set_error (ELOOP, "%s: backing file '%s' is a chain of %u "
                      "layers: one more on top would be deeper "
                      "than %d layers", file, given, n,
                      ADDCOW_MAX_CHAIN_DEPTH);
  return 0;
}

/* Open the backing file once: its format (probed only if not given), its
 * size, and for an add-cow chain its depth. */
static int
inspect_backing (const struct addcow_create_opts *opts, struct plan *pl,
                 uint64_t *size, struct acfile *id)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *b = NULL;
  int r;

  pl->backing_fmt = opts->backing_format ? opts->backing_format
                                         : backing_probe (pl->backing_path);
  r = file_open (id, pl->backing_path, false, pl->path, "backing file");
  if (r == 0 && (strcmp (pl->backing_fmt, "add-cow") == 0
                 || strcmp (pl->backing_fmt, "qcow2") == 0)) {
    oo.flags = ADDCOW_OPEN_FORCE_SHARE;
    oo.format = pl->backing_fmt;        /* a qcow2: its virtual size */
    r = addcow_open (pl->backing_path, &oo, &b);
    if (r == 0)
      r = chain_depth_check (pl->path, b->top, opts->backing_name);
    *size = b ? b->virtual_size : 0;
    addcow_close (b);
  }
  else if (r == 0)
    *size = id->size;
  if (r < 0)
    file_close (id);
  return r;
}

/* The size of a new image file: asked for, or the backing file's. */
static int
new_image_size (const struct addcow_create_opts *opts, struct plan *pl,
                uint64_t backing_size, bool backing_known)
{
  if (opts->size || opts->size_set)
    pl->size = opts->size;
  else if (backing_known)
    pl->size = backing_size;
  else
    return set_error (EINVAL, "%s: Image creation needs a size parameter",
                      pl->path);
  return 0;
}

static int
plan_image_file (const struct addcow_create_opts *opts, struct plan *pl,
                 uint64_t backing_size, const struct acfile *backing)
{
  bool backing_known = opts->backing_name && !opts->no_backing_open;
  struct acfile *img = &pl->image;
  int r;

  if (access (pl->image_path, F_OK) != 0)
    return new_image_size (opts, pl, backing_size, backing_known);
  if (!opts->image_name && !opts->overwrite)
    return set_error (EEXIST, "%s: image file '%s' exists already: name it "
                      "with -o image_file=%s to use its contents, or use "
                      "--force to replace it", pl->path, pl->image_path,
                      pl->image_name);
  if ((r = open_locked (img, pl->image_path, LOCK_IMAGE_RW, pl->path,
                          "image file")) < 0)
    return r;
  if (file_same (img, backing))
    return set_error (EINVAL, "%s: image file '%s' is the backing file",
                      pl->path, pl->image_path);
  if (!opts->image_name) {      /* --force: a new one replaces it */
    pl->image_replace = true;
    return new_image_size (opts, pl, backing_size, backing_known);
  }
  pl->image_exists = true;
  pl->size = img->size;
  if ((opts->size || opts->size_set) && opts->size != img->size)
    return set_error (EINVAL, "%s: image file '%s' is %llu bytes, not the "
                      "%llu asked for", pl->path, pl->image_path,
                      (unsigned long long) img->size,
                      (unsigned long long) opts->size);
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

/* Names, and the files they name being distinct, before any file is
 * opened: the add-cow file must be neither its own image file nor its own
 * backing file (it may not exist yet, so identities are compared by
 * resolved path as well as by inode). */
static int
plan_names (const struct addcow_create_opts *opts, struct plan *pl)
{
  pl->image_name = opts->image_name ? strdup (opts->image_name)
                                    : default_image_name (pl->path);
  if (!pl->image_name
      || !(pl->image_path = path_resolve (pl->path, pl->image_name))
      || (opts->backing_name
          && !(pl->backing_path = path_resolve (pl->path,
                                                opts->backing_name))))
    return set_error (ENOMEM, "%s: out of memory", pl->path);
  if (opts->backing_name && strcmp (opts->backing_name, pl->image_name) == 0)
    return set_error (EINVAL, "%s: image file and backing file have the "
                      "same name '%s'", pl->path, pl->image_name);
  if (path_same_file (pl->path, pl->image_path))
    return set_error (EINVAL, "%s: it is the image file '%s' of the new "
                      "image", pl->path, pl->image_name);
  if (pl->backing_path && path_same_file (pl->path, pl->backing_path))
    return set_error (EINVAL, "%s: it is the backing file '%s' of the new "
                      "image", pl->path, opts->backing_name);
  if (pl->backing_path && path_same_file (pl->image_path, pl->backing_path))
    return set_error (EINVAL, "%s: image file '%s' is the backing file",
                      pl->path, pl->image_path);
  return 0;
}

static int
check_options (const struct addcow_create_opts *opts, struct plan *pl)
{
  int r;

  if ((r = cluster_bits_of (opts->cluster_size, pl->path,
                            &pl->cluster_bits)) < 0)
    return r;
  if (opts->image_format && strcmp (opts->image_format, "raw") != 0)
    return set_error (EINVAL, "%s: unsupported image format '%s' (only raw)",
                      pl->path, opts->image_format);
  if (opts->backing_format && !opts->backing_name)
    return set_error (EINVAL, "%s: Backing format cannot be used without "
                      "backing file", pl->path);
  if (opts->backing_format
      && (r = backing_format_check (pl->path, opts->backing_format)) < 0)
    return r;
  if (opts->backing_name && opts->no_backing_open && !opts->backing_format)
    return set_error (EINVAL, "%s: a backing format is needed when the "
                      "backing file is not opened", pl->path);
  return 0;
}

static int
make_plan (const struct addcow_create_opts *opts, struct plan *pl)
{
  struct acfile backing = { .fd = -1 };
  uint64_t backing_size = 0;
  int r;

  if ((r = check_options (opts, pl)) < 0)
    return r;
  if (!opts->overwrite && access (pl->path, F_OK) == 0)
    return set_error (EEXIST, "%s: file exists (use --force to overwrite "
                      "it)", pl->path);
  if ((r = plan_names (opts, pl)) < 0)
    return r;
  if (opts->overwrite && access (pl->path, F_OK) == 0
      && (r = lock_replaced (pl)) < 0)
    return r;
  if (opts->backing_name && opts->no_backing_open)
    pl->backing_fmt = opts->backing_format;
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

/* 0644 less the process's umask, as open (..., 0644) would give: mkstemp
 * makes files 0600 whatever the umask.  The umask is read from /proc,
 * since umask(2) cannot read it without changing it (under the feet of
 * the caller's other threads). */
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

/* A temporary file beside PATH, mode 0644 less the umask. */
static int
make_tmp (const char *path, char **tmp)
{
  int fd;

  *tmp = tmp_template (path);
  if (!*tmp)
    return -ENOMEM;
  fd = mkstemp (*tmp);
  if (fd < 0 || fchmod (fd, new_file_mode ()) < 0) {
    int e = errno;
    if (fd >= 0) {
      close (fd);
      unlink (*tmp);
    }
    free (*tmp);
    *tmp = NULL;
    return -e;
  }
  return fd;
}

/* The contents of a new image file: SIZE bytes, preallocated as asked. */
static int
fill_image_file (const struct addcow_create_opts *opts, struct plan *pl,
                 int fd)
{
  int r = 0;

  if (opts->prealloc == ADDCOW_PREALLOC_FULL)
    r = write_pattern (&pl->io, fd, 0, pl->size, 0);
  else if (opts->prealloc == ADDCOW_PREALLOC_FALLOC && pl->size)
    r = -posix_fallocate (fd, 0, (off_t) pl->size);
  if (r == 0)
    r = io_truncate (&pl->io, fd, pl->size);
  if (r == 0)
    r = io_sync (&pl->io, fd);
  return r;
}

/* A new image file: at its name (durable, directory synced), or for
 * --force under a temporary name that install renames over the old one. */
static int
create_image_file (const struct addcow_create_opts *opts, struct plan *pl)
{
  int fd, r;

  if (pl->image_replace)
    fd = make_tmp (pl->image_path, &pl->tmp_image);
  else {
    fd = open (pl->image_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    fd = fd < 0 ? -errno : fd;
    pl->image_created = fd >= 0;
  }
  if (fd < 0)
    return set_error (-fd, "%s: could not create image file '%s': %s",
                      pl->path, pl->image_path, strerror (-fd));
  r = fill_image_file (opts, pl, fd);
  if (r == 0 && !pl->image_replace)    /* its directory entry must last */
    r = io_sync_dir (&pl->io, pl->image_path);
  close (fd);
  if (r < 0)
    return set_error (-r, "%s: could not create image file '%s': %s",
                      pl->path, pl->image_path, strerror (-r));
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

/* Rename the files into place, then make the names durable.  A new
 * image file replaces the old one only once the old add-cow file is gone
 * for good: the old header never meets the new image file (a crash leaves
 * the old image, no image, or the new one). */
static int
install (const struct addcow_create_opts *opts, struct plan *pl,
         const char *tmp)
{
  int r = 0;

  if (pl->tmp_image) {
    if (pl->old_meta.fd >= 0
        && ((unlink (pl->path) < 0 && errno != ENOENT)
            || (r = io_sync_dir (&pl->io, pl->path)) < 0))
      return r < 0 ? r : -errno;
    if ((r = io_rename (&pl->io, pl->tmp_image, pl->image_path, true)) < 0)
      return r;
    free (pl->tmp_image);
    pl->tmp_image = NULL;
  }
  if ((r = io_rename (&pl->io, tmp, pl->path, opts->overwrite)) < 0)
    return r;
  if (pl->image_replace)
    r = io_sync_dir (&pl->io, pl->image_path);
  if (r == 0)
    r = io_sync_dir (&pl->io, pl->path);
  if (r < 0)
    unlink (pl->path);  /* the caller removes the image file it made */
  return r;
}

static int
write_addcow_file (const struct addcow_create_opts *opts, struct plan *pl)
{
  struct header h;
  char *tmp = NULL;
  int fd = -1, r;

  r = header_init (&h, pl->cluster_bits, pl->image_name, "raw",
                   opts->backing_name, pl->backing_fmt);
  if (r < 0)
    return set_error (-r, "%s: the file names do not fit in the header",
                      pl->path);
  if (!opts->backing_name)
    h.compat_features = ADDCOW_COMPAT_ALL_ALLOCATED;
  fd = make_tmp (pl->path, &tmp);
  if (fd < 0)
    r = fd;
  else if ((r = write_metadata (fd, &h, pl)) == 0)
    r = install (opts, pl, tmp);
  if (fd >= 0)
    close (fd);
  if (r < 0 && tmp)
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
  struct plan pl = { .path = path, .old_meta = { .fd = -1 },
                     .old_image = { .fd = -1 }, .image = { .fd = -1 } };
  int r;

  if (!path || !opts || opts->version != ADDCOW_CREATE_OPTS_VERSION)
    return set_error (EINVAL, "addcow_create: bad arguments");
  if (opts->backing_name && !opts->backing_name[0]) {
    copy = *opts;               /* "": no backing file, as in rebase */
    copy.backing_name = NULL;
    copy.backing_format = NULL;
    opts = &copy;
  }
  io_init (&pl.io, opts->io);
  r = make_plan (opts, &pl);
  if (r == 0 && !pl.image_exists)
    r = create_image_file (opts, &pl);
  if (r == 0)
    r = write_addcow_file (opts, &pl);
  if (r < 0 && pl.tmp_image)
    unlink (pl.tmp_image);
  if (r < 0 && pl.image_created)
    unlink (pl.image_path);
  file_close (&pl.old_meta);    /* the locks go last */
  file_close (&pl.old_image);
  file_close (&pl.image);
  free (pl.tmp_image);
  free (pl.image_name);
  free (pl.image_path);
  free (pl.backing_path);
  return r;
}
