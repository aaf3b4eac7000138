"""Who may scrape /metrics. A scrape is answered ahead of the project's middleware (health.py),
but not ahead of the checks any request gets: its Host must be one of ALLOWED_HOSTS, its
caller must be in MODULITH_METRICS_NETWORKS (the TCP peer's address, never a forwarded one:
loopback by default, so a sidecar agent), and, when MODULITH_METRICS_TOKEN is set, it must
carry that token as `Authorization: Bearer <token>`."""

import hmac
import logging
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from django.http import HttpRequest, HttpResponse, JsonResponse

from modulith.conf import modulith_settings
from modulith.observability.metrics import metrics_view

log = logging.getLogger(__name__)
BEARER = "bearer "


def scrape(request: HttpRequest) -> HttpResponse:
    request.get_host()  # raises DisallowedHost, which Django answers 400, as on every path
    settings = modulith_settings()
    peer = request.META.get("REMOTE_ADDR", "")
    if not _in_networks(peer, settings.metrics_networks):
        log.warning("refused a scrape of /metrics from %s: not in MODULITH_METRICS_NETWORKS", peer)
        return _refused(403, "forbidden", "metrics are not served to this address")
    if settings.metrics_token and not _bears(request, settings.metrics_token):
        refused = _refused(401, "unauthorized", "send the metrics token as a bearer token")
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    return metrics_view(request)


def _in_networks(peer: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ip_address(peer.split("%")[0])  # an IPv6 zone is not part of the address
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.0.1 from a dual-stack socket
    return any((mapped or address) in network for network in _parsed(networks))


@cache
def _parsed(networks: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(network, strict=False) for network in networks)


def _bears(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(BEARER):
        return False
    return hmac.compare_digest(header[len(BEARER) :].strip().encode(), token.encode())


def _refused(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, "errors": []}, status=status)
