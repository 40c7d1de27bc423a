#!/usr/bin/env bash
# The dashboard pictures of docs/images: starts the stack, makes traffic (predictions, a few jobs, one job whose
# inputs python-inference refuses, so its trace shows every service and Python's log of the problem), then drives
# headless Chromium over the dashboard (screenshots.mjs) and writes docs/images/dashboard-*.png.
# Usage: scripts/docs/screenshots.sh   (assumes scripts/setup.sh has run; installs chromium and puppeteer-core if missing)
# The stack runs on free loopback ports (scripts/bench/lib.sh), so it can run beside another stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
command -v chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
[[ -d scripts/docs/node_modules/puppeteer-core ]] || (cd scripts/docs && npm ci --no-audit --no-fund >/dev/null)
build_quietly AppHost
token=$(dotnet user-jwts create --project Gateway --name docs --scope predict --scope jobs --output token)
auth="Authorization: Bearer $token"

APPHOST_LOG="$(mktemp)"
trap 'apphost_stop; rm -f "$APPHOST_LOG"' EXIT
apphost_start Debug --Messaging:Runtime=local
for _ in $(seq 1 300); do
  curl -fs -m 2 -H "$auth" "$GATEWAY/predict?text=ready" >/dev/null 2>&1 && break
  sleep 0.2
done
login=$(grep -o 'http://[^ ]*/login?t=[0-9a-f]*' "$APPHOST_LOG" | head -n 1)
[[ -n "$login" ]] || { echo "screenshots.sh: no dashboard login link in the AppHost's output" >&2; tail -n 30 "$APPHOST_LOG" >&2; exit 1; }

# Traffic for the metrics: predictions, a refused prediction, jobs of both models.
for text in "What a lovely day" "The room was dirty" "Breakfast was fine" "Staff were wonderful" "Too noisy at night"; do
  curl -fs -H "$auth" "$GATEWAY/predict?text=${text// /%20}" >/dev/null
done
curl -s -H "$auth" -H 'content-type: application/json' -d '{"model":"unicorn","inputs":["hello"]}' \
  "$GATEWAY/api/v1/predictions" >/dev/null
for i in $(seq 1 8); do
  curl -fs -H "$auth" -H 'content-type: application/json' \
    -d "{\"model\":\"sentiment\",\"inputs\":[\"Review $i: great stay\",\"Review $i: never again\"]}" \
    "$GATEWAY/api/v1/jobs" >/dev/null
  curl -fs -H "$auth" -H 'content-type: application/json' -d '{"model":"iris","inputs":[[5.1,3.5,1.4,0.2]]}' \
    "$GATEWAY/api/v1/jobs" >/dev/null
  sleep 0.5
done

# The pictured job: its trace id is ours (traceparent), python-inference refuses its input (a text for iris).
trace_id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
location=$(curl -fs -D - -o /dev/null -H "$auth" -H 'content-type: application/json' \
  -H "traceparent: 00-$trace_id-00f067aa0ba902b7-01" -d '{"model":"iris","inputs":["four numbers, not words"]}' \
  "$GATEWAY/api/v1/jobs" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
for _ in $(seq 1 150); do
  status=$(curl -fs -H "$auth" "$GATEWAY$location" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
  [[ "$status" == queued || "$status" == running ]] || break
  sleep 0.2
done
echo "screenshots.sh: job $location ended $status (trace $trace_id)"
sleep 8  # every service's exporter has sent its batch (metrics every few seconds)

node scripts/docs/screenshots.mjs "$login" "$trace_id" docs/images
