"""What a process's on-CPU samples (`perf script -F comm,tid,ip,sym,dso` of a `perf record -g` of it) were doing:
per thread kind, and, for the thread-pool threads that serve requests, the share of samples by the innermost
area of work they were in, and the top leaf frames. Usage: perf_areas.py FILE [N]"""

from __future__ import annotations

import re
import sys
from collections import Counter

# The first pattern met walking a sample's stack from its leaf towards the thread's start names the sample's area:
# the innermost piece of work that was running (async frames nest, so inclusive shares would double count).
AREAS = [
    ("JWT: signing keys re-read from configuration", r"GetIssuerSigningKeys"),
    ("JWT validation", r"IdentityModel|JwtBearer"),
    ("logging (console and OpenTelemetry log records)", r"Microsoft\.Extensions\.Logging|LoggerMessage|\[OpenTelemetry\] OpenTelemetry\.Logs"),
    ("OpenTelemetry metrics", r"\[OpenTelemetry\] OpenTelemetry\.Metrics|System\.Diagnostics\.Metrics"),
    ("OpenTelemetry spans and export", r"\[OpenTelemetry|System\.Diagnostics\.Activity|System\.Diagnostics\.DiagnosticSource|OpenTelemetry\.Exporter"),
    ("resilience pipeline (Polly)", r"\[Polly|Http\.Resilience"),
    ("JSON (System.Text.Json)", r"\[System\.Text\.Json\]|JsonContent|ReadFromJson"),
    ("HttpClient to python-inference", r"\[System\.Net\.Http\]|Microsoft\.Extensions\.Http|ServiceDiscovery"),
    ("rate limits, upstream slots", r"RateLimit|ConcurrencyLimiter|UpstreamConcurrency"),
    ("request deadline (RequestTimeoutsMiddleware)", r"RequestTimeoutsMiddleware"),
    ("batcher", r"Batching\.|Channels"),
    ("gateway code, other", r"\[Gateway\]|\[ServiceDefaults\]"),
    ("authorization", r"Authorization"),
    ("routing, endpoint invocation", r"Routing|RequestDelegateFactory|Http\.Generated|EndpointMiddleware"),
    ("Kestrel (HTTP/1.1 parsing, response writing)", r"Kestrel|AspNetCore\.Hosting"),
    ("sockets", r"System\.Net\.Sockets"),
    ("threading, async machinery", r"System\.Threading|System\.Runtime\.CompilerServices"),
]


def area_of(frames: list[str]) -> str:
    for frame in frames:
        for name, pattern in AREAS:
            if re.search(pattern, frame):
                return name
    leaf = frames[0] if frames else ""
    if "[kernel" in leaf:
        return "kernel (unattributed)"
    return "runtime (libcoreclr: allocation, GC, stubs), unattributed"


def main(path: str, top: int) -> None:
    threads: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    workers = 0
    for block in open(path, errors="replace").read().split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        thread = re.sub(r"\s+\d+$", "", lines[0].strip()).strip()
        threads[thread] += 1
        if "TP Worker" not in thread:
            continue
        workers += 1
        frames = [re.sub(r"^\s*[0-9a-f]+\s+", "", line).strip() for line in lines[1:]]
        areas[area_of(frames)] += 1
        leaf = frames[0] if frames else "?"
        leaves[re.sub(r"\((?:[^()]|\([^()]*\))*\)", "()", leaf)[:160]] += 1
    total = sum(threads.values()) or 1
    print(f"\n| thread | share of the process's on-CPU samples |  ({total} samples)\n|---|---|")
    for thread, count in threads.most_common(8):
        print(f"| {thread} | {count / total * 100:.1f} % |")
    workers = workers or 1
    print(f"\n| thread-pool samples by the innermost area they ran in | share |\n|---|---|")
    for name, count in areas.most_common():
        print(f"| {name} | {count / workers * 100:.1f} % |")
    print(f"\n| top {top} leaf frames of the thread-pool threads | share |\n|---|---|")
    for leaf, count in leaves.most_common(top):
        print(f"| `{leaf}` | {count / workers * 100:.1f} % |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
