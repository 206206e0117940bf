/*
 * layers-io.c - see layers-io.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers-io.h"

enum pend_kind { PEND_WRITE, PEND_ZERO, PEND_TRUNC };

struct tio_pend {
  dev_t dev;
  ino_t ino;
  int fd;                       /* as given, and the path it had then */
  char *path;
  enum pend_kind kind;
  uint64_t off, len;            /* PEND_TRUNC: off is the new size */
  uint8_t *data;
};

/* ---- the cache model ------------------------------------------------- */

static int
fail_with (int err)
{
  errno = err;
  return -1;
}

static bool
identify (int fd, dev_t *dev, ino_t *ino)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

/* Count a modifying operation; the one that reaches cut_after completes,
 * every one after it fails. */
static bool
count_op (struct tio *t)
{
  if (t->crashed)
    return false;
  t->ops++;
  if (t->cut_after > 0 && t->ops >= t->cut_after)
    t->crashed = true;
  return true;
}

static bool
injected (long n, long at, bool once)
{
  return at > 0 && (once ? n == at : n >= at);
}

/* The path FD was opened by (or renamed to), from /proc. */
static char *
fd_path (int fd)
{
  char link[64], buf[4096];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, buf, sizeof buf - 1);
  if (n < 0)
    return NULL;
  buf[n] = 0;
  return strdup (buf);
}

static int
add_pend (struct tio *t, int fd, enum pend_kind kind, const void *buf,
          uint64_t off, uint64_t len)
{
  struct tio_pend *p;

  if (t->npend == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->pend = realloc (t->pend, t->cap * sizeof *t->pend);
    ck_assert (t->pend != NULL);
  }
  p = &t->pend[t->npend];
  if (!identify (fd, &p->dev, &p->ino))
    return -1;
  p->kind = kind;
  p->off = off;
  p->len = len;
  p->data = NULL;
  p->fd = fd;
  p->path = fd_path (fd);
  if (kind == PEND_WRITE) {
    p->data = malloc (len ? len : 1);
    ck_assert (p->data != NULL);
    memcpy (p->data, buf, len);
  }
  t->npend++;
  return 0;
}

/* Overlay the pending operations on FD's file onto BUF = [off, off+len). */
static void
overlay (struct tio *t, int fd, uint8_t *buf, uint64_t off, uint64_t len)
{
  dev_t dev;
  ino_t ino;
  size_t i;

  if (!identify (fd, &dev, &ino))
    return;
  for (i = 0; i < t->npend; i++) {
    struct tio_pend *p = &t->pend[i];
    uint64_t s, e;
    if (p->dev != dev || p->ino != ino)
      continue;
    if (p->kind == PEND_TRUNC) {
      if (p->off < off + len)
        memset (buf + (p->off > off ? p->off - off : 0), 0,
                off + len - (p->off > off ? p->off : off));
      continue;
    }
    s = p->off > off ? p->off : off;
    e = p->off + p->len < off + len ? p->off + p->len : off + len;
    if (s >= e)
      continue;
    if (p->kind == PEND_WRITE)
      memcpy (buf + (s - off), p->data + (s - p->off), e - s);
    else
      memset (buf + (s - off), 0, e - s);
  }
}

static void
apply_one (int fd, const struct tio_pend *p)
{
  static const uint8_t zeros[4096];
  uint64_t o;

  if (p->kind == PEND_WRITE) {
    ck_assert (pwrite (fd, p->data, p->len, (off_t) p->off)
               == (ssize_t) p->len);
  }
  else if (p->kind == PEND_TRUNC)
    ck_assert (ftruncate (fd, (off_t) p->off) == 0);
  else if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t) p->off, (off_t) p->len) < 0) {
    for (o = 0; o < p->len; o += sizeof zeros) {
      size_t n = p->len - o < sizeof zeros ? p->len - o : sizeof zeros;
      ck_assert (pwrite (fd, zeros, n, (off_t) (p->off + o)) == (ssize_t) n);
    }
  }
}

/* Apply, in order, what is pending for FD's file (any fd of it). */
static void
apply (struct tio *t, int fd)
{
  dev_t dev;
  ino_t ino;
  size_t i, j = 0;

  if (!identify (fd, &dev, &ino))
    return;
  for (i = 0; i < t->npend; i++) {
    struct tio_pend *p = &t->pend[i];
    if (p->dev == dev && p->ino == ino) {
      apply_one (fd, p);
      free (p->data);
      free (p->path);
    }
    else
      t->pend[j++] = *p;
  }
  t->npend = j;
}

