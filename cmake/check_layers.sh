#!/bin/sh
# The layer check: layers point one way,
#     core <- coro <- loop <- task <- {sync, exec, net, proc} <- {http, html} <- tools
# A file under src/<layer>/ may include the headers of its own layer, of its
# siblings and of any layer below, never of a layer above; tools/ uses the
# public API only (include/), nothing from src/. With object files given, the
# same rule holds for symbols: an object of a layer must not use a symbol
# that only a layer above defines.
#
# usage: check_layers.sh <source-dir> [object files of the library...]
#        check_layers.sh --self-test   (checks that a violation is caught)
# Exit 0 when clean, 1 with one line per violation otherwise.
set -u

rank() {
  case "$1" in
  core) echo 0 ;;
  coro) echo 1 ;;
  loop) echo 2 ;;
  task) echo 3 ;;
  sync | exec | net | proc) echo 4 ;;
  http | html | mpi) echo 5 ;;
  *) echo "" ;;
  esac
}

# Forwarding headers kept for branches written before a move ("file:target"
# pairs); nothing else may point up. None today.
ALLOWED=""

check_tree() {
  root=$1
  bad=0
  for f in $(cd "$root" && find src tools -name '*.[ch]' 2>/dev/null | sort); do
    top=${f%%/*}
    if [ "$top" = src ]; then
      rest=${f#src/}
      layer=${rest%%/*}
      own=$(rank "$layer")
      [ -n "$own" ] || continue
    else
      layer=tools
      own=99
    fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$root/$f"); do
      dir=${inc%%/*}
      [ "$dir" = "$inc" ] && continue # same directory
      if [ "$layer" = tools ]; then
        if [ -e "$root/src/$inc" ] || [ -n "$(rank "$dir")" ]; then
          echo "layers: $f includes \"$inc\": tools/ uses the public API only (include/)"
          bad=1
        fi
        continue
      fi
      r=$(rank "$dir")
      [ -n "$r" ] || continue
      if [ "$r" -gt "$own" ]; then
        case " $ALLOWED " in *" $f:$inc "*) continue ;; esac
        echo "layers: $f ($layer) includes \"$inc\" of $dir, a layer above it"
        bad=1
      fi
    done
  done
  return $bad
}

# Symbols: for every object of the library, its undefined symbols must not
# be defined by an object of a higher layer only.
check_objects() {
  command -v nm >/dev/null 2>&1 || return 0
  tmp=$(mktemp -d)
  bad=0
  for o in "$@"; do
    case "$o" in */src/*) ;; *) continue ;; esac
    rest=${o##*/src/}
    layer=${rest%%/*}
    r=$(rank "$layer")
    [ -n "$r" ] || continue
    nm --defined-only "$o" 2>/dev/null | awk -v r="$r" -v o="$rest" '$2 ~ /^[TDBR]$/ {print $3, r, o}' >>"$tmp/def"
    nm -u "$o" 2>/dev/null | awk -v r="$r" -v o="$rest" '{print $2, r, o}' >>"$tmp/use"
  done
  if [ -s "$tmp/def" ] && [ -s "$tmp/use" ]; then
    awk 'NR == FNR { if (!($1 in low) || $2 < low[$1]) { low[$1] = $2; where[$1] = $3 } next }
         ($1 in low) && low[$1] > $2 { printf "layers: %s uses %s, defined by %s, a layer above it\n", $3, $1, where[$1]; bad = 1 }
         END { exit bad }' "$tmp/def" "$tmp/use" || bad=1
  fi
  rm -rf "$tmp"
  return $bad
}

self_test() {
  t=$(mktemp -d)
  mkdir -p "$t/src/loop" "$t/src/task" "$t/src/net" "$t/tools"
  printf '#include "task/task_int.h"\n' >"$t/src/loop/bad.c"
  printf '#include "loop/loop_int.h"\n#include "exec/wait.h"\n' >"$t/src/net/good.c"
  printf '#include "mine.h"\n#include "concur.h"\n' >"$t/tools/good.c"
  out=$(check_tree "$t")
  n1=$(printf '%s\n' "$out" | grep -c 'src/loop/bad.c')
  rm "$t/src/loop/bad.c"
  check_tree "$t" >/dev/null
  clean=$?
  printf '#include "loop/sched.h"\n' >"$t/tools/bad.c"
  out2=$(check_tree "$t")
  n2=$(printf '%s\n' "$out2" | grep -c 'tools/bad.c')
  rm -rf "$t"
  if [ "$n1" = 1 ] && [ "$clean" = 0 ] && [ "$n2" = 1 ]; then
    echo "layers: self-test passed"
    return 0
  fi
  echo "layers: self-test FAILED (upward include caught: $n1, clean tree passes: $clean, tools caught: $n2)"
  return 1
}

if [ "${1:-}" = --self-test ]; then
  self_test
  exit $?
fi
[ $# -ge 1 ] || { echo "usage: $0 <source-dir> [objects...]" >&2; exit 2; }
root=$1
shift
status=0
check_tree "$root" || status=1
check_objects "$@" || status=1
[ $status = 0 ] && echo "layers: clean"
exit $status
