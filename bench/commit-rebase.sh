#!/usr/bin/env bash
# commit-rebase.sh - addcow-img commit and flatten (rebase -b "") against
# qemu-img and against cp, side by side in one run (issue 3, "Speed").
# A benchmark, not a test.
#
# A BENCH_SIZE (4 GiB) raw base of random data; an add-cow overlay with
# BENCH_DIRTY_PCT (25) % of its 64 KiB clusters written at random by
# addcow-io, and the equivalent qcow2 overlay (external data file, same base)
# written by qemu-io with the same commands.  Every timed run starts from
# fresh copies of the base and the overlays (made by --prepare, not timed),
# then:
#   commit        addcow-img commit        vs qemu-img commit
#                 (moves the dirty 25 % into the base)
#                 and vs cp of that many bytes into a new file
#   flatten       addcow-img rebase -b ""  vs qemu-img rebase -b ""
#                 (writes the other 75 % into the overlay's data file)
#                 and vs cp of that many bytes
# The targets are below (issue 13).  cp is timed twice, alone and followed
# by `sync FILE` (fsync), because commit and flatten must make their data
# durable and plain cp does not; its rows have no target of their own.
#
# Correctness: the qcow2 overlay's disk is read out once (qemu-img convert)
# as the reference; the add-cow overlay is checked against it before (read-out
# through the nbdkit plugin when it is built, and a pattern read of every
# dirty cluster), and after the last timed run the committed bases, the
# flattened raw file and the emptied overlays are compared with it.
#
# Page cache: with BENCH_CACHE=cold (the default where
# /proc/sys/vm/drop_caches is writable) every run starts after sync and
# drop_caches; otherwise (warm) after sync only, with the fresh copies in
# the cache for both tools alike.
#
# TSV rows for bench/run (bench_tsv), one pair per operation: against
# qemu-img and against the floor of that operation's work, timed in the
# same rounds as both tools (hf interleaves them: a disk whose speed
# wanders moves all alike), the same bytes from the same pristine files,
# cold like the rest:
#   commit -d  cp + fsync of the committed bytes into a new file;
#   commit     the same, then punching the overlay's data out of a fresh
#              copy of its image file, and fsync: commit also empties the
#              overlay, and on ext4 mounted with `discard` freeing those
#              extents is real work.  One fpunch (xfs_io) from the first
#              data run of map.addcow at depth 0 to the end of the last:
#              the file holds nothing else, and one punch per run (6,125
#              at 2 GiB) costs more than commit's own punches (then one
#              per 256 MiB batch, now one every 16): 1.39 s against
#              commit's 0.76 s in all at 256 MiB, so it is no floor;
#   flatten    the same runs copied into the same holes: one xfs_io
#              process copying each run flatten copies (map.addcow below
#              depth 0) from the base into a fresh copy of the overlay's
#              image file at its own offset (copy_range), then fsync.  On
#              ext4 filling the holes of a file costs more than writing a
#              new one (2026-12-01: 7.18 s against 6.16 s for 3 GiB); cp +
#              fsync of the same bytes into a new file is reported beside
#              it, without a target.  Where copies move bytes (ext4, XFS without reflink):
# <= 1x qemu-img and <= 1.1x the floor (issue 13).  Where they share
# extents (a `cp --reflink=always` probe works: XFS with reflink, btrfs)
# the work is metadata: flatten <= 0.05x qemu-img (20x faster), commit and
# commit -d <= 1/3 of it, and the floor row is reported without a target.
#
# Usage:  bench/commit-rebase.sh
#         BENCH_SIZE=512M BENCH_RUNS=3 bench/commit-rebase.sh   # quick run
# More knobs: BENCH_CLUSTER (64k), BENCH_DIRTY_PCT (25), BENCH_CACHE,
# NBDKIT_PLUGIN, BENCH_DIR, BENCH_KEEP, BENCH_SEED (see common.sh).

source "$(dirname "$0")/common.sh"

