/*
 * img-compare.c - addcow-img compare: do two images hold the same disk?
 *
 * The work is addcow_compare's; this file reads qemu-img's command line
 * and prints its messages with its exit statuses: 0 identical, 1 a
 * mismatch (or a usage error, as qemu-img), 2 an error (an image that
 * cannot be opened or read).
 */
#include <getopt.h>
#include <stdio.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

#define EXIT_ERROR 2

struct compare_args {
  const char *fmt[2];           /* -f, -F */
  const char *file[2];
  bool strict;
  bool quiet;
  bool progress;
  bool force_share;
};

static void compare_help (void)
{
  printf ("usage: addcow-img compare [-f FMT] [-F FMT] [-s] [-q] "
          "[-p] [-U] FILE1 FILE2\n"
          "\n"
          "Tell whether the images FILE1 and FILE2 hold the same disk.  Exit\n"
          "status 0: identical, 1: they differ, 2: an error.\n"
          "\n"
          "Options:\n"
          "  -f FMT             the format of FILE1: add-cow (default), raw"
          "\n                     or qcow2 (never probed)\n"
          "  -F FMT             the format of FILE2\n"
          "  -s                 strict: a different size or allocation is a\n"
          "                     mismatch too\n"
          "  -q                 print nothing but errors\n"
          "  -p                 show progress\n"
          "  -U, --force-share  open the images without taking locks\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_compare_args (int argc, char **argv, struct compare_args *a)
{
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:F:spqU", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': compare_help (); return 0;
    case 'f': a->fmt[0] = optarg; break;
    case 'F': a->fmt[1] = optarg; break;
    case 's': a->strict = true; break;
    case 'p': a->progress = true; break;
    case 'q': a->quiet = true; break;
    case 'U': a->force_share = true; break;
    default: return getopt_error (c, argv);
    }
  }
  if (optind != argc - 2)
    return usage_error ("Expecting two image file names");
  a->file[0] = argv[optind];
  a->file[1] = argv[optind + 1];
  return -1;
}

/* qemu-img's messages for RES; the exit status. */
static int report (const struct compare_args *a,
                   const struct addcow_compare_result *res, uint64_t common)
{
  bool warn = res->size_differs
    && (res->outcome == ADDCOW_COMPARE_IDENTICAL
        || (res->outcome == ADDCOW_COMPARE_CONTENT && res->offset >= common));

  if (a->quiet)
    return res->outcome == ADDCOW_COMPARE_IDENTICAL ? 0 : 1;
  if (warn)
    printf ("Warning: Image size mismatch!\n");
  switch (res->outcome) {
  case ADDCOW_COMPARE_IDENTICAL:
    printf ("Images are identical.\n");
    return 0;
  case ADDCOW_COMPARE_CONTENT:
    printf ("Content mismatch at offset %llu!\n",
            (unsigned long long) res->offset);
    break;
  case ADDCOW_COMPARE_SIZE:
    printf ("Strict mode: Image size mismatch!\n");
    break;
  case ADDCOW_COMPARE_STATUS:
    printf ("Strict mode: Offset %llu block status mismatch!\n",
            (unsigned long long) res->offset);
    break;
  }
  return 1;
}

static int compare (const struct compare_args *a, struct addcow *img[2])
{
  struct addcow_compare_opts opts = ADDCOW_COMPARE_OPTS_INIT;
  struct addcow_compare_result res;
  uint64_t s0 = addcow_get_virtual_size (img[0]);
  uint64_t s1 = addcow_get_virtual_size (img[1]);
  int status;

  opts.strict = a->strict;
  opts.progress = progress_callback;
  progress_init (a->progress && !a->quiet);
  if (addcow_compare (img[0], img[1], &opts, &res) < 0) {
    progress_end ();
    error_msg ("%s", addcow_get_error ());
    return EXIT_ERROR;
  }
  /* qemu-img prints the result, then ends the progress line. */
  status = report (a, &res, s0 < s1 ? s0 : s1);
  progress_end ();
  return status;
}

int cmd_compare (int argc, char **argv)
{
  struct compare_args a = { .strict = false };
  struct addcow *img[2] = { NULL, NULL };
  unsigned flags;
  int status = parse_compare_args (argc, argv, &a), k;

  if (status >= 0)
    return status;
  flags = a.force_share ? ADDCOW_OPEN_FORCE_SHARE : 0;
  for (k = 0; k < 2; k++)
    if (check_any_format (a.fmt[k], a.file[k]) < 0
        || open_image_as (a.file[k], a.fmt[k], flags, &img[k]) < 0)
      break;
  status = k == 2 ? compare (&a, img) : EXIT_ERROR;
  for (k = 1; k >= 0; k--)
    if (img[k] && close_image (img[k], 0) != 0)
      status = EXIT_ERROR;
  return status;
}
