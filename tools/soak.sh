#!/usr/bin/env bash
# tools/soak.sh MINUTES: the long versions of what CI runs short (issue #18,
# docs/reliability.md "Soak"). Run through `./hearth.sh soak [MINUTES]`,
# which builds build/ and build-fuzz/ first; outside CI, on an idle machine.
#
# The soak works to quotas. With MINUTES = 120 they are issue #18's figures:
#   simulator seeds     5,000  (6-node single county, county policy with
#                              hostile authors, two-county province)
#   kill -9             2,000  (commit, map growth, key rotation, import:
#                              test_durability; hearthd kills during sync
#                              come from the chaos schedules and are counted
#                              apart)
#   chaos schedules        30  (six hearthd, kill -9/term/freeze/partition)
#   fuzz                   20 CPU-minutes per target (measured with times,
#                              not wall time)
# Other MINUTES scale every quota by MINUTES / 120. The soak runs at least
# MINUTES, and past that until the quotas are met, but never past the hard
# limit (HEARTH_SOAK_MAX_MINUTES, default MINUTES * 3 / 2 + 10).
#
# Three lanes run side by side (fuzzers at nice 5, so the chaos schedules'
# timing is not starved):
#   fuzz    claims fuzz targets one at a time and runs each to its quota
#   work    simulator and kill -9 rounds until those quotas are met, then
#           claims fuzz targets like the fuzz lane; once no target is left
#           and MINUTES have not passed, more simulator/kill rounds
#   chaos   chaos schedules until that quota is met (mostly waiting: six
#           hearthd and a driver that sleeps between faults)
# Every round draws a new base seed (printed) so rounds never repeat.
# Logs go to out/soak/<UTC time>/; `progress` lines show the totals as the
# run goes; the summary table is printed at the end and written to
# summary.txt there. Exit status 1 when anything failed, any acknowledged
# write was lost, a fuzz target found a crasher or a quota was not met.
#
# Environment: HEARTH_SOAK_DIR (default out/soak); quotas HEARTH_SOAK_SIM_SEEDS,
# HEARTH_SOAK_KILLS, HEARTH_SOAK_CHAOS, HEARTH_SOAK_FUZZ_CPU_S (per target);
# HEARTH_SOAK_LANES (any of f, w, c; default fwc); HEARTH_FUZZ_TARGETS.
set -uo pipefail

