#!/usr/bin/env bats
# Block status over NBD (nbdinfo --map) agrees with addcow-img map: data
# where this image or a backing file has data, hole+zero where the disk
# reads as zeros with nothing behind it.

load common

setup_file () {
    nbd_require
}

setup () {
    nbd_require
    cd "$BATS_TEST_TMPDIR"
}

teardown () {
    nbd_teardown
}

# A sparse 4 MiB raw base (data in [0,1M) and [2M,3M)), an add-cow layer
# over it (6 MiB), and the 8 MiB top layer over that, which is served.
make_chain () {
    truncate -s 4M base.raw
    qemu-io -f raw -c 'write -q -P 0x11 0 1M' -c 'write -q -P 0x12 2M 1M' \
        base.raw
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw mid.add-cow 6M
    "${ADDCOW_IO:-false}" -c 'write -P 0x21 512k 128k' \
        -c 'write -P 0x22 4608k 64k' mid.add-cow >/dev/null
    "$ADDCOW_IMG" create -q -f add-cow -b mid.add-cow -F add-cow \
        top.add-cow 8M
}

@test "nbdinfo --map equals addcow-img map (backing chain, holes, past the end)" {
    make_chain
    start_nbdkit sock top.add-cow
    qemu-io -f raw "$(nbd_uri)" \
        -c 'write -P 0x31 1536k 64k' \
        -c 'write -z 2560k 64k' \
        -c 'write -P 0x32 7M 4k' \
        -c 'write -P 0x33 5M 100k' \
        -c 'flush' >/dev/null

    nbd_map "$(nbd_uri)" > nbd.map
    img_map -U top.add-cow > img.map
    cat nbd.map
    diff nbd.map img.map

    # Not trivially equal: the map has holes and data at every depth.
    grep -q ' 3$' nbd.map
    grep -q ' 0$' nbd.map
    [ "$(wc -l < nbd.map)" -ge 6 ]

    # The same after the server is gone (the bitmap reached the disk).
    stop_nbdkit "$NBDKIT_PID"
    img_map top.add-cow > img-after.map
    diff nbd.map img-after.map
}

@test "a fresh overlay over a sparse base maps as that base" {
    truncate -s 16M base.raw
    qemu-io -f raw -c 'write -q -P 0x11 4M 64k' base.raw
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow
    start_nbdkit sock vm.add-cow
    run nbd_map "$(nbd_uri)"
    echo "$output"
    [ "${lines[0]}" = "0 4194304 3" ]
    [ "${lines[1]}" = "4194304 65536 0" ]
    [ "${lines[2]}" = "4259840 12517376 3" ]
    diff <(echo "$output") <(img_map -U vm.add-cow)
}

@test "an image without backing shows its image file's holes as holes" {
    truncate -s 2M solo.raw
    head -c 65536 /dev/urandom | dd of=solo.raw bs=64k seek=16 conv=notrunc status=none
    "$ADDCOW_IMG" create -q -f add-cow -o image_file=solo.raw solo.add-cow
    start_nbdkit sock solo.add-cow
    run nbd_map "$(nbd_uri)"
    [ "$output" = "0 1048576 3
1048576 65536 0
1114112 983040 3" ]
    diff <(echo "$output") <(img_map -U solo.add-cow)
}

@test "qemu-img map over NBD sees the same data and zero runs" {
    make_chain
    start_nbdkit sock top.add-cow
    qemu-io -f raw "$(nbd_uri)" -c 'write -P 0x31 1536k 64k' >/dev/null
    qemu-img map -f raw --output=json "$(nbd_uri)" |
        sed -n 's/.*"start": \([0-9]*\), "length": \([0-9]*\),.*"data": \(true\|false\).*/\1 \2 \3/p' |
        awk '{ print $1, $2, ($3 == "true" ? 0 : 3) }' | merge_runs > qemu.map
    nbd_map "$(nbd_uri)" > nbd.map
    diff qemu.map nbd.map
}
