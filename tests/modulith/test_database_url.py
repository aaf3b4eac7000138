"""Database URLs as Django's DATABASES entries: SQLite and PostgreSQL."""

import re

import pytest

from modulith.database.urls import parse_database_url


def test_a_relative_sqlite_file_has_three_slashes_and_an_absolute_one_four() -> None:
    assert parse_database_url("sqlite:///var/orders.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "var/orders.sqlite3",
        "CONN_MAX_AGE": 0,
    }
    assert parse_database_url("sqlite:////srv/var/orders.sqlite3")["NAME"] == (
        "/srv/var/orders.sqlite3"
    )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://:memory:", "sqlite:///:memory:"])
def test_sqlite_without_a_file_is_in_memory(url: str) -> None:
    assert parse_database_url(url)["NAME"] == ":memory:"


def test_a_postgres_url_names_every_part_and_its_query_becomes_options() -> None:
    url = "postgres://shop:p%40ss@db.internal:6432/orders?sslmode=require&connect_timeout=5"

    assert parse_database_url(url, conn_max_age=60) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "orders",
        "USER": "shop",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": 6432,
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"sslmode": "require", "connect_timeout": "5"},
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql", "POSTGRES"])
def test_each_postgres_scheme_is_postgresql(scheme: str) -> None:
    assert parse_database_url(f"{scheme}://h/orders")["ENGINE"] == "django.db.backends.postgresql"


def test_a_socket_directory_an_ipv6_host_and_no_host_at_all() -> None:
    assert parse_database_url("postgres://%2Fvar%2Frun%2Fpostgresql/orders")["HOST"] == (
        "/var/run/postgresql"
    )
    ipv6 = parse_database_url("postgres://shop@[::1]:5432/orders")
    assert (ipv6["HOST"], ipv6["PORT"]) == ("::1", 5432)
    local = parse_database_url("postgres:///orders")
    assert (local["HOST"], local["PORT"], local["USER"]) == ("", "", "")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("nonsense", "it has no scheme (use sqlite:///path/to/file.sqlite3 or postgres://"),
        ("mysql://shop@db/orders", "the scheme 'mysql' is not sqlite or postgres (use sqlite"),
        ("postgres://shop:secret@db:five/orders", "its port is not a number from 0 to 65535"),
        ("postgres://shop:secret@db:70000/orders", "its port is not a number from 0 to 65535"),
    ],
)
def test_what_is_wrong_is_said_without_repeating_the_url(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(reason)}") as raised:
        parse_database_url(url)

    assert "secret" not in str(raised.value)
