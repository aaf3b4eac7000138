"""Django's security settings for a deployment, from the environment: the hosts it answers to,
HTTPS behind a TLS-terminating load balancer (redirect, HSTS, secure cookies, the proxy's
scheme header) and the origins trusted for CSRF. Used by the project's settings module.

With DEBUG off every one of them is on unless the environment turns it off, so that
`manage.py check --deploy` is clean as deployed; with DEBUG on (development over plain HTTP)
they are off unless the environment turns them on.
"""

import os
import re
import socket
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from modulith.conf.environment import env_bool, env_int, env_list
from modulith.modules.errors import ConfigurationError

# What the orchestrator and the service's neighbours call over plain HTTP inside the network:
# the load balancer's health checks, the other services' signed internal calls, the scraper.
REDIRECT_EXEMPT = (r"^health/", r"^internal/", r"^metrics$")
ONE_YEAR = 365 * 24 * 3600
DEFAULT_PROXY_SSL_HEADER = "X-Forwarded-Proto"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
# Names a process on this machine reaches itself by: a sidecar agent scraping /metrics.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Not sent anywhere: connecting a UDP socket only asks the kernel which address it would use.
_ROUTE_PROBES = ((socket.AF_INET, "10.254.254.254"), (socket.AF_INET6, "fd00::1"))


def security_settings(*, debug: bool, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Django settings by name, for the settings module to take as they are:
    ALLOWED_HOSTS, SECURE_SSL_REDIRECT, SECURE_REDIRECT_EXEMPT, SECURE_PROXY_SSL_HEADER,
    SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD,
    SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE and CSRF_TRUSTED_ORIGINS."""
    deployed = not debug
    hsts_seconds = env_int("DJANGO_SECURE_HSTS_SECONDS", ONE_YEAR if deployed else 0, environ)
    if hsts_seconds < 0:
        raise ConfigurationError(
            f"DJANGO_SECURE_HSTS_SECONDS must be 0 (no HSTS) or more, not {hsts_seconds}"
        )
    return {
        "ALLOWED_HOSTS": allowed_hosts(debug=debug, environ=environ),
        "SECURE_SSL_REDIRECT": env_bool("DJANGO_SECURE_SSL_REDIRECT", deployed, environ),
        "SECURE_REDIRECT_EXEMPT": list(REDIRECT_EXEMPT),
        "SECURE_PROXY_SSL_HEADER": proxy_ssl_header(environ),
        "SECURE_HSTS_SECONDS": hsts_seconds,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env_bool(
            "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", deployed, environ
        ),
        "SECURE_HSTS_PRELOAD": env_bool("DJANGO_SECURE_HSTS_PRELOAD", deployed, environ),
        "SESSION_COOKIE_SECURE": deployed,
        "CSRF_COOKIE_SECURE": deployed,
        "CSRF_TRUSTED_ORIGINS": trusted_origins(environ),
    }


def allowed_hosts(*, debug: bool, environ: Mapping[str, str] = os.environ) -> list[str]:
    """DJANGO_ALLOWED_HOSTS (any host when it is unset and DEBUG is on), plus, with DEBUG off,
    the names this process is reached by without one: loopback (a sidecar agent) and this
    machine's own address (a load balancer's health checks and a scraper use the task's or
    the pod's IP as the Host)."""
    named = env_list("DJANGO_ALLOWED_HOSTS", environ)
    if debug:
        return named or ["*"]
    return list(dict.fromkeys([*named, *LOOPBACK_HOSTS, *_own_addresses()]))


def _own_addresses() -> list[str]:
    """This machine's addresses on its default routes (IPv4, IPv6 in brackets, as a Host
    header writes it), without a DNS lookup or a packet sent."""
    addresses = []
    for family, destination in _ROUTE_PROBES:
        with suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((destination, 1))
            address = str(probe.getsockname()[0]).split("%")[0]  # no IPv6 zone in a Host
            addresses.append(f"[{address}]" if family == socket.AF_INET6 else address)
    return addresses


def proxy_ssl_header(environ: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    """The header whose value `https` says the load balancer took the request over TLS:
    DJANGO_SECURE_PROXY_SSL_HEADER, X-Forwarded-Proto when unset (what an ALB, API Gateway
    and nginx set), none when set empty. Trust it only behind a proxy that overwrites it."""
    raw = environ.get("DJANGO_SECURE_PROXY_SSL_HEADER")
    name = DEFAULT_PROXY_SSL_HEADER if raw is None else raw.strip()
    if not name or name.lower() == "none":
        return None
    if not _HEADER_NAME.match(name):
        raise ConfigurationError(
            f"DJANGO_SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto "
            f"(or empty for none), not {name!r}"
        )
    return ("HTTP_" + name.upper().replace("-", "_"), "https")


def trusted_origins(environ: Mapping[str, str] = os.environ) -> list[str]:
    """DJANGO_CSRF_TRUSTED_ORIGINS: the origins (scheme and host) whose unsafe requests the
    admin's forms accept besides the request's own host, e.g. https://shop.example.com."""
    origins = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", environ)
    for origin in origins:
        if not origin.startswith(("https://", "http://")):
            raise ConfigurationError(
                "DJANGO_CSRF_TRUSTED_ORIGINS must list origins with their scheme, such as "
                f"https://shop.example.com, not {origin!r}"
            )
    return origins
