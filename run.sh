#!/usr/bin/env bash
# Starts the whole stack: RabbitMQ, python-inference, Worker, Gateway and the Aspire dashboard. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/setup.sh
echo "Starting the stack: gateway on http://localhost:8080; the dashboard's login link follows (Ctrl-C stops it all)."
exec dotnet run --project AppHost "$@"
