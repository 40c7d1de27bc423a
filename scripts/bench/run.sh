#!/usr/bin/env bash
# Every throughput scenario in one run, on a Release build, against an AppHost this script starts and stops (free
# loopback ports, rate limits lifted, local RabbitMQ): python-inference directly (the baselines: singles and batches of
# 100), singles through the gateway with dynamic batching on and off (gateway-unbatched, which the AppHost starts beside
# the gateway when asked: the same project and settings but Inference:Batching:Enabled=false) at 16 and 64 connections
# (the unbatched gateway in rounds that alternate with python-inference's singles, compared by medians), batches of 100
# through the gateway (in rounds that alternate with the direct batches, likewise), and jobs end to end beside the raw
# broker (scripts/bench/jobs.py). The prediction scenarios run three times, each time on a fresh AppHost: with every
# request traced (OTEL_TRACES_SAMPLER unset, the default), with the production sampling (parentbased_traceidratio,
# --sampling-ratio, 0.1 by default) in every service, the direct baselines included, and with that sampling again but no
# service exporting its telemetry (AppHost:ExportTelemetry=false: the dashboard, which otherwise ingests it on the same
# two cores, stands for a collector on another machine, as in production). The jobs run once, on the second stack (the
# first with --no-sampled), after its predictions, with jobs.sh's warm-up (20,000 single-input jobs: .NET's tiered
# compilation settles) and size (10,000 single-input jobs, 1,000 of 100 inputs). Load comes from wrk
# (scripts/bench/wrk.lua); the jobs' submissions too (jobs.py drives wrk with scripts/bench/jobs.lua and counts from the
# server's records; only its raw-broker baseline is a Python client, aio-pika, which measures the broker alone). Prints
# one Markdown table per setting with ratios against the baselines measured under that setting and writes them, a JSON
# file and a PNG plot to artifacts/bench/.
# Usage: scripts/bench/run.sh [--quick] [--transport http|grpc] [--provider sqlite|postgres] [--duration S] [--jobs N]
#                             [--sampling-ratio R | --no-sampled] [--no-unexported] [--probes]
#   --quick           a short run that checks everything works (3 s per scenario, 100 jobs); not figures to report
#   --jobs            single-input jobs measured (default 10,000; a tenth as many of 100 inputs), after 20,000 to warm
#                     up (50 with --quick)
#   --transport       how the gateway calls python-inference (the AppHost's Gateway:InferenceTransport; default grpc)
#   --provider        where the Worker keeps jobs (Database:Provider; PostgreSQL runs locally)
#   --sampling-ratio  the share of traces kept in the second pass (OTEL_TRACES_SAMPLER_ARG; default 0.1)
#   --no-sampled      no second pass (the third, if run, then keeps every trace)
#   --no-unexported   no third pass (telemetry not exported)
#   --probes          beside the single-input jobs' submissions, time a synced disk write, a confirmed publish and a
#                     commit (PostgreSQL) or the write lock (SQLite) every 25 ms, and list the slowest submissions' episodes beside them (jobs.py
#                     --probes; a few per cent more load on the disk and the broker, so not for the reported run)
# The jobs driver's own output (its tables, the slowest submissions' episodes) lands beside the report, as .jobs.md.
# (assumes scripts/setup.sh has run; installs wrk and python3-matplotlib with apt-get when they are missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
arguments="$*"
mode=full transport=grpc provider=sqlite duration=15 warmup=3 gateway_warmup=20 jobs=10000 jobs_warmup=20000 jobs_concurrency=32
rounds=3 round_duration=10 sampling_ratio=0.1 sampled=1 unexported=1 probes=0 probe_args=()
while (($#)); do
  case "$1" in
    --quick) mode=quick duration=3 warmup=1 gateway_warmup=5 jobs=100 jobs_warmup=50 round_duration=3; shift ;;
    --sampling-ratio) sampling_ratio="${2:?--sampling-ratio needs a ratio from 0 to 1}"; shift 2 ;;
    --no-sampled) sampled=0; shift ;;
    --no-unexported) unexported=0; shift ;;
    --probes) probes=1; shift ;;
    --transport) transport="${2:?--transport needs http or grpc}"; shift 2 ;;
    --provider) provider="${2:?--provider needs sqlite or postgres}"; shift 2 ;;
    --duration) duration="${2:?--duration needs seconds}" round_duration="$2"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    *) echo "$(basename "$0"): unknown argument '$1' (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
