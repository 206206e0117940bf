/*
 * output.c - what addcow-img prints, shared by the subcommands.
 *
 * JSON goes through jansson with JSON_INDENT(4) | JSON_PRESERVE_ORDER,
 * which reproduces qemu-img's 4-space layout when the members are added
 * in qemu's order.  Progress goes to stdout as "    (%3.2f/100%)\r" like
 * qemu-img's -p.  Every write to stdout is checked once, at the end, by
 * finish_stdout().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addcow.h"
#include "options.h"
#include "output.h"

/* The first four bytes of a qcow2 file (qcow2.txt: "QFI\xfb"). */
#define QCOW2_MAGIC "QFI\xfb"

void format_size (uint64_t value, char *buf, size_t len)
{
  static const char *const suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi",
                                          "Ei" };
  int exponent, i;

  /* As qemu: switch to the next unit once the number reaches 1000. */
  frexp ((double) value / (1000.0 / 1024.0), &exponent);
  i = (exponent - 1) / 10;
  if (i < 0)
    i = 0;
  if (i > 6)
    i = 6;
  snprintf (buf, len, "%0.3g %sB",
            (double) value / (double) (UINT64_C(1) << (i * 10)), suffixes[i]);
}

/* Length of the valid UTF-8 sequence at P, or 0 if it is not valid. */
static size_t utf8_sequence (const unsigned char *p)
{
  unsigned c = p[0];
  size_t n, i;
  unsigned long cp;

  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else
    return 0;
  for (i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return n;
}

json_t *json_text (const char *s)
{
  /* Kept as bytes for the human output; json_print makes it UTF-8. */
  return json_string_nocheck (s);
}

static bool utf8_valid (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t n;

  for (; *p; p += n)
    if ((n = utf8_sequence (p)) == 0)
      return false;
  return true;
}

/* S with every byte that is not part of valid UTF-8 replaced by U+FFFD,
 * as qemu does; NULL on allocation failure. */
static char *utf8_sanitise (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  char *copy = malloc (strlen (s) * 3 + 1), *q = copy;
  size_t n;

  if (copy == NULL)
    return NULL;
  for (; *p; p += n) {
    n = utf8_sequence (p);
    if (n == 0) {
      memcpy (q, "\xef\xbf\xbd", 3);
      q += 3;
      n = 1;
    }
    else {
      memcpy (q, p, n);
      q += n;
    }
  }
  *q = '\0';
  return copy;
}

/* Make every string in J valid UTF-8 so that jansson can dump it. */
static int json_sanitise (json_t *j)
{
  const char *key;
  json_t *value;
  char *clean;
  size_t i;
  int r;

  switch (json_typeof (j)) {
  case JSON_OBJECT:
    json_object_foreach (j, key, value)
      if (json_sanitise (value) < 0)
        return -1;
    return 0;
  case JSON_ARRAY:
    for (i = 0; i < json_array_size (j); i++)
      if (json_sanitise (json_array_get (j, i)) < 0)
        return -1;
    return 0;
  case JSON_STRING:
    if (utf8_valid (json_string_value (j)))
      return 0;
    clean = utf8_sanitise (json_string_value (j));
    r = clean ? json_string_set (j, clean) : -1;
    free (clean);
    return r;
  default:
    return 0;
  }
}

/* jansson has only signed integers.  json_uint keeps a value above
 * INT64_MAX as a string that starts with a NUL byte (no file name can),
 * which json_dumps writes as "\u0000DIGITS"; print_json_text and
 * dump_json_value turn it back into the number. */
#define UINT_MARK "\"\\u0000"

json_t *json_uint (uint64_t value)
{
  char buf[24];
  int n;

  if (value <= INT64_MAX)
    return json_integer ((json_int_t) value);
  n = snprintf (buf, sizeof buf, "%c%" PRIu64, 0, value);
  return json_stringn (buf, (size_t) n);
}

static const char *uint_digits (const json_t *value)
{
  if (json_string_length (value) > 1 && json_string_value (value)[0] == 0)
    return json_string_value (value) + 1;
  return NULL;
}

/* qemu's JSON writer: non-ASCII as \uXXXX (JSON_ENSURE_ASCII), and DEL
 * too, which jansson leaves alone (it can only occur inside a string). */
static void print_json_text (const char *text)
{
  for (; *text; text++) {
    if (strncmp (text, UINT_MARK, strlen (UINT_MARK)) == 0) {
      for (text += strlen (UINT_MARK); *text != '"'; text++)
        putchar (*text);
    }
    else if (*text == 0x7f)
      fputs ("\\u007F", stdout);
    else
      putchar (*text);
  }
  putchar ('\n');
}

int json_print (json_t *root)
{
  char *text = NULL;

  if (root != NULL && json_sanitise (root) == 0)
    text = json_dumps (root, JSON_INDENT (4) | JSON_PRESERVE_ORDER
                       | JSON_ENSURE_ASCII);
  json_decref (root);
  if (text == NULL) {
    error_msg ("out of memory");
    return -1;
  }
  print_json_text (text);
  free (text);
  return 0;
}

static void dump_json_value (const json_t *value, int indent);

static void dump_json_key (const char *key, int indent)
{
  printf ("%*s", indent * 4, "");
  for (; *key; key++)
    putchar (*key == '-' ? ' ' : *key);
  putchar (':');
}

void dump_json_human (const json_t *obj, int indent)
{
  const char *key;
  json_t *value;

  json_object_foreach ((json_t *) obj, key, value) {
    dump_json_key (key, indent);
    dump_json_value (value, indent);
  }
}

static void dump_json_value (const json_t *value, int indent)
{
  size_t i;

  switch (json_typeof (value)) {
  case JSON_OBJECT:
    putchar ('\n');
    dump_json_human (value, indent + 1);
    break;
  case JSON_ARRAY:
    putchar ('\n');
    for (i = 0; i < json_array_size (value); i++) {
      printf ("%*s[%zu]:", (indent + 1) * 4, "", i);
      dump_json_value (json_array_get (value, i), indent + 1);
    }
    break;
  case JSON_STRING:
    printf (" %s\n", uint_digits (value) ? uint_digits (value)
            : json_string_value (value));
    break;
  case JSON_INTEGER:
    printf (" %" JSON_INTEGER_FORMAT "\n", json_integer_value (value));
    break;
  case JSON_REAL:
    printf (" %g\n", json_real_value (value));
    break;
  case JSON_TRUE:
    printf (" true\n");
    break;
  case JSON_FALSE:
    printf (" false\n");
    break;
  case JSON_NULL:
    printf (" null\n");
    break;
  }
}

/* ---------------------------------------------------------------------- */
/* Progress. */

static struct {
  bool enabled;
  double current;
  double last_printed;
} progress;

static volatile sig_atomic_t progress_requested; /* SIGUSR1 */

static void on_sigusr1 (int sig)
{
  (void) sig;
  progress_requested = 1;
}

static void progress_print (void)
{
  if (progress.enabled) {
    printf ("    (%3.2f/100%%)\r", progress.current);
    fflush (stdout);
  }
  else if (progress_requested) {
    progress_requested = 0;
    fprintf (stderr, "    (%3.2f/100%%)\n", progress.current);
  }
}

void progress_init (bool enabled)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGUSR1, &sa, NULL);

  progress.enabled = enabled;
  progress.current = 0;
  progress.last_printed = 0;
  if (enabled)
    progress_print ();
}

