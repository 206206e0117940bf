/*
 * io.h - the I/O layer: the only code that touches file contents (io.c),
 * opening the files around an image (file.c) and their locks (lock.c).
 */
#ifndef ADDCOW_IO_IO_H
#define ADDCOW_IO_IO_H

#include "util/util.h"

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
/* io_copy between different offsets (zeros past the end of FD_IN). */
int io_copy_at (const struct addcow_io *io, int fd_in, uint64_t in_off,
                int fd_out, uint64_t out_off, uint64_t count);
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
 * start == end. */
struct extent_hint {
  uint64_t start, end;
  bool data;
};

struct acfile {
  int fd;                       /* -1 when not open */
  _Atomic uint64_t hint_id;     /* names the file to each thread's cache of
                                 * the extents it learnt (copy.c), or 0:
                                 * keep none.  Only for files this library
                                 * never writes while open (backing files);
                                 * whoever changes their extents calls
                                 * file_forget_extents.  Never reused */
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
/* Drop every thread's extents of F: a new hint_id. */
void file_forget_extents (struct acfile *f);

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

#endif /* ADDCOW_IO_IO_H */
