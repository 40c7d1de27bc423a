"""The benchmark scripts under scripts/bench are not a package; their tests load them from their files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[3] / "scripts" / "bench"


def load_bench_script(file_name: str, module_name: str) -> ModuleType:
    """scripts/bench/<file_name> as the module `module_name`, registered first: dataclasses look their module up. The
    folder goes on the path as it does when a script runs, for the modules the scripts share (procstat)."""
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    spec = importlib.util.spec_from_file_location(module_name, BENCH / file_name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
