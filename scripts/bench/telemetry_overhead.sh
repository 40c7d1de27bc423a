#!/usr/bin/env bash
# What telemetry costs: single predictions through the gateway (GET /predict, HTTP/JSON to python-inference) with
# every service exporting to the dashboard, then with no service exporting (AppHost:ExportTelemetry=false: spans,
# metrics and logs are still recorded in process, only the OTLP export is off). Release build; the AppHost starts
# once per round on free loopback ports (scripts/bench/lib.sh), the modes alternate (on, off, on, off, ...) so drift
# on the machine hits both; prints requests/s and latency per round and the ratio of the medians.
# Usage: scripts/bench/telemetry_overhead.sh [seconds per round] [rounds per mode] [connections]
# (assumes scripts/setup.sh has run; installs wrk with apt-get when it is missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds="${1:-20}"
rounds="${2:-2}"
connections="${3:-16}"
source scripts/bench/lib.sh
[[ -x python-inference/.venv/bin/python ]] || { echo "$(basename "$0"): run scripts/setup.sh first" >&2; exit 1; }
ensure_package wrk command -v wrk
read -r load _ </proc/loadavg
if (( $(echo "$load > 1" | bc) )); then
  echo "telemetry_overhead.sh: load average $load before the start: other work on this machine will lower the figures" >&2
fi
echo "building (Release)..." >&2
build_quietly AppHost -c Release
token=$(dotnet user-jwts create --project Gateway --name bench --scope predict --output token)
# One subject sends every request: lift its limit (project resources inherit the AppHost's environment).
export RateLimiting__Policies__predict__TokenLimit=1000000 RateLimiting__Policies__predict__TokensPerPeriod=1000000

work="$(mktemp -d)"
trap 'apphost_stop; rm -rf "$work"' EXIT

# Every request a different text, so python-inference's prediction cache does not answer for the model.
cat >"$work/predict.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/predict?text=review%20" .. n .. "%20of%20a%20stay%20that%20was%20fine")
end
LUA

results="$work/results.tsv"
for round in $(seq 1 "$rounds"); do
  for mode in true false; do
    echo "  round $round, exporting $mode" >&2
    APPHOST_LOG="$work/apphost.log" apphost_start Release --Messaging:Runtime=local "--AppHost:ExportTelemetry=$mode"
    # The stack answers /health before a prediction goes through (the model's first call): wait for one.
    for _ in $(seq 1 300); do
      curl -fs -m 2 -H "Authorization: Bearer $token" "$GATEWAY/predict?text=ready" >/dev/null 2>&1 && break
      sleep 0.2
    done
    # Warm-up: JIT, connection pools, the model's first calls.
    wrk -t2 -c"$connections" -d5s -s "$work/predict.lua" -H "Authorization: Bearer $token" "$GATEWAY" >/dev/null
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/predict.lua" -H "Authorization: Bearer $token" \
      "$GATEWAY" >"$work/wrk.txt"
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.txt" | tr '\n' ' ')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$rps" "$p50" "$p99" "${errors:-none}" >>"$results"
    apphost_stop
  done
done

echo "single predictions through the gateway, ${seconds} s per round, $connections connections (wrk), Release"
printf '%-6s %-10s %12s %10s %10s  %s\n' round exporting "requests/s" p50 p99 errors
awk -F'\t' '{printf "%-6s %-10s %12s %10s %10s  %s\n", $1, ($2 == "true" ? "on" : "off"), $3, $4, $5, $6}' "$results"
awk -F'\t' '
  { values[$2] = values[$2] " " $3 }
  function median(list,   parts, n, i, j, t) {
    n = split(list, parts, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (parts[j] + 0 < parts[i] + 0) { t = parts[i]; parts[i] = parts[j]; parts[j] = t }
    return n % 2 ? parts[(n + 1) / 2] : (parts[n / 2] + parts[n / 2 + 1]) / 2
  }
  END {
    on = median(values["true"]); off = median(values["false"])
    printf "median requests/s: exporting %.0f, not exporting %.0f; with export = %.2f x without (%.1f%% %s)\n",
      on, off, on / off, (off - on) / off * 100, (on <= off ? "fewer" : "more, within noise")
  }' "$results"