void progress_update (uint64_t done, uint64_t total)
{
  double current = total ? (double) done * 100.0 / (double) total : 100.0;

  if (current > 100.0)
    current = 100.0;
  progress.current = current;
  if (current > progress.last_printed + 1.0 ||
      current < progress.last_printed - 1.0 ||
      (current == 100.0 && progress.last_printed != 100.0) ||
      progress_requested) {
    progress.last_printed = current;
    progress_print ();
  }
}

void progress_end (void)
{
  if (progress.enabled)
    putchar ('\n');
}

/* ---------------------------------------------------------------------- */
/* Cancellation. */

static volatile sig_atomic_t cancel_signo;

/* The first SIGINT/SIGTERM asks the library to stop at its next safe
 * point.  A second one exits at once (130/143), for an operation stuck
 * in a long fdatasync: the library writes data before the metadata that
 * vouches for it (addcow(5) section 7), so the image on disk is valid
 * at every instant and leaving without the last steps loses nothing
 * that was durable. */
static void on_cancel (int sig)
{
  static const char msg[] = ": interrupted again, exiting at once\n";

  if (cancel_signo != 0) {
    if (write (STDERR_FILENO, progname, strlen (progname)) > 0
        && write (STDERR_FILENO, msg, sizeof msg - 1) > 0) {
      /* nothing to do if stderr is gone */
    }
    _exit (128 + sig);
  }
  cancel_signo = sig;
}

