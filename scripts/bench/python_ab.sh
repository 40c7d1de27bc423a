#!/usr/bin/env bash
# python-inference alone, revision against revision: its CPU per prediction over gRPC and HTTP/JSON, without the stack
# (scripts/bench/python_ab.py says how). Prints a Markdown table (medians, ratios against the first revision) and writes
# it under artifacts/bench/.
# Usage: scripts/bench/python_ab.sh [--rounds N] [--seconds S] [--concurrency C] REVISION...   (`.`: the working tree)
#   e.g. scripts/bench/python_ab.sh HEAD~1 .      (assumes scripts/setup.sh has run; installs wrk when it is missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
ensure_package wrk command -v wrk
exec python-inference/.venv/bin/python scripts/bench/python_ab.py "$@"
