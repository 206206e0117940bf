/*
 * output.h - what addcow-img prints, shared by the subcommands.
 *
 * Owns: JSON printing through jansson in qemu-img's layout, qemu's human
 * size strings, the -p progress line, the qemu-style dump of a JSON
 * object as indented "key: value" lines, the SIGINT/SIGTERM flag that
 * cancels a long operation, opening and closing the image with the error
 * printed, and the final check that
 * everything written to stdout really got there (> /dev/full is an error).
 */
#ifndef ADDCOW_CMD_OUTPUT_H
#define ADDCOW_CMD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* qemu's size_to_str: "%0.3g %sB" with B, KiB, MiB, ... EiB. */
void format_size (uint64_t value, char *buf, size_t len);

/* A JSON string holding the bytes of S as they are (file names are
 * bytes); json_print turns what is not UTF-8 into U+FFFD, as qemu does. */
json_t *json_text (const char *s);

/* An unsigned 64-bit JSON integer (jansson's are signed): printed as
 * qemu prints a uint64, never negative. */
json_t *json_uint (uint64_t value);

/* Print ROOT as qemu-img prints JSON: 4-space indentation, insertion
 * order, non-ASCII as \uXXXX, then '\n'.  Takes ownership of ROOT.
 * Returns 0 or -1 (out of memory). */
int json_print (json_t *root);

/* Print OBJ's members as "key: value" lines the way qemu-img prints
 * "Format specific information": INDENT spaces, '-' in keys shown as
 * ' ', nested objects one level deeper. */
void dump_json_human (const json_t *obj, int indent);

/* Progress for commit/rebase.  progress_init(true) prints
 * "    (0.00/100%)\r"; progress_update prints again whenever the value
 * moved by at least 1 point (and at 100%); progress_end prints "\n".
 * When not enabled, SIGUSR1 still prints the current value to stderr. */
void progress_init (bool enabled);
void progress_update (uint64_t done, uint64_t total);
void progress_end (void);

/* Cancellation of commit/rebase: after cancel_install(), SIGINT and
 * SIGTERM only record the signal; cancel_signal() returns it (0: none). */
void cancel_install (void);
int cancel_signal (void);

/* A long operation (commit, rebase): long_op_begin installs the signal
 * handlers and starts progress; long_op_end ends it with the library's
 * result R and returns the exit status: 0, 1 after printing the error, or
 * 128 + the signal that cancelled it. */
void long_op_begin (bool show_progress);
int long_op_end (int r);
/* An addcow_progress_fn: progress_update, and non-zero (stop at the next
 * safe point) once a cancelling signal has arrived. */
int progress_callback (void *opaque, uint64_t done, uint64_t total);

/* commit -r: progress_callback then sleeps so that DONE bytes take at
 * least DONE / BYTES_PER_SEC seconds (0: no limit); a cancelling signal
 * still stops it at once. */
void rate_limit_set (uint64_t bytes_per_sec);

/* The I/O table of cache mode MODE (named NAME) for an operation on FILE;
 * for none/directsync, warn when FILE's file system refuses O_DIRECT
 * (the page cache is then used, see addcow_io_cache). */
enum addcow_cache;
struct addcow_io;
void cache_io (const char *file, const char *name, enum addcow_cache mode,
               struct addcow_io *io);

struct addcow;
/* Print the library's last error.  When R is -EBUSY (a lock conflict)
 * and LOCK_HINT_FORCE_SHARE is set (the command accepts -U for this
 * open), add the hint "(use -U to inspect it anyway)". */
extern bool lock_hint_force_share;
void library_error (int r);
/* The format of FILE for info, map and check: GIVEN (-f) if set, else
 * what qemu-img would probe among the formats read here: "add-cow"
 * for the add-cow magic (or a file that cannot be read: the open then
 * says why), "qcow2" for the qcow2 magic, "raw" for anything else.  qemu-img prints no warning when
 * it probes raw for a read-only command, and neither do we; writes
 * (addcow-io) never probe. */
const char *image_format (const char *file, const char *given);
/* open_image of FILE in FORMAT (NULL: add-cow; "raw", "qcow2":
 * read-only). */
int open_image_as (const char *file, const char *format, unsigned flags,
                   struct addcow **img);
/* Open FILE with the ADDCOW_OPEN_* FLAGS; print the library's message and
 * return -1 if it fails. */
int open_image (const char *file, unsigned flags, struct addcow **img);
/* Close IMG; print the message of a failed close.  STATUS, or 1 then. */
int close_image (struct addcow *img, int status);

/* Flush and close stdout; on a write error print
 * "PROG: write error: REASON" and return -1. */
int finish_stdout (void);

#endif /* ADDCOW_CMD_OUTPUT_H */
