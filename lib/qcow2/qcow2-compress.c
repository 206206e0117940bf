/*
 * qcow2-compress.c - one compressed qcow2 cluster back to its bytes.
 *
 * A compressed cluster is a raw deflate stream (no zlib header, a 4 KiB
 * window) or a zstd frame, stored in whole 512-byte sectors: the input
 * may go on past the end of the stream into the next cluster's bytes, so
 * decompression stops as soon as a whole cluster has come out, and it is
 * an error if the input ends first.  The memory either library may use is
 * bounded: deflate's window is fixed, and zstd frames asking for a window
 * larger than any qcow2 cluster are refused.  A struct qcow2_unzip keeps
 * the two libraries' contexts from one cluster to the next (creating a
 * zstd context costs more than decompressing a small cluster); one per
 * thread, never shared.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
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
  if (u->z_ready)
    inflateEnd (u->z);
  free (u->z);
  ZSTD_freeDCtx (u->zd);
  qcow2_unzip_init (u);
}

static int
inflate_cluster (struct qcow2_unzip *u, const uint8_t *in, size_t inlen,
                 uint8_t *out, size_t outlen)
{
  z_stream *z;
  int zr;

  if (inlen > UINT_MAX || outlen > UINT_MAX)
    return -EIO;
  if (!u->z && !(u->z = calloc (1, sizeof *u->z)))
    return -ENOMEM;
  z = u->z;
  if (!u->z_ready) {
    if (inflateInit2 (z, -12) != Z_OK)  /* raw deflate, 4 KiB window */
      return -ENOMEM;
    u->z_ready = true;
  }
  else if (inflateReset (z) != Z_OK)
    return -EIO;
  z->next_in = (Bytef *) in;
  z->avail_in = (uInt) inlen;
  z->next_out = out;
  z->avail_out = (uInt) outlen;
  zr = inflate (z, Z_FINISH);
  /* A full output is success whether or not the stream said it ended. */
  if ((zr == Z_STREAM_END || zr == Z_OK || zr == Z_BUF_ERROR)
      && z->avail_out == 0)
    return 0;
  return -EIO;
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
