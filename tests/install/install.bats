#!/usr/bin/env bats
# cmake --install with --prefix and DESTDIR: every file lands under
# DESTDIR/PREFIX, and the installed programs run from there with a clean
# environment (they find libaddcow.so.0 through their RPATH).

setup_file() {
  export ROOT=$BATS_FILE_TMPDIR/root PREFIX=/opt/addcow-test
  DESTDIR=$ROOT cmake --install "$ADDCOW_BUILD_DIR" --prefix "$PREFIX" \
    > "$BATS_FILE_TMPDIR/install.log"
}

@test "every installed file is under DESTDIR/PREFIX" {
  local manifest=$ADDCOW_BUILD_DIR/install_manifest.txt f n=0
  [ -s "$manifest" ]
  while read -r f || [ -n "$f" ]; do   # no newline after the last
    [[ $f == "$PREFIX/"* ]] || { echo "outside the prefix: $f"; return 1; }
    [ -e "$ROOT$f" ] || { echo "not under DESTDIR: $f"; return 1; }
    n=$(( n + 1 ))
  done < "$manifest"
  # and nothing else appeared under DESTDIR
  [ "$(find "$ROOT" -not -type d | wc -l)" -eq "$n" ]
  [ "$(find "$ROOT" -mindepth 1 -maxdepth 1)" = "$ROOT/opt" ]
}

@test "programs, library, header, pkg-config file, man pages, plugin, completion" {
  local p=$ROOT$PREFIX f
  for f in bin/addcow-img bin/addcow-io lib/libaddcow.so.0 lib/libaddcow.so \
           include/addcow.h lib/pkgconfig/libaddcow.pc \
           share/man/man1/addcow-img.1 share/man/man1/addcow-io.1 \
           share/man/man3/libaddcow.3 share/man/man5/addcow.5 \
           share/bash-completion/completions/addcow-img; do
    [ -e "$p/$f" ] || { echo "missing: $f"; return 1; }
  done
  if [ -n "${ADDCOW_NBDKIT_PLUGIN:-}" ]; then
    [ -e "$p/lib/nbdkit/plugins/nbdkit-addcow-plugin.so" ]
    [ -e "$p/share/man/man1/nbdkit-addcow-plugin.1" ]
  fi
}

@test "the pkg-config file names the prefix installed to" {
  run env PKG_CONFIG_PATH="$ROOT$PREFIX/lib/pkgconfig" \
    pkg-config --variable=prefix libaddcow
  [ "$status" -eq 0 ]
  [ "$output" = "$PREFIX" ]
  run env PKG_CONFIG_PATH="$ROOT$PREFIX/lib/pkgconfig" \
    pkg-config --cflags --libs libaddcow
  [ "$output" = "-I$PREFIX/include -L$PREFIX/lib -laddcow " ]
}

@test "addcow-img and addcow-io run from the prefix with a clean environment" {
  run env -i "$ROOT$PREFIX/bin/addcow-img" --version
  [ "$status" -eq 0 ]
  [[ $output == "addcow-img version "* ]]
  run env -i "$ROOT$PREFIX/bin/addcow-io" -c 'write -q -P 0xab 0 4k' -c \
    'read -q -P 0xab 0 4k' /dev/null
  # a raw /dev/null is no add-cow image: the library was loaded and spoke
  [ "$status" -eq 1 ]
  [[ $output == "addcow-io: "* ]]
  run readelf -d "$ROOT$PREFIX/bin/addcow-img"
  [[ $output == *'RUNPATH'*'[$ORIGIN/../lib]'* ]]
}

@test "nbdkit loads the installed plugin by its path" {
  [ -n "${ADDCOW_NBDKIT_PLUGIN:-}" ] || skip "the plugin is not built"
  # an ASan plugin cannot be loaded into nbdkit, which is built without it
  if grep -q '^ADDCOW_SANITIZE:BOOL=ON' "$ADDCOW_BUILD_DIR/CMakeCache.txt"; then
    skip "checked in the normal build"
  fi
  run env -i PATH=/usr/bin:/bin \
    nbdkit --dump-plugin "$ROOT$PREFIX/lib/nbdkit/plugins/nbdkit-addcow-plugin.so"
  [ "$status" -eq 0 ]
  [[ $output == *"name=addcow"* ]]
}
