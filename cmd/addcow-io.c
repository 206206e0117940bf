/*
 * addcow-io.c - a small qemu-io for add-cow images.
 *
 *   addcow-io [-r] [-U] [-f add-cow] [-c CMD]... FILE
 *
 * Runs each -c command in order, or, without -c, one command per line of
 * standard input (the "addcow-io> " prompt is printed only when standard
 * input is a terminal).  Commands, their options, their output and their
 * messages are qemu-io 7.2's:
 *   read  [-qv] [-P pattern] off len    (-P verifies the data)
 *   write [-qz] [-P pattern] off len    (default pattern 0xcd; -z zeroes)
 *   flush, help, quit
 * A failing command does not stop the others; the exit status is 1 if any
 * failed (like qemu-io 7.2), or if the image could not be flushed and
 * closed.  Large requests are done in chunks of CHUNK bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <addcow.h>

#include "options.h"
#include "output.h"

#define CHUNK (4u << 20)
#define MAX_REQUEST (INT_MAX & ~511u)   /* qemu's BDRV_REQUEST_MAX_BYTES */
#define MAX_ARGS 32

struct io_command {
  const char *name;
  const char *altname;
  int (*fn) (struct addcow *img, int argc, char **argv);
  int argmin, argmax;           /* argmax -1: no limit */
  const char *args;
  const char *oneline;
  bool writes;                  /* refused under -r, as qemu-io does */
};

static const struct io_command *find_io_command (const char *name);
static int quit_requested;
static bool read_only;          /* -r */

/* ---------------------------------------------------------------------- */
/* Numbers, patterns and statistics, as qemu-io prints them. */

/* qemu-io's cvtnum + print_cvtnum_err: a size (suffixes allowed). */
static int parse_num (const char *arg, uint64_t *value)
{
  int r = parse_size (arg, value);

  if (r == 0 && *value > INT64_MAX)
    r = -ERANGE;
  if (r == -EINVAL)
    printf ("Parsing error: non-numeric argument, or extraneous/unrecognized "
            "suffix -- %s\n", arg);
  else if (r == -ERANGE)
    printf ("Parsing error: argument too large -- %s\n", arg);
  return r;
}

static int parse_pattern (const char *arg)
{
  char *end;
  long pattern;

  errno = 0;
  pattern = strtol (arg, &end, 0);
  if (errno || end == arg || pattern < 0 || pattern > UCHAR_MAX || *end) {
    printf ("%s is not a valid pattern byte\n", arg);
    return -1;
  }
  return (int) pattern;
}

/* qemu-io's cvtstr: "64 KiB", "1.500 KiB", "16 bytes". */
static void cvtstr (double value, char *str, size_t size)
{
  static const char *const units[] = { " KiB", " MiB", " GiB", " TiB",
                                       " PiB", " EiB" };
  const char *suffix = " bytes";
  char *trim;
  int i;

  for (i = 5; i >= 0; i--) {
    double unit = (double) (UINT64_C(1) << (10 * (i + 1)));
    if (value >= unit) {
      suffix = units[i];
      snprintf (str, size - 4, "%.3f", value / unit);
      break;
    }
  }
  if (i < 0)
    snprintf (str, size - 6, "%f", value);
  trim = strstr (str, ".000");
  if (trim)
    strcpy (trim, suffix);
  else
    strcat (str, suffix);
}

static void timestr (const struct timespec *t, char *ts, size_t size)
{
  double frac = (double) t->tv_nsec / 1e9;

  if (t->tv_sec)
    snprintf (ts, size, "%u:%02u:%05.2f", (unsigned) (t->tv_sec / 3600),
              (unsigned) (t->tv_sec % 3600 / 60),
              (double) (t->tv_sec % 60) + frac);
  else
    snprintf (ts, size, "%05.2f sec", frac);
}

static struct timespec elapsed (const struct timespec *start)
{
  struct timespec now, d;

  clock_gettime (CLOCK_MONOTONIC, &now);
  d.tv_sec = now.tv_sec - start->tv_sec;
  d.tv_nsec = now.tv_nsec - start->tv_nsec;
  if (d.tv_nsec < 0) {
    d.tv_nsec += 1000000000L;
    d.tv_sec--;
  }
  return d;
}

