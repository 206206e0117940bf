#!/usr/bin/env bats
# addcow-img convert: side by side with qemu-img convert of the qcow2 twin
# (a qcow2 image with a raw data file over the same backing file): the
# result byte for byte and in allocation (map), messages and exit codes,
# progress, and a cancelled convert leaving no target.

load helpers

# base.raw 2 MiB, 512k of 0x11 then a hole; ov.add-cow over it with 0x22
# at 1M and 0x33 at 1600k (64k each); q.qcow2 the same.  (Whole clusters:
# the zeros a partial write fills in are data in the image file, which
# convert copies as they are while qemu-img scans them; see the man page.)
make_twins() {
    make_raw base.raw 2M 021 0:512k
    "$IMG" create -q -b base.raw -F raw ov.add-cow
    "$IO" -c 'write -q -P 0x22 1M 64k' -c 'write -q -P 0x33 1600k 64k' ov.add-cow
    if command -v qemu-img >/dev/null; then
        qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2
        qemu-io -f qcow2 -c 'write -q -P 0x22 1M 64k' -c 'write -q -P 0x33 1600k 64k' q.qcow2
    fi
}

raw_map() {
    qemu-img map --output=json -f raw "$1"
}

@test "convert -O raw: the same bytes and holes as qemu-img convert" {
    need_qemu
    make_twins
    run --separate-stderr "$IMG" convert -O raw ov.add-cow out.raw
    assert_status 0
    assert_text "$output" ""
    assert_text "$stderr" ""
    qemu-img convert -O raw q.qcow2 want.raw
    cmp want.raw out.raw
    assert_text "$(raw_map out.raw)" "$(raw_map want.raw)"
    # raw is the default, and an existing DST is replaced
    run "$IMG" convert ov.add-cow out.raw
    assert_status 0
    cmp want.raw out.raw
    [ -z "$(ls | grep convert-)" ]
}

@test "convert -O add-cow: a standalone image whose image file is qemu-img's raw" {
    need_qemu
    make_twins
    run "$IMG" convert -O add-cow ov.add-cow new.add-cow
    assert_status 0
    qemu-img convert -O raw q.qcow2 want.raw
    cmp want.raw new.raw
    assert_text "$(raw_map new.raw)" "$(raw_map want.raw)"
    run "$IMG" info new.add-cow
    [[ $output == *"all allocated: true"* ]]
    [[ $output != *"backing file"* ]]
    run "$IMG" compare new.add-cow ov.add-cow
    assert_status 0
    run "$IMG" check new.add-cow
    assert_status 0
    # -o image_file= and cluster_size=
    run "$IMG" convert -O add-cow -o image_file=disk.img,cluster_size=4k ov.add-cow o2.add-cow
    assert_status 0
    cmp want.raw disk.img
    "$IMG" info o2.add-cow | grep -q '^cluster_size: 4096$'
}

@test "convert -f raw: a raw source" {
    need_qemu
    make_twins
    run "$IMG" convert -f raw -O raw base.raw out.raw
    assert_status 0
    qemu-img convert -f raw -O raw base.raw want.raw
    cmp want.raw out.raw
    assert_text "$(raw_map out.raw)" "$(raw_map want.raw)"
}

@test "convert -n writes into an existing file that is large enough" {
    need_qemu
    make_twins
    qemu-img convert -O raw q.qcow2 want.raw
    make_raw target.raw 3M 177 0:3M
    run "$IMG" convert -n ov.add-cow target.raw
    assert_status 0
    [ "$(stat -c %s target.raw)" = 3145728 ]
    cmp -n 2097152 want.raw target.raw
    # its tail is left alone
    [ "$(hex_at target.raw 2097152 1)" = 7f ]
    truncate -s 1M small.raw
    run --separate-stderr "$IMG" convert -n ov.add-cow small.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: small.raw: output file is smaller than input file"
    run --separate-stderr "$IMG" convert -n ov.add-cow nosuch.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: nosuch.raw: could not open: No such file or directory"
}

