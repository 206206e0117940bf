/*
 * qcow2-table.c - from a guest offset to what holds it: the L1 and L2
 * tables, read through one bounded cache of table clusters.
 *
 * The L1 table is not loaded whole (it can be 32 MiB): its clusters go
 * through the same cache as the L2 tables, so the driver's memory is
 * QCOW2_CACHE_BYTES whatever the image.  The cache is a small array of
 * cluster-sized slots with LRU replacement behind one mutex; a lookup
 * copies the entry it needs out under the mutex, so no caller keeps a
 * pointer into a slot that another thread may reuse.  A miss reads the
 * cluster under the mutex too: table reads are rare next to data reads.
 * A walk through the disk in order has the next L2 tables read ahead on
 * a thread (qcow2-prefetch.c): the miss then takes that buffer.
 *
 * Every entry is checked before use: L2 tables aligned and inside the
 * file, data clusters aligned and starting inside their file, compressed
 * clusters with an offset and a size inside the file, subcluster bitmaps
 * consistent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "qcow2.h"

#define L1_OFFSET_MASK  UINT64_C (0x00fffffffffffe00)
#define L2_OFFSET_MASK  UINT64_C (0x00fffffffffffe00)
#define L2_COMPRESSED   (UINT64_C (1) << 62)
#define L2_COPIED       (UINT64_C (1) << 63)
#define L2_ZERO         UINT64_C (1)
#define SUBCLUSTERS     32u

int
qcow2_tables_init (struct qcow2_tables *t, const struct addcow_io *io,
                   int fd, uint64_t file_size, uint64_t data_size,
                   bool has_data_file, const char *file,
                   const struct qcow2_header *h)
{
  unsigned n;

  memset (t, 0, sizeof *t);
  t->io = io;
  t->fd = fd;
  t->file_size = file_size;
  t->data_size = data_size;
  t->has_data_file = has_data_file;
  t->file = file;
  t->h = h;
  t->cluster_size = UINT32_C (1) << h->cluster_bits;
  t->entry_bytes = h->extended_l2 ? 16 : 8;
  t->l2_entries = t->cluster_size / t->entry_bytes;
  t->l2_bits = h->cluster_bits - (h->extended_l2 ? 4 : 3);
  n = QCOW2_CACHE_BYTES / t->cluster_size;
  if (n > QCOW2_CACHE_MAX_SLOTS)
    n = QCOW2_CACHE_MAX_SLOTS;
  t->nslots = n;                        /* >= 2: clusters <= 2 MiB */
  t->slots = calloc (n, sizeof *t->slots);
  if (!t->slots)
    return set_error (ENOMEM, "%s: out of memory", file);
  pthread_mutex_init (&t->lock, NULL);
  qcow2_prefetch_init (&t->prefetch, io, fd, t->cluster_size);
  return 0;
}

void
qcow2_tables_free (struct qcow2_tables *t)
{
  unsigned i;

  if (!t->slots)
    return;
  qcow2_prefetch_free (&t->prefetch);
  for (i = 0; i < t->nslots; i++)
    free (t->slots[i].data);
  free (t->slots);
  t->slots = NULL;
  pthread_mutex_destroy (&t->lock);
}

/* The slot holding the table cluster at CLUSTER, or NULL.  T->lock held. */
static struct qcow2_cache_slot *
slot_find (struct qcow2_tables *t, uint64_t cluster)
{
  unsigned i;

  for (i = 0; i < t->nslots; i++)
    if (t->slots[i].used && t->slots[i].offset == cluster)
      return &t->slots[i];
  return NULL;
}

/* *OUT: the slot holding the table cluster at host offset CLUSTER
 * (aligned, inside the file), read into the least recently used one on a
 * miss.  0, or -errno with the message set.  T->lock held. */
static int
slot_get (struct qcow2_tables *t, uint64_t cluster,
          struct qcow2_cache_slot **out)
{
  struct qcow2_cache_slot *s = NULL;
  unsigned i;
  int r;

