#!/usr/bin/env bats
# qcow2.bats - add-cow overlays over qcow2 golden images (issue 11).
#
# For golden images made by qemu-img (v2 and v3, small and large clusters,
# deflate and zstd compression, extended L2, an external data file, a
# qcow2 chain over raw): `addcow-img create -b golden.qcow2` records the
# probed format and the golden's virtual size; the overlay's disk read by
# addcow-io equals `qemu-img convert -O raw` of the golden, also after the
# same writes on both sides (a qcow2 overlay twin written by qemu-io); map
# equals qemu-img map of a qcow2 twin with an external data file; and the
# flattened raw file (rebase -b '') equals the twin converted to raw.

load helpers

WRITES=(-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3k'
        -c 'write -z 300k 130k' -c 'write -P 0x33 1M 512k'
        -c 'write -z 1100k 64k' -c 'write -P 0x44 3M 5k')

# golden KIND: make golden.qcow2 (4 MiB) of one kind.
golden() {
    local o=
    case $1 in
    v2) qemu-img create -q -f qcow2 -o compat=0.10 golden.qcow2 4M ;;
    v3-4k) qemu-img create -q -f qcow2 -o cluster_size=4k golden.qcow2 4M ;;
    extl2) qemu-img create -q -f qcow2 -o extended_l2=on golden.qcow2 4M ;;
    data-file)
        qemu-img create -q -f qcow2 -o data_file=golden.data golden.qcow2 4M
        ;;
    zlib|zstd)
        qemu-img create -q -f raw src.raw 4M
        qemu-io -f raw "${WRITES[@]}" src.raw >/dev/null
        head -c 256k /dev/urandom | dd of=src.raw bs=64k seek=40 \
            conv=notrunc status=none
        qemu-img convert -c -O qcow2 -o compression_type=$1 src.raw \
            golden.qcow2
        return
        ;;
    chain)
        head -c 4M /dev/urandom > base.raw
        qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2
        qemu-io -c 'write -P 0x55 64k 128k' -c 'write -z 2M 64k' \
            mid.qcow2 >/dev/null
        qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 \
            -F qcow2 golden.qcow2
        ;;
    esac
    qemu-io -c 'write -P 0x61 8k 24k' -c 'write -z 1M 64k' \
        -c 'write -P 0x62 2M 200k' golden.qcow2 >/dev/null
}

# Where the writes and the golden's data are (the whole disk is compared
# by the flatten below): read -v of each, as hex lines.
RANGES=(0:256k 1M:320k 2M:256k 3M:64k)

# dump PROGRAM FILE [OPTIONS]: those ranges of FILE as PROGRAM reads them.
dump() {
    local prog=$1 file=$2 r
    shift 2
    for r in "${RANGES[@]}"; do
        "$prog" "$@" -r -c "read -v ${r%%:*} ${r##*:}" "$file"
    done | grep -E '^[0-9a-f]{8}:'
}

check_kind() {
    need_qemu
    golden "$1"
    run "$IMG" create -b golden.qcow2 vm.add-cow
    assert_status 0
    run "$IMG" info vm.add-cow
    [[ $output == *"virtual size: 4 MiB (4194304 bytes)"* ]]
    [[ $output == *"backing file format: qcow2"* ]]

    # Unwritten: the overlay reads as the golden.
    qemu-img convert -O raw golden.qcow2 golden.raw
    dump "$IO" vm.add-cow > ours.txt
    dump qemu-io golden.raw -f raw > ref.txt
    cmp ours.txt ref.txt

    # The same writes on the overlay and on a qcow2 twin.
    qemu-img create -q -f qcow2 -o data_file=twin.data -b golden.qcow2 \
        -F qcow2 twin.qcow2
    "$IO" "${WRITES[@]}" vm.add-cow >/dev/null
    qemu-io "${WRITES[@]}" twin.qcow2 >/dev/null
    dump "$IO" vm.add-cow > ours.txt
    qemu-img convert -O raw twin.qcow2 twin.raw
    dump qemu-io twin.raw -f raw > ref.txt
    cmp ours.txt ref.txt

    # Flattening the overlay gives the twin's disk.
    run "$IMG" rebase -b '' vm.add-cow
    assert_status 0
    cmp vm.raw twin.raw
}

@test "qcow2: overlay over a v2 (compat=0.10) golden image" { check_kind v2; }
@test "qcow2: overlay over a v3 golden image, 4 KiB clusters" { check_kind v3-4k; }
@test "qcow2: overlay over a deflate-compressed golden image" { check_kind zlib; }
@test "qcow2: overlay over a zstd-compressed golden image" { check_kind zstd; }
@test "qcow2: overlay over a golden image with extended L2 entries" { check_kind extl2; }
@test "qcow2: overlay over a golden image with an external data file" { check_kind data-file; }
@test "qcow2: overlay over a qcow2 chain over raw" { check_kind chain; }

