#!/usr/bin/env bats
# qcow2-info.bats - info, map and check on a qcow2 file itself (issue 11).
#
# addcow-img reads qcow2 files (-f qcow2, or probed by the qcow2 magic):
# info and map print what qemu-img prints for the same file, byte for
# byte, human and JSON, for qcow2 v2 and v3, compressed, over a qcow2 or a
# raw backing file, with qemu's format-specific data (compat, refcount
# bits ...).  check on a qcow2 exits 63: its refcounts are qemu-img
# check's job.

load helpers

# Every golden image these tests use: v2.qcow2, v3.qcow2 (written,
# zeroed, discarded), comp.qcow2 (compressed), top.qcow2 over v3.qcow2,
# onraw.qcow2 over base.raw, and sub/top.qcow2 over sub/v3.qcow2.
make_images() {
    head -c 1M /dev/urandom > base.raw
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 1 0 64k' -c 'write -z 1M 64k' \
        -c 'write -P 5 3M 4k' v2.qcow2 >/dev/null
    qemu-img create -q -f qcow2 v3.qcow2 4M
    qemu-io -f qcow2 -c 'write -P 2 64k 128k' -c 'write -z 1M 64k' \
        -c 'write -P 6 2M 192k' -c 'discard 2M 64k' v3.qcow2 >/dev/null
    qemu-img convert -c -O qcow2 v3.qcow2 comp.qcow2
    qemu-img create -q -f qcow2 -b v3.qcow2 -F qcow2 top.qcow2
    qemu-io -f qcow2 -c 'write -P 3 2M 4k' -c 'write -z 64k 64k' \
        top.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b base.raw -F raw onraw.qcow2 2M
    qemu-io -f qcow2 -c 'write -P 4 512k 64k' onraw.qcow2 >/dev/null
    mkdir sub
    # Not sparse: qemu-img map splits a cluster over a hole of the file
    # (our qcow2 driver does not look for holes inside a cluster).
    cp --sparse=never v3.qcow2 top.qcow2 sub/
    # Written back before anyone asks for holes: SEEK_HOLE on a file whose
    # pages are still being written back once reported a hole in data
    # under heavy load, to one of the two tools and not the other.
    sync
}

# Compare `addcow-img info ARGS...` with `qemu-img info ARGS...` (both
# output forms; exit status and stdout).
same_info() {
    local form want
    for form in human json; do
        run --separate-stderr qemu-img info --output=$form "$@"
        assert_status 0
        want=$output
        run --separate-stderr "$IMG" info --output=$form "$@"
        assert_status 0
        assert_text "$output" "$want"
        assert_text "$stderr" ""
    done
}

# Compare `addcow-img map ARGS...` with `qemu-img map ARGS...`.
same_map() {
    local form want
    for form in human json; do
        run --separate-stderr qemu-img map --output=$form "$@"
        assert_status 0
        want=$output
        run --separate-stderr "$IMG" map --output=$form "$@"
        assert_status 0
        assert_text "$output" "$want"
    done
}

@test "qcow2 info: v2 and v3 as qemu-img, probed and with -f qcow2" {
    need_qemu
    make_images
    same_info v2.qcow2
    same_info v3.qcow2
    same_info -f qcow2 v2.qcow2
    same_info -f qcow2 v3.qcow2
}

@test "qcow2 info: compressed, over qcow2, over raw, in a directory" {
    need_qemu
    make_images
    same_info comp.qcow2
    same_info top.qcow2
    same_info onraw.qcow2
    same_info sub/top.qcow2
    same_info "$PWD/sub/top.qcow2"
}

