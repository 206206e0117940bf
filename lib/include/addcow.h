/*
 * addcow.h - the public API of libaddcow, a library for add-cow disk images.
 *
 * An add-cow image is a small metadata file (header + one bit per cluster)
 * beside a plain raw image file and an optional read-only backing file.
 * See addcow(5) for the format and libaddcow(3) for this API.
 *
 * Conventions:
 *  - Functions that can fail return 0 (or a count) on success and a negative
 *    errno value on failure; addcow_get_error() then returns a message that
 *    names the file and what is wrong ("vm.add-cow: image_name_size 0 ...").
 *    The message is kept per thread until the next failing call.
 *  - Option structs are versioned: start them with the matching *_INIT
 *    macro, so that fields added later keep their defaults.
 *  - Threads: two handles in one process are independent (no global
 *    state).  One handle may be used from many threads at once:
 *    addcow_pread, addcow_block_status and addcow_is_allocated run
 *    concurrently with each other and with writes into allocated clusters;
 *    addcow_pwrite and addcow_pwrite_zeroes are safe from any thread (a
 *    write of data into unallocated clusters reads the backing data,
 *    writes the clusters and sets their bits concurrently with the other
 *    calls; another write to those clusters waits for it);
 *    addcow_flush is safe from any thread (alone only when it has bits to
 *    write).  Concurrent writes to overlapping bytes land in some order.
 *    The getters are safe from any thread, except that
 *    addcow_get_allocated_clusters counts bits and wants no write in
 *    flight.  addcow_close needs the handle idle.  With an I/O table
 *    (struct addcow_io), its functions are called from those threads too.
 *  - fork: a child may use (and close) a handle that was idle in the
 *    parent at the fork, while the parent leaves it alone (they share its
 *    files and locks); the library's own threads are not in the child,
 *    and the handle works without them.
 */
#ifndef ADDCOW_H
#define ADDCOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ADDCOW_VERSION_MAJOR 0
#define ADDCOW_VERSION_MINOR 1
#define ADDCOW_VERSION_PATCH 0
#define ADDCOW_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define ADDCOW_API __attribute__ ((visibility ("default")))
#else
#define ADDCOW_API
#endif

/* Format constants (addcow(5)). */
#define ADDCOW_MAGIC "ACOW"
#define ADDCOW_FIXED_HEADER_SIZE 76u
#define ADDCOW_MIN_CLUSTER_BITS 12u
#define ADDCOW_MAX_CLUSTER_BITS 21u
#define ADDCOW_DEFAULT_CLUSTER_BITS 16u
#define ADDCOW_MIN_HEADER_SIZE 4096u
#define ADDCOW_MAX_HEADER_SIZE (2u * 1024 * 1024)
#define ADDCOW_FMT_FIELD_SIZE 16u
#define ADDCOW_COMPAT_ALL_ALLOCATED (UINT64_C(1) << 0)

/* Limits of this implementation (not of the format). */
#define ADDCOW_MAX_CHAIN_DEPTH 32           /* layers in one chain, of every
                                             * format, the top included */
#define ADDCOW_MAX_BITMAP_BYTES (256u << 20) /* in-memory COW bitmap */

/* Error message of the last failing call in this thread (never NULL). */
ADDCOW_API const char *addcow_get_error (void);

/* ---------------------------------------------------------------------- */
/* Injectable I/O.  Every read, write, sync, truncate, hole punch, rename
 * and directory sync the library does on its files goes through this
 * table (and seeks for data and holes, see lseek below), so that tests can inject failures and simulate crashes.
 * Each function returns what the matching system call returns (-1 and
 * errno on failure).  NULL means "use the system call"; punch_hole and
 * copy_range may also fail with EOPNOTSUPP and the library then falls back
 * to writing zeros / pread+pwrite.
 *
 * The table grows by members added at its end; VERSION says which members
 * the caller knows.  Start a table with ADDCOW_IO_INIT (or zero it: 0 is
 * read as version 1, the first versioned table), then set the members you
 * need by name.  A library reads only the members of the version it was
 * given, so a table written for an older header keeps working.
 */
