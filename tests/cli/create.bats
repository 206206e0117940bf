#!/usr/bin/env bats
# addcow-img create: options, the Formatting line, the files it makes.

load helpers

info_field() {   # info_field FILE 'human label'
    "$IMG" info "$1" | sed -n "s/^ *$2: //p"
}

@test "create: the example of the add-cow proposal works verbatim" {
    make_raw ubuntu.img 3M 021 0:64k
    run "$IMG" create -f add-cow test.add-cow -o backing_file=ubuntu.img,image_file=test.raw
    assert_status 0
    assert_text "$output" "Formatting 'test.add-cow', fmt=add-cow size=3145728 backing_file=ubuntu.img backing_fmt=raw image_file=test.raw image_fmt=raw cluster_size=65536 preallocation=off"
    [ "$(stat -c %s test.raw)" = 3145728 ]
    [ "$(stat -c %s test.add-cow)" = 131072 ]
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 3008k' test.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "create: the header is the spec's layout, byte for byte" {
    truncate -s 8M base.raw
    "$IMG" create -q -b base.raw -F raw -o image_file=disk.raw ov.add-cow
    # fixed part
    assert_text "$(hex_at ov.add-cow 0 44)" \
        "41434f574c000000080000005400000008000000100000000000000000000000000000000000000000000100"
    assert_text "$(hex_at ov.add-cow 44 16)" "72617700000000000000000000000000"
    assert_text "$(hex_at ov.add-cow 60 16)" "72617700000000000000000000000000"
    assert_text "$(hex_at ov.add-cow 76 16)" "626173652e7261776469736b2e726177"
    # the rest of the header and the bitmap are zero; 8 MiB / 64k = 128
    # clusters = 16 bytes of bitmap, padded to a whole cluster
    [ "$(stat -c %s ov.add-cow)" = 131072 ]
    cmp <(tail -c +93 ov.add-cow) <(head -c $((131072 - 92)) /dev/zero)
}

@test "create: the Formatting line goes to stdout, -q hides it" {
    run --separate-stderr "$IMG" create x.add-cow 1M
    assert_status 0
    assert_text "$stderr" ""
    assert_text "$output" "Formatting 'x.add-cow', fmt=add-cow size=1048576 image_file=x.raw image_fmt=raw cluster_size=65536 preallocation=off"
    run --separate-stderr "$IMG" create -q y.add-cow 1M
    assert_status 0
    assert_text "$output$stderr" ""
    [ -f y.add-cow ] && [ -f y.raw ]
}

@test "create: the image file is named after the add-cow file by default" {
    "$IMG" create -q x.add-cow 1M
    "$IMG" create -q disk 1M
    mkdir sub
    "$IMG" create -q sub/vm.add-cow 1M
    [ -f x.raw ] && [ -f disk.raw ] && [ -f sub/vm.raw ]
    assert_text "$(info_field sub/vm.add-cow 'image file')" "vm.raw"
    assert_text "$(info_field sub/vm.add-cow 'full image filename')" "sub/vm.raw"
}

@test "create: without a backing file the image is all allocated" {
    "$IMG" create -q x.add-cow 1M
    assert_text "$(info_field x.add-cow 'all allocated')" true
    assert_text "$(info_field x.add-cow 'compat features')" 1
    [ "$(stat -c %s x.raw)" = 1048576 ]
}

@test "create: the size is taken from the backing file" {
    make_raw base.raw 3M 021 0:64k
    run "$IMG" create -b base.raw -F raw ov.add-cow
    assert_status 0
    [ "$(stat -c %s ov.raw)" = 3145728 ]
    [[ $output == *" size=3145728 "* ]]
}

@test "create: a given size may differ from the backing file's" {
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw big.add-cow 2M
    "$IMG" create -q -b base.raw -F raw small.add-cow 512k
    [ "$(stat -c %s big.raw)" = 2097152 ]
    [ "$(stat -c %s small.raw)" = 524288 ]
}

@test "create: an existing image file keeps its contents and size" {
    make_raw disk.raw 1M 125 0:1M
    run "$IMG" create -o image_file=disk.raw disk.add-cow
    assert_status 0
    [[ $output == *" size=1048576 "* ]]
    run "$IO" -r -c 'read -q -P 0x55 0 1M' disk.add-cow
    assert_status 0
    rm disk.add-cow
    run "$IMG" create -q -o image_file=disk.raw disk.add-cow 1M
    assert_status 0
}

