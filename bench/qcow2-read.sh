#!/usr/bin/env bash
# qcow2-read.sh - the qcow2 driver's reads, side by side in one run (issue
# 11, "Proof").  A benchmark, not a test.
#
# Part 1, uncompressed: a BENCH_DATA (1 GiB) raw file of random data and
# the same disk as a qcow2 (qemu-img convert, 64 KiB clusters).  Reads the
# whole disk through the driver (build/tests/unit/qcow2-read, 16 MiB
# reads) and the raw file with the same loop of preads, warm cache,
# medians of BENCH_RUNS alternating runs.  Target: the qcow2 read >= 0.9x
# the speed of the raw one.
#
# Part 2, compressed: a BENCH_SIZE (4 GiB) disk holding BENCH_VARIED
# (2 GiB) of varied data (a quarter random, a quarter base64 text, a
# quarter repeated short records, a quarter zeros in between), compressed
# by `qemu-img convert -c` (zlib, then zstd).  Converts each to raw with
# `addcow-img convert -O raw` (the copier decompresses on every core) and
# with `qemu-img convert -O raw` followed by a sync of its output (qemu-img
# 7.2's convert never syncs; ours is durable when it returns), medians of
# BENCH_RUNS alternating runs, checks that the results are identical, and
# reports both times.  Target: <= 0.5x qemu-img + sync.
#
# Part 3, flatten over the compressed golden image: an add-cow overlay
# over varied-zlib.qcow2, `addcow-img rebase -b ""`, against the qcow2
# twin (an overlay with an external data file over the same golden image)
# flattened by `qemu-img rebase -b ""`; medians of BENCH_RUNS alternating
# runs, both results compared with the disk, and the floor (cp of the
# disk's data + fsync).  Target: <= 0.5x qemu-img's time.
#
# Part 4, flatten over an uncompressed qcow2 (the same disk, qemu-img
# convert -O qcow2): its clusters sit at other offsets of the qcow2 file,
# and where blocks line up the copy is copy_file_range, so on a reflink
# file system (XFS, btrfs: under bench/run as root) the flattened file
# shares extents with the golden image.  There it reports the space each
# flatten took (df: meaningful on a file system of its own).  Target:
# <= 0.1x qemu-img's time on a reflink file system, never behind it
# elsewhere.  On bench/run's extra file systems only this part
# runs.
#
# bench-fs: all
#
# Usage:  bench/qcow2-read.sh
#         BENCH_SIZE=512M BENCH_VARIED=256M BENCH_DATA=256M bench/qcow2-read.sh
# Knobs: BENCH_RUNS (3), BENCH_DIR, BENCH_KEEP, BENCH_SEED (see common.sh).

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${BENCH_SIZE:-4G}")
VARIED=$(parse_size "${BENCH_VARIED:-2G}")
DATA=$(parse_size "${BENCH_DATA:-1G}")
RUNS=${BENCH_RUNS:-3}
READER=${QCOW2_READ:-$REPO/build/tests/unit/qcow2-read}
[ -x "$READER" ] || die "$READER: build it first (cmake --build build)"
[ -x "$ADDCOW_IMG" ] || die "$ADDCOW_IMG: build it first (cmake --build build)"
FS=${BENCH_FS_NAME:-host}
ONLY_FLATTEN=0                  # bench/run's loop file systems: part 4
case $FS in host*) ;; *) ONLY_FLATTEN=1 ;; esac

make_work $(( DATA * 2 + VARIED * 3 + (1 << 30) ))
cd "$WORK"

# elapsed CMD...: run CMD (it must succeed), print its time in seconds.
elapsed() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null || die "failed: $*"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'
}

# cpu_of CMD...: the CPU time (user + system, all threads) of one run.
cpu_of() {
  /usr/bin/time -f '%U %S' -o "$WORK/cpu.txt" "$@" >/dev/null \
    || die "failed: $*"
  awk '{ printf "%.3f", $1 + $2 }' "$WORK/cpu.txt"
}

section "machine"
say "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$QEMU_IMG" --version | head -n1); $FS"

# fresh_overlays GOLDEN: an empty add-cow overlay ov.add-cow (image file
# ov.raw) and the qcow2 twin tw.qcow2 (data file tw.data) over GOLDEN.
fresh_overlays() {
  rm -f ov.add-cow ov.raw tw.qcow2 tw.data
  "$ADDCOW_IMG" create -q -f add-cow -o image_file=ov.raw -b "$1" -F qcow2 \
    ov.add-cow >/dev/null
  "$QEMU_IMG" create -q -f qcow2 -o "data_file=tw.data,backing_file=$1,backing_fmt=qcow2" \
    tw.qcow2 >/dev/null
  sync
}
export -f fresh_overlays
export ADDCOW_IMG QEMU_IMG