struct addcow_io {
  unsigned version;             /* ADDCOW_IO_VERSION, or 0 (= 1) */
  void *opaque;
  ssize_t (*pread) (void *opaque, int fd, void *buf, size_t count,
                    off_t offset);
  ssize_t (*pwrite) (void *opaque, int fd, const void *buf, size_t count,
                     off_t offset);
  int (*fdatasync) (void *opaque, int fd);
  int (*fsync) (void *opaque, int fd);
  int (*ftruncate) (void *opaque, int fd, off_t length);
  int (*punch_hole) (void *opaque, int fd, off_t offset, off_t length);
  ssize_t (*copy_range) (void *opaque, int fd_in, off_t off_in,
                         int fd_out, off_t off_out, size_t count);
  /* Version 1 from here on. */
  /* renameat2 (AT_FDCWD, from, AT_FDCWD, to, flags); FLAGS is 0 or
   * RENAME_NOREPLACE (the library falls back to link+unlink where the
   * file system lacks it, on EINVAL). */
  int (*rename) (void *opaque, const char *from, const char *to,
                 unsigned flags);
  /* Make the entries of directory DIR durable (open it, fsync). */
  int (*sync_dir) (void *opaque, const char *dir);
  /* lseek (fd, offset, whence), for SEEK_DATA / SEEK_HOLE.  (Not yet
   * every probe of the library goes through it: copy.c's hole probes of
   * raw files still call lseek directly.) */
  off_t (*lseek) (void *opaque, int fd, off_t offset, int whence);
};
#define ADDCOW_IO_VERSION 1
#define ADDCOW_IO_INIT { .version = ADDCOW_IO_VERSION }

/* Cache modes, with the meaning of qemu-img's -t / -T.  addcow_io_cache
 * fills an I/O table (for any *_opts.io) that behaves so:
 *  - WRITEBACK (the default, = io NULL): the page cache; the library
 *    syncs where the format needs it (data before metadata);
 *  - WRITETHROUGH: also fdatasync after every write;
 *  - NONE: reads and writes whose offset and length are multiples of
 *    ADDCOW_DIRECT_ALIGN (cluster copies and whole-cluster I/O) bypass
 *    the page cache (O_DIRECT, through an aligned buffer); the rest
 *    (header, bitmap, a disk's unaligned tail) and files on a file
 *    system without O_DIRECT use the page cache;
 *  - DIRECTSYNC: NONE plus WRITETHROUGH;
 *  - UNSAFE: no fsync/fdatasync at all: fast, but a crash or power cut
 *    can lose data and leave an image that does not match its bitmap.
 * The tables are stateless and safe from many threads.  Returns 0, or
 * -EINVAL for an unknown MODE. */
enum addcow_cache {
  ADDCOW_CACHE_WRITEBACK = 0,
  ADDCOW_CACHE_WRITETHROUGH,
  ADDCOW_CACHE_NONE,
  ADDCOW_CACHE_DIRECTSYNC,
  ADDCOW_CACHE_UNSAFE,
};
#define ADDCOW_DIRECT_ALIGN 4096u
ADDCOW_API int addcow_io_cache (struct addcow_io *io, enum addcow_cache mode);

/* ---------------------------------------------------------------------- */
/* Opening and closing. */

struct addcow;

#define ADDCOW_OPEN_WRITE        (1u << 0) /* read-write; default read-only */
#define ADDCOW_OPEN_FORCE_SHARE  (1u << 1) /* take no locks (read-only
                                            * only); the bitmap is then
                                            * read into memory (one bit a
                                            * cluster) instead of mapped,
                                            * so a writer that truncates
                                            * the file cannot fault this
                                            * reader */
#define ADDCOW_OPEN_TOLERATE_BACKING (1u << 2) /* a backing chain that cannot
                                            * be used does not fail the open
                                            * (for info): it is still
                                            * opened; the reason it failed
                                            * is kept in
                                            * addcow_get_backing_error()
                                            * and reads that need the
                                            * backing fail with -EIO. */
#define ADDCOW_OPEN_NO_BACKING ADDCOW_OPEN_TOLERATE_BACKING /* deprecated
                                            * name of the same flag */
#define ADDCOW_OPEN_BACKING_WRITE (1u << 3) /* also open the backing file
                                             * read-write (commit) */
/* Every other bit is refused (-EINVAL). */

