/*
 * options.h - command-line parsing shared by addcow-img and addcow-io.
 *
 * Owns: the program name used in messages, error/usage reporting in
 * qemu-img's words, size parsing with qemu's rules (qemu_strtosz), the
 * --output and -f/-F checks, and getopt error reporting.  Nothing here
 * touches an image.
 */
#ifndef ADDCOW_CMD_OPTIONS_H
#define ADDCOW_CMD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Name printed in front of every message ("addcow-img", "addcow-io"). */
extern const char *progname;

enum output_format {
  OUTPUT_HUMAN,
  OUTPUT_JSON,
};

/* Exit status of a usage error, an I/O error, ... */
#define EXIT_USAGE 1

/* "PROG: message" on stderr. */
void error_msg (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* "PROG: warning: message" on stderr. */
void warning_msg (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* "PROG: message" + "Try 'PROG --help' for more information"; returns 1. */
int usage_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* Report the getopt_long result C ('?' or ':') for ARGV the way qemu-img
 * does ("unrecognized option '-x'", "missing argument for option '-f'");
 * returns 1.  The optstring must start with ':' (after any '+'). */
int getopt_error (int c, char **argv);

/* Parse a size with qemu's rules: decimal bytes, 0x hex, a decimal
 * fraction with a suffix (b k K m M g G t T p P e E, 1024-based).
 * Returns 0, -EINVAL (malformed) or -ERANGE (does not fit 64 bits). */
int parse_size (const char *s, uint64_t *value);

/* parse_size for an option called WHAT ("image size", "start offset"),
 * limited to 0..INT64_MAX, with qemu-img's two-line message on failure.
 * Returns 0 or -1. */
int parse_size_arg (const char *what, const char *s, uint64_t *value);

/* --output=human|json; prints qemu's message and returns -1 otherwise. */
int parse_output_format (const char *arg, enum output_format *fmt);

/* -f FMT: only "add-cow" is accepted ("FILE: unsupported format 'X'"). */
int check_image_format (const char *fmt, const char *filename);
/* -F FMT: "raw", "qcow2" or "add-cow" (addcow_format_supported; "FILE:
 * unsupported backing format 'X'"). */
int check_backing_format (const char *fmt, const char *filename);

/* After getopt: the one image file name that must follow the options, in
 * the format given with -f (FORMAT, may be NULL).  Returns -1 to go on
 * (*FILENAME set), or the exit status of a usage error. */
int image_operand (int argc, char **argv, const char *format,
                   const char **filename);

/* -t CACHE / -T SRC_CACHE with qemu's names: none (or off), directsync,
 * writeback, writethrough, unsafe.  Prints qemu-img's "Invalid cache
 * option: X" ("Invalid source cache option" when SOURCE) and returns -1
 * otherwise. */
enum addcow_cache;
int parse_cache_mode (const char *name, bool source, enum addcow_cache *mode);

/* --object and --image-opts: qemu-img options add-cow images have no use
 * for.  Prints "OPTION is not supported for add-cow images" and returns
 * 1 (the exit status). */
int unsupported_option (const char *option);

/* Long options every subcommand refuses with unsupported_option. */
enum { OPT_OBJECT = 512, OPT_IMAGE_OPTS };
#define UNSUPPORTED_LONG_OPTIONS \
  { "object", required_argument, NULL, OPT_OBJECT }, \
  { "image-opts", no_argument, NULL, OPT_IMAGE_OPTS }
#define UNSUPPORTED_CASES \
  case OPT_OBJECT: return unsupported_option ("--object"); \
  case OPT_IMAGE_OPTS: return unsupported_option ("--image-opts")

/* image_operand for info, map and check, which also read raw and qcow2
 * files as qemu-img does: -f raw and -f qcow2 are accepted too. */
int image_operand_or_raw (int argc, char **argv, const char *format,
                          const char **filename);

/* Append one -o ARG to *OPTIONS (malloc'd, comma-joined); -1 when out of
 * memory (reported). */
int options_append (char **options, const char *arg);

/* -f/-F of compare and measure: any format this build reads (never
 * probed); -1 with "FILENAME: unsupported format 'FMT'" otherwise. */
int check_any_format (const char *fmt, const char *filename);

/* Round up to a multiple of 512 (a virtual size); false on overflow. */
bool round_up_512 (uint64_t *value);

#endif /* ADDCOW_CMD_OPTIONS_H */