static void print_report (const char *op, const struct timespec *start,
                          uint64_t offset, uint64_t count)
{
  struct timespec t = elapsed (start);
  double secs = (double) t.tv_sec + (double) t.tv_nsec / 1e9;
  char s1[64], s2[64], ts[64];

  timestr (&t, ts, sizeof ts);
  cvtstr ((double) count, s1, sizeof s1);
  cvtstr ((double) count / secs, s2, sizeof s2);
  printf ("%s %" PRIu64 "/%" PRIu64 " bytes at offset %" PRIu64 "\n",
          op, count, count, offset);
  printf ("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1, 1, ts, s2,
          1.0 / secs);
}

/* qemu-io's dump_buffer (read -v). */
static void dump_buffer (const unsigned char *buf, uint64_t offset,
                         size_t len)
{
  size_t i, j;

  for (i = 0; i < len; i += 16) {
    printf ("%08" PRIx64 ":  ", offset + i);
    for (j = 0; j < 16 && i + j < len; j++)
      printf ("%02x ", buf[i + j]);
    printf (" ");
    for (j = 0; j < 16 && i + j < len; j++)
      putchar (isalnum (buf[i + j]) ? buf[i + j] : '.');
    printf ("\n");
  }
}

static void print_usage (const struct io_command *ct)
{
  /* qemu-io: no blank without arguments (NULL), one before them, even
   * when they are "" (its "map  -- "). */
  printf ("%s%s%s -- %s\n", ct->name, ct->args ? " " : "",
          ct->args ? ct->args : "", ct->oneline);
}

static int usage (const char *name)
{
  print_usage (find_io_command (name));
  return -EINVAL;
}

/* OFF and LEN of a read or write, checked as qemu-io checks them. */
static int parse_range (struct addcow *img, char **argv, uint64_t *offset,
                        uint64_t *count)
{
  if (parse_num (argv[0], offset) < 0 || parse_num (argv[1], count) < 0)
    return -EINVAL;
  if (*count > MAX_REQUEST) {
    printf ("length cannot exceed %u, given %s\n", MAX_REQUEST, argv[1]);
    return -EINVAL;
  }
  if (*offset > addcow_get_virtual_size (img)
      || addcow_get_virtual_size (img) - *offset < *count)
    return -EIO;                /* qemu: the request is out of range */
  return 0;
}

static int io_failed (const char *op, int r, bool from_library)
{
  printf ("%s failed: %s\n", op, strerror (-r));
  if (from_library)
    error_msg ("%s", addcow_get_error ());
  return r;
}

/* ---------------------------------------------------------------------- */
/* The commands. */

/* Read [OFFSET, OFFSET+COUNT) chunk by chunk; check each byte against
 * PATTERN (if >= 0) and dump it (if VERBOSE).  *MISMATCH is set on a
 * difference. */
static int read_range (struct addcow *img, uint64_t offset, uint64_t count,
                       int pattern, bool verbose, bool *mismatch)
{
  unsigned char *buf = malloc (count < CHUNK ? (count ? count : 1) : CHUNK);
  uint64_t done;
  size_t n, i;
  int r = 0;

  if (buf == NULL)
    return -ENOMEM;
  for (done = 0; done < count && r == 0; done += n) {
    n = count - done < CHUNK ? (size_t) (count - done) : CHUNK;
    r = addcow_pread (img, buf, n, offset + done);
    for (i = 0; r == 0 && pattern >= 0 && i < n; i++)
      if (buf[i] != pattern)
        *mismatch = true;
    if (r == 0 && verbose)
      dump_buffer (buf, offset + done, n);
  }
  free (buf);
  return r < 0 ? r : 0;
}

static int read_f (struct addcow *img, int argc, char **argv)
{
  bool quiet = false, verbose = false, mismatch = false;
  int c, pattern = -1, r;
  uint64_t offset, count;
  struct timespec start;

  while ((c = getopt (argc, argv, "P:qv")) != -1) {
    switch (c) {
    case 'P':
      if ((pattern = parse_pattern (optarg)) < 0)
        return -EINVAL;
      break;
    case 'q': quiet = true; break;
    case 'v': verbose = true; break;
    default: return usage ("read");
    }
  }
  if (optind != argc - 2)
    return usage ("read");
  r = parse_range (img, argv + optind, &offset, &count);
  if (r == -EIO)
    return io_failed ("read", r, false);
  if (r < 0)
    return r;
  clock_gettime (CLOCK_MONOTONIC, &start);
  r = read_range (img, offset, count, pattern, false, &mismatch);
  if (r < 0)
    return io_failed ("read", r, true);
  if (mismatch)
    printf ("Pattern verification failed at offset %" PRIu64 ", %" PRIu64
            " bytes\n", offset, count);
  /* qemu-io prints the verdict before the dump: read again to dump. */
  if (verbose && !quiet
      && (r = read_range (img, offset, count, -1, true, &mismatch)) < 0)
    return io_failed ("read", r, true);
  if (!quiet)
    print_report ("read", &start, offset, count);
  return mismatch ? -EINVAL : 0;
}

