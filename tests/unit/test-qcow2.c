/*
 * test-qcow2.c - the qcow2 driver against qemu-img, image by image.
 *
 * Every image of the matrix is made here by qemu-img and qemu-io (v2 and
 * v3, cluster sizes 512 B to 2 MiB, deflate and zstd compression, extended
 * L2 entries, external data files, zero and discarded clusters, snapshots,
 * backing chains).  For each:
 *   - the disk read through the driver (and its backing layers), in one
 *     read per run (so the threaded read) and in odd small pieces (so
 *     partial clusters), equals `qemu-img convert -O raw` byte for byte;
 *   - every block_status run agrees with `qemu-img map --output=json`
 *     (present, data, zero, depth), and a data run kept in a file holds
 *     the disk's bytes at the offset it names.
 * Then the refusals, each with its exact message.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/checked.h"
#include "test-qcow2-util.h"
#include "testutil.h"

#define MiB (UINT64_C (1) << 20)

/* Writes that reach every kind of cluster of an 8 MiB disk. */
#define WRITES \
  "-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3k' " \
  "-c 'write -z 300k 130k' -c 'write -P 0x33 1M 1M' " \
  "-c 'discard 1280k 256k' -c 'write -P 0x44 3M 5k' " \
  "-c 'write -P 0x55 4608k 512' -c 'write -P 0x99 2560k 128k' " \
  "-c 'write -z 2560k 64k' -c 'write -z 5M 1M' -c 'write -P 0x66 7M 1M'"

/* A raw disk of mixed data: patterns (compressible), random bytes
 * (not: qemu stores those clusters uncompressed), zeros. */
#define MIXED_RAW \
  "qemu-img create -q -f raw src.raw 8M && " \
  "qemu-io -f raw " WRITES " src.raw && " \
  "dd if=/dev/urandom of=src.raw bs=64k seek=24 count=8 conv=notrunc " \
  "status=none && " \
  "dd if=/dev/urandom of=src.raw bs=4k seek=1500 count=3 conv=notrunc " \
  "status=none"

struct image_case {
  const char *name;
  const char *make;             /* shell, in a fresh directory: makes
                                 * img.qcow2 (and whatever it needs) */
};

