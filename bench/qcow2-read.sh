#!/usr/bin/env bash
# qcow2-read.sh - the qcow2 driver's reads, side by side in one run (issue
# 11, "Proof").  A benchmark, not a test.
#
# Part 1, uncompressed: a BENCH_DATA (1 GiB) raw file of random data and
# the same disk as a qcow2 (qemu-img convert, 64 KiB clusters).  Reads the
# whole disk through the driver (build/tests/unit/qcow2-read, 16 MiB
# reads) and the raw file with the same loop of preads, warm cache.
# Target: the qcow2 read >= 0.9x the speed of the raw one.
#
# Part 2, compressed: a BENCH_SIZE (4 GiB) disk holding BENCH_VARIED
# (2 GiB) of varied data (a quarter random, a quarter base64 text, a
# quarter repeated short records, a quarter zeros in between), compressed
# by `qemu-img convert -c` (zlib, then zstd).  Converts each to raw with
# the driver and with `qemu-img convert -O raw`, checks that the results
# are identical, and reports both times (the driver decompresses on up to
# 4 threads; target: <= 0.5x qemu-img's time).
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

# best_of N CMD...: the fastest of N runs, in seconds.
best_of() {
  local n=$1 i t best=; shift
  for (( i = 0; i < n; i++ )); do
    t=$(elapsed "$@")
    if [ -z "$best" ] || le "$t" "$best"; then best=$t; fi
  done
  printf '%s' "$best"
}

section "machine"
say "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$QEMU_IMG" --version | head -n1)"

section "part 1: uncompressed reads, qcow2 through the driver vs raw"
random_file data.raw "$DATA"
"$QEMU_IMG" convert -O qcow2 data.raw data.qcow2
cat data.raw data.qcow2 > /dev/null          # warm the page cache
t_raw=$(best_of "$RUNS" "$READER" data.raw)
t_q=$(best_of "$RUNS" "$READER" data.qcow2)
speed=$(ratio "$t_raw" "$t_q")
say "$(human_bytes "$DATA") read:  raw $(fmt_time "$t_raw")   qcow2 via driver $(fmt_time "$t_q")"
say "qcow2 speed / raw speed: $speed  (target >= 0.9): $(pass_if le 0.9 "$speed")"
rm -f data.raw data.qcow2

section "part 2: compressed $(human_bytes "$SIZE") disk, $(human_bytes "$VARIED") of varied data"
# Four kinds of 4 MiB pieces, in turn, spread over the disk.
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
for type in zlib zstd; do
  t_c=$(elapsed "$QEMU_IMG" convert -c -O qcow2 -o compression_type=$type \
          varied.raw varied-$type.qcow2)
  say "$type: qemu-img convert -c took $(fmt_time "$t_c"), image $(human_bytes "$(stat -c %s varied-$type.qcow2)")"
  cat varied-$type.qcow2 > /dev/null
  t_ours=$(best_of "$RUNS" "$READER" varied-$type.qcow2 ours.raw)
  t_qemu=$(best_of "$RUNS" "$QEMU_IMG" convert -O raw varied-$type.qcow2 qemu.raw)
  if cmp -s ours.raw qemu.raw && cmp -s ours.raw varied.raw; then same=identical
  else same=DIFFERENT; BAD=1; fi
  r=$(ratio "$t_ours" "$t_qemu")
  c_ours=$(cpu_of "$READER" varied-$type.qcow2 ours.raw)
  c_qemu=$(cpu_of "$QEMU_IMG" convert -O raw varied-$type.qcow2 qemu.raw)
  say "$type: to raw: driver $(fmt_time "$t_ours")   qemu-img convert -O raw $(fmt_time "$t_qemu")   ratio $r (target <= 0.5): $(pass_if le "$r" 0.5); outputs $same"
  say "$type: CPU time: driver ${c_ours} s   qemu-img ${c_qemu} s   (load $(cut -d' ' -f1 /proc/loadavg))"
  rm -f ours.raw qemu.raw
done
exit "$BAD"
