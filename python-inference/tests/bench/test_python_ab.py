"""The python-inference A/B benchmark's arithmetic (scripts/bench/python_ab.py): how it reads wrk's summary and
/proc, and the table of medians and ratios it prints. The benchmark itself runs python-inference
(scripts/bench/python_ab.sh)."""

from __future__ import annotations

import os

from tests.bench.scripts import load_bench_script

python_ab = load_bench_script("python_ab.py", "bench_python_ab")

WRK_OUTPUT = """Running 8s test @ http://127.0.0.1:8080/predict?text=a
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.81ms    4.20ms  48.11ms   78.01%
    Req/Sec   626.70     58.62   760.00     71.25%
  10031 requests in 8.01s, 2.31MB read
Requests/sec:   1252.37
Transfer/sec:    295.63KB
"""


def test_wrk_summary_is_read_for_requests_and_errors() -> None:
    assert python_ab.wrk_requests(WRK_OUTPUT) == 10031
    assert python_ab.wrk_errors(WRK_OUTPUT) == 0
    errors = "  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n"
    failing = WRK_OUTPUT.replace("Requests/sec", errors + "Requests/sec")
    assert python_ab.wrk_errors(failing) == 12
    assert python_ab.wrk_requests("no summary") == 0


def test_the_table_gives_medians_and_ratios_against_the_first_revision() -> None:
    Cell = python_ab.Cell
    cells = [
        Cell("HEAD~1", "grpc", 1000, 1.0, 0.9),  # 1,000/s, 900 µs
        Cell("HEAD~1", "grpc", 1200, 1.0, 1.2),  # 1,200/s, 1,000 µs
        Cell("HEAD~1", "grpc", 1100, 1.0, 1.045),  # 1,100/s, 950 µs: the medians
        Cell(".", "grpc", 1320, 1.0, 1.056),  # 1,320/s, 800 µs
        Cell("HEAD~1", "http", 800, 2.0, 1.6),  # 400/s, 2,000 µs per call
    ]
    lines = python_ab.table(cells, ["HEAD~1", "."]).splitlines()
    assert lines[2] == "| HEAD~1 | grpc | 3 | 1,100 | baseline | 950 | baseline |"
    assert lines[3] == "| . | grpc | 1 | 1,320 | 1.200× | 800 | 0.842× |"
    assert lines[4] == "| HEAD~1 | http | 1 | 400 | baseline | 2,000 | baseline |"
    assert len(lines) == 5  # no row for a revision without cells of a transport


def test_process_cpu_is_read_from_proc() -> None:
    before = python_ab.process_cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert python_ab.process_cpu_seconds(os.getpid()) >= before > 0
