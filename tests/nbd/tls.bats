#!/usr/bin/env bats
# Serving an add-cow disk over TCP with TLS (pre-shared keys), as
# nbdkit-addcow-plugin(1) NETWORK SERVING describes it: nbdkit
# --tls=require --tls-psk on 127.0.0.1, libnbd clients (nbdinfo, nbdcopy
# over four connections, nbds:// URIs with tls-psk-file) and qemu-img
# (--object tls-creds-psk), a client without TLS or with a wrong key
# refused, and a second server on the same image refused by the lock.

load common

setup_file () {
    nbd_require
    command -v psktool >/dev/null || skip "psktool is not installed (gnutls-bin)"
    nbdkit --dump-config | grep -qx 'tls=yes' || skip "nbdkit was built without TLS"
}

setup () {
    nbd_require
    cd "$BATS_TEST_TMPDIR"
    psktool -u alice -p keys.psk > /dev/null
    psktool -u alice -p wrong.psk > /dev/null
    make_base base.raw 64M 0x11
    "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw vm.add-cow
}

teardown () {
    nbd_teardown
}

# A TCP port of 127.0.0.1 nobody listens on now.
free_port () {
    local p
    while :; do
        p=$(shuf -i 20000-60999 -n 1)
        (exec 3<> "/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
    done
    echo "$p"
}

# start_tls NAME ARGS...: nbdkit with TLS required on 127.0.0.1:$PORT;
# ARGS go to the plugin.  The pid file appears once it listens.
start_tls () {
    local name=$1 i
    shift
    PORT=$(free_port)
    rm -f "$name.pid"
    nbdkit -f --exit-with-parent -i 127.0.0.1 -p "$PORT" -P "$PWD/$name.pid" \
        --tls=require --tls-psk="$PWD/keys.psk" \
        "$ADDCOW_NBDKIT_PLUGIN" "$@" 2> "nbdkit-$name.log" &
    NBDKIT_PID=$!
    NBDKIT_PIDS+=("$NBDKIT_PID")
    for i in $(seq 100); do
        [ -s "$name.pid" ] && return 0
        kill -0 "$NBDKIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "nbdkit-$name.log" >&2
    return 1
}

tls_uri () {
    echo "nbds://alice@127.0.0.1:$PORT/?tls-psk-file=$PWD/${1:-keys.psk}"
}

# qemu-img's side: the key file must be DIR/keys.psk.
QEMU_TLS=()
qemu_tls () {
    QEMU_TLS=(--object "tls-creds-psk,id=tls0,endpoint=client,dir=$PWD,username=alice")
}
qemu_nbd () {
    echo "driver=nbd,host=127.0.0.1,port=$PORT,tls-creds=tls0"
}

@test "TLS: nbdinfo sees the image; no TLS or a wrong key is refused" {
    start_tls srv file=vm.add-cow
    run nbdinfo "$(tls_uri)"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "protocol: newstyle-fixed with TLS, using structured packets" ]]
    [[ "$output" == *"description: add-cow image vm.add-cow over base.raw (raw)"* ]]
    [[ "$output" == *"export-size: 67108864 (64M)"* ]]
    [[ "$output" == *"can_multi_conn: true"* ]]
    run nbdinfo --map "$(tls_uri)"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%10d  %10d  %3d  %s\n' 0 67108864 0 data)" ]

    run nbdinfo "nbd://127.0.0.1:$PORT/"
    [ "$status" -ne 0 ]
    run nbdinfo "$(tls_uri wrong.psk)"
    [ "$status" -ne 0 ]
}

@test "TLS: nbdcopy over four connections writes and reads the disk" {
    head -c 48M /dev/urandom > src.raw
    truncate -s 64M src.raw
    start_tls srv file=vm.add-cow
    nbdcopy --connections=4 src.raw "$(tls_uri)"
    nbdcopy --connections=4 "$(tls_uri)" back.raw
    cmp src.raw back.raw
    stop_nbdkit "$NBDKIT_PID"
    build_readout
    readout vm.add-cow | cmp - src.raw
    run "$ADDCOW_IMG" check vm.add-cow
    [ "$status" -eq 0 ]
}

@test "TLS: qemu-img writes, reads and maps through tls-creds-psk" {
    qemu-img create -q -f raw src.raw 64M
    qemu-io -f raw -c 'write -q -P 0xab 1M 3M' -c 'write -q -z 5M 1M' src.raw
    start_tls srv file=vm.add-cow
    qemu_tls
    qemu-img convert -n "${QEMU_TLS[@]}" -f raw src.raw \
        --target-image-opts "$(qemu_nbd)"
    qemu-img compare "${QEMU_TLS[@]}" --image-opts \
        driver=raw,file.filename=src.raw "$(qemu_nbd)"
    qemu-img convert "${QEMU_TLS[@]}" --image-opts "$(qemu_nbd)" -O raw back.raw
    cmp src.raw back.raw
    run qemu-img info "${QEMU_TLS[@]}" --image-opts "$(qemu_nbd)"
    [ "$status" -eq 0 ]
    [[ "$output" == *"virtual size: 64 MiB (67108864 bytes)"* ]]
}

@test "TLS: a second server on the same image is refused by the lock" {
    start_tls srv file=vm.add-cow
    local first=$PORT
    run start_tls second file=vm.add-cow
    [ "$status" -ne 0 ]
    grep -qx "nbdkit: error: $PWD/vm.add-cow: image is in use by another process" nbdkit-second.log
    run start_tls third file=vm.add-cow readonly=true
    [ "$status" -ne 0 ]
    grep -q "vm.add-cow: image is in use by another process" nbdkit-third.log
    # The first one still serves.
    PORT=$first
    nbdinfo --size "$(tls_uri)"
}
