# common.sh - helpers shared by the bench/ scripts.  Sourced, not run.
#
# Environment understood by every script (all optional):
#   BENCH_DIR     parent of the scratch directory (default /tmp); the scripts
#                 make a fresh addcow-bench.XXXXXX inside it and remove it
#                 at exit
#   BENCH_KEEP=1  keep the scratch directory (for a look afterwards)
#   BENCH_SEED    seed of the random data and of the choice of clusters (42)
#   BENCH_RUNS    timed runs per command (each script has its own default)
#   ADDCOW_IMG, ADDCOW_IO   the tools under test (default: build/cmd/...)
#   QEMU_IMG, QEMU_IO       the reference (default: qemu-img, qemu-io)
#
# Benchmarks are not tests: they print figures and a pass/fail verdict per
# target, and exit 0 unless the set-up itself failed or a result was wrong
# (a correctness check failed), which exits 1.

set -euo pipefail
export LC_ALL=C

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/.." && pwd)
: "${ADDCOW_IMG:=$REPO/build/cmd/addcow-img}"
: "${ADDCOW_IO:=$REPO/build/cmd/addcow-io}"
: "${QEMU_IMG:=qemu-img}"
: "${QEMU_IO:=qemu-io}"
: "${BENCH_SEED:=42}"
: "${BENCH_KEEP:=0}"

WORK=
BAD=0               # set to 1 when a correctness check fails
ROWS=()             # table rows, '|'-separated

say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
section() { printf '\n== %s\n' "$*"; }

# --- tools ------------------------------------------------------------------

# need_tools: make sure the measuring tools are there (Debian packages).
need_tools() {
  local missing=() t
  for t in hyperfine:hyperfine jq:jq "$QEMU_IMG":qemu-utils \
           "$QEMU_IO":qemu-utils openssl:openssl shuf:coreutils \
           numfmt:coreutils /usr/bin/time:time; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t##*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing tools: ${missing[*]} (apt-get install them)"
  fi
}

# addcow_ready: are addcow-img and addcow-io built and runnable?
addcow_ready() {
  [ -x "$ADDCOW_IMG" ] && [ -x "$ADDCOW_IO" ] &&
    "$ADDCOW_IMG" --version >/dev/null 2>&1
}

tool_version() {   # tool_version CMD: first line of CMD --version, or why not
  local v
  if v=$("$1" --version 2>/dev/null | head -n1) && [ -n "$v" ]; then
    printf '%s' "$v"
  else
    printf 'not available (%s)' "$1"
  fi
}

print_machine() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  note "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
  note "machine:     $(nproc) cores, ${cpu:-unknown CPU}, $mem RAM, Linux $(uname -r)"
  note "scratch:     $WORK ($(stat -f -c %T "$WORK"), $(df -h --output=avail "$WORK" | tail -n1 | tr -d ' ') free)"
  note "addcow-img:  $(tool_version "$ADDCOW_IMG") [$ADDCOW_IMG]"
  note "addcow-io:   $(tool_version "$ADDCOW_IO")"
  note "qemu-img:    $(tool_version "$QEMU_IMG")"
  note "qemu-io:     $(tool_version "$QEMU_IO")"
  note "hyperfine:   $(tool_version hyperfine)"
  note "git:         $(git -C "$REPO" log -1 --format='%h %s' 2>/dev/null | cut -c1-70)"
  note "load:        $(load_avg) (2 cores are shared: other jobs make the figures noisy)"
}

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

# extents FILE: how many extents FILE has (SEEK_HOLE/SEEK_DATA cost grows
# with it on ext4), or '?'.
extents() {
  filefrag "$1" 2>/dev/null | awk '{ print $(NF-2) }' || printf '?'
}

# --- scratch directory ------------------------------------------------------

cleanup() {
  local rc=$?
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$BENCH_KEEP" = 1 ]; then
      say "kept $WORK"
    else
      rm -rf -- "$WORK"
    fi
  fi
  exit "$rc"
}

# make_work NEED_BYTES: a fresh scratch directory with NEED_BYTES free.
make_work() {
  local parent=${BENCH_DIR:-/tmp} avail
  mkdir -p -- "$parent"
  WORK=$(mktemp -d "$parent/addcow-bench.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  avail=$(df --output=avail -B1 "$WORK" | tail -n1)
  if [ "$avail" -lt "$1" ]; then
    die "$WORK: needs $(human_bytes "$1") free, has $(human_bytes "$avail") (set BENCH_DIR or BENCH_SIZE)"
  fi
}

# --- numbers ----------------------------------------------------------------

parse_size() {   # 4G -> 4294967296 (binary suffixes, as qemu-img)
  local s=${1%[bB]}
  case $s in *[kmgtpe]) s=${s%?}$(printf '%s' "${s: -1}" | tr a-z A-Z) ;; esac
  numfmt --from=iec "$s" 2>/dev/null || die "bad size: $1"
}

human_bytes() {  # 4294967296 -> "4 GiB", 1610612736 -> "1.5 GiB"
  awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB PiB EiB", u, " ");
    i = 1; while (b >= 1024 && i < 7) { b /= 1024; i++ }
    if (b == int(b)) printf "%d %s", b, u[i]; else printf "%.2f %s", b, u[i] }'
}

