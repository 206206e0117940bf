/*
 * test-create.c - addcow_create: the files it writes (header as a writer
 * places it, bitmap, padding), the image file it makes or keeps, and what
 * it refuses, without leaving files or descriptors behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static char *dir, *meta, *image, *base;

static void
setup (void)
{
  dir = tu_mkdtemp ();
  meta = tu_join (dir, "disk.add-cow");
  image = tu_join (dir, "disk.raw");
  base = tu_join (dir, "base.raw");
}

static void
teardown (void)
{
  tu_rmtree (dir);
  free (meta); free (image); free (base); free (dir);
}

static unsigned
count_entries (const char *d)
{
  DIR *dh = opendir (d);
  struct dirent *e;
  unsigned n = 0;

  ck_assert_ptr_nonnull (dh);
  while ((e = readdir (dh)))
    n += e->d_name[0] != '.';
  closedir (dh);
  return n;
}

static int
create (const char *backing, const char *fmt, uint64_t size, bool unopened)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;

  o.backing_name = backing;
  o.backing_format = fmt;
  o.size = size;
  o.no_backing_open = unopened;
  o.cluster_size = 4096;
  return addcow_create (meta, &o);
}

/* No backing: ALL_ALLOCATED, every bit set (the last byte partly), the
 * file padded to a whole cluster, check clean. */
START_TEST (test_no_backing)
{
  struct addcow_check_result res;
  struct addcow *img;
  size_t len;
  uint8_t *f;

  ck_assert_int_eq (create (NULL, NULL, 21 * 4096 - 5, false), 0);
  ck_assert_uint_eq (tu_file_size (image), 21 * 4096 - 5);
  f = tu_read_file (meta, &len);
  ck_assert_uint_eq (len, 4096 + 4096);
  ck_assert_mem_eq (f, "ACOW", 4);
  ck_assert_uint_eq (f[4096], 0xff);
  ck_assert_uint_eq (f[4097], 0xff);
  ck_assert_uint_eq (f[4098], 0x1f);            /* 21 clusters */
  ck_assert_uint_eq (f[4099], 0);
  free (f);
  img = tu_open (meta, false);
  ck_assert_uint_eq (addcow_get_compat_features (img),
                     ADDCOW_COMPAT_ALL_ALLOCATED);
  ck_assert_str_eq (addcow_get_image_name (img), "disk.raw");
  ck_assert_ptr_null (addcow_get_backing_name (img));
  addcow_close (img);
  ck_assert_int_eq (addcow_check (meta, NULL, &res), 0);
  ck_assert_uint_eq (res.corruptions + res.leaks, 0);
  ck_assert_uint_eq (res.allocated_clusters, 21);
}
END_TEST

/* An empty backing name means no backing file, as in rebase: never a
 * header with a backing format and no backing name. */
START_TEST (test_empty_backing_name)
{
  struct addcow *img;
  int r;

  r = create ("", "raw", 8192, true);
  ck_assert_msg (r == 0, "%s", addcow_get_error ());
  img = tu_open (meta, false);
  ck_assert_ptr_null (addcow_get_backing_name (img));
  ck_assert_uint_eq (addcow_get_compat_features (img),
                     ADDCOW_COMPAT_ALL_ALLOCATED);
  addcow_close (img);
  ck_assert_int_eq (unlink (meta), 0);
  ck_assert_int_eq (unlink (image), 0);
  r = create ("", NULL, 8192, false);
  ck_assert_msg (r == 0, "%s", addcow_get_error ());
  img = tu_open (meta, false);
  ck_assert_ptr_null (addcow_get_backing_name (img));
  addcow_close (img);
}
END_TEST

START_TEST (test_backing_header)
{
  size_t len;
  uint8_t *f;

  tu_make_file (base, 5 * 4096 + 1, 1);
  ck_assert_int_eq (create ("base.raw", NULL, 0, false), 0);  /* probed */
  ck_assert_uint_eq (tu_file_size (image), 5 * 4096 + 1);    /* its size */
  f = tu_read_file (meta, &len);
  ck_assert_uint_eq (len, 8192);
  ck_assert_mem_eq (f + 44, "raw\0", 4);
  ck_assert_mem_eq (f + 76, "base.rawdisk.raw", 16);         /* writers */
  ck_assert_uint_eq (f[4096], 0);
  free (f);
}
END_TEST

