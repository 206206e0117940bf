/*
 * test-bitmap-map.c - the bitmap mapped from the add-cow file
 * (lib/format/bitmap-map.c): every bit, search and count against a model over a
 * file with holes and data at unaligned offsets; bits changed in memory
 * inside the file's holes (which the count and long searches must not
 * skip); copy-on-write (the file changes only when blocks are written
 * back); no fault on the padding past the end of the file; and through an
 * image: writes, flush ordering, a failed sync, a header rewrite and a
 * grow, with a mapped bitmap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"
#include "testutil.h"

#define LONG_BITS (UINT64_C (8) << 17)  /* longer than the hole-skip limit */

/* A file: HDR bytes of 0xaa, then the bitmap NBYTES long (file size
 * hdr + nbytes): block b random data if b % 3 == 0, zeros written if
 * b % 3 == 1, a hole if b % 3 == 2.  The model gets the bits. */
static int
make_bitmap_file (const char *path, uint64_t hdr, uint64_t nbytes,
                  bool *model, uint64_t nbits)
{
  uint8_t *buf = calloc (1, nbytes ? nbytes : 1), *junk = malloc (hdr + 1);
  uint64_t b, i;
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC, 0600);

  ck_assert (buf && junk && fd >= 0);
  memset (junk, 0xaa, hdr);
  ck_assert_int_eq (pwrite (fd, junk, hdr, 0), (ssize_t) hdr);
  ck_assert_int_eq (ftruncate (fd, (off_t) (hdr + nbytes)), 0);
  for (b = 0; b * BITMAP_BLOCK < nbytes; b++) {
    uint64_t off = b * BITMAP_BLOCK, n = min_u64 (BITMAP_BLOCK, nbytes - off);
    if (b % 3 == 2)
      continue;
    if (b % 3 == 0)
      tu_fill (buf + off, n, (unsigned) b + 1, off);
    ck_assert_int_eq (pwrite (fd, buf + off, n, (off_t) (hdr + off)),
                      (ssize_t) n);
  }
  for (i = 0; i < nbits; i++)
    model[i] = (buf[i / 8] >> (i % 8)) & 1;
  free (buf);
  free (junk);
  return fd;
}

static uint64_t
model_next (const bool *model, uint64_t start, uint64_t end, bool value)
{
  for (; start < end; start++)
    if (model[start] == value)
      return start;
  return end;
}

static void
assert_model (const struct bitmap *bm, const bool *model)
{
  uint64_t i, count = 0, s;

  for (i = 0; i < bm->nbits; i++) {
    if (bitmap_get (bm, i) != model[i])
      ck_abort_msg ("bit %llu", (unsigned long long) i);
    count += model[i];
  }
  ck_assert_uint_eq (bitmap_count (bm), count);
  for (s = 0; s < bm->nbits; s += 4093) {
    uint64_t e = min_u64 (bm->nbits, s + LONG_BITS);
    if (bitmap_find (bm, s, true) != model_next (model, s, bm->nbits, true)
        || bitmap_find_bounded (bm, s, e, true)
           != model_next (model, s, e, true)
        || bitmap_find (bm, s, false)
           != model_next (model, s, bm->nbits, false))
      ck_abort_msg ("find from %llu", (unsigned long long) s);
  }
}

/* Header offsets: page-aligned, unaligned, past a page; sizes of a few
 * blocks and of many (long searches skip holes). */
static const uint64_t hdrs[] = { 0, 100, 4096 + 13 };
static const uint64_t nbitss[] = { BITMAP_BLOCK * 8 * 5 + 13,
                                   BITMAP_BLOCK * 8 * 70 + 5 };

START_TEST (test_mapped_matches_model)
{
  uint64_t hdr = hdrs[_i % 3], nbits = nbitss[_i / 3];
  uint64_t nbytes = div_round_up (nbits, 8);
  bool *model = malloc (nbits);
  struct bitmap bm;
  int fd;

  ck_assert (model);
  fd = make_bitmap_file ("bm", hdr, nbytes, model, nbits);
  /* Stray bits in the last byte are not bits of the bitmap. */
  model[nbits - 1] = false;
  ck_assert_int_eq (bitmap_map (&bm, nbits - 1, fd, hdr, hdr + nbytes), 0);
  ck_assert_ptr_nonnull (bm.map);
  assert_model (&bm, model);
  bitmap_free (&bm);
  close (fd);
  free (model);
}
END_TEST