# An overlay vm.add-cow over golden.qcow2 maps as qemu-img maps its qcow2
# twin (an external data file over the same golden image).
overlay_maps_as_twin() {
    "$IMG" create -q -F qcow2 -b golden.qcow2 vm.add-cow
    qemu-img create -q -f qcow2 -o data_file=twin.data -b golden.qcow2 \
        -F qcow2 twin.qcow2
    run "$IMG" map --output=json vm.add-cow
    assert_status 0
    assert_text "$output" "$(qemu-img map --output=json twin.qcow2)"
}

@test "qcow2: map of an overlay equals qemu-img map of its qcow2 twin" {
    need_qemu
    golden zstd
    overlay_maps_as_twin
}

@test "qcow2: a golden image naming a backing file without its format is refused with the fix" {
    need_qemu
    qemu-img create -q -f raw base.raw 1M
    qemu-img create -q -f qcow2 -b base.raw -F raw golden.qcow2
    # Turn the backing format extension into an unknown one.
    printf '\x12\x34\x56\x78' | dd of=golden.qcow2 bs=1 seek=112 \
        conv=notrunc status=none
    run "$IMG" create -q -b golden.qcow2 vm.add-cow
    assert_status 1
    assert_text "$output" "addcow-img: golden.qcow2: backing file 'base.raw' has no backing format (probing it is unsafe); record it with 'qemu-img rebase -u -b 'base.raw' -F FMT golden.qcow2'"
    "$IMG" create -q -u -F qcow2 -b golden.qcow2 vm.add-cow 1M
    run "$IO" -r -c 'read 0 512' vm.add-cow
    assert_status 1
    assert_text "$output" "addcow-io: golden.qcow2: backing file 'base.raw' has no backing format (probing it is unsafe); record it with 'qemu-img rebase -u -b 'base.raw' -F FMT golden.qcow2'"
}

@test "qcow2: commit into a qcow2 golden image is refused" {
    need_qemu
    golden v3-4k
    "$IMG" create -q -b golden.qcow2 vm.add-cow
    "$IO" -c 'write -P 0x77 0 4k' vm.add-cow >/dev/null
    cp golden.qcow2 before.qcow2
    run "$IMG" commit vm.add-cow
    assert_status 1
    assert_text "$output" "addcow-img: golden.qcow2: qcow2 images are read-only here (this library does not write qcow2)"
    cmp golden.qcow2 before.qcow2
}

# map_like_qemu SIZE CREATE-OPTIONS QEMU-IO-WRITES...: a golden image of
# SIZE with those writes; map of it and of an overlay over it equal qemu's.
map_like_qemu() {
    local size=$1 opts=$2
    shift 2
    qemu-img create -q -f qcow2 -o "$opts" golden.qcow2 "$size"
    qemu-io "$@" golden.qcow2 >/dev/null
    run "$IMG" map --output=json -f qcow2 golden.qcow2
    assert_status 0
    assert_text "$output" "$(qemu-img map --output=json golden.qcow2)"
    overlay_maps_as_twin
}

# The skip over zero L2 entries (64 bytes at a time, then word by word)
# at its edges: 4 KiB clusters, 512 entries (2 MiB) a table; entries at
# the first and last slot of a table, at the last word of a 64-byte block
# and the first of the next, and in the last cluster of a disk whose third
# table goes past its end.
@test "qcow2: map at the edges of L2 tables equals qemu-img map" {
    need_qemu
    map_like_qemu 5188k cluster_size=4k \
        -c 'write -P 0x01 0 4k' -c 'write -P 0x02 28k 4k' \
        -c 'write -P 0x03 32k 4k' -c 'write -P 0x04 2044k 4k' \
        -c 'write -P 0x05 2M 4k' -c 'write -z 3M 8k' \
        -c 'write -P 0x06 4092k 4k' -c 'write -P 0x07 5184k 4k'
}

# Extended L2 (16-byte entries): a zero subcluster of an unallocated
# cluster has a zero first word and a non-zero bitmap, which the skip must
# not pass over; the last slot of the first table (256 MiB); the last
# cluster of a disk whose second table goes past its end.
@test "qcow2: map of extended L2 entries at the edges of tables equals qemu-img map" {
    need_qemu
    map_like_qemu 300M extended_l2=on \
        -c 'write -z 64k 2k' -c 'write -z 126k 2k' \
        -c 'write -P 0x01 262080k 64k' -c 'write -P 0x02 256M 2k' \
        -c 'write -z 307136k 4k' -c 'write -P 0x03 307196k 2k'
}
