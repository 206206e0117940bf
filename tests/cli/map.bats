#!/usr/bin/env bats
# addcow-img map: the same text as qemu-img map on the equivalent qcow2
# image with an external raw data file.

load helpers

# base.raw: 1 MiB, data at [0, 64k) and [256k, 320k), holes elsewhere.
make_base() {
    make_raw base.raw 1M 021 0:64k 042 256k:64k
}

# ov.add-cow (SIZE, default 2M) over base.raw, and with qemu the same as
# q.qcow2 (data file q.data); then every following argument is a qemu-io
# command run on both.
make_pair() {
    local size=${1:-2M} c
    shift || true
    "$IMG" create -q -f add-cow -b base.raw -F raw ov.add-cow "$size"
    if command -v qemu-img >/dev/null; then
        qemu-img create -q -f qcow2 \
            -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 "$size"
    fi
    for c in "$@"; do
        "$IO" -c "$c" ov.add-cow >/dev/null
        if [ -f q.qcow2 ]; then
            qemu-io -f qcow2 -c "$c" q.qcow2 >/dev/null
        fi
    done
}

# Same map text from both tools, for the given map options.
assert_same_map() {
    run qemu-img map "$@" q.qcow2
    local want=$output want_status=$status
    run "$IMG" map "$@" ov.add-cow
    assert_status "$want_status"
    assert_text "$output" "$want"
}

@test "map: JSON, overlay over a raw backing with holes, shorter backing" {
    make_base
    make_pair 2M 'write 0 64k' 'write 512k 64k'
    run "$IMG" map --output=json ov.add-cow
    assert_status 0
    assert_text "$output" '[{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 65536, "length": 196608, "depth": 1, "present": true, "zero": true, "data": false, "offset": 65536},
{ "start": 262144, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 262144},
{ "start": 327680, "length": 196608, "depth": 1, "present": true, "zero": true, "data": false, "offset": 327680},
{ "start": 524288, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 524288},
{ "start": 589824, "length": 458752, "depth": 1, "present": true, "zero": true, "data": false, "offset": 589824},
{ "start": 1048576, "length": 1048576, "depth": 0, "present": false, "zero": true, "data": false}]'
}

@test "map: human, only the entries holding data" {
    make_base
    make_pair 2M 'write 0 64k' 'write 512k 64k'
    run "$IMG" map ov.add-cow
    assert_status 0
    assert_text "$output" "Offset          Length          Mapped to       File
0               0x10000         0               ov.raw
0x40000         0x10000         0x40000         base.raw
0x80000         0x10000         0x80000         ov.raw"
}

@test "map: an image without a backing file maps as qemu-img map -f raw of its image file" {
    "$IMG" create -q x.add-cow 3M
    run "$IMG" map --output=json x.add-cow
    assert_status 0
    assert_text "$output" '[{ "start": 0, "length": 3145728, "depth": 0, "present": true, "zero": true, "data": false, "offset": 0}]'
    assert_text "$output" "$(qemu-img map -f raw --output=json x.raw)"
    qemu-io -f raw -c 'write -q -P 7 1M 64k' -c 'write -q -P 8 2M 4k' x.raw
    run "$IMG" map --output=json x.add-cow
    assert_text "$output" "$(qemu-img map -f raw --output=json x.raw)"
}

@test "map: an overlay with nothing written shows the backing file" {
    make_base
    make_pair 1M
    run "$IMG" map --output=json ov.add-cow
    assert_text "$output" '[{ "start": 0, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 65536, "length": 196608, "depth": 1, "present": true, "zero": true, "data": false, "offset": 65536},
{ "start": 262144, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 262144},
{ "start": 327680, "length": 720896, "depth": 1, "present": true, "zero": true, "data": false, "offset": 327680}]'
}

