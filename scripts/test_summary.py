"""Counts test cases in the JUnit XML reports of pytest and xunit, and prints "tests: N passed, M failed".

Exits 1 when a test failed, nothing ran, or a build failed (a build-failed.txt marker in the folder).
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
        elif "skipped" not in outcomes:
            passed += 1
    return passed, failed


def main(folder: str) -> int:
    root = Path(folder)
    passed = failed = 0
    for report in sorted(root.rglob("*.xml")):
        p, f = count(report)
        passed, failed = passed + p, failed + f
    if (root / "build-failed.txt").exists():
        failed += 1
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
