#!/usr/bin/env bash
# Measures how long the AppHost takes from launch until the gateway answers a real prediction
# (which needs RabbitMQ, python-inference, the Worker and the Gateway all up). Prints one table row per run.
# Usage: scripts/bench/startup.sh [runs]   (assumes scripts/setup.sh has run and the solution is built)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-3}"
source scripts/bench/lib.sh
refuse_if_gateway_answers
build_quietly AppHost
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --output token)

printf '| run | gateway healthy (s) | first prediction (s) |\n|---|---|---|\n'
for run in $(seq 1 "$runs"); do
  log="$(mktemp)"
  start=$(date +%s.%N)
  dotnet run --project AppHost --no-build >"$log" 2>&1 &
  apphost=$!
  orchestrator=""
  healthy="" predicted=""
  for _ in $(seq 1 1200); do
    now=$(date +%s.%N)
    (( $(wc -w <<<"$orchestrator") >= 2 )) || orchestrator=$(orchestrator_pids "$apphost")
    if [[ -z "$healthy" ]] && curl -fs -m 1 http://localhost:8080/health >/dev/null 2>&1; then
      healthy=$(echo "$now - $start" | bc)
    fi
    if [[ -n "$healthy" ]] && curl -fs -m 5 -H "Authorization: Bearer $token" "http://localhost:8080/predict?text=fine" >/dev/null 2>&1; then
      predicted=$(echo "$(date +%s.%N) - $start" | bc)
      break
    fi
    sleep 0.1
  done
  printf '| %s | %.1f | %.1f |\n' "$run" "${healthy:-0}" "${predicted:-0}"
  kill -TERM "$apphost" 2>/dev/null || true  # a background job ignores SIGINT; dotnet run passes TERM on
  wait "$apphost" 2>/dev/null || true
  # DCP tears the resources down after the AppHost exits, in its own session; the next run starts only once
  # this run's DCP processes are gone (otherwise the old gateway can answer the new run's first health probe).
  for _ in $(seq 1 300); do
    alive=""
    for pid in $orchestrator; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ -z "$alive" ]] && ! curl -s -m 1 http://localhost:8080/alive >/dev/null 2>&1 && break
    sleep 0.2
  done
  rm -f "$log"
done
