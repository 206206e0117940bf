#!/usr/bin/env bats
# addcow-img commit and rebase across chains of three layers: the exact
# map (depth of every run) after each step, commit into an add-cow backing
# file (through its copy-on-write), backing files shorter and longer than
# the image, progress lines, and every refusal with its exact message and
# exit status.

load helpers

# The read-only test works in a directory user nobody can reach.
teardown() {
    [ -z "${RO_DIR:-}" ] || rm -rf "$RO_DIR"
}

# base.raw 1M (0x11 at 0, 0x22 at 512k, holes elsewhere)
#   <- mid.add-cow (0x33 at 128k)
#   <- top.add-cow (0x44 at 256k, 0x55 at 512k)
make_chain() {
    make_raw base.raw 1M 021 0:64k 042 512k:64k
    "$IMG" create -q -b base.raw -F raw mid.add-cow
    "$IO" -c 'write -q -P 0x33 128k 64k' mid.add-cow
    "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow
    "$IO" -c 'write -q -P 0x44 256k 64k' -c 'write -q -P 0x55 512k 64k' \
        top.add-cow
}

# The disk every layout of make_chain must show through top.add-cow.
assert_top_disk() {
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 64k' \
        -c 'read -q -P 0x33 128k 64k' -c 'read -q -P 0 192k 64k' \
        -c 'read -q -P 0x44 256k 64k' -c 'read -q -P 0 320k 192k' \
        -c 'read -q -P 0x55 512k 64k' -c 'read -q -P 0 576k 448k' \
        top.add-cow
    assert_status 0
    assert_text "$output" ""
}

# That disk as a file.
top_disk_file() {
    { pattern_file - 64k 021; head -c 65536 /dev/zero; pattern_file - 64k 063
      head -c 65536 /dev/zero; pattern_file - 64k 104
      head -c 196608 /dev/zero; pattern_file - 64k 125
      head -c 458752 /dev/zero; } > "$1"
}

assert_check_clean() {
    run "$IMG" check "$1"
    assert_status 0
    [[ ${lines[0]} == "No errors were found on the image." ]]
}

# One map line: start length depth zero|data.
entry() {
    local present=true zero=false data=true off
    [ "$4" = zero ] && { zero=true; data=false; }
    [ "$4" = absent ] && { present=false; zero=true; data=false; }
    off=", \"offset\": $1"
    [ "$4" = absent ] && off=
    printf '{ "start": %s, "length": %s, "depth": %s, "present": %s, "zero": %s, "data": %s%s}' \
        "$1" "$2" "$3" "$present" "$zero" "$data" "$off"
}

# The JSON map from entries given as "start:length:depth:kind" words.
map_of() {
    local first=1 e s l d k
    printf '['
    for e in "$@"; do
        IFS=: read -r s l d k <<< "$e"
        [ $first = 1 ] || printf ',\n'
        first=0
        entry "$s" "$l" "$d" "$k"
    done
    printf ']'
}

assert_map() {
    local file=$1
    shift
    run --separate-stderr "$IMG" map --output=json "$file"
    assert_status 0
    assert_text "$output" "$(map_of "$@")"
}

@test "layers: the map of the three-layer chain" {
    make_chain
    assert_map top.add-cow 0:65536:2:data 65536:65536:2:zero \
        131072:65536:1:data 196608:65536:2:zero 262144:65536:0:data \
        327680:196608:2:zero 524288:65536:0:data 589824:458752:2:zero
    assert_top_disk
}

