/*
 * img-map.c - addcow-img map: which layer provides each part of the disk.
 *
 * The walk is qemu-img 7.2's img_map: ask for the status of up to 1 GiB at
 * a time, merge an answer into the current entry when every field matches
 * and the offsets are contiguous, print the current entry when it cannot
 * grow any more.  The JSON text is printed by hand, byte for byte as
 * qemu-img prints it (one entry a line); the human form lists only the
 * entries that hold data.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct map_args {
  const char *format;
  const char *filename;
  enum output_format output;
  uint64_t start;
  uint64_t max_length;
  bool has_max_length;
  bool force_share;
};

struct map_entry {
  uint64_t start;
  uint64_t length;
  uint64_t offset;
  uint32_t depth;
  bool present, zero, data, has_offset;
  const char *filename;
};

static void map_help (void)
{
  printf ("usage: addcow-img map [-f FMT] [--output=human|json] "
          "[--start-offset=OFFSET]\n"
          "                      [--max-length=LENGTH] [-U] FILE\n"
          "\n"
          "Show, for every part of the virtual disk of FILE, which layer\n"
          "provides it (depth 0 = the image file, 1 = its backing file ...).\n"
          "\n"
          "Options:\n"
          "  -f FMT                   add-cow, raw or qcow2 (default: probed)\n"
          "  --output=human|json      output format (default: human)\n"
          "  --start-offset=OFFSET    start at OFFSET (default 0)\n"
          "  --max-length=LENGTH      describe at most LENGTH bytes\n"
          "  -U, --force-share        open FILE without taking locks\n"
          "  -h, --help               display this help and exit\n");
}

static int parse_map_args (int argc, char **argv, struct map_args *a)
{
  enum { OPT_OUTPUT = 256, OPT_START_OFFSET, OPT_MAX_LENGTH };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    UNSUPPORTED_LONG_OPTIONS,
    { "output", required_argument, NULL, OPT_OUTPUT },
    { "start-offset", required_argument, NULL, OPT_START_OFFSET },
    { "max-length", required_argument, NULL, OPT_MAX_LENGTH },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:U", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'h': map_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'U': a->force_share = true; break;
    UNSUPPORTED_CASES;
    case OPT_OUTPUT:
      if (parse_output_format (optarg, &a->output) < 0)
        return 1;
      break;
    case OPT_START_OFFSET:
      if (parse_size_arg ("start offset", optarg, &a->start) < 0)
        return 1;
      break;
    case OPT_MAX_LENGTH:
      if (parse_size_arg ("max length", optarg, &a->max_length) < 0)
        return 1;
      a->has_max_length = true;
      break;
    default: return getopt_error (c, argv);
    }
  }
  return image_operand_or_raw (argc, argv, a->format, &a->filename);
}

static void extent_to_entry (const struct addcow_extent *ext,
                             struct map_entry *e)
{
  e->start = ext->start;
  e->length = ext->length;
  e->depth = ext->depth;
  e->present = (ext->flags & ADDCOW_EXTENT_PRESENT) != 0;
  e->zero = (ext->flags & ADDCOW_EXTENT_ZERO) != 0;
  e->data = (ext->flags & ADDCOW_EXTENT_DATA) != 0;
  e->has_offset = (ext->flags & ADDCOW_EXTENT_OFFSET_VALID) != 0;
  e->offset = e->has_offset ? ext->offset : 0;
  e->filename = e->has_offset ? ext->filename : NULL;
}

/* qemu-img's entry_mergeable. */
static bool mergeable (const struct map_entry *curr,
                       const struct map_entry *next)
{
  if (curr->length == 0)
    return false;
  if (curr->zero != next->zero || curr->data != next->data ||
      curr->depth != next->depth || curr->present != next->present ||
      !curr->filename != !next->filename ||
      curr->has_offset != next->has_offset)
    return false;
  if (curr->filename && strcmp (curr->filename, next->filename) != 0)
    return false;
  if (curr->has_offset && curr->offset + curr->length != next->offset)
    return false;
  return true;
}

/* The JSON entries, gathered here and handed to stdio in blocks of
 * 1 MiB, which stdio writes out without copying them (one fwrite per
 * entry was a fifth of the time of a large map). */
static char json_buf[1 << 20];
static size_t json_len;

static void json_flush (void)
{
  fwrite (json_buf, 1, json_len, stdout);
  json_len = 0;
}

/* Append the string literal S to P; the end (a fixed-size copy). */
#define PUT_LIT(p, s) (memcpy ((p), (s), sizeof (s) - 1), (p) + sizeof (s) - 1)

/* Append B as JSON to P; the end. */
static char *put_bool (char *p, bool b)
{
  return b ? PUT_LIT (p, "true") : PUT_LIT (p, "false");
}

