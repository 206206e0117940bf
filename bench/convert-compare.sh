#!/usr/bin/env bash
# convert-compare.sh - addcow-img convert, compare and resize side by side
# with qemu-img on the qcow2 twins (issue 12, "Performance").  A benchmark,
# not a test.
# bench-fs: all
#
#   convert   an overlay over a BENCH_SIZE (4 GiB) random base with
#             BENCH_DIRTY_PCT (25) % of its 64 KiB clusters written, to raw:
#             addcow-img convert -O raw (durable when it returns) vs
#             qemu-img convert -O raw of the qcow2 twin followed by a sync of
#             the result (the same durability: qemu-img 7.2 converts with
#             cache=unsafe, it never fsyncs), vs plain qemu-img (not
#             durable: its row has no target), and vs the floor: cp of the
#             disk's bytes + sync.  Targets: <= 0.5x qemu-img + sync and
#             <= 1.2x the floor; on a file system where copy_file_range
#             shares extents (XFS with reflink, btrfs) <= 0.1x qemu-img +
#             sync (the copy is then metadata only).
#   convert-B the same overlay to a new add-cow overlay over the same base
#             (-B base.raw -F raw) vs qemu-img convert -O qcow2 -B of the
#             twin + sync.  Target: <= 1x qemu-img + sync.
#   compare   two overlays over the same base whose disks are equal, one of
#             them holding 1 % of the clusters (written with the bytes the
#             base has there): addcow-img compare vs qemu-img compare of the
#             twins.  Target: <= 1/10 of qemu-img.
#   resize    a 1 TiB overlay grown by 1 TiB: addcow-img resize vs
#             qemu-img resize of the twin.  Target: <= 0.1 s.
# Every result is checked (the converted files byte for byte against
# qemu-img's, the -B overlay's disk and allocation against qemu-img's,
# compare's answer); a wrong one exits 1.  Each figure is the median of
# BENCH_RUNS (3) runs, the commands taking turns to go first; the images
# are read once before (warm cache: the writes are what is measured).
#
# Output: the figures, then bench_tsv rows for bench/run.
#
# Usage:  bench/convert-compare.sh
#         BENCH_SIZE=256M bench/convert-compare.sh        # a smoke run
# Knobs: BENCH_SIZE, BENCH_DIRTY_PCT, BENCH_RUNS, BENCH_DIR, BENCH_KEEP,
# BENCH_SEED, ADDCOW_IMG, ADDCOW_IO, QEMU_IMG, QEMU_IO (see common.sh).

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${BENCH_SIZE:-4G}")
DIRTY=${BENCH_DIRTY_PCT:-25}
RUNS=${BENCH_RUNS:-3}
CL=65536
NCL=$(( SIZE / CL ))

command -v "$QEMU_IMG" >/dev/null || die "qemu-img not found"
addcow_ready || die "addcow-img/addcow-io are not built ($ADDCOW_IMG)"
# base, the two image files, the reference disk, one output at a time
make_work $(( SIZE * 3 + SIZE / 2 + (64 << 20) ))
cd "$WORK"

# N distinct cluster numbers, reproducibly.
clusters() { pick_clusters "$NCL" "$1"; }

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

# Does copy_file_range share extents here (XFS with reflink, btrfs)?
reflinks() {
    head -c 65536 /dev/urandom > .rl-a
    cp --reflink=always .rl-a .rl-b 2>/dev/null
    local r=$?
    rm -f .rl-a .rl-b
    return $r
}