@test "layers: commit -b across three layers, then down step by step, then flatten" {
    make_chain
    top_disk_file want

    # 1. everything above base.raw goes into it; -b keeps the layers above
    run --separate-stderr "$IMG" commit -b base.raw top.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    assert_text "$stderr" ""
    cmp want base.raw
    assert_map top.add-cow 0:65536:2:data 65536:65536:2:zero \
        131072:65536:1:data 196608:65536:2:zero 262144:65536:0:data \
        327680:196608:2:zero 524288:65536:0:data 589824:458752:2:zero
    assert_map mid.add-cow 0:65536:1:data 65536:65536:1:zero \
        131072:65536:0:data 196608:65536:1:zero 262144:65536:1:data \
        327680:196608:1:zero 524288:65536:1:data 589824:458752:1:zero
    assert_top_disk
    assert_check_clean top.add-cow

    # 2. mid into base.raw: mid is emptied, its cluster now comes from depth 2
    run "$IMG" commit mid.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    assert_map top.add-cow 0:65536:2:data 65536:65536:2:zero \
        131072:65536:2:data 196608:65536:2:zero 262144:65536:0:data \
        327680:196608:2:zero 524288:65536:0:data 589824:458752:2:zero
    assert_text "$("$IMG" info mid.add-cow | sed -n 's/^    allocated clusters: //p')" 0
    assert_top_disk
    assert_check_clean mid.add-cow

    # 3. top into mid: top is emptied, its clusters now come from depth 1
    run "$IMG" commit top.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    assert_map top.add-cow 0:65536:2:data 65536:65536:2:zero \
        131072:65536:2:data 196608:65536:2:zero 262144:65536:1:data \
        327680:196608:2:zero 524288:65536:1:data 589824:458752:2:zero
    assert_top_disk
    assert_check_clean top.add-cow
    cmp want base.raw                   # unchanged by the last two commits

    # 4. flatten: top.raw alone is the disk, at depth 0, its holes zeros
    #    exactly as qemu-img maps the raw file
    run --separate-stderr "$IMG" rebase -b "" top.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    run --separate-stderr "$IMG" map --output=json top.add-cow
    assert_text "$output" "$(qemu-img map -f raw --output=json top.raw)"
    cmp want top.raw
    run "$IMG" info top.add-cow
    [[ $output != *"backing file"* ]]
    [[ $output == *"all allocated: true"* ]]
    rm base.raw mid.add-cow mid.raw
    assert_top_disk
    assert_check_clean top.add-cow
}

@test "layers: rebase onto the bottom layer drops the middle one" {
    make_chain
    run --separate-stderr "$IMG" rebase -b base.raw -F raw top.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    # only mid's cluster differs from base.raw: it is now top's own
    assert_map top.add-cow 0:65536:1:data 65536:65536:1:zero \
        131072:65536:0:data 196608:65536:1:zero 262144:65536:0:data \
        327680:196608:1:zero 524288:65536:0:data 589824:458752:1:zero
    run "$IMG" info top.add-cow
    [[ $output == *$'backing file: base.raw\nbacking file format: raw'* ]]
    rm mid.add-cow mid.raw
    assert_top_disk
    assert_check_clean top.add-cow
}

@test "layers: rebase onto a copy of the backing file copies nothing" {
    make_chain
    "$IMG" commit -q -b base.raw top.add-cow
    cp base.raw copy.raw
    cp top.raw top.before
    run "$IMG" rebase -b copy.raw -F raw top.add-cow
    assert_status 0
    cmp top.before top.raw
    assert_map top.add-cow 0:65536:1:data 65536:65536:1:zero \
        131072:65536:1:data 196608:65536:1:zero 262144:65536:0:data \
        327680:196608:1:zero 524288:65536:0:data 589824:458752:1:zero
    assert_top_disk
}

@test "layers: commit into an add-cow backing file goes through its copy-on-write" {
    make_raw base.raw 1M 021 0:128k
    cp base.raw base.before
    "$IMG" create -q -o cluster_size=128k -b base.raw -F raw mid.add-cow
    "$IMG" create -q -b mid.add-cow -F add-cow top.add-cow
    "$IO" -c 'write -q -P 0x66 64k 64k' top.add-cow
    run "$IMG" commit top.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    cmp base.before base.raw            # the layer below mid is untouched
    # mid's first 128k cluster: base's half, then top's half
    assert_map mid.add-cow 0:131072:0:data 131072:917504:1:zero
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0x66 64k 64k' \
        -c 'read -q -P 0 128k 896k' mid.add-cow
    assert_status 0
    assert_text "$output" ""
    assert_map top.add-cow 0:131072:1:data 131072:917504:2:zero
    assert_check_clean mid.add-cow
    assert_check_clean top.add-cow
}