struct addcow_open_opts {
  unsigned version;             /* ADDCOW_OPEN_OPTS_VERSION */
  unsigned flags;               /* ADDCOW_OPEN_* */
  const struct addcow_io *io;   /* NULL: plain system calls */
  /* Version 2: the format of the file at PATH.  NULL or "add-cow": an
   * add-cow image.  Any other format this build reads ("raw", and "qcow2"
   * when built with the qcow2 driver; see addcow_format_supported) opens a
   * read-only handle over that file and its own backing chain: reads,
   * block status, the size and the layer getters work; writes fail with
   * -EROFS, and ADDCOW_OPEN_WRITE / ADDCOW_OPEN_BACKING_WRITE are refused
   * (-EINVAL).  The format is never probed. */
  const char *format;
};
#define ADDCOW_OPEN_OPTS_VERSION 2
#define ADDCOW_OPEN_OPTS_INIT { ADDCOW_OPEN_OPTS_VERSION, 0, NULL, NULL }

/* Open the file at PATH (an add-cow image unless OPTS->format says
 * otherwise).  OPTS may be NULL (read-only add-cow; version 1 of the
 * struct is still accepted).  Validates the header and bitmap (spec
 * sections 3-4), opens the image file and the backing chain, and takes
 * the locks.  Images whose only problems are leaks (see addcow_check)
 * open normally.  Undefined flag bits: -EINVAL.
 */
ADDCOW_API int addcow_open (const char *path, const struct addcow_open_opts *opts,
                 struct addcow **imgp);

/* Can this build open FORMAT ("add-cow", "raw", "qcow2", ...), as a
 * handle (addcow_open_opts.format) and as a backing file? */
ADDCOW_API bool addcow_format_supported (const char *format);

/* Flush pending bitmap updates (if writable), release locks, close files and
 * free the handle.  Returns the flush error, if any; the handle is freed in
 * every case.  NULL is accepted.
 */
ADDCOW_API int addcow_close (struct addcow *img);

/* ---------------------------------------------------------------------- */
/* Information.  Strings stay valid until addcow_close. */

ADDCOW_API const char *addcow_get_filename (const struct addcow *img); /* as opened */
ADDCOW_API uint64_t addcow_get_virtual_size (const struct addcow *img);
ADDCOW_API uint32_t addcow_get_cluster_size (const struct addcow *img);
ADDCOW_API uint64_t addcow_get_cluster_count (const struct addcow *img);
ADDCOW_API uint64_t addcow_get_allocated_clusters (const struct addcow *img);
ADDCOW_API uint32_t addcow_get_header_size (const struct addcow *img);
ADDCOW_API uint64_t addcow_get_features (const struct addcow *img);
ADDCOW_API uint64_t addcow_get_compat_features (const struct addcow *img);
ADDCOW_API const char *addcow_get_image_name (const struct addcow *img); /* as stored */
ADDCOW_API const char *addcow_get_image_path (const struct addcow *img); /* resolved */
ADDCOW_API const char *addcow_get_image_format (const struct addcow *img);
/* NULL when the image has no backing file. */
ADDCOW_API const char *addcow_get_backing_name (const struct addcow *img);
ADDCOW_API const char *addcow_get_backing_path (const struct addcow *img);
ADDCOW_API const char *addcow_get_backing_format (const struct addcow *img);
/* Why the backing chain could not be opened (only with
 * ADDCOW_OPEN_TOLERATE_BACKING); NULL when it is open or there is none. */
ADDCOW_API const char *addcow_get_backing_error (const struct addcow *img);
/* The next add-cow layer down, or NULL (no backing, a raw backing, a
 * backing that could not be opened, or ALL_ALLOCATED).  Owned by IMG. */
ADDCOW_API struct addcow *addcow_get_backing_image (const struct addcow *img);
/* Size of the backing file in bytes (add-cow backing: its virtual size);
 * 0 without a backing file. */
ADDCOW_API uint64_t addcow_get_backing_size (const struct addcow *img);
/* Bytes the add-cow file and the image file use on disk (st_blocks); for
 * a handle of another format, that file's. */
ADDCOW_API uint64_t addcow_get_actual_size (const struct addcow *img);
/* The format of the handle's top layer: "add-cow", or the format it was
 * opened as (addcow_open_opts.format). */
ADDCOW_API const char *addcow_get_format (const struct addcow *img);

/* ---------------------------------------------------------------------- */
/* The layers of the chain (info --backing-chain), over every format.
 * Layer 0 is the handle's own file, 1 its backing file, and so on down to
 * the last layer that is open. */

