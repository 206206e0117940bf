#!/usr/bin/env bash
# nbd-bench.sh - the nbdkit add-cow plugin against qemu-nbd, over NBD.
#
# Side by side in one run: nbdkit serving an add-cow overlay, and qemu-nbd
# serving the equivalent qcow2 overlay (raw external data file, same raw
# base, same cluster size), both on Unix sockets, both with the page cache
# (nbdkit-addcow does buffered I/O; qemu-nbd runs with its default
# --cache=writeback --aio=threads).  The client is `qemu-img bench`, one
# connection, queue depth $BENCH_DEPTH:
#
#   randread-4k    4 KiB reads at scattered offsets of a fresh overlay
#                  (every one goes to the base)
#   randwrite-4k   4 KiB writes at scattered offsets of a fresh overlay (the
#                  first write to a cluster copies it: 64 KiB of COW)
#   seqwrite-1m    1 MiB writes from start to end of a fresh overlay
#
# qemu-img bench has no random mode: "scattered" is a stride of 104729
# blocks (a prime), wrapping around the disk, so consecutive requests land
# far apart and no block is visited twice within $BENCH_SIZE/4k requests.
# Each figure is the best of $BENCH_RUNS runs, each on fresh overlays, the
# two servers taking turns to go first.  After each write run the two
# exports must be identical (qemu-img compare), or the script fails.
#
# Environment (all optional, plus those of common.sh):
#   BENCH_SIZE   size of the random base and of the disks (1G)
#   BENCH_RUNS   runs per test (3)
#   BENCH_COUNT  requests of the 4 KiB tests (100000)
#   BENCH_DEPTH  requests in flight (16)
#   NBDKIT_PLUGIN  the plugin (build/cmd/nbdkit-addcow/nbdkit-addcow-plugin.so)
#
# Usage: bench/nbd-bench.sh        (about 1-2 minutes with the defaults)
source "$(dirname "$0")/common.sh"

: "${BENCH_SIZE:=1G}"
: "${BENCH_RUNS:=3}"
: "${BENCH_COUNT:=100000}"
: "${BENCH_DEPTH:=16}"
: "${NBDKIT_PLUGIN:=$REPO/build/cmd/nbdkit-addcow/nbdkit-addcow-plugin.so}"

SIZE=$(parse_size "$BENCH_SIZE")
CLUSTER=65536
PIDS=()

for t in nbdkit qemu-nbd "$QEMU_IMG" openssl; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
[ -f "$NBDKIT_PLUGIN" ] || die "$NBDKIT_PLUGIN: not built (cmake --build build)"
addcow_ready || die "$ADDCOW_IMG: not built"

stop_servers() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}

wait_socket() {  # wait_socket SOCK PID
  local i
  for i in $(seq 200); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || die "the server for $1 died"
    sleep 0.05
  done
  die "the server for $1 did not start"
}

# fresh: new overlays over base.raw, and both servers started.
fresh() {
  stop_servers
  rm -f "$WORK"/vm.add-cow "$WORK"/vm.raw "$WORK"/ov.qcow2 "$WORK"/ov.raw \
        "$WORK"/addcow.sock "$WORK"/qemu.sock
  "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw \
    -o cluster_size=$CLUSTER "$WORK/vm.add-cow"
  "$QEMU_IMG" create -q -f qcow2 -b base.raw -F raw \
    -o data_file=ov.raw,cluster_size=$CLUSTER "$WORK/ov.qcow2" "$SIZE"
  nbdkit -U "$WORK/addcow.sock" -f --exit-with-parent "$NBDKIT_PLUGIN" \
    file="$WORK/vm.add-cow" &
  PIDS+=($!)
  SERVER[addcow]=$!
  wait_socket "$WORK/addcow.sock" $!
  qemu-nbd -k "$WORK/qemu.sock" -f qcow2 -t --cache=writeback --aio=threads \
    "$WORK/ov.qcow2" &
  PIDS+=($!)
  SERVER[qemu]=$!
  wait_socket "$WORK/qemu.sock" $!
}

# cpu_ticks PID: user + system CPU time the process used so far, in ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

uri() { printf 'nbd+unix:///?socket=%s/%s.sock' "$WORK" "$1"; }

# bench SERVER ARGS...: "SECONDS CPU" - how long qemu-img bench took, and
# the CPU seconds the server used meanwhile (a steadier figure than wall
# time on a shared machine).
bench() {
  local who=$1 out c0 c1
  shift
  c0=$(cpu_ticks "${SERVER[$who]}")
  out=$("$QEMU_IMG" bench -f raw -t none -d "$BENCH_DEPTH" "$@" \
        "$(uri "$who")") || die "qemu-img bench on $who failed"
  c1=$(cpu_ticks "${SERVER[$who]}")
  printf '%s %s\n' \
    "$(sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p' <<< "$out")" \
    "$(awk -v a="$c0" -v b="$c1" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')"
}

