/*
 * fuzz-header.c - libFuzzer target for the add-cow header and bitmap
 * parsers, and everything an open does with what they return.
 *
 * The input becomes f.add-cow in a scratch directory that also holds a
 * small image file (f.raw, 17 clusters of 4 KiB but not a whole number of
 * them), a raw backing file (b.raw) and a valid add-cow layer (c.add-cow
 * over c.raw and b.raw), so that the names an input holds can reach real
 * files, chains and loops.  Then:
 *   - addcow_open; on success, reads at the start, the end and across
 *     cluster edges, a block-status walk and the getters;
 *   - addcow_check, which must agree with open: an image that opens has
 *     no corruption, and one without corruption opens;
 *   - addcow_check -r all (when no name could leave the directory), which
 *     must never add a corruption and must leave no leak behind when the
 *     image had no corruption.
 * Any disagreement aborts, so the fuzzer reports it like a crash.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addcow.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char dir[4096], meta[4200];

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st; (void) ftw;
  return flag == FTW_DP ? rmdir (path) : unlink (path);
}

static void
cleanup (void)
{
  nftw (dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
put (const char *name, const void *buf, size_t len)
{
  char path[4200];
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || (len && write (fd, buf, len) != (ssize_t) len))
    abort ();
  close (fd);
}

static void
make_raw (const char *name, size_t len, uint8_t seed)
{
  uint8_t *buf = malloc (len);
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (uint8_t) (seed + i * 7 + (i >> 12));
  put (name, buf, len);
  free (buf);
}

static void
setup (void)
{
  const char *tmp = getenv ("TMPDIR");
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  char path[4200];

  snprintf (dir, sizeof dir, "%s/addcow-fuzz-XXXXXX",
            tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp (dir))
    abort ();
  atexit (cleanup);
  snprintf (meta, sizeof meta, "%s/f.add-cow", dir);
  make_raw ("f.raw", 17 * 4096 - 123, 1);
  make_raw ("b.raw", 9 * 4096 + 5, 2);
  make_raw ("c.raw", 12 * 4096, 3);
  snprintf (path, sizeof path, "%s/c.add-cow", dir);
  o.image_name = "c.raw";
  o.backing_name = "b.raw";
  o.backing_format = "raw";
  o.cluster_size = 4096;
  if (addcow_create (path, &o) < 0) {
    fprintf (stderr, "fuzz setup: %s\n", addcow_get_error ());
    abort ();
  }
}

static void
exercise (struct addcow *img)
{
  static uint8_t buf[3 * 65536];
  uint64_t vsize = addcow_get_virtual_size (img), off, len;
  uint32_t cs = addcow_get_cluster_size (img);
  struct addcow_extent e;
  unsigned i;

  (void) addcow_get_allocated_clusters (img);
  (void) addcow_get_actual_size (img);
  (void) addcow_get_backing_size (img);
  if (addcow_get_backing_name (img) && !addcow_get_backing_format (img))
    abort ();
  if (vsize == 0)
    return;
  len = vsize < sizeof buf ? vsize : sizeof buf;
  if (addcow_pread (img, buf, len, 0) < 0)
    abort ();
  if (addcow_pread (img, buf, len, vsize - len) < 0)
    abort ();
  if (vsize > cs && addcow_pread (img, buf, 2, cs - 1) < 0)
    abort ();
  if (addcow_pread (img, buf, 1, vsize) == 0)       /* past the end */
    abort ();
  for (i = 0, off = 0; i < 64 && off < vsize; i++) {
    if (addcow_block_status (img, off, vsize - off, &e) < 0)
      abort ();
    if (e.start != off || e.length == 0 || e.length > vsize - off)
      abort ();
    off += e.length;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct addcow_check_opts co = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res, fixed;
  struct addcow *img = NULL;
  int r, rc;

  if (!dir[0])
    setup ();
  put ("f.add-cow", data, size);

  r = addcow_open (meta, NULL, &img);
  if (r == 0) {
    exercise (img);
    if (addcow_close (img) != 0)
      abort ();
  }
  else {
    /* A failed open leaves no handle, and its message starts with the
     * file it concerns: one in the scratch directory, or an absolute
     * name the input holds. */
    const char *e = addcow_get_error ();
    if (img != NULL || (strncmp (e, dir, strlen (dir)) != 0 && e[0] != '/'))
      abort ();
  }

  rc = addcow_check (meta, &co, &res);
  if (r == 0 && (rc != 0 || res.corruptions != 0))
    abort ();                   /* opens, yet check calls it corrupt */
  if (rc == 0 && res.corruptions == 0 && r != 0)
    abort ();                   /* check finds nothing, yet open fails */
  if (rc != 0 || memchr (data, '/', size))
    return 0;

  co.repair = ADDCOW_REPAIR_ALL;
  if (addcow_check (meta, &co, &fixed) != 0)
    return 0;
  if (fixed.corruptions > res.corruptions)
    abort ();
  if (res.corruptions == 0 && (fixed.leaks != 0 || fixed.corruptions != 0))
    abort ();                   /* leaks alone are always mended */
  if (res.corruptions == 0 && fixed.leaks_fixed != res.leaks)
    abort ();
  return 0;
}