/* Bits set in memory inside the file's holes are found and counted;
 * cleared ones in its data are not. */
START_TEST (test_changed_in_holes)
{
  uint64_t nbits = BITMAP_BLOCK * 8 * 70 + 5, nbytes = div_round_up (nbits, 8);
  uint64_t hole_bit = (2 * BITMAP_BLOCK + 17) * 8 + 3;  /* block 2: a hole */
  uint64_t far_bit = (68 * BITMAP_BLOCK) * 8 + 1;       /* block 68: hole */
  bool *model = malloc (nbits);
  struct bitmap bm;
  int fd;

  ck_assert (model);
  fd = make_bitmap_file ("bm", 0, nbytes, model, nbits);
  ck_assert_int_eq (bitmap_map (&bm, nbits, fd, 0, nbytes), 0);
  bitmap_set_range (&bm, hole_bit, 1);
  bitmap_set_range (&bm, far_bit, 3);
  model[hole_bit] = model[far_bit] = model[far_bit + 1] = true;
  model[far_bit + 2] = true;
  bitmap_clear_range (&bm, 0, BITMAP_BLOCK * 8);          /* block 0: data */
  memset (model, 0, BITMAP_BLOCK * 8);
  assert_model (&bm, model);
  ck_assert_uint_eq (bitmap_find_bounded (&bm, 2 * BITMAP_BLOCK * 8, nbits,
                                          true), hole_bit);
  bitmap_free (&bm);
  close (fd);
  free (model);
}
END_TEST

/* Copy-on-write: the file keeps its bytes until a block is written back,
 * and a mapping of an all-hole file counts nothing. */
START_TEST (test_private_until_written)
{
  uint64_t nbits = BITMAP_BLOCK * 8 * 40, nbytes = nbits / 8;
  uint8_t *disk;
  size_t len, i;
  struct bitmap bm;
  int fd = open ("bm", O_RDWR | O_CREAT | O_TRUNC, 0600);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (ftruncate (fd, (off_t) nbytes), 0);
  ck_assert_int_eq (bitmap_map (&bm, nbits, fd, 0, nbytes), 0);
  ck_assert_uint_eq (bitmap_count (&bm), 0);
  bitmap_set_range (&bm, 0, nbits);
  ck_assert_uint_eq (bitmap_count (&bm), nbits);
  disk = tu_read_file ("bm", &len);
  ck_assert_uint_eq (len, nbytes);
  for (i = 0; i < len; i++)
    if (disk[i])
      ck_abort_msg ("byte %zu of the file changed", i);
  free (disk);
  ck_assert_int_eq (pwrite (fd, bm.bytes, 4096, 0), 4096);
  disk = tu_read_file ("bm", &len);
  ck_assert_uint_eq (disk[0], 0xff);
  ck_assert_uint_eq (disk[4096], 0);
  free (disk);
  bitmap_free (&bm);
  close (fd);
}
END_TEST

/* A bitmap ending one byte into a page at the end of the file: scans read
 * the padding to 8 bytes past the file without a fault; stray bits in the
 * last byte are neither found nor counted. */
START_TEST (test_padding_past_eof)
{
  uint64_t hdr = 4095, nbytes = 4097, nbits = nbytes * 8 - 3;
  uint8_t last = 0xff;
  struct bitmap bm;
  int fd = open ("bm", O_RDWR | O_CREAT | O_TRUNC, 0600);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (ftruncate (fd, (off_t) (hdr + nbytes)), 0);
  ck_assert_int_eq (pwrite (fd, &last, 1, (off_t) (hdr + nbytes - 1)), 1);
  ck_assert_int_eq (bitmap_map (&bm, nbits, fd, hdr, hdr + nbytes), 0);
  ck_assert_uint_eq (bitmap_count (&bm), 5);
  ck_assert_uint_eq (bitmap_find (&bm, 0, true), (nbytes - 1) * 8);
  ck_assert_uint_eq (bitmap_find (&bm, nbits - 1, false), nbits);
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 3);
  bitmap_free (&bm);
  /* A file too short for the bitmap is not mapped. */
  ck_assert_int_eq (bitmap_map (&bm, nbits + 8, fd, hdr, hdr + nbytes),
                    -EINVAL);
  ck_assert_ptr_null (bm.bytes);
  close (fd);
}
END_TEST

