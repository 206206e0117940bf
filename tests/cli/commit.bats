#!/usr/bin/env bats
# addcow-img commit: data into the backing file, the overlay emptied,
# the virtual disk unchanged; progress, cancellation by signal.

load helpers

# Skip while the library has no commit yet (it answers ENOSYS).
need_commit() {
    mkdir -p probe
    truncate -s 64k probe/b.raw
    "$IMG" create -q -b b.raw -F raw probe/o.add-cow
    if "$IMG" commit -q probe/o.add-cow 2>&1 | grep -q 'not implemented'; then
        skip "addcow_commit is not implemented in the library yet"
    fi
    rm -rf probe
}

# base.raw 1 MiB (0x11 at 0, 0x22 at 256k), ov.add-cow 2 MiB over it with
# 0x33 at 64k and 0x44 at 1M (past the backing file's end).
make_overlay() {
    make_raw base.raw 1M 021 0:64k 042 256k:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 2M
    "$IO" -c 'write -q -P 0x33 64k 64k' -c 'write -q -P 0x44 1M 64k' ov.add-cow
}

# The virtual disk of make_overlay, whichever layer holds it.
assert_disk() {
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0x33 64k 64k' \
        -c 'read -q -P 0 128k 128k' -c 'read -q -P 0x22 256k 64k' \
        -c 'read -q -P 0 320k 704k' -c 'read -q -P 0x44 1M 64k' \
        -c 'read -q -P 0 1088k 960k' "$1"
    assert_status 0
    assert_text "$output" ""
}

allocated() {
    "$IMG" info "$1" | sed -n 's/^    allocated clusters: //p'
}

@test "commit: data goes into the backing file, the image is emptied" {
    need_commit
    make_overlay
    run --separate-stderr "$IMG" commit ov.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    assert_text "$stderr" ""
    # the backing file grew to the image's size and holds the whole disk
    [ "$(stat -c %s base.raw)" = 2097152 ]
    { pattern_file - 64k 021; pattern_file - 64k 063; head -c 131072 /dev/zero
      pattern_file - 64k 042; head -c $((704 * 1024)) /dev/zero
      pattern_file - 64k 104; head -c $((960 * 1024)) /dev/zero; } > want
    cmp want base.raw
    assert_text "$(allocated ov.add-cow)" 0
    assert_disk ov.add-cow
    run "$IMG" check ov.add-cow
    assert_status 0
    # the committed clusters are punched out of the image file
    [ "$(stat -c %b ov.raw)" -lt 128 ]
}

@test "commit: -q prints nothing" {
    need_commit
    make_overlay
    run --separate-stderr "$IMG" commit -q ov.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    assert_disk "$(raw_view base.raw)"
}