/* Append V in decimal to P; the end.  Two digits a step. */
static char *put_u64 (char *p, uint64_t v)
{
  static const char pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";
  char digits[20], *d = digits + sizeof digits;
  size_t n;

  while (v >= 100) {
    d -= 2;
    memcpy (d, pairs + 2 * (v % 100), 2);
    v /= 100;
  }
  if (v >= 10) {
    d -= 2;
    memcpy (d, pairs + 2 * v, 2);
  }
  else
    *--d = (char) ('0' + v);
  n = (size_t) (digits + sizeof digits - d);
  memcpy (p, d, n);
  return p + n;
}

/* One JSON entry, as qemu-img prints it.  Built by hand, not by printf:
 * a map of a large image prints hundreds of thousands of them, and
 * printf's parsing was a third of the time. */
static void print_json_entry (const struct map_entry *e, bool last)
{
  char *p;

  if (sizeof json_buf - json_len < 256)     /* an entry is < 200 bytes */
    json_flush ();
  p = json_buf + json_len;
  p = PUT_LIT (p, "{ \"start\": ");
  p = put_u64 (p, e->start);
  p = PUT_LIT (p, ", \"length\": ");
  p = put_u64 (p, e->length);
  p = PUT_LIT (p, ", \"depth\": ");
  p = put_u64 (p, e->depth);
  p = PUT_LIT (p, ", \"present\": ");
  p = put_bool (p, e->present);
  p = PUT_LIT (p, ", \"zero\": ");
  p = put_bool (p, e->zero);
  p = PUT_LIT (p, ", \"data\": ");
  p = put_bool (p, e->data);
  if (e->has_offset) {
    p = PUT_LIT (p, ", \"offset\": ");
    p = put_u64 (p, e->offset);
  }
  p = last ? PUT_LIT (p, "}") : PUT_LIT (p, "},\n");
  json_len = (size_t) (p - json_buf);
}

/* Returns 0, or -1 for a data run with no place in a file (a compressed
 * qcow2 cluster), which the human form cannot show: qemu-img's error. */
static int print_entry (enum output_format output,
                        const struct map_entry *e, bool last)
{
  if (output == OUTPUT_JSON)
    print_json_entry (e, last);
  else if (e->data && !e->has_offset) {
    error_msg ("File contains external, encrypted or compressed clusters.");
    return -1;
  }
  else if (e->data && !e->zero)
    printf ("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
            e->start, e->length, e->offset,
            e->filename ? e->filename : "");
  return 0;
}

static int map_image (struct addcow *img, const struct map_args *a)
{
  uint64_t end = addcow_get_virtual_size (img), offset, n;
  struct map_entry curr = { .start = a->start }, next;
  struct addcow_extent ext;

  /* Both are at most INT64_MAX: the sum cannot overflow. */
  if (a->has_max_length && a->start + a->max_length < end)
    end = a->start + a->max_length;
  if (a->output == OUTPUT_JSON)
    putchar ('[');
  else
    printf ("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
  while (curr.start + curr.length < end) {
    offset = curr.start + curr.length;
    n = end - offset;
    if (n > (UINT64_C(1) << 30))
      n = UINT64_C(1) << 30;
    if (addcow_block_status (img, offset, n, &ext) < 0) {
      json_flush ();
      error_msg ("%s", addcow_get_error ());
      return -1;
    }
    if (ext.length == 0 || ext.length > n) {
      json_flush ();
      error_msg ("%s: bad block status at offset %" PRIu64, a->filename,
                 offset);
      return -1;
    }
    extent_to_entry (&ext, &next);
    if (mergeable (&curr, &next)) {
      curr.length += next.length;
      continue;
    }
    if (curr.length > 0 && print_entry (a->output, &curr, false) < 0)
      return -1;
    curr = next;
  }
  if (print_entry (a->output, &curr, true) < 0)
    return -1;
  if (a->output == OUTPUT_JSON) {
    json_flush ();
    printf ("]\n");
  }
  return 0;
}

/* A map of a large image is hundreds of thousands of lines: written to
 * a file or a pipe, a few large writes rather than one per 4 KiB (JSON
 * has json_buf). */
static char map_out_buf[1 << 20];

int cmd_map (int argc, char **argv)
{
  struct map_args a = { .output = OUTPUT_HUMAN };
  struct addcow *img;
  int status = parse_map_args (argc, argv, &a);

  if (status >= 0)
    return status;
  lock_hint_force_share = true;
  if (a.output != OUTPUT_JSON && !isatty (STDOUT_FILENO))
    setvbuf (stdout, map_out_buf, _IOFBF, sizeof map_out_buf);
  if (open_image_as (a.filename, image_format (a.filename, a.format),
                     a.force_share ? ADDCOW_OPEN_FORCE_SHARE : 0, &img) < 0)
    return 1;
  return close_image (img, map_image (img, &a) < 0 ? 1 : 0);
}
