/*
 * test-bitmap.c - the in-memory COW bitmap (lib/format/bitmap.c): bitmap_find for
 * both values at every boundary, set/clear at byte and word edges, count,
 * stray bits and dirty-block tracking, each checked against a naive model
 * of one bool per bit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

/* Sizes around every edge: bytes, 64-bit words, bitmap blocks. */
static const uint64_t sizes[] = {
  1, 2, 7, 8, 9, 63, 64, 65, 127, 128, 129, 191, 1000,
  BITMAP_BLOCK * 8 - 1, BITMAP_BLOCK * 8, BITMAP_BLOCK * 8 + 1,
  2 * BITMAP_BLOCK * 8 + 13,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void
assert_matches (const struct bitmap *bm, const bool *model)
{
  uint64_t i, count = 0;

  /* Plain ifs in loops: every ck_assert costs a write to Check's pipe. */
  for (i = 0; i < bm->nbits; i++) {
    if (bitmap_get (bm, i) != model[i])
      ck_abort_msg ("bit %llu of %llu", (unsigned long long) i,
                    (unsigned long long) bm->nbits);
    count += model[i];
  }
  ck_assert_uint_eq (bitmap_count (bm), count);
}

/* find() from every start, for both values, against the model's answers
 * computed backwards in one pass. */
static void
assert_find_all (const struct bitmap *bm, const bool *model)
{
  uint64_t n = bm->nbits, s;
  uint64_t *next_true = malloc ((n + 1) * sizeof *next_true);
  uint64_t *next_false = malloc ((n + 1) * sizeof *next_false);

  ck_assert (next_true && next_false);
  next_true[n] = next_false[n] = n;
  for (s = n; s-- > 0;) {
    next_true[s] = model[s] ? s : next_true[s + 1];
    next_false[s] = model[s] ? next_false[s + 1] : s;
  }
  for (s = 0; s <= n + 2; s++) {
    uint64_t t = bitmap_find (bm, s, true), f = bitmap_find (bm, s, false);
    if (t != next_true[s < n ? s : n] || f != next_false[s < n ? s : n])
      ck_abort_msg ("find from %llu of %llu: %llu/%llu, want %llu/%llu",
                    (unsigned long long) s, (unsigned long long) n,
                    (unsigned long long) t, (unsigned long long) f,
                    (unsigned long long) next_true[s < n ? s : n],
                    (unsigned long long) next_false[s < n ? s : n]);
    /* Bounded: the same answer, cut at END (ends at and around words). */
    for (uint64_t end = s; end <= n + 1 && end <= s + 130; end += 1 + end % 7) {
      uint64_t cut = end < n ? end : n;
      uint64_t wt = next_true[s < n ? s : n], wf = next_false[s < n ? s : n];
      wt = wt < cut ? wt : cut;
      wf = wf < cut ? wf : cut;
      if (s > cut)
        wt = wf = cut;
      if (bitmap_find_bounded (bm, s, end, true) != wt
          || bitmap_find_bounded (bm, s, end, false) != wf)
        ck_abort_msg ("bounded find from %llu to %llu of %llu: want %llu/%llu",
                      (unsigned long long) s, (unsigned long long) end,
                      (unsigned long long) n, (unsigned long long) wt,
                      (unsigned long long) wf);
    }
  }
  free (next_true);
  free (next_false);
}

START_TEST (test_empty)
{
  struct bitmap bm;

  ck_assert_int_eq (bitmap_alloc (&bm, 0), 0);
  ck_assert_uint_eq (bm.nbytes, 0);
  ck_assert_uint_eq (bm.nblocks, 0);
  ck_assert_uint_eq (bitmap_find (&bm, 0, true), 0);
  ck_assert_uint_eq (bitmap_find (&bm, 0, false), 0);
  ck_assert_uint_eq (bitmap_find (&bm, 5, false), 0);
  ck_assert_uint_eq (bitmap_count (&bm), 0);
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);
  ck_assert (!bitmap_get (&bm, 0));
  bitmap_set_range (&bm, 0, 10);        /* clamped to nothing */
  ck_assert (!bm.any_dirty);
  bitmap_clear_dirty (&bm);
  bitmap_free (&bm);
}
END_TEST

