#!/usr/bin/env python3
"""make-hostile.py DIR - hostile qcow2 images, one thing broken at a time.

Valid images are made first with qemu-img and qemu-io (v3 with 4 KiB
clusters, v2 with 512-byte clusters, deflate- and zstd-compressed,
extended L2, an external data file, a raw backing file); every hostile
image is a copy of one of them with one header field, extension, table
entry or byte range changed.  DIR/expect lists one image a line:

    NAME refuse   the driver must refuse it with "NAME: ..."
    NAME read     the driver must open it and read the whole disk
    NAME any      either, but never a crash, hang or huge allocation

The valid images themselves are listed as "read".
"""
import os
import shutil
import struct
import subprocess
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
os.chdir(out)
expect = []


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)


WRITES = ("-c 'write -P 0x11 0 8k' -c 'write -z 64k 8k' "
          "-c 'write -P 0x22 200k 12k' -c 'discard 204k 4k' "
          "-c 'write -P 0x33 1000k 24k'")


def make_valid():
    sh("qemu-img create -q -f qcow2 -o cluster_size=4k a.qcow2 1M && "
       "qemu-io " + WRITES + " a.qcow2")
    sh("qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512 "
       "v2.qcow2 1M && qemu-io " + WRITES + " v2.qcow2")
    sh("qemu-img create -q -f raw src.raw 1M && qemu-io -f raw " + WRITES +
       " src.raw && dd if=/dev/urandom of=src.raw bs=4k seek=100 count=2 "
       "conv=notrunc status=none")
    sh("qemu-img convert -c -O qcow2 -o cluster_size=4k src.raw c.qcow2")
    sh("qemu-img convert -c -O qcow2 -o cluster_size=4k,"
       "compression_type=zstd src.raw z.qcow2")
    sh("qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k "
       "x.qcow2 1M && qemu-io -c 'write -P 1 2k 1k' -c 'write -z 8k 1k' "
       "-c 'write -P 2 300k 40k' x.qcow2")
    sh("qemu-img create -q -f qcow2 -o cluster_size=4k,data_file=d.data "
       "d.qcow2 1M && qemu-io " + WRITES + " d.qcow2")
    sh("qemu-img create -q -f raw base.raw 1M && qemu-img create -q -f qcow2 "
       "-o cluster_size=4k -b base.raw -F raw b.qcow2 && qemu-io "
       "-c 'write -P 5 4k 4k' b.qcow2")
    for name in ("a", "v2", "c", "z", "x", "d", "b"):
        expect.append((name + ".qcow2", "read"))


def be(fmt, data, off):
    return struct.unpack_from(">" + fmt, data, off)[0]


