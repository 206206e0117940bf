#!/usr/bin/env bash
# map-info-check.sh - addcow-img info/check/map against qemu-img, side by side
# in one run (issue 2, "Performance").  A benchmark, not a test.
#
# Part 1: a BENCH_SIZE (4 GiB) raw base of random data, an add-cow overlay
# with BENCH_DIRTY_PCT (25) % of its 64 KiB clusters written at random by
# addcow-io, and the equivalent qcow2 overlay (external data file, same base)
# written by qemu-io with the very same commands.  Times info, check and
# map --output=json on both.  Target: map <= 1/3 of qemu-img's time.  Also
# says whether the two JSON maps are identical (they must be).
#
# Part 2 (BENCH_BIG=0 skips it): a sparse BENCH_BIG_SIZE (1 TiB) base and
# overlay, BENCH_BIG_DIRTY (20,000) clusters written at random.  Targets for
# addcow-img: info, check and map each under 0.1 s, and peak RSS <= bitmap
# size + 16 MiB; qemu-img on the qcow2 equivalent alongside.
#
# Usage:  bench/map-info-check.sh
#         BENCH_SIZE=256M BENCH_BIG=0 bench/map-info-check.sh   # quick run
# More knobs: BENCH_RUNS (10), BENCH_BIG_RUNS (20), BENCH_CLUSTER (64k),
# BENCH_DIR, BENCH_KEEP, BENCH_SEED (see common.sh).  Times are medians of
# warm-cache runs (metadata only: the page cache holds it after the first
# run for both tools alike); peak RSS is the largest of 5 runs.

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${BENCH_SIZE:-4G}")
CLUSTER=$(parse_size "${BENCH_CLUSTER:-64k}")
PCT=${BENCH_DIRTY_PCT:-25}
RUNS=${BENCH_RUNS:-10}
BIG=${BENCH_BIG:-1}
BIG_SIZE=$(parse_size "${BENCH_BIG_SIZE:-1T}")
BIG_DIRTY=${BENCH_BIG_DIRTY:-20000}
BIG_RUNS=${BENCH_BIG_RUNS:-20}
MAP_TARGET=0.3333      # addcow-img map time / qemu-img map time
BIG_TIME=0.1           # seconds, each of info/check/map at 1 TiB
BIG_MEM_EXTRA=16384    # KiB allowed above the bitmap size

(( SIZE % CLUSTER == 0 )) || die "BENCH_SIZE must be a multiple of the cluster size"
(( BIG_SIZE % CLUSTER == 0 )) || die "BENCH_BIG_SIZE must be a multiple of the cluster size"
NB=$(( SIZE / CLUSTER ))
DIRTY=$(( NB * PCT / 100 ))
BIG_NB=$(( BIG_SIZE / CLUSTER ))
(( BIG_DIRTY <= BIG_NB )) || die "BENCH_BIG_DIRTY is larger than the number of clusters"
BITMAP_BYTES=$(( (BIG_NB + 7) / 8 ))
BIG_MEM_LIMIT=$(( BITMAP_BYTES / 1024 + BIG_MEM_EXTRA ))

need_tools
# base + two overlays' data, the 1 TiB case's written data twice, slack
NEED=$(( SIZE + 2 * DIRTY * CLUSTER + (BIG ? 2 * BIG_DIRTY * CLUSTER : 0) + (512 << 20) ))
make_work "$NEED"
READY=0
addcow_ready && READY=1

section "setup"
print_machine
note "part 1:      base $(human_bytes "$SIZE") of random data (seed $BENCH_SEED), cluster $(human_bytes "$CLUSTER"), $NB clusters, $DIRTY dirty ($PCT %) at random"
if [ "$BIG" = 1 ]; then
  note "part 2:      sparse base and overlay of $(human_bytes "$BIG_SIZE"), $BIG_NB clusters, $BIG_DIRTY dirty at random, bitmap $(human_bytes "$BITMAP_BYTES")"
else
  note "part 2:      skipped (BENCH_BIG=0)"
fi
note "timing:      hyperfine -N, warm cache, $RUNS runs ($BIG_RUNS at $(human_bytes "$BIG_SIZE")) after 3 warm-up runs; medians"
note "memory:      /usr/bin/time -f %M, largest of 5 runs"
[ "$READY" = 1 ] || note "NOTE:        $ADDCOW_IMG / $ADDCOW_IO not built or not runnable: qemu-img side only"

