"""The top frames of a dotnet-trace sampled-thread-time trace (converted to speedscope JSON), counting only the
samples of threads that were running managed code (the CPU_TIME pseudo-frame), not waiting or in native code;
plus a coarse split of that time by the namespace of the frame that ran. Usage: trace_top.py FILE.speedscope.json [N]"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

AREAS = [
    ("JWT validation", r"IdentityModel|JsonWebToken|JwtBearer|Authentication"),
    ("OpenTelemetry (spans, metrics, logs, export)", r"^OpenTelemetry|System\.Diagnostics\.(Activity|Metrics)|Microsoft\.Extensions\.Diagnostics"),
    ("logging", r"Microsoft\.Extensions\.Logging|LoggerMessage"),
    ("resilience (Polly)", r"Polly|Http\.Resilience"),
    ("JSON", r"System\.Text\.Json"),
    ("HttpClient", r"System\.Net\.Http"),
    ("sockets", r"System\.Net\.Sockets|Interop\+Sys"),
    ("Kestrel", r"Server\.Kestrel"),
    ("routing / endpoints", r"AspNetCore\.(Routing|Http\.RequestDelegateFactory|Http\.Generated)"),
    ("rate limiting", r"RateLimit"),
    ("gateway code", r"^Gateway\."),
    ("dependency injection", r"DependencyInjection"),
    ("threading, async", r"System\.Threading|System\.Runtime\.CompilerServices"),
]


def stacks(document: dict) -> Counter[tuple[str, ...]]:
    """Weight (ms) of every distinct stack, root first, over all threads."""
    names = [frame["name"] for frame in document["shared"]["frames"]]
    weights: Counter[tuple[str, ...]] = Counter()
    for profile in document["profiles"]:
        if profile["type"] == "sampled":
            for sample, weight in zip(profile["samples"], profile["weights"]):
                weights[tuple(names[i] for i in sample)] += weight
            continue
        stack: list[int] = []
        last = profile["startValue"]
        for event in profile["events"]:
            if stack and event["at"] > last:
                weights[tuple(names[i] for i in stack)] += event["at"] - last
            last = event["at"]
            if event["type"] == "O":
                stack.append(event["frame"])
            elif stack:
                stack.pop()
    return weights


def short(frame: str) -> str:
    frame = re.sub(r"\(.*\)$", "", frame.split("!", 1)[-1])
    return frame[:150]


def main(path: str, top: int) -> None:
    weights = stacks(json.load(open(path)))
    total = sum(weights.values())
    running = {stack: w for stack, w in weights.items() if stack and stack[-1] == "CPU_TIME"}
    busy = sum(running.values()) or 1
    print(f"\nsampled thread time {total / 1000:.1f} s; running managed code {busy / 1000:.1f} s "
          f"({busy / max(total, 1) * 100:.1f} %); the rest waited or ran native code")
    exclusive: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for stack, weight in running.items():
        frames = [short(f) for f in stack[:-1] if f not in ("CPU_TIME", "UNMANAGED_CODE_TIME")]
        if not frames:
            continue
        exclusive[frames[-1]] += weight
        for frame in set(frames):
            inclusive[frame] += weight
        leaf = frames[-1]
        areas[next((name for name, pattern in AREAS if re.search(pattern, leaf)), "other")] += weight
    print("\n| running managed code: area of the frame that ran | share |\n|---|---|")
    for name, weight in areas.most_common():
        print(f"| {name} | {weight / busy * 100:.1f} % |")
    print(f"\n| top {top} frames, exclusive | share |\n|---|---|")
    for frame, weight in exclusive.most_common(top):
        print(f"| `{frame}` | {weight / busy * 100:.1f} % |")
    print(f"\n| top {top} frames, inclusive | share |\n|---|---|")
    for frame, weight in inclusive.most_common(top * 3):
        if not re.match(r"(System\.Threading\.|System\.Runtime\.CompilerServices\.|System\.Private)", frame):
            print(f"| `{frame}` | {weight / busy * 100:.1f} % |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25)
