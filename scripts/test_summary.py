"""Counts test cases in the JUnit XML reports of pytest and xunit, and prints "tests: N passed, M failed, K skipped".

Usage:
  test_summary.py <folder> [--floors FILE] [suite ...]
      Each named suite must have written <suite>.junit.xml, or, when it runs in parts, one report per part in a
      folder named after it (<suite>/<part>.junit.xml, added up); a missing or unreadable report counts as one
      failure, and so does a suite that reports fewer test cases than its floor in FILE (or has no floor there).
      Exits 1 when a test failed, a check failed, nothing ran, or a build failed (a build-failed.txt marker in the
      folder).
  test_summary.py --floors-from <folder>
      Prints the test cases each report in <folder> holds, in the floors file's format (to update the floors).

The "tests:" line is printed whatever happens, even if this script itself fails.
"""
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPORT_SUFFIX = ".junit.xml"


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    lines: list[str] = field(default_factory=list)

    def fail(self, line: str) -> None:
        """A failure of the run that is not a test case's: a missing or broken report, a suite below its floor."""
        self.failed += 1
        self.lines.append(f"FAILED {line}")

    @property
    def line(self) -> str:
        return f"tests: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def suite_of(report: Path, folder: Path) -> str:
    """A report in the folder is its suite's; one in a subfolder is a part of the suite the subfolder is named after."""
    if report.parent != folder:
        return report.relative_to(folder).parts[0]
    return report.name.removesuffix(REPORT_SUFFIX).removesuffix(".xml")


def count(report: Path, suite: str, tally: Tally) -> int:
    """Adds the report's cases to the tally; returns how many cases it holds."""
    cases = list(ET.parse(report).getroot().iter("testcase"))
    for case in cases:
        outcomes = {child.tag for child in case}
        if outcomes & {"failure", "error"}:
            tally.failed += 1
            describe(suite, case, tally)
        elif "skipped" in outcomes:
            tally.skipped += 1
        else:
            tally.passed += 1
    return len(cases)


def describe(suite: str, case: ET.Element, tally: Tally) -> None:
    """Names a failed test and the first lines of its message, so the end of a long log says what failed."""
    name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
    tally.lines.append(f"FAILED {suite}: {name}")
    for child in case:
        if child.tag in ("failure", "error"):
            text = (child.get("message") or "") + "\n" + (child.text or "")
            lines = [line.rstrip() for line in text.splitlines() if line.strip()]
            tally.lines.extend(f"    {line[:300]}" for line in lines[:12])


def read_floors(path: Path) -> dict[str, int]:
    """Lines of "<suite> <minimum>"; blank lines and # comments are ignored."""
    floors = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{number}: expected '<suite> <minimum>', got {raw!r}")
        floors[parts[0]] = int(parts[1])
    return floors


def summarise(folder: Path, suites: list[str], floors_file: Path | None, tally: Tally) -> None:
    sizes: dict[str, int] = {}  # test cases per suite, its parts added up; -1 once any of its reports is unreadable
    for report in sorted(folder.rglob("*.xml")):
        suite = suite_of(report, folder)
        try:
            size = count(report, suite, tally)
        except (ET.ParseError, OSError, UnicodeDecodeError) as error:
            tally.fail(f"{suite}: its report {report.relative_to(folder)} is unreadable ({error})")
            size = -1
        sizes[suite] = -1 if -1 in (size, sizes.get(suite)) else sizes.get(suite, 0) + size

    for suite in suites:
        if suite not in sizes:
            tally.fail(f"{suite}: wrote no report (it did not run, or crashed before reporting)")

    if floors_file is not None:
        floors = read_floors(floors_file)
        for suite in sorted(set(suites) | set(floors)):
            size = sizes.get(suite)
            if size is None or size < 0:
                continue  # already a failure above (or, for a floor of a suite not asked for, reported below)
            if suite not in floors:
                tally.fail(f"{suite}: has no floor in {floors_file.name}; add the line '{suite} {size}'")
            elif size < floors[suite]:
                tally.fail(f"{suite}: reported {size} test cases, fewer than its floor of {floors[suite]} "
                           f"({floors_file.name}); a test class is no longer discovered, or the floor is stale")
        for suite in sorted(set(floors) - set(sizes) - set(suites)):
            tally.fail(f"{suite}: has a floor in {floors_file.name} but wrote no report")

    if (folder / "build-failed.txt").exists():
        tally.fail("the C# build failed")


def print_floors(folder: Path) -> int:
    sizes: dict[str, int] = {}
    for report in sorted(folder.rglob(f"*{REPORT_SUFFIX}")):
        suite = suite_of(report, folder)
        sizes[suite] = sizes.get(suite, 0) + len(list(ET.parse(report).getroot().iter("testcase")))
    for suite, size in sorted(sizes.items()):
        print(f"{suite} {size}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--floors-from":
        return print_floors(Path(argv[1]))

    tally = Tally()
    try:
        if not argv:
            raise ValueError("usage: test_summary.py <folder> [--floors FILE] [suite ...]")
        folder, rest = Path(argv[0]), argv[1:]
        floors_file = None
        if rest[:1] == ["--floors"]:
            floors_file, rest = Path(rest[1]), rest[2:]
        summarise(folder, rest, floors_file, tally)
    except Exception as error:  # noqa: BLE001 - whatever goes wrong here, the run must fail with a tests: line
        tally.fail(f"test_summary: {type(error).__name__}: {error}")
    finally:
        for line in tally.lines:
            print(line)
        print(tally.line)
    return 0 if tally.failed == 0 and tally.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
