/*
 * test-qcow2-unzip.c - lib/qcow2/qcow2-compress.c: one compressed cluster
 * back to exactly its bytes.
 *
 * Raw deflate streams made here with libdeflate's compressor (qemu-img
 * makes the same kind): a cluster followed by unrelated bytes (the rest
 * of its last sector, the next cluster) inflates exactly; a stream cut
 * short, one that gives less than a cluster, one that would give more,
 * and garbage are refused with -EIO and write nothing past the cluster.
 */
#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2/qcow2.h"
#include "testutil.h"

#define CS 65536u

/* Raw deflate of LEN bytes of BUF into *OUT (malloc'd); its length. */
static size_t
deflate_raw (const uint8_t *buf, size_t len, uint8_t **out)
{
  struct libdeflate_compressor *c = libdeflate_alloc_compressor (6);
  size_t bound, n;

  ck_assert_ptr_nonnull (c);
  bound = libdeflate_deflate_compress_bound (c, len) + 2 * CS;
  *out = malloc (bound);
  ck_assert_ptr_nonnull (*out);
  n = libdeflate_deflate_compress (c, buf, len, *out, bound);
  ck_assert_uint_gt (n, 0);
  libdeflate_free_compressor (c);
  return n;
}

/* A cluster of text-like bytes (it compresses), pattern SEED. */
static void
text_cluster (uint8_t *buf, size_t len, unsigned seed)
{
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (uint8_t) ('a' + (i * seed / 7 + i / 64) % 26);
}

static int
unzip (const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
  struct qcow2_unzip u;
  int r;

  qcow2_unzip_init (&u);
  r = qcow2_decompress (&u, QCOW2_ZLIB, in, inlen, out, outlen);
  qcow2_unzip_free (&u);
  return r;
}

/* The stream, then the rest of its sector and another cluster's bytes. */
START_TEST (test_trailing_bytes)
{
  uint8_t *src = malloc (CS), *out = malloc (CS + 16), *z;
  size_t n = deflate_raw ((text_cluster (src, CS, 3), src), CS, &z);
  size_t padded = (n + 511) / 512 * 512 + CS;
  struct qcow2_unzip u;
  unsigned i;

  z = realloc (z, padded);
  tu_fill (z + n, padded - n, 9, 0);
  memset (out, 0xee, CS + 16);
  ck_assert_int_eq (unzip (z, padded, out, CS), 0);
  ck_assert (memcmp (out, src, CS) == 0);
  ck_assert_uint_eq (out[CS], 0xee);            /* nothing past it */
  qcow2_unzip_init (&u);                        /* a context reused */
  for (i = 0; i < 3; i++) {
    memset (out, 0, CS);
    ck_assert_int_eq (qcow2_decompress (&u, QCOW2_ZLIB, z, n, out, CS), 0);
    ck_assert (memcmp (out, src, CS) == 0);
  }
  qcow2_unzip_free (&u);
  free (z);
  free (src);
  free (out);
}
END_TEST

/* Cut short, too little, too much, garbage: refused, the cluster only
 * written (never past it). */
START_TEST (test_refused)
{
  uint8_t *src = malloc (2 * CS), *out = malloc (CS + 16), *z, *g;
  size_t n;

  text_cluster (src, 2 * CS, 5);
  n = deflate_raw (src, CS, &z);
  memset (out, 0xee, CS + 16);
  ck_assert_int_eq (unzip (z, n / 2, out, CS), -EIO);       /* cut short */
  ck_assert_uint_eq (out[CS], 0xee);
  free (z);
  n = deflate_raw (src, CS - 512, &z);                      /* too little */
  ck_assert_int_eq (unzip (z, n, out, CS), -EIO);
  free (z);
  n = deflate_raw (src, 2 * CS, &z);                        /* too much */
  ck_assert_int_eq (unzip (z, n, out, CS), -EIO);
  ck_assert_uint_eq (out[CS], 0xee);
  free (z);
  g = malloc (4096);
  tu_fill (g, 4096, 11, 0);
  ck_assert_int_eq (unzip (g, 4096, out, CS), -EIO);        /* garbage */
  ck_assert_int_eq (unzip (g, 0, out, CS), -EIO);           /* nothing */
  ck_assert_uint_eq (out[CS], 0xee);
  free (g);
  free (src);
  free (out);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("qcow2-unzip");
  TCase *tc = tcase_create ("deflate");

  tcase_add_test (tc, test_trailing_bytes);
  tcase_add_test (tc, test_refused);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