  /* The two slots used last first: a walk alternates between one L1
   * cluster and one L2 table. */
  for (i = 0; i < 2 && !s; i++) {
    struct qcow2_cache_slot *h = &t->slots[t->recent[i]];
    if (h->used && h->offset == cluster)
      s = h;
  }
  if (!s)
    s = slot_find (t, cluster);
  if (!s) {
    s = &t->slots[0];
    for (i = 1; i < t->nslots; i++)
      if (t->slots[i].used < s->used)
        s = &t->slots[i];
    s->used = 0;
    if (qcow2_prefetch_take (&t->prefetch, cluster, &s->data))
      ;                         /* read ahead: qcow2-prefetch.c */
    else if (!s->data
             && !(s->data = malloc (qcow2_table_buffer_bytes
                                    (t->cluster_size))))
      return set_error (ENOMEM, "%s: out of memory", t->file);
    else if ((r = io_read (t->io, t->fd, s->data, t->cluster_size,
                           cluster)) < 0)
      return set_error (-r, "%s: could not read a table at 0x%llx: %s",
                        t->file, (unsigned long long) cluster,
                        strerror (-r));
    else
      qcow2_summarise (s->data, t->cluster_size);
    s->offset = cluster;
  }
  s->used = ++t->clock;
  if (t->recent[0] != (unsigned) (s - t->slots)) {
    t->recent[1] = t->recent[0];
    t->recent[0] = (unsigned) (s - t->slots);
  }
  *out = s;
  return 0;
}

/* The big-endian 64-bit entry at byte OFFSET (8-aligned) of a table in
 * the file (its cluster aligned, inside the file), through the cache.
 * T->lock held. */
static int
table_entry (struct qcow2_tables *t, uint64_t offset, uint64_t *e)
{
  uint64_t cluster = offset & ~(uint64_t) (t->cluster_size - 1);
  struct qcow2_cache_slot *s;
  int r = slot_get (t, cluster, &s);

  if (r == 0)
    *e = be64_load (s->data + (offset - cluster));
  return r;
}

static int
bad_entry (const struct qcow2_tables *t, uint64_t guest, const char *what,
           uint64_t entry)
{
  return set_error (EINVAL, "%s: invalid L2 entry 0x%016llx for guest "
                    "offset 0x%llx (%s)", t->file,
                    (unsigned long long) entry, (unsigned long long) guest,
                    what);
}

static int
decode_compressed (const struct qcow2_tables *t, uint64_t entry,
                   uint64_t guest, struct qcow2_map *m)
{
  unsigned cb = t->h->cluster_bits;
  unsigned x = 62 - (cb - 8);           /* bits of the host offset */
  uint64_t host = entry & ((UINT64_C (1) << x) - 1);
  uint64_t sectors = (entry >> x) & ((UINT64_C (1) << (cb - 8)) - 1);
  uint64_t end, limit;

  if (t->has_data_file)
    return bad_entry (t, guest, "a compressed cluster with an external data "
                      "file", entry);
  if (host >> 56 || host == 0 || host >= t->file_size)
    return bad_entry (t, guest, "compressed data outside the file", entry);
  m->csize = (sectors + 1) * 512 - (host & 511);
  /* The last sector may run past the end of the file, no further. */
  if (!round_up_pow2 (t->file_size, 512, &limit)
      || !checked_add (host, m->csize, &end) || end > limit)
    return bad_entry (t, guest, "compressed data past the end of the file",
                      entry);
  m->kind = QCOW2_COMPRESSED;
  m->host = host;
  return 0;
}

/* A standard cluster at host offset HOST, allocated: aligned, starting
 * inside its file, at the guest offset with an external data file. */
static int
check_host (const struct qcow2_tables *t, uint64_t entry, uint64_t host,
            uint64_t guest)
{
  if ((host & (t->cluster_size - 1)) != 0)
    return bad_entry (t, guest, "unaligned cluster offset", entry);
  if (t->has_data_file && host != guest)
    return bad_entry (t, guest, "data file offset differs from the guest "
                      "offset", entry);
  if (!t->has_data_file && host >= t->file_size)
    return bad_entry (t, guest, "cluster past the end of the file", entry);
  return 0;
}

/* Subcluster SC's state: 0 unallocated, 1 data, 2 zero. */
static unsigned
sub_state (uint64_t bitmap, unsigned sc)
{
  if (bitmap >> sc & 1)
    return 1;
  return (bitmap >> (32 + sc) & 1) ? 2 : 0;
}

int
qcow2_decode_l2 (const struct qcow2_tables *t, uint64_t entry,
                 uint64_t bitmap, uint64_t guest, uint32_t in_cluster,
                 struct qcow2_map *m)
{
  uint64_t host = entry & L2_OFFSET_MASK;
  bool allocated = host != 0 || (t->has_data_file && (entry & L2_COPIED));
  uint32_t end = t->cluster_size;       /* of the run, in the cluster */
  int r;

