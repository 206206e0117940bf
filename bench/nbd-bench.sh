#!/usr/bin/env bash
# nbd-bench.sh - NBD throughput: the nbdkit add-cow plugin against its
# ceiling and its peer, with fio's nbd engine as the client.
#
#   (a) addcow  nbdkit + our plugin, serving an add-cow overlay
#   (b) file    nbdkit's file plugin on a plain raw file: the ceiling (for
#               the random workloads the overlay's own image file)
#   (c) qemu    qemu-nbd on the qcow2 twin (raw external data file, same
#               raw base, same cluster size; --cache=writeback --aio=threads)
#
# All three on Unix sockets, all through the page cache.  fio keeps
# $BENCH_DEPTH requests in flight on each connection; every workload runs
# with 1 connection and with 4 (four fio jobs, one connection each, each
# on its own quarter of the disk where the workload writes):
#
#   randread-4k    4 KiB random reads of a wholly allocated disk
#   randwrite-4k   4 KiB random writes into a wholly allocated disk
#   cow-4k         4 KiB writes, one at the start of every cluster (fio
#                  write:60k), so that every one copies on write (fio has no
#                  random order that visits each cluster once: blockalign
#                  turns its random map off).  For (b) they are plain
#                  4 KiB writes.  Its floor: one cluster read and one
#                  cluster written per request, by fio on the raw file
#                  itself (64 KiB randrw, psync, one job per connection),
#                  no NBD in between
#   seqread-1m     1 MiB sequential reads of a fresh overlay (all from the
#                  base), (b) reading the base itself
#   seqwrite-1m    1 MiB sequential writes over a fresh disk, once
#
# Each figure is the median of $BENCH_RUNS runs (>= 5 by default); in each
# run the three servers take turns in a rotating order, each on fresh
# images where the workload needs them.  The machine may be shared: read
# the ratios (measured in the same run, alternating) rather than the
# absolute figures, and mind the spread printed next to each median.
#
# Environment (all optional, plus those of common.sh):
#   BENCH_SIZE   size of the random base and of the disks (1G)
#   BENCH_RUNS   runs per figure (5)
#   BENCH_TIME   seconds of each time-based fio run (4)
#   BENCH_DEPTH  requests in flight per connection (16)
#   BENCH_CONNS  connection counts (1 4)
#   BENCH_WORKLOADS  which of the workloads above (all)
#   NBDKIT_PLUGIN  the plugin (build/cmd/nbdkit-addcow/nbdkit-addcow-plugin.so)
#
# Rows for bench/run (bench_tsv, MiB/s): each workload with allocated data
# against the file plugin as the ceiling (target >= 0.9 x ceiling), with
# qemu-nbd as the peer; copy-on-write against qemu-nbd (target >= 1 x
# peer), with its own floor in the floor column.
#
# Usage: bench/nbd-bench.sh     (about 10-12 minutes with the defaults)
source "$(dirname "$0")/common.sh"

: "${BENCH_SIZE:=1G}"
: "${BENCH_RUNS:=5}"
: "${BENCH_TIME:=4}"
: "${BENCH_DEPTH:=16}"
: "${BENCH_CONNS:=1 4}"
: "${NBDKIT_PLUGIN:=$REPO/build/cmd/nbdkit-addcow/nbdkit-addcow-plugin.so}"

SIZE=$(parse_size "$BENCH_SIZE")
CLUSTER=65536
SERVERS="addcow file qemu"
WORKLOADS=${BENCH_WORKLOADS:-randread-4k randwrite-4k cow-4k seqread-1m seqwrite-1m}
PID=

for t in nbdkit qemu-nbd fio nbdcopy "$QEMU_IMG"; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
fio --enghelp=nbd >/dev/null 2>&1 || die "fio has no nbd engine"
[ -f "$NBDKIT_PLUGIN" ] || die "$NBDKIT_PLUGIN: not built (cmake --build build)"
addcow_ready || die "$ADDCOW_IMG: not built"

# ---- servers ----------------------------------------------------------

stop_server() {
  [ -n "$PID" ] || return 0
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

wait_socket() {
  local i
  for i in $(seq 200); do
    [ -S "$WORK/s.sock" ] && return 0
    kill -0 "$PID" 2>/dev/null || die "the $1 server died"
    sleep 0.05
  done
  die "the $1 server did not start"
}

# serve WHO IMAGE [ro]: start server WHO on $WORK/s.sock.
serve() {
  local who=$1 image=$2 ro=${3:-}
  stop_server
  rm -f "$WORK/s.sock"
  case $who in
    addcow)
      nbdkit -U "$WORK/s.sock" -f --exit-with-parent "$NBDKIT_PLUGIN" \
        file="$image" ${ro:+readonly=true} & ;;
    file)
      nbdkit -U "$WORK/s.sock" -f --exit-with-parent ${ro:+-r} file \
        file="$image" & ;;
    qemu)   # -e: qemu-nbd serves one client at a time by default; the
            # others wait to connect, fio's jobs then run one after the
            # other, and its group rate (bytes over the longest job's run
            # time) came out up to 4x too high
      qemu-nbd -k "$WORK/s.sock" -f qcow2 -t -e 8 --cache=writeback \
        --aio=threads ${ro:+-r} "$image" & ;;
  esac
  PID=$!
  wait_socket "$who"
}

