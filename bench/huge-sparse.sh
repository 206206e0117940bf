#!/usr/bin/env bash
# huge-sparse.sh - huge sparse disks as cheap as small ones (issue 13.2):
# addcow-img/addcow-io against qemu-img/qemu-io on the qcow2 twin
# (external data_file), side by side in one run.  A benchmark, not a test.
#
# Part 1: an empty HS_SIZE (8 TiB) overlay of HS_CLUSTER (4 KiB) clusters
# over a sparse raw base (a 256 MiB bitmap): info, check, map --output=json,
# and HS_READS (1,000) random 4 KiB reads (addcow-io -r / qemu-io -r, the
# same commands; floor: qemu-io on the raw image file itself).
# Part 2 (HS_BIG=0 skips it): a HS_BIG_SIZE (1 TiB) overlay of 64 KiB
# clusters with HS_BIG_WRITES (1,000,000) clusters written (zero writes,
# every other cluster, so that each is its own map entry): map.
#
# Every figure is the median of HS_RUNS (5) runs, the two tools
# alternating; peak RSS is the largest of those runs (/usr/bin/time -v).
# qemu-img map of the empty 8 TiB disk takes minutes: HS_PEER_MAP_RUNS (1)
# runs of it only.
# Warm cache: metadata only, which both tools keep in the page cache.
#
# Output: the notes, then TSV rows
#   operation<TAB>ours_s<TAB>peer_s<TAB>floor_s<TAB>target
# (RSS rows give MiB in the seconds columns).
#
# Usage:  bench/huge-sparse.sh
#         HS_BIG_WRITES=100000 HS_RUNS=3 bench/huge-sparse.sh   # quicker
# More knobs: BENCH_DIR, BENCH_KEEP (see common.sh).

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${HS_SIZE:-8T}")
CLUSTER=$(parse_size "${HS_CLUSTER:-4k}")
READS=${HS_READS:-1000}
RUNS=${HS_RUNS:-5}
PEER_MAP_RUNS=${HS_PEER_MAP_RUNS:-1}
BIG=${HS_BIG:-1}
BIG_SIZE=$(parse_size "${HS_BIG_SIZE:-1T}")
BIG_WRITES=${HS_BIG_WRITES:-1000000}
BIG_CLUSTER=65536

need_tools
command -v python3 >/dev/null || die "python3 is needed for the random offsets"
make_work $(( 64 << 20 ))
addcow_ready || die "addcow-img/addcow-io are not built ($ADDCOW_IMG)"

section "setup"
print_machine
note "part 1:      empty $(human_bytes "$SIZE") overlay, $(human_bytes "$CLUSTER") clusters, bitmap $(human_bytes $(( (SIZE / CLUSTER + 7) / 8 ))); $READS random 4 KiB reads"
[ "$BIG" = 1 ] && note "part 2:      $(human_bytes "$BIG_SIZE") overlay, 64 KiB clusters, $BIG_WRITES clusters written"
note "timing:      median of $RUNS alternating runs, warm cache; peak RSS the largest"

# timed OUT_PREFIX CMD...: run CMD under /usr/bin/time -v, append seconds
# to OUT_PREFIX.t and peak KiB to OUT_PREFIX.m.
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$out.tv" "$@" > /dev/null 2> "$out.err" ||
    { cat "$out.err" >&2; die "failed: $*"; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$out.t"
  awk -F': ' '/Maximum resident/ { print $2 }' "$out.tv" >> "$out.m"
}
med() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxm() { sort -g "$1" | tail -n1 | awk '{ printf "%.1f", $1 / 1024 }'; }

TSV=()
tsv() { TSV+=("$(printf '%s\t%s\t%s\t%s\t%s' "$@")"); }