  memset (m, 0, sizeof *m);
  if (entry & L2_COMPRESSED) {
    if ((r = decode_compressed (t, entry, guest, m)) < 0)
      return r;
  }
  else if (!t->h->extended_l2) {
    if ((entry & L2_ZERO) && t->h->version == 2)
      return bad_entry (t, guest, "zero flag in a version 2 image", entry);
    if (entry & L2_ZERO) {
      m->kind = QCOW2_ZERO;
      /* A zero cluster may keep its allocation (qemu's ZERO_ALLOC: an
       * offset, not the data file's ambiguous 0): map names the place. */
      if (host != 0 && (r = check_host (t, entry, host, guest)) < 0)
        return r;
      m->host = host != 0 ? host + in_cluster : 0;
      m->reserved = host != 0;
    }
    else if (!allocated)
      m->kind = QCOW2_UNALLOCATED;
    else if ((r = check_host (t, entry, host, guest)) < 0)
      return r;
    else {
      m->kind = QCOW2_DATA;
      m->host = host + in_cluster;
    }
  }
  else {
    uint32_t sc_size = t->cluster_size / SUBCLUSTERS;
    unsigned sc = in_cluster / sc_size, state, last;

    if ((bitmap & (bitmap >> 32) & 0xffffffffu) != 0)
      return bad_entry (t, guest, "subclusters both allocated and zero",
                        entry);
    if ((bitmap & 0xffffffffu) && !allocated)
      return bad_entry (t, guest, "allocated subclusters without a cluster",
                        entry);
    if (allocated && (r = check_host (t, entry, host, guest)) < 0)
      return r;
    state = sub_state (bitmap, sc);
    for (last = sc + 1; last < SUBCLUSTERS; last++)
      if (sub_state (bitmap, last) != state)
        break;
    end = last * sc_size;
    m->kind = state == 1 ? QCOW2_DATA : state == 2 ? QCOW2_ZERO
      : QCOW2_UNALLOCATED;
    if (allocated)
      m->host = host + in_cluster;
    m->reserved = state != 1 && allocated;
  }
  m->len = end - in_cluster;
  /* Never past the virtual size. */
  if (m->len > t->h->size - (guest + in_cluster))
    m->len = t->h->size - (guest + in_cluster);
  return 0;
}

/* Is L2_OFFSET (not 0) a place for an L2 table: aligned to a cluster,
 * the whole table inside the file? */
static bool
l2_offset_ok (const struct qcow2_tables *t, uint64_t l2_offset)
{
  return (l2_offset & (t->cluster_size - 1)) == 0
         && t->file_size >= t->cluster_size
         && l2_offset <= t->file_size - t->cluster_size;
}

/* The host offset of the L2 table that covers guest OFFSET (0: none),
 * checked.  T->lock held. */
static int
l2_table (struct qcow2_tables *t, uint64_t offset, uint64_t *l2_offset)
{
  uint64_t l1_index = offset >> (t->h->cluster_bits + t->l2_bits);
  uint64_t l1e = 0;
  int r;

  if (l1_index >= t->h->l1_size)        /* the header check makes it so */
    return set_error (EINVAL, "%s: offset 0x%llx is past the L1 table",
                      t->file, (unsigned long long) offset);
  if ((r = table_entry (t, t->h->l1_table_offset + l1_index * 8, &l1e)) < 0)
    return r;
  *l2_offset = l1e & L1_OFFSET_MASK;
  if (*l2_offset == 0)
    return 0;
  if (!l2_offset_ok (t, *l2_offset))
    return set_error (EINVAL, "%s: invalid L1 entry 0x%016llx (an L2 table "
                      "%s)", t->file, (unsigned long long) l1e,
                      *l2_offset % t->cluster_size ? "not aligned to a "
                      "cluster" : "past the end of the file");
  return 0;
}

/* A lookup in the table of L1_INDEX (its L1 entry just read).  If the
 * walk goes through the disk in order and has just entered this table,
 * read the next ones ahead (qcow2-prefetch.c): those whose L1 entries are
 * in the same L1 cluster (no read, no error here), name valid tables, and
 * are not in the cache.  T->lock held. */
static void
read_ahead (struct qcow2_tables *t, uint64_t l1_index)
{
  uint64_t mask = ~(uint64_t) (t->cluster_size - 1);
  uint64_t here = t->h->l1_table_offset + l1_index * 8, at, l1e, l2, k;
  bool entered = l1_index > 0 && t->last_l1 == l1_index;

  t->last_l1 = l1_index + 1;
  if (!entered)
    return;
  for (k = 1; k <= t->prefetch.depth; k++) {
    at = here + k * 8;
    l1e = 0;
    if (l1_index + k >= t->h->l1_size || (at & mask) != (here & mask)
        || table_entry (t, at, &l1e) < 0)
      return;
    l2 = l1e & L1_OFFSET_MASK;
    if (l2 == 0 || !l2_offset_ok (t, l2))
      continue;
    if (!slot_find (t, l2))
      qcow2_prefetch_request (&t->prefetch, l2);
  }
}

