/*
 * img-rebase.c - addcow-img rebase: give an image another backing file
 * (safe: copy what would change first; -u: rewrite the header only), or
 * flatten it with -b "".  The work is addcow_rebase's; this file parses
 * qemu-img's command line, shows progress (-p) and turns SIGINT/SIGTERM
 * into a cancellation at the library's next safe point (exit 130/143).
 */
#include <getopt.h>
#include <stdio.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct rebase_args {
  const char *format;
  const char *filename;
  const char *backing;
  const char *backing_fmt;
  const char *cache, *src_cache;  /* -t, -T: qemu's names */
  enum addcow_cache cache_mode, src_cache_mode;
  bool unsafe;
  bool progress;
  bool quiet;
};

static void rebase_help (void)
{
  printf ("usage: addcow-img rebase [-q] [-p] [-u] [-U] [-f add-cow] "
          "[-t CACHE] [-T SRC_CACHE] -b BACKING [-F FMT] FILE\n"
          "\n"
          "Make BACKING the backing file of the add-cow image FILE without\n"
          "changing its disk; with -b \"\" copy everything into the image "
          "file\n"
          "(flatten), which then is the whole disk.\n"
          "\n"
          "Options:\n"
          "  -q                 print nothing but errors\n"
          "  -p                 show progress\n"
          "  -u                 unsafe: only rewrite the header, copy nothing\n"
          "  -f add-cow         the format of FILE (only add-cow)\n"
          "  -b BACKING         the new backing file (\"\": none, flatten)\n"
          "  -F FMT             its format, raw, qcow2 or add-cow\n"
          "  -t CACHE           cache mode: writeback (default), writethrough,\n"
          "                     none, directsync, unsafe (no syncs: a crash\n"
          "                     can corrupt the image)\n"
          "  -T SRC_CACHE       accepted; the backing files are read in the\n"
          "                     -t mode\n"
          "  -U, --force-share  accepted (the backing files are read with a\n"
          "                     lock that shares every permission)\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_rebase_args (int argc, char **argv, struct rebase_args *a)
{
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    UNSUPPORTED_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:b:F:upqt:T:U", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': rebase_help (); return 0;
    case 't':
      a->cache = optarg;
      if (parse_cache_mode (optarg, false, &a->cache_mode) < 0)
        return 1;
      break;
    case 'T':
      a->src_cache = optarg;
      if (parse_cache_mode (optarg, true, &a->src_cache_mode) < 0)
        return 1;
      break;
    case 'U': break;            /* see rebase_help */
    UNSUPPORTED_CASES;
    case 'f': a->format = optarg; break;
    case 'b': a->backing = optarg; break;
    case 'F': a->backing_fmt = optarg; break;
    case 'u': a->unsafe = true; break;
    case 'p': a->progress = true; break;
    case 'q': a->quiet = true; break;
    default: return getopt_error (c, argv);
    }
  }
  if (optind != argc - 1)
    return usage_error ("Expecting one image file name");
  a->filename = argv[optind];
  if (a->backing == NULL && !a->unsafe)
    return usage_error ("Must specify backing file (-b) or use unsafe mode "
                        "(-u)");
  if (check_image_format (a->format, a->filename) < 0
      || check_backing_format (a->backing_fmt, a->filename) < 0)
    return 1;
  return -1;
}

int cmd_rebase (int argc, char **argv)
{
  struct rebase_args a = { .format = NULL };
  struct addcow_rebase_opts opts = ADDCOW_REBASE_OPTS_INIT;
  struct addcow_io io;
  int status = parse_rebase_args (argc, argv, &a);

  if (status >= 0)
    return status;
  opts.backing_name = a.backing;
  opts.backing_format = a.backing_fmt;
  opts.unsafe = a.unsafe;
  opts.progress = progress_callback;
  if (a.cache) {
    cache_io (a.filename, a.cache, a.cache_mode, &io);
    opts.io = &io;
  }
  long_op_begin (a.progress && !a.quiet);
  return long_op_end (addcow_rebase (a.filename, &opts));
}