done
case "$transport" in http | grpc) ;; *) echo "$(basename "$0"): --transport is http or grpc" >&2; exit 2 ;; esac
case "$provider" in sqlite | postgres) ;; *) echo "$(basename "$0"): --provider is sqlite or postgres" >&2; exit 2 ;; esac
[[ -x python-inference/.venv/bin/python ]] || { echo "$(basename "$0"): run scripts/setup.sh first" >&2; exit 1; }
ensure_package wrk command -v wrk
ensure_package python3-matplotlib /usr/bin/python3 -c "import matplotlib"

tmp="$(mktemp -d)"
cleanup() {
  apphost_stop
  rm -rf "$tmp"
}
trap cleanup EXIT

read -r load_before _ </proc/loadavg
echo "building (Release)..." >&2
build_quietly AppHost -c Release
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --scope jobs --output token)

bench_lift_limits
# The first pass runs as Aspire starts every service (every trace kept); the second sets these itself.
unset OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG
# The gateway's alone (the Worker, whose jobs call python-inference over gRPC, reads an Inference:Transport of its own).
gateway_transport=$([[ "$transport" == http ]] && echo Http || echo Grpc)

sentence="The staff were lovely and the room was spotless."
query="text=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$sentence")"
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
texts = [f"Review {n}: the staff were lovely and the room was spotless." for n in range(100)]
json.dump({"model": "sentiment", "inputs": texts}, open(f"{sys.argv[1]}/batch100.json", "w"))
PY
auth=(-H "Authorization: Bearer $token")

# Starts the AppHost ($1 its label, $2 its name, $3 whether the services export their telemetry: on or off) with the
# unbatched gateway among its services; sets GATEWAY, UNBATCHED, direct, amqp and inference_loop.
stack_start() {
  echo "starting the AppHost ($1)..." >&2
  APPHOST_LOG="$tmp/apphost-$2.log" UNBATCHED_GATEWAY=1 apphost_start Release --Messaging:Runtime=local \
    --Database:Provider="$provider" --Database:Runtime=local --Gateway:InferenceTransport="$gateway_transport" \
    --AppHost:ExportTelemetry="$([[ "$3" == on ]] && echo true || echo false)"
  local gateway_pid inference
  gateway_pid=$GATEWAY_PID
  inference=$(inference_pid)
  direct="http://127.0.0.1:$(process_env "$inference" PORT)"
  # python-inference's event loop (its main thread), whose time on a core and waiting for one each scenario reports.
  inference_loop="/proc/$inference/task/$inference/schedstat"
  amqp=$(process_env "$(service_pid Worker Release)" ConnectionStrings__messaging)
  # For the jobs' audit (jobs done twice): the Worker's address as the gateway has it, and the gateway's key for it.
  worker_url=$(process_env "$gateway_pid" services__worker__http__0)
  worker_key=$(process_env "$(service_pid Worker Release)" Auth__Callers__gateway__SigningKey)
  if ((probes)); then probe_arguments "$provider" Release; fi
  require_sampling "$gateway_pid" "$UNBATCHED_PID" "$inference" "$(service_pid Worker Release)"
  require_export "$3" "$gateway_pid" "$UNBATCHED_PID" "$inference" "$(service_pid Worker Release)"
  # Every path answers the same before anything is measured: a benchmark of 401s or 503s would measure nothing.
  local expected url label
  expected=$(curl -fs -m 10 "$direct/predict?$query" | jq -r '.predictions[0].label')
  for url in "$GATEWAY" "$UNBATCHED"; do
    label=$(curl -fs -m 10 "${auth[@]}" "$url/predict?$query" | jq -r '.predictions[0].label') || label="no answer"
    if [[ "$label" != "$expected" ]]; then
      echo "$(basename "$0"): $url answered '$label' where python-inference answered '$expected'" >&2
      exit 1
    fi
  done
}

# The machine's steal so far, in clock ticks of all its cores (/proc/stat's first line, eighth value).
clock_ticks=$(getconf CLK_TCK)
stolen_ticks() {
  local _cpu _user _nice _system _idle _iowait _irq _softirq steal _rest
  read -r _cpu _user _nice _system _idle _iowait _irq _softirq steal _rest </proc/stat
  echo "$steal"
}

