#!/usr/bin/env bats
# qemu-io through the plugin: the same commands go to a qcow2 overlay with a
# raw external data file over the same base, and the two disks must then be
# equal byte for byte (qemu-img compare over NBD, and the library's own
# read-out against qemu-img convert of the qcow2).

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

# 4 MiB base of 0x11; a 6 MiB disk, so its last 2 MiB lie past the base.
make_pair () {
    make_base base.raw 4M 0x11
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow 6M
    qemu-img create -q -f qcow2 -b base.raw -F raw -o data_file=ref.raw \
        ref.qcow2 6M
}

# Run the qemu-io commands on both disks; both must succeed.
both () {
    local args=() c
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f raw "${args[@]}" "$(nbd_uri)" > nbd.out
    qemu-io -f qcow2 "${args[@]}" ref.qcow2 > ref.out
}

COMMANDS=(
    'write -P 0x55 0 64k'                 # one whole cluster
    'write -P 0x66 70000 3000'            # inside one cluster, unaligned
    'write -P 0x77 200k 200k'             # across clusters, ragged ends
    'write -z 1M 128k'                    # zeros over backing data
    'write -z 500000 10000'               # unaligned zeros
    'write -P 0x88 4088k 16k'             # across the end of the base
    'write -P 0x99 5M 64k'                # past the end of the base
    'write -z 5152k 4k'                   # zeros past the end of the base
    'write -P 0xaa 64k 4k'                # then into allocated clusters
    'write -P 0xbb 66k 4k'
    'write -f -P 0xcc 2M 1k'              # FUA
    'write -z -n 3M 64k'                  # fast zero
    'flush'
)

@test "qemu-io patterns read back through nbdkit" {
    make_pair
    start_nbdkit sock vm.add-cow
    both "${COMMANDS[@]}"
    run qemu-io -f raw "$(nbd_uri)" \
        -c 'read -P 0x55 0 64k' \
        -c 'read -P 0xaa 64k 2k' -c 'read -P 0xbb 66k 4k' \
        -c 'read -P 0x66 70k 1320' -c 'read -P 0x11 73000 131800' \
        -c 'read -P 0x77 200k 200k' -c 'read -P 0x11 400k 90400' \
        -c 'read -P 0x00 500000 10000' -c 'read -P 0x00 1M 128k' \
        -c 'read -P 0xcc 2M 1k' -c 'read -P 0x00 3M 64k' \
        -c 'read -P 0x88 4088k 16k' -c 'read -P 0x00 4104k 8k' \
        -c 'read -P 0x99 5M 32k' -c 'read -P 0x00 5152k 4k' \
        -c 'read -P 0x99 5156k 28k' \
        -c 'read -P 0x00 5308416 983040'
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
    # What qemu-io printed for the writes is the same on both sides, but
    # for the timings.
    diff <(grep -v '^[0-9.]* [KMG]*i*B,' nbd.out) \
         <(grep -v '^[0-9.]* [KMG]*i*B,' ref.out)
}

@test "the export equals the qcow2 overlay that got the same commands" {
    make_pair
    start_nbdkit sock vm.add-cow
    both "${COMMANDS[@]}"
    run qemu-img compare -f raw -F qcow2 "$(nbd_uri)" ref.qcow2
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "Images are identical." ]

    # Read-outs: the whole disk through NBD and through the qcow2.
    qemu-img convert -f raw -O raw "$(nbd_uri)" nbd-flat.raw
    qemu-img convert -f qcow2 -O raw ref.qcow2 ref-flat.raw
    cmp nbd-flat.raw ref-flat.raw

    # After a clean stop, the library reads what the qcow2 holds.
    stop_nbdkit "$NBDKIT_PID"
    readout vm.add-cow > lib.raw
    cmp lib.raw ref-flat.raw
    run "$ADDCOW_IMG" check vm.add-cow
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "a difference is found (the comparison can fail)" {
    make_pair
    start_nbdkit sock vm.add-cow
    both "${COMMANDS[@]}"
    qemu-io -f raw -c 'write -P 0x12 300k 1' "$(nbd_uri)" >/dev/null
    run qemu-img compare -f raw -F qcow2 "$(nbd_uri)" ref.qcow2
    [ "$status" -eq 1 ]
    [[ "$output" == "Content mismatch at offset 307200!" ]]
}

@test "trim punches allocated clusters and leaves the others alone" {
    make_pair
    start_nbdkit sock vm.add-cow
    [[ "$(nbdinfo "$(nbd_uri)")" == *"can_trim: true"* ]]
    run qemu-io -f raw "$(nbd_uri)" \
        -c 'write -P 0x55 0 128k' -c 'flush' \
        -c 'discard 0 64k' -c 'discard 192k 64k' \
        -c 'read -P 0x00 0 64k' -c 'read -P 0x55 64k 64k' \
        -c 'read -P 0x11 192k 64k'
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
    stop_nbdkit "$NBDKIT_PID"
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
    # The trimmed cluster is still allocated (zeros, not the backing).
    run readout -b 65536 vm.add-cow
    [[ "${lines[0]}" == "0 00" ]]
    [[ "${lines[1]}" == "65536 55" ]]
    [[ "${lines[3]}" == "196608 11" ]]
}

@test "a read-only server refuses writes" {
    make_pair
    start_nbdkit sock vm.add-cow readonly=true
    [[ "$(nbdinfo "$(nbd_uri)")" == *"is_read_only: true"* ]]
    run qemu-io -f raw "$(nbd_uri)" -c 'write -P 0x55 0 64k'
    [ "$status" -ne 0 ]
    run qemu-io -f raw -r "$(nbd_uri)" -c 'read -P 0x11 0 64k'
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
}