static int write_range (struct addcow *img, uint64_t offset, uint64_t count,
                        int pattern)
{
  size_t len = count < CHUNK ? (size_t) count : CHUNK, n;
  unsigned char *buf;
  uint64_t done;
  int r = 0;

  if (pattern < 0)
    return addcow_pwrite_zeroes (img, count, offset);
  buf = malloc (len ? len : 1);
  if (buf == NULL)
    return -ENOMEM;
  memset (buf, pattern, len);
  for (done = 0; done < count && r == 0; done += n) {
    n = count - done < CHUNK ? (size_t) (count - done) : CHUNK;
    r = addcow_pwrite (img, buf, n, offset + done);
  }
  free (buf);
  return r < 0 ? r : 0;
}

static int write_f (struct addcow *img, int argc, char **argv)
{
  bool quiet = false, zero = false, pattern_given = false;
  int c, pattern = 0xcd, r;
  uint64_t offset, count;
  struct timespec start;

  while ((c = getopt (argc, argv, "P:qz")) != -1) {
    switch (c) {
    case 'P':
      pattern_given = true;
      if ((pattern = parse_pattern (optarg)) < 0)
        return -EINVAL;
      break;
    case 'q': quiet = true; break;
    case 'z': zero = true; break;
    default: return usage ("write");
    }
  }
  if (optind != argc - 2)
    return usage ("write");
  if (zero && pattern_given) {
    printf ("Only one of -z, -P, and -s can be specified at the same time\n");
    return -EINVAL;
  }
  r = parse_range (img, argv + optind, &offset, &count);
  if (r == -EIO)
    return io_failed ("write", r, false);
  if (r < 0)
    return r;
  clock_gettime (CLOCK_MONOTONIC, &start);
  r = write_range (img, offset, count, zero ? -1 : pattern);
  if (r < 0)
    return io_failed ("write", r, true);
  if (!quiet)
    print_report ("wrote", &start, offset, count);
  return 0;
}

static int flush_f (struct addcow *img, int argc, char **argv)
{
  int r;

  (void) argc;
  (void) argv;
  r = addcow_flush (img);
  if (r < 0)
    return io_failed ("flush", r, true);
  return 0;
}

/* qemu-io discard: the whole clusters inside the range read as zeros
 * afterwards (their bits stay set, so the backing file never shows
 * through, as a qcow2 overlay keeps a zero cluster); the rest of the range
 * is left alone, since a discard is only advice. */
static int discard_f (struct addcow *img, int argc, char **argv)
{
  bool quiet = false;
  int c, r;
  uint64_t offset, count, cs = addcow_get_cluster_size (img), start, end;
  struct timespec ts;

  while ((c = getopt (argc, argv, "Cq")) != -1) {
    switch (c) {
    case 'C': break;            /* machine-parsable statistics: as usual */
    case 'q': quiet = true; break;
    default: return usage ("discard");
    }
  }
  if (optind != argc - 2)
    return usage ("discard");
  r = parse_range (img, argv + optind, &offset, &count);
  if (r == -EIO)
    return io_failed ("discard", r, false);
  if (r < 0)
    return r;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  start = (offset + cs - 1) / cs * cs;
  end = (offset + count) / cs * cs;
  if (end > start && (r = addcow_pwrite_zeroes (img, end - start, start)) < 0)
    return io_failed ("discard", r, true);
  if (!quiet)
    print_report ("discard", &ts, offset, count);
  return 0;
}

static int length_f (struct addcow *img, int argc, char **argv)
{
  char s[64];

  (void) argc;
  (void) argv;
  cvtstr ((double) addcow_get_virtual_size (img), s, sizeof s);
  printf ("%s\n", s);
  return 0;
}

/* Allocated in this image (not below it), as qemu-io's bdrv_is_allocated:
 * the length of the run at OFFSET with one answer, merged over the runs
 * addcow_is_allocated returns. */
static int allocated_run (struct addcow *img, uint64_t offset, uint64_t max,
                          uint64_t *len)
{
  uint64_t n;
  int first = -1, r;

  *len = 0;
  while (*len < max) {
    r = addcow_is_allocated (img, offset + *len, max - *len, &n);
    if (r < 0)
      return r;
    if (first >= 0 && r != first)
      break;
    first = r;
    *len += n;
  }
  return first < 0 ? 0 : first;
}

