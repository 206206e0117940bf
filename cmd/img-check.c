/*
 * img-check.c - addcow-img check: find, report and repair problems.
 *
 * The checking is addcow_check's; this file prints what it found the way
 * qemu-img check does and maps it to qemu's exit codes:
 *   0 clean (or everything repaired), 1 the check could not run (a
 *   file it needs is missing or unusable, as qemu-img's "Could not open
 *   backing file"), 2 corruptions remain, 3 only leaks remain.
 * Each problem is printed on stderr as it is found: "ERROR <message>" for
 * a corruption, "LEAK <message>" for a leak, "Repaired <message>" for one
 * that -r mended.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct check_args {
  const char *format;
  const char *filename;
  enum output_format output;
  enum addcow_repair repair;
  const char *src_cache;         /* -T, qemu's name */
  enum addcow_cache src_cache_mode;
  bool force_share;
  bool quiet;
};

static void check_help (void)
{
  printf ("usage: addcow-img check [-q] [-f FMT] [--output=human|json] "
          "[-r leaks|all] [-T SRC_CACHE] [-U] FILE\n"
          "\n"
          "Check the add-cow image FILE, its image file and its backing chain\n"
          "against every rule of the format.  Exit status: 0 no problem,\n"
          "1 the check could not run, 2 corruptions, 3 leaks only.\n"
          "\n"
          "Options:\n"
          "  -q                     print nothing but errors\n"
          "  -f FMT                 add-cow, raw or qcow2 (default: probed)\n"
          "  --output=human|json    output format (default: human)\n"
          "  -r leaks|all           repair leaks, or leaks and what can be\n"
          "                         mended without guessing\n"
          "  -T SRC_CACHE           cache mode of the reads: writeback,\n"
          "                         writethrough, none, directsync, unsafe\n"
          "  -U, --force-share      open FILE without taking locks "
          "(not with -r)\n"
          "  -h, --help             display this help and exit\n");
}

static int parse_repair (const char *arg, enum addcow_repair *repair)
{
  if (strcmp (arg, "leaks") == 0)
    *repair = ADDCOW_REPAIR_LEAKS;
  else if (strcmp (arg, "all") == 0)
    *repair = ADDCOW_REPAIR_ALL;
  else
    return usage_error ("Unknown option value for -r (expecting 'leaks' or "
                        "'all'): %s", arg);
  return 0;
}

static int parse_check_args (int argc, char **argv, struct check_args *a)
{
  enum { OPT_OUTPUT = 256 };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    { "output", required_argument, NULL, OPT_OUTPUT },
    UNSUPPORTED_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:r:UqT:", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'T':
      a->src_cache = optarg;
      if (parse_cache_mode (optarg, true, &a->src_cache_mode) < 0)
        return 1;
      break;
    UNSUPPORTED_CASES;
    case 'h': check_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'r':
      if (parse_repair (optarg, &a->repair) != 0)
        return 1;
      break;
    case 'U': a->force_share = true; break;
    case 'q': a->quiet = true; break;
    case OPT_OUTPUT:
      if (parse_output_format (optarg, &a->output) < 0)
        return 1;
      break;
    default: return getopt_error (c, argv);
    }
  }
  if ((c = image_operand_or_raw (argc, argv, a->format, &a->filename)) >= 0)
    return c;
  if (a->force_share && a->repair != ADDCOW_REPAIR_NONE) {
    error_msg ("%s: -U (--force-share) cannot be used with -r", a->filename);
    return 1;
  }
  return -1;
}

static void report (void *opaque, enum addcow_problem kind, bool fixed,
                    const char *message)
{
  (void) opaque;
  if (kind == ADDCOW_PROBLEM_CHECK_ERROR)
    error_msg ("%s", message);
  else if (fixed)
    fprintf (stderr, "Repaired %s\n", message);
  else
    fprintf (stderr, "%s %s\n",
             kind == ADDCOW_PROBLEM_CORRUPTION ? "ERROR" : "LEAK", message);
}

static void print_repaired (const struct addcow_check_result *r)
{
  printf ("The following inconsistencies were found and repaired:\n\n"
          "    %llu leaked clusters\n"
          "    %llu corruptions\n\n"
          "Double checking the fixed image now...\n",
          (unsigned long long) r->leaks_fixed,
          (unsigned long long) r->corruptions_fixed);
}

