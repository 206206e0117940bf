/*
 * checked.h - overflow-checked size arithmetic and rounding.
 *
 * Every size computed from an on-disk field goes through these, so that a
 * hostile header cannot wrap an offset around.  Each returns false on
 * overflow and leaves *r unspecified.
 */
#ifndef ADDCOW_CHECKED_H
#define ADDCOW_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
checked_add (uint64_t a, uint64_t b, uint64_t *r)
{
  return !__builtin_add_overflow (a, b, r);
}

static inline bool
checked_mul (uint64_t a, uint64_t b, uint64_t *r)
{
  return !__builtin_mul_overflow (a, b, r);
}

/* ceil(a / b) for b > 0, without overflow. */
static inline uint64_t
div_round_up (uint64_t a, uint64_t b)
{
  return a / b + (a % b != 0);
}

/* Round A up to a multiple of the power of two P; false on overflow. */
static inline bool
round_up_pow2 (uint64_t a, uint64_t p, uint64_t *r)
{
  uint64_t t;
  if (!checked_add (a, p - 1, &t))
    return false;
  *r = t & ~(p - 1);
  return true;
}

static inline uint64_t
min_u64 (uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

#endif /* ADDCOW_CHECKED_H */
