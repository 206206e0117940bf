#!/usr/bin/env bats
# addcow-img measure: qemu-img's command line, checks, messages and keys;
# -O raw gives qemu-img's numbers, -O add-cow counts the add-cow file that
# create writes and the image file's data.

load helpers

# base.raw 2 MiB with 512k of data; ov.add-cow 3 MiB over it with 100k
# written at 1M (two 64k clusters allocated).
make_overlay() {
    make_raw base.raw 2M 021 0:512k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 3M
    "$IO" -c 'write -q -P 0x22 1M 100k' ov.add-cow
}

@test "measure: --size, human and JSON, as qemu-img prints them" {
    run --separate-stderr "$IMG" measure --size 1G -O add-cow
    assert_status 0
    assert_text "$output" "required size: 131072
fully allocated size: 1073872896"
    assert_text "$stderr" ""
    run "$IMG" measure --output=json --size 1G -O add-cow
    assert_status 0
    assert_text "$output" '{
    "required": 131072,
    "fully-allocated": 1073872896
}'
}

@test "measure: -O raw (the default) gives qemu-img's numbers" {
    need_qemu
    make_overlay
    local args
    for args in "--size 1G" "--size 1000" "--size 1G -O raw" \
                "--output=json --size 3M" "-O raw -o preallocation=full --size 1M"; do
        run qemu-img measure $args
        local want=$output
        run "$IMG" measure $args
        assert_status 0
        assert_text "$output" "$want"
    done
    run "$IMG" measure ov.add-cow
    assert_text "$output" "required size: 3145728
fully allocated size: 3145728"
}

@test "measure: -O add-cow counts what create writes, and the source's data" {
    make_overlay
    local cs size
    for cs in 4k 64k 2M; do
        for size in 512 1M 1G 3G; do
            "$IMG" create -q -o cluster_size=$cs n.add-cow $size
            run "$IMG" measure -O add-cow -o cluster_size=$cs --size $size
            assert_status 0
            local meta
            meta=$(stat -c %s n.add-cow)
            [ "${lines[0]}" = "required size: $meta" ]
            [ "${lines[1]}" = "fully allocated size: $(( meta + $(stat -c %s n.raw) ))" ]
            rm n.add-cow n.raw
        done
    done
    # 64k of header, 64k of bitmap, 512k from the backing, 128k written
    run "$IMG" measure -O add-cow ov.add-cow
    assert_status 0
    assert_text "$output" "required size: 786432
fully allocated size: 3276800"
    run "$IMG" measure -O add-cow -o cluster_size=4k ov.add-cow
    assert_text "$output" "required size: 663552
fully allocated size: 3153920"
    run "$IMG" measure -O add-cow -o preallocation=falloc ov.add-cow
    assert_text "$output" "required size: 3276800
fully allocated size: 3276800"
    run "$IMG" measure -U -f add-cow -O add-cow -o image_file=x.raw,image_fmt=raw ov.add-cow
    assert_text "${lines[0]}" "required size: 786432"
}

@test "measure: refusals match qemu-img's messages" {
    need_qemu
    local args
    while IFS= read -r args; do
        eval "set -- $args"
        run --separate-stderr qemu-img measure "$@"
        local qstatus=$status qerr=${stderr//qemu-img/addcow-img}
        run --separate-stderr "$IMG" measure "$@"
        assert_status "$qstatus"
        assert_text "$stderr" "$qerr"
        assert_text "$output" ""
    done <<'EOF'

--size 1G a.add-cow
a b
-f raw --size 1G
--size 12Q
--size 8E
--size=-1
--output=xml --size 1G
-O bogus --size 1G
-O raw -o cluster_size=4k --size 1G
-O raw -o bogus --size 1G
EOF
    # qemu-img prints its help and exits 0 on an unknown option; we do not
    run --separate-stderr "$IMG" measure -Z --size 1G
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-Z'
Try 'addcow-img --help' for more information"
}

@test "measure: add-cow option errors" {
    run --separate-stderr "$IMG" measure -O add-cow -o bogus=1 --size 1G
    assert_status 1
    assert_text "$stderr" "addcow-img: Invalid parameter 'bogus'
addcow-img: Invalid options for file format 'add-cow'"
    run --separate-stderr "$IMG" measure -O add-cow -o cluster_size=1k --size 1G
    assert_status 1
    assert_text "$stderr" "addcow-img: Cluster size must be a power of two between 4k and 2048k"
    run --separate-stderr "$IMG" measure -O add-cow -o preallocation=some --size 1G
    assert_status 1
    assert_text "$stderr" "addcow-img: invalid parameter value: some"
    run --separate-stderr "$IMG" measure -O add-cow -o image_fmt=qcow2 --size 1G
    assert_status 1
    assert_text "$stderr" "addcow-img: Parameter 'image_fmt' does not accept value 'qcow2'"
}

@test "measure: a missing image or backing file is an error" {
    run --separate-stderr "$IMG" measure nosuch.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: nosuch.add-cow: could not open: No such file or directory"
    make_overlay
    rm base.raw
    run --separate-stderr "$IMG" measure -O add-cow ov.add-cow
    assert_status 1
    [[ $stderr == *base.raw* ]]
    run --separate-stderr "$IMG" measure -f vmdk ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: unsupported format 'vmdk'"
}

@test "measure: --help and -h on stdout; every option in the man page" {
    local opt
    for opt in --help -h; do
        run --separate-stderr "$IMG" measure $opt
        assert_status 0
        assert_text "$stderr" ""
        [[ ${lines[0]} == "usage: addcow-img measure "* ]]
    done
    local text
    text=$(sed 's/\\-/-/g' "$SRC_DIR/man/addcow-img.1")
    for opt in --output -O -o --size -f -U --force-share; do
        grep -qE -- "(^|[^-A-Za-z])$opt([^-A-Za-z]|\$)" <<<"$text"
    done
    grep -q '^\.SS measure' "$SRC_DIR/man/addcow-img.1"
}

@test "measure: -f raw counts the data of a raw file" {
    make_raw base.raw 2M 021 0:512k
    run "$IMG" measure -f raw -O add-cow base.raw
    assert_status 0
    assert_text "$output" "required size: 655360
fully allocated size: 2228224"
}
