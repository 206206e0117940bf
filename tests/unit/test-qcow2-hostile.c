/*
 * test-qcow2-hostile.c - the qcow2 driver on hostile images.
 *
 * tests/qcow2/make-hostile.py makes them at test time from valid
 * qemu-img images, one field or entry broken at a time, and says for each
 * whether it must be refused, must read, or may do either.  For each:
 *   - open, then a block-status walk of the whole disk and a read of its
 *     first 8 MiB (in one call, so the threaded read, and in 4 KiB
 *     pieces); "refused" means that one of these failed;
 *   - a refusal's message starts with the image's name and a colon;
 *   - the largest single allocation made on the way is at most 4 MiB,
 *     whatever the image claims (malloc, calloc and realloc are wrapped at
 *     link time, as in test-hostile.c).
 * Crashes and leaks are the sanitizers' to find (the ASan build runs
 * this too); a hang is the test timeout's.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "test-qcow2-util.h"
#include "testutil.h"

void *__real_malloc (size_t n);
void *__real_calloc (size_t n, size_t m);
void *__real_realloc (void *p, size_t n);
void *__wrap_malloc (size_t n);
void *__wrap_calloc (size_t n, size_t m);
void *__wrap_realloc (void *p, size_t n);

static _Atomic size_t largest_alloc;

static void
note (size_t n)
{
  size_t cur = largest_alloc;

  while (n > cur && !__atomic_compare_exchange_n (&largest_alloc, &cur, n,
                                                  false, __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED))
    ;
}

void *
__wrap_malloc (size_t n)
{
  note (n);
  return __real_malloc (n);
}

void *
__wrap_calloc (size_t n, size_t m)
{
  note (n * m);
  return __real_calloc (n, m);
}

void *
__wrap_realloc (void *p, size_t n)
{
  note (n);
  return __real_realloc (p, n);
}

#define READ_MAX (UINT64_C (8) << 20)
#define ALLOC_MAX (UINT64_C (4) << 20)

/* Open NAME, walk and read it; 0 or the first error (message set). */
static int
exercise (const char *name, uint8_t *buf)
{
  struct q2_ctx c;
  struct layer *l;
  uint64_t off = 0, n, runs = 0;
  int r;

  q2_ctx_init (&c);
  if ((r = qcow2_layer_open (name, 0, &c.open, &l)) < 0)
    return r;
  while (r == 0 && off < l->size) {
    struct q2_attr a;
    r = q2_chain_status (l, off, l->size - off, &a);
    off += a.len;
    ck_assert_uint_lt (++runs, 10000000);
  }
  n = min_u64 (l->size, READ_MAX);
  if (r == 0)
    r = q2_chain_read (l, buf, (size_t) n, 0);
  for (off = 0; r == 0 && off < n; off += 4096)
    r = q2_chain_read (l, buf, (size_t) min_u64 (4096, n - off), off);
  layer_close_chain (l);
  return r;
}

START_TEST (test_hostile)
{
  char *dir = tu_mkdtemp (), line[512];
  const char *src = getenv ("ADDCOW_SOURCE_DIR");
  uint8_t *buf = malloc (READ_MAX);
  unsigned count = 0, refused = 0;
  FILE *f;

  ck_assert_ptr_nonnull (src);
  q2_sh ("python3 %s/tests/qcow2/make-hostile.py %s", src, dir);
  ck_assert_int_eq (chdir (dir), 0);
  f = fopen ("expect", "r");
  ck_assert_ptr_nonnull (f);
  while (fgets (line, sizeof line, f)) {
    char name[256], verdict[16], prefix[300];
    int r;
    ck_assert_int_eq (sscanf (line, "%255s %15s", name, verdict), 2);
    largest_alloc = 0;
    r = exercise (name, buf);
    count++;
    if (r < 0) {
      refused++;
      snprintf (prefix, sizeof prefix, "%s: ", name);
      ck_assert_msg (strncmp (addcow_get_error (), prefix,
                              strlen (prefix)) == 0,
                     "%s: message does not name the image: %s", name,
                     addcow_get_error ());
    }
    if (strcmp (verdict, "refuse") == 0)
      ck_assert_msg (r < 0, "%s: accepted, should be refused", name);
    else if (strcmp (verdict, "read") == 0)
      ck_assert_msg (r == 0, "%s: refused: %s", name, addcow_get_error ());
    ck_assert_msg (largest_alloc <= ALLOC_MAX, "%s: allocated %zu bytes",
                   name, (size_t) largest_alloc);
    if (getenv ("Q2_VERBOSE"))
      printf ("%-40s %-6s %s\n", name, verdict,
              r < 0 ? addcow_get_error () : "read");
  }
  fclose (f);
  ck_assert_uint_ge (count, 40);
  ck_assert_uint_ge (refused, 40);
  ck_assert_int_eq (chdir (".."), 0);
  tu_rmtree (dir);
  free (dir);
  free (buf);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("qcow2-hostile");
  TCase *tc = tcase_create ("hostile");

  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_hostile);
  suite_add_tcase (s, tc);
  return tu_run (s);
}