# The host watch through a scenario (as the jobs driver keeps one through its submissions): a process in a session,
# and so a scheduler group, of its own that times its 25 ms sleep and reads the steal (scripts/bench/procstat.py).
# host_watch_start sets watch_pid; host_watch_stop prints its summary as JSON (null if it had too little to say).
host_watch_start() {
  setsid /usr/bin/python3 scripts/bench/procstat.py watch 0.025 >"$tmp/host-watch" &
  watch_pid=$!
}
host_watch_stop() {
  kill -TERM "$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  /usr/bin/python3 scripts/bench/procstat.py summary 0.025 <"$tmp/host-watch"
}

# scenario <sampling> <name> <group> <connections> <inputs per request> <url> [body file] [-- wrk arguments]
# With SCENARIO_ROUND set, the row is one round of several (the report takes their median); SCENARIO_SECONDS overrides
# the duration.
scenario() {
  local sampling="$1" name="$2" group="$3" connections="$4" inputs="$5" url="$6" body="${7:-}"; shift 7
  echo "  $name ($connections connections${SCENARIO_ROUND:+, round $SCENARIO_ROUND})" >&2
  WRK_BODY="$body" wrk -t2 -c"$connections" -d"${warmup}s" --timeout 5s "$@" -s scripts/bench/wrk.lua "$url" >/dev/null
  local result running waiting running2 waiting2 stolen stolen2 started ended host
  # The scheduler's account of python-inference's loop (ns on a core, ns runnable but waiting for one) around the run,
  # and the machine's steal (ticks the hypervisor gave its cores to another guest) and the host watch through it: a
  # p99 that moved with the host.
  host_watch_start
  read -r running waiting _ <"$inference_loop"
  stolen=$(stolen_ticks)
  started=$(date +%s%N)
  result=$(WRK_BODY="$body" wrk -t2 -c"$connections" -d"${SCENARIO_SECONDS:-$duration}s" --timeout 5s "$@" \
    -s scripts/bench/wrk.lua "$url" | sed -n 's/^WRK_RESULT //p')
  ended=$(date +%s%N)
  stolen2=$(stolen_ticks)
  read -r running2 waiting2 _ <"$inference_loop"
  host=$(host_watch_stop)
  jq -c --arg sampling "$sampling" --arg name "$name" --arg group "$group" --argjson connections "$connections" \
    --argjson inputs "$inputs" --argjson round "${SCENARIO_ROUND:-0}" \
    --argjson loop_running "$(((running2 - running) * 1000 / (ended - started)))" \
    --argjson loop_waiting "$(((waiting2 - waiting) * 1000 / (ended - started)))" \
    --argjson stolen "$(((stolen2 - stolen) * 1000000000 / clock_ticks * 1000 / (ended - started)))" \
    --argjson host "$host" \
    '{sampling: $sampling, name: $name, group: $group, connections: $connections, inputs: $inputs, round: $round,
      loop_running: ($loop_running / 1000), loop_waiting: ($loop_waiting / 1000), stolen_cores: ($stolen / 1000)}
     + (if $host then {stolen_cores_most: $host.stolen_cores_most, timer_late_max_ms: $host.timer_late_max_ms} else {} end)
     + .' \
    <<<"$result" >>"$tmp/scenarios.jsonl"
}