START_TEST (test_refuses_overwrite)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  char msg[512];

  ck_assert_int_eq (create (NULL, NULL, 4096, false), 0);
  ck_assert_int_eq (create (NULL, NULL, 4096, false), -EEXIST);
  snprintf (msg, sizeof msg, "%s: file exists (use --force to overwrite "
            "it)", meta);
  tu_assert_error (msg);
  o.overwrite = true;
  o.image_name = "disk.raw";
  ck_assert_int_eq (addcow_create (meta, &o), 0);  /* named: kept */
  ck_assert_uint_eq (tu_file_size (image), 4096);
}
END_TEST

/* A leftover image file of the default name is never taken silently for
 * the new disk: refused with a message that says what to do; named with
 * image_name it is adopted; with overwrite it is made anew (new size, no
 * old data). */
START_TEST (test_default_image_leftover)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  struct addcow *img;
  uint8_t buf[8192], zero[8192] = { 0 };
  char msg[1024];

  tu_make_file (image, 4096, 9);
  ck_assert_int_eq (create (NULL, NULL, 8192, false), -EEXIST);
  snprintf (msg, sizeof msg, "%s: image file '%s' exists already: name it "
            "with -o image_file=disk.raw to use its contents, or use "
            "--force to replace it", meta, image);
  tu_assert_error (msg);
  ck_assert_uint_eq (count_entries (dir), 1);
  ck_assert_uint_eq (tu_file_size (image), 4096);

  o.overwrite = true;
  o.size = 8192;
  o.cluster_size = 4096;
  ck_assert_msg (addcow_create (meta, &o) == 0, "%s", addcow_get_error ());
  ck_assert_uint_eq (tu_file_size (image), 8192);
  img = tu_open (meta, false);
  ck_assert_int_eq (addcow_pread (img, buf, sizeof buf, 0), 0);
  ck_assert_mem_eq (buf, zero, sizeof buf);
  addcow_close (img);
  ck_assert_uint_eq (count_entries (dir), 2);   /* no temporary left */
}
END_TEST

/* Size 0 is a size (as in qemu-img), not "take it from elsewhere". */
START_TEST (test_size_zero)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  struct addcow *img;

  tu_make_file (base, 3 * 4096, 1);
  o.size_set = true;
  o.backing_name = "base.raw";
  ck_assert_msg (addcow_create (meta, &o) == 0, "%s", addcow_get_error ());
  ck_assert_uint_eq (tu_file_size (image), 0);
  img = tu_open (meta, false);
  ck_assert_uint_eq (addcow_get_virtual_size (img), 0);
  addcow_close (img);
}
END_TEST

/* A backing format without a backing file is refused, as by qemu-img. */
START_TEST (test_format_without_backing)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  char msg[512];

  o.size = 4096;
  o.backing_format = "raw";
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
  snprintf (msg, sizeof msg, "%s: Backing format cannot be used without "
            "backing file", meta);
  tu_assert_error (msg);
  ck_assert_uint_eq (count_entries (dir), 0);
}
END_TEST

START_TEST (test_existing_image_size)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  char msg[512];

  tu_make_file (image, 3 * 4096, 9);
  o.image_name = "disk.raw";
  o.size = 4096;
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
  snprintf (msg, sizeof msg, "%s: image file '%s' is 12288 bytes, not the "
            "4096 asked for", meta, image);
  tu_assert_error (msg);
  ck_assert_uint_eq (count_entries (dir), 1);    /* nothing left behind */
  o.size = 0;
  o.size_set = true;                            /* 0 is a size too */
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
  o.size_set = false;
  ck_assert_int_eq (addcow_create (meta, &o), 0);
  ck_assert_uint_eq (tu_file_size (image), 3 * 4096);
}
END_TEST

START_TEST (test_bad_options)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  static const uint32_t bad[] = { 1, 2048, 3000, 4097, 4u << 20 };
  unsigned i;
  char msg[512];

  o.size = 4096;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.cluster_size = bad[i];
    ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
    snprintf (msg, sizeof msg, "%s: cluster size must be a power of two "
              "between 4k and 2M", meta);
    tu_assert_error (msg);
  }
  o.cluster_size = 0;
  o.image_format = "qcow2";
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
  o.image_format = NULL;
  o.backing_name = "base.raw";
  o.backing_format = "vmdk";
  ck_assert_int_eq (addcow_create (meta, &o), -ENOTSUP);
  o.backing_format = "raw";
  o.image_name = "base.raw";
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
  ck_assert_uint_eq (count_entries (dir), 0);
  o.version = 0;
  ck_assert_int_eq (addcow_create (meta, &o), -EINVAL);
}
END_TEST

