#!/usr/bin/env bats
# addcow-img resize: side by side with qemu-img resize on the qcow2 twin
# (a qcow2 image with a raw data file over the same backing file):
# messages, exit codes, "Image resized.", and the disk afterwards.

load helpers

# base.raw 2 MiB of 0x11; ov.add-cow 1 MiB over it with 0x22 at 64k and
# 0x33 in its last 64k; q.qcow2 the same in qcow2.
make_twins() {
    make_raw base.raw 2M 021 0:2M
    "$IMG" create -q -b base.raw -F raw ov.add-cow 1M
    "$IO" -c 'write -q -P 0x22 64k 64k' -c 'write -q -P 0x33 960k 64k' \
        ov.add-cow
    if command -v qemu-img >/dev/null; then
        qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 1M
        qemu-io -f qcow2 -c 'write -q -P 0x22 64k 64k' \
            -c 'write -q -P 0x33 960k 64k' q.qcow2
    fi
}

# The same qemu-io/addcow-io reads on both images give the same output.
same_reads() {
    local cmds=() arg
    for arg in "$@"; do cmds+=(-c "read -q $arg"); done
    run "$IO" -r "${cmds[@]}" ov.add-cow
    assert_status 0
    assert_text "$output" ""
    if command -v qemu-io >/dev/null; then
        run qemu-io -r -f qcow2 "${cmds[@]}" q.qcow2
        assert_status 0
        assert_text "$output" ""
    fi
}

virtual_size() {
    "$IMG" info --output=json "$1" | sed -n 's/^    "virtual-size": \([0-9]*\),$/\1/p'
}

