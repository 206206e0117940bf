#!/usr/bin/env bash
# convert-compare.sh - addcow-img convert, compare and resize side by side
# with qemu-img on the qcow2 twins (issue 12, "Performance").  A benchmark,
# not a test.
#
#   convert   an overlay over a BENCH_SIZE (4 GiB) random base with
#             BENCH_DIRTY_PCT (25) % of its 64 KiB clusters written, to raw:
#             addcow-img convert -O raw (durable when it returns) vs
#             qemu-img convert -O raw of the qcow2 twin followed by a sync of
#             the result (the same durability), and vs the floor: dd of the
#             disk's bytes with conv=fsync.  Targets: <= 0.5x qemu-img,
#             <= 1.2x the floor.
#   compare   two overlays over the same base whose disks are equal, one of
#             them holding 1 % of the clusters (written with the bytes the
#             base has there): addcow-img compare vs qemu-img compare of the
#             twins.  Target: <= 1/10 of qemu-img.
#   resize    a 1 TiB overlay grown by 1 TiB: addcow-img resize vs
#             qemu-img resize of the twin.  Target: <= 0.1 s.
# Every result is checked (the converted files byte for byte against
# qemu-img's, compare's answer); a wrong one exits 1.
#
# Output: the figures, then one TSV row per operation,
#   operation<TAB>ours_s<TAB>peer_s<TAB>floor_s<TAB>target
# (floor "-" where there is none), which bench/run collects.
#
# Usage:  bench/convert-compare.sh
#         BENCH_SIZE=256M bench/convert-compare.sh        # a smoke run
# Knobs: BENCH_SIZE, BENCH_DIRTY_PCT, BENCH_DIR, BENCH_KEEP, BENCH_SEED,
# ADDCOW_IMG, ADDCOW_IO, QEMU_IMG, QEMU_IO (see common.sh).

source "$(dirname "$0")/common.sh"

SIZE=$(numfmt --from=iec "${BENCH_SIZE:-4G}")
DIRTY=${BENCH_DIRTY_PCT:-25}
CL=65536
NCL=$(( SIZE / CL ))

command -v "$QEMU_IMG" >/dev/null || die "qemu-img not found"
[ -x "$ADDCOW_IMG" ] || die "addcow-img not built: $ADDCOW_IMG"

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/addcow-bench.XXXXXX")
[ "$BENCH_KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Seconds taken by "$@" (its output discarded).
timed() {
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l | sed 's/^\./0./; s/^\(-*[0-9]*\.[0-9]\{3\}\).*/\1/'
}

ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }

# N distinct cluster numbers, reproducibly.
clusters() {
    shuf -i 0-$(( NCL - 1 )) -n "$1" \
        --random-source=<(openssl enc -aes-128-ctr -nosalt \
                          -pass "pass:$BENCH_SEED" </dev/zero 2>/dev/null)
}

# Write pattern byte P into clusters (stdin) of IMAGE with TOOL (addcow-io
# or qemu-io -f qcow2), 256 commands per run.
write_clusters() {
    local tool=$1 image=$2 p=$3 args=() c
    while read -r c; do
        args+=(-c "write -q -P $p $(( c * CL )) $CL")
        if [ ${#args[@]} -ge 512 ]; then
            $tool "${args[@]}" "$image"; args=()
        fi
    done
    [ ${#args[@]} -eq 0 ] || $tool "${args[@]}" "$image"
}

section "set-up: $(numfmt --to=iec "$SIZE") random base, $DIRTY % dirty"
# (openssl dies of SIGPIPE once head has enough: not a failure)
{ openssl enc -aes-128-ctr -nosalt -pass "pass:$BENCH_SEED" </dev/zero \
    2>/dev/null || true; } | head -c "$SIZE" > base.raw
"$ADDCOW_IMG" create -q -b base.raw -F raw ov.add-cow
"$QEMU_IMG" create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2
clusters $(( NCL * DIRTY / 100 )) > dirty.txt
write_clusters "$ADDCOW_IO" ov.add-cow 0x5a < dirty.txt
write_clusters "$QEMU_IO -f qcow2" q.qcow2 0x5a < dirty.txt
sync

section "convert -O raw"
ours=$(timed "$ADDCOW_IMG" convert -O raw ov.add-cow ours.raw)
peer=$(timed sh -c "\"$QEMU_IMG\" convert -O raw q.qcow2 peer.raw && sync peer.raw")
"$QEMU_IMG" convert -O raw q.qcow2 floor-src.raw >/dev/null  # the disk's bytes
sync
floor=$(timed dd if=floor-src.raw of=floor.raw bs=4M conv=fsync status=none)
cmp ours.raw peer.raw || { say "convert: WRONG RESULT"; BAD=1; }
note "ours $ours s, qemu-img $peer s ($(ratio "$ours" "$peer")x), floor $floor s ($(ratio "$ours" "$floor")x)"
ROW_CONVERT=$(printf 'convert-raw\t%s\t%s\t%s\t<=0.5x peer, <=1.2x floor' \
              "$ours" "$peer" "$floor")
rm -f ours.raw peer.raw floor.raw floor-src.raw

section "compare, 1 % of the clusters held by one overlay"
clusters $(( NCL / 100 )) > same.txt
# the base gets those bytes too, so that both disks stay equal
"$ADDCOW_IMG" create -q -o image_file=base.raw base-view.add-cow
write_clusters "$ADDCOW_IO" base-view.add-cow 0x33 < same.txt
rm base-view.add-cow
for n in a b; do
    "$ADDCOW_IMG" create -q -b base.raw -F raw $n.add-cow
    "$QEMU_IMG" create -q -f qcow2 -o data_file=$n.data,backing_file=base.raw,backing_fmt=raw $n.qcow2
done
write_clusters "$ADDCOW_IO" a.add-cow 0x33 < same.txt
write_clusters "$QEMU_IO -f qcow2" a.qcow2 0x33 < same.txt
sync
ours=$(timed "$ADDCOW_IMG" compare a.add-cow b.add-cow)
peer=$(timed "$QEMU_IMG" compare a.qcow2 b.qcow2)
"$ADDCOW_IMG" compare -q a.add-cow b.add-cow || { say "compare: WRONG RESULT"; BAD=1; }
note "ours $ours s, qemu-img $peer s ($(ratio "$ours" "$peer")x)"
ROW_COMPARE=$(printf 'compare-1pct\t%s\t%s\t-\t<=0.1x peer' "$ours" "$peer")

section "resize a 1 TiB overlay by +1 TiB"
truncate -s 1T big-base.raw
"$ADDCOW_IMG" create -q -b big-base.raw -F raw big.add-cow
"$QEMU_IMG" create -q -f qcow2 -o data_file=bq.data,backing_file=big-base.raw,backing_fmt=raw bq.qcow2
ours=$(timed "$ADDCOW_IMG" resize big.add-cow +1T)
peer=$(timed "$QEMU_IMG" resize bq.qcow2 +1T)
[ "$("$ADDCOW_IMG" info --output=json big.add-cow | jq '."virtual-size"')" = 2199023255552 ] ||
    { say "resize: WRONG RESULT"; BAD=1; }
note "ours $ours s, qemu-img $peer s"
ROW_RESIZE=$(printf 'resize-1T\t%s\t%s\t-\t<=0.1 s' "$ours" "$peer")

section "rows"
printf '%s\n' "$ROW_CONVERT" "$ROW_COMPARE" "$ROW_RESIZE"
exit "$BAD"
