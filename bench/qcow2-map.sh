#!/usr/bin/env bash
# qcow2-map.sh - map over a 1 TiB qcow2 golden image with 100,000
# allocated clusters (issue 11, "Proof"), side by side with qemu-img in
# one run.  A benchmark, not a test.
#
# The golden image: a BENCH_SIZE (1 TiB) qcow2 with 64 KiB clusters and
# BENCH_COUNT (100,000) whole clusters written by qemu-io in one session,
# spread over the disk (reproducible choice, BENCH_SEED).  Over it:
#   ov.add-cow   an add-cow overlay (addcow-img create -b golden.qcow2);
#   tw.qcow2     its qcow2 twin: an external data file, same backing.
# Timed, warm cache, hyperfine medians, the commands taking turns:
#   addcow-img map --output=json ov.add-cow   vs  qemu-img map of tw.qcow2
#   addcow-img map --output=json golden.qcow2 vs  qemu-img map of it
# The outputs of each pair must be identical (else exit 1).  Targets for
# the overlay: <= 0.1 s and <= 0.1 x qemu-img.  Memory: the peak RSS of
# each (the table cache is at most 4 MiB whatever the image size).
#
# Usage:  bench/qcow2-map.sh
#         BENCH_COUNT=10000 bench/qcow2-map.sh     # a quicker set-up
# Knobs: BENCH_RUNS (5), BENCH_SIZE (1T), BENCH_COUNT (100000), BENCH_DIR,
# BENCH_KEEP, BENCH_SEED (see common.sh).  Needs about COUNT x 64 KiB of
# disk (6.4 GB) plus the L2 tables.

source "$(dirname "$0")/common.sh"

if [ "$BENCH_SCALE" = small ]; then
  : "${BENCH_COUNT:=2000}" "${BENCH_RUNS:=1}"
fi
SIZE=$(parse_size "${BENCH_SIZE:-1T}")
COUNT=${BENCH_COUNT:-100000}
RUNS=${BENCH_RUNS:-5}
CLUSTER=65536
TARGET=0.1              # seconds
TARGET_RATIO=0.1        # of qemu-img's time

NB=$(( SIZE / CLUSTER ))
(( COUNT <= NB )) || die "BENCH_COUNT exceeds the clusters of the disk"
need_tools
addcow_ready || die "$ADDCOW_IMG / $ADDCOW_IO not built"
# data, one L2 table per 512 MiB of disk, slack
make_work $(( COUNT * CLUSTER + SIZE / 8192 + (256 << 20) ))
A=$ADDCOW_IMG
Q=$QEMU_IMG

section "setup"
print_machine
note "golden:      qcow2, $(human_bytes "$SIZE"), 64 KiB clusters, $COUNT clusters written"
note "overlay:     add-cow over it; twin: qcow2 with a data file over it"
note "timing:      hyperfine -N, warm cache, $RUNS runs after 1 warm-up; medians"

cd "$WORK"
"$Q" create -q -f qcow2 golden.qcow2 "$SIZE"
{ pick_clusters "$NB" "$COUNT" | write_cmds "$CLUSTER"; echo quit; } > writes.txt
"$QEMU_IO" -f qcow2 golden.qcow2 < writes.txt > /dev/null \
  || die "qemu-io could not write the golden image"
"$A" create -q -b golden.qcow2 ov.add-cow
"$Q" create -q -f qcow2 -o data_file=tw.data -b golden.qcow2 -F qcow2 \
  tw.qcow2 "$SIZE"
note "golden.qcow2: $(human_bytes "$(stat -c %s golden.qcow2)")"
sync

same_output() {   # same_output NAME OURS-FILE PEER-FILE
  if cmp -s "$2" "$3"; then
    note "$1: identical ($(wc -l < "$2") entries)"
  else
    note "$1: DIFFERENT"; diff "$3" "$2" | head -n 8 | sed 's/^/      /'
    BAD=1
  fi
}

section "map --output=json: results"
"$A" map --output=json ov.add-cow > map.ov
"$Q" map --output=json tw.qcow2 > map.tw
same_output "overlay vs twin" map.ov map.tw
"$A" map --output=json golden.qcow2 > map.ga
"$Q" map --output=json golden.qcow2 > map.gq
same_output "golden image" map.ga map.gq

section "map --output=json: times"
hf "$WORK/map.json" -N --warmup 1 --runs "$RUNS" -- \
  "$A map --output=json ov.add-cow" "$Q map --output=json tw.qcow2" \
  "$Q map --output=json golden.qcow2" "$A map --output=json golden.qcow2"
note "addcow-img overlay: $(stats "$WORK/map.json" 0)"
note "qemu-img twin:      $(stats "$WORK/map.json" 1)"
note "qemu-img golden:    $(stats "$WORK/map.json" 2)"
note "addcow-img golden:  $(stats "$WORK/map.json" 3)"
TA=$(median "$WORK/map.json" 0)
TQ=$(median "$WORK/map.json" 1)
TQG=$(median "$WORK/map.json" 2)
TAG=$(median "$WORK/map.json" 3)
LIMIT=$(awk -v q="$TQ" -v k="$TARGET_RATIO" 'BEGIN { printf "%.6f", q * k }')
row "map overlay (vs twin)" "$(fmt_time "$TA")" "$(fmt_time "$TQ")" \
  "$(ratio "$TA" "$TQ")" "<= $(fmt_time "$TARGET")" \
  "$(pass_if le "$TA" "$TARGET")"
row "map overlay (vs twin)" "$(fmt_time "$TA")" "$(fmt_time "$TQ")" \
  "$(ratio "$TA" "$TQ")" "<= $TARGET_RATIO x peer" \
  "$(pass_if le "$TA" "$LIMIT")"
row "map golden.qcow2" "$(fmt_time "$TAG")" "$(fmt_time "$TQG")" \
  "$(ratio "$TAG" "$TQG")" "-" "-"
bench_tsv "qcow2-map: map 1 TiB overlay" "$TA" "$TQ" - "<=$TARGET"
bench_tsv "qcow2-map: map 1 TiB overlay" "$TA" "$TQ" - "<=${TARGET_RATIO}*peer"
bench_tsv "qcow2-map: map 1 TiB golden qcow2" "$TAG" "$TQG" - -

section "peak RSS"
KA=$(peak_kib 3 "$A" map --output=json ov.add-cow)
KQ=$(peak_kib 3 "$Q" map --output=json tw.qcow2)
note "addcow-img overlay: $(fmt_kib "$KA"); qemu-img twin: $(fmt_kib "$KQ")"
row "peak RSS, map overlay" "$(fmt_kib "$KA")" "$(fmt_kib "$KQ")" \
  "$(ratio "$KA" "$KQ")" "-" "-"
bench_tsv "qcow2-map: peak RSS of map" "$KA" "$KQ" - - KiB

print_table "$(human_bytes "$SIZE") qcow2 golden image, $COUNT clusters" addcow-img qemu-img

echo
say "load average at the end: $(load_avg)"
if [ "$BAD" = 1 ]; then
  say "RESULT: a correctness check failed (see above)"
  exit 1
fi
say "done"
