/*
 * img-convert.c - addcow-img convert: write an image's virtual disk to a
 * new raw file or add-cow image.
 *
 * The work is addcow_convert's; this file reads qemu-img's command line
 * with its checks and messages, shows progress (-p) and turns SIGINT and
 * SIGTERM into a cancellation (exit status 130/143; the target is then
 * removed).  -W and -m are accepted for compatibility: copies are always
 * several in flight, in any order.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct convert_args {
  const char *format;           /* -f */
  const char *out;              /* -O */
  char *options;                /* -o, joined by ',' */
  const char *backing;          /* -B */
  const char *backing_format;   /* -F */
  const char *src, *dst;
  struct addcow_convert_opts opts;
  bool progress, quiet, force_share;
};

static void convert_help (void)
{
  printf ("usage: addcow-img convert [-p] [-q] [-f FMT] [-O raw|add-cow] "
          "[-o OPTIONS] [-B BACKING -F FMT] [-S SIZE] [-n] [-W] [-m N] [-U] "
          "SRC DST\n"
          "\n"
          "Write the virtual disk of the image SRC to DST, a sparse raw file\n"
          "(default) or a new add-cow image.\n"
          "\n"
          "Options:\n"
          "  -p                 show progress\n"
          "  -q                 print nothing but errors\n"
          "  -f FMT             the format of SRC: add-cow (default), raw or\n"
          "                     qcow2 (never probed)\n"
          "  -O FMT             raw (default) or add-cow\n"
          "  -o OPTIONS         add-cow: image_file=I, cluster_size=C\n"
          "  -B BACKING         add-cow: an overlay over BACKING holding only\n"
          "                     the clusters that differ from it\n"
          "  -F FMT             the format of BACKING: raw, add-cow or qcow2\n"
          "  -S SIZE            zero runs shorter than SIZE are written (4k);\n"
          "                     0 writes every byte (fully allocated)\n"
          "  -n                 write into the existing raw file DST\n"
          "  -W, -m N           accepted (copies run in parallel anyway)\n"
          "  -U, --force-share  open SRC without taking locks\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_sparse (const char *s, struct addcow_convert_opts *o)
{
  uint64_t v;
  int r = parse_size (s, &v);

  if (r < 0 && r != -ERANGE) {
    error_msg ("Invalid buffer size for sparse output specified. You may "
               "use k, M, G, T, P or E suffixes for");
    error_msg ("kilobytes, megabytes, gigabytes, terabytes, petabytes and "
               "exabytes.");
    return -1;
  }
  if (r < 0 || v % 512 || v > 16 * 1024 * 1024) {
    error_msg ("Invalid buffer size for sparse output specified. Valid sizes "
               "are multiples of 512 up to 16777216. Select 0 to disable "
               "sparse detection (fully allocates output).");
    return -1;
  }
  o->sparse_size = v;
  o->fully_allocate = v == 0;
  return 0;
}

static int parse_coroutines (const char *s)
{
  char *end;
  long n = strtol (s, &end, 10);

  if (*s && !*end && n >= 1 && n <= 16)
    return 0;
  error_msg ("Invalid number of coroutines. Allowed number of coroutines is "
             "between 1 and 16");
  return -1;
}

static int parse_convert_args (int argc, char **argv, struct convert_args *a)
{
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:O:o:B:F:S:nWm:pqU",
                           long_options, NULL)) != -1) {
    switch (c) {
    case 'h': convert_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'O': a->out = optarg; break;
    case 'o':
      if (options_append (&a->options, optarg) < 0)
        return 1;
      break;
    case 'B': a->backing = optarg; break;
    case 'F': a->backing_format = optarg; break;
    case 'S':
      if (parse_sparse (optarg, &a->opts) < 0)
        return 1;
      break;
    case 'n': a->opts.existing = true; break;
    case 'W': break;
    case 'm':
      if (parse_coroutines (optarg) < 0)
        return 1;
      break;
    case 'p': a->progress = true; break;
    case 'q': a->quiet = true; break;
    case 'U': a->force_share = true; break;
    default: return getopt_error (c, argv);
    }
  }
  if (argc - optind < 2) {
    error_msg ("Must specify image file name");
    return 1;
  }
  if (argc - optind > 2) {
    error_msg ("Only one source image is supported");
    return 1;
  }
  a->src = argv[optind];
  a->dst = argv[optind + 1];
  return -1;
}

