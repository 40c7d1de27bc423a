#!/usr/bin/env bash
# Jobs per second end to end (persistence, publisher confirms and acks on) at 1 and 100 inputs per job, beside the
# raw publish/consume rate of the same RabbitMQ measured by a plain client in the same run. Starts its own AppHost
# (local RabbitMQ, two Worker replicas), prints a table, stops it.
# Usage: scripts/bench/jobs.sh [jobs] [concurrency]   (assumes scripts/setup.sh has run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
jobs="${1:-1000}"
concurrency="${2:-32}"
source scripts/bench/lib.sh
refuse_if_gateway_answers
dotnet build AppHost -nologo -v quiet -clp:ErrorsOnly >/dev/null
token=$(dotnet user-jwts create --project Gateway --name bench --scope jobs --output token)

# The bench is one subject submitting thousands of jobs: lift its rate limit (project resources inherit the
# AppHost's environment).
export RateLimiting__Policies__jobs__TokenLimit=1000000 RateLimiting__Policies__jobs__TokensPerPeriod=1000000
log="$(mktemp)"
dotnet run --project AppHost --no-build -- --Messaging:Runtime=local >"$log" 2>&1 &
apphost=$!
cleanup() {
  kill -TERM "$apphost" 2>/dev/null || true
  wait "$apphost" 2>/dev/null || true
  # DCP stops the resources in its own session after the AppHost exits; wait for the broker to go.
  for _ in $(seq 1 150); do pgrep -f "rabbit-$run_id" >/dev/null 2>&1 || break; sleep 0.2; done
  rm -f "$log"
}
run_id=""
trap cleanup EXIT

for _ in $(seq 1 900); do
  curl -fs -m 1 http://localhost:8080/health >/dev/null 2>&1 && break
  sleep 0.2
done
# The broker's address and generated credentials, as Aspire gave them to a Worker replica.
worker=$(pgrep -f "Worker/bin/.*/Worker$" | head -n 1)
amqp=$(tr '\0' '\n' <"/proc/$worker/environ" | sed -n 's/^ConnectionStrings__messaging=//p')
run_id=$(tr '\0' '\n' <"/proc/$worker/environ" | sed -n 's|^Jobs__DatabasePath=.*/aspire-ml-gateway/\([^/]*\)/.*|\1|p')
python-inference/.venv/bin/python scripts/bench/jobs.py --gateway http://localhost:8080 --token "$token" \
  --amqp "$amqp" --jobs "$jobs" --concurrency "$concurrency"
