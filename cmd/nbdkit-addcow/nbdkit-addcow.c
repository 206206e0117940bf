/*
 * nbdkit-addcow.c - an nbdkit plugin that serves an add-cow image over NBD.
 *
 *   nbdkit addcow file=vm1.add-cow [readonly=true]
 *
 * One library handle per nbdkit process, opened in .get_ready (so that a
 * locked or broken image stops the server before it listens) and closed,
 * with a final flush, in .cleanup.  Every connection shares it.
 *
 * THREAD MODEL: NBDKIT_THREAD_MODEL_PARALLEL.  A libaddcow handle is safe
 * for concurrent calls (its contract is in addcow.h and libaddcow(3),
 * THREAD SAFETY): reads, block status and writes into allocated clusters
 * run side by side, and so do copy-on-write and other writes of data into
 * unallocated clusters, bits included; zeroing of unallocated clusters
 * and a flush with bits to write are serialised inside the library.  So
 * the plugin takes no lock of its own.
 *
 * Ordering on disk (spec section 7) is the library's: new bits stay in
 * memory until addcow_flush, which syncs the image file, then writes the
 * bitmap, then syncs the add-cow file.  A flush or FUA request goes through
 * addcow_flush, so a bit never reaches the disk before the data it vouches
 * for, and a crash (or kill -9 of nbdkit) leaves every cluster with its old
 * or its new contents.  A write into a cluster whose bit is not yet
 * on disk is fine: after a crash the cluster reads from the backing file,
 * its old contents, because the write had not been flushed.
 *
 * MULTI-CONN is safe: every connection goes through the same handle, so a
 * write completed on one connection is seen by reads on all of them (one
 * page cache, one in-memory bitmap), and a flush on any connection syncs
 * the image file and writes every pending bit, whoever set it.
 *
 * ZERO: addcow_pwrite_zeroes (holes in the image file where the file system
 * can punch them; an unallocated cluster that already reads as zeros is left
 * alone).  FAST ZERO is accepted when hole punching works on the image file
 * (probed at start) -- at most the two partial clusters at the ends of the
 * range are copied, as a write of the same range would do -- or when the
 * whole range is already unallocated zeros; otherwise it fails at once with
 * ENOTSUP and nothing is changed.
 *
 * TRIM is offered only when hole punching works: each allocated run of the
 * range is punched out of the image file (its bit stays set, so it reads as
 * zeros from then on, and no metadata changes, so there is no ordering to
 * keep); an unallocated run keeps reading its current contents (backing
 * data or zeros).  Both are allowed by NBD, where trimmed data is undefined.
 *
 * FUA: the operation, then the same path as a flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "addcow.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char *filename;          /* absolute path of the add-cow file */
static bool open_readonly;      /* readonly=true */

static struct addcow *img;      /* the one handle, from get_ready on */
static bool punch_ok;           /* the image file can punch holes */

/* ---- errors --------------------------------------------------------- */

/* Report a failed library call R (a negative errno) and return -1.  The
 * library's hint about addcow-img's -U means nothing to nbdkit users. */
static int
fail (int r)
{
  const char *msg = addcow_get_error ();
  static const char hint[] = " (use -U to inspect it anyway)";
  size_t len = strlen (msg), hlen = sizeof hint - 1;

  if (len >= hlen && strcmp (msg + len - hlen, hint) == 0)
    nbdkit_error ("%.*s", (int) (len - hlen), msg);
  else
    nbdkit_error ("%s", msg);
  nbdkit_set_error (-r);
  return -1;
}

/* ---- configuration and life cycle ---------------------------------- */

static void addcow_cleanup (void);

/* .cleanup is not always reached: close the image here at the latest. */
static void
addcow_unload (void)
{
  addcow_cleanup ();
  free (filename);
  filename = NULL;
}

static int
addcow_config (const char *key, const char *value)
{
  if (strcmp (key, "file") == 0) {
    free (filename);
    /* nbdkit changes to / when it forks: keep an absolute path. */
    filename = nbdkit_absolute_path (value);
    return filename ? 0 : -1;
  }
  if (strcmp (key, "readonly") == 0) {
    int r = nbdkit_parse_bool (value);
    if (r < 0)
      return -1;
    open_readonly = r;
    return 0;
  }
  nbdkit_error ("unknown parameter '%s'", key);
  return -1;
}

static int
addcow_config_complete (void)
{
  if (!filename) {
    nbdkit_error ("you must give the add-cow file: file=IMAGE.add-cow");
    return -1;
  }
  return 0;
}