/* One bit set (or one clear) at each boundary position. */
START_TEST (test_find_single_bit)
{
  uint64_t nbits = sizes[_i];
  uint64_t pos[] = { 0, 63, 64, 65, nbits - 1, nbits / 2 };
  struct bitmap bm;
  unsigned p, v;

  for (v = 0; v < 2; v++)
    for (p = 0; p < sizeof pos / sizeof pos[0]; p++) {
      uint64_t b = pos[p], other;
      if (b >= nbits)
        continue;
      ck_assert_int_eq (bitmap_alloc (&bm, nbits), 0);
      if (v) {                          /* all ones but bit b */
        bitmap_set_range (&bm, 0, nbits);
        bitmap_clear_range (&bm, b, 1);
      }
      else
        bitmap_set_range (&bm, b, 1);
      /* Looking for the odd one out: found from 0, from b, not after. */
      ck_assert_uint_eq (bitmap_find (&bm, 0, !v), b);
      ck_assert_uint_eq (bitmap_find (&bm, b, !v), b);
      ck_assert_uint_eq (bitmap_find (&bm, b + 1, !v), nbits);
      if (b > 0)
        ck_assert_uint_eq (bitmap_find (&bm, b - 1, !v), b);
      /* Looking for the common value. */
      other = b == 0 ? (nbits > 1 ? 1 : nbits) : 0;
      ck_assert_uint_eq (bitmap_find (&bm, 0, v), other);
      ck_assert_uint_eq (bitmap_find (&bm, b, v),
                         b + 1 < nbits ? b + 1 : nbits);
      ck_assert_uint_eq (bitmap_find (&bm, nbits, v), nbits);
      ck_assert_uint_eq (bitmap_find (&bm, nbits, !v), nbits);
      ck_assert_uint_eq (bitmap_count (&bm), v ? nbits - 1 : 1);
      bitmap_free (&bm);
    }
}
END_TEST

/* All zeros and all ones: find() runs off the end to nbits. */
START_TEST (test_find_uniform)
{
  uint64_t nbits = sizes[_i], s;
  struct bitmap bm;

  ck_assert_int_eq (bitmap_alloc (&bm, nbits), 0);
  for (s = 0; s < nbits; s += 1 + s / 3) {
    ck_assert_uint_eq (bitmap_find (&bm, s, true), nbits);
    ck_assert_uint_eq (bitmap_find (&bm, s, false), s);
  }
  bitmap_set_range (&bm, 0, UINT64_MAX);      /* clamped */
  ck_assert_uint_eq (bitmap_count (&bm), nbits);
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);
  for (s = 0; s < nbits; s += 1 + s / 3) {
    ck_assert_uint_eq (bitmap_find (&bm, s, false), nbits);
    ck_assert_uint_eq (bitmap_find (&bm, s, true), s);
  }
  bitmap_free (&bm);
}
END_TEST

/* Random ranges against the model, find() from every start. */
START_TEST (test_random_against_model)
{
  uint64_t nbits = sizes[_i];
  struct bitmap bm;
  bool *model = calloc (nbits, 1);
  unsigned seed = 1234 + (unsigned) _i, round;
  uint64_t i;

  ck_assert_ptr_nonnull (model);
  ck_assert_int_eq (bitmap_alloc (&bm, nbits), 0);
  for (round = 0; round < 40; round++) {
    uint64_t start = (uint64_t) rand_r (&seed) % (nbits + 3);
    uint64_t count = (uint64_t) rand_r (&seed) % (round % 4 ? 70 : nbits + 5);
    bool value = rand_r (&seed) % 3 != 0;
    if (value)
      bitmap_set_range (&bm, start, count);
    else
      bitmap_clear_range (&bm, start, count);
    for (i = start; i < nbits && i - start < count; i++)
      model[i] = value;
    ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);
    if (nbits <= 1000 || round % 10 == 0) {
      assert_matches (&bm, model);
      assert_find_all (&bm, model);
    }
  }
  assert_matches (&bm, model);
  assert_find_all (&bm, model);
  bitmap_free (&bm);
  free (model);
}
END_TEST