fmt_time() {     # seconds -> "12.3 ms" / "4.567 s"; '-' stays '-'
  case $1 in -|n/a|ERR*) printf '%s' "$1"; return ;; esac
  awk -v s="$1" 'BEGIN { if (s < 1) printf "%.2f ms", s * 1000;
                         else printf "%.3f s", s }'
}

fmt_kib() {      # KiB -> "12.3 MiB"
  case $1 in -|n/a|ERR*) printf '%s' "$1"; return ;; esac
  awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

ratio() {        # ratio A B -> A/B with 3 decimals, or '-'
  case "$1$2" in *[!0-9.e+-]*|'') printf -- '-'; return ;; esac
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b;
                                   else printf "-" }'
}

le() {           # le A B: is A <= B (numbers)?  '-' is never
  case "$1$2" in *[!0-9.e+-]*|'') return 1 ;; esac
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'
}

pass_if() {      # pass_if CMD...: prints pass when CMD succeeds, else FAIL
  if "$@"; then printf 'pass'; else printf 'FAIL'; fi
}

# --- data -------------------------------------------------------------------

# keystream NAME: endless reproducible pseudo-random bytes for seed NAME.
keystream() {
  openssl enc -aes-128-ctr -pass "pass:$1" -nosalt -pbkdf2 \
    -in /dev/zero 2>/dev/null || true
}

# random_file PATH BYTES: BYTES of reproducible random data (BENCH_SEED).
random_file() {
  keystream "base-$BENCH_SEED" | head -c "$2" > "$1"
  [ "$(stat -c %s "$1")" -eq "$2" ] || die "$1: short random file"
}

# pick_clusters NB_CLUSTERS COUNT: COUNT distinct cluster numbers in
# [0, NB_CLUSTERS), sorted, chosen reproducibly from BENCH_SEED.
pick_clusters() {
  shuf -i "0-$(( $1 - 1 ))" -n "$2" \
    --random-source=<(keystream "pick-$BENCH_SEED-$1-$2") | sort -n
}

# write_cmds CLUSTER_SIZE < clusters > commands: one qemu-io style write per
# cluster, with a per-cluster pattern (never 0, so it is real data).
write_cmds() {
  awk -v c="$1" '{ printf "write -P 0x%02x %.0f %.0f\n", 1 + $1 % 255, $1 * c, c }'
}

# read_cmds CLUSTER_SIZE < clusters > commands: the matching verifications.
read_cmds() {
  awk -v c="$1" '{ printf "read -P 0x%02x %.0f %.0f\n", 1 + $1 % 255, $1 * c, c }'
}

# --- caches -----------------------------------------------------------------

CAN_DROP=0
probe_drop_caches() {
  sync
  if [ -w /proc/sys/vm/drop_caches ] &&
     (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
    CAN_DROP=1
  fi
}

# --- measuring --------------------------------------------------------------

# hf JSON [hyperfine options...] -- CMD...: time CMDs with hyperfine and
# keep a JSON of its shape ({"results": [{command, times, min, max,
# mean}, ...]}; median and stats below take the median of the times).  Several CMDs are interleaved: --runs N rounds of one
# run each, in alternating order (A B C, C B A, ...), so that a disk whose
# speed wanders between minutes moves every command alike (hyperfine alone
# runs all of A's runs before B's).  One --prepare goes with every CMD, or
# one per CMD, in order, as with hyperfine; --warmup runs in the first
# round only.
hf() {
  local json=$1 runs=10 warmup= n i k r parts=() opts=() preps=() cmds=()
  shift
  while [ "$1" != -- ]; do
    case $1 in
      --runs) runs=$2; shift 2 ;;
      --prepare) preps+=("$2"); shift 2 ;;
      --warmup) warmup=$2; shift 2 ;;
      *) opts+=("$1"); shift ;;
    esac
  done
  shift
  cmds=("$@") n=${#cmds[@]}
  [ "${#preps[@]}" -le 1 ] || [ "${#preps[@]}" = "$n" ] ||
    die "hf: ${#preps[@]} --prepare for $n commands"
  for (( r = 0; r < runs; r++ )); do
    for (( k = 0; k < n; k++ )); do
      i=$k; (( r % 2 )) && i=$(( n - 1 - k ))
      local one=("${opts[@]}") part=$json.$r.$i
      [ "${#preps[@]}" = 1 ] && one+=(--prepare "${preps[0]}")
      [ "${#preps[@]}" -gt 1 ] && one+=(--prepare "${preps[$i]}")
      [ -n "$warmup" ] && [ "$r" = 0 ] && one+=(--warmup "$warmup")
      hyperfine --style "${BENCH_HF_STYLE:-none}" --export-json "$part" \
        --runs 1 "${one[@]}" -- "${cmds[$i]}" >&2 || return
    done
  done
  for (( i = 0; i < n; i++ )); do
    for (( r = 0; r < runs; r++ )); do parts+=("$json.$r.$i"); done
  done
  # the parts command by command, each command's rounds in order
  jq -s --argjson runs "$runs" '
    [.[] | .results[0]] | [range(0; length; $runs) as $s | .[$s:$s + $runs]]
    | {results: [.[] | [.[].times[]] as $t
        | {command: .[0].command, times: $t, min: ($t | min),
           max: ($t | max), mean: ($t | add / length)}]}
  ' "${parts[@]}" > "$json.tmp" || return
  mv "$json.tmp" "$json"
  rm -f "${parts[@]}"
}