SIZE=$(parse_size "${BENCH_SIZE:-4G}")
CLUSTER=$(parse_size "${BENCH_CLUSTER:-64k}")
PCT=${BENCH_DIRTY_PCT:-25}
RUNS=${BENCH_RUNS:-5}
: "${NBDKIT_PLUGIN:=$(dirname "$ADDCOW_IMG")/nbdkit-addcow/nbdkit-addcow-plugin.so}"

(( SIZE % CLUSTER == 0 )) || die "BENCH_SIZE must be a multiple of the cluster size"
NB=$(( SIZE / CLUSTER ))
DIRTY=$(( NB * PCT / 100 ))
DBYTES=$(( DIRTY * CLUSTER ))           # what commit moves
RBYTES=$(( SIZE - DBYTES ))             # what flatten writes

need_tools
# pristine set (base + 2 overlays) + reference read-out + the largest phase
# (flatten: one shared base copy + two full data files)
NEED=$(( SIZE + 2 * DBYTES + SIZE + 3 * SIZE + (512 << 20) ))
make_work "$NEED"
probe_drop_caches
CACHE=${BENCH_CACHE:-$([ "$CAN_DROP" = 1 ] && echo cold || echo warm)}
[ "$CACHE" = cold ] && [ "$CAN_DROP" != 1 ] &&
  die "BENCH_CACHE=cold but /proc/sys/vm/drop_caches is not writable"
REFLINK=0       # do copies share extents here?
: > "$WORK/reflink.a"
cp --reflink=always "$WORK/reflink.a" "$WORK/reflink.b" 2>/dev/null && REFLINK=1
rm -f "$WORK/reflink.a" "$WORK/reflink.b"
# The targets, for the Markdown tables and the TSV rows alike: ratios of
# addcow-img's time to qemu-img's, and to the floor of the same work.
if [ "$REFLINK" = 1 ]; then
  COMMIT_TARGET=0.3333 FLATTEN_TARGET=0.05 FLOOR_TARGET=-
else
  COMMIT_TARGET=1 FLATTEN_TARGET=1 FLOOR_TARGET=1.1
fi
HAVE_NBD=0
[ -f "$NBDKIT_PLUGIN" ] && command -v nbdkit >/dev/null && HAVE_NBD=1

READY=0         # create/map/addcow-io work
addcow_ready && READY=1
P=$WORK/pristine
REF=$WORK/reference.raw
mkdir "$P"

# works CMD...: does an addcow-img subcommand work on a tiny image?
works() {
  local t=$WORK/probe
  rm -rf "$t" && mkdir "$t" && truncate -s 1M "$t/b.raw" &&
    (cd "$t" && "$ADDCOW_IMG" create -q -f add-cow -b b.raw -F raw o.add-cow) &&
    "$ADDCOW_IO" -c 'write -P 0x11 0 64k' "$t/o.add-cow" >/dev/null &&
    (cd "$t" && "$@" o.add-cow) >/dev/null 2>"$t/err"
  local rc=$?
  [ "$rc" -ne 0 ] && [ -f "$t/err" ] && note "probe '$*': $(head -n1 "$t/err")"
  rm -rf "$t"
  return "$rc"
}
COMMIT_OK=0 REBASE_OK=0
if [ "$READY" = 1 ]; then
  works "$ADDCOW_IMG" commit -q && COMMIT_OK=1
  works "$ADDCOW_IMG" rebase -q -b "" && REBASE_OK=1
fi