# compare NAME TARGET BENCH_TARGET "OURS CMD" "PEER CMD" ["FLOOR CMD"
# FLOOR_NAME]; the peer runs at most PEER_RUNS (default RUNS) times.  Its
# rows go to the TSV below and, for bench/run, through bench_tsv
# (BENCH_TARGET in its syntax; WHAT names the image); peak RSS is held to
# 64 MiB.
compare() {
  local name=$1 target=$2 bt=$3 a=$4 q=$5 f=${6:-} i fm fl=
  [ -n "$f" ] && fl=" (floor: $7)"
  local p=$WORK/r-${name// /_}
  rm -f "$p".*
  for i in $(seq "$RUNS"); do
    if (( i > ${PEER_RUNS:-$RUNS} )); then
      timed "$p.a" bash -c "$a"
    elif (( i % 2 )); then
      timed "$p.a" bash -c "$a"; timed "$p.q" bash -c "$q"
    else
      timed "$p.q" bash -c "$q"; timed "$p.a" bash -c "$a"
    fi
    [ -n "$f" ] && timed "$p.f" bash -c "$f"
  done
  note "$name: ours $(fmt_time "$(med "$p.a.t")"), peer $(fmt_time "$(med "$p.q.t")")$([ -n "$f" ] && echo ", floor $(fmt_time "$(med "$p.f.t")")"); peak RSS $(maxm "$p.a.m") / $(maxm "$p.q.m") MiB"
  fm=-; [ -n "$f" ] && fm=$(med "$p.f.t")
  tsv "$name" "$(med "$p.a.t")" "$(med "$p.q.t")" "$fm" "$target"
  tsv "$name, peak RSS MiB" "$(maxm "$p.a.m")" "$(maxm "$p.q.m")" - "<= 64"
  bench_tsv "$name, $WHAT$fl" "$(med "$p.a.t")" "$(med "$p.q.t")" "$fm" "$bt"
  bench_tsv "$name, $WHAT, peak RSS" "$(maxm "$p.a.m")" "$(maxm "$p.q.m")" - "<=64" MiB
}

# --- part 1 -----------------------------------------------------------------

D=$WORK/p1
mkdir "$D"
cd "$D"
truncate -s "$SIZE" base.raw
"$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw -o "cluster_size=$CLUSTER" ov.add-cow
"$QEMU_IMG" create -q -f qcow2 -o "cluster_size=$CLUSTER,data_file=ov.data,data_file_raw=off,backing_file=base.raw,backing_fmt=raw" ov.qcow2 "$SIZE"
python3 - "$SIZE" "$READS" > reads <<'EOF'
import random, sys
size, n = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(42)
for _ in range(n):
    print("read %d 4096" % (r.randrange(size // 4096) * 4096))
EOF
section "part 1: empty $(human_bytes "$SIZE") overlay"
WHAT="empty $(human_bytes "$SIZE") overlay, $(human_bytes "$CLUSTER") clusters"
compare info "<= qemu-img" "<=1*peer" "$ADDCOW_IMG info ov.add-cow" "$QEMU_IMG info ov.qcow2"
compare check "<= qemu-img" "<=1*peer" "$ADDCOW_IMG check ov.add-cow" "$QEMU_IMG check ov.qcow2"
PEER_RUNS=$PEER_MAP_RUNS compare map "<= 0.5 s" "<=0.5" "$ADDCOW_IMG map --output=json ov.add-cow" "$QEMU_IMG map --output=json ov.qcow2"
"$ADDCOW_IMG" map --output=json ov.add-cow > map.a
"$QEMU_IMG" map --output=json ov.qcow2 > map.q
cmp -s map.a map.q && note "maps identical: yes" || { note "maps identical: NO"; BAD=1; }
compare "$READS random 4 KiB reads" "<= qemu-io" "<=1*peer" \
  "$ADDCOW_IO -r ov.add-cow < reads" "$QEMU_IO -r -f qcow2 ov.qcow2 < reads" \
  "$QEMU_IO -r -f raw ov.raw < reads" "qemu-io on the raw file"
cd "$WORK" && rm -rf "$D"

# --- part 2 -----------------------------------------------------------------

if [ "$BIG" = 1 ]; then
  D=$WORK/p2
  mkdir "$D"
  cd "$D"
  truncate -s "$BIG_SIZE" base.raw
  "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw -o "cluster_size=$BIG_CLUSTER" ov.add-cow
  "$QEMU_IMG" create -q -f qcow2 -o "cluster_size=$BIG_CLUSTER,data_file=ov.data,data_file_raw=off,backing_file=base.raw,backing_fmt=raw" ov.qcow2 "$BIG_SIZE"
  awk -v n="$BIG_WRITES" -v c="$BIG_CLUSTER" 'BEGIN {
    for (i = 0; i < n; i++) printf "write -z %.0f %d\n", 2 * i * c, c }' > writes
  t0=$(date +%s)
  "$ADDCOW_IO" ov.add-cow < writes > /dev/null || die "addcow-io failed"
  "$QEMU_IO" -f qcow2 ov.qcow2 < writes > /dev/null || die "qemu-io failed"
  note "part 2: $BIG_WRITES writes in $(( $(date +%s) - t0 )) s (not timed)"
  section "part 2: $(human_bytes "$BIG_SIZE"), $BIG_WRITES clusters written"
  WHAT="$(human_bytes "$BIG_SIZE") overlay, $(human_bytes "$BIG_CLUSTER") clusters (issue 13: keep about 0.33 s)"
  compare "map, $BIG_WRITES written" "~0.3 s at 1,000,000" - \
    "$ADDCOW_IMG map --output=json ov.add-cow" "$QEMU_IMG map --output=json ov.qcow2"
  "$ADDCOW_IMG" map --output=json ov.add-cow > map.a
  "$QEMU_IMG" map --output=json ov.qcow2 > map.q
  note "map entries: $(wc -l < map.a) / $(wc -l < map.q)"
  # qcow2 has zero clusters ("zero": true, no offset) where add-cow has
  # allocated clusters that read as zeros: compare the runs and depths.
  jq -c '.[] | [.start, .length, .depth]' map.a > runs.a
  jq -c '.[] | [.start, .length, .depth]' map.q > runs.q
  cmp -s runs.a runs.q && note "same runs and depths: yes" || { note "same runs and depths: NO"; BAD=1; }
  cd "$WORK" && rm -rf "$D"
fi

section "TSV"
printf 'operation\tours_s\tpeer_s\tfloor_s\ttarget\n'
printf '%s\n' "${TSV[@]}"
say "load average at the end: $(load_avg)"
[ "$BAD" = 1 ] && { say "RESULT: a correctness check failed"; exit 1; }
say "done"
