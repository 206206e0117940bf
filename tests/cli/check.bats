#!/usr/bin/env bats
# addcow-img check: qemu-img's report, JSON and exit codes; repairs.
# Problems are made by hand, the way e2fsprogs' tests damage images.

load helpers

# ov.add-cow: 3 clusters (192k) over a 1 MiB raw backing file; the bitmap
# is one byte at offset 65536 (HEADER_SIZE), of which bits 3-7 are spare.
make_image() {
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 192k
}

@test "check: a clean image" {
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 2M
    "$IO" -c 'write -q 0 64k' -c 'write -q 512k 64k' ov.add-cow
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 0
    assert_text "$stderr" ""
    assert_text "$output" "No errors were found on the image.
2/32 = 6.25% allocated, 0.00% fragmented, 0.00% compressed clusters
Image end offset: 131072"
    run --separate-stderr "$IMG" check --output=json ov.add-cow
    assert_status 0
    assert_text "$output" '{
    "image-end-offset": 131072,
    "total-clusters": 32,
    "check-errors": 0,
    "allocated-clusters": 2,
    "filename": "ov.add-cow",
    "format": "add-cow"
}'
}

@test "check: no allocated cluster, no allocation line (as qemu-img)" {
    make_image
    run "$IMG" check ov.add-cow
    assert_status 0
    assert_text "$output" "No errors were found on the image.
Image end offset: 131072"
}

@test "check: an all-allocated image" {
    "$IMG" create -q x.add-cow 1M
    run "$IMG" check x.add-cow
    assert_status 0
    assert_text "$output" "No errors were found on the image.
16/16 = 100.00% allocated, 0.00% fragmented, 0.00% compressed clusters
Image end offset: 131072"
}

@test "check: a bit past the last cluster is a leak: exit 3" {
    make_image
    poke ov.add-cow 65536 80
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 3
    assert_text "$output" "
1 leaked clusters were found on the image.
This means waste of disk space, but no harm to data.
Run 'addcow-img check -r leaks ov.add-cow' to repair them.
Image end offset: 131072"
    [[ $stderr == "LEAK ov.add-cow: "* ]]
    [ "${#stderr_lines[@]}" = 1 ]
    run --separate-stderr "$IMG" check --output=json ov.add-cow
    assert_status 3
    assert_text "$output" '{
    "image-end-offset": 131072,
    "total-clusters": 3,
    "check-errors": 0,
    "leaks": 1,
    "filename": "ov.add-cow",
    "format": "add-cow"
}'
    # a leak does not stop the image from opening
    run "$IO" -r -c 'read -q -P 0x11 0 64k' ov.add-cow
    assert_status 0
}

@test "check: -r leaks repairs a leak: the first and the second run" {
    make_image
    cp ov.add-cow clean.add-cow
    poke ov.add-cow 65536 80
    run --separate-stderr "$IMG" check -r leaks ov.add-cow
    assert_status 0
    assert_text "$output" "The following inconsistencies were found and repaired:

    1 leaked clusters
    0 corruptions

Double checking the fixed image now...
No errors were found on the image.
Image end offset: 131072"
    [[ ${stderr_lines[0]} == "LEAK ov.add-cow: "* ]]
    [[ $stderr == *"Repaired ov.add-cow: "* ]]
    cmp clean.add-cow ov.add-cow
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 0
    assert_text "$stderr" ""
}

@test "check: -r leaks in JSON reports leaks-fixed" {
    make_image
    poke ov.add-cow 65536 f8
    run --separate-stderr "$IMG" check -r leaks --output=json ov.add-cow
    assert_status 0
    assert_text "$output" '{
    "image-end-offset": 131072,
    "total-clusters": 3,
    "check-errors": 0,
    "leaks-fixed": 1,
    "filename": "ov.add-cow",
    "format": "add-cow"
}'
    assert_text "$(hex_at ov.add-cow 65536 1)" 00
}

@test "check: junk in the header padding is a leak, -r leaks clears it" {
    make_image
    cp ov.add-cow clean.add-cow
    poke ov.add-cow 200 01
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 3
    [[ $stderr == "LEAK ov.add-cow: "* ]]
    run "$IMG" check -r leaks ov.add-cow
    assert_status 0
    cmp clean.add-cow ov.add-cow
}

@test "check: a truncated bitmap is a corruption: exit 2, the image does not open" {
    make_image
    truncate -s 65536 ov.add-cow
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 2
    assert_text "$output" "
1 errors were found on the image.
Data may be corrupted, or further writes to the image may corrupt it.
Image end offset: 65536"
    [[ $stderr == "ERROR ov.add-cow: "* ]]
    run --separate-stderr "$IMG" check --output=json ov.add-cow
    assert_status 2
    assert_text "$output" '{
    "image-end-offset": 65536,
    "total-clusters": 3,
    "corruptions": 1,
    "check-errors": 0,
    "filename": "ov.add-cow",
    "format": "add-cow"
}'
    run --separate-stderr "$IMG" info ov.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: ov.add-cow: "* ]]
}

@test "check: -r leaks leaves a corruption, -r all mends a truncated bitmap" {
    make_image
    cp ov.add-cow clean.add-cow
    truncate -s 65536 ov.add-cow
    run "$IMG" check -r leaks ov.add-cow
    assert_status 2
    [ "$(stat -c %s ov.add-cow)" = 65536 ]
    run --separate-stderr "$IMG" check -r all ov.add-cow
    assert_status 0
    assert_text "$output" "The following inconsistencies were found and repaired:

    0 leaked clusters
    1 corruptions

Double checking the fixed image now...
No errors were found on the image.
Image end offset: 131072"
    cmp clean.add-cow ov.add-cow
    run --separate-stderr "$IMG" check -r all --output=json ov.add-cow
    assert_status 0
    [[ $output != *fixed* ]]
}