@test "layers: commit grows a shorter raw backing file, leaves a longer one's tail" {
    make_raw short.raw 256k 021 0:256k
    "$IMG" create -q -b short.raw -F raw s.add-cow 1M
    "$IO" -c 'write -q -P 0x22 768k 64k' s.add-cow
    run "$IMG" commit s.add-cow
    assert_status 0
    [ "$(stat -c %s short.raw)" = 1048576 ]
    { pattern_file - 256k 021; head -c 524288 /dev/zero
      pattern_file - 64k 042; head -c 196608 /dev/zero; } > want
    cmp want short.raw

    make_raw long.raw 2M 021 0:2M
    "$IMG" create -q -b long.raw -F raw l.add-cow 1M
    "$IO" -c 'write -q -P 0x22 960k 64k' l.add-cow
    run "$IMG" commit l.add-cow
    assert_status 0
    [ "$(stat -c %s long.raw)" = 2097152 ]
    { pattern_file - 960k 021; pattern_file - 64k 042
      pattern_file - 1M 021; } > want
    cmp want long.raw
}

@test "layers: -p prints '    (xx.xx/100%)' steps up to 100, for commit and rebase" {
    make_chain
    run --separate-stderr "$IMG" commit -p -b base.raw top.add-cow
    assert_status 0
    [[ $output == *$'\r\nImage committed.' ]]
    progress=${output%$'\r\nImage committed.'}
    check_progress "$progress"

    run --separate-stderr "$IMG" rebase -p -b "" top.add-cow
    assert_status 0
    [[ $output == *$'\r' ]]
    check_progress "${output%$'\r'}"
}

# Every step "    (NN.NN/100%)", separated by \r, never going down, ending at
# 100.00.
check_progress() {
    local step last=-1 n=0 IFS=$'\r'
    for step in $1; do
        [[ $step =~ ^\ {4}\(([0-9]{1,3})\.([0-9]{2})/100%\)$ ]] || {
            echo "bad progress step '$step'" >&2; return 1; }
        value=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
        [ "$value" -ge "$last" ]
        last=$value
        n=$((n + 1))
    done
    [ "$last" = 10000 ]
    [ "$n" -ge 2 ]
}

# ---- refusals: exit 1, the exact message, nothing changed --------------

@test "layers: commit -b of a file that is not in the chain" {
    make_chain
    run --separate-stderr "$IMG" commit -b nosuch.raw top.add-cow
    assert_status 1
    assert_text "$output" ""
    assert_text "$stderr" \
        "addcow-img: top.add-cow: 'nosuch.raw' is not in the backing chain of the image"
    run --separate-stderr "$IMG" commit -b top.add-cow top.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: top.add-cow: 'top.add-cow' is not in the backing chain of the image"
}

@test "layers: commit refuses a backing file another process uses" {
    make_chain
    "$IMG" create -q -b base.raw -F raw other.add-cow
    cp base.raw base.before
    start_writer other.add-cow
    run --separate-stderr "$IMG" commit mid.add-cow
    stop_writer
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: mid.add-cow: 'base.raw' is in use by another process (use -U to inspect it anyway)"
    cmp base.before base.raw
    run "$IMG" commit mid.add-cow       # free again: it works
    assert_status 0
}