struct addcow_layer_info {
  unsigned version;             /* ADDCOW_LAYER_INFO_VERSION (set by the
                                 * caller: ADDCOW_LAYER_INFO_INIT) */
  unsigned depth;
  const char *format;           /* "add-cow", "raw", "qcow2" */
  const char *filename;         /* the layer's file: as given to
                                 * addcow_open for layer 0, else the
                                 * backing name resolved */
  uint64_t virtual_size;
  uint64_t actual_size;         /* bytes its files use on disk */
  uint32_t cluster_size;        /* 0 when the format has none (raw) */
  const char *backing_name;     /* as stored in this layer, or NULL */
  const char *backing_format;   /* as stored, NULL without a backing */
  struct addcow *image;         /* layer DEPTH as an add-cow handle (owned
                                 * by the handle asked), or NULL for a
                                 * layer of another format */
};
#define ADDCOW_LAYER_INFO_VERSION 1
#define ADDCOW_LAYER_INFO_INIT { .version = ADDCOW_LAYER_INFO_VERSION }

/* Number of open layers of IMG's chain (>= 1). */
ADDCOW_API unsigned addcow_get_layer_count (const struct addcow *img);
/* Describe layer DEPTH (< addcow_get_layer_count).  0, or -EINVAL for a
 * depth past the chain or an unknown INFO->version.  The strings stay
 * valid until addcow_close. */
ADDCOW_API int addcow_get_layer (const struct addcow *img, unsigned depth,
                                 struct addcow_layer_info *info);

/* The header of a qcow2 layer as qemu-img info shows it (its
 * "format-specific" data, and the dirty bit behind "dirty-flag"). */
struct addcow_qcow2_info {
  unsigned version;             /* ADDCOW_QCOW2_INFO_VERSION (set by the
                                 * caller: ADDCOW_QCOW2_INFO_INIT) */
  unsigned qcow2_version;       /* 2 or 3 */
  const char *compat;           /* "0.10" (version 2) or "1.1" */
  const char *compression_type; /* "zlib" or "zstd" */
  bool lazy_refcounts;          /* version 3 only */
  unsigned refcount_bits;       /* 1 to 64; 0 for a width above 64 bits
                                 * (qemu refuses such an image; a reader
                                 * needs no refcounts) */
  const char *data_file;        /* the external data file as stored, or
                                 * NULL */
  bool data_file_raw;
  bool corrupt;                 /* always false: a corrupt image is refused */
  bool extended_l2;
  bool dirty;                   /* the dirty bit (not cleanly shut down) */
};
#define ADDCOW_QCOW2_INFO_VERSION 1
#define ADDCOW_QCOW2_INFO_INIT { .version = ADDCOW_QCOW2_INFO_VERSION }

/* Describe layer DEPTH of IMG's chain, a qcow2 layer.  0; -EINVAL for a
 * depth past the chain or an unknown INFO->version; -ENOTSUP (message
 * set) for a layer of another format.  The strings stay valid until
 * addcow_close. */
ADDCOW_API int addcow_get_qcow2_info (const struct addcow *img,
                                      unsigned depth,
                                      struct addcow_qcow2_info *info);

/* ---------------------------------------------------------------------- */
/* Block status, with the meaning of qemu-img map. */

#define ADDCOW_EXTENT_PRESENT      (1u << 0) /* some layer provides it */
#define ADDCOW_EXTENT_ZERO         (1u << 1) /* reads as zeros */
#define ADDCOW_EXTENT_DATA         (1u << 2) /* backed by data in a file */
#define ADDCOW_EXTENT_OFFSET_VALID (1u << 3) /* 'offset' is meaningful */

struct addcow_extent {
  uint64_t start;        /* guest offset: the offset asked for */
  uint64_t length;       /* > 0, at most what was asked for */
  uint32_t depth;        /* 0: this image's image file; 1: its backing ... */
  uint32_t flags;        /* ADDCOW_EXTENT_* */
  uint64_t offset;       /* host offset in 'filename' (OFFSET_VALID) */
  const char *filename;  /* file that holds the data, or NULL */
};

/* Describe the run starting at OFFSET (< virtual size), at most MAX_LENGTH
 * bytes long, whose every byte has the same status:
 *  - allocated in layer D: depth D, PRESENT|DATA|OFFSET_VALID;
 *  - a raw backing at depth D: PRESENT|OFFSET_VALID and DATA or (a hole) ZERO;
 *  - not allocated anywhere, no backing or past the end of the backing:
 *    depth of the last add-cow layer consulted, ZERO only.
 */
