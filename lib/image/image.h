/*
 * image.h - the image handle: opening, reading, writing, block status,
 * flushing, growing and rewriting one add-cow image.
 *
 * Invariants of an open struct addcow:
 *  - hdr has passed header_decode (every name range lies in the header, the
 *    formats are NUL-terminated, cluster_bits is 12..21).
 *  - virtual_size is the image file's size at open; nb_clusters =
 *    ceil(virtual_size / cluster_size); unless all_allocated, bm holds
 *    exactly nb_clusters bits, loaded from the add-cow file.
 *  - A bit set in bm but not yet on disk is marked dirty; it reaches the
 *    disk only in image_flush, after the image file is synced (spec 7).
 */
#ifndef ADDCOW_IMAGE_IMAGE_H
#define ADDCOW_IMAGE_IMAGE_H

#include "chain/layer.h"
#include "format/format.h"

/* ---- the image handle -------------------------------------------------- */

enum backing_kind { BACKING_NONE, BACKING_RAW, BACKING_ADDCOW,
                   BACKING_OTHER };

/* The open flags a caller may pass; addcow_open refuses any other bit. */
#define OPEN_PUBLIC_FLAGS (ADDCOW_OPEN_WRITE | ADDCOW_OPEN_FORCE_SHARE \
                           | ADDCOW_OPEN_TOLERATE_BACKING \
                           | ADDCOW_OPEN_BACKING_WRITE)

struct addcow {
  char *filename;               /* the add-cow file, as opened */
  struct acfile meta;           /* the add-cow file */
  struct acfile image;          /* the raw image file */
  struct header hdr;
  struct bitmap bm;
  uint64_t run_id;              /* names this handle to the per-thread
                                 * last run of a read-only one
                                 * (addcow-layer.c); never 0, never reused */
  uint64_t bm_padding_dirty;    /* non-zero bytes after the bitmap, up to
                                 * a whole cluster (found at open) */
  struct addcow_io io;
  unsigned flags;               /* ADDCOW_OPEN_* (public bits only) */
  unsigned write_depth;         /* private: the depth, from the top of the
                                 * chain, of the one layer below opened
                                 * read-write (commit), 0: none */
  bool writable;
  bool write_failed;            /* the bitmap could not be made to match
                                 * the disk after a failed sync: no more
                                 * writes through this handle */
  bool all_allocated;
  uint32_t cluster_bits;
  uint32_t cluster_size;
  uint64_t virtual_size;
  uint64_t nb_clusters;
  char *backing_path;           /* resolved, or NULL */

  /* This image as a layer of its chain (drivers/addcow-layer.c); its
   * backing chain is self.backing (owned), NULL when there is none or
   * it could not be opened. */
  struct layer self;
  /* The top of the handle's chain: &self, or, for a file opened in
   * another format (addcow_open_opts.format), that file's layer (owned;
   * then nothing above "self" is used and the handle is read-only). */
  struct layer *top;
  enum backing_kind backing_kind;
  uint64_t backing_size;        /* self.backing's size, 0 without one */
  char *backing_error;          /* ADDCOW_OPEN_TOLERATE_BACKING only */

  uint8_t *cluster_buf;         /* one cluster, for copy-on-write */
  pthread_rwlock_t lock;        /* the handle's lock (handle.c): shared for
                                 * what only reads its memory, exclusive
                                 * for what changes bits */
  pthread_mutex_t flush_lock;   /* one addcow_flush at a time (handle.c) */
  atomic_bool unsynced;         /* written through addcow_pwrite* since the
                                 * last good addcow_flush */
  pthread_mutex_t claim_lock;   /* guards claims (handle.c) */
  pthread_cond_t claim_done;    /* a claim was dropped */
  struct cow_claim *claims;     /* clusters being written outside the
                                 * exclusive lock, bits not yet set */
  pthread_rwlock_t bits_lock;   /* the bitmap's memory while claimed
                                 * writes set bits under the shared lock
                                 * (handle.c) */
  bool syncing;                 /* a flush syncs data under the shared
                                 * lock (handle.c), under claim_lock */
  struct cow_buf *cow_bufs;     /* free one-cluster buffers for claimed
                                 * writes, under claim_lock (handle.c) */
  unsigned n_cow_bufs;
  atomic_uint sync_failures;    /* failed data syncs of the image file
                                 * (write.c): a claim that saw one pass
                                 * sets no bits */
};

