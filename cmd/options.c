/*
 * options.c - command-line parsing shared by addcow-img and addcow-io.
 *
 * Owns the wording of usage errors and the size syntax.  Sizes follow
 * qemu 7.2's qemu_strtosz exactly, so that scripts written for qemu-img
 * work unchanged:
 *   - a decimal integer (leading blanks and '+' allowed, '-' never);
 *   - "0x"/"0X" hex, without a fraction (a suffix is accepted with a
 *     deprecation warning, as qemu does);
 *   - a decimal fraction, which then needs a suffix other than 'b';
 *   - one optional suffix b/B (bytes) k/K m/M g/G t/T p/P e/E (powers of
 *     1024); the fraction is scaled exactly and rounded half up.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <addcow.h>

#include "options.h"

const char *progname = "addcow-img";

static void vmessage (const char *prefix, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

static void vmessage (const char *prefix, const char *fmt, va_list ap)
{
  fprintf (stderr, "%s: %s", progname, prefix);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
}

void error_msg (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage ("", fmt, ap);
  va_end (ap);
}

void warning_msg (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage ("warning: ", fmt, ap);
  va_end (ap);
}

int usage_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vmessage ("", fmt, ap);
  va_end (ap);
  fprintf (stderr, "Try '%s --help' for more information\n", progname);
  return EXIT_USAGE;
}

int getopt_error (int c, char **argv)
{
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  char opt[3] = { '-', (char) optopt, '\0' };
  const char *name = arg;

  /* A long option is named by its argument; a short one by optopt, as
   * argv[optind - 1] is not it inside a cluster like "-qZ". */
  if (strncmp (arg, "--", 2) != 0 && optopt > 0 && optopt < 128)
    name = opt;
  if (c == ':')
    return usage_error ("missing argument for option '%s'", name);
  return usage_error ("unrecognized option '%s'", name);
}

/* 1024^n for a suffix letter, or 0 if C is not a suffix. */
static uint64_t suffix_multiplier (char c)
{
  switch (c) {
  case 'b': case 'B': return 1;
  case 'k': case 'K': return UINT64_C(1) << 10;
  case 'm': case 'M': return UINT64_C(1) << 20;
  case 'g': case 'G': return UINT64_C(1) << 30;
  case 't': case 'T': return UINT64_C(1) << 40;
  case 'p': case 'P': return UINT64_C(1) << 50;
  case 'e': case 'E': return UINT64_C(1) << 60;
  default: return 0;
  }
}