ADDCOW_API int addcow_block_status (struct addcow *img, uint64_t offset,
                         uint64_t max_length, struct addcow_extent *ext);

/* Is the run at OFFSET allocated in this layer (bit set, or ALL_ALLOCATED)?
 * *LENGTH receives the length of the run (<= MAX_LENGTH) with the same
 * answer.  Returns 1 allocated, 0 not, negative errno on error. */
ADDCOW_API int addcow_is_allocated (struct addcow *img, uint64_t offset,
                         uint64_t max_length, uint64_t *length);

/* ---------------------------------------------------------------------- */
/* Reading and writing the virtual disk.  Requests past the virtual size
 * fail with -EINVAL.  Writes need ADDCOW_OPEN_WRITE. */

ADDCOW_API int addcow_pread (struct addcow *img, void *buf, size_t count,
                  uint64_t offset);
/* Copy-on-write at cluster granularity: a write that covers part of an
 * unallocated cluster first fills the rest from the backing chain.  New
 * bits are kept in memory and reach the disk at addcow_flush (or close),
 * after the data they vouch for has been synced. */
ADDCOW_API int addcow_pwrite (struct addcow *img, const void *buf, size_t count,
                   uint64_t offset);
/* Make the range read as zeros (holes in the image file where possible). */
ADDCOW_API int addcow_pwrite_zeroes (struct addcow *img, uint64_t count,
                          uint64_t offset);
/* Sync data, then write dirty bitmap blocks, then sync the add-cow file;
 * nothing when nothing was written through the handle since the last good
 * flush. */
ADDCOW_API int addcow_flush (struct addcow *img);

/* ---------------------------------------------------------------------- */
/* Creating images. */

enum addcow_prealloc {
  ADDCOW_PREALLOC_OFF = 0,
  ADDCOW_PREALLOC_FALLOC,
  ADDCOW_PREALLOC_FULL,
};

struct addcow_create_opts {
  unsigned version;             /* ADDCOW_CREATE_OPTS_VERSION */
  const char *image_name;       /* stored name of the image file; NULL:
                                 * <path minus .add-cow>.raw */
  const char *image_format;     /* NULL or "raw" */
  const char *backing_name;     /* stored backing name, or NULL */
  const char *backing_format;   /* "raw" or "add-cow"; NULL: probe once */
  uint64_t size;                /* 0 (and not size_set): the existing
                                 * image file's size, else the backing
                                 * file's size */
  uint32_t cluster_size;        /* 0: 64 KiB */
  enum addcow_prealloc prealloc; /* for a new image file */
  bool overwrite;               /* replace an existing add-cow file */
  bool no_backing_open;         /* do not open the backing file (-u): needs
                                 * backing_format and size */
  const struct addcow_io *io;   /* NULL: plain system calls */
  bool size_set;                /* size is meant even when it is 0 */
};
#define ADDCOW_CREATE_OPTS_VERSION 1
#define ADDCOW_CREATE_OPTS_INIT { .version = ADDCOW_CREATE_OPTS_VERSION }

/* Create the add-cow file PATH atomically (temporary file + rename), and the
 * image file if it does not exist.  An existing image file is used only
 * when image_name names it, and keeps its size (opts->size must then be
 * unset or equal to it); the default one (<name>.raw) is refused, or with
 * overwrite re-created.  With overwrite, the add-cow file replaced and its
 * image file are write-locked first (-EBUSY when another process uses
 * them), as is an image file adopted. */
ADDCOW_API int addcow_create (const char *path, const struct addcow_create_opts *opts);

/* ---------------------------------------------------------------------- */
/* Checking and repairing. */

enum addcow_problem {
  ADDCOW_PROBLEM_CORRUPTION = 1, /* the disk is unreadable or ambiguous */
  ADDCOW_PROBLEM_LEAK = 2,       /* harmless: wasted or stray bits/bytes */
  ADDCOW_PROBLEM_CHECK_ERROR = 3, /* a file the check needs could not be
                                   * used (missing, no permission, I/O
                                   * error): not damage, the image cannot
                                   * be checked */
};

enum addcow_repair {
  ADDCOW_REPAIR_NONE = 0,
  ADDCOW_REPAIR_LEAKS,
  ADDCOW_REPAIR_ALL,
};

