/*
 * fuzz-qcow2.c - libFuzzer target for the qcow2 driver: header and
 * extension decoding, the L1/L2 lookup and its cache, decompression.
 *
 * The input becomes f.qcow2 in a scratch directory that also holds the
 * files the seed images name: base.raw (the raw backing of the seeds with
 * a backing file) and d.data (the external data file of the seeds with
 * one), so that inputs reach backing chains and data files.  Then
 * qcow2_layer_open and, if it opens, a block-status walk of the disk
 * (bounded in runs, so a huge virtual size cannot make it slow) and reads
 * of the first 2 MiB (one long read, so the threaded path too), of odd
 * pieces, and of the end.  Any failure must come with a message naming
 * f.qcow2; a sanitizer finding or that check aborts.
 *
 * The seeds (corpus-qcow2/) are images of tests/qcow2/make-hostile.py.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"
#include "chain/layer.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define READ_MAX (UINT64_C (2) << 20)
#define MAX_RUNS 4096

static char dir[4096], file[4200];

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st; (void) ftw;
  return flag == FTW_DP ? rmdir (path) : unlink (path);
}

static void
cleanup (void)
{
  nftw (dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
put (const char *name, const void *buf, size_t len, uint64_t size)
{
  char path[4200];
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || (len && write (fd, buf, len) != (ssize_t) len)
      || (size && ftruncate (fd, (off_t) size) < 0))
    abort ();
  close (fd);
}

static void
setup (void)
{
  const char *tmp = getenv ("TMPDIR");
  static uint8_t pattern[65536];
  size_t i;

  snprintf (dir, sizeof dir, "%s/addcow-fuzz-qcow2-XXXXXX",
            tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp (dir))
    abort ();
  atexit (cleanup);
  snprintf (file, sizeof file, "%s/f.qcow2", dir);
  for (i = 0; i < sizeof pattern; i++)
    pattern[i] = (uint8_t) (i * 13 + (i >> 9));
  put ("base.raw", pattern, sizeof pattern, 1 << 20);
  put ("d.data", pattern, sizeof pattern, 1 << 20);
}

static void
check_error (void)
{
  const char *e = addcow_get_error ();

  if (strncmp (e, file, strlen (file)) != 0 || e[strlen (file)] != ':') {
    fprintf (stderr, "fuzz-qcow2: message does not name the file: %s\n", e);
    abort ();
  }
}

/* Read [offset, offset + count) of the chain below TOP. */
static int
chain_read_all (struct layer *top, uint8_t *buf, uint64_t count,
                uint64_t offset)
{
  while (count > 0) {
    struct layer *l = top;
    uint64_t n = count;
    struct layer_run run;
    int r;
    for (;;) {
      if (offset >= l->size) {
        memset (buf, 0, n);
        break;
      }
      n = min_u64 (n, l->size - offset);
      if ((r = l->ops->block_status (l, offset, n, &run)) < 0)
        return r;
      if (run.len == 0 || run.len > n)
        abort ();
      n = run.len;
      if (run.kind != RUN_UNALLOCATED)
        r = l->ops->read (l, buf, n, offset);
      else if (!l->backing) {
        memset (buf, 0, n);
        r = 0;
      }
      else {
        l = l->backing;
        continue;
      }
      if (r < 0)
        return r;
      break;
    }
    buf += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
exercise (struct layer *l)
{
  static uint8_t buf[READ_MAX];
  uint64_t off = 0, n;
  unsigned runs;
  int r = 0;

  for (runs = 0; r == 0 && off < l->size && runs < MAX_RUNS; runs++) {
    struct layer_run run;
    if ((r = l->ops->block_status (l, off, l->size - off, &run)) < 0)
      break;
    if (run.len == 0 || run.len > l->size - off)
      abort ();
    off += run.len;
  }
  n = min_u64 (l->size, READ_MAX);
  if (r == 0)
    r = chain_read_all (l, buf, n, 0);
  for (off = 0; r == 0 && off < n; off += 12345)
    r = chain_read_all (l, buf, min_u64 (777, n - off), off);
  if (r == 0 && l->size > 4096)
    r = chain_read_all (l, buf, 4096, l->size - 4096);
  return r;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct chain_seen seen;
  struct addcow_io io;
  struct layer_open ctx;
  struct layer *l;

  if (!dir[0])
    setup ();
  put ("f.qcow2", data, size, 0);
  memset (&seen, 0, sizeof seen);
  io_init (&io, NULL);
  memset (&ctx, 0, sizeof ctx);
  ctx.seen = &seen;
  ctx.io = &io;
  if (qcow2_layer_open (file, 0, &ctx, &l) < 0) {
    check_error ();
    return 0;
  }
  if (exercise (l) < 0)
    check_error ();
  layer_close_chain (l);
  return 0;
}