static int alloc_f (struct addcow *img, int argc, char **argv)
{
  uint64_t size = addcow_get_virtual_size (img), offset, count = 512;
  uint64_t sum = 0, n, done;
  char s[64];
  int r;

  if (parse_num (argv[1], &offset) < 0
      || (argc == 3 && parse_num (argv[2], &count) < 0))
    return -EINVAL;
  /* qemu-io clamps the range to the disk. */
  count = offset >= size ? 0 : count < size - offset ? count : size - offset;
  for (done = 0; done < count; done += n) {
    r = allocated_run (img, offset + done, count - done, &n);
    if (r < 0)
      return io_failed ("alloc", r, true);
    if (r)
      sum += n;
  }
  cvtstr ((double) offset, s, sizeof s);
  printf ("%" PRIu64 "/%" PRIu64 " bytes allocated at offset %s\n", sum,
          count, s);
  return 0;
}

static int map_f (struct addcow *img, int argc, char **argv)
{
  uint64_t size = addcow_get_virtual_size (img), offset, n;
  char s1[64], s2[64];
  int r;

  (void) argc;
  (void) argv;
  for (offset = 0; offset < size; offset += n) {
    if ((r = allocated_run (img, offset, size - offset, &n)) < 0)
      return io_failed ("map", r, true);
    cvtstr ((double) n, s1, sizeof s1);
    cvtstr ((double) offset, s2, sizeof s2);
    printf ("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n",
            s1, n, r ? "    allocated" : "not allocated", s2, offset);
  }
  return 0;
}

static int quit_f (struct addcow *img, int argc, char **argv)
{
  (void) img;
  (void) argc;
  (void) argv;
  quit_requested = 1;
  return 0;
}

static int help_f (struct addcow *img, int argc, char **argv);

static const struct io_command io_commands[] = {
  { "alloc", "", alloc_f, 1, 2, "offset [count]",
    "checks if offset is allocated in the file", false },
  { "discard", "d", discard_f, 2, -1, "[-Cq] off len",
    "discards a number of bytes at a specified offset", true },
  { "flush", "f", flush_f, 0, 0, NULL,
    "flush all in-core file state to disk", false },
  { "help", "?", help_f, 0, 0, NULL,
    "help for one or all commands", false },
  { "length", "l", length_f, 0, 0, NULL, "gets the length of the current file",
    false },
  { "map", "", map_f, 0, 0, "", "prints the allocated areas of a file",
    false },
  { "quit", "q", quit_f, 0, 0, NULL, "exit the program", false },
  { "read", "r", read_f, 2, -1, "[-qv] [-P pattern] off len",
    "reads a number of bytes at a specified offset", false },
  { "write", "w", write_f, 2, -1, "[-qz] [-P pattern] off len",
    "writes a number of bytes at a specified offset", true },
};

#define N_IO_COMMANDS (sizeof io_commands / sizeof io_commands[0])

static int help_f (struct addcow *img, int argc, char **argv)
{
  size_t i;

  (void) img;
  (void) argc;
  (void) argv;
  for (i = 0; i < N_IO_COMMANDS; i++)
    print_usage (&io_commands[i]);
  return 0;
}