struct addcow_check_result {
  uint64_t corruptions;
  uint64_t leaks;
  uint64_t corruptions_fixed;
  uint64_t leaks_fixed;
  uint64_t total_clusters;
  uint64_t allocated_clusters;
  uint64_t image_end_offset;    /* size of the add-cow file */
  int check_errors;             /* ADDCOW_PROBLEM_CHECK_ERROR count: files
                                 * that could not be used, so the check
                                 * is incomplete (qemu-img: exit 1) */
};

struct addcow_check_opts {
  unsigned version;             /* ADDCOW_CHECK_OPTS_VERSION */
  enum addcow_repair repair;
  bool force_share;             /* take no locks (only without repair) */
  const struct addcow_io *io;
  /* Called once for every problem found (and again with FIXED true for
   * every one repaired).  May be NULL. */
  void (*report) (void *opaque, enum addcow_problem kind, bool fixed,
                  const char *message);
  void *report_opaque;
};
#define ADDCOW_CHECK_OPTS_VERSION 1
#define ADDCOW_CHECK_OPTS_INIT { .version = ADDCOW_CHECK_OPTS_VERSION }

/* Check every rule of the format on PATH and the files around it.  Returns 0
 * when the check ran (RESULT says what it found), or a negative errno when it
 * could not run (not an add-cow file, unreadable, unknown incompatible
 * features, locked). */
ADDCOW_API int addcow_check (const char *path, const struct addcow_check_opts *opts,
                  struct addcow_check_result *result);

/* ---------------------------------------------------------------------- */
/* Moving data between layers (addcow-img commit / rebase). */

/* Progress callback: DONE of TOTAL units.  Returning non-zero cancels the
 * operation at the next safe point (the image stays valid; -ECANCELED). */
typedef int (*addcow_progress_fn) (void *opaque, uint64_t done,
                                   uint64_t total);

struct addcow_commit_opts {
  unsigned version;             /* ADDCOW_COMMIT_OPTS_VERSION */
  const char *base;             /* commit into this layer (path as stored
                                 * or resolved); NULL: the backing file */
  bool keep;                    /* -d: do not empty the committed layers */
  const struct addcow_io *io;
  addcow_progress_fn progress;
  void *progress_opaque;
};
#define ADDCOW_COMMIT_OPTS_VERSION 1
#define ADDCOW_COMMIT_OPTS_INIT { .version = ADDCOW_COMMIT_OPTS_VERSION }

ADDCOW_API int addcow_commit (const char *path, const struct addcow_commit_opts *opts);

struct addcow_rebase_opts {
  unsigned version;             /* ADDCOW_REBASE_OPTS_VERSION */
  const char *backing_name;     /* new backing name; NULL or "": flatten */
  const char *backing_format;   /* NULL: probe the new backing once */
  bool unsafe;                  /* -u: rewrite the header only */
  const struct addcow_io *io;
  addcow_progress_fn progress;
  void *progress_opaque;
};
#define ADDCOW_REBASE_OPTS_VERSION 1
#define ADDCOW_REBASE_OPTS_INIT { .version = ADDCOW_REBASE_OPTS_VERSION }

ADDCOW_API int addcow_rebase (const char *path, const struct addcow_rebase_opts *opts);

/* ---------------------------------------------------------------------- */
/* Changing the size of the virtual disk (addcow-img resize, spec 8). */

struct addcow_resize_opts {
  unsigned version;             /* ADDCOW_RESIZE_OPTS_VERSION */
  uint64_t size;                /* the new virtual size: a multiple of 512 */
  bool shrink;                  /* allow a smaller size (deletes the data
                                 * past the new end) */
  enum addcow_prealloc prealloc; /* growing only: reserve (FALLOC) or write
                                  * (FULL) the image file's new bytes */
  const struct addcow_io *io;
};
#define ADDCOW_RESIZE_OPTS_VERSION 1
#define ADDCOW_RESIZE_OPTS_INIT { .version = ADDCOW_RESIZE_OPTS_VERSION }

/* Open PATH read-write (its locks: an image in use is refused) and give
 * its disk the size opts->size.  Growing: the new area reads as zeros,
 * even where the backing file is longer.  Shrinking (only with
 * opts->shrink): the image file is cut and the bits past the new end are
 * cleared.  Crash-safe: an interruption leaves the old disk or the new
 * one, at worst with leaks (addcow_check).  The size is checked against
 * this implementation's bitmap limit before anything is written.  The
 * current size is not an error (with preallocation too): it finishes a
 * shrink that was cut off, and is otherwise a no-op. */