MINUTES=${1:?usage: tools/soak.sh MINUTES}
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -gt 0 ]] || { echo "soak: MINUTES must be a positive integer" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${HEARTH_BUILD_DIR:-build}
FUZZ=${HEARTH_FUZZ_DIR:-build-fuzz}
LANES=${HEARTH_SOAK_LANES:-fwc}
OUT="${HEARTH_SOAK_DIR:-out/soak}/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/claims"
START=$(date +%s)
MIN_END=$((START + MINUTES * 60))
MAX_MINUTES=${HEARTH_SOAK_MAX_MINUTES:-$((MINUTES * 3 / 2 + 10))}
HARD_END=$((START + MAX_MINUTES * 60))
scaled() { echo $(( ($1 * MINUTES + 119) / 120 )); }
Q_SIM=${HEARTH_SOAK_SIM_SEEDS:-$(scaled 5000)}
Q_KILLS=${HEARTH_SOAK_KILLS:-$(scaled 2000)}
Q_CHAOS=${HEARTH_SOAK_CHAOS:-$(scaled 30)}
Q_FUZZ=${HEARTH_SOAK_FUZZ_CPU_S:-$(scaled 1200)}
read -r -a TARGETS <<<"${HEARTH_FUZZ_TARGETS:-delta codec_payload codec_state crdt_merge sync_wire sync_session bundle schema_toml policy_toml hearthd_config member_delta capi}"
RESULTS="$OUT/results"
: >"$RESULTS"

for bin in "$BUILD/tests/test_sync" "$BUILD/tests/test_durability" "$BUILD/tools/hearthd/hearthd" "$BUILD/tools/hearth"; do
  [[ -x $bin ]] || { echo "soak: $bin is missing (run ./hearth.sh soak, which builds it)" >&2; exit 1; }
done
for t in "${TARGETS[@]}"; do
  [[ $LANES != *f* || -x $FUZZ/tests/fuzz/fuzz_$t ]] || { echo "soak: $FUZZ/tests/fuzz/fuzz_$t is missing" >&2; exit 1; }
done

now() { date +%s; }
rand_seed() { echo $(( (RANDOM << 15 | RANDOM) + 1 )); }
record() { printf '%s\n' "$*" >>"$RESULTS"; }  # one short O_APPEND write: lanes do not interleave

# totals KEY: the running total of one campaign, from the results file.
totals() {
  awk -v want="$1" '
    function val(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    $1 == "sim"   { sim += val("seeds") }
    $1 == "kill9" { kills += val("kills") }
    $1 == "chaos" { chaos += val("schedules") }
    END { if (want == "sim") print sim + 0; else if (want == "kills") print kills + 0; else print chaos + 0 }' "$RESULTS"
}

# ---- fuzz: a target runs until its CPU quota is spent -------------------------
# claim_target prints an unclaimed target (mkdir is the lock) or fails.
claim_target() {
  local t
  for t in "${TARGETS[@]}"; do
    if mkdir "$OUT/claims/$t" 2>/dev/null; then echo "$t"; return 0; fi
  done
  return 1
}

fuzz_target() {  # T: runs until Q_FUZZ CPU seconds, a crasher or the hard limit
  local t=$1 bin="$FUZZ/tests/fuzz/fuzz_$1" dir="$OUT/fuzz/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  [[ -d tests/fuzz/corpus/$t ]] && cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  local cpu_ms=0 runs=0 pass=0 rc
  while (( cpu_ms < Q_FUZZ * 1000 )); do
    local left_s=$(( Q_FUZZ - cpu_ms / 1000 )) until_hard=$(( HARD_END - $(now) ))
    (( until_hard > 30 )) || break
    (( left_s <= until_hard )) || left_s=$until_hard
    (( left_s >= 10 )) || left_s=10
    pass=$((pass + 1))
    rc=0
    # `times` in the subshell prints the children's user and system time.
    ( ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice -n 5 "$bin" -max_total_time="$left_s" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log.$pass" 2>&1
      rc=$?; times >"$dir/times.$pass"; exit $rc ) || rc=$?
    local u s r
    read -r u s < <(sed -n 2p "$dir/times.$pass")
    cpu_ms=$(( cpu_ms + $(secs_ms "$u") + $(secs_ms "$s") ))
    r=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.$pass" | tail -1)
    runs=$(( runs + ${r:-0} ))
    (( rc == 0 )) || break
  done
  local crashers
  crashers=$(find "$dir/artifacts" -type f | wc -l)
  (( rc == 0 )) || (( crashers > 0 )) || crashers="exit $rc"
  record "fuzz $t runs=$runs cpu_s=$((cpu_ms / 1000)) passes=$pass crashers=$crashers"
}

secs_ms() {  # "1m2.345s" -> 62345
  local v=$1 m s
  m=${v%%m*}; s=${v#*m}; s=${s%s}
  local whole=${s%.*} frac=${s#*.}
  echo $(( 10#$m * 60000 + 10#$whole * 1000 + 10#${frac:0:3} ))
}

fuzz_lane() {
  local t
  while (( $(now) < HARD_END - 60 )) && t=$(claim_target); do fuzz_target "$t"; done
}

# ---- simulator and kill -9 rounds -----------------------------------------------
run_logged() {  # NAME CMD...: runs CMD with its output in $OUT/NAME.log
  local name=$1
  shift
  "$@" >"$OUT/$name.log" 2>&1
}

ROUND_SIM=300     # single-county seeds per round (policy and province add ~1/6 and ~1/5)
ROUND_KILLS=120   # commit kills per round (map growth, rotation, import add a third each)

# One round; SIM=1 runs the simulators, KILL=1 the kill -9 loops. LABEL names logs.
work_round() {
  local label=$1 do_sim=$2 do_kill=$3 seed rc
  if (( do_sim )); then
    seed=$(rand_seed); rc=0
    HEARTH_SEED=$seed HEARTH_SIM_SEEDS=$ROUND_SIM run_logged "$label-sim" \
      "$BUILD/tests/test_sync" "-tc=simulator: 6 nodes*" || rc=$?
    record "sim kind=single label=$label seed=$seed seeds=$ROUND_SIM fail=$rc"
    seed=$(rand_seed); rc=0
    # policy_sim runs SimSeeds/3+1 seeds, province_sim SimSeeds/5+1.
    HEARTH_SEED=$seed HEARTH_SIM_SEEDS=$((ROUND_SIM / 2)) run_logged "$label-policy-sim" \
      "$BUILD/tests/test_sync" "-tc=simulator with a county policy*" || rc=$?
    record "sim kind=policy label=$label seed=$seed seeds=$((ROUND_SIM / 6 + 1)) fail=$rc"
    seed=$(rand_seed); rc=0
    HEARTH_SEED=$seed HEARTH_SIM_SEEDS=$ROUND_SIM run_logged "$label-province-sim" \
      "$BUILD/tests/test_sync" "-tc=province simulator: two counties*" || rc=$?
    record "sim kind=province label=$label seed=$seed seeds=$((ROUND_SIM / 5 + 1)) fail=$rc"
  fi
  if (( do_kill )); then
    rc=0
    HEARTH_KILL_ITERATIONS=$ROUND_KILLS HEARTH_KILL_EXTRA_ITERATIONS=$((ROUND_KILLS / 3)) run_logged "$label-kill9" \
      "$BUILD/tests/test_durability" || rc=$?
    local kills lost
    kills=$(grep -oE ' (iterations|kills)=[0-9]+' "$OUT/$label-kill9.log" | awk -F= '{s += $2} END {print s + 0}')
    lost=$(grep -oE ' lost=[0-9]+' "$OUT/$label-kill9.log" | awk -F= '{s += $2} END {print s + 0}')
    record "kill9 label=$label kills=$kills lost=$lost fail=$rc"
  fi
}

work_lane() {
  local round=0
  # 1. the simulator and kill -9 quotas
  while (( $(now) < HARD_END - 300 )); do
    local need_sim=0 need_kill=0
    (( $(totals sim) < Q_SIM )) && need_sim=1
    (( $(totals kills) < Q_KILLS )) && need_kill=1
    (( need_sim || need_kill )) || break
    round=$((round + 1))
    work_round "w$round" "$need_sim" "$need_kill"
    progress
  done
  # 2. help with the fuzz targets
  [[ $LANES == *f* ]] && fuzz_lane
  # 3. more rounds until MINUTES have passed
  while (( $(now) < MIN_END - 120 && $(now) < HARD_END - 300 )); do
    round=$((round + 1))
    work_round "w$round" 1 1
    progress
  done
}

# ---- chaos ------------------------------------------------------------------------
chaos_lane() {
  local n=0
  while (( $(totals chaos) < Q_CHAOS && $(now) < HARD_END - 240 )); do
    n=$((n + 1))
    local seed rc=0 runs=3 kills acked
    (( Q_CHAOS - $(totals chaos) >= 3 )) || runs=$((Q_CHAOS - $(totals chaos)))
    seed=$(rand_seed)
    HEARTH_SEED=$seed HEARTH_CHAOS_SECONDS=45 HEARTH_CHAOS_RUNS=$runs run_logged "c$n-chaos" \
      python3 tests/chaos/test_chaos.py --hearthd "$BUILD/tools/hearthd/hearthd" \
      --hearth "$BUILD/tools/hearth" --schema tests/data/test_schema.toml || rc=$?
    kills=$(grep -oE "'kill9': [0-9]+" "$OUT/c$n-chaos.log" | awk '{s += $2} END {print s + 0}')
    acked=$(grep -oE '[0-9]+ records \+ [0-9]+ shared increments acknowledged' "$OUT/c$n-chaos.log" |
      awk '{s += $1 + $4} END {print s + 0}')
    record "chaos label=c$n seed=$seed schedules=$runs sync_kills=$kills acked=$acked fail=$rc"
    progress
  done
}

progress() {
  printf 'progress %s  %3d min: simulator seeds %d/%d, kills %d/%d, chaos %d/%d, fuzz targets done %d/%d\n' \
    "$(date -u +%H:%M:%S)" $(( ($(now) - START) / 60 )) "$(totals sim)" "$Q_SIM" "$(totals kills)" "$Q_KILLS" \
    "$(totals chaos)" "$Q_CHAOS" "$(grep -c '^fuzz ' "$RESULTS")" "${#TARGETS[@]}"
}

echo "soak: at least $MINUTES min (hard limit $MAX_MINUTES), logs in $OUT"
echo "quotas: $Q_SIM simulator seeds, $Q_KILLS kills, $Q_CHAOS chaos schedules, ${Q_FUZZ} CPU s per fuzz target (${#TARGETS[@]})"
pids=()
if [[ $LANES == *f* ]]; then fuzz_lane & pids+=($!); fi
if [[ $LANES == *w* ]]; then work_lane & pids+=($!); fi
if [[ $LANES == *c* ]]; then chaos_lane & pids+=($!); fi
for p in "${pids[@]}"; do wait "$p"; done

# ---- summary ----------------------------------------------------------------------
summary() {
  awk -v qsim="$Q_SIM" -v qkills="$Q_KILLS" -v qchaos="$Q_CHAOS" -v qfuzz="$Q_FUZZ" -v ntargets="${#TARGETS[@]}" -v lanes="$LANES" \
      -v minutes="$(( ($(now) - START) / 60 ))" '
    function val(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    $1 == "sim"   { k = val("kind"); seeds[k] += val("seeds"); sim += val("seeds"); if (val("fail") != 0) { simf++; simff[k]++ } }
    $1 == "kill9" { kills += val("kills"); lost += val("lost"); killf += (val("fail") != 0) }
    $1 == "chaos" { chaos += val("schedules"); skills += val("sync_kills"); acked += val("acked"); chaosf += (val("fail") != 0) }
    $1 == "fuzz"  { c = val("crashers"); cpu = val("cpu_s")
                    fz[++n] = sprintf("%-16s %12s %8s  %s", $2, val("runs"), cpu, c)
                    if (c != "0") fuzzbad++; if (cpu < qfuzz) fuzzshort++ }
    END {
      printf "soak: %d min\n\n", minutes
      printf "%-34s %10s %8s %12s\n", "campaign", "count", "quota", "failed runs"
      printf "%-34s %10d %8d %12d\n", "simulator seeds (all)", sim, qsim, simf
      printf "  %-32s %10d %8s %12d\n", "6 nodes, single county", seeds["single"], "", simff["single"]
      printf "  %-32s %10d %8s %12d\n", "county policy, hostile authors", seeds["policy"], "", simff["policy"]
      printf "  %-32s %10d %8s %12d\n", "province, two counties", seeds["province"], "", simff["province"]
      printf "%-34s %10d %8d %12d   lost acknowledged: %d\n", "kill -9 (commit/map/rotation/import)", kills, qkills, killf, lost
      printf "%-34s %10d %8d %12d   hearthd kill -9 during sync: %d; acknowledged writes: %d, 0 lost unless failed\n", "chaos schedules", chaos, qchaos, chaosf, skills, acked
      printf "\n%-16s %12s %8s  %s   (quota %d CPU s per target)\n", "fuzz target", "runs", "cpu s", "crashers", qfuzz
      for (i = 1; i <= n; i++) print fz[i]
      short = 0
      if (lanes ~ /w/) short += (sim < qsim) + (kills < qkills)
      if (lanes ~ /c/) short += (chaos < qchaos)
      if (lanes ~ /f/) short += fuzzshort + (n < ntargets)
      if (short) printf "\nquota not met: %d campaign(s) short\n", short
      exit (simf + killf + chaosf + fuzzbad + lost + short) > 0
    }' "$RESULTS"
}
summary | tee "$OUT/summary.txt"
status=${PIPESTATUS[0]}
echo "logs: $OUT"
exit "$status"