@test "create: a size that does not match an existing image file is refused" {
    truncate -s 1M disk.raw
    run --separate-stderr "$IMG" create -o image_file=disk.raw disk.add-cow 2M
    assert_status 1
    [[ $stderr == "addcow-img: disk.add-cow: "* ]]
    [ ! -e disk.add-cow ]
    [ "$(stat -c %s disk.raw)" = 1048576 ]
}

@test "create: an existing add-cow file is not replaced without --force" {
    "$IMG" create -q x.add-cow 1M
    cp x.add-cow before
    run --separate-stderr "$IMG" create x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: file exists (use --force to overwrite it)"
    assert_text "$output" ""
    cmp before x.add-cow
    make_raw base.raw 1M 021 0:64k
    run "$IMG" create -q --force -b base.raw -F raw x.add-cow
    assert_status 0
    assert_text "$(info_field x.add-cow 'backing file')" base.raw
}

@test "create: a size is needed without a backing file" {
    run --separate-stderr "$IMG" create x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Image creation needs a size parameter"
    [ ! -e x.add-cow ] && [ ! -e x.raw ]
}

@test "create: a missing backing file is an error, nothing is left behind" {
    mkdir w && cd w
    run --separate-stderr "$IMG" create -b nosuch.raw -F raw x.add-cow 1M
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "*"nosuch.raw"* ]]
    assert_text "$(ls -A)" ""
}

@test "create: -u does not open the backing file, but needs -F and a size" {
    run --separate-stderr "$IMG" create -u -b nosuch.raw -F raw x.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "* ]]
    run --separate-stderr "$IMG" create -u -b nosuch.raw x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: a backing format (-F) is needed when the backing file is not opened (-u)"
    [ ! -e x.add-cow ]
    run "$IMG" create -u -b nosuch.raw -F raw x.add-cow 1M
    assert_status 0
    assert_text "$output" "Formatting 'x.add-cow', fmt=add-cow size=1048576 backing_file=nosuch.raw backing_fmt=raw image_file=x.raw image_fmt=raw cluster_size=65536 preallocation=off"
}

@test "create: without -F the backing format is probed once" {
    truncate -s 1M base.raw
    "$IMG" create -q -b base.raw mid.add-cow
    run "$IMG" create -b mid.add-cow top.add-cow
    assert_status 0
    [[ $output == *" backing_file=mid.add-cow backing_fmt=add-cow "* ]]
    assert_text "$(info_field mid.add-cow 'backing file format')" raw
    assert_text "$(info_field top.add-cow 'backing file format')" add-cow
}

@test "create: -F add-cow over an add-cow image" {
    truncate -s 1M base.raw
    "$IMG" create -q -b base.raw -F raw mid.add-cow
    run "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow
    assert_status 0
    run "$IMG" info --backing-chain top.add-cow
    assert_status 0
}

@test "create: a relative backing name is relative to the add-cow file" {
    truncate -s 1M golden.img
    mkdir vms
    run "$IMG" create -q -b ../golden.img -F raw vms/vm1.add-cow
    assert_status 0
    run "$IMG" info vms/vm1.add-cow
    [[ $output == *"backing file: ../golden.img (actual path: vms/../golden.img)"* ]]
    run --separate-stderr "$IMG" create -q -b golden.img -F raw vms/vm2.add-cow
    assert_status 1
    [[ $stderr == *"vms/golden.img"* ]]
}

@test "create: -b and -F win over -o backing_file and backing_fmt" {
    truncate -s 1M a.raw b.raw
    run "$IMG" create -b b.raw -F raw -o backing_file=a.raw,backing_fmt=add-cow x.add-cow
    assert_status 0
    [[ $output == *" backing_file=b.raw backing_fmt=raw "* ]]
}

