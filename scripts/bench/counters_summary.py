"""One line per counter of a `dotnet-counters collect --format csv` file: the rate per second of counted events
(allocations, GC collections, lock contentions, completed work items, requests) and the mean and peak of gauges
(thread-pool threads and queue, heap size). Usage: counters_summary.py FILE.csv"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict


def main(path: str) -> None:
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    stamps: set[str] = set()
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            stamps.add(row["Timestamp"])
            key = (row["Counter Name"], row["Counter Type"])
            try:
                values[key].append(float(row["Mean/Increment"]))
            except ValueError:
                pass
    seconds = max(1, len(stamps))
    print(f"\n| counter | per second (counted) or mean / max (gauge) |  ({seconds} one-second readings)")
    print("|---|---|")
    for (name, kind), series in sorted(values.items()):
        if not series or name.startswith(("dotnet.assembly", "dotnet.timer", "dotnet.gc.last_collection", "http.client.connection")):
            continue
        if kind == "Rate":
            print(f"| {name} | {sum(series) / seconds:,.1f} /s |")
        else:
            print(f"| {name} | {sum(series) / len(series):,.1f} / {max(series):,.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