void cancel_install (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_cancel;
  sa.sa_flags = SA_RESTART;     /* let the library's I/O finish */
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

int cancel_signal (void)
{
  return cancel_signo;
}

static struct {
  uint64_t rate;                /* bytes per second, 0: none */
  struct timespec start;
} limit;

void rate_limit_set (uint64_t bytes_per_sec)
{
  limit.rate = bytes_per_sec;
  clock_gettime (CLOCK_MONOTONIC, &limit.start);
}

static double seconds_since (const struct timespec *t)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - t->tv_sec)
    + (double) (now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Sleep until DONE bytes are within the rate, in short steps so that a
 * signal is seen quickly. */
static void throttle (uint64_t done)
{
  double ahead;

  while (limit.rate && !cancel_signo
         && (ahead = (double) done / (double) limit.rate
             - seconds_since (&limit.start)) > 0) {
    struct timespec t = { 0, (long) (fmin (ahead, 0.1) * 1e9) };
    nanosleep (&t, NULL);
  }
}

int progress_callback (void *opaque, uint64_t done, uint64_t total)
{
  (void) opaque;
  progress_update (done, total);
  throttle (done);
  return cancel_signo != 0;
}

void cache_io (const char *file, const char *name, enum addcow_cache mode,
               struct addcow_io *io)
{
  int fd;

  addcow_io_cache (io, mode);
  if (mode != ADDCOW_CACHE_NONE && mode != ADDCOW_CACHE_DIRECTSYNC)
    return;
  fd = open (file, O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd >= 0)
    close (fd);
  else if (errno == EINVAL)
    warning_msg ("%s: the file system does not support O_DIRECT; cache "
                 "mode '%s' reads and writes through the page cache", file,
                 name);
}

/* ---------------------------------------------------------------------- */

bool lock_hint_force_share;

void library_error (int r)
{
  error_msg ("%s", addcow_get_error ());
  if (r == -EBUSY && lock_hint_force_share)
    fprintf (stderr, "(use -U to inspect it anyway)\n");
}

const char *image_format (const char *file, const char *given)
{
  char magic[4];
  int fd;
  ssize_t n;

  if (given)
    return given;
  fd = open (file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return "add-cow";
  n = pread (fd, magic, sizeof magic, 0);
  close (fd);
  if (n < 0 || (n == (ssize_t) sizeof magic
                && memcmp (magic, ADDCOW_MAGIC, sizeof magic) == 0))
    return "add-cow";
  if (n == (ssize_t) sizeof magic && memcmp (magic, QCOW2_MAGIC, 4) == 0)
    return "qcow2";
  return "raw";
}

int open_image (const char *file, unsigned flags, struct addcow **img)
{
  return open_image_as (file, NULL, flags, img);
}

int open_image_as (const char *file, const char *format, unsigned flags,
                   struct addcow **img)
{
  struct addcow_open_opts opts = ADDCOW_OPEN_OPTS_INIT;
  int r;

  opts.flags = flags;
  if (format && strcmp (format, "add-cow") != 0)
    opts.format = format;
  if ((r = addcow_open (file, &opts, img)) == 0)
    return 0;
  library_error ((flags & ADDCOW_OPEN_WRITE) ? 0 : r);
  return -1;
}

int close_image (struct addcow *img, int status)
{
  if (addcow_close (img) == 0)
    return status;
  error_msg ("%s", addcow_get_error ());
  return 1;
}

/* ---------------------------------------------------------------------- */

int finish_stdout (void)
{
  int err = 0;

  if (fflush (stdout) != 0)
    err = errno;
  if (ferror (stdout) && err == 0)
    err = EIO;
  if (fclose (stdout) != 0 && err == 0)
    err = errno;
  if (err != 0) {
    error_msg ("write error: %s", strerror (err));
    return -1;
  }
  return 0;
}

void long_op_begin (bool show_progress)
{
  cancel_install ();
  progress_init (show_progress);
}

int long_op_end (int r)
{
  progress_end ();
  if (r >= 0)
    return 0;
  error_msg ("%s", addcow_get_error ());
  return cancel_signal () ? 128 + cancel_signal () : 1;
}
