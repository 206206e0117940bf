#!/usr/bin/env bats
# addcow-img: global options, usage errors, size syntax, output checks,
# and the man page documenting every option.

load helpers

SUBCOMMANDS="create info check map commit rebase"

# virtual-size of an add-cow image, from the JSON.
virtual_size() {
    "$IMG" info --output=json "$1" | sed -n 's/^    "virtual-size": \([0-9]*\),$/\1/p'
}

@test "options: no arguments is a usage error" {
    run --separate-stderr "$IMG"
    assert_status 1
    assert_text "$stderr" "addcow-img: Not enough arguments
Try 'addcow-img --help' for more information"
    assert_text "$output" ""
}

@test "options: --help and -h list every command, on stdout, exit 0" {
    local opt cmd
    for opt in --help -h; do
        run --separate-stderr "$IMG" $opt
        assert_status 0
        assert_text "$stderr" ""
        [[ ${lines[0]} == "usage: addcow-img "* ]]
        for cmd in $SUBCOMMANDS; do
            [[ $output == *"
  $cmd "* ]]
        done
    done
}

@test "options: --version and -V" {
    run "$IMG" --version
    assert_status 0
    assert_text "$output" "addcow-img version 0.1.0"
    run "$IMG" -V
    assert_status 0
    assert_text "$output" "addcow-img version 0.1.0"
}

@test "options: unknown command, unknown option, missing argument" {
    run --separate-stderr "$IMG" bogus
    assert_status 1
    assert_text "$stderr" "addcow-img: Command not found: bogus
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" -5
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-5'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" map -5 x
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-5'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" info --bogus x
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '--bogus'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" check -qZ x
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-Z'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" info --backing-chain=1 x
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '--backing-chain=1'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" info --output
    assert_status 1
    assert_text "$stderr" "addcow-img: missing argument for option '--output'
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" create -f
    assert_status 1
    assert_text "$stderr" "addcow-img: missing argument for option '-f'
Try 'addcow-img --help' for more information"
}

@test "options: every subcommand has --help and -h" {
    local cmd opt
    for cmd in $SUBCOMMANDS; do
        for opt in --help -h; do
            run --separate-stderr "$IMG" "$cmd" "$opt"
            assert_status 0
            assert_text "$stderr" ""
            [[ ${lines[0]} == "usage: addcow-img $cmd "* ]]
        done
    done
}

@test "options: commands that take one image name insist on it" {
    local cmd
    for cmd in info check map commit; do
        for args in "" "a b"; do
            run --separate-stderr "$IMG" $cmd $args
            assert_status 1
            assert_text "$stderr" "addcow-img: Expecting one image file name
Try 'addcow-img --help' for more information"
        done
    done
    run --separate-stderr "$IMG" rebase -b x
    assert_status 1
    assert_text "$stderr" "addcow-img: Expecting one image file name
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" create
    assert_status 1
    assert_text "$stderr" "addcow-img: Expecting image file name
Try 'addcow-img --help' for more information"
    run --separate-stderr "$IMG" create a.add-cow 1M extra
    assert_status 1
    assert_text "$stderr" "addcow-img: Unexpected argument: extra
Try 'addcow-img --help' for more information"
    [ ! -e a.add-cow ]
}

@test "options: --output accepts only human and json" {
    "$IMG" create -q x.add-cow 1M
    local cmd
    for cmd in info check map; do
        run --separate-stderr "$IMG" $cmd --output=xml x.add-cow
        assert_status 1
        assert_text "$stderr" \
            "addcow-img: --output must be used with human or json as argument."
        assert_text "$output" ""
        run "$IMG" $cmd --output=human x.add-cow
        assert_status 0
        run "$IMG" $cmd --output json x.add-cow
        assert_status 0
        [[ ${lines[0]} == "{" || ${lines[0]} == "["* ]]
    done
}

@test "options: -f accepts add-cow only, -F raw, qcow2 or add-cow only" {
    "$IMG" create -q x.add-cow 1M
    local cmd
    for cmd in info check map commit; do
        run --separate-stderr "$IMG" $cmd -f vmdk x.add-cow
        assert_status 1
        assert_text "$stderr" "addcow-img: x.add-cow: unsupported format 'vmdk'"
    done
    # info, map and check read qcow2 files (tests/cli/qcow2-info.bats).
    run --separate-stderr "$IMG" commit -f qcow2 x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: unsupported format 'qcow2'"
    run --separate-stderr "$IMG" rebase -f raw -b '' x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: unsupported format 'raw'"
    run --separate-stderr "$IMG" create -f qcow2 y.add-cow 1M
    assert_status 1
    assert_text "$stderr" "addcow-img: y.add-cow: unsupported format 'qcow2'"
    run --separate-stderr "$IMG" create -b x.add-cow -F vmdk y.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: y.add-cow: unsupported backing format 'vmdk'"
    run --separate-stderr "$IMG" rebase -b x.raw -F vmdk x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: x.add-cow: unsupported backing format 'vmdk'"
    [ ! -e y.add-cow ]
    run "$IMG" info -f add-cow x.add-cow
    assert_status 0
}

@test "options: sizes follow qemu's syntax and are rounded up to 512" {
    local n=0 spec size want
    while read -r spec want; do
        n=$((n + 1))
        run "$IMG" create -q s$n.add-cow "$spec"
        assert_status 0
        size=$(virtual_size s$n.add-cow)
        [ "$size" = "$want" ] || { echo "'$spec': $size, want $want" >&2; false; }
    done <<'EOF'
1000 1024
512 512
0x100 512
0X400 1024
1.5M 1572864
1.5m 1572864
1k 1024
1K 1024
1b 512
1B 512
1. 512
1.k 1024
+1k 1024
0.1k 512
1.25k 1536
1.0000000000001k 1024
1.0b 512
3G 3221225472
0.5g 536870912
EOF
}

@test "options: leading blanks are allowed in a size" {
    run "$IMG" create -q s.add-cow ' 64k'
    assert_status 0
    [ "$(virtual_size s.add-cow)" = 65536 ]
}

@test "options: malformed sizes get qemu's two-line message" {
    local spec
    for spec in 1.5 .5k 12Q 1e3 1.5e3k '1k ' 0x1.5 0x 00x10 0.5b '' 1kb 1KiB \
                abc 1k1; do
        run --separate-stderr "$IMG" create s.add-cow "$spec"
        assert_status 1
        assert_text "$stderr" \
"addcow-img: Invalid image size specified. You may use k, M, G, T, P or E suffixes for
addcow-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
        [ ! -e s.add-cow ]
    done
}

@test "options: a negative size is an unknown option, as in qemu-img" {
    run --separate-stderr "$IMG" create s.add-cow -1
    assert_status 1
    assert_text "$stderr" "addcow-img: unrecognized option '-1'
Try 'addcow-img --help' for more information"
}

@test "options: sizes beyond 2^63-1 are out of range" {
    local spec
    for spec in 8E 16E 9223372036854775808 18446744073709551616 0x8000000000000000; do
        run --separate-stderr "$IMG" create s.add-cow "$spec"
        assert_status 1
        assert_text "$stderr" \
            "addcow-img: Invalid image size specified. Must be between 0 and 9223372036854775807."
    done
}

@test "options: a hex size with a suffix works but is deprecated" {
    run --separate-stderr "$IMG" create -q s.add-cow 0x1k
    assert_status 0
    assert_text "$stderr" \
        "addcow-img: warning: Using a multiplier suffix on hex numbers is deprecated: 0x1k"
    [ "$(virtual_size s.add-cow)" = 1024 ]
}

@test "options: --start-offset and --max-length use the same syntax" {
    "$IMG" create -q x.add-cow 1M
    run --separate-stderr "$IMG" map --start-offset=1x x.add-cow
    assert_status 1
    assert_text "$stderr" \
"addcow-img: Invalid start offset specified. You may use k, M, G, T, P or E suffixes for
addcow-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
    run --separate-stderr "$IMG" map --max-length=-1 x.add-cow
    assert_status 1
    assert_text "$stderr" \
"addcow-img: Invalid max length specified. You may use k, M, G, T, P or E suffixes for
addcow-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
    run --separate-stderr "$IMG" map --max-length=9E x.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: Invalid max length specified. Must be between 0 and 9223372036854775807."
}

@test "options: sizes are read as qemu-img reads them" {
    need_qemu
    local spec want
    for spec in 1000 0x100 1.5M 1.k 0.1k +1k 1.0000000000001k 0.3g 7777; do
        qemu-img create -q -f qcow2 q.qcow2 "$spec"
        want=$(qemu-img info --output=json q.qcow2 |
               sed -n 's/^    "virtual-size": \([0-9]*\),$/\1/p')
        rm -f s.add-cow s.raw
        "$IMG" create -q s.add-cow "$spec"
        [ "$(virtual_size s.add-cow)" = "$want" ] ||
            { echo "'$spec': want $want" >&2; false; }
    done
}

@test "options: a write error on standard output is exit status 1" {
    "$IMG" create -q x.add-cow 1M
    local args
    for args in "--help" "--version" "info x.add-cow" "info --output=json x.add-cow" \
                "map x.add-cow" "map --output=json x.add-cow" "check x.add-cow" \
                "create --help" "create -o help"; do
        run bash -c '"$1" $2 > /dev/full' _ "$IMG" "$args"
        assert_status 1
        assert_text "$output" "addcow-img: write error: No space left on device"
    done
}

@test "options: -q prints nothing on stdout" {
    run --separate-stderr "$IMG" create -q x.add-cow 1M
    assert_status 0
    assert_text "$output$stderr" ""
    run --separate-stderr "$IMG" check -q x.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
}

# Every option shown by 'addcow-img SUB --help' must be in addcow-img(1).
@test "options: every option of every --help is in the man page" {
    local man=$SRC_DIR/man/addcow-img.1 cmd opt missing=
    [ -f "$man" ] || skip "man/addcow-img.1 not written yet"
    local text
    text=$(sed 's/\\-/-/g; s/\\(em/ /g; s/\\~/ /g' "$man")
    for cmd in "" $SUBCOMMANDS; do
        for opt in $("$IMG" $cmd --help |
                     grep -oE -- '(^|[ ,[])--?[A-Za-z][-A-Za-z]*' |
                     sed 's/^[ ,[]*//' | sort -u); do
            grep -qE -- "(^|[^-A-Za-z])$opt([^-A-Za-z]|\$)" <<<"$text" ||
                missing="$missing ${cmd:-addcow-img}:$opt"
        done
    done
    [ -z "$missing" ] || { echo "not in man/addcow-img.1:$missing" >&2; false; }
}

# ---- qemu-img's cache, rate and sharing options (-t, -T, -r, -U) ----

# ov.add-cow over base.raw with data at 0 and 3M, and its qcow2 twin.
make_cache_twins() {
    need_qemu
    truncate -s 4M base.raw
    "$IMG" create -q -b base.raw -F raw ov.add-cow
    "$IO" -c 'write -q -P 0x33 0 2M' -c 'write -q -P 0x44 3M 100k' ov.add-cow
    qemu-img create -q -f qcow2 -o data_file=q.data -b base.raw -F raw q.qcow2
}

@test "options: -t, -T, -r and -U are accepted exactly where qemu-img accepts them" {
    make_cache_twins
    local cmd opt q a
    while read -r cmd opt; do
        q=0 a=0
        qemu-img $cmd $opt q.qcow2 >/dev/null 2>qerr || q=$?
        "$IMG" $cmd $opt ov.add-cow >/dev/null 2>aerr || a=$?
        echo "$cmd $opt: qemu-img $q, addcow-img $a"
        [ "$q" -eq "$a" ]
        if [ "$q" -ne 0 ]; then
            assert_text "$(sed 's/addcow-img/qemu-img/g' aerr)" "$(cat qerr)"
        fi
    done <<'LIST'
check -T none
check -T writethrough
check -T bogus
info -T none
map -T none
commit -d -t none
commit -d -t unsafe
commit -d -t bogus
commit -d -T none
commit -U
commit -d -r 10M
commit -d -r 1x
commit -d -r -1
rebase -u -b base.raw -F raw -t writethrough
rebase -u -b base.raw -F raw -T directsync
rebase -u -b base.raw -F raw -T bogus
rebase -U -u -b base.raw -F raw
rebase -U -b base.raw -F raw
LIST
}

@test "options: every cache mode gives the bytes qemu-img commit gives" {
    make_cache_twins
    qemu-io -f qcow2 -c 'write -q -P 0x33 0 2M' -c 'write -q -P 0x44 3M 100k' q.qcow2
    cp base.raw base.orig
    qemu-img commit -q q.qcow2
    cp base.raw want.raw
    local m
    for m in none off directsync writeback writethrough unsafe; do
        cp base.orig base.raw
        "$IMG" create -q -b base.raw -F raw ov.add-cow --force
        "$IO" -c 'write -q -P 0x33 0 2M' -c 'write -q -P 0x44 3M 100k' ov.add-cow
        run "$IMG" commit -t "$m" ov.add-cow
        assert_status 0
        assert_text "$output" "Image committed."
        cmp want.raw base.raw
        run "$IMG" check ov.add-cow
        assert_status 0
    done
}

@test "options: a flatten in every cache mode keeps the disk" {
    make_cache_twins
    local m
    for m in none directsync writethrough unsafe; do
        cp ov.add-cow o.add-cow
        "$IMG" create -q -b base.raw -F raw -o image_file=o-$m.raw o-$m.add-cow
        "$IO" -c 'write -q -P 0x33 0 2M' -c 'write -q -P 0x44 3M 100k' o-$m.add-cow
        run "$IMG" rebase -t "$m" -T "$m" -b '' o-$m.add-cow
        assert_status 0
        run "$IO" -r -c 'read -q -P 0x33 0 2M' -c 'read -q -P 0 2M 1M' \
            -c 'read -q -P 0x44 3M 100k' -c 'read -q -P 0 3172k 924k' o-$m.add-cow
        assert_status 0
        assert_text "$output" ""
    done
}

@test "options: -t none reads and writes the data with O_DIRECT; unsafe never syncs; writethrough syncs every write" {
    command -v strace >/dev/null || skip "no strace"
    make_cache_twins
    cp ov.add-cow keep.add-cow
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o none.trace -e trace=openat "$IMG" commit -d -t none ov.add-cow
    grep -q 'O_RDWR|O_DIRECT' none.trace
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o wb.trace -e trace=openat "$IMG" commit -d ov.add-cow
    ! grep -q O_DIRECT wb.trace
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o unsafe.trace -e trace=fsync,fdatasync "$IMG" commit -t unsafe ov.add-cow
    ! grep -q sync unsafe.trace
    cp keep.add-cow ov.add-cow
    "$IO" -c 'write -q -P 0x33 0 2M' -c 'write -q -P 0x44 3M 100k' ov.add-cow
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o wt.trace -e trace=pwrite64,fdatasync,copy_file_range "$IMG" commit -d -t writethrough ov.add-cow
    local writes syncs
    writes=$(grep -c 'pwrite64\|copy_file_range' wt.trace)
    syncs=$(grep -c fdatasync wt.trace)
    [ "$syncs" -ge "$writes" ]
}

@test "options: create -t unsafe makes no syncs, the default does; a bad mode is refused (qemu-img create has no -t)" {
    command -v strace >/dev/null || skip "no strace"
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o cu.trace -e trace=fsync,fdatasync "$IMG" create -q -t unsafe u.add-cow 1M
    ! grep -q sync cu.trace
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o cw.trace -e trace=fsync,fdatasync "$IMG" create -q -t writeback w.add-cow 1M
    grep -q sync cw.trace
    run "$IMG" check u.add-cow
    assert_status 0
    run --separate-stderr "$IMG" create -t bogus b.add-cow 1M
    assert_status 1
    [[ $stderr == "addcow-img: "* ]]
    [ ! -e b.add-cow ] && [ ! -e b.raw ]
}

@test "options: -r limits commit's bandwidth and refuses what qemu-img refuses" {
    make_cache_twins
    run --separate-stderr "$IMG" commit -r 1.5x ov.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-img: Invalid rate limit specified. You may use k, M, G, T, P or E suffixes for
addcow-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
    # 2.1 MiB at 1 MiB/s cannot be done within a second: a lower bound
    # that no machine can miss, not a performance figure.
    local t0 t1
    t0=$(date +%s%N)
    run "$IMG" commit -r 1M ov.add-cow
    t1=$(date +%s%N)
    assert_status 0
    [ $(( (t1 - t0) / 1000000 )) -ge 1000 ]
    cmp <(head -c 2M base.raw) <(head -c 2M /dev/zero | tr '\0' '\063')
}

@test "options: --object and --image-opts are not supported for add-cow images" {
    "$IMG" create -q x.add-cow 1M
    local cmd
    for cmd in info map check commit "rebase -u -b ''"; do
        run --separate-stderr "$IMG" $cmd --object secret,id=s0,data=x x.add-cow
        assert_status 1
        assert_text "$stderr" "addcow-img: --object is not supported for add-cow images"
        run --separate-stderr "$IMG" $cmd --image-opts x.add-cow
        assert_status 1
        assert_text "$stderr" "addcow-img: --image-opts is not supported for add-cow images"
    done
    run --separate-stderr "$IO" --image-opts x.add-cow
    assert_status 1
    assert_text "$stderr" "addcow-io: --image-opts is not supported for add-cow images"
}
