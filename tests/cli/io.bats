#!/usr/bin/env bats
# addcow-io: qemu-io's read/write/flush on add-cow images, byte-exact.

load helpers

# base.raw: 1 MiB, 0x11 in [0, 64k), 0x22 in [256k, 320k), holes elsewhere;
# ov.add-cow over it, 2 MiB (the second MiB is past the backing file).
make_overlay() {
    make_raw base.raw 1M 021 0:64k 042 256k:64k
    "$IMG" create -q -f add-cow -b base.raw -F raw ov.add-cow 2M
}

@test "io: write then read the same pattern, qemu-io's messages" {
    make_overlay
    run "$IO" -c 'write -P 0xab 64k 64k' -c 'read -P 0xab 64k 64k' ov.add-cow
    assert_status 0
    assert_text "$(strip_timing <<<"$output")" \
"wrote 65536/65536 bytes at offset 65536
64 KiB, 1 ops
read 65536/65536 bytes at offset 65536
64 KiB, 1 ops"
}

@test "io: the statistics line has qemu-io's layout" {
    make_overlay
    run "$IO" -c 'write 0 1536' -c 'read 0 64k' -c 'read 0 100' ov.add-cow
    assert_status 0
    [[ ${lines[1]} =~ ^1\.500\ KiB,\ 1\ ops\;\ [0-9]{2}\.[0-9]{2}\ sec\ \([0-9.]+\ (bytes|KiB|MiB|GiB|TiB)/sec\ and\ [0-9]+\.[0-9]{4}\ ops/sec\)$ ]]
    [[ ${lines[3]} =~ ^64\ KiB,\ 1\ ops\; ]]
    [[ ${lines[5]} =~ ^100\ bytes,\ 1\ ops\; ]]
}

