#!/usr/bin/env bash
# Where the time of a single prediction goes: starts the Release stack as scripts/bench/run.sh does (its own AppHost,
# limits lifted, a second gateway with batching off) and, for python-inference directly and for each gateway, runs
# wrk (GET /predict, the same sentence) while measuring
#   - the CPU of every process on the machine (scripts/bench/cpu_split.py): which process burns the two cores;
#   - with --trace, the gateway's own view: dotnet-counters (GC, allocations, thread pool, lock contention) and
#     dotnet-trace (sampled thread stacks; scripts/bench/trace_top.py keeps the samples that were running, not waiting);
#   - with --perf, `perf record` of the gateway (on-CPU samples, .NET frames named through perf maps), summarised
#     by scripts/bench/perf_areas.py.
# Writes everything under artifacts/profile/<time>/ and prints the tables.
# Usage: scripts/bench/profile.sh [--seconds S] [--warmup S] [--connections C] [--trace] [--perf] [--sampling-ratio R]
#                                 [--only idle|direct|on|off|direct-batch|batch]...
#   idle: the stack's CPU with no load at all (what the processes that play no part in a scenario burn meanwhile)
#   direct-batch, batch: POST 100 texts (scripts/bench/wrk.lua) to python-inference directly and through the gateway
#   --sampling-ratio: every service keeps that share of traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio)
# Run it under the shared lock: flock /work/wt/bench.lock scripts/bench/profile.sh ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
seconds=20 warmup=20 connections=64 trace="" perf="" only=()
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --connections) connections="${2:?}"; shift 2 ;;
    --trace) trace=1; shift ;;
    --perf) perf=1; shift ;;
    --only) only+=("${2:?}"); shift 2 ;;
    --sampling-ratio) export OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="${2:?}"; shift 2 ;;
    *) echo "$(basename "$0"): unknown argument '$1' (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
