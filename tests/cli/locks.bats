#!/usr/bin/env bats
# locks.bats - addcow-img takes the lock bytes qemu takes for the same role
# on the qcow2 twin (add-cow file = qcow2 file, image file = data file),
# and sees and is seen by a live qemu-io / qemu-img holding each role.

load helpers

# ov.add-cow over base.raw, and its twin q.qcow2 (data file q.data) over
# the same base.raw.
make_twins() {
    need_qemu
    make_raw base.raw 4M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow
    "$IO" -c 'write -q -P 0x33 0 2M' ov.add-cow
    qemu-img create -q -f qcow2 -o data_file=q.data -b base.raw -F raw q.qcow2
    qemu-io -f qcow2 -c 'write -q -P 0x33 0 2M' q.qcow2
}

# The bytes locked on FILE by anyone, one line "100 201 ...".
locks_of() {
    local ino
    ino=$(stat -c %i "$1")
    awk -v ino=":$ino" '$6 ~ ino"$" {
        for (b = $7; b <= $8; b++) print b }' /proc/locks | sort -n | uniq \
        | tr '\n' ' ' | sed 's/ $//'
}

# Wait until FILE carries some lock (a holder started in the background).
wait_locked() {
    local i
    for i in $(seq 100); do
        [ -n "$(locks_of "$1")" ] && return 0
        sleep 0.1
    done
    echo "nothing locked $1" >&2
    return 1
}

# Run "$@" in the background (stdin from a FIFO that stays open until
# release): a holder of the files it opens.
hold() {
    rm -f hold.fifo
    mkfifo hold.fifo
    "$@" < hold.fifo > hold.out 2>&1 3>&- &
    HOLD_PID=$!
    exec {HOLD_FD}> hold.fifo
}

release() {
    exec {HOLD_FD}>&-
    kill "$HOLD_PID" 2>/dev/null || true
    wait "$HOLD_PID" 2>/dev/null || true
}

# Hold OFD read locks on the given bytes of FILE, as a qemu process would.
hold_bytes() {
    local file=$1
    shift
    hold python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for b in sys.argv[2:]:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK,
                struct.pack("hhqqi", fcntl.F_RDLCK, 0, int(b), 1, 0))
sys.stdin.read()' "$file" "$@"
    wait_locked "$file"
}

@test "locks: a read-only top image takes qemu's bytes on each of its files" {
    make_twins
    hold qemu-io -r -f qcow2 q.qcow2
    wait_locked q.qcow2
    local meta data backing
    meta=$(locks_of q.qcow2) data=$(locks_of q.data) backing=$(locks_of base.raw)
    release
    assert_text "$meta" "100 201 203"
    hold "$IO" -r ov.add-cow
    wait_locked ov.add-cow
    assert_text "$(locks_of ov.add-cow)" "$meta"
    assert_text "$(locks_of ov.raw)" "$data"
    assert_text "$(locks_of base.raw)" "$backing"
    release
}

@test "locks: a writable top image takes qemu's bytes; its backing is shared" {
    make_twins
    hold qemu-io -f qcow2 q.qcow2
    wait_locked q.qcow2
    local meta data backing
    meta=$(locks_of q.qcow2) data=$(locks_of q.data) backing=$(locks_of base.raw)
    release
    assert_text "$meta" "100 101 103 201 203"
    assert_text "$backing" "100"
    hold "$IO" ov.add-cow
    wait_locked ov.add-cow
    assert_text "$(locks_of ov.add-cow)" "$meta"
    assert_text "$(locks_of ov.raw)" "$data"
    assert_text "$(locks_of base.raw)" "$backing"
    release
}

@test "locks: an add-cow backing layer takes the bytes of a qcow2 backing layer" {
    make_twins
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    qemu-img create -q -f qcow2 -o data_file=t.data -b q.qcow2 -F qcow2 t.qcow2
    hold qemu-io -f qcow2 t.qcow2
    wait_locked t.qcow2
    local meta data
    meta=$(locks_of q.qcow2) data=$(locks_of q.data)
    release
    hold "$IO" top.add-cow
    wait_locked top.add-cow
    assert_text "$(locks_of ov.add-cow)" "$meta"
    assert_text "$(locks_of ov.raw)" "$data"
    release
}

