/*
 * qcow2.h - what the files of the read-only qcow2 driver share.
 *
 * Written from QEMU's docs/interop/qcow2.txt.  Three pieces, one concern
 * each:
 *   qcow2-header.c    decode and validate the header and its extensions
 *                     (pure: a buffer in, a struct qcow2_header out);
 *   qcow2-table.c     the L1/L2 lookup through a bounded cache of table
 *                     clusters, and the decoding of one L2 entry;
 *   qcow2-prefetch.c  the next L2 table read ahead on a thread, for the
 *                     cache, when a walk goes through the disk in order;
 *   qcow2-compress.c  one compressed cluster back to its bytes (deflate
 *                     through libdeflate, zstd through libzstd);
 *   qcow2-layer.c     the driver: open, block_status, read, close.
 * All numbers on disk are big-endian.
 */
#ifndef ADDCOW_QCOW2_H
#define ADDCOW_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

static inline uint32_t
be32_load (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
    | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static inline uint64_t
be64_load (const uint8_t *p)
{
  return (uint64_t) be32_load (p) << 32 | be32_load (p + 4);
}

/* ---- qcow2-header.c ---------------------------------------------------- */

#define QCOW2_MAGIC "QFI\xfb"
#define QCOW2_V2_HEADER_LENGTH 72
#define QCOW2_V3_HEADER_LENGTH 104      /* the least a version 3 header has */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21       /* 2 MiB, as qemu */
#define QCOW2_MAX_L1_ENTRIES (UINT32_C (32) << 20 >> 3) /* 32 MiB, as qemu */
#define QCOW2_MAX_NAME 1023             /* backing file name, as the spec */
#define QCOW2_FMT_MAX 31                /* a backing format name */
#define QCOW2_MAX_REFCOUNT_ORDER 6      /* 64-bit refcounts, as qemu */

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY       (UINT64_C (1) << 0)
#define QCOW2_INCOMPAT_CORRUPT     (UINT64_C (1) << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (UINT64_C (1) << 2)
#define QCOW2_INCOMPAT_COMPRESSION (UINT64_C (1) << 3)
#define QCOW2_INCOMPAT_EXTL2       (UINT64_C (1) << 4)
#define QCOW2_INCOMPAT_KNOWN       (UINT64_C (0x1f))
/* Compatible feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (UINT64_C (1) << 0)
/* Autoclear bits. */
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (UINT64_C (1) << 1)

enum qcow2_compression { QCOW2_ZLIB = 0, QCOW2_ZSTD = 1 };

struct qcow2_header {
  uint32_t version;                     /* 2 or 3 */
  uint32_t cluster_bits;                /* 9..21 (14..21 with extended L2) */
  uint64_t size;                        /* virtual size */
  uint32_t l1_size;                     /* entries, covers size */
  uint64_t l1_table_offset;             /* aligned; the table in the file */
  uint64_t incompatible;
  uint64_t compatible;
  uint64_t autoclear;
  uint32_t header_length;
  uint32_t refcount_order;              /* as stored (4 in version 2);
                                         * unchecked: only info shows it */
  enum qcow2_compression compression;
  bool extended_l2;
  bool data_file_raw;
  char *backing_name;                   /* malloc'd, or NULL: no backing */
  char backing_fmt[QCOW2_FMT_MAX + 1];  /* "" when the image has none */
  char *data_file;                      /* malloc'd: the external data file
                                         * (DATA_FILE bit), else NULL */
};

/* The header needs at most this many bytes to be decoded: the first
 * cluster, as far as the file goes. */
#define QCOW2_HEADER_READ_MAX (UINT32_C (1) << QCOW2_MAX_CLUSTER_BITS)

/* Decode the header of FILE (FILE_SIZE bytes) from BUF, its first
 * min(len, cluster) bytes (LEN >= the cluster size or the whole file).
 * Every field the driver uses is checked against the file.  0, or a
 * negative errno with "FILE: what is wrong" set.  On success free H with
 * qcow2_header_free. */
int qcow2_header_decode (const uint8_t *buf, size_t len, uint64_t file_size,
                         const char *file, struct qcow2_header *h);
/* The cluster bits of the header in BUF (LEN bytes), to know how much to
 * read before qcow2_header_decode; 0, or -errno with the message set. */
int qcow2_header_peek (const uint8_t *buf, size_t len, const char *file,
                       uint32_t *cluster_bits);
void qcow2_header_free (struct qcow2_header *h);

/* ---- qcow2-table.c ----------------------------------------------------- */

/* One guest cluster (or, with extended L2, one subcluster) as its L2
 * entry describes it. */
enum qcow2_kind {
  QCOW2_UNALLOCATED,            /* ask the backing file */
  QCOW2_ZERO,                   /* reads as zeros */
  QCOW2_DATA,                   /* stored verbatim at host */
  QCOW2_COMPRESSED,             /* csize bytes at host, compressed */
};

struct qcow2_map {
  enum qcow2_kind kind;
  uint64_t host;                /* DATA: where the run starts in the data
                                 * file; COMPRESSED: the compressed bytes */
  uint64_t csize;               /* COMPRESSED: bytes to read at host */
  bool reserved;                /* UNALLOCATED or ZERO (sub)clusters that
                                 * keep an allocated place (extended L2, or
                                 * a zero cluster with an offset): host is
                                 * that place in the data file */
  uint64_t len;                 /* > 0: bytes from the offset asked for
                                 * that share this description (to the end
                                 * of the cluster, or of the subcluster
                                 * run); never past the virtual size */
};

/* The cache of table clusters (L1 and L2 alike): at most
 * QCOW2_CACHE_BYTES of memory whatever the image, behind a mutex, entries
 * copied out so that no caller holds a pointer into it. */
#define QCOW2_CACHE_BYTES (UINT32_C (4) << 20)
#define QCOW2_CACHE_MAX_SLOTS 256u

/* A buffer for a table cluster: the cluster, then its summary, one bit
 * per 64 bytes of it, set where they are not all zero.  Whoever reads a
 * table summarises it (the read-ahead thread, for the tables it reads),
 * and a walk then skips the zero entries of a table of mostly zeros
 * without reading them. */
size_t qcow2_table_buffer_bytes (size_t cluster_size);
void qcow2_summarise (uint8_t *buf, size_t cluster_size);
/* How many bytes of the table in BUF from FROM (below TO; both multiples
 * of 8, TO <= the cluster size) are zero, in whole 8-byte words. */
size_t qcow2_summary_zero_run (const uint8_t *buf, size_t cluster_size,
                               size_t from, size_t to);

struct qcow2_cache_slot {
  uint64_t offset;              /* host offset of the cluster held */
  uint64_t used;                /* LRU stamp; 0: empty */
  uint8_t *data;                /* a table buffer (qcow2_table_buffer_bytes),
                                 * or NULL until first use */
};

/* qcow2-prefetch.c: the next table read ahead on a thread (the cache's
 * helper; its state behind its own lock). */
enum qcow2_pf_state {
  QCOW2_PF_IDLE,                /* nothing asked for, or a read failed */
  QCOW2_PF_WANTED,              /* offset asked for, the thread not on it */
  QCOW2_PF_READING,             /* the thread reads offset into buf */
  QCOW2_PF_READY,               /* buf holds the cluster at offset */
};

/* Up to this many tables ahead, at most QCOW2_PREFETCH_BYTES of them:
 * deep enough that the walk rarely waits for the thread. */
#define QCOW2_PREFETCH_MAX 4u
#define QCOW2_PREFETCH_BYTES (UINT32_C (256) << 10)

struct qcow2_prefetch_buf {
  enum qcow2_pf_state state;
  uint64_t offset;
  uint64_t seq;                 /* order of the requests */
  uint8_t *data;                /* a table buffer, or NULL */
};

struct qcow2_prefetch {
  const struct addcow_io *io;
  int fd;
  size_t len;                   /* a cluster */
  unsigned depth;               /* buffers used, <= QCOW2_PREFETCH_MAX */
  bool disabled;                /* a user's I/O table, or no thread */
  bool started;                 /* the thread runs (the cache's lock) */
  unsigned fork_count;          /* forks counted when it started */
  pthread_t thread;
  pthread_mutex_t lock;         /* what follows */
  pthread_cond_t cond;
  bool stop;
  uint64_t seq;
  struct qcow2_prefetch_buf b[QCOW2_PREFETCH_MAX];
};

void qcow2_prefetch_init (struct qcow2_prefetch *p,
                          const struct addcow_io *io, int fd, size_t len);
void qcow2_prefetch_free (struct qcow2_prefetch *p);
/* Read the cluster at OFFSET (aligned, inside the file) ahead, unless it
 * is already asked for or every buffer is taken. */
void qcow2_prefetch_request (struct qcow2_prefetch *p, uint64_t offset);
/* If the cluster at OFFSET was asked for: wait for it, and on success
 * exchange *BUF (a table buffer or NULL) with the buffer that holds it,
 * summarised; true.  Else false, *BUF untouched. */
bool qcow2_prefetch_take (struct qcow2_prefetch *p, uint64_t offset,
                          uint8_t **buf);

struct qcow2_tables {
  const struct addcow_io *io;
  int fd;                       /* the qcow2 file */
  uint64_t file_size;           /* the qcow2 file's */
  uint64_t data_size;           /* the data file's (= file_size without an
                                 * external one) */
  const char *file;             /* for messages */
  const struct qcow2_header *h;
  uint32_t cluster_size;
  uint32_t l2_entries;          /* entries per L2 table */
  uint32_t l2_bits;             /* log2 (l2_entries): all sizes here are
                                 * powers of 2, masks not divisions */
  uint32_t entry_bytes;         /* 8, or 16 with extended L2 */
  bool has_data_file;
  pthread_mutex_t lock;         /* the slots and the clock */
  uint64_t clock;
  unsigned nslots;
  unsigned recent[2];           /* the slots used last, newest first */
  struct qcow2_cache_slot *slots;
  uint64_t last_l1;             /* the L1 index of the last lookup + 1
                                 * (0: none), to see a walk in order */
  struct qcow2_prefetch prefetch;
};

int qcow2_tables_init (struct qcow2_tables *t, const struct addcow_io *io,
                       int fd, uint64_t file_size, uint64_t data_size,
                       bool has_data_file, const char *file,
                       const struct qcow2_header *h);
void qcow2_tables_free (struct qcow2_tables *t);
/* What guest OFFSET (< the virtual size) maps to, merged with the
 * (sub)clusters after it *in the same L2 table* that continue it
 * (qcow2_continues), up to MAX (> 0) bytes; a compressed cluster is not
 * merged with the next unless MERGE_COMPRESSED.  One pass over the table
 * under one lock, the unallocated entries skipped without decoding.  0,
 * or -errno with "FILE: what is wrong" set (a bad table entry, a failed
 * read). */
int qcow2_lookup_run (struct qcow2_tables *t, uint64_t offset, uint64_t max,
                      bool merge_compressed, struct qcow2_map *m);
/* Does NEXT, the description of the bytes just after RUN, continue it
 * (same kind; for data or a reserved place, the host offsets follow)? */
bool qcow2_continues (const struct qcow2_map *run,
                      const struct qcow2_map *next);
/* Decode one L2 entry (and its subcluster bitmap, extended L2) for the
 * guest cluster starting at GUEST, for the bytes at IN_CLUSTER of it.
 * Pure, for qcow2_lookup_run and the tests. */
int qcow2_decode_l2 (const struct qcow2_tables *t, uint64_t entry,
                     uint64_t bitmap, uint64_t guest, uint32_t in_cluster,
                     struct qcow2_map *m);

/* How many bytes at the start of P (LEN bytes, a multiple of 8) are
 * zero, counted in whole 8-byte words: where the next non-zero table
 * entry is, without decoding the zero ones before it. */
size_t qcow2_zero_prefix (const uint8_t *p, size_t len);

/* ---- qcow2-compress.c -------------------------------------------------- */

/* Decompression contexts, made on first use and reused: one per thread. */
struct qcow2_unzip {
  struct libdeflate_decompressor *deflate;
  struct ZSTD_DCtx_s *zd;
};
void qcow2_unzip_init (struct qcow2_unzip *u);
void qcow2_unzip_free (struct qcow2_unzip *u);
/* Decompress IN (INLEN bytes, possibly followed by unrelated bytes) into
 * exactly OUTLEN bytes of OUT.  0, or -EIO if the data does not give a
 * whole cluster (no message set: the caller names the cluster). */
int qcow2_decompress (struct qcow2_unzip *u, enum qcow2_compression type,
                      const uint8_t *in, size_t inlen, uint8_t *out,
                      size_t outlen);

#endif /* ADDCOW_QCOW2_H */
