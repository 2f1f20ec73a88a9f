#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs a consumer
# with find_package(hearth) and with pkg-config; the installed hearth and
# hearthd start without LD_LIBRARY_PATH (their RPATH finds libhearth).
# Usage: run.sh BUILD_DIR SRC_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/b" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/b" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/b/c" "$tmp/r1"
g++ -std=c++20 "$src/main.cpp" -o "$tmp/c2" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs hearth)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/c2" "$tmp/r2"
if [ -e "$build/tools/hearth" ]; then  # built with HEARTH_BUILD_TOOLS
  env -u LD_LIBRARY_PATH "$tmp/prefix/bin/hearth" --version | grep -q '^hearth [0-9]'
  env -u LD_LIBRARY_PATH "$tmp/prefix/bin/hearthd" --version | grep -q '^hearthd [0-9]'
fi