static const struct io_command *find_io_command (const char *name)
{
  size_t i;

  for (i = 0; i < N_IO_COMMANDS; i++)
    if (strcmp (io_commands[i].name, name) == 0
        || strcmp (io_commands[i].altname, name) == 0)
      return &io_commands[i];
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Running commands. */

/* Split LINE in place at blanks; returns the number of words. */
static int split_line (char *line, char **argv)
{
  int argc = 0;
  char *p = strtok (line, " \t\r\n");

  for (; p && argc < MAX_ARGS; p = strtok (NULL, " \t\r\n"))
    argv[argc++] = p;
  argv[argc] = NULL;
  return argc;
}

/* Run one command line; returns 0 or a negative errno. */
static int run_command (struct addcow *img, const char *text)
{
  char *line = strdup (text), *argv[MAX_ARGS + 1];
  const struct io_command *ct;
  int argc, r = 0;

  if (line == NULL)
    return -ENOMEM;
  argc = split_line (line, argv);
  if (argc == 0)
    goto out;
  ct = find_io_command (argv[0]);
  if (ct == NULL) {
    fprintf (stderr, "command \"%s\" not found\n", argv[0]);
    r = -EINVAL;
  }
  else if (ct->writes && read_only) {
    error_msg ("Block node is read-only");
    r = -EROFS;
  }
  else if (argc - 1 < ct->argmin
           || (ct->argmax >= 0 && argc - 1 > ct->argmax)) {
    if (ct->argmax < 0)
      fprintf (stderr, "bad argument count %d to %s, expected at least %d "
               "arguments\n", argc - 1, argv[0], ct->argmin);
    else if (ct->argmin == ct->argmax)
      fprintf (stderr, "bad argument count %d to %s, expected %d "
               "arguments\n", argc - 1, argv[0], ct->argmin);
    else
      fprintf (stderr, "bad argument count %d to %s, expected between %d "
               "and %d arguments\n", argc - 1, argv[0], ct->argmin,
               ct->argmax);
    r = -EINVAL;
  }
  else {
    optind = 0;                 /* getopt afresh for every command; */
    opterr = 1;                 /* it reports "read: invalid option" */
    r = ct->fn (img, argc, argv);
  }
 out:
  free (line);
  return r;
}

static int run_stdin (struct addcow *img)
{
  bool prompt = isatty (STDIN_FILENO);
  char *line = NULL;
  size_t cap = 0;
  int failed = 0;

  while (!quit_requested) {
    if (prompt) {
      printf ("addcow-io> ");
      fflush (stdout);
    }
    if (getline (&line, &cap, stdin) < 0)
      break;
    if (run_command (img, line) < 0)
      failed = 1;
    fflush (stdout);
  }
  free (line);
  return failed;
}

/* ---------------------------------------------------------------------- */
/* main. */

struct io_args {
  const char **cmds;
  int ncmds;
  const char *format;
  const char *filename;
  bool read_only;
  bool force_share;
};

static void io_help (void)
{
  printf ("usage: addcow-io [-r] [-U] [-f add-cow] [-c CMD]... FILE\n"
          "Read and write the virtual disk of the add-cow image FILE.\n"
          "\n"
          "  -c, --cmd=CMD        run CMD (repeatable); without -c, read\n"
          "                       commands from standard input\n"
          "  -f, --format=add-cow the format of FILE (only add-cow)\n"
          "  -r, --read-only      open FILE read-only\n"
          "  -U, --force-share    take no locks (only with -r)\n"
          "  -h, --help           display this help and exit\n"
          "  -V, --version        output version information and exit\n"
          "\n"
          "Commands (qemu-io syntax):\n");
  help_f (NULL, 0, NULL);
}

static int parse_io_args (int argc, char **argv, struct io_args *a)
{
  static const struct option long_options[] = {
    { "cmd", required_argument, NULL, 'c' },
    { "format", required_argument, NULL, 'f' },
    { "read-only", no_argument, NULL, 'r' },
    { "force-share", no_argument, NULL, 'U' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    UNSUPPORTED_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":c:f:rUhV", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'c': a->cmds[a->ncmds++] = optarg; break;
    case 'f': a->format = optarg; break;
    case 'r': a->read_only = true; break;
    case 'U': a->force_share = true; break;
    UNSUPPORTED_CASES;
    case 'h': io_help (); return 0;
    case 'V': printf ("addcow-io version %s\n", ADDCOW_VERSION_STRING);
      return 0;
    default: return getopt_error (c, argv);
    }
  }
  return image_operand (argc, argv, a->format, &a->filename);
}

static int run (int argc, char **argv)
{
  struct io_args a = { .ncmds = 0 };
  struct addcow *img;
  int status, i;

  a.cmds = calloc ((size_t) argc, sizeof *a.cmds);
  if (a.cmds == NULL)
    return 1;
  status = parse_io_args (argc, argv, &a);
  if (status >= 0)
    goto out;
  status = 1;
  lock_hint_force_share = true;     /* only offered for read-only opens */
  read_only = a.read_only;
  if (open_image (a.filename, (a.read_only ? 0 : ADDCOW_OPEN_WRITE)
                  | (a.force_share ? ADDCOW_OPEN_FORCE_SHARE : 0), &img) < 0)
    goto out;
  status = 0;
  if (a.ncmds == 0)
    status = run_stdin (img);
  for (i = 0; i < a.ncmds && !quit_requested; i++)
    if (run_command (img, a.cmds[i]) < 0)
      status = 1;
  status = close_image (img, status);
 out:
  free (a.cmds);
  return status;
}

int main (int argc, char **argv)
{
  int status;

  progname = "addcow-io";
  status = run (argc, argv);
  if (finish_stdout () < 0)
    status = 1;
  return status;
}
