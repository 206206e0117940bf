# examples.bash - extract the examples of README.md and of the man pages'
# EXAMPLES sections, and run them as written.  Sourced by examples.bats.
#
# An example is a ```sh block of README.md, or an .EX/.EE block of a man
# page's EXAMPLES section, unless the line before it is
# "<!-- docs-test: skip REASON -->" (README) or '.\" docs-test: skip REASON'
# (man page), for what cannot run here (building the project, booting a VM).  The blocks of one document run in order, in
# one scratch directory, with the build tree's programs first in PATH and an
# `nbdkit` that loads the build tree's plugin for the name "addcow".
#
# A block whose lines start with "$ " is a transcript: each command (with
# the lines that continue it after a trailing \ or |) must exit 0 and print
# exactly the lines that follow it (qemu-io's timing line and the \r of
# progress output aside).  Any other block is a script: it must exit 0.
#
# Some examples work on files a reader already has (a golden image): the
# PREAMBLES below make them, each said before the block it serves.

# unroff: a man page's .EX text as the reader sees it.
unroff() {
  sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' -e 's/\\(rs/\\/g' \
      -e 's/\\(ti/~/g' -e 's/\\(ha/^/g' -e 's/\\(ga/`/g' -e 's/\\&//g' \
      -e 's/\\e/\\/g'
}

# extract DOC DIR: write the examples of DOC to DIR/1, DIR/2, ...; prints
# how many.
extract() {
  local doc=$1 dir=$2
  case $doc in
    *.md)
      awk -v dir="$dir" '
        /^```sh$/ && !skip { n++; out = dir "/" n; inblock = 1; next }
        /^```sh$/ { skip = 0; insk = 1; next }
        /^```$/ { if (inblock) close(out); inblock = 0; insk = 0; next }
        inblock { print > out; next }
        insk { next }
        /^<!-- docs-test: skip/ { skip = 1; next }
        /[^ ]/ { skip = 0 }
        END { print n + 0 }' "$doc" ;;
    *)
      awk -v dir="$dir" '
        /^\.SH / { ex = ($0 ~ /^\.SH EXAMPLES/); next }
        ex && /^\.\\" docs-test: skip/ { skip = 1; next }
        ex && /^\.EX/ && skip { skip = 0; insk = 1; next }
        insk && /^\.EE/ { insk = 0; next }
        insk { next }
        ex && /^\.EX/ { n++; out = dir "/" n; inblock = 1; next }
        ex && /^\.EE/ { close(out); inblock = 0; next }
        inblock && /^\./ { next }
        inblock { print > out }
        END { print n + 0 }' "$doc"
      local i
      for i in $(seq 1 "$(ls "$dir" | wc -l)"); do
        unroff < "$dir/$i" > "$dir/$i.tmp" && mv "$dir/$i.tmp" "$dir/$i"
      done ;;
  esac
}

# Preambles: "DOC BLOCK" -> commands run before that block, in the scratch
# directory.  Keep them few and plain; a block that cannot run as written
# is fixed in the document, not here.
declare -gA PREAMBLES=(
  # README.md's examples start from nothing: the first makes golden.add-cow.
  # "What is in an overlay": vm7 has written something; vm9 is checked.
  ["README.md 1"]=''
  # The golden image the examples of addcow-img(1) clone: 10 GiB (their
  # outputs say so), 1 MiB of data at its start, the rest a hole.
  ["addcow-img.1 1"]='
    head -c 1M /dev/urandom > golden.img && truncate -s 10G golden.img'
  # "Read fields from a script": vm1 has written 3 clusters.
  ["addcow-img.1 3"]='
    addcow-io -c "write -q -P 1 0 64k" -c "write -q -P 2 1M 64k" \
              -c "write -q -P 3 5M 64k" vm1.add-cow'
  # "Push a machine's changes down": vm2 has written something.
  ["addcow-img.1 5"]='addcow-io -c "write -q -P 7 2M 64k" vm2.add-cow'
  # "Without nbdkit": vm1 is a fresh overlay again (the example before
  # flattened it).
  ["addcow-img.1 7"]='
    rm -f vm1.add-cow vm1.raw &&
    addcow-img create -q -f add-cow -b golden.img -F raw vm1.add-cow'
  ["addcow-io.1 1"]='addcow-img create -q vm1.add-cow 1G'
  # nbdkit-addcow-plugin(1): a 1 GiB golden image whose first 64 MiB are
  # data; golden.add-cow for the last example.
  ["nbdkit-addcow-plugin.1 1"]='
    head -c 64M /dev/urandom > golden.img && truncate -s 1G golden.img &&
    addcow-img create -q golden.add-cow 64M'
  # addcow(5): the image its header dump shows.  Skipped (exit 77) while
  # addcow-img cannot open a qcow2 backing file yet.
  ["addcow.5 1"]='
    qemu-img create -q -f qcow2 base.qcow2 64M
    addcow-img create -q -f add-cow -b base.qcow2 -F qcow2 \
      -o image_file=disk.raw disk.add-cow 2> err || {
      grep -q "unsupported backing format .qcow2." err && exit 77
      cat err; exit 1
    }'
)

# normalize: what may differ from run to run (qemu-io's timings, the
# carriage returns of progress output) made equal.
normalize() {
  sed -E -e 's/.*\r([^\r])/\1/' -e 's/\r$//' \
    -e 's/^([0-9.]+ [KMGT]?i?B), ([0-9]+) ops; .*$/\1, \2 ops; TIME/'
}

# run_transcript BLOCK: each "$ " command must exit 0 and print what follows.
run_transcript() {
  local block=$1 cmd= expect= line n=0 rc
  flush() {
    [ -n "$cmd" ] || return 0
    n=$(( n + 1 ))
    printf '%s' "$cmd" > "$DOCS_TMP/cmd.$n"
    printf '%s' "$expect" | normalize > "$DOCS_TMP/expect.$n"
    rc=0
    bash -e -o pipefail "$DOCS_TMP/cmd.$n" > "$DOCS_TMP/out.$n" 2> "$DOCS_TMP/err.$n" || rc=$?
    normalize < "$DOCS_TMP/out.$n" > "$DOCS_TMP/outn.$n"
    if [ "$rc" -ne 0 ] || ! cmp -s "$DOCS_TMP/expect.$n" "$DOCS_TMP/outn.$n"; then
      printf 'example failed (exit %d): %s\n' "$rc" "$cmd"
      diff -u "$DOCS_TMP/expect.$n" "$DOCS_TMP/outn.$n" | sed 1,2d
      sed 's/^/stderr: /' "$DOCS_TMP/err.$n"
      return 1
    fi
    cmd= expect=
  }
  local cont=0
  while IFS= read -r line; do
    if [ "$cont" = 1 ]; then
      cmd+=$line$'\n'
    elif [[ $line == '$ '* ]]; then
      flush || return 1
      cmd=${line#\$ }$'\n'
    else
      expect+=$line$'\n'
      continue
    fi
    [[ $line =~ [\\|]$ ]] && cont=1 || cont=0
  done < "$block"
  flush
}

# run_doc DOC: every example of DOC, in order, in the current directory.
run_doc() {
  local doc=$1 name=${1##*/} dir=$DOCS_TMP/blocks.${1##*/} n i pre rc
  mkdir -p "$dir"
  n=$(extract "$doc" "$dir")
  [ "$n" -gt 0 ] || { echo "$name: no examples found"; return 1; }
  for (( i = 1; i <= n; i++ )); do
    pre=${PREAMBLES["$name $i"]:-}
    if [ -n "$pre" ]; then
      rc=0
      bash -e -o pipefail -c "$pre" > "$DOCS_TMP/pre.out" 2>&1 || rc=$?
      if [ "$rc" -eq 77 ]; then
        printf '# %s, example %d: skipped (its preamble says it cannot run yet)\n' \
          "$name" "$i" >&3
        continue
      elif [ "$rc" -ne 0 ]; then
        printf '%s, example %d: its preamble failed:\n%s\n' "$name" "$i" \
          "$(cat "$DOCS_TMP/pre.out")"
        return 1
      fi
    fi
    if grep -q '^\$ ' "$dir/$i"; then
      run_transcript "$dir/$i" || { printf '(%s, example %d)\n' "$name" "$i"; return 1; }
    elif ! bash -e -o pipefail "$dir/$i" > "$DOCS_TMP/script.out" 2>&1; then
      printf '%s, example %d failed:\n%s\n--- output:\n%s\n' "$name" "$i" \
        "$(cat "$dir/$i")" "$(tail -n 20 "$DOCS_TMP/script.out")"
      return 1
    fi
  done
}

# docs_env: PATH with the build tree's programs, and an nbdkit that finds
# the build tree's plugin as "addcow" and leaves a pid file for each server
# it starts in the background (stop_servers stops them, and removes the
# sockets they leave).
docs_env() {
  local bin=$DOCS_TMP/bin real
  real=$(command -v nbdkit)
  mkdir -p "$bin" "$DOCS_TMP/pids"
  cat > "$bin/nbdkit" <<EOF
#!/usr/bin/env bash
args=() bg=1 prev=
for a in "\$@"; do
  case \$a in
    addcow) a=$ADDCOW_NBDKIT_PLUGIN ;;
    --run|--run=*|-f|--foreground) bg=0 ;;
  esac
  # nbdkit leaves its socket behind: stop_servers removes it
  [ "\$prev" = -U ] && [ "\$a" != - ] && echo "\$a" >> $DOCS_TMP/sockets
  args+=("\$a") prev=\$a
done
[ \$bg = 1 ] && args=(-P "\$(mktemp -p $DOCS_TMP/pids)" "\${args[@]}")
exec $real "\${args[@]}"
EOF
  chmod +x "$bin/nbdkit"
  export PATH=$bin:$(dirname "$ADDCOW_IMG"):$(dirname "$ADDCOW_IO"):$PATH
}

stop_servers() {
  local f pid
  for f in "$DOCS_TMP"/pids/*; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  done
  if [ -f "$DOCS_TMP/sockets" ]; then
    xargs -d '\n' rm -f < "$DOCS_TMP/sockets"
  fi
}
