#!/usr/bin/env bash
# hearth.sh: one entry point to build, demo and test Hearth on Debian 12.
#
#   ./hearth.sh demo    install dependencies, build, run the demo
#   ./hearth.sh test    install dependencies, build, run all tests, then
#                       again under AddressSanitizer/UBSan, then each fuzz
#                       target for HEARTH_FUZZ_SECONDS
#   ./hearth.sh fuzz [SECONDS]
#                       build the libFuzzer targets with clang in build-fuzz/
#                       and run each for SECONDS (default 60) on a scratch
#                       copy of its corpus (tests/fuzz/corpus); crashers are
#                       kept in out/fuzz/TARGET/; docs/reliability.md
#   ./hearth.sh soak [MINUTES]
#                       the long versions of the CI campaigns (simulator
#                       seeds, kill -9 loops, chaos schedules, every fuzz
#                       target) for MINUTES (default 120) on two lanes, then
#                       one table; outside CI (tools/soak.sh, docs/reliability.md)
#   ./hearth.sh package build the Debian packages (libhearth0, libhearth-dev,
#                       hearth-tools) in build-package/ into out/packages/
#                       and run lintian on them; docs/packaging.md
#   ./hearth.sh package-test
#                       install those packages into a fresh Debian 12 root
#                       (debootstrap, chroot; downloads; outside CI) and run
#                       hearth, hearthd --check-config and a two-node sync
#                       there (tools/package-test.sh)
#   ./hearth.sh preflight [PHASE...]
#                       check that each build phase's toolchain is present and
#                       comes from the packages below (main, tests, asan,
#                       fuzz; default all); installs nothing
#   ./hearth.sh help    usage and dependency status (installs nothing)
#
# Idempotent: packages are installed only when missing, builds are
# incremental. Meant to run as root on a fresh Debian 12 (uses sudo for
# apt-get when not root).
#
# Build directories: build/ (regular), build-asan/ (ASan + UBSan, Debug),
# build-fuzz/ (clang, -DHEARTH_FUZZ=ON: libFuzzer targets; fuzz and test).
#
# Environment:
#   HEARTH_CTEST_ARGS      extra ctest arguments, e.g. "-LE slow"
#   HEARTH_SKIP_SANITIZE=1 skip the sanitizer build in `test`
#   HEARTH_SKIP_FUZZ=1     skip the fuzz phase in `test`
#   HEARTH_FUZZ_SECONDS    seconds per fuzz target in `test` (default 20)
#   HEARTH_FUZZ_TARGETS    fuzz targets to run (default: all), e.g. "delta bundle"
#   HEARTH_JOBS            parallel build/test jobs (default 2)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libsodium-dev liblmdb-dev libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
  doctest-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libtoml11-dev
  libbenchmark-dev lmdb-utils faketime python3 libcpp-httplib-dev
  libzstd-dev clang libfuzzer-14-dev libclang-rt-14-dev
  libsystemd-dev systemd
  python3-pytest
)
# Only for `package` / `package-test` (not CI): dpkg-shlibdeps, lintian,
# man pages from --help, and the chroot of the install test.
PACKAGING_PACKAGES=(dpkg-dev fakeroot lintian help2man)
PACKAGE_TEST_PACKAGES=(debootstrap)
# Every package a phase needs must be named above: tools/preflight.sh checks,
# before any build, that each phase's toolchain works and that every file it
# uses comes from these packages (or Debian's required ones), so a package
# that only this machine happens to have is caught here, not on a fresh one.
JOBS=${HEARTH_JOBS:-2}
BUILD_DIR=build
ASAN_DIR=build-asan
FUZZ_DIR=build-fuzz  # clang, -DHEARTH_FUZZ=ON: the libFuzzer targets (tests/fuzz)

# ---- output and timing -----------------------------------------------------