#define addcow_config_help \
  "[file=]<IMAGE.add-cow>  (required) The add-cow image to serve.\n" \
  "readonly=true           Open the image read-only (a shared lock)."

/* Can the image file punch holes?  Punching past the end of file with
 * KEEP_SIZE changes nothing, and fails where the file system cannot punch.
 * A descriptor of our own: the library's locks are OFD locks, which our
 * close(2) cannot release. */
static bool
probe_punch_hole (const char *path)
{
  struct stat st;
  bool ok = false;
  int fd = open (path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    return false;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode)) {
    off_t past = (st.st_size | 0xfffff) + 1;    /* a 1 MiB boundary after */
    ok = fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    past, 4096) == 0;
  }
  close (fd);
  return ok;
}

static int
addcow_get_ready (void)
{
  struct addcow_open_opts opts = ADDCOW_OPEN_OPTS_INIT;
  int r;

  opts.flags = open_readonly ? 0 : ADDCOW_OPEN_WRITE;
  if ((r = addcow_open (filename, &opts, &img)) < 0)
    return fail (r);
  if (!open_readonly)
    punch_ok = probe_punch_hole (addcow_get_image_path (img));
  nbdkit_debug ("%s: %" PRIu64 " bytes, %" PRIu32 "-byte clusters, "
                "%" PRIu64 " of %" PRIu64 " allocated, backing %s (%s), "
                "%s, hole punching %s", filename,
                addcow_get_virtual_size (img), addcow_get_cluster_size (img),
                addcow_get_allocated_clusters (img),
                addcow_get_cluster_count (img),
                addcow_get_backing_path (img) ? addcow_get_backing_path (img)
                                              : "none",
                addcow_get_backing_format (img) ? addcow_get_backing_format (img)
                                                : "-",
                open_readonly ? "read-only" : "read-write",
                punch_ok ? "works" : "unavailable");
  return 0;
}

/* Every connection is gone: flush and close (addcow_close flushes). */
static void
addcow_cleanup (void)
{
  int r;

  if (!img)
    return;
  if ((r = addcow_close (img)) < 0)
    nbdkit_error ("%s", addcow_get_error ());
  img = NULL;
}

static void
addcow_dump_plugin (void)
{
  printf ("addcow_version=%s\n", ADDCOW_VERSION_STRING);
}

/* ---- per connection ------------------------------------------------ */

static void *
addcow_open_conn (int readonly)
{
  (void) readonly;
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
addcow_get_size (void *handle)
{
  (void) handle;
  return (int64_t) addcow_get_virtual_size (img);
}

static const char *
addcow_export_description (void *handle)
{
  const char *backing = addcow_get_backing_name (img);

  const char *name = strrchr (filename, '/') + 1;   /* no server paths */

  (void) handle;
  if (!backing)
    return nbdkit_printf_intern ("add-cow image %s", name);
  return nbdkit_printf_intern ("add-cow image %s over %s (%s)", name,
                               backing, addcow_get_backing_format (img));
}

/* Requests of any alignment work; a whole cluster avoids copy-on-write. */
static int
addcow_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                   uint32_t *maximum)
{
  (void) handle;
  *minimum = 1;
  *preferred = addcow_get_cluster_size (img);
  *maximum = 0xffffffff;
  return 0;
}

static int
addcow_can_write (void *handle)
{
  (void) handle;
  return !open_readonly;
}

static int
addcow_can_flush (void *handle)
{
  (void) handle;
  return 1;
}

static int
addcow_can_fua (void *handle)
{
  (void) handle;
  return NBDKIT_FUA_NATIVE;
}

static int
addcow_can_zero (void *handle)
{
  (void) handle;
  return 1;
}

/* We always answer fast-zero requests quickly, one way or the other. */
static int
addcow_can_fast_zero (void *handle)
{
  (void) handle;
  return 1;
}

static int
addcow_can_trim (void *handle)
{
  (void) handle;
  return punch_ok;
}

static int
addcow_can_extents (void *handle)
{
  (void) handle;
  return 1;
}

static int
addcow_can_multi_conn (void *handle)
{
  (void) handle;
  return 1;
}

/* ---- data ---------------------------------------------------------- */

static int
do_flush (void)
{
  int r = addcow_flush (img);

  return r < 0 ? fail (r) : 0;
}

/* A write (BUF) or zeroing (BUF NULL), then FUA's flush if asked. */
static int
do_write (const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  int r = buf ? addcow_pwrite (img, buf, count, offset)
              : addcow_pwrite_zeroes (img, count, offset);

  if (r < 0)
    return fail (r);
  return (flags & NBDKIT_FLAG_FUA) ? do_flush () : 0;
}

