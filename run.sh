#!/usr/bin/env bash
# Starts the whole stack: RabbitMQ, python-inference, Worker, Gateway and the Aspire dashboard. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/setup.sh
exec dotnet run --project AppHost "$@"
