#!/usr/bin/env bash
# Jobs per second end to end (persistence, publisher confirms and acks on) at 1 and 100 inputs per job, beside the
# raw publish/consume rate of the same RabbitMQ measured by a plain client in the same run. Starts its own AppHost
# on free ports (local RabbitMQ, two Worker replicas, the chosen database), prints a table, stops it.
# The driver is scripts/bench/jobs.py: the submissions come from wrk (scripts/bench/jobs.lua; `concurrency`
# connections, one submission in flight on each, exactly `jobs` submissions), and the figures from the server's own
# records (the 202s, the jobs' timestamps, the Worker's audit log for jobs done twice). The raw-broker baseline is a
# Python client (aio-pika): it measures the broker, not our stack. scripts/bench/run.sh runs the same driver as one
# scenario among the others.
# Usage: scripts/bench/jobs.sh [--provider sqlite|postgres|both] [--release] [--profile] [--statements] [--trace] [--probes]
#                              [--warmup N] [--compile-once] [--sampling-ratio R] [jobs] [concurrency]
#   --provider  where the state lives (Database:Provider; PostgreSQL runs locally, Database:Runtime=local); `both`
#               runs SQLite, then PostgreSQL (an AppHost each, one after the other) and ends with one table of both
#               and the PostgreSQL / SQLite ratios
#   --release   build and run the services in Release (what a throughput figure should be measured on)
#   --profile   also print, for the single-input jobs, the CPU per job of every process of the stack (from /proc), of
#               the load client (wrk) and of the driver polling for results and, on PostgreSQL, commits and statements
#               per job with the server's time in each (statements need pg_stat_statements preloaded: --statements)
#   --statements  --profile, and the local PostgreSQL preloads pg_stat_statements (with planning counted) so that the
#               profile lists the statements per job and the server's time in each (the extension costs the server a
#               little: compare rates only between runs with the same setting)
#   --warmup    single-input jobs (and a hundredth as many 100-input ones) submitted before measuring (default 20,000:
#               about a minute, which .NET's tiered compilation needs on two shared cores to finish re-compiling the
#               hot paths: after 3,000 the JIT was still at work (264 single-input jobs/s on SQLite), after 20,000
#               485-698; docs/performance-history.md, "Jobs: the settled figures"; 200 with --compile-once)
#   --compile-once  the stack's .NET processes compile each method once, fully optimised (DOTNET_TieredCompilation=0):
#               no JIT at work while measuring, for profiles (--trace) that should show the work rather than the JIT,
#               but no dynamic PGO and the framework's precompiled code never re-optimised, so slower than a settled
#               stack; not the figures to report
#   --sampling-ratio  every service keeps that share of the traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio,
#               OTEL_TRACES_SAMPLER_ARG=R), as production does with 0.1 (docs/operations.md); by default every job is
#               traced, as in development
#   --probes    time what a submission waits on every 25 ms beside the single-input submissions (a synced 4 KiB write
#               on the stores' file system, a persistent message the broker confirms, and a one-row commit on
#               PostgreSQL or the write lock taken and given back on SQLite, and every Worker replica's and the
#               gateway's /alive, asked from a process of their own: scripts/bench/liveness.py), list beside each
#               episode of the slowest submissions the longest wait of every probe during it, and list the stalls of
#               the services' /alive, each with whether the machine stopped then
#               (jobs.py --probes; docs/performance.md, "What the slowest submissions wait on")
#   --trace     also `perf record` the gateway and one Worker replica for a few seconds of the single-input jobs and
#               print where their CPU went (scripts/bench/perf_top.py); the recordings stay under artifacts/profile/
# (assumes scripts/setup.sh has run; installs wrk with apt-get when it is missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
provider=sqlite
configuration=Debug
profile=0
statements=0
trace=0
probes=0
compile_once=0
warmup=""
sampling_ratio=""
positional=()
while (($#)); do
  case "$1" in
    --provider) provider="${2:?--provider needs sqlite, postgres or both}"; shift 2 ;;
    --provider=*) provider="${1#*=}"; shift ;;
    --release) configuration=Release; shift ;;
    --profile) profile=1; shift ;;
    --statements) profile=1; statements=1; shift ;;
    --trace) trace=1; shift ;;
    --probes) probes=1; shift ;;
    --compile-once) compile_once=1; shift ;;
    --warmup) warmup="${2:?--warmup needs a number of jobs}"; shift 2 ;;
    --sampling-ratio) sampling_ratio="${2:?--sampling-ratio needs a ratio from 0 to 1}"; shift 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
