#!/usr/bin/env bats
# The image lock is held while nbdkit serves: a second server, addcow-img
# commit or check, and QEMU on the image file are refused; read-only
# servers share.

load common

setup_file () {
    nbd_require
}

setup () {
    nbd_require
    cd "$BATS_TEST_TMPDIR"
    make_base base.raw 4M 0x11
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow
}

teardown () {
    nbd_teardown
}

# Run a second nbdkit on vm.add-cow; it must exit at once with an error.
second_server_fails () {
    run timeout 20 nbdkit -U "$BATS_TEST_TMPDIR/sock2" -f \
        "$ADDCOW_NBDKIT_PLUGIN" file=vm.add-cow "$@"
    echo "$output"
    [ "$status" -ne 0 ]
    [ "$status" -ne 124 ]       # refused, not hung
    [[ "$output" == *'vm.add-cow: Failed to get '*'"write" lock'* ]]
    [[ "$output" == *"Is another process using the image ["*"vm.add-cow]?"* ]]
    # nbdkit has no -U of addcow-img's meaning: no such hint.
    [[ "$output" != *"use -U"* ]]
    [ ! -S "$BATS_TEST_TMPDIR/sock2" ]
}

@test "a second server on the same image is refused" {
    start_nbdkit sock vm.add-cow
    second_server_fails
    second_server_fails readonly=true
    # The first one still serves.
    run qemu-io -f raw "$(nbd_uri)" -c 'write -P 0x55 0 64k' \
        -c 'read -P 0x55 0 64k'
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
}

@test "addcow-img commit is refused while the image is served" {
    start_nbdkit sock vm.add-cow
    qemu-io -f raw "$(nbd_uri)" -c 'write -P 0x55 0 64k' -c flush >/dev/null
    local before
    before=$(sha256sum < base.raw)
    run "$ADDCOW_IMG" commit vm.add-cow
    echo "$output"
    [[ "$output" != *"not implemented"* ]] || skip "commit is not implemented"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Is another process using the image ["* ]]
    [ "$(sha256sum < base.raw)" = "$before" ]
    run qemu-io -f raw "$(nbd_uri)" -c 'read -P 0x55 0 64k'
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]

    # Once the server is gone, commit goes through.
    stop_nbdkit "$NBDKIT_PID"
    run "$ADDCOW_IMG" commit -q vm.add-cow
    echo "$output"
    [ "$status" -eq 0 ]
    run qemu-io -f raw -r -c 'read -P 0x55 0 64k' base.raw
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
}

@test "check needs -U while served; QEMU sees the lock on the image file" {
    start_nbdkit sock vm.add-cow
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 1 ]
    [[ "$output" == *"Is another process using the image ["* ]]
    run "$ADDCOW_IMG" check -U vm.add-cow
    [ "$status" -eq 0 ]
    # The image file is locked as qemu locks a qcow2 data file: writers
    # are shared, resizing is not.
    run qemu-io -f raw -c 'truncate 8M' vm.raw
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *'Failed to get "resize" lock'* ]]
}

@test "read-only servers share the image and exclude writers" {
    start_nbdkit sock vm.add-cow readonly=true
    start_nbdkit sock3 vm.add-cow readonly=true
    run qemu-io -f raw -r "$(nbd_uri sock3)" -c 'read -P 0x11 0 64k'
    [ "$status" -eq 0 ]
    [[ "$output" != *"verification failed"* ]]
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
    second_server_fails
    run "$ADDCOW_IO" -c 'write -P 0x55 0 64k' vm.add-cow
    [ "$status" -eq 1 ]
    [[ "$output" == *"Is another process using the image ["* ]]
}

@test "the lock goes with the server" {
    start_nbdkit sock vm.add-cow
    stop_nbdkit "$NBDKIT_PID"
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
    start_nbdkit sock vm.add-cow
    kill -9 "$NBDKIT_PID"
    wait "$NBDKIT_PID" 2>/dev/null || true
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
}

@test "a missing or broken image stops nbdkit before it listens" {
    run timeout 20 nbdkit -U "$BATS_TEST_TMPDIR/sock2" -f \
        "$ADDCOW_NBDKIT_PLUGIN" file=missing.add-cow
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"missing.add-cow: could not open: No such file or directory"* ]]
    run timeout 20 nbdkit -U "$BATS_TEST_TMPDIR/sock2" -f \
        "$ADDCOW_NBDKIT_PLUGIN"
    [ "$status" -ne 0 ]
    [[ "$output" == *"file=IMAGE.add-cow"* ]]
    rm base.raw
    run timeout 20 nbdkit -U "$BATS_TEST_TMPDIR/sock2" -f \
        "$ADDCOW_NBDKIT_PLUGIN" file=vm.add-cow
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"base.raw"* ]]
}