@test "io: -q silences the statistics" {
    make_overlay
    run "$IO" -c 'write -q 0 64k' -c 'read -q -P 0xcd 0 64k' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "io: the default write pattern is 0xcd, written at the guest offset" {
    make_overlay
    run "$IO" -c 'write -q 128k 64k' ov.add-cow
    assert_status 0
    pattern_file want 64k 315
    cmp want <(dd if=ov.raw bs=64k skip=2 count=1 status=none)
    run "$IO" -c 'read -q -P 0xcd 128k 64k' ov.add-cow
    assert_status 0
}

@test "io: a partial write copies the rest of the cluster from the backing file" {
    make_overlay
    run "$IO" -c 'write -q -P 0xab 4k 4k' ov.add-cow
    assert_status 0
    # image file cluster 0: 0x11 from the backing, 0xab where written
    { pattern_file - 4k 021; pattern_file - 4k 253; pattern_file - 56k 021; } > want
    cmp want <(head -c 65536 ov.raw)
    run "$IO" -c 'read -q -P 0x11 0 4k' -c 'read -q -P 0xab 4k 4k' \
              -c 'read -q -P 0x11 8k 56k' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "io: reads fall through to the backing file, zeros past its end" {
    make_overlay
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 192k' \
              -c 'read -q -P 0x22 256k 64k' -c 'read -q -P 0 1M 1M' \
              -c 'read -q -P 0 1020k 8k' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "io: a write past the backing file's end and across clusters" {
    make_overlay
    run "$IO" -c 'write -q -P 0x5a 1020k 8k' ov.add-cow
    assert_status 0
    run "$IO" -r -c 'read -q -P 0 960k 60k' -c 'read -q -P 0x5a 1020k 8k' \
              -c 'read -q -P 0 1028k 60k' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "io: write -z makes a range read as zeros over backing data" {
    make_overlay
    run "$IO" -c 'write -z 0 64k' -c 'read -q -P 0 0 64k' ov.add-cow
    assert_status 0
    assert_text "$(strip_timing <<<"$output")" \
"wrote 65536/65536 bytes at offset 0
64 KiB, 1 ops"
    run "$IO" -r -c 'read -q -P 0 0 64k' ov.add-cow
    assert_status 0
}

@test "io: the data survives reopening (flush, close)" {
    make_overlay
    run "$IO" -c 'write -q -P 0x42 1M 64k' -c flush ov.add-cow
    assert_status 0
    assert_text "$output" ""
    run "$IO" -r -c 'read -q -P 0x42 1M 64k' ov.add-cow
    assert_status 0
    run "$IMG" check ov.add-cow
    assert_status 0
}

@test "io: pattern mismatch is reported like qemu-io, exit 1, later commands run" {
    make_overlay
    run "$IO" -c 'read -P 0x11 0 128k' -c 'write -q -P 0x33 1M 4k' ov.add-cow
    assert_status 1
    assert_text "$(strip_timing <<<"$output")" \
"Pattern verification failed at offset 0, 131072 bytes
read 131072/131072 bytes at offset 0
128 KiB, 1 ops"
    run "$IO" -r -c 'read -q -P 0x33 1M 4k' ov.add-cow
    assert_status 0
}

@test "io: read -v dumps the data like qemu-io" {
    make_overlay
    run "$IO" -c 'write -q -P 0x41 0 3' -c 'read -v 0 20' ov.add-cow
    assert_status 0
    assert_text "$(strip_timing <<<"$output")" \
"00000000:  41 41 41 11 11 11 11 11 11 11 11 11 11 11 11 11  AAA.............
00000010:  11 11 11 11  ....
read 20/20 bytes at offset 0
20 bytes, 1 ops"
}

@test "io: offsets and lengths take size suffixes and hex" {
    make_overlay
    run "$IO" -c 'write -q -P 7 1.5k 0x200' -c 'read -q -P 7 1536 512' \
              -c 'read -q -P 0x11 0 1.5k' ov.add-cow
    assert_status 0
    assert_text "$output" ""
}

@test "io: commands from standard input, one per line, no prompt" {
    make_overlay
    run "$IO" ov.add-cow <<'EOF'
write -P 0x61 0 512

read -q -P 0x61 0 512
read -P 0x62 0 512
EOF
    assert_status 1
    assert_text "$(strip_timing <<<"$output")" \
"wrote 512/512 bytes at offset 0
512 bytes, 1 ops
Pattern verification failed at offset 0, 512 bytes
read 512/512 bytes at offset 0
512 bytes, 1 ops"
}

@test "io: quit stops reading commands" {
    make_overlay
    run "$IO" ov.add-cow <<'EOF'
write -q 0 512
quit
write -q -P 1 0 512
EOF
    assert_status 0
    run "$IO" -r -c 'read -q -P 0xcd 0 512' ov.add-cow
    assert_status 0
}

@test "io: command errors have qemu-io's text and make the exit status 1" {
    make_overlay
    local c
    while IFS='|' read -r c want; do
        run --separate-stderr "$IO" -c "$c" ov.add-cow
        assert_status 1
        assert_text "$output$stderr" "$want"
    done <<'EOF'
read|bad argument count 0 to read, expected at least 2 arguments
flush x|bad argument count 1 to flush, expected 0 arguments
bogus|command "bogus" not found
read -P 300 0 1|300 is not a valid pattern byte
write -P ab 0 1|ab is not a valid pattern byte
read 0 3G|length cannot exceed 2147483136, given 3G
read 0 1x|Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- 1x
read 0 16E|Parsing error: argument too large -- 16E
read 2M 1|read failed: Input/output error
read 2047k 2k|read failed: Input/output error
write 2M 512|write failed: Input/output error
write -z -P 1 0 1|Only one of -z, -P, and -s can be specified at the same time
read 0 1 2|read [-qv] [-P pattern] off len -- reads a number of bytes at a specified offset
EOF
}

@test "io: an unknown command option is reported by getopt, then the usage" {
    make_overlay
    run --separate-stderr "$IO" -c 'read -x 0 1' ov.add-cow
    assert_status 1
    assert_text "$stderr" "read: invalid option -- 'x'"
    assert_text "$output" \
        "read [-qv] [-P pattern] off len -- reads a number of bytes at a specified offset"
}

@test "io: a zero-length read at the end of the disk is fine" {
    make_overlay
    run "$IO" -c 'read 2M 0' ov.add-cow
    assert_status 0
    assert_text "$(strip_timing <<<"$output")" \
"read 0/0 bytes at offset 2097152
0 bytes, 1 ops"
}

@test "io: -r opens read-only: writes fail and change nothing" {
    make_overlay
    cp ov.add-cow before.add-cow
    run --separate-stderr "$IO" -r -c 'write 0 64k' ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-io: Block node is read-only"  # qemu-io's
    cmp before.add-cow ov.add-cow
    run "$IO" -r -c 'read -q -P 0x11 0 64k' ov.add-cow
    assert_status 0
}

@test "io: open errors and usage errors" {
    run --separate-stderr "$IO" -c 'read 0 1' nosuch.add-cow
    assert_status 1
    [[ $stderr == "addcow-io: nosuch.add-cow: "* ]]
    run --separate-stderr "$IO" -c 'read 0 1'
    assert_status 1
    assert_text "$stderr" "addcow-io: Expecting one image file name
Try 'addcow-io --help' for more information"
    make_overlay
    run --separate-stderr "$IO" -f qcow2 -c 'read 0 1' ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-io: ov.add-cow: unsupported format 'qcow2'"
    run --separate-stderr "$IO" -f add-cow -c 'read -q 0 1' ov.add-cow
    assert_status 0
    run --separate-stderr "$IO" --bogus ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-io: unrecognized option '--bogus'
Try 'addcow-io --help' for more information"
    run --separate-stderr "$IO" -c
    assert_status 1
    assert_text "$stderr" "addcow-io: missing argument for option '-c'
Try 'addcow-io --help' for more information"
}

@test "io: --help, --version, help" {
    run "$IO" --help
    assert_status 0
    [[ ${lines[0]} == "usage: addcow-io "* ]]
    run "$IO" --version
    assert_status 0
    assert_text "$output" "addcow-io version 0.1.0"
    make_overlay
    run "$IO" -c help ov.add-cow
    assert_status 0
    assert_text "$output" \
"alloc offset [count] -- checks if offset is allocated in the file
discard [-Cq] off len -- discards a number of bytes at a specified offset
flush -- flush all in-core file state to disk
help -- help for one or all commands
length -- gets the length of the current file
map  -- prints the allocated areas of a file
quit -- exit the program
read [-qv] [-P pattern] off len -- reads a number of bytes at a specified offset
write [-qz] [-P pattern] off len -- writes a number of bytes at a specified offset"
}

@test "io: a write error on standard output is an error" {
    make_overlay
    run bash -c '"$1" -c "read 0 512" ov.add-cow > /dev/full' _ "$IO"
    assert_status 1
    [[ $output == *"addcow-io: write error: No space left on device"* ]]
}

@test "io: same output as qemu-io for the same commands on the same data" {
    need_qemu
    make_overlay
    make_raw ref.raw 2M 021 0:64k 042 256k:64k
    local cmds=(-c 'write -P 0xab 4k 4k' -c 'read -P 0xab 4k 4k'
                -c 'read -P 0x11 0 8k' -c 'write -z 64k 64k'
                -c 'read -v 4090 12' -c 'read 0 1.5k' -c 'read 2M 0'
                -c 'read 2M 1' -c 'write -P 0x100 0 1' -c flush)
    run qemu-io -f raw "${cmds[@]}" ref.raw
    local want_status=$status want
    want=$(strip_timing <<<"$output")
    run "$IO" "${cmds[@]}" ov.add-cow
    assert_status "$want_status"
    assert_text "$(strip_timing <<<"$output")" "$want"
}

# ---- discard, length, map, alloc and -r, side by side with qemu-io ----

# a.add-cow and its qcow2 twin q.qcow2, both over b.raw (4 MiB).
make_io_twins() {
    need_qemu
    qemu-img create -q -f raw b.raw 4M
    qemu-io -f raw -c 'write -q -P 0x11 0 4M' b.raw
    qemu-img create -q -f qcow2 -o data_file=q.data -b b.raw -F raw q.qcow2
    "$IMG" create -q -b b.raw -F raw a.add-cow
}

# The same commands through qemu-io on the twin and addcow-io: the same
# stdout, stderr (program name aside) and exit status.
same_as_qemu_io() {
    run --separate-stderr qemu-io -f qcow2 "$@" q.qcow2
    local qs=$status qo=$output qe=$stderr
    run --separate-stderr "$IO" "$@" a.add-cow
    [ "$status" -eq "$qs" ]
    assert_text "$output" "$qo"
    assert_text "${stderr//addcow-io/qemu-io}" "$qe"
}

@test "io: length, map and alloc print what qemu-io prints" {
    make_io_twins
    same_as_qemu_io -c 'write -q 64k 64k' -c 'write -q 1M 128k' -c length \
        -c map -c 'alloc 0 1M' -c 'alloc 64k' -c 'alloc 0' -c 'alloc 100 1000' \
        -c 'alloc 0 8M' -c 'alloc 5M' -c 'alloc 3M 2M' -c 'alloc 0 0' \
        -c 'l' -c 'alloc x' -c 'map 1' -c 'alloc' -c 'length 1'
    assert_status 1
    [[ $output == *"128 KiB (0x20000) bytes     allocated at offset 1 MiB (0x100000)"* ]]
}

@test "io: discard as qemu-io on the qcow2 twin: zeros, still allocated, the backing hidden" {
    make_io_twins
    same_as_qemu_io -c 'write -q -P 0x22 0 2M' -c 'discard -q 64k 128k' \
        -c 'discard -q 1000 100' -c 'd -q 1M 100k' -c map \
        -c 'read -q -P 0 64k 128k' -c 'read -q -P 0x22 0 64k' \
        -c 'read -q -P 0x22 192k 64k' -c 'read -q -P 0x22 1M 100k' \
        -c 'discard -q 5M 1' -c 'discard 1M'
    assert_status 1
    [[ $output == *"discard failed: Input/output error"* ]]
    assert_text "$stderr" "bad argument count 1 to discard, expected at least 2 arguments"
    run "$IMG" check a.add-cow
    assert_status 0
    # The statistics lines have qemu-io's shape.
    run "$IO" -c 'discard 0 64k' a.add-cow
    assert_status 0
    assert_text "${lines[0]}" "discard 65536/65536 bytes at offset 0"
    [[ ${lines[1]} =~ ^64\ KiB,\ 1\ ops\;\ [0-9:.]+\ sec\ \(.*/sec\ and\ [0-9.]+\ ops/sec\)$ ]]
}

@test "io: -r refuses write and discard as qemu-io does, and still reads" {
    make_io_twins
    same_as_qemu_io -r -c 'write -z 0 1' -c 'read -q 0 1' -c 'discard 0 64k' \
        -c 'alloc 0' -c 'write 0 1' -c map -c length
    assert_status 1
    assert_text "$stderr" "addcow-io: Block node is read-only
addcow-io: Block node is read-only
addcow-io: Block node is read-only"
}
