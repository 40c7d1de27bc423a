#!/usr/bin/env bash
# Jobs per second end to end (persistence, publisher confirms and acks on) at 1 and 100 inputs per job, beside the
# raw publish/consume rate of the same RabbitMQ measured by a plain client in the same run. Starts its own AppHost
# on free ports (local RabbitMQ, two Worker replicas, the chosen database), prints a table, stops it.
# scripts/bench/run.sh runs the same driver as one scenario among the others.
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
dotnet build AppHost -c "$configuration" -nologo -v quiet -clp:ErrorsOnly >/dev/null
token=$(dotnet user-jwts create --project Gateway --name bench --scope jobs --output token)

# The bench is one subject submitting thousands of jobs: lift its rate limit (project resources inherit the
# AppHost's environment).
export RateLimiting__Policies__jobs__TokenLimit=1000000 RateLimiting__Policies__jobs__TokensPerPeriod=1000000
export UpstreamLimits__MaxConcurrentCallsPerCaller=100000 UpstreamLimits__MaxConcurrentCalls=100000
trap apphost_stop EXIT
apphost_start "$configuration" --Messaging:Runtime=local --Database:Provider="$provider" --Database:Runtime=local
# The broker's address and generated credentials, as Aspire gave them to a Worker replica.
amqp=$(process_env "$(service_pid Worker "$configuration")" ConnectionStrings__messaging)
echo "provider: $provider ($configuration build)"
python-inference/.venv/bin/python scripts/bench/jobs.py --gateway "$GATEWAY" --token "$token" \
  --amqp "$amqp" --jobs "$jobs" --concurrency "$concurrency"