static int
addcow_pread_data (void *handle, void *buf, uint32_t count, uint64_t offset,
                   uint32_t flags)
{
  int r;

  (void) handle;
  (void) flags;
  r = addcow_pread (img, buf, count, offset);
  return r < 0 ? fail (r) : 0;
}

static int
addcow_pwrite_data (void *handle, const void *buf, uint32_t count,
                    uint64_t offset, uint32_t flags)
{
  (void) handle;
  return do_write (buf, count, offset, flags);
}

/* Without hole punching, only a range that is already unallocated zeros in
 * the top layer (nothing to do) is zeroed fast. */
static bool
zero_is_fast (uint32_t count, uint64_t offset)
{
  struct addcow_extent ext;
  uint64_t end = offset + count;
  bool fast = true;

  if (punch_ok)
    return true;
  while (fast && offset < end) {
    if (addcow_block_status (img, offset, end - offset, &ext) < 0)
      fast = false;
    else {
      fast = ext.depth == 0 && !(ext.flags & ADDCOW_EXTENT_PRESENT);
      offset += ext.length;
    }
  }
  return fast;
}

static int
addcow_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  (void) handle;
  if ((flags & NBDKIT_FLAG_FAST_ZERO) && !zero_is_fast (count, offset)) {
    nbdkit_set_error (ENOTSUP);
    return -1;
  }
  return do_write (NULL, count, offset, flags);
}

/* Punch the allocated runs; leave the others as they are.  A run found
 * allocated stays so unless a failed flush forgets its bits meanwhile;
 * zeroing it then copies zeros in, which TRIM allows as well. */
static int
addcow_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  uint64_t end = offset + count, len;
  int r = 0;

  (void) handle;
  while (offset < end) {
    if ((r = addcow_is_allocated (img, offset, end - offset, &len)) < 0
        || (r == 1 && (r = addcow_pwrite_zeroes (img, len, offset)) < 0))
      break;
    offset += len;
  }
  if (r < 0)
    return fail (r);
  return (flags & NBDKIT_FLAG_FUA) ? do_flush () : 0;
}

static int
addcow_flush_data (void *handle, uint32_t flags)
{
  (void) handle;
  (void) flags;
  return do_flush ();
}

/* Data (this image or a backing file) is type 0; what reads as zeros
 * without data behind it is a hole. */
static int
addcow_extents (void *handle, uint32_t count, uint64_t offset,
                uint32_t flags, struct nbdkit_extents *extents)
{
  struct addcow_extent ext;
  uint64_t end = offset + count;
  uint32_t type;
  int r = 0;

  (void) handle;
  while (offset < end) {
    if ((r = addcow_block_status (img, offset, end - offset, &ext)) < 0)
      break;
    type = (ext.flags & ADDCOW_EXTENT_DATA) || !(ext.flags & ADDCOW_EXTENT_ZERO)
      ? 0 : NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    if (nbdkit_add_extent (extents, offset, ext.length, type) == -1)
      return -1;
    offset += ext.length;
    if (flags & NBDKIT_FLAG_REQ_ONE)
      break;
  }
  return r < 0 ? fail (r) : 0;
}

static struct nbdkit_plugin plugin = {
  .name = "addcow",
  .longname = "nbdkit add-cow plugin",
  .version = ADDCOW_VERSION_STRING,
  .description = "Serve an add-cow disk image (libaddcow)",
  .unload = addcow_unload,
  .config = addcow_config,
  .config_complete = addcow_config_complete,
  .config_help = addcow_config_help,
  .magic_config_key = "file",
  .get_ready = addcow_get_ready,
  .cleanup = addcow_cleanup,
  .dump_plugin = addcow_dump_plugin,
  .open = addcow_open_conn,
  .get_size = addcow_get_size,
  .export_description = addcow_export_description,
  .block_size = addcow_block_size,
  .can_write = addcow_can_write,
  .can_flush = addcow_can_flush,
  .can_fua = addcow_can_fua,
  .can_zero = addcow_can_zero,
  .can_fast_zero = addcow_can_fast_zero,
  .can_trim = addcow_can_trim,
  .can_extents = addcow_can_extents,
  .can_multi_conn = addcow_can_multi_conn,
  .pread = addcow_pread_data,
  .pwrite = addcow_pwrite_data,
  .zero = addcow_zero,
  .trim = addcow_trim,
  .flush = addcow_flush_data,
  .extents = addcow_extents,
  .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN (plugin)
