#!/usr/bin/env python3
"""Checks that every relative link in README.md and docs/*.md resolves: the file exists and, for a link with
#anchor, the target page has a heading with that GitHub anchor. Prints each broken link; exits 1 if any."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def lines_outside_code(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in lines_outside_code(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = anchor(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def main() -> int:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = 0
    for page in pages:
        for line in lines_outside_code(page.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # http(s), mailto: not checked here
                path, _, fragment = target.partition("#")
                resolved = (page.parent / path).resolve() if path else page
                problem = None
                if not resolved.exists():
                    problem = "no such file"
                elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                    problem = f"no heading #{fragment}"
                if problem:
                    broken += 1
                    print(f"{page.relative_to(ROOT)}: {target}: {problem}")
    checked = ", ".join(p.relative_to(ROOT).as_posix() for p in pages)
    print(f"doc links: {broken} broken ({checked})" if broken else f"doc links: all resolve ({len(pages)} pages)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