static const struct image_case cases[] = {
  { "v2-64k", "qemu-img create -q -f qcow2 -o compat=0.10 img.qcow2 8M && "
    "qemu-io " WRITES " img.qcow2" },
  { "v3-512", "qemu-img create -q -f qcow2 -o cluster_size=512 img.qcow2 8M"
    " && qemu-io " WRITES " img.qcow2" },
  { "v3-4k", "qemu-img create -q -f qcow2 -o cluster_size=4k img.qcow2 8M"
    " && qemu-io " WRITES " img.qcow2" },
  { "v3-64k", "qemu-img create -q -f qcow2 img.qcow2 8M && "
    "qemu-io " WRITES " img.qcow2" },
  { "v3-2M", "qemu-img create -q -f qcow2 -o cluster_size=2M img.qcow2 8M"
    " && qemu-io " WRITES " img.qcow2" },
  { "v3-odd-size", "qemu-img create -q -f qcow2 img.qcow2 8389120 && "
    "qemu-io " WRITES " -c 'write -P 0x77 8387584 1536' img.qcow2" },
  { "v2-512", "qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512"
    " img.qcow2 8M && qemu-io " WRITES " img.qcow2" },
  { "zlib-v2", MIXED_RAW " && qemu-img convert -c -O qcow2 -o compat=0.10 "
    "src.raw img.qcow2" },
  { "zlib-4k", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "cluster_size=4k,compression_type=zlib src.raw img.qcow2" },
  { "zlib-64k", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "compression_type=zlib src.raw img.qcow2" },
  { "zstd-512", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "cluster_size=512,compression_type=zstd src.raw img.qcow2" },
  { "zstd-64k", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "compression_type=zstd src.raw img.qcow2" },
  { "zstd-2M", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "cluster_size=2M,compression_type=zstd src.raw img.qcow2" },
  { "zstd-then-writes", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "compression_type=zstd src.raw img.qcow2 && qemu-io "
    "-c 'write -P 0x12 64k 64k' -c 'write -z 1M 64k' -c 'discard 3M 64k' "
    "img.qcow2" },
  { "extl2-64k", "qemu-img create -q -f qcow2 -o extended_l2=on img.qcow2 8M"
    " && qemu-io " WRITES " -c 'write -P 0x77 6146k 2k' "
    "-c 'write -z 6152k 4k' -c 'write -P 0x78 6160k 10k' "
    "-c 'discard 6162k 2k' img.qcow2" },
  { "extl2-2M", "qemu-img create -q -f qcow2 -o extended_l2=on,"
    "cluster_size=2M img.qcow2 8M && qemu-io " WRITES " img.qcow2" },
  { "extl2-zstd", MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "extended_l2=on,compression_type=zstd src.raw img.qcow2" },
  { "extl2-over-raw", "dd if=/dev/urandom of=base.raw bs=1M count=8 "
    "status=none && qemu-img create -q -f qcow2 -o extended_l2=on "
    "-b base.raw -F raw img.qcow2 && qemu-io -c 'write -P 1 6k 2k' "
    "-c 'write -z 64k 6k' -c 'write -P 2 1M 130k' -c 'write -z 2M 64k' "
    "img.qcow2" },
  { "data-file", "qemu-img create -q -f qcow2 -o data_file=img.data "
    "img.qcow2 8M && qemu-io " WRITES " img.qcow2" },
  { "data-file-raw", "qemu-img create -q -f qcow2 -o data_file=img.data,"
    "data_file_raw=on img.qcow2 8M && qemu-io " WRITES " img.qcow2" },
  { "data-file-over-raw", "dd if=/dev/urandom of=base.raw bs=1M count=8 "
    "status=none && qemu-img create -q -f qcow2 -o data_file=img.data "
    "-b base.raw -F raw img.qcow2 && qemu-io " WRITES " img.qcow2" },
  { "snapshot", "qemu-img create -q -f qcow2 img.qcow2 8M && qemu-io "
    "-c 'write -P 0x31 0 1M' img.qcow2 && qemu-img snapshot -c s1 img.qcow2"
    " && qemu-io " WRITES " img.qcow2" },
  { "lazy-refcounts", "qemu-img create -q -f qcow2 -o lazy_refcounts=on "
    "img.qcow2 8M && qemu-io " WRITES " img.qcow2" },
  { "chain", "dd if=/dev/urandom of=base.raw bs=1M count=8 status=none && "
    "qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
    "qemu-io -c 'write -P 0x21 64k 128k' -c 'write -z 1M 1M' "
    "-c 'write -P 0x22 6M 70k' mid.qcow2 && "
    "qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 "
    "img.qcow2 && qemu-io -c 'write -P 0x31 100k 8k' "
    "-c 'write -z 6M 4k' -c 'discard 6100k 16k' -c 'write -P 0x32 1040k 4k'"
    " img.qcow2" },
  { "chain-compressed", "dd if=/dev/urandom of=base.raw bs=1M count=8 "
    "status=none && " MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
    "compression_type=zstd src.raw mid.qcow2 && "
    "qemu-img rebase -u -b base.raw -F raw mid.qcow2 && "
    "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 img.qcow2 && "
    "qemu-io -c 'write -P 0x31 100k 8k' -c 'write -z 1536k 64k' "
    "img.qcow2" },
};

#define NCASES (sizeof cases / sizeof cases[0])

static char *dir;

static void
enter_case (const char *name)
{
  char *d = tu_mkdtemp ();
  (void) name;
  ck_assert_int_eq (chdir (d), 0);
  dir = d;
}

static void
leave_case (void)
{
  ck_assert_int_eq (chdir (".."), 0);
  tu_rmtree (dir);
  free (dir);
}

