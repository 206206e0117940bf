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
        run --separate-stderr "$IMG" $cmd -f qcow2 x.add-cow
        assert_status 1
        assert_text "$stderr" "addcow-img: x.add-cow: unsupported format 'qcow2'"
    done
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
