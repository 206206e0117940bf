#!/usr/bin/env bats
# addcow-img rebase: safe and unsafe backing changes, flattening.

load helpers

need_rebase() {
    mkdir -p probe
    truncate -s 64k probe/b.raw
    "$IMG" create -q -b b.raw -F raw probe/o.add-cow
    if "$IMG" rebase -q -u -b b.raw -F raw probe/o.add-cow 2>&1 |
       grep -q 'not implemented'; then
        skip "addcow_rebase is not implemented in the library yet"
    fi
    rm -rf probe
}

# base.raw 1 MiB (0x11 at 0, 0x22 at 256k), ov.add-cow 2 MiB over it
# with 0x33 written at 512k.
make_overlay() {
    make_raw base.raw 1M 021 0:64k 042 256k:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 2M
    "$IO" -c 'write -q -P 0x33 512k 64k' ov.add-cow
}

assert_disk() {
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 192k' \
        -c 'read -q -P 0x22 256k 64k' -c 'read -q -P 0 320k 192k' \
        -c 'read -q -P 0x33 512k 64k' -c 'read -q -P 0 576k 1472k' "$1"
    assert_status 0
    assert_text "$output" ""
}

@test "rebase: -b '' flattens: the raw image file is the whole disk" {
    need_rebase
    make_overlay
    run --separate-stderr "$IMG" rebase -b '' ov.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    { pattern_file - 64k 021; head -c $((192 * 1024)) /dev/zero
      pattern_file - 64k 042; head -c $((192 * 1024)) /dev/zero
      pattern_file - 64k 063; head -c $((1472 * 1024)) /dev/zero; } > want
    cmp want ov.raw
    run "$IMG" info ov.add-cow
    [[ $output != *"backing file"* ]]
    [[ $output == *"    all allocated: true"* ]]
    # the holes of the flattened image file are zeros, as qemu-img maps it
    run "$IMG" map --output=json ov.add-cow
    assert_text "$output" "$(qemu-img map -f raw --output=json ov.raw)"
    rm base.raw
    assert_disk ov.add-cow
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "rebase: -p prints qemu-img's progress" {
    need_rebase
    make_overlay
    run --separate-stderr "$IMG" rebase -p -b '' ov.add-cow
    assert_status 0
    [[ $output == "    (0.00/100%)"$'\r'* ]]
    [[ $output == *"    (100.00/100%)"$'\r' ]]
    rm ov.add-cow ov.raw
    make_overlay
    run "$IMG" rebase -p -q -b '' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "rebase: safe mode copies what the new backing file would change" {
    need_rebase
    make_overlay
    # new.raw: same first cluster, different data at 256k, data at 128k
    make_raw new.raw 1M 021 0:64k 231 256k:64k 231 128k:64k
    run --separate-stderr "$IMG" rebase -b new.raw -F raw ov.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    assert_disk ov.add-cow
    run "$IMG" info ov.add-cow
    [[ $output == *"backing file: new.raw"* ]]
    # 128k: the old zeros are kept as a hole under a set bit, a zero
    # cluster (qemu-img writes them as data into a qcow2's data file)
    run "$IMG" map --output=json ov.add-cow
    assert_text "$output" '[{ "start": 0, "length": 65536, "depth": 1, "present": true, "zero": false, "data": true, "offset": 0},
{ "start": 65536, "length": 65536, "depth": 1, "present": true, "zero": true, "data": false, "offset": 65536},
{ "start": 131072, "length": 65536, "depth": 0, "present": true, "zero": true, "data": false},
{ "start": 196608, "length": 65536, "depth": 1, "present": true, "zero": true, "data": false, "offset": 196608},
{ "start": 262144, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 262144},
{ "start": 327680, "length": 196608, "depth": 1, "present": true, "zero": true, "data": false, "offset": 327680},
{ "start": 524288, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true, "offset": 524288},
{ "start": 589824, "length": 458752, "depth": 1, "present": true, "zero": true, "data": false, "offset": 589824},
{ "start": 1048576, "length": 1048576, "depth": 0, "present": false, "zero": true, "data": false}]'
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "rebase: -u only rewrites the name" {
    need_rebase
    make_overlay
    make_raw new.raw 1M 231 0:1M
    cp ov.raw before.raw
    run --separate-stderr "$IMG" rebase -u -b new.raw -F raw ov.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    cmp before.raw ov.raw
    run "$IO" -r -c 'read -q -P 0x99 0 512k' -c 'read -q -P 0x33 512k 64k' ov.add-cow
    assert_status 0
    # the new backing file need not exist
    run "$IMG" rebase -u -b nosuch.raw -F raw ov.add-cow
    assert_status 0
    run "$IMG" info ov.add-cow
    [[ $output == *"backing file: nosuch.raw"* ]]
}

@test "rebase: -u without -b removes the backing name" {
    need_rebase
    make_overlay
    run "$IMG" rebase -u ov.add-cow
    assert_status 0
    run "$IMG" info ov.add-cow
    [[ $output != *"backing file"* ]]
    run "$IO" -r -c 'read -q -P 0 0 512k' -c 'read -q -P 0x33 512k 64k' ov.add-cow
    assert_status 0
}

@test "rebase: -b is required without -u" {
    need_rebase
    make_overlay
    run --separate-stderr "$IMG" rebase ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: Must specify backing file (-b) or use unsafe mode (-u)
Try 'addcow-img --help' for more information"
}

@test "rebase: a missing new backing file changes nothing" {
    need_rebase
    make_overlay
    cp ov.add-cow before.add-cow
    cp ov.raw before.raw
    run --separate-stderr "$IMG" rebase -b nosuch.raw -F raw ov.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: "*"nosuch.raw"* ]]
    cmp before.add-cow ov.add-cow
    cmp before.raw ov.raw
}

@test "rebase: onto an add-cow image, its format probed without -F" {
    need_rebase
    make_overlay
    truncate -s 1M other.raw
    "$IMG" create -q -b base.raw -F raw mid.add-cow 2M
    run "$IMG" rebase -b mid.add-cow ov.add-cow
    assert_status 0
    run "$IMG" info ov.add-cow
    [[ $output == *"backing file: mid.add-cow
backing file format: add-cow"* ]]
    assert_disk ov.add-cow
}

@test "rebase: SIGTERM during a flatten stops at a safe point, exit 143" {
    need_rebase
    dd if=/dev/urandom of=base.raw bs=1M count=64 status=none
    "$IMG" create -q -b base.raw -F raw big.add-cow 256M
    "$IMG" rebase -p -b '' big.add-cow > progress.out 2> err.out &
    local pid=$! i
    for i in $(seq 500); do [ -s progress.out ] && break; sleep 0.01; done
    [ -s progress.out ]         # it is running: the signal lands mid-copy
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    assert_status 143
    assert_text "$(cat err.out)" "addcow-img: big.add-cow: cancelled"
    run "$IMG" check big.add-cow
    assert_status 0
    run "$IMG" rebase -q -b '' big.add-cow
    assert_status 0
    cmp -n 67108864 base.raw big.raw
    cmp <(tail -c +67108865 big.raw) <(head -c $((192 * 1024 * 1024)) /dev/zero)
}

@test "rebase: a flattened image file equals qemu's flattened data file" {
    need_rebase
    need_qemu
    make_overlay
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 2M
    qemu-io -f qcow2 -c 'write -q -P 0x33 512k 64k' q.qcow2
    qemu-img rebase -q -b '' q.qcow2
    "$IMG" rebase -q -b '' ov.add-cow
    # q.data may stop at its last written cluster; the rest is zeros
    cmp -n "$(stat -c %s q.data)" q.data ov.raw
    cmp <(tail -c +$(( $(stat -c %s q.data) + 1 )) ov.raw) \
        <(head -c $(( 2097152 - $(stat -c %s q.data) )) /dev/zero)
}
