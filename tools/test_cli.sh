#!/bin/sh
# Tests of the concur command line: test_cli.sh <path to concur> <case>.
# The subcommands are read from `concur --help`, so a new one is covered as
# soon as it is in the table.
set -u
concur=$1
case=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect <status> <stdout: empty|nonempty|-> <stderr: empty|nonempty|-> args...
expect() {
  want=$1 out=$2 err=$3
  shift 3
  "$concur" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  got=$?
  [ "$got" -eq "$want" ] || fail "concur $*: exit status $got, expected $want ($(head -c 300 "$tmp/err"))"
  for stream in out err; do
    eval "w=\$$stream"
    if [ "$w" = empty ] && [ -s "$tmp/$stream" ]; then
      fail "concur $*: unexpected std$stream: $(head -c 300 "$tmp/$stream")"
    elif [ "$w" = nonempty ] && [ ! -s "$tmp/$stream" ]; then
      fail "concur $*: nothing on std$stream"
    fi
  done
}

commands() {
  "$concur" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z0-9_-]*\).*/\1/p' |
    grep -v '^help$'
}

case $case in
help)
  expect 0 nonempty empty --help
  expect 0 nonempty empty -h
  expect 0 nonempty empty help
  "$concur" --help >"$tmp/help"
  grep -q '^usage: concur' "$tmp/help" || fail "--help has no usage line"
  n=$(commands | wc -l)
  [ "$n" -ge 4 ] || fail "--help lists $n commands"
  for c in demo sleepers spawn mine; do
    commands | grep -qx "$c" || fail "--help does not describe '$c'"
  done
  ;;
version)
  expect 0 nonempty empty --version
  "$concur" --version | grep -Eq '^concur [0-9]+\.[0-9]+' || fail "--version: $("$concur" --version)"
  ;;
unknown_command)
  expect 2 empty nonempty no-such-command
  expect 2 empty nonempty --no-such-option
  expect 2 empty nonempty help no-such-command
  grep -q "no-such-command" "$tmp/err" || fail "the message does not name the command"
  ;;
extra_args)
  expect 2 empty nonempty --help extra
  expect 2 empty nonempty --version extra
  expect 2 empty nonempty help demo extra
  expect 2 empty nonempty demo extra
  expect 2 empty nonempty sleepers 10 extra
  expect 2 empty nonempty spawn 10 extra
  expect 2 empty nonempty mine /tmp /tmp
  expect 2 empty nonempty mine --workers
  ;;
subcommand_help)
  for c in $(commands); do
    expect 0 nonempty empty "$c" --help
    "$concur" "$c" --help | head -1 | grep -q "^usage: concur $c" ||
      fail "concur $c --help does not start with its usage line"
    expect 0 nonempty empty "$c" -h
    expect 0 nonempty empty help "$c"
  done
  ;;
subcommand_bad_option)
  for c in $(commands); do
    expect 2 empty nonempty "$c" --no-such-option
    grep -q "concur $c" "$tmp/err" || fail "concur $c --no-such-option: the message does not name $c"
  done
  ;;
bad_counts)
  for c in sleepers spawn; do
    for n in 0 -3 abc 12x ""; do
      expect 2 empty nonempty "$c" "$n"
    done
  done
  expect 2 empty nonempty mine --workers 0
  expect 2 empty nonempty mine --workers many
  # Good arguments still work.
  expect 0 nonempty empty spawn 1000
  ;;
*)
  echo "no case $case" >&2
  exit 2
  ;;
esac
[ "$fails" -eq 0 ]