# flatten_both GOLDEN REFERENCE: medians of our flatten and qemu-img's
# ("OURS QEMU"), both results checked against REFERENCE (the raw disk).
flatten_both() {
  local t
  t=$(alternate "$RUNS" "cd '$WORK' && fresh_overlays '$1'" \
        -- "$ADDCOW_IMG" rebase -q -b "" "$WORK/ov.add-cow" \
        -- "$QEMU_IMG" rebase -q -b "" "$WORK/tw.qcow2")
  fresh_overlays "$1"
  "$ADDCOW_IMG" rebase -q -b "" ov.add-cow
  "$QEMU_IMG" rebase -q -b "" tw.qcow2
  if ! cmp -s ov.raw "$2" || ! cmp -s tw.data "$2"; then
    say "flatten of $1: results DIFFERENT from the disk"; BAD=1
  fi
  printf '%s' "$t"
}

# used_kib: the space used on the scratch file system, after a sync.
used_kib() { sync; df -k --output=used "$WORK" | tail -n1 | tr -d ' '; }

# reflinks: can this file system share extents between files?
reflinks() {
  head -c 65536 /dev/zero > rl.a && cp --reflink=always rl.a rl.b 2>/dev/null
  local r=$?; rm -f rl.a rl.b; return $r
}

# flatten_space GOLDEN CMD...: the MiB the flatten by CMD added on disk.
flatten_space() {
  local g=$1 u0 u1; shift
  fresh_overlays "$g"; u0=$(used_kib)
  "$@" >/dev/null; u1=$(used_kib)
  printf '%d' $(( (u1 - u0) / 1024 ))
}

part4() {
  local t to tq rl=0 target='<=1.0*peer' sp_ours sp_qemu r k
  section "part 4: flatten over an uncompressed qcow2 ($FS)"
  "$QEMU_IMG" convert -O qcow2 varied.raw plain.qcow2
  reflinks && { rl=1; target='<=0.1*peer'; }
  t=$(flatten_both plain.qcow2 varied.raw); to=${t% *}; tq=${t#* }
  r=$(ratio "$to" "$tq")
  k=${target#<=}; k=${k%\*peer}
  say "flatten: addcow-img $(fmt_time "$to")   qemu-img $(fmt_time "$tq")   ratio $r (target <= $k, reflink $rl): $(pass_if le "$r" "$k")"
  if [ "$rl" = 1 ]; then       # a file system of its own (bench/run)
    sp_ours=$(flatten_space plain.qcow2 "$ADDCOW_IMG" rebase -q -b "" ov.add-cow)
    sp_qemu=$(flatten_space plain.qcow2 "$QEMU_IMG" rebase -q -b "" tw.qcow2)
    say "space taken: addcow-img ${sp_ours} MiB   qemu-img ${sp_qemu} MiB"
  fi
  say "(medians of $RUNS, load $(cut -d' ' -f1 /proc/loadavg))"
  bench_tsv "qcow2 flatten, uncompressed golden ($(human_bytes "$VARIED") data$( [ $rl = 1 ] && printf ', reflink'))" \
    "$to" "$tq" - "$target"
  rm -f plain.qcow2 ov.add-cow ov.raw tw.qcow2 tw.data
}

# the varied disk of parts 2-4: four kinds of 4 MiB pieces, in turn,
# spread over the disk.
make_varied() {
piece=$(( 4 << 20 ))
n=$(( VARIED / piece ))
stride=$(( SIZE / n / piece ))
[ "$stride" -ge 1 ] || die "BENCH_SIZE must be at least BENCH_VARIED"
truncate -s "$SIZE" varied.raw
keystream "varied-$BENCH_SEED" | head -c $(( VARIED / 4 * 3 )) > ks.bin
set +o pipefail                 # head ends the generators early
for (( i = 0; i < n; i++ )); do
  case $(( i % 4 )) in
    0) dd if=ks.bin bs=$piece skip=$(( i / 4 )) count=1 status=none ;;
    1) dd if=ks.bin bs=$piece skip=$(( i / 4 )) count=1 status=none \
         | base64 -w 76 | head -c $piece ;;
    2) dd if=ks.bin bs=4k skip=$(( i / 4 )) count=1 status=none \
         | od -A d -t x2 | head -c $piece | cat - /dev/zero | head -c $piece ;;
    3) yes "record $i: the quick brown fox jumps over the lazy dog" \
         | head -c $piece ;;
  esac | dd of=varied.raw bs=$piece seek=$(( i * stride )) conv=notrunc \
           status=none
done
set -o pipefail
rm -f ks.bin
}

if [ "$ONLY_FLATTEN" = 1 ]; then
  make_varied
  part4
  exit "$BAD"
fi

