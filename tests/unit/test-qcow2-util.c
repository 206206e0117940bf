/*
 * test-qcow2-util.c - see test-qcow2-util.h.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "test-qcow2-util.h"

void
q2_sh (const char *fmt, ...)
{
  char cmd[8192];
  va_list ap;
  int r;

  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  /* qemu-io reports every write on stdout. */
  {
    char full[8300];
    snprintf (full, sizeof full, "( %s ) >/dev/null", cmd);
    r = system (full);
  }
  if (r != 0)
    ck_abort_msg ("command failed (%d): %s", r, cmd);
}

void
q2_ctx_init (struct q2_ctx *c)
{
  memset (c, 0, sizeof *c);
  io_init (&c->io, NULL);
  c->open.seen = &c->seen;
  c->open.io = &c->io;
}

int
q2_chain_status (struct layer *top, uint64_t offset, uint64_t max,
                 struct q2_attr *a)
{
  struct layer *l = top;

  memset (a, 0, sizeof *a);
  for (;;) {
    struct layer_run run;
    int r;
    if (offset >= l->size) {            /* past this layer: zeros */
      a->zero = true;
      a->depth = l->depth;
      a->len = max;
      return 0;
    }
    max = min_u64 (max, l->size - offset);
    if ((r = l->ops->block_status (l, offset, max, &run)) < 0)
      return r;
    ck_assert_uint_gt (run.len, 0);
    ck_assert_uint_le (run.len, max);
    max = run.len;
    if (run.kind != RUN_UNALLOCATED || !l->backing) {
      a->present = run.kind != RUN_UNALLOCATED;
      a->data = run.kind == RUN_DATA;
      a->zero = !a->data;
      a->depth = l->depth;
      a->len = max;
      return 0;
    }
    l = l->backing;
  }
}

int
q2_chain_read (struct layer *top, uint8_t *buf, size_t count,
               uint64_t offset)
{
  while (count > 0) {
    struct layer *l = top;
    size_t n = count;
    int r;
    for (;;) {
      struct layer_run run;
      if (offset >= l->size) {
        memset (buf, 0, n);
        break;
      }
      n = (size_t) min_u64 (n, l->size - offset);
      if ((r = l->ops->block_status (l, offset, n, &run)) < 0)
        return r;
      n = (size_t) run.len;
      if (run.kind != RUN_UNALLOCATED) {
        if ((r = l->ops->read (l, buf, n, offset)) < 0)
          return r;
        break;
      }
      if (!l->backing) {
        memset (buf, 0, n);
        break;
      }
      l = l->backing;
    }
    buf += n;
    offset += n;
    count -= n;
  }
  return 0;
}

uint8_t *
q2_read_all (struct layer *top, size_t chunk)
{
  uint8_t *buf = malloc (top->size ? top->size : 1);
  uint64_t off = 0;

  ck_assert_ptr_nonnull (buf);
  if (!chunk)
    chunk = top->size ? top->size : 1;
  while (off < top->size) {
    size_t n = (size_t) min_u64 (chunk, top->size - off);
    if (q2_chain_read (top, buf + off, n, off) < 0) {
      free (buf);
      return NULL;
    }
    off += n;
  }
  return buf;
}
