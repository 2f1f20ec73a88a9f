#!/usr/bin/env bash
# tools/soak.sh MINUTES: the long versions of what CI runs short (issue #18,
# docs/reliability.md "Soak"). Run through `./hearth.sh soak [MINUTES]`,
# which builds build/ and build-fuzz/ first; outside CI, on an idle machine.
#
# Two lanes run side by side until MINUTES have passed:
#   lane A (one core)  the fuzz targets, one after another, each for
#                      MINUTES / targets minutes (libFuzzer -max_total_time)
#   lane B (one core)  rounds of: simulator seeds (6 nodes, single county),
#                      policy-simulator seeds (county policy, hostile
#                      authors), kill -9 loops (commit, map growth, key
#                      rotation, import: test_durability), chaos schedules
#                      (six hearthd, kill -9/term/freeze/partition)
# Every round draws a new base seed (printed) so rounds never repeat.
# Logs go to out/soak/<UTC time>/; the summary table is printed at the end
# and written to summary.txt there. Exit status 1 when anything failed.
#
# A campaign that has started runs to its end, so the run may overshoot
# MINUTES by one campaign (a few minutes).
#
# Environment: HEARTH_SOAK_DIR (default out/soak), HEARTH_SOAK_LANES=b to run
# lane B only (or a for fuzz only); per-round sizes HEARTH_SOAK_SIM_SEEDS
# (300), HEARTH_SOAK_KILLS (120 commit kills, a third of that for each of
# map growth, rotation and import), HEARTH_SOAK_CHAOS_RUNS (3 schedules of
# 45 s).
set -uo pipefail

