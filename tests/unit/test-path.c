/*
 * test-path.c - where stored names point (lib/util/path.c, spec section 3):
 * relative names against the add-cow file's directory, never the current
 * directory; names are plain paths, never protocols or JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static void
assert_resolves (const char *base, const char *name, const char *expect)
{
  char *r = path_resolve (base, name);

  ck_assert_ptr_nonnull (r);
  ck_assert_str_eq (r, expect);
  free (r);
}

START_TEST (test_relative_in_dir)
{
  assert_resolves ("dir/x.add-cow", "y.raw", "dir/y.raw");
  assert_resolves ("a/b/c/x.add-cow", "sub/y.raw", "a/b/c/sub/y.raw");
  assert_resolves ("dir/x.add-cow", "../y.raw", "dir/../y.raw");
}
END_TEST

START_TEST (test_relative_no_dir)
{
  assert_resolves ("x.add-cow", "y.raw", "y.raw");
  assert_resolves ("x.add-cow", "sub/y.raw", "sub/y.raw");
}
END_TEST

START_TEST (test_absolute_base)
{
  assert_resolves ("/srv/vm/x.add-cow", "y.raw", "/srv/vm/y.raw");
  assert_resolves ("/x.add-cow", "y.raw", "/y.raw");
}
END_TEST

START_TEST (test_absolute_name)
{
  assert_resolves ("dir/x.add-cow", "/images/base.img", "/images/base.img");
  assert_resolves ("x.add-cow", "/b", "/b");
}
END_TEST

START_TEST (test_protocol_like_names)
{
  assert_resolves ("dir/x.add-cow", "nbd:foo", "dir/nbd:foo");
  assert_resolves ("dir/x.add-cow", "json:{\"file\":{\"driver\":\"nbd\"}}",
                   "dir/json:{\"file\":{\"driver\":\"nbd\"}}");
  assert_resolves ("x.add-cow", "file:///etc/passwd", "file:///etc/passwd");
}
END_TEST

/* Through the API: a protocol-like backing name and image name are files
 * next to the add-cow file, read from another current directory. */
START_TEST (test_protocol_names_are_files)
{
  char *dir = tu_mkdtemp ();
  char *backing = tu_join (dir, "nbd:foo");
  char *image = tu_join (dir, "json:{\"driver\":\"raw\"}");
  char *meta = tu_join (dir, "x.add-cow");
  uint8_t got[8192], want[8192];
  struct addcow *img;

  tu_make_file (backing, 8192, 7);
  tu_create (meta, "json:{\"driver\":\"raw\"}", "nbd:foo", "raw", 4096, 0);
  ck_assert_int_eq (chdir ("/"), 0);
  img = tu_open (meta, false);
  ck_assert_str_eq (addcow_get_backing_name (img), "nbd:foo");
  ck_assert_str_eq (addcow_get_backing_path (img), backing);
  ck_assert_str_eq (addcow_get_image_path (img), image);
  ck_assert_str_eq (addcow_get_backing_format (img), "raw");
  ck_assert_uint_eq (addcow_get_virtual_size (img), 8192);
  ck_assert_int_eq (addcow_pread (img, got, sizeof got, 0), 0);
  tu_fill (want, sizeof want, 7, 0);
  ck_assert_mem_eq (got, want, sizeof got);
  addcow_close (img);
  ck_assert_uint_eq (tu_file_size (image), 8192);
  tu_rmtree (dir);
  free (backing); free (image); free (meta); free (dir);
}
END_TEST

/* A relative name never resolves against the current directory, even when
 * a file of that name is there. */
START_TEST (test_not_against_cwd)
{
  char *dir = tu_mkdtemp (), *other = tu_mkdtemp ();
  char *sub = tu_join (dir, "sub");
  char *meta = tu_join (dir, "sub/x.add-cow");
  char *backing = tu_join (dir, "sub/base.raw");
  char *decoy = tu_join (other, "base.raw");
  uint8_t got[4096], want[4096];
  struct addcow *img;

  ck_assert_int_eq (mkdir (sub, 0755), 0);
  tu_make_file (backing, 4096, 1);
  tu_make_file (decoy, 4096, 2);
  ck_assert_int_eq (chdir (dir), 0);
  tu_create ("sub/x.add-cow", NULL, "base.raw", "raw", 4096, 0);
  ck_assert_int_eq (access (meta, F_OK), 0);
  ck_assert_int_eq (access ("sub/x.raw", F_OK), 0); /* default image name */
  ck_assert_int_eq (chdir (other), 0);
  img = tu_open (meta, false);
  ck_assert_str_eq (addcow_get_image_name (img), "x.raw");
  ck_assert_int_eq (addcow_pread (img, got, sizeof got, 0), 0);
  tu_fill (want, sizeof want, 1, 0);
  ck_assert_mem_eq (got, want, sizeof got);
  addcow_close (img);

  /* Opened by a relative path with a directory part. */
  ck_assert_int_eq (chdir (dir), 0);
  img = tu_open ("sub/x.add-cow", false);
  ck_assert_str_eq (addcow_get_backing_path (img), "sub/base.raw");
  ck_assert_str_eq (addcow_get_image_path (img), "sub/x.raw");
  addcow_close (img);
  /* And by a bare name from its own directory. */
  ck_assert_int_eq (chdir (sub), 0);
  img = tu_open ("x.add-cow", false);
  ck_assert_str_eq (addcow_get_backing_path (img), "base.raw");
  addcow_close (img);
  tu_rmtree (dir);
  tu_rmtree (other);
  free (sub); free (meta); free (backing); free (decoy);
  free (dir); free (other);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("path");
  TCase *tc = tcase_create ("path");

  tcase_add_test (tc, test_relative_in_dir);
  tcase_add_test (tc, test_relative_no_dir);
  tcase_add_test (tc, test_absolute_base);
  tcase_add_test (tc, test_absolute_name);
  tcase_add_test (tc, test_protocol_like_names);
  tcase_add_test (tc, test_protocol_names_are_files);
  tcase_add_test (tc, test_not_against_cwd);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