static struct layer *
open_ok (struct q2_ctx *c, const char *path)
{
  struct layer *l;

  q2_ctx_init (c);
  if (qcow2_layer_open (path, 0, &c->open, &l) < 0)
    ck_abort_msg ("open %s: %s", path, addcow_get_error ());
  return l;
}

/* Every run of [start, start + len) has the attributes qemu reports. */
static void
check_extent (struct layer *top, uint64_t start, uint64_t len, json_t *e)
{
  bool present = json_is_true (json_object_get (e, "present"));
  bool data = json_is_true (json_object_get (e, "data"));
  bool zero = json_is_true (json_object_get (e, "zero"));
  unsigned depth = json_integer_value (json_object_get (e, "depth"));
  uint64_t off = start;

  while (off < start + len) {
    struct q2_attr a;
    ck_assert_int_eq (q2_chain_status (top, off, start + len - off, &a), 0);
    if (a.present != present || a.data != data || a.zero != zero
        || a.depth != depth)
      ck_abort_msg ("at 0x%llx: ours present %d data %d zero %d depth %u, "
                    "qemu's %d %d %d %u", (unsigned long long) off,
                    a.present, a.data, a.zero, a.depth, present, data, zero,
                    depth);
    off += a.len;
  }
}

/* The file runs of the top layer: their bytes are the disk's. */
static void
check_file_runs (struct layer *top, const uint8_t *ref)
{
  uint64_t off = 0;
  uint8_t *buf = malloc (64 * 1024);

  while (off < top->size) {
    struct layer_run run;
    ck_assert_int_eq (top->ops->block_status (top, off, top->size - off,
                                              &run), 0);
    if (run.kind == RUN_DATA && run.fd >= 0) {
      size_t n = (size_t) min_u64 (run.len, 64 * 1024);
      ck_assert_int_eq (pread (run.fd, buf, n, (off_t) run.file_offset),
                        (ssize_t) n);
      ck_assert_int_eq (memcmp (buf, ref + off, n), 0);
      ck_assert_ptr_nonnull (run.filename);
    }
    off += run.len;
  }
  free (buf);
}

static void
check_map (struct layer *top)
{
  json_error_t jerr;
  json_t *map, *e;
  size_t i;
  uint64_t covered = 0;

  q2_sh ("qemu-img map --output=json img.qcow2 > map.json");
  map = json_load_file ("map.json", 0, &jerr);
  ck_assert_msg (map && json_is_array (map), "map.json: %s", jerr.text);
  json_array_foreach (map, i, e) {
    uint64_t start = json_integer_value (json_object_get (e, "start"));
    uint64_t len = json_integer_value (json_object_get (e, "length"));
    ck_assert_uint_eq (start, covered);
    check_extent (top, start, len, e);
    covered += len;
  }
  ck_assert_uint_eq (covered, top->size);
  json_decref (map);
}