TIMINGS=()
say() { printf '==> %s\n' "$*"; }
warn() { printf 'hearth.sh: %s\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# phase NAME CMD...: runs CMD, prints and records how long it took. Returns
# CMD's exit status (callers decide whether that is fatal).
phase() {
  local name=$1
  shift
  say "$name"
  local start rc=0
  start=$(now)
  "$@" || rc=$?
  local secs
  secs=$(elapsed "$start" "$(now)")
  if [[ $rc -eq 0 ]]; then
    TIMINGS+=("$(printf '%-28s %8ss  ok' "$name" "$secs")")
    say "$name: done in ${secs}s"
  else
    TIMINGS+=("$(printf '%-28s %8ss  FAILED (exit %d)' "$name" "$secs" "$rc")")
    warn "$name: FAILED (exit $rc) after ${secs}s"
  fi
  return "$rc"
}

print_timings() {
  [[ ${#TIMINGS[@]} -gt 0 ]] || return 0
  printf '\n%s\n' "---- phases ----"
  printf '%s\n' "${TIMINGS[@]}"
}
trap print_timings EXIT

# ---- dependencies ----------------------------------------------------------

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    is_installed "$p" || printf '%s\n' "$p"
  done
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}

install_deps() {
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script targets Debian 12"
  local missing
  mapfile -t missing < <(missing_packages)
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "all ${#PACKAGES[@]} packages already installed"
    return 0
  fi
  say "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}"
}

# ---- build -----------------------------------------------------------------

configure_main() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
}
build_main() { cmake --build "$BUILD_DIR" -j"$JOBS"; }

configure_asan() {
  # -O1: ASan's recommended level. The tests run about 4x faster than at
  # -O0 (test_crdt 14 s against 62 s on this machine, 2026-12-07), which
  # keeps CI under 45 minutes; the checks are the same.
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
    -DHEARTH_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DCMAKE_C_FLAGS_DEBUG="-g -O1"
}
build_asan() { cmake --build "$ASAN_DIR" -j"$JOBS"; }

ctest_args() {
  CTEST_EXTRA=()
  if [[ -n "${HEARTH_CTEST_ARGS:-}" ]]; then
    # Word-split on purpose: HEARTH_CTEST_ARGS="-LE slow -R crdt".
    read -r -a CTEST_EXTRA <<<"$HEARTH_CTEST_ARGS"
  fi
}

run_ctest() {
  local dir=$1
  shift
  ctest_args
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" ${CTEST_EXTRA[@]+"${CTEST_EXTRA[@]}"} "$@"
}

run_ctest_asan() {
  local ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export ASAN_OPTIONS UBSAN_OPTIONS
  # The 200-seed simulator runs in the main build; under the sanitizers the
  # default 20 seeds of test_sync run instead (10x slower there). The
  # full-scale county (county_full, hearthd_county) runs in the main build
  # only: under the sanitizers the same code runs at small scale (county,
  # county_cli, hearthd_e2e, chaos), which keeps CI under 45 minutes. The
  # province simulator's 201 seeds likewise (test_sync runs 5 of them).
  run_ctest "$ASAN_DIR" -E '^(sync_sim_200|sync_province_sim|hearthd_backlog_500mb|county_full|hearthd_county)$'

}

# ---- fuzzing (tests/fuzz, docs/reliability.md) -----------------------------

FUZZ_ALL_TARGETS=(delta codec_payload codec_state crdt_merge sync_wire sync_session bundle
                  schema_toml policy_toml hearthd_config member_delta capi)
FUZZ_ROWS=()

configure_fuzz() {
  command -v clang++ >/dev/null 2>&1 || die "clang++ not found: apt-get install clang libfuzzer-14-dev"
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHEARTH_FUZZ=ON -DHEARTH_BUILD_BENCH=OFF -DHEARTH_BUILD_EXAMPLES=OFF -DHEARTH_BUILD_TOOLS=OFF \
    ${launcher[@]+"${launcher[@]}"}
}
build_fuzz() { cmake --build "$FUZZ_DIR" -j"$JOBS" --target fuzz_all; }

# fuzz_one TARGET SECONDS: one libFuzzer process on a scratch copy of the
# target's corpus; records a row for the summary. Fails on a crasher.
fuzz_one() {
  local t=$1 secs=$2
  local bin="$FUZZ_DIR/tests/fuzz/fuzz_$t"
  local scratch="$FUZZ_DIR/scratch/$t"
  [[ -x "$bin" ]] || { warn "$bin not built"; return 1; }
  rm -rf "$scratch"
  mkdir -p "$scratch/corpus" "$scratch/artifacts"
  if [[ -d "tests/fuzz/corpus/$t" ]]; then cp -R "tests/fuzz/corpus/$t/." "$scratch/corpus/"; fi
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
      -artifact_prefix="$scratch/artifacts/" "$scratch/corpus" >"$scratch/log" 2>&1 || rc=$?
  local runs eps crashers
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/log" | tail -1)
  crashers=$(find "$scratch/artifacts" -type f | wc -l)
  if [[ $crashers -gt 0 || $rc -ne 0 ]]; then
    mkdir -p "out/fuzz/$t"
    cp "$scratch/log" "out/fuzz/$t/log"
    if [[ $crashers -gt 0 ]]; then cp "$scratch/artifacts/"* "out/fuzz/$t/"; fi
    [[ $crashers -gt 0 ]] || crashers="? (exit $rc)"
    warn "fuzz_$t: crash (log and inputs in out/fuzz/$t/):"
    grep -m1 -E 'ERROR: |fuzz oracle failed|runtime error' "$scratch/log" >&2 || tail -5 "$scratch/log" >&2
  fi
  FUZZ_ROWS+=("$(printf '%-16s %12s %8s  %s' "$t" "${runs:-?}" "${eps:-?}" "$crashers")")
  [[ $rc -eq 0 && $crashers == 0 ]]
}

run_fuzz_targets() {
  local secs=$1 failed=0 t targets
  read -r -a targets <<<"${HEARTH_FUZZ_TARGETS:-${FUZZ_ALL_TARGETS[*]}}"
  FUZZ_ROWS=()
  for t in "${targets[@]}"; do
    say "fuzz_$t: ${secs}s"
    fuzz_one "$t" "$secs" || failed=1
  done
  printf '\n%-16s %12s %8s  %s\n' target runs exec/s "new crashers"
  printf '%s\n' "${FUZZ_ROWS[@]}"
  return "$failed"
}

fuzz_phases() {
  local secs=$1
  phase "configure ($FUZZ_DIR)" configure_fuzz || return 1
  phase "build ($FUZZ_DIR)" build_fuzz || return 1
  phase "fuzz (${secs}s per target)" run_fuzz_targets "$secs"
}

# preflight PHASE...: tools/preflight.sh for the phases about to be built.
preflight() { HEARTH_PACKAGES="${PACKAGES[*]}" bash tools/preflight.sh "$@"; }

prepare() {
  phase "install dependencies" install_deps || exit 1
  phase "preflight ($*)" preflight "$@" || exit 1
  phase "configure ($BUILD_DIR)" configure_main || exit 1
  phase "build ($BUILD_DIR)" build_main || exit 1
}

# ---- commands --------------------------------------------------------------

# The four-agency demo (tools/county_demo/county_demo.cpp, docs/demo.md): five real
# hearthd processes (two township offices) on 127.0.0.1, the synthetic county, an outage and the
# report. Extra arguments go to the demo: --scale X (default 1.0, the
# seed's county), --seed N, --keep-running, --help.
cmd_demo() {
  prepare main
  local demo="$BUILD_DIR/tools/county_demo/hearth_demo"
  if [[ ! -x "$demo" ]]; then
    die "$demo was not built (needs the tools: hearthd and the county generator); nothing to run"
  fi
  # The demo wipes and recreates its directory: every run starts fresh.
  local dir="out/demo"
  say "demo data directory: $ROOT/$dir"
  phase "demo" "$demo" --out "$dir" "$@" || exit 1
}

cmd_test() {
  local phases=(main tests)
  [[ "${HEARTH_SKIP_SANITIZE:-0}" == 1 ]] || phases+=(asan)
  [[ "${HEARTH_SKIP_FUZZ:-0}" == 1 ]] || phases+=(fuzz)
  prepare "${phases[@]}"
  local failed=0
  phase "ctest ($BUILD_DIR)" run_ctest "$BUILD_DIR" || failed=1
  if [[ "${HEARTH_SKIP_SANITIZE:-0}" == 1 ]]; then
    say "skipping the sanitizer build (HEARTH_SKIP_SANITIZE=1)"
  else
    phase "configure ($ASAN_DIR)" configure_asan || exit 1
    phase "build ($ASAN_DIR)" build_asan || exit 1
    phase "ctest ($ASAN_DIR)" run_ctest_asan || failed=1
  fi
  if [[ "${HEARTH_SKIP_FUZZ:-0}" == 1 ]]; then
    say "skipping the fuzz targets (HEARTH_SKIP_FUZZ=1)"
  else
    fuzz_phases "${HEARTH_FUZZ_SECONDS:-20}" || failed=1
  fi
  if [[ $failed -ne 0 ]]; then
    warn "tests FAILED"
    exit 1
  fi
  say "all tests passed"
}

cmd_fuzz() {
  local secs=${1:-60}
  [[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || die "fuzz: SECONDS must be a positive integer, got '$secs'"
  phase "install dependencies" install_deps || exit 1
  phase "preflight (fuzz)" preflight fuzz || exit 1
  fuzz_phases "$secs" || exit 1
}

cmd_soak() {
  local minutes=${1:-120}
  [[ "$minutes" =~ ^[0-9]+$ && "$minutes" -gt 0 ]] || die "soak: MINUTES must be a positive integer, got '$minutes'"
  prepare main tests fuzz
  phase "configure ($FUZZ_DIR)" configure_fuzz || exit 1
  phase "build ($FUZZ_DIR)" build_fuzz || exit 1
  phase "soak (at least ${minutes} min, to the quotas)" bash tools/soak.sh "$minutes" || exit 1
}

# ---- Debian packages (cmake/Packaging.cmake, docs/packaging.md) -----------

PACKAGE_DIR=build-package

install_extra() {
  local p missing=()
  for p in "$@"; do is_installed "$p" || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# Installed to /usr: the tools find libhearth on the system path (no
# RPATH); Debian's build flags (hardening) as dpkg-buildflags gives them.
configure_package() {
  local -x DEB_BUILD_MAINT_OPTIONS=hardening=+all
  CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
  LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
    cmake -S . -B "$PACKAGE_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_RPATH=ON -DHEARTH_MANPAGES=ON \
      -DHEARTH_BUILD_TESTS=OFF -DHEARTH_BUILD_BENCH=OFF -DHEARTH_BUILD_EXAMPLES=OFF
}
build_package() { cmake --build "$PACKAGE_DIR" -j"$JOBS"; }

cpack_debs() {
  rm -rf out/packages
  mkdir -p out/packages
  (cd "$PACKAGE_DIR" && cpack -G DEB -B "$ROOT/$PACKAGE_DIR/_cpack") || return 1
  cp "$PACKAGE_DIR"/_cpack/*.deb out/packages/
  ls -l out/packages/
}

# lintian's tags, one per line; those explained in docs/packaging.md are expected.
run_lintian() {
  lintian --info --display-info --pedantic --show-overrides out/packages/*.deb | tee out/packages/lintian.txt
  say "lintian: $(grep -c '^[EWIP]: ' out/packages/lintian.txt || true) tag(s); docs/packaging.md explains each"
  ! grep -q '^E: ' out/packages/lintian.txt
}

cmd_package() {
  phase "install dependencies" install_deps || exit 1
  phase "install packaging tools" install_extra "${PACKAGING_PACKAGES[@]}" || exit 1
  phase "configure ($PACKAGE_DIR)" configure_package || exit 1
  phase "build ($PACKAGE_DIR)" build_package || exit 1
  phase "cpack" cpack_debs || exit 1
  phase "lintian" run_lintian || exit 1
}

cmd_package_test() {
  compgen -G "out/packages/*.deb" >/dev/null || die "no out/packages/*.deb: run ./hearth.sh package first"
  phase "install debootstrap" install_extra "${PACKAGE_TEST_PACKAGES[@]}" || exit 1
  phase "package test (chroot)" as_root bash tools/package-test.sh out/packages || exit 1
}

cmd_help() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
  echo
  local missing
  mapfile -t missing < <(missing_packages)
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "Dependencies: all ${#PACKAGES[@]} packages installed."
  else
    echo "Dependencies: ${#missing[@]} of ${#PACKAGES[@]} missing (demo/test install them):"
    printf '  %s\n' "${missing[@]}"
  fi
}

main() {
  local cmd=${1:-help}
  if [[ $# -gt 0 ]]; then shift; fi
  case "$cmd" in
    demo) cmd_demo "$@" ;;
    test) cmd_test "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    soak) cmd_soak "$@" ;;
    package) cmd_package "$@" ;;
    package-test) cmd_package_test "$@" ;;
    preflight) preflight "$@" ;;
    help | -h | --help) cmd_help ;;
    *)
      warn "unknown command '$cmd'"
      cmd_help >&2
      exit 2
      ;;
  esac
}

main "$@"