uri() { printf 'nbd+unix:///?socket=%s/s.sock' "$WORK"; }

# ---- images -----------------------------------------------------------

new_addcow() {  # new_addcow NAME: a fresh overlay of base.raw
  rm -f "$1.add-cow" "$1.raw"
  "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw \
    -o cluster_size=$CLUSTER "$1.add-cow"
}
new_qcow2() {   # new_qcow2 NAME: the qcow2 twin
  rm -f "$1.qcow2" "$1.data"
  "$QEMU_IMG" create -q -f qcow2 -b base.raw -F raw \
    -o data_file="$1.data",cluster_size=$CLUSTER "$1.qcow2" "$SIZE"
}
new_raw() { rm -f "$1.raw"; truncate -s "$SIZE" "$1.raw"; }

# Wholly allocated disks, made once: every cluster written through the
# server (with the base's bytes), the file plugin's raw file too.  For the
# random workloads the file plugin serves the overlay's own image file,
# alloc.raw (a plain raw file of the same bytes): the ceiling is then the
# same file in the same page cache, and only the plugin differs.  What a
# file's page cache holds weighs more than the plugin: a file filled by cp
# holds other folios than one filled by nbdcopy's requests, and a 4 KiB
# write into a large folio costs several times more (re-reading the files
# with cat, which caches them in large folios, took every server's 4 KiB
# random writes from about 150-250 MiB/s to about 47 MiB/s; the file plugin
# on a cp-filled copy was 1.1-1.3x itself on alloc.raw, 2026-12-01).
make_allocated() {
  new_addcow alloc
  serve addcow "$WORK/alloc.add-cow"
  nbdcopy base.raw "$(uri)"
  new_qcow2 qalloc
  serve qemu "$WORK/qalloc.qcow2"
  nbdcopy base.raw "$(uri)"
  new_raw falloc
  serve file "$WORK/falloc.raw"
  nbdcopy base.raw "$(uri)"
  stop_server
}

# fresh WORKLOAD WHO: serve the disk WORKLOAD starts from.
fresh() {
  local w=$1 who=$2
  case $w/$who in
    randread-4k/addcow|randwrite-4k/addcow) serve addcow "$WORK/alloc.add-cow" ;;
    randread-4k/file|randwrite-4k/file) serve file "$WORK/alloc.raw" ;;
    randread-4k/qemu|randwrite-4k/qemu) serve qemu "$WORK/qalloc.qcow2" ;;
    */addcow) new_addcow fresh; serve addcow "$WORK/fresh.add-cow" ;;
    seqread-1m/file) serve file "$WORK/base.raw" ro ;;
    cow-4k/file) serve file "$WORK/falloc.raw" ;;   # no COW: plain writes
    */file) new_raw fresh; serve file "$WORK/fresh.raw" ;;
    */qemu) new_qcow2 fresh; serve qemu "$WORK/fresh.qcow2" ;;
  esac
}

# ---- fio --------------------------------------------------------------

# fio_args WORKLOAD CONNS: the job, one connection per fio job.
fio_args() {
  local w=$1 n=$2 part=$(( SIZE / $2 ))
  local common=(--ioengine=nbd "--uri=$(uri)" "--iodepth=$BENCH_DEPTH"
                "--numjobs=$n" --group_reporting --output-format=terse
                --terse-version=3)
  local timed=(--time_based "--runtime=$BENCH_TIME")
  case $w in
    randread-4k)  echo "${common[@]} ${timed[@]} --rw=randread --bs=4k --size=$SIZE" ;;
    randwrite-4k) echo "${common[@]} ${timed[@]} --rw=randwrite --bs=4k --size=$part --offset_increment=$part" ;;
    cow-4k)       echo "${common[@]} --rw=write:$(( CLUSTER - 4096 )) --bs=4k --size=$part --offset_increment=$part --io_size=$(( part / (CLUSTER / 4096) ))" ;;
    seqread-1m)   echo "${common[@]} ${timed[@]} --rw=read --bs=1m --size=$part --offset_increment=$part" ;;
    seqwrite-1m)  echo "${common[@]} --rw=write --bs=1m --size=$part --offset_increment=$part" ;;
    cow-floor)    echo "--ioengine=psync --filename=$WORK/falloc.raw --numjobs=$n --group_reporting --output-format=terse --terse-version=3 ${timed[@]} --rw=randrw --rwmixread=50 --bs=$CLUSTER --size=$part --offset_increment=$part" ;;
  esac
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# measure WORKLOAD CONNS: "MiB/s REQUESTS CPU-us-per-request" of the
# running server.  cow-floor counts a read and a write as one request and
# reports its rate in 4 KiB requests.
measure() {
  local w=$1 n=$2 out c0 c1
  c0=$(cpu_ticks "$PID")
  # shellcheck disable=SC2046
  out=$(fio --name="$w" $(fio_args "$w" "$n") 2>/dev/null | tail -n1) \
    || die "fio $w failed"
  c1=$(cpu_ticks "$PID")
  awk -F';' -v w="$w" -v c=$(( c1 - c0 )) -v t="$TICK" '{
      ms = ($9 > $50 ? $9 : $50)          # runtime
      ios = ($8 * $9 + $49 * $50) / 1000  # read + write requests
      if (w == "cow-floor") ios /= 2
      mibs = (w == "cow-floor") ? ios * 4 / 1024 / (ms / 1000) \
                                : ($7 + $48) / 1024
      printf "%.1f %d %.2f\n", mibs, ios, c / t * 1e6 / (ios > 0 ? ios : 1) }' \
    <<< "$out"
}

