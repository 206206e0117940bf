/*
 * rewrite.c - replacing an image's add-cow file atomically (rebase).
 *
 * The names in the header change length, so the header cannot be patched
 * in place without a moment where it is half old, half new.  Instead a
 * complete new add-cow file is written beside the old one (FILE.rewrite, in
 * the same directory, so that rename is atomic): the new header laid out as
 * create lays it out (header_size max(4096, cluster size), the backing name
 * at 76, the image name right after), then the same bitmap, zero-padded to
 * a whole cluster.  It is synced, write-locked, renamed over the old file,
 * and the directory is synced.  A crash leaves the old file or the new one,
 * each complete (and at worst a stale FILE.rewrite, which the next rewrite
 * replaces).
 *
 * Locking: the new file holds the write lock before the rename, and the
 * old one keeps its lock until the new one is in place, so no other
 * process can open the image for writing in between.  The file's mode (and
 * owner, where allowed) is carried over.
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

/* Header, bitmap (from memory, or from the old file when it was not loaded
 * because of ALL_ALLOCATED), padding; then fsync. */
static int
write_new_file (struct addcow *img, const struct header *h, int fd)
{
  uint64_t nbytes = div_round_up (img->nb_clusters, 8);
  uint64_t padded = div_round_up (nbytes, img->cluster_size)
                    * img->cluster_size;
  uint8_t *buf = malloc (h->header_size);
  int r;

  if (!buf)
    return -ENOMEM;
  header_encode (h, buf);
  r = io_write (&img->io, fd, buf, h->header_size, 0);
  free (buf);
  if (r == 0 && img->bm.bytes) {
    bitmap_clear_stray_bits (&img->bm);
    r = io_write (&img->io, fd, img->bm.bytes, (size_t) img->bm.nbytes,
                  h->header_size);
  }
  else if (r == 0)
    r = io_copy_bounce (&img->io, img->meta.fd, img->hdr.header_size, fd,
                    h->header_size, nbytes);
  if (r == 0)
    r = io_truncate (&img->io, fd, h->header_size + padded);
  if (r == 0)
    r = io_sync (&img->io, fd);
  return r;
}

/* Create TMP afresh (a stale one from a crash is replaced), with the old
 * file's mode and owner, and take the write lock on it. */
static int
create_tmp (struct addcow *img, const char *tmp, struct acfile *nf)
{
  struct stat st;
  int r;

  if (fstat (img->meta.fd, &st) < 0)
    return set_error_errno (errno, "%s: could not stat", img->filename);
  if (unlink (tmp) < 0 && errno != ENOENT)
    return set_error_errno (errno, "%s: could not remove stale '%s'",
                            img->filename, tmp);
  nf->fd = open (tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                 0600);
  if (nf->fd < 0)
    return set_error_errno (errno, "%s: could not create '%s' to rewrite "
                            "the header", img->filename, tmp);
  if (fchown (nf->fd, st.st_uid, st.st_gid) < 0) {
    /* Not allowed to give the file away: it stays ours. */
  }
  if (fchmod (nf->fd, st.st_mode & 07777) < 0)
    return set_error_errno (errno, "%s: could not set the mode of '%s'",
                            img->filename, tmp);
  nf->path = strdup (img->filename);
  if (!nf->path)
    return set_error (ENOMEM, "%s: out of memory", img->filename);
  if ((r = file_lock (nf, LOCK_META_RW, img->filename)) < 0)
    return r;
  return 0;
}

/* The handle now uses the new file and header. */
static void
adopt (struct addcow *img, struct acfile *nf, struct header *h)
{
  struct stat st;

  if (fstat (nf->fd, &st) == 0) {
    nf->size = (uint64_t) st.st_size;
    nf->dev = st.st_dev;
    nf->ino = st.st_ino;
  }
  file_close (&img->meta);
  img->meta = *nf;
  nf->fd = -1;
  nf->path = NULL;
  header_free (&img->hdr);
  img->hdr = *h;
  memset (h, 0, sizeof *h);
  if (img->hdr.compat_features & ADDCOW_COMPAT_ALL_ALLOCATED)
    img->all_allocated = true;
  if (img->bm.bytes)
    bitmap_clear_dirty (&img->bm);
  free (img->backing_path);
  img->backing_path = img->hdr.backing_name
    ? path_resolve (img->filename, img->hdr.backing_name) : NULL;
}

/* "PATH.rewrite" for the file PATH really is (through symlinks). */
static char *
tmp_name (const char *filename, char **dest)
{
  char *tmp;

  *dest = realpath (filename, NULL);
  if (!*dest)
    *dest = strdup (filename);
  if (!*dest)
    return NULL;
  tmp = malloc (strlen (*dest) + sizeof ".rewrite");
  if (tmp) {
    strcpy (tmp, *dest);
    strcat (tmp, ".rewrite");
  }
  return tmp;
}

int
image_header_fits (const struct addcow *img, const char *backing_name,
                   const char *backing_fmt)
{
  struct header h;
  int r = header_init (&h, img->cluster_bits, img->hdr.image_name,
                       img->hdr.image_fmt, backing_name, backing_fmt);

  header_free (&h);
  if (r < 0)
    return set_error (-r, "%s: the names do not fit in a header of %u "
                      "bytes", img->filename, h.header_size);
  return 0;
}

int
image_rewrite_header (struct addcow *img, const char *backing_name,
                      const char *backing_fmt, uint64_t set_compat)
{
  struct acfile nf = { .fd = -1 };
  struct header h;
  char *dest = NULL, *tmp = tmp_name (img->filename, &dest);
  bool created = false;
  int r;

  memset (&h, 0, sizeof h);
  if (!tmp) {
    r = set_error (ENOMEM, "%s: out of memory", img->filename);
    goto out;
  }
  r = header_init (&h, img->cluster_bits, img->hdr.image_name,
                   img->hdr.image_fmt, backing_name, backing_fmt);
  if (r < 0) {
    r = set_error (-r, "%s: the names do not fit in a header of %u bytes",
                   img->filename, h.header_size);
    goto out;
  }
  h.compat_features = img->hdr.compat_features | set_compat;
  if ((r = create_tmp (img, tmp, &nf)) < 0 && nf.fd < 0)
    goto out;
  created = true;
  if (r < 0)
    goto out;
  if ((r = write_new_file (img, &h, nf.fd)) < 0) {
    r = set_error (-r, "%s: could not write the new header to '%s': %s",
                   img->filename, tmp, strerror (-r));
    goto out;
  }
  if (rename (tmp, dest) < 0) {
    r = set_error_errno (errno, "%s: could not rename '%s' over it",
                         img->filename, tmp);
    goto out;
  }
  created = false;
  adopt (img, &nf, &h);
  if ((r = file_sync_dir (dest)) < 0)
    r = set_error (-r, "%s: could not sync its directory: %s",
                   img->filename, strerror (-r));
 out:
  if (created)
    unlink (tmp);
  file_close (&nf);
  header_free (&h);
  free (tmp);
  free (dest);
  return r;
}
