#!/usr/bin/env bats
# The thread model under ThreadSanitizer: the plugin and libaddcow built
# with -fsanitize=thread (nbdkit-addcow-plugin-tsan.so, next to the plugin),
# loaded into nbdkit with libtsan preloaded, under parallel copy-on-write
# writes, zeros, reads, block status and flushes from several connections.
# Any data race report fails the test, and the data must land exactly.

load common

TSAN_PLUGIN=${ADDCOW_NBDKIT_PLUGIN%/*}/nbdkit-addcow-plugin-tsan.so

setup_file () {
    nbd_require
    [ -f "$TSAN_PLUGIN" ] || skip "the ThreadSanitizer build of the plugin is not there"
}

setup () {
    nbd_require
    cd "$BATS_TEST_TMPDIR"
}

teardown () {
    nbd_teardown
}

# start_tsan_nbdkit IMAGE: like start_nbdkit, with libtsan preloaded.
start_tsan_nbdkit () {
    local libtsan i
    libtsan=$(ldd "$TSAN_PLUGIN" | awk '/libtsan/ { print $3 }')
    [ -f "$libtsan" ] || skip "libtsan not found"
    rm -f sock
    # -R: no address randomisation, which some kernels need for TSan.
    setarch "$(uname -m)" -R env LD_PRELOAD="$libtsan" \
        TSAN_OPTIONS="halt_on_error=0 log_path=$BATS_TEST_TMPDIR/tsan" \
        nbdkit -U "$BATS_TEST_TMPDIR/sock" -f --exit-with-parent \
        "$TSAN_PLUGIN" file="$1" 2> nbdkit.log &
    NBDKIT_PID=$!
    NBDKIT_PIDS+=("$NBDKIT_PID")
    for i in $(seq 300); do
        [ -S sock ] && return 0
        kill -0 "$NBDKIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat nbdkit.log >&2
    return 1
}

@test "no data race under parallel copy-on-write, reads, extents and flushes" {
    truncate -s 48M base.raw
    qemu-io -f raw -c 'write -q -P 0x11 0 24M' base.raw
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow
    # Random data, with zeros (zero requests) in the middle, copied in
    # 32 KiB requests so that two of them race for every cluster.
    head -c 40M /dev/urandom > src.raw
    truncate -s 48M src.raw
    dd if=/dev/zero of=src.raw bs=4k seek=2500 count=700 conv=notrunc status=none
    start_tsan_nbdkit vm.add-cow
    local uri
    uri=$(nbd_uri)

    nbdcopy --connections=4 --requests=16 --request-size=32768 \
        src.raw "$uri" &
    local copy=$!
    qemu-img bench -f raw -d 8 -c 4000 -s 4k -S $(( 4096 * 7919 )) "$uri" \
        > reads.log &
    local reads=$!
    for i in 1 2 3 4 5; do
        nbdinfo --map "$uri" > /dev/null
        qemu-io -f raw -c flush "$uri"
    done
    wait "$copy"
    wait "$reads"

    nbdcopy "$uri" back.raw
    cmp src.raw back.raw
    stop_nbdkit "$NBDKIT_PID"

    if ls tsan.* >/dev/null 2>&1; then
        cat tsan.* | head -80
        false
    fi
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
}
