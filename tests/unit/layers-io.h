/*
 * layers-io.h - what the commit and rebase tests share: an I/O table that
 * models a write-back cache and can crash, or fail writes and syncs; and
 * fixtures (save and restore a directory of files, read a whole disk,
 * assert a clean check).
 *
 * The cache model: writes, hole punches and truncates are kept per file
 * (device and inode) until an fdatasync or fsync of that file applies them
 * in order; reads see them.  A "crash" after operation N (a write, punch,
 * truncate or sync) lets N complete, fails every later operation (reads
 * too) with EIO; then the power cut (tio_power_cut) decides what of the
 * pending operations reached the disk: none (TIO_DROP), or, as a disk that
 * writes one 512-byte sector atomically but may tear anything larger,
 * every write inside one sector whole and of a larger write every other
 * sector (TIO_TEAR_EVEN / TIO_TEAR_ODD: which half).
 * Renames go through the table too: real at once, but durable only at the
 * next sync_dir; a power cut undoes (DROP, TEAR_ODD) or keeps (TEAR_EVEN)
 * those not yet synced.  What happens outside the table (open, unlink) is
 * real at once.
 */
#ifndef ADDCOW_LAYERS_IO_H
#define ADDCOW_LAYERS_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "testutil.h"

struct tio_pend;
struct tio_rename;

enum tio_cut { TIO_DROP = 0, TIO_TEAR_EVEN, TIO_TEAR_ODD };

struct tio {
  struct addcow_io io;          /* opaque points back here */
  bool writeback;               /* the cache model; else write-through */
  long cut_after;               /* > 0: crash after this many operations */
  long ops;                     /* writes, punches, truncates, syncs */
  bool crashed;
  long fail_write_at;           /* > 0: the N-th write fails */
  long fail_sync_at;            /* > 0: the N-th sync fails */
  bool fail_once;               /* only that one; else every later one */
  int fail_errno;
  long writes, syncs;
  struct tio_pend *pend;
  size_t npend, cap;
  enum tio_cut cut;             /* what the power cut keeps */
  struct tio_rename *renames;   /* not yet made durable by sync_dir */
  size_t nrenames;
};

void tio_init (struct tio *t, bool writeback);
/* The crash: forget what is pending. */
void tio_crash (struct tio *t);
/* The power cut after a crash: what t->cut says reaches the disk. */
void tio_power_cut (struct tio *t);
void tio_free (struct tio *t);

/* ---- fixtures ------------------------------------------------------ */

/* Replace the regular files of TO by copies of those of FROM (holes where
 * FROM has 4 KiB blocks of zeros). */
void lt_copy_dir (const char *from, const char *to);
/* The whole virtual disk of PATH (plain I/O, read-only). */
uint8_t *lt_disk (const char *path, uint64_t *size);
/* The allocated clusters of PATH (its backing chain is not opened). */
uint64_t lt_allocated (const char *path);
/* addcow_check finds nothing at all. */
void lt_assert_clean (const char *path);
/* ... finds no corruption (leaks allowed: an interrupted header rewrite
 * may leave some, spec 7a). */
void lt_assert_no_corruption (const char *path);
/* A and B are equal; the message names WHAT and the first difference. */
void lt_assert_same (const uint8_t *a, const uint8_t *b, uint64_t len,
                     const char *what);
/* The file holds EXPECT in [0, len). */
void lt_assert_file (const char *path, const uint8_t *expect, uint64_t len);
/* Does DIR hold a file whose name ends in SUFFIX? */
bool lt_dir_has_suffix (const char *dir, const char *suffix);
/* Write LEN bytes of pattern SEED at OFF of the disk of PATH. */
void lt_write (const char *path, unsigned seed, uint64_t off, uint64_t len);

/* ---- running an operation at every cut point ------------------------- */

/* The operation under test, on PATH, through IO (NULL: plain I/O). */
typedef int (*lt_op_fn) (const char *path, const struct addcow_io *io,
                         void *arg);
/* What must hold after an interruption (FINISHED false) and after the
 * operation ran to the end (FINISHED true). */
typedef void (*lt_verify_fn) (const char *dir, void *arg, bool finished);

struct lt_case {
  const char *dir;              /* the working directory */
  const char *snap;             /* its saved state before the operation */
  const char *path;             /* the image the operation works on */
  lt_op_fn op;
  lt_verify_fn verify;
  void *arg;
  enum tio_cut cut;             /* the power cut at each cut point */
};

/* Cut the operation off after every single operation of the cache model;
 * after each: verify, run again with plain I/O, verify finished.  Returns
 * the number of cut points. */
long lt_crash_every_op (const struct lt_case *c);
/* Fail the N-th write (or sync) with ERR for every N; after each: the
 * error names a file and says ERR, verify, run again, verify finished.
 * Returns the number of injection points. */
long lt_fail_every_write (const struct lt_case *c, int err, bool once);
long lt_fail_every_sync (const struct lt_case *c, int err);

#endif /* ADDCOW_LAYERS_IO_H */