/* Full 64x64 -> 128 bit product. */
static void mul_64_128 (uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
  uint64_t a_lo = (uint32_t) a, a_hi = a >> 32;
  uint64_t b_lo = (uint32_t) b, b_hi = b >> 32;
  uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi;
  uint64_t hl = a_hi * b_lo, hh = a_hi * b_hi;
  uint64_t mid = (ll >> 32) + (uint32_t) lh + (uint32_t) hl;

  *lo = (mid << 32) | (uint32_t) ll;
  *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* VAL + FRAC/2^64 (a 64.64 fixed-point number) times MUL, rounded half
 * up.  Returns -ERANGE if the result does not fit 64 bits. */
static int scale (uint64_t val, uint64_t frac, uint64_t mul, uint64_t *out)
{
  uint64_t hi, lo, fhi, flo, sum;

  mul_64_128 (val, mul, &hi, &lo);
  mul_64_128 (frac, mul, &fhi, &flo);
  sum = lo + fhi;
  hi += sum < lo;
  lo = sum;
  sum = lo + (flo >> 63);
  hi += sum < lo;
  if (hi != 0)
    return -ERANGE;
  *out = sum;
  return 0;
}

/* The fraction starting at the '.' in F, as 64.64 fixed point.  *END is
 * set past what was consumed; -EINVAL for an exponent. */
static int parse_fraction (const char *f, const char **end, uint64_t *frac)
{
  char *e;
  double d;

  errno = 0;
  d = strtod (f, &e);
  if (e == f || errno != 0) {
    /* Not a number after all ("1." or "1.k"): skip the dot only. */
    *end = f + 1;
    *frac = 0;
    return 0;
  }
  if (memchr (f, 'e', (size_t) (e - f)) || memchr (f, 'E', (size_t) (e - f)))
    return -EINVAL;
  *end = e;
  if (d >= 1.0)
    *frac = UINT64_MAX;
  else
    *frac = (uint64_t) (d * 18446744073709551616.0);
  return 0;
}

/* The integer part: decimal, or hex after "0x".  Sets *HEX. */
static int parse_integer (const char *s, const char **end, uint64_t *val,
                          bool *hex)
{
  unsigned long long v;
  char *e;

  errno = 0;
  v = strtoull (s, &e, 10);
  if (e == s)
    return -EINVAL;
  if (memchr (s, '-', (size_t) (e - s)))
    return -EINVAL;
  if (errno == ERANGE)
    return -ERANGE;
  *hex = false;
  if (v == 0 && (*e == 'x' || *e == 'X')) {
    errno = 0;
    v = strtoull (s, &e, 16);
    if (errno == ERANGE)
      return -ERANGE;
    *hex = true;
  }
  *val = v;
  *end = e;
  return 0;
}

int parse_size (const char *s, uint64_t *value)
{
  const char *end;
  uint64_t val, frac = 0, mul;
  bool hex;
  int r;

  r = parse_integer (s, &end, &val, &hex);
  if (r < 0)
    return r;
  if (*end == '.') {
    if (hex)
      return -EINVAL;
    r = parse_fraction (end, &end, &frac);
    if (r < 0)
      return r;
  }
  mul = suffix_multiplier (*end);
  if (mul != 0) {
    if (hex)
      warning_msg ("Using a multiplier suffix on hex numbers is deprecated: %s",
                   s);
    end++;
  }
  else
    mul = 1;
  if (*end != '\0')
    return -EINVAL;
  if (mul == 1) {
    if (frac != 0)
      return -EINVAL;     /* a fraction needs a scale */
    *value = val;
    return 0;
  }
  return scale (val, frac, mul, value);
}

int parse_size_arg (const char *what, const char *s, uint64_t *value)
{
  int r = parse_size (s, value);

  if (r < 0 && r != -ERANGE) {
    error_msg ("Invalid %s specified. You may use k, M, G, T, P or E "
               "suffixes for", what);
    error_msg ("kilobytes, megabytes, gigabytes, terabytes, petabytes and "
               "exabytes.");
    return -1;
  }
  if (r == -ERANGE || *value > INT64_MAX) {
    error_msg ("Invalid %s specified. Must be between 0 and %lld.", what,
               (long long) INT64_MAX);
    return -1;
  }
  return 0;
}

int parse_output_format (const char *arg, enum output_format *fmt)
{
  if (strcmp (arg, "human") == 0)
    *fmt = OUTPUT_HUMAN;
  else if (strcmp (arg, "json") == 0)
    *fmt = OUTPUT_JSON;
  else {
    error_msg ("--output must be used with human or json as argument.");
    return -1;
  }
  return 0;
}

int check_image_format (const char *fmt, const char *filename)
{
  if (fmt == NULL || strcmp (fmt, "add-cow") == 0)
    return 0;
  error_msg ("%s: unsupported format '%s'", filename, fmt);
  return -1;
}

int image_operand (int argc, char **argv, const char *format,
                   const char **filename)
{
  if (optind != argc - 1)
    return usage_error ("Expecting one image file name");
  *filename = argv[optind];
  return check_image_format (format, *filename) < 0 ? 1 : -1;
}

int image_operand_or_raw (int argc, char **argv, const char *format,
                          const char **filename)
{
  if (format && (strcmp (format, "raw") == 0
                 || strcmp (format, "qcow2") == 0))
    format = NULL;
  return image_operand (argc, argv, format, filename);
}

int check_backing_format (const char *fmt, const char *filename)
{
  if (fmt == NULL || addcow_format_supported (fmt))
    return 0;
  error_msg ("%s: unsupported backing format '%s'", filename, fmt);
  return -1;
}

int parse_cache_mode (const char *name, bool source, enum addcow_cache *mode)
{
  static const struct { const char *name; enum addcow_cache mode; } modes[] = {
    { "none", ADDCOW_CACHE_NONE }, { "off", ADDCOW_CACHE_NONE },
    { "directsync", ADDCOW_CACHE_DIRECTSYNC },
    { "writeback", ADDCOW_CACHE_WRITEBACK },
    { "writethrough", ADDCOW_CACHE_WRITETHROUGH },
    { "unsafe", ADDCOW_CACHE_UNSAFE },
  };
  size_t i;

  for (i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp (name, modes[i].name) == 0) {
      *mode = modes[i].mode;
      return 0;
    }
  error_msg ("Invalid %scache option: %s", source ? "source " : "", name);
  return -1;
}

int unsupported_option (const char *option)
{
  error_msg ("%s is not supported for add-cow images", option);
  return 1;
}

bool round_up_512 (uint64_t *value)
{
  if (*value > UINT64_MAX - 511)
    return false;
  *value = (*value + 511) & ~UINT64_C(511);
  return true;
}

int options_append (char **options, const char *arg)
{
  size_t old = *options ? strlen (*options) : 0;
  char *p = realloc (*options, old + strlen (arg) + 2);

  if (p == NULL) {
    error_msg ("out of memory");
    return -1;
  }
  if (old)
    p[old++] = ',';
  strcpy (p + old, arg);
  *options = p;
  return 0;
}

int check_any_format (const char *fmt, const char *filename)
{
  if (fmt == NULL || addcow_format_supported (fmt))
    return 0;
  error_msg ("%s: unsupported format '%s'", filename, fmt);
  return -1;
}
