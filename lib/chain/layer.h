/*
 * layer.h - one layer of a backing chain, behind a small driver interface.
 *
 * A chain is a list of layers, top first: an add-cow image, then its
 * backing file, then that file's backing file, ...  Each layer is one file
 * in one format, read through a driver (raw, add-cow, qcow2) that answers
 * three questions and nothing else:
 *
 *   block_status  what is at OFFSET *in this layer alone*: data stored
 *                 here, zeros owned here, or "not here" (fall through to
 *                 the next layer down); for how long; and, for data kept
 *                 verbatim in a plain file, which file and at what offset,
 *                 so that bulk copies can use copy_file_range;
 *   read          the bytes of a range this layer answers for (data or
 *                 zeros; never a range it reports as unallocated);
 *   close         free everything (the layer below is closed by the chain).
 *
 * The one chain walk, chain_resolve (chain.c), runs over this interface
 * for reads, block status, copy sources, commit and rebase, so none of
 * those needs per-format code.  It also owns the rule that the bytes of a
 * layer past its own end read as zeros *owned by that layer*: a shorter
 * middle layer hides whatever the layers below hold there.
 *
 * Thread safety: block_status and read must be safe to call from many
 * threads at once on one layer (no shared scratch state, or state behind
 * the driver's own lock).  Layers below the top are opened read-only and
 * never change while open, except the one layer commit writes into (raw or
 * add-cow, whose caches commit empties before each change).
 */
#ifndef ADDCOW_LAYER_H
#define ADDCOW_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum run_kind {
  RUN_DATA,          /* bytes stored in this layer */
  RUN_ZERO,          /* reads as zeros, and this layer says so (a zero
                      * cluster, a hole of a raw file, past its end) */
  RUN_UNALLOCATED,   /* not in this layer: ask the next one down */
};

/* What a layer holds at one offset. */
struct layer_run {
  enum run_kind kind;
  uint64_t len;          /* > 0, at most what was asked for */
  int fd;                /* RUN_DATA kept verbatim in a plain file: that
                          * file (for copy_file_range); else -1 (the bytes
                          * must go through ops->read, e.g. compressed) */
  uint64_t file_offset;  /* where the run starts in FD / FILENAME */
  const char *filename;  /* the file holding the run at FILE_OFFSET (map's
                          * "filename" and "offset": a RUN_ZERO that is a
                          * hole of a file names it too), or NULL when the
                          * run has no place in a file (compressed data,
                          * zeros past an end); owned by the layer.  A
                          * RUN_UNALLOCATED run may name the place the
                          * layer reserved for it (an unallocated
                          * subcluster of an allocated qcow2 cluster):
                          * map reports it when no layer below answers */
};

struct layer;

struct layer_ops {
  const char *format;    /* "raw", "add-cow", "qcow2" */
  /* Describe [offset, offset + max) of this layer alone; offset < size,
   * max > 0.  0 or -errno with the message set. */
  int (*block_status) (struct layer *l, uint64_t offset, uint64_t max,
                       struct layer_run *run);
  /* Read [offset, offset + count) of this layer, a range that
   * block_status reported as RUN_DATA or RUN_ZERO. */
  int (*read) (struct layer *l, void *buf, size_t count, uint64_t offset);
  /* Free the driver's state (not l->backing).  The error of a writable
   * layer's last flush, else 0. */
  int (*close) (struct layer *l);
  /* Optional (NULL: 0): bytes the layer's files use on disk. */
  uint64_t (*actual_size) (struct layer *l);
};

struct layer {
  const struct layer_ops *ops;
  void *priv;                   /* the driver's state */
  uint64_t size;                /* virtual size of this layer */
  const char *filename;         /* the file the layer was opened by */
  unsigned depth;               /* 0 for the top of the chain */
  struct layer *backing;        /* next layer down, or NULL */
  bool probe_holes;             /* RUN_DATA kept verbatim in a file that
                                 * may have holes: chain_resolve asks the
                                 * file (SEEK_HOLE, no cached hint: such a
                                 * file may be written while open) and
                                 * reports its holes as RUN_ZERO */
  struct acfile *stable_file;   /* the file of those verbatim runs when
                                 * nothing writes it while the layer is
                                 * open (a read-only layer): probe_holes
                                 * then keeps its extents in its hint,
                                 * one lookup per extent, not per run */
  bool hole_offsets;            /* such a hole keeps its place in the file
                                 * (map's offset), as a raw file's does;
                                 * else it is zeros with no place, as a
                                 * qcow2 zero cluster */
  bool holes_are_data;          /* such a hole is also data the layer
                                 * allocated (chain_run.zero_data), as
                                 * qemu reports a hole under a qcow2
                                 * cluster: "zero": true, "data": true */
  bool owns_all;                /* never RUN_UNALLOCATED, and its read of
                                 * any range gives the bytes (holes as
                                 * zeros): a plain read asks no block
                                 * status of it (raw) */
  uint32_t cluster_size;        /* 0 when the format has none */
  const char *backing_name;     /* as stored in the file, or NULL; owned
                                 * by the layer */
  const char *backing_format;   /* as stored, or NULL */
  const char *backing_error;    /* ADDCOW_OPEN_TOLERATE_BACKING: why the
                                 * layer's backing chain could not be
                                 * opened, or NULL; owned by the layer */
  dev_t dev;                    /* the identity of the layer's file (the */
  ino_t ino;                    /* add-cow file for add-cow) */
};

