/*
 * img-create.c - addcow-img create: a new add-cow file (and image file).
 *
 * Parses qemu-img's create command line (-b, -F, -u, -o key=value,...,
 * SIZE) into struct addcow_create_opts; addcow_create does the work
 * atomically.  On success the "Formatting ..." line is printed from the
 * image as created (so it shows the probed backing format and the size
 * taken from an existing image file or the backing file), its keys in the
 * order qemu-img prints them for qcow2 (image_file where it has data_file):
 *   Formatting 'F', fmt=add-cow cluster_size=C preallocation=P size=N
 *       [backing_file=B backing_fmt=FMT] image_file=I image_fmt=raw
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct create_args {
  const char *format;
  const char *filename;
  const char *size;
  const char *backing;          /* -b */
  const char *backing_fmt;      /* -F */
  char *options;                /* every -o, joined with ',' */
  const char *cache;            /* -t (qemu-img create has none) */
  enum addcow_cache cache_mode;
  bool unsafe;
  bool force;
  bool quiet;
};

/* The -o keys; PREALLOC_NAMES is indexed by enum addcow_prealloc. */
static const char *const prealloc_names[] = { "off", "falloc", "full" };

static const struct {
  const char *name, *type, *help;
} create_options[] = {
  { "backing_file", "str", "File name of a base image" },
  { "backing_fmt", "str", "Image format of the base image (raw, qcow2 or add-cow)" },
  { "cluster_size", "size", "add-cow cluster size (4k to 2M, a power of two)" },
  { "image_file", "str", "File name of the raw image file holding the data" },
  { "image_fmt", "str",
    "Image format of the image file (allowed values: raw)" },
  { "preallocation", "str", "Preallocation mode of a new image file "
    "(allowed values: off, falloc, full)" },
  { "size", "size", "Virtual disk size" },
};

#define N_CREATE_OPTIONS (sizeof create_options / sizeof create_options[0])

static void create_help (void)
{
  printf ("usage: addcow-img create [-q] [-f add-cow] [-b BACKING [-F FMT]] "
          "[-u] [-o OPTIONS]\n"
          "                         [-t CACHE] [--force] FILE [SIZE]\n"
          "\n"
          "Create the add-cow image FILE and its raw image file (FILE minus\n"
          ".add-cow, plus .raw).  An existing image file is used only when\n"
          "named with -o image_file= (it keeps its contents and size);\n"
          "--force re-creates the default one.\n"
          "\n"
          "Options:\n"
          "  -q                 print nothing but errors\n"
          "  -f add-cow         the format of FILE (only add-cow)\n"
          "  -b BACKING         the backing file (-o backing_file=BACKING)\n"
          "  -F FMT             its format, raw, qcow2 or add-cow "
          "(-o backing_fmt=FMT)\n"
          "  -u                 do not open the backing file "
          "(needs -F and SIZE)\n"
          "  -o OPTIONS         key=value,... ('-o help' lists the keys)\n"
          "  -t CACHE           cache mode of the files written: writeback\n"
          "                     (default), writethrough, none, directsync,\n"
          "                     unsafe (no syncs: a crash can lose the image)\n"
          "  --force            replace an existing FILE\n"
          "  -h, --help         display this help and exit\n");
}

static void options_help (void)
{
  char name[64];
  size_t i;

  printf ("Supported add-cow options:\n");
  for (i = 0; i < N_CREATE_OPTIONS; i++) {
    snprintf (name, sizeof name, "%s=<%s>", create_options[i].name,
              create_options[i].type);
    printf ("  %-22s - %s\n", name, create_options[i].help);
  }
}

/* Returns -1 to go on, else the exit status. */
static int parse_create_args (int argc, char **argv, struct create_args *a)
{
  enum { OPT_FORCE = 256 };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force", no_argument, NULL, OPT_FORCE },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:b:F:uo:qt:", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': create_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'b': a->backing = optarg; break;
    case 'F': a->backing_fmt = optarg; break;
    case 'u': a->unsafe = true; break;
    case 'o':
      if (options_append (&a->options, optarg) < 0)
        return 1;
      break;
    case 'q': a->quiet = true; break;
    case 't':
      a->cache = optarg;
      if (parse_cache_mode (optarg, false, &a->cache_mode) < 0)
        return 1;
      break;
    case OPT_FORCE: a->force = true; break;
    default: return getopt_error (c, argv);
    }
  }
  if (optind < argc)
    a->filename = argv[optind++];
  if (optind < argc)
    a->size = argv[optind++];
  if (optind < argc)
    return usage_error ("Unexpected argument: %s", argv[optind]);
  return -1;
}

/* A size-valued -o option, with qemu's message. */
static int option_size (const char *file, const char *key, const char *value,
                        uint64_t *out)
{
  if (parse_size (value, out) == 0 && *out <= INT64_MAX)
    return 0;
  error_msg ("%s: Parameter '%s' expects a non-negative number below 2^64",
             file, key);
  fprintf (stderr, "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
           "giga-, tera-, peta-\nand exabytes, respectively.\n");
  return -1;
}

static int option_prealloc (const char *file, const char *value,
                            enum addcow_prealloc *out)
{
  size_t i;

  for (i = 0; i < sizeof prealloc_names / sizeof prealloc_names[0]; i++)
    if (strcmp (value, prealloc_names[i]) == 0) {
      *out = (enum addcow_prealloc) i;
      return 0;
    }
  error_msg ("%s: Parameter 'preallocation' does not accept value '%s'",
             file, value);
  return -1;
}

static int option_cluster_size (const char *file, const char *value,
                                uint32_t *out)
{
  uint64_t v;

  if (option_size (file, "cluster_size", value, &v) < 0)
    return -1;
  if (v < 4096 || v > 2 * 1024 * 1024 || (v & (v - 1)) != 0) {
    error_msg ("%s: cluster size must be a power of two between 4k and 2M",
               file);
    return -1;
  }
  *out = (uint32_t) v;
  return 0;
}

