"""What tests/messaging/conftest.py does when rabbitmq-server is missing: skip, or fail under TEST_REQUIRE_INFRA=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.messaging.broker import require_installed


def test_an_installed_broker_lets_the_test_run(tmp_path: Path) -> None:
    (tmp_path / "rabbitmq-server").touch()

    require_installed([tmp_path / "rabbitmq-server"], required=True)  # neither skips nor fails


def test_a_missing_broker_skips_the_test_when_it_is_optional(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="rabbitmq-server not installed"):
        require_installed([tmp_path / "rabbitmq-server"], required=False)


def test_a_missing_broker_fails_the_test_when_the_run_requires_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="TEST_REQUIRE_INFRA=1 makes a missing broker a failure"):
        require_installed([tmp_path / "rabbitmq-server"], required=True)