START_TEST (test_matches_qemu)
{
  const struct image_case *ic = &cases[_i];
  struct q2_ctx c;
  struct layer *top;
  uint8_t *ref, *ours;
  size_t reflen;

  enter_case (ic->name);
  q2_sh ("%s", ic->make);
  q2_sh ("qemu-img convert -O raw img.qcow2 ref.raw");
  ref = tu_read_file ("ref.raw", &reflen);
  top = open_ok (&c, "img.qcow2");
  ck_assert_uint_eq (top->size, reflen);
  ck_assert_str_eq (top->ops->format, "qcow2");

  ours = q2_read_all (top, 0);
  ck_assert_msg (ours, "%s: %s", ic->name, addcow_get_error ());
  ck_assert_msg (memcmp (ours, ref, reflen) == 0, "%s: bytes differ",
                 ic->name);
  free (ours);
  ours = q2_read_all (top, 3584);
  ck_assert_msg (ours, "%s: %s", ic->name, addcow_get_error ());
  ck_assert_msg (memcmp (ours, ref, reflen) == 0, "%s: bytes differ in "
                 "small reads", ic->name);
  free (ours);

  check_map (top);
  check_file_runs (top, ref);
  ck_assert_int_eq (layer_close_chain (top), 0);
  free (ref);
  leave_case ();
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

static void
make_plain (void)
{
  q2_sh ("qemu-img create -q -f qcow2 img.qcow2 1M && "
         "qemu-io -c 'write -P 1 0 64k' img.qcow2");
}

static void
set_be64 (const char *path, uint64_t off, uint64_t v)
{
  uint8_t b[8];
  int i;

  for (i = 0; i < 8; i++)
    b[i] = (uint8_t) (v >> (56 - 8 * i));
  tu_pwrite (path, b, 8, off);
}

static void
set_be32 (const char *path, uint64_t off, uint32_t v)
{
  uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
  tu_pwrite (path, b, 4, off);
}

static void
assert_refused (const char *path, const char *msg)
{
  struct q2_ctx c;
  struct layer *l = (struct layer *) 1;

  q2_ctx_init (&c);
  ck_assert_int_lt (qcow2_layer_open (path, 0, &c.open, &l), 0);
  ck_assert_ptr_null (l);
  ck_assert_str_eq (addcow_get_error (), msg);
}

START_TEST (test_refuses_corrupt_bit)
{
  enter_case ("corrupt");
  make_plain ();
  set_be64 ("img.qcow2", 72, 2);
  assert_refused ("img.qcow2", "img.qcow2: the image is marked corrupt "
                  "(repair it with 'qemu-img check -r all')");
  leave_case ();
}
END_TEST

START_TEST (test_refuses_unknown_incompatible)
{
  enter_case ("incompat");
  make_plain ();
  set_be64 ("img.qcow2", 72, UINT64_C (1) << 40 | 1);
  assert_refused ("img.qcow2", "img.qcow2: unsupported qcow2 incompatible "
                  "features 0x10000000000");
  leave_case ();
}
END_TEST

START_TEST (test_refuses_encryption)
{
  enter_case ("luks");
  q2_sh ("qemu-img create -q --object secret,id=s0,data=123456 -f qcow2 "
         "-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 "
         "img.qcow2 1M");
  assert_refused ("img.qcow2", "img.qcow2: encrypted qcow2 images are not "
                  "supported (crypt_method 2)");
  make_plain ();
  set_be32 ("img.qcow2", 32, 1);
  assert_refused ("img.qcow2", "img.qcow2: encrypted qcow2 images are not "
                  "supported (crypt_method 1)");
  leave_case ();
}
END_TEST

START_TEST (test_refuses_backing_without_format)
{
  enter_case ("nofmt");
  q2_sh ("qemu-img create -q -f raw base.raw 1M && qemu-img create -q -f "
         "qcow2 -b base.raw -F raw img.qcow2");
  /* Turn the backing format extension into an unknown one. */
  set_be32 ("img.qcow2", 112, 0x12345678);
  assert_refused ("img.qcow2", "img.qcow2: backing file 'base.raw' has no "
                  "backing format (probing it is unsafe); record it with "
                  "'qemu-img rebase -u -b 'base.raw' -F FMT img.qcow2'");
  leave_case ();
}
END_TEST

START_TEST (test_refuses_not_qcow2)
{
  enter_case ("notqcow2");
  tu_make_file ("img.qcow2", 4096, 3);
  assert_refused ("img.qcow2", "img.qcow2: not a qcow2 image (bad magic)");
  leave_case ();
}
END_TEST

START_TEST (test_refuses_writable)
{
  struct q2_ctx c;
  struct layer *l;

  enter_case ("writable");
  make_plain ();
  q2_ctx_init (&c);
  c.open.writable = true;
  ck_assert_int_eq (qcow2_layer_open ("img.qcow2", 1, &c.open, &l), -EROFS);
  ck_assert_str_eq (addcow_get_error (), "img.qcow2: qcow2 images are "
                    "read-only here (this library does not write qcow2)");
  leave_case ();
}
END_TEST

/* The dirty bit (lazy refcounts left behind) does not stop a reader. */
START_TEST (test_reads_dirty)
{
  struct q2_ctx c;
  struct layer *l;
  uint8_t buf[512];

  enter_case ("dirty");
  q2_sh ("qemu-img create -q -f qcow2 -o lazy_refcounts=on img.qcow2 1M && "
         "qemu-io -c 'write -P 7 0 4k' img.qcow2");
  set_be64 ("img.qcow2", 72, 1);
  l = open_ok (&c, "img.qcow2");
  ck_assert_int_eq (l->ops->read (l, buf, sizeof buf, 0), 0);
  ck_assert_int_eq (buf[0], 7);
  ck_assert_int_eq (buf[511], 7);
  layer_close_chain (l);
  leave_case ();
}
END_TEST

/* ADDCOW_OPEN_TOLERATE_BACKING: a missing backing file does not fail the
 * open; what the image holds still reads, what needs the backing is -EIO
 * with the reason. */
START_TEST (test_tolerates_missing_backing)
{
  struct q2_ctx c;
  struct layer *l;
  struct layer_run run;
  uint8_t buf[512];

  enter_case ("tolerate");
  q2_sh ("qemu-img create -q -f qcow2 gone.qcow2 1M && qemu-img create -q "
         "-f qcow2 -b gone.qcow2 -F qcow2 img.qcow2 && qemu-io -c "
         "'write -P 7 0 64k' img.qcow2 && rm gone.qcow2");
  q2_ctx_init (&c);
  ck_assert_int_lt (qcow2_layer_open ("img.qcow2", 0, &c.open, &l), 0);
  q2_ctx_init (&c);             /* a fresh loop check */
  c.open.flags = ADDCOW_OPEN_TOLERATE_BACKING;
  ck_assert_int_eq (qcow2_layer_open ("img.qcow2", 0, &c.open, &l), 0);
  ck_assert_ptr_null (l->backing);
  ck_assert_str_eq (l->backing_name, "gone.qcow2");
  ck_assert_int_eq (l->ops->block_status (l, 0, 1 << 20, &run), 0);
  ck_assert_int_eq (run.kind, RUN_DATA);
  ck_assert_int_eq (l->ops->read (l, buf, sizeof buf, 0), 0);
  ck_assert_int_eq (buf[0], 7);
  ck_assert_int_eq (l->ops->block_status (l, 65536, 4096, &run), -EIO);
  ck_assert_str_eq (addcow_get_error (), "img.qcow2: could not open "
                    "backing file 'gone.qcow2': No such file or directory");
  layer_close_chain (l);
  leave_case ();
}
END_TEST

/* The same through the public API: a qcow2 top opened with
 * ADDCOW_OPEN_TOLERATE_BACKING tells why its backing is missing, as an
 * add-cow top does; with its backing there, no error. */
START_TEST (test_backing_error_public)
{
  struct addcow_open_opts opts = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;

  enter_case ("backing-error");
  q2_sh ("qemu-img create -q -f qcow2 gone.qcow2 1M && qemu-img create -q "
         "-f qcow2 -b gone.qcow2 -F qcow2 img.qcow2");
  opts.format = "qcow2";
  opts.flags = ADDCOW_OPEN_TOLERATE_BACKING;
  ck_assert_int_eq (addcow_open ("img.qcow2", &opts, &img), 0);
  ck_assert_ptr_null (addcow_get_backing_error (img));
  ck_assert_int_eq (addcow_close (img), 0);
  q2_sh ("rm gone.qcow2");
  ck_assert_int_eq (addcow_open ("img.qcow2", &opts, &img), 0);
  ck_assert_ptr_nonnull (addcow_get_backing_error (img));
  ck_assert_str_eq (addcow_get_backing_error (img), "img.qcow2: could not "
                    "open backing file 'gone.qcow2': No such file or "
                    "directory");
  ck_assert_int_eq (addcow_close (img), 0);
  leave_case ();
}
END_TEST

/* A backing chain that loops back to the image is refused. */
START_TEST (test_refuses_loop)
{
  enter_case ("loop");
  q2_sh ("qemu-img create -q -f qcow2 a.qcow2 1M && "
         "qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 img.qcow2 && "
         "qemu-img rebase -u -b img.qcow2 -F qcow2 a.qcow2");
  assert_refused ("img.qcow2", "a.qcow2: 'img.qcow2' is already part of "
                  "this backing chain (a loop)");
  leave_case ();
}
END_TEST

/* Another process writing the image holds it. */
START_TEST (test_lock)
{
  enter_case ("lock");
  make_plain ();
  q2_sh ("qemu-io -c 'sleep 5000' img.qcow2 >/dev/null 2>&1 & "
         "echo $! > qemu.pid; sleep 1");
  /* qemu-io writes it: refused in qemu-img's words for the same case. */
  assert_refused ("img.qcow2", "img.qcow2: Failed to get shared \"write\" "
                  "lock\nIs another process using the image [img.qcow2]?");
  q2_sh ("kill $(cat qemu.pid); "
         "while kill -0 $(cat qemu.pid) 2>/dev/null; do sleep 0.1; done");
  leave_case ();
}
END_TEST

/* ---- threads ----------------------------------------------------------- */

struct reader {
  pthread_t thread;
  struct layer *top;
  const uint8_t *ref;
  size_t chunk;
  bool ok;
};

static void *
reader_run (void *arg)
{
  struct reader *r = arg;
  uint8_t *ours = q2_read_all (r->top, r->chunk);

  r->ok = ours && memcmp (ours, r->ref, r->top->size) == 0;
  free (ours);
  return NULL;
}

/* Several threads read one layer at once (each long read on threads of
 * its own too) through its one table cache: all get the disk's bytes.
 * The ThreadSanitizer build runs this case. */
START_TEST (test_concurrent_reads)
{
  struct reader rd[4];
  size_t chunks[4] = { 0, 4096, 3 << 20, 65536 + 512 };
  struct q2_ctx c;
  struct layer *top;
  uint8_t *ref;
  size_t reflen;
  int i;

  enter_case ("threads");
  q2_sh (MIXED_RAW " && qemu-img convert -c -O qcow2 -o "
         "cluster_size=4k,compression_type=zstd src.raw img.qcow2");
  q2_sh ("qemu-img convert -O raw img.qcow2 ref.raw");
  ref = tu_read_file ("ref.raw", &reflen);
  top = open_ok (&c, "img.qcow2");
  for (i = 0; i < 4; i++) {
    rd[i] = (struct reader) { .top = top, .ref = ref, .chunk = chunks[i] };
    ck_assert_int_eq (pthread_create (&rd[i].thread, NULL, reader_run,
                                      &rd[i]), 0);
  }
  for (i = 0; i < 4; i++) {
    pthread_join (rd[i].thread, NULL);
    ck_assert_msg (rd[i].ok, "reader %d (chunk %zu) read wrong bytes", i,
                   chunks[i]);
  }
  layer_close_chain (top);
  free (ref);
  leave_case ();
}
END_TEST

static Suite *
qcow2_suite (void)
{
  Suite *s = suite_create ("qcow2");
  TCase *tc = tcase_create ("qemu");

  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_matches_qemu, 0, NCASES);
  suite_add_tcase (s, tc);
  tc = tcase_create ("refusals");
  tcase_set_timeout (tc, 120);          /* a LUKS header takes seconds */
  tcase_add_test (tc, test_refuses_corrupt_bit);
  tcase_add_test (tc, test_refuses_unknown_incompatible);
  tcase_add_test (tc, test_refuses_encryption);
  tcase_add_test (tc, test_refuses_backing_without_format);
  tcase_add_test (tc, test_refuses_not_qcow2);
  tcase_add_test (tc, test_refuses_writable);
  tcase_add_test (tc, test_reads_dirty);
  tcase_add_test (tc, test_tolerates_missing_backing);
  tcase_add_test (tc, test_backing_error_public);
  tcase_add_test (tc, test_refuses_loop);
  tcase_add_test (tc, test_lock);
  suite_add_tcase (s, tc);
  tc = tcase_create ("threads");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_concurrent_reads);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return tu_run (qcow2_suite ());
}
