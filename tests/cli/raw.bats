#!/usr/bin/env bats
# raw.bats - info, map and check on a raw file (what a flatten leaves),
# byte for byte as qemu-img 7.2 prints them, with and without -f raw.

load helpers

# A sparse 4 MiB raw file with data at 1M and 3M+512k.
make_raw_disk() {
    need_qemu
    truncate -s 4M "$1"
    qemu-io -f raw -c 'write -q -P 1 1M 64k' -c 'write -q -P 2 3584k 128k' "$1"
}

# Run qemu-img and addcow-img with the same arguments: same stdout,
# stderr (but for the program name) and exit status.
same_as_qemu() {
    run --separate-stderr qemu-img "$@"
    local qs=$status qo=$output qe=$stderr
    run --separate-stderr "$IMG" "$@"
    echo "addcow-img $*: status $status (qemu-img $qs)"
    [ "$status" -eq "$qs" ]
    assert_text "$output" "$qo"
    assert_text "${stderr//addcow-img/qemu-img}" "$qe"
}

@test "raw: info, human and JSON, as qemu-img (probed or -f raw)" {
    make_raw_disk vm.raw
    same_as_qemu info vm.raw
    same_as_qemu info -f raw vm.raw
    same_as_qemu info --output=json vm.raw
    same_as_qemu info --output=json -f raw vm.raw
    same_as_qemu info --backing-chain --output=json vm.raw
    assert_text "$stderr" ""        # no probing warning, as qemu-img
}

@test "raw: map, human and JSON, as qemu-img" {
    make_raw_disk vm.raw
    same_as_qemu map vm.raw
    same_as_qemu map --output=json vm.raw
    same_as_qemu map -f raw --output=json vm.raw
    same_as_qemu map --output=json --start-offset=1000k --max-length=2M vm.raw
}

@test "raw: check exits 63 'This image format does not support checks'" {
    make_raw_disk vm.raw
    same_as_qemu check vm.raw
    same_as_qemu check -f raw vm.raw
    same_as_qemu check --output=json -f raw vm.raw
    assert_status 63
    assert_text "$stderr" "addcow-img: This image format does not support checks"
    run --separate-stderr "$IMG" check -f raw nosuch.raw
    assert_status 1
}

@test "raw: what a flatten leaves maps and reads as the raw file it is" {
    make_raw_disk base.raw
    "$IMG" create -q -b base.raw -F raw vm.add-cow
    "$IO" -c 'write -q -P 3 0 64k' vm.add-cow
    "$IMG" rebase -b '' vm.add-cow
    same_as_qemu info --output=json vm.raw
    same_as_qemu map --output=json vm.raw
    same_as_qemu check vm.raw
}

@test "raw: -f add-cow and -f qcow2 refuse a raw file" {
    need_qemu
    truncate -s 1M plain.raw
    run --separate-stderr "$IMG" info -f add-cow plain.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: plain.raw: not an add-cow image (bad magic)"
    run --separate-stderr "$IMG" map -f qcow2 plain.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: plain.raw: not a qcow2 image (bad magic)"
}