/* What the whole chain reads at one offset: the first layer from the top
 * that answers. */
struct chain_run {
  enum run_kind kind;           /* RUN_DATA or RUN_ZERO (RUN_UNALLOCATED
                                 * only from chain_resolve_above) */
  bool present;                 /* some layer's own answer (qemu's
                                 * "present"); false: zeros because no
                                 * layer holds the run or it lies past the
                                 * end of a shorter layer */
  struct layer *layer;          /* the layer that owns the run: the one
                                 * that answered, or for zeros past the
                                 * end of a shorter layer that layer (it
                                 * hides what lies below); NULL when no
                                 * layer holds the run */
  unsigned depth;               /* the depth qemu-img map reports: the
                                 * answering layer's; when !present, the
                                 * depth of the last layer whose block
                                 * status was asked (the one above a
                                 * shorter layer, or the bottom one) */
  uint64_t len;                 /* > 0, at most what was asked for */
  int fd;                       /* as struct layer_run */
  uint64_t file_offset;
  const char *filename;
  bool zero_data;               /* RUN_ZERO that is a hole of a file under
                                 * data the layer allocated
                                 * (holes_are_data): map's "data": true */
};

/* Resolve [offset, offset + max) of the chain starting at TOP (offset <
 * top->size, max > 0): which layer holds the run, how long it is, where
 * its bytes are.  The one chain walk of the library. */
int chain_resolve (struct layer *top, uint64_t offset, uint64_t max,
                   struct chain_run *run);

/* The same walk stopping above the layer at depth BASE_DEPTH: RUN_DATA or
 * RUN_ZERO when a layer above BASE owns the run (zeros past the end of a
 * shorter layer above BASE included), else RUN_UNALLOCATED (BASE or a
 * layer below it answers).  For commit. */
int chain_resolve_above (struct layer *top, unsigned base_depth,
                         uint64_t offset, uint64_t max,
                         struct chain_run *run);

/* Read [offset, offset + count) of the chain starting at TOP (offset +
 * count <= top->size). */
int chain_read (struct layer *top, void *buf, size_t count, uint64_t offset);

/* The layer at DEPTH below TOP (0: TOP), or NULL. */
struct layer *chain_layer (struct layer *top, unsigned depth);

/* ---- opening layers ---------------------------------------------------- */

struct addcow_io;
struct chain_seen;              /* internal.h: the files already in the
                                 * chain (loop check) and its depth */

/* How one layer is opened. */
struct acfile;
struct layer_open {
  struct chain_seen *seen;
  unsigned flags;               /* ADDCOW_OPEN_* of the top image */
  bool writable;                /* this layer read-write (a commit target):
                                 * depth == write_depth */
  unsigned write_depth;         /* the depth of the one layer below the top
                                 * opened read-write, 0: none (private:
                                 * not reachable from the public flags) */
  const struct addcow_io *io;
  const char *owner;            /* the file that names this layer, for
                                 * messages ("OWNER: backing file ...") */
  const struct acfile *image_file; /* the image file of the add-cow layer
                                 * naming this one, or NULL */
};

/* The drivers: open the file at PATH (already resolved) as a layer at
 * depth DEPTH, refusing a file already in ctx->seen (seen_has) and adding
 * it there (chain_seen_add, internal.h), taking the locks unless
 * ADDCOW_OPEN_FORCE_SHARE is in ctx->flags (a write lock when
 * ctx->writable), validating every field before use.  ctx->owner is NULL
 * when the layer is the top of a handle (addcow_open_opts.format): the
 * messages then name PATH alone.  A driver whose format has its own
 * backing file opens it with layer_open_backing (FROM = PATH, with the
 * same ctx), which sets its depth, owner and writability. */
int raw_layer_open (const char *path, unsigned depth,
                    const struct layer_open *ctx, struct layer **out);
int addcow_layer_open (const char *path, unsigned depth,
                       const struct layer_open *ctx, struct layer **out);
int qcow2_layer_open (const char *path, unsigned depth,
                      const struct layer_open *ctx, struct layer **out);

/* backing.c: open NAME, as stored in the file FROM (resolved against its
 * directory), in format FMT, as the layer below one at depth DEPTH: the
 * one depth limit and loop check for every format.  FMT NULL or "" is
 * refused: a format is never probed on open. */
int layer_open_backing (const char *from, const char *name, const char *fmt,
                        unsigned depth, const struct layer_open *ctx,
                        struct layer **out);
/* backing.c: open PATH as the format FMT through the table of drivers
 * (-ENOTSUP "OWNER: unsupported backing format 'FMT'" for one this build
 * does not read). */
int layer_open_format (const char *fmt, const char *path, unsigned depth,
                       const struct layer_open *ctx, struct layer **out);
/* Does this build read the format FMT? */
bool layer_format_known (const char *fmt);
/* Close LAYER and every layer below it, the lowest first; the error of
 * the highest layer that failed (NULL is accepted). */
int layer_close_chain (struct layer *layer);

#endif /* ADDCOW_LAYER_H */