section "part 1: uncompressed reads, qcow2 through the driver vs raw"
random_file data.raw "$DATA"
"$QEMU_IMG" convert -O qcow2 data.raw data.qcow2
cat data.raw data.qcow2 > /dev/null          # warm the page cache
t=$(alternate "$RUNS" true -- "$READER" data.raw -- "$READER" data.qcow2)
t_raw=${t% *} t_q=${t#* }
speed=$(ratio "$t_raw" "$t_q")
say "$(human_bytes "$DATA") read:  raw $(fmt_time "$t_raw")   qcow2 via driver $(fmt_time "$t_q")"
say "qcow2 speed / raw speed: $speed  (target >= 0.9): $(pass_if le 0.9 "$speed")"
bench_tsv "qcow2 uncompressed read ($(human_bytes "$DATA"), vs the raw file)" \
  "$(awk -v b="$DATA" -v t="$t_q" 'BEGIN { printf "%.0f", b / 1048576 / t }')" - \
  "$(awk -v b="$DATA" -v t="$t_raw" 'BEGIN { printf "%.0f", b / 1048576 / t }')" \
  '>=0.9*floor' MiB/s
rm -f data.raw data.qcow2

section "part 2: compressed $(human_bytes "$SIZE") disk, $(human_bytes "$VARIED") of varied data"
make_varied
for type in zlib zstd; do
  t_c=$(elapsed "$QEMU_IMG" convert -c -O qcow2 -o compression_type=$type \
          varied.raw varied-$type.qcow2)
  say "$type: qemu-img convert -c took $(fmt_time "$t_c"), image $(human_bytes "$(stat -c %s varied-$type.qcow2)")"
  cat varied-$type.qcow2 > /dev/null
  t=$(alternate "$RUNS" "cd '$WORK' && rm -f ours.raw qemu.raw && sync" \
        -- "$ADDCOW_IMG" convert -q -f qcow2 -O raw "$WORK/varied-$type.qcow2" "$WORK/ours.raw" \
        -- bash -c "'$QEMU_IMG' convert -O raw '$WORK/varied-$type.qcow2' '$WORK/qemu.raw' && sync '$WORK/qemu.raw'")
  t_ours=${t% *}; t_qemu=${t#* }
  "$ADDCOW_IMG" convert -q -f qcow2 -O raw varied-$type.qcow2 ours.raw
  "$QEMU_IMG" convert -O raw varied-$type.qcow2 qemu.raw
  if cmp -s ours.raw qemu.raw && cmp -s ours.raw varied.raw; then same=identical
  else same=DIFFERENT; BAD=1; fi
  r=$(ratio "$t_ours" "$t_qemu")
  rm -f ours.raw qemu.raw
  c_ours=$(cpu_of "$ADDCOW_IMG" convert -q -f qcow2 -O raw varied-$type.qcow2 ours.raw)
  c_qemu=$(cpu_of "$QEMU_IMG" convert -O raw varied-$type.qcow2 qemu.raw)
  say "$type: to raw: addcow-img convert $(fmt_time "$t_ours")   qemu-img convert -O raw + sync $(fmt_time "$t_qemu")   ratio $r (target <= 0.5): $(pass_if le "$r" 0.5); outputs $same"
  say "$type: CPU time: addcow-img ${c_ours} s   qemu-img ${c_qemu} s   (load $(cut -d' ' -f1 /proc/loadavg))"
  bench_tsv "qcow2 convert of a compressed ($type) golden to raw (qemu-img + sync)" "$t_ours" \
    "$t_qemu" - '<=0.5*peer'
  rm -f ours.raw qemu.raw
  [ "$type" = zlib ] || rm -f varied-$type.qcow2
done

section "part 3: flatten over the compressed (zlib) golden image"
cp --reflink=never --sparse=always varied.raw floor.raw; rm -f floor.raw; sync
t_floor=$(time_cmd bash -c "cp --reflink=never --sparse=always varied.raw floor.raw && sync floor.raw")
rm -f floor.raw
t=$(flatten_both varied-zlib.qcow2 varied.raw); t_ours=${t% *}; t_qemu=${t#* }
r=$(ratio "$t_ours" "$t_qemu")
say "flatten: addcow-img $(fmt_time "$t_ours")   qemu-img $(fmt_time "$t_qemu")   floor (cp + fsync of the disk) $(fmt_time "$t_floor")"
say "ratio $r (target <= 0.5): $(pass_if le "$r" 0.5)   (medians of $RUNS, load $(cut -d' ' -f1 /proc/loadavg))"
bench_tsv "qcow2 flatten, compressed (zlib) golden ($(human_bytes "$VARIED") data)" \
  "$t_ours" "$t_qemu" "$t_floor" '<=0.5*peer'
rm -f varied-zlib.qcow2 ov.add-cow ov.raw tw.qcow2 tw.data

part4
exit "$BAD"