@test "create: -o cluster_size" {
    local cs
    for cs in 4k 8192 1M 2M; do
        rm -f c.add-cow c.raw
        run "$IMG" create -o cluster_size=$cs c.add-cow 4M
        assert_status 0
        [[ $output == *" cluster_size=$(to_bytes $cs) "* ]]
        assert_text "$(info_field c.add-cow cluster_size)" "$(to_bytes $cs)"
    done
    # HEADER_SIZE = max(4096, cluster size)
    rm -f c.add-cow c.raw
    "$IMG" create -q -o cluster_size=4k c.add-cow 4M
    assert_text "$(info_field c.add-cow 'header size')" 4096
    for cs in 2k 3k 4M 0 6144; do
        run --separate-stderr "$IMG" create -o cluster_size=$cs d.add-cow 4M
        assert_status 1
        assert_text "$stderr" "addcow-img: d.add-cow: cluster size must be a power of two between 4k and 2M"
    done
    run --separate-stderr "$IMG" create -o cluster_size=big d.add-cow 4M
    assert_status 1
    assert_text "$stderr" "addcow-img: d.add-cow: Parameter 'cluster_size' expects a non-negative number below 2^64
Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-
and exabytes, respectively."
    [ ! -e d.add-cow ]
}

@test "create: -o preallocation of a new image file" {
    run "$IMG" create -o preallocation=off s.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=off" ]]
    [ "$(stat -c %b s.raw)" -eq 0 ]
    run "$IMG" create -o preallocation=falloc f.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=falloc" ]]
    [ "$(( $(stat -c %b f.raw) * 512 ))" -ge 4194304 ]
    run "$IMG" create -o preallocation=full z.add-cow 4M
    assert_status 0
    [[ $output == *" preallocation=full" ]]
    [ "$(( $(stat -c %b z.raw) * 512 ))" -ge 4194304 ]
    cmp z.raw <(head -c 4194304 /dev/zero)
    run --separate-stderr "$IMG" create -o preallocation=metadata m.add-cow 4M
    assert_status 1
    assert_text "$stderr" "addcow-img: m.add-cow: Parameter 'preallocation' does not accept value 'metadata'"
}

@test "create: -o size, -o image_fmt, several -o, ',,' in a value" {
    run "$IMG" create -o size=3M -o image_fmt=raw s.add-cow
    assert_status 0
    [[ $output == *" size=3145728 "* ]]
    run "$IMG" create -q -o size=3M s2.add-cow 1M    # SIZE wins
    [ "$(stat -c %s s2.raw)" = 1048576 ]
    run "$IMG" create -o image_file=a,,b.raw c.add-cow 1M
    assert_status 0
    [[ $output == *" image_file=a,b.raw "* ]]
    [ -f a,b.raw ]
    run --separate-stderr "$IMG" create -o image_fmt=qcow2 q.add-cow 1M
    assert_status 1
    [[ $stderr == "addcow-img: q.add-cow: "*"qcow2"* ]]
}

@test "create: -o help lists the keys" {
    run "$IMG" create -o help
    assert_status 0
    assert_text "$output" "Supported add-cow options:
  backing_file=<str>     - File name of a base image
  backing_fmt=<str>      - Image format of the base image (raw, qcow2 or add-cow)
  cluster_size=<size>    - add-cow cluster size (4k to 2M, a power of two)
  image_file=<str>       - File name of the raw image file holding the data
  image_fmt=<str>        - Image format of the image file (allowed values: raw)
  preallocation=<str>    - Preallocation mode of a new image file (allowed values: off, falloc, full)
  size=<size>            - Virtual disk size"
    run "$IMG" create -o cluster_size=4k,? x.add-cow 1M
    assert_status 0
    [[ ${lines[0]} == "Supported add-cow options:" ]]
    [ ! -e x.add-cow ]
}

@test "create: an unknown -o key is refused" {
    run --separate-stderr "$IMG" create -o bogus=1 x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Invalid parameter 'bogus'"
    run --separate-stderr "$IMG" create -o data_file=x x.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: Invalid parameter 'data_file'"
    [ ! -e x.add-cow ]
}

@test "create: image and backing file may not be the same" {
    truncate -s 1M same.raw
    run --separate-stderr "$IMG" create -b same.raw -F raw -o image_file=same.raw x.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: x.add-cow: "* ]]
    [ ! -e x.add-cow ]
}

@test "create: both files get 0644 less the umask, as qemu-img's do" {
    (umask 022 && "$IMG" create -q a.add-cow 1M)
    [ "$(stat -c %a a.add-cow) $(stat -c %a a.raw)" = "644 644" ]
    (umask 077 && "$IMG" create -q b.add-cow 1M)
    [ "$(stat -c %a b.add-cow) $(stat -c %a b.raw)" = "600 600" ]
    (umask 027 && "$IMG" create -q c.add-cow 1M)
    [ "$(stat -c %a c.add-cow) $(stat -c %a c.raw)" = "640 640" ]
}