section "setup"
print_machine
note "nbdkit:      $([ "$HAVE_NBD" = 1 ] && echo "$(tool_version nbdkit), plugin $NBDKIT_PLUGIN" || echo "no plugin: pattern reads only")"
note "images:      base $(human_bytes "$SIZE") of random data (seed $BENCH_SEED), cluster $(human_bytes "$CLUSTER"), $NB clusters, $DIRTY dirty ($PCT %) at random"
note "file system: $(stat -f -c %T "$WORK"), copies $([ "$REFLINK" = 1 ] && echo share extents || echo move bytes)"
note "bytes moved: commit $(human_bytes "$DBYTES"), flatten $(human_bytes "$RBYTES")"
note "timing:      hyperfine, $RUNS rounds, each tool and the floor once a round, in alternating order, fresh copies before every run (not timed), $CACHE cache$([ "$CACHE" = cold ] && echo " (sync + drop_caches before every run)" || echo " (sync before every run; drop_caches not available or not asked for)")"
note "memory:      /usr/bin/time -f %M around every timed run, largest"
[ "$READY" = 1 ] || note "NOTE:        addcow-img/addcow-io not built or not runnable: qemu-img and cp only"
[ "$READY" = 1 ] && [ "$COMMIT_OK" = 0 ] && note "NOTE:        addcow-img commit does not work yet: qemu-img and cp only for commit"
[ "$READY" = 1 ] && [ "$REBASE_OK" = 0 ] && note "NOTE:        addcow-img rebase -b \"\" does not work yet: qemu-img and cp only for flatten"

# settle: make a prepared state durable and, in cold mode, drop the cache.
cat > "$WORK/settle.sh" <<EOF
sync
[ "$CACHE" = cold ] && echo 3 > /proc/sys/vm/drop_caches
exit 0
EOF

# --- the pristine set ---------------------------------------------------------

section "building the images"
cd "$P"   # qemu 7.2 resolves a relative data_file name against the cwd
t0=$(date +%s.%N)
random_file base.raw "$SIZE"
note "base.raw written in $(fmt_time "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"), $(extents base.raw) extents"
pick_clusters "$NB" "$DIRTY" > clusters
write_cmds "$CLUSTER" < clusters > writes
read_cmds "$CLUSTER" < clusters > reads
"$QEMU_IMG" create -q -f qcow2 -o "cluster_size=$CLUSTER,data_file=ov.data,data_file_raw=off,backing_file=base.raw,backing_fmt=raw" ov.qcow2
"$QEMU_IO" -f qcow2 ov.qcow2 < writes > qemu-io.out
"$QEMU_IMG" map --output=json -f qcow2 ov.qcow2 > map.qemu
note "qcow2 overlay: $(grep -c '"depth": 0' map.qemu) runs of own data in $(wc -l < map.qemu) map entries"
"$QEMU_IMG" convert -f qcow2 -O raw ov.qcow2 "$REF"
note "reference read-out of the qcow2 overlay's disk: $REF"
if [ "$READY" = 1 ]; then
  "$ADDCOW_IMG" create -q -f add-cow -b base.raw -F raw -o "cluster_size=$CLUSTER" ov.add-cow
  "$ADDCOW_IO" ov.add-cow < writes > /dev/null || die "addcow-io failed"
  "$ADDCOW_IMG" map --output=json ov.add-cow > map.addcow
  if cmp -s map.addcow map.qemu; then
    note "add-cow map identical to qemu-img's: yes"
  else
    note "add-cow map identical to qemu-img's: NO"; BAD=1
  fi
fi
sync

# check_addcow_disk LABEL FILE: does add-cow image FILE read as the reference?
check_addcow_disk() {
  local label=$1 f=$2
  if "$ADDCOW_IO" -r "$f" < "$P/reads" > "$WORK/reads.out" 2>&1 &&
     ! grep -q 'verification failed' "$WORK/reads.out"; then
    note "$label: pattern read of the $DIRTY dirty clusters: ok"
  else
    note "$label: pattern read of the dirty clusters: FAILED"; BAD=1
  fi
  [ "$HAVE_NBD" = 1 ] || return 0
  if nbdkit -r -U - "$NBDKIT_PLUGIN" file="$f" readonly=true \
       --run "$QEMU_IMG compare -q -f raw -F raw \"\$uri\" $REF" 2>/dev/null; then
    note "$label: whole disk read through nbdkit equals the reference: ok"
  else
    note "$label: whole disk read through nbdkit equals the reference: FAILED"; BAD=1
  fi
}
# same FILE LABEL: is FILE byte-identical to the reference?
same() {
  if cmp -s "$1" "$REF"; then note "$2: identical to the reference: ok"
  else note "$2: identical to the reference: FAILED"; BAD=1; fi
}
# no_own_data MAPFILE LABEL: after a commit the overlay must own nothing.
no_own_data() {
  if grep -q '"depth": 0, "present": true, "zero": false' "$1"; then
    note "$2: overlay still owns data: FAILED"; BAD=1
  else note "$2: overlay emptied: ok"; fi
}
[ "$READY" = 1 ] && check_addcow_disk "add-cow overlay before" "$P/ov.add-cow"

