/*
 * chain.c - the one walk down a backing chain.
 *
 * Every question about the virtual disk of a chain (what a read returns,
 * map's block status, where a bulk copy takes its bytes, what commit must
 * copy) is answered here, by asking each layer's driver about the run at
 * OFFSET from the top down until one answers:
 *
 *   - a layer reports RUN_DATA or RUN_ZERO: that layer owns the run;
 *   - RUN_UNALLOCATED: the run (cut to what that layer said) goes on to
 *     the next layer down; with no layer below, it reads as zeros that
 *     nobody owns ("present": false);
 *   - the offset lies at or past the end of a layer below the top: the run
 *     reads as zeros *owned by that shorter layer*, which hides whatever
 *     the layers under it hold there.  map reports it as qemu-img does,
 *     not present, at the depth of the layer above (the one whose backing
 *     is short); commit copies those zeros like any owned run.
 *
 * A run is never longer than the request, than the end of any layer it
 * went through, or than the answer of any layer it went through.
 *
 * When the caller wants zeros told apart (chain_resolve), data that a
 * layer keeps verbatim in a file that may have holes (probe_holes) is
 * split further by asking that file (SEEK_DATA/SEEK_HOLE): its holes are
 * zero runs, as qemu's raw driver reports them.  A plain read does not
 * need that and does not pay for it, nor does it ask a layer that owns
 * every byte (raw: holes read as zeros anyway) for its block status.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "util/checked.h"
#include "internal.h"

/* Cut a verbatim data run at the next hole of its file (or report the
 * hole as zeros), for layers whose files may have holes. */
static void
probe_holes (const struct layer *l, struct chain_run *run)
{
  struct acfile *f = l->stable_file;
  struct source s;

  if (f && f->fd == run->fd)    /* nothing writes it: the cached hint */
    raw_source_hinted (f, f->size, run->file_offset, run->len, &s);
  else                          /* it may be written while open */
    raw_source (run->fd, UINT64_MAX, run->file_offset, run->len, &s);
  run->len = s.len;
  if (s.fd < 0) {
    run->kind = RUN_ZERO;
    run->fd = -1;
    run->zero_data = l->holes_are_data;
    if (!l->hole_offsets)
      run->filename = NULL;
  }
}

static void
set_zeros (struct chain_run *run, bool present, struct layer *owner,
           unsigned depth, uint64_t len)
{
  run->kind = RUN_ZERO;
  run->present = present;
  run->layer = owner;
  run->depth = depth;
  run->len = len;
  run->fd = -1;
  run->file_offset = 0;
  run->filename = NULL;
  run->zero_data = false;
}

/* The walk.  STOP: the depth of the first layer not to ask (commit's
 * BASE), or UINT_MAX. */
static int
walk (struct layer *top, unsigned stop, bool want_zero, uint64_t offset,
      uint64_t max, struct chain_run *run)
{
  struct layer *l = top, *above = NULL;
  struct layer_run lr;
  int r;

  for (;;) {
    if (l->depth >= stop) {
      set_zeros (run, false, NULL, above ? above->depth : 0, max);
      run->kind = RUN_UNALLOCATED;
      return 0;
    }
    if (offset >= l->size) {    /* past the end of a shorter layer */
      set_zeros (run, false, l, above ? above->depth : l->depth, max);
      return 0;
    }
    max = min_u64 (max, l->size - offset);
    if (!want_zero && l->owns_all) {    /* a read: no need to ask */
      lr.kind = RUN_DATA;
      lr.len = max;
      lr.fd = -1;
      lr.file_offset = offset;
      lr.filename = NULL;
    }
    else if ((r = l->ops->block_status (l, offset, max, &lr)) < 0)
      return r;
    if (lr.len == 0 || lr.len > max)
      return set_error (EIO, "%s: the %s driver answered a block status "
                        "request of %llu bytes with %llu", l->filename,
                        l->ops->format, (unsigned long long) max,
                        (unsigned long long) lr.len);
    max = lr.len;
    if (lr.kind != RUN_UNALLOCATED) {
      run->kind = lr.kind;
      run->present = true;
      run->layer = l;
      run->depth = l->depth;
      run->len = max;
      run->fd = lr.kind == RUN_DATA ? lr.fd : -1;
      run->file_offset = lr.file_offset;
      run->filename = lr.filename;
      run->zero_data = false;
      if (want_zero && l->probe_holes && run->kind == RUN_DATA
          && run->fd >= 0)
        probe_holes (l, run);
      return 0;
    }
    if (!l->backing) {          /* nobody holds it */
      set_zeros (run, false, NULL, l->depth, max);
      if (lr.filename) {        /* a place reserved for it (map's offset) */
        run->filename = lr.filename;
        run->file_offset = lr.file_offset;
      }
      return 0;
    }
    above = l;
    l = l->backing;
  }
}

static int
check_request (struct layer *top, uint64_t offset, uint64_t max)
{
  if (offset >= top->size || max == 0)
    return set_error (EINVAL, "%s: block status of %llu bytes at offset "
                      "%llu of a disk of %llu bytes", top->filename,
                      (unsigned long long) max, (unsigned long long) offset,
                      (unsigned long long) top->size);
  return 0;
}

int
chain_resolve (struct layer *top, uint64_t offset, uint64_t max,
               struct chain_run *run)
{
  int r = check_request (top, offset, max);

  return r < 0 ? r : walk (top, UINT_MAX, true, offset, max, run);
}

int
chain_resolve_above (struct layer *top, unsigned base_depth, uint64_t offset,
                     uint64_t max, struct chain_run *run)
{
  int r = check_request (top, offset, max);

  return r < 0 ? r : walk (top, base_depth, true, offset, max, run);
}

int
chain_read (struct layer *top, void *buf, size_t count, uint64_t offset)
{
  uint8_t *p = buf;
  struct chain_run run = { .len = 0 };  /* walk fills it (-O3 cannot see) */
  int r;

  while (count > 0) {
    if ((r = walk (top, UINT_MAX, false, offset, count, &run)) < 0)
      return r;
    if (run.kind == RUN_DATA) {
      if ((r = run.layer->ops->read (run.layer, p, (size_t) run.len,
                                     offset)) < 0)
        return r;
    }
    else
      memset (p, 0, (size_t) run.len);
    p += run.len;
    offset += run.len;
    count -= (size_t) run.len;
  }
  return 0;
}

struct layer *
chain_layer (struct layer *top, unsigned depth)
{
  while (top && depth--)
    top = top->backing;
  return top;
}