static ssize_t
m_pread (void *opaque, int fd, void *buf, size_t count, off_t offset)
{
  struct tio *t = opaque;
  size_t got = 0;
  ssize_t r;

  if (t->crashed)
    return fail_with (EIO);
  while (got < count) {
    r = pread (fd, (uint8_t *) buf + got, count - got, offset + (off_t) got);
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += (size_t) r;
  }
  memset ((uint8_t *) buf + got, 0, count - got);
  overlay (t, fd, buf, (uint64_t) offset, count);
  return (ssize_t) count;
}

static ssize_t
m_pwrite (void *opaque, int fd, const void *buf, size_t count, off_t offset)
{
  struct tio *t = opaque;

  if (t->crashed)
    return fail_with (EIO);
  t->writes++;
  if (injected (t->writes, t->fail_write_at, t->fail_once))
    return fail_with (t->fail_errno);
  if (!count_op (t))
    return fail_with (EIO);
  if (!t->writeback)
    return pwrite (fd, buf, count, offset);
  if (add_pend (t, fd, PEND_WRITE, buf, (uint64_t) offset, count) < 0)
    return -1;
  return (ssize_t) count;
}

static int
m_sync (void *opaque, int fd)
{
  struct tio *t = opaque;

  if (t->crashed)
    return fail_with (EIO);
  t->syncs++;
  if (injected (t->syncs, t->fail_sync_at, t->fail_once))
    return fail_with (t->fail_errno);
  if (!count_op (t))
    return fail_with (EIO);
  apply (t, fd);
  return 0;
}

static int
m_ftruncate (void *opaque, int fd, off_t length)
{
  struct tio *t = opaque;

  if (t->crashed || !count_op (t))
    return fail_with (EIO);
  if (!t->writeback)
    return ftruncate (fd, length);
  return add_pend (t, fd, PEND_TRUNC, NULL, (uint64_t) length, 0);
}

static int
m_punch (void *opaque, int fd, off_t offset, off_t length)
{
  struct tio *t = opaque;
  struct tio_pend p = { .kind = PEND_ZERO, .off = (uint64_t) offset,
                        .len = (uint64_t) length };

  if (t->crashed || !count_op (t))
    return fail_with (EIO);
  if (!t->writeback) {
    apply_one (fd, &p);
    return 0;
  }
  return add_pend (t, fd, PEND_ZERO, NULL, (uint64_t) offset,
                   (uint64_t) length);
}

/* ---- renames and the directory ----------------------------------------- */

struct tio_rename {
  char *from, *to;
  char *saved;                  /* the file TO named before, kept aside */
};

static void
forget_rename (struct tio_rename *r)
{
  if (r->saved)
    unlink (r->saved);
  free (r->from);
  free (r->to);
  free (r->saved);
}

/* Put things back as they were before the rename (TO may be gone: an
 * unlink after it is real at once). */
static void
undo_rename (struct tio_rename *r)
{
  ck_assert_msg (rename (r->to, r->from) == 0 || errno == ENOENT,
                 "undo rename %s: %s", r->to, strerror (errno));
  if (r->saved)
    ck_assert (rename (r->saved, r->to) == 0);
  free (r->saved);
  r->saved = NULL;
  forget_rename (r);
}

static int
m_rename (void *opaque, const char *from, const char *to, unsigned flags)
{
  struct tio *t = opaque;
  struct tio_rename *r;
  char *saved = NULL;

  if (t->crashed || !count_op (t))
    return fail_with (EIO);
  if (!t->writeback)
    return renameat2 (AT_FDCWD, from, AT_FDCWD, to, flags);
  if (!(flags & RENAME_NOREPLACE) && access (to, F_OK) == 0) {
    ck_assert (asprintf (&saved, "%s.tio-saved", to) > 0);
    ck_assert (link (to, saved) == 0);
  }
  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, flags) < 0) {
    int e = errno;
    if (saved)
      unlink (saved);
    free (saved);
    return fail_with (e);
  }
  t->renames = realloc (t->renames, (t->nrenames + 1) * sizeof *t->renames);
  ck_assert (t->renames != NULL);
  r = &t->renames[t->nrenames++];
  r->from = strdup (from);
  r->to = strdup (to);
  r->saved = saved;
  return 0;
}

