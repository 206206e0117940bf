#!/usr/bin/env bash
# setup.sh - install what is missing (Debian packages), build, and then
#   ./setup.sh demo   install (to $ADDCOW_PREFIX, /usr/local by default) and
#                     run the demo: a base image, an overlay, info, map, flatten
#   ./setup.sh test   run every test: once normally, once under ASan+UBSan
# Run as root, or as a user with sudo, on Debian 12 or later.
set -euo pipefail
cd "$(dirname "$0")"

# Everything the build, the tests and the demo use.  bench/run installs the
# few packages only the benchmarks need (fio, gnuplot, xfsprogs, ...) itself.
PACKAGES=(cmake make gcc pkg-config check bats libjansson-dev mandoc man-db
          zlib1g-dev libzstd-dev libdeflate-dev
          qemu-utils nbdkit nbdkit-plugin-dev libnbd-bin gnutls-bin jq
          bash-completion dpkg-dev strace python3)
PREFIX=${ADDCOW_PREFIX:-/usr/local}

install_missing() {
  local missing=() p sudo=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

build() {   # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

run_tests() {
  # Options are given both ways so that a reused build directory cannot keep
  # a sanitizer setting from an earlier configure.
  build build -DADDCOW_SANITIZE=OFF
  ctest --test-dir build --output-on-failure -j2
  build build-asan -DADDCOW_SANITIZE=ON
  # nbdkit itself is not built with ASan, so the plugin cannot be loaded
  # into it under ASan; its suite and the examples (which use it) run in
  # the normal build above.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    ctest --test-dir build-asan --output-on-failure -j2 -E '^(nbd|docs)/'
}

# install_build DIR: cmake --install into $PREFIX, then make `nbdkit addcow`
# find the plugin by name: under a prefix other than /usr the plugin stays
# in PREFIX/lib/nbdkit/plugins, and nbdkit's own plugin directory gets a
# link to it.
install_build() {
  local sudo=() plugindir plugin=nbdkit-addcow-plugin.so
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  plugindir=$(pkg-config --variable=plugindir nbdkit)
  "${sudo[@]}" cmake --install "$1" --prefix "$PREFIX" >/dev/null
  if [ "$PREFIX" != /usr ]; then
    "${sudo[@]}" ln -sfn "$PREFIX/lib/nbdkit/plugins/$plugin" "$plugindir/$plugin"
  fi
  "${sudo[@]}" ldconfig
  echo "setup.sh: installed into $PREFIX: addcow-img, addcow-io, libaddcow," \
       "addcow.h, libaddcow.pc, the man pages, the bash completion and the" \
       "nbdkit plugin ($plugindir/$plugin: nbdkit addcow ...)"
}

stop_nbdkit() {   # stop_nbdkit PIDFILE: wait until it is gone (and unlocked)
  local pid
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# The main job on a built-in demo, with the installed programs: a golden
# base image, a VM overlay on it, writes through addcow-io, info and map,
# then flatten: the raw file alone is the disk.
DEMO_DIR=
demo_cleanup() {
  [ -f "$DEMO_DIR/nbd.pid" ] && stop_nbdkit "$DEMO_DIR/nbd.pid"
  rm -rf "$DEMO_DIR"
}
run_demo() {
  local img=$PREFIX/bin/addcow-img io=$PREFIX/bin/addcow-io plugin=addcow dir
  # A global, not a local: the EXIT trap runs after run_demo has returned.
  DEMO_DIR=$(mktemp -d /tmp/addcow-demo.XXXXXX)
  trap demo_cleanup EXIT
  dir=$DEMO_DIR
  cd "$dir"
  show() {   # print the command (program without its directory), run it
    local a line="\$ ${1##*/}"
    for a in "${@:2}"; do
      [[ $a =~ ^[][A-Za-z0-9_./:=,+?-]+$ ]] && line+=" $a" || line+=" '$a'"
    done
    printf '\n%s\n' "${line//$dir\//}"
    "$@"
  }

  echo "== a 4 MiB golden image (an add-cow image without backing: golden.raw)"
  show "$img" create golden.add-cow 4M
  show "$io" -c 'write -P 0x11 0 4M' golden.add-cow
  echo; echo "== an overlay for one VM, backed by the raw golden image"
  show "$img" create -f add-cow -b golden.raw -F raw vm1.add-cow
  show "$io" -c 'write -P 0x22 64k 64k' -c 'write -P 0x33 1M 4k' vm1.add-cow
  echo; echo "== serve it over NBD with the nbdkit plugin; qemu-io writes through it"
  show nbdkit -U "$dir/nbd.sock" -P "$dir/nbd.pid" "$plugin" file=vm1.add-cow
  show qemu-io -f raw -c 'write -P 0x44 2M 64k' -c 'read -P 0x44 2M 64k' \
       "nbd+unix:///?socket=$dir/nbd.sock"
  stop_nbdkit "$dir/nbd.pid"
  rm -f "$dir/nbd.pid"
  show "$img" info vm1.add-cow
  show "$img" map vm1.add-cow
  show "$img" map --output=json vm1.add-cow
  echo; echo "== flatten: copy what the VM still reads from golden.raw"
  show "$img" rebase -b "" vm1.add-cow
  show "$img" info --output=json vm1.add-cow
  show "$img" check vm1.add-cow
  echo; echo "== vm1.raw alone is now the disk: drop the rest, read it with qemu-io"
  show rm golden.add-cow golden.raw vm1.add-cow
  show qemu-io -f raw -c 'read -P 0x11 0 64k' -c 'read -P 0x22 64k 64k' \
       -c 'read -P 0x11 128k 896k' -c 'read -P 0x33 1M 4k' \
       -c 'read -P 0x11 1028k 1020k' -c 'read -P 0x44 2M 64k' \
       -c 'read -P 0x11 2112k 1984k' vm1.raw
}

case "${1:-demo}" in
  demo) install_missing; build build -DADDCOW_SANITIZE=OFF
        install_build build; run_demo ;;
  test) install_missing; run_tests ;;
  *) echo "usage: $0 [demo|test]" >&2; exit 1 ;;
esac
