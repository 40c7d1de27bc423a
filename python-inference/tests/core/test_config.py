from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import SERVICE_ROOT, Settings


def test_defaults_apply_when_the_environment_is_empty() -> None:
    settings = Settings.from_env({})

    assert settings.MAX_BATCH_SIZE == 100
    assert settings.MAX_TEXT_LENGTH == 5000
    assert settings.MODEL_CACHE_DIR == SERVICE_ROOT / ".model-cache"
    assert settings.OTEL_SERVICE_NAME == "python-inference"
    assert settings.OTEL_EXPORTER_OTLP_ENDPOINT is None


def test_values_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "MAX_BATCH_SIZE": "7",
            "MAX_TEXT_LENGTH": "12",
            "MODEL_CACHE_DIR": "/tmp/models",
            "OTEL_SERVICE_NAME": "inference",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-otlp-api-key=k",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=1",
        }
    )

    assert (settings.MAX_BATCH_SIZE, settings.MAX_TEXT_LENGTH) == (7, 12)
    assert settings.MODEL_CACHE_DIR == Path("/tmp/models")
    assert settings.OTEL_SERVICE_NAME == "inference"
    assert settings.OTEL_EXPORTER_OTLP_ENDPOINT == "http://localhost:4318"
    assert settings.OTEL_EXPORTER_OTLP_HEADERS == "x-otlp-api-key=k"
    assert settings.OTEL_EXPORTER_OTLP_PROTOCOL == "http/json"
    assert settings.OTEL_RESOURCE_ATTRIBUTES == "service.instance.id=1"


@pytest.mark.parametrize("value", ["zero", "0", "-3", "1.5"])
def test_invalid_limits_fail_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="MAX_BATCH_SIZE"):
        Settings.from_env({"MAX_BATCH_SIZE": value})


def test_the_worker_is_found_through_aspire_service_discovery_variables() -> None:
    settings = Settings.from_env(
        {"services__worker__http__0": "http://localhost:5123/", "services__other__http__0": "http://x"}
    )

    assert settings.WORKER_URL == "http://localhost:5123"


def test_https_endpoint_wins_and_worker_url_overrides_discovery() -> None:
    discovered = {"services__worker__http__0": "http://a:1", "services__worker__https__0": "https://a:2"}

    assert Settings.from_env(discovered).WORKER_URL == "https://a:2"
    assert Settings.from_env({**discovered, "WORKER_URL": "http://b:3"}).WORKER_URL == "http://b:3"
    assert Settings.from_env({}).WORKER_URL is None