@test "qcow2 info: the format-specific data of every kind, as qemu-img" {
    need_qemu
    qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 1M
    qemu-img create -q -f qcow2 v3.qcow2 1M
    qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 1M
    qemu-img create -q -f qcow2 -o extended_l2=on xl2.qcow2 1M
    qemu-img create -q -f qcow2 -o data_file=d.data df.qcow2 1M
    qemu-img create -q -f qcow2 -o data_file=r.data,data_file_raw=on \
        dfraw.qcow2 1M
    qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 1M
    qemu-img create -q -f qcow2 -o refcount_bits=1 rc1.qcow2 1M
    qemu-img create -q -f qcow2 -o refcount_bits=64 rc64.qcow2 1M
    # The dirty bit (incompatible bit 0) left set: "cleanly shut down: no"
    # and "dirty-flag": true.
    cp lazy.qcow2 dirty.qcow2
    printf '\001' | dd of=dirty.qcow2 bs=1 seek=79 conv=notrunc status=none
    for f in v2 v3 zstd xl2 df dfraw lazy rc1 rc64 dirty; do
        same_info $f.qcow2
        same_info --backing-chain $f.qcow2
    done
    run --separate-stderr "$IMG" info dirty.qcow2
    assert_text "$(sed -n 6p <<<"$output")" "cleanly shut down: no"
    # A qcow2 under an add-cow overlay shows its data in the chain too.
    qemu-img create -q -f qcow2 -b zstd.qcow2 -F qcow2 mid.qcow2
    same_info --backing-chain mid.qcow2
}

@test "qcow2 info, map: an external data file, as qemu-img" {
    need_qemu
    qemu-img create -q -f qcow2 -o data_file=q.data q.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 7 0 64k' -c 'write -P 8 512k 4k' \
        q.qcow2 >/dev/null
    # actual-size: the qcow2 file's alone, as qemu-img counts it.
    same_info q.qcow2
    same_info --backing-chain q.qcow2
    same_map q.qcow2
}

@test "qcow2 info --backing-chain: every layer as qemu-img lists it" {
    need_qemu
    make_images
    same_info --backing-chain v3.qcow2
    same_info --backing-chain top.qcow2
    same_info --backing-chain onraw.qcow2
    same_info --backing-chain sub/top.qcow2
    same_info --backing-chain -f qcow2 "$PWD/sub/top.qcow2"
}

@test "qcow2 info --backing-chain: an add-cow overlay over a qcow2 chain" {
    need_qemu
    make_images
    "$IMG" create -q -b top.qcow2 ov.add-cow
    run --separate-stderr qemu-img info --backing-chain top.qcow2
    want=$output
    run --separate-stderr "$IMG" info ov.add-cow
    top=$output
    run --separate-stderr "$IMG" info --backing-chain ov.add-cow
    assert_status 0
    assert_text "$output" "$top"$'\n\n'"$want"
    assert_text "$(grep '^backing file' <<<"$top")" \
        "backing file: top.qcow2
backing file format: qcow2"

    run --separate-stderr qemu-img info --backing-chain --output=json \
        top.qcow2
    want=$output
    run --separate-stderr "$IMG" info --output=json ov.add-cow
    top=$output
    run --separate-stderr "$IMG" info --backing-chain --output=json \
        ov.add-cow
    assert_status 0
    # [ top, the qemu-img list's members ]
    assert_text "$output" "[
$(sed 's/^/    /; $s/$/,/' <<<"$top")
$(sed '1d; $d' <<<"$want")
]"
}

@test "qcow2 map: as qemu-img map, human and json" {
    need_qemu
    make_images
    same_map v2.qcow2
    same_map v3.qcow2
    same_map -f qcow2 top.qcow2
    same_map onraw.qcow2
    same_map sub/top.qcow2
    same_map --start-offset=64k --max-length=2M top.qcow2
}