/* Apply one key=value to OPTS.  VALUE points into the options buffer. */
static int apply_option (const char *file, const char *key, const char *value,
                         struct addcow_create_opts *opts)
{
  if (strcmp (key, "backing_file") == 0)
    opts->backing_name = value;
  else if (strcmp (key, "backing_fmt") == 0)
    opts->backing_format = value;
  else if (strcmp (key, "image_file") == 0)
    opts->image_name = value;
  else if (strcmp (key, "image_fmt") == 0)
    opts->image_format = value;
  else if (strcmp (key, "cluster_size") == 0)
    return option_cluster_size (file, value, &opts->cluster_size);
  else if (strcmp (key, "preallocation") == 0)
    return option_prealloc (file, value, &opts->prealloc);
  else if (strcmp (key, "size") == 0) {
    opts->size_set = true;
    return option_size (file, key, value, &opts->size);
  }
  else {
    error_msg ("%s: Invalid parameter '%s'", file, key);
    return -1;
  }
  return 0;
}

/* Split the next "key=value" off *P, in place; ",," stands for ','.
 * A key without '=' means key=on, as in qemu. */
static void next_option (char **p, char **key, char **value)
{
  char *r = *p, *w = *p;

  *key = w;
  *value = NULL;
  for (; *r; r++) {
    if (*r == ',' && r[1] == ',')
      r++;
    else if (*r == ',')
      break;
    else if (*r == '=' && *value == NULL) {
      *w++ = '\0';
      *value = w;
      continue;
    }
    *w++ = *r;
  }
  *p = *r ? r + 1 : r;
  *w = '\0';
  if (*value == NULL)
    *value = (char *) "on";
}

static bool wants_help (const char *options)
{
  const char *p = options;
  size_t n;

  while (p && *p) {
    n = strcspn (p, ",");
    if ((n == 4 && strncmp (p, "help", 4) == 0) || (n == 1 && *p == '?'))
      return true;
    p += n;
    p += *p == ',';
  }
  return false;
}

static int parse_options (const char *file, char *options,
                          struct addcow_create_opts *opts)
{
  char *p = options, *key, *value;

  while (p && *p) {
    next_option (&p, &key, &value);
    if (*key && apply_option (file, key, value, opts) < 0)
      return -1;
  }
  return 0;
}

static void print_formatting (const struct addcow *img, const char *filename,
                              enum addcow_prealloc prealloc)
{
  const char *backing = addcow_get_backing_name (img);

  printf ("Formatting '%s', fmt=add-cow cluster_size=%u preallocation=%s "
          "size=%llu", filename, (unsigned) addcow_get_cluster_size (img),
          prealloc_names[prealloc],
          (unsigned long long) addcow_get_virtual_size (img));
  if (backing)
    printf (" backing_file=%s backing_fmt=%s", backing,
            addcow_get_backing_format (img));
  printf (" image_file=%s image_fmt=%s\n", addcow_get_image_name (img),
          addcow_get_image_format (img));
}

/* Fill OPTS from the command line; -1 on error (reported). */
static int build_opts (struct create_args *a, struct addcow_create_opts *opts)
{
  if (check_image_format (a->format, a->filename) < 0
      || parse_options (a->filename, a->options, opts) < 0)
    return -1;
  if (a->backing)
    opts->backing_name = a->backing;
  if (a->backing_fmt)
    opts->backing_format = a->backing_fmt;
  if (opts->backing_name && *opts->backing_name == '\0')
    opts->backing_name = NULL;
  if (check_backing_format (opts->backing_format, a->filename) < 0)
    return -1;
  if (a->unsafe && opts->backing_name && opts->backing_format == NULL) {
    /* Nothing to probe: the backing file is not opened. */
    error_msg ("%s: a backing format (-F) is needed when the backing file "
               "is not opened (-u)", a->filename);
    return -1;
  }
  if (a->size && opts->size_set) {
    error_msg ("%s: The image size must be specified only once",
               a->filename);
    return -1;
  }
  if (a->size && parse_size_arg ("image size", a->size, &opts->size) < 0)
    return -1;
  if (a->size)
    opts->size_set = true;
  if (!round_up_512 (&opts->size)) {
    error_msg ("%s: image size too large", a->filename);
    return -1;
  }
  opts->no_backing_open = a->unsafe;
  opts->overwrite = a->force;
  return 0;
}

static int create (struct create_args *a)
{
  struct addcow_create_opts opts = ADDCOW_CREATE_OPTS_INIT;
  struct addcow_io io;
  struct addcow *img;

  if (wants_help (a->options)) {
    options_help ();
    return 0;
  }
  if (a->filename == NULL)
    return usage_error ("Expecting image file name");
  if (build_opts (a, &opts) < 0)
    return 1;
  if (a->cache) {
    cache_io (a->filename, a->cache, a->cache_mode, &io);
    opts.io = &io;
  }
  if (addcow_create (a->filename, &opts) < 0) {
    error_msg ("%s", addcow_get_error ());
    return 1;
  }
  if (a->quiet)
    return 0;
  if (open_image (a->filename,
                  ADDCOW_OPEN_NO_BACKING | ADDCOW_OPEN_FORCE_SHARE, &img) < 0)
    return 1;
  print_formatting (img, a->filename, opts.prealloc);
  return close_image (img, 0);
}

int cmd_create (int argc, char **argv)
{
  struct create_args a = { .format = NULL };
  int status = parse_create_args (argc, argv, &a);

  if (status < 0)
    status = create (&a);
  free (a.options);
  return status;
}
