/*
 * internal.h - what the library's files share and nobody else sees.
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
#ifndef ADDCOW_INTERNAL_H
#define ADDCOW_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addcow.h"
#include "layer.h"

/* ---- error.c: the per-thread error message ---------------------------- */

/* Record "fmt..." as the error message and return -ERR (ERR > 0). */
int set_error (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Same, appending ": strerror(ERR)". */
int set_error_errno (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* ---- io.c: the only place that touches file contents ------------------ */

/* Fill every NULL member of IO with the system call. */
void io_init (struct addcow_io *io, const struct addcow_io *user);
/* Is IO the plain system calls (thread-safe), not a user's table? */
bool io_is_system (const struct addcow_io *io);

/* Read exactly COUNT bytes; bytes at or past end of file read as zeros. */
int io_read (const struct addcow_io *io, int fd, void *buf, size_t count,
             uint64_t offset);
/* Write exactly COUNT bytes (retrying short writes). */
int io_write (const struct addcow_io *io, int fd, const void *buf,
              size_t count, uint64_t offset);
/* Make [offset, offset+count) read as zeros: punch a hole, else write. */
int io_write_zeroes (const struct addcow_io *io, int fd, uint64_t count,
                     uint64_t offset);
/* Copy between files: copy_range where possible, else read+write. */
int io_copy (const struct addcow_io *io, int fd_in, int fd_out,
             uint64_t count, uint64_t offset);
/* Copy through a buffer between different offsets (zeros past the end of
 * FD_IN). */
int io_copy_bounce (const struct addcow_io *io, int fd_in, uint64_t in_off,
                    int fd_out, uint64_t out_off, uint64_t count);
int io_datasync (const struct addcow_io *io, int fd);
int io_sync (const struct addcow_io *io, int fd);
int io_truncate (const struct addcow_io *io, int fd, uint64_t length);
/* Rename FROM to TO; without REPLACE never over an existing TO (-EEXIST). */
int io_rename (const struct addcow_io *io, const char *from, const char *to,
               bool replace);
/* Sync the directory holding PATH, so that a new name in it is durable. */
int io_sync_dir (const struct addcow_io *io, const char *path);
/* lseek through the table (-1 and errno on failure, as lseek). */
off_t io_lseek (const struct addcow_io *io, int fd, off_t offset,
                int whence);

/* ---- file.c: opening the files around an image ------------------------ */

/* One region of a raw file known to be all data or all hole, from the
 * last SEEK_DATA/SEEK_HOLE answer: a forward walk (map, a copy) then asks
 * the kernel once per extent instead of once per run.  Empty when
 * start == end; whoever writes to the file must empty it. */
struct extent_hint {
  uint64_t start, end;
  bool data;
};

struct acfile {
  int fd;                       /* -1 when not open */
  struct extent_hint hint;      /* only for files this library never writes
                                 * while open: backing files */
  pthread_mutex_t hint_lock;    /* guards hint: block status runs in many
                                 * threads (raw_source_hinted).  All-zero
                                 * bytes are PTHREAD_MUTEX_INITIALIZER on
                                 * glibc, so a zeroed acfile is ready */
  char *path;                   /* the path it was opened by */
  uint64_t size;                /* at open */
  dev_t dev;
  ino_t ino;
};

/* Open PATH as a regular file or block device, never blocking on a FIFO;
 * on failure the message is "OWNER: could not open WHAT 'PATH': reason"
 * ("OWNER: could not open: reason" when WHAT is NULL). */
int file_open (struct acfile *f, const char *path, bool writable,
               const char *owner, const char *what);
void file_close (struct acfile *f);
bool file_same (const struct acfile *a, const struct acfile *b);

/* lock.c: qemu-compatible OFD locks (bytes 100+perm, 200+perm), the
 * bytes qemu takes for the role the file plays (see lock.c).  A conflict
 * is EBUSY with qemu's two lines. */
enum lock_role_id {
  LOCK_META_RO,                 /* add-cow file, read-only */
  LOCK_META_RW,                 /* add-cow file, read-write */
  LOCK_IMAGE_RO,                /* image file, read-only */
  LOCK_IMAGE_RW,                /* image file, read-write */
  LOCK_BACKING,                 /* a raw backing file read through */
  LOCK_COMMIT_TARGET,           /* a raw backing file commit writes */
};
int file_lock (struct acfile *f, enum lock_role_id role, const char *owner);

/* ---- path.c ------------------------------------------------------------ */

/* NAME resolved against the directory of BASE_FILE (malloc'd, or NULL). */
char *path_resolve (const char *base_file, const char *name);
/* Do A and B name the same file: the same device and inode when both
 * exist, else the same path once their directories are resolved (so a
 * file create is about to make compares right)? */
bool path_same_file (const char *a, const char *b);

/* ---- problems.c: collecting or refusing what is wrong with an image ---- */

struct problems {
  bool collect;                 /* check: report all; open: stop at first */
  uint64_t corruptions;
  uint64_t leaks;
  uint64_t check_errors;        /* ADDCOW_PROBLEM_CHECK_ERROR */
  void (*report) (void *opaque, enum addcow_problem kind, bool fixed,
                  const char *message);
  void *opaque;
};

/* Report a problem with FILE.  When not collecting, a corruption becomes
 * the error (returns -EINVAL) and a leak is only counted (returns 0). */
int problem (struct problems *p, enum addcow_problem kind, const char *file,
             const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
/* Report MESSAGE, which already names its file. */
int problem_msg (struct problems *p, enum addcow_problem kind,
                 const char *message);
/* The kind of problem a failure R (negative errno) to open a file the
 * image needs is: a check error when the file is missing or unusable
 * (ENOENT, EACCES, EIO, ...), a corruption otherwise (a loop, a bad
 * format, the image file as its own backing). */
enum addcow_problem problem_kind_of_open_error (int r);
void problem_fixed (struct problems *p, enum addcow_problem kind,
                    const char *file, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

/* ---- header.c: the on-disk header (pure: no I/O) ---------------------- */

struct header {
  uint32_t backing_name_offset;
  uint32_t backing_name_size;
  uint32_t image_name_offset;
  uint32_t image_name_size;
  uint32_t cluster_bits;
  uint64_t features;
  uint64_t compat_features;
  uint32_t header_size;
  char backing_fmt[ADDCOW_FMT_FIELD_SIZE];
  char image_fmt[ADDCOW_FMT_FIELD_SIZE];
  char *backing_name;           /* malloc'd, NUL-terminated, or NULL */
  char *image_name;             /* malloc'd, NUL-terminated, or NULL */
  uint64_t padding_dirty;       /* non-zero bytes in the name area padding */
};

/* Decode the first 76 bytes: magic, features, header_size.  Fatal problems
 * (not add-cow, unknown incompatible features) return a negative errno;
 * an invalid header_size is reported as a corruption and returns 1. */
int header_decode_fixed (const uint8_t *buf, size_t len, uint64_t file_size,
                         struct header *h, const char *file,
                         struct problems *p);
/* Decode and validate the rest, BUF holding h->header_size bytes.  Returns
 * 0, or a negative errno when P refuses a corruption. */
int header_decode_names (const uint8_t *buf, struct header *h,
                         const char *file, struct problems *p);
/* Encode H (names included) into BUF of h->header_size bytes. */
void header_encode (const struct header *h, uint8_t *buf);
/* Fill H for a new image.  Names are copied.  -EINVAL if they do not fit. */
int header_init (struct header *h, uint32_t cluster_bits,
                 const char *image_name, const char *image_fmt,
                 const char *backing_name, const char *backing_fmt);
void header_free (struct header *h);

/* ---- bitmap.c: the COW bitmap in memory (pure) ------------------------ */

#define BITMAP_BLOCK 4096u      /* unit of dirty tracking and write-back */

struct bitmap {
  uint8_t *bytes;               /* ceil(nbits/8) bytes, padded to 8 */
  uint64_t nbits;
  uint64_t nbytes;              /* ceil(nbits/8) */
  uint8_t *dirty;               /* one flag per BITMAP_BLOCK bytes */
  uint64_t nblocks;
  bool any_dirty;
  /* bitmap-map.c: bytes mapped from the add-cow file (NULL: malloc'd) */
  void *map;                    /* the mapping (MAP_PRIVATE) */
  size_t map_len;
  int map_fd;                   /* a dup of the file mapped (when map) */
  uint64_t map_offset;          /* where bytes[0] lies in that file */
  uint8_t *changed;             /* per block: ever changed in memory, so
                                 * no longer what that file holds */
  uint64_t nchanged;            /* blocks with changed[b] set */
};

int bitmap_alloc (struct bitmap *bm, uint64_t nbits);
void bitmap_free (struct bitmap *bm);
bool bitmap_get (const struct bitmap *bm, uint64_t n);
void bitmap_set_range (struct bitmap *bm, uint64_t start, uint64_t count);
void bitmap_clear_range (struct bitmap *bm, uint64_t start, uint64_t count);
/* First bit >= START whose value is VALUE, or nbits. */
uint64_t bitmap_find (const struct bitmap *bm, uint64_t start, bool value);
/* First bit in [START, END) whose value is VALUE, or END (END is clamped
 * to nbits): the cost follows END - START, not the size of the disk. */
uint64_t bitmap_find_bounded (const struct bitmap *bm, uint64_t start,
                              uint64_t end, bool value);
uint64_t bitmap_count (const struct bitmap *bm);
/* Bits set past nbits in the last byte; clear them. */
unsigned bitmap_stray_bits (const struct bitmap *bm);
void bitmap_clear_stray_bits (struct bitmap *bm);
void bitmap_clear_dirty (struct bitmap *bm);
/* The plain scans under bitmap_find_bounded and bitmap_count: every word
 * of [START, END) is read (END is clamped to nbits). */
uint64_t bitmap_scan (const struct bitmap *bm, uint64_t start, uint64_t end,
                      bool value);
uint64_t bitmap_count_range (const struct bitmap *bm, uint64_t start,
                             uint64_t end);

/* ---- bitmap-map.c: a bitmap mapped from its file ---------------------- */

/* Map the NBITS bits at OFFSET of FD (FILE_SIZE bytes, which must hold
 * them all) copy-on-write: untouched pages cost nothing and changes stay
 * in memory until written back (pwrite, as for a malloc'd bitmap).  Bytes
 * past the bitmap read as zeros up to the padding to 8.  -errno (nothing
 * to free) when the file cannot be mapped. */
int bitmap_map (struct bitmap *bm, uint64_t nbits, int fd, uint64_t offset,
                uint64_t file_size);
void bitmap_unmap (struct bitmap *bm);
/* bitmap_find_bounded (VALUE true) and bitmap_count of a mapped bitmap,
 * skipping the mapped file's holes (SEEK_DATA/SEEK_HOLE) where no block
 * changed in memory: those bits are zero. */
uint64_t bitmap_map_find_set (const struct bitmap *bm, uint64_t start,
                              uint64_t end);
uint64_t bitmap_map_count (const struct bitmap *bm);

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
/* Write the dirty bitmap blocks and fdatasync the add-cow file (its data
 * must be durable already); if the sync fails, every block stays dirty. */
int image_sync_bitmap (struct addcow *img);

/* ---- commit.c / rebase.c / copy.c / grow.c ---- */

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

/* Raw file FD of SIZE bytes at OFFSET: data or hole (SEEK_DATA/SEEK_HOLE;
 * past SIZE: zeros), at most MAX bytes. */
void raw_source (int fd, uint64_t size, uint64_t offset, uint64_t max,
                 struct source *s);
/* raw_source for a file that does not change while open, remembering
 * the extent found in F->hint (file_offset = offset). */
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
 * DST_FD (DST_SIZE bytes): data in place queued on the copier, data from
 * elsewhere through a buffer, zeros as copy_to_file writes them. */
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

#endif /* ADDCOW_INTERNAL_H */
