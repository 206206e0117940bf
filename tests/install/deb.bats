#!/usr/bin/env bats
# cpack -G DEB (cmake/Packaging.cmake): a tree configured for /usr is built
# and packaged; the package's control file, its file list, and an install
# into a scratch root (dpkg --root --unpack: the files and dpkg's record of
# them, without the host's maintainer scripts) are checked.  Once, in the
# normal build: the package is the same for the sanitizer build.

setup_file() {
  if grep -q '^ADDCOW_SANITIZE:BOOL=ON' "$ADDCOW_BUILD_DIR/CMakeCache.txt"; then
    return 0
  fi
  local b=$BATS_FILE_TMPDIR/build
  {
    cmake -S "$ADDCOW_SOURCE_DIR" -B "$b" -DCMAKE_INSTALL_PREFIX=/usr \
      -DADDCOW_TESTS=OFF -DADDCOW_SANITIZE=OFF &&
    cmake --build "$b" -j2 &&
    (cd "$b" && cpack -G DEB)
  } > "$BATS_FILE_TMPDIR/build.log" 2>&1 || { cat "$BATS_FILE_TMPDIR/build.log"; return 1; }
  DEB=$(echo "$b"/addcow-img_*_*.deb)
  export DEB
}

setup() {
  if grep -q '^ADDCOW_SANITIZE:BOOL=ON' "$ADDCOW_BUILD_DIR/CMakeCache.txt"; then
    skip "checked in the normal build"
  fi
}

@test "the package is named addcow-img_VERSION_ARCH.deb" {
  [ -f "$DEB" ]
  [[ ${DEB##*/} == "addcow-img_0."*"_$(dpkg --print-architecture).deb" ]]
}

@test "its Depends come from dpkg-shlibdeps: the C library, libdeflate, Jansson, zstd" {
  run dpkg-deb -f "$DEB" Package Depends Recommends
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Package: addcow-img" ]
  [[ ${lines[1]} =~ ^Depends:\ libc6\ \(\>=\ [0-9.]+\),\ libdeflate0\ \(\>=\ [0-9.]+\),\ libjansson4\ \(\>=\ [0-9.]+\),\ libzstd1\ \(\>=\ [0-9.~+a-z-]+\)$ ]] \
    || { echo "${lines[1]}"; false; }
  [ "${lines[2]}" = "Recommends: nbdkit" ]
}

@test "its files are where the system's tools look for them" {
  local plugindir completionsdir list
  plugindir=$(pkg-config --variable=plugindir nbdkit)
  completionsdir=$(pkg-config --variable=completionsdir bash-completion)
  list=$(dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\.||')
  for f in /usr/bin/addcow-img /usr/bin/addcow-io \
           "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libaddcow.so.0" \
           /usr/include/addcow.h /usr/share/man/man1/addcow-img.1 \
           /usr/share/man/man5/addcow.5 /usr/share/man/man3/libaddcow.3 \
           "$plugindir/nbdkit-addcow-plugin.so" "$completionsdir/addcow-img"; do
    grep -qxF "$f" <<<"$list" || { echo "missing: $f"; return 1; }
  done
  ! grep -q '^/usr/local' <<<"$list"
}

@test "apt-get can install it here: its dependencies are met" {
  run apt-get install -s "$DEB"
  [ "$status" -eq 0 ]
  [[ $output == *"Inst addcow-img "* ]]
}

@test "installed into a scratch root, addcow-img --version runs from it" {
  local root=$BATS_TEST_TMPDIR/root multiarch
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
  touch "$root/var/lib/dpkg/status"
  run dpkg --root="$root" --force-depends --unpack "$DEB"
  [ "$status" -eq 0 ]
  run dpkg --root="$root" -s addcow-img
  [[ $output == *"Status: install ok unpacked"* ]]
  run env -i LD_LIBRARY_PATH="$root/usr/lib/$multiarch" \
    "$root/usr/bin/addcow-img" --version
  [ "$status" -eq 0 ]
  [[ $output == "addcow-img version "* ]]
  # under /usr the system's library path is enough: no RPATH
  run readelf -d "$root/usr/bin/addcow-img"
  [[ $output != *RUNPATH* && $output != *RPATH* ]]
}
