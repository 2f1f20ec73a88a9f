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
# The C API (docs/c-api.md): the installed header compiles as C99 and links
# against the installed library; the Python package is installed in the
# Debian dist directory and loads the installed libhearth.so.0.
cc -std=c99 -Wall -Wextra -pedantic -Werror -x c - -o "$tmp/c3" -I"$tmp/prefix/include" \
  -L"$tmp/prefix/lib" -lhearth <<'CEOF'
#include <hearth/hearth.h>
int main(void) {
  char id[33];
  return hearth_abi_version() == HEARTH_ABI_VERSION && hearth_record_id_generate(id, sizeof id) == HEARTH_OK ? 0 : 1;
}
CEOF
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/c3"
env -u HEARTH_LIBRARY PYTHONPATH="$tmp/prefix/lib/python3/dist-packages" LD_LIBRARY_PATH="$tmp/prefix/lib" \
  python3 -c 'import hearth, sys; assert hearth.__file__.startswith(sys.argv[1]), hearth.__file__; sys.exit(0 if len(hearth.new_id()) == 32 else 1)' "$tmp/prefix"
