/*
 * img-resize.c - addcow-img resize: give the virtual disk a new size.
 *
 * The work is addcow_resize's (under the image's locks).  This file reads
 * qemu-img's command line - the size is the last argument, taken before
 * the options are parsed, so that "-1G" is a size and not an option - and
 * checks the request against the size it finds, in qemu-img's order and
 * words: a positive size, preallocation only for growing, --shrink for a
 * smaller disk, a multiple of 512.  The library checks it all again under
 * the locks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct resize_args {
  const char *format;
  const char *filename;
  const char *size;             /* as given, sign included */
  int sign;                     /* +1, -1: relative to the current size */
  uint64_t n;                   /* SIZE without its sign */
  bool shrink;
  bool quiet;
  enum addcow_prealloc prealloc;
};

static void resize_help (void)
{
  printf ("usage: addcow-img resize [-q] [-f add-cow] [--shrink] "
          "[--preallocation=off|falloc|full] FILE [+|-]SIZE\n"
          "\n"
          "Give the virtual disk of the add-cow image FILE the size SIZE, or\n"
          "make it SIZE bytes larger (+SIZE) or smaller (-SIZE).  A grown\n"
          "area reads as zeros, even where the backing file is longer.\n"
          "\n"
          "Options:\n"
          "  -q                 print nothing but errors\n"
          "  -f add-cow         the format of FILE (only add-cow)\n"
          "  --shrink           allow a smaller disk (deletes the data past "
          "its end)\n"
          "  --preallocation=MODE\n"
          "                     growing only: off, falloc (reserve the new "
          "bytes\n"
          "                     of the image file) or full (write them)\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_prealloc (const char *s, enum addcow_prealloc *mode)
{
  if (strcmp (s, "off") == 0)
    *mode = ADDCOW_PREALLOC_OFF;
  else if (strcmp (s, "falloc") == 0)
    *mode = ADDCOW_PREALLOC_FALLOC;
  else if (strcmp (s, "full") == 0)
    *mode = ADDCOW_PREALLOC_FULL;
  else {
    error_msg ("Invalid preallocation mode '%s'", s);
    return -1;
  }
  return 0;
}

static bool is_help (const char *arg)
{
  return strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0;
}

static int parse_resize_args (int argc, char **argv, struct resize_args *a)
{
  enum { OPT_SHRINK = 256, OPT_PREALLOC };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "shrink", no_argument, NULL, OPT_SHRINK },
    { "preallocation", required_argument, NULL, OPT_PREALLOC },
    { NULL, 0, NULL, 0 },
  };
  int c;

  if (argc == 2 && is_help (argv[1])) {
    resize_help ();
    return 0;
  }
  if (argc < 3)
    return usage_error ("Not enough arguments");
  a->size = argv[--argc];
  while ((c = getopt_long (argc, argv, ":hf:q", long_options, NULL)) != -1) {
    switch (c) {
    case 'h': resize_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'q': a->quiet = true; break;
    case OPT_SHRINK: a->shrink = true; break;
    case OPT_PREALLOC:
      if (parse_prealloc (optarg, &a->prealloc) < 0)
        return 1;
      break;
    default: return getopt_error (c, argv);
    }
  }
  if (optind != argc - 1)
    return usage_error ("Expecting image file name and size");
  a->filename = argv[optind];
  return check_image_format (a->format, a->filename) < 0 ? 1 : -1;
}

/* SIZE: its sign, and the number in qemu's words when it is not one. */
static int parse_resize_size (struct resize_args *a)
{
  const char *s = a->size;
  int r;

  if (*s == '+' || *s == '-')
    a->sign = *s++ == '+' ? 1 : -1;
  r = parse_size (s, &a->n);

  if (r == -ERANGE) {
    error_msg ("Value '%s' is out of range for parameter 'size'", s);
    return -1;
  }
  if (r < 0) {
    error_msg ("Parameter 'size' expects a non-negative number below 2^64");
    fprintf (stderr, "Optional suffix k, M, G, T, P or E means kilo-, "
             "mega-, giga-, tera-, peta-\nand exabytes, respectively.\n");
    return -1;
  }
  return 0;
}

/* The new size from the current one, with qemu-img's checks. */
static int new_size (const struct resize_args *a, uint64_t current,
                     uint64_t *size)
{
  uint64_t n = a->n;
  int64_t total;

  /* qemu-img's arithmetic: a signed 64-bit total. */
  total = (int64_t) (a->sign == 0 ? n
                     : a->sign > 0 ? current + n : current - n);
  if (total <= 0) {
    error_msg ("New image size must be positive");
    return -1;
  }
  if ((uint64_t) total <= current && a->prealloc != ADDCOW_PREALLOC_OFF) {
    error_msg ("Preallocation can only be used for growing images");
    return -1;
  }
  if ((uint64_t) total < current && !a->shrink) {
    error_msg ("Use the --shrink option to perform a shrink operation.");
    warning_msg ("Shrinking an image will delete all data beyond the "
                 "shrunken image's end. Before performing such an "
                 "operation, make sure there is no important data there.");
    return -1;
  }
  if (total % 512) {
    error_msg ("The new size must be a multiple of 512");
    return -1;
  }
  *size = (uint64_t) total;
  return 0;
}

static int current_size (const char *filename, uint64_t *size)
{
  struct addcow *img;

  /* Only a look: addcow_resize takes the locks and checks again. */
  if (open_image (filename, ADDCOW_OPEN_FORCE_SHARE, &img) < 0)
    return -1;
  *size = addcow_get_virtual_size (img);
  return close_image (img, 0) == 0 ? 0 : -1;
}

int cmd_resize (int argc, char **argv)
{
  struct resize_args a = { .format = NULL };
  struct addcow_resize_opts opts = ADDCOW_RESIZE_OPTS_INIT;
  int status = parse_resize_args (argc, argv, &a);
  uint64_t current;

  if (status >= 0)
    return status;
  if (parse_resize_size (&a) < 0 || current_size (a.filename, &current) < 0
      || new_size (&a, current, &opts.size) < 0)
    return 1;
  opts.shrink = a.shrink;
  opts.prealloc = a.prealloc;
  if (addcow_resize (a.filename, &opts) < 0) {
    error_msg ("%s", addcow_get_error ());
    return 1;
  }
  if (!a.quiet)
    printf ("Image resized.\n");
  return 0;
}