# build_pair DIR NB_CLUSTERS NB_DIRTY: the two overlays over DIR/base.raw,
# dirtied with the same writes.
build_pair() {
  local d=$1 n=$2 k=$3 t0 t1 t2
  pick_clusters "$n" "$k" > "$d/clusters"
  write_cmds "$CLUSTER" < "$d/clusters" > "$d/writes"
  (cd "$d" && "$QEMU_IMG" create -q -f qcow2 -o "cluster_size=$CLUSTER,data_file=ov.data,data_file_raw=off,backing_file=base.raw,backing_fmt=raw" ov.qcow2)
  t0=$(date +%s.%N)
  "$QEMU_IO" -f qcow2 "$d/ov.qcow2" < "$d/writes" > "$d/qemu-io.out"
  t1=$(date +%s.%N)
  if grep -v -e '^qemu-io> wrote ' -e '^[0-9.]* [KMG]\?i\?B, 1 ops' -e '^qemu-io> *$' \
       "$d/qemu-io.out" | grep -q .; then
    die "qemu-io failed: $(grep -v -e 'wrote ' -e ' ops;' "$d/qemu-io.out" | head -n3)"
  fi
  if [ "$READY" = 1 ]; then
    (cd "$d" && "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw -o "cluster_size=$CLUSTER" ov.add-cow)
    "$ADDCOW_IO" "$d/ov.add-cow" < "$d/writes" > /dev/null ||
      die "addcow-io failed on $d/ov.add-cow"
    t2=$(date +%s.%N)
    note "dirtied $k clusters: qemu-io $(fmt_time "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"), addcow-io $(fmt_time "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')")"
  else
    note "dirtied $k clusters: qemu-io $(fmt_time "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")"
  fi
  sync   # no writeback left to disturb the timings
}

# compare_maps DIR: are the two JSON maps byte-identical?
compare_maps() {
  local d=$1 own
  "$QEMU_IMG" map --output=json -f qcow2 "$d/ov.qcow2" > "$d/map.qemu"
  own=$(grep -c '"depth": 0, "present": true, "zero": false, "data": true' "$d/map.qemu" || true)
  note "qemu-img map: $(wc -l < "$d/map.qemu") entries, $own of them data of the overlay"
  own=$(jq "[.[] | select(.depth == 0 and .data) | .length] | add // 0 | . / $CLUSTER" "$d/map.qemu")
  if [ "$own" != "$(wc -l < "$d/clusters")" ]; then
    note "qcow2 overlay owns $own clusters, expected $(wc -l < "$d/clusters"): set-up FAILED"; BAD=1
  fi
  if [ "$READY" != 1 ]; then
    note "maps identical: n/a (addcow-img not built)"
    return
  fi
  if ! "$ADDCOW_IMG" map --output=json "$d/ov.add-cow" > "$d/map.addcow"; then
    note "maps identical: NO (addcow-img map failed)"; BAD=1; return
  fi
  if cmp -s "$d/map.addcow" "$d/map.qemu"; then
    note "maps identical: yes ($(wc -c < "$d/map.qemu") bytes)"
  else
    note "maps identical: NO; first differences:"
    diff "$d/map.qemu" "$d/map.addcow" | head -n 8 | sed 's/^/      /'
    BAD=1
  fi
}

# time_pair LABEL RUNS TARGET-KIND TARGET A_CMD Q_CMD: one table row.
#   TARGET-KIND ratio: pass when a/q <= TARGET; abs: when a <= TARGET s;
#   none: no target.
time_pair() {
  local label=$1 runs=$2 kind=$3 target=$4 a=$5 q=$6
  local json=$WORK/hf.json ta=n/a tq tgt v=-
  local -a cmds=()
  # shellcheck disable=SC2086  # the commands are word lists
  if [ "$READY" = 1 ]; then
    if runs_ok $a; then cmds+=("$a"); else ta=ERR; fi
  fi
  runs_ok $q || die "$q failed"
  cmds+=("$q")
  hf "$json" -N --warmup 3 --runs "$runs" -- "${cmds[@]}"
  if [ ${#cmds[@]} -eq 2 ]; then
    ta=$(median "$json" 0); tq=$(median "$json" 1)
    note "$label: addcow-img $(stats "$json" 0)"
    note "$label: qemu-img   $(stats "$json" 1)"
  else
    tq=$(median "$json" 0)
    note "$label: qemu-img   $(stats "$json" 0)"
  fi
  case $kind in
    ratio) tgt="<= 1/3 of qemu-img"
           v=$(pass_if le "$(ratio "$ta" "$tq")" "$target") ;;
    abs)   tgt="< $target s"
           v=$(pass_if le "$ta" "$target") ;;
    *)     tgt=- ;;
  esac
  [ "$ta" = n/a ] && [ "$kind" != none ] && v=n/a
  row "$label" "$(fmt_time "$ta")" "$(fmt_time "$tq")" "$(ratio "$ta" "$tq")" "$tgt" "$v"
}

