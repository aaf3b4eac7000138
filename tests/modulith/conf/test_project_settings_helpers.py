"""What a project's settings module calls: the deployment (databases, cache), the middleware
and the logging configuration."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from modulith.conf import deployment, logging_config, middleware
from modulith.errors import ConfigurationError

MANIFESTS = django_settings.MODULITH_MANIFESTS


def test_the_framework_middleware_comes_first_then_the_project_s_in_its_order() -> None:
    assert middleware(
        "django.middleware.security.SecurityMiddleware",
        "modulith.http.middleware.TraceMiddleware",  # already the framework's: not twice
        "django.middleware.common.CommonMiddleware",
    ) == [
        "modulith.http.health.HealthCheckMiddleware",
        "modulith.http.middleware.TraceMiddleware",
        "modulith.http.middleware.AccessLogMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]


def test_the_project_uses_the_framework_middleware() -> None:
    assert django_settings.MIDDLEWARE[:3] == middleware()


def test_logging_is_json_lines_with_the_context_by_default() -> None:
    config = logging_config({})

    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["handlers"]["console"]["filters"] == ["context"]
    assert config["root"]["level"] == "INFO"
    assert config["formatters"]["json"]["()"] == "modulith.observability.json_lines.JsonLines"


def test_log_format_and_level_come_from_the_environment() -> None:
    config = logging_config({"LOG_FORMAT": "plain", "LOG_LEVEL": "debug"})

    assert config["handlers"]["console"]["formatter"] == "plain"
    assert config["root"]["level"] == "DEBUG"


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json or plain, not 'xml'"),
        (
            {"LOG_LEVEL": "loud"},
            "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'",
        ),
    ],
)
def test_a_bad_logging_variable_is_one_line(environ: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        logging_config(environ)

    assert str(raised.value) == line


def test_the_deployment_puts_each_running_module_s_database_in_the_var_directory(
    tmp_path: Path,
) -> None:
    deployed = deployment(MANIFESTS, tmp_path / "default-var", {"MODULITH_MODULES": "orders"})

    assert deployed.installed_apps == ["modules.orders"]
    assert sorted(deployed.databases) == ["default", "orders"]
    assert deployed.databases["orders"]["NAME"] == str(tmp_path / "default-var/orders.sqlite3")


def test_modulith_var_dir_moves_the_embedded_databases(tmp_path: Path) -> None:
    deployed = deployment(MANIFESTS, tmp_path / "unused", {"MODULITH_VAR_DIR": str(tmp_path)})

    assert deployed.databases["payments"]["NAME"] == str(tmp_path / "payments.sqlite3")
    assert not (tmp_path / "unused").exists()


def test_the_cache_is_each_processs_memory_unless_a_redis_url_is_given(tmp_path: Path) -> None:
    """Nothing of the framework needs a shared cache without Redis (the nonces of internal
    calls have a table of their own), so nothing needs a cache table either."""
    embedded = deployment(MANIFESTS, tmp_path, {}).caches
    redis = deployment(MANIFESTS, tmp_path, {"MODULITH_CACHE_URL": "redis://cache:6379/0"}).caches

    assert embedded["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert redis["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache:6379/0",
    }
    # The URL may hold a password: the error does not repeat it.
    with pytest.raises(ConfigurationError, match=r"^MODULITH_CACHE_URL is not a Redis URL") as bad:
        deployment(MANIFESTS, tmp_path, {"MODULITH_CACHE_URL": "memcached://u:pw@x"})
    assert "pw" not in str(bad.value)
