/*
 * img-measure.c - addcow-img measure: how much storage an image of a
 * given size, or a copy of an image (what convert would write), needs.
 *
 * qemu-img's command line, checks, messages and keys ("required",
 * "fully-allocated").  Output formats: raw (the default, as qemu-img) and
 * add-cow.
 *   raw:     both numbers are the virtual size rounded up to 512, as
 *            qemu-img says for raw (a raw file may be sparse, but qemu-img
 *            does not count on it; neither do we).
 *   add-cow: the add-cow file (header and bitmap padded to a cluster, as
 *            create writes it) plus the image file.  "required" counts the
 *            image file's data: nothing for --size, else every 4 KiB block
 *            of the source's disk that holds data (convert writes zero runs
 *            as holes at that granularity); "fully-allocated" counts the
 *            whole virtual size.  With preallocation both are the latter.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

#define DATA_BLOCK 4096u        /* granularity of holes in the image file */

enum out_format { OUT_RAW, OUT_ADDCOW };

struct measure_args {
  const char *format;           /* -f */
  const char *out_name;         /* -O */
  enum out_format out;
  char *options;                /* the -o values joined by ',' */
  const char *filename;
  uint64_t size;                /* --size, or UINT64_MAX */
  enum output_format output;
  bool force_share;
};

struct measure_opts {
  uint32_t cluster_size;
  bool prealloc;
};

static void measure_help (void)
{
  printf ("usage: addcow-img measure [--output=human|json] [-O raw|add-cow] "
          "[-o OPTIONS] (--size SIZE | [-f FMT] [-U] FILE)\n"
          "\n"
          "Print the storage an image of SIZE bytes, or a copy of FILE in the\n"
          "format -O, needs: 'required' for the data it holds, 'fully\n"
          "allocated' with every byte of its disk allocated.\n"
          "\n"
          "Options:\n"
          "  --output=FMT       human (default) or json\n"
          "  -O FMT             the format to measure for: raw (default) or "
          "add-cow\n"
          "  -o OPTIONS         add-cow: cluster_size=C, preallocation=P,\n"
          "                     image_file=I, image_fmt=raw\n"
          "  --size SIZE        a new, empty image of SIZE bytes\n"
          "  -f FMT             the format of FILE: add-cow (default), raw or\n"
          "                     qcow2 (never probed)\n"
          "  -U, --force-share  open FILE without taking locks\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_measure_args (int argc, char **argv, struct measure_args *a)
{
  enum { OPT_OUTPUT = 256, OPT_SIZE };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "output", required_argument, NULL, OPT_OUTPUT },
    { "size", required_argument, NULL, OPT_SIZE },
    { "force-share", no_argument, NULL, 'U' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:O:o:U", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': measure_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'O': a->out_name = optarg; break;
    case 'o':
      if (options_append (&a->options, optarg) < 0)
        return 1;
      break;
    case 'U': a->force_share = true; break;
    case OPT_OUTPUT:
      if (parse_output_format (optarg, &a->output) < 0)
        return 1;
      break;
    case OPT_SIZE:
      if (parse_size_arg ("image size", optarg, &a->size) < 0)
        return 1;
      break;
    default: return getopt_error (c, argv);
    }
  }
  /* qemu-img's checks, in its order and words. */
  if (argc - optind > 1) {
    error_msg ("At most one filename argument is allowed.");
    return 1;
  }
  if (argc - optind == 1)
    a->filename = argv[optind];
  if (!a->filename && a->format) {
    error_msg ("--image-opts, -f, and -l require a filename argument.");
    return 1;
  }
  if (a->filename && a->size != UINT64_MAX) {
    error_msg ("--size N cannot be used together with a filename.");
    return 1;
  }
  if (!a->filename && a->size == UINT64_MAX) {
    error_msg ("Either --size N or one filename must be specified.");
    return 1;
  }
  if (a->filename && check_any_format (a->format, a->filename) < 0)
    return 1;
  return -1;
}

/* ---- -O and -o ---------------------------------------------------------- */

static int parse_out_format (struct measure_args *a)
{
  const char *f = a->out_name ? a->out_name : "raw";

  if (strcmp (f, "raw") == 0)
    a->out = OUT_RAW;
  else if (strcmp (f, "add-cow") == 0)
    a->out = OUT_ADDCOW;
  else {
    error_msg ("Unknown file format '%s'", f);
    return -1;
  }
  return 0;
}

/* A -o value that is not one: qemu-img's two lines. */
static int invalid_option (const struct measure_args *a, const char *what,
                           const char *key)
{
  error_msg ("%s '%s'", what, key);
  error_msg ("Invalid options for file format '%s'",
             a->out == OUT_RAW ? "raw" : "add-cow");
  return -1;
}

static int option_cluster_size (const char *value, uint32_t *out)
{
  uint64_t v;

  if (parse_size (value, &v) < 0) {
    error_msg ("Parameter 'cluster_size' expects a non-negative number "
               "below 2^64");
    fprintf (stderr, "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
             "giga-, tera-, peta-\nand exabytes, respectively.\n");
    error_msg ("Invalid options for file format 'add-cow'");
    return -1;
  }
  *out = v > UINT32_MAX ? 0 : (uint32_t) v;
  return 0;
}