/* The identities (device, inode) of the files above a layer being opened,
 * so that a backing chain cannot loop back into itself.  DEPTH: the depth
 * of the layer being opened (layer_open_backing keeps it). */
struct chain_seen {
  dev_t dev[2 * ADDCOW_MAX_CHAIN_DEPTH + 2];
  ino_t ino[2 * ADDCOW_MAX_CHAIN_DEPTH + 2];
  unsigned n;
  unsigned depth;
};

/* image.c: is F (by device and inode) one of the files SEEN? */
bool seen_has (const struct chain_seen *seen, const struct acfile *f);
/* image.c: remember a file of the chain (-ELOOP "OWNER: 'PATH' is already
 * part of this image's backing chain (a loop)" if it is there already). */
int chain_seen_add (struct chain_seen *seen, const struct acfile *f,
                    const char *owner);
/* image.c: open/close.  P may be NULL (plain open: refuse corruptions). */
int image_open (const char *path, const struct addcow_open_opts *opts,
                struct chain_seen *seen, struct problems *p,
                struct addcow **imgp);
/* image.c: open the add-cow image PATH as the layer at DEPTH of a chain
 * (drivers/addcow-layer.c). */
int image_open_layer (const char *path, unsigned depth,
                      const struct layer_open *ctx, struct addcow **imgp);
/* image.c: open PATH as addcow_open does, with the layer at WRITE_DEPTH
 * below it read-write and the layers in between read-only (commit -b). */
int image_open_writing (const char *path, const struct addcow_open_opts *opts,
                        unsigned write_depth, struct addcow **imgp);

/* create.c: 0 if an image over BACKING (the top layer of an open chain,
 * GIVEN as the user named it) stays within ADDCOW_MAX_CHAIN_DEPTH layers,
 * counting the new top; else -ELOOP, the message naming FILE and GIVEN.
 * For create -b and rebase -b. */
int chain_depth_check (const char *file, const struct layer *backing,
                       const char *given);

/* backing.c: open the backing chain of IMG (img->self.backing). */
int backing_open (struct addcow *img, struct chain_seen *seen);
/* 0 if FMT is a backing format this library reads, else -ENOTSUP with
 * "FILE: unsupported backing format 'FMT'". */
int backing_format_check (const char *file, const char *fmt);
/* Close the backing chain; the error of a writable layer's last flush. */
int backing_close (struct addcow *img);
/* Read [offset, offset+count) of the backing chain (zeros past its end). */
int backing_read (struct addcow *img, void *buf, size_t count,
                  uint64_t offset);
/* "qcow2" or "add-cow" if the first bytes of the file at PATH are that
 * format's magic, else "raw" (used only by create/rebase when no format is
 * given). */
const char *backing_probe (const char *path);

/* The bodies of the public I/O calls (read.c, write.c, status.c), without
 * the handle's lock: handle.c wraps each one for the API, and the library
 * calls these directly on layers it already holds. */
int image_pread (struct addcow *img, void *buf, size_t count,
                 uint64_t offset);
int image_pwrite (struct addcow *img, const void *buf, size_t count,
                  uint64_t offset);
int image_pwrite_zeroes (struct addcow *img, uint64_t count,
                         uint64_t offset);
int image_flush (struct addcow *img);
int image_block_status (struct addcow *img, uint64_t offset,
                        uint64_t max_length, struct addcow_extent *ext);
int image_is_allocated (struct addcow *img, uint64_t offset,
                        uint64_t max_length, uint64_t *length);

/* handle.c: the handle's lock (image.c makes and ends it).  0 or
 * -errno. */
int handle_lock_init (struct addcow *img);
void handle_lock_destroy (struct addcow *img);

/* read.c: -EINVAL unless [offset, offset+count) lies within the disk. */
int image_check_range (struct addcow *img, uint64_t count, uint64_t offset);

/* write.c */
int image_write_bitmap_blocks (struct addcow *img);
/* Whole unallocated clusters [offset, offset+count) written to the image
 * file, their bits left unset (handle.c sets them with
 * image_mark_allocated, later, under the exclusive lock). */
int image_write_unmarked (struct addcow *img, const void *buf, size_t count,
                          uint64_t offset);
void image_mark_allocated (struct addcow *img, uint64_t count,
                           uint64_t offset);
/* Write the dirty bitmap blocks and fdatasync the add-cow file (its data
 * must be durable already); if the sync fails, every block stays dirty. */
int image_sync_bitmap (struct addcow *img);

#endif /* ADDCOW_IMAGE_IMAGE_H */