@test "qcow2 map: compressed clusters in json; human refuses as qemu-img" {
    need_qemu
    make_images
    run --separate-stderr qemu-img map --output=json comp.qcow2
    want=$output
    run --separate-stderr "$IMG" map --output=json comp.qcow2
    assert_status 0
    assert_text "$output" "$want"

    run --separate-stderr qemu-img map comp.qcow2
    assert_status 1
    want=$output
    want_err=${stderr#qemu-img: }
    run --separate-stderr "$IMG" map comp.qcow2
    assert_status 1
    assert_text "$output" "$want"
    assert_text "$stderr" "addcow-img: $want_err"
}

@test "qcow2 check: exit 63, the refcounts are qemu-img check's job" {
    need_qemu
    make_images
    msg="addcow-img: This image format does not support checks (the refcounts of a qcow2 image are qemu-img check's job)"
    for args in "v3.qcow2" "-f qcow2 v2.qcow2" "--output=json top.qcow2" \
                "-q comp.qcow2"; do
        run --separate-stderr "$IMG" check $args
        assert_status 63
        assert_text "$output" ""
        assert_text "$stderr" "$msg"
    done
    # The file is opened first: a raw file given as qcow2, a missing file.
    run --separate-stderr "$IMG" check -f qcow2 base.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: base.raw: not a qcow2 image (bad magic)"
    run --separate-stderr "$IMG" check -f qcow2 nosuch.qcow2
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: nosuch.qcow2: could not open: No such file or directory"
}

@test "qcow2 info, map: -f qcow2 on a file that is not one" {
    need_qemu
    make_images
    for cmd in info map; do
        run --separate-stderr "$IMG" $cmd -f qcow2 base.raw
        assert_status 1
        assert_text "$output" ""
        assert_text "$stderr" \
            "addcow-img: base.raw: not a qcow2 image (bad magic)"
    done
    # And base.raw without -f is still raw.
    run --separate-stderr "$IMG" info base.raw
    assert_status 0
    assert_text "$(sed -n 2p <<<"$output")" "file format: raw"
}

# Gaps that need the qcow2 driver in lib/ (skipped until it has them).

@test "qcow2 info: a qcow2 whose backing file is missing, as qemu-img" {
    need_qemu
    qemu-img create -q -f qcow2 -b nosuch.qcow2 -F qcow2 -u miss.qcow2 1M
    same_info miss.qcow2
}

@test "qcow2 map: holes of the file inside allocated clusters, as qemu-img" {
    need_qemu
    qemu-img create -q -f qcow2 -o preallocation=metadata pm.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 1 0 4k' pm.qcow2 >/dev/null
    same_map pm.qcow2
    # qemu does not look for holes in an external data file.
    qemu-img create -q -f qcow2 -o data_file=pm.data,preallocation=metadata \
        pd.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 1 0 4k' pd.qcow2 >/dev/null
    same_map pd.qcow2
}

@test "qcow2 map: unallocated subclusters of an allocated cluster have an offset" {
    need_qemu
    qemu-img create -q -f qcow2 -o extended_l2=on x.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 7 0 64k' -c 'write -P 7 200k 4k' \
        x.qcow2 >/dev/null
    same_map x.qcow2
}

@test "qcow2 map: zero clusters that keep their allocation have an offset" {
    need_qemu
    # write -z over allocated clusters keeps their place (qemu's
    # ZERO_ALLOC): "zero": true, "data": false and the offset.
    qemu-img create -q -f qcow2 z.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 1 0 320k' -c 'write -z 64k 128k' \
        -c 'write -z 256k 32k' z.qcow2 >/dev/null
    same_map z.qcow2
    # Extended L2: zero subclusters of an allocated cluster.
    qemu-img create -q -f qcow2 -o extended_l2=on zx.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 1 0 256k' -c 'write -z 64k 64k' \
        -c 'write -z 192k 32k' zx.qcow2 >/dev/null
    same_map zx.qcow2
    # An external data file: offset 0 of it is ambiguous, qemu shows none.
    qemu-img create -q -f qcow2 -o data_file=zd.data zd.qcow2 1M
    qemu-io -f qcow2 -c 'write -P 1 0 256k' -c 'write -z 0 64k' \
        -c 'write -z 128k 64k' zd.qcow2 >/dev/null
    same_map zd.qcow2
    # Under a qcow2 overlay, as the lower layer of the chain.
    qemu-img create -q -f qcow2 -b z.qcow2 -F qcow2 ztop.qcow2
    qemu-io -f qcow2 -c 'write -P 2 128k 64k' ztop.qcow2 >/dev/null
    same_map ztop.qcow2
}