done
((${#only[@]})) || only=(idle direct on off)
[[ -x python-inference/.venv/bin/python ]] || { echo "$(basename "$0"): run scripts/setup.sh first" >&2; exit 1; }
tools="$HOME/.dotnet/tools"
if [[ -n "$trace" ]]; then
  for tool in dotnet-trace dotnet-counters; do
    [[ -x "$tools/$tool" ]] || dotnet tool install -g "$tool" >/dev/null
  done
fi
[[ -z "$perf" ]] || ensure_package linux-perf command -v perf
ensure_package wrk command -v wrk
ensure_package sysstat command -v pidstat

out="artifacts/profile/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
trap apphost_stop EXIT

echo "building (Release)..." >&2
build_quietly AppHost -c Release
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --output token)
bench_lift_limits
# perf names JIT-compiled frames from /tmp/perf-<pid>.map (every .NET process of the stack writes one).
# (W^X off, or perf sees JIT code in anonymous double mappings it cannot name.)
[[ -z "$perf" ]] || export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
echo "starting the AppHost..." >&2
APPHOST_LOG="$out/apphost.log" UNBATCHED_GATEWAY=1 apphost_start Release --Messaging:Runtime=local --Database:Provider=sqlite --Database:Runtime=local
gateway=$GATEWAY_PID unbatched=$UNBATCHED_PID
inference=$(inference_pid)
workers=$(service_pids Worker Release | paste -sd, -)
apphost_children=$(pgrep -P "$APPHOST" | paste -sd, -)
direct="http://127.0.0.1:$(process_env "$inference" PORT)"

query="text=The%20staff%20were%20lovely%20and%20the%20room%20was%20spotless."
/usr/bin/python3 - "$out" <<'PY'
import json, sys
texts = [f"Review {n}: the staff were lovely and the room was spotless." for n in range(100)]
json.dump({"model": "sentiment", "inputs": texts}, open(f"{sys.argv[1]}/batch100.json", "w"))
PY
roles=(--role "gateway (batching on)=$gateway" --role "gateway (batching off)=$unbatched"
  --role "python-inference=$inference" --role "workers=$workers" --role "apphost=$APPHOST,$apphost_children" --stack "$APPHOST")
# By its pid: the orchestrator starts it outside the AppHost's process tree, beside other stacks' dashboards.
dashboard=$(dashboard_pid)
[[ -z "$dashboard" ]] || roles+=(--role "dashboard=$dashboard")
read -r load _ </proc/loadavg
echo "load average before: $load; traces: ${OTEL_TRACES_SAMPLER:-every one, as Aspire sets} ${OTEL_TRACES_SAMPLER_ARG:-}" | tee "$out/load.txt"

for scenario in "${only[@]}"; do
  if [[ "$scenario" == idle ]]; then
    echo; echo "## idle: CPU of every process, ${seconds} s without load" | tee -a "$out/report.md"
    /usr/bin/python3 scripts/bench/cpu_split.py "${roles[@]}" --json "$out/cpu-idle.json" -- sleep "$seconds" | tee -a "$out/report.md"
    continue
  fi
  body=""
  case "$scenario" in
    direct) url="$direct/predict?$query" target="" auth=() ;;
    on) url="$GATEWAY/predict?$query" target="$gateway" auth=(-H "Authorization: Bearer $token") ;;
    off) url="$UNBATCHED/predict?$query" target="$unbatched" auth=(-H "Authorization: Bearer $token") ;;
    direct-batch) url="$direct/v1/predict" target="" auth=() body="$out/batch100.json" ;;
    batch) url="$GATEWAY/api/v1/predictions" target="$gateway" auth=(-H "Authorization: Bearer $token") body="$out/batch100.json" ;;
    *) echo "$(basename "$0"): --only is idle, direct, on, off, direct-batch or batch" >&2; exit 2 ;;
  esac
  load_wrk=(env WRK_BODY="$body" wrk -t2 -c"$connections" --timeout 5s --latency -s scripts/bench/wrk.lua "${auth[@]}" "$url")
  # Warm-up long enough for .NET's tiered compilation to settle (at 3 s it still used half the gateway's CPU).
  "${load_wrk[@]}" -d"${warmup}s" >/dev/null
  echo; echo "## $scenario: CPU of every process, ${seconds} s of wrk at $connections connections" | tee -a "$out/report.md"
  /usr/bin/python3 scripts/bench/cpu_split.py "${roles[@]}" --json "$out/cpu-$scenario.json" -- \
    "${load_wrk[@]}" -d"${seconds}s" | tee -a "$out/report.md"

  if [[ -n "$trace" && -n "$target" ]]; then
    echo "## $scenario: dotnet-counters and dotnet-trace of the gateway (pid $target)" | tee -a "$out/report.md"
    "$tools/dotnet-counters" collect -p "$target" --refresh-interval 1 --duration "00:00:$(printf %02d "$seconds")" \
      --counters System.Runtime,Microsoft.AspNetCore.Hosting,Microsoft.AspNetCore.Server.Kestrel,System.Net.Http \
      --format csv -o "$out/counters-$scenario.csv" >/dev/null &
    counters=$!
    "${load_wrk[@]}" -d"${seconds}s" | tee -a "$out/report.md"
    wait "$counters" || true
    /usr/bin/python3 scripts/bench/counters_summary.py "$out/counters-$scenario.csv" | tee -a "$out/report.md"

    "$tools/dotnet-trace" collect -p "$target" --profile dotnet-sampled-thread-time --duration "00:00:$(printf %02d "$seconds")" \
      -o "$out/trace-$scenario.nettrace" >/dev/null &
    tracer=$!
    sleep 1
    "${load_wrk[@]}" -d"$((seconds - 2))s" >>"$out/report.md"
    wait "$tracer" || true
    "$tools/dotnet-trace" convert --format Speedscope "$out/trace-$scenario.nettrace" -o "$out/trace-$scenario" >/dev/null
    /usr/bin/python3 scripts/bench/trace_top.py "$out/trace-$scenario.speedscope.json" | tee -a "$out/report.md"
  fi

  if [[ -n "$perf" && -n "$target" ]]; then
    echo "## $scenario: perf record of the gateway (pid $target), on-CPU samples" | tee -a "$out/report.md"
    perf record -F 999 -e cpu-clock -g -p "$target" -o "$out/perf-$scenario.data" -- sleep "$((seconds - 2))" 2>/dev/null &
    recorder=$!
    "${load_wrk[@]}" -d"${seconds}s" >>"$out/report.md"
    wait "$recorder" || true
    perf script -i "$out/perf-$scenario.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$out/perf-$scenario.txt"
    /usr/bin/python3 scripts/bench/perf_areas.py "$out/perf-$scenario.txt" 25 | tee -a "$out/report.md"
  fi
done
read -r load _ </proc/loadavg
echo "load average after: $load" | tee -a "$out/load.txt"
echo "written to $out" >&2
