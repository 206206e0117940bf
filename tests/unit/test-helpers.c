/*
 * test-helpers.c - the small inline headers lib/util/checked.h and lib/util/le.h.
 */
#include "util/checked.h"
#include "util/le.h"
#include "testutil.h"

START_TEST (test_checked_add)
{
  uint64_t r;

  ck_assert (checked_add (1, 2, &r));
  ck_assert_uint_eq (r, 3);
  ck_assert (checked_add (UINT64_MAX - 1, 1, &r));
  ck_assert_uint_eq (r, UINT64_MAX);
  ck_assert (!checked_add (UINT64_MAX, 1, &r));
  ck_assert (!checked_add (UINT64_MAX / 2 + 1, UINT64_MAX / 2 + 1, &r));
}
END_TEST

START_TEST (test_checked_mul)
{
  uint64_t r;

  ck_assert (checked_mul (UINT64_C (1) << 32, (UINT64_C (1) << 32) - 1, &r));
  ck_assert_uint_eq (r, UINT64_MAX - UINT32_MAX);
  ck_assert (!checked_mul (UINT64_C (1) << 32, UINT64_C (1) << 32, &r));
  ck_assert (checked_mul (0, UINT64_MAX, &r));
  ck_assert_uint_eq (r, 0);
}
END_TEST

START_TEST (test_rounding)
{
  uint64_t r;

  ck_assert_uint_eq (div_round_up (0, 8), 0);
  ck_assert_uint_eq (div_round_up (1, 8), 1);
  ck_assert_uint_eq (div_round_up (8, 8), 1);
  ck_assert_uint_eq (div_round_up (9, 8), 2);
  ck_assert_uint_eq (div_round_up (UINT64_MAX, 2), UINT64_C (1) << 63);
  ck_assert (round_up_pow2 (4097, 4096, &r));
  ck_assert_uint_eq (r, 8192);
  ck_assert (round_up_pow2 (4096, 4096, &r));
  ck_assert_uint_eq (r, 4096);
  ck_assert (round_up_pow2 (0, 4096, &r));
  ck_assert_uint_eq (r, 0);
  ck_assert (!round_up_pow2 (UINT64_MAX - 100, 4096, &r));
  ck_assert_uint_eq (min_u64 (3, 2), 2);
  ck_assert_uint_eq (min_u64 (UINT64_MAX, 2), 2);
}
END_TEST

START_TEST (test_le)
{
  static const uint8_t bytes[8] = { 0x01, 0x02, 0x03, 0x04,
                                    0x05, 0x06, 0x07, 0x88 };
  uint8_t out[9] = { 0 };

  ck_assert_uint_eq (le32_load (bytes), 0x04030201u);
  ck_assert_uint_eq (le64_load (bytes), UINT64_C (0x8807060504030201));
  le32_store (out + 1, 0xdeadbeef);     /* unaligned */
  ck_assert_uint_eq (out[1], 0xef);
  ck_assert_uint_eq (out[4], 0xde);
  ck_assert_uint_eq (le32_load (out + 1), 0xdeadbeef);
  le64_store (out + 1, UINT64_C (0x8807060504030201));
  ck_assert_mem_eq (out + 1, bytes, 8);
  ck_assert_uint_eq (out[0], 0);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("helpers");
  TCase *tc = tcase_create ("helpers");

  tcase_add_test (tc, test_checked_add);
  tcase_add_test (tc, test_checked_mul);
  tcase_add_test (tc, test_rounding);
  tcase_add_test (tc, test_le);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