MINUTES=${1:?usage: tools/soak.sh MINUTES}
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -gt 0 ]] || { echo "soak: MINUTES must be a positive integer" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${HEARTH_BUILD_DIR:-build}
FUZZ=${HEARTH_FUZZ_DIR:-build-fuzz}
LANES=${HEARTH_SOAK_LANES:-ab}
OUT="${HEARTH_SOAK_DIR:-out/soak}/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
DEADLINE=$(($(date +%s) + MINUTES * 60))
SIM_SEEDS=${HEARTH_SOAK_SIM_SEEDS:-300}
KILLS=${HEARTH_SOAK_KILLS:-120}
CHAOS_RUNS=${HEARTH_SOAK_CHAOS_RUNS:-3}
read -r -a TARGETS <<<"${HEARTH_FUZZ_TARGETS:-delta codec_payload codec_state crdt_merge sync_wire sync_session bundle schema_toml policy_toml hearthd_config member_delta}"

left() { echo $((DEADLINE - $(date +%s))); }
rand_seed() { echo $(( (RANDOM << 15 | RANDOM) + 1 )); }

for bin in "$BUILD/tests/test_sync" "$BUILD/tests/test_durability" "$BUILD/tools/hearthd/hearthd" "$BUILD/tools/hearth"; do
  [[ $LANES != *b* || -x $bin ]] || { echo "soak: $bin is missing (run ./hearth.sh soak, which builds it)" >&2; exit 1; }
done

# ---- lane A: fuzz ------------------------------------------------------------
lane_fuzz() {
  local per=$(( MINUTES * 60 / ${#TARGETS[@]} ))
  (( per >= 10 )) || per=10
  local t
  for t in "${TARGETS[@]}"; do
    local bin="$FUZZ/tests/fuzz/fuzz_$t" dir="$OUT/fuzz/$t"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    [[ -d tests/fuzz/corpus/$t ]] && cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
    local rc=0 start=$(date +%s)
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$bin" -max_total_time="$per" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
    local runs crashers secs=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    crashers=$(find "$dir/artifacts" -type f | wc -l)
    (( rc == 0 )) || (( crashers > 0 )) || crashers="exit $rc"
    printf 'fuzz %s runs=%s cpu_s=%s crashers=%s\n' "$t" "${runs:-0}" "$secs" "$crashers" >>"$OUT/results"
  done
}

# ---- lane B: simulators, kill -9 loops, chaos ---------------------------------
record() { printf '%s\n' "$*" >>"$OUT/results"; }

run_logged() {  # NAME CMD...: runs CMD with its output in $OUT/NAME.log
  local name=$1
  shift
  "$@" >"$OUT/$name.log" 2>&1
}

lane_rest() {
  local round=0
  while (( $(left) > 60 )); do
    round=$((round + 1))
    local seed rc
    seed=$(rand_seed)
    rc=0
    HEARTH_SEED=$seed HEARTH_SIM_SEEDS=$SIM_SEEDS run_logged "r$round-sim" \
      "$BUILD/tests/test_sync" "-tc=simulator: 6 nodes*" || rc=$?
    record "sim round=$round seed=$seed seeds=$SIM_SEEDS fail=$rc"
    (( $(left) > 60 )) || break
    seed=$(rand_seed)
    rc=0
    # policy_sim runs SimSeeds/3+1 seeds.
    HEARTH_SEED=$seed HEARTH_SIM_SEEDS=$((SIM_SEEDS / 2)) run_logged "r$round-policy-sim" \
      "$BUILD/tests/test_sync" "-tc=simulator with a county policy*" || rc=$?
    record "policysim round=$round seed=$seed seeds=$((SIM_SEEDS / 6 + 1)) fail=$rc"
    (( $(left) > 120 )) || break
    rc=0
    HEARTH_KILL_ITERATIONS=$KILLS HEARTH_KILL_EXTRA_ITERATIONS=$((KILLS / 3)) run_logged "r$round-kill9" \
      "$BUILD/tests/test_durability" || rc=$?
    local kills lost
    kills=$(grep -oE ' (iterations|kills)=[0-9]+' "$OUT/r$round-kill9.log" | awk -F= '{s += $2} END {print s + 0}')
    lost=$(grep -oE ' lost=[0-9]+' "$OUT/r$round-kill9.log" | awk -F= '{s += $2} END {print s + 0}')
    record "kill9 round=$round kills=$kills lost=$lost fail=$rc"
    (( $(left) > 240 )) || break
    seed=$(rand_seed)
    rc=0
    HEARTH_SEED=$seed HEARTH_CHAOS_SECONDS=45 HEARTH_CHAOS_RUNS=$CHAOS_RUNS run_logged "r$round-chaos" \
      python3 tests/chaos/test_chaos.py --hearthd "$BUILD/tools/hearthd/hearthd" \
      --hearth "$BUILD/tools/hearth" --schema tests/data/test_schema.toml || rc=$?
    record "chaos round=$round seed=$seed schedules=$CHAOS_RUNS fail=$rc"
  done
}

: >"$OUT/results"
echo "soak: $MINUTES min, logs in $OUT"
pids=()
if [[ $LANES == *a* ]]; then lane_fuzz & pids+=($!); fi
if [[ $LANES == *b* ]]; then lane_rest & pids+=($!); fi
for p in "${pids[@]}"; do wait "$p"; done

# ---- summary -----------------------------------------------------------------
summary() {
  awk '
    function val(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    $1 == "sim"       { sim += val("seeds"); simf += (val("fail") != 0) }
    $1 == "policysim" { psim += val("seeds"); psimf += (val("fail") != 0) }
    $1 == "kill9"     { kills += val("kills"); lost += val("lost"); killf += (val("fail") != 0) }
    $1 == "chaos"     { chaos += val("schedules"); chaosf += (val("fail") != 0) }
    $1 == "fuzz"      { c = val("crashers"); fz[$2] = sprintf("%-16s %12s %8s  %s", $2, val("runs"), val("cpu_s"), c);
                        order[++n] = $2; if (c != "0") fuzzbad++ }
    END {
      printf "%-26s %10s %10s\n", "campaign", "count", "failed runs"
      printf "%-26s %10d %10d\n", "simulator seeds (6 nodes)", sim, simf
      printf "%-26s %10d %10d\n", "policy simulator seeds", psim, psimf
      printf "%-26s %10d %10d   lost acknowledged: %d\n", "kill -9", kills, killf, lost
      printf "%-26s %10d %10d\n", "chaos schedules", chaos, chaosf
      if (n > 0) {
        printf "\n%-16s %12s %8s  %s\n", "fuzz target", "runs", "cpu s", "crashers"
        for (i = 1; i <= n; i++) print fz[order[i]]
      }
      exit (simf + psimf + killf + chaosf + fuzzbad + lost) > 0
    }' "$OUT/results"
}
summary | tee "$OUT/summary.txt"
status=${PIPESTATUS[0]}
echo "logs: $OUT"
exit "$status"
