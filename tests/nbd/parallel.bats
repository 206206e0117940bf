#!/usr/bin/env bats
# Many clients at once against one read-only server (issue 9.1): parallel
# `nbdinfo --map` runs and a multi-conn `nbdcopy --connections=4` must give
# exactly the serial map and the serial bytes.  The backing file alternates
# 1 MiB of data and 1 MiB of holes, and every other 64 KiB cluster is
# written in the overlay, so block status answers come from both layers
# and most backing answers come from the backing file's data/hole cache,
# which every connection shares.  (Before the library owned its
# concurrency, 2 of 3 such copies lost data and some maps differed.)

load common

setup_file () {
    nbd_require
    cd "$BATS_FILE_TMPDIR"
    build_readout
    truncate -s 256M base.raw
    local i cmds=()
    for ((i = 0; i < 256; i += 2)); do
        cmds+=(-c "write -q -P $(( i + 1 )) $(( i << 20 )) 1M")
    done
    qemu-io -f raw "${cmds[@]}" base.raw
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow
    cmds=()
    for ((i = 1; i < 4096; i += 2)); do
        cmds+=(-c "write -q -P 0xee $(( i << 16 )) 4k")
    done
    "$ADDCOW_IO" "${cmds[@]}" vm.add-cow
}

setup () {
    nbd_require
    cd "$BATS_FILE_TMPDIR"
}

teardown () {
    nbd_teardown
}

@test "parallel nbdinfo --map runs all give the serial map" {
    start_nbdkit sock file=vm.add-cow readonly=true
    local uri i bad=0
    uri=$(nbd_uri)
    nbdinfo --map "$uri" > serial.map
    # The map a single client sees is the layout: sanity of the reference.
    [ "$(grep -c . serial.map)" -gt 1000 ]
    local pids=()
    for i in $(seq 64); do
        nbdinfo --map "$uri" > "par.$i.map" &
        pids+=($!)
    done
    wait "${pids[@]}"      # not a bare wait: nbdkit runs in the background
    for i in $(seq 64); do
        cmp -s serial.map "par.$i.map" || { bad=$((bad + 1)); diff serial.map "par.$i.map" | head -5; }
    done
    [ "$bad" -eq 0 ]
    # And the serial map is the library's own.
    [ "$(nbd_map "$uri")" = "$(img_map vm.add-cow)" ]
}

@test "multi-conn nbdcopy copies the serial bytes" {
    start_nbdkit sock file=vm.add-cow readonly=true
    local uri i
    uri=$(nbd_uri)
    readout vm.add-cow > serial.raw
    # Small requests: many block status calls from four connections.
    for i in 1 2 3 4; do
        nbdcopy --connections=4 --requests=16 --request-size=65536 \
            "$uri" copy.raw
        cmp serial.raw copy.raw
    done
}
