/*
 * le.h - little-endian load/store of on-disk integers.
 *
 * The format is little-endian whatever the host; these work byte by byte so
 * they need no alignment and no host-order assumption.
 */
#ifndef ADDCOW_LE_H
#define ADDCOW_LE_H

#include <stdint.h>

static inline uint32_t
le32_load (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8
    | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t
le64_load (const uint8_t *p)
{
  return (uint64_t) le32_load (p) | (uint64_t) le32_load (p + 4) << 32;
}

static inline void
le32_store (uint8_t *p, uint32_t v)
{
  p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static inline void
le64_store (uint8_t *p, uint64_t v)
{
  le32_store (p, (uint32_t) v);
  le32_store (p + 4, (uint32_t) (v >> 32));
}

#endif /* ADDCOW_LE_H */
