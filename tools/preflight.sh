#!/usr/bin/env bash
# tools/preflight.sh: checks, before any build, that every piece of toolchain
# a build phase of ./hearth.sh needs is present, and that it comes from a
# Debian package that ./hearth.sh installs. Run by `./hearth.sh demo|test|fuzz`
# after the install step; also `./hearth.sh preflight`.
#
#   tools/preflight.sh PHASE...     PHASE: main, asan, fuzz, tests
#
# Two kinds of check, for each phase:
#  1. Presence: a tiny program is compiled and linked the way the phase
#     builds (g++ with the project's libraries; g++ with ASan + UBSan; clang++
#     with libFuzzer + ASan + UBSan), each header and program the phase uses
#     is looked up. A failure names the Debian package to install.
#  2. Provenance: every file those probes opened (headers, libraries, crt
#     objects, sanitizer runtimes, programs) must belong to a package in the
#     no-recommends dependency closure of HEARTH_PACKAGES plus Debian's
#     "required" packages (what `debootstrap --variant=minbase` installs).
#     This fails on a development machine that happens to have a package
#     installed by hand which a fresh machine would lack: the mistake of
#     issue #11 (libclang-rt-14-dev) is caught on any machine, not only on a
#     fresh one.
#
# Environment: HEARTH_PACKAGES (space-separated; set by hearth.sh),
# HEARTH_PREFLIGHT_VERBOSE=1 lists every file and its package.
# Exit status: 0 all present and provided, 1 something missing or unlisted.
set -uo pipefail

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
files_list=$tmp/files   # "phase<TAB>path" of every file a probe used