@test "commit: -p prints qemu-img's progress, then the message" {
    need_commit
    make_overlay
    run --separate-stderr "$IMG" commit -p ov.add-cow
    assert_status 0
    [[ $output == "    (0.00/100%)"$'\r'* ]]
    [[ $output == *"    (100.00/100%)"$'\r\n'"Image committed." ]]
    run --separate-stderr "$IMG" commit -p -q ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "commit: -d keeps the data in the image" {
    need_commit
    make_overlay
    run "$IMG" commit -d ov.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    assert_text "$(allocated ov.add-cow)" 2
    assert_disk ov.add-cow
    assert_disk "$(raw_view base.raw)"
}

@test "commit: -b commits into a deeper layer and keeps the layers above" {
    need_commit
    make_overlay
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    "$IO" -c 'write -q -P 0x55 1536k 64k' top.add-cow
    run "$IMG" commit -b base.raw top.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0x33 64k 64k' \
        -c 'read -q -P 0x44 1M 64k' -c 'read -q -P 0x55 1536k 64k' \
        "$(raw_view base.raw)"
    assert_status 0
    assert_text "$(allocated top.add-cow)" 1
    assert_text "$(allocated ov.add-cow)" 2
}

@test "commit: an image without a backing file" {
    need_commit
    "$IMG" create -q x.add-cow 1M
    run --separate-stderr "$IMG" commit x.add-cow
    assert_status 1
    assert_text "$output" ""
    [[ $stderr == "addcow-img: "*"does not have a backing file"* ]]
}

@test "commit: a missing backing file is an error" {
    need_commit
    make_overlay
    rm base.raw
    run --separate-stderr "$IMG" commit ov.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: "*"base.raw"* ]]
    assert_text "$(allocated ov.add-cow)" 2
}

# Start a long commit with -p, send SIGNAL once it is running.
interrupt_commit() {
    truncate -s 256M base.raw
    "$IMG" create -q -b base.raw -F raw big.add-cow
    "$IO" -c 'write -q -P 0x77 0 256M' big.add-cow
    "$IMG" commit -p big.add-cow > progress.out 2> err.out &
    local pid=$! i
    for i in $(seq 500); do [ -s progress.out ] && break; sleep 0.01; done
    [ -s progress.out ]         # it is running: the signal lands mid-copy
    kill -"$1" "$pid"
    status=0
    wait "$pid" || status=$?
}

@test "commit: SIGINT stops at a safe point, exit 130; running again finishes" {
    need_commit
    interrupt_commit INT
    assert_status 130
    assert_text "$(cat err.out)" "addcow-img: big.add-cow: cancelled"
    run "$IMG" check big.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0x77 0 256M' big.add-cow
    assert_status 0
    run "$IMG" commit -q big.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0x77 0 256M' "$(raw_view base.raw)"
    assert_status 0
}

@test "commit: SIGTERM stops at a safe point, exit 143" {
    need_commit
    interrupt_commit TERM
    assert_status 143
    assert_text "$(cat err.out)" "addcow-img: big.add-cow: cancelled"
    run "$IMG" check big.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0x77 0 256M' big.add-cow
    assert_status 0
}

@test "commit: the backing file ends up as qemu-img commit leaves it" {
    need_commit
    need_qemu
    make_overlay
    cp base.raw qbase.raw
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=qbase.raw,backing_fmt=raw q.qcow2 2M
    qemu-io -f qcow2 -c 'write -q -P 0x33 64k 64k' -c 'write -q -P 0x44 1M 64k' q.qcow2
    qemu-img commit -q q.qcow2
    "$IMG" commit -q ov.add-cow
    cmp qbase.raw base.raw
}

@test "commit: SIGUSR1 prints the progress on stderr, even without -p" {
    need_commit
    truncate -s 256M base.raw
    "$IMG" create -q -b base.raw -F raw big.add-cow
    "$IO" -c 'write -q -P 0x77 0 256M' big.add-cow
    "$IMG" commit big.add-cow > out.txt 2> err.txt &
    local pid=$! i mask
    # wait until the handler is in place (SigCgt bit 9 = SIGUSR1)
    for i in $(seq 1000); do
        mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null) || break
        [ -n "$mask" ] && (( 16#$mask & 0x200 )) && break
        sleep 0.005
    done
    kill -USR1 "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
    assert_status 0
    assert_text "$(cat out.txt)" "Image committed."
    # printed if the signal came before the end
    if [ -s err.txt ]; then
        grep -qE '^    \([0-9]+\.[0-9]{2}/100%\)$' err.txt
    fi
}

# base.raw 1 MiB of 0xaa; mid 512 KiB over it; top 1 MiB over mid, with
# 0x11 at 0; and with qemu the same chain in qcow2 (q*.qcow2, over its
# own copy of base.raw).  The top reads [512k, 1M) as zeros (past mid's
# end).
make_short_mid() {
    make_raw base.raw 1M 252 0:1M
    "$IMG" create -q -b base.raw -F raw mid.add-cow 512k
    "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow 1M
    "$IO" -c 'write -q -P 0x11 0 64k' top.add-cow
    cp base.raw qbase.raw
    qemu-img create -q -f qcow2 -b qbase.raw -F raw qmid.qcow2 512k
    qemu-img create -q -f qcow2 -b qmid.qcow2 -F qcow2 qtop.qcow2 1M
    qemu-io -f qcow2 -c 'write -q -P 0x11 0 64k' qtop.qcow2
}

@test "commit: -b past a shorter middle layer writes its zeros into BASE, as qemu-img" {
    need_commit
    need_qemu
    make_short_mid
    run --separate-stderr "$IMG" commit -b base.raw top.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    qemu-img commit -q -b qbase.raw qtop.qcow2
    cmp base.raw qbase.raw
    run qemu-io -f raw -r -c 'read -q -P 0x11 0 64k' \
        -c 'read -q -P 0xaa 64k 448k' -c 'read -q -P 0 512k 512k' base.raw
    assert_status 0
    assert_text "$output" ""
    # the next usual step: the top straight over BASE still reads zeros
    run --separate-stderr "$IMG" rebase -u -b base.raw -F raw top.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0xaa 64k 448k' \
        -c 'read -q -P 0 512k 512k' top.add-cow
    assert_status 0
    run "$IMG" check top.add-cow
    assert_status 0
}
