from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import SERVICE_ROOT, Settings, grpc_target


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


def test_messaging_is_off_unless_the_broker_connection_string_is_set() -> None:
    settings = Settings.from_env({})

    assert settings.MESSAGING_URL is None
    assert settings.EVENTS_EXCHANGE == "events"
    assert settings.ANALYTICS_QUEUE == "events.analytics"
    assert settings.EVENTS_FLUSH_INTERVAL == 1.0
    assert settings.EVENTS_FLUSH_MAX_PREDICTIONS == 1000
    assert settings.ANALYTICS_DB_PATH == SERVICE_ROOT / ".state" / "analytics.db"


@pytest.mark.parametrize(
    "url", ["amqp://aspire:s3cret@127.0.0.1:5672", "amqp://aspire:s3cret@127.0.0.1:5672/", "amqps://u:p@broker/prod"]
)
def test_broker_url_is_read_from_the_aspire_connection_string(url: str) -> None:
    assert Settings.from_env({"ConnectionStrings__messaging": f" {url} "}).MESSAGING_URL == url


def test_messaging_values_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "EVENTS_EXCHANGE": "domain-events",
            "ANALYTICS_QUEUE": "domain-events.analytics",
            "EVENTS_FLUSH_INTERVAL": "0.25",
            "EVENTS_FLUSH_MAX_PREDICTIONS": "50",
            "ANALYTICS_DB_PATH": "/tmp/analytics.db",
        }
    )

    assert (settings.EVENTS_EXCHANGE, settings.ANALYTICS_QUEUE) == ("domain-events", "domain-events.analytics")
    assert (settings.EVENTS_FLUSH_INTERVAL, settings.EVENTS_FLUSH_MAX_PREDICTIONS) == (0.25, 50)
    assert settings.ANALYTICS_DB_PATH == Path("/tmp/analytics.db")


def test_a_broker_url_that_is_not_amqp_fails_at_start_up_without_showing_the_password() -> None:
    with pytest.raises(ValueError, match="ConnectionStrings__messaging") as raised:
        Settings.from_env({"ConnectionStrings__messaging": "http://user:hunter2@localhost:5672"})

    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_invalid_flush_interval_fails_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="EVENTS_FLUSH_INTERVAL"):
        Settings.from_env({"EVENTS_FLUSH_INTERVAL": value})


def test_grpc_is_off_unless_grpc_port_is_set() -> None:
    assert Settings.from_env({}).GRPC_PORT is None
    settings = Settings.from_env({"GRPC_PORT": "50051", "GRPC_HOST": "0.0.0.0"})
    assert (settings.GRPC_HOST, settings.GRPC_PORT) == ("0.0.0.0", 50051)


@pytest.mark.parametrize("value", ["grpc", "0", "-1", "65536", "5.5"])
def test_invalid_grpc_port_fails_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="GRPC_PORT"):
        Settings.from_env({"GRPC_PORT": value})


def test_the_workers_grpc_endpoint_is_found_through_aspire_and_worker_grpc_url_overrides_it() -> None:
    discovered = {"services__worker__grpc__0": "http://localhost:12345"}

    assert Settings.from_env({}).WORKER_GRPC_URL is None
    assert Settings.from_env(discovered).WORKER_GRPC_URL == "http://localhost:12345"
    assert Settings.from_env({**discovered, "WORKER_GRPC_URL": "https://w:7/"}).WORKER_GRPC_URL == "https://w:7"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://localhost:12345", ("localhost:12345", False)),
        ("https://worker:443", ("worker:443", True)),
        ("http://[::1]:5000", ("[::1]:5000", False)),
    ],
)
def test_grpc_target_is_the_channel_address_and_whether_it_needs_tls(url: str, target: tuple[str, bool]) -> None:
    assert grpc_target(url) == target


@pytest.mark.parametrize("value", ["localhost:12345", "amqp://w:1", "http://w", "http://w:port"])
def test_a_worker_grpc_url_without_scheme_host_and_port_fails_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="WORKER_GRPC_URL"):
        Settings.from_env({"WORKER_GRPC_URL": value})


def test_registry_settings_are_read_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.SENTIMENT_DEFAULT_VERSION, defaults.REGISTRY_CALL_TIMEOUT) == (None, 5.0)
    settings = Settings.from_env({"SENTIMENT_DEFAULT_VERSION": "2.0.0", "REGISTRY_CALL_TIMEOUT": "0.5"})

    assert (settings.SENTIMENT_DEFAULT_VERSION, settings.REGISTRY_CALL_TIMEOUT) == ("2.0.0", 0.5)


def test_analytics_are_in_sqlite_unless_the_database_provider_is_postgres() -> None:
    assert Settings.from_env({}).DATABASE_PROVIDER == "sqlite"

    settings = Settings.from_env(
        {"Database__Provider": "Postgres", "ConnectionStrings__analyticsdb": "Host=db;Database=analyticsdb"}
    )

    assert (settings.DATABASE_PROVIDER, settings.ANALYTICS_DATABASE) == ("postgres", "Host=db;Database=analyticsdb")