# A stride coprime with the number of 4 KiB slots, so no slot repeats.
stride_blocks() {
  local slots=$(( (SIZE - 4096) / 4096 )) p=104729 a b t
  while :; do
    a=$slots b=$p
    while [ "$b" -ne 0 ]; do t=$(( a % b )); a=$b; b=$t; done
    [ "$a" -eq 1 ] && break
    p=$(( p + 2 ))
  done
  echo "$p"
}

declare -A BEST SERVER

# run_test NAME BYTES_PER_RUN WRITE? ARGS...
run_test() {
  local name=$1 bytes=$2 write=$3 r order who s c
  shift 3
  for ((r = 1; r <= BENCH_RUNS; r++)); do
    fresh
    if (( r % 2 )); then order="addcow qemu"; else order="qemu addcow"; fi
    for who in $order; do
      read -r s c < <(bench "$who" "$@")
      note "$name run $r $who: $s s, server CPU $c s"
      if [ -z "${BEST[$name/$who]:-}" ] || le "$s" "${BEST[$name/$who]}"; then
        BEST[$name/$who]=$s
      fi
      if [ -z "${BEST[$name/$who/cpu]:-}" ] || le "$c" "${BEST[$name/$who/cpu]}"; then
        BEST[$name/$who/cpu]=$c
      fi
    done
    if [ "$write" = 1 ] && ! "$QEMU_IMG" compare -q -f raw -F raw \
         "$(uri addcow)" "$(uri qemu)"; then
      say "$name: the two exports differ after the same writes"
      BAD=1
    fi
  done
  BEST[$name/bytes]=$bytes
}

make_work $(( SIZE * 4 + (1 << 30) ))
cd "$WORK"
section "set-up"
print_machine
note "nbdkit:      $(nbdkit --version | head -n1), plugin $NBDKIT_PLUGIN"
note "qemu-nbd:    $(qemu-nbd --version | head -n1)"
note "disk:        $(human_bytes "$SIZE") random base, $((CLUSTER / 1024)) KiB clusters, depth $BENCH_DEPTH, best of $BENCH_RUNS"
random_file base.raw "$SIZE"

STRIDE=$(( $(stride_blocks) * 4096 ))
section "runs"
run_test randread-4k $(( BENCH_COUNT * 4096 )) 0 \
  -c "$BENCH_COUNT" -s 4k -S "$STRIDE"
run_test randwrite-4k $(( BENCH_COUNT * 4096 )) 1 \
  -w --pattern=0xab -c "$BENCH_COUNT" -s 4k -S "$STRIDE"
run_test seqwrite-1m "$SIZE" 1 \
  -w --pattern=0xcd -c $(( SIZE >> 20 )) -s 1M
stop_servers

section "results: throughput (higher is better), server CPU per request (lower is better)"
printf '%-13s | %-24s | %-24s | %s\n' "" "nbdkit-addcow" "qemu-nbd (qcow2)" \
  "speed  target:"
printf '%-13s | %8s %7s %7s | %8s %7s %7s | %6s %s\n' test MiB/s IOPS \
  "CPU us" MiB/s IOPS "CPU us" ratio ">= qemu-nbd"
for name in randread-4k randwrite-4k seqwrite-1m; do
  bytes=${BEST[$name/bytes]}
  a=${BEST[$name/addcow]} q=${BEST[$name/qemu]}
  ac=${BEST[$name/addcow/cpu]} qc=${BEST[$name/qemu/cpu]}
  bs=4096
  [ "$name" = seqwrite-1m ] && bs=$(( 1 << 20 ))
  read -r am ai acu qm qi qcu < <(awk -v b="$bytes" -v bs="$bs" -v a="$a" \
    -v q="$q" -v ac="$ac" -v qc="$qc" 'BEGIN { n = b / bs
      printf "%.1f %.0f %.1f %.1f %.0f %.1f\n", b / a / 1048576, n / a,
             ac / n * 1e6, b / q / 1048576, n / q, qc / n * 1e6 }')
  printf '%-13s | %8s %7s %7s | %8s %7s %7s | %6s %s\n' "$name" "$am" "$ai" \
    "$acu" "$qm" "$qi" "$qcu" "$(ratio "$q" "$a")" "$(pass_if le "$a" "$q")"
done
note "best of $BENCH_RUNS runs each; speed ratio = qemu-nbd time / nbdkit-addcow time"
[ "$BAD" = 0 ] || die "a correctness check failed"
