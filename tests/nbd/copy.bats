#!/usr/bin/env bats
# Whole-disk copies through the plugin: nbdcopy and qemu-img convert out of
# the export give the library's read-out; nbdcopy skips the holes; copies
# into the export over several connections at once (multi-conn) land
# exactly.

load common

setup_file () {
    nbd_require
    build_readout
}

setup () {
    nbd_require
    cd "$BATS_TEST_TMPDIR"
}

teardown () {
    nbd_teardown
}

# 32 MiB disk over a sparse 24 MiB base with some data; a few writes.
make_image () {
    truncate -s 24M base.raw
    qemu-io -f raw -c 'write -q -P 0x11 0 3M' -c 'write -q -P 0x12 10M 1M' \
        base.raw
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow 32M
    "$ADDCOW_IO" -c 'write -P 0x21 1M 100k' -c 'write -P 0x22 12M 64k' \
        -c 'write -P 0x23 30M 1M' vm.add-cow >/dev/null
}

@test "nbdcopy and qemu-img convert from the export give the library read-out" {
    make_image
    readout vm.add-cow > lib.raw
    start_nbdkit sock vm.add-cow readonly=true
    nbdcopy "$(nbd_uri)" nbdcopy.raw
    qemu-img convert -f raw -O raw "$(nbd_uri)" convert.raw
    cmp lib.raw nbdcopy.raw
    cmp lib.raw convert.raw
    # Not a copy of nothing: the pieces are where they were written.
    qemu-io -f raw -r -c 'read -P 0x21 1M 100k' -c 'read -P 0x12 10M 1M' \
        -c 'read -P 0x23 30M 1M' -c 'read -P 0 24M 6M' nbdcopy.raw |
        { ! grep -q 'verification failed'; }
}

@test "nbdcopy skips the holes" {
    make_image
    start_nbdkit sock vm.add-cow readonly=true
    rm -f out.raw
    nbdcopy "$(nbd_uri)" out.raw
    # Data: 3M + 1M of base, 100k + 64k + 1M written; the rest (26+ MiB)
    # is holes and must stay so in the copy.
    local used=$(( $(stat -c %b out.raw) * $(stat -c %B out.raw) ))
    echo "out.raw uses $used bytes"
    [ "$used" -lt $(( 8 * 1024 * 1024 )) ]
    [ "$(stat -c %s out.raw)" -eq $(( 32 * 1024 * 1024 )) ]
}

@test "nbdcopy into the export over several connections" {
    make_image
    # Source: random data with a run of zeros in the middle.
    head -c 20M /dev/urandom > src.raw
    truncate -s 32M src.raw
    dd if=/dev/zero of=src.raw bs=1M seek=5 count=3 conv=notrunc status=none
    start_nbdkit sock vm.add-cow
    [[ "$(nbdinfo "$(nbd_uri)")" == *"can_multi_conn: true"* ]]
    nbdcopy --connections=4 --requests=16 src.raw "$(nbd_uri)"
    nbdcopy "$(nbd_uri)" back.raw
    cmp src.raw back.raw
    stop_nbdkit "$NBDKIT_PID"
    readout vm.add-cow > lib.raw
    cmp src.raw lib.raw
    run "$ADDCOW_IMG" check vm.add-cow
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "qemu-img convert into the export (zeros and data)" {
    make_image
    head -c 6M /dev/urandom > src.raw
    truncate -s 32M src.raw
    start_nbdkit sock vm.add-cow
    qemu-img convert -n -f raw -O raw src.raw "$(nbd_uri)"
    qemu-img compare -f raw -F raw src.raw "$(nbd_uri)"
    stop_nbdkit "$NBDKIT_PID"
    readout vm.add-cow > lib.raw
    cmp src.raw lib.raw
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
}