# Every prediction scenario under one sampling setting ($1, as the report names it), on the stack running now.
prediction_scenarios() {
  local sampling="$1" connections round
  # .NET compiles hot code again, optimised, in the background after its first calls (tiered compilation); on two
  # busy cores that outlasts a scenario's warm-up (3 s of it left half of a gateway's CPU to the JIT), so each
  # gateway is warmed up longer first. python-inference has no JIT to wait for.
  echo "warming up the gateways (${gateway_warmup} s each)..." >&2
  for url in "$GATEWAY" "$UNBATCHED"; do
    wrk -t2 -c64 -d"${gateway_warmup}s" --timeout 5s "${auth[@]}" "$url/predict?$query" >/dev/null
  done
  echo "measuring, $sampling ($mode: ${duration} s per scenario after ${warmup} s of warm-up)..." >&2
  for connections in 16 64; do
    scenario "$sampling" "gateway, single, batching on" gateway-batched "$connections" 1 "$GATEWAY/predict?$query" "" "${auth[@]}"
  done
  # python-inference's singles and the unbatched gateway's are the pair nearest their target (0.95x): a scenario each,
  # one after the other, put the machine's drift between them (one run: 0.75x at 16 connections, the next pass 0.82x,
  # each rate moving 10 % between passes), so they alternate in rounds and the report compares their medians.
  for connections in 16 64; do
    for round in $(seq 1 "$rounds"); do
      SCENARIO_ROUND=$round SCENARIO_SECONDS=$round_duration scenario "$sampling" "python-inference directly, single" \
        direct-single "$connections" 1 "$direct/predict?$query" ""
      SCENARIO_ROUND=$round SCENARIO_SECONDS=$round_duration scenario "$sampling" "gateway, single, batching off" \
        gateway-unbatched "$connections" 1 "$UNBATCHED/predict?$query" "" "${auth[@]}"
    done
  done
  # The direct batches are the figure that moved most between runs (8.8k-15.2k items/s on one day): direct and
  # gateway rounds alternate, so drift on the machine hits both, and the report compares their medians.
  for round in $(seq 1 "$rounds"); do
    SCENARIO_ROUND=$round SCENARIO_SECONDS=$round_duration scenario "$sampling" "python-inference directly, batch of 100" \
      direct-batch 16 100 "$direct/v1/predict" "$tmp/batch100.json"
    SCENARIO_ROUND=$round SCENARIO_SECONDS=$round_duration scenario "$sampling" "gateway, batch of 100" \
      gateway-batch 16 100 "$GATEWAY/api/v1/predictions" "$tmp/batch100.json" "${auth[@]}"
  done
}

every_trace="every request traced"
stack_start "$every_trace" traced on
prediction_scenarios "$every_trace"

if ((sampled)); then
  apphost_stop
  sampled_label="$(/usr/bin/python3 -c 'import sys; print(f"{float(sys.argv[1]):.0%}")' "$sampling_ratio") of traces kept"
  export OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$sampling_ratio"
  stack_start "$sampled_label (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=$sampling_ratio)" sampled on
  prediction_scenarios "$sampled_label"
  jobs_sampling="$sampled_label"
else
  jobs_sampling="$every_trace"
  sampled_label="$every_trace"
fi

echo "  jobs, $jobs_sampling ($jobs_warmup of 1 input to warm up, then $jobs of 1 input, $((jobs / 10 > 10 ? jobs / 10 : 10)) of 100; raw broker first)" >&2
jobs_status=0
timeout 900 python-inference/.venv/bin/python scripts/bench/jobs.py --gateway "$GATEWAY" --token "$token" --amqp "$amqp" \
  --jobs "$jobs" --warmup "$jobs_warmup" --concurrency "$jobs_concurrency" --worker "$worker_url" --worker-key "$worker_key" \
  --json "$tmp/jobs.json" "${probe_args[@]}" >"$tmp/jobs.out" || jobs_status=$?
if ((jobs_status != 0)); then
  echo "$(basename "$0"): the jobs scenario failed ($jobs_status):" >&2
  tail -n 20 "$tmp/jobs.out" >&2
fi

if ((unexported)); then
  apphost_stop
  unexported_label="$sampled_label, none exported"
  stack_start "$unexported_label (AppHost:ExportTelemetry=false)" unexported off
  prediction_scenarios "$unexported_label"
fi

read -r load_after _ </proc/loadavg
mkdir -p artifacts/bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
/usr/bin/python3 scripts/bench/report.py --scenarios "$tmp/scenarios.jsonl" --jobs "$tmp/jobs.json" \
  --out "artifacts/bench/bench-$stamp" --meta mode="$mode" transport="$transport" provider="$provider" \
  duration_s="$duration" batch_rounds="$rounds" batch_duration_s="$round_duration" jobs_sampling="$jobs_sampling" jobs_warmup="$jobs_warmup" load_before="$load_before" load_after="$load_after" \
  commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!artifacts' || echo '+changes')" \
  command="scripts/bench/run.sh${arguments:+ $arguments}"
cp "$tmp/jobs.out" "artifacts/bench/bench-$stamp.jobs.md"
exit "$jobs_status"
