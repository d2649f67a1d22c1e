#!/bin/sh
# Installs concur from a build tree into a temporary prefix, moves the prefix
# (the installed files must not depend on where they were installed), then
# builds tests/install/hello.c four ways and runs each:
#   CMake find_package + concur::concur (shared), + concur::concur_static,
#   pkg-config (shared), pkg-config --static (libconcur.a).
# usage: run.sh <build-dir> <work-dir> [C compiler]
set -eu
build=$1
work=$2
cc=${3:-cc}
src=$(cd "$(dirname "$0")" && pwd)
fail() { echo "install test: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/stage" >"$work/install.log" || fail "cmake --install failed"
mv "$work/stage" "$work/prefix"
prefix=$work/prefix

pc=$(find "$prefix" -name concur.pc)
[ -n "$pc" ] || fail "no concur.pc installed"
grep -q /usr/local "$pc" && fail "concur.pc names /usr/local"
pcdir=$(dirname "$pc")
export PKG_CONFIG_PATH="$pcdir"
pkg-config --cflags concur | grep -q -- -fstack-clash-protection ||
  fail "concur.pc Cflags lack -fstack-clash-protection"
libdir=$(pkg-config --variable=libdir concur)
[ -e "$libdir/libconcur.so" ] && [ -e "$libdir/libconcur.a" ] || fail "libdir $libdir is wrong"

needs_shared() { # binary yes|no
  if readelf -d "$1" | grep -q 'NEEDED.*libconcur\.so'; then got=yes; else got=no; fi
  [ "$got" = "$2" ] || fail "$1: links libconcur.so: $got, expected $2"
}

run() { # binary
  out=$("$1") || fail "$1 failed"
  case $out in "hello from concur "*) ;; *) fail "$1 printed '$out'" ;; esac
  echo "ok: $1"
}

# concur::mpi is installed where concur was built with it (CONCUR_MPI).
mpi=
[ -n "$(find "$prefix" -name concurMpiTargets.cmake)" ] && mpi=concur::mpi
for kind in shared static; do
  target=concur::concur
  [ $kind = static ] && target=concur::concur_static
  cmake -S "$src" -B "$work/cmake-$kind" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCONCUR_TARGET=$target -DCONCUR_MPI_TARGET=$mpi \
    >"$work/cmake-$kind.log" 2>&1 ||
    { cat "$work/cmake-$kind.log" >&2; fail "CMake ($kind) configure failed"; }
  cmake --build "$work/cmake-$kind" >>"$work/cmake-$kind.log" 2>&1 ||
    { cat "$work/cmake-$kind.log" >&2; fail "CMake ($kind) build failed"; }
  [ $kind = shared ] && needs_shared "$work/cmake-$kind/hello" yes
  [ $kind = static ] && needs_shared "$work/cmake-$kind/hello" no
  run "$work/cmake-$kind/hello"
done
if [ -n "$mpi" ]; then
  # One rank without mpirun (Open MPI's singleton); as root it must be told.
  out=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$work/cmake-shared/hello_mpi") ||
    fail "hello_mpi failed"
  case $out in "hello from concur "*", rank 0 of 1") echo "ok: hello_mpi (concur::mpi)" ;;
  *) fail "hello_mpi printed '$out'" ;; esac
fi

# shellcheck disable=SC2046
"$cc" -o "$work/hello-pc" "$src/hello.c" $(pkg-config --cflags --libs concur) \
  -Wl,-rpath,"$libdir" || fail "pkg-config (shared) build failed"
needs_shared "$work/hello-pc" yes
run "$work/hello-pc"

# Static: libconcur.a itself (-l:libconcur.a, as the README shows), and
# everything it needs from Libs.private and Requires.private.
libs=$(pkg-config --static --libs concur | sed 's/-lconcur\b/-l:libconcur.a/')
# shellcheck disable=SC2046,SC2086
"$cc" -o "$work/hello-pc-static" "$src/hello.c" $(pkg-config --cflags concur) $libs ||
  fail "pkg-config --static build failed"
needs_shared "$work/hello-pc-static" no
run "$work/hello-pc-static"