static int
m_sync_dir (void *opaque, const char *dir)
{
  struct tio *t = opaque;
  size_t i;

  (void) dir;                   /* the tests use one directory */
  if (t->crashed || !count_op (t))
    return fail_with (EIO);
  for (i = 0; i < t->nrenames; i++)
    forget_rename (&t->renames[i]);
  t->nrenames = 0;
  return 0;
}

/* With writes pending, every byte is data (the real file does not know
 * them yet); else the real answer. */
static off_t
m_lseek (void *opaque, int fd, off_t offset, int whence)
{
  struct tio *t = opaque;
  dev_t dev;
  ino_t ino;
  size_t i;

  if (t->crashed)
    return fail_with (EIO);
  if ((whence == SEEK_DATA || whence == SEEK_HOLE)
      && identify (fd, &dev, &ino))
    for (i = 0; i < t->npend; i++)
      if (t->pend[i].dev == dev && t->pend[i].ino == ino) {
        off_t end = lseek (fd, 0, SEEK_END);
        for (i = 0; i < t->npend; i++)
          if (t->pend[i].dev == dev && t->pend[i].ino == ino
              && t->pend[i].kind != PEND_TRUNC
              && (off_t) (t->pend[i].off + t->pend[i].len) > end)
            end = (off_t) (t->pend[i].off + t->pend[i].len);
        if (offset >= end)
          return fail_with (ENXIO);
        return whence == SEEK_DATA ? offset : end;
      }
  return lseek (fd, offset, whence);
}

void
tio_init (struct tio *t, bool writeback)
{
  memset (t, 0, sizeof *t);
  t->writeback = writeback;
  t->io.opaque = t;
  t->io.pread = m_pread;
  t->io.pwrite = m_pwrite;
  t->io.fdatasync = m_sync;
  t->io.fsync = m_sync;
  t->io.ftruncate = m_ftruncate;
  t->io.punch_hole = m_punch;
  t->io.copy_range = NULL;      /* every byte copied is a visible write */
  t->io.rename = m_rename;
  t->io.sync_dir = m_sync_dir;
  t->io.lseek = m_lseek;
  t->io.version = ADDCOW_IO_VERSION;
}

void
tio_crash (struct tio *t)
{
  size_t i;

  for (i = 0; i < t->npend; i++) {
    free (t->pend[i].data);
    free (t->pend[i].path);
  }
  t->npend = 0;
  for (i = 0; i < t->nrenames; i++)
    forget_rename (&t->renames[i]);
  t->nrenames = 0;
}

/* An fd on P's file: its own if still open on it, else its path. */
static int
pend_fd (const struct tio_pend *p, bool *opened)
{
  dev_t dev;
  ino_t ino;
  int fd;

  *opened = false;
  if (identify (p->fd, &dev, &ino) && dev == p->dev && ino == p->ino)
    return p->fd;
  if (!p->path || (fd = open (p->path, O_WRONLY | O_CLOEXEC)) < 0)
    return -1;
  if (!identify (fd, &dev, &ino) || dev != p->dev || ino != p->ino) {
    close (fd);
    return -1;
  }
  *opened = true;
  return fd;
}

/* Of a pending write, what a disk that tears at sector boundaries keeps:
 * the whole write inside one sector, else every other sector. */
static void
apply_torn (int fd, const struct tio_pend *p, int parity)
{
  uint64_t s = p->off, end = p->off + p->len;

  if (p->off / 512 == (end - 1) / 512) {
    apply_one (fd, p);
    return;
  }
  while (s < end) {
    uint64_t e = (s / 512 + 1) * 512 < end ? (s / 512 + 1) * 512 : end;
    if ((int) ((s / 512) % 2) == parity)
      ck_assert (pwrite (fd, p->data + (s - p->off), e - s, (off_t) s)
                 == (ssize_t) (e - s));
    s = e;
  }
}

void
tio_power_cut (struct tio *t)
{
  size_t i;

  for (i = t->nrenames; i-- > 0;)
    if (t->cut == TIO_TEAR_EVEN)
      forget_rename (&t->renames[i]);
    else
      undo_rename (&t->renames[i]);
  t->nrenames = 0;
  for (i = 0; t->cut != TIO_DROP && i < t->npend; i++) {
    const struct tio_pend *p = &t->pend[i];
    bool opened;
    int fd = pend_fd (p, &opened);
    if (fd < 0)
      continue;
    if (p->kind == PEND_WRITE && p->len)
      apply_torn (fd, p, t->cut == TIO_TEAR_EVEN ? 0 : 1);
    else if (p->kind != PEND_WRITE)
      apply_one (fd, p);
    if (opened)
      close (fd);
  }
  tio_crash (t);
}

