/*
 * img-info.c - addcow-img info: the header and the layers of an image.
 *
 * The information of one layer is built once as a JSON object, in the
 * member order qemu-img 7.2 prints (its QDict hash order), and the human
 * form is rendered from that object the way qemu renders ImageInfo.  The
 * image is opened without its backing chain, so that info works when the
 * backing file is missing or unusable (silently, as qemu-img: stderr
 * stays empty when info succeeds); --backing-chain opens the chain and fails on a missing layer.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct info_args {
  const char *format;
  const char *filename;
  enum output_format output;
  bool backing_chain;
  bool force_share;
};

static void info_help (void)
{
  printf ("usage: addcow-img info [-f FMT] [--output=human|json] "
          "[--backing-chain] [-U] FILE\n"
          "\n"
          "Show the header of the add-cow image FILE: sizes, names, formats,\n"
          "features and the number of allocated clusters.\n"
          "\n"
          "Options:\n"
          "  -f FMT                 add-cow, raw or qcow2 (default: probed)\n"
          "  --output=human|json    output format (default: human)\n"
          "  --backing-chain        show every layer of the chain, top first\n"
          "  -U, --force-share      open FILE without taking locks\n"
          "  -h, --help             display this help and exit\n");
}

/* Returns -1 to go on, else the exit status. */
static int parse_info_args (int argc, char **argv, struct info_args *a)
{
  enum { OPT_OUTPUT = 256, OPT_BACKING_CHAIN };
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "force-share", no_argument, NULL, 'U' },
    UNSUPPORTED_LONG_OPTIONS,
    { "output", required_argument, NULL, OPT_OUTPUT },
    { "backing-chain", no_argument, NULL, OPT_BACKING_CHAIN },
    { NULL, 0, NULL, 0 },
  };
  int c;

  while ((c = getopt_long (argc, argv, ":hf:U", long_options, NULL)) != -1) {
    switch (c) {
    case 'h': info_help (); return 0;
    case 'f': a->format = optarg; break;
    case 'U': a->force_share = true; break;
    UNSUPPORTED_CASES;
    case OPT_OUTPUT:
      if (parse_output_format (optarg, &a->output) < 0)
        return 1;
      break;
    case OPT_BACKING_CHAIN: a->backing_chain = true; break;
    default: return getopt_error (c, argv);
    }
  }
  return image_operand_or_raw (argc, argv, a->format, &a->filename);
}

static void set_int (json_t *obj, const char *key, uint64_t value)
{
  json_object_set_new (obj, key, json_integer ((json_int_t) value));
}

static void set_str (json_t *obj, const char *key, const char *value)
{
  json_object_set_new (obj, key, json_text (value));
}

/* format-specific.data of an add-cow layer. */
static json_t *addcow_specific (const struct addcow *img)
{
  json_t *data = json_object ();
  uint64_t compat = addcow_get_compat_features (img);

  set_str (data, "image-file", addcow_get_image_name (img));
  set_str (data, "full-image-filename", addcow_get_image_path (img));
  set_str (data, "image-file-format", addcow_get_image_format (img));
  set_int (data, "header-size", addcow_get_header_size (img));
  json_object_set_new (data, "all-allocated",
                       json_boolean (compat & ADDCOW_COMPAT_ALL_ALLOCATED));
  set_int (data, "allocated-clusters", addcow_get_allocated_clusters (img));
  set_int (data, "total-clusters", addcow_get_cluster_count (img));
  json_object_set_new (data, "features", json_uint (addcow_get_features (img)));
  json_object_set_new (data, "compat-features", json_uint (compat));
  return data;
}

