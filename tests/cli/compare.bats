#!/usr/bin/env bats
# addcow-img compare: side by side with qemu-img compare on qcow2 twins
# (qcow2 images with raw data files over the same backing file): messages
# on stdout, exit status 0 identical, 1 mismatch, 2 error.

load helpers

# base.raw 2 MiB, 512k of 0x11 then a hole; a and b over it, 2 MiB, as
# add-cow and as qcow2.
make_twins() {
    make_raw base.raw 2M 021 0:512k
    local n
    for n in a b; do
        "$IMG" create -q -b base.raw -F raw $n.add-cow 2M
        if command -v qemu-img >/dev/null; then
            qemu-img create -q -f qcow2 -o data_file=$n.data,backing_file=base.raw,backing_fmt=raw $n.qcow2 2M
        fi
    done
}

# Write with qemu-io on IMAGE.qcow2 and addcow-io on IMAGE.add-cow.
both_write() {
    "$IO" -c "$2" "$1.add-cow"
    if command -v qemu-io >/dev/null; then
        qemu-io -f qcow2 -c "$2" "$1.qcow2"
    fi
}

# compare ARGS (X stands for the image suffix): ours must print what
# qemu-img prints and exit as it does.
same_as_qemu() {
    need_qemu
    run --separate-stderr qemu-img compare "${@//X/qcow2}"
    local qstatus=$status qout=$output qerr=${stderr//qemu-img/addcow-img}
    run --separate-stderr "$IMG" compare "${@//X/add-cow}"
    assert_status "$qstatus"
    assert_text "$output" "$qout"
    assert_text "$stderr" "$qerr"
}

@test "compare: identical images, as qemu-img says it" {
    make_twins
    run --separate-stderr "$IMG" compare a.add-cow b.add-cow
    assert_status 0
    assert_text "$output" "Images are identical."
    assert_text "$stderr" ""
    same_as_qemu a.X b.X
    same_as_qemu -s a.X b.X
    # a holds a cluster with the backing file's own bytes: still identical
    both_write a 'write -q -P 0x11 0 64k'
    same_as_qemu a.X b.X
    same_as_qemu -s a.X b.X
}

@test "compare: a content mismatch names the first differing sector" {
    make_twins
    both_write b 'write -q -P 0x22 100007 1k'
    run "$IMG" compare a.add-cow b.add-cow
    assert_status 1
    assert_text "$output" "Content mismatch at offset 99840!"
    same_as_qemu a.X b.X
    same_as_qemu b.X a.X
    same_as_qemu -s a.X b.X
    run "$IMG" compare -q a.add-cow b.add-cow
    assert_status 1
    assert_text "$output" ""
    both_write a 'write -q -P 0x22 100007 1k'
    same_as_qemu a.X b.X
    # over the backing file's hole
    both_write a 'write -q -P 0x33 1500000 1'
    same_as_qemu a.X b.X
}

@test "compare: sizes, with and without -s, as qemu-img" {
    make_twins
    "$IMG" create -q -b base.raw -F raw c.add-cow 3M
    qemu-img create -q -f qcow2 -o data_file=c.data,backing_file=base.raw,backing_fmt=raw c.qcow2 3M
    same_as_qemu a.X c.X
    same_as_qemu c.X a.X
    same_as_qemu -s a.X c.X
    # data in the larger one's tail
    both_write c 'write -q -P 0x44 2100000 10'
    same_as_qemu a.X c.X
    same_as_qemu c.X a.X
    run "$IMG" compare a.add-cow c.add-cow
    assert_text "$output" "Warning: Image size mismatch!
Content mismatch at offset 2099712!"
    # a mismatch in the common part comes without the warning
    both_write a 'write -q -P 0x55 7 1'
    same_as_qemu a.X c.X
}

@test "compare: -s reports an allocation difference" {
    make_twins
    # zeros written over the backing file's hole: the same bytes, but
    # allocated in a only
    "$IO" -c 'write -q -P 0 1M 64k' a.add-cow
    run "$IMG" compare a.add-cow b.add-cow
    assert_status 0
    run "$IMG" compare -s a.add-cow b.add-cow
    assert_status 1
    assert_text "$output" "Strict mode: Offset 1048576 block status mismatch!"
}

@test "compare: -p prints progress on stdout, then the result and a newline" {
    make_twins
    run "$IMG" compare -p a.add-cow b.add-cow
    assert_status 0
    [[ $output == "    (0.00/100%)"$'\r'*"    (100.00/100%)"$'\r'"Images are identical." ]]
    run "$IMG" compare -p -q a.add-cow b.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "compare: errors exit 2, usage errors 1, as qemu-img" {
    make_twins
    run --separate-stderr "$IMG" compare nosuch.add-cow a.add-cow
    assert_status 2
    assert_text "$stderr" "addcow-img: nosuch.add-cow: could not open: No such file or directory"
    run --separate-stderr "$IMG" compare a.add-cow nosuch.add-cow
    assert_status 2
    run --separate-stderr "$IMG" compare -F vmdk a.add-cow b.add-cow
    assert_status 2
    assert_text "$stderr" "addcow-img: b.add-cow: unsupported format 'vmdk'"
    # a.add-cow read as a raw file, as qemu-img would read it
    run --separate-stderr "$IMG" compare -f raw a.add-cow b.add-cow
    assert_status 1
    assert_text "$output" "Content mismatch at offset 0!"
    same_as_qemu a.X
    same_as_qemu a.X b.X c.X
    same_as_qemu
    run --separate-stderr "$IMG" compare -Z a.add-cow b.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-Z'
Try 'addcow-img --help' for more information"
    rm base.raw
    run --separate-stderr "$IMG" compare a.add-cow b.add-cow
    assert_status 2
    [[ $stderr == *base.raw* ]]
}

@test "compare: an image in use needs -U" {
    make_twins
    start_writer a.add-cow
    run --separate-stderr "$IMG" compare a.add-cow b.add-cow
    local s1=$status
    run "$IMG" compare -U a.add-cow b.add-cow
    local s2=$status out=$output
    stop_writer
    [ "$s1" = 2 ]
    [ "$s2" = 0 ]
    assert_text "$out" "Images are identical."
}

@test "compare: --help and -h on stdout; every option in the man page" {
    local opt
    for opt in --help -h; do
        run --separate-stderr "$IMG" compare $opt
        assert_status 0
        assert_text "$stderr" ""
        [[ ${lines[0]} == "usage: addcow-img compare "* ]]
    done
    local text
    text=$(sed 's/\\-/-/g' "$SRC_DIR/man/addcow-img.1")
    for opt in -f -F -s -q -p -U --force-share; do
        grep -qE -- "(^|[^-A-Za-z])$opt([^-A-Za-z]|\$)" <<<"$text"
    done
    grep -q '^\.SS compare' "$SRC_DIR/man/addcow-img.1"
}

@test "compare: -f raw, as qemu-img (the format is never probed)" {
    make_twins
    run "$IMG" compare -f raw -F add-cow base.raw a.add-cow
    assert_status 0
    assert_text "$output" "Images are identical."
    same_as_qemu -f raw -F X base.raw a.X
    "$IO" -c 'write -q -P 0x66 4096 1' a.add-cow
    run "$IMG" compare -f raw base.raw a.add-cow
    assert_status 1
    assert_text "$output" "Content mismatch at offset 4096!"
}