# mem_pair LABEL LIMIT-KIB A_CMD Q_CMD: peak RSS row (LIMIT '-' = no target).
mem_pair() {
  local label=$1 limit=$2 a=$3 q=$4 ka=n/a kq tgt=- v=-
  # shellcheck disable=SC2086
  [ "$READY" = 1 ] && ka=$(peak_kib 5 $a)
  # shellcheck disable=SC2086
  kq=$(peak_kib 5 $q)
  if [ "$limit" != - ]; then
    tgt="<= $(fmt_kib "$limit")"
    v=$(pass_if le "$ka" "$limit")
  fi
  [ "$ka" = n/a ] && v=n/a
  row "$label" "$(fmt_kib "$ka")" "$(fmt_kib "$kq")" "$(ratio "$ka" "$kq")" "$tgt" "$v"
}

# --- part 1 -----------------------------------------------------------------

section "part 1: $(human_bytes "$SIZE") random base, $DIRTY of $NB clusters dirty"
P1=$WORK/p1
mkdir "$P1"
cd "$P1"   # qemu 7.2 resolves a relative data_file name against the cwd
t0=$(date +%s.%N)
random_file "$P1/base.raw" "$SIZE"
note "base.raw written in $(fmt_time "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')")"
build_pair "$P1" "$NB" "$DIRTY"
note "base.raw has $(extents "$P1/base.raw") extents"
compare_maps "$P1"

A="$ADDCOW_IMG"; Q="$QEMU_IMG"
time_pair "info" "$RUNS" none - "$A info $P1/ov.add-cow" "$Q info -f qcow2 $P1/ov.qcow2"
time_pair "check" "$RUNS" none - "$A check $P1/ov.add-cow" "$Q check -f qcow2 $P1/ov.qcow2"
time_pair "map --output=json" "$RUNS" ratio "$MAP_TARGET" \
  "$A map --output=json $P1/ov.add-cow" "$Q map --output=json -f qcow2 $P1/ov.qcow2"
mem_pair "map --output=json, peak RSS" - \
  "$A map --output=json $P1/ov.add-cow" "$Q map --output=json -f qcow2 $P1/ov.qcow2"
print_table "part 1: $(human_bytes "$SIZE"), $DIRTY/$NB clusters of $(human_bytes "$CLUSTER") dirty" addcow-img qemu-img
cd "$WORK" && rm -rf "$P1"

# --- part 2 -----------------------------------------------------------------

if [ "$BIG" = 1 ]; then
  section "part 2: sparse $(human_bytes "$BIG_SIZE"), $BIG_DIRTY of $BIG_NB clusters dirty"
  P2=$WORK/p2
  mkdir "$P2"
  cd "$P2"
  truncate -s "$BIG_SIZE" "$P2/base.raw"
  build_pair "$P2" "$BIG_NB" "$BIG_DIRTY"
  compare_maps "$P2"
  note "add-cow file: $(human_bytes "$(stat -c %s "$P2/ov.add-cow" 2>/dev/null || echo 0)"), qcow2 file: $(human_bytes "$(stat -c %s "$P2/ov.qcow2")")"

  for op in info check "map --output=json"; do
    time_pair "$op" "$BIG_RUNS" abs "$BIG_TIME" \
      "$A $op $P2/ov.add-cow" "$Q $op -f qcow2 $P2/ov.qcow2"
  done
  for op in info check "map --output=json"; do
    mem_pair "$op, peak RSS" "$BIG_MEM_LIMIT" \
      "$A $op $P2/ov.add-cow" "$Q $op -f qcow2 $P2/ov.qcow2"
  done
  print_table "part 2: $(human_bytes "$BIG_SIZE") sparse, $BIG_DIRTY/$BIG_NB clusters dirty (RSS limit = bitmap $(human_bytes "$BITMAP_BYTES") + 16 MiB)" addcow-img qemu-img
  cd "$WORK" && rm -rf "$P2"
fi

echo
say "load average at the end: $(load_avg)"
if [ "$BAD" = 1 ]; then
  say "RESULT: a correctness check failed (see above)"
  exit 1
fi
say "done"
