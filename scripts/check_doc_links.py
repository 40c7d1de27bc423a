#!/usr/bin/env python3
"""Checks that README.md and docs/*.md point at things that exist: every relative link resolves (the file exists
and, for a link with #anchor, the target page has a heading with that GitHub anchor), and every `code` span that
names a repository path (starting with a top-level folder, or python-inference's `app/` and `tests/`) exists;
hidden folders made by the set-up or a run (`.venv`, `.model-cache`, ...) are not checked.
Prints each broken reference; exits 1 if there is one. With --junit FILE it also writes a JUnit report, one case per
page (./test.sh counts it as the suite `docs`)."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
TOP_LEVEL = ("AppHost/", "ServiceDefaults/", "Gateway/", "Worker/", "python-inference/", "protos/", "tests/", "scripts/",
             "docs/")
PYTHON_ROOT = "python-inference/"
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


def missing_path(span: str) -> str | None:
    """The repository path a code span names, if it names one that does not exist (placeholders are skipped)."""
    if any(mark in span for mark in "<>{}*…") or "://" in span:
        return None
    path = span.rstrip(".,;:")
    if any(part.startswith(".") for part in path.split("/")):
        return None  # made by the set-up or a run (.venv, .model-cache, .generated, .state), not in the repository
    if path.startswith(("app/", "tests/")) and not (ROOT / path).exists():
        candidates = [ROOT / path, ROOT / PYTHON_ROOT / path]  # python-inference's tree, as its pages say it
    elif path.startswith(TOP_LEVEL):
        candidates = [ROOT / path]
    else:
        return None
    return None if any(candidate.exists() for candidate in candidates) else path


def problems_of(page: Path) -> list[str]:
    problems = []
    for line in lines_outside_code(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                problems.append(f"{target}: no such file")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                problems.append(f"{target}: no heading #{fragment}")
        for span in CODE.findall(line):
            if (path := missing_path(span)) is not None:
                problems.append(f"`{path}`: no such path")
    return problems


def write_junit(report: Path, results: dict[str, list[str]]) -> None:
    """One test case per page, so ./test.sh counts a page whose references broke as a failed test."""
    suite = ET.Element("testsuite", name="docs", tests=str(len(results)),
                       failures=str(sum(1 for problems in results.values() if problems)))
    for page, problems in results.items():
        case = ET.SubElement(suite, "testcase", classname="docs", name=f"{page} points at things that exist")
        if problems:
            ET.SubElement(case, "failure", message=f"{len(problems)} broken references").text = "\n".join(problems)
    report.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(report, encoding="utf-8", xml_declaration=True)


def main(argv: list[str]) -> int:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    results = {page.relative_to(ROOT).as_posix(): problems_of(page) for page in pages}
    broken = 0
    for page, problems in results.items():
        for problem in problems:
            broken += 1
            print(f"{page}: {problem}")
    if len(argv) == 2 and argv[0] == "--junit":
        write_junit(Path(argv[1]), results)
    checked = ", ".join(results)
    print(f"docs: {broken} broken references ({checked})" if broken else f"doc links and paths: all resolve ({len(pages)} pages)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
