"""What python-inference imports is what its image installs and what the set-up installs on Debian.

The image (`python-inference/Dockerfile`) pip-installs exactly `[project].dependencies` of pyproject.toml; a fresh
Debian machine gets the `python3-*` packages `scripts/setup.sh` lists. Neither is exercised here (no container
runtime, no fresh machine), so these tests read the code instead: every library `app/` imports, at the top of a module
or inside a function, must be a declared dependency or come with one, and every declared dependency must have its
Debian package in the set-up. (PyJWT, psycopg and httpx were imported but not declared until 2026-12-06: an image
built then would have failed at start-up, or with PostgreSQL, or over the HTTP/JSON registry.)"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[1]
REPOSITORY = SERVICE.parent

# Import name -> the distribution that provides it, where the two differ.
DISTRIBUTION_OF = {
    "jwt": "pyjwt",
    "sklearn": "scikit-learn",
    "grpc": "grpcio",
    "google": "protobuf",
    "aio_pika": "aio-pika",
    "yaml": "pyyaml",
}
# Libraries a declared dependency requires itself (their own install requirements), imported here directly.
COMES_WITH = {
    "starlette": "fastapi",
    "joblib": "scikit-learn",
    "aiormq": "aio-pika",
    "pamqp": "aio-pika",
    "yarl": "aio-pika",
}
# Each declared dependency's package in Debian (scripts/setup.sh installs it where no package index answers).
DEBIAN_PACKAGE = {
    "fastapi": "python3-fastapi",
    "pydantic": "python3-pydantic",
    "uvicorn": "python3-uvicorn",
    "scikit-learn": "python3-sklearn",
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "aio-pika": "python3-aio-pika",
    "grpcio": "python3-grpcio",
    "protobuf": "python3-protobuf",
    "pyjwt": "python3-jwt",
    "httpx": "python3-httpx",
    "psycopg": "python3-psycopg",
}


def declared() -> set[str]:
    project = tomllib.loads((SERVICE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower() for requirement in project["dependencies"]}


def generated_stubs() -> set[str]:
    """The packages the set-up and the image generate from protos/ (protos/grpc/<name>/ becomes grpc_<name>/), but
    `google`, which they share with the protobuf library (google.rpc generated, google.protobuf installed)."""
    stubs = set()
    for folder in (REPOSITORY / "protos").iterdir():
        if folder.is_dir() and folder.name != "google":
            grpc_services = {f"grpc_{sub.name}" for sub in folder.iterdir() if sub.is_dir()}
            stubs |= grpc_services if folder.name == "grpc" else {folder.name}
    return stubs


def imported_libraries() -> dict[str, str]:
    """Top-level module -> the first file of app/ that imports it, for every module outside the standard library and
    the generated gRPC stubs."""
    local = generated_stubs() | {"app"}
    found: dict[str, str] = {}
    for path in sorted((SERVICE / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in local and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(SERVICE)))
    return found


def test_every_library_the_service_imports_is_declared_or_comes_with_a_declared_one() -> None:
    dependencies = declared()
    missing = {
        module: where
        for module, where in imported_libraries().items()
        if DISTRIBUTION_OF.get(module, module).lower() not in dependencies
        and COMES_WITH.get(module) not in dependencies
    }

    assert missing == {}, f"imported by app/ but not in pyproject.toml's [project].dependencies: {missing}"


def test_the_scan_sees_imports_inside_functions_too() -> None:
    # psycopg is imported only when the PostgreSQL analytics store opens (app/messaging/analytics_store.py).
    assert imported_libraries()["psycopg"] == "app/messaging/analytics_store.py"


def test_every_declared_dependency_has_its_debian_package_in_the_set_up() -> None:
    setup = (REPOSITORY / "scripts" / "setup.sh").read_text(encoding="utf-8")
    start = setup.index("apt_packages=(")
    listed = set(re.findall(r"python3-[a-z0-9.-]+", setup[start : setup.index(")\n", start)]))

    missing = {name: DEBIAN_PACKAGE.get(name) for name in declared() if DEBIAN_PACKAGE.get(name) not in listed}
    assert missing == {}, f"declared in pyproject.toml, but scripts/setup.sh installs no Debian package for: {missing}"


def test_the_image_pins_the_model_stack_to_the_versions_the_tests_run_on() -> None:
    # A model is a pickle: trained under one scikit-learn (or numpy), it may not load or predict alike under another.
    # The image installs these at constraints.txt's versions, which must be the ones every test here ran on (Debian
    # 12's packages): when Debian updates one, this fails until constraints.txt follows.
    pins = dict(line.split("==") for line in (SERVICE / "constraints.txt").read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#"))

    assert set(pins) == {"scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"}
    assert pins == {name: importlib.metadata.version(name) for name in pins}
    dockerfile = (SERVICE / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install -c python-inference/constraints.txt -r /tmp/requirements.txt" in dockerfile
    assert "!python-inference/constraints.txt" in (SERVICE / "Dockerfile.dockerignore").read_text(encoding="utf-8")