/* ---- through an image ------------------------------------------------- */

#define CS 4096u
#define BIG (UINT64_C (64) << 30)       /* 16 Mi clusters: a 2 MiB bitmap */

static const uint64_t clusters[] = { 5, 1000000, 16777215 };

/* A fresh overlay of BIG bytes over a sparse raw base of the same size. */
static void
make_big (void)
{
  unlink ("big.add-cow");
  unlink ("big.raw");
  unlink ("base.raw");
  tu_write_file ("base.raw", "", 0);
  tu_truncate ("base.raw", BIG);
  tu_create ("big.add-cow", "big.raw", "base.raw", "raw", CS, BIG);
}

static void
write_cluster (struct addcow *img, uint64_t c)
{
  uint8_t buf[CS];

  tu_fill (buf, CS, (unsigned) c, c * CS);
  ck_assert_int_eq (addcow_pwrite (img, buf, CS, c * CS), 0);
}

/* The bitmap bytes of the add-cow file at PATH, bit C. */
static bool
bit_on_disk (const char *path, uint32_t header_size, uint64_t c)
{
  uint8_t byte;
  int fd = open (path, O_RDONLY);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (pread (fd, &byte, 1, (off_t) (header_size + c / 8)), 1);
  close (fd);
  return (byte >> (c % 8)) & 1;
}

START_TEST (test_image_writes)
{
  struct addcow_check_opts co = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  struct addcow *img;
  uint32_t hs;
  unsigned i;

  make_big ();
  img = tu_open ("big.add-cow", true);
  ck_assert_ptr_nonnull (img->bm.map);
  hs = img->hdr.header_size;
  for (i = 0; i < 3; i++)
    write_cluster (img, clusters[i]);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 3);
  /* Spec 7: no bit reaches the file before the flush. */
  for (i = 0; i < 3; i++)
    ck_assert (!bit_on_disk ("big.add-cow", hs, clusters[i]));
  ck_assert_int_eq (addcow_flush (img), 0);
  for (i = 0; i < 3; i++)
    ck_assert (bit_on_disk ("big.add-cow", hs, clusters[i]));
  ck_assert_int_eq (addcow_close (img), 0);

  img = tu_open ("big.add-cow", false);
  ck_assert_ptr_nonnull (img->bm.map);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 3);
  for (i = 0; i < 3; i++)
    ck_assert (bitmap_get (&img->bm, clusters[i]));
  ck_assert_uint_eq (bitmap_find (&img->bm, 6, true), 1000000);
  addcow_close (img);
  ck_assert_int_eq (addcow_check ("big.add-cow", &co, &res), 0);
  ck_assert_uint_eq (res.allocated_clusters, 3);
  ck_assert_uint_eq (res.corruptions + res.leaks, 0);
}
END_TEST

/* A reader that takes no lock (-U) must survive another process cutting
 * the add-cow file under it (resize --shrink, a careless truncate): a
 * mapping would fault (SIGBUS) on the pages gone, so such a reader keeps
 * a private copy of the bitmap instead. */
START_TEST (test_force_share_survives_truncate)
{
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  struct addcow *w;
  uint32_t hs;
  unsigned i;
  int r;

  make_big ();
  w = tu_open ("big.add-cow", true);
  for (i = 0; i < 3; i++)
    write_cluster (w, clusters[i]);
  hs = w->hdr.header_size;
  ck_assert_int_eq (addcow_close (w), 0);

  oo.flags = ADDCOW_OPEN_FORCE_SHARE;
  ck_assert_int_eq (addcow_open ("big.add-cow", &oo, &img), 0);
  ck_assert_ptr_null (img->bm.map);
  tu_truncate ("big.add-cow", hs);
  for (i = 0; i < 3; i++) {
    uint64_t len;
    r = addcow_is_allocated (img, clusters[i] * CS, CS, &len);
    ck_assert_int_eq (r, 1);
  }
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 3);
  addcow_close (img);
}
END_TEST

/* Fault injection: the plain calls, but the next fdatasync of a chosen
 * file fails. */
