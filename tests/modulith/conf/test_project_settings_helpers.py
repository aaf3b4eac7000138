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


def test_the_cache_is_a_table_in_the_default_database_unless_a_redis_url_is_given(
    tmp_path: Path,
) -> None:
    embedded = deployment(MANIFESTS, tmp_path, {}).caches
    redis = deployment(MANIFESTS, tmp_path, {"MODULITH_CACHE_URL": "redis://cache:6379/0"}).caches

    assert embedded["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert redis["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache:6379/0",
    }
    with pytest.raises(ConfigurationError, match=r"^MODULITH_CACHE_URL='memcached://x' is not"):
        deployment(MANIFESTS, tmp_path, {"MODULITH_CACHE_URL": "memcached://x"})


@pytest.fixture
def adopted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The manifest of one of a project's apps made a module in the database it shares."""
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"adopted_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{name}.py").write_text(
        "from modulith import Module\n\n"
        'manifest = Module(name="notes", app="notes", database="default")\n'
    )
    return f"{name}.manifest"


def test_a_module_in_the_shared_database_gets_no_database_of_its_own(
    adopted: str, tmp_path: Path
) -> None:
    made = deployment([adopted], tmp_path, {})

    [notes] = made.topology.modules
    assert (notes.database, notes.shares_database, notes.moved_from) == ("default", True, "")
    assert set(made.databases) == {"default"}
    assert made.topology.running_databases == ("default",)


def test_its_own_database_url_moves_a_module_out_of_the_shared_database(
    adopted: str, tmp_path: Path
) -> None:
    own = tmp_path / "notes.sqlite3"

    made = deployment([adopted], tmp_path, {"NOTES_DATABASE_URL": f"sqlite:///{own}"})

    [notes] = made.topology.modules
    assert (notes.database, notes.moved_from) == ("notes", "default")
    assert made.databases["notes"]["NAME"] == str(own)


def test_a_project_that_lists_its_apps_gets_each_once_and_the_framework_s(
    adopted: str, tmp_path: Path
) -> None:
    made = deployment([adopted], tmp_path, {})

    assert made.installed_apps_with(["django.contrib.auth", "notes.apps.NotesConfig", "blog"]) == [
        "django.contrib.auth",
        "notes.apps.NotesConfig",
        "blog",
        "ninja",
        "modulith",
    ]


def test_the_app_of_a_module_running_elsewhere_is_left_out(tmp_path: Path) -> None:
    made = deployment(MANIFESTS, tmp_path, {"MODULITH_MODULES": "orders"})

    apps = made.installed_apps_with(["django.contrib.admin", "modules.payments", "modulith"])

    assert apps == ["django.contrib.admin", "modulith", "ninja", "modules.orders"]


def test_a_project_s_own_databases_are_kept_and_a_module_s_own_added_like_them(
    adopted: str, tmp_path: Path
) -> None:
    theirs = {"default": {"ENGINE": "django.db.backends.sqlite3", "ATOMIC_REQUESTS": True}}
    made = deployment([adopted], tmp_path, {"NOTES_DATABASE_URL": "sqlite:///notes.sqlite3"})

    databases = made.databases_with(theirs)

    assert databases["default"] == theirs["default"]
    assert databases["notes"]["NAME"] == "notes.sqlite3"
    assert databases["notes"]["ATOMIC_REQUESTS"] is True
