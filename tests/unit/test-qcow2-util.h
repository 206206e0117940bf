/*
 * test-qcow2-util.h - what the qcow2 driver tests share: running qemu-img,
 * opening a qcow2 layer with its backing chain, and walking that chain
 * the way the library's chain walk will (top first, past a layer's end:
 * zeros owned by it).
 */
#ifndef ADDCOW_TEST_QCOW2_UTIL_H
#define ADDCOW_TEST_QCOW2_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "chain/layer.h"

/* Run a shell command (formatted); fail the test unless it exits 0. */
void q2_sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* The state a layer open needs: a loop-check set and the system I/O. */
struct q2_ctx {
  struct chain_seen seen;
  struct addcow_io io;
  struct layer_open open;
};
void q2_ctx_init (struct q2_ctx *c);

/* What the chain holds at one offset, as qemu-img map says it. */
struct q2_attr {
  bool present, data, zero;
  unsigned depth;
  uint64_t len;
};

/* The chain below TOP at OFFSET (< top->size), at most MAX bytes. */
int q2_chain_status (struct layer *top, uint64_t offset, uint64_t max,
                     struct q2_attr *a);
/* Read [offset, offset + count) of the chain, each run with one read. */
int q2_chain_read (struct layer *top, uint8_t *buf, size_t count,
                   uint64_t offset);
/* Read the whole chain, in one call per run of the top when CHUNK is 0,
 * else in pieces of CHUNK bytes.  malloc'd, or NULL with the error set. */
uint8_t *q2_read_all (struct layer *top, size_t chunk);

#endif