static int fail_sync_fd = -1;

static int
f_fdatasync (void *o, int fd)
{
  (void) o;
  if (fd == fail_sync_fd) {
    fail_sync_fd = -1;
    errno = EIO;
    return -1;
  }
  return fdatasync (fd);
}

/* A failed data sync forgets the bits it would have vouched for: they are
 * reloaded from the file into the mapping (write.c). */
START_TEST (test_failed_sync)
{
  struct addcow_io io = { .fdatasync = f_fdatasync };
  struct addcow_open_opts oo = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;

  make_big ();
  img = tu_open ("big.add-cow", true);
  write_cluster (img, 7);
  ck_assert_int_eq (addcow_close (img), 0);

  oo.flags = ADDCOW_OPEN_WRITE;
  oo.io = &io;
  ck_assert_int_eq (addcow_open ("big.add-cow", &oo, &img), 0);
  /* A caller's I/O table gets a malloc'd copy: map it here instead. */
  ck_assert_ptr_null (img->bm.map);
  bitmap_free (&img->bm);
  ck_assert_int_eq (bitmap_map (&img->bm, img->nb_clusters, img->meta.fd,
                                img->hdr.header_size, img->meta.size), 0);
  write_cluster (img, 1000000);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  fail_sync_fd = img->image.fd;
  ck_assert_int_eq (addcow_flush (img), -EIO);
  ck_assert (!bitmap_get (&img->bm, 1000000));
  ck_assert (bitmap_get (&img->bm, 7));
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 1);
  write_cluster (img, 2000000);
  ck_assert_int_eq (addcow_close (img), 0);

  img = tu_open ("big.add-cow", false);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  ck_assert (bitmap_get (&img->bm, 7));
  ck_assert (!bitmap_get (&img->bm, 1000000));
  ck_assert (bitmap_get (&img->bm, 2000000));
  addcow_close (img);
}
END_TEST

/* After a header rewrite the handle writes to the new file while the
 * mapping keeps the old one: bits set afterwards in what is a hole of the
 * old file are still counted. */
START_TEST (test_rewrite_then_write)
{
  struct addcow *img;

  make_big ();
  img = tu_open ("big.add-cow", true);
  write_cluster (img, 3);
  ck_assert_int_eq (addcow_flush (img), 0);
  ck_assert_int_eq (image_rewrite_header (img, NULL, NULL, 0), 0);
  write_cluster (img, 9000000);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  ck_assert_uint_eq (bitmap_find (&img->bm, 4, true), 9000000);
  ck_assert_int_eq (addcow_close (img), 0);

  img = tu_open ("big.add-cow", false);
  ck_assert_ptr_nonnull (img->bm.map);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  ck_assert (bitmap_get (&img->bm, 9000000));
  addcow_close (img);
}
END_TEST

/* grow copies the mapped bitmap into a larger one and frees the mapping. */
START_TEST (test_grow)
{
  struct addcow *img;

  make_big ();
  img = tu_open ("big.add-cow", true);
  write_cluster (img, 16777215);
  ck_assert_int_eq (image_grow (img, 2 * BIG), 0);
  write_cluster (img, 30000000);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  ck_assert_int_eq (addcow_close (img), 0);

  img = tu_open ("big.add-cow", false);
  ck_assert_ptr_nonnull (img->bm.map);
  ck_assert_uint_eq (addcow_get_virtual_size (img), 2 * BIG);
  ck_assert_uint_eq (addcow_get_allocated_clusters (img), 2);
  ck_assert (bitmap_get (&img->bm, 16777215));
  ck_assert (bitmap_get (&img->bm, 30000000));
  addcow_close (img);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("bitmap-map");
  TCase *tc = tcase_create ("bitmap-map");

  tcase_add_loop_test (tc, test_mapped_matches_model, 0, 6);
  tcase_add_test (tc, test_changed_in_holes);
  tcase_add_test (tc, test_private_until_written);
  tcase_add_test (tc, test_padding_past_eof);
  tcase_add_test (tc, test_image_writes);
  tcase_add_test (tc, test_force_share_survives_truncate);
  tcase_add_test (tc, test_failed_sync);
  tcase_add_test (tc, test_rewrite_then_write);
  tcase_add_test (tc, test_grow);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