@test "resize: grow over a longer backing file reads zeros, as qemu-img" {
    make_twins
    run --separate-stderr "$IMG" resize ov.add-cow +1M
    assert_status 0
    assert_text "$output" "Image resized."
    assert_text "$stderr" ""
    if command -v qemu-img >/dev/null; then
        run qemu-img resize q.qcow2 +1M
        assert_text "$output" "Image resized."
    fi
    [ "$(virtual_size ov.add-cow)" = 2097152 ]
    [ "$(stat -c %s ov.raw)" = 2097152 ]
    same_reads '-P 0x11 0 64k' '-P 0x22 64k 64k' '-P 0x11 128k 832k' \
        '-P 0x33 960k 64k' '-P 0 1M 1M'
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "resize: --shrink cuts the disk, then a grow reads zeros" {
    make_twins
    run "$IMG" resize --shrink ov.add-cow 512K
    assert_status 0
    assert_text "$output" "Image resized."
    [ "$(stat -c %s ov.raw)" = 524288 ]
    run "$IMG" check ov.add-cow
    assert_status 0
    run "$IMG" resize ov.add-cow 1M
    assert_status 0
    if command -v qemu-img >/dev/null; then
        qemu-img resize -q --shrink q.qcow2 512K
        qemu-img resize -q q.qcow2 1M
    fi
    same_reads '-P 0x11 0 64k' '-P 0x22 64k 64k' '-P 0x11 128k 384k' \
        '-P 0 512k 512k'
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "resize: relative sizes, hex, fractions; -q prints nothing" {
    make_twins
    run "$IMG" resize -q ov.add-cow +0x100000
    assert_status 0
    assert_text "$output" ""
    [ "$(virtual_size ov.add-cow)" = 2097152 ]
    run "$IMG" resize --shrink ov.add-cow -- -0.5M
    assert_status 0
    [ "$(virtual_size ov.add-cow)" = 1572864 ]
    run "$IMG" resize --shrink ov.add-cow -512k
    assert_status 0
    [ "$(virtual_size ov.add-cow)" = 1048576 ]
    run "$IMG" resize ov.add-cow 1M
    assert_status 0
    assert_text "$output" "Image resized."
}

# Every refusal prints what qemu-img prints (our program name) and exits 1,
# and leaves the image as it was.
@test "resize: refusals match qemu-img's messages and exit codes" {
    need_qemu
    make_twins
    local args before
    before=$(sha256sum ov.add-cow ov.raw)
    while IFS= read -r args; do
        eval "set -- $args"
        local qargs=("${@/IMG/q.qcow2}") oargs=("${@/IMG/ov.add-cow}")
        run --separate-stderr qemu-img resize "${qargs[@]}"
        local qstatus=$status qerr=${stderr//qemu-img/addcow-img} qout=$output
        run --separate-stderr "$IMG" resize "${oargs[@]}"
        assert_status "$qstatus"
        assert_text "$stderr" "$qerr"
        assert_text "$output" "$qout"
    done <<'EOF'
IMG -512K
IMG -- -512K
IMG 512K
IMG +1000
--shrink IMG -1
IMG 12Q
IMG -- +-1
IMG -- --1
IMG ''
IMG 16E
IMG +16E
IMG 8E
--shrink IMG 0
--shrink IMG -1M
--preallocation=bogus IMG 2M
--preallocation=falloc IMG 1M
--preallocation=full IMG 512K
--preallocation=full --shrink IMG 512K
-U IMG 1M
IMG
-q -q 1M
IMG 1M extra
EOF
    [ "$before" = "$(sha256sum ov.add-cow ov.raw)" ]
}

@test "resize: the same size is 'Image resized.' and changes nothing" {
    make_twins
    local before
    before=$(sha256sum ov.add-cow ov.raw)
    run "$IMG" resize ov.add-cow 1M
    assert_status 0
    assert_text "$output" "Image resized."
    run "$IMG" resize ov.add-cow -- -0
    assert_status 0
    [ "$before" = "$(sha256sum ov.add-cow ov.raw)" ]
}

@test "resize: --preallocation reserves (falloc) or writes (full) the new bytes" {
    make_twins
    local mode
    for mode in falloc full; do
        run "$IMG" resize --preallocation=$mode ov.add-cow +4M
        assert_status 0
        [ "$(stat -c %b ov.raw)" -ge $(( 4 * 2048 )) ]
        truncate -s 1M ov.raw          # let the next mode start over
        "$IMG" check -q -r leaks ov.add-cow || true
    done
    same_reads '-P 0x11 0 64k' '-P 0x22 64k 64k'
}

@test "resize: the bitmap limit is refused before anything changes" {
    make_raw base.raw 64k
    "$IMG" create -q -b base.raw -F raw -o cluster_size=4k ov.add-cow 64k
    local before
    before=$(sha256sum ov.add-cow ov.raw)
    run --separate-stderr "$IMG" resize ov.add-cow 9T
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: cannot grow the disk to 9895604649984 bytes: with 4096-byte clusters it needs a bitmap larger than this implementation's 256 MiB"
    [ "$before" = "$(sha256sum ov.add-cow ov.raw)" ]
}

@test "resize: an image in use is refused" {
    make_twins
    start_writer ov.add-cow
    run --separate-stderr "$IMG" resize ov.add-cow 2M
    stop_writer
    assert_status 1
    [[ $stderr == "addcow-img: ov.add-cow: image is in use by another process"* ]]
    [ "$(virtual_size ov.add-cow)" = 1048576 ]
}

@test "resize: a missing image, a missing backing file, -f" {
    run --separate-stderr "$IMG" resize nosuch.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: nosuch.add-cow: could not open: No such file or directory"
    make_twins
    run --separate-stderr "$IMG" resize -f raw ov.add-cow 2M
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: unsupported format 'raw'"
    run "$IMG" resize -f add-cow ov.add-cow 2M
    assert_status 0
    rm base.raw
    run --separate-stderr "$IMG" resize ov.add-cow 3M
    assert_status 1
    [[ $stderr == *base.raw* ]]
    [ "$(stat -c %s ov.raw)" = 2097152 ]
}

@test "resize: --help and -h on stdout; every option in the man page" {
    local opt
    for opt in --help -h; do
        run --separate-stderr "$IMG" resize $opt
        assert_status 0
        assert_text "$stderr" ""
        [[ ${lines[0]} == "usage: addcow-img resize "* ]]
    done
    local text
    text=$(sed 's/\\-/-/g' "$SRC_DIR/man/addcow-img.1")
    for opt in -q -f --shrink --preallocation; do
        grep -qE -- "(^|[^-A-Za-z])$opt([^-A-Za-z]|\$)" <<<"$text"
    done
    grep -q '^\.SS resize' "$SRC_DIR/man/addcow-img.1" ||
        grep -q 'resize' "$SRC_DIR/man/addcow-img.1"
}