void
tio_free (struct tio *t)
{
  tio_crash (t);
  free (t->pend);
  t->pend = NULL;
  t->cap = 0;
  free (t->renames);
  t->renames = NULL;
}

/* ---- fixtures ---------------------------------------------------------- */

static void
clear_dir (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;

  ck_assert_msg (d != NULL, "opendir %s: %s", dir, strerror (errno));
  while ((e = readdir (d))) {
    char *p;
    if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
      continue;
    p = tu_join (dir, e->d_name);
    unlink (p);
    free (p);
  }
  closedir (d);
}

static bool
block_is_zero (const uint8_t *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

static void
copy_sparse (const char *from, const char *to)
{
  size_t len, off;
  uint8_t *buf = tu_read_file (from, &len);

  tu_write_file (to, NULL, 0);
  tu_truncate (to, len);
  for (off = 0; off < len; off += 4096) {
    size_t n = len - off < 4096 ? len - off : 4096;
    if (!block_is_zero (buf + off, n))
      tu_pwrite (to, buf + off, n, off);
  }
  free (buf);
}

void
lt_copy_dir (const char *from, const char *to)
{
  DIR *d;
  struct dirent *e;

  clear_dir (to);
  d = opendir (from);
  ck_assert (d != NULL);
  while ((e = readdir (d))) {
    char *src, *dst;
    struct stat st;
    src = tu_join (from, e->d_name);
    if (stat (src, &st) == 0 && S_ISREG (st.st_mode)) {
      dst = tu_join (to, e->d_name);
      copy_sparse (src, dst);
      chmod (dst, st.st_mode & 07777);
      free (dst);
    }
    free (src);
  }
  closedir (d);
}

uint8_t *
lt_disk (const char *path, uint64_t *size)
{
  struct addcow *img = tu_open (path, false);
  uint8_t *buf;
  int r;

  *size = addcow_get_virtual_size (img);
  buf = malloc (*size ? *size : 1);
  ck_assert (buf != NULL);
  r = addcow_pread (img, buf, *size, 0);
  ck_assert_msg (r == 0, "read %s: %s", path, addcow_get_error ());
  ck_assert_int_eq (addcow_close (img), 0);
  return buf;
}

static void
report_problem (void *opaque, enum addcow_problem kind, bool fixed,
                const char *message)
{
  (void) opaque; (void) kind; (void) fixed;
  fprintf (stderr, "check: %s\n", message);
}

void
lt_assert_clean (const char *path)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  int r;

  o.report = report_problem;
  r = addcow_check (path, &o, &res);
  ck_assert_msg (r == 0, "check %s: %s", path, addcow_get_error ());
  ck_assert_msg (res.corruptions == 0 && res.leaks == 0
                 && res.check_errors == 0,
                 "check %s: %llu corruptions, %llu leaks", path,
                 (unsigned long long) res.corruptions,
                 (unsigned long long) res.leaks);
}

void
lt_assert_no_corruption (const char *path)
{
  struct addcow_check_opts o = ADDCOW_CHECK_OPTS_INIT;
  struct addcow_check_result res;
  int r;

  r = addcow_check (path, &o, &res);
  ck_assert_msg (r == 0, "check %s: %s", path, addcow_get_error ());
  ck_assert_msg (res.corruptions == 0 && res.check_errors == 0,
                 "check %s: %llu corruptions", path,
                 (unsigned long long) res.corruptions);
}

void
lt_assert_same (const uint8_t *a, const uint8_t *b, uint64_t len,
                const char *what)
{
  uint64_t i;

  if (memcmp (a, b, len) == 0)
    return;
  for (i = 0; i < len && a[i] == b[i]; i++)
    ;
  ck_abort_msg ("%s: differs at offset %llu (0x%02x, expected 0x%02x)",
                what, (unsigned long long) i, a[i], b[i]);
}

void
lt_assert_file (const char *path, const uint8_t *expect, uint64_t len)
{
  size_t n;
  uint8_t *buf = tu_read_file (path, &n);

  ck_assert_msg (n >= len, "%s is %zu bytes, expected at least %llu", path,
                 n, (unsigned long long) len);
  lt_assert_same (buf, expect, len, path);
  free (buf);
}