# race PREPARE NAME=CMD...: time each shell command CMD RUNS times, taking
# turns (the order reversed every other round), PREPARE (untimed) before
# each; sets MED_NAME to the median of NAME.
race() {
    local prep=$1 i j n; shift
    local names=() cmds=() order
    for j in "$@"; do names+=("${j%%=*}"); cmds+=("${j#*=}"); done
    for (( j = 0; j < ${#names[@]}; j++ )); do : > ".t.${names[j]}"; done
    for (( i = 0; i < RUNS; i++ )); do
        order=$(seq 0 $(( ${#names[@]} - 1 )))
        (( i % 2 )) && order=$(seq $(( ${#names[@]} - 1 )) -1 0)
        for j in $order; do
            bash -c "$prep" >/dev/null 2>&1 || die "prepare failed: $prep"
            time_cmd bash -c "${cmds[j]}" >> ".t.${names[j]}"
            echo >> ".t.${names[j]}"
        done
    done
    for n in "${names[@]}"; do
        printf -v "MED_$n" '%s' "$(median_of < ".t.$n")"
    done
}

section "set-up: $(human_bytes "$SIZE") random base, $DIRTY % dirty"
print_machine
random_file base.raw "$SIZE"
"$ADDCOW_IMG" create -q -b base.raw -F raw ov.add-cow
"$QEMU_IMG" create -q -f qcow2 -o data_file=q.data,backing_file=base.raw,backing_fmt=raw q.qcow2
clusters $(( NCL * DIRTY / 100 )) > dirty.txt
write_clusters "$ADDCOW_IO" ov.add-cow 0x5a < dirty.txt
write_clusters "$QEMU_IO -f qcow2" q.qcow2 0x5a < dirty.txt
"$QEMU_IMG" convert -O raw q.qcow2 ref.raw      # the disk's bytes
sync
# (out.add-cow's image file is out.raw)
WARM='cat base.raw ov.raw q.data ref.raw > /dev/null; rm -f out.raw out.qcow2 out.add-cow; sync'
REFLINK=0
reflinks && REFLINK=1
note "file system: $(stat -f -c %T .), copy_file_range shares extents: $([ $REFLINK = 1 ] && echo yes || echo no)"

section "convert -O raw"
"$ADDCOW_IMG" convert -O raw ov.add-cow out.raw
cmp out.raw ref.raw || { say "convert: WRONG RESULT"; BAD=1; }
if [ "$REFLINK" = 1 ]; then
    note "out.raw: $(extents out.raw) extents, $(du -k out.raw | cut -f1) KiB allocated, $(filefrag -v out.raw 2>/dev/null | grep -c shared) extents shared"
fi
race "$WARM" \
    ours="'$ADDCOW_IMG' convert -O raw ov.add-cow out.raw" \
    qsync="'$QEMU_IMG' convert -O raw q.qcow2 out.raw && sync out.raw" \
    qplain="'$QEMU_IMG' convert -O raw q.qcow2 out.raw" \
    floor="cp --reflink=never ref.raw out.raw && sync out.raw"
note "ours $MED_ours s, qemu-img + sync $MED_qsync s ($(ratio "$MED_ours" "$MED_qsync")x), qemu-img without sync $MED_qplain s, floor (cp + sync) $MED_floor s ($(ratio "$MED_ours" "$MED_floor")x); load $(load_avg)"
if [ "$REFLINK" = 1 ]; then
    bench_tsv convert-raw "$MED_ours" "$MED_qsync" "$MED_floor" '<=0.1*peer'
else
    bench_tsv convert-raw "$MED_ours" "$MED_qsync" "$MED_floor" '<=0.5*peer'
    bench_tsv convert-raw-vs-floor "$MED_ours" "$MED_qsync" "$MED_floor" '<=1.2*floor'
fi
bench_tsv convert-raw-qemu-unsynced "$MED_ours" "$MED_qplain" "$MED_floor" -
rm -f out.raw ref.raw

section "convert -O add-cow -B base.raw"
"$ADDCOW_IMG" convert -O add-cow -B base.raw -F raw ov.add-cow out.add-cow
"$QEMU_IMG" convert -O qcow2 -B base.raw -F raw q.qcow2 out.qcow2
"$ADDCOW_IMG" compare -q -F qcow2 out.add-cow out.qcow2 ||
    { say "convert -B: WRONG RESULT (content)"; BAD=1; }
ours_alloc=$("$ADDCOW_IMG" map --output=json out.add-cow |
             jq '[.[] | select(.depth == 0 and .data) | .length] | add // 0')
peer_alloc=$("$QEMU_IMG" map --output=json out.qcow2 |
             jq '[.[] | select(.depth == 0 and .data) | .length] | add // 0')
[ "$ours_alloc" = "$peer_alloc" ] ||
    { say "convert -B: WRONG RESULT (allocates $ours_alloc bytes, qemu-img $peer_alloc)"; BAD=1; }
race "$WARM" \
    ours="'$ADDCOW_IMG' convert -O add-cow -B base.raw -F raw ov.add-cow out.add-cow" \
    qsync="'$QEMU_IMG' convert -O qcow2 -B base.raw -F raw q.qcow2 out.qcow2 && sync out.qcow2"
note "ours $MED_ours s, qemu-img + sync $MED_qsync s ($(ratio "$MED_ours" "$MED_qsync")x); $ours_alloc bytes allocated by both; load $(load_avg)"
bench_tsv convert-B "$MED_ours" "$MED_qsync" - '<=1*peer'
rm -f out.add-cow out.raw out.qcow2

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
"$ADDCOW_IMG" compare -q a.add-cow b.add-cow || { say "compare: WRONG RESULT"; BAD=1; }
race 'cat base.raw a.raw a.data > /dev/null' \
    ours="'$ADDCOW_IMG' compare a.add-cow b.add-cow" \
    peer="'$QEMU_IMG' compare a.qcow2 b.qcow2"
note "ours $MED_ours s, qemu-img $MED_peer s ($(ratio "$MED_ours" "$MED_peer")x); load $(load_avg)"
bench_tsv compare-1pct "$MED_ours" "$MED_peer" - '<=0.1*peer'

section "resize a 1 TiB overlay by +1 TiB"
truncate -s 1T big-base.raw
prep='rm -f big.add-cow big.raw bq.qcow2 bq.data
"'$ADDCOW_IMG'" create -q -b big-base.raw -F raw big.add-cow
"'$QEMU_IMG'" create -q -f qcow2 -o data_file=bq.data,backing_file=big-base.raw,backing_fmt=raw bq.qcow2'
race "$prep" \
    ours="'$ADDCOW_IMG' resize big.add-cow +1T" \
    peer="'$QEMU_IMG' resize bq.qcow2 +1T"
bash -c "$prep" && "$ADDCOW_IMG" resize -q big.add-cow +1T
[ "$("$ADDCOW_IMG" info --output=json big.add-cow | jq '."virtual-size"')" = 2199023255552 ] ||
    { say "resize: WRONG RESULT"; BAD=1; }
note "ours $MED_ours s, qemu-img $MED_peer s"
bench_tsv resize-1T "$MED_ours" "$MED_peer" - '<=0.1'

exit "$BAD"
