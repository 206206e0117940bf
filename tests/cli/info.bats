#!/usr/bin/env bats
# addcow-img info: qemu-img's human layout and JSON keys.

load helpers

# base.raw 1 MiB (data at 0 and 256k), ov.add-cow 2 MiB over it with
# clusters written at 0 and 512k.
make_overlay() {
    make_raw base.raw 1M 021 0:64k 042 256k:64k
    "$IMG" create -q -f add-cow -b base.raw -F raw ov.add-cow 2M
    "$IO" -c 'write -q 0 64k' -c 'write -q 512k 64k' ov.add-cow
}

# Disk usage changes with the file system: normalise it.
normalise_size() {
    sed -E 's/^disk size: .*/disk size: SIZE/; s/"actual-size": [0-9]+/"actual-size": SIZE/'
}

blocks_bytes() {
    local total=0 f
    for f in "$@"; do total=$(( total + $(stat -c %b "$f") * 512 )); done
    echo $total
}

@test "info: human output" {
    make_overlay
    run --separate-stderr "$IMG" info ov.add-cow
    assert_status 0
    assert_text "$stderr" ""
    assert_text "$(normalise_size <<<"$output")" "image: ov.add-cow
file format: add-cow
virtual size: 2 MiB (2097152 bytes)
disk size: SIZE
cluster_size: 65536
backing file: base.raw
backing file format: raw
Format specific information:
    image file: ov.raw
    full image filename: ov.raw
    image file format: raw
    header size: 65536
    all allocated: false
    allocated clusters: 2
    total clusters: 32
    features: 0
    compat features: 0"
}

@test "info: JSON output, qemu-img's key order" {
    make_overlay
    run --separate-stderr "$IMG" info --output=json ov.add-cow
    assert_status 0
    assert_text "$(normalise_size <<<"$output")" '{
    "backing-filename-format": "raw",
    "virtual-size": 2097152,
    "filename": "ov.add-cow",
    "cluster-size": 65536,
    "format": "add-cow",
    "actual-size": SIZE,
    "format-specific": {
        "type": "add-cow",
        "data": {
            "image-file": "ov.raw",
            "full-image-filename": "ov.raw",
            "image-file-format": "raw",
            "header-size": 65536,
            "all-allocated": false,
            "allocated-clusters": 2,
            "total-clusters": 32,
            "features": 0,
            "compat-features": 0
        }
    },
    "full-backing-filename": "base.raw",
    "backing-filename": "base.raw",
    "dirty-flag": false
}'
}

@test "info: actual size is what the add-cow file and the image file use" {
    make_overlay
    run "$IMG" info --output=json ov.add-cow
    [[ $output == *"\"actual-size\": $(blocks_bytes ov.add-cow ov.raw),"* ]]
}