case "$provider" in
  sqlite | postgres) providers=("$provider") ;;
  both) providers=(sqlite postgres) ;;
  *) echo "$(basename "$0"): --provider is sqlite, postgres or both, not '$provider'" >&2; exit 2 ;;
esac
jobs="${positional[0]:-1000}"
concurrency="${positional[1]:-32}"
source scripts/bench/lib.sh
ensure_package wrk command -v wrk
build_quietly AppHost -c "$configuration"
token=$(dotnet user-jwts create --project Gateway --name bench --scope jobs --output token)
results=$(mktemp -d)

# The bench is one subject submitting thousands of jobs: lift its rate limit (project resources inherit the
# AppHost's environment).
export RateLimiting__Policies__jobs__TokenLimit=1000000 RateLimiting__Policies__jobs__TokensPerPeriod=1000000
export UpstreamLimits__MaxConcurrentCallsPerCaller=100000 UpstreamLimits__MaxConcurrentCalls=100000
trap 'apphost_stop; rm -rf "$results"' EXIT
# Project resources inherit the AppHost's environment.
if ((compile_once)); then export DOTNET_TieredCompilation=0; fi
if [[ -n "$sampling_ratio" ]]; then
  export OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$sampling_ratio"
  traced="${sampling_ratio} of traces kept"
else
  unset OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG
  traced="every job traced"
fi
if [[ -z "$warmup" ]]; then if ((compile_once)); then warmup=200; else warmup=20000; fi; fi
if ((trace)); then
  ensure_package linux-perf command -v perf
  # perf names JIT-compiled frames from /tmp/perf-<pid>.map (W^X off, or it sees anonymous double mappings).
  export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
  traces="artifacts/profile/jobs-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$traces"
fi

# Records the gateway and one Worker replica ($1 the provider) for a few seconds once the single-input jobs begin
# (jobs.py writes the phase file), then prints where their CPU went.
record_single_phase() {
  local phase="$1" provider="$2" seconds=6 name pid recorders=()
  until grep -q single "$phase" 2>/dev/null; do sleep 0.2; done
  for name in Gateway Worker; do
    pid=$(service_pid "$name" "$configuration")
    perf record -F 999 -e cpu-clock -g -p "$pid" -o "$traces/$provider-$name.data" -- sleep "$seconds" >/dev/null 2>&1 &
    recorders+=($!)
    # Whether the JIT is still at work (methods compiled, time in the JIT) while perf records.
    "$HOME/.dotnet/tools/dotnet-counters" collect -p "$pid" --refresh-interval 1 --duration "00:00:0$seconds" \
      --counters System.Runtime --format csv -o "$traces/$provider-$name-counters.csv" >/dev/null 2>&1 &
    recorders+=($!)
  done
  wait "${recorders[@]}" || true
}

print_single_phase() {
  local provider="$1" name
  for name in Gateway Worker; do
    perf script -i "$traces/$provider-$name.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$traces/$provider-$name.txt"
    echo; echo "### $name ($provider): where its CPU went during the single-input jobs (perf, all threads)"
    /usr/bin/python3 scripts/bench/perf_top.py "$traces/$provider-$name.txt" 30
    [[ ! -s "$traces/$provider-$name-counters.csv" ]] \
      || /usr/bin/python3 scripts/bench/counters_summary.py "$traces/$provider-$name-counters.csv" | grep -Ei "jit|gc\.collections|allocated|counter \||^\|---"
  done
}

# Whether process $1 descends from one of the processes $2... (this AppHost's orchestrator, not a test's).
descends_from() {
  local pid="$1"; shift
  while [[ -n "$pid" && "$pid" != 1 && "$pid" != 0 ]]; do
    for ancestor in "$@"; do [[ "$pid" == "$ancestor" ]] && return 0; done
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || return 1
  done
  return 1
}

