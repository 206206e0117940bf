# bash completion for addcow-img(1)                      -*- shell-script -*-
#
# Completes the subcommand, then that subcommand's options (qemu-img's
# spelling), the values of the options that take a word from a short list
# (formats, output forms, cache modes, repair modes), and file names.
# Plain bash: it needs nothing from the bash-completion package, which loads
# it by the command's name from its completions directory.

# Options of each subcommand.
_addcow_img_options() {
  case $1 in
    create)  echo "-f -b -F -u -o -q -t --force --help" ;;
    info)    echo "-f -U --output --backing-chain --force-share --help" ;;
    check)   echo "-f -r -U -q -T --output --force-share --help" ;;
    map)     echo "-f -U --output --start-offset --max-length --force-share --help" ;;
    commit)  echo "-f -b -d -p -q -r -t -T --help" ;;
    rebase)  echo "-f -b -F -u -U -p -q -t -T --force-share --help" ;;
    resize)  echo "-f -q --shrink --preallocation --help" ;;
    convert) echo "-f -O -B -o -p -q -n -t -T -S -W -c --target-is-zero --help" ;;
    compare) echo "-f -F -T -p -q -s -U --force-share --help" ;;
    measure) echo "-f -O -o --output --size --help" ;;
  esac
}

_addcow_img() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=
  local commands="create info check map commit rebase resize convert compare measure"
  local formats="add-cow raw qcow2" caches="none writeback writethrough directsync unsafe"
  local cmd= i
  [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # The subcommand: the first word after the global options (-h, -V).
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "-h --help -V --version" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    fi
    return 0
  fi

  # The value of the option just before the cursor.  bash splits
  # "--output=js" at the "=" (COMP_WORDBREAKS): the option is two words back.
  if [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  elif [ "$cur" = "=" ]; then
    prev=$prev cur=
  fi
  case $prev in
    -f|-F|-O) mapfile -t COMPREPLY < <(compgen -W "$formats" -- "$cur"); return 0 ;;
    -t|-T) mapfile -t COMPREPLY < <(compgen -W "$caches" -- "$cur"); return 0 ;;
    --output) mapfile -t COMPREPLY < <(compgen -W "human json" -- "$cur"); return 0 ;;
    --preallocation)
      mapfile -t COMPREPLY < <(compgen -W "off falloc full" -- "$cur"); return 0 ;;
    -r)
      # check -r MODE; commit -r RATE takes a number
      [ "$cmd" = check ] &&
        mapfile -t COMPREPLY < <(compgen -W "leaks all" -- "$cur")
      return 0 ;;
    -o|-S|--size|--start-offset|--max-length) return 0 ;;
    -b|-B) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
  esac
  if [[ $cur == --*=* ]]; then
    case ${cur%%=*} in
      --output) mapfile -t COMPREPLY < <(compgen -P "--output=" -W "human json" -- "${cur#*=}") ;;
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_addcow_img_options "$cmd")" -- "$cur")
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  return 0
}
complete -o filenames -o bashdefault -F _addcow_img addcow-img
