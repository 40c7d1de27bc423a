"""What a start pays for: python-inference's restart time is how long predictions fail after an outage
(docs/reliability.md), so libraries only some configurations use are imported when those configurations ask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# httpx: only the HTTP/JSON registry transport (the default is gRPC); psycopg: only the PostgreSQL analytics store.
OPTIONAL = ("httpx", "psycopg")


def test_a_default_start_imports_no_library_of_another_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Registry__", "Database__", "REGISTRY_"))}
    probe = f"import json, sys, app.main; print(json.dumps([m for m in {OPTIONAL!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )

    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