fail() { printf 'preflight: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'preflight: ok  %s\n' "$*"; }

# record PHASE FILE...: remember files for the provenance check.
record() {
  local phase=$1
  shift
  local f
  for f in "$@"; do printf '%s\t%s\n' "$phase" "$f" >>"$files_list"; done
}

# need_program PHASE PROGRAM PACKAGE
need_program() {
  local phase=$1 prog=$2 pkg=$3 path
  if path=$(command -v "$prog" 2>/dev/null); then
    record "$phase" "$path"
  else
    fail "[$phase] program '$prog' not found: apt-get install $pkg"
  fi
}

# need_pkgconfig PHASE MODULE PACKAGE
need_pkgconfig() {
  local phase=$1 mod=$2 pkg=$3
  if pkg-config --exists "$mod" 2>/dev/null; then
    local pc
    pc=$(pkg-config --variable=pcfiledir "$mod")/$mod.pc
    [[ -f $pc ]] && record "$phase" "$pc"
  else
    fail "[$phase] pkg-config module '$mod' not found: apt-get install $pkg"
  fi
}

# need_header PHASE HEADER PACKAGE [EXTRA FLAGS]: HEADER must compile.
need_header() {
  local phase=$1 header=$2 pkg=$3
  shift 3
  local src=$tmp/h.cpp dep=$tmp/h.d
  printf '#include <%s>\nint main() { return 0; }\n' "$header" >"$src"
  if g++ -std=c++20 -fsyntax-only -MD -MF "$dep" "$@" "$src" >"$tmp/h.log" 2>&1; then
    record_depfile "$phase" "$dep"
  else
    fail "[$phase] header <$header> does not compile: apt-get install $pkg ($(head -1 "$tmp/h.log"))"
  fi
}

record_depfile() {
  local phase=$1 dep=$2
  # Make-style depfile: "target: a.h b.h \" lines; the first word is the target.
  local words
  words=$(sed -e 's/\\$//' "$dep" | tr ' ' '\n' | grep -v -e ':$' -e '^$' -e "$tmp" || true)
  [[ -n $words ]] && record "$phase" $words
}

# link_probe PHASE DESCRIPTION PACKAGES COMPILER FLAGS... -- SOURCE
# Compiles and links SOURCE, runs it (with -runs=1, which a libFuzzer binary
# needs to stop and a plain one ignores); records headers (-MD) and every file
# the linker opened (--trace).
link_probe() {
  local phase=$1 what=$2 pkgs=$3 cxx=$4
  shift 4
  local flags=()
  while [[ $# -gt 0 && $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  local src=$tmp/probe.cpp dep=$tmp/probe.d log=$tmp/probe.log
  printf '%s\n' "$1" >"$src"
  if "$cxx" -std=c++20 -MD -MF "$dep" "$src" -o "$tmp/probe" "${flags[@]}" -Wl,--trace >"$log" 2>&1 &&
     "$tmp/probe" -runs=1 >/dev/null 2>&1; then
    ok "[$phase] $what"
    record_depfile "$phase" "$dep"
    # --trace prints the files the linker opened, some as "(archive)member".
    local f
    while IFS= read -r f; do
      f=${f%%(*}
      [[ $f == /* && -e $f ]] && record "$phase" "$f"
    done < <(sed -n 's/^\(\/[^ ]*\).*/\1/p' "$log" | sort -u)
    record "$phase" "$(command -v "$cxx")"
  else
    fail "[$phase] $what: cannot compile, link or run a probe: apt-get install $pkgs"
    grep -m3 -E 'error|cannot find' "$log" | sed 's/^/preflight:     /' >&2
  fi
}

probe_main() {
  need_program main cmake cmake
  need_program main ninja ninja-build
  need_program main pkg-config pkg-config
  need_program main g++ build-essential
  need_program main git git
  need_program main python3 python3
  need_pkgconfig main libsodium libsodium-dev
  need_pkgconfig main lmdb liblmdb-dev
  need_pkgconfig main libzmq libzmq3-dev
  need_pkgconfig main libzstd libzstd-dev
  need_pkgconfig main cpp-httplib libcpp-httplib-dev
  need_pkgconfig main libsystemd libsystemd-dev
  need_header main zmq.hpp cppzmq-dev
  need_header main msgpack.hpp libmsgpack-cxx-dev -DMSGPACK_NO_BOOST
  need_header main toml.hpp libtoml11-dev
  need_header main doctest/doctest.h doctest-dev
  need_header main CLI/CLI.hpp libcli11-dev
  need_header main nlohmann/json.hpp nlohmann-json3-dev
  need_header main spdlog/spdlog.h libspdlog-dev
  need_header main httplib.h libcpp-httplib-dev
  link_probe main "g++ links libsodium, LMDB, ZeroMQ, zstd" \
    "build-essential libsodium-dev liblmdb-dev libzmq3-dev libzstd-dev" g++ \
    -lsodium -llmdb -lzmq -lzstd -pthread -- \
    '#include <sodium.h>
#include <lmdb.h>
#include <zmq.h>
#include <zstd.h>
int main() { return sodium_init() < 0 || !mdb_version(nullptr, nullptr, nullptr) ||
                    zmq_ctx_new() == nullptr || ZSTD_versionNumber() == 0; }'
}

probe_tests() {
  need_program tests faketime faketime
  need_program tests unshare util-linux
  need_program tests systemd-analyze systemd
  need_program tests python3 python3
  # tests/python (python_hearth): pytest for Debian's python3 (python3-pytest).
  local pytest_file
  if pytest_file=$(/usr/bin/python3 -c 'import pytest; print(pytest.__file__)' 2>/dev/null); then
    record tests "$pytest_file"
  else
    fail "[tests] python module pytest not found: apt-get install python3-pytest"
  fi
}

probe_asan() {
  link_probe asan "g++ -fsanitize=address,undefined" "build-essential (libasan8, libubsan1)" g++ \
    -fsanitize=address,undefined -fno-omit-frame-pointer -- \
    '#include <vector>
int main() { std::vector<int> v(3); return v[1]; }'
}

probe_fuzz() {
  need_program fuzz clang++ clang
  command -v clang++ >/dev/null 2>&1 || return 0
  link_probe fuzz "clang++ -fsanitize=fuzzer,address,undefined (libFuzzer, compiler-rt)" \
    "clang libclang-rt-14-dev libfuzzer-14-dev" clang++ \
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -- \
    '#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }'
}

# ---- provenance -------------------------------------------------------------

# owners FILE-LIST: "path<TAB>package" for each path of FILE-LIST that a
# package ships. One pass over dpkg's file lists (dpkg -S per file is ~0.1 s).
# dpkg knows a path as the package shipped it: on a merged-/usr system
# /usr/lib/x/libc.so.6 may be recorded as /lib/x/libc.so.6, and a symlink
# (/usr/bin/c++ -> /etc/alternatives/...) as itself; so each path is tried
# as given, resolved, and both without a leading /usr.
owners() {
  local list=$1 f
  while IFS= read -r f; do
    printf '%s\t%s\n' "$f" "$f"
    local r
    r=$(readlink -f "$f")
    printf '%s\t%s\n' "$f" "$r"
    [[ $f == /usr/* ]] && printf '%s\t%s\n' "$f" "${f#/usr}"
    [[ $r == /usr/* ]] && printf '%s\t%s\n' "$f" "${r#/usr}"
  done <"$list" >"$tmp/candidates"
  awk -F'\t' '
    FNR == 1 && FILENAME != cands { pkg = FILENAME; sub(/.*\//, "", pkg); sub(/\.list$/, "", pkg); sub(/:.*/, "", pkg) }
    FILENAME == cands { want[$2] = want[$2] " " $1; next }
    ($0 in want) { n = split(want[$0], fs, " "); for (i = 1; i <= n; i++) if (!(fs[i] in done)) { done[fs[i]] = 1; print fs[i] "\t" pkg } }
  ' cands="$tmp/candidates" "$tmp/candidates" /var/lib/dpkg/info/*.list
}

provenance() {
  [[ -s $files_list ]] || return 0
  if [[ -z ${HEARTH_PACKAGES:-} ]]; then
    echo "preflight: HEARTH_PACKAGES not set: provenance check skipped"
    return 0
  fi
  command -v dpkg-query >/dev/null && command -v apt-cache >/dev/null || {
    echo "preflight: not a Debian system: provenance check skipped"
    return 0
  }
  local closure=$tmp/closure
  # shellcheck disable=SC2086
  {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $HEARTH_PACKAGES 2>/dev/null | grep -v '^ ' | tr -d '<>'
    dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }'
    echo apt
  } | sed 's/:.*//' | sort -u >"$closure"
  cut -f2 "$files_list" | sort -u >"$tmp/paths"
  owners "$tmp/paths" | sort -u >"$tmp/owners"
  # phase of each path (the first phase that used it), for the message
  local phase f pkg bad=0
  declare -A seen=() phase_of=()
  while IFS=$'\t' read -r phase f; do
    [[ -n ${phase_of[$f]:-} ]] || phase_of[$f]=$phase
  done <"$files_list"
  while IFS=$'\t' read -r f pkg; do
    [[ ${HEARTH_PREFLIGHT_VERBOSE:-0} == 1 ]] && printf 'preflight:     %-6s %-30s %s\n' "${phase_of[$f]}" "$pkg" "$f"
    if ! grep -qxF "$pkg" "$closure"; then
      if [[ -z ${seen[$pkg]:-} ]]; then
        fail "[${phase_of[$f]}] $f comes from package '$pkg', which the install step does not pull in" \
             "(add '$pkg' to PACKAGES in hearth.sh; a fresh Debian 12 would lack it)"
        seen[$pkg]=1
      fi
      bad=1
    fi
  done <"$tmp/owners"
  [[ $bad -eq 0 ]] && ok "provenance: the $(wc -l <"$tmp/owners") packaged files the probes used all come from packages the install step pulls in"
  return 0
}

# ---- main -------------------------------------------------------------------

[[ $# -gt 0 ]] || set -- main tests asan fuzz
for phase in "$@"; do
  case "$phase" in
    main) probe_main ;;
    tests) probe_tests ;;
    asan) probe_asan ;;
    fuzz) probe_fuzz ;;
    *) echo "preflight: unknown phase '$phase' (main, tests, asan, fuzz)" >&2; exit 2 ;;
  esac
done
provenance
if [[ $failures -gt 0 ]]; then
  echo "preflight: $failures problem(s): the build would fail on a fresh Debian 12 machine" >&2
  exit 1
fi
echo "preflight: all checks passed ($*)"
