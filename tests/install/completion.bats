#!/usr/bin/env bats
# The bash completion of addcow-img (cmd/completion/addcow-img.bash):
# sourced into the test's shell, asked as readline would ask it.

setup() {
  source "$ADDCOW_SOURCE_DIR/cmd/completion/addcow-img.bash"
  cd "$BATS_TEST_TMPDIR"
}

# complete WORD...: complete the last WORD of the command line "WORD...",
# one reply a line, sorted.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _addcow_img
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

@test "the completion is registered for addcow-img" {
  run complete -p addcow-img
  [ "$status" -eq 0 ]
  [ "$output" = "complete -o bashdefault -o filenames -F _addcow_img addcow-img" ]
}

@test "subcommands" {
  run complete_line addcow-img ""
  [ "$output" = "$(printf '%s\n' check commit compare convert create info map measure rebase resize)" ]
  run complete_line addcow-img c
  [ "$output" = "$(printf '%s\n' check commit compare convert create)" ]
  run complete_line addcow-img re
  [ "$output" = "$(printf '%s\n' rebase resize)" ]
  run complete_line addcow-img -V m
  [ "$output" = "$(printf '%s\n' map measure)" ]
}

@test "global options before the subcommand" {
  run complete_line addcow-img --
  [ "$output" = "$(printf '%s\n' --help --version)" ]
}

@test "options of each subcommand" {
  run complete_line addcow-img info --
  [ "$output" = "$(printf '%s\n' --backing-chain --force-share --help --output)" ]
  run complete_line addcow-img create --f
  [ "$output" = "--force" ]
  run complete_line addcow-img map --s
  [ "$output" = "--start-offset" ]
  run complete_line addcow-img commit -
  [ "$output" = "$(printf '%s\n' --help -T -b -d -f -p -q -r -t)" ]
}

@test "formats after -f, -F and -O" {
  run complete_line addcow-img create -f ""
  [ "$output" = "$(printf '%s\n' add-cow qcow2 raw)" ]
  run complete_line addcow-img create -b golden.raw -F r
  [ "$output" = "raw" ]
  run complete_line addcow-img convert -O q
  [ "$output" = "qcow2" ]
}

@test "output forms, cache modes, repair modes" {
  run complete_line addcow-img info --output ""
  [ "$output" = "$(printf '%s\n' human json)" ]
  run complete_line addcow-img map --output = j
  [ "$output" = "json" ]
  run complete_line addcow-img commit -t w
  [ "$output" = "$(printf '%s\n' writeback writethrough)" ]
  run complete_line addcow-img check -r ""
  [ "$output" = "$(printf '%s\n' all leaks)" ]
  run complete_line addcow-img commit -r ""
  [ "$output" = "" ]
}

@test "file names after a subcommand and after -b" {
  touch vm1.add-cow vm1.raw golden.raw
  run complete_line addcow-img info vm
  [ "$output" = "$(printf '%s\n' vm1.add-cow vm1.raw)" ]
  run complete_line addcow-img create -b g
  [ "$output" = "golden.raw" ]
  run complete_line addcow-img rebase -b "" vm1.a
  [ "$output" = "vm1.add-cow" ]
}
