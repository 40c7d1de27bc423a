#!/usr/bin/env bash
# Runs every test, C# (unit and end-to-end on the real AppHost) and Python, then prints
# "tests: N passed, M failed". Exits non-zero when anything failed or nothing ran.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/setup.sh || exit 1

results="$PWD/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results"
status=0

echo "== python-inference (pytest)"
python_suite=python-inference
(cd python-inference && .venv/bin/python -m pytest -q -p no:cacheprovider --junitxml="$results/$python_suite.junit.xml") || status=1

echo "== C# (dotnet test)"
if dotnet build Aspire.sln -nologo -v quiet -clp:ErrorsOnly; then
  # Each test project writes <project>.junit.xml (tests/Directory.Build.props).
  dotnet test --solution Aspire.sln --no-build --results-directory "$results" --no-progress || status=1
else
  echo "test.sh: the C# build failed" >&2
  echo "build failed" >"$results/build-failed.txt"
  status=1
fi

# Every suite must have reported: a missing report counts as a failure, not as zero tests.
expected=("$python_suite")
for project in tests/*/*.csproj; do expected+=("$(basename "$project" .csproj)"); done
summary="$(/usr/bin/python3 scripts/test_summary.py "$results" "${expected[@]}")" || status=1
echo "$summary"
exit "$status"