bool
lt_dir_has_suffix (const char *dir, const char *suffix)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  size_t sl = strlen (suffix);
  bool found = false;

  ck_assert (d != NULL);
  while (!found && (e = readdir (d))) {
    size_t l = strlen (e->d_name);
    found = l >= sl && strcmp (e->d_name + l - sl, suffix) == 0;
  }
  closedir (d);
  return found;
}

void
lt_write (const char *path, unsigned seed, uint64_t off, uint64_t len)
{
  struct addcow *img = tu_open (path, true);
  uint8_t *buf = malloc (len);
  int r;

  ck_assert (buf != NULL);
  tu_fill (buf, len, seed, off);
  r = addcow_pwrite (img, buf, len, off);
  ck_assert_msg (r == 0, "write %s: %s", path, addcow_get_error ());
  ck_assert_int_eq (addcow_close (img), 0);
  free (buf);
}

/* ---- every cut point, every fault -------------------------------------- */

static void
rerun_and_verify (const struct lt_case *c)
{
  int r = c->op (c->path, NULL, c->arg);

  ck_assert_msg (r == 0, "re-run: %s", addcow_get_error ());
  c->verify (c->dir, c->arg, true);
  ck_assert_msg (!lt_dir_has_suffix (c->dir, ".rewrite"),
                 "a temporary file is left behind");
}

long
lt_crash_every_op (const struct lt_case *c)
{
  struct tio t;
  long total, k;
  int r;

  lt_copy_dir (c->snap, c->dir);
  tio_init (&t, true);
  r = c->op (c->path, &t.io, c->arg);
  ck_assert_msg (r == 0, "uncut run: %s", addcow_get_error ());
  total = t.ops;
  tio_free (&t);
  ck_assert_int_gt (total, 0);
  for (k = 1; k <= total; k++) {
    lt_copy_dir (c->snap, c->dir);
    tio_init (&t, true);
    t.cut_after = k;
    t.cut = c->cut;
    c->op (c->path, &t.io, c->arg);
    tio_power_cut (&t);
    tio_free (&t);
    c->verify (c->dir, c->arg, false);
    rerun_and_verify (c);
  }
  return total;
}

static long
count_io (const struct lt_case *c, bool syncs)
{
  struct tio t;
  long n;
  int r;

  lt_copy_dir (c->snap, c->dir);
  tio_init (&t, false);
  r = c->op (c->path, &t.io, c->arg);
  ck_assert_msg (r == 0, "counting run: %s", addcow_get_error ());
  n = syncs ? t.syncs : t.writes;
  tio_free (&t);
  ck_assert_int_gt (n, 0);
  return n;
}

static void
one_fault (const struct lt_case *c, struct tio *t, int err)
{
  int r = c->op (c->path, &t->io, c->arg);

  ck_assert_msg (r == -err, "expected %s, got %d (%s)", strerror (err), r,
                 addcow_get_error ());
  tu_assert_error_has (c->dir, strerror (err), NULL);
  tio_free (t);
  c->verify (c->dir, c->arg, false);
  rerun_and_verify (c);
}

long
lt_fail_every_write (const struct lt_case *c, int err, bool once)
{
  long total = count_io (c, false), n;
  struct tio t;

  for (n = 1; n <= total; n++) {
    lt_copy_dir (c->snap, c->dir);
    tio_init (&t, false);
    t.fail_write_at = n;
    t.fail_errno = err;
    t.fail_once = once;
    one_fault (c, &t, err);
  }
  return total;
}

long
lt_fail_every_sync (const struct lt_case *c, int err)
{
  long total = count_io (c, true), n;
  struct tio t;

  for (n = 1; n <= total; n++) {
    lt_copy_dir (c->snap, c->dir);
    tio_init (&t, false);
    t.fail_sync_at = n;
    t.fail_errno = err;
    one_fault (c, &t, err);
  }
  return total;
}

uint64_t
lt_allocated (const char *path)
{
  struct addcow_open_opts o = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  uint64_t n;

  o.flags = ADDCOW_OPEN_NO_BACKING;
  ck_assert_msg (addcow_open (path, &o, &img) == 0, "open %s: %s", path,
                 addcow_get_error ());
  n = addcow_get_allocated_clusters (img);
  addcow_close (img);
  return n;
}
