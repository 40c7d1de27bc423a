"""Counts test cases in the JUnit XML reports of pytest and xunit, and prints "tests: N passed, M failed".

Usage: test_summary.py <folder> [suite ...]. Each named suite must have written <suite>.junit.xml; a missing
report counts as one failure. Exits 1 when a test failed, a report is missing, nothing ran, or a build failed
(a build-failed.txt marker in the folder).
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(report: Path) -> tuple[int, int]:
    passed = failed = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        outcomes = {child.tag for child in case}
        if outcomes & {"failure", "error"}:
            failed += 1
            describe(report, case)
        elif "skipped" not in outcomes:
            passed += 1
    return passed, failed


def describe(report: Path, case: ET.Element) -> None:
    """Names a failed test and the first lines of its message, so the end of a long log says what failed."""
    name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
    print(f"FAILED {report.stem.removesuffix('.junit')}: {name}")
    for child in case:
        if child.tag in ("failure", "error"):
            text = (child.get("message") or "") + "\n" + (child.text or "")
            lines = [line.rstrip() for line in text.splitlines() if line.strip()]
            for line in lines[:12]:
                print(f"    {line[:300]}")


def main(folder: str, suites: list[str]) -> int:
    root = Path(folder)
    passed = failed = 0
    for report in sorted(root.rglob("*.xml")):
        p, f = count(report)
        passed, failed = passed + p, failed + f
    for suite in suites:
        if not (root / f"{suite}.junit.xml").exists():
            print(f"test_summary: no report from {suite}", file=sys.stderr)
            failed += 1
    if (root / "build-failed.txt").exists():
        failed += 1
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
