/*
 * ops.h - the operations on whole images (create, check, commit, rebase,
 * resize, convert, compare) and the bulk copy engine they share.
 */
#ifndef ADDCOW_OPS_OPS_H
#define ADDCOW_OPS_OPS_H

#include "image/image.h"

/* ---- the operations, their bulk copy engine, and what they share ----- */

/* grow.c: grow the virtual disk of IMG (open for writing) to NEW_SIZE
 * bytes (spec 8): the new area reads as zeros even where the backing file
 * reaches into it.  Crash-safe; 0 or -errno with the message set. */
int image_grow (struct addcow *img, uint64_t new_size);

/* write.c: write [offset, offset+count) of the disk from the file FD, which
 * holds the data at the same offsets, through the copy-on-write path (bits
 * in memory, as addcow_pwrite). */
int image_copy_from (struct addcow *img, int fd, uint64_t count,
                     uint64_t offset);

/* copy.c: where the bytes of a run come from, and moving them in bulk. */

#define COPY_BATCH_BYTES (UINT64_C (256) << 20) /* data per sync */
#define COPY_BOUNCE_BYTES (UINT64_C (1) << 20) /* data copied through a
                                                 * buffer, per piece */
#define COPY_CHUNK_BYTES (UINT64_C (64) << 20)  /* work between progress
                                                 * calls (a multiple of
                                                 * every cluster size) */

/* A run of a disk or a file: data in file FD at FILE_OFFSET; data that
 * must be read through LAYER's driver (FD -1, LAYER set: compressed, say);
 * or zeros (FD -1, LAYER NULL: a hole, past an end, or no layer holds
 * it). */
struct source {
  int fd;
  uint64_t len;                 /* > 0 */
  uint64_t file_offset;         /* FD >= 0: where the run starts in FD */
  struct layer *layer;          /* data to read through this layer */
};

static inline bool
source_is_zero (const struct source *s)
{
  return s->fd < 0 && !s->layer;
}

/* copy.c: do A and B read the same bytes of one plain file (the same
 * device and inode, at the same offset), so that comparing them needs no
 * read? */
bool sources_same_bytes (const struct source *a, const struct source *b);

/* Raw file FD of SIZE bytes at OFFSET: data or hole (SEEK_DATA/SEEK_HOLE;
 * past SIZE: zeros), at most MAX bytes. */
void raw_source (int fd, uint64_t size, uint64_t offset, uint64_t max,
                 struct source *s);
/* raw_source for a file that does not change while open, remembering
 * the extent found, per thread (F->hint_id; file_offset = offset). */
void raw_source_hinted (struct acfile *f, uint64_t size, uint64_t offset,
                        uint64_t max, struct source *s);
/* What the unallocated clusters of IMG read at OFFSET: its backing chain. */
int chain_source (struct addcow *img, uint64_t offset, uint64_t max,
                  struct source *s);
/* The chain from TOP down at OFFSET (zeros at or past TOP's end). */
int layer_source (struct layer *top, uint64_t offset, uint64_t max,
                  struct source *s);
/* Read the LEN bytes of the source run S that starts at disk offset
 * OFFSET into BUF. */
int source_read (const struct source *s, const struct addcow_io *io,
                 void *buf, size_t len, uint64_t offset);

/* copier.c: copies and hole punches in flight on worker threads (none
 * for a user's I/O table: the jobs then run in order, in the calling
 * thread, when the queue fills and at copier_wait).  Jobs finish late and
 * in any order: copier_wait before a sync.  Errors stick (-errno, no
 * message). */
struct copier;
int copier_new (const struct addcow_io *io, struct copier **cp);
/* Queue a copy of [offset, offset+len) of SRC_FD to the same offset of
 * DST_FD (zeros past the end of SRC_FD), in pieces. */
int copier_copy (struct copier *c, int src_fd, int dst_fd, uint64_t len,
                 uint64_t offset);
/* The same from SRC_OFFSET of SRC_FD to OFFSET of DST_FD. */
int copier_copy_at (struct copier *c, int src_fd, uint64_t src_offset,
                    int dst_fd, uint64_t len, uint64_t offset);