/* -O, -B and -o: qemu-img's messages. */
static int check_output (struct convert_args *a)
{
  const char *out = a->out ? a->out : "raw";
  char *p, *key, *value;

  if (strcmp (out, "raw") == 0)
    a->opts.format = ADDCOW_CONVERT_RAW;
  else if (strcmp (out, "add-cow") == 0)
    a->opts.format = ADDCOW_CONVERT_ADDCOW;
  else {
    error_msg ("Unknown file format '%s'", out);
    return -1;
  }
  if (a->backing && a->opts.format == ADDCOW_CONVERT_RAW) {
    error_msg ("Backing file not supported for file format 'raw'");
    return -1;
  }
  if (a->backing_format && a->opts.format == ADDCOW_CONVERT_RAW) {
    error_msg ("Backing file format not supported for file format 'raw'");
    return -1;
  }
  if (a->backing && !a->backing_format) {
    error_msg ("Use of backing file requires explicit backing format");
    return -1;
  }
  if (a->backing_format && !a->backing) {
    error_msg ("%s: error while converting %s: Backing format cannot be "
               "used without backing file", a->dst, out);
    return -1;
  }
  a->opts.backing_name = a->backing;
  a->opts.backing_format = a->backing_format;
  for (p = a->options ? strtok (a->options, ",") : NULL; p;
       p = strtok (NULL, ",")) {
    key = p;
    value = strchr (p, '=');
    if (value)
      *value++ = '\0';
    if (a->opts.format == ADDCOW_CONVERT_ADDCOW && value
        && strcmp (key, "image_file") == 0)
      a->opts.image_name = value;
    else if (a->opts.format == ADDCOW_CONVERT_ADDCOW && value
             && strcmp (key, "cluster_size") == 0) {
      uint64_t v;
      if (parse_size (value, &v) < 0 || v < 4096 || v > 2 * 1024 * 1024
          || (v & (v - 1))) {
        error_msg ("Cluster size must be a power of two between 4k and "
                   "2048k");
        return -1;
      }
      a->opts.cluster_size = (uint32_t) v;
    }
    else {
      error_msg ("Invalid parameter '%s'", key);
      return -1;
    }
  }
  return 0;
}

static int open_source (const struct convert_args *a, struct addcow **img)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;

  if (a->format && !addcow_format_supported (a->format)) {
    error_msg ("%s: unsupported format '%s'", a->src, a->format);
    return -1;
  }
  o.flags = a->force_share ? ADDCOW_OPEN_FORCE_SHARE : 0;
  o.format = a->format;
  if (addcow_open (a->src, &o, img) == 0)
    return 0;
  error_msg ("%s", addcow_get_error ());
  return -1;
}

int cmd_convert (int argc, char **argv)
{
  struct convert_args a = { .format = NULL };
  struct addcow *src;
  int status, r;

  a.opts = (struct addcow_convert_opts) ADDCOW_CONVERT_OPTS_INIT;
  status = parse_convert_args (argc, argv, &a);
  if (status < 0) {
    status = 1;
    if (check_output (&a) == 0 && open_source (&a, &src) == 0) {
      a.opts.progress = progress_callback;
      long_op_begin (a.progress && !a.quiet);
      r = addcow_convert (src, a.dst, &a.opts);
      status = close_image (src, long_op_end (r));
    }
  }
  free (a.options);
  return status;
}
