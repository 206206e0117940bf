#!/usr/bin/env bash
# huge-map.sh - costs that must follow the request, not the disk (issue 9,
# item 5), side by side with qemu-img in one run.  A benchmark, not a test.
#
# An empty overlay of BENCH_SIZE (8 TiB) with BENCH_CLUSTER (4 KiB)
# clusters over a sparse raw base of the same size: the add-cow bitmap is
# then 256 MiB, the largest this implementation loads.  The qcow2 twin
# (same cluster size, external raw data file, same base) beside it.
#
#   map:   addcow-img map --output=json vs qemu-img map --output=json on
#          the twin.  Target: <= 0.5 s (the bitmap alone is 256 MiB to
#          read and scan once).  The two maps must be identical.
#   reads: BENCH_READS (2000) 4 KiB reads in one addcow-io run, all at
#          offset 0, then all at the last cluster, and a run with no read
#          (the open alone); each run's time less the open's, over
#          BENCH_READS, is the cost of one read.  Target: offset 0 costs
#          the same as the last cluster, within noise (the two runs'
#          medians differ by no more than the larger min..max spread).
#          Before the bounded scans, a read at offset 0 scanned the bitmap
#          to the end of the disk (13 ms at 8 TiB).
#
# Usage:  bench/huge-map.sh
#         BENCH_SIZE=1T bench/huge-map.sh      # a smaller, quicker run
# More knobs: BENCH_RUNS (5), BENCH_CLUSTER (4k), BENCH_READS (2000),
# BENCH_DIR, BENCH_KEEP (see common.sh).  Warm-cache medians (hyperfine).

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${BENCH_SIZE:-8T}")
CLUSTER=$(parse_size "${BENCH_CLUSTER:-4k}")
RUNS=${BENCH_RUNS:-5}
READS=${BENCH_READS:-2000}
MAP_TIME=0.5           # seconds

(( SIZE % CLUSTER == 0 )) || die "BENCH_SIZE must be a multiple of the cluster size"
NB=$(( SIZE / CLUSTER ))
BITMAP_BYTES=$(( (NB + 7) / 8 ))
LAST=$(( SIZE - CLUSTER ))

need_tools
addcow_ready || die "$ADDCOW_IMG / $ADDCOW_IO not built"
# the bitmap (written as zeros, maybe not sparse), the qcow2 tables, slack
make_work $(( BITMAP_BYTES + (SIZE / CLUSTER) * 8 / 512 + (512 << 20) ))
A=$ADDCOW_IMG
Q=$QEMU_IMG

section "setup"
print_machine
note "overlay:     $(human_bytes "$SIZE"), cluster $(human_bytes "$CLUSTER"), $NB clusters, nothing written, bitmap $(human_bytes "$BITMAP_BYTES")"
note "twin:        qcow2, cluster $(human_bytes "$CLUSTER"), data_file, same sparse base"
note "timing:      hyperfine -N, warm cache, $RUNS runs after 1 warm-up run; medians"

cd "$WORK"
truncate -s "$SIZE" base.raw
"$A" create -q -f add-cow -b base.raw -F raw -o "cluster_size=$CLUSTER" ov.add-cow
"$Q" create -q -f qcow2 -o "cluster_size=$CLUSTER,data_file=ov.data,backing_file=base.raw,backing_fmt=raw" ov.qcow2
sync

section "map --output=json"
"$Q" map --output=json -f qcow2 ov.qcow2 > map.qemu
"$A" map --output=json ov.add-cow > map.addcow
if cmp -s map.qemu map.addcow; then
  note "maps identical: yes ($(wc -l < map.qemu) entries)"
else
  note "maps identical: NO"; diff map.qemu map.addcow | head -n 8 | sed 's/^/      /'
  BAD=1
fi
hf "$WORK/map.json" -N --warmup 1 --runs "$RUNS" -- \
  "$A map --output=json ov.add-cow" "$Q map --output=json -f qcow2 ov.qcow2"
note "addcow-img: $(stats "$WORK/map.json" 0)"
note "qemu-img:   $(stats "$WORK/map.json" 1)"
TA=$(median "$WORK/map.json" 0)
TQ=$(median "$WORK/map.json" 1)
row "map --output=json" "$(fmt_time "$TA")" "$(fmt_time "$TQ")" \
  "$(ratio "$TA" "$TQ")" "<= $(fmt_time "$MAP_TIME")" \
  "$(pass_if le "$TA" "$MAP_TIME")"

section "$READS reads of 4 KiB: offset 0 vs the last cluster"
for i in $(seq "$READS"); do echo "read -q 0 4k"; done > reads.first
for i in $(seq "$READS"); do echo "read -q $LAST 4k"; done > reads.last
: > reads.none
# The same open (and bitmap load) in every run: the differences are the
# reads.  addcow-io takes its commands on standard input (through a shell).
hf "$WORK/reads.json" --warmup 1 --runs "$RUNS" -- \
  "$ADDCOW_IO -r ov.add-cow < reads.first > /dev/null" \
  "$ADDCOW_IO -r ov.add-cow < reads.last > /dev/null" \
  "$ADDCOW_IO -r ov.add-cow < reads.none > /dev/null"
note "offset 0:     $(stats "$WORK/reads.json" 0)"
note "last cluster: $(stats "$WORK/reads.json" 1)"
note "open alone:   $(stats "$WORK/reads.json" 2)"
T0=$(median "$WORK/reads.json" 0)
TL=$(median "$WORK/reads.json" 1)
TN=$(median "$WORK/reads.json" 2)
SPREAD=$(jq -r '[.results[0,1] | .max - .min] | max' "$WORK/reads.json")
PER0=$(awk -v a="$T0" -v o="$TN" -v n="$READS" 'BEGIN { printf "%.9f", (a - o) / n }')
PERL=$(awk -v a="$TL" -v o="$TN" -v n="$READS" 'BEGIN { printf "%.9f", (a - o) / n }')
DIFF=$(awk -v a="$T0" -v b="$TL" 'BEGIN { d = a - b; printf "%.9f", d < 0 ? -d : d }')
note "per read: offset 0 $(fmt_time "$PER0"), last cluster $(fmt_time "$PERL"); medians differ by $(fmt_time "$DIFF"), spread $(fmt_time "$SPREAD")"
row "4k read: offset 0 / last cluster" "$(fmt_time "$PER0")" "$(fmt_time "$PERL")" \
  "$(ratio "$T0" "$TL")" "same within noise" \
  "$(pass_if le "$DIFF" "$SPREAD")"

print_table "$(human_bytes "$SIZE") empty overlay, $(human_bytes "$CLUSTER") clusters" addcow-img "qemu-img / last"

echo
say "load average at the end: $(load_avg)"
if [ "$BAD" = 1 ]; then
  say "RESULT: a correctness check failed (see above)"
  exit 1
fi
say "done"
