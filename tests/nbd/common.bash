# tests/nbd/common.bash - what the nbd suite's bats files share.
#
# Each test starts its own nbdkit on a Unix socket in $BATS_TEST_TMPDIR, in
# the foreground (-f) in the background of the test's shell, with
# --exit-with-parent as a safety net; teardown always kills it.
#
# Environment (set by ctest): ADDCOW_IMG, ADDCOW_IO, ADDCOW_NBDKIT_PLUGIN,
# ADDCOW_SOURCE_DIR, ADDCOW_BUILD_DIR.

# Skip the whole file when a tool or the plugin is missing.
nbd_require () {
    local t
    for t in nbdkit nbdinfo nbdcopy qemu-io qemu-img cc; do
        command -v "$t" >/dev/null || skip "$t is not installed"
    done
    [ -n "${ADDCOW_NBDKIT_PLUGIN:-}" ] && [ -f "$ADDCOW_NBDKIT_PLUGIN" ] \
        || skip "the nbdkit plugin was not built"
    [ -x "${ADDCOW_IMG:-}" ] || skip "ADDCOW_IMG is not set"
}

# Build $BATS_FILE_TMPDIR/readout: the virtual disk as the library reads it.
#   readout IMAGE              the whole disk on standard output
#   readout -b SIZE IMAGE      one line per SIZE-byte block: "OFFSET XX",
#                              XX the byte every byte of the block holds,
#                              or "OFFSET mixed"
# The image is opened read-only without locks (-U style), so it also works
# beside a server.
build_readout () {
    local src=$BATS_FILE_TMPDIR/readout.c
    cat > "$src" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <addcow.h>

int
main (int argc, char **argv)
{
  struct addcow_open_opts opts = ADDCOW_OPEN_OPTS_INIT;
  struct addcow *img;
  size_t bs = 1u << 20, n, i;
  uint64_t off, size;
  unsigned char *buf;
  int blocks = 0, r;

  if (argc == 4 && strcmp (argv[1], "-b") == 0) {
    bs = strtoul (argv[2], NULL, 0);
    blocks = 1;
    argv += 2;
  }
  else if (argc != 2) {
    fprintf (stderr, "usage: readout [-b SIZE] IMAGE\n");
    return 2;
  }
  opts.flags = ADDCOW_OPEN_FORCE_SHARE;
  if ((r = addcow_open (argv[1], &opts, &img)) < 0 || !(buf = malloc (bs))) {
    fprintf (stderr, "readout: %s\n", addcow_get_error ());
    return 1;
  }
  size = addcow_get_virtual_size (img);
  for (off = 0; off < size; off += n) {
    n = size - off < bs ? (size_t) (size - off) : bs;
    if ((r = addcow_pread (img, buf, n, off)) < 0) {
      fprintf (stderr, "readout: %s\n", addcow_get_error ());
      return 1;
    }
    if (!blocks) {
      fwrite (buf, 1, n, stdout);
      continue;
    }
    for (i = 1; i < n && buf[i] == buf[0]; i++)
      ;
    if (i == n)
      printf ("%llu %02x\n", (unsigned long long) off, buf[0]);
    else
      printf ("%llu mixed\n", (unsigned long long) off);
  }
  free (buf);
  addcow_close (img);
  return fflush (stdout) == 0 ? 0 : 1;
}
EOF
    cc -std=c11 -O2 -o "$BATS_FILE_TMPDIR/readout" "$src" \
       -I"$ADDCOW_SOURCE_DIR/lib/include" -L"$ADDCOW_BUILD_DIR/lib" \
       -Wl,-rpath,"$ADDCOW_BUILD_DIR/lib" -laddcow
}

readout () {
    "$BATS_FILE_TMPDIR/readout" "$@"
}

# The URI of the server on socket NAME (default: sock).
nbd_uri () {
    echo "nbd+unix:///?socket=$BATS_TEST_TMPDIR/${1:-sock}"
}

# start_nbdkit NAME ARGS...: serve on socket NAME; ARGS go to the plugin.
# Sets NBDKIT_PID.  Fails (with nbdkit's messages) if it does not come up.
NBDKIT_PIDS=()
start_nbdkit () {
    local name=$1 sock=$BATS_TEST_TMPDIR/$1 i
    shift
    rm -f "$sock"
    nbdkit -U "$sock" -f --exit-with-parent "$ADDCOW_NBDKIT_PLUGIN" "$@" \
        2>>"$BATS_TEST_TMPDIR/nbdkit-$name.log" &
    NBDKIT_PID=$!
    NBDKIT_PIDS+=("$NBDKIT_PID")
    for i in $(seq 100); do
        [ -S "$sock" ] && return 0
        kill -0 "$NBDKIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$BATS_TEST_TMPDIR/nbdkit-$name.log" >&2
    echo "nbdkit did not start" >&2
    return 1
}

# Stop the server of pid $1 cleanly (SIGTERM: it flushes and closes).
stop_nbdkit () {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

nbd_teardown () {
    local p
    for p in "${NBDKIT_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    NBDKIT_PIDS=()
}

# A raw file of SIZE holding byte PATTERN everywhere.
make_base () {
    qemu-img create -q -f raw "$1" "$2"
    qemu-io -f raw -c "write -q -P $3 0 $2" "$1"
}

# The normalised map of an NBD export: "start length type" lines, type 0
# (data) or 3 (hole,zero), adjacent runs of one type merged.
nbd_map () {
    nbdinfo --map "$1" | awk '{ print $1, $2, $3 }' | merge_runs
}

# The same from addcow-img map --output=json: data -> 0, else 3.
img_map () {
    "$ADDCOW_IMG" map --output=json "$@" |
        sed -n 's/.*"start": \([0-9]*\), "length": \([0-9]*\),.*"data": \(true\|false\).*/\1 \2 \3/p' |
        awk '{ print $1, $2, ($3 == "true" ? 0 : 3) }' | merge_runs
}

merge_runs () {
    awk 'NF == 3 {
             if (n && $3 == t && $1 == s + l) { l += $2; next }
             if (n) print s, l, t
             s = $1; l = $2; t = $3; n = 1
         }
         END { if (n) print s, l, t }'
}
