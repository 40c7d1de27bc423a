#!/usr/bin/env bash
# Single predictions and batches of 100 over HTTP/JSON and over gRPC, against python-inference directly and via the
# gateway. The gateway's transport is fixed at start-up (Inference:Transport), so the AppHost starts twice: first
# with the gateway on HTTP/JSON (the direct cells and the gateway's HTTP cells), then on gRPC. Prints one table and
# fails if the paths disagree on any prediction of the check.
# Usage: scripts/bench/inference.sh [singles] [batches] [concurrency] [warm-up]   (assumes scripts/setup.sh has run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
singles="${1:-2000}"
batches="${2:-200}"
concurrency="${3:-16}"
warmup="${4:-200}"
source scripts/bench/lib.sh
read -r load _ </proc/loadavg
if (( $(echo "$load > 1" | bc) )); then
  echo "inference.sh: load average $load before the start: other work on this machine will lower the figures" >&2
fi
build_quietly AppHost -c Debug
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --output token)
driver=(python-inference/.venv/bin/python scripts/bench/inference_driver.py)
counts=(--singles "$singles" --batches "$batches" --concurrency "$concurrency" --warmup "$warmup")

# One subject sends thousands of predictions: lift its limits (project resources inherit the AppHost's environment).
export RateLimiting__Policies__predict__TokenLimit=1000000 RateLimiting__Policies__predict__TokensPerPeriod=1000000
export RateLimiting__Policies__batch__TokenLimit=1000000 RateLimiting__Policies__batch__TokensPerPeriod=1000000
# ...and its calls in flight: the per-caller cap would refuse a concurrency above it.
export UpstreamLimits__MaxConcurrentCallsPerCaller=100000 UpstreamLimits__MaxConcurrentCalls=100000

results="$(mktemp -d)"
trap 'apphost_stop; rm -rf "$results"' EXIT

# Starts the AppHost (free ports, lib.sh) with the gateway on transport $1 (Http or Grpc) and sets gateway, inference
# (pids), http_port, grpc_port (python-inference's own ports).
start_apphost() {
  APPHOST_LOG="$results/apphost.log" apphost_start Debug --Messaging:Runtime=local --Gateway:InferenceTransport="$1"
  gateway=$GATEWAY_PID
  inference=$(inference_pid)
  http_port=$(process_env "$inference" PORT)
  grpc_port=$(process_env "$inference" GRPC_PORT)
}

# Established connections from the gateway to python-inference's port $1: which transport it really used.
gateway_connections() { ss -Htnp state established "( dport = :$1 )" | grep -c "pid=$gateway," || true; }

start_apphost Http
"${driver[@]}" measure --out "$results/http.json" "${counts[@]}" --inference-pid "$inference" --gateway-pid "$gateway" \
  --direct-http "http://127.0.0.1:$http_port" --direct-grpc "127.0.0.1:$grpc_port" \
  --gateway "$GATEWAY" --gateway-transport http --token "$token"
if (( $(gateway_connections "$grpc_port") > 0 || $(gateway_connections "$http_port") == 0 )); then
  echo "inference.sh: the gateway was meant to call python-inference over HTTP/JSON" >&2
  exit 1
fi
apphost_stop

start_apphost Grpc
"${driver[@]}" measure --out "$results/grpc.json" "${counts[@]}" --inference-pid "$inference" --gateway-pid "$gateway" \
  --gateway "$GATEWAY" --gateway-transport grpc --token "$token"
if (( $(gateway_connections "$grpc_port") == 0 )); then
  echo "inference.sh: the gateway was meant to call python-inference over gRPC" >&2
  exit 1
fi
apphost_stop

"${driver[@]}" report "${counts[@]}" "$results/http.json" "$results/grpc.json"