/* The exact bytes a range produces at byte and word edges. */
START_TEST (test_set_clear_bytes)
{
  struct bitmap bm;
  uint8_t expect[24];

  ck_assert_int_eq (bitmap_alloc (&bm, 190), 0);
  ck_assert_uint_eq (bm.nbytes, 24);
  memset (expect, 0, sizeof expect);

  bitmap_set_range (&bm, 7, 2);         /* straddles byte 0/1 */
  expect[0] = 0x80; expect[1] = 0x01;
  ck_assert_mem_eq (bm.bytes, expect, 24);

  bitmap_set_range (&bm, 16, 8);        /* exactly byte 2 */
  expect[2] = 0xff;
  ck_assert_mem_eq (bm.bytes, expect, 24);

  bitmap_set_range (&bm, 60, 10);       /* straddles word 0/1 */
  expect[7] = 0xf0; expect[8] = 0x3f;
  ck_assert_mem_eq (bm.bytes, expect, 24);

  bitmap_set_range (&bm, 64, 64);       /* exactly word 1 */
  memset (expect + 8, 0xff, 8);
  ck_assert_mem_eq (bm.bytes, expect, 24);

  bitmap_clear_range (&bm, 66, 61);     /* leaves bits 64, 65, 127 */
  memset (expect + 8, 0, 8);
  expect[8] = 0x03; expect[15] = 0x80;
  ck_assert_mem_eq (bm.bytes, expect, 24);

  bitmap_set_range (&bm, 185, 100);     /* clamped at nbits = 190 */
  expect[23] = 0x3e;                    /* bits 185..189 */
  ck_assert_mem_eq (bm.bytes, expect, 24);
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);

  bitmap_clear_range (&bm, 190, 5);     /* at nbits: nothing */
  bitmap_set_range (&bm, 500, 5);       /* past nbits: nothing */
  ck_assert_mem_eq (bm.bytes, expect, 24);
  bitmap_set_range (&bm, 3, 0);         /* empty */
  ck_assert_mem_eq (bm.bytes, expect, 24);
  ck_assert_uint_eq (bitmap_count (&bm), 2 + 8 + 4 + 3 + 5);
  bitmap_free (&bm);
}
END_TEST

START_TEST (test_get_past_end)
{
  struct bitmap bm;

  ck_assert_int_eq (bitmap_alloc (&bm, 10), 0);
  bm.bytes[1] = 0xff;                   /* bits 8..15, 10..15 stray */
  ck_assert (bitmap_get (&bm, 9));
  ck_assert (!bitmap_get (&bm, 10));
  ck_assert (!bitmap_get (&bm, 15));
  ck_assert (!bitmap_get (&bm, UINT64_MAX));
  bitmap_free (&bm);
}
END_TEST

START_TEST (test_stray_bits)
{
  struct bitmap bm;

  ck_assert_int_eq (bitmap_alloc (&bm, 8 * 4096 * 2 + 3), 0);
  ck_assert_uint_eq (bm.nbytes, 8193);
  bitmap_set_range (&bm, 8 * 4096 * 2, 2);      /* bits 0, 1 of the last */
  bitmap_clear_dirty (&bm);
  bm.bytes[8192] |= 0xf0;               /* 4 stray bits */
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 4);
  ck_assert_uint_eq (bitmap_count (&bm), 2);    /* strays not counted */
  ck_assert_uint_eq (bitmap_find (&bm, 8 * 4096 * 2 + 2, true), bm.nbits);
  bitmap_clear_stray_bits (&bm);
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);
  ck_assert_uint_eq (bm.bytes[8192], 0x03);     /* real bits kept */
  ck_assert (bm.any_dirty);
  ck_assert_uint_eq (bm.dirty[0], 0);
  ck_assert_uint_eq (bm.dirty[1], 0);
  ck_assert_uint_eq (bm.dirty[2], 1);           /* the block holding it */
  bitmap_free (&bm);

  /* A multiple of 8 has no room for stray bits. */
  ck_assert_int_eq (bitmap_alloc (&bm, 16), 0);
  bm.bytes[1] = 0xff;
  ck_assert_uint_eq (bitmap_stray_bits (&bm), 0);
  bitmap_free (&bm);
}
END_TEST