/* One add-cow layer, members in qemu-img's order. */
static json_t *addcow_info (const struct addcow *img, const char *filename)
{
  const char *backing = addcow_get_backing_name (img);
  const char *backing_fmt = addcow_get_backing_format (img);
  const char *backing_path = addcow_get_backing_path (img);
  json_t *info = json_object (), *specific = json_object ();

  if (backing && backing_fmt && *backing_fmt)
    set_str (info, "backing-filename-format", backing_fmt);
  set_int (info, "virtual-size", addcow_get_virtual_size (img));
  set_str (info, "filename", filename);
  set_int (info, "cluster-size", addcow_get_cluster_size (img));
  set_str (info, "format", "add-cow");
  set_int (info, "actual-size", addcow_get_actual_size (img));
  set_str (specific, "type", "add-cow");
  json_object_set_new (specific, "data", addcow_specific (img));
  json_object_set_new (info, "format-specific", specific);
  if (backing && backing_path)
    set_str (info, "full-backing-filename", backing_path);
  if (backing)
    set_str (info, "backing-filename", backing);
  json_object_set_new (info, "dirty-flag", json_false ());
  return info;
}

/* qemu's path_combine: NAME as seen from the directory of BASE. */
static json_t *combined_path (const char *base, const char *name)
{
  const char *slash = strrchr (base, '/');
  json_t *path;
  char *buf;
  size_t dir;

  if (name[0] == '/' || slash == NULL)
    return json_text (name);
  dir = (size_t) (slash - base) + 1;
  buf = malloc (dir + strlen (name) + 1);
  if (buf == NULL)
    return json_text (name);
  memcpy (buf, base, dir);
  strcpy (buf + dir, name);
  path = json_text (buf);
  free (buf);
  return path;
}

/* format-specific of a qcow2 layer: qemu's ImageInfoSpecificQCow2, its
 * members in qemu's order (version 2 has no feature bits to show). */
static json_t *qcow2_specific (const struct addcow_qcow2_info *q)
{
  json_t *specific = json_object (), *data = json_object ();

  set_str (data, "compat", q->compat);
  set_str (data, "compression-type", q->compression_type);
  if (q->qcow2_version >= 3)
    json_object_set_new (data, "lazy-refcounts",
                         json_boolean (q->lazy_refcounts));
  set_int (data, "refcount-bits", q->refcount_bits);
  if (q->qcow2_version >= 3) {
    if (q->data_file)
      set_str (data, "data-file", q->data_file);
    if (q->data_file)
      json_object_set_new (data, "data-file-raw",
                           json_boolean (q->data_file_raw));
    json_object_set_new (data, "corrupt", json_boolean (q->corrupt));
    json_object_set_new (data, "extended-l2",
                         json_boolean (q->extended_l2));
  }
  set_str (specific, "type", "qcow2");
  json_object_set_new (specific, "data", data);
  return specific;
}

/* A layer of another format (raw, qcow2) of IMG's chain, as qemu-img
 * shows one.  Its actual size is that of its own file, as qemu-img counts
 * it (not of a qcow2's external data file). */
static json_t *layer_info (const struct addcow *img,
                           const struct addcow_layer_info *l)
{
  struct addcow_qcow2_info q = ADDCOW_QCOW2_INFO_INIT;
  bool qcow2 = strcmp (l->format, "qcow2") == 0
               && addcow_get_qcow2_info (img, l->depth, &q) == 0;
  json_t *info = json_object ();
  struct stat st;
  uint64_t actual = l->actual_size;

  if (stat (l->filename, &st) == 0)
    actual = (uint64_t) st.st_blocks * 512;

  if (l->backing_name && l->backing_format)
    set_str (info, "backing-filename-format", l->backing_format);
  set_int (info, "virtual-size", l->virtual_size);
  set_str (info, "filename", l->filename);
  if (l->cluster_size)
    set_int (info, "cluster-size", l->cluster_size);
  set_str (info, "format", l->format);
  set_int (info, "actual-size", actual);
  if (qcow2)
    json_object_set_new (info, "format-specific", qcow2_specific (&q));
  if (l->backing_name) {
    json_object_set_new (info, "full-backing-filename",
                         combined_path (l->filename, l->backing_name));
    set_str (info, "backing-filename", l->backing_name);
  }
  json_object_set_new (info, "dirty-flag", json_boolean (qcow2 && q.dirty));
  return info;
}