/* The whole L2 table of OFFSET is unallocated. */
static void
unallocated_table (const struct qcow2_tables *t, uint64_t offset,
                   struct qcow2_map *m)
{
  uint64_t cluster = offset >> t->h->cluster_bits;
  uint64_t l2_index = cluster & (t->l2_entries - 1);
  uint32_t in_cluster = (uint32_t) (offset & (t->cluster_size - 1));

  memset (m, 0, sizeof *m);
  m->kind = QCOW2_UNALLOCATED;
  m->len = (t->l2_entries - l2_index) * (uint64_t) t->cluster_size
    - in_cluster;
  m->len = min_u64 (m->len, t->h->size - offset);
}

/* Does NEXT, just after RUN, continue it: same kind, and for data (or a
 * reserved place) the host offsets following each other? */
bool
qcow2_continues (const struct qcow2_map *run, const struct qcow2_map *next)
{
  if (next->kind != run->kind || next->reserved != run->reserved)
    return false;
  return (run->kind != QCOW2_DATA && !run->reserved)
         || next->host == run->host + run->len;
}

/* Entry I of the L2 table in S (and its bitmap, extended L2). */
static void
l2_load (const struct qcow2_tables *t, const struct qcow2_cache_slot *s,
         uint64_t i, uint64_t *entry, uint64_t *bitmap)
{
  *entry = be64_load (s->data + i * t->entry_bytes);
  *bitmap = t->h->extended_l2 ? be64_load (s->data + i * 16 + 8) : 0;
}

size_t
qcow2_zero_prefix (const uint8_t *p, size_t len)
{
  size_t n = 0;

  /* 64 bytes at a time: eight loads OR'd together, one test (tables
   * are almost all zero); named words, not an array, so that nothing
   * goes through the stack. */
  for (; len - n >= 64; n += 64) {
    uint64_t w0, w1, w2, w3, w4, w5, w6, w7;
    memcpy (&w0, p + n, 8);
    memcpy (&w1, p + n + 8, 8);
    memcpy (&w2, p + n + 16, 8);
    memcpy (&w3, p + n + 24, 8);
    memcpy (&w4, p + n + 32, 8);
    memcpy (&w5, p + n + 40, 8);
    memcpy (&w6, p + n + 48, 8);
    memcpy (&w7, p + n + 56, 8);
    if (((w0 | w1) | (w2 | w3) | (w4 | w5) | (w6 | w7)) != 0)
      break;
  }
  for (; len - n >= 8; n += 8) {
    uint64_t w;
    memcpy (&w, p + n, 8);
    if (w != 0)
      break;
  }
  return n;
}

/* The summary: a bit per 64-byte block of the table. */
enum { BLOCK_BITS = 6 };

static size_t
summary_words (size_t cluster_size)
{
  return ((cluster_size >> BLOCK_BITS) + 63) / 64;
}

size_t
qcow2_table_buffer_bytes (size_t cluster_size)
{
  return cluster_size + summary_words (cluster_size) * 8;
}

/* The summary words follow the cluster (a multiple of 512 bytes, so they
 * are aligned for uint64_t in a malloc'd buffer). */
static const uint64_t *
summary_of (const uint8_t *buf, size_t cluster_size)
{
  return (const uint64_t *) (const void *) (buf + cluster_size);
}

void
qcow2_summarise (uint8_t *buf, size_t cluster_size)
{
  uint64_t *nz = (uint64_t *) (void *) (buf + cluster_size);
  size_t b, blocks = cluster_size >> BLOCK_BITS;

  memset (nz, 0, summary_words (cluster_size) * 8);
  for (b = 0; b < blocks; b++)
    if (qcow2_zero_prefix (buf + (b << BLOCK_BITS), 64) < 64)
      nz[b / 64] |= UINT64_C (1) << (b % 64);
}

/* The first block from B (below WORDS * 64) that is not all zero, or
 * WORDS * 64. */
static size_t
next_nonzero_block (const uint64_t *nz, size_t words, size_t b)
{
  size_t w = b / 64;
  uint64_t bits = nz[w] >> (b % 64);

  if (bits)
    return b + (size_t) __builtin_ctzll (bits);
  for (w++; w < words; w++)
    if (nz[w])
      return w * 64 + (size_t) __builtin_ctzll (nz[w]);
  return words * 64;
}

