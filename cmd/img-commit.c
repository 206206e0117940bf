/*
 * img-commit.c - addcow-img commit: write an image's clusters into its
 * backing file (or a deeper layer with -b), then empty the image unless
 * -d.  The work is addcow_commit's; this file parses qemu-img's command
 * line, shows progress (-p) and turns SIGINT/SIGTERM into a cancellation
 * at the library's next safe point (exit status 130/143).
 */
#include <getopt.h>
#include <stdio.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct commit_args {
  const char *format;
  const char *filename;
  const char *base;
  const char *cache;            /* -t, qemu's name */
  enum addcow_cache cache_mode;
  uint64_t rate;                /* -r, bytes per second */
  bool keep;
  bool progress;
  bool quiet;
};

static void commit_help (void)
{
  printf ("usage: addcow-img commit [-q] [-p] [-f add-cow] [-t CACHE] "
          "[-r RATE] [-d] [-b BASE] FILE\n"
          "\n"
          "Write every cluster the add-cow image FILE holds into its backing\n"
          "file, then empty FILE (its disk does not change).\n"
          "\n"
          "Options:\n"
          "  -q                 print nothing but errors\n"
          "  -p                 show progress\n"
          "  -f add-cow         the format of FILE (only add-cow)\n"
          "  -d                 keep the data in FILE (do not empty it)\n"
          "  -b BASE            commit into BASE, a deeper layer (implies -d)\n"
          "  -t CACHE           cache mode: writeback (default), writethrough,\n"
          "                     none, directsync, unsafe (no syncs: a crash\n"
          "                     can corrupt the images)\n"
          "  -r RATE            copy at most RATE bytes per second\n"
          "  -h, --help         display this help and exit\n");
}

static int parse_commit_args (int argc, char **argv, struct commit_args *a)
{
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    UNSUPPORTED_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:b:dpqt:r:", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': commit_help (); return 0;
    case 't':
      a->cache = optarg;
      if (parse_cache_mode (optarg, false, &a->cache_mode) < 0)
        return 1;
      break;
    case 'r':
      if (parse_size_arg ("rate limit", optarg, &a->rate) < 0)
        return 1;
      break;
    UNSUPPORTED_CASES;
    case 'f': a->format = optarg; break;
    case 'b': a->base = optarg; a->keep = true; break;
    case 'd': a->keep = true; break;
    case 'p': a->progress = true; break;
    case 'q': a->quiet = true; break;
    default: return getopt_error (c, argv);
    }
  }
  return image_operand (argc, argv, a->format, &a->filename);
}

int cmd_commit (int argc, char **argv)
{
  struct commit_args a = { .format = NULL };
  struct addcow_commit_opts opts = ADDCOW_COMMIT_OPTS_INIT;
  struct addcow_io io;
  int status = parse_commit_args (argc, argv, &a);
  int r;

  if (status >= 0)
    return status;
  opts.base = a.base;
  opts.keep = a.keep;
  opts.progress = progress_callback;
  if (a.cache) {
    cache_io (a.filename, a.cache, a.cache_mode, &io);
    opts.io = &io;
  }
  rate_limit_set (a.rate);
  long_op_begin (a.progress && !a.quiet);
  if ((r = long_op_end (addcow_commit (a.filename, &opts))) != 0)
    return r;
  if (!a.quiet)
    printf ("Image committed.\n");
  return 0;
}
