"""Django's security settings from the environment (`modulith.conf.security_settings`): on with
DEBUG off, off with DEBUG on, each turned either way by its DJANGO_* variable."""

import pytest
from django.conf import settings as django_settings

from modulith.conf import security_settings
from modulith.conf.security import LOOPBACK_HOSTS
from modulith.modules.errors import ConfigurationError


def test_with_debug_off_https_is_enforced_behind_the_load_balancer() -> None:
    deployed = security_settings(debug=False, environ={})

    assert {name: value for name, value in deployed.items() if name != "ALLOWED_HOSTS"} == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^health/", r"^internal/", r"^metrics$"],
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "CSRF_TRUSTED_ORIGINS": [],
    }


def test_with_debug_on_plain_http_is_served() -> None:
    development = security_settings(debug=True, environ={})

    assert development["ALLOWED_HOSTS"] == ["*"]
    assert development["SECURE_SSL_REDIRECT"] is False
    assert development["SECURE_HSTS_SECONDS"] == 0
    assert development["SESSION_COOKIE_SECURE"] is False
    assert development["CSRF_COOKIE_SECURE"] is False


def test_the_deployment_environment_sets_each_of_them() -> None:
    deployed = security_settings(
        debug=False,
        environ={
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_HSTS_SECONDS": "3600",
            "DJANGO_SECURE_HSTS_PRELOAD": "0",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "CloudFront-Forwarded-Proto",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://shop.example.com, https://admin.example.com",
        },
    )

    assert deployed["SECURE_SSL_REDIRECT"] is False
    assert deployed["SECURE_HSTS_SECONDS"] == 3600
    assert deployed["SECURE_HSTS_PRELOAD"] is False
    assert deployed["SECURE_PROXY_SSL_HEADER"] == ("HTTP_CLOUDFRONT_FORWARDED_PROTO", "https")
    assert deployed["CSRF_TRUSTED_ORIGINS"] == [
        "https://shop.example.com",
        "https://admin.example.com",
    ]


@pytest.mark.parametrize("value", ["", " ", "none"])
def test_a_proxy_header_set_empty_trusts_none(value: str) -> None:
    """Without a proxy that overwrites it, a client could claim HTTPS with the header."""
    deployed = security_settings(debug=False, environ={"DJANGO_SECURE_PROXY_SSL_HEADER": value})

    assert deployed["SECURE_PROXY_SSL_HEADER"] is None


def test_with_debug_off_the_hosts_are_those_named_plus_this_machines_own() -> None:
    hosts = security_settings(
        debug=False, environ={"DJANGO_ALLOWED_HOSTS": "shop.example.com,.internal"}
    )["ALLOWED_HOSTS"]

    assert hosts[:2] == ["shop.example.com", ".internal"]
    assert set(LOOPBACK_HOSTS) <= set(hosts)
    assert "*" not in hosts
    assert len(hosts) == len(set(hosts))


@pytest.mark.parametrize(
    ("environ", "line"),
    [
        (
            {"DJANGO_SECURE_HSTS_SECONDS": "-1"},
            "DJANGO_SECURE_HSTS_SECONDS must be 0 (no HSTS) or more, not -1",
        ),
        (
            {"DJANGO_SECURE_HSTS_SECONDS": "a year"},
            "DJANGO_SECURE_HSTS_SECONDS must be a whole number, not 'a year'",
        ),
        (
            {"DJANGO_SECURE_SSL_REDIRECT": "sometimes"},
            "DJANGO_SECURE_SSL_REDIRECT must be 1 or 0 (true or false), not 'sometimes'",
        ),
        (
            {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
            "DJANGO_SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto "
            "(or empty for none), not 'X-Forwarded-Proto: https'",
        ),
        (
            {"DJANGO_CSRF_TRUSTED_ORIGINS": "shop.example.com"},
            "DJANGO_CSRF_TRUSTED_ORIGINS must list origins with their scheme, such as "
            "https://shop.example.com, not 'shop.example.com'",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(environ: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        security_settings(debug=False, environ=environ)

    assert str(raised.value) == line


def test_the_shop_takes_them_as_they_are() -> None:
    """The suite runs in development (DJANGO_DEBUG=1): the settings are development's."""
    development = security_settings(debug=True)

    assert django_settings.ALLOWED_HOSTS[0] == "*"  # the test runner adds `testserver`
    for name, value in development.items():
        if name != "ALLOWED_HOSTS":
            assert getattr(django_settings, name) == value, name
