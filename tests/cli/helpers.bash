# helpers.bash - shared by the bats suites of addcow-img and addcow-io.
#
# Every test runs in its own fresh directory (BATS_TEST_TMPDIR).  The
# programs come from $ADDCOW_IMG / $ADDCOW_IO (set by ctest), else from
# build/cmd/ of the source tree.

bats_require_minimum_version 1.5.0

CLI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${ADDCOW_SOURCE_DIR:-$(cd "$CLI_DIR/../.." && pwd)}
IMG=${ADDCOW_IMG:-$SRC_DIR/build/cmd/addcow-img}
IO=${ADDCOW_IO:-$SRC_DIR/build/cmd/addcow-io}
EXPECTED=$CLI_DIR/expected

setup() {
    [ -x "$IMG" ] || { echo "addcow-img not found at $IMG" >&2; return 1; }
    [ -x "$IO" ] || { echo "addcow-io not found at $IO" >&2; return 1; }
    cd "$BATS_TEST_TMPDIR"
}

# Fail with a diff when $1 (actual) differs from $2 (expected).
assert_text() {
    if [ "$1" != "$2" ]; then
        diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$1") >&2 || true
        return 1
    fi
}

# Compare $output with a golden file in tests/cli/expected/.
assert_golden() {
    assert_text "$output" "$(cat "$EXPECTED/$1")"
}

# The status of the last `run`.
assert_status() {
    if [ "$status" -ne "$1" ]; then
        echo "exit status $status, expected $1; output:" >&2
        printf '%s\n' "$output" >&2
        return 1
    fi
}

need_qemu() {
    command -v qemu-img >/dev/null && command -v qemu-io >/dev/null \
        || skip "qemu-img/qemu-io not installed"
}

# A file of SIZE bytes (sparse) with byte PATTERN (octal escape, e.g. 021)
# written at each "offset:length" that follows, in 64 KiB steps.
# e.g. make_raw base.raw 1M 021 0:64k 022 256k:64k
make_raw() {
    local file=$1 size=$2 pattern= arg off len
    shift 2
    truncate -s "$size" "$file"
    for arg in "$@"; do
        case $arg in
        *:*)
            off=$(to_bytes "${arg%%:*}")
            len=$(to_bytes "${arg##*:}")
            head -c "$len" /dev/zero | tr '\0' "\\$pattern" |
                dd of="$file" bs=4096 seek=$((off / 4096)) conv=notrunc \
                   status=none
            ;;
        *) pattern=$arg ;;
        esac
    done
}

# 64k -> 65536 (k, M, G only; for the helpers).
to_bytes() {
    case $1 in
    *k) echo $(( ${1%k} * 1024 )) ;;
    *M) echo $(( ${1%M} * 1024 * 1024 )) ;;
    *G) echo $(( ${1%G} * 1024 * 1024 * 1024 )) ;;
    *) echo "$1" ;;
    esac
}

# A file of LEN bytes of value PATTERN (octal), for cmp; FILE - is stdout.
pattern_file() {
    if [ "$1" = - ]; then
        head -c "$(to_bytes "$2")" /dev/zero | tr '\0' "\\$3"
    else
        head -c "$(to_bytes "$2")" /dev/zero | tr '\0' "\\$3" > "$1"
    fi
}

# The bytes [OFF, OFF+LEN) of FILE as hex, no spaces.
hex_at() {
    od -A n -t x1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# Overwrite the bytes of FILE at OFFSET with the hex string HEX.
poke() {
    local file=$1 offset=$2 hex=$3 esc=
    while [ -n "$hex" ]; do
        esc="$esc\\x${hex:0:2}"
        hex=${hex:2}
    done
    printf "$esc" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

# addcow-io / qemu-io output with the timing part of the statistics line
# removed (it changes from run to run).
strip_timing() {
    sed -E 's/^(.*, [0-9]+ ops); .*$/\1/'
}

# An add-cow view of a raw file (no backing: all allocated, reads the raw
# file as it is), so that addcow-io can check a raw file's contents.
# Prints the name of the view.
raw_view() {
    local view=${1%.*}-view.add-cow
    "$IMG" create -q --force -o image_file="$(basename "$1")" "$view"
    echo "$view"
}

# Keep IMAGE open read-write in a background addcow-io until stop_writer.
# Returns once the image is open (addcow-io answered a command).
start_writer() {
    coproc WRITER { "$IO" "$1"; }
    WRITER_SAVED_PID=$WRITER_PID
    exec {WRITER_IN}>&"${WRITER[1]}" {WRITER_OUT}<&"${WRITER[0]}"
    echo help >&"$WRITER_IN"
    local line=
    read -r -t 20 line <&"$WRITER_OUT" || true
    [ -n "$line" ]
}

stop_writer() {
    echo quit >&"$WRITER_IN"
    exec {WRITER_IN}>&- {WRITER_OUT}<&-
    wait "$WRITER_SAVED_PID" || true
}
