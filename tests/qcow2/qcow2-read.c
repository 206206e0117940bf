/*
 * qcow2-read.c - read a whole qcow2 disk through the driver, for the
 * benchmark (bench/qcow2-read.sh) until addcow-img reads qcow2 layers.
 *
 *   qcow2-read FILE [OUT]
 *
 * FILE is a qcow2 image (read through qcow2_layer_open and its backing
 * chain) or, without the qcow2 magic, a raw file read with pread: the same
 * loop of CHUNK-sized reads either way, so the two can be compared.  With
 * OUT, the disk is written there as a sparse raw file (zero and
 * unallocated runs skipped), as `qemu-img convert -O raw` makes it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "internal.h"
#include "chain/layer.h"

#define CHUNK (UINT64_C (16) << 20)

static int
is_qcow2 (const char *path)
{
  char magic[4] = { 0 };
  int fd = open (path, O_RDONLY);

  if (fd < 0 || read (fd, magic, 4) != 4) {
    perror (path);
    exit (1);
  }
  close (fd);
  return memcmp (magic, "QFI\xfb", 4) == 0;
}

/* One run of the chain at OFFSET: data (read into BUF) or zeros. */
static int
chain_run (struct layer *top, uint8_t *buf, uint64_t offset, uint64_t max,
           uint64_t *len, int *data)
{
  struct layer *l = top;
  struct layer_run run;

  for (;;) {
    if (offset >= l->size) {
      *len = max;
      *data = 0;
      return 0;
    }
    max = min_u64 (max, l->size - offset);
    if (l->ops->block_status (l, offset, max, &run) < 0)
      return -1;
    *len = run.len;
    if (run.kind == RUN_ZERO || (run.kind == RUN_UNALLOCATED && !l->backing)) {
      *data = 0;
      return 0;
    }
    if (run.kind == RUN_DATA) {
      *data = 1;
      return l->ops->read (l, buf, run.len, offset);
    }
    l = l->backing;
    max = run.len;
  }
}

int
main (int argc, char **argv)
{
  uint8_t *buf = malloc (CHUNK);
  int out = -1, in = -1;
  uint64_t size, off = 0;
  struct layer *top = NULL;

  if (argc < 2 || argc > 3 || !buf) {
    fprintf (stderr, "usage: qcow2-read FILE [OUT]\n");
    return 1;
  }
  if (is_qcow2 (argv[1])) {
    struct chain_seen seen = { .n = 0 };
    struct addcow_io io;
    struct layer_open ctx = { .seen = &seen, .io = &io };
    io_init (&io, NULL);
    if (qcow2_layer_open (argv[1], 0, &ctx, &top) < 0) {
      fprintf (stderr, "qcow2-read: %s\n", addcow_get_error ());
      return 1;
    }
    size = top->size;
  }
  else {
    in = open (argv[1], O_RDONLY);
    size = (uint64_t) lseek (in, 0, SEEK_END);
  }
  if (argc == 3) {
    out = open (argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || ftruncate (out, (off_t) size) < 0) {
      perror (argv[2]);
      return 1;
    }
  }
  while (off < size) {
    uint64_t len = min_u64 (CHUNK, size - off);
    int data = 1;
    if (top && chain_run (top, buf, off, len, &len, &data) < 0) {
      fprintf (stderr, "qcow2-read: %s\n", addcow_get_error ());
      return 1;
    }
    if (!top && pread (in, buf, len, (off_t) off) != (ssize_t) len) {
      perror (argv[1]);
      return 1;
    }
    if (out >= 0 && data
        && pwrite (out, buf, len, (off_t) off) != (ssize_t) len) {
      perror (argv[2]);
      return 1;
    }
    off += len;
  }
  if (top)
    layer_close_chain (top);
  if (out >= 0 && close (out) < 0) {
    perror (argv[2]);
    return 1;
  }
  free (buf);
  return 0;
}
