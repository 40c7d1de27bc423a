#!/usr/bin/env bash
# Breaks the stack on purpose under a steady load and proves nothing was lost (docs/reliability.md): builds Release,
# starts its own AppHost (free loopback ports, local RabbitMQ, the dashboard), runs every scenario one after another
# (python-inference killed and slow, a Worker replica killed and the broker restarted, the queue and a quota filled,
# a soak), prints one Markdown table, writes it and a JSON file to artifacts/chaos/, and stops what it started.
# Exits 1 when a job was lost or done twice, a valid request got a 5xx outside a fault window, or something did not
# recover; 2 when the run itself failed.
# Usage: scripts/chaos/run.sh [--quick] [--soak-only SECONDS | --slow-only] [--out DIR]
#   --quick      each fault once with short windows and a 20 s soak (about 3 minutes): for development, not the figures
#   --soak-only  no faults: the warm-up, the saturation measurement and a soak of SECONDS (to look into growth)
#   --slow-only  only the python-inference-slow scenario, no soak (to look into the other routes' latency meanwhile)
# (assumes scripts/setup.sh has run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[[ -x python-inference/.venv/bin/python ]] || { echo "$(basename "$0"): run scripts/setup.sh first" >&2; exit 1; }
source scripts/bench/lib.sh
echo "building (Release)..." >&2
build_quietly scripts/chaos/Chaos -c Release  # exits 2 with the build's errors
# The driver starts the AppHost in its own process (Aspire.Hosting.Testing) and stops it on exit; Release all through.
export DOTNET_ENVIRONMENT=Development ASPIRE_ALLOW_UNSECURED_TRANSPORT=true
exec dotnet scripts/chaos/Chaos/bin/Release/net10.0/Chaos.dll "$@"
