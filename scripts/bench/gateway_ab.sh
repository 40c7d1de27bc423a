#!/usr/bin/env bash
# The gateway's CPU per unbatched prediction, A/B: one Release stack (as profile.sh starts it), and beside it one
# gateway process per variant with batching off, each a saved build of the gateway (--save NAME keeps the current
# Release build under artifacts/gateway-ab/NAME) with optional settings of its own. wrk drives GET /predict at each
# variant in turn (and at python-inference directly with the variant `direct`), in rounds whose order rotates, and
# scripts/bench/gateway_ab.py reports each variant's own CPU, python-inference's, the dashboard's and the whole
# machine's per request from /proc, with the medians. Variants share the machine's noise, so compare them, not runs.
# The variants run in this shell's scheduling group (autogroup), beside wrk, not in the services' as the AppHost's
# gateways do: compare variants with each other; against `direct` each loses a few per cent to that (docs/performance.md).
# Usage: scripts/bench/gateway_ab.sh --save NAME
#        scripts/bench/gateway_ab.sh [--rounds N] [--seconds S] [--warmup S] [--connections C] [--sampling-ratio R] VARIANT...
#   VARIANT: direct | LABEL=NAME[:Setting__Name=value]...   e.g. before=before after=after log-off=after:Logging__LogLevel__Gateway.Requests.RequestLoggingMiddleware=Warning
# Run it under the shared lock: flock /work/wt/bench.lock scripts/bench/gateway_ab.sh ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
saved=artifacts/gateway-ab
rounds=3 seconds=10 warmup=15 connections=64 variants=()
while (($#)); do
  case "$1" in
    --save)
      name="${2:?--save needs a name}"
      build_quietly Gateway -c Release
      rm -rf "${saved:?}/$name" && mkdir -p "$saved/$name"
      cp -a Gateway/bin/Release/net10.0 "$saved/$name/bin" && cp Gateway/appsettings*.json "$saved/$name/"
      git log -1 --format='%h %s' >"$saved/$name/commit.txt" && git status --short >>"$saved/$name/commit.txt"
      echo "saved the gateway's Release build as $saved/$name ($(head -c 80 "$saved/$name/commit.txt"))"
      exit 0 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --connections) connections="${2:?}"; shift 2 ;;
    --sampling-ratio) export OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="${2:?}"; shift 2 ;;
    -*) echo "$(basename "$0"): unknown option '$1' (see the usage at the top of the script)" >&2; exit 2 ;;
    *) variants+=("$1"); shift ;;
  esac
done
((${#variants[@]})) || { echo "$(basename "$0"): name at least one variant (see the usage at the top)" >&2; exit 2; }
ensure_package wrk command -v wrk
started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  apphost_stop
}
trap cleanup EXIT

build_quietly AppHost -c Release
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --output token)
bench_lift_limits
out="artifacts/gateway-ab/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
APPHOST_LOG="$out/apphost.log" apphost_start Release --Messaging:Runtime=local --Database:Provider=sqlite --Database:Runtime=local
gateway=$GATEWAY_PID
inference=$(inference_pid)
dashboard=$(dashboard_pid)
query="text=The%20staff%20were%20lovely%20and%20the%20room%20was%20spotless."
mapfile -d '' environment <"/proc/$gateway/environ"
targets=()
for variant in "${variants[@]}"; do
  if [[ "$variant" == direct ]]; then
    targets+=("direct=$inference=http://127.0.0.1:$(process_env "$inference" PORT)/predict?$query")
    continue
  fi
  label=${variant%%=*}
  IFS=: read -r -a parts <<<"${variant#*=}"
  build="$PWD/$saved/${parts[0]}"
  [[ -x "$build/bin/Gateway" ]] || { echo "$(basename "$0"): no saved build '${parts[0]}' (--save ${parts[0]} first)" >&2; exit 2; }
  port=$(free_port)
  # The AppHost gateway's environment (service discovery, telemetry, the lifted limits), its own port, batching off.
  (cd "$build" && exec env -i "${environment[@]}" ASPNETCORE_URLS="http://127.0.0.1:$port" \
    Inference__Batching__Enabled=false OTEL_SERVICE_NAME="gateway-$label" "${parts[@]:1}" "$build/bin/Gateway") \
    >"$out/$label.log" 2>&1 &
  pid=$!
  started+=("$pid")
  for _ in $(seq 1 120); do curl -fs -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fs -m 10 -H "Authorization: Bearer $token" "http://127.0.0.1:$port/predict?$query" >/dev/null \
    || { echo "$(basename "$0"): variant $label does not answer a prediction (see $out/$label.log)" >&2; exit 1; }
  targets+=("$label=$pid=http://127.0.0.1:$port/predict?$query")
done
read -r load _ </proc/loadavg
echo "load average before: $load; traces: ${OTEL_TRACES_SAMPLER:-every one, as Aspire sets} ${OTEL_TRACES_SAMPLER_ARG:-}" | tee "$out/report.md"
/usr/bin/python3 scripts/bench/gateway_ab.py --token "$token" --python "$inference" --dashboard "${dashboard:-0}" \
  --rounds "$rounds" --seconds "$seconds" --warmup "$warmup" --connections "$connections" "${targets[@]}" | tee -a "$out/report.md"
read -r load _ </proc/loadavg
echo "load average after: $load" | tee -a "$out/report.md"
echo "written to $out" >&2
