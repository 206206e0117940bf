/* Create an add-cow image over a raw backing file, write 4 KiB into it,
 * read it back and show where each part of the disk now comes from.
 * Usage: libaddcow-example SCRATCH-DIRECTORY
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <addcow.h>

#define MiB (1024 * 1024)

int
main (int argc, char *argv[])
{
  static char buf[MiB];
  char base[4096], top[4096];
  struct addcow_create_opts copts = ADDCOW_CREATE_OPTS_INIT;
  struct addcow_open_opts oopts = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img = NULL;
  struct addcow_extent ext;
  const char *what = NULL;
  uint64_t off;
  int fd, r = -1;

  if (argc != 2) {
    fprintf (stderr, "usage: %s SCRATCH-DIRECTORY\n", argv[0]);
    return EXIT_FAILURE;
  }
  if (snprintf (base, sizeof base, "%s/base.raw", argv[1]) >= 4096 ||
      snprintf (top, sizeof top, "%s/top.add-cow", argv[1]) >= 4096) {
    fprintf (stderr, "%s: name too long\n", argv[1]);
    return EXIT_FAILURE;
  }

  /* A 1 MiB raw backing file full of 'b'. */
  memset (buf, 'b', MiB);
  if ((mkdir (argv[1], 0777) == -1 && errno != EEXIST) ||
      (fd = open (base, O_WRONLY | O_CREAT | O_TRUNC, 0666)) == -1 ||
      write (fd, buf, MiB) != MiB || close (fd) == -1) {
    perror (argv[1]);
    goto out;
  }

  /* The overlay.  Names are stored relative to its directory; its size
   * is taken from the backing file. */
  copts.backing_name = "base.raw";
  copts.backing_format = "raw";
  copts.image_name = "top.raw";
  copts.overwrite = true;                  /* so that it can run again */
  what = "addcow_create";
  if ((r = addcow_create (top, &copts)) < 0)
    goto out;

  oopts.flags = ADDCOW_OPEN_WRITE;
  what = "addcow_open";
  if ((r = addcow_open (top, &oopts, &img)) < 0)
    goto out;

  /* 4 KiB of 'w' at 64 KiB: the rest of that 64 KiB cluster is first
   * copied from the backing file into the image file. */
  memset (buf, 'w', 4096);
  what = "addcow_pwrite";
  if ((r = addcow_pwrite (img, buf, 4096, 65536)) < 0)
    goto out;
  what = "addcow_flush";
  if ((r = addcow_flush (img)) < 0)
    goto out;

  what = "addcow_pread";
  if ((r = addcow_pread (img, buf, 8192, 65536)) < 0)
    goto out;
  if (buf[0] != 'w' || buf[4095] != 'w' || buf[4096] != 'b') {
    fprintf (stderr, "%s: read back the wrong data\n", top);
    r = -1, what = NULL;
    goto out;
  }

  what = "addcow_block_status";
  for (off = 0; off < addcow_get_virtual_size (img); off += ext.length) {
    if ((r = addcow_block_status (img, off, UINT64_MAX, &ext)) < 0)
      goto out;
    printf ("%#8" PRIx64 " %#8" PRIx64 "  depth %" PRIu32 "  %s\n",
            ext.start, ext.length, ext.depth,
            ext.flags & ADDCOW_EXTENT_DATA ? ext.filename : "zero");
  }

  what = "addcow_close";
  r = addcow_close (img);                  /* a failed flush shows here */
  img = NULL;

 out:
  if (r < 0 && what)
    fprintf (stderr, "%s: %s\n", what, addcow_get_error ());
  addcow_close (img);
  return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