/* Queue reading the data run S (at disk offset OFFSET: through S->layer,
 * or from S->fd at S->file_offset) into buffers of the worker threads and
 * writing it to the same offset of DST_FD, in pieces read in parallel.
 * S->layer must stay open until copier_wait. */
int copier_read (struct copier *c, const struct source *s, int dst_fd,
                 uint64_t offset);
/* Queue punch_if_possible of [offset, offset+len) of FD. */
int copier_punch (struct copier *c, int fd, uint64_t offset, uint64_t len);
/* Wait until every queued job is done; the first error.  *PUNCH_FAILED
 * (may be NULL) tells whether that error came from a punch. */
int copier_wait (struct copier *c, bool *punch_failed);
const struct addcow_io *copier_io (const struct copier *c);
/* Run the queued jobs (their errors are dropped: a caller that needs
 * them calls copier_wait first), stop the threads, free.  NULL is
 * accepted. */
void copier_free (struct copier *c);

/* Copy [offset, offset+len) of the file SRC_FD (-1: zeros) to the same
 * offset of DST_FD (DST_SIZE bytes): data queued on the copier, holes of
 * SRC_FD as zeros written (at once) only where DST_FD is not a hole
 * already. */
int copy_to_file (struct copier *c, int src_fd, int dst_fd,
                  uint64_t dst_size, uint64_t len, uint64_t offset);
/* Copy the source run S (at disk offset OFFSET) to the same offset of
 * DST_FD (DST_SIZE bytes), all of it queued on the copier: data in a file
 * as copies (copy_file_range, which shares extents where it can), data
 * through a layer or at an offset no extent can be shared from as read
 * jobs; zeros as copy_to_file writes them. */
int copy_source (struct copier *c, const struct source *s, int dst_fd,
                 uint64_t dst_size, uint64_t offset);
/* Ask the kernel to start reading [offset, offset+len) of FD (a hint: no
 * data changes, so it is not part of the I/O table). */
#define PREFETCH_BYTES (UINT64_C (32) << 20)
void read_hint (int fd, uint64_t offset, uint64_t len);
/* Would a copy from SRC_FD to DST_FD share extents (reflink) rather than
 * move bytes?  A probe that changes no byte; false for a user's I/O table
 * (its copy_range may not be copy_file_range). */
bool copies_share_extents (const struct addcow_io *io, int src_fd,
                           int dst_fd);
/* Punch [offset, offset+len) of FD out if the I/O table can (space only:
 * nothing relies on it); unsupported is not an error. */
int punch_if_possible (const struct addcow_io *io, int fd, uint64_t offset,
                       uint64_t len);

/* Progress in bytes of work, and the cancellation point. */
struct progress {
  addcow_progress_fn fn;
  void *opaque;
  uint64_t done, total;
};
void progress_start (struct progress *p, addcow_progress_fn fn, void *opaque,
                     uint64_t total);
/* Add N to done and report; -ECANCELED (message naming FILE) when the
 * callback asks to stop. */
int progress_add (struct progress *p, uint64_t n, const char *file);

/* rewrite.c: rewrite the header of IMG (open for writing, its bitmap in
 * memory already on disk) in place (spec 7a), crash-safe: the backing name
 * BACKING_NAME (NULL: none) of format BACKING_FMT, compat features |
 * SET_COMPAT; the image name, header size and bitmap stay.  IMG then
 * describes the new header. */
/* Would a header naming BACKING_NAME (NULL: none) fit beside the current
 * names?  0 or -errno with the message set; checked before a rebase
 * copies anything. */
int image_header_fits (const struct addcow *img, const char *backing_name,
                       const char *backing_fmt);
int image_rewrite_header (struct addcow *img, const char *backing_name,
                          const char *backing_fmt, uint64_t set_compat);

/* The operations with the batch size as a parameter (tests use tiny ones
 * so that a small image goes through many batches). */
int commit_run (const char *path, const struct addcow_commit_opts *opts,
                uint64_t batch_bytes);
int rebase_run (const char *path, const struct addcow_rebase_opts *opts,
                uint64_t batch_bytes);

#endif /* ADDCOW_OPS_OPS_H */