@test "map: --start-offset and --max-length" {
    make_base
    make_pair 2M 'write 0 64k' 'write 512k 64k'
    run "$IMG" map --output=json --start-offset=100 --max-length=70000 ov.add-cow
    assert_status 0
    assert_text "$output" '[{ "start": 100, "length": 65436, "depth": 0, "present": true, "zero": false, "data": true, "offset": 100},
{ "start": 65536, "length": 4564, "depth": 1, "present": true, "zero": true, "data": false, "offset": 65536}]'
    run "$IMG" map --output=json --max-length=0 ov.add-cow
    assert_text "$output" '[{ "start": 0, "length": 0, "depth": 0, "present": false, "zero": false, "data": false}]'
    run "$IMG" map --output=json --start-offset=3M ov.add-cow
    assert_text "$output" '[{ "start": 3145728, "length": 0, "depth": 0, "present": false, "zero": false, "data": false}]'
    run "$IMG" map --output=json --start-offset 1M --max-length 1G ov.add-cow
    assert_text "$output" '[{ "start": 1048576, "length": 1048576, "depth": 0, "present": false, "zero": true, "data": false}]'
    run "$IMG" map --start-offset=512k --max-length=64k ov.add-cow
    assert_text "$output" "Offset          Length          Mapped to       File
0x80000         0x10000         0x80000         ov.raw"
}

@test "map: a chain of add-cow images" {
    make_base
    make_pair 2M 'write 0 64k'
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    "$IO" -c 'write -q 1M 64k' top.add-cow
    run "$IMG" map --output=json top.add-cow
    assert_status 0
    assert_text "$output" '[{ "start": 0, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 65536, "length": 196608, "depth": 2, "present": true, "zero": true, "data": false, "offset": 65536},
{ "start": 262144, "length": 65536, "depth": 2, "present": true, "zero": false, "data": true, "offset": 262144},
{ "start": 327680, "length": 720896, "depth": 2, "present": true, "zero": true, "data": false, "offset": 327680},
{ "start": 1048576, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 1048576},
{ "start": 1114112, "length": 983040, "depth": 1, "present": false, "zero": true, "data": false}]'
    run "$IMG" map top.add-cow
    assert_text "$output" "Offset          Length          Mapped to       File
0               0x10000         0               ov.raw
0x40000         0x10000         0x40000         base.raw
0x100000        0x10000         0x100000        top.raw"
}

@test "map: relative names show the path of the file that holds the data" {
    mkdir sub
    make_raw sub/base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw sub/ov.add-cow
    "$IO" -c 'write -q 512k 64k' sub/ov.add-cow
    run "$IMG" map sub/ov.add-cow
    assert_text "$output" "Offset          Length          Mapped to       File
0               0x10000         0               sub/base.raw
0x80000         0x10000         0x80000         sub/ov.raw"
}

@test "map: a missing backing file is an error" {
    make_base
    make_pair 2M
    rm base.raw
    run --separate-stderr "$IMG" map ov.add-cow
    assert_status 1
    assert_text "$output" ""
    [[ $stderr == "addcow-img: "*"base.raw"* ]]
}

@test "map: -U maps an image that another process is writing" {
    make_base
    make_pair 2M
    start_writer ov.add-cow
    run --separate-stderr "$IMG" map ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: image is in use by another process (use -U to inspect it anyway)"
    run "$IMG" map -U --output=json ov.add-cow
    assert_status 0
    stop_writer
}

@test "map: same JSON as qemu-img, data writes over holes and past the backing end" {
    need_qemu
    make_base
    make_pair 2M 'write 0 64k' 'write -P 0x33 512k 64k' 'write 4k 512' \
        'write 1100k 4k' 'write 1020k 8k' 'write 2044k 4k'
    assert_same_map --output=json
    assert_same_map --output=json --start-offset=100 --max-length=70000
    assert_same_map --output=json --start-offset=1000k --max-length=100k
    assert_same_map --output=json --start-offset=3M
    assert_same_map --output=json --max-length=0
    assert_same_map --output=json --start-offset=2047k
}

@test "map: same JSON as qemu-img, backing larger than the overlay" {
    need_qemu
    make_raw base.raw 4M 021 0:64k 042 256k:64k 063 3M:1M
    make_pair 1536k 'write 128k 64k' 'write 1472k 64k'
    assert_same_map --output=json
}

@test "map: same JSON as qemu-img, nothing written, 4k clusters" {
    need_qemu
    make_base
    "$IMG" create -q -o cluster_size=4k -b base.raw -F raw ov.add-cow 1536k
    qemu-img create -q -f qcow2 -o cluster_size=4k,data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 1536k
    local c
    for c in 'write 8k 4k' 'write 300k 100k' 'write 1020k 8k'; do
        "$IO" -c "$c" ov.add-cow >/dev/null
        qemu-io -f qcow2 -c "$c" q.qcow2 >/dev/null
    done
    assert_same_map --output=json
}

