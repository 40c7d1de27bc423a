#!/usr/bin/env bash
# Runs every test, C# (unit and end-to-end on the real AppHost) and Python, then prints
# "tests: N passed, M failed, K skipped". Exits non-zero when anything failed, a suite reported fewer tests than
# its floor (tests/expected-counts), or nothing ran. The Python suite runs beside the C# build, its output shown
# as one block when it is done.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/setup.sh --tests || { echo "tests: 0 passed, 1 failed, 0 skipped"; exit 1; }

results="$PWD/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results"
status=0

# The set-up installs RabbitMQ (and PostgreSQL): a test that needs it fails instead of skipping when it is missing.
export TEST_REQUIRE_INFRA=1

# Each test has its own limit (pytest-timeout; tests/Shared/TestTimeouts.cs); these bound a whole run that hangs
# outside any test (a fixture, the runner). A run stopped here has written no report, which fails the summary.
run_limit=(timeout --kill-after=30s 15m)

# python-inference's tests run as two pytest processes beside the C# build: tests/messaging (which starts a RabbitMQ
# and a PostgreSQL of its own and mostly waits on them) and the rest, so the waits of the first overlap the
# second's work. Each part writes its report into artifacts/test-results/python-inference/, which test_summary.py
# adds up as the one suite python-inference; each one's output is shown as one block when it is done.
python_suite=python-inference
python_results="$results/$python_suite"
mkdir -p "$python_results"
messaging_tests=tests/messaging
pytest_part() {
  local part=$1
  shift
  (cd python-inference && exec "${run_limit[@]}" .venv/bin/python -m pytest -q -p no:cacheprovider \
    --junitxml="$python_results/$part.junit.xml" "$@") >"$python_results/$part.log" 2>&1
}
pytest_part messaging "$messaging_tests" &
python_pids=($!)
pytest_part rest --ignore="$messaging_tests" &
python_pids+=($!)
wait_for_python() {
  local pid
  for pid in "${python_pids[@]}"; do wait "$pid" || status=1; done
}
started=$SECONDS

# The README and docs/ must point at files, folders and headings that exist (one case per page).
/usr/bin/python3 scripts/check_doc_links.py --junit "$results/docs.junit.xml" || status=1

echo "== C# (dotnet build, then dotnet test; python-inference's pytest runs meanwhile)"
if dotnet build Aspire.sln -nologo -v quiet -clp:ErrorsOnly; then
  # Each test project writes <project>.junit.xml (tests/Directory.Build.props). The projects without a stack start at
  # once, two at a time, beside the rest of pytest (whose last half minute mostly waits on its broker); their output
  # is shown as one block when they are done.
  e2e=tests/AppHost.Tests
  unit_log="$results/dotnet-unit.log"
  for project in tests/*/*.csproj; do [[ $project == "$e2e"/* ]] || printf '%s\0' "$project"; done |
    xargs -0 -P 2 -I '{}' "${run_limit[@]}" dotnet test --project '{}' --no-build --results-directory "$results" \
      --no-progress >"$unit_log" 2>&1 &
  unit_pid=$!
  # The end-to-end tests are timing-sensitive on two cores: they start once pytest is done.
  wait_for_python
  python_done=1
  "${run_limit[@]}" dotnet test --project "$e2e" --no-build --results-directory "$results" --no-progress || status=1
  wait "$unit_pid" || status=1
  echo "== C# without a stack (beside pytest, then beside $e2e)"
  cat "$unit_log"
else
  echo "test.sh: the C# build failed" >&2
  echo "build failed" >"$results/build-failed.txt"
  status=1
fi
[[ -n "${python_done:-}" ]] || wait_for_python

for part in messaging rest; do
  echo "== python-inference, $part (pytest, ran beside the C# build)"
  cat "$python_results/$part.log"
done

# Every suite must have reported: a missing report counts as a failure, not as zero tests.
expected=("$python_suite" docs)
for project in tests/*/*.csproj; do expected+=("$(basename "$project" .csproj)"); done
summary="$(/usr/bin/python3 scripts/test_summary.py "$results" --floors tests/expected-counts "${expected[@]}")" || status=1
echo "test.sh: $((SECONDS - started)) s"
echo "$summary"
# The summary ends with its "tests:" line whatever happens (the run's last line); should the script not run at all,
# this one stands in.
grep -q '^tests: ' <<<"$summary" || { echo "tests: 0 passed, 1 failed, 0 skipped"; status=1; }
exit "$status"