static int apply_option (const struct measure_args *a, const char *key,
                         const char *value, struct measure_opts *m)
{
  if (strcmp (key, "preallocation") == 0 && a->out == OUT_RAW)
    return 0;                   /* qemu-img's raw does not look at it */
  if (a->out == OUT_RAW)
    return invalid_option (a, "Invalid parameter", key);
  if (strcmp (key, "preallocation") == 0) {
    if (strcmp (value, "off") && strcmp (value, "falloc")
        && strcmp (value, "full")) {
      error_msg ("invalid parameter value: %s", value);
      return -1;
    }
    m->prealloc = strcmp (value, "off") != 0;
    return 0;
  }
  if (strcmp (key, "cluster_size") == 0)
    return option_cluster_size (value, &m->cluster_size);
  if (strcmp (key, "image_file") == 0)
    return 0;                   /* names do not change the sizes */
  if (strcmp (key, "image_fmt") == 0) {
    if (strcmp (value, "raw") == 0)
      return 0;
    error_msg ("Parameter 'image_fmt' does not accept value '%s'", value);
    return -1;
  }
  return invalid_option (a, "Invalid parameter", key);
}

/* "key=value,key=value" (",," stands for ','; a key alone means on), then
 * the cluster size's range. */
static int parse_options (const struct measure_args *a, struct measure_opts *m)
{
  char *p = a->options, *key, *value, *w;
  uint32_t cs;

  while (p && *p) {
    key = w = p;
    value = NULL;
    for (; *p && !(*p == ',' && p[1] != ','); p++) {
      if (*p == ',')
        p++;                    /* ",," */
      else if (*p == '=' && !value) {
        *w++ = '\0';
        value = w;
        continue;
      }
      *w++ = *p;
    }
    if (*p)
      p++;
    *w = '\0';
    if (*key && apply_option (a, key, value ? value : "on", m) < 0)
      return -1;
  }
  cs = m->cluster_size;
  if (cs < 4096 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)) != 0) {
    error_msg ("Cluster size must be a power of two between 4k and 2048k");
    return -1;
  }
  return 0;
}

/* ---- the numbers -------------------------------------------------------- */

static uint64_t round_up (uint64_t v, uint64_t to)
{
  return (v + to - 1) / to * to;
}

/* Bytes of the add-cow file create writes for SIZE bytes. */
static uint64_t addcow_file_size (uint64_t size, uint32_t cs)
{
  uint64_t nbytes = (size / cs + (size % cs != 0) + 7) / 8;

  return (cs > 4096 ? cs : 4096) + round_up (nbytes, cs);
}

/* Bytes of IMG's disk in DATA_BLOCK blocks that hold data. */
static int data_bytes (struct addcow *img, uint64_t *bytes)
{
  uint64_t size = addcow_get_virtual_size (img), pos = 0, counted = 0;
  uint64_t first, end;
  struct addcow_extent e;

  *bytes = 0;
  while (pos < size) {
    if (addcow_block_status (img, pos, size - pos, &e) < 0) {
      error_msg ("%s", addcow_get_error ());
      return -1;
    }
    if ((e.flags & ADDCOW_EXTENT_DATA) && !(e.flags & ADDCOW_EXTENT_ZERO)) {
      first = e.start / DATA_BLOCK * DATA_BLOCK;
      end = round_up (e.start + e.length, DATA_BLOCK);
      if (first < counted)
        first = counted;
      if (end > first)
        *bytes += end - first;
      counted = end;
    }
    pos = e.start + e.length;
  }
  return 0;
}

static int measure (struct measure_args *a, struct measure_opts *m,
                    uint64_t *required, uint64_t *full)
{
  struct addcow *img;
  uint64_t size = a->size, data = 0, meta;
  int status = 0;

  /* qemu-img's order: the image is opened before -O and -o are read. */
  if (a->filename) {
    if (open_image_as (a->filename, a->format,
                       a->force_share ? ADDCOW_OPEN_FORCE_SHARE : 0, &img) < 0)
      return -1;
    size = addcow_get_virtual_size (img);
    status = parse_out_format (a) < 0 || parse_options (a, m) < 0 ? 1 : 0;
    if (status == 0 && a->out == OUT_ADDCOW)
      status = data_bytes (img, &data) < 0;
    if (close_image (img, status) != 0)
      return -1;
  }
  else if (parse_out_format (a) < 0 || parse_options (a, m) < 0)
    return -1;
  size = round_up (size, 512);
  if (a->out == OUT_RAW) {
    *required = *full = size;
    return 0;
  }
  meta = addcow_file_size (size, m->cluster_size);
  *full = meta + size;
  *required = m->prealloc ? *full : meta + data;
  return 0;
}

static int print_measure (enum output_format output, uint64_t required,
                          uint64_t full)
{
  json_t *o;

  if (output == OUTPUT_HUMAN) {
    printf ("required size: %llu\nfully allocated size: %llu\n",
            (unsigned long long) required, (unsigned long long) full);
    return 0;
  }
  o = json_object ();
  if (!o || json_object_set_new (o, "required", json_integer ((json_int_t)
                                                              required)) < 0
      || json_object_set_new (o, "fully-allocated",
                              json_integer ((json_int_t) full)) < 0
      || json_print (o) < 0) {
    error_msg ("out of memory");
    return -1;
  }
  return 0;
}

int cmd_measure (int argc, char **argv)
{
  struct measure_args a = { .size = UINT64_MAX, .output = OUTPUT_HUMAN };
  struct measure_opts m = { .cluster_size = 65536 };
  uint64_t required, full;
  int status = parse_measure_args (argc, argv, &a);

  if (status < 0) {
    status = 1;
    if (measure (&a, &m, &required, &full) == 0
        && print_measure (a.output, required, full) == 0)
      status = 0;
  }
  free (a.options);
  return status;
}