declare -A R        # R[workload/conns/who] = "v1 v2 ..." (MiB/s)
declare -A C        # same, server CPU us per request

median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ v[NR] = $1 }
  END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '
  NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

run_all() {
  local r w n who order mibs ios cpu i
  local -a s=($SERVERS)
  for ((r = 0; r < BENCH_RUNS; r++)); do
    for w in $WORKLOADS; do
      for n in $BENCH_CONNS; do
        order=
        for ((i = 0; i < 3; i++)); do order+=" ${s[(r + i) % 3]}"; done
        for who in $order; do
          fresh "$w" "$who"
          read -r mibs ios cpu < <(measure "$w" "$n")
          R[$w/$n/$who]+=" $mibs"
          C[$w/$n/$who]+=" $cpu"
          note "run $((r + 1)) $w x$n $who: $mibs MiB/s, $cpu us CPU/request"
        done
        if [ "$w" = cow-4k ]; then
          stop_server
          PID=$$                # no server: fio on the file itself
          read -r mibs ios cpu < <(measure cow-floor "$n")
          PID=
          R[cow-floor/$n]+=" $mibs"
          note "run $((r + 1)) cow floor x$n: $mibs MiB/s of 4 KiB requests"
        fi
      done
    done
    # The overlays written to must still be clean images.
    stop_server
    "$ADDCOW_IMG" check alloc.add-cow >/dev/null \
      || { say "alloc.add-cow: check failed"; BAD=1; }
  done
  stop_server
}

make_work $(( SIZE * 6 + (1 << 30) ))
cd "$WORK"
section "set-up"
print_machine
note "load:        $(load_avg) (the machine may be shared: read ratios)"
note "nbdkit:      $(nbdkit --version | head -n1), plugin $NBDKIT_PLUGIN"
note "qemu-nbd:    $(qemu-nbd --version | head -n1)"
note "fio:         $(fio --version)"
note "disk:        $(human_bytes "$SIZE") random base, $((CLUSTER / 1024)) KiB clusters, depth $BENCH_DEPTH per connection, median of $BENCH_RUNS alternating runs"
random_file base.raw "$SIZE"
make_allocated

section "runs"
run_all

section "results: MiB/s, median of $BENCH_RUNS (spread), server CPU us/request"
printf '%-12s %2s | %-28s | %-28s | %-28s | %5s %5s | %s\n' workload cn \
  "(a) addcow   (spread)  CPU" "(b) file" "(c) qemu-nbd" "a/b" "a/c" target
for w in $WORKLOADS; do
  for n in $BENCH_CONNS; do
    a=$(median "${R[$w/$n/addcow]}") b=$(median "${R[$w/$n/file]}")
    c=$(median "${R[$w/$n/qemu]}")
    cell() { printf '%7s %-13s %6s' "$(median "${R[$w/$n/$1]}")" \
               "($(spread "${R[$w/$n/$1]}"))" "$(median "${C[$w/$n/$1]}")"; }
    if [ "$w" = cow-4k ]; then
      f=$(median "${R[cow-floor/$n]}")
      tgt="a/floor $(ratio "$a" "$f") (floor $f), >= qemu-nbd: $(pass_if le "$c" "$a")"
      bench_tsv "NBD $w x$n conn (floor: fio 64K read+write)" "$a" "$c" "$f" ">=1*peer" MiB/s
    else
      bench_tsv "NBD $w x$n conn (ceiling: nbdkit file)" "$a" "$c" "$b" ">=0.9*floor" MiB/s
      tgt=">= 0.9 x file: $(pass_if awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= 0.9 * b) }')"
    fi
    printf '%-12s %2s | %s | %s | %s | %5s %5s | %s\n' "$w" "$n" \
      "$(cell addcow)" "$(cell file)" "$(cell qemu)" \
      "$(ratio "$a" "$b")" "$(ratio "$a" "$c")" "$tgt"
  done
done
note "ratios of medians of alternating runs on the same machine; the cow floor"
note "is one 64 KiB read + one 64 KiB write per request by fio on the raw file"
note "(no NBD), counted in 4 KiB requests"
[ "$BAD" = 0 ] || die "a correctness check failed"
