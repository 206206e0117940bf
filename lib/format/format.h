/*
 * format.h - the add-cow format codecs: the header (pure) and the COW
 * bitmap (pure in memory, or mapped from its file).
 */
#ifndef ADDCOW_FORMAT_FORMAT_H
#define ADDCOW_FORMAT_FORMAT_H

#include "io/io.h"

/* ---- header.c: the on-disk header (pure: no I/O) ---------------------- */

struct header {
  uint32_t backing_name_offset;
  uint32_t backing_name_size;
  uint32_t image_name_offset;
  uint32_t image_name_size;
  uint32_t cluster_bits;
  uint64_t features;
  uint64_t compat_features;
  uint32_t header_size;
  char backing_fmt[ADDCOW_FMT_FIELD_SIZE];
  char image_fmt[ADDCOW_FMT_FIELD_SIZE];
  char *backing_name;           /* malloc'd, NUL-terminated, or NULL */
  char *image_name;             /* malloc'd, NUL-terminated, or NULL */
  uint64_t padding_dirty;       /* non-zero bytes in the name area padding */
};

/* Decode the first 76 bytes: magic, features, header_size.  Fatal problems
 * (not add-cow, unknown incompatible features) return a negative errno;
 * an invalid header_size is reported as a corruption and returns 1. */
int header_decode_fixed (const uint8_t *buf, size_t len, uint64_t file_size,
                         struct header *h, const char *file,
                         struct problems *p);
/* Decode and validate the rest, BUF holding h->header_size bytes.  Returns
 * 0, or a negative errno when P refuses a corruption. */
int header_decode_names (const uint8_t *buf, struct header *h,
                         const char *file, struct problems *p);
/* Encode H (names included) into BUF of h->header_size bytes. */
void header_encode (const struct header *h, uint8_t *buf);
/* Fill H for a new image.  Names are copied.  -EINVAL if they do not fit. */
int header_init (struct header *h, uint32_t cluster_bits,
                 const char *image_name, const char *image_fmt,
                 const char *backing_name, const char *backing_fmt);
void header_free (struct header *h);

/* ---- bitmap.c: the COW bitmap in memory (pure) ------------------------ */

#define BITMAP_BLOCK 4096u      /* unit of dirty tracking and write-back */

struct bitmap {
  uint8_t *bytes;               /* ceil(nbits/8) bytes, padded to 8 */
  uint64_t nbits;
  uint64_t nbytes;              /* ceil(nbits/8) */
  uint8_t *dirty;               /* one flag per BITMAP_BLOCK bytes */
  uint64_t nblocks;
  bool any_dirty;
  /* bitmap-map.c: bytes mapped from the add-cow file (NULL: malloc'd) */
  void *map;                    /* the mapping (MAP_PRIVATE) */
  size_t map_len;
  int map_fd;                   /* a dup of the file mapped (when map) */
  uint64_t map_offset;          /* where bytes[0] lies in that file */
  uint8_t *changed;             /* per block: ever changed in memory, so
                                 * no longer what that file holds */
  uint64_t nchanged;            /* blocks with changed[b] set */
};

int bitmap_alloc (struct bitmap *bm, uint64_t nbits);
void bitmap_free (struct bitmap *bm);
bool bitmap_get (const struct bitmap *bm, uint64_t n);
void bitmap_set_range (struct bitmap *bm, uint64_t start, uint64_t count);
void bitmap_clear_range (struct bitmap *bm, uint64_t start, uint64_t count);
/* First bit >= START whose value is VALUE, or nbits. */
uint64_t bitmap_find (const struct bitmap *bm, uint64_t start, bool value);
/* First bit in [START, END) whose value is VALUE, or END (END is clamped
 * to nbits): the cost follows END - START, not the size of the disk. */
uint64_t bitmap_find_bounded (const struct bitmap *bm, uint64_t start,
                              uint64_t end, bool value);
uint64_t bitmap_count (const struct bitmap *bm);
/* Bits set past nbits in the last byte; clear them. */
unsigned bitmap_stray_bits (const struct bitmap *bm);
void bitmap_clear_stray_bits (struct bitmap *bm);
void bitmap_clear_dirty (struct bitmap *bm);
/* The plain scans under bitmap_find_bounded and bitmap_count: every word
 * of [START, END) is read (END is clamped to nbits). */
uint64_t bitmap_scan (const struct bitmap *bm, uint64_t start, uint64_t end,
                      bool value);
uint64_t bitmap_count_range (const struct bitmap *bm, uint64_t start,
                             uint64_t end);

/* ---- bitmap-map.c: a bitmap mapped from its file ---------------------- */

/* Map the NBITS bits at OFFSET of FD (FILE_SIZE bytes, which must hold
 * them all) copy-on-write: untouched pages cost nothing and changes stay
 * in memory until written back (pwrite, as for a malloc'd bitmap).  Bytes
 * past the bitmap read as zeros up to the padding to 8.  -errno (nothing
 * to free) when the file cannot be mapped. */
int bitmap_map (struct bitmap *bm, uint64_t nbits, int fd, uint64_t offset,
                uint64_t file_size);
void bitmap_unmap (struct bitmap *bm);
/* bitmap_find_bounded (VALUE true) and bitmap_count of a mapped bitmap,
 * skipping the mapped file's holes (SEEK_DATA/SEEK_HOLE) where no block
 * changed in memory: those bits are zero. */
uint64_t bitmap_map_find_set (const struct bitmap *bm, uint64_t start,
                              uint64_t end);
uint64_t bitmap_map_count (const struct bitmap *bm);

#endif /* ADDCOW_FORMAT_FORMAT_H */
