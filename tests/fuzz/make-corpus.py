#!/usr/bin/env python3
# make-corpus.py - write the seed corpus of fuzz-header into corpus/.
# The names refer to the files fuzz-header.c puts beside the input:
# f.raw (17 clusters of 4 KiB, the last one short), b.raw, c.add-cow.
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def header(image=b"f.raw", backing=b"b.raw", bfmt=b"raw", ifmt=b"raw",
           cluster_bits=12, features=0, compat=0, header_size=4096,
           boff=None, ioff=None):
    h = bytearray(4096)
    h[0:4] = b"ACOW"
    if boff is None:
        boff = 76 if backing else 0
    if ioff is None:
        ioff = 76 + len(backing)
    struct.pack_into("<IIIIIQQI", h, 4, boff, len(backing), ioff,
                     len(image), cluster_bits, features, compat, header_size)
    h[44:44 + len(bfmt)] = bfmt
    h[60:60 + len(ifmt)] = ifmt
    if backing and boff + len(backing) <= 4096:
        h[boff:boff + len(backing)] = backing
    if ioff + len(image) <= 4096:
        h[ioff:ioff + len(image)] = image
    return h


def addcow(h, bitmap=b"\0\0\0", length=8192):
    data = bytearray(h) + bytearray(bitmap)
    data += bytes(max(0, length - len(data)))
    return bytes(data[:length])


seeds = {
    "valid-raw-backing": addcow(header(), b"\x05\x80\x01"),
    "valid-all-allocated": addcow(header(backing=b"", bfmt=b"", compat=1),
                                  b"\xff\xff\x01"),
    "valid-addcow-backing": addcow(header(backing=b"c.add-cow",
                                          bfmt=b"add-cow"), b"\x10\x00\x00"),
    "valid-names-elsewhere": addcow(header(boff=2000, ioff=3000)),
    "valid-unknown-compat": addcow(header(compat=0xfffe)),
    "leak-stray-bits": addcow(header(), b"\x00\x00\xfe"),
    "leak-padding": addcow(header() [:200] + b"\x01" + header()[201:]),
    "leak-fmt-junk": addcow(header(ifmt=b"raw\0\0j")),
    "leak-unpadded": addcow(header(), length=4096 + 3),
    "bad-truncated-bitmap": addcow(header(), length=4096 + 1),
    "bad-overlap": addcow(header(ioff=78)),
    "bad-same-name": addcow(header(image=b"b.raw")),
    "bad-features": addcow(header(features=4)),
    "bad-cluster-bits": addcow(header(cluster_bits=22)),
    "bad-header-size": addcow(header(header_size=6144)),
    "bad-header-size-past-eof": addcow(header(header_size=12288)),
    "bad-backing-fmt": addcow(header(bfmt=b"qcow2")),
    "bad-self-loop": addcow(header(backing=b"f.add-cow", bfmt=b"add-cow")),
    "bad-image-is-meta": addcow(header(image=b"f.add-cow")),
    "big-clusters": addcow(header(cluster_bits=21), b"\x01"),
}

os.makedirs(HERE, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
