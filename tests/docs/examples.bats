#!/usr/bin/env bats
# Every example of README.md and of the man pages' EXAMPLES sections runs as
# written, against the build tree's programs (tests/docs/examples.bash says
# how they are found and run).  One test per document.

setup() {
  source "$ADDCOW_SOURCE_DIR/tests/docs/examples.bash"
  DOCS_TMP=$BATS_TEST_TMPDIR/docs
  mkdir -p "$DOCS_TMP" "$BATS_TEST_TMPDIR/work"
  docs_env
  cd "$BATS_TEST_TMPDIR/work"
}

teardown() {
  stop_servers
}

needs_plugin() {
  [ -n "${ADDCOW_NBDKIT_PLUGIN:-}" ] || skip "the nbdkit plugin is not built"
}

@test "README.md" {
  needs_plugin
  run_doc "$ADDCOW_SOURCE_DIR/README.md"
}

@test "addcow-img(1)" {
  needs_plugin
  run_doc "$ADDCOW_SOURCE_DIR/man/addcow-img.1"
}

@test "addcow-io(1)" {
  run_doc "$ADDCOW_SOURCE_DIR/man/addcow-io.1"
}

@test "nbdkit-addcow-plugin(1)" {
  needs_plugin
  run_doc "$ADDCOW_SOURCE_DIR/man/nbdkit-addcow-plugin.1"
}

@test "addcow(5)" {
  run_doc "$ADDCOW_SOURCE_DIR/man/addcow.5"
}