@test "check: -r all in JSON reports corruptions-fixed" {
    make_image
    truncate -s 65536 ov.add-cow
    run --separate-stderr "$IMG" check -r all --output=json ov.add-cow
    assert_status 0
    assert_text "$output" '{
    "image-end-offset": 131072,
    "total-clusters": 3,
    "corruptions-fixed": 1,
    "check-errors": 0,
    "filename": "ov.add-cow",
    "format": "add-cow"
}'
}

@test "check: leaks and corruptions together: exit 2, both reported" {
    make_image
    poke ov.add-cow 200 01
    truncate -s 65536 ov.add-cow
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 2
    [[ $output == *"errors were found on the image."* ]]
    [[ $output == *"leaked clusters were found on the image."* ]]
    [[ $stderr == *"ERROR ov.add-cow: bitmap is truncated"* ]]
    [[ $stderr == *"LEAK ov.add-cow: "* ]]
}

@test "check: a missing backing or image file cannot be checked: exit 1 as qemu-img, not 2" {
    need_qemu
    make_image
    qemu-img create -q -f qcow2 -o data_file=q.data -b base.raw -F raw q.qcow2
    mv base.raw base.raw.moved
    # qemu-img: "Could not open backing file", exit 1, nothing on stdout.
    for r in "" "-r all" "--output=json"; do
        run --separate-stderr qemu-img check $r q.qcow2
        assert_status 1
        assert_text "$output" ""
        run --separate-stderr "$IMG" check $r ov.add-cow
        assert_status 1
        assert_text "$output" ""
        assert_text "$stderr" "addcow-img: ov.add-cow: could not open backing file 'base.raw': No such file or directory"
    done
    mv base.raw.moved base.raw
    mv ov.raw ov.raw.moved
    run --separate-stderr "$IMG" check -r all ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: could not open image file 'ov.raw': No such file or directory"
    # Nothing was "repaired": back in place, the image is clean.
    mv ov.raw.moved ov.raw
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "check: JSON has qemu-img's keys: allocated-clusters only when non-zero" {
    need_qemu
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 1M
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 1M
    keys() { grep -o '^    "[a-z-]*"' <<<"$output"; }
    run qemu-img check --output=json q.qcow2
    local want; want=$(keys)
    [[ $want != *allocated-clusters* ]]
    run "$IMG" check --output=json ov.add-cow
    assert_text "$(keys)" "$want"
    qemu-io -f qcow2 -c 'write -q 0 64k' q.qcow2
    "$IO" -c 'write -q 0 64k' ov.add-cow
    run qemu-img check --output=json q.qcow2
    want=$(keys)
    [[ $want == *allocated-clusters* ]]
    run "$IMG" check --output=json ov.add-cow
    assert_text "$(keys)" "$want"
    [[ $output == *'"allocated-clusters": 1,'* ]]
}

@test "check: what cannot be checked is exit status 1" {
    truncate -s 1M plain.raw
    run --separate-stderr "$IMG" check -f add-cow plain.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: plain.raw: not an add-cow image (bad magic)"
    assert_text "$output" ""
    run --separate-stderr "$IMG" check nosuch.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: nosuch.add-cow: "* ]]
    make_image
    poke ov.add-cow 24 04        # an unknown incompatible feature
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: unsupported incompatible features 0x4"
}

@test "check: -q prints nothing but keeps the exit status" {
    make_image
    run --separate-stderr "$IMG" check -q ov.add-cow
    assert_status 0
    assert_text "$output" ""
    poke ov.add-cow 65536 80
    run --separate-stderr "$IMG" check -q ov.add-cow
    assert_status 3
    assert_text "$output" ""
    run --separate-stderr "$IMG" check -q --output=json ov.add-cow
    assert_status 3
    assert_text "$output" ""
}

@test "check: -r takes leaks or all; -U cannot repair" {
    make_image
    run --separate-stderr "$IMG" check -r bogus ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: Unknown option value for -r (expecting 'leaks' or 'all'): bogus
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" check -U -r leaks ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: -U (--force-share) cannot be used with -r"
}

@test "check: an image in use is not checked without -U" {
    make_image
    start_writer ov.add-cow
    run --separate-stderr "$IMG" check ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: Failed to get shared \"write\" lock
Is another process using the image [ov.add-cow]?
(use -U to inspect it anyway)"
    run "$IMG" check -U ov.add-cow
    assert_status 0
    stop_writer
}

@test "check: the clean report matches qemu-img's layout" {
    need_qemu
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow 2M
    "$IO" -c 'write -q 0 64k' ov.add-cow
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 2M
    qemu-io -f qcow2 -c 'write -q 0 64k' q.qcow2
    run qemu-img check q.qcow2
    local want=$output
    run "$IMG" check ov.add-cow
    assert_text "$(sed 's/[0-9]\+/N/g' <<<"$output")" "$(sed 's/[0-9]\+/N/g' <<<"$want")"
    assert_text "${lines[1]%% =*}" "1/32"
    run qemu-img check --output=json q.qcow2
    want=$(grep -o '^    "[a-z-]*"' <<<"$output")
    run "$IMG" check --output=json ov.add-cow
    assert_text "$(grep -o '^    "[a-z-]*"' <<<"$output")" "$want"
}