/* Layer DEPTH of IMG's chain; FILENAME names layer 0 as given. */
static json_t *any_layer_info (const struct addcow *img, unsigned depth,
                               const char *filename)
{
  struct addcow_layer_info l = ADDCOW_LAYER_INFO_INIT;

  if (addcow_get_layer (img, depth, &l) < 0)
    return NULL;
  if (depth == 0)
    l.filename = filename;
  if (l.image)
    return addcow_info (l.image, l.filename);
  return layer_info (img, &l);
}

static const char *get_str (const json_t *obj, const char *key)
{
  return json_string_value (json_object_get (obj, key));
}

static uint64_t get_int (const json_t *obj, const char *key)
{
  return (uint64_t) json_integer_value (json_object_get (obj, key));
}

/* qemu's bdrv_image_info_dump. */
static void print_human (const json_t *info)
{
  const char *backing = get_str (info, "backing-filename");
  const char *full = get_str (info, "full-backing-filename");
  const json_t *specific = json_object_get (info, "format-specific");
  char size[64];

  format_size (get_int (info, "virtual-size"), size, sizeof size);
  printf ("image: %s\nfile format: %s\nvirtual size: %s (%llu bytes)\n",
          get_str (info, "filename"), get_str (info, "format"), size,
          (unsigned long long) get_int (info, "virtual-size"));
  if (json_object_get (info, "actual-size")) {
    format_size (get_int (info, "actual-size"), size, sizeof size);
    printf ("disk size: %s\n", size);
  }
  else
    printf ("disk size: unavailable\n");
  if (json_object_get (info, "cluster-size"))
    printf ("cluster_size: %llu\n",
            (unsigned long long) get_int (info, "cluster-size"));
  if (json_is_true (json_object_get (info, "dirty-flag")))
    printf ("cleanly shut down: no\n");
  if (backing) {
    printf ("backing file: %s", backing);
    if (full == NULL)
      printf (" (cannot determine actual path)");
    else if (strcmp (backing, full) != 0)
      printf (" (actual path: %s)", full);
    printf ("\n");
    if (get_str (info, "backing-filename-format"))
      printf ("backing file format: %s\n",
              get_str (info, "backing-filename-format"));
  }
  if (specific) {
    printf ("Format specific information:\n");
    dump_json_human (json_object_get (specific, "data"), 1);
  }
}

/* Every layer of IMG's (open) chain, top first. */
static json_t *chain_info (const struct addcow *img, const char *filename)
{
  json_t *list = json_array (), *info;
  unsigned depth, n = addcow_get_layer_count (img);

  for (depth = 0; depth < n; depth++)
    if ((info = any_layer_info (img, depth, filename)) != NULL)
      json_array_append_new (list, info);
  return list;
}

static int print_info (const struct addcow *img, const struct info_args *a)
{
  json_t *root;
  size_t i;

  if (!a->backing_chain) {
    root = any_layer_info (img, 0, a->filename);
    if (root == NULL) {
      error_msg ("%s", addcow_get_error ());
      return -1;
    }
    if (a->output == OUTPUT_JSON)
      return json_print (root);
    print_human (root);
    json_decref (root);
    return 0;
  }
  root = chain_info (img, a->filename);
  if (a->output == OUTPUT_JSON)
    return json_print (root);
  for (i = 0; i < json_array_size (root); i++) {
    if (i > 0)
      printf ("\n");
    print_human (json_array_get (root, i));
  }
  json_decref (root);
  return 0;
}

int cmd_info (int argc, char **argv)
{
  struct info_args a = { .output = OUTPUT_HUMAN };
  struct addcow *img;
  int status = parse_info_args (argc, argv, &a);
  const char *format;

  if (status >= 0)
    return status;
  lock_hint_force_share = true;
  format = image_format (a.filename, a.format);
  if (open_image_as (a.filename, format,
                  (a.backing_chain ? 0 : ADDCOW_OPEN_NO_BACKING)
                  | (a.force_share ? ADDCOW_OPEN_FORCE_SHARE : 0), &img) < 0)
    return 1;
  return close_image (img, print_info (img, &a) < 0 ? 1 : 0);
}