/* qemu's dump_human_image_check, plus what to do about leaks. */
static void print_human (const struct addcow_check_result *r,
                         const char *filename)
{
  if (r->corruptions == 0 && r->leaks == 0)
    printf ("No errors were found on the image.\n");
  if (r->corruptions)
    printf ("\n%llu errors were found on the image.\n"
            "Data may be corrupted, or further writes to the image may "
            "corrupt it.\n", (unsigned long long) r->corruptions);
  if (r->leaks)
    printf ("\n%llu leaked clusters were found on the image.\n"
            "This means waste of disk space, but no harm to data.\n"
            "Run 'addcow-img check -r leaks %s' to repair them.\n",
            (unsigned long long) r->leaks, filename);
  if (r->total_clusters != 0 && r->allocated_clusters != 0)
    printf ("%llu/%llu = %0.2f%% allocated, 0.00%% fragmented, "
            "0.00%% compressed clusters\n",
            (unsigned long long) r->allocated_clusters,
            (unsigned long long) r->total_clusters,
            (double) r->allocated_clusters * 100.0
            / (double) r->total_clusters);
  if (r->image_end_offset)
    printf ("Image end offset: %llu\n",
            (unsigned long long) r->image_end_offset);
}

static void set_int (json_t *obj, const char *key, uint64_t value)
{
  json_object_set_new (obj, key, json_integer ((json_int_t) value));
}

/* qemu's ImageCheck, members in qemu-img's order. */
static int print_json (const struct addcow_check_result *r,
                       const char *filename)
{
  json_t *o = json_object ();

  set_int (o, "image-end-offset", r->image_end_offset);
  set_int (o, "total-clusters", r->total_clusters);
  if (r->corruptions)
    set_int (o, "corruptions", r->corruptions);
  if (r->corruptions_fixed)
    set_int (o, "corruptions-fixed", r->corruptions_fixed);
  set_int (o, "check-errors", 0);      /* else nothing is printed */
  if (r->leaks)
    set_int (o, "leaks", r->leaks);
  if (r->leaks_fixed)
    set_int (o, "leaks-fixed", r->leaks_fixed);
  if (r->allocated_clusters)
    set_int (o, "allocated-clusters", r->allocated_clusters);
  json_object_set_new (o, "filename", json_text (filename));
  json_object_set_new (o, "format", json_string ("add-cow"));
  return json_print (o);
}

/* qemu-img opens a raw file (so that a missing one is an error), then
 * says that raw has no checks: exit 63.  A qcow2 file is opened (its
 * header and tables the reads need are validated) and gets the same
 * answer: its refcounts, which reading never needs, are qemu-img check's
 * job. */
static int check_other (const struct check_args *a, const char *format)
{
  struct addcow *img;

  if (open_image_as (a->filename, format,
                     a->force_share ? ADDCOW_OPEN_FORCE_SHARE : 0, &img) < 0)
    return 1;
  if (close_image (img, 0) != 0)
    return 1;
  if (strcmp (format, "qcow2") == 0)
    error_msg ("This image format does not support checks "
               "(the refcounts of a qcow2 image are qemu-img check's job)");
  else
    error_msg ("This image format does not support checks");
  return 63;
}

int cmd_check (int argc, char **argv)
{
  struct check_args a = { .output = OUTPUT_HUMAN };
  struct addcow_check_opts opts = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result r;
  struct addcow_io io;
  const char *format;
  int status = parse_check_args (argc, argv, &a);

  if (status >= 0)
    return status;
  memset (&r, 0, sizeof r);
  opts.repair = a.repair;
  opts.force_share = a.force_share;
  opts.report = report;
  if (a.src_cache) {
    cache_io (a.filename, a.src_cache, a.src_cache_mode, &io);
    opts.io = &io;
  }
  lock_hint_force_share = a.repair == ADDCOW_REPAIR_NONE;
  format = image_format (a.filename, a.format);
  if (strcmp (format, "add-cow") != 0)
    return check_other (&a, format);
  if ((status = addcow_check (a.filename, &opts, &r)) < 0) {
    library_error (status);
    return 1;
  }
  /* A file the check needs could not be used (already printed): like
   * qemu-img's failed open, no report and exit 1, "cannot be checked". */
  if (r.check_errors)
    return 1;
  if (!a.quiet && a.output == OUTPUT_HUMAN) {
    if (r.corruptions_fixed || r.leaks_fixed)
      print_repaired (&r);
    print_human (&r, a.filename);
  }
  else if (!a.quiet && print_json (&r, a.filename) < 0)
    return 1;
  return r.corruptions ? 2 : r.leaks ? 3 : 0;
}