# floor_setup NAME BYTES [punch|holes]: the floor commands of one
# operation, timed by bench_phase in the same rounds as the two tools: cp
# of BYTES random bytes into a new file, alone and followed by sync FILE;
# with "punch" also followed by punching the overlay's data runs out of a
# fresh copy of its image file and its fsync (commit's floor, above); with
# "holes", on its own, the runs flatten copies copied into the holes of a
# fresh copy of the image file, and fsync (flatten's floor).  Sets
# FLOOR_DIR, FLOOR_MODE, FLOOR_PREP and FLOOR_CMDS.
floor_setup() {
  local bytes=$2 d=$WORK/cp-${1// /}
  FLOOR_DIR=$d FLOOR_MODE=${3:-} FLOOR_PREP=$d/prep.sh
  mkdir -p "$d"
  head -c "$bytes" "$P/base.raw" > "$d/src"
  cat > "$d/prep.sh" <<EOF
set -e
rm -f $d/dst $d/ov.raw
$([ -n "$FLOOR_MODE" ] && echo "cp --reflink=never --sparse=always $P/ov.raw $d/ov.raw")
bash $WORK/settle.sh
EOF
  FLOOR_CMDS=("cp --reflink=never $d/src $d/dst"
              "cp --reflink=never $d/src $d/dst && sync $d/dst")
  if [ "$FLOOR_MODE" = punch ]; then
    jq -r '[.[] | select(.depth == 0 and .data)] |
      "fpunch \(.[0].start) \(.[-1].start + .[-1].length - .[0].start)"' \
      "$P/map.addcow" > "$d/punch"
    echo fsync >> "$d/punch"
    FLOOR_CMDS+=("${FLOOR_CMDS[1]} && xfs_io $d/ov.raw < $d/punch")
  elif [ "$FLOOR_MODE" = holes ]; then
    jq -r --arg src "$P/base.raw" '.[] | select(.depth != 0 and .data) |
      "copy_range -s \(.start) -d \(.start) -l \(.length) \($src)"' \
      "$P/map.addcow" > "$d/holes"
    echo fsync >> "$d/holes"
    FLOOR_CMDS+=("xfs_io $d/ov.raw < $d/holes")
  fi
}

# bench_phase NAME DIR_A CMD_A DIR_Q CMD_Q PREP_A PREP_Q: time both tools
# and the floor commands of floor_setup, interleaved (hf), each tool's
# command run in its directory under /usr/bin/time (CMD_A empty: qemu-img
# only).  Sets TA, TQ (medians, or n/a), MA, MQ (peak KiB), and from the
# floor TC (cp), TCS (cp + fsync), TCP (the third command, or n/a).
bench_phase() {
  local name=$1 da=$2 a=$3 dq=$4 q=$5 pa=$6 pq=$7 json=$WORK/hf-$1.json
  local ma=$WORK/mem-$1-a mq=$WORK/mem-$1-q i0=0 f
  local -a preps=() cmds=()
  rm -f "$ma" "$mq"
  if [ -n "$a" ]; then
    preps+=(--prepare "bash $pa")
    cmds+=("cd $da && /usr/bin/time -f %M -a -o $ma $a")
    i0=1
  fi
  preps+=(--prepare "bash $pq")
  cmds+=("cd $dq && /usr/bin/time -f %M -a -o $mq $q")
  for f in "${FLOOR_CMDS[@]}"; do
    preps+=(--prepare "bash $FLOOR_PREP")
    cmds+=("$f")
  done
  hf "$json" --runs "$RUNS" "${preps[@]}" -- "${cmds[@]}"
  TA=n/a MA=n/a
  if [ -n "$a" ]; then
    TA=$(median "$json" 0)
    MA=$(sort -n "$ma" | tail -n1)
    note "$name: addcow-img $(stats "$json" 0)"
  fi
  TQ=$(median "$json" "$i0")
  note "$name: qemu-img   $(stats "$json" "$i0")"
  MQ=$(sort -n "$mq" | tail -n1)
  floor_results "$json" $(( i0 + 1 ))
}

# floor_results JSON INDEX: the floor's medians (its first command at
# INDEX), then one more run of each command that leaves a result, checked.
floor_results() {
  local json=$1 i=$2 d=$FLOOR_DIR bytes
  bytes=$(stat -c %s "$d/src")
  TC=$(median "$json" "$i"); TCS=$(median "$json" $(( i + 1 ))); TCP=n/a
  [ -n "$FLOOR_MODE" ] && TCP=$(median "$json" $(( i + 2 )))
  note "cp $(human_bytes "$bytes"):        $(stats "$json" "$i")"
  note "cp $(human_bytes "$bytes") + fsync: $(stats "$json" $(( i + 1 )))"
  bash "$FLOOR_PREP" && bash -c "${FLOOR_CMDS[1]}"
  cmp -s "$d/src" "$d/dst" || { note "cp: copy differs?!"; BAD=1; }
  [ -n "$FLOOR_MODE" ] && bash "$FLOOR_PREP" && bash -c "${FLOOR_CMDS[2]}"
  if [ "$FLOOR_MODE" = punch ]; then
    note "cp $(human_bytes "$bytes") + fsync + punching the overlay's data ($(head -n1 "$d/punch")) + fsync: $(stats "$json" $(( i + 2 )))"
    [ "$(du -B1 "$d/ov.raw" | cut -f1)" = 0 ] ||
      note "NOTE: the punches left $(du -B1 "$d/ov.raw" | cut -f1) bytes in the image file copy"
  elif [ "$FLOOR_MODE" = holes ]; then
    note "the same $(( $(wc -l < "$d/holes") - 1 )) runs copied into the holes of the image file (xfs_io copy_range) + fsync: $(stats "$json" $(( i + 2 )))"
    cmp -s "$d/ov.raw" "$REF" ||
      { note "the runs copied into the holes: not the flattened disk?!"; BAD=1; }
  fi
  rm -rf "$d"
}

# qemu_row / cp_rows: the table rows of one phase.
qemu_row() {   # qemu_row LABEL TARGET
  local v=n/a
  [ "$TA" != n/a ] && v=$(pass_if le "$(ratio "$TA" "$TQ")" "$2")
  row "$1" "$(fmt_time "$TA")" "$(fmt_time "$TQ")" "$(ratio "$TA" "$TQ")" "<= ${2}x qemu-img" "$v"
}
mem_row() {    # mem_row LABEL
  row "$1" "$(fmt_kib "$MA")" "$(fmt_kib "$MQ")" "$(ratio "$MA" "$MQ")" - -
}
CP_ROWS=()
cp_rows() {    # cp_rows LABEL BYTES [FLOOR [NAME]]: FLOOR (s) of its own work
  local v3=- t3=- saved=("${ROWS[@]}") tp=${3:-}
  ROWS=("${CP_ROWS[@]}")
  if [ "$FLOOR_TARGET" != - ]; then
    t3="<= ${FLOOR_TARGET}x floor" v3=n/a
    [ -n "$tp" ] && [ "$TA" != n/a ] && [ "$tp" != n/a ] &&
      v3=$(pass_if le "$(ratio "$TA" "$tp")" "$FLOOR_TARGET")
  fi
  [ -n "$tp" ] &&
    row "$1 vs ${4:-cp + fsync + punch} (its floor)" "$(fmt_time "$TA")" "$(fmt_time "$tp")" "$(ratio "$TA" "$tp")" "$t3" "$v3"
  row "$1 vs cp $(human_bytes "$2") + fsync" "$(fmt_time "$TA")" "$(fmt_time "$TCS")" "$(ratio "$TA" "$TCS")" - -
  row "$1 vs cp $(human_bytes "$2"), no fsync" "$(fmt_time "$TA")" "$(fmt_time "$TC")" "$(ratio "$TA" "$TC")" - -
  row "(qemu-img $1 vs cp + fsync)" "-" "$(fmt_time "$TQ")" "$(ratio "$TQ" "$TCS")" - -
  CP_ROWS=("${ROWS[@]}")
  ROWS=("${saved[@]}")
}

# --- commit -------------------------------------------------------------------

# commit_phase NAME [-d]: time commit (or commit -d, which keeps the
# overlay's data and so measures the copy alone), check the results.
commit_phase() {
  local name=$1 opt=${2:-} dn=${1// /} a_cmd=
  local ca=$WORK/$dn-addcow cq=$WORK/$dn-qemu
  section "$name: $(human_bytes "$DBYTES") from the overlay into the base"
  cat > "$WORK/prep-$dn-a.sh" <<EOF
set -e
rm -rf $ca && mkdir $ca
cp --reflink=never $P/base.raw $ca/
cp --reflink=never --sparse=always $P/ov.add-cow $P/ov.raw $ca/
bash $WORK/settle.sh
EOF
  cat > "$WORK/prep-$dn-q.sh" <<EOF
set -e
rm -rf $cq && mkdir $cq
cp --reflink=never $P/base.raw $cq/
cp --reflink=never --sparse=always $P/ov.qcow2 $P/ov.data $cq/
bash $WORK/settle.sh
EOF
  [ "$COMMIT_OK" = 1 ] && a_cmd="$ADDCOW_IMG commit -q $opt ov.add-cow"
  bench_phase "$dn" "$ca" "$a_cmd" "$cq" "$QEMU_IMG commit -q $opt -f qcow2 ov.qcow2" \
    "$WORK/prep-$dn-a.sh" "$WORK/prep-$dn-q.sh"
  # the state left by the last run of each
  if [ "$COMMIT_OK" = 1 ]; then
    same "$ca/base.raw" "addcow-img $name: base.raw"
    "$ADDCOW_IMG" map --output=json "$ca/ov.add-cow" > "$WORK/map.ca"
    if [ -z "$opt" ]; then
      no_own_data "$WORK/map.ca" "addcow-img $name"
    elif cmp -s "$WORK/map.ca" "$P/map.addcow"; then
      note "addcow-img $name: overlay kept its data: ok"
    else note "addcow-img $name: overlay kept its data: FAILED"; BAD=1; fi
    if "$ADDCOW_IMG" check "$ca/ov.add-cow" >/dev/null 2>&1; then
      note "addcow-img $name: check: clean"
    else note "addcow-img $name: check: FAILED"; BAD=1; fi
    note "addcow-img $name: image file now holds $(du -B1 "$ca/ov.raw" | cut -f1) bytes on disk"
    check_addcow_disk "addcow-img $name: overlay after" "$ca/ov.add-cow"
  fi
  same "$cq/base.raw" "qemu-img $name: base.raw"
  (cd "$cq" && "$QEMU_IMG" map --output=json -f qcow2 ov.qcow2) > "$WORK/map.cq"
  if [ -z "$opt" ]; then
    no_own_data "$WORK/map.cq" "qemu-img $name"
  elif cmp -s "$WORK/map.cq" "$P/map.qemu"; then
    note "qemu-img $name: overlay kept its data: ok"
  else note "qemu-img $name: overlay kept its data: FAILED"; BAD=1; fi
  rm -rf "$ca" "$cq"
  sync
  qemu_row "$name ($(human_bytes "$DBYTES") moved)" "$COMMIT_TARGET"
  mem_row "$name, peak RSS"
}

# the floor's punches and holes need xfs_io and the runs (map.addcow)
FLOOR_XFS_IO=0
[ "$READY" = 1 ] && command -v xfs_io >/dev/null && FLOOR_XFS_IO=1

floor_setup commit "$DBYTES" $([ "$FLOOR_XFS_IO" = 1 ] && echo punch)
commit_phase commit
COMMIT_TA=$TA COMMIT_TQ=$TQ COMMIT_TCP=$TCP
COMMIT_FLOOR="cp + fsync of the same bytes + punching them out"
if [ "$TCP" = n/a ]; then   # no xfs_io (or no map): the copy alone
  COMMIT_TCP=$TCS COMMIT_FLOOR="cp + fsync of the same bytes (punches not timed: no xfs_io)"
fi
cp_rows commit "$DBYTES" "$TCP"   # n/a without xfs_io
if [ "${BENCH_COMMIT_D:-1}" = 1 ]; then
  floor_setup "commit -d" "$DBYTES"
  commit_phase "commit -d" -d
  COMMITD_TA=$TA COMMITD_TQ=$TQ COMMITD_TCS=$TCS
  cp_rows "commit -d" "$DBYTES"
fi

# --- flatten ------------------------------------------------------------------

section "flatten (rebase -b \"\"): $(human_bytes "$RBYTES") from the base into the overlay"
F=$WORK/flatten-base FA=$WORK/flatten-addcow FQ=$WORK/flatten-qemu
mkdir "$F" "$FA" "$FQ"
cp --reflink=never "$P/base.raw" "$F/base.raw"
chmod a-w "$F/base.raw"    # flatten only reads the base
ln "$F/base.raw" "$FA/base.raw"
ln "$F/base.raw" "$FQ/base.raw"
cat > "$WORK/prep-fa.sh" <<EOF
set -e
rm -f $FA/ov.add-cow $FA/ov.raw
cp --reflink=never --sparse=always $P/ov.add-cow $P/ov.raw $FA/
bash $WORK/settle.sh
EOF
cat > "$WORK/prep-fq.sh" <<EOF
set -e
rm -f $FQ/ov.qcow2 $FQ/ov.data
cp --reflink=never --sparse=always $P/ov.qcow2 $P/ov.data $FQ/
bash $WORK/settle.sh
EOF
floor_setup flatten "$RBYTES" $([ "$FLOOR_XFS_IO" = 1 ] && echo holes)
A_CMD=
[ "$REBASE_OK" = 1 ] && A_CMD="$ADDCOW_IMG rebase -q -b '' ov.add-cow"
bench_phase flatten "$FA" "$A_CMD" "$FQ" "$QEMU_IMG rebase -q -f qcow2 -b '' ov.qcow2" \
  "$WORK/prep-fa.sh" "$WORK/prep-fq.sh"
if [ "$REBASE_OK" = 1 ]; then
  same "$FA/ov.raw" "addcow-img rebase -b '': ov.raw alone"
  if "$ADDCOW_IMG" info --output=json "$FA/ov.add-cow" |
       jq -e 'has("backing-filename") | not' >/dev/null; then
    note "addcow-img rebase -b '': no backing file left: ok"
  else note "addcow-img rebase -b '': still has a backing file: FAILED"; BAD=1; fi
  if "$ADDCOW_IMG" check "$FA/ov.add-cow" >/dev/null 2>&1; then
    note "addcow-img rebase -b '': check: clean"
  else note "addcow-img rebase -b '': check: FAILED"; BAD=1; fi
fi
if (cd "$FQ" && "$QEMU_IMG" compare -q -f qcow2 -F raw ov.qcow2 "$REF"); then
  note "qemu-img rebase -b '': disk equals the reference: ok"
else note "qemu-img rebase -b '': disk equals the reference: FAILED"; BAD=1; fi
if (cd "$FQ" && "$QEMU_IMG" info --output=json -f qcow2 ov.qcow2) |
     jq -e 'has("backing-filename") | not' >/dev/null; then
  note "qemu-img rebase -b '': no backing file left: ok"
else note "qemu-img rebase -b '': still has a backing file: FAILED"; BAD=1; fi
if cmp -s "$F/base.raw" "$P/base.raw"; then note "flatten: base.raw untouched: ok"
else note "flatten: base.raw was modified: FAILED"; BAD=1; fi
rm -rf "$F" "$FA" "$FQ"
FLATTEN_TCP=$TCP FLATTEN_FLOOR="the same runs copied into the same holes + fsync"
FLATTEN_CP_TCP=$TCS
if [ "$TCP" = n/a ]; then   # no xfs_io (or no map): into a new file
  FLATTEN_TCP=$TCS FLATTEN_FLOOR="cp + fsync of the same bytes (no xfs_io: into a new file)"
  FLATTEN_CP_TCP=n/a
fi
qemu_row "rebase -b '' ($(human_bytes "$RBYTES") written)" "$FLATTEN_TARGET"
mem_row "rebase -b '', peak RSS"
cp_rows "rebase -b ''" "$RBYTES" "$TCP" "the same runs into the same holes"
FLATTEN_TA=$TA FLATTEN_TQ=$TQ

# tsv_rows LABEL OURS PEER FLOOR PEER_TARGET [FLOOR_NAME [CP_FLOOR
# CP_NAME]]: bench/run's rows of one operation (times in s, n/a as '-'):
# against qemu-img, against the floor, and, when the floor is the same
# work in place, against cp of the same bytes into a new file (no target).
tsv_rows() {
  local a=${2/n\/a/-} q=${3/n\/a/-} f=${4/n\/a/-} ft=- c=${7:-n/a}
  [ "$FLOOR_TARGET" != - ] && ft="<=${FLOOR_TARGET}*floor"
  bench_tsv "$1 vs qemu-img" "$a" "$q" "$f" "$5"
  bench_tsv "$1 vs ${6:-cp + fsync of the same bytes}" "$a" "$q" "$f" "$ft"
  [ "$c" != n/a ] && [ "$FLOOR_TARGET" != - ] &&
    bench_tsv "$1 vs $8 (no target)" "$a" "$q" "$c" -
  return 0
}
tsv_rows "commit" "$COMMIT_TA" "$COMMIT_TQ" "$COMMIT_TCP" "<=${COMMIT_TARGET}*peer" "$COMMIT_FLOOR"
[ "${BENCH_COMMIT_D:-1}" = 1 ] &&
  tsv_rows "commit -d" "$COMMITD_TA" "$COMMITD_TQ" "$COMMITD_TCS" "<=${COMMIT_TARGET}*peer"
tsv_rows "flatten" "$FLATTEN_TA" "$FLATTEN_TQ" "$FLATTEN_TCP" "<=${FLATTEN_TARGET}*peer" \
  "$FLATTEN_FLOOR" "$FLATTEN_CP_TCP" "cp + fsync of the same bytes into a new file"

# --- report -------------------------------------------------------------------

print_table "against qemu-img: $(human_bytes "$SIZE") base, $DIRTY/$NB clusters of $(human_bytes "$CLUSTER") dirty, $CACHE cache, median of $RUNS" addcow-img qemu-img
ROWS=("${CP_ROWS[@]}")
print_table "against cp of the same number of bytes (into a new file)" addcow-img cp
echo
say "load average at the end: $(load_avg)"
if [ "$BAD" = 1 ]; then
  say "RESULT: a correctness check failed (see above)"
  exit 1
fi
[ "$COMMIT_OK" = 1 ] && [ "$REBASE_OK" = 1 ] || say "NOTE: addcow-img commit/rebase not available yet: their columns are n/a"
say "done"
