#!/usr/bin/env bats
# The plugin serves add-cow overlays over qcow2 golden images (issue 11):
# the export read with nbdcopy and qemu-io equals `qemu-img convert -O raw`
# of a qcow2 twin (an overlay over the same golden image with the same
# writes), for a compressed golden image and for a two-level qcow2 chain;
# writes through the export land in the overlay and leave the golden
# image as it was.

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

WRITES=(-c 'write -q -P 0x21 1M 100k' -c 'write -q -P 0x22 5M 64k'
        -c 'write -q -z 6M 1M' -c 'write -q -P 0x23 15M 4k')

# golden KIND: golden.qcow2 (16 MiB) of one kind, with data here and there.
golden () {
    truncate -s 16M src.raw
    qemu-io -f raw -c 'write -q -P 0x11 0 3M' -c 'write -q -P 0x12 6M 2M' \
        src.raw
    head -c 1M /dev/urandom | dd of=src.raw bs=64k seek=160 conv=notrunc \
        status=none
    case $1 in
    compressed)
        qemu-img convert -c -O qcow2 src.raw golden.qcow2
        ;;
    chain)
        qemu-img convert -O qcow2 -o compat=0.10 src.raw base.qcow2
        qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 golden.qcow2
        qemu-io -f qcow2 -c 'write -q -P 0x13 2M 2M' -c 'write -q -z 0 64k' \
            golden.qcow2
        ;;
    esac
}

# The overlay vm.add-cow over golden.qcow2 and its twin twin.qcow2, both
# with WRITES; want.raw: the twin converted to raw.
overlay_and_twin () {
    "$ADDCOW_IMG" create -q -b golden.qcow2 vm.add-cow
    "$ADDCOW_IO" "${WRITES[@]}" vm.add-cow >/dev/null
    qemu-img create -q -f qcow2 -b golden.qcow2 -F qcow2 twin.qcow2
    qemu-io -f qcow2 "${WRITES[@]}" twin.qcow2
    qemu-img convert -O raw twin.qcow2 want.raw
}

# Read the export of vm.add-cow both ways and compare with want.raw.
export_equals_twin () {
    start_nbdkit sock vm.add-cow readonly=true
    nbdcopy "$(nbd_uri)" nbdcopy.raw
    cmp want.raw nbdcopy.raw
    qemu-io -f raw -r -c 'read -q -v 1M 64k' "$(nbd_uri)" > io.txt
    qemu-io -f raw -r -c 'read -q -v 1M 64k' want.raw > want.txt
    cmp want.txt io.txt
    stop_nbdkit "$NBDKIT_PID"
}

@test "qcow2: an overlay over a compressed golden image reads as its twin" {
    golden compressed
    overlay_and_twin
    export_equals_twin
    # The golden data is there too, not only the writes.
    qemu-io -f raw -r -c 'read -P 0x11 0 1M' -c 'read -P 0x12 7M 1M' \
        nbdcopy.raw | { ! grep -q 'verification failed'; }
}

@test "qcow2: an overlay over a two-level qcow2 chain reads as its twin" {
    golden chain
    overlay_and_twin
    export_equals_twin
}

@test "qcow2: writes through the export land in the overlay only" {
    golden compressed
    cp golden.qcow2 golden.orig
    "$ADDCOW_IMG" create -q -b golden.qcow2 vm.add-cow
    qemu-img create -q -f qcow2 -b golden.qcow2 -F qcow2 twin.qcow2
    qemu-io -f qcow2 "${WRITES[@]}" twin.qcow2
    qemu-img convert -O raw twin.qcow2 want.raw
    start_nbdkit sock vm.add-cow
    qemu-io -f raw "${WRITES[@]}" "$(nbd_uri)"
    nbdcopy "$(nbd_uri)" nbdcopy.raw
    cmp want.raw nbdcopy.raw
    stop_nbdkit "$NBDKIT_PID"
    cmp golden.orig golden.qcow2
    readout vm.add-cow > lib.raw
    cmp want.raw lib.raw
}
