/*
 * qcow2-compress.c - one compressed qcow2 cluster back to its bytes.
 *
 * A compressed cluster is a raw deflate stream (no zlib header, a 4 KiB
 * window) or a zstd frame, stored in whole 512-byte sectors: the input
 * may go on past the end of the stream into the next cluster's bytes, so
 * decompression stops as soon as a whole cluster has come out, and it is
 * an error if the input ends first.  The memory either library may use is
 * bounded: deflate's window is fixed, and zstd frames asking for a window
 * larger than any qcow2 cluster are refused.
 */
#include <errno.h>
#include <limits.h>
#include <zlib.h>
#include <zstd.h>

#include "qcow2.h"

#define ZSTD_WINDOW_LOG_MAX 22          /* 4 MiB: twice the largest cluster */

static int
inflate_cluster (const uint8_t *in, size_t inlen, uint8_t *out,
                 size_t outlen)
{
  z_stream z = { 0 };
  int zr, r = -EIO;

  if (inlen > UINT_MAX || outlen > UINT_MAX)
    return -EIO;
  if (inflateInit2 (&z, -12) != Z_OK)    /* raw deflate, 4 KiB window */
    return -ENOMEM;
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) inlen;
  z.next_out = out;
  z.avail_out = (uInt) outlen;
  zr = inflate (&z, Z_FINISH);
  /* A full output is success whether or not the stream said it ended. */
  if ((zr == Z_STREAM_END || zr == Z_OK || zr == Z_BUF_ERROR)
      && z.avail_out == 0)
    r = 0;
  inflateEnd (&z);
  return r;
}

static int
zstd_cluster (const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
  ZSTD_DCtx *dctx = ZSTD_createDCtx ();
  ZSTD_inBuffer ib = { in, inlen, 0 };
  ZSTD_outBuffer ob = { out, outlen, 0 };
  int r = -EIO;

  if (!dctx)
    return -ENOMEM;
  if (ZSTD_isError (ZSTD_DCtx_setParameter (dctx, ZSTD_d_windowLogMax,
                                            ZSTD_WINDOW_LOG_MAX)))
    goto out;
  /* Each call makes progress or fails; stop at a full cluster. */
  while (ob.pos < ob.size) {
    size_t in_before = ib.pos, out_before = ob.pos;
    size_t zr = ZSTD_decompressStream (dctx, &ob, &ib);
    if (ZSTD_isError (zr))
      goto out;
    if (ob.pos == ob.size)
      break;
    if (zr == 0 || (ib.pos == in_before && ob.pos == out_before))
      goto out;                 /* the frame ended short, or no progress */
  }
  r = 0;
 out:
  ZSTD_freeDCtx (dctx);
  return r;
}

int
qcow2_decompress (enum qcow2_compression type, const uint8_t *in,
                  size_t inlen, uint8_t *out, size_t outlen)
{
  switch (type) {
  case QCOW2_ZLIB:
    return inflate_cluster (in, inlen, out, outlen);
  case QCOW2_ZSTD:
    return zstd_cluster (in, inlen, out, outlen);
  }
  return -EIO;
}