size_t
qcow2_summary_zero_run (const uint8_t *buf, size_t cluster_size,
                        size_t from, size_t to)
{
  const uint64_t *nz = summary_of (buf, cluster_size);
  size_t words = summary_words (cluster_size), n = from;

  while (n < to) {
    size_t b = next_nonzero_block (nz, words, n >> BLOCK_BITS);
    size_t start = b << BLOCK_BITS, end;

    if (start > n)              /* zero blocks skipped unread */
      n = start;
    if (n >= to)
      break;
    end = (b + 1) << BLOCK_BITS;
    if (end > to)
      end = to;
    n += qcow2_zero_prefix (buf + n, end - n);
    if (n < end)                /* a non-zero word */
      return n - from;
  }
  return to - from;
}

/* How many entries from I (below END) of the table in S are all zero
 * (unallocated, no subcluster bits): no decoding, and no reading of the
 * blocks its summary says are zero. */
static uint64_t
zero_entries (const struct qcow2_tables *t, const struct qcow2_cache_slot *s,
              uint64_t i, uint64_t end)
{
  size_t bytes = qcow2_summary_zero_run (s->data, t->cluster_size,
                                         (size_t) i * t->entry_bytes,
                                         (size_t) end * t->entry_bytes);

  return t->entry_bytes == 16 ? bytes >> 4 : bytes >> 3;
}

/* The walk of qcow2_lookup_run inside one L2 table (in slot S, T->lock
 * held): the entries after the first, while they continue M. */
static int
l2_extend (struct qcow2_tables *t, const struct qcow2_cache_slot *s,
           uint64_t offset, uint64_t max, bool merge_compressed,
           struct qcow2_map *m)
{
  uint64_t cs = t->cluster_size;
  uint64_t i = ((offset + m->len) >> t->h->cluster_bits)
               & (t->l2_entries - 1);
  uint64_t entry, bitmap;
  struct qcow2_map next;
  int r;

  /* Only a run that ends on a cluster boundary can go on. */
  if (((offset + m->len) & (cs - 1)) != 0 || i == 0)
    return 0;
  for (; i < t->l2_entries && m->len < max; i++) {
    uint64_t guest = offset + m->len;
    if (guest >= t->h->size
        || (m->kind == QCOW2_COMPRESSED && !merge_compressed))
      break;
    if (m->kind == QCOW2_UNALLOCATED && !m->reserved) {
      uint64_t n = zero_entries (t, s, i, t->l2_entries);
      if (n > 0) {              /* the common case, without decoding */
        m->len = min_u64 (m->len + n * cs, t->h->size - offset);
        i += n - 1;
        continue;
      }
    }
    l2_load (t, s, i, &entry, &bitmap);
    if ((r = qcow2_decode_l2 (t, entry, bitmap, guest, 0, &next)) < 0)
      return r;
    if (!qcow2_continues (m, &next))
      break;
    m->len += next.len;
    if (next.len < cs)          /* the rest of that cluster differs */
      break;
  }
  return 0;
}

int
qcow2_lookup_run (struct qcow2_tables *t, uint64_t offset, uint64_t max,
                  bool merge_compressed, struct qcow2_map *m)
{
  uint64_t cluster = offset >> t->h->cluster_bits;
  uint64_t l2_index = cluster & (t->l2_entries - 1);
  uint64_t guest = cluster << t->h->cluster_bits;
  uint64_t l2_offset = 0, entry, bitmap;
  struct qcow2_cache_slot *s;
  int r;

  /* One lock for the L1 entry and the L2 table. */
  pthread_mutex_lock (&t->lock);
  r = l2_table (t, offset, &l2_offset);
  if (r == 0 && l2_offset == 0)
    unallocated_table (t, offset, m);
  else if (r == 0 && (r = slot_get (t, l2_offset, &s)) == 0) {
    /* After this table's own miss, which may take the buffer read
     * ahead for it. */
    read_ahead (t, offset >> (t->h->cluster_bits + t->l2_bits));
    l2_load (t, s, l2_index, &entry, &bitmap);
    r = qcow2_decode_l2 (t, entry, bitmap, guest,
                         (uint32_t) (offset - guest), m);
    if (r == 0)
      r = l2_extend (t, s, offset, max, merge_compressed, m);
  }
  pthread_mutex_unlock (&t->lock);
  if (r < 0)
    return r;
  m->len = min_u64 (m->len, max);
  return 0;
}