ADDCOW_API int addcow_resize (const char *path,
                              const struct addcow_resize_opts *opts);

/* ---------------------------------------------------------------------- */
/* Comparing two virtual disks (addcow-img compare). */

enum addcow_compare_outcome {
  ADDCOW_COMPARE_IDENTICAL = 0,
  ADDCOW_COMPARE_CONTENT,       /* the bytes differ at 'offset' */
  ADDCOW_COMPARE_SIZE,          /* strict: the virtual sizes differ */
  ADDCOW_COMPARE_STATUS,        /* strict: the block status differs at
                                 * 'offset' */
};

struct addcow_compare_result {
  enum addcow_compare_outcome outcome;
  uint64_t offset;              /* CONTENT: the first differing 512-byte
                                 * sector; STATUS: the first byte */
  bool size_differs;            /* the virtual sizes differ */
  uint64_t bytes_read;          /* bytes read from both disks' files */
};

struct addcow_compare_opts {
  unsigned version;             /* ADDCOW_COMPARE_OPTS_VERSION */
  bool strict;                  /* a size or block status difference is a
                                 * mismatch */
  addcow_progress_fn progress;  /* in bytes of the larger disk */
  void *progress_opaque;
};
#define ADDCOW_COMPARE_OPTS_VERSION 1
#define ADDCOW_COMPARE_OPTS_INIT { .version = ADDCOW_COMPARE_OPTS_VERSION }

/* Compare the virtual disks of A and B with qemu-img compare's rules: the
 * part both have must hold the same bytes and the rest of the larger one
 * must read as zeros (strict: the sizes and, offset by offset, the block
 * status - present, zero, data - must be the same too).  Runs that both
 * disks read from the same file at the same offset, and zeros against
 * zeros, are not read.  OPTS may be NULL.  Returns 0 when the comparison
 * ran (RESULT says what it found), or a negative errno (-ECANCELED when
 * the progress callback asked to stop). */
ADDCOW_API int addcow_compare (struct addcow *a, struct addcow *b,
                               const struct addcow_compare_opts *opts,
                               struct addcow_compare_result *result);

/* ---------------------------------------------------------------------- */
/* Writing a virtual disk out (addcow-img convert). */

enum addcow_convert_format {
  ADDCOW_CONVERT_RAW = 0,       /* a sparse raw file */
  ADDCOW_CONVERT_ADDCOW,        /* a new add-cow image (ALL_ALLOCATED) */
};

struct addcow_convert_opts {
  unsigned version;             /* ADDCOW_CONVERT_OPTS_VERSION */
  enum addcow_convert_format format;
  bool existing;                /* raw: write into the existing DST, which
                                 * must be at least as large as the disk */
  uint64_t sparse_size;         /* zero runs shorter than this are written
                                 * as zeros; longer ones stay holes */
  bool fully_allocate;          /* write every zero run (qemu-img -S 0) */
  const char *image_name;       /* add-cow: the stored name of the image
                                 * file; NULL: DST minus .add-cow, + .raw */
  uint32_t cluster_size;        /* add-cow: 0 = 64 KiB */
  addcow_progress_fn progress;  /* in bytes of the disk */
  void *progress_opaque;
  /* Version 2.  add-cow: DST is an overlay over this backing file (stored
   * as given, resolved from DST's directory) that allocates only the
   * clusters whose bytes in SRC differ from the backing's (qemu-img
   * convert -B); backing_format ("raw", "add-cow", "qcow2") is needed
   * with it. */
  const char *backing_name;
  const char *backing_format;
};
#define ADDCOW_CONVERT_OPTS_VERSION 2
#define ADDCOW_CONVERT_OPTS_INIT { .version = ADDCOW_CONVERT_OPTS_VERSION, \
                                   .sparse_size = 4096 }

/* Write the virtual disk of SRC (any format addcow_open reads) to DST.
 * Runs that read as zeros stay holes; runs that sit in a file at the same
 * offset are copied with copy_file_range (shared extents on a reflink file
 * system).  Durable before it returns 0.  DST (and an add-cow image's
 * image file) is written under a temporary name and renamed into place,
 * so a failure or a cancellation (-ECANCELED) leaves no DST that looks
 * whole (with EXISTING, DST is written in place). */
ADDCOW_API int addcow_convert (struct addcow *src, const char *dst,
                               const struct addcow_convert_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* ADDCOW_H */