/* A backing add-cow file that cannot be opened: refused, and neither
 * files nor descriptors are left behind. */
START_TEST (test_bad_addcow_backing)
{
  char *b = tu_join (dir, "b.add-cow");
  uint8_t junk[8192];
  unsigned fds;
  int r;

  memset (junk, 0, sizeof junk);
  memcpy (junk, "ACOW", 4);                     /* header_size 0 */
  tu_write_file (b, junk, sizeof junk);
  fds = count_entries ("/proc/self/fd");
  r = create ("b.add-cow", "add-cow", 0, false);
  ck_assert_int_eq (r, -EINVAL);
  tu_assert_error_has (b, "header_size 0", NULL);
  ck_assert_uint_eq (count_entries ("/proc/self/fd"), fds);
  ck_assert_uint_eq (count_entries (dir), 1);
  free (b);
}
END_TEST

/* --force replaces an add-cow file, never the image file or the backing
 * file the new header names: a FILENAME that is one of them (by any name)
 * is refused and the file keeps every byte. */
START_TEST (test_overwrite_refuses_own_files)
{
  struct addcow_create_opts o = ADDCOW_CREATE_OPTS_INIT;
  char *alias = tu_join (dir, "alias.raw");
  char *other = tu_join (dir, "other.raw");
  uint8_t *before, *after;
  size_t len, len2;

  tu_make_file (image, 4 * 4096, 7);
  tu_make_file (base, 4 * 4096, 8);
  ck_assert_int_eq (link (image, alias), 0);
  before = tu_read_file (image, &len);
  o.overwrite = true;
  o.cluster_size = 4096;
  o.image_name = "disk.raw";
  ck_assert_int_eq (addcow_create (image, &o), -EINVAL);
  tu_assert_error_has (image, "it is the image file 'disk.raw'", NULL);
  ck_assert_int_eq (addcow_create (alias, &o), -EINVAL);
  after = tu_read_file (image, &len2);
  ck_assert_uint_eq (len2, len);
  ck_assert_mem_eq (after, before, len);
  free (before);
  free (after);

  before = tu_read_file (base, &len);
  o.image_name = "other.raw";
  o.backing_name = "base.raw";
  ck_assert_int_eq (addcow_create (base, &o), -EINVAL);
  tu_assert_error_has (base, "is the backing file", NULL);
  o.no_backing_open = true;
  o.backing_format = "raw";
  o.size = 4096;
  ck_assert_int_eq (addcow_create (base, &o), -EINVAL);
  after = tu_read_file (base, &len2);
  ck_assert_uint_eq (len2, len);
  ck_assert_mem_eq (after, before, len);
  ck_assert_int_eq (access (other, F_OK), -1);   /* nothing made */
  free (before);
  free (after);
  free (alias);
  free (other);
}
END_TEST

/* With a backing file the bitmap is loaded at open, so create refuses a
 * disk whose bitmap would pass the in-memory limit, before making files. */
START_TEST (test_bitmap_too_large)
{
  char msg[512];

  tu_make_file (base, 4096, 3);
  /* 4 KiB clusters: 8 TiB + 1 cluster needs 256 MiB + 1 byte of bitmap. */
  ck_assert_int_eq (create ("base.raw", "raw",
                            (UINT64_C (8) << 40) + 8 * 4096, true), -EFBIG);
  snprintf (msg, sizeof msg, "%s: a 8796093054976-byte disk with 4096-byte "
            "clusters needs a bitmap larger than this implementation's "
            "256 MiB; use a larger cluster_size", meta);
  tu_assert_error (msg);
  ck_assert_uint_eq (count_entries (dir), 1);    /* only base.raw */
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("create");
  TCase *tc = tcase_create ("create");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_no_backing);
  tcase_add_test (tc, test_empty_backing_name);
  tcase_add_test (tc, test_backing_header);
  tcase_add_test (tc, test_refuses_overwrite);
  tcase_add_test (tc, test_existing_image_size);
  tcase_add_test (tc, test_default_image_leftover);
  tcase_add_test (tc, test_size_zero);
  tcase_add_test (tc, test_format_without_backing);
  tcase_add_test (tc, test_bad_options);
  tcase_add_test (tc, test_bad_addcow_backing);
  tcase_add_test (tc, test_overwrite_refuses_own_files);
  tcase_add_test (tc, test_bitmap_too_large);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (suite ());
}