# --cpu and --postgres arguments of jobs.py for the stack apphost_start started ($1 the provider).
profile_arguments() {
  local workers amqp_port pg orchestrator inference="" dashboard=""
  orchestrator=$(orchestrator_pids "$APPHOST")
  for pid in $(pgrep -f "uvicorn app.main:app"); do
    # shellcheck disable=SC2086 # a list of pids
    if descends_from "$pid" $orchestrator; then inference="$pid"; break; fi
  done
  workers=$(service_pids Worker "$configuration" | tr '\n' ',')
  amqp_port=$(sed -E 's|.*:([0-9]+)/?.*$|\1|' <<<"$amqp")
  echo "--cpu gateway=$GATEWAY_PID --cpu worker=${workers%,}"
  echo "--cpu python-inference=$inference --cpu rabbitmq=$(listener_pid "$amqp_port")"
  # The dashboard's own process: the listener on its port is the orchestrator's proxy (counting that one counted the
  # orchestrator twice, as "dashboard" too, and the dashboard with it).
  for pid in $(pgrep -f "/Aspire\.Dashboard( |$)"); do
    # shellcheck disable=SC2086 # a list of pids
    if descends_from "$pid" $orchestrator; then dashboard="$pid"; break; fi
  done
  echo "--cpu dashboard=$dashboard --cpu orchestrator=$(tr ' ' ',' <<<"$orchestrator" | sed 's/,*$//')"
  echo "--cpu apphost=$APPHOST"
  if [[ "$1" == postgres ]]; then
    pg=$(process_env "$(service_pid Worker "$configuration")" ConnectionStrings__workerdb)
    echo "--cpu postgres=$(listener_pid "$(sed -E 's/.*Port=([0-9]+).*/\1/' <<<"$pg")") --postgres $pg"
  fi
}

read -r load_before _ </proc/loadavg
for provider in "${providers[@]}"; do
  settings=()
  if ((statements)) && [[ "$provider" == postgres ]]; then
    settings=(--Database:Local:Settings:shared_preload_libraries=pg_stat_statements
      --Database:Local:Settings:pg_stat_statements.track_planning=on)
  fi
  apphost_start "$configuration" --Messaging:Runtime=local --Database:Provider="$provider" --Database:Runtime=local \
    "${settings[@]}"
  require_sampling "$GATEWAY_PID" "$(service_pid Worker "$configuration")" "$(inference_pid)"
  # The broker's address and generated credentials, as Aspire gave them to a Worker replica.
  amqp=$(process_env "$(service_pid Worker "$configuration")" ConnectionStrings__messaging)
  # The Worker's address as the gateway has it, and the key the gateway signs its tokens for the Worker with: the
  # driver reads the audit log (jobs completed twice) as the gateway acting for an admin.
  extra=(--worker "$(process_env "$GATEWAY_PID" services__worker__http__0)"
    --worker-key "$(process_env "$(service_pid Worker "$configuration")" Auth__Callers__gateway__SigningKey)")
  if ((profile)); then read -r -a profiled <<<"$(profile_arguments "$provider" | tr '\n' ' ')"; extra+=("${profiled[@]}"); fi
  if ((probes)); then probe_arguments "$provider" "$configuration"; extra+=("${probe_args[@]}"); fi
  echo "provider: $provider ($configuration build, $traced)"
  if ((trace)); then
    extra+=(--phase-file "$results/$provider.phase")
    record_single_phase "$results/$provider.phase" "$provider" &
    recording=$!
  fi
  python-inference/.venv/bin/python scripts/bench/jobs.py --gateway "$GATEWAY" --token "$token" \
    --amqp "$amqp" --jobs "$jobs" --concurrency "$concurrency" --warmup "$warmup" --json "$results/$provider.json" "${extra[@]}"
  if ((trace)); then wait "$recording" || true; print_single_phase "$provider"; fi
  apphost_stop
done
read -r load_after _ </proc/loadavg

if ((${#providers[@]} > 1)); then
  echo
  echo "Both providers, one after the other ($configuration build, $traced, $jobs single-input and $((jobs / 10 > 10 ? jobs / 10 : 10)) 100-input jobs, $concurrency in flight; load average $load_before before, $load_after after):"
  echo
  python-inference/.venv/bin/python scripts/bench/jobs.py --compare sqlite="$results/sqlite.json" postgres="$results/postgres.json"
fi
