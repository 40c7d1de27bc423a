"""The full benchmark's report (scripts/bench/report.py): a scenario measured in rounds is its median round, and each
row says how much of its measured time python-inference's event loop ran and waited for a core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.bench.scripts import load_bench_script

report = load_bench_script("report.py", "bench_report")


def row(group: str, requests: int, *, round_: int = 0, loop: tuple[float, float] | None = None) -> dict[str, Any]:
    """One scenarios.jsonl line as run.sh writes it: 10 s of singles at 16 connections."""
    line: dict[str, Any] = {
        "sampling": "every request traced", "name": group, "group": group, "connections": 16, "inputs": 1,
        "round": round_, "requests": requests, "duration_us": 10_000_000, "p50_us": 9_000, "p99_us": 30_000,
        "non_2xx": 0, "socket_errors": 0,
    }
    if loop is not None:
        line["loop_running"], line["loop_waiting"] = loop
    return line


def scenarios_file(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "scenarios.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rounds_are_their_median_round_with_its_loop_shares(tmp_path: Path) -> None:
    rows = [
        row("direct-single", 11_000, round_=1, loop=(0.47, 0.14)),
        row("gateway-unbatched", 10_000, round_=1, loop=(0.30, 0.43)),
        row("direct-single", 10_500, round_=2, loop=(0.46, 0.20)),
        row("gateway-unbatched", 9_000, round_=2, loop=(0.29, 0.45)),
        row("direct-single", 12_000, round_=3, loop=(0.45, 0.19)),
        row("gateway-unbatched", 9_500, round_=3, loop=(0.31, 0.41)),
    ]
    direct, unbatched = report.load_scenarios(scenarios_file(tmp_path, rows))
    assert (direct["requests"], direct["loop_running"], direct["loop_waiting"]) == (11_000, 0.47, 0.14)
    assert (unbatched["requests"], unbatched["loop_running"], unbatched["loop_waiting"]) == (9_500, 0.31, 0.41)
    assert [r["loop_waiting"] for r in unbatched["rounds"]] == [0.43, 0.45, 0.41]

    table = report.markdown([direct, unbatched], None, {}).splitlines()
    assert "python-inference's loop: on a core / waiting for one" in table[4]
    assert table[6].endswith("| baseline |  | 47% / 14% |")
    assert table[7].endswith("| 0.86 |  | 31% / 41% |")


def test_a_run_from_before_the_loop_was_measured_leaves_the_column_empty(tmp_path: Path) -> None:
    (direct,) = report.load_scenarios(scenarios_file(tmp_path, [row("direct-single", 11_000)]))
    assert report.markdown([direct], None, {}).splitlines()[6].endswith("| baseline |  |  |")