class Image:
    """A valid image's bytes and where its tables are."""

    def __init__(self, name):
        self.name = name
        self.data = bytearray(open(name, "rb").read())
        d = self.data
        self.cluster_bits = be("I", d, 20)
        self.cs = 1 << self.cluster_bits
        self.l1_offset = be("Q", d, 40)
        self.l1_size = be("I", d, 36)
        self.hlen = be("I", d, 100) if be("I", d, 4) == 3 else 72
        self.extl2 = be("I", d, 4) == 3 and be("Q", d, 72) & 16

    def l1(self, i):
        return be("Q", self.data, self.l1_offset + 8 * i)

    def l2_offset(self):
        return self.l1(0) & 0x00fffffffffffe00

    def l2_entry_offset(self, pred):
        """Offset in the file of the first L2 entry (of L2 table 0) for
        which pred(entry) holds."""
        base, step = self.l2_offset(), 16 if self.extl2 else 8
        for i in range(self.cs // step):
            e = be("Q", self.data, base + i * step)
            if pred(e):
                return base + i * step
        raise Exception("%s: no such L2 entry" % self.name)

    def extensions(self):
        """(offset of the type field, type, length) of each extension."""
        pos, res = self.hlen, []
        while pos + 8 <= self.cs:
            t, n = struct.unpack_from(">II", self.data, pos)
            if t == 0:
                break
            res.append((pos, t, n))
            pos += 8 + (n + 7) // 8 * 8
        return res


def variant(base, name, how, verdict, extra=None):
    """NAME is BASE with HOW(bytearray) applied."""
    img = Image(base)
    d = bytearray(img.data)
    how(img, d)
    with open(name, "wb") as f:
        f.write(d)
    if extra:
        extra(name)
    expect.append((name, verdict))


def put(fmt, off, val):
    return lambda img, d: struct.pack_into(">" + fmt, d, off, val)


def put_at(fmt, where, val):
    """Store VAL at the offset WHERE(img) computes."""
    return lambda img, d: struct.pack_into(">" + fmt, d, where(img), val)


def seq(*fns):
    def run(img, d):
        for f in fns:
            f(img, d)
    return run


def ext_of(img, t):
    for pos, typ, n in img.extensions():
        if typ == t:
            return pos
    raise Exception("%s: no extension %x" % (img.name, t))


def standard(e):
    return e & 0x00fffffffffffe00 and not e & (1 << 62)


def compressed(e):
    return e & (1 << 62)


def hostile():
    V = "a.qcow2"
    # The header's fixed fields.
    variant(V, "magic.qcow2", put("I", 0, 0x514649fa), "refuse")
    variant(V, "version-1.qcow2", put("I", 4, 1), "refuse")
    variant(V, "version-4.qcow2", put("I", 4, 4), "refuse")
    variant(V, "cluster-bits-8.qcow2", put("I", 20, 8), "refuse")
    variant(V, "cluster-bits-22.qcow2", put("I", 20, 22), "refuse")
    variant(V, "cluster-bits-63.qcow2", put("I", 20, 63), "refuse")
    variant(V, "cluster-bits-9.qcow2", put("I", 20, 9), "any")
    variant(V, "size-huge.qcow2", put("Q", 24, 1 << 63), "refuse")
    variant(V, "size-past-l1.qcow2", put("Q", 24, 1 << 40), "refuse")
    variant(V, "size-zero.qcow2", put("Q", 24, 0), "read")
    variant(V, "crypt-aes.qcow2", put("I", 32, 1), "refuse")
    variant(V, "crypt-luks.qcow2", put("I", 32, 2), "refuse")
    variant(V, "crypt-99.qcow2", put("I", 32, 99), "refuse")
    variant(V, "l1-size-zero.qcow2", put("I", 36, 0), "refuse")
    variant(V, "l1-size-huge.qcow2", put("I", 36, 0xffffffff), "refuse")
    variant(V, "l1-size-past-eof.qcow2", put("I", 36, 1 << 20), "refuse")
    variant(V, "l1-offset-unaligned.qcow2",
            put_at("Q", lambda i: 40, 0x3008), "refuse")
    variant(V, "l1-offset-zero.qcow2", put("Q", 40, 0), "refuse")
    variant(V, "l1-offset-past-eof.qcow2", put("Q", 40, 1 << 40), "refuse")
    variant(V, "l1-offset-wraps.qcow2", put("Q", 40, (1 << 64) - 4096),
            "refuse")
    # A huge L1 inside a huge sparse file: allowed, and never loaded whole.
    def huge_l1(img, d):
        first = img.l1(0)
        d.extend(bytes((32 << 20) + 8 - len(d)))
        struct.pack_into(">Q", d, 32 << 20, first)
        struct.pack_into(">Q", d, 24, 1 << 42)
        struct.pack_into(">I", d, 36, 4 << 20)
        struct.pack_into(">Q", d, 40, 32 << 20)
    variant(V, "l1-huge-sparse.qcow2", huge_l1, "read",
            extra=lambda n: os.truncate(n, 64 << 20))
    # Feature bits.
    variant(V, "corrupt-bit.qcow2", put("Q", 72, 2), "refuse")
    variant(V, "dirty-bit.qcow2", put("Q", 72, 1), "read")
    variant(V, "incompat-bit-5.qcow2", put("Q", 72, 1 << 5), "refuse")
    variant(V, "incompat-bit-63.qcow2", put("Q", 72, 1 << 63), "refuse")
    variant(V, "data-file-bit-no-name.qcow2", put("Q", 72, 4), "refuse")
    variant(V, "compression-bit-zlib.qcow2", put("Q", 72, 8), "refuse")
    variant(V, "compression-type-5.qcow2",
            seq(put("Q", 72, 8), put("B", 104, 5)), "refuse")
    variant(V, "compression-type-no-bit.qcow2", put("B", 104, 1), "refuse")
    variant(V, "extl2-bit-small-clusters.qcow2", put("Q", 72, 16), "refuse")
    variant(V, "compat-bits-all.qcow2", put("Q", 80, (1 << 64) - 1), "read")
    variant(V, "autoclear-unknown.qcow2", put("Q", 88, 1 << 40), "read")
    variant(V, "data-file-raw-no-file.qcow2", put("Q", 88, 2), "refuse")
    # Fields a reader never needs: refcounts, snapshots.
    variant(V, "refcount-order-99.qcow2", put("I", 96, 99), "read")
    variant(V, "refcount-table-garbage.qcow2",
            seq(put("Q", 48, 0x123), put("I", 56, 0xffffffff)), "read")
    variant(V, "snapshots-garbage.qcow2",
            seq(put("I", 60, 0xffffffff), put("Q", 64, 0x77)), "read")
    # header_length.
    variant(V, "header-length-0.qcow2", put("I", 100, 0), "refuse")
    variant(V, "header-length-100.qcow2", put("I", 100, 100), "refuse")
    variant(V, "header-length-105.qcow2", put("I", 100, 105), "refuse")
    variant(V, "header-length-cluster.qcow2", put("I", 100, 8192), "refuse")
    variant(V, "header-length-huge.qcow2", put("I", 100, 0xfffffff8),
            "refuse")
    variant(V, "header-length-4096.qcow2", put("I", 100, 4096), "read")
    # Extensions.
    H = 112                     # a.qcow2's extensions start there
    variant(V, "ext-len-huge.qcow2",
            seq(put("I", H, 0x1234), put("I", H + 4, 0xffffffff)), "refuse")
    variant(V, "ext-len-past-cluster.qcow2",
            seq(put("I", H, 0x1234), put("I", H + 4, 4096 - H - 8 + 1)),
            "refuse")
    variant(V, "ext-len-fills-cluster.qcow2",
            seq(put("I", H, 0x1234), put("I", H + 4, 4096 - H - 8)), "read")
    variant(V, "ext-unknown-chain.qcow2",
            seq(put("I", H, 0x1234), put("I", H + 4, 3),
                put("I", H + 16, 0x5678), put("I", H + 20, 0)), "read")
    variant(V, "ext-data-file-name-no-bit.qcow2",
            seq(put("I", H, 0x44415441), put("I", H + 4, 6),
                lambda i, d: d.__setitem__(slice(H + 8, H + 14), b"nosuch")),
            "read")
    variant(V, "ext-backing-fmt-no-backing.qcow2",
            seq(put("I", H, 0xe2792aca), put("I", H + 4, 3),
                lambda i, d: d.__setitem__(slice(H + 8, H + 11), b"raw")),
            "read")
    # The backing file name and its format.
    B = "b.qcow2"
    variant(B, "backing-offset-past-eof.qcow2", put("Q", 8, 1 << 40),
            "refuse")
    variant(B, "backing-offset-past-cluster.qcow2", put("Q", 8, 4090),
            "refuse")
    variant(B, "backing-size-1024.qcow2", put("I", 16, 1024), "refuse")
    variant(B, "backing-size-huge.qcow2", put("I", 16, 0xffffffff), "refuse")
    variant(B, "backing-offset-in-header.qcow2", put("Q", 8, 8), "refuse")
    variant(B, "backing-missing.qcow2",
            lambda i, d: d.__setitem__(
                slice(be("Q", d, 8), be("Q", d, 8) + 8), b"nosuch.r"),
            "refuse")
    variant(B, "backing-fmt-vmdk.qcow2",
            lambda i, d: d.__setitem__(
                slice(ext_of(i, 0xe2792aca) + 8, ext_of(i, 0xe2792aca) + 11),
                b"vmd"), "refuse")
    variant(B, "backing-fmt-gone.qcow2",
            put_at("I", lambda i: ext_of(i, 0xe2792aca), 0x1234), "refuse")
    variant(B, "backing-fmt-len-huge.qcow2",
            put_at("I", lambda i: ext_of(i, 0xe2792aca) + 4, 0x7fffffff),
            "refuse")
    variant(B, "backing-fmt-twice.qcow2",
            lambda i, d: d.__setitem__(
                slice(ext_of(i, 0xe2792aca) + 16, ext_of(i, 0xe2792aca) + 32),
                d[ext_of(i, 0xe2792aca):ext_of(i, 0xe2792aca) + 16]),
            "refuse")
    variant(B, "backing-itself.qcow2",
            seq(put("I", 16, 20),
                lambda i, d: d.__setitem__(
                    slice(be("Q", d, 8), be("Q", d, 8) + 20),
                    b"backing-itself.qcow2")), "refuse")
    # L1 entries.
    variant(V, "l1-entry-unaligned.qcow2",
            put_at("Q", lambda i: i.l1_offset, 0x8000000000003200), "refuse")
    variant(V, "l1-entry-past-eof.qcow2",
            put_at("Q", lambda i: i.l1_offset, 0x8000010000000000), "refuse")
    variant(V, "l1-entry-header.qcow2",
            put_at("Q", lambda i: i.l1_offset, 0x8000000000000000), "read")
    variant(V, "l1-entry-is-l1.qcow2",
            put_at("Q", lambda i: i.l1_offset, 0x8000000000000000 | 0x3000),
            "any")
    # L2 entries.
    variant(V, "l2-entry-unaligned.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x8000000000005200), "refuse")
    variant(V, "l2-entry-past-eof.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x8000010000000000), "refuse")
    variant(V, "l2-entry-top-bits.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x80fffffffffff000), "refuse")
    variant(V, "l2-entry-header.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x8000000000000000), "read")
    variant("v2.qcow2", "v2-zero-flag.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x8000000000000001), "refuse")
    variant(V, "l2-entry-compressed-bogus.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x4000000000001000), "refuse")
    # Compressed clusters.
    for base in ("c.qcow2", "z.qcow2"):
        p = base[0] + "-"
        variant(base, p + "offset-past-eof.qcow2",
                put_at("Q", lambda i: i.l2_entry_offset(compressed),
                       (1 << 62) | (1 << 40)), "refuse")
        variant(base, p + "offset-zero.qcow2",
                put_at("Q", lambda i: i.l2_entry_offset(compressed),
                       (1 << 62)), "refuse")
        variant(base, p + "size-past-eof.qcow2",
                lambda i, d: struct.pack_into(
                    ">Q", d, i.l2_entry_offset(compressed),
                    (1 << 62) | (15 << (62 - 4)) |
                    (len(d) - 600)), "refuse")
        variant(base, p + "data-garbage.qcow2",
                lambda i, d: d.__setitem__(
                    slice(be("Q", d, i.l2_entry_offset(compressed))
                          & ((1 << 58) - 1),
                          (be("Q", d, i.l2_entry_offset(compressed))
                           & ((1 << 58) - 1)) + 64), b"\xff" * 64), "refuse")
        variant(base, p + "data-zeros.qcow2",
                lambda i, d: d.__setitem__(
                    slice(be("Q", d, i.l2_entry_offset(compressed))
                          & ((1 << 58) - 1),
                          (be("Q", d, i.l2_entry_offset(compressed))
                           & ((1 << 58) - 1)) + 64), b"\0" * 64), "refuse")
        variant(base, p + "truncated.qcow2", lambda i, d: None, "any",
                extra=lambda n: os.truncate(n, os.path.getsize(n) - 2048))
    # Extended L2 bitmaps.
    X = "x.qcow2"
    variant(X, "x-alloc-and-zero.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard) + 8,
                   0x0000000100000001), "refuse")
    variant(X, "x-alloc-no-cluster.qcow2",
            put_at("Q", lambda i: i.l2_offset() + 16 * 5 + 8, 0xff), "refuse")
    variant(X, "x-all-zero.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard) + 8,
                   0xffffffff00000000), "read")
    # External data files.
    D = "d.qcow2"
    variant(D, "d-missing.qcow2",
            lambda i, d: d.__setitem__(
                slice(ext_of(i, 0x44415441) + 8, ext_of(i, 0x44415441) + 14),
                b"nosuch"), "refuse")
    variant(D, "d-itself.qcow2",
            seq(put_at("I", lambda i: ext_of(i, 0x44415441) + 4, 14),
                lambda i, d: d.__setitem__(
                    slice(ext_of(i, 0x44415441) + 8,
                          ext_of(i, 0x44415441) + 24),
                    b"d-itself.qcow2\0\0")), "refuse")
    variant(D, "d-offset-not-guest.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   0x8000000000100000), "refuse")
    variant(D, "d-compressed.qcow2",
            put_at("Q", lambda i: i.l2_entry_offset(standard),
                   (1 << 62) | 0x1000), "refuse")
    # Truncations.
    variant(V, "truncated-header.qcow2", lambda i, d: None, "refuse",
            extra=lambda n: os.truncate(n, 90))
    variant(V, "truncated-v2-header.qcow2", lambda i, d: None, "refuse",
            extra=lambda n: os.truncate(n, 40))
    variant(V, "truncated-in-l1.qcow2", lambda i, d: None, "refuse",
            extra=lambda n: os.truncate(n, 0x3004))
    variant(V, "truncated-in-data.qcow2", lambda i, d: None, "any",
            extra=lambda n: os.truncate(n, os.path.getsize(n) - 4096))
    variant(V, "empty.qcow2", lambda i, d: d.clear(), "refuse")


make_valid()
hostile()
with open("expect", "w") as f:
    for name, verdict in expect:
        f.write("%s %s\n" % (name, verdict))
print("%d images" % len(expect))
