"""The layers of app/, read from the imports: `api/` (HTTP) and `rpc/` (gRPC) side by side at the top, both over the
serving core in `ml/`; `messaging/` and `worker/` (the Worker's clients) beside them; `ml/`, `core/` and `schemas/`
never reach up. `main.py` wires it all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

# Which app packages each package may import (itself included).
ALLOWED = {
    "core": {"core"},
    "schemas": {"schemas", "core"},
    "ml": {"ml", "core", "schemas"},
    "messaging": {"messaging", "ml", "core", "schemas"},
    "rpc": {"rpc", "ml", "core", "schemas"},
    "api": {"api", "ml", "messaging", "core", "schemas"},
    # Clients of the Worker: registration over gRPC (with rpc's generated stubs) or HTTP/JSON.
    "worker": {"worker", "rpc", "ml", "core", "schemas"},
}


def app_imports(path: Path) -> set[str]:
    """The app packages `path` imports, at any depth of the file (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules(package: str) -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    assert modules(package), f"app/{package} has no modules: the layer map is out of date"
    offences = {
        str(path.relative_to(APP)): sorted(app_imports(path) - ALLOWED[package])
        for path in modules(package)
    }
    assert {path: bad for path, bad in offences.items() if bad} == {}


def test_every_package_of_app_has_a_place_in_the_layer_map() -> None:
    packages = {path.name for path in APP.iterdir() if (path / "__init__.py").exists()}

    assert packages == set(ALLOWED)


def test_the_check_sees_a_function_level_import_of_an_upper_layer(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text("def f():\n    from app.api.errors import problem_response\n    import app.rpc.calls\n")

    assert app_imports(module) == {"api", "rpc"}
