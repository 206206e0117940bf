/*
 * testutil.h - helpers shared by the unit tests: scratch directories, files
 * with known contents, raw header bytes built field by field, and a tiny
 * runner around Check.
 *
 * Every helper aborts the test (ck_abort) on a system call failure, so a
 * test never goes on with a half-made fixture.
 */
#ifndef ADDCOW_TESTUTIL_H
#define ADDCOW_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addcow.h"

/* A fresh directory under $TMPDIR (or /tmp), removed by tu_rmtree. */
char *tu_mkdtemp (void);
void tu_rmtree (const char *dir);
/* "DIR/NAME", malloc'd. */
char *tu_join (const char *dir, const char *name);

/* Deterministic non-zero-ish bytes: a function of (seed, absolute offset),
 * so any slice of a file can be recomputed. */
uint8_t tu_pattern_byte (unsigned seed, uint64_t offset);
void tu_fill (void *buf, size_t len, unsigned seed, uint64_t offset);

void tu_write_file (const char *path, const void *buf, size_t len);
/* A file of SIZE bytes of tu_pattern (seed), or a sparse one (seed 0). */
void tu_make_file (const char *path, uint64_t size, unsigned seed);
void tu_pwrite (const char *path, const void *buf, size_t len, uint64_t off);
void tu_truncate (const char *path, uint64_t size);
uint8_t *tu_read_file (const char *path, size_t *len);
uint64_t tu_file_size (const char *path);
void tu_copy_file (const char *from, const char *to);

/* The on-disk header, field by field, with nothing validated: hostile
 * tests set any value they like. */
struct tu_hdr {
  char magic[4];
  uint32_t backing_name_offset, backing_name_size;
  uint32_t image_name_offset, image_name_size;
  uint32_t cluster_bits;
  uint64_t features, compat;
  uint32_t header_size;
  char backing_fmt[16], image_fmt[16];
  const char *image_name, *backing_name; /* copied at their offsets */
};
/* A valid header as a writer would make it: names at 76 (backing first). */
void tu_hdr_init (struct tu_hdr *h, uint32_t cluster_bits,
                  const char *image_name, const char *backing_name,
                  const char *backing_fmt);
/* Encode into BUF of LEN bytes (zeroed first); names are copied only
 * where they fit in LEN. */
void tu_hdr_encode (const struct tu_hdr *h, uint8_t *buf, size_t len);
/* Write an add-cow file: header (h->header_size bytes, or LEN_HDR if
 * non-zero), then BITMAP (NBYTES; NULL: zeros), then zeros up to FILE_SIZE (0: padded to
 * a whole cluster as a writer would). */
void tu_write_addcow (const char *path, const struct tu_hdr *h,
                      const uint8_t *bitmap, size_t nbytes,
                      uint64_t file_size);

/* Open (read-write if WRITE) and fail the test with the library's message
 * if it does not work. */
struct addcow *tu_open (const char *path, bool write);
/* Create PATH with the given names; fail the test on error. */
void tu_create (const char *path, const char *image_name,
                const char *backing_name, const char *backing_fmt,
                uint32_t cluster_size, uint64_t size);

/* ck_assert that the library's last error is exactly MSG. */
#define tu_assert_error(msg) \
  ck_assert_str_eq (addcow_get_error (), (msg))
/* ... or contains every one of up to three fragments. */
void tu_assert_error_has (const char *a, const char *b, const char *c);

/* Run SUITE (CK_ENV decides fork mode); return the exit status for main. */
int tu_run (Suite *s);

#endif /* ADDCOW_TESTUTIL_H */