@test "info: disk size is printed as qemu-img prints a size" {
    need_qemu
    make_overlay
    local actual
    actual=$("$IMG" info --output=json ov.add-cow |
             sed -n 's/^    "actual-size": \([0-9]*\),$/\1/p')
    truncate -s "$actual" same.raw
    run qemu-img info -f raw same.raw
    local want=${lines[2]#virtual size: }
    want=${want% (*}
    run "$IMG" info ov.add-cow
    assert_text "${lines[3]}" "disk size: $want"
}

@test "info: sizes switch unit at 1000, as qemu-img" {
    local size want
    while read -r size want; do
        rm -f s.add-cow s.raw
        "$IMG" create -q s.add-cow "$size"
        run "$IMG" info s.add-cow
        assert_text "${lines[2]}" "virtual size: $want"
    done <<'EOF'
512 512 B (512 bytes)
1536 1.5 KiB (1536 bytes)
1000k 0.977 MiB (1024000 bytes)
1023k 0.999 MiB (1047552 bytes)
1024k 1 MiB (1048576 bytes)
64M 64 MiB (67108864 bytes)
1000M 0.977 GiB (1048576000 bytes)
10G 10 GiB (10737418240 bytes)
1.5T 1.5 TiB (1649267441664 bytes)
EOF
}

@test "info: an image without a backing file" {
    "$IMG" create -q x.add-cow 1M
    run "$IMG" info --output=json x.add-cow
    assert_status 0
    assert_text "$(normalise_size <<<"$output")" '{
    "virtual-size": 1048576,
    "filename": "x.add-cow",
    "cluster-size": 65536,
    "format": "add-cow",
    "actual-size": SIZE,
    "format-specific": {
        "type": "add-cow",
        "data": {
            "image-file": "x.raw",
            "full-image-filename": "x.raw",
            "image-file-format": "raw",
            "header-size": 65536,
            "all-allocated": true,
            "allocated-clusters": 16,
            "total-clusters": 16,
            "features": 0,
            "compat-features": 1
        }
    },
    "dirty-flag": false
}'
    run "$IMG" info x.add-cow
    [[ $output != *"backing file"* ]]
}

@test "info: the actual path of a relative backing name" {
    mkdir sub
    make_raw sub/base.raw 1M
    "$IMG" create -q -b base.raw -F raw sub/ov.add-cow
    run "$IMG" info sub/ov.add-cow
    assert_status 0
    [[ $output == *"
backing file: base.raw (actual path: sub/base.raw)
backing file format: raw
"* ]]
    [[ $output == *"    full image filename: sub/ov.raw"* ]]
    run "$IMG" info --output=json sub/ov.add-cow
    [[ $output == *'"full-backing-filename": "sub/base.raw",'* ]]
    [[ $output == *'"backing-filename": "base.raw",'* ]]
}

@test "info: a missing backing file is no error, and stderr stays empty as qemu-img's" {
    make_overlay
    rm base.raw
    run --separate-stderr "$IMG" info ov.add-cow
    assert_status 0
    assert_text "$stderr" ""
    [[ ${lines[0]} == "image: ov.add-cow" ]]
    [[ $output == *"backing file: base.raw"* ]]
    run --separate-stderr "$IMG" info --output=json ov.add-cow
    assert_status 0
    assert_text "$stderr" ""
    [[ $output == *'"backing-filename": "base.raw",'* ]]
    if command -v qemu-img >/dev/null; then
        qemu-img create -q -f qcow2 -o data_file=q.data -b nosuch.raw -F raw -u q.qcow2 1M
        run --separate-stderr qemu-img info --output=json q.qcow2
        assert_status 0
        assert_text "$stderr" ""
    fi
}

@test "info: an unsupported backing format is shown and named" {
    make_overlay
    # backing_fmt field (offset 44): "raw" -> "vmdk" (qcow2 is read now)
    poke ov.add-cow 44 766d646b0000
    run --separate-stderr "$IMG" info ov.add-cow
    assert_status 0
    [[ $output == *"backing file format: vmdk"* ]]
    assert_text "$stderr" ""
}

@test "info: --backing-chain, human" {
    make_overlay
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    run "$IMG" info --backing-chain top.add-cow
    assert_status 0
    assert_text "$(normalise_size <<<"$output")" "image: top.add-cow
file format: add-cow
virtual size: 2 MiB (2097152 bytes)
disk size: SIZE
cluster_size: 65536
backing file: ov.add-cow
backing file format: add-cow
Format specific information:
    image file: top.raw
    full image filename: top.raw
    image file format: raw
    header size: 65536
    all allocated: false
    allocated clusters: 0
    total clusters: 32
    features: 0
    compat features: 0

image: ov.add-cow
file format: add-cow
virtual size: 2 MiB (2097152 bytes)
disk size: SIZE
cluster_size: 65536
backing file: base.raw
backing file format: raw
Format specific information:
    image file: ov.raw
    full image filename: ov.raw
    image file format: raw
    header size: 65536
    all allocated: false
    allocated clusters: 2
    total clusters: 32
    features: 0
    compat features: 0

image: base.raw
file format: raw
virtual size: 1 MiB (1048576 bytes)
disk size: SIZE"
}

@test "info: --backing-chain, JSON array, raw bottom layer as qemu prints it" {
    make_overlay
    run "$IMG" info --backing-chain --output=json ov.add-cow
    assert_status 0
    [[ ${lines[0]} == "[" ]]
    [[ ${lines[1]} == "    {" ]]
    assert_text "$(normalise_size <<<"$output" | tail -n 8)" '    {
        "virtual-size": 1048576,
        "filename": "base.raw",
        "format": "raw",
        "actual-size": SIZE,
        "dirty-flag": false
    }
]'
    [[ $output == *"\"actual-size\": $(blocks_bytes base.raw),"* ]]
    [ "$(grep -c '"format": ' <<<"$output")" = 2 ]
}

@test "info: --backing-chain fails on a missing layer" {
    make_overlay
    "$IMG" create -q -b ov.add-cow -F add-cow top.add-cow
    rm base.raw
    run --separate-stderr "$IMG" info --backing-chain top.add-cow
    assert_status 1
    assert_text "$output" ""
    [[ $stderr == "addcow-img: "*"base.raw"* ]]
}

@test "info: errors" {
    run --separate-stderr "$IMG" info nosuch.add-cow
    assert_status 1
    [[ $stderr == "addcow-img: nosuch.add-cow: "* ]]
    truncate -s 1M plain.raw
    run --separate-stderr "$IMG" info -f add-cow plain.raw
    assert_status 1
    assert_text "$stderr" "addcow-img: plain.raw: not an add-cow image (bad magic)"
    assert_text "$output" ""
}

@test "info: -U reads an image that another process is writing" {
    make_overlay
    start_writer ov.add-cow
    run --separate-stderr "$IMG" info ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: ov.add-cow: Failed to get shared \"write\" lock
Is another process using the image [ov.add-cow]?
(use -U to inspect it anyway)"
    run "$IMG" info -U ov.add-cow
    assert_status 0
    run "$IMG" info --force-share ov.add-cow
    assert_status 0
    stop_writer
}

@test "info: same fields and key order as qemu-img on qcow2 + data file" {
    need_qemu
    make_overlay
    qemu-img create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2 2M
    qemu-io -f qcow2 -c 'write -q 0 64k' -c 'write -q 512k 64k' q.qcow2
    local keys='^    "[a-z-]*":'
    run qemu-img info --output=json q.qcow2
    local qemu_json=$output
    run "$IMG" info --output=json ov.add-cow
    assert_text "$(grep -o "$keys" <<<"$output")" "$(grep -o "$keys" <<<"$qemu_json")"
    local same='"(virtual-size|cluster-size|backing-filename|full-backing-filename|backing-filename-format|dirty-flag)"'
    assert_text "$(grep -E "^    $same" <<<"$output")" "$(grep -E "^    $same" <<<"$qemu_json")"
    run qemu-img info q.qcow2
    local qemu_human=$output
    run "$IMG" info ov.add-cow
    local lines_re='^(virtual size|cluster_size|backing file|backing file format):'
    assert_text "$(grep -E "$lines_re" <<<"$output")" "$(grep -E "$lines_re" <<<"$qemu_human")"
    assert_text "$(sed -n 2p <<<"$output" | cut -d: -f1)" "file format"
}

@test "info: actual path and backing chain like qemu-img" {
    need_qemu
    mkdir sub
    make_raw sub/base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw sub/ov.add-cow
    qemu-img create -q -f qcow2 -o data_file=q.data -b base.raw -F raw sub/q.qcow2
    run qemu-img info sub/q.qcow2
    local want
    want=$(grep '^backing file' <<<"$output")
    run "$IMG" info sub/ov.add-cow
    assert_text "$(grep '^backing file' <<<"$output")" "$want"
    run qemu-img info --backing-chain --output=json sub/q.qcow2
    want=$(sed -n '/^    {$/,$p' <<<"$output" | tail -n 8 | normalise_size)
    run "$IMG" info --backing-chain --output=json sub/ov.add-cow
    assert_text "$(sed -n '/^    {$/,$p' <<<"$output" | tail -n 8 | normalise_size)" "$want"
}

@test "info: file names: raw bytes for people, qemu's escapes in JSON" {
    local name=$'x\xff\x7f\x01\xc3\xa9"'
    "$IMG" create -q "$name.add-cow" 1M
    run "$IMG" info "$name.add-cow"
    assert_text "${lines[0]}" "image: $name.add-cow"
    run "$IMG" info --output=json "$name.add-cow"
    [[ $output == *'    "filename": "x\uFFFD\u007F\u0001\u00E9\".add-cow",'* ]]
    [[ $output == *'            "image-file": "x\uFFFD\u007F\u0001\u00E9\".raw",'* ]]
}

@test "info: file names in JSON are escaped exactly as qemu-img escapes them" {
    need_qemu
    local name want
    for name in $'\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80' $'a\x01b\x7f\tc"\\' $'x\xff\xc3('; do
        qemu-img create -q -f qcow2 "$name.qcow2" 1M
        want=$(qemu-img info --output=json "$name.qcow2" | grep '^    "filename"')
        "$IMG" create -q "$name.add-cow" 1M
        run "$IMG" info --output=json "$name.add-cow"
        assert_text "$(grep '^    "filename"' <<<"$output")" "${want/.qcow2/.add-cow}"
    done
}

@test "info: compat features of 2^63 and above print unsigned, as qemu prints a uint64" {
    "$IMG" create -q x.add-cow 1M
    poke x.add-cow 32 feffffffffffffff     # every bit but ALL_ALLOCATED
    run --separate-stderr "$IMG" info --output=json x.add-cow
    assert_status 0
    [[ $output == *'            "compat-features": 18446744073709551614'$'\n'* ]]
    run "$IMG" info x.add-cow
    [[ $output == *"    compat features: 18446744073709551614"* ]]
    poke x.add-cow 32 0000000000000080
    run "$IMG" info --output=json x.add-cow
    [[ $output == *'"compat-features": 9223372036854775808'* ]]
    run "$IMG" info --output=json --backing-chain x.add-cow
    [[ $output == *'"compat-features": 9223372036854775808'* ]]
}