# median JSON INDEX: median time in seconds of command INDEX.
median() { jq -r ".results[$2].times[]" "$1" | median_of; }
stats() {  # stats JSON INDEX: "median (min..max, n runs)"
  local m
  m=$(median "$1" "$2")
  jq -r ".results[$2] | \"\(.min) \(.max) \(.times | length)\"" "$1" |
    awk -v m="$m" '{ printf "median %.4f s (min %.4f, max %.4f, %d runs)", m, $1, $2, $3 }'
}

# peak_kib RUNS CMD...: largest peak RSS (KiB) of RUNS runs of CMD.
peak_kib() {
  local n=$1 i best=0 k f=$WORK/.time.out
  shift
  for (( i = 0; i < n; i++ )); do
    /usr/bin/time -f %M -o "$f" "$@" >/dev/null 2>&1 || { printf 'ERR'; return; }
    k=$(tail -n1 "$f")
    [ "$k" -gt "$best" ] && best=$k
  done
  printf '%s' "$best"
}

# runs_ok CMD...: does CMD succeed?  Prints its stderr when it does not.
runs_ok() {
  local err
  if err=$("$@" 2>&1 >/dev/null); then return 0; fi
  printf '  ! %s failed: %s\n' "$*" "$(printf '%s' "$err" | head -n3)" >&2
  return 1
}

# --- table ------------------------------------------------------------------

row() { ROWS+=("$(IFS='|'; printf '%s' "$*")"); }   # row F1 F2 ... F6

# print_table TITLE COL2 COL3: a Markdown table of the rows, then forget them.
print_table() {
  local r
  printf '\n### %s\n\n' "$1"
  printf '| %-40s | %-12s | %-12s | %-7s | %-18s | %-9s |\n' \
    operation "$2" "$3" ratio target pass/fail
  printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" \
    "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..9})" "$(printf -- '-%.0s' {1..20})" \
    "$(printf -- '-%.0s' {1..11})"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r f1 f2 f3 f4 f5 f6 <<<"$r"
    printf '| %-40s | %-12s | %-12s | %-7s | %-18s | %-9s |\n' \
      "$f1" "$f2" "$f3" "$f4" "$f5" "$f6"
  done
  ROWS=()
}

# --- bench/run's convention (bench/README.md) --------------------------------

# BENCH_SCALE=small asks for a smoke run: tiny sizes, one run each.
: "${BENCH_SCALE:=full}"

# bench_tsv OPERATION OURS PEER FLOOR TARGET [UNIT]: one result row for
# bench/run's table, appended to $BENCH_TSV when bench/run set it.  OURS,
# PEER, FLOOR are numbers in UNIT (s by default; also KiB, MiB/s) or '-';
# TARGET is '-', '<=K*peer', '<=K*floor', '>=K*peer', '>=K*floor' or '<=N'.
bench_tsv() {
  [ -n "${BENCH_TSV:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-s}" >> "$BENCH_TSV"
}

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# time_cmd CMD...: run CMD, print its wall time in seconds (its output goes
# to /dev/null; a failure is a failure of the bench).
time_cmd() {
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1 || die "failed: $*"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}

# median_of: the median of the numbers on stdin, one a line.
median_of() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# alternate RUNS PREPARE -- A... -- B...: time A and B RUNS times each, in
# alternating order (A B, B A, A B, ...), with PREPARE (a shell string, not
# timed) before every run; prints "MEDIAN_A MEDIAN_B".
alternate() {
  local runs=$1 prep=$2 i a=() b=() ta=() tb=()
  shift 2; [ "$1" = -- ] && shift
  while [ "$1" != -- ]; do a+=("$1"); shift; done
  shift; b=("$@")
  for (( i = 0; i < runs; i++ )); do
    if (( i % 2 == 0 )); then
      bash -c "$prep" >/dev/null 2>&1 || die "prepare failed: $prep"; ta+=("$(time_cmd "${a[@]}")")
      bash -c "$prep" >/dev/null 2>&1 || die "prepare failed: $prep"; tb+=("$(time_cmd "${b[@]}")")
    else
      bash -c "$prep" >/dev/null 2>&1 || die "prepare failed: $prep"; tb+=("$(time_cmd "${b[@]}")")
      bash -c "$prep" >/dev/null 2>&1 || die "prepare failed: $prep"; ta+=("$(time_cmd "${a[@]}")")
    fi
  done
  printf '%s %s\n' "$(printf '%s\n' "${ta[@]}" | median_of)" \
    "$(printf '%s\n' "${tb[@]}" | median_of)"
}