@test "convert -S 0 allocates every byte; -S SIZE writes short zero runs" {
    need_qemu
    make_twins
    run "$IMG" convert -S 0 ov.add-cow full.raw
    assert_status 0
    qemu-img convert -O raw q.qcow2 want.raw
    cmp want.raw full.raw
    [ "$(stat -c %b full.raw)" -ge 4096 ]
    run "$IMG" convert -S 16M ov.add-cow s.raw
    assert_status 0
    cmp want.raw s.raw
}

@test "convert: refusals match qemu-img's messages" {
    need_qemu
    make_twins
    local args
    while IFS= read -r args; do
        eval "set -- $args"
        local qargs=("${@/SRC/q.qcow2}") oargs=("${@/SRC/ov.add-cow}")
        run --separate-stderr qemu-img convert "${qargs[@]}"
        local qstatus=$status qerr=${stderr//qemu-img/addcow-img}
        run --separate-stderr "$IMG" convert "${oargs[@]}"
        assert_status "$qstatus"
        assert_text "$stderr" "$qerr"
        assert_text "$output" ""
    done <<'EOF'
SRC
-O bogus SRC x.raw
-S 12Q SRC x.raw
-S 1000 SRC x.raw
-S 32M SRC x.raw
-m 0 SRC x.raw
-m 17 SRC x.raw
-m abc SRC x.raw
-B base.raw -O raw SRC x.raw
-O raw -o cluster_size=4k SRC x.raw
EOF
    [ ! -e x.raw ]
    run --separate-stderr "$IMG" convert nosuch.add-cow x.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: nosuch.add-cow: could not open: No such file or directory"
    run --separate-stderr "$IMG" convert -O add-cow -o bogus=1 ov.add-cow x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: Invalid parameter 'bogus'"
}

@test "convert -O add-cow -B: only what differs from BACKING, as qemu-img convert -B" {
    need_qemu
    make_twins
    run --separate-stderr "$IMG" convert -O add-cow -B base.raw -F raw ov.add-cow new.add-cow
    assert_status 0
    assert_text "$output" ""
    assert_text "$stderr" ""
    qemu-img convert -O qcow2 -B base.raw -F raw -o data_file=w.data q.qcow2 w.qcow2
    run "$IMG" compare -F qcow2 new.add-cow w.qcow2
    assert_status 0
    assert_text "$("$IMG" map --output=json new.add-cow)" "$(qemu-img map --output=json w.qcow2)"
    run "$IMG" info new.add-cow
    [[ $output == *"backing file: base.raw"* ]]
    [[ $output == *"allocated clusters: 2"* ]]
    run "$IMG" check new.add-cow
    assert_status 0
    [ -z "$(ls | grep convert-)" ]
}

@test "convert -B compares bytes: a flat source allocates only its differences" {
    need_qemu
    make_twins
    qemu-img convert -O raw q.qcow2 flat.raw
    # 448k rewritten with the backing's bytes (stays unallocated), 0 zeroed
    # over backing data (allocated, reads zeros), data past the backing's
    qemu-io -f raw -c 'write -q -P 0x11 448k 64k' -c 'write -q -z 0 64k' \
            -c 'write -q -P 0x44 1920k 64k' flat.raw
    run --separate-stderr "$IMG" convert -f raw -O add-cow -B base.raw -F raw flat.raw new.add-cow
    assert_status 0
    assert_text "$stderr" ""
    run "$IMG" compare -F raw new.add-cow flat.raw
    assert_status 0
    assert_text "$output" "Images are identical."
    run "$IMG" map --output=json new.add-cow
    assert_text "$(grep '"depth": 0' <<<"$output" | sed -e 's/^\[//' -e 's/, "offset.*//' -e 's/},*]*$//')" \
'{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": true, "data": false
{ "start": 1048576, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true
{ "start": 1638400, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true
{ "start": 1966080, "length": 65536, "depth": 0, "present": true, "zero": false, "data": true'
    run "$IMG" check new.add-cow
    assert_status 0
}

@test "convert -B: refusals match qemu-img's messages; a missing backing leaves nothing" {
    need_qemu
    make_twins
    local args
    while IFS= read -r args; do
        eval "set -- $args"
        local qargs=("${@/SRC/q.qcow2}") oargs=("${@/SRC/ov.add-cow}")
        qargs=("${qargs[@]/add-cow/qcow2}")
        run --separate-stderr qemu-img convert "${qargs[@]}"
        local qstatus=$status qerr=${stderr//qemu-img/addcow-img}
        qerr=${qerr//qcow2/add-cow}
        run --separate-stderr "$IMG" convert "${oargs[@]}"
        assert_status "$qstatus"
        assert_text "$stderr" "$qerr"
    done <<'EOF'
-B base.raw -O add-cow SRC x.add-cow
-F raw -O add-cow SRC x.add-cow
-F raw -O raw SRC x.raw
-B base.raw -F raw -O raw SRC x.raw
EOF
    [ ! -e x.add-cow ] && [ ! -e x.raw ]
    run --separate-stderr "$IMG" convert -O add-cow -B nosuch.raw -F raw ov.add-cow x.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "*"nosuch.raw"* ]]
    [ -z "$(ls | grep -e convert- -e '^x\.')" ]
}

@test "convert -p prints progress on stdout; -q nothing" {
    make_twins
    run "$IMG" convert -p ov.add-cow p.raw
    assert_status 0
    [[ $output == "    (0.00/100%)"$'\r'*"    (100.00/100%)"$'\r' ]]
    run "$IMG" convert -q -p -W -m 4 ov.add-cow q.raw
    assert_status 0
    assert_text "$output" ""
    cmp p.raw q.raw
}

@test "convert: SIGINT removes the target, exit 130" {
    truncate -s 1G base.raw
    "$IMG" create -q -b base.raw -F raw big.add-cow
    "$IO" -c 'write -q -P 0x77 0 256M' big.add-cow
    "$IMG" convert -p -S 0 big.add-cow out.raw > progress.out 2> err.out &
    local pid=$! i
    for i in $(seq 500); do [ -s progress.out ] && break; sleep 0.01; done
    [ -s progress.out ]
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    assert_status 130
    assert_text "$(cat err.out)" "addcow-img: big.add-cow: cancelled"
    [ ! -e out.raw ]
    [ -z "$(ls | grep convert-)" ]
}

@test "convert -B: SIGINT removes the overlay and its image file, exit 130" {
    truncate -s 1G base.raw
    "$IMG" create -q -b base.raw -F raw big.add-cow
    "$IO" -c 'write -q -P 0x77 0 256M' big.add-cow
    "$IMG" convert -p -O add-cow -B base.raw -F raw big.add-cow out.add-cow > progress.out 2> err.out &
    local pid=$! i
    for i in $(seq 500); do [ -s progress.out ] && break; sleep 0.01; done
    [ -s progress.out ]
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    assert_status 130
    assert_text "$(cat err.out)" "addcow-img: big.add-cow: cancelled"
    [ ! -e out.add-cow ] && [ ! -e out.raw ]
    [ -z "$(ls | grep convert-)" ]
}

@test "convert: --help and -h on stdout; every option in the man page" {
    local opt
    for opt in --help -h; do
        run --separate-stderr "$IMG" convert $opt
        assert_status 0
        assert_text "$stderr" ""
        [[ ${lines[0]} == "usage: addcow-img convert "* ]]
    done
    local text
    text=$(sed 's/\\-/-/g' "$SRC_DIR/man/addcow-img.1")
    for opt in -p -q -f -O -o -B -F -S -n -W -m -U --force-share; do
        grep -qE -- "(^|[^-A-Za-z])$opt([^-A-Za-z]|\$)" <<<"$text"
    done
    grep -q '^\.SS convert' "$SRC_DIR/man/addcow-img.1"
}

# A small XFS with reflink loop-mounted at ./mnt, made the working
# directory (root, mkfs.xfs, filefrag and a loop device needed, else the
# test is skipped); teardown unmounts it.
enter_reflink_xfs() {
    [ "$(id -u)" = 0 ] || skip "not root"
    command -v mkfs.xfs >/dev/null || skip "mkfs.xfs not installed"
    command -v filefrag >/dev/null || skip "filefrag not installed"
    truncate -s 512M xfs.img
    mkfs.xfs -q -m reflink=1 xfs.img 2>/dev/null || skip "mkfs.xfs -m reflink=1 failed"
    mkdir mnt
    mount -o loop xfs.img mnt 2>/dev/null || skip "cannot loop-mount xfs.img"
    XFS_MNT=$BATS_TEST_TMPDIR/mnt
    cd mnt
}

teardown() {
    if [ -n "${XFS_MNT:-}" ]; then
        cd "$BATS_TEST_TMPDIR"
        umount "$XFS_MNT"
    fi
}

# base.raw 4M: random bytes, then a hole from 3M
#   <- mid.add-cow 6M: zeros written at 1536k (64k), 0x44 at 2560k
#   <- ov.add-cow 6M: 0x22 at 1M, zeros written at 512k (128k) and 2M,
#      0x33 at 5M (past the end of the base)
# and the qcow2 twins (data files) q.qcow2 over qm.qcow2 over base.raw.
make_long_chain() {
    head -c 3M /dev/urandom > base.raw
    truncate -s 4M base.raw
    "$IMG" create -q -b base.raw -F raw mid.add-cow 6M
    "$IMG" create -q -b mid.add-cow -F add-cow ov.add-cow 6M
    qemu-img create -q -f qcow2 -o data_file=qm.data,backing_file=base.raw,backing_fmt=raw qm.qcow2 6M
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=qm.qcow2,backing_fmt=qcow2 q.qcow2 6M
    local mid=(-c 'write -q -z 1536k 64k' -c 'write -q -P 0x44 2560k 64k')
    local top=(-c 'write -q -P 0x22 1M 64k' -c 'write -q -z 512k 128k'
               -c 'write -q -z 2M 64k' -c 'write -q -P 0x33 5M 64k')
    "$IO" "${mid[@]}" mid.add-cow
    "$IO" "${top[@]}" ov.add-cow
    qemu-io -f qcow2 "${mid[@]}" qm.qcow2
    qemu-io -f qcow2 "${top[@]}" q.qcow2
}

@test "convert on XFS with reflink: the base shared, zeros over it as qemu-img's" {
    need_qemu
    enter_reflink_xfs
    make_long_chain
    # (its map before anything reads it: XFS fills the gaps between the
    # runs qemu-img wrote with unwritten extents, which SEEK_DATA reports
    # as data once a read has cached their pages)
    qemu-img convert -O raw q.qcow2 want.raw
    local want_map
    want_map=$(raw_map want.raw)
    run "$IMG" convert -O raw ov.add-cow out.raw
    assert_status 0
    cmp want.raw out.raw
    assert_text "$(raw_map out.raw)" "$want_map"
    # the base's extents are shared with out.raw (copy_file_range cloned)
    filefrag -v base.raw | grep -q shared
    # -S 1M: the zero runs over the base are written as zeros
    run "$IMG" convert -S 1M ov.add-cow s.raw
    assert_status 0
    cmp want.raw s.raw
    [ "$(raw_map s.raw | head -n 1)" = '[{ "start": 0, "length": 3145728, "depth": 0, "present": true, "zero": false, "data": true, "offset": 0},' ]
    # -n: every byte of the disk replaces the target's, its tail stays
    make_raw target.raw 8M 177 0:8M
    run "$IMG" convert -n ov.add-cow target.raw
    assert_status 0
    cmp -n 6291456 want.raw target.raw
    [ "$(hex_at target.raw 6291456 1)" = 7f ]
    # an add-cow image file, and a raw source alone
    run "$IMG" convert -O add-cow ov.add-cow new.add-cow
    assert_status 0
    cmp want.raw new.raw
    assert_text "$(raw_map new.raw)" "$want_map"
    run "$IMG" convert -f raw base.raw copy.raw
    assert_status 0
    cmp base.raw copy.raw
    assert_text "$(raw_map copy.raw)" "$(raw_map base.raw)"
}