START_TEST (test_dirty_blocks)
{
  const uint64_t bits_per_block = BITMAP_BLOCK * 8;
  struct bitmap bm;
  unsigned i;

  ck_assert_int_eq (bitmap_alloc (&bm, 3 * bits_per_block + 5), 0);
  ck_assert_uint_eq (bm.nblocks, 4);
  ck_assert (!bm.any_dirty);

  bitmap_set_range (&bm, bits_per_block - 1, 1);  /* last bit of block 0 */
  ck_assert (bm.any_dirty);
  ck_assert_uint_eq (bm.dirty[0], 1);
  ck_assert_uint_eq (bm.dirty[1] + bm.dirty[2] + bm.dirty[3], 0);
  bitmap_clear_dirty (&bm);
  ck_assert (!bm.any_dirty);
  for (i = 0; i < 4; i++)
    ck_assert_uint_eq (bm.dirty[i], 0);

  bitmap_set_range (&bm, bits_per_block, 1);      /* first of block 1 */
  ck_assert_uint_eq (bm.dirty[0], 0);
  ck_assert_uint_eq (bm.dirty[1], 1);
  bitmap_clear_dirty (&bm);

  bitmap_clear_range (&bm, 2 * bits_per_block - 3, 6);  /* blocks 1, 2 */
  ck_assert_uint_eq (bm.dirty[0], 0);
  ck_assert_uint_eq (bm.dirty[1], 1);
  ck_assert_uint_eq (bm.dirty[2], 1);
  ck_assert_uint_eq (bm.dirty[3], 0);
  bitmap_clear_dirty (&bm);

  bitmap_set_range (&bm, 3 * bits_per_block + 4, 1000);  /* clamped */
  ck_assert_uint_eq (bm.dirty[3], 1);
  ck_assert_uint_eq (bm.dirty[0] + bm.dirty[1] + bm.dirty[2], 0);
  bitmap_clear_dirty (&bm);

  bitmap_set_range (&bm, 3 * bits_per_block + 5, 1);  /* past nbits */
  ck_assert (!bm.any_dirty);
  bitmap_set_range (&bm, 0, UINT64_MAX);
  for (i = 0; i < 4; i++)
    ck_assert_uint_eq (bm.dirty[i], 1);
  bitmap_free (&bm);
}
END_TEST

START_TEST (test_alloc_limit)
{
  struct bitmap bm;
  uint64_t max_bits = (uint64_t) ADDCOW_MAX_BITMAP_BYTES * 8;

  ck_assert_int_eq (bitmap_alloc (&bm, max_bits + 1), -EFBIG);
  ck_assert_ptr_null (bm.bytes);
  ck_assert_int_eq (bitmap_alloc (&bm, UINT64_MAX), -EFBIG);
  ck_assert_ptr_null (bm.bytes);
  bitmap_free (&bm);                    /* safe after a failed alloc */
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("bitmap");
  TCase *tc = tcase_create ("bitmap");

  tcase_add_test (tc, test_empty);
  tcase_add_loop_test (tc, test_find_single_bit, 0, NSIZES);
  tcase_add_loop_test (tc, test_find_uniform, 0, NSIZES);
  tcase_add_loop_test (tc, test_random_against_model, 0, NSIZES);
  tcase_add_test (tc, test_set_clear_bytes);
  tcase_add_test (tc, test_get_past_end);
  tcase_add_test (tc, test_stray_bits);
  tcase_add_test (tc, test_dirty_blocks);
  tcase_add_test (tc, test_alloc_limit);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