@test "locks: with qemu-io writing the backing file, info, map, check and commit work as qemu-img's" {
    make_twins
    hold qemu-io -f raw base.raw
    wait_locked base.raw
    local cmd
    for cmd in info map check; do
        run --separate-stderr qemu-img $cmd q.qcow2
        assert_status 0
        run --separate-stderr "$IMG" $cmd ov.add-cow
        assert_status 0
        assert_text "$stderr" ""
    done
    run qemu-img commit -d q.qcow2
    assert_status 0
    run --separate-stderr "$IMG" commit -d ov.add-cow
    assert_status 0
    release
}

@test "locks: a process that does not share write stops commit, in qemu's words, without a -U hint" {
    make_twins
    hold_bytes base.raw 100 201        # e.g. a VM's read-only disk
    cp base.raw base.before
    run --separate-stderr qemu-img commit q.qcow2
    assert_status 1
    assert_text "$stderr" 'qemu-img: Failed to get "write" lock
Is another process using the image [base.raw]?'
    run --separate-stderr "$IMG" commit ov.add-cow
    assert_status 1
    assert_text "$stderr" 'addcow-img: ov.add-cow: Failed to get "write" lock
Is another process using the image [base.raw]?'
    release
    cmp base.before base.raw
    run "$IMG" commit ov.add-cow        # free again: it works
    assert_status 0
}

@test "locks: a writer on the image: qemu's shared write message, the -U hint where -U is accepted" {
    make_twins
    hold qemu-io -f qcow2 q.qcow2
    wait_locked q.qcow2
    run --separate-stderr qemu-img info q.qcow2
    assert_status 1
    assert_text "$stderr" 'qemu-img: Could not open '"'q.qcow2'"': Failed to get shared "write" lock
Is another process using the image [q.qcow2]?'
    run --separate-stderr qemu-img commit q.qcow2
    assert_status 1
    assert_text "$stderr" 'qemu-img: Could not open '"'q.qcow2'"': Failed to get "write" lock
Is another process using the image [q.qcow2]?'
    release
    hold "$IO" ov.add-cow
    wait_locked ov.add-cow
    local cmd
    for cmd in info map check "check --output=json"; do
        run --separate-stderr "$IMG" $cmd ov.add-cow
        assert_status 1
        assert_text "$stderr" 'addcow-img: ov.add-cow: Failed to get shared "write" lock
Is another process using the image [ov.add-cow]?
(use -U to inspect it anyway)'
        run "$IMG" $cmd -U ov.add-cow
        assert_status 0
    done
    run --separate-stderr "$IO" -r -c 'read -q 0 64k' ov.add-cow
    assert_status 1
    [[ $stderr == *"(use -U to inspect it anyway)" ]]
    # No -U for these (qemu-img has none for commit; -r writes).
    for cmd in commit "check -r all" "rebase -u -b base.raw -F raw"; do
        run --separate-stderr "$IMG" $cmd ov.add-cow
        assert_status 1
        assert_text "$stderr" 'addcow-img: ov.add-cow: Failed to get "write" lock
Is another process using the image [ov.add-cow]?'
    done
    release
}

@test "locks: a commit target takes qemu-img commit's bytes (write, deny resize)" {
    make_twins
    qemu-io -f qcow2 -c 'write -q -P 0x44 0 4M' q.qcow2
    "$IO" -c 'write -q -P 0x44 0 4M' ov.add-cow
    hold qemu-img commit -r 1M q.qcow2         # about 4 s
    wait_locked q.qcow2
    sleep 0.5                                   # the job is running
    local base meta
    base=$(locks_of base.raw) meta=$(locks_of q.qcow2)
    release
    assert_text "$base" "101 203"
    hold "$IMG" commit -r 1M ov.add-cow
    wait_locked ov.add-cow
    sleep 0.5
    assert_text "$(locks_of base.raw)" "$base"
    assert_text "$(locks_of ov.add-cow)" "$meta"
    release
}