@test "map: same JSON as qemu-img for a chain" {
    need_qemu
    make_base
    make_pair 2M 'write 0 64k' 'write 768k 64k'
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    qemu-img create -q -f qcow2 -o data_file=top.data,backing_file=q.qcow2,backing_fmt=qcow2 top.qcow2
    local c
    for c in 'write 64k 64k' 'write 1M 64k' 'write 256k 4k'; do
        "$IO" -c "$c" top.add-cow >/dev/null
        qemu-io -f qcow2 -c "$c" top.qcow2 >/dev/null
    done
    run qemu-img map --output=json top.qcow2
    local want=$output
    run "$IMG" map --output=json top.add-cow
    assert_status 0
    assert_text "$output" "$want"
}

@test "map: same human output as qemu-img, file names aside" {
    need_qemu
    make_base
    make_pair 2M 'write 0 64k' 'write 512k 64k'
    run qemu-img map q.qcow2
    local want=${output//q.data/ov.raw}
    run "$IMG" map ov.add-cow
    assert_status 0
    assert_text "$output" "$want"
}

# base.raw 1 MiB with data and holes; mid (SIZE) over it, top 1 MiB over
# mid, each with writes, zero writes and a write near mid's end; with
# qemu the same chain as qcow2 images with raw data files.
make_short_mid_pair() {
    local c
    make_raw base.raw 1M 252 0:64k 448k:128k 900k:100k
    "$IMG" create -q -b base.raw -F raw mid.add-cow "$1"
    qemu-img create -q -f qcow2 \
        -o data_file=qmid.data,backing_file=base.raw,backing_fmt=raw qmid.qcow2 "$1"
    "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow 1M
    qemu-img create -q -f qcow2 \
        -o data_file=qtop.data,backing_file=qmid.qcow2,backing_fmt=qcow2 qtop.qcow2 1M
    for c in 'write 64k 64k' 'write -z 192k 64k' 'write 440k 4k'; do
        "$IO" -c "$c" mid.add-cow >/dev/null
        qemu-io -f qcow2 -c "$c" qmid.qcow2 >/dev/null
    done
    for c in 'write 0 4k' 'write -z 256k 64k' 'write 960k 4k'; do
        "$IO" -c "$c" top.add-cow >/dev/null
        qemu-io -f qcow2 -c "$c" qtop.qcow2 >/dev/null
    done
}

assert_same_chain_map() {
    run qemu-img map --output=json "$@" qtop.qcow2
    local want=$output
    run "$IMG" map --output=json "$@" top.add-cow
    assert_status 0
    assert_text "$output" "$want"
}

@test "map: same JSON as qemu-img past the end of a shorter middle layer" {
    need_qemu
    local size
    for size in 512k 500k; do
        rm -f base.raw mid.* top.* q*
        make_short_mid_pair "$size"
        assert_same_chain_map
        assert_same_chain_map --start-offset=400k
        assert_same_chain_map --start-offset=500k --max-length=100k
        assert_same_chain_map --start-offset=510k --max-length=1k
    done
}

@test "map: write -z maps as the qcow2 twin's zero cluster" {
    need_qemu
    make_base
    make_pair 2M 'write 0 128k' 'write -z 0 64k' 'write -z 256k 64k' \
        'write -z 960k 128k'
    assert_same_map --output=json
    run "$IMG" map --output=json ov.add-cow
    [[ ${lines[0]} == '[{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": true, "data": false},' ]]
}

@test "map: zero writes on an image without backing map as on its raw file" {
    need_qemu
    make_raw x.raw 2M 021 0:2M
    "$IMG" create -q -o image_file=x.raw x.add-cow
    cp x.raw y.raw
    local c
    for c in 'write -z 64k 64k' 'write -z 1M 4k' 'write -P 7 1028k 4k'; do
        "$IO" -c "$c" x.add-cow >/dev/null
        qemu-io -f raw -c "$c" y.raw >/dev/null
    done
    run qemu-img map -f raw --output=json y.raw
    local want=$output
    run "$IMG" map --output=json x.add-cow
    assert_text "$output" "$want"
    [[ $output == *'"zero": true, "data": false, "offset": 65536}'* ]]
}
