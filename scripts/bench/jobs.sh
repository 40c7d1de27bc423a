#!/usr/bin/env bash
# Jobs per second end to end (persistence, publisher confirms and acks on) at 1 and 100 inputs per job, beside the
# raw publish/consume rate of the same RabbitMQ measured by a plain client in the same run. Starts its own AppHost
# (local RabbitMQ, two Worker replicas, the chosen database), prints a table, stops it.
# Usage: scripts/bench/jobs.sh [--provider sqlite|postgres] [--release] [jobs] [concurrency]
#   --provider  where the state lives (Database:Provider; PostgreSQL runs locally, Database:Runtime=local)
#   --release   build and run the services in Release (what a throughput figure should be measured on)
# (assumes scripts/setup.sh has run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
provider=sqlite
configuration=Debug
positional=()
while (($#)); do
  case "$1" in
    --provider) provider="${2:?--provider needs sqlite or postgres}"; shift 2 ;;
    --provider=*) provider="${1#*=}"; shift ;;
    --release) configuration=Release; shift ;;
    *) positional+=("$1"); shift ;;
  esac
done
case "$provider" in sqlite | postgres) ;; *) echo "$(basename "$0"): --provider is sqlite or postgres, not '$provider'" >&2; exit 2 ;; esac
jobs="${positional[0]:-1000}"
concurrency="${positional[1]:-32}"
source scripts/bench/lib.sh
refuse_if_gateway_answers
dotnet build AppHost -c "$configuration" -nologo -v quiet -clp:ErrorsOnly >/dev/null
token=$(dotnet user-jwts create --project Gateway --name bench --scope jobs --output token)

# The bench is one subject submitting thousands of jobs: lift its rate limit (project resources inherit the
# AppHost's environment).
export RateLimiting__Policies__jobs__TokenLimit=1000000 RateLimiting__Policies__jobs__TokensPerPeriod=1000000
export UpstreamLimits__MaxConcurrentCallsPerCaller=100000 UpstreamLimits__MaxConcurrentCalls=100000
log="$(mktemp)"
state_root="${TMPDIR:-/tmp}/aspire-ml-gateway"
runs_before=$(ls "$state_root" 2>/dev/null || true)
dotnet run -c "$configuration" --project AppHost --no-build -- --Messaging:Runtime=local \
  --Database:Provider="$provider" --Database:Runtime=local >"$log" 2>&1 &
apphost=$!
cleanup() {
  kill -TERM "$apphost" 2>/dev/null || true
  wait "$apphost" 2>/dev/null || true
  # DCP stops the resources in its own session after the AppHost exits; wait for the broker and the database to go.
  for _ in $(seq 1 150); do
    pgrep -f "rabbit-$run_id" >/dev/null 2>&1 || pgrep -f "$state_root/$run_id/postgres" >/dev/null 2>&1 || break
    sleep 0.2
  done
  rm -f "$log"
}
run_id="not-started"
trap cleanup EXIT

for _ in $(seq 1 900); do
  curl -fs -m 1 http://localhost:8080/health >/dev/null 2>&1 && break
  sleep 0.2
done
# The broker's address and generated credentials, as Aspire gave them to a Worker replica.
worker=$(pgrep -f "Worker/bin/.*/Worker$" | head -n 1)
amqp=$(tr '\0' '\n' <"/proc/$worker/environ" | sed -n 's/^ConnectionStrings__messaging=//p')
# This run's state folder: the one that appeared since the start (the SQLite file's folder names it too).
run_id=$(comm -13 <(echo "$runs_before" | sort) <(ls "$state_root" | sort) | tail -n 1)
echo "provider: $provider ($configuration build)"
python-inference/.venv/bin/python scripts/bench/jobs.py --gateway http://localhost:8080 --token "$token" \
  --amqp "$amqp" --jobs "$jobs" --concurrency "$concurrency"