@test "layers: commit refuses a read-only backing file" {
    # root may write any file: run the commit as user nobody
    RO_DIR=$(mktemp -d /tmp/addcow-layers-ro.XXXXXX)
    chmod 755 "$RO_DIR"
    cd "$RO_DIR"
    make_raw base.raw 1M 021 0:64k
    "$IMG" create -q -b base.raw -F raw ov.add-cow
    "$IO" -c 'write -q -P 0x22 0 64k' ov.add-cow
    chmod 666 ov.add-cow ov.raw
    chmod 444 base.raw
    cp base.raw base.before
    if [ "$(id -u)" = 0 ]; then
        command -v setpriv >/dev/null || skip "setpriv is not installed"
        run --separate-stderr setpriv --reuid=65534 --regid=65534 \
            --clear-groups "$IMG" commit ov.add-cow
    else
        run --separate-stderr "$IMG" commit ov.add-cow
    fi
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: ov.add-cow: could not open backing file 'base.raw': Permission denied"
}

# Through grown.add-cow (1M): 0x11 at 0, 0x22 from 448k to 512000 (the end
# of the shorter backing file), 0x44 at 768k, zeros elsewhere.
assert_grown_disk() {
    run "$IO" -r -c 'read -q -P 0x11 0 64k' -c 'read -q -P 0 64k 384k' \
        -c 'read -q -P 0x22 448k 53248' -c 'read -q -P 0 512000 274432' \
        -c 'read -q -P 0x44 768k 64k' -c 'read -q -P 0 832k 192k' "$1"
    assert_status 0
    assert_text "$output" ""
}

@test "layers: commit grows a shorter add-cow backing file, its new area zeros" {
    # base.raw has data past the end of small.add-cow (in its last, partial
    # cluster and after it): none of it may show once small.add-cow grows
    make_raw base.raw 1M 021 0:64k 042 448k:64k 063 576k:64k
    cp base.raw base.before
    "$IMG" create -q -b base.raw -F raw small.add-cow 512000
    "$IMG" create -q -b small.add-cow -F add-cow grown.add-cow 1M
    "$IO" -c 'write -q -P 0x44 768k 64k' grown.add-cow
    assert_grown_disk grown.add-cow
    run --separate-stderr "$IMG" commit grown.add-cow
    assert_status 0
    assert_text "$output" "Image committed."
    run "$IMG" info --output=json small.add-cow
    assert_status 0
    [[ $output == *'"virtual-size": 1048576,'* ]]
    [ "$(stat -c %s small.raw)" = 1048576 ]
    assert_grown_disk small.add-cow
    assert_grown_disk grown.add-cow
    assert_check_clean small.add-cow
    assert_check_clean grown.add-cow
    cmp base.before base.raw
}

@test "layers: rebase refuses what cannot be a backing file, before copying" {
    make_chain
    mkdir adir
    cp top.add-cow top.before
    cp top.raw top.raw.before
    run --separate-stderr "$IMG" rebase -b adir -F raw top.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: top.add-cow: backing file 'adir' is a directory"
    run --separate-stderr "$IMG" rebase -b top.raw -F raw top.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: top.add-cow: image file and backing file have the same name 'top.raw'"
    run --separate-stderr "$IMG" rebase -b ./top.raw -F raw top.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: top.add-cow: backing file './top.raw' is the image itself"
    run --separate-stderr "$IMG" rebase -b nosuch.raw -F raw top.add-cow
    assert_status 1
    assert_text "$stderr" \
        "addcow-img: top.add-cow: could not open backing file 'nosuch.raw': No such file or directory"
    cmp top.before top.add-cow
    cmp top.raw.before top.raw
    assert_top_disk
}

@test "layers: rebase -u points at a file that does not exist yet" {
    make_chain
    cp top.raw top.raw.before
    run --separate-stderr "$IMG" rebase -u -b later.raw -F raw top.add-cow
    assert_status 0
    assert_text "$output$stderr" ""
    cmp top.raw.before top.raw
    run "$IMG" info top.add-cow
    [[ $output == *$'backing file: later.raw\nbacking file format: raw'* ]]
    run --separate-stderr "$IMG" map --output=json top.add-cow
    assert_status 1
    # and back: the disk is what it was
    run "$IMG" rebase -u -b mid.add-cow -F add-cow top.add-cow
    assert_status 0
    assert_top_disk
    assert_check_clean top.add-cow
}
