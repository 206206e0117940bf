/*
 * test-qcow2-table.c - lib/qcow2/qcow2-table.c: qcow2_zero_prefix, the
 * fast skip over all-zero L2 entries.
 *
 * For every length up to a few 64-byte blocks, every start alignment of
 * the buffer and every place of a single non-zero byte (the first and
 * last byte of a word, of a 64-byte block, of the buffer): the answer is
 * the zero bytes before the word holding it; never a byte past LEN read
 * (the buffer ends exactly at LEN, ASan watches); all-zero: LEN.
 */
#include <stdlib.h>
#include <string.h>

#include "qcow2/qcow2.h"
#include "testutil.h"

#define MAX_WORDS 40            /* five 64-byte blocks */

/* qcow2_zero_prefix of LEN bytes that end exactly where a malloc'd block
 * ends, starting SHIFT bytes into it, with byte NZ (< LEN, or LEN for
 * none) non-zero. */
static size_t
prefix (size_t len, size_t shift, size_t nz)
{
  uint8_t *b = malloc (shift + len + 1), *p = b + shift;
  size_t r;

  ck_assert_ptr_nonnull (b);
  memset (b, 0xff, shift);      /* before the buffer: must not count */
  memset (p, 0, len);
  if (nz < len)
    p[nz] = 0x01;
  r = qcow2_zero_prefix (p, len);
  free (b);
  return r;
}

START_TEST (test_all_zero)
{
  size_t w, shift;

  for (w = 0; w <= MAX_WORDS; w++)
    for (shift = 0; shift < 16; shift += 8)
      ck_assert_uint_eq (prefix (w * 8, shift, w * 8), w * 8);
}
END_TEST

START_TEST (test_one_nonzero_byte)
{
  size_t w, nz, shift;

  for (w = 1; w <= MAX_WORDS; w++)
    for (shift = 0; shift < 16; shift += 8)
      for (nz = 0; nz < w * 8; nz++)
        ck_assert_msg (prefix (w * 8, shift, nz) == nz / 8 * 8,
                       "len %zu, non-zero byte %zu: %zu", w * 8, nz,
                       prefix (w * 8, shift, nz));
}
END_TEST

/* A whole table: a word at its first and at its last slot. */
START_TEST (test_table_edges)
{
  size_t len = 65536;
  uint8_t *t = calloc (1, len);

  ck_assert_ptr_nonnull (t);
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), len);
  t[len - 1] = 0x80;
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), len - 8);
  ck_assert_uint_eq (qcow2_zero_prefix (t, len - 8), len - 8);
  t[0] = 0x01;
  ck_assert_uint_eq (qcow2_zero_prefix (t, len), 0);
  ck_assert_uint_eq (qcow2_zero_prefix (t + 8, len - 8), len - 16);
  free (t);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("qcow2-table");
  TCase *tc = tcase_create ("zero-prefix");

  tcase_add_test (tc, test_all_zero);
  tcase_add_test (tc, test_one_nonzero_byte);
  tcase_add_test (tc, test_table_edges);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