@pytest.mark.parametrize(
    "environ",
    [{"Database__Provider": "mysql"}, {"Database__Provider": "postgres"}],
)
def test_an_unknown_provider_or_postgres_without_its_connection_string_fails_at_start_up(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Database__Provider"):
        Settings.from_env(environ)


def test_telemetry_export_settings_are_read_in_milliseconds_and_items() -> None:
    assert (Settings.from_env({}).OTEL_METRIC_EXPORT_INTERVAL, Settings.from_env({}).OTEL_BLRP_MAX_QUEUE_SIZE) == (
        60000,
        2048,
    )
    settings = Settings.from_env(
        {"OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_BLRP_SCHEDULE_DELAY": "250", "OTEL_BLRP_MAX_QUEUE_SIZE": "64"}
    )

    assert (settings.OTEL_METRIC_EXPORT_INTERVAL, settings.OTEL_BLRP_SCHEDULE_DELAY) == (1000, 250)
    assert settings.OTEL_BLRP_MAX_QUEUE_SIZE == 64
    with pytest.raises(ValueError, match="OTEL_METRIC_EXPORT_INTERVAL"):
        Settings.from_env({"OTEL_METRIC_EXPORT_INTERVAL": "0"})


def test_model_threads_and_the_concurrency_bounds_are_read_from_the_environment() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env(
        {"MODEL_THREADS": "3", "GRPC_MAX_CONCURRENT_RPCS": "40", "HTTP_MAX_CONCURRENT_REQUESTS": "50"}
    )

    assert (defaults.MODEL_THREADS, defaults.GRPC_MAX_CONCURRENT_RPCS, defaults.HTTP_MAX_CONCURRENT_REQUESTS) == (2, 256, 256)
    assert (settings.MODEL_THREADS, settings.GRPC_MAX_CONCURRENT_RPCS, settings.HTTP_MAX_CONCURRENT_REQUESTS) == (3, 40, 50)


def test_grpc_connections_live_five_minutes_unless_the_environment_says_otherwise() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env({"GRPC_MAX_CONNECTION_AGE": "2.5", "GRPC_MAX_CONNECTION_AGE_GRACE": "0"})
    forever = Settings.from_env({"GRPC_MAX_CONNECTION_AGE": "0"})

    assert (defaults.GRPC_MAX_CONNECTION_AGE, defaults.GRPC_MAX_CONNECTION_AGE_GRACE) == (300.0, 60.0)
    assert (settings.GRPC_MAX_CONNECTION_AGE, settings.GRPC_MAX_CONNECTION_AGE_GRACE) == (2.5, 0.0)
    assert forever.GRPC_MAX_CONNECTION_AGE == 0.0


@pytest.mark.parametrize("name", ["GRPC_MAX_CONNECTION_AGE", "GRPC_MAX_CONNECTION_AGE_GRACE"])
@pytest.mark.parametrize("value", ["-1", "soon", "inf", "nan"])
def test_a_connection_age_that_is_not_seconds_fails_at_start_up(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name", ["MODEL_THREADS", "GRPC_MAX_CONCURRENT_RPCS", "HTTP_MAX_CONCURRENT_REQUESTS"])
def test_a_bound_below_one_fails_at_start_up(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: "0"})


def test_the_fault_delay_is_off_by_default_and_the_environment_is_production() -> None:
    settings = Settings.from_env({})

    assert (settings.FAULT_PREDICTION_DELAY, settings.ENVIRONMENT) == (0.0, "Production")


@pytest.mark.parametrize("environment", [{}, {"ENVIRONMENT": "Production"}, {"ENVIRONMENT": "production"}])
def test_a_fault_delay_is_refused_at_start_up_in_production(environment: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="FAULT_PREDICTION_DELAY .*refused in Production"):
        Settings.from_env({"FAULT_PREDICTION_DELAY": "2.5", **environment})


def test_a_fault_delay_is_taken_outside_production() -> None:
    settings = Settings.from_env({"FAULT_PREDICTION_DELAY": "2.5", "ENVIRONMENT": "Development"})

    assert settings.FAULT_PREDICTION_DELAY == 2.5


@pytest.mark.parametrize("value", ["soon", "-1", "601"])
def test_a_bad_fault_delay_fails_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="FAULT_PREDICTION_DELAY"):
        Settings.from_env({"FAULT_PREDICTION_DELAY": value, "ENVIRONMENT": "Development"})


def test_the_service_refuses_to_start_in_production_with_a_fault_delay() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"} | {"FAULT_PREDICTION_DELAY": "1"}

    started = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=SERVICE_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=50,
    )

    assert started.returncode != 0
    assert "FAULT_PREDICTION_DELAY injects a fault and is refused in Production" in started.stderr


def test_the_built_in_models_are_both_unless_a_list_or_none_says_otherwise() -> None:
    assert Settings.from_env({}).BUILTIN_MODELS == ("sentiment", "iris")
    assert Settings.from_env({"BUILTIN_MODELS": "iris"}).BUILTIN_MODELS == ("iris",)
    assert Settings.from_env({"BUILTIN_MODELS": " iris , sentiment "}).BUILTIN_MODELS == ("sentiment", "iris")
    assert Settings.from_env({"BUILTIN_MODELS": "None", "MODEL_REPOSITORY": "/srv/models"}).BUILTIN_MODELS == ()


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"BUILTIN_MODELS": "wine"}, "BUILTIN_MODELS must be none or some of sentiment, iris"),
        ({"BUILTIN_MODELS": ","}, "BUILTIN_MODELS must be none or some of sentiment, iris"),
        ({"BUILTIN_MODELS": "none"}, "BUILTIN_MODELS=none needs MODEL_REPOSITORY"),
    ],
)
def test_built_in_models_that_do_not_exist_or_leave_nothing_to_serve_stop_the_start(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environment)
